//! Moves committed outbox rows into the apalis queue.

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use pitwall_store::{Db, StoreError, outbox};

use crate::billing::BillingJob;
use crate::documents::DocumentJob;
use crate::webhooks::{DeliverWebhook, WEBHOOK_QUEUE};
use crate::{
    BILLING_QUEUE, DOCUMENT_QUEUE, EMAIL_QUEUE, JobsHandle, MESSAGE_QUEUE, SendEmail, SendMessage,
};

/// How many tries a job gets in all (the first and the retries). With the
/// default backoff (2 s doubling, at most 5 minutes between tries) the
/// last try comes over 20 minutes after the first, so a provider or mail
/// server that is down for minutes loses nothing: its messages go out
/// when it returns. Permanent failures stop at the first try anyway.
pub const MAX_ATTEMPTS: usize = 12;

/// One queue's storage on the app's database.
enum Queue<T> {
    Sqlite(SqliteStorage<T>),
    Postgres(PostgresStorage<T>),
}

/// A job that may ask to run later.
pub(crate) trait Scheduled {
    fn run_at(&self) -> Option<u64> {
        None
    }
}
impl Scheduled for SendEmail {}
impl Scheduled for DeliverWebhook {}
impl Scheduled for BillingJob {}
impl Scheduled for DocumentJob {}
impl Scheduled for SendMessage {
    fn run_at(&self) -> Option<u64> {
        self.not_before.and_then(|t| u64::try_from(t).ok())
    }
}

impl<T> Queue<T>
where
    T: Scheduled + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + Unpin + 'static,
{
    fn for_db(db: &Db, name: &str) -> Self {
        match db.get_database_backend() {
            pitwall_store::sea_orm::DbBackend::Postgres => Queue::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool())
                    .with_config(apalis_postgres::Config::default().queue(name)),
            ),
            _ => Queue::Sqlite(
                SqliteStorage::new(db.get_sqlite_connection_pool())
                    .with_config(apalis_sqlite::Config::default().queue(name)),
            ),
        }
    }

    async fn push(&mut self, row: &outbox::OutboxRow) -> Result<(), String> {
        let args: T = serde_json::from_str(&row.payload).map_err(|e| format!("payload: {e}"))?;
        let run_at = args.run_at();
        let mut task = TaskBuilder::new(args)
            .idempotency_key(row.id.to_string())
            .max_attempts(MAX_ATTEMPTS);
        if let Some(at) = run_at {
            task = task.run_at_timestamp(at);
        }
        let task = task.build();
        match self {
            Queue::Sqlite(s) => s.push_task(task).await.map_err(|e| e.to_string()),
            Queue::Postgres(s) => s.push_task(task).await.map_err(|e| e.to_string()),
        }
    }
}

pub(crate) struct Pusher {
    email: Queue<SendEmail>,
    message: Queue<SendMessage>,
    webhook: Queue<DeliverWebhook>,
    billing: Queue<BillingJob>,
    documents: Queue<DocumentJob>,
}

impl Pusher {
    pub(crate) fn for_db(db: &Db) -> Self {
        Pusher {
            email: Queue::for_db(db, EMAIL_QUEUE),
            message: Queue::for_db(db, MESSAGE_QUEUE),
            webhook: Queue::for_db(db, WEBHOOK_QUEUE),
            billing: Queue::for_db(db, BILLING_QUEUE),
            documents: Queue::for_db(db, DOCUMENT_QUEUE),
        }
    }

    /// Pushes the row to its queue; `Ok(false)` for a queue this binary
    /// does not know (left in the outbox for a newer one).
    async fn push(&mut self, row: &outbox::OutboxRow) -> Result<bool, String> {
        let res = match row.queue.as_str() {
            EMAIL_QUEUE => self.email.push(row).await,
            MESSAGE_QUEUE => self.message.push(row).await,
            WEBHOOK_QUEUE => self.webhook.push(row).await,
            BILLING_QUEUE => self.billing.push(row).await,
            DOCUMENT_QUEUE => self.documents.push(row).await,
            _ => return Ok(false),
        };
        match res {
            // PostgreSQL refuses a second push with the same key (SQLite
            // ignores it): either way the job exists once.
            Err(e) if e.contains("idempotency") || e.contains("duplicate key") => Ok(true),
            other => other.map(|()| true),
        }
    }
}

/// Pushes every committed, unpushed outbox row; returns how many.
pub(crate) async fn relay_once(db: &Db, pusher: &mut Pusher) -> Result<usize, StoreError> {
    let rows = outbox::unpushed(db, 100).await?;
    let mut n = 0;
    for row in &rows {
        match pusher.push(row).await {
            Ok(false) => {
                tracing::error!(outbox.id = %row.id, job.queue = %row.queue, "outbox row for an unknown queue");
            }
            Ok(true) => {
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
            Ok(n) if n > 0 => {
                handle.pushed();
                tracing::debug!(jobs = n, "outbox relayed");
            }
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
