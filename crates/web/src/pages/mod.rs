//! Page handlers, one module per area. Each handler reads the request,
//! calls one use case of `pitwall_core`, and renders or redirects.

pub(crate) mod admin;
pub(crate) mod admin_billing;
pub(crate) mod api_keys;
pub(crate) mod app;
pub(crate) mod approvals;
pub(crate) mod auth;
pub(crate) mod billing;
pub(crate) mod customer;
pub(crate) mod inspect;
pub(crate) mod inspections;
pub(crate) mod invoice_list;
pub(crate) mod invoices;
pub(crate) mod media;
pub(crate) mod messages;
pub(crate) mod roles;
pub(crate) mod settings;
pub(crate) mod tickets;
pub(crate) mod users;
pub(crate) mod webhooks;

use minijinja::{Value, context};
use poem::Response;
use poem::http::StatusCode;

use crate::render::{self, Problem};

/// What a page handler's body yields: its page, or another whole answer
/// instead (a redirect, a refusal in words).
pub(crate) type Page = Result<Response, Response>;

pub(crate) fn respond(page: Page) -> Response {
    page.unwrap_or_else(|other| other)
}

/// What a page says above its content: a confirmation after a redirect, or
/// the problem with the form just sent (and the status that goes with it).
pub(crate) struct Notice {
    pub status: StatusCode,
    ok: Option<&'static str>,
    error: Option<String>,
}

impl Notice {
    pub(crate) fn ok(ok: Option<&'static str>) -> Self {
        Self {
            status: StatusCode::OK,
            ok,
            error: None,
        }
    }

    pub(crate) fn problem(p: Problem) -> Self {
        Self {
            status: p.status,
            ok: None,
            error: Some(p.message),
        }
    }

    /// The notice merged over the page's layout, for a template context.
    pub(crate) fn with(&self, layout: &Value) -> Value {
        context! { ok => self.ok, error => self.error.clone(), ..layout.clone() }
    }
}

/// After a form's use case: on success go to `to`, else see [`refused`].
pub(crate) async fn finish<T>(
    result: pitwall_core::Result<T>,
    to: &str,
    layout: &Value,
    again: impl AsyncFnOnce(Notice) -> Page,
) -> Page {
    match result {
        Ok(_) => Ok(render::redirect(to)),
        Err(e) => refused(&e, layout, again).await,
    }
}

/// A form's use case said no: a problem with what was typed shows the
/// form's page `again` with the problem on it; anything else gets a page of
/// its own.
pub(crate) async fn refused(
    e: &pitwall_core::Error,
    layout: &Value,
    again: impl AsyncFnOnce(Notice) -> Page,
) -> Page {
    match render::form_error(e) {
        Some(p) => again(Notice::problem(p)).await,
        None => Err(render::error(e, layout.clone())),
    }
}

/// An id from the path; one that cannot be an id names nothing that exists.
pub(crate) fn parse_id<T: std::str::FromStr>(
    raw: &str,
    what: &'static str,
) -> pitwall_core::Result<T> {
    raw.parse().map_err(|_| pitwall_core::Error::NotFound(what))
}
