//! The POS side of tickets: pushes of tickets, customers and vehicles,
//! comments both ways, notifications, and the sync log behind the
//! sync-health view.
//!
//! A push is idempotent by external id, and ordered by `pos_updated_at`:
//! an older push changes nothing and says so (`stale`), the same push again
//! changes nothing (`unchanged`).

mod comments;
mod context;
mod customers;
mod notifications;
mod push;
mod sync_health;
mod validate;
mod write;

pub use comments::*;
pub use context::*;
pub use customers::*;
pub use notifications::*;
pub use push::*;
pub use sync_health::*;
pub use validate::*;
