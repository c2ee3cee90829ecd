//! Making an invoice case: from a ticket's approved (and, with the
//! repair-order workflow, completed) positions, or by hand. Either way the
//! positions, tax and total are frozen and hashed when the case is made.

use chrono::Utc;
use pitwall_domain::approvals::{LineSnapshot, stored_instant};
use pitwall_domain::invoices::{InvoicePosition, InvoiceStatus, number};
use pitwall_domain::ocr::OcrStatus;
use pitwall_domain::tickets::{self as money, ServiceStatus, TimelineKind, Totals};
use pitwall_domain::{
    CustomerId, Feature, InvoiceId, InvoiceUploadId, Permission, ShopId, TicketId,
};
use pitwall_store::invoices::{self as store, Invoice, InvoiceFilter};
use pitwall_store::{PageRequest, StoreError, customers, tickets};
use serde_json::json;

use super::{InvoiceView, canonical};
use crate::{App, Error, Problems, Result, ShopCtx};

/// The most lines a hand-made invoice takes.
pub const MAX_HAND_LINES: usize = 100;

/// Makes the invoice of a ticket from its approved positions; with the
/// repair-order workflow, only the positions marked done. A ticket has at
/// most one case that is not canceled: billing the same work twice is
/// refused (409 naming `ticket_id`).
pub async fn create_from_ticket(
    app: &App,
    ctx: &ShopCtx,
    ticket_id: TicketId,
) -> Result<InvoiceView> {
    require(app, ctx).await?;
    let shop = ctx.shop_id();
    let ticket = tickets::get(&app.db, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let (services, items) = tickets::services_and_line_items(&app.db, shop, ticket_id).await?;
    let needs_done = ctx.features.has(Feature::RepairOrders);
    let mut billed = Vec::new();
    for s in &services {
        if s.removed || s.status_value()? != ServiceStatus::Approved {
            continue;
        }
        if needs_done && s.done_at.is_none() {
            continue;
        }
        billed.push(s);
    }
    if billed.is_empty() {
        return Err(Error::Conflict {
            field: "services".into(),
            message: if needs_done {
                "has no approved position marked done yet: nothing to invoice".into()
            } else {
                "has no approved position: nothing to invoice".into()
            },
        });
    }
    let positions: Vec<InvoicePosition> = billed
        .iter()
        .map(|s| InvoicePosition {
            service_id: Some(s.id),
            title: s.title.clone(),
            subtotal: s.subtotal,
            line_items: items
                .iter()
                .filter(|l| l.service_id == s.id)
                .map(|l| LineSnapshot {
                    kind: l.kind.clone(),
                    description: l.description.clone(),
                    quantity_milli: l.quantity_milli,
                    unit_price: l.unit_price,
                    amount: l.amount,
                    taxable: l.taxable,
                })
                .collect(),
        })
        .collect();
    let totals = Totals::of(
        billed
            .iter()
            .map(|s| (ServiceStatus::Approved, s.subtotal, s.taxable_subtotal)),
        ticket.tax_rate_ppm,
    );
    let customer = match ticket.customer_id {
        Some(c) => customers::get(&app.db, shop, CustomerId::from_uuid(c)).await?,
        None => None,
    };
    let draft = Draft {
        ticket: Some(&ticket),
        customer_id: customer.as_ref().map(|c| c.id),
        customer_name: customer
            .as_ref()
            .map(crate::labels::customer_name)
            .unwrap_or_default(),
        positions,
        totals,
        tax_rate_ppm: ticket.tax_rate_ppm,
        currency: ticket.currency.clone(),
        upload: None,
    };
    insert(app, ctx, draft).await
}

/// One line of a hand-made invoice.
#[derive(Debug, Clone)]
pub struct HandLine {
    /// `labor`, `part` or `fee`.
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    /// Minor units.
    pub unit_price: i64,
    pub taxable: bool,
}

/// An invoice typed by hand (or confirmed from a read upload).
#[derive(Debug, Clone)]
pub struct HandInvoice {
    pub customer_id: CustomerId,
    /// The ticket it belongs to, if any: sending it by link needs one.
    pub ticket_id: Option<TicketId>,
    pub lines: Vec<HandLine>,
    /// A fraction (0.0825 for 8.25 %); none is no tax.
    pub tax_rate: Option<f64>,
    /// The uploaded invoice whose fields staff confirmed (read by OCR):
    /// tied to this case, once.
    pub upload_id: Option<InvoiceUploadId>,
}

/// Makes an invoice by hand: each line is a position of its own, priced by
/// the same money rules as the POS's lines. Every problem is named at
/// once (`lines/2/quantity`), and nothing is made while any remains.
pub async fn create_by_hand(app: &App, ctx: &ShopCtx, input: &HandInvoice) -> Result<InvoiceView> {
    require(app, ctx).await?;
    let shop = ctx.shop_id();
    let mut p = Problems::default();
    if input.lines.is_empty() {
        p.add("lines", "must hold at least one line");
    }
    if input.lines.len() > MAX_HAND_LINES {
        p.add("lines", format!("must hold at most {MAX_HAND_LINES} lines"));
    }
    let rate = match input.tax_rate {
        None => Some(0),
        Some(r) => p.check("tax_rate", money::tax_rate_ppm(r)),
    };
    let mut positions = Vec::new();
    let (mut subtotal, mut taxable_total) = (0i64, 0i64);
    for (n, l) in input.lines.iter().enumerate() {
        let at = |f: &str| format!("lines/{n}/{f}");
        // The same money rules as a POS's line (a negative price is a
        // discount).
        let Some((kind, description, quantity_milli, unit_price, taxable, amount)) =
            crate::pos::valid_line(
                &mut p,
                &at,
                &l.kind,
                &l.description,
                l.quantity,
                l.unit_price,
                l.taxable,
            )
        else {
            continue;
        };
        subtotal = subtotal.saturating_add(amount);
        if taxable {
            taxable_total = taxable_total.saturating_add(amount);
        }
        positions.push(InvoicePosition {
            service_id: None,
            title: description.clone(),
            subtotal: amount,
            line_items: vec![LineSnapshot {
                kind: kind.as_str().to_owned(),
                description,
                quantity_milli,
                unit_price,
                amount,
                taxable,
            }],
        });
    }
    if subtotal < 0 {
        p.add("lines", "must not add up to less than zero");
    }
    let customer = customers::get(&app.db, shop, input.customer_id).await?;
    if customer.is_none() {
        p.add("customer_id", "is not a customer of this shop");
    }
    let ticket = match input.ticket_id {
        Some(t) => {
            let found = tickets::get(&app.db, shop, t).await?;
            match &found {
                None => p.add("ticket_id", "is not a ticket of this shop"),
                Some(tk) if tk.customer_id != Some(input.customer_id.as_uuid()) => {
                    p.add("ticket_id", "belongs to another customer")
                }
                Some(_) => {}
            }
            found
        }
        None => None,
    };
    if let Some(u) = input.upload_id {
        match pitwall_store::invoice_uploads::get(&app.db, shop, u).await? {
            None => p.add("upload_id", "is not an invoice upload of this shop"),
            Some(up) if up.ocr_status == OcrStatus::Queued.as_str() => p.add(
                "upload_id",
                "is still being read; confirm its fields when it is done",
            ),
            Some(_) => {}
        }
    }
    p.into_result()?;
    let (Some(customer), Some(rate)) = (customer, rate) else {
        return Err(Error::Internal("validated input went missing".into()));
    };
    let tax = money::tax_on(taxable_total.max(0), rate);
    let currency = match &ticket {
        Some(t) => t.currency.clone(),
        None => ctx.shop.currency.clone(),
    };
    let draft = Draft {
        ticket: ticket.as_ref(),
        customer_id: Some(customer.id),
        customer_name: crate::labels::customer_name(&customer),
        positions,
        totals: Totals {
            subtotal,
            taxable: taxable_total,
            tax,
            total: subtotal.saturating_add(tax),
        },
        tax_rate_ppm: rate,
        currency,
        upload: input.upload_id,
    };
    insert(app, ctx, draft).await
}

async fn require(app: &App, ctx: &ShopCtx) -> Result<()> {
    app.require(ctx, Permission::PaymentsTake).await?;
    ctx.require_feature(Feature::OnlinePayments)?;
    ctx.require_writable()
}

struct Draft<'a> {
    ticket: Option<&'a tickets::Ticket>,
    customer_id: Option<uuid::Uuid>,
    customer_name: String,
    positions: Vec<InvoicePosition>,
    totals: Totals,
    tax_rate_ppm: i64,
    currency: String,
    upload: Option<InvoiceUploadId>,
}

/// Writes the case with the shop's next number. Two cases made at the
/// same moment on PostgreSQL may read the same number; the loser tries the
/// next one.
async fn insert(app: &App, ctx: &ShopCtx, d: Draft<'_>) -> Result<InvoiceView> {
    let shop = ctx.shop_id();
    let positions =
        serde_json::to_string(&d.positions).map_err(|e| Error::Internal(e.to_string()))?;
    for attempt in 0..5 {
        let txn = pitwall_store::begin_write(&app.db).await?;
        if let Some(t) = d.ticket {
            refuse_second_case(&txn, shop, TicketId::from_uuid(t.id)).await?;
        }
        let seq = store::next_seq(&txn, shop).await?;
        let now = stored_instant(Utc::now());
        let mut row = Invoice {
            id: InvoiceId::new().as_uuid(),
            shop_id: shop.as_uuid(),
            seq,
            number: number(seq),
            ticket_id: d.ticket.map(|t| t.id),
            customer_id: d.customer_id,
            customer_name: d.customer_name.clone(),
            status: InvoiceStatus::Draft.as_str().to_owned(),
            positions: positions.clone(),
            subtotal: d.totals.subtotal,
            tax_rate_ppm: d.tax_rate_ppm,
            tax: d.totals.tax,
            total: d.totals.total,
            currency: d.currency.clone(),
            hash: String::new(),
            cancel_reason: None,
            created_by: Some(ctx.user_id.as_uuid()),
            sent_at: None,
            paid_at: None,
            delivered_at: None,
            booked_at: None,
            closed_at: None,
            reminded_at: None,
            version: 1,
            picked_up_by: None,
            pickup_signature: None,
            picked_up_at: None,
            created_at: now,
            updated_at: now,
        };
        row.hash = canonical(&row).hash();
        let row = match store::insert(&txn, shop, row).await {
            Err(StoreError::Conflict { field: "number" }) if attempt < 4 => continue,
            other => other?,
        };
        if let Some(upload) = d.upload
            && !pitwall_store::invoice_uploads::link_invoice(
                &txn,
                shop,
                upload,
                InvoiceId::from_uuid(row.id),
            )
            .await?
        {
            return Err(Error::Conflict {
                field: "upload_id".into(),
                message: "was already made into an invoice".into(),
            });
        }
        let mut live = Vec::new();
        if let Some(t) = d.ticket {
            live = super::actions::record_on_ticket(
                &txn,
                shop,
                TicketId::from_uuid(t.id),
                TimelineKind::InvoiceCreated,
                super::actions::ActedBy::Staff(ctx),
                &row,
                json!({}),
            )
            .await?;
        }
        let announced = app.live.announce(live);
        txn.commit().await?;
        app.live.after_commit(announced);
        tracing::info!(shop.id = %shop, invoice.id = %row.id, number = %row.number, "invoice created");
        return InvoiceView::of(row);
    }
    Err(Error::Conflict {
        field: "number".into(),
        message: "could not be given out: too many invoices made at once, try again".into(),
    })
}

async fn refuse_second_case(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<()> {
    let existing = store::list(
        db,
        shop,
        &InvoiceFilter {
            status: None,
            ticket: Some(ticket),
        },
        PageRequest::first(50),
    )
    .await?;
    if let Some(open) = existing
        .items
        .iter()
        .find(|i| i.status != InvoiceStatus::Canceled.as_str())
    {
        return Err(Error::Conflict {
            field: "ticket_id".into(),
            message: format!(
                "already has invoice {} ({}): cancel it before making another",
                open.number, open.status
            ),
        });
    }
    Ok(())
}
