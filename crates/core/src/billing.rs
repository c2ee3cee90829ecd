//! Billing use cases: the owner's billing page, Checkout and portal
//! sessions, receiving Stripe's webhooks, applying a Stripe event (the job),
//! reporting SMS overage, and support's tools (comp plan, trial, prices).
//!
//! The rules (status → lifecycle, grace, price map, signatures) are in
//! `pitwall_domain::billing`; this module does the I/O around them.
//!
//! Order and duplicates do not matter: an event is stored once by its id,
//! and applying it re-reads the subscription from Stripe and writes the
//! subscription's *current* state, so a late or repeated event applies the
//! same truth as the newest one.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::billing::{
    self as rules, BillingInterval, PriceMap, SignatureError, SmsOverage, SubscriptionStatus,
};
use pitwall_domain::{MessageId, Permission, Quota, Role, ShopId, ShopLifecycle};
use pitwall_jobs::billing::{BillingFailure, BillingJob, BillingWork};
use pitwall_store::{PageRequest, audit, billing, members, messages, plans, shops};
use serde_json::json;

use crate::mail::{LinkMail, queue_link_mail};
use crate::{Actor, App, Error, Result, Secret, ShopCtx};

/// The meter Pitwall reports SMS overage to (create a meter with this event
/// name in Stripe; docs/STRIPE.md).
pub const SMS_METER_EVENT: &str = "pitwall_sms_segments";

/// Stripe settings; made by the binary from `STRIPE_*`.
#[derive(Clone)]
pub struct StripeSettings {
    pub client: stripe::Client,
    /// Every secret accepted for webhook signatures (several during a
    /// rotation).
    pub webhook_secrets: Vec<Secret>,
    /// `PITWALL_STRIPE_PRICES`; admin edits in the database win over it.
    pub prices: PriceMap,
    /// `STRIPE_API_BASE` without a trailing slash.
    pub api_base: String,
}

impl StripeSettings {
    /// Where the billing page's forms may lead (its CSP `form-action`):
    /// Stripe's hosted Checkout and portal, or the local fake's pages when
    /// the API is pointed elsewhere.
    pub fn page_origins(&self) -> Vec<String> {
        let mut out = vec![
            "https://checkout.stripe.com".to_owned(),
            "https://billing.stripe.com".to_owned(),
        ];
        if !self.api_base.starts_with("https://api.stripe.com") {
            out.push(self.api_base.clone());
        }
        out
    }
}

impl StripeSettings {
    /// A client for `api_base` (Stripe's own, or a local fake in tests).
    pub fn new(
        secret_key: &str,
        api_base: &str,
        webhook_secrets: Vec<Secret>,
        prices: PriceMap,
    ) -> std::result::Result<Self, String> {
        let client = stripe::ClientBuilder::new(secret_key)
            .url(format!("{}/", api_base.trim_end_matches('/')))
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| format!("building the Stripe client: {e}"))?;
        Ok(Self {
            client,
            webhook_secrets,
            prices,
            api_base: api_base.trim_end_matches('/').to_owned(),
        })
    }
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

fn stripe(app: &App) -> Result<&StripeSettings> {
    app.config.stripe.as_ref().ok_or(Error::invalid(
        "billing",
        "billing is not configured on this Pitwall (STRIPE_SECRET_KEY)",
    ))
}

/// The lifecycle a request sees (see [`rules::effective_lifecycle`]): reads
/// the billing row only for a past-due shop or a shop whose trial's end
/// has passed.
pub(crate) async fn effective_lifecycle(app: &App, shop: &shops::Shop) -> Result<ShopLifecycle> {
    let stored = shops::lifecycle_of(shop)?;
    let now = app.config.clock.now();
    let trial_passed =
        stored == ShopLifecycle::Trial && shop.trial_ends_at.is_some_and(|e| now >= e);
    if stored != ShopLifecycle::PastDue && !trial_passed {
        return Ok(stored);
    }
    let row = billing::get(&app.db, ShopId::from_uuid(shop.id)).await?;
    let facts = rules::BillingFacts {
        past_due_since: row.as_ref().and_then(|b| b.past_due_since),
        trial_ends_at: shop.trial_ends_at,
        subscription: row
            .as_ref()
            .and_then(|b| b.status.as_deref())
            .and_then(SubscriptionStatus::parse),
        comp: row.as_ref().is_some_and(|b| b.comp),
    };
    Ok(rules::effective_lifecycle(
        stored,
        &facts,
        app.config.past_due_grace,
        now,
    ))
}

/// The price map in force: configuration with admin edits over it.
pub async fn price_map(app: &App) -> Result<PriceMap> {
    let configured = app
        .config
        .stripe
        .as_ref()
        .map(|s| s.prices.clone())
        .unwrap_or_default();
    Ok(configured.merged(&billing::price_overrides(&app.db).await?))
}

/// The shop's plan and billing state, as the API and the page show it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub plan: String,
    pub plan_name: String,
    pub lifecycle: ShopLifecycle,
    /// Stripe's subscription status; `None` before any subscription.
    pub status: Option<String>,
    pub interval: Option<String>,
    pub next_invoice_at: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub trial_days_left: Option<i64>,
    /// When a past-due shop becomes read-only.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// The trial ended without a subscription: read-only until the owner
    /// subscribes.
    pub trial_ended: bool,
    pub comp: bool,
    pub configured: bool,
}

pub async fn summary(app: &App, ctx: &ShopCtx) -> Result<Summary> {
    let row = billing::get(&app.db, ctx.shop_id()).await?;
    let now = app.config.clock.now();
    let trial_ended = ctx.trial_ended();
    let trial_ends_at = ctx
        .shop
        .trial_ends_at
        .filter(|_| ctx.lifecycle == ShopLifecycle::Trial || trial_ended);
    let grace_ends_at = row
        .as_ref()
        .and_then(|r| r.past_due_since)
        .filter(|_| ctx.lifecycle == ShopLifecycle::PastDue)
        .map(|since| since + app.config.past_due_grace);
    Ok(Summary {
        plan: ctx.features.plan.code.clone(),
        plan_name: ctx.features.plan.name.clone(),
        lifecycle: ctx.lifecycle,
        status: row.as_ref().and_then(|r| r.status.clone()),
        interval: row.as_ref().and_then(|r| r.billing_interval.clone()),
        next_invoice_at: row
            .as_ref()
            .filter(|r| !r.cancel_at_period_end)
            .filter(|r| {
                r.status.as_deref().and_then(SubscriptionStatus::parse)
                    != Some(SubscriptionStatus::Canceled)
            })
            .and_then(|r| r.current_period_end),
        cancel_at_period_end: row.as_ref().is_some_and(|r| r.cancel_at_period_end),
        trial_ends_at,
        trial_days_left: trial_ends_at.map(|end| (end - now).num_days().max(0)),
        grace_ends_at,
        trial_ended,
        comp: row.as_ref().is_some_and(|r| r.comp),
        configured: app.config.stripe.is_some(),
    })
}

/// A plan the owner can choose, with the intervals it is sold in.
#[derive(Debug, Clone)]
pub struct PlanChoice {
    pub code: String,
    pub name: String,
    pub monthly_price_cents: i64,
    pub intervals: Vec<BillingInterval>,
    pub current: bool,
}

/// Everything the billing page shows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub summary: Summary,
    pub sms_used: i64,
    pub sms_included: Option<i64>,
    pub sms_overage: SmsOverage,
    pub sms_overage_reported: i64,
    pub plans: Vec<PlanChoice>,
    pub has_customer: bool,
    pub subscribed: bool,
}

pub async fn overview(app: &App, ctx: &ShopCtx) -> Result<Overview> {
    app.require(ctx, Permission::BillingManage).await?;
    let summary = summary(app, ctx).await?;
    let row = billing::get(&app.db, ctx.shop_id()).await?;
    let now = app.config.clock.now();
    let month = pitwall_domain::messaging::usage_month(now);
    let prices = price_map(app).await?;
    let plans = plans::list(&app.db)
        .await?
        .into_iter()
        .map(|p| PlanChoice {
            intervals: BillingInterval::ALL
                .iter()
                .copied()
                .filter(|i| prices.price_for(&p.code, *i).is_some())
                .collect(),
            current: p.code == ctx.shop.plan_code,
            code: p.code,
            name: p.name,
            monthly_price_cents: p.monthly_price_cents,
        })
        .collect();
    Ok(Overview {
        sms_used: messages::sms_segments_in(&app.db, ctx.shop_id(), &month).await?,
        sms_included: ctx.quota(Quota::SmsPerMonth),
        sms_overage: billing::sms_overage(&app.db, &ctx.shop.plan_code).await?,
        sms_overage_reported: billing::overage_since(
            &app.db,
            ctx.shop_id(),
            crate::outreach::month_start(now),
        )
        .await?,
        plans,
        has_customer: row.as_ref().is_some_and(|r| r.stripe_customer_id.is_some()),
        subscribed: rules::status_counts_as_subscribed(
            row.as_ref()
                .and_then(|r| r.status.as_deref())
                .and_then(SubscriptionStatus::parse),
        ),
        summary,
    })
}

fn stripe_failure(what: &str, e: stripe::StripeError) -> Error {
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
async fn customer_of(app: &App, s: &StripeSettings, ctx: &ShopCtx) -> Result<String> {
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
fn chosen_price(prices: &PriceMap, plan: &str, interval: Option<&str>) -> Result<String> {
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

async fn portal_session(
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

// ---------------------------------------------------------------- webhooks

/// Checks a delivery's `Stripe-Signature` against every configured secret,
/// before anything of the body is read. Without Stripe every delivery is
/// refused.
pub fn verify_webhook(
    app: &App,
    payload: &[u8],
    header: Option<&str>,
) -> std::result::Result<(), SignatureError> {
    let secrets: Vec<String> = app
        .config
        .stripe
        .as_ref()
        .map(|s| {
            s.webhook_secrets
                .iter()
                .map(|x| x.expose().to_owned())
                .collect()
        })
        .unwrap_or_default();
    if secrets.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    // Real time, not the billing clock: the tolerance is about the delivery.
    rules::verify_signature(payload, header, &secrets, Utc::now())
}

/// The event types Pitwall acts on; others are acknowledged and ignored.
pub const HANDLED_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored; a job applies it.
    Queued,
    /// Stored and acknowledged; Pitwall does not act on this type.
    Ignored,
    /// Seen before (Stripe retries and duplicates): nothing done.
    Duplicate,
}

/// The subscription an event is about: the object itself for
/// `customer.subscription.*`, the one it names for a checkout session or an
/// invoice (in the API versions before and after Stripe moved it under
/// `parent`).
fn subscription_named(event_type: &str, object: &serde_json::Value) -> Option<String> {
    let s = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v["id"].as_str().map(str::to_owned))
    };
    if event_type.starts_with("customer.subscription.") {
        return object["id"].as_str().map(str::to_owned);
    }
    s(&object["subscription"])
        .or_else(|| s(&object["parent"]["subscription_details"]["subscription"]))
        .filter(|id| id.starts_with("sub_"))
}

/// Stores a verified event once by id and queues its processing in the
/// same transaction; answers at once (Stripe retries slow endpoints).
pub async fn receive_event(app: &App, payload: &[u8]) -> Result<Received> {
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| Error::invalid("body", format!("is not JSON: {e}")))?;
    let id = v["id"]
        .as_str()
        .filter(|id| id.starts_with("evt_") && id.len() <= 255)
        .ok_or_else(|| Error::invalid("id", "must be a Stripe event id (evt_...)"))?;
    let event_type = v["type"]
        .as_str()
        .filter(|t| !t.is_empty() && t.len() <= 100)
        .ok_or_else(|| Error::invalid("type", "is missing"))?;
    let handled = HANDLED_EVENTS.contains(&event_type);
    let subscription = subscription_named(event_type, &v["data"]["object"]);
    let txn = pitwall_store::begin_write(&app.db).await?;
    if !billing::insert_event(&txn, id, event_type, subscription.as_deref()).await? {
        return Ok(Received::Duplicate);
    }
    let outcome = if handled && subscription.is_some() {
        pitwall_jobs::billing::enqueue(
            &txn,
            None,
            &BillingJob::StripeEvent {
                event_id: id.to_owned(),
            },
        )
        .await?;
        Received::Queued
    } else {
        let why = if handled {
            "names no subscription"
        } else {
            "not an event Pitwall acts on"
        };
        billing::finish_event(&txn, id, None, "ignored", Some(why)).await?;
        Received::Ignored
    };
    txn.commit().await?;
    tracing::info!(stripe.event_id = %id, stripe.event_type = %event_type, outcome = ?outcome, "Stripe event received");
    app.jobs.nudge();
    Ok(outcome)
}

// ------------------------------------------------------------- processing

/// The subscription's current state, read from Stripe.
async fn read_subscription(
    s: &StripeSettings,
    id: &str,
) -> std::result::Result<(billing::SubscriptionState, HashMap<String, String>), BillingFailure> {
    // Real time, not the billing clock: it orders reads made by any worker.
    let read_started_at = Utc::now();
    let sub = stripe_billing::subscription::RetrieveSubscription::new(id)
        .send(&s.client)
        .await
        .map_err(|e| match e {
            stripe::StripeError::Stripe(_, status)
                if (400..500).contains(&status) && status != 429 =>
            {
                BillingFailure::Permanent(format!("Stripe answered {status} for the subscription"))
            }
            other => BillingFailure::Retry(format!("reading the subscription: {other}")),
        })?;
    let status = SubscriptionStatus::parse(sub.status.as_str()).ok_or_else(|| {
        BillingFailure::Permanent(format!(
            "unknown subscription status {:?}",
            sub.status.as_str()
        ))
    })?;
    let item = sub.items.data.first();
    let interval = item
        .and_then(|i| i.price.recurring.as_ref())
        .map(|r| r.interval.as_str())
        .and_then(|i| match i {
            "month" => Some(BillingInterval::Monthly),
            "year" => Some(BillingInterval::Yearly),
            _ => None,
        });
    let state = billing::SubscriptionState {
        customer_id: sub.customer.id().as_str().to_owned(),
        subscription_id: sub.id.as_str().to_owned(),
        status,
        price_id: item.map(|i| i.price.id.as_str().to_owned()),
        interval,
        current_period_end: item.and_then(|i| DateTime::from_timestamp(i.current_period_end, 0)),
        cancel_at_period_end: sub.cancel_at_period_end,
        trial_end: sub.trial_end.and_then(|t| DateTime::from_timestamp(t, 0)),
        read_started_at,
    };
    Ok((state, sub.metadata))
}

fn retry(e: impl std::fmt::Display) -> BillingFailure {
    BillingFailure::Retry(e.to_string())
}

/// Applies one stored event: re-reads its subscription from Stripe, finds
/// the shop (by the subscription's `metadata.shop_id` or the customer), and
/// writes plan, lifecycle and subscription state with an audit entry per
/// change, in one transaction. Running it twice changes nothing the second
/// time.
pub async fn process_event(app: &App, event_id: &str) -> std::result::Result<(), BillingFailure> {
    let Some(event) = billing::event(&app.db, event_id).await.map_err(retry)? else {
        return Err(BillingFailure::Permanent(format!(
            "event {event_id} is not stored"
        )));
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let s = app
        .config
        .stripe
        .as_ref()
        .ok_or_else(|| BillingFailure::Retry("Stripe is not configured".into()))?;
    billing::count_event_attempt(&app.db, event_id)
        .await
        .map_err(retry)?;
    let Some(sub_id) = event.object_id.clone() else {
        billing::finish_event(
            &app.db,
            event_id,
            None,
            "ignored",
            Some("names no subscription"),
        )
        .await
        .map_err(retry)?;
        return Ok(());
    };
    let (state, metadata) = match read_subscription(s, &sub_id).await {
        Ok(x) => x,
        Err(e) => {
            let (BillingFailure::Retry(m) | BillingFailure::Permanent(m)) = &e;
            let _ = billing::finish_event(&app.db, event_id, None, "failed", Some(m)).await;
            return Err(e);
        }
    };
    // The shop: the metadata we put on the subscription, else the customer.
    let by_customer = billing::shop_by_customer(&app.db, &state.customer_id)
        .await
        .map_err(retry)?;
    let by_metadata = metadata
        .get("shop_id")
        .and_then(|v| v.parse::<ShopId>().ok());
    let shop = match (by_metadata, by_customer) {
        (Some(m), Some(c)) if m != c => {
            billing::finish_event(
                &app.db,
                event_id,
                None,
                "no_shop",
                Some("the subscription's shop_id and its customer's shop differ"),
            )
            .await
            .map_err(retry)?;
            return Ok(());
        }
        (Some(m), _) => m,
        (None, Some(c)) => c,
        (None, None) => {
            billing::finish_event(
                &app.db,
                event_id,
                None,
                "no_shop",
                Some("no shop has this customer"),
            )
            .await
            .map_err(retry)?;
            return Ok(());
        }
    };
    let Some(shop_row) = shops::get(&app.db, shop).await.map_err(retry)? else {
        billing::finish_event(
            &app.db,
            event_id,
            None,
            "no_shop",
            Some("the shop does not exist"),
        )
        .await
        .map_err(retry)?;
        return Ok(());
    };
    let prices = price_map(app).await.map_err(|e| retry(e.to_string()))?;
    let outcome = apply_state(app, &shop_row, &state, &prices, event_id)
        .await
        .map_err(|e| retry(e.to_string()))?;
    billing::finish_event(
        &app.db,
        event_id,
        Some(shop),
        outcome.0,
        outcome.1.as_deref(),
    )
    .await
    .map_err(retry)?;
    app.cache.clear();
    app.jobs.nudge();
    Ok(())
}

/// Writes the subscription's state to the shop. Answers the result and a
/// note for the admin console.
async fn apply_state(
    app: &App,
    shop_row: &shops::Shop,
    state: &billing::SubscriptionState,
    prices: &PriceMap,
    event_id: &str,
) -> Result<(&'static str, Option<String>)> {
    let shop = ShopId::from_uuid(shop_row.id);
    let now = app.config.clock.now();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let before = billing::lock(&txn, shop).await?;
    // Re-read under the lock: another event of this shop may have just
    // changed plan or lifecycle (each change is audited once).
    let shop_row = &shops::get(&txn, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    // Two events of one shop can be processed at once, each re-reading the
    // subscription. A read begun after ours saw at least what we saw, so
    // ours must not overwrite it (the change it missed has its own event).
    if let Some(newer) = before.state_read_at
        && newer > state.read_started_at
    {
        txn.commit().await?;
        return Ok((
            "ignored",
            Some(format!(
                "superseded: a later read of the subscription was applied ({})",
                before.last_event_id.as_deref().unwrap_or("support")
            )),
        ));
    }
    // An older subscription ending must not close a shop that has since
    // subscribed again (events of both arrive in any order).
    let live = rules::status_counts_as_subscribed(Some(state.status));
    if let Some(current) = &before.stripe_subscription_id
        && current != &state.subscription_id
        && !live
    {
        let current_live = rules::status_counts_as_subscribed(
            before.status.as_deref().and_then(SubscriptionStatus::parse),
        );
        if current_live {
            txn.commit().await?;
            return Ok((
                "ignored",
                Some(format!(
                    "{} is {}; the shop's subscription is {current}",
                    state.subscription_id, state.status
                )),
            ));
        }
    }
    let past_due_since =
        (state.status == SubscriptionStatus::PastDue).then(|| before.past_due_since.unwrap_or(now));
    let mut notified = past_due_since.and(before.past_due_notified_at);
    let tell_owner = past_due_since.is_some() && notified.is_none();
    if tell_owner {
        notified = Some(now);
    }
    billing::apply_subscription(&txn, shop, state, past_due_since, notified, event_id).await?;
    let mut notes = Vec::new();
    if before.comp {
        txn.commit().await?;
        return Ok((
            "applied",
            Some("comp plan: plan and lifecycle left as support set them".into()),
        ));
    }
    if before.status.as_deref() != Some(state.status.as_str()) {
        audit::record(
            &txn,
            audit::NewAudit {
                shop: Some(shop),
                actor: None,
                action: "billing.status",
                target: Some(state.status.as_str().to_owned()),
                details: json!({
                    "from": before.status, "to": state.status.as_str(),
                    "stripe_event_id": event_id, "subscription": state.subscription_id,
                }),
            },
        )
        .await?;
    }
    // The plan follows the price while the subscription is live; a
    // canceled shop keeps its last plan, read-only.
    if live && let Some(price) = &state.price_id {
        match prices.plan_of(price) {
            Some((plan, _)) if plan != shop_row.plan_code => {
                if plans::get(&txn, plan).await?.is_none() {
                    notes.push(format!("price {price} maps to unknown plan {plan}"));
                } else {
                    shops::set_plan(&txn, shop, plan).await?;
                    audit::record(
                        &txn,
                        audit::NewAudit {
                            shop: Some(shop),
                            actor: None,
                            action: "billing.plan",
                            target: Some(plan.to_owned()),
                            details: json!({
                                "from": shop_row.plan_code, "to": plan,
                                "stripe_event_id": event_id, "price": price,
                            }),
                        },
                    )
                    .await?;
                }
            }
            Some(_) => {}
            None => notes.push(format!("price {price} is not in the price map")),
        }
    }
    let lifecycle_now = shops::lifecycle_of(shop_row)?;
    if let Some(lifecycle) =
        rules::lifecycle_for(state.status, past_due_since, app.config.past_due_grace, now)
        && lifecycle != lifecycle_now
    {
        shops::set_lifecycle(&txn, shop, lifecycle).await?;
        audit::record(
            &txn,
            audit::NewAudit {
                shop: Some(shop),
                actor: None,
                action: "billing.lifecycle",
                target: Some(lifecycle.as_str().to_owned()),
                details: json!({
                    "from": lifecycle_now.as_str(), "to": lifecycle.as_str(),
                    "stripe_event_id": event_id, "status": state.status.as_str(),
                }),
            },
        )
        .await?;
    }
    if state.status == SubscriptionStatus::Trialing
        && let Some(end) = state.trial_end
    {
        billing::set_trial_end(&txn, shop, end).await?;
    }
    if tell_owner {
        let grace_end = now + app.config.past_due_grace;
        for owner in owners(&txn, shop).await? {
            queue_link_mail(
                &txn,
                LinkMail {
                    shop: Some(shop),
                    kind: "billing_past_due",
                    to: &owner,
                    subject: &format!("{}: your Pitwall payment did not go through", shop_row.name),
                    intro: &format!(
                        "The last payment for {} failed. Everything keeps working until {}; after that the shop becomes read-only and no messages are sent.",
                        shop_row.name,
                        grace_end.format("%Y-%m-%d")
                    ),
                    action: "Update your card",
                    link: &format!("{}/app/billing", app.config.base_url),
                    outro: "If you already fixed it, you can ignore this e-mail.",
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(("applied", (!notes.is_empty()).then(|| notes.join("; "))))
}

/// The owners' e-mail addresses.
async fn owners(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
) -> Result<Vec<String>> {
    Ok(
        members::list_members(db, shop, PageRequest::first(PageRequest::MAX_LIMIT))
            .await?
            .items
            .into_iter()
            .filter(|m| Role::parse(&m.membership.role) == Some(Role::Owner))
            .map(|m| m.user.email)
            .collect(),
    )
}

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

/// Runs billing jobs for the worker.
pub struct Worker(pub App);

impl BillingWork for Worker {
    fn run(
        &self,
        job: BillingJob,
    ) -> futures_boxed::BoxFuture<'_, std::result::Result<(), BillingFailure>> {
        Box::pin(async move {
            match job {
                BillingJob::StripeEvent { event_id } => process_event(&self.0, &event_id).await,
                BillingJob::SmsOverage {
                    shop_id,
                    message_id,
                } => report_overage(&self.0, shop_id, message_id).await,
            }
        })
    }
}

mod futures_boxed {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

// ------------------------------------------------------------ support

/// What support sees of a shop's billing.
#[derive(Debug, Clone)]
pub struct AdminView {
    pub billing: Option<billing::ShopBilling>,
    pub events: Vec<billing::StripeEvent>,
    pub grace_ends_at: Option<DateTime<Utc>>,
}

pub async fn admin_view(app: &App, actor: &Actor, shop: ShopId) -> Result<AdminView> {
    actor.require_platform()?;
    shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let row = billing::get(&app.db, shop).await?;
    Ok(AdminView {
        grace_ends_at: row
            .as_ref()
            .and_then(|r| r.past_due_since)
            .map(|s| s + app.config.past_due_grace),
        billing: row,
        events: billing::events_of_shop(&app.db, shop, 20).await?,
    })
}

/// Support gives a shop a plan without Stripe (`plan` `None` ends the comp
/// and leaves the shop to its subscription's next event).
pub async fn set_comp(
    app: &App,
    actor: &Actor,
    shop: ShopId,
    plan: Option<&str>,
    reason: &str,
) -> Result<()> {
    actor.require_platform()?;
    let reason =
        pitwall_domain::values::required_text(reason, 500).map_err(Error::field("reason"))?;
    let before = shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    if let Some(p) = plan
        && plans::get(&app.db, p).await?.is_none()
    {
        return Err(Error::invalid("plan", format!("is not a plan: {p:?}")));
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    billing::set_comp(&txn, shop, plan.is_some(), plan.map(|_| reason.as_str())).await?;
    if let Some(p) = plan {
        shops::set_plan(&txn, shop, p).await?;
        shops::set_lifecycle(&txn, shop, ShopLifecycle::Active).await?;
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(actor.user_id),
            action: if plan.is_some() { "billing.comp" } else { "billing.comp_end" },
            target: plan.map(str::to_owned),
            details: json!({ "from_plan": before.plan_code, "from_lifecycle": before.lifecycle, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(())
}

/// Support extends a shop's trial by `days` (from its end, or from now if
/// it has ended) and puts a shop whose trial ran out back on trial.
pub async fn extend_trial(
    app: &App,
    actor: &Actor,
    shop: ShopId,
    days: i64,
    reason: &str,
) -> Result<DateTime<Utc>> {
    actor.require_platform()?;
    if !(1..=365).contains(&days) {
        return Err(Error::invalid("days", "must be between 1 and 365"));
    }
    let reason =
        pitwall_domain::values::required_text(reason, 500).map_err(Error::field("reason"))?;
    let before = shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let now = app.config.clock.now();
    let from = before.trial_ends_at.filter(|t| *t > now).unwrap_or(now);
    let ends = from + Duration::days(days);
    let txn = pitwall_store::begin_write(&app.db).await?;
    billing::set_trial_end(&txn, shop, ends).await?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(actor.user_id),
            action: "billing.extend_trial",
            target: Some(ends.to_rfc3339()),
            details: json!({ "from": before.trial_ends_at, "days": days, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(ends)
}

/// A price as the admin console lists it.
#[derive(Debug, Clone)]
pub struct PriceRow {
    pub plan: String,
    pub interval: BillingInterval,
    pub price_id: Option<String>,
    pub sms_overage: SmsOverage,
}

pub async fn prices(app: &App, actor: &Actor) -> Result<Vec<PriceRow>> {
    actor.require_platform()?;
    let map = price_map(app).await?;
    let mut out = Vec::new();
    for p in plans::list(&app.db).await? {
        let overage = billing::sms_overage(&app.db, &p.code).await?;
        for i in BillingInterval::ALL {
            out.push(PriceRow {
                plan: p.code.clone(),
                interval: *i,
                price_id: map.price_for(&p.code, *i).map(str::to_owned),
                sms_overage: overage,
            });
        }
    }
    Ok(out)
}

/// A platform admin sets a plan's Stripe Price (empty: not sold in that
/// interval) and its SMS overage rule.
pub async fn set_price(
    app: &App,
    actor: &Actor,
    plan: &str,
    interval: &str,
    price_id: &str,
    sms_overage: Option<&str>,
) -> Result<()> {
    actor.require_platform_admin()?;
    if plans::get(&app.db, plan).await?.is_none() {
        return Err(Error::NotFound("plan"));
    }
    let interval = BillingInterval::parse(interval.trim())
        .ok_or_else(|| Error::invalid("interval", "must be monthly or yearly"))?;
    let price_id = match price_id.trim() {
        "" => String::new(),
        p => rules::parse_price_id(p).map_err(Error::field("price_id"))?,
    };
    let overage = sms_overage
        .map(|o| {
            SmsOverage::parse(o.trim())
                .ok_or_else(|| Error::invalid("sms_overage", "must be stop or report"))
        })
        .transpose()?;
    if !price_id.is_empty() {
        let map = price_map(app).await?;
        if let Some((other, i)) = map.plan_of(&price_id)
            && (other != plan || i != interval)
        {
            return Err(Error::invalid(
                "price_id",
                format!("is already the price of {other} ({i})"),
            ));
        }
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    billing::set_price(&txn, plan, interval, &price_id, Some(actor.user_id)).await?;
    if let Some(o) = overage {
        billing::set_sms_overage(&txn, plan, o).await?;
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: None,
            actor: Some(actor.user_id),
            action: "billing.price",
            target: Some(format!("{plan}:{interval}")),
            details: json!({ "price_id": price_id, "sms_overage": overage.map(|o| o.as_str()) }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(())
}
