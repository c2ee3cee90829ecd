//! The end-to-end tests, one binary (one link of the whole app instead of
//! one per file). `webhook_proxy.rs` stays a binary of its own: it sets
//! proxy variables for its whole process.

mod access;
mod approvals;
mod backup;
mod billing;
mod contract;
mod customer_pages;
mod hardening;
mod identity;
mod inspections;
mod invoice_ocr;
mod invoices;
mod messaging;
mod operations;
mod pages;
mod payments;
mod responses;
mod schema;
mod story;
mod tenant_scale;
mod tickets;
mod workflow;
