//! Operations: probes, metrics, headers, real SMTP, dead jobs, and a
//! database outage through a TCP proxy that the test cuts and restores.

use std::time::{Duration, Instant};

use pitwall_core::domain::PlatformRole;
use pitwall_testkit::{Backend, Options, StatusCode, TestApp, both_backends, link_in};
use serde_json::json;

/// GETs `path` asking for gzip (or not); status, the headers that matter
/// and the body as it came over the wire.
async fn fetch_encoded(
    t: &TestApp,
    path: &str,
    token: Option<&str>,
    accept: &str,
) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
    let mut req = t.client.get(t.url(path)).header("accept-encoding", accept);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (encoding, vary) = (header("content-encoding"), header("vary"));
    (
        r.status(),
        encoding,
        vary,
        r.bytes().await.unwrap().to_vec(),
    )
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip stream");
    out
}

both_backends!(
    text_answers_are_gzipped_when_asked_but_never_staff_pages,
    async |t: &TestApp| {
        let (_, owner) = t.shop("gzip-shop", "premium").await;
        let (_, sheets) = t.get("/api/v1/inspection-templates", &owner).await;
        let sheet = format!(
            "/api/v1/inspection-templates/{}",
            sheets["items"][0]["id"].as_str().unwrap()
        );
        // API JSON, the document and an asset: compressed, and the same
        // bytes once unpacked.
        for (path, token) in [
            (sheet.as_str(), Some(owner.as_str())),
            ("/openapi.json", None),
            ("/static/customer.css", None),
        ] {
            let (s, plain_enc, _, plain) = fetch_encoded(t, path, token, "identity").await;
            assert_eq!(s, StatusCode::OK, "{path}");
            assert_eq!(plain_enc, None, "{path}: identity asked for");
            let (s, enc, vary, packed) = fetch_encoded(t, path, token, "br, gzip;q=0.8").await;
            assert_eq!(s, StatusCode::OK, "{path}");
            assert_eq!(enc.as_deref(), Some("gzip"), "{path}");
            assert!(
                vary.unwrap_or_default().contains("accept-encoding"),
                "{path}"
            );
            assert!(
                packed.len() < plain.len() / 2,
                "{path}: {} of {}",
                packed.len(),
                plain.len()
            );
            assert_eq!(gunzip(&packed), plain, "{path}");
            // A weight of zero refuses it.
            let (_, enc, _, _) = fetch_encoded(t, path, token, "gzip;q=0").await;
            assert_eq!(enc, None, "{path}: gzip;q=0");
        }
        // Small answers are not worth it.
        let (s, enc, _, body) =
            fetch_encoded(t, "/api/v1/inspection-templates", Some(&owner), "gzip").await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.len() < 1024, "{}", body.len());
        assert_eq!(enc, None, "a small answer is sent as is");
        // Staff pages are never compressed (CSRF tokens beside reflected
        // text), however the client asks.
        let browser = pitwall_testkit::pages::browser();
        pitwall_testkit::pages::sign_in(t, &browser, "owner@gzip-shop.test").await;
        let r = browser
            .get(t.url("/app/inspection-sheets"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers().get("content-encoding").is_none(),
            "a staff page must not be compressed"
        );
        let html = r.text().await.unwrap();
        assert!(
            html.contains("name=\"csrf\""),
            "the page holds a CSRF token"
        );
        assert!(html.len() > 1024, "the page is big enough to compress");
    }
);

both_backends!(probes_metrics_and_headers, async |t: &TestApp| {
    let r = t.client.get(t.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t.client.get(t.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for h in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "x-request-id",
    ] {
        assert!(r.headers().contains_key(h), "missing {h}");
    }
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let (_, token) = t.shop("metrics-shop", "starter").await;
    t.get("/api/v1/me", &token).await;
    let m = t
        .client
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("pitwall_http_requests_total"), "{m}");
    assert!(m.contains("route=\"/api/v1/me\""), "{m}");
    assert!(m.contains("pitwall_http_request_duration_seconds_bucket"));
    let spec = t.client.get(t.url("/openapi.json")).send().await.unwrap();
    assert_eq!(spec.status(), StatusCode::OK);
    let docs = t.client.get(t.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);

    // During an upgrade the database holds a migration this binary does not
    // know yet: old pods must stay ready.
    use pitwall_store::sea_orm::{ConnectionTrait, Statement};
    t.db.execute_raw(Statement::from_string(
        t.db.get_database_backend(),
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_future', 0)",
    ))
    .await
    .unwrap();
    let r = t.client.get(t.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
});

/// A real SMTP server (Debian's python3-aiosmtpd) that writes each message
/// into a folder.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl SmtpServer {
    fn start() -> Option<Self> {
        Self::start_on(None)
    }

    /// On `port` if given (one try), else on a free port.
    fn start_on(fixed: Option<u16>) -> Option<Self> {
        // Two tests may be handed the same free port; only a server whose
        // own Maildir appeared is ours, otherwise try another port.
        for _ in 0..if fixed.is_some() { 1 } else { 5 } {
            let port = match fixed {
                Some(p) => p,
                None => std::net::TcpListener::bind("127.0.0.1:0")
                    .ok()?
                    .local_addr()
                    .ok()?
                    .port(),
            };
            let dir = std::env::temp_dir()
                .join(format!("pitwall-smtp-{}", uuid::Uuid::new_v4().simple()));
            // aiosmtpd's Mailbox handler makes the Maildir (tmp/new/cur)
            // itself, but only when the folder does not exist yet.
            let mut child = std::process::Command::new("/usr/bin/python3")
                .args([
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    &format!("127.0.0.1:{port}"),
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                ])
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .ok()?;
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if dir.join("new").exists()
                    && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(None) = child.try_wait() {
                        return Some(Self { child, port, dir });
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.dir.join(sub)) {
                for e in rd.flatten() {
                    if let Ok(t) = std::fs::read_to_string(e.path()) {
                        out.push(t);
                    }
                }
            }
        }
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn invitation_over_smtp(backend: Backend) {
    let Some(smtp) = SmtpServer::start() else {
        if pitwall_testkit::pg_required() {
            panic!("python3-aiosmtpd is needed (apt-get install python3-aiosmtpd)");
        }
        eprintln!("SKIPPED: python3-aiosmtpd is not installed");
        return;
    };
    let opts = Options {
        workers: true,
        smtp_url: Some(format!("smtp://127.0.0.1:{}", smtp.port)),
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        return;
    };
    let (_, owner) = t.shop("smtp-shop", "pro").await;
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &owner,
            json!({"email": "tech@smtp.test", "role": "technician"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let started = Instant::now();
    let mail = loop {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("tech@smtp.test"))
        {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no mail reached the SMTP server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    let link = link_in(&mail, &format!("{}/invitations/", t.base_url));
    assert!(link.len() > t.base_url.len() + 40, "{link}");

    // A status e-mail to a customer: from Pitwall, replies to the shop's
    // own address, text and HTML, names escaped in the HTML part.
    let (s, b) = t
        .call(
            "PUT",
            "/api/v1/shop",
            Some(&owner),
            Some(json!({"name": "SMTP Garage", "time_zone": "America/Chicago", "email": "desk@smtp-garage.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
        .await;
    let key = key["secret"].as_str().unwrap().to_owned();
    let (s, pushed) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/RO-SMTP",
            Some(&key),
            Some(json!({
                "kind": "workorder", "number": "77", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": "C-SMTP", "first_name": "Ann<b>", "last_name": "Lee",
                             "email": "ann@customer.test"},
                "services": [],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
    let status = statuses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["notify_customer"] == true)
        .unwrap()["id"]
        .clone();
    let ticket = pushed["ticket"]["id"].as_str().unwrap();
    let (s, set) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/status"),
            Some(&owner),
            Some(json!({"status_id": status})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(set["messages"][0]["channel"], "email");
    let started = Instant::now();
    let mail = loop {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("ann@customer.test"))
        {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the customer e-mail never reached the SMTP server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(mail.contains("Reply-To: desk@smtp-garage.test"), "{mail}");
    assert!(
        mail.contains("From: \"SMTP Garage\" <no-reply@")
            || mail.contains("From: SMTP Garage <no-reply@"),
        "{mail}"
    );
    assert!(mail.contains("Subject: SMTP Garage:"), "{mail}");
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(
        mail.contains("Ann&lt;b&gt;"),
        "the HTML part escapes names: {mail}"
    );
    let (_, th) = t
        .get(
            &format!(
                "/api/v1/threads/{}",
                pushed["ticket"]["customer"]["id"].as_str().unwrap()
            ),
            &owner,
        )
        .await;
    let mut sent = false;
    for _ in 0..100 {
        let (_, th) = t
            .get(
                &format!(
                    "/api/v1/threads/{}",
                    pushed["ticket"]["customer"]["id"].as_str().unwrap()
                ),
                &owner,
            )
            .await;
        if th["messages"][0]["status"] == "sent" {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent, "the e-mail is recorded as sent: {th}");
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_over_real_smtp_sqlite() {
    invitation_over_smtp(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_over_real_smtp_postgres() {
    invitation_over_smtp(Backend::Postgres).await;
}

async fn dead_job_is_visible_and_retryable(backend: Backend) {
    // Nothing listens on this port: every attempt fails, transiently.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = Options {
        workers: true,
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        min_backoff: Some(Duration::from_millis(10)),
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        return;
    };
    let (_, owner) = t.shop("dead-shop", "pro").await;
    let admin = t
        .platform("jobs@platform.test", PlatformRole::Support)
        .await;
    t.post(
        "/api/v1/invitations",
        &owner,
        json!({"email": "lost@dead.test", "role": "viewer"}),
    )
    .await;
    let started = Instant::now();
    let job = loop {
        let (s, jobs) = t.get("/api/admin/v1/jobs?state=dead", &admin).await;
        assert_eq!(s, StatusCode::OK, "{jobs}");
        if let Some(j) = jobs["items"].as_array().unwrap().first() {
            break j.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job never died"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["queue"], "pitwall.email");
    assert!(job["attempts"].as_i64().unwrap() >= 1, "{job}");
    let id = job["id"].as_str().unwrap();
    // The mail server comes back; a retried job runs again and sends.
    let Some(smtp) = SmtpServer::start_on(Some(port)) else {
        if pitwall_testkit::pg_required() {
            panic!("python3-aiosmtpd is needed (apt-get install python3-aiosmtpd)");
        }
        eprintln!("SKIPPED: python3-aiosmtpd is not installed");
        t.finish().await;
        return;
    };
    assert!(
        smtp.messages().is_empty(),
        "nothing is sent before the retry"
    );
    let (s, b) = t
        .post(&format!("/api/admin/v1/jobs/{id}/retry"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let started = Instant::now();
    while !smtp.messages().iter().any(|m| m.contains("lost@dead.test")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the retried job never sent the invitation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, dead) = t.get("/api/admin/v1/jobs?state=dead", &admin).await;
    assert!(
        !dead["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id),
        "the job is dead no more: {dead}"
    );
    let (s, _) = t
        .post("/api/admin/v1/jobs/not-a-job/retry", &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, audit) = t.get("/api/admin/v1/audit", &admin).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "job.retry" && e["target"] == id),
        "{audit}"
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_sqlite() {
    dead_job_is_visible_and_retryable(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_postgres() {
    dead_job_is_visible_and_retryable(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_recovers() {
    let proxy = pitwall_testkit::process::PgProxy::start("127.0.0.1:5432").await;
    let opts = Options {
        pg_via: Some(proxy.addr.clone()),
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(Backend::Postgres, opts).await else {
        return;
    };
    let (_, token) = t.shop("outage-shop", "starter").await;
    assert_eq!(t.get("/api/v1/me", &token).await.0, StatusCode::OK);

    proxy.cut().await;
    let started = Instant::now();
    let (s, b) = t.get("/api/v1/me", &token).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["code"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let r = t.client.get(t.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        t.client
            .get(t.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    proxy.restore();
    let started = Instant::now();
    loop {
        let (s, _) = t.get("/api/v1/me", &token).await;
        if s == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not recover: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        t.client.get(t.url("/ready")).send().await.unwrap().status(),
        StatusCode::OK
    );
    t.finish().await;
}

/// Whether the stream ends within `secs` (its body runs out).
async fn stream_ends_within(stream: &mut reqwest::Response, secs: u64) -> bool {
    tokio::time::timeout(Duration::from_secs(secs), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await
    .is_ok()
}

// A stopping node drains before it closes: the balancer is told (/ready
// 503) and live streams end at once, so their readers reconnect to another
// node instead of holding this one's shutdown for its whole grace period.
both_backends!(
    a_draining_node_is_not_ready_and_ends_its_streams,
    async |t: &TestApp| {
        let (_, owner) = t.shop("drain-shop", "premium").await;
        let mut stream = t
            .client
            .get(t.url("/api/v1/events"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        assert!(
            !stream_ends_within(&mut stream, 1).await,
            "open while serving"
        );
        let r = t.client.get(t.url("/ready")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        t.app.drain();
        assert!(
            stream_ends_within(&mut stream, 2).await,
            "ended by draining"
        );
        let r = t.client.get(t.url("/ready")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.text().await.unwrap(), "stopping");
        // Requests still work while the node finishes; a stream opened now
        // ends at once.
        let (s, _) = t.get("/api/v1/me", &owner).await;
        assert_eq!(s, StatusCode::OK);
        let mut late = t
            .client
            .get(t.url("/api/v1/events"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        assert!(stream_ends_within(&mut late, 2).await, "a late stream ends");
        let r = t.client.get(t.url("/health")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "still alive: no restart");
    }
);
