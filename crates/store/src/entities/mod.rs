//! sea-orm entities, one per table. Tenant-owned tables carry `shop_id`.

pub mod api_key;
pub mod audit_entry;
pub mod casbin_rule;
pub mod email;
pub mod feature_override;
pub mod invitation;
pub mod login_failure;
pub mod membership;
pub mod outbox;
pub mod password_reset;
pub mod plan;
pub mod session;
pub mod shop;
pub mod user;
