//! The repair-order workflow (feature `repair_orders`): where a job stands
//! between the technician, parts, the advisor and the customer.
//!
//! - [`stages`]: a staff member moves a ticket's stage, and the moves the
//!   workflow makes by itself (an inspection submitted, recommendations
//!   sent, work approved), in the transaction of the event that causes them.
//! - [`services`]: positions between people: the advisor adds and
//!   qualifies, parts prices and orders, the technician completes.
//! - [`extensions`]: work found later goes to the customer again.
//! - [`handoffs`]: e-mails to the staff a hand-off concerns, when the shop
//!   wants them.
//! - [`reminders`]: one reminder for an unanswered approval request.
//! - [`settings`]: the shop's time targets and the vehicle status each
//!   stage sets.

mod extensions;
mod handoffs;
mod reminders;
mod services;
mod settings;
mod stages;

pub use extensions::*;
pub use reminders::*;
pub use services::*;
pub use settings::*;
pub use stages::*;
