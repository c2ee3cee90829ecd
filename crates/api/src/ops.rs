//! Operations endpoints: /health, /ready, /metrics.

use pitwall_core::App;
use pitwall_core::ops::Readiness;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, Route, get, handler};

/// The process is alive.
#[handler]
async fn health() -> &'static str {
    "ok"
}

/// The database answers and every migration is applied.
#[handler]
async fn ready(app: Data<&App>) -> Response {
    match pitwall_core::ops::readiness(&app).await {
        Readiness::Ready => "ready".into_response(),
        Readiness::MigrationsPending => {
            (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response()
        }
        Readiness::DatabaseUnreachable => {
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
        Readiness::Draining => (StatusCode::SERVICE_UNAVAILABLE, "stopping").into_response(),
    }
}

#[handler]
async fn metrics(app: Data<&App>) -> Response {
    if let Some(rows) = pitwall_core::ops::job_counts(&app).await {
        for (queue, state, n) in rows {
            crate::metrics::set_job_count(&queue, &state, n);
        }
    }
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}

/// The probes, and `/metrics` unless it has its own address.
pub fn mount(route: Route, with_metrics: bool) -> Route {
    let route = route.at("/health", get(health)).at("/ready", get(ready));
    if with_metrics {
        route.at("/metrics", get(metrics))
    } else {
        route
    }
}

/// `/metrics` alone (everything else 404), for its own listener.
pub fn metrics_only() -> Route {
    Route::new().at("/metrics", get(metrics))
}
