//! Billing: the shop's plan and subscription (`/api/v1/billing`), Checkout
//! and portal sessions for the owner, support's billing tools under
//! `/api/admin/v1`, and Stripe's webhook (`POST /webhooks/stripe`, plain
//! poem: the signature is checked over the raw body before anything is
//! parsed).

use chrono::{DateTime, Utc};
use pitwall_core::billing::{self, Received};
use pitwall_core::domain::ShopId;
use pitwall_core::{App, ShopCtx};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response, handler};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};
use serde::Deserialize;

use crate::auth::{UserToken, actor, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Tags)]
pub enum BillingTags {
    /// The shop's plan, subscription and Stripe sessions.
    Billing,
    /// Support's billing tools.
    AdminBilling,
}

/// The shop's plan and billing state.
#[derive(Debug, Object)]
pub struct BillingOut {
    pub plan: String,
    pub plan_name: String,
    /// trial, active, past_due, suspended, closed: what the shop may do now.
    pub lifecycle: String,
    /// Stripe's subscription status (trialing, active, past_due, canceled,
    /// unpaid, ...); `null` before any subscription.
    #[oai(nullable)]
    pub status: Option<String>,
    /// monthly or yearly.
    #[oai(nullable)]
    pub interval: Option<String>,
    #[oai(nullable)]
    pub next_invoice_at: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    #[oai(nullable)]
    pub trial_ends_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub trial_days_left: Option<i64>,
    /// When a past-due shop becomes read-only.
    #[oai(nullable)]
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// The trial ended without a subscription or a comp plan: the shop is
    /// read-only (`lifecycle` suspended) until the owner subscribes.
    pub trial_ended: bool,
    /// A plan given by support, outside Stripe.
    pub comp: bool,
    /// Whether this Pitwall takes payments through Stripe.
    pub configured: bool,
}

impl From<billing::Summary> for BillingOut {
    fn from(s: billing::Summary) -> Self {
        Self {
            plan: s.plan,
            plan_name: s.plan_name,
            lifecycle: s.lifecycle.as_str().to_owned(),
            status: s.status,
            interval: s.interval,
            next_invoice_at: s.next_invoice_at,
            cancel_at_period_end: s.cancel_at_period_end,
            trial_ends_at: s.trial_ends_at,
            trial_days_left: s.trial_days_left,
            grace_ends_at: s.grace_ends_at,
            trial_ended: s.trial_ended,
            comp: s.comp,
            configured: s.configured,
        }
    }
}

#[derive(Debug, Object)]
pub struct BillingDetail {
    #[oai(flatten)]
    pub summary: BillingOut,
    /// SMS segments sent this month (UTC).
    pub sms_used: i64,
    /// Included in the plan; `null`: unlimited.
    #[oai(nullable)]
    pub sms_included: Option<i64>,
    /// stop (sending stops at the allowance) or report (billed as usage).
    pub sms_overage: String,
    pub sms_overage_reported: i64,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The plan code (starter, pro, premium).
    pub plan: String,
    /// monthly (default) or yearly.
    #[oai(nullable)]
    pub interval: Option<String>,
}

/// Where to send the owner: Stripe's Checkout or customer portal.
#[derive(Debug, Object)]
pub struct SessionUrl {
    pub url: String,
}

#[derive(Debug, Object)]
pub struct StripeEventOut {
    pub id: String,
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    #[oai(nullable)]
    pub processed_at: Option<DateTime<Utc>>,
    /// applied, ignored, no_shop, failed; `null` while queued.
    #[oai(nullable)]
    pub result: Option<String>,
    #[oai(nullable)]
    pub detail: Option<String>,
    pub attempts: i32,
}

#[derive(Debug, Object)]
pub struct AdminBillingOut {
    #[oai(nullable)]
    pub stripe_customer_id: Option<String>,
    #[oai(nullable)]
    pub stripe_subscription_id: Option<String>,
    #[oai(nullable)]
    pub status: Option<String>,
    #[oai(nullable)]
    pub price_id: Option<String>,
    #[oai(nullable)]
    pub current_period_end: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub past_due_since: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub grace_ends_at: Option<DateTime<Utc>>,
    pub comp: bool,
    #[oai(nullable)]
    pub comp_reason: Option<String>,
    pub events: Vec<StripeEventOut>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompRequest {
    /// The plan to give; `null` ends the comp.
    #[oai(nullable)]
    pub plan: Option<String>,
    pub reason: String,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendTrialRequest {
    /// 1 to 365.
    pub days: i64,
    pub reason: String,
}

#[derive(Debug, Object)]
pub struct TrialOut {
    pub trial_ends_at: DateTime<Utc>,
}

#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRequest {
    /// monthly or yearly.
    pub interval: String,
    /// A Stripe Price id; empty: the plan is not sold in this interval.
    pub price_id: String,
    /// stop or report.
    #[oai(nullable)]
    pub sms_overage: Option<String>,
}

#[derive(Debug, Object)]
pub struct PriceOut {
    pub plan: String,
    pub interval: String,
    #[oai(nullable)]
    pub price_id: Option<String>,
    pub sms_overage: String,
}

#[derive(Debug, Object)]
pub struct PriceList {
    pub items: Vec<PriceOut>,
}

pub struct BillingApi;

async fn ctx(app: &App, req: &Request, auth: &UserToken) -> Result<ShopCtx, ApiError> {
    shop_ctx(app, req, auth).await
}

#[OpenApi]
impl BillingApi {
    /// The shop's plan, subscription status, next invoice, trial and SMS
    /// usage this month (needs `billing.manage`).
    #[oai(
        path = "/api/v1/billing",
        method = "get",
        tag = "BillingTags::Billing",
        operation_id = "get_billing"
    )]
    async fn get_billing(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<BillingDetail> {
        let ctx = ctx(&app, req, &auth).await?;
        let o = billing::overview(&app, &ctx).await?;
        Ok(Json(BillingDetail {
            sms_used: o.sms_used,
            sms_included: o.sms_included,
            sms_overage: o.sms_overage.as_str().to_owned(),
            sms_overage_reported: o.sms_overage_reported,
            summary: o.summary.into(),
        }))
    }

    /// Subscribe or change plan: answers a Stripe Checkout URL (a shop
    /// with a live subscription gets the portal's plan-change page).
    #[oai(
        path = "/api/v1/billing/checkout-sessions",
        method = "post",
        tag = "BillingTags::Billing",
        operation_id = "create_checkout_session"
    )]
    async fn checkout(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<CheckoutRequest>,
    ) -> ApiResult<SessionUrl> {
        let ctx = ctx(&app, req, &auth).await?;
        let url =
            billing::start_checkout(&app, &ctx, &body.0.plan, body.0.interval.as_deref()).await?;
        Ok(Json(SessionUrl { url }))
    }

    /// Manage billing (cards, invoices, cancel): answers a Stripe
    /// customer-portal URL.
    #[oai(
        path = "/api/v1/billing/portal-sessions",
        method = "post",
        tag = "BillingTags::Billing",
        operation_id = "create_portal_session"
    )]
    async fn portal(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<SessionUrl> {
        let ctx = ctx(&app, req, &auth).await?;
        let url = billing::start_portal(&app, &ctx).await?;
        Ok(Json(SessionUrl { url }))
    }

    /// A shop's Stripe ids, status and latest Stripe events with their
    /// processing result.
    #[oai(
        path = "/api/admin/v1/shops/:shop_id/billing",
        method = "get",
        tag = "BillingTags::AdminBilling",
        operation_id = "admin_get_shop_billing"
    )]
    async fn admin_get(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
    ) -> ApiResult<AdminBillingOut> {
        let actor = actor(&app, &auth).await?;
        let v = billing::admin_view(&app, &actor, ShopId::from_uuid(shop_id.0)).await?;
        let b = v.billing;
        Ok(Json(AdminBillingOut {
            stripe_customer_id: b.as_ref().and_then(|b| b.stripe_customer_id.clone()),
            stripe_subscription_id: b.as_ref().and_then(|b| b.stripe_subscription_id.clone()),
            status: b.as_ref().and_then(|b| b.status.clone()),
            price_id: b.as_ref().and_then(|b| b.price_id.clone()),
            current_period_end: b.as_ref().and_then(|b| b.current_period_end),
            past_due_since: b.as_ref().and_then(|b| b.past_due_since),
            grace_ends_at: v.grace_ends_at,
            comp: b.as_ref().is_some_and(|b| b.comp),
            comp_reason: b.as_ref().and_then(|b| b.comp_reason.clone()),
            events: v
                .events
                .into_iter()
                .map(|e| StripeEventOut {
                    id: e.id,
                    event_type: e.event_type,
                    received_at: e.received_at,
                    processed_at: e.processed_at,
                    result: e.result,
                    detail: e.detail,
                    attempts: e.attempts,
                })
                .collect(),
        }))
    }

    /// Give a shop a plan without Stripe (`plan: null` ends it).
    #[oai(
        path = "/api/admin/v1/shops/:shop_id/billing/comp",
        method = "post",
        tag = "BillingTags::AdminBilling",
        operation_id = "admin_set_shop_comp"
    )]
    async fn admin_comp(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        body: JsonBody<CompRequest>,
    ) -> ApiResult<crate::models::Accepted> {
        let actor = actor(&app, &auth).await?;
        billing::set_comp(
            &app,
            &actor,
            ShopId::from_uuid(shop_id.0),
            body.0.plan.as_deref(),
            &body.0.reason,
        )
        .await?;
        Ok(Json(crate::models::Accepted { ok: true }))
    }

    /// Extend a shop's trial.
    #[oai(
        path = "/api/admin/v1/shops/:shop_id/billing/trial",
        method = "post",
        tag = "BillingTags::AdminBilling",
        operation_id = "admin_extend_shop_trial"
    )]
    async fn admin_trial(
        &self,
        app: Data<&App>,
        auth: UserToken,
        shop_id: Path<uuid::Uuid>,
        body: JsonBody<ExtendTrialRequest>,
    ) -> ApiResult<TrialOut> {
        let actor = actor(&app, &auth).await?;
        let ends = billing::extend_trial(
            &app,
            &actor,
            ShopId::from_uuid(shop_id.0),
            body.0.days,
            &body.0.reason,
        )
        .await?;
        Ok(Json(TrialOut {
            trial_ends_at: ends,
        }))
    }

    /// Every plan's Stripe Price per interval and its SMS overage rule.
    #[oai(
        path = "/api/admin/v1/stripe-prices",
        method = "get",
        tag = "BillingTags::AdminBilling",
        operation_id = "admin_list_stripe_prices"
    )]
    async fn admin_prices(&self, app: Data<&App>, auth: UserToken) -> ApiResult<PriceList> {
        let actor = actor(&app, &auth).await?;
        let rows = billing::prices(&app, &actor).await?;
        Ok(Json(PriceList {
            items: rows
                .into_iter()
                .map(|r| PriceOut {
                    plan: r.plan,
                    interval: r.interval.as_str().to_owned(),
                    price_id: r.price_id,
                    sms_overage: r.sms_overage.as_str().to_owned(),
                })
                .collect(),
        }))
    }

    /// Set a plan's Stripe Price for an interval (platform admins only).
    #[oai(
        path = "/api/admin/v1/plans/:plan_code/stripe-price",
        method = "put",
        tag = "BillingTags::AdminBilling",
        operation_id = "admin_set_stripe_price"
    )]
    async fn admin_set_price(
        &self,
        app: Data<&App>,
        auth: UserToken,
        plan_code: Path<String>,
        body: JsonBody<PriceRequest>,
    ) -> ApiResult<crate::models::Accepted> {
        let actor = actor(&app, &auth).await?;
        billing::set_price(
            &app,
            &actor,
            &plan_code.0,
            &body.0.interval,
            &body.0.price_id,
            body.0.sms_overage.as_deref(),
        )
        .await?;
        Ok(Json(crate::models::Accepted { ok: true }))
    }
}

/// Stripe's events are a few kilobytes; a checkout session with many line
/// items stays well under this.
const MAX_BODY: usize = 256 * 1024;

fn refuse(http: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    (
        http,
        poem::web::Json(ErrorBody::new(code, message, field.map(str::to_owned))),
    )
        .into_response()
}

/// `POST /webhooks/stripe`: verify, store once, answer 200 at once; a job
/// applies the event. A missing, forged or stale signature gets 400 and
/// changes nothing.
#[handler]
pub async fn stripe_webhook(app: Data<&App>, req: &Request, body: Body) -> Response {
    signed_stripe_event(
        req,
        body,
        |bytes, sig| billing::verify_webhook(&app, bytes, sig),
        async |bytes| billing::receive_event(&app, bytes).await,
    )
    .await
}

/// Stripe's webhooks, billing's and Connect's alike: the body read within
/// its limit, the signature checked before anything of it is read, then
/// `receive` stores it once; the answer says whether it was new.
pub(crate) async fn signed_stripe_event(
    req: &Request,
    body: Body,
    verify: impl FnOnce(
        &[u8],
        Option<&str>,
    ) -> Result<(), pitwall_core::domain::billing::SignatureError>,
    receive: impl AsyncFnOnce(&[u8]) -> pitwall_core::Result<Received>,
) -> Response {
    let Ok(bytes) = body.into_bytes_limit(MAX_BODY).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 256 KiB",
            None,
        );
    };
    if let Err(e) = verify(&bytes, req.header("stripe-signature")) {
        tracing::warn!(path = %req.uri().path(), reason = %e, "Stripe webhook refused: bad signature");
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_signature",
            &e.to_string(),
            Some("Stripe-Signature"),
        );
    }
    match receive(&bytes).await {
        Ok(r) => (
            StatusCode::OK,
            poem::web::Json(serde_json::json!({
                "received": true,
                "duplicate": r == Received::Duplicate,
                "ignored": r == Received::Ignored,
            })),
        )
            .into_response(),
        Err(pitwall_core::Error::Invalid { field, message }) => refuse(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            &format!("{field} {message}"),
            Some(&field),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}
