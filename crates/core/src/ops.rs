//! What the probes and `/metrics` report about the process's own health.

use pitwall_store::sea_orm::{ConnectionTrait, Statement};

use crate::App;

/// Whether this node can serve: what `/ready` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The database answers but this binary expects migrations it lacks.
    MigrationsPending,
    /// No answer within the probe's time.
    DatabaseUnreachable,
    /// The process is stopping (`App::drain`).
    Draining,
}

/// Pings the database and checks every migration is applied, within two
/// seconds: a probe that hangs is worse than one that says no.
pub async fn readiness(app: &App) -> Readiness {
    if app.streams.draining() {
        return Readiness::Draining;
    }
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        app.db
            .execute_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT 1",
            ))
            .await?;
        pitwall_store::db::migrations_current(&app.db).await
    })
    .await;
    match check {
        Ok(Ok(true)) => Readiness::Ready,
        Ok(Ok(false)) => Readiness::MigrationsPending,
        Ok(Err(_)) | Err(_) => Readiness::DatabaseUnreachable,
    }
}

/// Jobs by queue and state, for the metrics gauge; `None` when the queue
/// tables cannot be read (the gauge then keeps its last figures).
pub async fn job_counts(app: &App) -> Option<Vec<(String, String, i64)>> {
    pitwall_jobs::admin::counts(&app.db).await.ok()
}
