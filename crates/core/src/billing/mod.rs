//! Billing use cases: the owner's billing page, Checkout and portal
//! sessions, receiving Stripe's webhooks, applying a Stripe event (the job),
//! reporting SMS overage, and support's tools (comp plan, trial, prices).
//!
//! The rules (status → lifecycle, grace, price map, signatures) are in
//! `pitwall_domain::billing`; this module does the I/O around them.
//!
//! Order and duplicates do not matter: an event is stored once by its id,
//! and applying it re-reads the subscription from Stripe and writes the
//! subscription's *current* state, so a late or repeated event applies the
//! same truth as the newest one.

mod checkout;
mod overage;
mod stripe_events;
mod stripe_settings;
mod summary;
mod support;
mod worker;

pub use checkout::*;
pub use overage::*;
pub use stripe_events::*;
pub use stripe_settings::*;
pub use summary::*;
pub use support::*;
pub use worker::*;
