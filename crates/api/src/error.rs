//! The one place errors become HTTP responses. Every error, including
//! poem-openapi's own parse errors, leaves as
//! `{"code", "message", "field", ...}` with a 4xx or 5xx status.

use pitwall_core::Error;
use poem::Response;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// The error envelope (docs/API.md).
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `invalid_input`, `feature_not_in_plan`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The field or parameter at fault (a JSON pointer for bodies), if any.
    #[oai(nullable)]
    pub field: Option<String>,
    /// For `permission_denied`: the permission needed.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// For `feature_not_in_plan`: the feature missing.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// For `feature_not_in_plan`: the cheapest plan that has it.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cheapest_plan: Option<String>,
    /// For `quota_exceeded`: the quota and its limit.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// For `invalid_input` with several bad fields: every one of them, each
    /// named by its JSON pointer (`field` repeats the first).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// For `ticket_changed`: the ticket's version now (read it again).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
}

/// One bad field.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>, field: Option<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            field,
            permission: None,
            feature: None,
            cheapest_plan: None,
            quota: None,
            limit: None,
            errors: None,
            current_version: None,
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request could not be read (malformed JSON, bad parameter).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Not signed in, or the token or key is wrong.
    #[oai(status = 401)]
    Unauthenticated(Json<ErrorBody>),
    /// Not allowed: `permission_denied`, `feature_not_in_plan`, `quota_exceeded`, `shop_restricted`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such object in this shop (also for another shop's objects).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// A unique value is taken, or the state does not allow it.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The customer link expired or was revoked (`link_gone`).
    #[oai(status = 410)]
    Gone(Json<ErrorBody>),
    /// The request body or an upload is over its size limit.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// A field is invalid; `field` names it.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// Too many attempts.
    #[oai(status = 429)]
    RateLimited(Json<ErrorBody>),
    /// Something broke on our side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The database is unreachable; try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub type ApiResult<T> = Result<Json<T>, ApiError>;

impl ApiError {
    /// The response for a status from [`Error::status`].
    fn with_status(status: u16, body: Json<ErrorBody>) -> Self {
        match status {
            400 => ApiError::BadRequest(body),
            401 => ApiError::Unauthenticated(body),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            409 => ApiError::Conflict(body),
            410 => ApiError::Gone(body),
            413 => ApiError::TooLarge(body),
            422 => ApiError::Invalid(body),
            429 => ApiError::RateLimited(body),
            503 => ApiError::Unavailable(body),
            _ => ApiError::Internal(body),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let msg = err.to_string();
        let code = err.code();
        // The status is core's (`Error::status`), the same the pages answer
        // with; only the body is the API's.
        let status = err.status();
        let body = match err {
            Error::Invalid { field, message } => Json(ErrorBody::new(
                code,
                format!("{field} {message}"),
                Some(field),
            )),
            Error::InvalidFields(list) => {
                let first = list.first().cloned();
                let mut b = ErrorBody::new(
                    code,
                    match (&first, list.len()) {
                        (Some(f), 1) => format!("{} {}", f.field, f.message),
                        (Some(f), n) => format!("{} {} (and {} more)", f.field, f.message, n - 1),
                        (None, _) => "the request is invalid".to_owned(),
                    },
                    first.map(|f| f.field),
                );
                b.errors = Some(
                    list.into_iter()
                        .map(|f| FieldProblem {
                            field: f.field,
                            message: f.message,
                        })
                        .collect(),
                );
                Json(b)
            }
            Error::Unauthenticated(_) => Json(ErrorBody::new(code, msg, None)),
            Error::PermissionDenied(p) => {
                let mut b = ErrorBody::new(code, msg, None);
                b.permission = Some(p.as_str().to_owned());
                Json(b)
            }
            Error::PlatformDenied(role) => {
                let mut b = ErrorBody::new(code, msg, None);
                b.permission = Some(format!("platform.{role}"));
                Json(b)
            }
            Error::FeatureNotInPlan {
                feature,
                cheapest_plan,
            } => {
                let mut b = ErrorBody::new(
                    code,
                    match &cheapest_plan {
                        Some(p) => {
                            format!("your plan does not include {feature}; the {p} plan has it")
                        }
                        None => format!("your plan does not include {feature}"),
                    },
                    None,
                );
                b.feature = Some(feature.as_str().to_owned());
                b.cheapest_plan = cheapest_plan;
                Json(b)
            }
            Error::QuotaExceeded { quota, limit } => {
                let mut b = ErrorBody::new(code, msg, None);
                b.quota = Some(quota.as_str().to_owned());
                b.limit = Some(limit);
                Json(b)
            }
            Error::ShopRestricted(_) => Json(ErrorBody::new(code, msg, None)),
            Error::NotFound(_) => Json(ErrorBody::new(code, msg, None)),
            Error::TooLarge { field, .. } => {
                Json(ErrorBody::new(code, msg, Some(field.to_owned())))
            }
            Error::Conflict { field, message } => Json(ErrorBody::new(
                code,
                format!("{field} {message}"),
                Some(field),
            )),
            Error::RateLimited(_) => Json(ErrorBody::new(code, msg, None)),
            Error::LinkGone {
                reason,
                shop_name,
                shop_phone,
            } => Json(ErrorBody::new(
                code,
                match shop_phone {
                    Some(p) => format!("this link {reason}; call {shop_name} at {p} for a new one"),
                    None => format!("this link {reason}; ask {shop_name} for a new one"),
                },
                None,
            )),
            Error::TicketChanged { current, .. } => {
                let mut b = ErrorBody::new(code, msg, Some("ticket_version".to_owned()));
                b.current_version = Some(current);
                Json(b)
            }
            Error::CustomerOptedOut { .. } | Error::ConsentRequired => {
                Json(ErrorBody::new(code, msg, Some("channel".to_owned())))
            }
            Error::Unavailable => Json(ErrorBody::new(
                code,
                "the database is unavailable; try again shortly",
                None,
            )),
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Json(ErrorBody::new(
                    code,
                    "something went wrong on our side",
                    None,
                ))
            }
        };
        ApiError::with_status(status, body)
    }
}

pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    Error::invalid(field, message).into()
}

fn json_response(status: StatusCode, body: ErrorBody) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_vec(&body).unwrap_or_default())
}

/// Turns whatever error poem or poem-openapi raised into the envelope.
pub async fn to_json_error(err: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        // A path id that cannot be an id names nothing that exists.
        return json_response(
            StatusCode::NOT_FOUND,
            ErrorBody::new(
                "not_found",
                format!("{}: {}", e.name, e.reason),
                Some(e.name.to_owned()),
            ),
        );
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::new(
                "invalid_input",
                format!("{} {}", e.name, e.reason),
                Some(e.name.to_owned()),
            ),
        );
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return json_response(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("malformed_request", e.reason.clone(), None),
        );
    }
    if err.is::<AuthorizationError>() {
        return json_response(
            StatusCode::UNAUTHORIZED,
            ErrorBody::new(
                "unauthenticated",
                "sign in first: send Authorization: Bearer <token>",
                None,
            ),
        );
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorBody::new("unsupported_media_type", e.to_string(), None),
        );
    }
    let status = err.status();
    let resp = err.into_response();
    let is_json = resp
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed here".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is too large".to_owned(),
        ),
        s if s.is_server_error() => ("internal", "something went wrong on our side".to_owned()),
        s => (
            "bad_request",
            s.canonical_reason().unwrap_or("bad request").to_owned(),
        ),
    };
    json_response(status, ErrorBody::new(code, message, None))
}
