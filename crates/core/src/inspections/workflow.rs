//! An inspection's way to the customer: the technician submits it (the
//! sheet's photo rules checked), the advisor returns it with a reason or
//! publishes it, and may send the customer the link with it.
//!
//! Each step is a conditional move from the states it may leave, so two
//! staff acting at once cannot both move it; the timeline records each.

use chrono::Utc;
use pitwall_domain::findings::{self as rules, InspectionStatus};
use pitwall_domain::messaging::Channel;
use pitwall_domain::tickets::{ActorKind, NotificationKind, TimelineKind};
use pitwall_domain::workflow::{Stage, Trigger};
use pitwall_domain::{InspectionId, Permission, StatusId, TicketId, values};
use pitwall_store::inspections::{self as store, Move};
use pitwall_store::{activity, tickets};
use serde_json::json;

use super::{InspectionView, load, load_to_change, may, not_editable, with_media};
use crate::links::{self, Issued};
use crate::{App, Error, FieldError, Result, ShopCtx, workflow};

fn moved_elsewhere(now: InspectionStatus) -> Error {
    Error::Conflict {
        field: "status".into(),
        message: format!("is {now}"),
    }
}

async fn record(
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    ctx: &ShopCtx,
    ticket: TicketId,
    kind: TimelineKind,
    data: serde_json::Value,
) -> Result<Vec<crate::live::LiveEvent>> {
    let event = activity::record_event(
        txn,
        ctx.shop_id(),
        activity::NewEvent {
            ticket,
            kind: kind.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&ctx.user_name),
            data,
        },
    )
    .await?;
    Ok(vec![crate::timeline::timeline_live(
        ctx.shop_id(),
        ticket,
        event.id,
    )])
}

/// The repair-order move `trigger` makes (when the shop has the workflow),
/// its live events added to `live`.
async fn advance(
    app: &App,
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    ctx: &ShopCtx,
    ticket: TicketId,
    trigger: Trigger,
    live: &mut Vec<crate::live::LiveEvent>,
) -> Result<Option<Stage>> {
    let moved = workflow::advance(
        app,
        txn,
        ctx.shop_id(),
        &ctx.features,
        ticket,
        trigger,
        workflow::staff(ctx),
    )
    .await?;
    Ok(moved.map(|(stage, more)| {
        live.extend(more);
        stage
    }))
}

/// The technician hands the inspection in (`inspections.edit`). Refused
/// (422) while a finding the sheet says needs a photo has none, each named
/// `findings/{item_key}/media`.
pub async fn submit(app: &App, ctx: &ShopCtx, id: InspectionId) -> Result<InspectionView> {
    may(app, ctx, Permission::InspectionsEdit).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    // The photo rule reads each finding's media; last visit is not needed.
    let mut current = load_to_change(&txn, ctx, id).await?;
    with_media(&txn, shop, &mut current).await?;
    if !current.status.editable() {
        return Err(not_editable(current.status));
    }
    let missing: Vec<FieldError> = current
        .findings
        .iter()
        .filter(|f| rules::needs_photo(f.item.photo, f.condition) && f.media.is_empty())
        .map(|f| FieldError {
            field: format!("findings/{}/media", f.row.item_key),
            message: "needs a photo: the sheet asks for one".into(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidFields(missing));
    }
    let now = Utc::now();
    let ok = store::move_to(
        &txn,
        shop,
        id,
        Move {
            from: &[
                InspectionStatus::InProgress.as_str(),
                InspectionStatus::Returned.as_str(),
            ],
            to: InspectionStatus::Submitted.as_str(),
            returned_reason: None,
            submitted_at: Some(now),
            published_at: None,
        },
    )
    .await?;
    if !ok {
        return Err(moved_elsewhere(current.status));
    }
    let ticket = TicketId::from_uuid(current.row.ticket_id);
    let mut live = record(
        &txn,
        ctx,
        ticket,
        TimelineKind::InspectionSubmitted,
        json!({ "inspection_id": id, "name": current.row.name }),
    )
    .await?;
    let stage = advance(
        app,
        &txn,
        ctx,
        ticket,
        Trigger::InspectionSubmitted,
        &mut live,
    )
    .await?;
    let view = load(&txn, ctx, id).await?;
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    if let Some(stage) = stage {
        workflow::status_for_stage(app, ctx, ticket, stage).await;
    }
    Ok(view)
}

/// Sends a submitted inspection back to the technician with a reason
/// (`tickets.edit`: the advisor's review).
pub async fn send_back(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionId,
    reason: &str,
) -> Result<InspectionView> {
    may(app, ctx, Permission::TicketsEdit).await?;
    let reason = values::required_text(reason, 500).map_err(Error::field("reason"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let current = load_to_change(&txn, ctx, id).await?;
    if current.status != InspectionStatus::Submitted {
        return Err(Error::Conflict {
            field: "status".into(),
            message: format!(
                "is {}: only a submitted inspection is returned",
                current.status
            ),
        });
    }
    let ok = store::move_to(
        &txn,
        shop,
        id,
        Move {
            from: &[InspectionStatus::Submitted.as_str()],
            to: InspectionStatus::Returned.as_str(),
            returned_reason: Some(&reason),
            submitted_at: None,
            published_at: None,
        },
    )
    .await?;
    if !ok {
        return Err(moved_elsewhere(current.status));
    }
    let ticket = TicketId::from_uuid(current.row.ticket_id);
    let live = record(
        &txn,
        ctx,
        ticket,
        TimelineKind::InspectionReturned,
        json!({ "inspection_id": id, "name": current.row.name, "reason": reason }),
    )
    .await?;
    let view = load(&txn, ctx, id).await?;
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(view)
}

/// Shows a submitted inspection to the customer (`customer_links.send`);
/// with `send` (`sms` or `email`) a customer link goes out too, through
/// [`links::issue`] and so every messaging rule. A link that cannot go
/// out (no customer, opted out) refuses the whole step: nothing is
/// published.
pub async fn publish(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionId,
    send: Option<&str>,
) -> Result<(InspectionView, Option<Issued>)> {
    may(app, ctx, Permission::CustomerLinksSend).await?;
    let send = send.map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = send
        && Channel::outbound(s).is_none()
    {
        return Err(Error::invalid("send", "must be sms, email or null"));
    }
    let shop = ctx.shop_id();
    let current = load_to_change(&app.db, ctx, id).await?;
    if current.status != InspectionStatus::Submitted {
        return Err(Error::Conflict {
            field: "status".into(),
            message: format!(
                "is {}: only a submitted inspection is published",
                current.status
            ),
        });
    }
    let ticket = TicketId::from_uuid(current.row.ticket_id);
    let issued = match send {
        Some(s) => Some(
            links::issue(
                app,
                ctx,
                ticket,
                links::Issue {
                    send: Some(s),
                    replace: false,
                    template: pitwall_domain::messaging::TemplateKind::Link,
                    attachment: None,
                },
            )
            .await?,
        ),
        None => None,
    };
    let now = Utc::now();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ok = store::move_to(
        &txn,
        shop,
        id,
        Move {
            from: &[InspectionStatus::Submitted.as_str()],
            to: InspectionStatus::Published.as_str(),
            returned_reason: None,
            submitted_at: None,
            published_at: Some(now),
        },
    )
    .await?;
    if !ok {
        return Err(moved_elsewhere(current.status));
    }
    let count = |c: pitwall_domain::inspections::Condition| {
        current.findings.iter().filter(|f| f.condition == c).count()
    };
    use pitwall_domain::inspections::Condition::{Good, NeedsAttention, Urgent};
    let mut live = record(
        &txn,
        ctx,
        ticket,
        TimelineKind::InspectionPublished,
        json!({
            "inspection_id": id,
            "name": current.row.name,
            "link_id": issued.as_ref().map(|i| i.link.id),
            "how": send.unwrap_or("none"),
        }),
    )
    .await?;
    activity::notify_pos(
        &txn,
        shop,
        ticket,
        NotificationKind::InspectionPublished.as_str(),
        json!({
            "inspection_id": id,
            "name": current.row.name,
            "published_at": now,
            "urgent": count(Urgent),
            "needs_attention": count(NeedsAttention),
            "good": count(Good),
            "published_by": ctx.user_name,
        }),
    )
    .await?;
    if ctx.features.has(pitwall_domain::Feature::Webhooks) {
        let t = pitwall_store::tickets::get(&txn, shop, ticket)
            .await?
            .ok_or(Error::NotFound("ticket"))?;
        let kind = TimelineKind::InspectionPublished.as_str();
        pitwall_jobs::webhooks::enqueue(
            &txn,
            shop,
            kind,
            json!({
                "event": kind,
                "created_at": now,
                "shop_id": shop,
                "ticket_id": ticket,
                "ticket_number": t.number,
                "ticket_external_id": t.external_id,
                "data": {
                    "inspection_id": id,
                    "name": current.row.name,
                    "urgent": count(Urgent),
                    "needs_attention": count(NeedsAttention),
                    "good": count(Good),
                },
            }),
        )
        .await?;
    }
    let stage = advance(
        app,
        &txn,
        ctx,
        ticket,
        Trigger::RecommendationsSent,
        &mut live,
    )
    .await?;
    let view = load(&txn, ctx, id).await?;
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, inspection.id = %id, "inspection published");
    status_on_publish(app, ctx, ticket).await;
    if let Some(stage) = stage {
        workflow::status_for_stage(app, ctx, ticket, stage).await;
    }
    Ok((view, issued))
}

/// The shop's rule: publishing sets the vehicle status it chose, through
/// the same change as staff make (history, timeline, the status's texts).
/// The publication stands whatever happens here: a status retired since,
/// or a change refused, is logged and left.
async fn status_on_publish(app: &App, ctx: &ShopCtx, ticket: TicketId) {
    let shop = ctx.shop_id();
    let chosen = match pitwall_store::inspections::status_on_publish(&app.db, shop).await {
        Ok(Some(s)) => StatusId::from_uuid(s),
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(shop.id = %shop, error = %e, "reading the status to set on publish");
            return;
        }
    };
    let current = tickets::get(&app.db, shop, ticket)
        .await
        .ok()
        .flatten()
        .and_then(|t| t.status_id);
    if current == Some(chosen.as_uuid()) {
        return;
    }
    if let Err(e) = crate::tickets::change_status(app, ctx, ticket, chosen, None).await {
        tracing::warn!(shop.id = %shop, ticket.id = %ticket, error = %e, "the status to set on publish was not set");
    }
}
