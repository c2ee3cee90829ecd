//! Moves committed outbox rows into the apalis queue.

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use pitwall_store::{Db, StoreError, outbox};

use crate::{EMAIL_QUEUE, JobsHandle, SendEmail};

/// How many tries a job gets in all (the first and the retries).
pub const MAX_ATTEMPTS: usize = 6;

pub(crate) enum Pusher {
    Sqlite(SqliteStorage<SendEmail>),
    Postgres(PostgresStorage<SendEmail>),
}

impl Pusher {
    pub(crate) fn for_db(db: &Db) -> Self {
        match db.get_database_backend() {
            pitwall_store::sea_orm::DbBackend::Postgres => Pusher::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool())
                    .with_config(apalis_postgres::Config::default().queue(EMAIL_QUEUE)),
            ),
            _ => Pusher::Sqlite(
                SqliteStorage::new(db.get_sqlite_connection_pool())
                    .with_config(apalis_sqlite::Config::default().queue(EMAIL_QUEUE)),
            ),
        }
    }

    async fn push(&mut self, row: &outbox::OutboxRow) -> Result<(), String> {
        let args: SendEmail =
            serde_json::from_str(&row.payload).map_err(|e| format!("payload: {e}"))?;
        let task = TaskBuilder::new(args)
            .idempotency_key(row.id.to_string())
            .max_attempts(MAX_ATTEMPTS)
            .build();
        let res = match self {
            Pusher::Sqlite(s) => s.push_task(task).await.map_err(|e| e.to_string()),
            Pusher::Postgres(s) => s.push_task(task).await.map_err(|e| e.to_string()),
        };
        match res {
            // PostgreSQL refuses a second push with the same key (SQLite
            // ignores it): either way the job exists once.
            Err(e) if e.contains("idempotency") || e.contains("duplicate key") => Ok(()),
            other => other,
        }
    }
}

/// Pushes every committed, unpushed outbox row; returns how many.
pub(crate) async fn relay_once(db: &Db, pusher: &mut Pusher) -> Result<usize, StoreError> {
    let rows = outbox::unpushed(db, 100).await?;
    let mut n = 0;
    for row in &rows {
        if row.queue != EMAIL_QUEUE {
            tracing::error!(outbox.id = %row.id, job.queue = %row.queue, "outbox row for an unknown queue");
            continue;
        }
        match pusher.push(row).await {
            Ok(()) => {
                outbox::mark_pushed(db, row.id).await?;
                n += 1;
            }
            Err(e) => {
                tracing::warn!(outbox.id = %row.id, error = %e, "could not push job; will try again");
                break;
            }
        }
    }
    Ok(n)
}

/// Runs until `stop` resolves: relays after every nudge, and every
/// `interval` to pick up rows from other processes or from before a crash.
pub async fn run(
    db: Db,
    handle: JobsHandle,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut pusher = Pusher::for_db(&db);
    tokio::pin!(stop);
    loop {
        match relay_once(&db, &mut pusher).await {
            Ok(n) if n > 0 => tracing::debug!(jobs = n, "outbox relayed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox relay failed"),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = handle.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
