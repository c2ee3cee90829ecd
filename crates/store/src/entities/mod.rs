//! sea-orm entities, one per table. Tenant-owned tables carry `shop_id`.

pub mod api_key;
pub mod audit_entry;
pub mod casbin_rule;
pub mod customer;
pub mod email;
pub mod feature_override;
pub mod invitation;
pub mod line_item;
pub mod login_failure;
pub mod membership;
pub mod message;
pub mod outbox;
pub mod password_reset;
pub mod plan;
pub mod pos_notification;
pub mod pos_sync_event;
pub mod session;
pub mod shop;
pub mod status_change;
pub mod ticket;
pub mod ticket_comment;
pub mod ticket_service;
pub mod timeline_event;
pub mod user;
pub mod vehicle;
pub mod vehicle_status;
