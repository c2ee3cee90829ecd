use std::collections::HashMap;

use chrono::Duration;
use pitwall_domain::billing::{self as rules, BillingInterval, PriceMap, SubscriptionStatus};
use pitwall_domain::{Permission, ShopLifecycle};
use pitwall_store::billing;

use super::{StripeSettings, price_map, stripe};
use crate::{App, Error, Result, ShopCtx};

pub(crate) fn stripe_failure(what: &str, e: stripe::StripeError) -> Error {
    // Stripe's error texts carry no secrets, but the request may: log the
    // kind only.
    match &e {
        stripe::StripeError::Stripe(err, status) => {
            tracing::warn!(stripe.status = status, stripe.code = ?err.code, "{what} refused by Stripe");
            Error::Internal(format!("{what}: Stripe answered {status}"))
        }
        other => {
            tracing::warn!(error = %other, "{what}: Stripe unreachable");
            Error::Internal(format!("{what}: Stripe is unreachable"))
        }
    }
}

/// The shop's Stripe customer, created once and reused. The idempotency
/// key makes two racing first requests get one customer from Stripe; the
/// conditional write keeps the first one stored.
pub(super) async fn customer_of(app: &App, s: &StripeSettings, ctx: &ShopCtx) -> Result<String> {
    if let Some(id) = billing::get(&app.db, ctx.shop_id())
        .await?
        .and_then(|r| r.stripe_customer_id)
    {
        return Ok(id);
    }
    let mut metadata = HashMap::new();
    metadata.insert("shop_id".to_owned(), ctx.shop_id().to_string());
    let mut req = stripe_core::customer::CreateCustomer::new()
        .name(ctx.shop.name.clone())
        .metadata(metadata);
    if let Some(email) = &ctx.shop.email {
        req = req.email(email.clone());
    }
    let key = stripe::IdempotencyKey::new(format!("pitwall-customer-{}", ctx.shop_id()))
        .map_err(|e| Error::Internal(format!("idempotency key: {e}")))?;
    use stripe::StripeRequest;
    let customer = req
        .customize()
        .request_strategy(stripe::RequestStrategy::Idempotent(key))
        .send(&s.client)
        .await
        .map_err(|e| stripe_failure("creating the Stripe customer", e))?;
    let id = billing::set_customer_once(&app.db, ctx.shop_id(), customer.id.as_str()).await?;
    Ok(id)
}

/// Parses the plan and interval an owner asked for; names the bad field.
pub(super) fn chosen_price(
    prices: &PriceMap,
    plan: &str,
    interval: Option<&str>,
) -> Result<String> {
    let interval = match interval.map(str::trim).filter(|i| !i.is_empty()) {
        None => BillingInterval::Monthly,
        Some(i) => BillingInterval::parse(i)
            .ok_or_else(|| Error::invalid("interval", "must be monthly or yearly"))?,
    };
    match prices.price_for(plan, interval) {
        Some(p) => Ok(p.to_owned()),
        None if prices.0.iter().any(|p| p.plan == plan) => Err(Error::invalid(
            "interval",
            format!("the {plan} plan is not sold {interval}"),
        )),
        None => Err(Error::invalid(
            "plan",
            format!("is not a plan sold through Stripe: {plan:?}"),
        )),
    }
}

/// Starts subscribing (or, for a shop with a live subscription, changing
/// plan) through Stripe Checkout. Answers the URL to send the owner to.
///
/// A shop with a live subscription changes plan in the portal (its
/// subscription-update flow) instead: a second Checkout would start a
/// second subscription and bill twice.
pub async fn start_checkout(
    app: &App,
    ctx: &ShopCtx,
    plan: &str,
    interval: Option<&str>,
) -> Result<String> {
    app.require(ctx, Permission::BillingManage).await?;
    let plan = plan.trim();
    if plan.is_empty() {
        return Err(Error::invalid("plan", "is required"));
    }
    let s = stripe(app)?;
    let price = chosen_price(&price_map(app).await?, plan, interval)?;
    let row = billing::get(&app.db, ctx.shop_id()).await?;
    if row.as_ref().is_some_and(|r| r.comp) {
        return Err(Error::invalid(
            "plan",
            "this shop is on a plan given by Pitwall support; ask support to change it",
        ));
    }
    let live = row.as_ref().and_then(|r| {
        let st = r.status.as_deref().and_then(SubscriptionStatus::parse);
        rules::status_counts_as_subscribed(st)
            .then(|| r.stripe_subscription_id.clone())
            .flatten()
    });
    if let Some(subscription) = live {
        return portal_session(app, s, ctx, Some(&subscription)).await;
    }
    let customer = customer_of(app, s, ctx).await?;
    let shop_id = ctx.shop_id().to_string();
    let mut sub_metadata = HashMap::new();
    sub_metadata.insert("shop_id".to_owned(), shop_id.clone());
    let mut sub = stripe_checkout::checkout_session::CreateCheckoutSessionSubscriptionData::new();
    sub.metadata = Some(sub_metadata.clone());
    // The trial the shop is on carries over to the subscription (Stripe
    // wants a trial end at least two days ahead).
    let now = app.config.clock.now();
    if ctx.lifecycle == ShopLifecycle::Trial
        && let Some(end) = ctx.shop.trial_ends_at
        && end > now + Duration::days(2)
    {
        sub.trial_end = Some(end.timestamp());
    }
    let base = &app.config.base_url;
    let mut line = stripe_checkout::checkout_session::CreateCheckoutSessionLineItems::new();
    line.price = Some(price);
    line.quantity = Some(1);
    let session = stripe_checkout::checkout_session::CreateCheckoutSession::new()
        .mode(stripe_shared::CheckoutSessionMode::Subscription)
        .customer(customer)
        .client_reference_id(shop_id)
        .metadata(sub_metadata)
        .line_items(vec![line])
        .subscription_data(sub)
        .success_url(format!("{base}/app/billing?checkout=success"))
        .cancel_url(format!("{base}/app/billing?checkout=canceled"))
        .send(&s.client)
        .await
        .map_err(|e| stripe_failure("creating the Checkout session", e))?;
    session
        .url
        .ok_or_else(|| Error::Internal("Stripe gave no Checkout URL".into()))
}

/// The customer portal (cards, invoices, cancel, plan changes).
pub async fn start_portal(app: &App, ctx: &ShopCtx) -> Result<String> {
    app.require(ctx, Permission::BillingManage).await?;
    let s = stripe(app)?;
    portal_session(app, s, ctx, None).await
}

pub(super) async fn portal_session(
    app: &App,
    s: &StripeSettings,
    ctx: &ShopCtx,
    update_subscription: Option<&str>,
) -> Result<String> {
    let customer = billing::get(&app.db, ctx.shop_id())
        .await?
        .and_then(|r| r.stripe_customer_id)
        .ok_or_else(|| {
            Error::invalid(
                "billing",
                "the shop has no Stripe customer yet: subscribe to a plan first",
            )
        })?;
    use stripe_billing::billing_portal_session as bps;
    let mut req = bps::CreateBillingPortalSession::new()
        .customer(customer)
        .return_url(format!("{}/app/billing", app.config.base_url));
    if let Some(sub) = update_subscription {
        let mut flow = bps::CreateBillingPortalSessionFlowData::new(
            bps::CreateBillingPortalSessionFlowDataType::SubscriptionUpdate,
        );
        flow.subscription_update =
            Some(bps::CreateBillingPortalSessionFlowDataSubscriptionUpdate::new(sub.to_owned()));
        req = req.flow_data(flow);
    }
    let session = req
        .send(&s.client)
        .await
        .map_err(|e| stripe_failure("creating the portal session", e))?;
    Ok(session.url)
}
