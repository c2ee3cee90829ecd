use chrono::{DateTime, Utc};
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{Permission, TicketId, UserId};
use pitwall_store::{activity, members, tickets};
use serde_json::json;

use super::{Contact, TicketView, person, ticket_in, view};
use crate::live::LiveEvent;
use crate::timeline::timeline_live;
use crate::{App, Error, Result, ShopCtx};

/// Staff-owned fields: who works on it, how urgent, when it is promised.
pub struct Assignment {
    pub advisor_id: Option<UserId>,
    pub technician_id: Option<UserId>,
    pub priority: i32,
    pub promised_at: Option<DateTime<Utc>>,
}

pub async fn assign(app: &App, ctx: &ShopCtx, id: TicketId, a: Assignment) -> Result<TicketView> {
    app.require(ctx, Permission::TicketsEdit).await?;
    ctx.require_writable()?;
    if !(0..=3).contains(&a.priority) {
        return Err(Error::invalid(
            "priority",
            "must be 0 (normal), 1 (soon), 2 (high) or 3 (urgent)",
        ));
    }
    let shop = ctx.shop_id();
    ticket_in(&app.db, ctx, id).await?;
    for (field, user) in [
        ("advisor_id", a.advisor_id),
        ("technician_id", a.technician_id),
    ] {
        if let Some(u) = user
            && members::membership(&app.db, shop, u).await?.is_none()
        {
            return Err(Error::invalid(field, "is not a member of this shop"));
        }
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    ticket_in(&txn, ctx, id).await?;
    tickets::set_staff_fields(
        &txn,
        shop,
        id,
        &tickets::StaffFields {
            advisor_id: a.advisor_id,
            technician_id: a.technician_id,
            priority: a.priority,
            promised_at: a.promised_at,
        },
    )
    .await?;
    let actor = ctx.user_name.clone();
    let advisor = person(&txn, a.advisor_id.map(|u| u.as_uuid())).await?;
    let technician = person(&txn, a.technician_id.map(|u| u.as_uuid())).await?;
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: id,
            kind: TimelineKind::Assigned.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&actor),
            data: json!({
                "advisor": advisor.map(|p| p.name),
                "technician": technician.map(|p| p.name),
                "priority": a.priority,
                "promised_at": a.promised_at,
            }),
        },
    )
    .await?;
    let announced = app.live.announce(vec![
        timeline_live(shop, id, event.id),
        LiveEvent::new(shop, Some(id.as_uuid()), "ticket_updated", None),
    ]);
    let ticket = ticket_in(&txn, ctx, id).await?;
    let view = view(&txn, shop, ticket, app.config.clock.now()).await?;
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(Contact::of(app, ctx).await.view(view))
}
