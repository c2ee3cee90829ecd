//! The security review's findings (issue 14), each shown end to end over
//! HTTP against the real server: client addresses behind proxies, bounded
//! work before sign-in, metrics, outgoing webhooks and HSTS.

use pitwall_store::sea_orm::{ConnectionTrait, Statement};
use pitwall_testkit::{Backend, Options, StatusCode, TestApp};
use serde_json::{Value, json};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The first column of the first row `sql` answers, as text.
async fn text(t: &TestApp, sql: &str) -> Option<String> {
    t.db.query_one_raw(Statement::from_string(t.db.get_database_backend(), sql))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index::<Option<String>>(0).ok())
        .flatten()
}

async fn spawn(backend: Backend, pairs: &[(&str, &str)]) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        Options {
            env: env(pairs),
            ..Default::default()
        },
    )
    .await
}

/// Runs a test body on both databases with the loopback (where the test
/// client connects from) as a trusted proxy, so requests can say which
/// client they stand for with `X-Forwarded-For`.
macro_rules! both_backends_behind_proxy {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            async fn run(backend: Backend) {
                let f = $body;
                if let Some(t) = spawn(backend, &[("PITWALL_TRUSTED_PROXIES", "127.0.0.1")]).await {
                    f(&t).await;
                    t.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        }
    };
}

// ---- 1. client addresses behind a proxy -------------------------------------

/// Looks a (made-up) customer link up through the JSON API and the page,
/// claiming to come from `forwarded`; answers both statuses.
async fn link_lookup(t: &TestApp, forwarded: &str) -> [StatusCode; 2] {
    let token = format!("pwc_{}", "A".repeat(43));
    let mut out = [StatusCode::OK; 2];
    for (i, path) in [
        format!("/api/customer/v1/links/{token}"),
        format!("/c/{token}"),
    ]
    .iter()
    .enumerate()
    {
        let resp = t
            .client
            .get(t.url(path))
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .expect("request sent");
        out[i] = resp.status();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // The test client connects from 127.0.0.1, which is not in the list.
    let Some(t) = spawn(
        Backend::Sqlite,
        &[
            ("PITWALL_LINK_LOOKUPS_PER_MINUTE", "2"),
            ("PITWALL_TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
    )
    .await
    else {
        return;
    };
    // Each lookup claims another address; all of them count against the
    // real peer. Two lookups per call and six calls: however the minute
    // boundary falls, one window sees more than two.
    let mut limited = 0;
    for i in 0..6 {
        let got = link_lookup(&t, &format!("203.0.113.{i}")).await;
        limited += got
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
    }
    assert!(
        limited >= 6,
        "forged addresses must not escape the limit ({limited} refused)"
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_a_trusted_peer_name_the_client() {
    let Some(t) = spawn(
        Backend::Sqlite,
        &[
            ("PITWALL_LINK_LOOKUPS_PER_MINUTE", "2"),
            ("PITWALL_TRUSTED_PROXIES", "127.0.0.0/8, ::1"),
        ],
    )
    .await
    else {
        return;
    };
    // Every client behind the proxy has its own allowance: the
    // right-most address that is not a trusted proxy is the client, so a
    // forged left-most entry changes nothing.
    for i in 0..6 {
        let got = link_lookup(&t, &format!("6.6.6.6, 198.51.100.{i}, 127.0.0.9")).await;
        assert_eq!(got, [StatusCode::NOT_FOUND; 2], "client 198.51.100.{i}");
    }
    // One client still meets the limit...
    let mut limited = 0;
    for i in 0..6 {
        let got = link_lookup(&t, &format!("{i}.{i}.{i}.{i}, 192.0.2.1")).await;
        limited += got
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
    }
    assert!(limited >= 6, "one client, {limited} refused");
    // ... and so does an IPv6 client moving around its /64.
    let mut limited = 0;
    for i in 0..6 {
        let got = link_lookup(&t, &format!("2001:db8:7:7::{i:x}")).await;
        limited += got
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
    }
    assert!(limited >= 6, "one /64, {limited} refused");
    t.finish().await;
}

/// A Premium shop with one ticket of two services pushed by its POS;
/// answers the owner's token, the ticket id and the service ids.
async fn shop_with_ticket(t: &TestApp, slug: &str) -> (String, String, Vec<String>) {
    let (_, owner) = t.shop(slug, "premium").await;
    let (s, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    let ticket = json!({
        "kind": "estimate", "number": "7001",
        "customer": {"external_id": "C-1", "first_name": "Dana", "last_name": "Reyes",
                     "phone": "(512) 555-0123"},
        "vehicle": {"external_id": "V-1", "year": 2019, "make": "Honda", "model": "Civic"},
        "services": [
            {"external_id": "S-1", "title": "Front brakes", "status": "recommended", "line_items": [
                {"kind": "labor", "description": "Pads", "quantity": 1, "unit_price": 10000, "taxable": false}]},
            {"external_id": "S-2", "title": "Wipers", "status": "recommended", "line_items": [
                {"kind": "part", "description": "Blades", "quantity": 1, "unit_price": 1500, "taxable": true}]}
        ],
        "tax_rate": 0.1,
        "pos_updated_at": "2026-11-23T10:00:00Z",
    });
    let (s, b) = t
        .call("PUT", "/api/pos/v1/tickets/E-1", Some(&key), Some(ticket))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["ticket"]["id"].as_str().unwrap_or_default().to_owned();
    let services = b["ticket"]["services"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (owner, id, services)
}

/// Issues a customer link; answers its token.
async fn customer_link(t: &TestApp, owner: &str, ticket: &str) -> String {
    let (s, b) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/customer-links"),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["url"]
        .as_str()
        .and_then(|u| u.rsplit("/c/").next())
        .unwrap_or_default()
        .to_owned()
}

/// Approves the first service through the customer's JSON API with
/// `X-Forwarded-For: forwarded`.
async fn approve_from(t: &TestApp, token: &str, services: &[String], forwarded: &str) {
    let (_, view) = t
        .call(
            "GET",
            &format!("/api/customer/v1/links/{token}"),
            None,
            None,
        )
        .await;
    let (s, b) = t
        .call_with(
            "POST",
            &format!("/api/customer/v1/links/{token}/approval"),
            None,
            Some(json!({
                "approved_service_ids": [services[0]],
                "declined_service_ids": [services[1]],
                "signer_name": "Dana",
                "signature": "data:image/png;base64,iVBORw0KGgpzaWduYXR1cmU=",
                "ticket_version": view["ticket_version"],
            })),
            &[("x-forwarded-for", forwarded)],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_records_the_client_a_trusted_proxy_names() {
    for (trusted, expected) in [("", "127.0.0.1"), ("127.0.0.1/32", "203.0.113.7")] {
        let Some(t) = spawn(Backend::Sqlite, &[("PITWALL_TRUSTED_PROXIES", trusted)]).await else {
            return;
        };
        let (owner, ticket, services) = shop_with_ticket(&t, "evidence-shop").await;
        let token = customer_link(&t, &owner, &ticket).await;
        approve_from(&t, &token, &services, "6.6.6.6, 203.0.113.7").await;
        assert_eq!(
            text(&t, "SELECT ip FROM approvals").await.as_deref(),
            Some(expected),
            "trusted proxies {trusted:?}"
        );
        t.finish().await;
    }
}

// ---- 2. bounded bodies and work before sign-in --------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_forms_over_the_limit_are_refused_with_the_envelope() {
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let big = format!("email=a%40b.test&password={}", "x".repeat(1024 * 1024 + 1));
    for path in ["/login", "/forgot-password", "/c/pwc_x/approval"] {
        let resp = t
            .client
            .post(t.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &t.base_url)
            .body(big.clone())
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        assert_eq!(body["code"], "payload_too_large", "{path}: {body}");
        assert!(body["message"].is_string() && body.get("field").is_some());
    }
    // A form of ordinary size is read as before.
    let resp = t
        .client
        .post(t.url("/login"))
        .header("origin", &t.base_url)
        .form(&[
            ("email", "nobody@example.com"),
            ("password", "not it at all"),
        ])
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    t.finish().await;
}

/// Signs in through the API claiming to come from `client` (the test runs
/// with the loopback as trusted proxy).
async fn sign_in_from(t: &TestApp, email: &str, password: &str, client: &str) -> StatusCode {
    t.call_with(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
        &[("x-forwarded-for", client)],
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_runs_under_a_concurrency_limit() {
    let Some(t) = spawn(Backend::Sqlite, &[("PITWALL_TRUSTED_PROXIES", "127.0.0.1")]).await else {
        return;
    };
    let limit = t.app.passwords().limit();
    // More sign-ins at once than there are permits, each from its own
    // address so that no rate limit stops one before its password check.
    let attempts = (0..limit + 4).map(|i| {
        let email = format!("nobody{i}@example.com");
        let client = format!("198.51.100.{}", i % 250);
        let t = &t;
        async move { sign_in_from(t, &email, "a wrong password", &client).await }
    });
    let answers = futures::future::join_all(attempts).await;
    assert!(
        answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    let most = t.app.passwords().max_in_flight();
    assert!(most >= 1, "the checks ran");
    assert!(
        most <= limit,
        "{most} password checks at once, limit {limit}"
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_counts_the_attempt_before_checking_the_password() {
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    t.shop("burst-shop", "starter").await;
    // A burst of guesses sent at once: each is counted before its (slow)
    // password check, so no more than the free attempts get a check.
    let answers = futures::future::join_all((0..12).map(|_| {
        let t = &t;
        async move {
            t.call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "owner@burst-shop.test", "password": "a wrong guess"})),
            )
            .await
            .0
        }
    }))
    .await;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, 12, "{answers:?}");
    assert!(
        checked as u64 <= pitwall_core::auth::FREE_ATTEMPTS_PER_ACCOUNT,
        "{checked} guesses were checked: {answers:?}"
    );
    t.finish().await;
}

both_backends_behind_proxy!(
    failures_slow_down_the_address_not_the_account,
    async |t: &TestApp| {
        t.shop("slow-shop", "starter").await;
        let owner = "owner@slow-shop.test";
        for _ in 0..pitwall_core::auth::FREE_ATTEMPTS_PER_ACCOUNT {
            assert_eq!(
                sign_in_from(t, owner, "a wrong guess", "203.0.113.5").await,
                StatusCode::UNAUTHORIZED
            );
        }
        // The guessing address waits, even with the right password...
        assert_eq!(
            sign_in_from(t, owner, pitwall_testkit::PASSWORD, "203.0.113.5").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // ... while the owner, elsewhere, signs in.
        assert_eq!(
            sign_in_from(t, owner, pitwall_testkit::PASSWORD, "198.51.100.5").await,
            StatusCode::OK
        );
    }
);

async fn confirm_reset(t: &TestApp, token: &str, password: &str) -> StatusCode {
    t.call(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        None,
        Some(json!({"token": token, "password": password})),
    )
    .await
    .0
}

async fn ask_reset(t: &TestApp, email: &str, client: &str) -> (StatusCode, Value) {
    t.call_with(
        "POST",
        "/api/v1/auth/password-reset",
        None,
        Some(json!({"email": email})),
        &[("x-forwarded-for", client)],
    )
    .await
}

both_backends_behind_proxy!(
    reset_confirmation_checks_the_token_before_hashing,
    async |t: &TestApp| {
        let before = t.app.passwords().hashes_made();
        for token in ["guessed", "pwr_0000000000000000000000000000000000000000000"] {
            assert_eq!(
                confirm_reset(t, token, "a brand new password").await,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(
            t.app.passwords().hashes_made(),
            before,
            "a token that names nothing costs no hashing"
        );
    }
);

both_backends_behind_proxy!(
    reset_requests_are_limited_per_account_and_per_address,
    async |t: &TestApp| {
        use pitwall_core::auth::{RESETS_PER_ACCOUNT, RESETS_PER_ADDRESS};
        t.shop("resetlimit-shop", "starter").await;
        // One account, asked for from ever new addresses.
        for i in 0..RESETS_PER_ACCOUNT {
            let (s, b) = ask_reset(t, "owner@resetlimit-shop.test", &format!("192.0.2.{i}")).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let (s, b) = ask_reset(t, "owner@resetlimit-shop.test", "192.0.2.200").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
        assert_eq!(b["code"], "rate_limited");
        // The same for an address with no account: the limit says nothing.
        for i in 0..RESETS_PER_ACCOUNT {
            let (s, _) = ask_reset(t, "ghost@resetlimit-shop.test", &format!("192.0.2.{i}")).await;
            assert_eq!(s, StatusCode::OK);
        }
        let (s, _) = ask_reset(t, "ghost@resetlimit-shop.test", "192.0.2.201").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        // One address asking for ever new accounts.
        for i in 0..RESETS_PER_ADDRESS {
            let (s, b) = ask_reset(t, &format!("someone{i}@example.com"), "203.0.113.77").await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let (s, _) = ask_reset(t, "one-more@example.com", "203.0.113.77").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    }
);

/// Makes every insert into `password_resets` fail, as a broken disk or a
/// bug would: only a request for an existing account gets that far.
async fn break_reset_inserts(t: &TestApp) {
    let statements: &[&str] = match t.backend {
        Backend::Sqlite => &["CREATE TRIGGER no_resets BEFORE INSERT ON password_resets \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION no_resets() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER no_resets BEFORE INSERT ON password_resets \
             FOR EACH ROW EXECUTE FUNCTION no_resets()",
        ],
    };
    for sql in statements {
        t.db.execute_raw(Statement::from_string(t.db.get_database_backend(), *sql))
            .await
            .expect("trigger installed");
    }
}

both_backends_behind_proxy!(
    a_reset_request_answers_alike_whether_the_account_exists,
    async |t: &TestApp| {
        t.shop("alike-shop", "starter").await;
        break_reset_inserts(t).await;
        // The answer comes before (and without) any work that depends on
        // the account, so even that work failing cannot tell them apart.
        let known = ask_reset(t, "owner@alike-shop.test", "192.0.2.10").await;
        let unknown = ask_reset(t, "nobody@alike-shop.test", "192.0.2.11").await;
        assert_eq!(known.0, StatusCode::OK, "{}", known.1);
        assert_eq!(known, unknown);
    }
);

/// The reset link of the newest e-mail to `to` that is not `except`.
async fn next_reset_link(t: &TestApp, to: &str, except: Option<&str>) -> String {
    let prefix = format!("{}/reset-password/", t.base_url);
    for _ in 0..600 {
        if let Ok(entries) = std::fs::read_dir(t.dir.join("outbox")) {
            for e in entries.flatten() {
                if let Ok(mail) = std::fs::read_to_string(e.path())
                    && mail.contains(&format!("To: {to}"))
                {
                    let link = pitwall_testkit::link_in(&mail, &prefix);
                    if Some(link.as_str()) != except {
                        return link;
                    }
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new reset e-mail to {to} in 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_request_or_a_reset_ends_older_reset_links() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(t) = TestApp::spawn_with(
            backend,
            Options {
                workers: true,
                ..Default::default()
            },
        )
        .await
        else {
            continue;
        };
        let (_, _) = t.shop("links-shop", "starter").await;
        let owner = "owner@links-shop.test";
        assert_eq!(ask_reset(&t, owner, "192.0.2.1").await.0, StatusCode::OK);
        let first = next_reset_link(&t, owner, None).await;
        assert_eq!(ask_reset(&t, owner, "192.0.2.1").await.0, StatusCode::OK);
        let second = next_reset_link(&t, owner, Some(&first)).await;
        let token = |link: &str| link.rsplit('/').next().unwrap_or_default().to_owned();
        // The newer request ended the first link.
        assert_eq!(
            confirm_reset(&t, &token(&first), "a brand new password").await,
            StatusCode::NOT_FOUND
        );
        // A link made at the same time as the second (two requests racing)
        // ends when the second is used.
        let user = pitwall_store::identity::user_by_email(
            &t.db,
            &pitwall_core::domain::Email::parse(owner).expect("email"),
        )
        .await
        .expect("lookup")
        .map(|u| pitwall_core::domain::UserId::from_uuid(u.id))
        .expect("owner");
        pitwall_store::identity::insert_password_reset(
            &t.db,
            user,
            pitwall_core::tokens::hash_token("racing-link"),
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .await
        .expect("reset row");
        assert_eq!(
            confirm_reset(&t, &token(&second), "a brand new password").await,
            StatusCode::OK
        );
        assert_eq!(
            confirm_reset(&t, "racing-link", "another new password").await,
            StatusCode::NOT_FOUND
        );
        t.login(owner, "a brand new password").await;
        t.finish().await;
    }
}

// ---- 3. metrics ---------------------------------------------------------------

/// The `pitwall_http_requests_total` lines of a scrape.
async fn request_series(t: &TestApp, base: &str) -> Vec<String> {
    let text = t
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("pitwall_http_requests_total{"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_paths_share_one_unmatched_series() {
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (_, owner) = t.shop("metrics-shop", "starter").await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    for i in 0..5 {
        for path in [
            format!("/made-up-{marker}-{i}"),
            format!("/api/v1/made-up-{marker}/{i}"),
            format!("/app/made-up-{marker}-{i}"),
            format!("/docs/made-up-{marker}-{i}"),
        ] {
            let (s, _) = t.call("GET", &path, None, None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        }
    }
    // A real route answering 404 keeps its own template.
    let missing = uuid::Uuid::now_v7();
    let (s, _) = t.get(&format!("/api/v1/tickets/{missing}"), &owner).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let series = request_series(&t, &t.base_url).await;
    assert!(
        series.iter().all(|l| !l.contains(&marker[..12])),
        "a made-up path became a series: {series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"route="unmatched""#) && l.contains(r#"status="404""#)),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"route="/api/v1/tickets/:"#) && l.contains(r#"status="404""#)),
        "matched routes are labelled by their template: {series:#?}"
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_leave_the_public_port_for_their_own_address() {
    let Some(t) = spawn(Backend::Sqlite, &[("PITWALL_METRICS_ADDR", "127.0.0.1:0")]).await else {
        return;
    };
    let public = t
        .client
        .get(t.url("/metrics"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    assert_eq!(t.call("GET", "/health", None, None).await.0, StatusCode::OK);
    let own = t.metrics_url.clone().expect("a metrics address");
    assert_ne!(own, t.base_url);
    let scrape = t
        .client
        .get(format!("{own}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(
        scrape
            .text()
            .await
            .unwrap_or_default()
            .contains("pitwall_http_requests_total")
    );
    // Nothing else is served there.
    let other = t
        .client
        .get(format!("{own}/api/v1/me"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    t.finish().await;
}

// ---- 4. outgoing webhooks -------------------------------------------------------

/// Waits until the webhook's latest delivery is no longer pending.
async fn settled_delivery(t: &TestApp, owner: &str, hook: &str) -> Value {
    for _ in 0..100 {
        let (_, list) = t.get("/api/v1/webhooks", owner).await;
        let delivery = list["items"]
            .as_array()
            .and_then(|hooks| hooks.iter().find(|h| h["id"] == hook))
            .map(|h| h["deliveries"][0].clone())
            .unwrap_or_default();
        if delivery["status"] == "failed" || delivery["status"] == "delivered" {
            return delivery;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the delivery to {hook} did not settle in 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_never_reach_private_addresses_in_production() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // The kit lets webhooks reach the loopback; production does not.
        let Some(t) = TestApp::spawn_with(
            backend,
            Options {
                workers: true,
                env: env(&[("PITWALL_WEBHOOKS_ALLOW_PRIVATE", "")]),
                ..Default::default()
            },
        )
        .await
        else {
            continue;
        };
        let (shop, owner) = t.shop("private-hooks", "premium").await;
        let rx = pitwall_testkit::receiver::Receiver::start(&[])
            .await
            .expect("receiver");
        let port = rx.addr.port();
        // Registering such a URL is refused...
        let (s, b) = t
            .post(
                "/api/v1/webhooks",
                &owner,
                json!({"url": format!("https://127.0.0.1:{port}/hook")}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "url");
        // ... but a name can start pointing inside later (or answer
        // differently when we connect: DNS rebinding). Stored directly, as
        // if it had been public when registered.
        let (_, me) = t.get("/api/v1/me", &owner).await;
        let owner_id = me["user"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .map(pitwall_core::domain::UserId::from_uuid)
            .expect("owner id");
        for url in [
            format!("http://localhost:{port}/hook"),
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            let hook = pitwall_store::webhooks::insert(&t.db, shop, &url, "whsec_test", owner_id)
                .await
                .expect("webhook row");
            let (s, b) = t
                .post(
                    &format!("/api/v1/webhooks/{}/test", hook.id),
                    &owner,
                    json!({}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let delivery = settled_delivery(&t, &owner, &hook.id.to_string()).await;
            assert_eq!(delivery["status"], "failed", "{url}: {delivery}");
            assert_eq!(
                delivery["attempts"], 1,
                "refused at once, not retried: {delivery}"
            );
            let error = delivery["last_error"].as_str().unwrap_or_default();
            assert!(error.contains("not public"), "{url}: {error}");
        }
        assert!(rx.received().is_empty(), "nothing reached the receiver");
        t.finish().await;
    }
}

// ---- 5. HSTS ---------------------------------------------------------------------

/// The `Strict-Transport-Security` header of a page, an API error and a
/// probe.
async fn hsts_headers(t: &TestApp) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for path in ["/login", "/api/v1/me", "/health"] {
        let resp = t
            .client
            .get(t.url(path))
            .send()
            .await
            .expect("request sent");
        out.push(
            resp.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let Some(t) = spawn(
        Backend::Sqlite,
        &[("PITWALL_BASE_URL", "https://pitwall.example.com")],
    )
    .await
    else {
        return;
    };
    assert_eq!(
        hsts_headers(&t).await,
        vec![Some("max-age=31536000; includeSubDomains".to_owned()); 3]
    );
    t.finish().await;
    // Over plain http the header would be meaningless (and pin nothing).
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    assert_eq!(hsts_headers(&t).await, vec![None; 3]);
    t.finish().await;
}
