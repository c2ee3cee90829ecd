//! Messaging use cases: the inbox (threads per customer), staff replies and
//! re-sends, templates and their preview, the shop's messaging settings,
//! consent, SMS usage, delivery (what the message queue runs); and the
//! provider's side: inbound texts (with the
//! STOP/START/HELP keywords) and delivery receipts, both behind a verified
//! signature.

mod consent;
mod deliver;
mod inbound;
mod inbox;
mod receipts;
mod send;
mod settings;
mod templates;
mod usage;

pub use consent::*;
pub(crate) use deliver::transition;
pub use deliver::{Deliverer, DeliverySettings, email_html};
pub use inbound::*;
pub use inbox::*;
pub use receipts::*;
pub use send::*;
pub use settings::*;
pub use templates::*;
pub use usage::*;
