//! Tickets for staff: find, read, comment, assign, set the vehicle status,
//! record in-person approvals; the dashboard and the technician's queue.
//! The POS side of the same tickets is in [`crate::pos`].

mod assign;
mod comments;
mod dashboard;
mod find;
mod search;
mod status_change;
mod view;

pub use assign::*;
pub use comments::*;
pub use dashboard::*;
pub use find::*;
pub use search::*;
pub use status_change::*;
pub use view::*;

pub use crate::labels::{customer_name, vehicle_label};
