//! Moving an invoice case: send, paid at the counter, delivered, booked,
//! cancel. Every move goes through [`apply`]: the state machine in
//! `pitwall_domain::invoices` decides, the move is written only from the
//! state that was read, and the ticket's timeline, the POS and the staff's
//! screens hear of it in the same transaction.

use chrono::Utc;
use pitwall_domain::invoices::{InvoiceAction, InvoiceStatus, MAX_REASON_CHARS};
use pitwall_domain::messaging::{Channel, TemplateKind};
use pitwall_domain::tickets::{ActorKind, NotificationKind, TimelineKind};
use pitwall_domain::workflow::Forbidden;
use pitwall_domain::{Feature, InvoiceId, Permission, ShopId, TicketId};
use pitwall_store::activity;
use pitwall_store::invoices::{self as store, Invoice, InvoiceMove};
use pitwall_store::live::LiveEvent;
use pitwall_store::sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::InvoiceView;
use crate::links::{self, Issued};
use crate::pos::PosCtx;
use crate::{App, Error, Result, ShopCtx};

/// Who moved a case, for the timeline.
#[derive(Clone, Copy)]
pub(crate) enum ActedBy<'a> {
    Staff(&'a ShopCtx),
    Pos(&'a PosCtx),
    /// The customer, paying online (their name as the invoice has it).
    Customer(ShopId, &'a str),
    /// Stripe, telling of something done there (a refund).
    Stripe(ShopId),
}

impl ActedBy<'_> {
    fn shop(&self) -> ShopId {
        match self {
            ActedBy::Staff(ctx) => ctx.shop_id(),
            ActedBy::Pos(pos) => pos.shop_id(),
            ActedBy::Customer(shop, _) => *shop,
            ActedBy::Stripe(shop) => *shop,
        }
    }
}

pub struct InvoiceSent {
    pub invoice: InvoiceView,
    /// The link that carries it to the customer.
    pub issued: Issued,
}

/// Sends the invoice to the customer (`sms` or `email`) as a link to the
/// ticket's page, with the shop's `invoice` template. A case without a
/// ticket has no page to link to yet (409 naming `ticket_id`).
pub async fn send(app: &App, ctx: &ShopCtx, id: InvoiceId, how: &str) -> Result<InvoiceSent> {
    require(app, ctx).await?;
    let channel = Channel::outbound(how.trim())
        .ok_or_else(|| Error::invalid("send", "must be sms or email"))?;
    let current = read(app, ctx.shop_id(), id).await?;
    refused(current.status_value()?, InvoiceAction::Send)?;
    let ticket = current.ticket_id.ok_or_else(|| Error::Conflict {
        field: "ticket_id".into(),
        message: "is not set: an invoice sent by link needs the ticket it belongs to".into(),
    })?;
    // By e-mail the invoice goes along as a PDF, exactly as the case stands.
    let attachment = match channel {
        Channel::Email => Some(links::Attachment {
            file_name: format!("{}.pdf", current.number),
            content_type: "application/pdf",
            content: super::render(&ctx.shop, &InvoiceView::of(current.clone())?),
        }),
        _ => None,
    };
    let issued = links::issue(
        app,
        ctx,
        TicketId::from_uuid(ticket),
        links::Issue {
            send: Some(channel.as_str()),
            replace: false,
            template: TemplateKind::Invoice,
            attachment,
        },
    )
    .await?;
    let invoice = apply(
        app,
        ActedBy::Staff(ctx),
        current,
        InvoiceAction::Send,
        None,
        json!({"how": channel.as_str(), "link_id": issued.link.id}),
    )
    .await?;
    Ok(InvoiceSent { invoice, issued })
}

/// Paid at the counter: the case closes as `paid_pos`.
pub async fn mark_paid_pos(app: &App, ctx: &ShopCtx, id: InvoiceId) -> Result<InvoiceView> {
    staff_move(app, ctx, id, InvoiceAction::PaidPos, None).await
}

/// The vehicle was handed over after the invoice was paid.
pub async fn mark_delivered(app: &App, ctx: &ShopCtx, id: InvoiceId) -> Result<InvoiceView> {
    staff_move(app, ctx, id, InvoiceAction::Delivered, None).await
}

/// The payment is booked in the shop's accounts: the case closes.
pub async fn mark_booked(app: &App, ctx: &ShopCtx, id: InvoiceId) -> Result<InvoiceView> {
    staff_move(app, ctx, id, InvoiceAction::Booked, None).await
}

/// Cancels an unpaid case; the reason is required and kept.
pub async fn cancel(app: &App, ctx: &ShopCtx, id: InvoiceId, reason: &str) -> Result<InvoiceView> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid("reason", "is required to cancel an invoice"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::invalid(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    staff_move(app, ctx, id, InvoiceAction::Cancel, Some(reason)).await
}

/// Who signs for the vehicle at the counter.
pub struct Pickup<'a> {
    pub signer_name: &'a str,
    /// A PNG data URL or an SVG path, as for approvals.
    pub signature: &'a str,
}

/// Pickup in one step at the counter (`payments.take`): the customer signs
/// for the vehicle; an unpaid case is paid there and closes (`paid_pos`),
/// a paid one is delivered. Anything else answers 409 naming `status`.
pub async fn pickup(app: &App, ctx: &ShopCtx, id: InvoiceId, p: Pickup<'_>) -> Result<InvoiceView> {
    require(app, ctx).await?;
    let mut problems = crate::Problems::default();
    let signer = problems.check(
        "signer_name",
        pitwall_domain::values::required_text(p.signer_name, 120),
    );
    let signature = problems.check(
        "signature",
        pitwall_domain::approvals::parse_signature(p.signature),
    );
    problems.into_result()?;
    let (Some(signer), Some(signature)) = (signer, signature) else {
        return Err(Error::Internal("validated input went missing".into()));
    };
    let current = read(app, ctx.shop_id(), id).await?;
    let action = match current.status_value()? {
        InvoiceStatus::Paid => InvoiceAction::Delivered,
        _ => InvoiceAction::PaidPos,
    };
    let txn = pitwall_store::begin_write(&app.db).await?;
    let (row, live) = move_in(
        &txn,
        ActedBy::Staff(ctx),
        &current,
        action,
        None,
        json!({"pickup": true, "signer": signer}),
    )
    .await?;
    let at = Utc::now();
    store::record_pickup(&txn, ctx.shop_id(), id, &signer, &signature, at).await?;
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %ctx.shop_id(), invoice.id = %row.id, to = %row.status, "vehicle picked up");
    let row = read(app, ctx.shop_id(), id).await?;
    InvoiceView::of(row)
}

/// The POS booked the payment (`POST /api/pos/v1/invoices/{id}/booked`).
pub async fn pos_mark_booked(app: &App, pos: &PosCtx, id: InvoiceId) -> Result<InvoiceView> {
    crate::pos::require_writable(pos)?;
    crate::features::FeatureSet::load(&app.db, &pos.shop)
        .await?
        .require(Feature::OnlinePayments)?;
    let current = read(app, pos.shop_id(), id).await?;
    apply(
        app,
        ActedBy::Pos(pos),
        current,
        InvoiceAction::Booked,
        None,
        json!({}),
    )
    .await
}

async fn require(app: &App, ctx: &ShopCtx) -> Result<()> {
    app.require(ctx, Permission::PaymentsTake).await?;
    ctx.require_feature(Feature::OnlinePayments)?;
    ctx.require_writable()
}

async fn staff_move(
    app: &App,
    ctx: &ShopCtx,
    id: InvoiceId,
    action: InvoiceAction,
    reason: Option<&str>,
) -> Result<InvoiceView> {
    require(app, ctx).await?;
    let current = read(app, ctx.shop_id(), id).await?;
    apply(app, ActedBy::Staff(ctx), current, action, reason, json!({})).await
}

async fn read(app: &App, shop: ShopId, id: InvoiceId) -> Result<Invoice> {
    store::get(&app.db, shop, id)
        .await?
        .ok_or(Error::NotFound("invoice"))
}

/// The state machine's refusal, as the API says it: 409 naming `status`.
fn refused(from: InvoiceStatus, action: InvoiceAction) -> Result<InvoiceStatus> {
    from.after(action)
        .map_err(|Forbidden(why)| Error::Conflict {
            field: "status".into(),
            message: why,
        })
}

/// The one routine every move of a case goes through.
async fn apply(
    app: &App,
    by: ActedBy<'_>,
    current: Invoice,
    action: InvoiceAction,
    reason: Option<&str>,
    data: Value,
) -> Result<InvoiceView> {
    let shop = by.shop();
    let from = current.status_value()?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    let (row, live) = move_in(&txn, by, &current, action, reason, data).await?;
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, invoice.id = %row.id, from = %from, to = %row.status, "invoice moved");
    InvoiceView::of(row)
}

/// Moves a case inside the caller's transaction (a payment moves it with
/// the payment it records): the state machine decides, the write happens
/// only from the state read, and the ticket's timeline and the POS hear of
/// it. Answers the case as moved and the live events to announce.
pub(crate) async fn move_in(
    txn: &impl ConnectionTrait,
    by: ActedBy<'_>,
    current: &Invoice,
    action: InvoiceAction,
    reason: Option<&str>,
    data: Value,
) -> Result<(Invoice, Vec<LiveEvent>)> {
    let shop = by.shop();
    let from = current.status_value()?;
    let to = refused(from, action)?;
    let id = InvoiceId::from_uuid(current.id);
    let moved = store::move_status(
        txn,
        shop,
        id,
        InvoiceMove {
            from,
            to,
            at: Utc::now(),
            cancel_reason: reason,
        },
    )
    .await?;
    let Some(row) = moved else {
        // Someone else moved it since it was read: say where it is now.
        let now = store::get(txn, shop, id)
            .await?
            .ok_or(Error::NotFound("invoice"))?;
        return Err(Error::Conflict {
            field: "status".into(),
            message: format!("changed to {} meanwhile: reload and try again", now.status),
        });
    };
    let mut live = Vec::new();
    if let Some(ticket) = row.ticket_id {
        let mut data = data;
        if let (Some(r), Value::Object(m)) = (reason, &mut data) {
            m.insert("reason".into(), json!(r));
        }
        live = record_on_ticket(
            txn,
            shop,
            TicketId::from_uuid(ticket),
            timeline_kind(to),
            by,
            &row,
            data,
        )
        .await?;
    }
    Ok((row, live))
}

fn timeline_kind(to: InvoiceStatus) -> TimelineKind {
    match to {
        InvoiceStatus::Draft => TimelineKind::InvoiceCreated,
        InvoiceStatus::Sent => TimelineKind::InvoiceSent,
        InvoiceStatus::Paid => TimelineKind::PaymentReceived,
        InvoiceStatus::PaidPos => TimelineKind::InvoicePaidPos,
        InvoiceStatus::Delivered => TimelineKind::VehicleDelivered,
        InvoiceStatus::Booked => TimelineKind::InvoiceBooked,
        InvoiceStatus::Canceled => TimelineKind::InvoiceCanceled,
    }
}

/// The ticket's timeline entry and the POS's `invoice_update` for a case
/// made or moved, in the caller's transaction; the live events to announce.
pub(crate) async fn record_on_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    kind: TimelineKind,
    by: ActedBy<'_>,
    row: &Invoice,
    extra: Value,
) -> Result<Vec<LiveEvent>> {
    let mut data = json!({
        "invoice_id": row.id,
        "number": row.number,
        "status": row.status,
        "total": row.total,
        "currency": row.currency,
    });
    if let (Value::Object(m), Value::Object(more)) = (&mut data, extra) {
        m.extend(more);
    }
    let (actor_kind, actor_id, actor_name) = match by {
        ActedBy::Staff(ctx) => (
            ActorKind::Staff,
            Some(ctx.user_id.as_uuid()),
            Some(ctx.user_name.as_str()),
        ),
        ActedBy::Pos(pos) => (ActorKind::Pos, None, Some(pos.key.name.as_str())),
        ActedBy::Customer(_, name) => (ActorKind::Customer, None, Some(name)),
        ActedBy::Stripe(_) => (ActorKind::System, None, Some("Stripe")),
    };
    let event = activity::record_event(
        db,
        shop,
        activity::NewEvent {
            ticket,
            kind: kind.as_str(),
            actor_kind: actor_kind.as_str(),
            actor_id,
            actor_name,
            data: data.clone(),
        },
    )
    .await?;
    // The POS hears of every move but the ones it made itself; a payment
    // as `payment_received`, which POS integrations already know.
    let told = if kind == TimelineKind::PaymentReceived {
        NotificationKind::PaymentReceived
    } else {
        NotificationKind::InvoiceUpdate
    };
    if !matches!(by, ActedBy::Pos(_)) {
        activity::notify_pos(db, shop, ticket, told.as_str(), data).await?;
    }
    Ok(vec![crate::timeline::timeline_live(shop, ticket, event.id)])
}
