//! Assembling and running Pitwall: database, policy, routes, workers.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use pitwall_core::{App, CoreConfig};
use pitwall_jobs::mailer::Mailer;
use pitwall_jobs::runtime::{Senders, WorkerSettings};
use pitwall_jobs::sms::{SmsSender, TwilioSettings};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Endpoint, Route, Server};

use crate::Config;

/// Opens the database; on the embedded SQLite default also applies
/// migrations, so `serve` works on a fresh machine with nothing else run.
pub async fn open_db(config: &Config, auto_migrate: bool) -> anyhow::Result<pitwall_store::Db> {
    if config.is_sqlite() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
    }
    let db = pitwall_store::connect(&config.database_url)
        .await
        .context("connecting to DATABASE_URL")?;
    if auto_migrate && config.is_sqlite() {
        migrate(&db).await?;
    }
    Ok(db)
}

/// Applies Pitwall's migrations and creates the job tables.
pub async fn migrate(db: &pitwall_store::Db) -> anyhow::Result<()> {
    pitwall_store::migrate_up(db)
        .await
        .context("applying migrations")?;
    pitwall_jobs::runtime::setup(db)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

pub async fn build_app(config: &Config, db: pitwall_store::Db) -> anyhow::Result<App> {
    let authz = pitwall_authz::Authz::load(db.clone())
        .await
        .context("loading the policy")?;
    authz.spawn_sync(Duration::from_secs(1));
    let stripe = match &config.stripe {
        Some(s) => Some(
            pitwall_core::billing::StripeSettings::new(
                &s.secret_key,
                &s.api_base,
                s.webhook_secrets
                    .iter()
                    .map(|w| pitwall_core::Secret::new(w))
                    .collect(),
                s.prices.clone(),
            )
            .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let media = pitwall_core::media::MediaStore::from_setting(
        &config.media_store,
        config.media_s3_endpoint.as_deref(),
        &config.aws,
    )
    .map_err(|e| anyhow::anyhow!("PITWALL_MEDIA_STORE: {e}"))?;
    Ok(App::new(
        db,
        authz,
        media,
        CoreConfig {
            twilio_auth_token: config
                .twilio
                .as_ref()
                .map(|t| pitwall_core::Secret::new(&t.auth_token)),
            default_sms_from: config.twilio_from.clone(),
            webhooks_allow_private: config.webhooks_allow_private,
            link_lookups_per_minute: config.link_lookups_per_minute,
            stream_recheck: std::time::Duration::from_secs(config.stream_recheck_secs),
            trusted_proxies: config.trusted_proxies.clone(),
            stripe,
            trial_days: config.trial_days,
            past_due_grace: chrono::Duration::days(config.past_due_grace_days),
            media_max_bytes: config.media_max_mb * 1024 * 1024,
            payments: pitwall_core::payments::PaymentSettings {
                mode: config.payments.mode,
                fee_bps: config.payments.fee_bps,
                connect_webhook_secrets: config
                    .payments
                    .connect_webhook_secrets
                    .iter()
                    .map(|s| pitwall_core::Secret::new(s))
                    .collect(),
            },
            ocr: config.ocr.clone(),
            ..CoreConfig::new(&config.base_url)
        },
    ))
}

pub fn mailer(config: &Config) -> anyhow::Result<Mailer> {
    match &config.smtp_url {
        Some(url) => Mailer::smtp(url, &config.mail_from).map_err(anyhow::Error::msg),
        None => Mailer::dev(config.data_dir.join("outbox"), &config.mail_from)
            .map_err(anyhow::Error::msg),
    }
}

/// Everything the workers send with: SMTP (or the development outbox),
/// the SMS provider (or the development outbox), and the live hub.
pub fn senders(config: &Config, app: &App) -> anyhow::Result<Senders> {
    let sms = match &config.twilio {
        Some(t) => SmsSender::twilio(TwilioSettings {
            account_sid: t.account_sid.clone(),
            auth_token: t.auth_token.clone(),
            api_base: t.api_base.clone(),
        })
        .map_err(anyhow::Error::msg)?,
        None => SmsSender::dev(config.data_dir.join("outbox")),
    };
    let mailer = mailer(config)?;
    let delivery = pitwall_core::messaging::DeliverySettings {
        base_url: config.base_url.clone(),
        default_sms_from: config.twilio_from.clone(),
        sms_rate_per_sender: config.sms_rate_per_sender,
    };
    Ok(Senders {
        mailer: mailer.clone(),
        messages: std::sync::Arc::new(pitwall_core::messaging::Deliverer::new(
            app, sms, mailer, delivery,
        )),
        webhooks: pitwall_jobs::webhooks::WebhookSettings {
            allow_private: config.webhooks_allow_private,
            ..Default::default()
        },
        billing: app.config().stripe.is_some().then(|| {
            std::sync::Arc::new(pitwall_core::billing::Worker(app.clone()))
                as std::sync::Arc<dyn pitwall_jobs::billing::BillingWork>
        }),
        documents: std::sync::Arc::new(pitwall_core::invoices::DocumentWorker(app.clone())),
    })
}

/// The whole HTTP surface: API, docs, operations and pages, with the stack.
/// `/metrics` is on it unless it has an address of its own.
pub fn endpoint(app: App, public_metrics: bool) -> impl Endpoint {
    let routes: Route =
        pitwall_web::mount(pitwall_api::routes(&app.config().base_url, public_metrics));
    pitwall_api::with_stack(routes, app)
}

/// Starts the job workers in the background; they stop when `stop` fires.
pub fn spawn_workers(
    app: &App,
    db: pitwall_store::Db,
    senders: Senders,
    settings: WorkerSettings,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let handle = app.jobs().clone();
    let sweeper = spawn_media_sweep(app.clone());
    let reminders = spawn_approval_reminders(app.clone());
    tokio::spawn(async move {
        if let Err(e) = pitwall_jobs::runtime::run(db, senders, handle, settings, stop).await {
            tracing::error!(error = %e, "workers stopped with an error");
        }
        sweeper.abort();
        reminders.abort();
    })
}

/// Every minute, the reminders that fell due: unanswered approval requests
/// (shops with a delay in their workflow settings) and unpaid invoices
/// (shops with `reminder_hours`). Each is claimed before it is written, so
/// several workers never send one twice.
fn spawn_approval_reminders(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let now = app.config().clock.now();
            if let Err(e) = pitwall_core::workflow::send_due_reminders(&app, now).await {
                tracing::warn!(error = %e, "approval reminders failed; trying again in a minute");
            }
            if let Err(e) = pitwall_core::invoices::send_due_invoice_reminders(&app, now).await {
                tracing::warn!(error = %e, "invoice reminders failed; trying again in a minute");
            }
        }
    })
}

/// Hourly, removes media files whose row never committed (an upload cut
/// short by a crash). Only files older than an hour: an upload still
/// writing its row is never touched. Several workers sweeping at once
/// only repeat each other's deletes.
fn spawn_media_sweep(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) =
                pitwall_core::inspections::media::sweep(&app, chrono::Duration::hours(1)).await
            {
                tracing::warn!(error = %e, "media sweep failed; trying again in an hour");
            }
        }
    })
}

/// A running server bound to a port (and the metrics one, if any).
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn bind(
    addr: std::net::SocketAddr,
    var: &str,
) -> anyhow::Result<(impl Acceptor + 'static, std::net::SocketAddr)> {
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {var} {addr}"))?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    Ok((acceptor, bound))
}

/// Binds `addr` (port 0 picks a free one) and, with `metrics_addr`, a
/// second listener that serves only `/metrics` (then absent from `addr`),
/// and serves until `stop` fires, then ends live streams and finishes
/// in-flight requests (up to 10 s).
pub async fn serve(
    app: App,
    addr: std::net::SocketAddr,
    metrics_addr: Option<std::net::SocketAddr>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let (acceptor, bound) = bind(addr, "PITWALL_ADDR").await?;
    let metrics = match metrics_addr {
        Some(a) => Some(bind(a, "PITWALL_METRICS_ADDR").await?),
        None => None,
    };
    let metrics_bound = metrics.as_ref().map(|(_, a)| *a);
    let ep = endpoint(app.clone(), metrics.is_none());
    // One stop signal for both listeners. Draining first ends the live
    // streams (their readers reconnect elsewhere) and turns /ready red;
    // then the listeners close and requests in flight finish.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let draining = app.clone();
    tokio::spawn(async move {
        stop.await;
        draining.drain();
        let _ = tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let public = Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
        ep,
        stopped(rx.clone()),
        Some(Duration::from_secs(10)),
    );
    let task = match metrics {
        None => tokio::spawn(public),
        Some((acceptor, _)) => {
            let scrape = Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                pitwall_api::metrics_endpoint(app),
                stopped(rx),
                Some(Duration::from_secs(10)),
            );
            tokio::spawn(async move { tokio::try_join!(public, scrape).map(|_| ()) })
        }
    };
    Ok(Running {
        addr: bound,
        metrics_addr: metrics_bound,
        task,
    })
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
