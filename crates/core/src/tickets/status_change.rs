use chrono::Utc;
use pitwall_domain::tickets::{ActorKind, TimelineKind, TimerMode};
use pitwall_domain::timer::{self};
use pitwall_domain::{Permission, StatusId, TicketId, TimelineEventId, UserId};
use pitwall_store::batch::Batch;
use pitwall_store::{activity, tickets};
use serde_json::json;

use super::{Contact, TicketView, view_with};
use crate::live::LiveEvent;
use crate::{App, Error, Result, ShopCtx};

pub struct StatusChange {
    pub view: TicketView,
    pub messages: Vec<activity::Message>,
}

/// Sets the vehicle status. The ticket, its history, the timeline event,
/// the customer messages with their delivery jobs and timeline events, the
/// customer's thread and the live announcement are written together: all
/// of them or none.
///
/// Everything the change decides on is read in one query, and everything
/// it writes goes in one batch guarded by the ticket's version (on
/// PostgreSQL one statement: the busiest write path of a shop's day costs
/// two round trips, see docs/BENCHMARKS.md). If another change got to the
/// ticket in between, nothing was written and the change is decided again
/// on the new state.
pub async fn set_status(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    status_id: StatusId,
    duration_minutes: Option<i32>,
) -> Result<StatusChange> {
    app.require(ctx, Permission::TicketsStatusSet).await?;
    ctx.require_writable()?;
    change_status(app, ctx, id, status_id, duration_minutes).await
}

/// The status change a staff member causes, directly or through a rule of
/// the shop's own (publishing an inspection sets the status the shop
/// chose); the caller has decided that this member may cause it.
pub(crate) async fn change_status(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    status_id: StatusId,
    duration_minutes: Option<i32>,
) -> Result<StatusChange> {
    let changed = change_status_by(
        app,
        ctx.into(),
        Changer {
            kind: ActorKind::Staff,
            user: Some(ctx.user_id),
            name: Some(&ctx.user_name),
        },
        id,
        status_id,
        duration_minutes,
    )
    .await?;
    let view = view_with(
        &app.db,
        ctx.shop_id(),
        changed.ticket,
        changed.customer,
        changed.vehicle,
        Some(changed.status),
        app.config.clock.now(),
    )
    .await?;
    let contact = Contact::of(app, ctx).await;
    let mut messages = changed.messages;
    contact.messages(&mut messages);
    Ok(StatusChange {
        view: contact.view(view),
        messages,
    })
}

/// Who changes a status: a staff member, or a rule acting on a customer's
/// decision (the status a repair-order stage sets).
#[derive(Clone, Copy)]
pub(crate) struct Changer<'a> {
    pub kind: ActorKind,
    pub user: Option<UserId>,
    pub name: Option<&'a str>,
}

/// What a status change wrote, for the caller to answer with.
pub(crate) struct Changed {
    pub ticket: pitwall_store::tickets::Ticket,
    pub customer: Option<pitwall_store::customers::Customer>,
    pub vehicle: Option<pitwall_store::customers::Vehicle>,
    pub status: pitwall_store::statuses::VehicleStatus,
    pub messages: Vec<activity::Message>,
}

/// The status change itself, for whoever causes it.
pub(crate) async fn change_status_by(
    app: &App,
    sender: crate::outreach::Sender<'_>,
    by: Changer<'_>,
    id: TicketId,
    status_id: StatusId,
    duration_minutes: Option<i32>,
) -> Result<Changed> {
    if let Some(m) = duration_minutes
        && !(1..=10_080).contains(&m)
    {
        return Err(Error::invalid(
            "duration_minutes",
            "must be from 1 to 10080 (one week)",
        ));
    }
    let shop = sender.shop_id();
    // Only changes racing on the same ticket retry; a short random pause
    // lets them pass one another instead of colliding again.
    const ATTEMPTS: u64 = 16;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let pause = rand::random::<u64>() % (500 * attempt);
            tokio::time::sleep(std::time::Duration::from_micros(pause)).await;
        }
        let now = Utc::now();
        let sms_month = crate::outreach::sms_usage_month(sender, now);
        let inputs = tickets::status_inputs(&app.db, shop, id, status_id, sms_month.as_deref())
            .await?
            .ok_or(Error::NotFound("ticket"))?;
        let status = inputs
            .to
            .ok_or_else(|| Error::invalid("status_id", "is not a status of this shop"))?;
        if status.retired_at.is_some() {
            return Err(Error::invalid("status_id", "is retired"));
        }
        let mut ticket = inputs.ticket;
        let mode = status.timer_mode_value()?;
        let due = match mode {
            TimerMode::CountDown => duration_minutes
                .or(status.default_minutes)
                .map(|m| timer::due_at(now, m)),
            _ => None,
        };
        let mut batch = Batch::guarded(tickets::status_guard(
            shop,
            id,
            ticket.version,
            status_id,
            now,
            due,
        ));
        batch.insert([activity::status_change_row(
            shop,
            id,
            ticket.status_id,
            status_id,
            by.user,
            now,
        )]);
        let event_id = TimelineEventId::new();
        batch.insert([activity::event_row(
            shop,
            event_id,
            activity::NewEvent {
                ticket: id,
                kind: TimelineKind::StatusChanged.as_str(),
                actor_kind: by.kind.as_str(),
                actor_id: by.user.map(|u| u.as_uuid()),
                actor_name: by.name,
                data: json!({
                    "from": inputs.from.as_ref().map(|s| json!({"id": s.id, "label": s.label})),
                    "to": {"id": status.id, "label": status.label},
                    "due_at": due,
                }),
            },
            now,
        )]);
        // What the guard writes, applied to the row in hand (the answer
        // needs no second read).
        ticket.status_id = Some(status_id.as_uuid());
        ticket.status_changed_at = Some(now);
        ticket.status_due_at = due;
        ticket.version += 1;
        ticket.updated_at = now;
        let messages = if status.notify_customer {
            crate::outreach::plan_status_update(
                sender,
                &app.config.clock,
                &ticket,
                &status,
                inputs.customer.as_ref(),
                inputs.vehicle.as_ref(),
                by.user,
                inputs.sms_used,
                now,
                &mut batch,
            )?
        } else {
            Vec::new()
        };
        let announced = app.live.announce(vec![LiveEvent::new(
            shop,
            Some(id.as_uuid()),
            "status_changed",
            Some(event_id.as_uuid()),
        )]);
        if !batch.run_guarded(&app.db).await? {
            // Changed (or deleted) since it was read: decide again.
            continue;
        }
        app.live.after_commit(announced);
        if !messages.is_empty() {
            app.jobs.nudge();
        }
        return Ok(Changed {
            ticket,
            customer: inputs.customer,
            vehicle: inputs.vehicle,
            status,
            messages,
        });
    }
    // Only a ticket changed by many others at this very moment gets here.
    Err(Error::Conflict {
        field: "status_id".into(),
        message: "could not be set: others are changing this ticket right now; try again".into(),
    })
}
