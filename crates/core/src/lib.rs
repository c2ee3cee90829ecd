//! Use cases: the one place each rule of Pitwall is written. The JSON API,
//! the pages, the CLI and the jobs call these functions; none of them
//! re-implements a rule.
//!
//! A tenant use case takes a [`ShopCtx`], which only [`App::shop_ctx`] makes,
//! from an authenticated principal: there is no way to act in a shop without
//! having been let into it.

pub mod admin;
pub mod api_keys;
pub mod approvals;
pub mod auth;
pub mod billing;
pub mod cache;
pub mod clock;
pub mod context;
pub mod customer;
pub mod customers;
pub mod error;
pub mod features;
pub mod inspections;
pub mod invoices;
pub mod labels;
pub mod links;
pub mod mail;
pub mod media;
pub mod members;
pub mod messaging;
pub mod model;
pub mod ocr;
pub mod operator;
pub mod ops;
pub mod outreach;
pub mod payments;
pub mod pos;
pub mod presence;
pub mod roles;
pub mod shops;
pub mod statuses;
pub mod streams;
pub mod tickets;
pub mod timeline;
pub mod tokens;
pub mod webhooks;
pub mod workflow;

pub use context::{Actor, App, CoreConfig, Secret, ShopCtx};
pub use error::{Error, FieldError, Problems, Result};
pub use pitwall_domain as domain;
pub use pitwall_store::live;
