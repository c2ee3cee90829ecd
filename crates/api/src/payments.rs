//! Online payments (`/api/v1`, plan feature `online_payments`): the shop's
//! payment account and its Stripe onboarding, and the Stripe Connect
//! webhook (`POST /webhooks/stripe/connect`). The use cases are
//! `pitwall_core::payments`.

use pitwall_core::App;
use pitwall_core::billing::Received;
use pitwall_core::payments;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response, handler};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::auth::{UserToken, shop_ctx};
use crate::error::{ApiError, ApiResult, ErrorBody};

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

/// Stripe's requests are a few kilobytes.
const MAX_BODY: usize = 256 * 1024;

fn refuse(http: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    (
        http,
        poem::web::Json(ErrorBody::new(code, message, field.map(str::to_owned))),
    )
        .into_response()
}

/// `POST /webhooks/stripe/connect`: verified with
/// `STRIPE_CONNECT_WEBHOOK_SECRET` before the body is read, stored once,
/// applied by a job.
#[handler]
pub async fn connect_webhook(app: Data<&App>, req: &Request, body: Body) -> Response {
    let Ok(bytes) = body.into_bytes_limit(MAX_BODY).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 256 KiB",
            None,
        );
    };
    if let Err(e) = payments::verify_connect_webhook(&app, &bytes, req.header("stripe-signature")) {
        tracing::warn!(reason = %e, "Stripe Connect webhook refused: bad signature");
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_signature",
            &e.to_string(),
            Some("Stripe-Signature"),
        );
    }
    match payments::receive_connect_event(&app, &bytes).await {
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
