//! The security review's findings (issue 14), each shown end to end over
//! HTTP against the real server: client addresses behind proxies, bounded
//! work before sign-in, metrics, outgoing webhooks and HSTS.

use pitwall_core::store::sea_orm::{ConnectionTrait, Statement};
use pitwall_testkit::{Backend, Options, StatusCode, TestApp};
use serde_json::json;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The first column of the first row `sql` answers, as text.
async fn text(t: &TestApp, sql: &str) -> Option<String> {
    t.app
        .db
        .query_one_raw(Statement::from_string(t.app.db.get_database_backend(), sql))
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
