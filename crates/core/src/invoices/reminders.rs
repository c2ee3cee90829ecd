//! One reminder for an unpaid invoice: a case sent longer ago than the
//! shop's `reminder_hours` and still unpaid gets the shop's `invoice`
//! template again, with a fresh link, once. Invoice messages wait out
//! quiet hours (held, then sent in the morning).

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::messaging::TemplateKind;
use pitwall_domain::{Feature, InvoiceId, Permission, TicketId};
use pitwall_store::invoices::{self as store, Invoice};
use pitwall_store::{shops, tickets};

use crate::features::FeatureSet;
use crate::outreach::{self, Sender};
use crate::{App, Error, Result, ShopCtx};

/// The longest a shop may wait before reminding: 30 days.
pub const MAX_REMINDER_HOURS: i32 = 720;

/// When unpaid invoices remind the customer (`tickets.view`); none: never.
pub async fn reminder_hours(app: &App, ctx: &ShopCtx) -> Result<Option<i32>> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::OnlinePayments)?;
    Ok(store::reminder_hours(&app.db, ctx.shop_id()).await?)
}

/// Sets it (`shop.settings.manage`): from 1 to 720 hours, or none.
pub async fn set_reminder_hours(app: &App, ctx: &ShopCtx, hours: Option<i32>) -> Result<()> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_feature(Feature::OnlinePayments)?;
    ctx.require_writable()?;
    if let Some(h) = hours
        && !(1..=MAX_REMINDER_HOURS).contains(&h)
    {
        return Err(Error::invalid(
            "reminder_hours",
            format!("must be from 1 to {MAX_REMINDER_HOURS} hours, or null for no reminder"),
        ));
    }
    store::save_reminder_hours(&app.db, ctx.shop_id(), hours).await?;
    Ok(())
}

/// Sends the reminders due at `now`; answers how many were queued. Safe
/// to run on several workers at once: each reminder is claimed first.
pub async fn send_due_invoice_reminders(app: &App, now: DateTime<Utc>) -> Result<usize> {
    let mut sent = 0;
    for (shop_id, hours) in store::reminder_shops(&app.db).await? {
        let due =
            store::awaiting_reminder(&app.db, shop_id, now - Duration::hours(i64::from(hours)))
                .await?;
        if due.is_empty() {
            continue;
        }
        let Some(shop) = shops::get(&app.db, shop_id).await? else {
            continue;
        };
        let features = FeatureSet::load(&app.db, &shop).await?;
        if !features.has(Feature::OnlinePayments)
            || !crate::billing::effective_lifecycle(app, &shop)
                .await?
                .allows_writes()
        {
            continue;
        }
        let sender = Sender {
            shop: &shop,
            features: &features,
        };
        for invoice in due {
            if remind(app, sender, &invoice).await? {
                sent += 1;
            }
        }
    }
    if sent > 0 {
        app.jobs.nudge();
        tracing::info!(reminders = sent, "invoice reminders queued");
    }
    Ok(sent)
}

async fn remind(app: &App, sender: Sender<'_>, invoice: &Invoice) -> Result<bool> {
    let Some(ticket_id) = invoice.ticket_id else {
        return Ok(false);
    };
    let shop = sender.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    // Claimed even without anyone to remind: it is not retried.
    if !store::claim_reminder(&txn, shop, InvoiceId::from_uuid(invoice.id), Utc::now()).await? {
        return Ok(false);
    }
    let Some(ticket) = tickets::get(&txn, shop, TicketId::from_uuid(ticket_id)).await? else {
        txn.commit().await?;
        return Ok(false);
    };
    let queued = outreach::queue_automatic(
        &txn,
        &app.config.clock,
        sender,
        &ticket,
        outreach::Automatic {
            template: TemplateKind::Invoice,
            extra: &|_| Vec::new(),
            subject: format!("Invoice {} from {}", invoice.number, sender.shop.name),
            by: None,
            link_base: Some(&app.config.base_url),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(queued.is_some())
}
