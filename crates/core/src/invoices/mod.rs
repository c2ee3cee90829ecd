//! Invoice cases (plan feature `online_payments`): what the customer is
//! asked to pay, frozen when the case is made, and the case's way from
//! draft to booked.
//!
//! - [`create`]: from a ticket's approved, completed positions, or by hand.
//! - [`find`]: list, one case, its PDF.
//! - [`actions`]: send, paid at the counter, delivered, booked (by staff or
//!   the POS), cancel: every move through one routine.
//! - [`document`]: the invoice as a PDF.
//! - [`reminders`]: one reminder for an unpaid invoice, after the shop's delay.
//! - [`uploads`]: invoices uploaded to be read by OCR, confirmed into a case.

mod actions;
mod create;
mod document;
mod find;
mod reminders;
mod uploads;

pub use actions::*;
pub use create::*;
pub use document::*;
pub use find::*;
pub use reminders::*;
pub use uploads::*;

use pitwall_domain::invoices::{
    Canonical, FORMAT, InvoiceAction, InvoicePosition, InvoiceStatus, canonical_time,
};
use pitwall_store::invoices::Invoice;

use crate::{Error, Result};

/// A case as staff, the POS and the customer see it.
#[derive(Debug, Clone)]
pub struct InvoiceView {
    pub invoice: Invoice,
    pub status: InvoiceStatus,
    pub positions: Vec<InvoicePosition>,
    /// What the case's state allows next.
    pub allowed: Vec<InvoiceAction>,
    /// The stored hash is the hash of what is stored.
    pub intact: bool,
    /// Payments received online, with what was refunded of each in
    /// Stripe; filled where a case is read for people (one case, lists,
    /// a ticket's cases), empty right after a move.
    pub payments: Vec<pitwall_store::payments::Payment>,
}

impl InvoiceView {
    pub(crate) fn of(invoice: Invoice) -> Result<Self> {
        let status = invoice.status_value()?;
        let positions: Vec<InvoicePosition> = serde_json::from_str(&invoice.positions)
            .map_err(|e| Error::Internal(format!("invoice {} positions: {e}", invoice.id)))?;
        let intact = canonical(&invoice).hash() == invoice.hash;
        Ok(InvoiceView {
            payments: Vec::new(),
            allowed: status.allowed(),
            status,
            positions,
            intact,
            invoice,
        })
    }
}

impl InvoiceView {
    /// What was refunded of the payments, in minor units.
    pub fn refunded(&self) -> i64 {
        self.payments.iter().map(|p| p.refunded).sum()
    }

    /// The customer sees a case once it was sent to them, and until it is
    /// canceled.
    pub fn shown_to_customer(&self) -> bool {
        !matches!(self.status, InvoiceStatus::Draft | InvoiceStatus::Canceled)
    }
}

/// Reads the payments of the cases, in one query.
pub(crate) async fn with_payments(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: pitwall_domain::ShopId,
    mut views: Vec<InvoiceView>,
) -> Result<Vec<InvoiceView>> {
    let ids: Vec<uuid::Uuid> = views.iter().map(|v| v.invoice.id).collect();
    let payments = pitwall_store::payments::payments_of_invoices(db, shop, &ids).await?;
    for p in payments {
        if let Some(v) = views.iter_mut().find(|v| v.invoice.id == p.invoice_id) {
            v.payments.push(p);
        }
    }
    Ok(views)
}

/// What a stored case's hash is taken over.
fn canonical(i: &Invoice) -> Canonical<'_> {
    Canonical {
        format: FORMAT,
        id: i.id,
        shop_id: i.shop_id,
        ticket_id: i.ticket_id,
        number: &i.number,
        customer_name: &i.customer_name,
        positions: &i.positions,
        subtotal: i.subtotal,
        tax_rate_ppm: i.tax_rate_ppm,
        tax: i.tax,
        total: i.total,
        currency: &i.currency,
        created_at: canonical_time(i.created_at),
    }
}
