//! Templates (compiled into the binary) and the one place use-case errors
//! become pages.

use std::sync::LazyLock;

use minijinja::{Environment, Value, context};
use pitwall_core::Error;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{IntoResponse, Response, handler};

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../templates/base.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("forgot.html", include_str!("../templates/forgot.html")),
        ("reset.html", include_str!("../templates/reset.html")),
        ("accept.html", include_str!("../templates/accept.html")),
        ("message.html", include_str!("../templates/message.html")),
        ("home.html", include_str!("../templates/home.html")),
        ("users.html", include_str!("../templates/users.html")),
        ("roles.html", include_str!("../templates/roles.html")),
        ("settings.html", include_str!("../templates/settings.html")),
        ("api_keys.html", include_str!("../templates/api_keys.html")),
        (
            "admin_shops.html",
            include_str!("../templates/admin_shops.html"),
        ),
        (
            "admin_new_shop.html",
            include_str!("../templates/admin_new_shop.html"),
        ),
        (
            "admin_shop.html",
            include_str!("../templates/admin_shop.html"),
        ),
        (
            "admin_audit.html",
            include_str!("../templates/admin_audit.html"),
        ),
        (
            "admin_jobs.html",
            include_str!("../templates/admin_jobs.html"),
        ),
    ] {
        // The templates are part of the binary; one that does not parse is
        // a build mistake caught by every page test.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
});

pub(crate) fn page(status: StatusCode, name: &str, ctx: Value) -> Response {
    match ENV.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).with_status(status).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side",
            )
                .into_response()
        }
    }
}

pub(crate) fn ok(name: &str, ctx: Value) -> Response {
    page(StatusCode::OK, name, ctx)
}

pub(crate) fn message(status: StatusCode, layout: Value, heading: &str, text: &str) -> Response {
    page(
        status,
        "message.html",
        context! { heading => heading, text => text, ..layout },
    )
}

pub(crate) fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .finish()
}

/// A use-case error as a page. Invalid input goes back to the form's page
/// by the caller; everything else gets its own page, in words.
pub(crate) fn error(err: &Error, layout: Value) -> Response {
    match err {
        Error::Unauthenticated(_) => redirect("/login"),
        Error::PermissionDenied(p) => message(
            StatusCode::FORBIDDEN,
            layout,
            "Not allowed",
            &format!(
                "Your role may not do this: it needs the permission “{}” ({}). Ask the shop's owner.",
                p.describe(),
                p.as_str()
            ),
        ),
        Error::PlatformDenied(role) => message(
            StatusCode::FORBIDDEN,
            layout,
            "Not allowed",
            &format!("This page is for Pitwall {role} staff."),
        ),
        Error::FeatureNotInPlan {
            feature,
            cheapest_plan,
        } => message(
            StatusCode::FORBIDDEN,
            layout,
            "Not in your plan",
            &match cheapest_plan {
                Some(p) => format!(
                    "Your plan does not include {}. The {p} plan has it.",
                    feature.describe()
                ),
                None => format!("Your plan does not include {}.", feature.describe()),
            },
        ),
        Error::QuotaExceeded { quota, limit } => message(
            StatusCode::FORBIDDEN,
            layout,
            "Plan limit reached",
            &format!(
                "Your plan allows {limit} {quota}; that limit is reached. A bigger plan allows more."
            ),
        ),
        Error::ShopRestricted(state) => message(
            StatusCode::FORBIDDEN,
            layout,
            "Read-only",
            &format!(
                "This shop is {state}: you can look, but nothing can be changed. Contact Pitwall support."
            ),
        ),
        Error::NotFound(what) => message(
            StatusCode::NOT_FOUND,
            layout,
            "Not found",
            &format!("The {what} was not found."),
        ),
        Error::Unavailable => message(
            StatusCode::SERVICE_UNAVAILABLE,
            layout,
            "Try again shortly",
            "Pitwall cannot reach its database right now. Please try again in a minute.",
        ),
        Error::Invalid { field, message: m } | Error::Conflict { field, message: m } => message(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout,
            "Please check the form",
            &format!("{field}: {m}"),
        ),
        Error::RateLimited(m) => message(StatusCode::TOO_MANY_REQUESTS, layout, "Slow down", m),
        Error::Internal(detail) => {
            tracing::error!(error = %detail, "internal error on a page");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                layout,
                "Something went wrong",
                "Something went wrong on our side.",
            )
        }
    }
}

/// The message an inline form error shows.
pub(crate) fn form_error(err: &Error) -> Option<String> {
    match err {
        Error::Invalid { field, message } | Error::Conflict { field, message } => {
            Some(format!("{}: {message}", field.replace('_', " ")))
        }
        Error::RateLimited(m) | Error::Unauthenticated(m) => Some((*m).to_owned()),
        _ => None,
    }
}

#[handler]
pub(crate) fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("../static/app.css"))
}
