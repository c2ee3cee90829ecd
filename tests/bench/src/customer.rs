//! The customer's page: bytes of the first load (the page and everything it
//! pulls from us), raw and gzip-compressed, and the server's time to answer
//! the page of a ticket with 20 services, against the same ticket as JSON
//! and against `/health` through the same stack (same run, same machine).

use std::io::Write;
use std::time::{Duration, Instant};

use pitwall_testkit::{Backend, Options, TestApp};
use serde_json::{Value, json};

pub(crate) fn gzip_len(bytes: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(bytes);
    e.finish().map(|v| v.len()).unwrap_or(0)
}

/// `/static/...` assets named in `src=` or `href=` attributes.
pub(crate) fn assets(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            if let Some(end) = part.find('"') {
                let url = &part[..end];
                if url.starts_with("/static/") && !out.iter().any(|u| u == url) {
                    out.push(url.to_owned());
                }
            }
        }
    }
    out
}

/// `n` sequential GETs of `url`, each timed; every answer must succeed and
/// pass `check`, or the run stops with an error naming the failures.
async fn timed(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    check: &dyn Fn(&[u8]) -> bool,
) -> anyhow::Result<Vec<Duration>> {
    let mut v = Vec::with_capacity(n);
    let mut failed = 0usize;
    let mut first = None;
    for _ in 0..n {
        let t0 = Instant::now();
        let outcome = match client.get(url).send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) if check(&b) => Ok(()),
                Ok(_) => Err("the answer lacks what it should show".to_owned()),
                Err(e) => Err(e.to_string()),
            },
            Ok(r) => Err(format!("answered {}", r.status())),
            Err(e) => Err(e.to_string()),
        };
        v.push(t0.elapsed());
        if let Err(e) = outcome {
            failed += 1;
            first.get_or_insert(e);
        }
    }
    if failed > 0 {
        anyhow::bail!(
            "{url}: {failed} of {n} requests failed (first: {})",
            first.unwrap_or_default()
        );
    }
    v.sort();
    Ok(v)
}

/// The customer's page shows every one of its services.
fn shows_services(html: &[u8], n: usize) -> bool {
    String::from_utf8_lossy(html)
        .matches("data-testid=\"service\"")
        .count()
        == n
}

/// The JSON of the link lists every service.
fn lists_services(json: &[u8], n: usize) -> bool {
    serde_json::from_slice::<Value>(json)
        .is_ok_and(|v| v["services"].as_array().is_some_and(|s| s.len() == n))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A ticket with 20 services pushed by the POS, and a customer link to
/// it: the page's URL and the link's token.
async fn ticket_with_link(t: &TestApp, slug: &str) -> anyhow::Result<(String, String)> {
    let (_, owner) = t.shop(slug, "premium").await;
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
        .await;
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    let services: Vec<Value> = (0..20)
        .map(|i| {
            json!({"external_id": format!("S-{i}"), "title": format!("Service number {i}: inspect and replace"),
                   "status": if i % 2 == 0 { "recommended" } else { "approved" },
                   "line_items": [
                       {"kind": "labor", "description": "Labour, diagnosis and fitting", "quantity": 1.5, "unit_price": 12000, "taxable": false},
                       {"kind": "part", "description": "OEM part with a long description", "quantity": 2, "unit_price": 4599, "taxable": true},
                       {"kind": "fee", "description": "Shop supplies", "quantity": 1, "unit_price": 500, "taxable": true}]})
        })
        .collect();
    let (status, pushed) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/BENCH-1",
            Some(&key),
            Some(json!({
                "kind": "estimate", "number": "90210", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": "c", "first_name": "Dana", "phone": "+15125550123"},
                "vehicle": {"external_id": "v", "year": 2019, "make": "Honda", "model": "Civic", "plate": "ABC1234"},
                "services": services, "tax_rate": 0.0825,
            })),
        )
        .await;
    anyhow::ensure!(
        status.is_success(),
        "the POS push answered {status}: {pushed}"
    );
    let ticket = pushed["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, issued) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/customer-links"),
            &owner,
            json!({}),
        )
        .await;
    let url = issued["url"].as_str().unwrap_or_default().to_owned();
    let token = url.rsplit("/c/").next().unwrap_or_default().to_owned();
    anyhow::ensure!(!token.is_empty(), "no customer link: {issued}");
    Ok((url, token))
}

pub async fn customer_page(backend: Backend, n: usize) -> anyhow::Result<()> {
    let opts = Options {
        env: vec![("PITWALL_LINK_LOOKUPS_PER_MINUTE".into(), "1000000".into())],
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        println!("customer page: skipped, {backend:?} not reachable");
        return Ok(());
    };
    let (url, token) = ticket_with_link(&t, "bench-page").await?;
    let client = reqwest::Client::new();

    // First load: the page and what it pulls from us.
    let html = client.get(&url).send().await?.text().await?;
    anyhow::ensure!(
        shows_services(html.as_bytes(), 20),
        "the customer page does not show its 20 services"
    );
    let mut raw = html.len();
    let mut gz = gzip_len(html.as_bytes());
    let files = assets(&html);
    for a in &files {
        let r = client.get(t.url(a)).send().await?;
        anyhow::ensure!(r.status().is_success(), "{a} answered {}", r.status());
        let body = r.bytes().await?;
        raw += body.len();
        gz += gzip_len(&body);
    }
    println!(
        "customer page ({backend:?}), 20 services: first load {:.1} KB raw, {:.1} KB gzip (page {:.1} KB + {} assets: {})",
        raw as f64 / 1024.0,
        gz as f64 / 1024.0,
        html.len() as f64 / 1024.0,
        files.len(),
        files.join(", ")
    );

    // Warm up, then time each kind of answer in turn.
    let json_url = t.url(&format!("/api/customer/v1/links/{token}"));
    let health = t.url("/health");
    let page_ok = |b: &[u8]| shows_services(b, 20);
    let json_ok = |b: &[u8]| lists_services(b, 20);
    let any = |_: &[u8]| true;
    timed(&client, &url, 20, &page_ok).await?;
    let page = timed(&client, &url, n, &page_ok).await?;
    let api = timed(&client, &json_url, n, &json_ok).await?;
    let bare = timed(&client, &health, n, &any).await?;
    let p50 = |v: &[Duration]| v[v.len() / 2];
    let p99 = |v: &[Duration]| v[(v.len() * 99 / 100).min(v.len() - 1)];
    println!(
        "customer page ({backend:?}): p50 {:.2} ms, p99 {:.2} ms; JSON of the same {:.2} ms; /health {:.2} ms; page/JSON {:.2}x, page/health {:.1}x ({n} sequential requests each)",
        ms(p50(&page)),
        ms(p99(&page)),
        ms(p50(&api)),
        ms(p50(&bare)),
        ms(p50(&page)) / ms(p50(&api)),
        ms(p50(&page)) / ms(p50(&bare)),
    );
    crate::results::record(
        "customer_page",
        serde_json::json!({
            "backend": format!("{backend:?}"), "requests": n,
            "page_p50_ms": ms(p50(&page)), "page_p99_ms": ms(p99(&page)),
            "json_p50_ms": ms(p50(&api)), "health_p50_ms": ms(p50(&bare)),
        }),
    );
    t.finish().await;
    Ok(())
}

/// The customer's page under 64 connections from `wrk` (a phone browser's
/// `Accept-Encoding: gzip`), against `/health` through the same stack in
/// the same run: alternating rounds, the median of each.
pub async fn customer_page_under_load(
    backend: Backend,
    secs: u32,
    rounds: usize,
) -> anyhow::Result<()> {
    let opts = Options {
        env: vec![("PITWALL_LINK_LOOKUPS_PER_MINUTE".into(), "100000000".into())],
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        println!("customer page under load: skipped, {backend:?} not reachable");
        return Ok(());
    };
    let (url, _) = ticket_with_link(&t, "bench-load").await?;
    let health = t.url("/health");
    let gzip = [("Accept-Encoding", "gzip")];
    let (mut pages, mut bares) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        pages.push(crate::wrk::run(&url, 64, secs, &gzip).await?);
        bares.push(crate::wrk::run(&health, 64, secs, &gzip).await?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<String> = pages
        .iter()
        .zip(&bares)
        .map(|(p, b)| format!("{:.2}", p.requests_per_sec / b.requests_per_sec))
        .collect();
    let page_rps = median(&mut pages.iter().map(|r| r.requests_per_sec).collect());
    let bare_rps = median(&mut bares.iter().map(|r| r.requests_per_sec).collect());
    let page_p99 = median(&mut pages.iter().map(|r| r.p99_ms).collect());
    let bare_p99 = median(&mut bares.iter().map(|r| r.p99_ms).collect());
    println!(
        "customer page under load ({backend:?}, wrk, 64 connections, {rounds} x {secs} s): page {page_rps:.0} req/s, p99 {page_p99:.1} ms; \
         /health {bare_rps:.0} req/s, p99 {bare_p99:.1} ms; ratio {:.2} (rounds {}; goal p99 <= 25 ms)",
        page_rps / bare_rps,
        ratios.join(", "),
    );
    crate::results::record(
        "customer_page_under_load",
        serde_json::json!({
            "backend": format!("{backend:?}"), "page_rps": page_rps, "page_p99_ms": page_p99,
            "health_rps": bare_rps, "health_p99_ms": bare_p99, "ratio": page_rps / bare_rps,
            "goal_p99_ms": 25,
        }),
    );
    t.finish().await;
    Ok(())
}
