//! Reading invoice cases: the list (by status, by ticket), one case, and
//! its PDF.

use pitwall_domain::invoices::InvoiceStatus;
use pitwall_domain::{Feature, InvoiceId, Permission, TicketId};
use pitwall_store::invoices::{self as store, InvoiceFilter};
use pitwall_store::{Page, PageRequest};

use super::InvoiceView;
use crate::{App, Error, Result, ShopCtx};

async fn require(app: &App, ctx: &ShopCtx) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::OnlinePayments)
}

/// Newest first; `status` narrows to one state (named by its published
/// name), `ticket` to one ticket's cases.
pub async fn list(
    app: &App,
    ctx: &ShopCtx,
    status: Option<&str>,
    ticket: Option<TicketId>,
    page: PageRequest,
) -> Result<Page<InvoiceView>> {
    require(app, ctx).await?;
    let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(InvoiceStatus::parse(s).ok_or_else(|| {
            Error::invalid(
                "status",
                "must be draft, sent, paid, delivered, booked, paid_pos or canceled",
            )
        })?),
    };
    let rows = store::list(
        &app.db,
        ctx.shop_id(),
        &InvoiceFilter { status, ticket },
        page,
    )
    .await?;
    let items = rows
        .items
        .into_iter()
        .map(InvoiceView::of)
        .collect::<Result<_>>()?;
    Ok(Page {
        items: super::with_payments(&app.db, ctx.shop_id(), items).await?,
        next_cursor: rows.next_cursor,
    })
}

pub async fn get(app: &App, ctx: &ShopCtx, id: InvoiceId) -> Result<InvoiceView> {
    require(app, ctx).await?;
    let row = store::get(&app.db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("invoice"))?;
    let views = super::with_payments(&app.db, ctx.shop_id(), vec![InvoiceView::of(row)?]).await?;
    views
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal("the case went missing".into()))
}

/// The cases of one ticket, newest first (the ticket page and the
/// customer's page show them).
pub(crate) async fn of_ticket(
    app: &App,
    shop: pitwall_domain::ShopId,
    ticket: TicketId,
) -> Result<Vec<InvoiceView>> {
    let views = store::list(
        &app.db,
        shop,
        &InvoiceFilter {
            status: None,
            ticket: Some(ticket),
        },
        PageRequest::first(20),
    )
    .await?
    .items
    .into_iter()
    .map(InvoiceView::of)
    .collect::<Result<_>>()?;
    super::with_payments(&app.db, shop, views).await
}
