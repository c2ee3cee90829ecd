use chrono::{DateTime, Utc};
use pitwall_domain::timer::{self};
use pitwall_domain::{Feature, Permission, StatusId, TicketId, UserId};
use pitwall_store::tickets;

use super::{Contact, TicketView, require_ticket, ticket_in, views};
use crate::{App, Result, ShopCtx};

/// One row of the active-customers dashboard.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    pub view: TicketView,
    /// The customer can get texts / e-mail (has the address, not opted out).
    pub sms: bool,
    pub email: bool,
    /// The customer replied and nobody has read it yet.
    pub unread_reply: bool,
    /// The ticket's newest outgoing message (its state shows on the row).
    pub last_message: Option<pitwall_store::messages::Message>,
    /// The customer has the ticket's page open; it counts as open until
    /// then without another beat (live timeline feature).
    pub customer_viewing_until: Option<DateTime<Utc>>,
}

pub struct DashboardFilter {
    pub advisor_id: Option<UserId>,
    pub status_id: Option<StatusId>,
}

/// Every open ticket, overdue and urgent first.
pub async fn dashboard(
    app: &App,
    ctx: &ShopCtx,
    filter: DashboardFilter,
) -> Result<Vec<DashboardRow>> {
    app.require(ctx, Permission::DashboardView).await?;
    ctx.require_feature(Feature::Dashboard)?;
    let shop = ctx.shop_id();
    let open: Vec<tickets::Ticket> = tickets::open(&app.db, shop, 500)
        .await?
        .into_iter()
        .filter(|t| {
            filter
                .advisor_id
                .is_none_or(|a| t.advisor_id == Some(a.as_uuid()))
                && filter
                    .status_id
                    .is_none_or(|s| t.status_id == Some(s.as_uuid()))
        })
        .collect();
    let ids: Vec<uuid::Uuid> = open.iter().map(|t| t.id).collect();
    let mut last: std::collections::HashMap<uuid::Uuid, _> =
        pitwall_store::messages::latest_outbound_of_tickets(&app.db, shop, &ids)
            .await?
            .into_iter()
            .filter_map(|m| m.ticket_id.map(|t| (t, m)))
            .collect();
    let viewing: std::collections::HashMap<uuid::Uuid, DateTime<Utc>> =
        if ctx.features.has(Feature::Timeline) {
            let window = chrono::Duration::seconds(crate::links::PRESENCE_WINDOW_SECS);
            pitwall_store::customer_links::viewing(&app.db, shop, &ids, Utc::now() - window)
                .await?
                .into_iter()
                .map(|(t, seen)| (t, seen + window))
                .collect()
        } else {
            Default::default()
        };
    let contact = Contact::of(app, ctx).await;
    // Overdue hand-offs show on the board as in the work queues.
    let handoffs = if ctx.features.has(Feature::RepairOrders) {
        Some(crate::workflow::handoff_targets(&app.db, shop).await?)
    } else {
        None
    };
    let now = app.config.clock.now();
    let mut rows = Vec::with_capacity(open.len());
    for mut view in views(&app.db, shop, open, now).await? {
        if let Some(settings) = &handoffs {
            view.stage_timer = crate::workflow::handoff_timer(settings, &view, now);
        }
        let t = &view.ticket;
        let unread_reply = match (t.customer_replied_at, t.reply_read_at) {
            (Some(r), Some(read)) => r > read,
            (Some(_), None) => true,
            _ => false,
        };
        if !ctx.features.has(Feature::StatusTimers) {
            view.timer = None;
        }
        let (sms, email) = match &view.customer {
            Some(c) => (
                c.phone.is_some() && !c.sms_opt_out,
                c.email.is_some() && !c.email_opt_out,
            ),
            None => (false, false),
        };
        let view = contact.view(view);
        let mut last_message = last.remove(&view.ticket.id);
        contact.messages(last_message.as_mut_slice());
        let customer_viewing_until = viewing.get(&view.ticket.id).copied();
        rows.push(DashboardRow {
            view,
            sms,
            email,
            unread_reply,
            last_message,
            customer_viewing_until,
        });
    }
    let urgency = |r: &DashboardRow| match r.view.timer.as_ref().map(|t| t.level) {
        Some(timer::TimerLevel::Overdue) => 0,
        Some(timer::TimerLevel::Warning) => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        urgency(a)
            .cmp(&urgency(b))
            .then(b.view.ticket.priority.cmp(&a.view.ticket.priority))
            .then(b.view.ticket.id.cmp(&a.view.ticket.id))
    });
    Ok(rows)
}

/// The signed-in technician's open work, by priority.
pub async fn my_work(app: &App, ctx: &ShopCtx) -> Result<Vec<TicketView>> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::TechnicianView)?;
    let shop = ctx.shop_id();
    let assigned = tickets::assigned_to(&app.db, shop, ctx.user_id).await?;
    views_for(app, ctx, assigned).await
}

/// The views of tickets the caller may see, contact details as their role
/// allows (work queues).
pub(crate) async fn views_for(
    app: &App,
    ctx: &ShopCtx,
    list: Vec<tickets::Ticket>,
) -> Result<Vec<TicketView>> {
    let contact = Contact::of(app, ctx).await;
    Ok(views(&app.db, ctx.shop_id(), list, app.config.clock.now())
        .await?
        .into_iter()
        .map(|v| contact.view(v))
        .collect())
}

/// Staff read the customer's reply (clears the dashboard's orange mark).
pub async fn mark_reply_read(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    ticket_in(&app.db, ctx, id).await?;
    tickets::mark_reply_read(&app.db, ctx.shop_id(), id).await?;
    Ok(())
}

/// Live changes of the shop (the dashboard) or of one ticket (its page).
pub async fn subscribe(
    app: &App,
    ctx: &ShopCtx,
    ticket: Option<TicketId>,
) -> Result<crate::live::Subscription> {
    match ticket {
        Some(id) => require_ticket(app, ctx, id).await?,
        None => {
            app.require(ctx, Permission::DashboardView).await?;
        }
    }
    Ok(app.live.subscribe_as(ctx.shop_id(), ctx.user_id))
}
