//! Schema migrations. The same migrations run on SQLite and PostgreSQL, so
//! they use only forms both support: new tables rather than ALTERs that SQLite
//! cannot do.
//!
//! Every tenant-owned table carries `shop_id`, and every index that serves a
//! tenant query leads with it.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261124_000002_tickets;
mod m20261125_000003_messaging;
mod m20261126_000004_customer_links;
mod m20261127_000005_billing;
mod m20261128_000006_message_indexes;
mod m20261203_000007_sender_numbers;
mod m20261204_000008_inspection_sheets;
mod m20261204_000009_inspections;
mod m20261205_000010_billing_read_order;
mod m20261206_000011_inspection_settings;
mod m20261207_000012_inspection_media;
mod m20261208_000013_repair_orders;
mod m20261209_000014_invoices;
mod m20261210_000015_payments;
mod m20261211_000016_invoice_uploads;
mod m20261212_000017_message_attachments;
mod m20261213_000018_rate_windows;
mod m20261214_000019_shop_keys;
mod m20261215_000020_policy_versions;
mod m20261216_000021_handoff_emails;
mod m20261217_000022_lookup_indexes;
mod m20261218_000023_upload_attempts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261124_000002_tickets::Migration),
            Box::new(m20261125_000003_messaging::Migration),
            Box::new(m20261126_000004_customer_links::Migration),
            Box::new(m20261127_000005_billing::Migration),
            Box::new(m20261128_000006_message_indexes::Migration),
            Box::new(m20261203_000007_sender_numbers::Migration),
            Box::new(m20261204_000008_inspection_sheets::Migration),
            Box::new(m20261204_000009_inspections::Migration),
            Box::new(m20261205_000010_billing_read_order::Migration),
            Box::new(m20261206_000011_inspection_settings::Migration),
            Box::new(m20261207_000012_inspection_media::Migration),
            Box::new(m20261208_000013_repair_orders::Migration),
            Box::new(m20261209_000014_invoices::Migration),
            Box::new(m20261210_000015_payments::Migration),
            Box::new(m20261211_000016_invoice_uploads::Migration),
            Box::new(m20261212_000017_message_attachments::Migration),
            Box::new(m20261213_000018_rate_windows::Migration),
            Box::new(m20261214_000019_shop_keys::Migration),
            Box::new(m20261215_000020_policy_versions::Migration),
            Box::new(m20261216_000021_handoff_emails::Migration),
            Box::new(m20261217_000022_lookup_indexes::Migration),
            Box::new(m20261218_000023_upload_attempts::Migration),
        ]
    }
}
