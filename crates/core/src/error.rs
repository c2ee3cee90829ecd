//! The errors a user can cause, each with a stable machine code. Adapters map
//! these to HTTP statuses (API) or messages (pages) in one place each.

use pitwall_domain::{Feature, Invalid, Permission, Quota, ShopLifecycle};
use pitwall_store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field} {message}")]
    Invalid { field: String, message: String },
    /// Several fields are wrong at once (a POS payload): each is named by its
    /// JSON pointer.
    #[error("{} fields are invalid", .0.len())]
    InvalidFields(Vec<FieldError>),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("you need the permission {0}")]
    PermissionDenied(Permission),
    #[error("this needs a platform {0} account")]
    PlatformDenied(&'static str),
    #[error("your plan does not include {feature}")]
    FeatureNotInPlan {
        feature: Feature,
        cheapest_plan: Option<String>,
    },
    #[error("the plan's {quota} quota ({limit}) is used up")]
    QuotaExceeded { quota: Quota, limit: i64 },
    /// An upload over the size limit.
    #[error("{field} is larger than {limit_mb} MB")]
    TooLarge { field: &'static str, limit_mb: u64 },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field} {message}")]
    Conflict { field: String, message: String },
    #[error("{0}")]
    RateLimited(&'static str),
    #[error("the customer opted out of {channel} messages")]
    CustomerOptedOut {
        channel: pitwall_domain::messaging::Channel,
    },
    #[error("the shop requires the customer's recorded consent before texting them")]
    ConsentRequired,
    /// A customer link that existed but no longer works; the shop is named
    /// so the customer knows whom to call.
    #[error("this link {reason}")]
    LinkGone {
        reason: &'static str,
        shop_name: String,
        shop_phone: Option<String>,
    },
    /// The ticket changed after the customer was shown it.
    #[error(
        "the ticket changed since it was shown (version {shown}, now {current}); review it again"
    )]
    TicketChanged { shown: i32, current: i32 },
    #[error("the shop is {0} and cannot be changed")]
    ShopRestricted(ShopLifecycle),
    #[error("the database is unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects every problem of an input instead of stopping at the first.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// The value, or the problem recorded under `field`.
    pub fn check<T>(&mut self, field: &str, r: std::result::Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.0);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidFields(self.0))
        }
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Adapts a domain parse error to the field it came from.
    pub fn field(field: &str) -> impl FnOnce(Invalid) -> Error + '_ {
        move |e| Error::invalid(field, e.0)
    }

    /// The HTTP status for this error: the one mapping the API, the staff
    /// pages and the customer pages all answer with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid { .. } | Error::InvalidFields(_) => 422,
            Error::Unauthenticated(_) => 401,
            Error::PermissionDenied(_)
            | Error::PlatformDenied(_)
            | Error::FeatureNotInPlan { .. }
            | Error::QuotaExceeded { .. }
            | Error::ShopRestricted(_) => 403,
            Error::NotFound(_) => 404,
            Error::TooLarge { .. } => 413,
            Error::Conflict { .. }
            | Error::CustomerOptedOut { .. }
            | Error::ConsentRequired
            | Error::TicketChanged { .. } => 409,
            Error::LinkGone { .. } => 410,
            Error::RateLimited(_) => 429,
            Error::Unavailable => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The stable code the API sends as `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } | Error::InvalidFields(_) => "invalid_input",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::PermissionDenied(_) | Error::PlatformDenied(_) => "permission_denied",
            Error::FeatureNotInPlan { .. } => "feature_not_in_plan",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::NotFound(_) => "not_found",
            Error::TooLarge { .. } => "payload_too_large",
            Error::Conflict { .. } => "conflict",
            Error::RateLimited(_) => "rate_limited",
            Error::CustomerOptedOut { .. } => "customer_opted_out",
            Error::ConsentRequired => "consent_required",
            Error::ShopRestricted(_) => "shop_restricted",
            Error::LinkGone { .. } => "link_gone",
            Error::TicketChanged { .. } => "ticket_changed",
            Error::Unavailable => "unavailable",
            Error::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Error::Unavailable,
            StoreError::Conflict { field } => Error::Conflict {
                field: field.to_owned(),
                message: "is already taken".to_owned(),
            },
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<pitwall_store::sea_orm::DbErr> for Error {
    fn from(e: pitwall_store::sea_orm::DbErr) -> Self {
        StoreError::from(e).into()
    }
}

impl From<pitwall_authz::AuthzError> for Error {
    fn from(e: pitwall_authz::AuthzError) -> Self {
        match e {
            pitwall_authz::AuthzError::Store(s) => s.into(),
            other => Error::Internal(other.to_string()),
        }
    }
}
