use std::collections::HashMap;

use pitwall_domain::{MessageId, ShopId};
use pitwall_jobs::billing::BillingFailure;
use pitwall_store::billing;

use super::{SMS_METER_EVENT, retry};
use crate::App;

/// Reports one message's SMS overage to Stripe as a meter event; the
/// message id is the event's identifier, so Stripe counts a retry once.
pub async fn report_overage(
    app: &App,
    shop: ShopId,
    message: MessageId,
) -> std::result::Result<(), BillingFailure> {
    let Some(row) = billing::overage_report(&app.db, shop, message)
        .await
        .map_err(retry)?
    else {
        return Err(BillingFailure::Permanent(
            "no overage recorded for the message".into(),
        ));
    };
    if row.reported_at.is_some() {
        return Ok(());
    }
    let s = app
        .config
        .stripe
        .as_ref()
        .ok_or_else(|| BillingFailure::Retry("Stripe is not configured".into()))?;
    let Some(customer) = billing::get(&app.db, shop)
        .await
        .map_err(retry)?
        .and_then(|b| b.stripe_customer_id)
    else {
        return Err(BillingFailure::Permanent(
            "the shop has no Stripe customer".into(),
        ));
    };
    let mut payload = HashMap::new();
    payload.insert("stripe_customer_id".to_owned(), customer);
    payload.insert("value".to_owned(), row.segments.to_string());
    stripe_billing::billing_meter_event::CreateBillingMeterEvent::new(SMS_METER_EVENT, payload)
        .identifier(message.to_string())
        .timestamp(row.created_at.timestamp())
        .send(&s.client)
        .await
        .map_err(|e| retry(format!("reporting SMS usage: {e}")))?;
    billing::mark_overage_reported(&app.db, shop, message)
        .await
        .map_err(retry)?;
    Ok(())
}
