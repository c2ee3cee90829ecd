//! Messages to customers about their ticket. A message row and its delivery
//! job are written in the caller's transaction, so a message exists exactly
//! when the change that caused it committed. Delivery itself (SMS provider,
//! SMTP, retries, delivery states) belongs to the messaging workers.

use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{Feature, TicketId, UserId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{activity, customers, statuses, tickets};
use serde_json::json;

use crate::{Error, Result, ShopCtx};

/// Renders a status template. Templates are checked when saved, so an error
/// here is a bug or a hand-edited row.
pub fn render(template: &str, vars: &serde_json::Value) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(10_000));
    env.render_str(template, minijinja::value::Serde(vars))
        .map(|s| s.trim().to_owned())
        .map_err(|e| Error::Internal(format!("message template: {e}")))
}

/// Refuses a template that would not render, naming what is wrong.
pub fn check_template(template: &str) -> Result<()> {
    let sample = json!({
        "first_name": "Sam", "last_name": "Lee", "shop_name": "Shop", "shop_phone": "555",
        "vehicle": "2019 Honda Civic", "status": "In shop", "ticket_number": "1001",
    });
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(10_000));
    env.render_str(template, minijinja::value::Serde(&sample))
        .map(|_| ())
        .map_err(|e| Error::invalid("message_template", format!("cannot be read: {e}")))
}

/// Queues the status update for every channel that reaches the customer.
pub(crate) async fn queue_status_update(
    txn: &impl ConnectionTrait,
    ctx: &ShopCtx,
    ticket: &tickets::Ticket,
    status: &statuses::VehicleStatus,
    by: UserId,
) -> Result<Vec<activity::Message>> {
    let shop = ctx.shop_id();
    let Some(customer_id) = ticket.customer_id else {
        return Ok(vec![]);
    };
    let Some(customer) = customers::get(
        txn,
        shop,
        pitwall_domain::CustomerId::from_uuid(customer_id),
    )
    .await?
    else {
        return Ok(vec![]);
    };
    if status.message_template.trim().is_empty() {
        return Ok(vec![]);
    }
    let vehicle = match ticket.vehicle_id {
        Some(v) => customers::vehicle(txn, shop, pitwall_domain::VehicleId::from_uuid(v)).await?,
        None => None,
    };
    let vars = json!({
        "first_name": customer.first_name.clone().unwrap_or_default(),
        "last_name": customer.last_name.clone().unwrap_or_default(),
        "shop_name": ctx.shop.name,
        "shop_phone": ctx.shop.phone.clone().unwrap_or_default(),
        "vehicle": vehicle.as_ref().map(crate::tickets::vehicle_label).unwrap_or_else(|| "vehicle".into()),
        "status": status.label,
        "ticket_number": ticket.number,
    });
    let body = render(&status.message_template, &vars)?;
    let mut channels = Vec::new();
    if let Some(phone) = customer.phone.as_deref()
        && !customer.sms_opt_out
        && ctx.features.has(Feature::Sms)
    {
        channels.push(("sms", phone));
    }
    if let Some(email) = customer.email.as_deref()
        && !customer.email_opt_out
        && ctx.features.has(Feature::Email)
    {
        channels.push(("email", email));
    }
    let tid = TicketId::from_uuid(ticket.id);
    let mut out = Vec::new();
    for (channel, to) in channels {
        let m = activity::queue_message(
            txn,
            shop,
            activity::NewMessage {
                ticket: Some(tid),
                customer: Some(customer.id),
                channel,
                to_address: to,
                body: &body,
                created_by: Some(by),
            },
        )
        .await?;
        pitwall_jobs::enqueue_message(txn, shop, pitwall_domain::MessageId::from_uuid(m.id))
            .await?;
        activity::record_event(
            txn,
            shop,
            activity::NewEvent {
                ticket: tid,
                kind: TimelineKind::MessageQueued.as_str(),
                actor_kind: ActorKind::System.as_str(),
                actor_id: None,
                actor_name: None,
                data: json!({ "message_id": m.id, "channel": channel, "reason": "status_update" }),
            },
        )
        .await?;
        out.push(m);
    }
    Ok(out)
}
