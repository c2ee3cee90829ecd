//! The real `pitwall` binary as an operator runs it, in its own process:
//! start-up of `pitwall serve` to `/ready` on a migrated PostgreSQL
//! database against the same binary's `--version` (the cost of starting a
//! process at all), and its memory: resident set when idle, then after
//! each of N shops has been served once (caches of shop context, plan and
//! permissions filled), as KiB per shop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pitwall_core::domain::{Email, UserId};
use pitwall_store::identity::SessionKind;
use pitwall_testkit::{Backend, Options, TestApp};

/// The binary next to this one (`cargo build [--release] -p pitwall`), or
/// `PITWALL_BIN`.
fn binary() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("PITWALL_BIN") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    let beside = me
        .parent()
        .map(|d| d.join("pitwall"))
        .filter(|p| p.exists());
    beside.ok_or_else(|| {
        anyhow::anyhow!(
            "no pitwall binary beside {}: run `cargo build --release -p pitwall` (or set PITWALL_BIN)",
            me.display()
        )
    })
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `pitwall serve` on `database_url`; the process and the time to
/// its first 200 from `/ready`.
async fn start(
    bin: &PathBuf,
    database_url: &str,
    dir: &std::path::Path,
    client: &reqwest::Client,
) -> anyhow::Result<(Server, String, Duration)> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    let child = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("PITWALL_ADDR", format!("127.0.0.1:{port}"))
        .env("PITWALL_BASE_URL", &base)
        .env("PITWALL_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut server = Server(child);
    loop {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status().is_success()
        {
            return Ok((server, base, t0.elapsed()));
        }
        if let Some(status) = server.0.try_wait()? {
            anyhow::bail!("pitwall serve exited with {status} before it was ready");
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(60),
            "pitwall serve was not ready after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn version(bin: &PathBuf) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let out = Command::new(bin).arg("--version").output()?;
    let took = t0.elapsed();
    anyhow::ensure!(out.status.success(), "pitwall --version failed");
    Ok(took)
}

pub async fn startup_and_memory(rounds: usize, shops: usize) -> anyhow::Result<()> {
    let bin = binary()?;
    let Some(t) = TestApp::spawn_with(Backend::Postgres, Options::default()).await else {
        println!("process: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    // N shops, each with an owner holding an API token (made directly, not
    // through N sign-ins, which would time argon2 rather than Pitwall).
    let mut tokens = Vec::with_capacity(shops);
    for i in 0..shops {
        let email = format!("owner@mem-{i}.test");
        pitwall_core::shops::create_shop(
            &t.app,
            pitwall_core::shops::Creator::Cli,
            pitwall_core::shops::NewShopInput {
                name: &format!("Memory {i}"),
                slug: &format!("mem-{i}"),
                plan: "premium",
                owner_email: &email,
                owner_password: Some(pitwall_testkit::PASSWORD),
                time_zone: None,
            },
        )
        .await?;
        let user = pitwall_store::identity::user_by_email(
            &t.db,
            &Email::parse(&email).map_err(|e| anyhow::anyhow!("{email}: {e:?}"))?,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no owner for {email}"))?;
        let token = pitwall_core::tokens::new_token("pt_");
        pitwall_store::identity::insert_session(
            &t.db,
            UserId::from_uuid(user.id),
            pitwall_core::tokens::hash_token(&token),
            SessionKind::Api,
            None,
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .await?;
        tokens.push(token);
    }
    let client = reqwest::Client::new();
    let dir = t.dir.join("process");
    std::fs::create_dir_all(&dir)?;

    // Start-up, alternating with the baseline.
    let (mut ups, mut versions) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        versions.push(version(&bin)?);
        let (server, _, up) = start(&bin, &t.database_url, &dir, &client).await?;
        drop(server);
        ups.push(up);
    }
    ups.sort();
    versions.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (up, ver) = (ups[ups.len() / 2], versions[versions.len() / 2]);
    println!(
        "start-up (PostgreSQL, {} shops in the database): pitwall serve to /ready p50 {:.0} ms (max {:.0}), pitwall --version p50 {:.1} ms; ratio {:.0}x ({rounds} rounds, goal <= 300 ms)",
        shops,
        ms(up),
        ms(ups[ups.len() - 1]),
        ms(ver),
        ms(up) / ms(ver).max(0.001),
    );
    crate::results::record(
        "startup",
        serde_json::json!({ "shops": shops, "ready_p50_ms": ms(up), "version_p50_ms": ms(ver), "goal_ms": 300 }),
    );

    // Memory: idle, then every shop served once (its ticket list).
    let (server, base, _) = start(&bin, &t.database_url, &dir, &client).await?;
    let pid = server.0.id();
    let _ = client.get(format!("{base}/ready")).send().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid)?;
    // The first tenth pays the one-time costs (pool connections, lazy
    // statics, allocator arenas); the rest shows what one more shop costs.
    let first_tenth = (shops / 10).max(1);
    let mut failed = 0usize;
    let mut first_failure = None;
    let mut after_first_tenth = idle;
    for (i, token) in tokens.iter().enumerate() {
        if i == first_tenth {
            tokio::time::sleep(Duration::from_millis(200)).await;
            after_first_tenth = rss_kib(pid)?;
        }
        match client
            .get(format!("{base}/api/v1/tickets?limit=25"))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                failed += 1;
                first_failure.get_or_insert(format!("answered {}", r.status()));
            }
            Err(e) => {
                failed += 1;
                first_failure.get_or_insert(e.to_string());
            }
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {shops} ticket lists failed (first: {})",
        first_failure.unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let warm = rss_kib(pid)?;
    println!(
        "memory (PostgreSQL): idle RSS {:.1} MiB; {:.1} MiB after the first {first_tenth} shops, {:.1} MiB after all {shops} (each served once): \
         {:.2} KiB per further shop (goal <= 2 KiB)",
        idle as f64 / 1024.0,
        after_first_tenth as f64 / 1024.0,
        warm as f64 / 1024.0,
        warm.saturating_sub(after_first_tenth) as f64 / (shops - first_tenth).max(1) as f64,
    );
    crate::results::record(
        "memory_per_shop",
        serde_json::json!({
            "idle_kib": idle, "warm_kib": warm,
            "kib_per_further_shop": warm.saturating_sub(after_first_tenth) as f64 / (shops - first_tenth).max(1) as f64,
            "goal_kib": 2,
        }),
    );
    drop(server);
    t.finish().await;
    Ok(())
}

/// One request of the mixed workload, by its number: ticket lists (4 in
/// 10), POS pushes updating one of 500 tickets (3), status changes (2), the
/// dashboard (1). Customers have no phone or e-mail, so no message piles up
/// files in the development outbox over a long run.
fn mixed_request(
    client: &reqwest::Client,
    base: &str,
    owner: &str,
    key: &str,
    tickets: &[String],
    statuses: &[String],
    n: u64,
) -> reqwest::RequestBuilder {
    match n % 10 {
        0..=3 => client
            .get(format!("{base}/api/v1/tickets?limit=20"))
            .bearer_auth(owner),
        4..=6 => client
            .put(format!("{base}/api/pos/v1/tickets/SOAK-{}", n % 500))
            .bearer_auth(key)
            .json(&serde_json::json!({
                "kind": "workorder", "number": format!("{}", n % 500),
                "pos_updated_at": chrono::Utc::now().to_rfc3339(),
                "customer": {"external_id": format!("soak-{}", n % 50), "first_name": "Soak"},
                "services": [{"external_id": "s1", "title": "Oil change", "status": "recommended",
                    "line_items": [{"kind": "labor", "description": "Oil change", "quantity": 1.0, "unit_price": 4999, "taxable": true}]}],
            })),
        7 | 8 => client
            .put(format!(
                "{base}/api/v1/tickets/{}/status",
                tickets[(n as usize / 10) % tickets.len()]
            ))
            .bearer_auth(owner)
            .json(&serde_json::json!({"status_id": statuses[(n as usize / 7) % statuses.len()]})),
        _ => client
            .get(format!("{base}/api/v1/dashboard"))
            .bearer_auth(owner),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The soak: `pitwall serve` (with its workers) in its own process on
/// PostgreSQL. First its maximum for the mixed workload (16 clients, closed
/// loop, `max_secs`); then the same mix at half that rate, open loop, for
/// `windows` windows of `window` each, with p50/p99 and the server's
/// resident memory per window. Figures: the last window's p99 over the
/// first's, and memory growth from the end of the first window (after
/// warm-up) to the end. Any failed request fails the run.
pub async fn soak(max_secs: u64, window: Duration, windows: usize) -> anyhow::Result<()> {
    let bin = binary()?;
    let Some(t) = TestApp::spawn_with(Backend::Postgres, Options::default()).await else {
        println!("soak: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    let (_, owner) = t.shop("soak-shop", "premium").await;
    let key = t.pos_key(&owner).await;
    let client = reqwest::Client::new();
    let dir = t.dir.join("soak");
    std::fs::create_dir_all(&dir)?;
    let (server, base, _) = start(&bin, &t.database_url, &dir, &client).await?;
    let pid = server.0.id();

    // Tickets for the status changes, and the shop's statuses.
    let mut tickets = Vec::new();
    for i in 0..20 {
        let r: serde_json::Value = client
            .put(format!("{base}/api/pos/v1/tickets/SOAK-STATUS-{i}"))
            .bearer_auth(&key)
            .json(&serde_json::json!({
                "kind": "workorder", "number": format!("9{i}"),
                "pos_updated_at": chrono::Utc::now().to_rfc3339(),
                "customer": {"external_id": format!("soak-s{i}"), "first_name": "Soak"},
                "services": [],
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tickets.push(
            r["ticket"]["id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no ticket id: {r}"))?
                .to_owned(),
        );
    }
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/vehicle-statuses"))
        .bearer_auth(&owner)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let statuses: Vec<String> = list["items"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no statuses: {list}"))?
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(!statuses.is_empty(), "the shop has no statuses");
    let shared = std::sync::Arc::new((
        client.clone(),
        base.clone(),
        owner.clone(),
        key,
        tickets,
        statuses,
    ));
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let first_failure = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let send = {
        let (shared, failures, first_failure) =
            (shared.clone(), failures.clone(), first_failure.clone());
        move |n: u64| {
            let (shared, failures, first_failure) =
                (shared.clone(), failures.clone(), first_failure.clone());
            async move {
                let (client, base, owner, key, tickets, statuses) = &*shared;
                let started = Instant::now();
                let r = mixed_request(client, base, owner, key, tickets, statuses, n)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        true
                    }
                    Ok(r) => {
                        let s = r.status();
                        let body = r.text().await.unwrap_or_default();
                        first_failure
                            .lock()
                            .map(|mut f| {
                                f.get_or_insert(format!("request {n}: {s} {body}")).clone()
                            })
                            .ok();
                        false
                    }
                    Err(e) => {
                        first_failure
                            .lock()
                            .map(|mut f| f.get_or_insert(format!("request {n}: {e}")).clone())
                            .ok();
                        false
                    }
                };
                if !ok {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                started.elapsed()
            }
        }
    };

    // The maximum: 16 clients as fast as answers come.
    let until = Instant::now() + Duration::from_secs(max_secs);
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (send, counter) = (send.clone(), counter.clone());
        lanes.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                send(n).await;
                done += 1;
            }
            done
        });
    }
    let mut done = 0u64;
    while let Some(n) = lanes.join_next().await {
        done += n?;
    }
    let max_rps = done as f64 / max_secs as f64;
    let rate = max_rps / 2.0;
    println!(
        "soak: the mixed workload's maximum {max_rps:.0} req/s (16 clients, {max_secs} s); soaking at {rate:.0} req/s for {windows} x {window:?}"
    );

    // Half of it, open loop: a request every 1/rate, whatever the answers.
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut rows = Vec::new();
    for w in 0..windows {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let end = Instant::now() + window;
        let mut inflight = tokio::task::JoinSet::new();
        while Instant::now() < end {
            tick.tick().await;
            let (send, tx) = (send.clone(), tx.clone());
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            inflight.spawn(async move {
                let _ = tx.send(send(n).await);
            });
            while inflight.try_join_next().is_some() {}
        }
        while inflight.join_next().await.is_some() {}
        drop(tx);
        let mut lat = Vec::new();
        while let Some(d) = rx.recv().await {
            lat.push(d);
        }
        lat.sort();
        let rss = rss_kib(pid)?;
        let row = (
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            rss,
        );
        println!(
            "soak window {}: {} requests, p50 {:.1} ms, p99 {:.1} ms, server RSS {} KiB",
            w + 1,
            row.0,
            row.1.as_secs_f64() * 1000.0,
            row.2.as_secs_f64() * 1000.0,
            row.3
        );
        rows.push(row);
    }
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    anyhow::ensure!(
        failed == 0,
        "soak: {failed} requests failed; the first: {}",
        first_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default()
    );
    let (first, last) = (rows[0], rows[rows.len() - 1]);
    let p99_ratio = last.2.as_secs_f64() / first.2.as_secs_f64().max(1e-9);
    let growth = (last.3 as f64 - first.3 as f64) / first.3 as f64 * 100.0;
    let peak = rows.iter().map(|r| r.3).max().unwrap_or(0);
    println!(
        "soak: p99 last window / first window {p99_ratio:.2}x ({:.1} ms -> {:.1} ms); server RSS {} KiB after the first window, {} KiB at the end ({growth:+.1} %), peak {} KiB; 0 failed requests",
        first.2.as_secs_f64() * 1000.0,
        last.2.as_secs_f64() * 1000.0,
        first.3,
        last.3,
        peak
    );
    crate::results::record(
        "soak",
        serde_json::json!({
            "max_rps": max_rps, "rate": rate, "window_secs": window.as_secs_f64(), "windows": windows,
            "p99_ms": rows.iter().map(|r| r.2.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
            "p50_ms": rows.iter().map(|r| r.1.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
            "rss_kib": rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "p99_ratio_last_first": p99_ratio, "rss_growth_pct": growth,
        }),
    );
    drop(server);
    t.finish().await;
    Ok(())
}
