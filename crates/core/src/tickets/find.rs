use pitwall_domain::{Feature, Permission, StatusId, TicketId, UserId};
use pitwall_store::{Page, PageRequest, activity, identity, statuses, tickets};

use super::{
    Contact, StatusHistoryEntry, TicketDetail, TicketView, search_terms, ticket_in, view, views,
};
use crate::{App, Error, Result, ShopCtx};

/// What a ticket list asks for; the default is every ticket.
#[derive(Default)]
pub struct ListQuery<'a> {
    pub q: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// `open`, `closed` or `all` (default `all`).
    pub state: Option<&'a str>,
    pub status_id: Option<StatusId>,
    pub advisor_id: Option<UserId>,
    pub technician_id: Option<UserId>,
}

pub async fn list(
    app: &App,
    ctx: &ShopCtx,
    query: ListQuery<'_>,
    page: PageRequest,
) -> Result<Page<TicketView>> {
    app.require(ctx, Permission::TicketsView).await?;
    let kind = match query.kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(
            pitwall_domain::tickets::TicketKind::parse(k)
                .ok_or_else(|| Error::invalid("kind", "must be estimate, workorder or invoice"))?
                .as_str()
                .to_owned(),
        ),
    };
    let closed = match query.state.map(str::trim) {
        None | Some("") | Some("all") => None,
        Some("open") => Some(false),
        Some("closed") => Some(true),
        Some(_) => return Err(Error::invalid("state", "must be open, closed or all")),
    };
    let filter = tickets::TicketFilter {
        terms: search_terms(query.q.unwrap_or("")),
        kind,
        closed,
        status_id: query.status_id.map(|s| s.as_uuid()),
        advisor_id: query.advisor_id.map(|u| u.as_uuid()),
        technician_id: query.technician_id.map(|u| u.as_uuid()),
        customer_id: None,
        vehicle_id: None,
    };
    let contact = Contact::of(app, ctx).await;
    // The page is read in several statements (tickets, then their people,
    // statuses and services): one snapshot, so that a change committed
    // in between cannot show a ticket with another moment's services.
    let snapshot = pitwall_store::begin_read(&app.db).await?;
    let page = tickets::list(&snapshot, ctx.shop_id(), &filter, page).await?;
    let items = views(&snapshot, ctx.shop_id(), page.items, app.config.clock.now()).await?;
    snapshot.commit().await?;
    Ok(Page {
        items: items.into_iter().map(|v| contact.view(v)).collect(),
        next_cursor: page.next_cursor,
    })
}

pub async fn get(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<TicketDetail> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    let ticket = ticket_in(&app.db, ctx, id).await?;
    let shop_history = tickets::history(&app.db, shop, &ticket, 50).await?;
    let all_statuses = statuses::all(&app.db, shop).await?;
    let label = |id: Option<uuid::Uuid>| {
        id.and_then(|id| all_statuses.iter().find(|s| s.id == id))
            .map(|s| s.label.clone())
    };
    let changes = activity::status_history(&app.db, shop, id).await?;
    // Who made the changes, in one query however long the history.
    let mut who: Vec<uuid::Uuid> = changes.iter().filter_map(|c| c.changed_by).collect();
    who.sort_unstable();
    who.dedup();
    let people = if who.is_empty() {
        Vec::new()
    } else {
        identity::users_by_ids(&app.db, &who).await?
    };
    let status_history = changes
        .into_iter()
        .map(|c| StatusHistoryEntry {
            from: label(c.from_status_id),
            to: label(Some(c.to_status_id)).unwrap_or_default(),
            by: c
                .changed_by
                .and_then(|u| people.iter().find(|p| p.id == u))
                .map(|p| p.name.clone()),
            at: c.created_at,
        })
        .collect();
    let comments = activity::comments(&app.db, shop, id, PageRequest::first(200))
        .await?
        .items;
    let mut messages = pitwall_store::messages::of_ticket(&app.db, shop, id).await?;
    let contact = Contact::of(app, ctx).await;
    contact.messages(&mut messages);
    Ok(TicketDetail {
        view: contact.view(view(&app.db, shop, ticket, app.config.clock.now()).await?),
        status_history,
        comments,
        messages,
        shop_history,
    })
}

pub async fn timeline(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    page: PageRequest,
) -> Result<Page<activity::TimelineEvent>> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::Timeline)?;
    ticket_in(&app.db, ctx, id).await?;
    Ok(activity::timeline(&app.db, ctx.shop_id(), id, page).await?)
}

/// One ticket as the list shows it (`tickets.view`), without its history,
/// comments and messages: what an open page's facts card re-reads.
pub async fn get_view(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<TicketView> {
    app.require(ctx, Permission::TicketsView).await?;
    view_after_change(app, ctx, id).await
}

/// Checks that a ticket exists in the shop (for live streams).
pub async fn require_ticket(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    ticket_in(&app.db, ctx, id).await.map(|_| ())
}

/// One ticket as the list shows it, as it is now: the answer of a use case
/// that changed it (a staff-recorded approval). The caller has checked
/// what the change needed.
pub(crate) async fn view_after_change(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
) -> Result<TicketView> {
    let ticket = ticket_in(&app.db, ctx, id).await?;
    let view = view(&app.db, ctx.shop_id(), ticket, app.config.clock.now()).await?;
    Ok(Contact::of(app, ctx).await.view(view))
}
