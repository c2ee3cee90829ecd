//! One reminder for an unanswered approval request: a ticket waiting in
//! `awaiting_approval` longer than the shop's `approval_reminder_minutes`
//! gets the shop's reminder template, once per request, by text when the
//! customer has a phone, else by e-mail. Reminders wait out quiet hours
//! (held, then sent in the morning) like every reminder.

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::messaging::{Channel, MessageKind, TemplateKind};
use pitwall_domain::{CustomerId, Feature, TicketId, VehicleId};
use pitwall_store::{customers, messages, shops, tickets, workflow as store};

use crate::features::FeatureSet;
use crate::outreach::{self, Outgoing, Sender};
use crate::{App, Result};

/// Sends the reminders due at `now`; answers how many were queued. Safe
/// to run on several workers at once: each reminder is claimed first.
pub async fn send_due_reminders(app: &App, now: DateTime<Utc>) -> Result<usize> {
    let mut sent = 0;
    for (shop_id, minutes) in store::reminder_shops(&app.db).await? {
        let Some(shop) = shops::get(&app.db, shop_id).await? else {
            continue;
        };
        let features = FeatureSet::load(&app.db, &shop).await?;
        if !features.has(Feature::RepairOrders)
            || !crate::billing::effective_lifecycle(app, &shop)
                .await?
                .allows_writes()
        {
            continue;
        }
        let before = now - Duration::minutes(i64::from(minutes));
        for ticket in store::awaiting_reminder(&app.db, shop_id, before).await? {
            if remind(app, &shop, &features, ticket).await? {
                sent += 1;
            }
        }
    }
    if sent > 0 {
        app.jobs.nudge();
        tracing::info!(reminders = sent, "approval reminders queued");
    }
    Ok(sent)
}

async fn remind(
    app: &App,
    shop: &shops::Shop,
    features: &FeatureSet,
    ticket: tickets::Ticket,
) -> Result<bool> {
    let sender = Sender { shop, features };
    let shop_id = sender.shop_id();
    let id = TicketId::from_uuid(ticket.id);
    let txn = pitwall_store::begin_write(&app.db).await?;
    // Stamped with the time it is written, which a later request of the
    // same ticket (its stage entered again) comes after.
    if !store::claim_reminder(&txn, shop_id, id, Utc::now()).await? {
        return Ok(false);
    }
    let customer = match ticket.customer_id {
        Some(c) => customers::get(&txn, shop_id, CustomerId::from_uuid(c)).await?,
        None => None,
    };
    // Claimed even without anyone to remind: the request is not retried.
    let Some(customer) = customer else {
        txn.commit().await?;
        return Ok(false);
    };
    let channel = if customer.phone.is_some() {
        Channel::Sms
    } else if customer.email.is_some() {
        Channel::Email
    } else {
        txn.commit().await?;
        return Ok(false);
    };
    let vehicle = match ticket.vehicle_id {
        Some(v) => customers::vehicle(&txn, shop_id, VehicleId::from_uuid(v)).await?,
        None => None,
    };
    let template = messages::template(&txn, shop_id, TemplateKind::Reminder.as_str())
        .await?
        .map(|t| t.body)
        .unwrap_or_else(|| TemplateKind::Reminder.default_body().to_owned());
    let vars = outreach::vars_for(
        sender,
        &customer,
        Some(&ticket),
        vehicle.as_ref(),
        None,
        None,
    );
    let body = outreach::render(&template, &vars)?;
    outreach::queue(
        &txn,
        &app.config.clock,
        sender,
        Outgoing {
            ticket: Some(id),
            customer: &customer,
            kind: MessageKind::Reminder,
            channels: &[channel],
            body: &body,
            sent_body: None,
            subject: Some(format!("A reminder from {}", shop.name)),
            by: None,
            requested: false,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
