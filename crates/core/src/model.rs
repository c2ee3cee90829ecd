//! The records use cases hand out, by the store module they come from. Plain
//! data only: the functions that read and write them stay behind core, so the
//! API and the pages (which do not depend on the store) can name these types
//! and nothing else of the database.

pub use pitwall_store::{Page, PageRequest};

pub mod activity {
    pub use pitwall_store::activity::{Comment, Message, TimelineEvent};
}
pub mod api_keys {
    pub use pitwall_store::api_keys::ApiKey;
}
pub mod audit {
    pub use pitwall_store::audit::AuditEntry;
}
pub mod customer_links {
    pub use pitwall_store::customer_links::CustomerLink;
}
pub mod customers {
    pub use pitwall_store::customers::{Customer, Vehicle};
}
pub mod invoices {
    pub use pitwall_store::invoice_uploads::InvoiceUpload;
    pub use pitwall_store::invoices::Invoice;
    pub use pitwall_store::payments::Payment;
}
pub mod media {
    pub use pitwall_store::media::Medium;
}
pub mod members {
    pub use pitwall_store::members::{Invitation, Member};
}
pub mod messages {
    pub use pitwall_store::messages::{ConsentEvent, Message};
}
pub mod plans {
    pub use pitwall_store::plans::Plan;
}
pub mod shops {
    pub use pitwall_store::shops::Shop;
}
pub mod statuses {
    pub use pitwall_store::statuses::VehicleStatus;
}
pub mod tickets {
    pub use pitwall_store::tickets::Ticket;
}
