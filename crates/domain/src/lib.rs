//! Pitwall's domain: types that carry the rules, and nothing that does I/O.
//!
//! Input becomes one of these types at the edge (API, pages, CLI); code past
//! the edge cannot hold an invalid e-mail, slug, role or colour.

pub mod access;
pub mod approvals;
pub mod billing;
pub mod findings;
pub mod ids;
pub mod inspections;
pub mod invoices;
pub mod locale;
pub mod media;
pub mod messaging;
pub mod net;
pub mod ocr;
pub mod pdf;
pub mod phone;
pub mod plans;
pub mod shop;
pub mod tickets;
pub mod timer;
pub mod values;
pub mod workflow;

pub use access::{Permission, PlatformRole, Role};
pub use ids::*;
pub use plans::{Feature, PlanDefaults, Quota};
pub use shop::{ShopLifecycle, ShopProfile, ShopProfileInput};
pub use values::{Email, Invalid, Password, Slug};
