//! The JSON API (poem-openapi) and the HTTP stack every request passes:
//! request id, access log, metrics, security headers, JSON errors.

#![expect(
    clippy::result_large_err,
    reason = "errors leave as whole poem responses with the JSON envelope; boxing them would only move the allocation"
)]

pub mod admin;
pub mod auth;
pub mod billing;
pub mod body;
mod compress;
pub mod customer;
pub mod document;
pub mod error;
pub mod fast_json;
pub mod inspections;
pub mod invoice_uploads;
pub mod invoices;
pub mod media;
pub mod messaging;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod payments;
pub mod pos;
pub mod staff;
pub mod ticket_models;
pub mod tickets;
pub mod upload;
pub mod webhooks;
pub mod workflow;

use pitwall_core::App;
use pitwall_domain::net::{ClientAddr, TrustedProxies};
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, PathPattern, Request, Response, Route};
use poem_openapi::OpenApiService;

pub type Apis = (
    staff::StaffApi,
    tickets::TicketsApi,
    messaging::MessagingApi,
    customer::ApprovalsApi,
    customer::CustomerApi,
    pos::PosApi,
    admin::AdminApi,
    billing::BillingApi,
    inspections::InspectionsApi,
    inspections::InspectingApi,
    media::MediaApi,
    workflow::WorkflowApi,
    invoices::InvoicesApi,
    invoice_uploads::InvoiceUploadsApi,
    payments::PaymentsApi,
);

pub fn openapi(base_url: &str) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            staff::StaffApi,
            tickets::TicketsApi,
            messaging::MessagingApi,
            customer::ApprovalsApi,
            customer::CustomerApi,
            pos::PosApi,
            admin::AdminApi,
            billing::BillingApi,
            inspections::InspectionsApi,
            inspections::InspectingApi,
            media::MediaApi,
            workflow::WorkflowApi,
            invoices::InvoicesApi,
            invoice_uploads::InvoiceUploadsApi,
            payments::PaymentsApi,
        ),
        "Pitwall API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Customer care for auto-repair shops. Conventions (envelopes, errors, pagination, \
         ids, money, time) are in docs/API.md. Errors are always \
         `{\"code\", \"message\", \"field\"}`.",
    )
    .server(base_url.to_owned())
}

/// The OpenAPI document as committed under `openapi/`. The server URL is
/// fixed so that the document does not depend on the deployment.
pub fn spec_json() -> String {
    document::tidy(&openapi("/").spec())
}

/// The API routes, ready to be nested into the app's route tree. With
/// `public_metrics` false, `/metrics` is left out (it is served on its own
/// address, [`metrics_endpoint`]).
pub fn routes(base_url: &str, public_metrics: bool) -> Route {
    let api = openapi(base_url);
    let raw = api.spec();
    let document = document::tidy(&raw);
    // Swagger UI embeds the document it is given; poem-openapi gives it its
    // own, so the repaired one takes that one's place in the page.
    let docs_html = api.swagger_ui_html().replacen(&raw, &document, 1);
    let docs = Route::new().at("/", make_sync(move |_| Html(docs_html.clone())));
    let spec = make_sync(move |_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    });
    ops::mount(
        Route::new()
            .nest("/", api)
            .at("/openapi.json", spec)
            .nest("/webhooks", webhooks::routes())
            .nest("/docs", docs),
        public_metrics,
    )
}

/// `/metrics` alone, for the separate listener (`PITWALL_METRICS_ADDR`).
pub fn metrics_endpoint(app: App) -> impl Endpoint {
    ops::metrics_only().data(app)
}

/// Wraps the whole app: every response gets a request id, security headers,
/// an access-log line and metrics; every error becomes JSON (API) or stays
/// as the page layer made it.
pub fn with_stack<E: Endpoint + 'static>(ep: E, app: App) -> impl Endpoint {
    let trusted = std::sync::Arc::new(app.config().trusted_proxies.clone());
    // Served over https (behind a TLS-terminating proxy the request itself
    // is plain http, so the public URL decides): browsers must not come
    // back over plain http.
    let hsts = app.config().base_url.starts_with("https://");
    ep.data(app)
        .catch_all_error(error_keeping_route)
        .around(move |ep, mut req| {
            let client = client_of(&req, &trusted);
            req.set_data(client);
            stack(ep, req, hsts)
        })
}

/// The one place a request's client address is worked out (see
/// `pitwall_domain::net::ClientAddr::resolve`); handlers read it with
/// [`client_addr`].
fn client_of(req: &Request, trusted: &TrustedProxies) -> ClientAddr {
    let values = |name: &str| -> Vec<&str> {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    ClientAddr::resolve(
        req.remote_addr().as_socket_addr().map(|a| a.ip()),
        &values("x-forwarded-for"),
        &values("forwarded"),
        trusted,
    )
}

/// The client address the stack put on the request.
pub fn client_addr(req: &Request) -> ClientAddr {
    req.data::<ClientAddr>()
        .copied()
        .unwrap_or(ClientAddr::UNKNOWN)
}

/// The error envelope, keeping the route template the router matched (a
/// handler's error still belongs to its route; a path no route has does
/// not).
async fn error_keeping_route(err: poem::Error) -> Response {
    let matched = if err.is::<poem::error::NotFoundError>() {
        None
    } else {
        err.data::<PathPattern>().cloned()
    };
    let mut resp = error::to_json_error(err).await;
    if let Some(p) = matched {
        resp.set_data(p);
    }
    resp
}

async fn stack<E: Endpoint>(
    ep: std::sync::Arc<E>,
    req: Request,
    hsts: bool,
) -> poem::Result<Response> {
    let started = std::time::Instant::now();
    let request_id = req
        .header("x-request-id")
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    let path_label = metrics::route_label(req.uri().path());
    let is_docs = req.uri().path().starts_with("/docs");
    let is_customer = is_customer_path(req.uri().path());
    let gzip = compress::path_allows(req.uri().path())
        && compress::accepts_gzip(
            &req.headers()
                .get_all(poem::http::header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>(),
        );
    // Every line logged while handling the request carries its id.
    let span = tracing::info_span!("request", request.id = %request_id);
    let mut resp = match tracing::Instrument::instrument(ep.call(req), span).await {
        Ok(r) => r.into_response(),
        Err(e) => error_keeping_route(e).await,
    };
    let status = resp.status();
    let elapsed = started.elapsed();
    // Metrics are labelled by the route template the router matched
    // (`/c/:token`; the API's parameters read `:param0`, ...), so their
    // series are bounded by the routes we have, whatever paths clients make
    // up. The log line keeps the path, ids and tokens masked.
    let template = resp.data::<PathPattern>().map(|p| p.0.clone());
    metrics::observe(
        template.as_deref().unwrap_or(metrics::UNMATCHED),
        status.as_u16(),
        elapsed,
    );
    tracing::info!(
        request.id = %request_id,
        http.method = %method,
        http.route = %path_label,
        http.status = status.as_u16(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    if gzip {
        resp = compress::gzip(resp).await;
    }
    security_headers(&mut resp, is_docs, hsts);
    if is_customer {
        customer_headers(&mut resp);
    }
    if let Ok(v) = request_id.parse() {
        resp.headers_mut().insert("x-request-id", v);
    }
    Ok(resp)
}

/// The customer's pages and JSON: reached by a capability URL.
fn is_customer_path(path: &str) -> bool {
    path.starts_with("/c/") || path.starts_with("/api/customer/")
}

/// A capability URL must not leak: no referrer to anyone (the token is in
/// the path), not indexed, not kept in shared caches. A photo that says
/// `private` keeps it: it never changes, and the customer's own browser may
/// keep it rather than fetch it again on every live update.
fn customer_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    let private = h
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("private"));
    let cache = if private { None } else { Some("no-store") };
    for (name, value) in [
        ("referrer-policy", Some("no-referrer")),
        ("x-robots-tag", Some("noindex, nofollow")),
        ("cache-control", cache),
    ] {
        let Some(value) = value else { continue };
        if let Ok(v) = value.parse() {
            h.insert(name, v);
        }
    }
}

/// What `Strict-Transport-Security` says when the public URL is https.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

fn security_headers(resp: &mut Response, relaxed_for_docs: bool, hsts: bool) {
    // The interactive docs page is the one page with inline script.
    let csp = if relaxed_for_docs {
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
    } else {
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    };
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", csp),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        if !h.contains_key(name)
            && let Ok(v) = value.parse()
        {
            h.insert(name, v);
        }
    }
    if hsts {
        h.insert(
            "strict-transport-security",
            poem::http::HeaderValue::from_static(HSTS),
        );
    }
}
