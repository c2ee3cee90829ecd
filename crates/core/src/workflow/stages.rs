use chrono::Utc;
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::workflow::{Stage, Trigger};
use pitwall_domain::{Feature, Permission, ShopId, TicketId, values};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::workflow::{self as store, MovedBy, StageMove};
use pitwall_store::{activity, tickets};
use serde_json::json;

use crate::features::FeatureSet;
use crate::live::LiveEvent;
use crate::outreach::Sender;
use crate::tickets::Changer;
use crate::tickets::TicketView;
use crate::{App, Error, Result, ShopCtx};

pub use pitwall_store::workflow::StageChange;

/// What a staff member asks for: the stage to move to, why, and the
/// ticket version their screen showed (optional; a different one is
/// refused with `ticket_changed`, as a decision made on an old screen).
#[derive(Debug, Clone, Default)]
pub struct StageRequest<'a> {
    pub stage: &'a str,
    pub reason: Option<&'a str>,
    pub ticket_version: Option<i32>,
}

pub struct StageMoved {
    pub change: StageChange,
    pub ticket: TicketView,
}

/// A staff member moves the ticket's stage (`tickets.edit`). A move the
/// workflow forbids, or a ticket someone else moved first, answers 409
/// naming `stage`. The move, its history row and its timeline entry are
/// written together; the vehicle status the shop mapped to the new stage
/// follows, through the same change staff make.
pub async fn move_stage(
    app: &App,
    ctx: &ShopCtx,
    ticket: TicketId,
    req: StageRequest<'_>,
) -> Result<StageMoved> {
    app.require(ctx, Permission::TicketsEdit).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    // Another shop's ticket is not found, whatever else is wrong.
    let current = tickets::get(&txn, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let to = Stage::parse(req.stage.trim()).ok_or_else(|| {
        Error::invalid(
            "stage",
            format!(
                "must be one of {}",
                Stage::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let reason = values::optional_text(req.reason, 500).map_err(Error::field("reason"))?;
    if to.needs_reason() && reason.is_none() {
        return Err(Error::invalid("reason", "is required to cancel: say why"));
    }
    if let Some(shown) = req.ticket_version
        && shown != current.version
    {
        return Err(Error::TicketChanged {
            shown,
            current: current.version,
        });
    }
    let from = current.stage_value()?;
    from.may_move(to).map_err(|why| Error::Conflict {
        field: "stage".into(),
        message: why.0,
    })?;
    let Some((change, live)) = write_move(
        app,
        &txn,
        shop,
        ticket,
        from,
        to,
        reason.as_deref(),
        staff(ctx),
    )
    .await?
    else {
        // Another move landed between the read and the write.
        return Err(Error::Conflict {
            field: "stage".into(),
            message: "was just moved by someone else; reload and try again".into(),
        });
    };
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, ticket.id = %ticket, from = %from, to = %to, "stage moved");
    status_for_stage(app, ctx, ticket, to).await;
    let view = crate::tickets::view_after_change(app, ctx, ticket).await?;
    Ok(StageMoved {
        change,
        ticket: view,
    })
}

/// The move the workflow makes by itself when `trigger` happens, in the
/// caller's transaction: nothing for a shop without `repair_orders`, or
/// a ticket in a stage the trigger does not move from. Answers the stage
/// it moved to (for [`status_for_stage`] after commit) and the live
/// events to announce.
pub(crate) async fn advance(
    app: &App,
    txn: &impl ConnectionTrait,
    shop: ShopId,
    features: &FeatureSet,
    ticket: TicketId,
    trigger: Trigger,
    by: MovedBy<'_>,
) -> Result<Option<(Stage, Vec<LiveEvent>)>> {
    if !features.has(Feature::RepairOrders) {
        return Ok(None);
    }
    let Some(current) = tickets::get(txn, shop, ticket).await? else {
        return Ok(None);
    };
    let from = current.stage_value()?;
    let Some(to) = trigger.move_from(from) else {
        return Ok(None);
    };
    Ok(write_move(app, txn, shop, ticket, from, to, None, by)
        .await?
        .map(|(_, live)| (to, live)))
}

#[allow(clippy::too_many_arguments)]
async fn write_move(
    app: &App,
    txn: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    from: Stage,
    to: Stage,
    reason: Option<&str>,
    by: MovedBy<'_>,
) -> Result<Option<(StageChange, Vec<LiveEvent>)>> {
    let Some(change) = store::move_stage(
        txn,
        shop,
        StageMove {
            ticket,
            from,
            to,
            reason,
            by,
            at: Utc::now(),
        },
    )
    .await?
    else {
        return Ok(None);
    };
    let event = activity::record_event(
        txn,
        shop,
        activity::NewEvent {
            ticket,
            kind: TimelineKind::StageChanged.as_str(),
            actor_kind: by.kind,
            actor_id: by.user,
            actor_name: by.name,
            data: json!({ "from": from, "to": to, "reason": reason }),
        },
    )
    .await?;
    let handoffs = super::handoffs::hand_off(app, txn, shop, ticket, to, by).await?;
    let mut live = vec![
        crate::timeline::timeline_live(shop, ticket, event.id),
        LiveEvent::new(
            shop,
            Some(ticket.as_uuid()),
            TimelineKind::StageChanged.as_str(),
            Some(event.id),
        ),
    ];
    live.extend(handoffs);
    Ok(Some((change, live)))
}

/// The shop's mapping: entering `stage` sets the vehicle status it chose,
/// through the same change staff make (history, timeline, the status's
/// texts), on behalf of the staff member whose action moved the stage.
/// The move stands whatever happens here: a status retired since, or a
/// change refused, is logged and left.
pub(crate) async fn status_for_stage(app: &App, ctx: &ShopCtx, ticket: TicketId, stage: Stage) {
    let by = Changer {
        kind: ActorKind::Staff,
        user: Some(ctx.user_id),
        name: Some(&ctx.user_name),
    };
    status_for_stage_by(app, ctx.into(), by, ticket, stage).await;
}

/// The same when the customer's decision moved the stage (an approval
/// through the link): the status change is the customer's, by name.
pub(crate) async fn status_for_customer_stage(
    app: &App,
    shop: &pitwall_store::shops::Shop,
    features: &crate::features::FeatureSet,
    ticket: TicketId,
    stage: Stage,
    customer_name: &str,
) {
    let by = Changer {
        kind: ActorKind::Customer,
        user: None,
        name: Some(customer_name),
    };
    status_for_stage_by(app, Sender { shop, features }, by, ticket, stage).await;
}

async fn status_for_stage_by(
    app: &App,
    sender: Sender<'_>,
    by: Changer<'_>,
    ticket: TicketId,
    stage: Stage,
) {
    let shop = sender.shop_id();
    let chosen = match super::settings::read(&app.db, shop).await {
        Ok(s) => match s.stage_statuses.get(&stage) {
            Some(id) => *id,
            None => return,
        },
        Err(e) => {
            tracing::warn!(shop.id = %shop, error = %e, "reading the status a stage sets");
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
    if let Err(e) = crate::tickets::change_status_by(app, sender, by, ticket, chosen, None).await {
        tracing::warn!(shop.id = %shop, ticket.id = %ticket, stage = %stage, error = %e, "the status mapped to a stage was not set");
    }
}

/// The ticket's stage moves, oldest first (`tickets.view`).
pub async fn history(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<Vec<StageChange>> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    tickets::get(&app.db, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    Ok(store::history(&app.db, shop, ticket).await?)
}

/// Who a staff member is, as a stage move records them.
pub(crate) fn staff(ctx: &ShopCtx) -> MovedBy<'_> {
    MovedBy {
        kind: ActorKind::Staff.as_str(),
        user: Some(ctx.user_id.as_uuid()),
        name: Some(&ctx.user_name),
    }
}
