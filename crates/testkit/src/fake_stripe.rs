//! A local Stripe speaking Stripe's wire format for the calls Pitwall
//! makes, so tests run the real async-stripe client: form-encoded `POST
//! /v1/customers`, `/v1/checkout/sessions`, `/v1/billing_portal/sessions`,
//! `/v1/billing/meter_events`, `GET /v1/subscriptions/{id}`, with bearer
//! auth, Stripe's JSON objects (every field the client requires) and
//! Stripe's error shape. Its hosted Checkout page has a "Pay" button that
//! creates the subscription, sends the signed webhooks Stripe would send
//! and redirects to the success URL, as Stripe does.
//!
//! Tests change subscriptions (`set_status`, `set_price`) and deliver
//! events (`deliver`), signed with the real scheme.
//!
//! Stripe Connect, for invoice payments: `POST /v1/accounts`,
//! `GET /v1/accounts/{id}`, `POST /v1/account_links` (a hosted onboarding
//! page whose "Finish onboarding" enables the account), Checkout sessions
//! in `payment` mode on a connected account (the `Stripe-Account` header:
//! a session made on one account is not found through another, as at
//! Stripe), `GET` and `.../expire`; paying one sends
//! `checkout.session.completed` with the event's `account` to the Connect
//! webhook, signed with `CONNECT_WEBHOOK_SECRET`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Html, Json, Path};
use poem::{Body, EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler, post};
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_fake_pitwall";
pub const WEBHOOK_SECRET: &str = "whsec_fake_pitwall_current";
pub const CONNECT_WEBHOOK_SECRET: &str = "whsec_fake_pitwall_connect";

/// A Checkout session in `payment` mode (an invoice payment).
#[derive(Debug, Clone)]
pub struct FakePaymentSession {
    pub id: String,
    /// The connected account it was made on; none: the platform's own.
    pub account: Option<String>,
    pub amount_total: i64,
    pub currency: String,
    pub metadata: HashMap<String, String>,
    pub application_fee_amount: Option<i64>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `unpaid` or `paid`.
    pub payment_status: String,
    pub payment_intent: Option<String>,
    pub success_url: String,
    pub created: i64,
}

#[derive(Debug, Clone, Default)]
struct FakeAccount {
    charges_enabled: bool,
    metadata: HashMap<String, String>,
    email: Option<String>,
    return_url: Option<String>,
}

/// The charge behind a paid invoice session, and what was refunded of it.
#[derive(Debug, Clone)]
pub struct FakeCharge {
    pub id: String,
    pub account: Option<String>,
    pub payment_intent: String,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    pub created: i64,
}

#[derive(Debug, Clone)]
pub struct FakeSubscription {
    pub id: String,
    pub customer: String,
    pub status: String,
    pub price: String,
    pub metadata: HashMap<String, String>,
    pub period_end: i64,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct FakeSession {
    pub id: String,
    pub customer: String,
    pub price: String,
    pub client_reference_id: Option<String>,
    pub subscription_metadata: HashMap<String, String>,
    pub success_url: String,
    pub trial_end: Option<i64>,
    pub subscription: Option<String>,
}

#[derive(Default)]
struct State {
    customers: HashMap<String, HashMap<String, String>>,
    idempotent: HashMap<String, String>,
    sessions: Vec<FakeSession>,
    subscriptions: HashMap<String, FakeSubscription>,
    portal_sessions: Vec<(String, Option<String>)>,
    meter_events: Vec<(String, HashMap<String, String>)>,
    /// Every meter-event request, duplicates included (Stripe would keep
    /// one per identifier; a test checks Pitwall asked once).
    meter_event_requests: usize,
    subscription_reads: usize,
    /// Holds the next subscription read's answer this long: the state is
    /// taken when the request arrives, as a slow read from Stripe would.
    slow_next_read: Option<std::time::Duration>,
    webhook: Option<(String, String)>,
    connect_webhook: Option<(String, String)>,
    accounts: HashMap<String, FakeAccount>,
    account_links: usize,
    payment_sessions: Vec<FakePaymentSession>,
    charges: Vec<FakeCharge>,
    counter: u64,
    /// This fake's own URL (for the Checkout and portal pages).
    base: String,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The `Stripe-Signature` header Stripe sends: `t=<unix>,v1=<hex of
/// HMAC-SHA256 over "{t}.{payload}">`. Written here from Stripe's
/// description, not with Pitwall's own routine, so that the fake checks
/// Pitwall's verification instead of agreeing with it by construction.
pub fn stripe_signature(payload: &[u8], secret: &str, t: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn stripe_error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    (
        status,
        Json(json!({"error": {"type": kind, "message": message, "param": param, "code": "resource_missing"}})),
    )
        .into_response()
}

#[expect(
    clippy::result_large_err,
    reason = "the refusal is the whole HTTP answer the handler returns"
)]
fn authorised(req: &Request) -> Result<(), Response> {
    if req.header("authorization") == Some(&format!("Bearer {SECRET_KEY}")) {
        Ok(())
    } else {
        Err(stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided",
            None,
        ))
    }
}

async fn form(body: Body) -> Vec<(String, String)> {
    let bytes = body.into_bytes().await.unwrap_or_default();
    url::form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `prefix[key]=value` pairs as a map (Stripe's metadata encoding).
fn map_of(f: &[(String, String)], prefix: &str) -> HashMap<String, String> {
    f.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
                .filter(|r| !r.contains('['))
                .map(|key| (key.to_owned(), v.clone()))
        })
        .collect()
}

fn next_id(s: &mut State, prefix: &str) -> String {
    s.counter += 1;
    format!("{prefix}_fake{:06}", s.counter)
}

pub fn customer_json(id: &str, metadata: &HashMap<String, String>) -> Value {
    json!({"id": id, "object": "customer", "created": now(), "livemode": false, "metadata": metadata})
}

/// The interval a fake price bills in: ids ending `_yearly` are yearly.
fn interval_of(price: &str) -> &'static str {
    if price.ends_with("_yearly") {
        "year"
    } else {
        "month"
    }
}

pub fn subscription_json(s: &FakeSubscription) -> Value {
    let interval = interval_of(&s.price);
    let created = now() - 60;
    let price = json!({
        "id": s.price, "object": "price", "active": true, "billing_scheme": "per_unit",
        "created": created, "currency": "usd", "livemode": false, "metadata": {},
        "product": "prod_fake", "type": "recurring", "unit_amount": 9900,
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
    });
    let plan = json!({
        "id": s.price, "object": "plan", "active": true, "billing_scheme": "per_unit",
        "created": created, "currency": "usd", "interval": interval, "interval_count": 1,
        "livemode": false, "usage_type": "licensed", "amount": 9900, "product": "prod_fake",
    });
    json!({
        "id": s.id, "object": "subscription",
        "automatic_tax": {"enabled": false},
        "billing_cycle_anchor": created,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "cancel_at_period_end": s.cancel_at_period_end,
        "collection_method": "charge_automatically",
        "created": created, "currency": "usd", "customer": s.customer,
        "discounts": [],
        "invoice_settings": {"issuer": {"type": "self"}},
        "items": {"object": "list", "has_more": false, "url": format!("/v1/subscription_items?subscription={}", s.id), "data": [{
            "id": format!("si_{}", s.id), "object": "subscription_item", "created": created,
            "current_period_end": s.period_end, "current_period_start": created,
            "discounts": [], "metadata": {}, "plan": plan, "price": price, "quantity": 1,
            "subscription": s.id,
        }]},
        "livemode": false, "metadata": s.metadata, "start_date": created,
        "status": s.status, "trial_end": s.trial_end,
    })
}

fn session_json(base: &str, s: &FakeSession) -> Value {
    json!({
        "id": s.id, "object": "checkout.session",
        "automatic_tax": {"enabled": false},
        "client_reference_id": s.client_reference_id,
        "created": now(), "custom_fields": [], "custom_text": {},
        "customer": s.customer, "expires_at": now() + 86400, "livemode": false,
        "mode": "subscription", "payment_method_types": ["card"],
        "payment_status": if s.subscription.is_some() { "paid" } else { "unpaid" },
        "shipping_options": [], "status": if s.subscription.is_some() { "complete" } else { "open" },
        "subscription": s.subscription, "success_url": s.success_url,
        "url": format!("{base}/checkout/{}", s.id),
        "metadata": {},
    })
}

#[handler]
async fn create_customer(req: &Request, body: Body, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let f = form(body).await;
    let mut s = lock(&state);
    // Stripe answers a repeated idempotency key with the first result.
    let key = req.header("idempotency-key").map(str::to_owned);
    if let Some(k) = &key
        && let Some(id) = s.idempotent.get(k).cloned()
    {
        let md = s.customers.get(&id).cloned().unwrap_or_default();
        return Json(customer_json(&id, &md)).into_response();
    }
    let id = next_id(&mut s, "cus");
    let md = map_of(&f, "metadata");
    s.customers.insert(id.clone(), md.clone());
    if let Some(k) = key {
        s.idempotent.insert(k, id.clone());
    }
    Json(customer_json(&id, &md)).into_response()
}

#[handler]
async fn create_session(req: &Request, body: Body, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let f = form(body).await;
    if field(&f, "mode") == Some("payment") {
        return create_payment_session(req, &f, &state);
    }
    let mut s = lock(&state);
    let base = s.base.clone();
    if field(&f, "mode") != Some("subscription") {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "mode must be subscription",
            Some("mode"),
        );
    }
    let (Some(customer), Some(price), Some(success)) = (
        field(&f, "customer"),
        field(&f, "line_items[0][price]"),
        field(&f, "success_url"),
    ) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing parameter",
            None,
        );
    };
    if !s.customers.contains_key(customer) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "No such customer",
            Some("customer"),
        );
    }
    let id = next_id(&mut s, "cs_test");
    let session = FakeSession {
        id,
        customer: customer.to_owned(),
        price: price.to_owned(),
        client_reference_id: field(&f, "client_reference_id").map(str::to_owned),
        subscription_metadata: map_of(&f, "subscription_data[metadata]"),
        success_url: success.to_owned(),
        trial_end: field(&f, "subscription_data[trial_end]").and_then(|t| t.parse().ok()),
        subscription: None,
    };
    let out = session_json(&base, &session);
    s.sessions.push(session);
    Json(out).into_response()
}

#[handler]
async fn create_portal(req: &Request, body: Body, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let f = form(body).await;
    let mut s = lock(&state);
    let base = s.base.clone();
    let Some(customer) = field(&f, "customer").filter(|c| s.customers.contains_key(*c)) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "No such customer",
            Some("customer"),
        );
    };
    let customer = customer.to_owned();
    let flow = field(&f, "flow_data[type]").map(str::to_owned);
    let id = next_id(&mut s, "bps");
    s.portal_sessions.push((customer.clone(), flow));
    let created = now();
    Json(json!({
        "id": id, "object": "billing_portal.session", "created": created, "customer": customer,
        "livemode": false, "return_url": field(&f, "return_url"), "url": format!("{base}/portal/{id}"),
        "configuration": {
            "id": "bpc_fake", "object": "billing_portal.configuration", "active": true,
            "business_profile": {}, "created": created, "is_default": true, "livemode": false,
            "login_page": {"enabled": false}, "updated": created, "metadata": {},
            "features": {
                "customer_update": {"allowed_updates": [], "enabled": false},
                "invoice_history": {"enabled": true},
                "payment_method_update": {"enabled": true},
                "subscription_cancel": {"cancellation_reason": {"enabled": false, "options": []}, "enabled": true, "mode": "at_period_end", "proration_behavior": "none"},
                "subscription_update": {"default_allowed_updates": ["price"], "enabled": true, "proration_behavior": "create_prorations", "schedule_at_period_end": {"conditions": []}, "trial_update_behavior": "end_trial"},
            },
        },
    }))
    .into_response()
}

#[handler]
async fn meter_event(req: &Request, body: Body, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let f = form(body).await;
    let mut s = lock(&state);
    s.meter_event_requests += 1;
    let (Some(name), Some(identifier)) = (field(&f, "event_name"), field(&f, "identifier")) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing parameter",
            None,
        );
    };
    let payload = map_of(&f, "payload");
    // Stripe keeps one event per identifier.
    if !s
        .meter_events
        .iter()
        .any(|(_, p)| p.get("identifier").map(String::as_str) == Some(identifier))
    {
        let mut p = payload.clone();
        p.insert("identifier".into(), identifier.to_owned());
        s.meter_events.push((name.to_owned(), p));
    }
    Json(json!({
        "object": "billing.meter_event", "created": now(), "event_name": name,
        "identifier": identifier, "livemode": false, "payload": payload,
        "timestamp": field(&f, "timestamp").and_then(|t| t.parse::<i64>().ok()).unwrap_or_else(now),
    }))
    .into_response()
}

#[handler]
async fn get_subscription(req: &Request, Path(id): Path<String>, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let (answer, hold) = {
        let mut s = lock(&state);
        s.subscription_reads += 1;
        let answer = s.subscriptions.get(&id).map(subscription_json);
        (answer, s.slow_next_read.take())
    };
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    match answer {
        Some(sub) => Json(sub).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such subscription",
            Some("id"),
        ),
    }
}

#[handler]
async fn checkout_page(Path(id): Path<String>, state: Data<&Shared>) -> Response {
    let s = lock(&state);
    if let Some(x) = s.payment_sessions.iter().find(|x| x.id == id) {
        return Html(format!(
            "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body>\
             <h1>Fake Stripe Checkout</h1><p id=\"amount\">{}.{:02} {}</p>\
             <form method=\"post\" action=\"/checkout/{}/pay\"><button type=\"submit\">Pay</button></form>\
             </body></html>",
            x.amount_total / 100,
            x.amount_total % 100,
            x.currency.to_uppercase(),
            x.id
        ))
        .into_response();
    }
    match s.sessions.iter().find(|x| x.id == id) {
        Some(x) => Html(format!(
            "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body>\
             <h1>Fake Stripe Checkout</h1><p id=\"price\">{}</p>\
             <form method=\"post\" action=\"/checkout/{}/pay\"><button type=\"submit\">Pay</button></form>\
             </body></html>",
            x.price, x.id
        ))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[handler]
async fn checkout_pay(Path(id): Path<String>, fake: Data<&FakeStripe>) -> Response {
    let is_payment = lock(&fake.state)
        .payment_sessions
        .iter()
        .any(|x| x.id == id);
    let done = if is_payment {
        fake.pay(&id).await
    } else {
        fake.complete_checkout(&id).await
    };
    match done {
        Ok(success) => Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", success)
            .finish(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// The `Stripe-Account` header: whose account a call acts on.
fn on_account(req: &Request) -> Option<String> {
    req.header("stripe-account").map(str::to_owned)
}

fn account_json(id: &str, a: &FakeAccount) -> Value {
    json!({
        "id": id, "object": "account", "type": "standard",
        "charges_enabled": a.charges_enabled, "details_submitted": a.charges_enabled,
        "payouts_enabled": a.charges_enabled, "country": "US", "default_currency": "usd",
        "email": a.email, "created": now(), "metadata": a.metadata,
    })
}

#[handler]
async fn create_account(req: &Request, body: Body, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let f = form(body).await;
    let mut s = lock(&state);
    let key = req.header("idempotency-key").map(str::to_owned);
    if let Some(k) = &key
        && let Some(id) = s.idempotent.get(k).cloned()
        && let Some(a) = s.accounts.get(&id)
    {
        return Json(account_json(&id, a)).into_response();
    }
    let id = next_id(&mut s, "acct");
    let account = FakeAccount {
        metadata: map_of(&f, "metadata"),
        email: field(&f, "email").map(str::to_owned),
        ..Default::default()
    };
    let out = account_json(&id, &account);
    s.accounts.insert(id.clone(), account);
    if let Some(k) = key {
        s.idempotent.insert(k, id);
    }
    Json(out).into_response()
}

#[handler]
async fn get_account(req: &Request, Path(id): Path<String>, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let s = lock(&state);
    match s.accounts.get(&id) {
        Some(a) => Json(account_json(&id, a)).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such account",
            Some("account"),
        ),
    }
}

#[handler]
async fn create_account_link(req: &Request, body: Body, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let f = form(body).await;
    let mut s = lock(&state);
    let base = s.base.clone();
    let Some(acct) = field(&f, "account").map(str::to_owned) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing account",
            Some("account"),
        );
    };
    let return_url = field(&f, "return_url").map(str::to_owned);
    let Some(a) = s.accounts.get_mut(&acct) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "No such account",
            Some("account"),
        );
    };
    a.return_url = return_url;
    s.account_links += 1;
    Json(json!({
        "object": "account_link", "created": now(), "expires_at": now() + 300,
        "url": format!("{base}/connect/onboard/{acct}"),
    }))
    .into_response()
}

#[handler]
async fn onboarding_page(Path(id): Path<String>, state: Data<&Shared>) -> Response {
    if !lock(&state).accounts.contains_key(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(format!(
        "<!doctype html><html><head><title>Fake Stripe onboarding</title></head><body>\
         <h1>Fake Stripe onboarding</h1><form method=\"post\" action=\"/connect/onboard/{id}/finish\">\
         <button type=\"submit\">Finish onboarding</button></form></body></html>"
    ))
    .into_response()
}

#[handler]
async fn onboarding_finish(Path(id): Path<String>, fake: Data<&FakeStripe>) -> Response {
    fake.enable_account(&id);
    let (back, hook, account) = {
        let s = lock(&fake.state);
        let a = s.accounts.get(&id).cloned().unwrap_or_default();
        (
            a.return_url.clone(),
            s.connect_webhook.clone(),
            account_json(&id, &a),
        )
    };
    if let Some((url, secret)) = hook {
        let e = fake.connect_event("account.updated", Some(&id), account);
        let _ = fake.deliver_signed(&url, &e, &secret, None).await;
    }
    match back {
        Some(url) => Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", url)
            .finish(),
        None => StatusCode::OK.into_response(),
    }
}

fn payment_session_json(base: &str, p: &FakePaymentSession) -> Value {
    let open = p.status == "open";
    json!({
        "id": p.id, "object": "checkout.session",
        "automatic_tax": {"enabled": false},
        "amount_subtotal": p.amount_total, "amount_total": p.amount_total,
        "currency": p.currency, "client_reference_id": p.metadata.get("invoice_id"),
        "created": p.created, "custom_fields": [], "custom_text": {},
        "expires_at": p.created + 86400, "livemode": false,
        "mode": "payment", "payment_method_types": ["card"],
        "payment_intent": p.payment_intent, "payment_status": p.payment_status,
        "shipping_options": [], "status": p.status, "success_url": p.success_url,
        "url": if open { Some(format!("{base}/checkout/{}", p.id)) } else { None },
        "metadata": p.metadata,
    })
}

fn create_payment_session(req: &Request, f: &[(String, String)], state: &Shared) -> Response {
    let mut s = lock(state);
    let base = s.base.clone();
    let account = on_account(req);
    let fee = field(f, "payment_intent_data[application_fee_amount]").and_then(|v| v.parse().ok());
    if let Some(acct) = &account {
        match s.accounts.get(acct) {
            None => {
                return stripe_error(
                    StatusCode::FORBIDDEN,
                    "invalid_request_error",
                    "No such account",
                    None,
                );
            }
            Some(a) if !a.charges_enabled => {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "This account cannot currently make live charges",
                    None,
                );
            }
            Some(_) => {}
        }
    } else if fee.is_some() {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "application_fee_amount needs a connected account",
            Some("payment_intent_data[application_fee_amount]"),
        );
    }
    let (Some(currency), Some(amount), Some(success)) = (
        field(f, "line_items[0][price_data][currency]"),
        field(f, "line_items[0][price_data][unit_amount]").and_then(|v| v.parse::<i64>().ok()),
        field(f, "success_url"),
    ) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing parameter",
            None,
        );
    };
    let quantity: i64 = field(f, "line_items[0][quantity]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let key = req.header("idempotency-key").map(str::to_owned);
    if let Some(k) = &key
        && let Some(id) = s.idempotent.get(k).cloned()
        && let Some(p) = s.payment_sessions.iter().find(|p| p.id == id)
    {
        return Json(payment_session_json(&base, p)).into_response();
    }
    let id = next_id(&mut s, "cs_test");
    let session = FakePaymentSession {
        id: id.clone(),
        account,
        amount_total: amount * quantity,
        currency: currency.to_owned(),
        metadata: map_of(f, "metadata"),
        application_fee_amount: fee,
        status: "open".into(),
        payment_status: "unpaid".into(),
        payment_intent: None,
        success_url: success.to_owned(),
        created: now(),
    };
    let out = payment_session_json(&base, &session);
    s.payment_sessions.push(session);
    if let Some(k) = key {
        s.idempotent.insert(k, id);
    }
    Json(out).into_response()
}

fn charge_json(c: &FakeCharge) -> Value {
    json!({
        "id": c.id, "object": "charge",
        "amount": c.amount, "amount_captured": c.amount, "amount_refunded": c.amount_refunded,
        "billing_details": {"address": null, "email": null, "name": null, "phone": null, "tax_id": null},
        "captured": true, "created": c.created, "currency": c.currency, "disputed": false,
        "failure_balance_transaction": null, "livemode": false, "metadata": {},
        "paid": true, "payment_intent": c.payment_intent,
        "refunded": c.amount_refunded >= c.amount, "status": "succeeded",
    })
}

/// A charge as Stripe shows it on the account the request names: another
/// account's charge does not exist there.
#[handler]
async fn get_charge(req: &Request, Path(id): Path<String>, state: Data<&Shared>) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let s = lock(&state);
    let account = on_account(req);
    match s
        .charges
        .iter()
        .find(|c| c.id == id && c.account == account)
    {
        Some(c) => Json(charge_json(c)).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such charge: '{id}'"),
            Some("id"),
        ),
    }
}

fn no_session() -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "No such checkout.session",
        Some("session"),
    )
}

#[handler]
async fn get_payment_session(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Shared>,
) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let s = lock(&state);
    let account = on_account(req);
    match s
        .payment_sessions
        .iter()
        .find(|p| p.id == id && p.account == account)
    {
        Some(p) => Json(payment_session_json(&s.base, p)).into_response(),
        None => no_session(),
    }
}

#[handler]
async fn expire_payment_session(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Shared>,
) -> Response {
    if let Err(r) = authorised(req) {
        return r;
    }
    let mut s = lock(&state);
    let account = on_account(req);
    let base = s.base.clone();
    let Some(p) = s
        .payment_sessions
        .iter_mut()
        .find(|p| p.id == id && p.account == account)
    else {
        return no_session();
    };
    if p.status != "open" {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Only open sessions can be expired",
            None,
        );
    }
    p.status = "expired".into();
    Json(payment_session_json(&base, p)).into_response()
}

impl FakeStripe {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> anyhow::Result<Self> {
        let state: Shared = Arc::new(Mutex::new(State::default()));
        let acceptor = TcpListener::bind(addr.to_owned()).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("fake Stripe has no address"))?;
        lock(&state).base = format!("http://{addr}");
        let fake = Self {
            addr,
            state: state.clone(),
            http: reqwest::Client::new(),
        };
        let app = Route::new()
            .at("/v1/customers", post(create_customer))
            .at("/v1/checkout/sessions", post(create_session))
            .at("/v1/billing_portal/sessions", post(create_portal))
            .at("/v1/billing/meter_events", post(meter_event))
            .at("/v1/subscriptions/:id", get(get_subscription))
            .at("/v1/accounts", post(create_account))
            .at("/v1/accounts/:id", get(get_account))
            .at("/v1/account_links", post(create_account_link))
            .at("/v1/checkout/sessions/:id", get(get_payment_session))
            .at("/v1/charges/:id", get(get_charge))
            .at(
                "/v1/checkout/sessions/:id/expire",
                post(expire_payment_session),
            )
            .at("/connect/onboard/:id", get(onboarding_page))
            .at("/connect/onboard/:id/finish", post(onboarding_finish))
            .at("/checkout/:id", get(checkout_page))
            .at("/checkout/:id/pay", post(checkout_pay))
            .data(state)
            .data(fake.clone());
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Ok(fake)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Settings that point Pitwall at this fake, with `prices` as
    /// `PITWALL_STRIPE_PRICES`.
    pub fn env(&self, prices: &str) -> Vec<(String, String)> {
        vec![
            ("STRIPE_SECRET_KEY".into(), SECRET_KEY.into()),
            ("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
            ("STRIPE_API_BASE".into(), self.url()),
            ("PITWALL_STRIPE_PRICES".into(), prices.into()),
        ]
    }

    /// Where the Checkout page's "Pay" sends the webhooks.
    pub fn set_webhook(&self, url: &str, secret: &str) {
        lock(&self.state).webhook = Some((url.to_owned(), secret.to_owned()));
    }

    /// Where paid invoice sessions and account updates are announced.
    pub fn set_connect_webhook(&self, url: &str, secret: &str) {
        lock(&self.state).connect_webhook = Some((url.to_owned(), secret.to_owned()));
    }

    /// Finishes an account's onboarding: it may take payments.
    pub fn enable_account(&self, acct: &str) {
        if let Some(a) = lock(&self.state).accounts.get_mut(acct) {
            a.charges_enabled = true;
        }
    }

    /// Every account made: its id and its JSON as Stripe shows it.
    pub fn accounts(&self) -> Vec<(String, Value)> {
        lock(&self.state)
            .accounts
            .iter()
            .map(|(id, a)| (id.clone(), account_json(id, a)))
            .collect()
    }

    pub fn account_links(&self) -> usize {
        lock(&self.state).account_links
    }

    pub fn payment_sessions(&self) -> Vec<FakePaymentSession> {
        lock(&self.state).payment_sessions.clone()
    }

    /// The session as Stripe would show it now.
    pub fn payment_session_json(&self, id: &str) -> Option<Value> {
        let s = lock(&self.state);
        s.payment_sessions
            .iter()
            .find(|p| p.id == id)
            .map(|p| payment_session_json(&s.base, p))
    }

    /// What Stripe reports as the session's amount (tests forge a wrong one).
    pub fn set_session_amount(&self, id: &str, amount: i64) {
        if let Some(p) = lock(&self.state)
            .payment_sessions
            .iter_mut()
            .find(|p| p.id == id)
        {
            p.amount_total = amount;
        }
    }

    /// An event as Connect webhooks send it: with the account it happened
    /// on (none for the platform's own).
    pub fn connect_event(&self, event_type: &str, account: Option<&str>, object: Value) -> Value {
        let mut e = self.event(event_type, object);
        if let Some(a) = account {
            e["account"] = json!(a);
        }
        e
    }

    /// What the Pay button does for an invoice session: paid, then
    /// `checkout.session.completed` to the Connect webhook. Answers the
    /// success URL.
    pub async fn pay(&self, session_id: &str) -> anyhow::Result<String> {
        let (object, account, success, hook) = {
            let mut s = lock(&self.state);
            let intent = next_id(&mut s, "pi");
            let base = s.base.clone();
            let hook = s.connect_webhook.clone();
            let Some(p) = s.payment_sessions.iter_mut().find(|p| p.id == session_id) else {
                anyhow::bail!("no such session");
            };
            if p.status != "open" {
                anyhow::bail!("the session is {}", p.status);
            }
            p.status = "complete".into();
            p.payment_status = "paid".into();
            p.payment_intent = Some(intent.clone());
            let success = p.success_url.replace("{CHECKOUT_SESSION_ID}", &p.id);
            let (object, account) = (payment_session_json(&base, p), p.account.clone());
            let charge = FakeCharge {
                id: String::new(),
                account: account.clone(),
                payment_intent: intent,
                amount: p.amount_total,
                amount_refunded: 0,
                currency: p.currency.clone(),
                created: now(),
            };
            let id = next_id(&mut s, "ch");
            s.charges.push(FakeCharge { id, ..charge });
            (object, account, success, hook)
        };
        if let Some((url, secret)) = hook {
            let e = self.connect_event("checkout.session.completed", account.as_deref(), object);
            self.deliver_signed(&url, &e, &secret, None).await?;
        }
        Ok(success)
    }

    /// A refund made in the Dashboard: `amount` more of the payment's
    /// charge is refunded, and `charge.refunded` goes to the Connect
    /// webhook. Answers the event sent.
    pub async fn refund(&self, payment_intent: &str, amount: i64) -> anyhow::Result<Value> {
        let (object, account, hook) = {
            let mut s = lock(&self.state);
            let hook = s.connect_webhook.clone();
            let Some(c) = s
                .charges
                .iter_mut()
                .find(|c| c.payment_intent == payment_intent)
            else {
                anyhow::bail!("no charge for {payment_intent}");
            };
            c.amount_refunded = (c.amount_refunded + amount).min(c.amount);
            (charge_json(c), c.account.clone(), hook)
        };
        let e = self.connect_event("charge.refunded", account.as_deref(), object);
        if let Some((url, secret)) = hook {
            self.deliver_signed(&url, &e, &secret, None).await?;
        }
        Ok(e)
    }

    pub fn sessions(&self) -> Vec<FakeSession> {
        lock(&self.state).sessions.clone()
    }
    pub fn customers(&self) -> usize {
        lock(&self.state).customers.len()
    }
    pub fn portal_sessions(&self) -> Vec<(String, Option<String>)> {
        lock(&self.state).portal_sessions.clone()
    }
    pub fn meter_events(&self) -> Vec<(String, HashMap<String, String>)> {
        lock(&self.state).meter_events.clone()
    }
    /// How many meter-event requests arrived, duplicates included.
    pub fn meter_event_requests(&self) -> usize {
        lock(&self.state).meter_event_requests
    }
    pub fn subscription(&self, id: &str) -> Option<FakeSubscription> {
        lock(&self.state).subscriptions.get(id).cloned()
    }
    pub fn subscription_reads(&self) -> usize {
        lock(&self.state).subscription_reads
    }

    /// Makes the next subscription read slow: its answer is the state when
    /// the request arrived, sent `hold` later.
    pub fn slow_next_read(&self, hold: std::time::Duration) {
        lock(&self.state).slow_next_read = Some(hold);
    }

    /// Adds a subscription directly (as if made elsewhere); answers its id.
    pub fn add_subscription(
        &self,
        customer: &str,
        price: &str,
        status: &str,
        shop_id: Option<&str>,
    ) -> String {
        let mut s = lock(&self.state);
        let id = next_id(&mut s, "sub");
        let mut metadata = HashMap::new();
        if let Some(shop) = shop_id {
            metadata.insert("shop_id".to_owned(), shop.to_owned());
        }
        s.subscriptions.insert(
            id.clone(),
            FakeSubscription {
                id: id.clone(),
                customer: customer.to_owned(),
                status: status.to_owned(),
                price: price.to_owned(),
                metadata,
                period_end: now() + 30 * 86400,
                cancel_at_period_end: false,
                trial_end: None,
            },
        );
        id
    }

    pub fn set_status(&self, sub: &str, status: &str) {
        if let Some(x) = lock(&self.state).subscriptions.get_mut(sub) {
            x.status = status.to_owned();
        }
    }

    pub fn set_price(&self, sub: &str, price: &str) {
        if let Some(x) = lock(&self.state).subscriptions.get_mut(sub) {
            x.price = price.to_owned();
        }
    }

    /// An event as Stripe sends it, about `object`.
    pub fn event(&self, event_type: &str, object: Value) -> Value {
        let id = {
            let mut s = lock(&self.state);
            next_id(&mut s, "evt")
        };
        json!({
            "id": id, "object": "event", "api_version": "2025-09-30.clover", "created": now(),
            "livemode": false, "pending_webhooks": 1, "type": event_type,
            "data": {"object": object},
        })
    }

    /// `customer.subscription.<kind>` with the subscription as it is now.
    pub fn subscription_event(&self, kind: &str, sub: &str) -> Value {
        let object = self
            .subscription(sub)
            .map(|s| subscription_json(&s))
            .unwrap_or_else(|| json!({"id": sub, "object": "subscription"}));
        self.event(&format!("customer.subscription.{kind}"), object)
    }

    /// `invoice.<kind>` for the subscription (new API shape: under `parent`).
    pub fn invoice_event(&self, kind: &str, sub: &str) -> Value {
        let customer = self
            .subscription(sub)
            .map(|s| s.customer)
            .unwrap_or_default();
        self.event(
            &format!("invoice.{kind}"),
            json!({"id": format!("in_{sub}"), "object": "invoice", "customer": customer,
                   "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub}}}),
        )
    }

    /// Posts `event` to `url` signed with `secret` at `t` (now if `None`).
    pub async fn deliver_signed(
        &self,
        url: &str,
        event: &Value,
        secret: &str,
        t: Option<i64>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let body = event.to_string();
        let header = stripe_signature(body.as_bytes(), secret, t.unwrap_or_else(now));
        let r = self
            .http
            .post(url)
            .header("Stripe-Signature", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = StatusCode::from_u16(r.status().as_u16())?;
        Ok((status, r.text().await?))
    }

    /// Completes a Checkout session as the customer paying would: makes
    /// the subscription and sends Stripe's webhooks. Answers the success URL.
    pub async fn complete_checkout(&self, session_id: &str) -> anyhow::Result<String> {
        let (session, sub_id, webhook) = {
            let mut s = lock(&self.state);
            let Some(idx) = s.sessions.iter().position(|x| x.id == session_id) else {
                anyhow::bail!("no such session");
            };
            let sub_id = next_id(&mut s, "sub");
            let session = s.sessions[idx].clone();
            let sub = FakeSubscription {
                id: sub_id.clone(),
                customer: session.customer.clone(),
                status: if session.trial_end.is_some() {
                    "trialing"
                } else {
                    "active"
                }
                .to_owned(),
                price: session.price.clone(),
                metadata: session.subscription_metadata.clone(),
                period_end: session.trial_end.unwrap_or_else(|| now() + 30 * 86400),
                cancel_at_period_end: false,
                trial_end: session.trial_end,
            };
            s.subscriptions.insert(sub_id.clone(), sub);
            s.sessions[idx].subscription = Some(sub_id.clone());
            (s.sessions[idx].clone(), sub_id, s.webhook.clone())
        };
        if let Some((url, secret)) = webhook {
            let completed = self.event(
                "checkout.session.completed",
                session_json(&self.url(), &session),
            );
            for e in [
                completed,
                self.subscription_event("created", &sub_id),
                self.invoice_event("paid", &sub_id),
            ] {
                self.deliver_signed(&url, &e, &secret, None).await?;
            }
        }
        Ok(session.success_url)
    }
}

#[cfg(test)]
mod tests {
    /// The same vector as Pitwall's own known-answer test, computed with
    /// `openssl dgst -sha256 -hmac`: the fake signs as Stripe does.
    #[test]
    fn the_fake_signs_a_known_answer() {
        let body = br#"{"id":"evt_known_answer","object":"event","type":"invoice.paid"}"#;
        assert_eq!(
            super::stripe_signature(body, "whsec_known_answer_2026", 1_767_225_600),
            "t=1767225600,v1=4f4ea29412103ed87aa7a79d3ee7f8468b402a2d8ade95818864568f7c5d9330"
        );
    }
}
