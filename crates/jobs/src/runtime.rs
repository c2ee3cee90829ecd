//! Starting the workers: the relay and one apalis worker per queue, with
//! retries (exponential backoff with jitter), and a graceful stop that lets
//! running jobs finish.

use std::time::Duration;

use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{BackoffRetryPolicy, HasherRng, RetryPolicy};
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use pitwall_store::Db;
use pitwall_store::sea_orm::DbBackend;

use crate::billing::{self, BillingDeps};
use crate::documents::{self, DocumentDeps, DocumentJob};
use crate::mailer::Mailer;
use crate::send_email::{self, EmailDeps};
use crate::send_message::{self, MessageDeps, MessageWork};
use crate::webhooks::{self, DeliverWebhook, WEBHOOK_QUEUE, WebhookDeps, WebhookSettings};
use crate::{BILLING_QUEUE, DOCUMENT_QUEUE, EMAIL_QUEUE, JobsHandle, MESSAGE_QUEUE, relay};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How often an idle worker looks for jobs pushed by other processes.
    pub poll_interval: Duration,
    /// First retry delay; doubles each time, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a stop waits for running jobs.
    pub shutdown_timeout: Duration,
    /// Workers beat this often; one silent for three beats is taken for
    /// dead (killed, crashed) and its running jobs go back to the queue.
    pub heartbeat: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            min_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            shutdown_timeout: Duration::from_secs(20),
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// Wakes an idle worker every `interval`.
///
/// apalis's own `IntervalStrategy` re-arms its timer without polling it, so
/// after a fetch that completes at once and finds nothing, no waker is left
/// and the worker sleeps until its 30 s heartbeat (seen here as e-mails
/// waiting 30 s). This stream asks to be polled again after every tick, which
/// arms the next one.
struct Ticks(tokio::time::Interval);

impl Ticks {
    fn every(period: Duration) -> Self {
        let mut i = tokio::time::interval(period);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(i)
    }
}

impl futures::Stream for Ticks {
    type Item = ();

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<()>> {
        match self.0.poll_tick(cx) {
            std::task::Poll::Ready(_) => {
                cx.waker().wake_by_ref();
                std::task::Poll::Ready(Some(()))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

/// Creates apalis's tables. For SQLite this runs only its migrations: its
/// `setup` would also switch `synchronous` off on a connection of the shared
/// pool, and acknowledged writes must survive a crash.
pub async fn setup(db: &Db) -> Result<(), String> {
    match db.get_database_backend() {
        DbBackend::Postgres => PostgresStorage::setup(db.get_postgres_connection_pool())
            .await
            .map_err(|e| format!("job tables: {e}")),
        _ => SqliteStorage::migrations()
            .run(db.get_sqlite_connection_pool())
            .await
            .map_err(|e| format!("job tables: {e}")),
    }
}

pub fn retry_policy(s: &WorkerSettings) -> BackoffRetryPolicy<ExponentialBackoff> {
    let backoff =
        ExponentialBackoffMaker::new(s.min_backoff, s.max_backoff, 0.5, HasherRng::default())
            .map(|mut m| m.make_backoff())
            .unwrap_or_else(|_| ExponentialBackoffMaker::default().make_backoff());
    RetryPolicy::retries(relay::MAX_ATTEMPTS - 1).with_backoff(backoff)
}

/// What the workers send with.
#[derive(Clone)]
pub struct Senders {
    /// Platform e-mails (invitations, password resets).
    pub mailer: Mailer,
    /// Customer messages: core's delivery, with the provider clients.
    pub messages: std::sync::Arc<dyn MessageWork>,
    pub webhooks: WebhookSettings,
    /// Billing use cases (Stripe events, overage reports); `None` without
    /// Stripe.
    pub billing: Option<std::sync::Arc<dyn billing::BillingWork>>,
    /// Reading uploaded invoices (OCR); without Tesseract it marks them
    /// unavailable, so it is always there.
    pub documents: std::sync::Arc<dyn documents::DocumentWork>,
}

/// How many messages one worker process delivers at once. Most of a
/// delivery is waiting (for the provider, for a sender's rate slot).
pub const MESSAGE_CONCURRENCY: usize = 32;

/// How many messages a worker fetches at a time: as many as it delivers
/// at once. apalis fetches the next batch only after it has written the
/// last batch's results, one database operation after another, so a
/// larger batch pays that cycle less often: 2.5x the jobs per second of
/// apalis's default of 10 (docs/BENCHMARKS.md, jobs). On PostgreSQL.
pub const MESSAGE_BATCH: usize = MESSAGE_CONCURRENCY;

/// SQLite keeps apalis's default: one writer at a time, and 32 deliveries
/// started at once (each writes its state changes) queued on its lock
/// past the busy timeout in a debug build.
const MESSAGE_BATCH_SQLITE: usize = 10;

/// Runs the relay and the workers until `stop` resolves, then lets running
/// jobs finish (up to the shutdown timeout).
pub async fn run(
    db: Db,
    senders: Senders,
    handle: JobsHandle,
    settings: WorkerSettings,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut relay_stop = stop_tx.subscribe();
    let relay = tokio::spawn(relay::run(
        db.clone(),
        handle.clone(),
        settings.poll_interval.max(Duration::from_millis(500)),
        async move {
            let _ = relay_stop.recv().await;
        },
    ));
    let mut monitor_stop = stop_tx.subscribe();
    let email_deps = EmailDeps {
        db: db.clone(),
        mailer: senders.mailer.clone(),
    };
    let message_deps = MessageDeps {
        work: senders.messages.clone(),
    };
    let webhook_deps = WebhookDeps {
        db: db.clone(),
        settings: senders.webhooks.clone(),
    };
    let billing_deps = BillingDeps {
        work: senders.billing.clone(),
    };
    let document_deps = DocumentDeps {
        work: senders.documents.clone(),
    };
    let monitor_signal = async move {
        let _ = monitor_stop.recv().await;
        Ok(())
    };
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(());
    });
    let worker_name = uuid::Uuid::new_v4();
    // The two backends differ only in their storage type.
    macro_rules! run_monitor {
        ($storage:ident, $config:expr, $message_batch:expr, $pool:expr) => {{
            let (db1, db2, s1, s2, h1, h2) = (
                db.clone(),
                db.clone(),
                settings.clone(),
                settings.clone(),
                handle.clone(),
                handle.clone(),
            );
            let (db3, s3, h3) = (db.clone(), settings.clone(), handle.clone());
            let (db4, s4, h4) = (db.clone(), settings.clone(), handle.clone());
            let (db5, s5, h5) = (db.clone(), settings.clone(), handle.clone());
            Monitor::new()
                .register(move |index| {
                    let storage = $storage::<crate::SendEmail>::new(&$pool(&db1))
                        .with_config(
                            $config
                                .queue(EMAIL_QUEUE)
                                .heartbeat_interval(s1.heartbeat)
                                .missed_heartbeats(3),
                        )
                        .poll_with_stream(wakeups(&s1, &h1));
                    WorkerBuilder::new(format!("pitwall-email-{worker_name}-{index}"))
                        .backend(storage)
                        .data(email_deps.clone())
                        .retry(retry_policy(&s1))
                        .enable_tracing()
                        .build(send_email::run)
                })
                .register(move |index| {
                    let storage = $storage::<crate::SendMessage>::new(&$pool(&db2))
                        .with_config(
                            $config
                                .queue(MESSAGE_QUEUE)
                                .batch_size($message_batch)
                                .heartbeat_interval(s2.heartbeat)
                                .missed_heartbeats(3),
                        )
                        .poll_with_stream(wakeups(&s2, &h2));
                    WorkerBuilder::new(format!("pitwall-message-{worker_name}-{index}"))
                        .backend(storage)
                        .data(message_deps.clone())
                        .concurrency(MESSAGE_CONCURRENCY)
                        .retry(retry_policy(&s2))
                        .enable_tracing()
                        .build(send_message::run)
                })
                .register(move |index| {
                    let storage = $storage::<DeliverWebhook>::new(&$pool(&db3))
                        .with_config(
                            $config
                                .queue(WEBHOOK_QUEUE)
                                .heartbeat_interval(s3.heartbeat)
                                .missed_heartbeats(3),
                        )
                        .poll_with_stream(wakeups(&s3, &h3));
                    WorkerBuilder::new(format!("pitwall-webhook-{worker_name}-{index}"))
                        .backend(storage)
                        .data(webhook_deps.clone())
                        .concurrency(8)
                        .retry(retry_policy(&s3))
                        .enable_tracing()
                        .build(webhooks::run)
                })
                .register(move |index| {
                    let storage = $storage::<billing::BillingJob>::new(&$pool(&db4))
                        .with_config(
                            $config
                                .queue(BILLING_QUEUE)
                                .heartbeat_interval(s4.heartbeat)
                                .missed_heartbeats(3),
                        )
                        .poll_with_stream(wakeups(&s4, &h4));
                    WorkerBuilder::new(format!("pitwall-billing-{worker_name}-{index}"))
                        .backend(storage)
                        .data(billing_deps.clone())
                        .retry(retry_policy(&s4))
                        .enable_tracing()
                        .build(billing::run)
                })
                .register(move |index| {
                    let storage = $storage::<DocumentJob>::new(&$pool(&db5))
                        .with_config(
                            $config
                                .queue(DOCUMENT_QUEUE)
                                .heartbeat_interval(s5.heartbeat)
                                .missed_heartbeats(3),
                        )
                        .poll_with_stream(wakeups(&s5, &h5));
                    // One document at a time: reading is CPU-bound.
                    WorkerBuilder::new(format!("pitwall-documents-{worker_name}-{index}"))
                        .backend(storage)
                        .data(document_deps.clone())
                        .retry(retry_policy(&s5))
                        .enable_tracing()
                        .build(documents::run)
                })
                // A worker whose backend fails (the database went away)
                // ends with an error; without this it would stay down for
                // the life of the process, which would look alive and
                // send nothing. It restarts under a new name; the jobs the
                // old one held come back once its heartbeat lapses. Polls
                // come on ticks, so a long outage restarts it at most once
                // a tick.
                .should_restart(|worker, error| {
                    tracing::warn!(worker = %worker.name(), %error, "job worker stopped on an error; restarting it");
                    true
                })
                .shutdown_timeout(settings.shutdown_timeout)
                .run_with_signal(monitor_signal)
                .await
        }};
    }
    let result = match db.get_database_backend() {
        DbBackend::Postgres => run_monitor!(
            PostgresStorage,
            apalis_postgres::Config::default(),
            MESSAGE_BATCH,
            |db: &Db| db.get_postgres_connection_pool().clone()
        ),
        _ => run_monitor!(
            SqliteStorage,
            apalis_sqlite::Config::default(),
            MESSAGE_BATCH_SQLITE,
            |db: &Db| db.get_sqlite_connection_pool().clone()
        ),
    };
    let _ = relay.await;
    // A graceful stop hands back what apalis knows it fetched; a fetch that
    // lands while the stop is under way, or a job still running at the
    // shutdown timeout, stays held by this process's workers and would
    // wait out three missed heartbeats. Anything still held now will not
    // be finished here: back to the queue with it.
    match hand_back(&db, worker_name).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "handed back jobs held at the stop"),
        Err(e) => {
            tracing::warn!(error = %e, "could not hand back held jobs; they return when the heartbeat lapses")
        }
    }
    result.map_err(|e| format!("workers: {e}"))
}

/// Puts the jobs this process's workers still hold back in the queue.
async fn hand_back(db: &Db, worker_name: uuid::Uuid) -> Result<u64, pitwall_store::sea_orm::DbErr> {
    use pitwall_store::sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, \
             last_result = '{\"Err\": \"Handed back at worker stop\"}'::jsonb \
             WHERE status IN ('Queued', 'Running') AND lock_by LIKE $1"
        }
        _ => {
            "UPDATE Jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, \
             last_result = '{\"Err\": \"Handed back at worker stop\"}' \
             WHERE status IN ('Queued', 'Running') AND lock_by LIKE ?"
        }
    };
    // Every worker of this process is named `pitwall-<queue>-<this id>-<n>`.
    let ours = format!("pitwall-%-{worker_name}-%");
    let done = db
        .execute_raw(Statement::from_sql_and_values(backend, sql, [ours.into()]))
        .await?;
    Ok(done.rows_affected())
}

/// Wakes a worker on every tick, and at once when this process's relay has
/// pushed jobs (so a status change reaches the provider in milliseconds,
/// not at the next poll).
pub fn wakeups(s: &WorkerSettings, handle: &JobsHandle) -> futures::stream::BoxStream<'static, ()> {
    use futures::StreamExt;
    let pushed = futures::stream::unfold(handle.clone(), |h| async move {
        h.pushed_notified().await;
        Some(((), h))
    });
    futures::stream::select(Ticks::every(s.poll_interval), pushed).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least time between a job's first and last try under the default
    /// settings (jitter only adds).
    fn retry_span(s: &WorkerSettings) -> Duration {
        (0..relay::MAX_ATTEMPTS - 1)
            .map(|k| (s.min_backoff * 2u32.saturating_pow(k as u32)).min(s.max_backoff))
            .sum()
    }

    #[test]
    fn a_provider_down_for_a_quarter_of_an_hour_loses_no_message() {
        let span = retry_span(&WorkerSettings::default());
        assert!(span >= Duration::from_secs(15 * 60), "{span:?}");
    }
}
