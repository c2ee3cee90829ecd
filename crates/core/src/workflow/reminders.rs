//! One reminder for an unanswered approval request: a ticket waiting in
//! `awaiting_approval` longer than the shop's `approval_reminder_minutes`
//! gets the shop's reminder template, once per request, as every message
//! Pitwall sends by itself (`outreach::queue_automatic`). Reminders wait
//! out quiet hours (held, then sent in the morning) like every reminder.

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::messaging::TemplateKind;
use pitwall_domain::{Feature, TicketId};
use pitwall_store::{shops, tickets, workflow as store};

use crate::features::FeatureSet;
use crate::outreach::{self, Sender};
use crate::{App, Result};

/// Sends the reminders due at `now`; answers how many were queued. Safe
/// to run on several workers at once: each reminder is claimed first.
pub async fn send_due_reminders(app: &App, now: DateTime<Utc>) -> Result<usize> {
    let mut sent = 0;
    for (shop_id, minutes) in store::reminder_shops(&app.db).await? {
        let before = now - Duration::minutes(i64::from(minutes));
        // The shop's plan is read only when a reminder is due (one indexed
        // query per shop otherwise, every minute).
        let due = store::awaiting_reminder(&app.db, shop_id, before).await?;
        if due.is_empty() {
            continue;
        }
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
        for ticket in due {
            if remind(
                app,
                Sender {
                    shop: &shop,
                    features: &features,
                },
                ticket,
            )
            .await?
            {
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

async fn remind(app: &App, sender: Sender<'_>, ticket: tickets::Ticket) -> Result<bool> {
    let txn = pitwall_store::begin_write(&app.db).await?;
    // Stamped with the time it is written, which a later request of the
    // same ticket (its stage entered again) comes after. Claimed even
    // without anyone to remind: the request is not retried.
    if !store::claim_reminder(
        &txn,
        sender.shop_id(),
        TicketId::from_uuid(ticket.id),
        Utc::now(),
    )
    .await?
    {
        return Ok(false);
    }
    let queued = outreach::queue_automatic(
        &txn,
        &app.config.clock,
        sender,
        &ticket,
        outreach::Automatic {
            template: TemplateKind::Reminder,
            extra: &|_| Vec::new(),
            subject: format!("A reminder from {}", sender.shop.name),
            by: None,
            // A fresh link (the template's `{{ link }}`): the one sent with
            // the request may have expired or been withdrawn.
            link_base: Some(&app.config.base_url),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(queued.is_some())
}
