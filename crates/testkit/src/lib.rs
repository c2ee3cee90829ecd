//! Test kit: spawns the real Pitwall (same assembly as `pitwall serve`) on a
//! random port over its own database, SQLite or PostgreSQL.
//!
//! PostgreSQL databases are cloned from a migrated template (created once
//! per schema version, under an advisory lock so parallel test processes
//! agree), which takes milliseconds per test.

pub mod fake_sms;
pub mod fake_stripe;
pub mod openapi;
pub mod pages;
pub mod process;
pub mod receiver;
pub mod template;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use pitwall::Config;
use pitwall_core::App;
use pitwall_core::domain::{PlatformRole, ShopId};
use pitwall_jobs::runtime::WorkerSettings;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

pub use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the test PostgreSQL listens (trust auth).
pub fn pg_admin_url() -> String {
    std::env::var("PITWALL_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// CI must run the PostgreSQL tests; a developer without PostgreSQL may not.
pub fn pg_required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
        || std::env::var("PITWALL_REQUIRE_PG").is_ok_and(|v| v == "1")
}

/// The migrated template's name: a hash of everything the migrations read
/// (see [`template`]) and of the migrator's own list, computed once per
/// process.
fn template_name() -> anyhow::Result<String> {
    use pitwall_migrations::MigratorTrait;
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(n) = NAME.get() {
        return Ok(n.clone());
    }
    let names: Vec<String> = pitwall_migrations::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let fp = template::fingerprint(&template::workspace_root(), &names)
        .context("hashing what the migrations read")?;
    Ok(NAME
        .get_or_init(|| format!("pitwall_tpl_{}", &fp.digest[..12]))
        .clone())
}

/// A new PostgreSQL database cloned from the migrated template; its name.
pub async fn pg_database(admin_url: &str) -> anyhow::Result<String> {
    let admin = tokio::time::timeout(
        Duration::from_secs(3),
        Database::connect(format!("{admin_url}/postgres")),
    )
    .await
    .context("PostgreSQL did not answer in 3 s")?
    .context("connecting to PostgreSQL")?;
    let backend = admin.get_database_backend();
    let template = template_name()?;
    admin
        .execute_raw(Statement::from_string(
            backend,
            "SELECT pg_advisory_lock(7471)",
        ))
        .await?;
    let exists = admin
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT 1 AS x FROM pg_database WHERE datname = '{template}'"),
        ))
        .await?
        .is_some();
    let made = async {
        if !exists {
            admin
                .execute_raw(Statement::from_string(
                    backend,
                    format!("CREATE DATABASE {template}"),
                ))
                .await?;
            let db = pitwall_store::connect(&format!("{admin_url}/{template}")).await?;
            pitwall::server::migrate(&db).await?;
            db.close().await?;
        }
        anyhow::Ok(())
    }
    .await;
    admin
        .execute_raw(Statement::from_string(
            backend,
            "SELECT pg_advisory_unlock(7471)",
        ))
        .await?;
    made?;
    let name = format!("pitwall_t_{}", uuid::Uuid::new_v4().simple());
    let mut last = None;
    for _ in 0..50 {
        match admin
            .execute_raw(Statement::from_string(
                backend,
                format!("CREATE DATABASE {name} TEMPLATE {template}"),
            ))
            .await
        {
            Ok(_) => {
                last = None;
                break;
            }
            // Two clones of one template at once: the second waits its turn.
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    if let Some(e) = last {
        return Err(e).context("cloning the template database");
    }
    admin.close().await?;
    Ok(name)
}

pub async fn drop_pg_database(name: &str) {
    if let Ok(admin) = Database::connect(format!("{}/postgres", pg_admin_url())).await {
        let _ = admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ))
            .await;
        let _ = admin.close().await;
    }
}

#[derive(Clone, Default)]
pub struct Options {
    /// Run job workers in the app (sends e-mail).
    pub workers: bool,
    /// Send e-mail through SMTP instead of the development outbox.
    pub smtp_url: Option<String>,
    /// Connect through this host:port instead of PostgreSQL's own (a proxy).
    pub pg_via: Option<String>,
    /// Retry delays for jobs (tests use short ones).
    pub min_backoff: Option<Duration>,
    /// More settings, as environment variables (`TWILIO_*`, ...); they
    /// override the kit's own (an empty value unsets one).
    pub env: Vec<(String, String)>,
}

pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    /// Where `/metrics` is served when `PITWALL_METRICS_ADDR` is set.
    pub metrics_url: Option<String>,
    pub app: App,
    /// The app's database, for tests that look at rows the API does not
    /// show (the app itself reaches it only through core).
    pub db: pitwall_store::Db,
    pub client: reqwest::Client,
    pub dir: PathBuf,
    /// The database this app runs on, for a second process to share it.
    pub database_url: String,
    pg_name: Option<String>,
    stop: Option<tokio::sync::broadcast::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    workers: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Spawns Pitwall; `None` when PostgreSQL is wanted but not reachable
    /// and not required (a developer machine without it).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, opts: Options) -> Option<Self> {
        match Self::try_spawn(backend, opts).await {
            Ok(t) => Some(t),
            Err(e) if backend == Backend::Postgres && !pg_required() => {
                eprintln!(
                    "SKIPPED: PostgreSQL is not reachable ({e:#}); set PITWALL_TEST_PG or start it"
                );
                None
            }
            Err(e) => panic!("could not start the test app: {e:#}"),
        }
    }

    async fn try_spawn(backend: Backend, opts: Options) -> anyhow::Result<Self> {
        static LOGS: std::sync::Once = std::sync::Once::new();
        LOGS.call_once(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        });
        let dir =
            std::env::temp_dir().join(format!("pitwall-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let (database_url, pg_name) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/pitwall.db?mode=rwc", dir.display()),
                None,
            ),
            Backend::Postgres => {
                let name = pg_database(&pg_admin_url()).await?;
                let host = opts
                    .pg_via
                    .clone()
                    .unwrap_or_else(|| "127.0.0.1:5432".into());
                (format!("postgres://postgres@{host}/{name}"), Some(name))
            }
        };
        let mut env = vec![
            ("DATABASE_URL".to_owned(), database_url.clone()),
            ("PITWALL_DATA_DIR".to_owned(), dir.display().to_string()),
            ("PITWALL_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            // Tests receive shops' webhooks on 127.0.0.1.
            (
                "PITWALL_WEBHOOKS_ALLOW_PRIVATE".to_owned(),
                "true".to_owned(),
            ),
        ];
        if let Some(smtp) = &opts.smtp_url {
            env.push(("SMTP_URL".to_owned(), smtp.clone()));
        }
        env.extend(opts.env.iter().cloned());
        // The last entry wins, so a test can override the kit's defaults
        // (an empty value reads as unset).
        let config =
            Config::from_lookup(|k| env.iter().rfind(|(n, _)| n == k).map(|(_, v)| v.clone()))?;
        let db = pitwall::server::open_db(&config, false).await?;
        if backend == Backend::Sqlite {
            pitwall::server::migrate(&db).await?;
        }
        // The base URL is known only once the port is bound; bind first
        // with a provisional app, then use the real address for links.
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = probe.local_addr()?;
        drop(probe);
        let base_url = format!("http://{addr}");
        // A test may give the app a public URL of its own (https, say);
        // the test client still talks to the listener.
        let public_url = if opts
            .env
            .iter()
            .any(|(n, v)| n == "PITWALL_BASE_URL" && !v.is_empty())
        {
            config.base_url.clone()
        } else {
            base_url.clone()
        };
        let config = Config {
            base_url: public_url,
            addr,
            ..config
        };
        let app = pitwall::server::build_app(&config, db.clone()).await?;
        let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
        let workers = if opts.workers {
            let mut rx = stop.subscribe();
            let settings = WorkerSettings {
                poll_interval: Duration::from_millis(50),
                min_backoff: opts.min_backoff.unwrap_or(Duration::from_millis(20)),
                max_backoff: Duration::from_millis(200),
                shutdown_timeout: Duration::from_secs(5),
                heartbeat: Duration::from_secs(5),
            };
            Some(pitwall::server::spawn_workers(
                &app,
                db.clone(),
                pitwall::server::senders(&config, &app)?,
                settings,
                async move {
                    let _ = rx.recv().await;
                },
            ))
        } else {
            None
        };
        let mut rx = stop.subscribe();
        let running = pitwall::server::serve(app.clone(), addr, config.metrics_addr, async move {
            let _ = rx.recv().await;
        })
        .await?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            backend,
            base_url,
            metrics_url: running.metrics_addr.map(|a| format!("http://{a}")),
            app,
            db,
            client,
            dir,
            database_url,
            pg_name,
            stop: Some(stop),
            server: Some(running.task),
            workers,
        })
    }

    /// Stops the app and removes its database.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
        if let Some(w) = self.workers.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
        self.app.authz().stop_sync();
        let _ = self.db.clone().close().await;
        if let Some(name) = self.pg_name.take() {
            drop_pg_database(&name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Sends a JSON request; answers status and parsed body (Null if none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let verb = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut req = self.client.request(verb, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        // A live stream never ends: its status is the answer.
        let streaming = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if streaming {
            return (status, Value::Null);
        }
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        // Every answer a test reads through here is held to the published
        // document, so the document cannot drift from what is sent.
        if let Err(e) = openapi::committed().check(method, path, status.as_u16(), &body) {
            panic!("{e}");
        }
        (status, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    /// Sends `bytes` as the form field `file` (multipart, as a phone's
    /// browser does); the answer is held to the document like `call`'s.
    pub async fn upload(
        &self,
        path: &str,
        token: &str,
        file_name: &str,
        declared_type: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(declared_type)
            .expect("content type");
        let form = reqwest::multipart::Form::new().part("file", part);
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        let body =
            serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        if let Err(e) = openapi::committed().check("POST", path, status.as_u16(), &body) {
            panic!("{e}");
        }
        (status, body)
    }

    /// A GET whose answer is bytes (a photo, a video range): status,
    /// headers and body as sent.
    pub async fn fetch(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Err(e) = openapi::committed().check("GET", path, status.as_u16(), &json) {
            panic!("{e}");
        }
        (status, headers, body)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// A new POS API key of the signed-in owner's shop: its secret.
    pub async fn pos_key(&self, owner: &str) -> String {
        let (s, b) = self
            .post(
                "/api/v1/api-keys",
                owner,
                serde_json::json!({"name": "POS"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["secret"].as_str().expect("secret").to_owned()
    }

    /// Signs in through the API; panics on failure.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// A shop with an owner who can sign in; answers the shop and the
    /// owner's token.
    pub async fn shop(&self, slug: &str, plan: &str) -> (ShopId, String) {
        let email = format!("owner@{slug}.test");
        let created = pitwall_core::shops::create_shop(
            &self.app,
            pitwall_core::shops::Creator::Cli,
            pitwall_core::shops::NewShopInput {
                name: &format!("Shop {slug}"),
                slug,
                plan,
                owner_email: &email,
                owner_password: Some(PASSWORD),
                time_zone: None,
            },
        )
        .await
        .expect("create shop");
        let token = self.login(&email, PASSWORD).await;
        (ShopId::from_uuid(created.shop.id), token)
    }

    /// Adds a member with `role` directly (no e-mail) and signs them in.
    pub async fn member(
        &self,
        shop: ShopId,
        email: &str,
        role: pitwall_core::domain::Role,
    ) -> (pitwall_core::domain::UserId, String) {
        let user = pitwall_core::shops::add_staff(&self.app, shop, email, PASSWORD, role)
            .await
            .expect("add staff");
        (user, self.login(email, PASSWORD).await)
    }

    /// A platform admin (or support user) token.
    pub async fn platform(&self, email: &str, role: PlatformRole) -> String {
        pitwall_core::shops::create_platform_user(&self.app, email, PASSWORD, role)
            .await
            .expect("platform user");
        self.login(email, PASSWORD).await
    }

    /// Platform support assigns the shop its own sender number (the admin
    /// API, as support does); answers the response.
    pub async fn assign_sms_from(&self, shop: ShopId, number: Option<&str>) -> (StatusCode, Value) {
        let email = format!("numbers-{}@platform.test", uuid::Uuid::new_v4().simple());
        let support = self.platform(&email, PlatformRole::Support).await;
        self.call(
            "PUT",
            &format!("/api/admin/v1/shops/{shop}/sms-from"),
            Some(&support),
            Some(serde_json::json!({ "sms_from": number })),
        )
        .await
    }

    /// Waits until an e-mail to `to` is in the development outbox; answers
    /// its raw text.
    pub async fn wait_for_mail(&self, to: &str) -> String {
        let dir = self.dir.join("outbox");
        for _ in 0..600 {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if let Ok(text) = std::fs::read_to_string(e.path())
                        && text.contains(&format!("To: {to}"))
                    {
                        return text;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no e-mail to {to} arrived in 30 s");
    }
}

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// The first link in an e-mail that starts with `prefix`; undoes the
/// quoted-printable soft breaks mail bodies may have.
pub fn link_in(mail: &str, prefix: &str) -> String {
    let unfolded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = unfolded
        .find(prefix)
        .unwrap_or_else(|| panic!("no link {prefix} in mail:\n{mail}"));
    unfolded[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Runs a test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = $body;
                if let Some(t) = $crate::TestApp::spawn($crate::Backend::Sqlite).await {
                    f(&t).await;
                    t.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let f = $body;
                if let Some(t) = $crate::TestApp::spawn($crate::Backend::Postgres).await {
                    f(&t).await;
                    t.finish().await;
                }
            }
        }
    };
}
