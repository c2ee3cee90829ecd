//! Online payments (`/api/v1`, plan feature `online_payments`): the shop's
//! payment account and its Stripe onboarding, and the Stripe Connect
//! webhook (`POST /webhooks/stripe/connect`). The use cases are
//! `pitwall_core::payments`.

use pitwall_core::App;
use pitwall_core::payments;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::auth::{UserToken, shop_ctx};
use crate::error::{ApiError, ApiResult};

#[derive(Tags)]
pub enum PaymentTags {
    /// Taking invoice payments online into the shop's own Stripe account.
    Payments,
}

pub struct PaymentsApi;

/// Where the shop's online payments stand.
#[derive(Debug, Clone, Object)]
pub struct PaymentAccountOut {
    /// `off` (paid at the counter only), `connect` (the shop's own Stripe
    /// account) or `platform` (the platform's account).
    pub mode: String,
    /// The connected Stripe account; null before onboarding and outside
    /// `connect`.
    #[oai(nullable)]
    pub account_id: Option<String>,
    /// Customers can pay online now.
    pub charges_enabled: bool,
    pub details_submitted: bool,
}

#[derive(Debug, Clone, Object)]
pub struct OnboardingLinkOut {
    /// Stripe's hosted onboarding; single-use, valid for minutes.
    pub url: String,
}

#[derive(ApiResponse)]
pub enum OnboardingLinkCreated {
    #[oai(status = 201)]
    Created(Json<OnboardingLinkOut>),
}

#[OpenApi(prefix_path = "/api/v1")]
impl PaymentsApi {
    /// The shop's payment account (`billing.manage`).
    #[oai(
        path = "/payment-account",
        method = "get",
        tag = "PaymentTags::Payments",
        operation_id = "get_payment_account"
    )]
    async fn account(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<PaymentAccountOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let a = payments::payment_account(&app, &ctx).await?;
        Ok(Json(PaymentAccountOut {
            mode: a.mode.as_str().to_owned(),
            account_id: a.account_id,
            charges_enabled: a.charges_enabled,
            details_submitted: a.details_submitted,
        }))
    }

    /// A link to Stripe's onboarding for the shop's own account
    /// (`billing.manage`; `PITWALL_PAYMENTS=connect`), making the account
    /// the first time. Outside `connect` mode: 409 naming `payments`.
    #[oai(
        path = "/payment-account/onboarding-links",
        method = "post",
        tag = "PaymentTags::Payments",
        operation_id = "create_payment_onboarding_link"
    )]
    async fn onboarding(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> Result<OnboardingLinkCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let url = payments::onboarding_link(&app, &ctx).await?;
        Ok(OnboardingLinkCreated::Created(Json(OnboardingLinkOut {
            url,
        })))
    }
}

/// `POST /webhooks/stripe/connect`: verified with
/// `STRIPE_CONNECT_WEBHOOK_SECRET` before the body is read, stored once,
/// applied by a job.
#[handler]
pub async fn connect_webhook(app: Data<&App>, req: &Request, body: Body) -> Response {
    crate::billing::signed_stripe_event(
        req,
        body,
        |bytes, sig| payments::verify_connect_webhook(&app, bytes, sig),
        async |bytes| payments::receive_connect_event(&app, bytes).await,
    )
    .await
}
