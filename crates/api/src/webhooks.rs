//! Webhooks from the SMS provider, in Twilio's format (form-encoded,
//! signed with `X-Twilio-Signature` over the public URL and the sorted
//! parameters). Published paths:
//!
//! - `POST /webhooks/twilio/inbound`: a text from a customer.
//! - `POST /webhooks/twilio/status`: a delivery receipt.
//!
//! A request whose signature is missing or wrong gets 403 and changes
//! nothing; the signature is checked before anything else is read.

use pitwall_core::App;
use pitwall_core::domain::MessageId;
use pitwall_core::messaging::{self, Inbound, InboundSms, Receipt};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response, Route, handler, post};

use crate::error::{ApiError, ErrorBody};

/// Twilio's own requests are a few kilobytes.
const MAX_BODY: usize = 64 * 1024;

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

pub fn routes() -> Route {
    Route::new()
        .at("/twilio/inbound", post(inbound))
        .at("/twilio/status", post(receipt))
        .at("/stripe", post(crate::billing::stripe_webhook))
        .at("/stripe/connect", post(crate::payments::connect_webhook))
}

/// The API's error envelope, with the status a webhook needs.
fn refuse(http: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    (
        http,
        poem::web::Json(ErrorBody::new(code, message, field.map(str::to_owned))),
    )
        .into_response()
}

/// The verified form parameters, or the answer to give.
async fn verified_form(
    app: &App,
    req: &Request,
    body: Body,
) -> Result<Vec<(String, String)>, Response> {
    let bytes = match body.into_bytes_limit(MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than 64 KiB",
                None,
            ));
        }
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // The provider signs the public URL it called; nesting rewrites
    // `uri()`, so read the original.
    let path_and_query = req
        .original_uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| req.original_uri().path());
    let signature = req.header("x-twilio-signature");
    if let Err(e) = messaging::verify_provider_signature(app, path_and_query, &params, signature) {
        tracing::warn!(path = %req.uri().path(), reason = %e, "webhook refused: bad signature");
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            &e.to_string(),
            Some("X-Twilio-Signature"),
        ));
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn required<'a>(params: &'a [(String, String)], name: &'static str) -> Result<&'a str, Response> {
    param(params, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                &format!("{name} is missing"),
                Some(name),
            )
        })
}

#[handler]
async fn inbound(app: Data<&App>, req: &Request, body: Body) -> Response {
    let params = match verified_form(&app, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let fields = (|| {
        Ok::<_, Response>((
            required(&params, "From")?,
            required(&params, "To")?,
            param(&params, "Body").unwrap_or_default(),
            required(&params, "MessageSid")?,
        ))
    })();
    let (from, to, text, sid) = match fields {
        Ok(f) => f,
        Err(r) => return r,
    };
    let sms = InboundSms {
        from,
        to,
        body: text,
        provider_id: sid,
    };
    match messaging::receive_sms(&app, sms).await {
        Ok(Inbound::Recorded { .. } | Inbound::Duplicate) => Response::builder()
            .content_type("text/xml")
            .body(EMPTY_TWIML),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[handler]
async fn receipt(app: Data<&App>, req: &Request, body: Body) -> Response {
    let params = match verified_form(&app, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (sid, state) = match (
        required(&params, "MessageSid"),
        required(&params, "MessageStatus"),
    ) {
        (Ok(s), Ok(st)) => (s, st),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    // Our own id rides in the callback URL we gave the provider.
    let message_id = req
        .original_uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "message_id")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|v| v.parse::<MessageId>().ok());
    let receipt = Receipt {
        provider_id: sid,
        status: state,
        error_code: param(&params, "ErrorCode").filter(|c| !c.is_empty()),
        message_id,
    };
    match messaging::receive_receipt(&app, receipt).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
