//! The customer pays on the link page: a Stripe Checkout session on the
//! shop's account for what the invoice says is due, carrying shop and
//! invoice in its metadata. One session per invoice and amount: the same
//! one while it is open, a new one once it expired; sessions for an amount
//! no longer due are expired at Stripe.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::{Feature, InvoiceId, ShopId, TicketId};
use pitwall_store::payments::{self as store, PaymentSession};

use super::{PaymentsMode, platform_fee, stripe};
use crate::billing::stripe_failure;
use crate::customer::Visitor;
use crate::{App, Error, Result};

/// A session with less time left than this is not handed out again.
const MIN_TIME_LEFT_MINUTES: i64 = 10;

/// Answers the URL of the Stripe Checkout page where the customer pays the
/// invoice their link shows. Refused (409 naming `invoice`) when nothing is
/// due, and (409 naming `payments`) when the shop cannot take payments.
pub async fn pay_by_link(app: &App, token: &str, visitor: Visitor<'_>) -> Result<String> {
    let r = crate::customer::resolve(app, token, visitor).await?;
    let shop = ShopId::from_uuid(r.shop.id);
    if !r.features.has(Feature::OnlinePayments) {
        return Err(Error::Conflict {
            field: "payments".into(),
            message: "are not offered by this shop: please pay at the shop".into(),
        });
    }
    let s = stripe(app)?;
    let ticket = TicketId::from_uuid(r.link.ticket_id);
    let invoice = crate::invoices::of_ticket(app, shop, ticket)
        .await?
        .into_iter()
        .find(|i| i.shown_to_customer())
        .ok_or_else(|| Error::Conflict {
            field: "invoice".into(),
            message: "is not ready yet: the shop has not sent one".into(),
        })?;
    if !invoice.status.is_unpaid() {
        return Err(Error::Conflict {
            field: "invoice".into(),
            message: format!("is {}: nothing is due", invoice.status),
        });
    }
    let i = &invoice.invoice;
    let account = match app.config.payments.mode {
        PaymentsMode::Off => return Err(Error::Internal("payments are off".into())),
        PaymentsMode::Platform => None,
        PaymentsMode::Connect => match store::account(&app.db, shop).await? {
            Some(a) if a.charges_enabled => Some(a.stripe_account_id),
            _ => {
                return Err(Error::Conflict {
                    field: "payments".into(),
                    message: "cannot be taken by this shop yet: please pay at the shop".into(),
                });
            }
        },
    };
    let id = InvoiceId::from_uuid(i.id);
    let now = Utc::now();
    if let Some(open) = store::open_session(
        &app.db,
        shop,
        id,
        i.total,
        now + Duration::minutes(MIN_TIME_LEFT_MINUTES),
    )
    .await?
    {
        return Ok(open.url);
    }
    // An open session for another amount must not be paid any more.
    for old in store::open_sessions(&app.db, shop, id).await? {
        if old.amount != i.total {
            expire(s, &old).await;
            store::set_session_status(&app.db, shop, &old.stripe_session_id, "expired").await?;
        }
    }
    let n = store::count_sessions(&app.db, shop, id).await?;
    let mut metadata = HashMap::new();
    metadata.insert("shop_id".to_owned(), shop.to_string());
    metadata.insert("invoice_id".to_owned(), i.id.to_string());
    let Ok(currency) = i.currency.to_lowercase().parse::<stripe_types::Currency>();
    use stripe_checkout::checkout_session as cs;
    let mut price = cs::CreateCheckoutSessionLineItemsPriceData::new(currency);
    price.unit_amount = Some(i.total);
    price.product_data = Some(cs::ProductData::new(format!(
        "Invoice {} — {}",
        i.number, r.shop.name
    )));
    let mut line = cs::CreateCheckoutSessionLineItems::new();
    line.price_data = Some(price);
    line.quantity = Some(1);
    let mut intent = cs::CreateCheckoutSessionPaymentIntentData::new();
    intent.metadata = Some(metadata.clone());
    if account.is_some() {
        let fee = platform_fee(i.total, app.config.payments.fee_bps);
        if fee > 0 {
            intent.application_fee_amount = Some(fee);
        }
    }
    let base = &app.config.base_url;
    let req = cs::CreateCheckoutSession::new()
        .mode(stripe_shared::CheckoutSessionMode::Payment)
        .line_items(vec![line])
        .metadata(metadata)
        .client_reference_id(i.id.to_string())
        .payment_intent_data(intent)
        .success_url(format!("{base}/c/{token}?paid=1"))
        .cancel_url(format!("{base}/c/{token}"));
    // Two taps at once get one session from Stripe; a later one after the
    // last expired gets a new one.
    let key = stripe::IdempotencyKey::new(format!("pitwall-pay-{}-{}-{n}", i.id, i.total))
        .map_err(|e| Error::Internal(format!("idempotency key: {e}")))?;
    use stripe::StripeRequest;
    let mut call = req
        .customize()
        .request_strategy(stripe::RequestStrategy::Idempotent(key));
    if let Some(acct) = &account {
        call = call.account_id(stripe_shared::AccountId::from(acct.as_str()));
    }
    let session = call
        .send(&s.client)
        .await
        .map_err(|e| stripe_failure("starting the payment", e))?;
    let url = session
        .url
        .clone()
        .ok_or_else(|| Error::Internal("Stripe made a payment session without a page".into()))?;
    let expires_at = DateTime::from_timestamp(session.expires_at, 0)
        .unwrap_or_else(|| now + Duration::hours(24));
    store::insert_session(
        &app.db,
        shop,
        PaymentSession {
            id: uuid::Uuid::now_v7(),
            shop_id: shop.as_uuid(),
            invoice_id: i.id,
            stripe_session_id: session.id.as_str().to_owned(),
            stripe_account_id: account.clone(),
            amount: i.total,
            currency: i.currency.clone(),
            url: url.clone(),
            status: "open".into(),
            expires_at,
            created_at: now,
        },
    )
    .await?;
    tracing::info!(shop.id = %shop, invoice.id = %i.id, "payment session started");
    Ok(url)
}

/// Expires a session at Stripe; one that cannot be expired (already paid,
/// already expired) is left to the events.
async fn expire(s: &crate::billing::StripeSettings, old: &PaymentSession) {
    use stripe::StripeRequest;
    let mut call = stripe_checkout::checkout_session::ExpireCheckoutSession::new(
        old.stripe_session_id.as_str(),
    )
    .customize();
    if let Some(acct) = &old.stripe_account_id {
        call = call.account_id(stripe_shared::AccountId::from(acct.as_str()));
    }
    if let Err(e) = call.send(&s.client).await {
        tracing::warn!(error = %e, "an old payment session was not expired");
    }
}
