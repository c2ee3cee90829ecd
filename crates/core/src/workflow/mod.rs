//! The repair-order workflow (feature `repair_orders`): where a job stands
//! between the technician, parts, the advisor and the customer.
//!
//! - [`stages`]: a staff member moves a ticket's stage, and the moves the
//!   workflow makes by itself (an inspection submitted, recommendations
//!   sent, work approved), in the transaction of the event that causes them.
//! - [`services`]: positions between people: the advisor adds and
//!   qualifies, parts prices and orders, the technician completes.
//! - [`settings`]: the shop's time targets and the vehicle status each
//!   stage sets.

mod services;
mod settings;
mod stages;

pub use services::*;
pub use settings::*;
pub use stages::*;
