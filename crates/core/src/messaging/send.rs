use pitwall_domain::messaging::{Channel, Direction, MessageKind, MessageStatus, TemplateKind};
use pitwall_domain::{CustomerId, MessageId, Permission, TicketId};
use pitwall_store::live::LiveEvent;
use pitwall_store::messages::{self, Message};
use pitwall_store::{customers, tickets};

use crate::outreach::template_body;
use crate::outreach::{self, Outgoing};
use crate::{App, Error, Result, ShopCtx};

pub struct Reply<'a> {
    pub channel: &'a str,
    pub body: &'a str,
    pub ticket_id: Option<TicketId>,
}

/// A staff message to a customer, by SMS or e-mail. Goes at once (a reply
/// is something the customer waits for), refused with a clear code when it
/// cannot go: opted out, no consent, quota, channel not in plan.
pub async fn reply(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    r: Reply<'_>,
) -> Result<Message> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let channel = Channel::outbound(r.channel)
        .ok_or_else(|| Error::invalid("channel", "must be sms or email"))?;
    let body = r.body.trim();
    let max = match channel {
        Channel::Sms => outreach::MAX_SMS_CHARS,
        Channel::Email | Channel::Web => outreach::MAX_EMAIL_CHARS,
    };
    if body.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    if body.chars().count() > max {
        return Err(Error::invalid(
            "body",
            format!("must be at most {max} characters"),
        ));
    }
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let ticket = match r.ticket_id {
        Some(t) => {
            let t = tickets::get(&txn, shop, t)
                .await?
                .filter(|t| t.customer_id == Some(c.id))
                .ok_or_else(|| Error::invalid("ticket_id", "is not a ticket of this customer"))?;
            Some(TicketId::from_uuid(t.id))
        }
        None => tickets::latest_open_of_customer(&txn, shop, c.id)
            .await?
            .map(|t| TicketId::from_uuid(t.id)),
    };
    let mut sent = outreach::queue(
        &txn,
        &app.config.clock,
        ctx.into(),
        Outgoing {
            ticket,
            customer: &c,
            kind: MessageKind::Reply,
            channels: &[channel],
            body,
            sent_body: None,
            subject: Some(format!("A message from {}", ctx.shop.name)),
            by: Some(ctx.user_id),
            requested: true,
        },
    )
    .await?;
    let Some(m) = sent.pop() else {
        return Err(Error::Internal("reply queued nothing".into()));
    };
    // Replying reads the thread.
    messages::mark_thread_read(&txn, shop, customer).await?;
    tickets::mark_customer_replies_read(&txn, shop, c.id).await?;
    let announced = app
        .live
        .announce(vec![LiveEvent::new(shop, m.ticket_id, "message", None)]);
    txn.commit().await?;
    app.live.after_commit(announced);
    app.jobs.nudge();
    Ok(m)
}

/// Whether [`resend`] takes this message: an outgoing one that failed or
/// was held for the SMS allowance. A held message already sent again is
/// marked `replaced`: sending it once more would send the same words twice.
pub fn resendable(m: &Message) -> bool {
    let status = MessageStatus::parse(&m.status);
    m.direction == Direction::Outbound.as_str()
        && m.error_code.as_deref() != Some("replaced")
        && (status == Some(MessageStatus::Failed)
            || (status == Some(MessageStatus::Held)
                && m.hold_reason.as_deref() == Some("quota_exceeded")))
}

/// Sends a failed (or quota-held) message again, as a new message: the
/// failure stays in the log.
pub async fn resend(app: &App, ctx: &ShopCtx, id: MessageId) -> Result<Message> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let old = messages::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("message"))?;
    let status = MessageStatus::parse(&old.status);
    if !resendable(&old) {
        return Err(Error::Conflict {
            field: "message_id".into(),
            message: "only a failed or quota-held message can be sent again".into(),
        });
    }
    let customer_id = old
        .customer_id
        .ok_or_else(|| Error::invalid("message_id", "has no customer to send to"))?;
    let c = customers::get(&txn, shop, CustomerId::from_uuid(customer_id))
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let channel = Channel::outbound(&old.channel)
        .ok_or_else(|| Error::invalid("message_id", "is a message from the customer's page"))?;
    let kind = old.kind_value()?;
    let mut sent = outreach::queue(
        &txn,
        &app.config.clock,
        ctx.into(),
        Outgoing {
            ticket: old.ticket_id.map(TicketId::from_uuid),
            customer: &c,
            kind,
            channels: &[channel],
            body: &old.body,
            sent_body: None,
            subject: old.subject.clone(),
            by: Some(ctx.user_id),
            requested: true,
        },
    )
    .await?;
    let m = sent
        .pop()
        .ok_or_else(|| Error::Internal("resend queued nothing".into()))?;
    // The held one is replaced by the new one.
    let replaced = if status == Some(MessageStatus::Held) {
        super::transition(
            &txn,
            &app.live,
            &old,
            MessageStatus::Failed,
            messages::Outcome {
                error_code: Some("replaced"),
                error_message: Some("sent again as a new message"),
                ..Default::default()
            },
        )
        .await?
    } else {
        None
    };
    txn.commit().await?;
    if let Some(a) = replaced {
        app.live.after_commit(a);
    }
    app.jobs.nudge();
    Ok(m)
}

/// Sends the shop's reminder template about a ticket (waits out quiet
/// hours).
pub async fn send_reminder(
    app: &App,
    ctx: &ShopCtx,
    ticket: TicketId,
    channel: &str,
) -> Result<Message> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let channel = Channel::outbound(channel)
        .ok_or_else(|| Error::invalid("channel", "must be sms or email"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let t = tickets::get(&txn, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let c = match t.customer_id {
        Some(c) => customers::get(&txn, shop, CustomerId::from_uuid(c)).await?,
        None => None,
    }
    .ok_or_else(|| Error::invalid("ticket_id", "has no customer"))?;
    let vehicle = match t.vehicle_id {
        Some(v) => customers::vehicle(&txn, shop, pitwall_domain::VehicleId::from_uuid(v)).await?,
        None => None,
    };
    let template = template_body(&txn, shop, TemplateKind::Reminder).await?;
    let vars = outreach::vars_for(ctx.into(), &c, Some(&t), vehicle.as_ref(), None, None);
    let body = outreach::render(&template, &vars)?;
    let mut sent = outreach::queue(
        &txn,
        &app.config.clock,
        ctx.into(),
        Outgoing {
            ticket: Some(ticket),
            customer: &c,
            kind: MessageKind::Reminder,
            channels: &[channel],
            body: &body,
            sent_body: None,
            subject: Some(format!("A reminder from {}", ctx.shop.name)),
            by: Some(ctx.user_id),
            requested: true,
        },
    )
    .await?;
    let m = sent
        .pop()
        .ok_or_else(|| Error::Internal("reminder queued nothing".into()))?;
    let announced = app
        .live
        .announce(vec![LiveEvent::new(shop, Some(t.id), "message", None)]);
    txn.commit().await?;
    app.live.after_commit(announced);
    app.jobs.nudge();
    Ok(m)
}
