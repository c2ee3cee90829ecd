//! Benchmarks, reported as ratios measured in one run (these machines are
//! noisy; absolute numbers swing 2x between them):
//!
//! 1. Requests per second through the full stack (bearer token, shop
//!    context with plan and features, casbin check, one list query) against
//!    a bare poem handler served by the same process, same client.
//! 2. The cost of one casbin check with N shops x 5 users loaded.
//! 3. Tickets: search with 1,000 shops x 1,000 realistic tickets on
//!    PostgreSQL (16 searchers over HTTP against `pgbench -S`), POS batch
//!    import (tickets/s, on PostgreSQL against pgbench's mixed workload
//!    with one client), and status changes against pgbench's mixed
//!    workload.
//! 4. Messaging: jobs per second through the apalis worker path against
//!    the same loop by hand at the same batch size and concurrency,
//!    graphile-worker on the same database (and the textbook
//!    one-job-per-transaction loop), and status change to
//!    provider latency (p50/p99).
//! 5. Inspections: the customer's page with a published 32-item
//!    inspection against its 100 KB first-load budget.
//! 6. The real binary in its own process: start-up to `/ready` against
//!    `--version`, and resident memory per shop once each has been served.
//! 7. The soak (`--only soak [MINUTES]`, not in the full run): the mixed
//!    workload at half its measured maximum for 30 minutes, p99 and the
//!    server's memory per minute.
//!
//! `--quick` runs a short version (CI smoke run); without it, the figures
//! in docs/BENCHMARKS.md.

mod cpu;
mod customer;
mod inspections;
mod invoices;
mod messaging;
mod process;
mod results;
mod search;
mod tickets;
mod wrk;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pitwall_core::domain::{Permission, Role, ShopId, UserId};
use pitwall_testkit::{Backend, TestApp};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server, get, handler};

#[handler]
fn hello() -> &'static str {
    "hello"
}

/// The same "hello" behind everything a staff request passes before its
/// handler: the app's HTTP stack (request id, access log, metrics, security
/// headers), bearer authentication, the shop context with plan and
/// features, a casbin check and a plan check.
#[handler]
async fn guarded_hello(
    req: &poem::Request,
    app: poem::web::Data<&pitwall_core::App>,
) -> poem::Result<&'static str> {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::UNAUTHORIZED))?;
    let refuse = |_| poem::Error::from_status(poem::http::StatusCode::FORBIDDEN);
    let actor = pitwall_core::auth::authenticate(&app, token, pitwall_core::auth::Kind::Api)
        .await
        .map_err(refuse)?;
    let ctx = app.shop_ctx(&actor, None).await.map_err(refuse)?;
    app.require(&ctx, Permission::TicketsView)
        .await
        .map_err(refuse)?;
    ctx.require_feature(pitwall_core::domain::Feature::Dashboard)
        .map_err(refuse)?;
    Ok("hello")
}

/// Requests per second from `connections` clients for `secs` seconds.
/// Every answer must be a success whose body passes `check` (the work the
/// request stands for was done); any failed request is counted, reported
/// and makes the run an error, so that a figure is never made of errors.
async fn load(
    url: String,
    token: Option<String>,
    connections: usize,
    secs: u64,
    check: fn(&[u8]) -> bool,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        let (done, failed, first_failure) = (done.clone(), failed.clone(), first_failure.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let outcome = match req.send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) if check(&b) => Ok(()),
                        Ok(b) => Err(format!(
                            "unexpected answer: {}",
                            String::from_utf8_lossy(&b[..b.len().min(200)])
                        )),
                        Err(e) => Err(format!("reading the answer: {e}")),
                    },
                    Ok(r) => Err(format!("answered {}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut f) = first_failure.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let failed = failed.load(Ordering::Relaxed);
    let done = done.load(Ordering::Relaxed);
    if failed > 0 {
        let first = first_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        anyhow::bail!(
            "{url}: {failed} of {} requests failed (first: {first})",
            failed + done
        );
    }
    anyhow::ensure!(done > 0, "{url}: no request completed in {secs} s");
    Ok(done as f64 / secs as f64)
}

async fn stack_vs_bare(secs: u64, backend: Backend) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(backend).await else {
        println!("stack vs bare ({backend:?}): skipped, database not reachable");
        return Ok(());
    };
    let (_, owner) = t.shop("bench-shop", "premium").await;
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let bare_addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("tcp address");
    tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().at("/hello", get(hello))));

    let guarded = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let guarded_addr = guarded.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("tcp address");
    tokio::spawn(
        Server::new_with_acceptor(guarded).run(pitwall_api::with_stack(
            Route::new().at("/hello", get(guarded_hello)),
            t.app.clone(),
        )),
    );

    let connections = 64;
    let says_hello = |b: &[u8]| b == b"hello";
    let bare = load(
        format!("http://{bare_addr}/hello"),
        None,
        connections,
        secs,
        says_hello,
    )
    .await?;
    let stack = load(
        format!("http://{guarded_addr}/hello"),
        Some(owner.clone()),
        connections,
        secs,
        says_hello,
    )
    .await?;
    // The list holds the owner: the query ran and found them.
    let one_user = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b)
            .is_ok_and(|v| v["items"].as_array().is_some_and(|i| i.len() == 1))
    };
    let full = load(
        t.url("/api/v1/users?limit=1"),
        Some(owner),
        connections,
        secs,
        one_user,
    )
    .await?;
    println!(
        "stack vs bare ({backend:?}, {connections} connections, {secs} s each): bare poem {bare:.0} req/s; \
         same handler behind the full stack (auth, shop context, casbin, plan) {stack:.0} req/s, ratio {:.2}; \
         a real endpoint, GET /api/v1/users (plus its list query), {full:.0} req/s, ratio {:.2}",
        stack / bare,
        full / bare
    );
    crate::results::record(
        "stack_vs_bare",
        serde_json::json!({
            "backend": format!("{backend:?}"), "connections": connections, "secs": secs,
            "bare_rps": bare, "stack_rps": stack, "ratio": stack / bare,
            "users_endpoint_rps": full, "users_endpoint_ratio": full / bare, "goal_ratio": 0.6,
        }),
    );
    t.finish().await;
    Ok(())
}

async fn casbin_at_scale(shops: usize) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return Ok(());
    };
    let db = &t.db;
    let started = Instant::now();
    let roles = [
        Role::Owner,
        Role::Manager,
        Role::Advisor,
        Role::Technician,
        Role::Viewer,
    ];
    let mut pairs = Vec::new();
    {
        let txn = pitwall_store::begin_write(db).await?;
        for _ in 0..shops {
            let shop = ShopId::new();
            for role in roles {
                let user = UserId::new();
                pitwall_authz::rules::assign_role(&txn, shop, user, role).await?;
                pairs.push((shop, user));
            }
        }
        txn.commit().await?;
    }
    let load_started = Instant::now();
    t.app.authz().refresh().await?;
    let caught_up_in = load_started.elapsed();
    // Shop by shop, as requests arrive: the first check of a shop loads its
    // rules (a filtered read and a small enforcer); its other users' checks
    // are new (user, permission) pairs that casbin evaluates; then every
    // check again, answered from the decisions (which outlive the bounded
    // set of loaded enforcers).
    let n = pairs.len().min(50_000);
    let checks: Vec<(ShopId, UserId, Permission)> = pairs
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, (shop, user))| (*shop, *user, Permission::ALL[i % Permission::ALL.len()]))
        .collect();
    let (mut first, mut firsts) = (Duration::ZERO, 0u32);
    let (mut uncached, mut uncacheds) = (Duration::ZERO, 0u32);
    let mut allowed = 0u32;
    let mut seen = std::collections::HashSet::new();
    // What a loaded enforcer weighs: resident memory before the first and
    // once as many shops as stay loaded have been (decisions included).
    let rss_before = process::rss_kib(std::process::id())?;
    let mut rss_full = None;
    for (shop, user, perm) in &checks {
        if rss_full.is_none()
            && seen.len() == pitwall_authz::LOADED_ENFORCERS
            && !seen.contains(shop)
        {
            rss_full = Some(process::rss_kib(std::process::id())?);
        }
        let started = Instant::now();
        allowed += u32::from(t.app.authz().allowed(*user, *shop, *perm).await?);
        if seen.insert(*shop) {
            first += started.elapsed();
            firsts += 1;
        } else {
            uncached += started.elapsed();
            uncacheds += 1;
        }
    }
    let started_checks = Instant::now();
    for (shop, user, perm) in &checks {
        t.app.authz().allowed(*user, *shop, *perm).await?;
    }
    let warm = started_checks.elapsed() / n as u32;
    let first = first / firsts.max(1);
    let cold = uncached / uncacheds.max(1);
    let per_enforcer_kib = rss_full.map(|full| {
        full.saturating_sub(rss_before) as f64 / pitwall_authz::LOADED_ENFORCERS as f64
    });
    println!(
        "casbin: about {:.1} KiB resident per loaded shop policy ({} at most)",
        per_enforcer_kib.unwrap_or(f64::NAN),
        pitwall_authz::LOADED_ENFORCERS,
    );
    println!(
        "casbin: {shops} shops x 5 users ({} role assignments) written in {:.1} s, caught up in {} ms; \
         first check of a shop (loads its rules) {:.1} us, a new check {:.1} us, a repeated one {:.2} us \
         ({allowed} of {n} allowed; {} enforcers loaded)",
        shops * 5,
        (load_started - started).as_secs_f64(),
        caught_up_in.as_millis(),
        first.as_secs_f64() * 1e6,
        cold.as_secs_f64() * 1e6,
        warm.as_secs_f64() * 1e6,
        t.app.authz().loaded_enforcers(),
    );
    crate::results::record(
        "casbin_check",
        serde_json::json!({
            "shops": shops, "catch_up_ms": caught_up_in.as_millis() as u64,
            "first_check_of_shop_us": first.as_secs_f64() * 1e6,
            "uncached_us": cold.as_secs_f64() * 1e6, "cached_us": warm.as_secs_f64() * 1e6,
            "kib_per_loaded_policy": per_enforcer_kib,
        }),
    );
    t.finish().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    run(quick).await?;
    results::write(quick)
}

async fn run(quick: bool) -> anyhow::Result<()> {
    // `--only messaging` (or `tickets`) runs one group.
    let only: Option<String> = std::env::args().skip_while(|a| a != "--only").nth(1);
    if only.as_deref() == Some("status") {
        if quick {
            tickets::status_vs_pgbench(3, 8, 1).await?;
        } else {
            tickets::status_vs_pgbench(10, 8, 3).await?;
        }
        return Ok(());
    }
    if only.as_deref() == Some("customer") {
        let n = if quick { 100 } else { 1_000 };
        customer::customer_page(Backend::Sqlite, n).await?;
        customer::customer_page(Backend::Postgres, n).await?;
        let (secs, rounds) = if quick { (2, 1) } else { (5, 3) };
        customer::customer_page_under_load(Backend::Sqlite, secs, rounds).await?;
        customer::customer_page_under_load(Backend::Postgres, secs, rounds).await?;
        return Ok(());
    }
    if only.as_deref() == Some("search") {
        if quick {
            search::search_at_scale(50, 200, 4, 2, 1).await?;
        } else {
            search::search_at_scale(1_000, 1_000, 16, 5, 3).await?;
        }
        return Ok(());
    }
    if only.as_deref() == Some("batch") {
        tickets::batch_import(Backend::Postgres, if quick { 2 } else { 20 }).await?;
        return Ok(());
    }
    if only.as_deref() == Some("list") {
        if quick {
            tickets::list_under_load(20, 50, 2, 1).await?;
        } else {
            tickets::list_under_load(200, 100, 5, 3).await?;
        }
        return Ok(());
    }
    // `--only soak [MINUTES]`: the mixed workload at half its maximum for
    // MINUTES (30 by default; --quick: 4 windows of 5 s).
    if only.as_deref() == Some("soak") {
        let minutes: usize = std::env::args()
            .skip_while(|a| a != "soak")
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(30);
        if quick {
            process::soak(3, Duration::from_secs(5), 4).await?;
        } else {
            process::soak(10, Duration::from_secs(60), minutes).await?;
        }
        return Ok(());
    }
    if only.as_deref() == Some("casbin") {
        casbin_at_scale(if quick { 1_000 } else { 10_000 }).await?;
        return Ok(());
    }
    if only.as_deref() == Some("process") {
        let (rounds, shops) = if quick { (3, 100) } else { (10, 1_000) };
        process::startup_and_memory(rounds, shops).await?;
        return Ok(());
    }
    if only.as_deref() == Some("inspections") {
        inspections::inspected_page(Backend::Sqlite).await?;
        inspections::inspected_page(Backend::Postgres).await?;
        inspections::photo_upload(Backend::Sqlite, if quick { 3 } else { 20 }).await?;
        return Ok(());
    }
    if only.as_deref() == Some("invoices") {
        invoices::ocr_per_page(if quick { 2 } else { 10 }).await?;
        invoices::payment_to_advisor(if quick { 5 } else { 50 }).await?;
        return Ok(());
    }
    if only.as_deref() == Some("messaging") {
        let (jobs, changes) = if quick { (2_000, 50) } else { (20_000, 500) };
        messaging::jobs_vs_skip_locked(jobs, 8).await?;
        messaging::status_to_provider(changes).await?;
        return Ok(());
    }
    let (secs, shops) = if quick { (2, 1_000) } else { (10, 10_000) };
    stack_vs_bare(secs, Backend::Sqlite).await?;
    stack_vs_bare(secs, Backend::Postgres).await?;
    casbin_at_scale(shops).await?;
    if quick {
        search::search_at_scale(50, 200, 4, 2, 1).await?;
        tickets::batch_import(Backend::Sqlite, 2).await?;
        tickets::batch_import(Backend::Postgres, 2).await?;
        tickets::status_vs_pgbench(3, 8, 1).await?;
        tickets::list_under_load(20, 50, 2, 1).await?;
        messaging::jobs_vs_skip_locked(2_000, 8).await?;
        messaging::status_to_provider(50).await?;
        customer::customer_page(Backend::Sqlite, 100).await?;
        customer::customer_page_under_load(Backend::Postgres, 2, 1).await?;
        inspections::inspected_page(Backend::Sqlite).await?;
        inspections::photo_upload(Backend::Sqlite, 3).await?;
        invoices::ocr_per_page(2).await?;
        invoices::payment_to_advisor(5).await?;
        process::startup_and_memory(3, 100).await?;
        process::soak(3, Duration::from_secs(5), 4).await?;
    } else {
        search::search_at_scale(1_000, 1_000, 16, 5, 3).await?;
        tickets::batch_import(Backend::Sqlite, 20).await?;
        tickets::batch_import(Backend::Postgres, 20).await?;
        tickets::status_vs_pgbench(10, 8, 3).await?;
        tickets::list_under_load(200, 100, 5, 3).await?;
        messaging::jobs_vs_skip_locked(20_000, 8).await?;
        messaging::status_to_provider(500).await?;
        customer::customer_page(Backend::Sqlite, 1_000).await?;
        customer::customer_page(Backend::Postgres, 1_000).await?;
        customer::customer_page_under_load(Backend::Sqlite, 5, 3).await?;
        customer::customer_page_under_load(Backend::Postgres, 5, 3).await?;
        inspections::inspected_page(Backend::Sqlite).await?;
        inspections::inspected_page(Backend::Postgres).await?;
        inspections::photo_upload(Backend::Sqlite, 20).await?;
        inspections::photo_upload(Backend::Postgres, 20).await?;
        invoices::ocr_per_page(10).await?;
        invoices::payment_to_advisor(50).await?;
        process::startup_and_memory(10, 1_000).await?;
    }
    Ok(())
}
