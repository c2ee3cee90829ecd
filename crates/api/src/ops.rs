//! Operations endpoints: /health, /ready, /metrics.

use pitwall_core::App;
use pitwall_core::store::sea_orm::{ConnectionTrait, Statement};
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
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        app.db
            .execute_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT 1",
            ))
            .await?;
        pitwall_core::store::db::migrations_current(&app.db).await
    })
    .await;
    match ping {
        Ok(Ok(true)) => "ready".into_response(),
        Ok(Ok(false)) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Ok(Err(_)) | Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[handler]
async fn metrics(app: Data<&App>) -> Response {
    if let Ok(rows) = pitwall_jobs::admin::counts(&app.db).await {
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
