//! Ticket benchmarks: POS batch import, the status-change write path
//! against pgbench's mixed workload, and the ticket list under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pitwall_core::domain::{StatusId, TicketId};
use pitwall_store::sea_orm::{ConnectionTrait, Statement};
use pitwall_testkit::{Backend, TestApp};
use serde_json::{Value, json};

fn bench_ticket(i: usize) -> Value {
    json!({
        "external_id": format!("BATCH-{i}"),
        "kind": "workorder",
        "number": format!("{}", 50000 + i),
        "customer": {"external_id": format!("BC-{}", i / 2), "first_name": "Bench", "last_name": format!("Customer{}", i / 2),
                     "phone": format!("512555{:04}", i / 2 % 10000)},
        "vehicle": {"external_id": format!("BV-{i}"), "year": 2018, "make": "Honda", "model": "Accord", "plate": format!("B{i:06}")},
        "services": [
            {"external_id": "S1", "title": "Brakes", "status": "recommended", "line_items": [
                {"kind": "labor", "description": "Pads", "quantity": 1.5, "unit_price": 12000, "taxable": false},
                {"kind": "part", "description": "Pad set", "quantity": 1, "unit_price": 6499, "taxable": true}]},
            {"external_id": "S2", "title": "Oil change", "status": "approved", "line_items": [
                {"kind": "part", "description": "Oil", "quantity": 5, "unit_price": 899, "taxable": true}]}
        ],
        "tax_rate": 0.0825,
        "pos_updated_at": "2026-11-23T10:00:00Z",
    })
}

/// Posts one POS batch; any answer but success, or any ticket rejected,
/// fails the benchmark.
pub(crate) async fn push_batch(
    t: &TestApp,
    key: &str,
    tickets: Vec<Value>,
) -> anyhow::Result<Value> {
    let (status, body) = t
        .post(
            "/api/pos/v1/tickets/batch",
            key,
            json!({"tickets": tickets}),
        )
        .await;
    anyhow::ensure!(status.is_success(), "batch answered {status}: {body}");
    if let Some(rejected) = body["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["outcome"] == "rejected"))
    {
        anyhow::bail!("the batch rejected a ticket: {rejected}");
    }
    Ok(body)
}

/// A new database with pgbench's tables (`pgbench -i -s 10`): its name and
/// URL, or `None` (and nothing left behind) when pgbench is missing or fails.
pub(crate) async fn pgbench_database() -> anyhow::Result<Option<(String, String)>> {
    let admin = pitwall_testkit::pg_admin_url();
    let db = pitwall_testkit::pg_database(&admin).await?;
    let url = format!("{admin}/{db}");
    let init = std::process::Command::new("pgbench")
        .args(["-i", "-q", "-s", "10", &url])
        .output();
    if !matches!(init, Ok(ref o) if o.status.success()) {
        pitwall_testkit::drop_pg_database(&db).await;
        return Ok(None);
    }
    Ok(Some((db, url)))
}

/// Batches of 100 new tickets through `POST /api/pos/v1/tickets/batch`,
/// one at a time as a POS sends them; on PostgreSQL in rounds alternating
/// with pgbench's mixed workload at the same concurrency (one client).
pub async fn batch_import(backend: Backend, batches: usize) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(backend).await else {
        println!("batch import ({backend:?}): skipped, database not reachable");
        return Ok(());
    };
    // On PostgreSQL the baseline is pgbench's mixed workload with one
    // client, as a POS pushes one batch at a time; the two alternate.
    let baseline = match backend {
        Backend::Postgres => Some(pgbench_database().await?.ok_or_else(|| {
            anyhow::anyhow!("pgbench -i failed (is postgresql-client installed?)")
        })?),
        _ => None,
    };
    let (_, owner) = t.shop("batch-bench", "premium").await;
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "bench"}))
        .await;
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    let rounds = if baseline.is_some() {
        3.min(batches)
    } else {
        1
    };
    let pgbench_secs = if batches >= 20 { 5 } else { 2 };
    let mut secs = 0.0;
    let mut n = 0;
    let mut ratios = Vec::new();
    let mut tpss = Vec::new();
    let mut next = 0;
    for round in 0..rounds {
        let these = batches / rounds + usize::from(round < batches % rounds);
        let started = Instant::now();
        let mut created = 0;
        for _ in 0..these {
            let tickets: Vec<Value> = (0..100).map(|i| bench_ticket(next * 100 + i)).collect();
            next += 1;
            let body = push_batch(&t, &key, tickets).await?;
            created += body["results"]
                .as_array()
                .map(|r| r.iter().filter(|x| x["outcome"] == "created").count())
                .unwrap_or(0);
        }
        let took = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            created == these * 100,
            "{created} of {} tickets were created",
            these * 100
        );
        secs += took;
        n += created;
        if let Some((_, url)) = &baseline {
            let tps =
                pgbench(url, 1, pgbench_secs).ok_or_else(|| anyhow::anyhow!("pgbench failed"))?;
            let rate = created as f64 / took;
            println!(
                "  round {}: {rate:.0} tickets/s; pgbench (mixed, 1 client) {tps:.0} tps ({:.2})",
                round + 1,
                rate / tps
            );
            ratios.push(rate / tps);
            tpss.push(tps);
        }
    }
    // The same tickets again, as a POS re-syncs what changed: a newer
    // push, a service approved, the mileage read at the counter. Each is an
    // update of rows that exist (one statement per changed row).
    let again = batches.min(5);
    let started = Instant::now();
    let mut updated = 0;
    for b in 0..again {
        let tickets: Vec<Value> = (0..100)
            .map(|i| {
                let mut tk = bench_ticket(b * 100 + i);
                tk["pos_updated_at"] = json!("2026-11-23T11:00:00Z");
                tk["services"][0]["status"] = json!("approved");
                tk["vehicle"]["mileage"] = json!(60_000 + i);
                tk
            })
            .collect();
        let body = push_batch(&t, &key, tickets).await?;
        updated += body["results"]
            .as_array()
            .map(|r| r.iter().filter(|x| x["outcome"] == "updated").count())
            .unwrap_or(0);
    }
    let update_rate = updated as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        updated == again * 100,
        "{updated} of {} tickets were updated",
        again * 100
    );
    let update_ratio = (!tpss.is_empty()).then(|| update_rate / median(&mut tpss));
    println!(
        "  re-sync of {updated} changed tickets: {update_rate:.0} tickets/s{}",
        update_ratio
            .map(|r| format!(" ({r:.2} of pgbench's median tps)"))
            .unwrap_or_default()
    );
    let ratio = (!ratios.is_empty()).then(|| median(&mut ratios));
    println!(
        "POS batch import ({backend:?}): {n} new tickets (2 services, 3 line items each) in {batches} batches of 100, \
         {:.0} tickets/s{}",
        n as f64 / secs,
        ratio
            .map(|r| format!("; median ratio to pgbench's mixed workload {r:.2} (goal 0.5)"))
            .unwrap_or_default()
    );
    crate::results::record(
        "pos_batch_import",
        serde_json::json!({
            "backend": format!("{backend:?}"), "tickets": n, "tickets_per_s": n as f64 / secs,
            "ratio_to_pgbench_mixed": ratio, "goal_ratio": 0.5,
            "resync_tickets_per_s": update_rate, "resync_ratio_to_pgbench_mixed": update_ratio,
        }),
    );
    if let Some((db, _)) = baseline {
        pitwall_testkit::drop_pg_database(&db).await;
    }
    t.finish().await;
    Ok(())
}

/// Status changes through `PUT /api/v1/tickets/{id}/status` (history,
/// timeline, the customer's text with its job and event, thread, NOTIFY:
/// all or nothing) against `pgbench`'s default mixed (TPC-B-like) workload,
/// same machine, same concurrency. The three run in turn, `rounds` times,
/// so that a machine that speeds up or slows down during the run affects
/// both sides of each ratio alike; the median round is the figure.
pub async fn status_vs_pgbench(secs: u64, clients: usize, rounds: usize) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(Backend::Postgres).await else {
        println!("status vs pgbench: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    let Some((pgbench_db, url)) = pgbench_database().await? else {
        println!("status vs pgbench: skipped, pgbench is not installed or failed");
        t.finish().await;
        return Ok(());
    };

    let (_, owner) = t.shop("status-bench", "premium").await;
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "bench"}))
        .await;
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    let tickets: Vec<Value> = (0..clients * 4).map(bench_ticket).collect();
    let body = push_batch(&t, &key, tickets).await?;
    let ids: Vec<TicketId> = body["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["ticket"]["id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
    let notify: Vec<StatusId> = statuses["items"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| s["notify_customer"] == true)
                .filter_map(|s| s["id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(!ids.is_empty() && notify.len() >= 2, "bench data missing");
    let actor = pitwall_core::auth::authenticate(&t.app, &owner, pitwall_core::auth::Kind::Api)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = t
        .app
        .shop_ctx(&actor, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut direct_ratios = Vec::new();
    let mut http_ratios = Vec::new();
    for round in 1..=rounds {
        let Some(tps) = pgbench(&url, clients, secs) else {
            println!("status vs pgbench: pgbench failed");
            break;
        };
        let http = status_changes_over_http(&t, &owner, &ids, &notify, clients, secs).await?;
        let direct = status_changes_direct(&t, &ctx, &ids, &notify, clients, secs).await?;
        println!(
            "  round {round}: pgbench {tps:.0} tps; use case {direct:.0}/s ({:.2}); HTTP API {http:.0}/s ({:.2})",
            direct / tps,
            http / tps
        );
        direct_ratios.push(direct / tps);
        http_ratios.push(http / tps);
    }
    pitwall_testkit::drop_pg_database(&pgbench_db).await;
    if !direct_ratios.is_empty() {
        println!(
            "status change vs pgbench (PostgreSQL, {clients} clients, {rounds} rounds of {secs} s each): \
             median ratio through the use case {:.2}, through the HTTP API {:.2} \
             (each change: ticket, history, timeline event, 1 text + its job + its event, thread, NOTIFY, \
             then the ticket view)",
            median(&mut direct_ratios),
            median(&mut http_ratios)
        );
        crate::results::record(
            "status_change_vs_pgbench",
            serde_json::json!({
                "clients": clients, "rounds": rounds,
                "use_case_ratio": median(&mut direct_ratios),
                "http_ratio": median(&mut http_ratios),
                "goal_ratio": 0.5,
            }),
        );
    }
    t.finish().await;
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// pgbench's default TPC-B-like run; its transactions per second.
fn pgbench(url: &str, clients: usize, secs: u64) -> Option<f64> {
    pgbench_with(url, clients, secs, &[])
}

/// pgbench with extra arguments (`-S`: select only); transactions per second.
pub(crate) fn pgbench_with(url: &str, clients: usize, secs: u64, extra: &[&str]) -> Option<f64> {
    let run = std::process::Command::new("pgbench")
        .args(extra)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            // pgbench wants the clients a multiple of the threads.
            if clients.is_multiple_of(2) { "2" } else { "1" },
            "-T",
            &secs.to_string(),
            url,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&run.stdout).to_string();
    text.lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
}

/// What alternating rounds of `wrk` and `pgbench -S` measured: the median
/// of each side's rounds, and each round's ratio.
pub(crate) struct AgainstSelect {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub pgbench_tps: f64,
    pub round_ratios: Vec<f64>,
    /// Cores busy during the `wrk` rounds (medians): the server (this
    /// process) and PostgreSQL.
    pub server_cores: f64,
    pub postgres_cores: f64,
}

impl AgainstSelect {
    /// Milliseconds of CPU per request: the server's, PostgreSQL's.
    pub fn cpu_ms_per_request(&self) -> (f64, f64) {
        let per = |cores: f64| cores * 1000.0 / self.rps.max(1e-9);
        (per(self.server_cores), per(self.postgres_cores))
    }
}

/// `rounds` of `wrk` against `target` (each request made by the Lua
/// `script`, which is removed afterwards) with `connections`, each followed
/// by `pgbench -S` with as many clients on `pgbench_url`, `secs` each, so
/// that a machine that speeds up or slows down moves both sides alike.
/// Any failed request or pgbench run fails it.
pub(crate) async fn rounds_against_pgbench_select(
    target: &str,
    script: &std::path::Path,
    connections: u32,
    secs: u32,
    rounds: usize,
    pgbench_url: &str,
) -> anyhow::Result<AgainstSelect> {
    let (mut apps, mut pgs, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    let outcome: anyhow::Result<()> = async {
        for _ in 0..rounds {
            let mark = crate::cpu::CpuMark::now();
            apps.push(crate::wrk::run_script(target, connections, secs, script).await?);
            cpus.push(mark.split());
            let url = pgbench_url.to_owned();
            let clients = connections as usize;
            let tps = tokio::task::spawn_blocking(move || {
                pgbench_with(&url, clients, u64::from(secs), &["-S"])
            })
            .await?
            .ok_or_else(|| anyhow::anyhow!("pgbench -S failed"))?;
            pgs.push(tps);
        }
        Ok(())
    }
    .await;
    let _ = std::fs::remove_file(script);
    outcome?;
    anyhow::ensure!(!apps.is_empty(), "no rounds were run");
    Ok(AgainstSelect {
        round_ratios: apps
            .iter()
            .zip(&pgs)
            .map(|(a, p)| a.requests_per_sec / p)
            .collect(),
        rps: median(&mut apps.iter().map(|r| r.requests_per_sec).collect::<Vec<_>>()),
        p50_ms: median(&mut apps.iter().map(|r| r.p50_ms).collect::<Vec<_>>()),
        p99_ms: median(&mut apps.iter().map(|r| r.p99_ms).collect::<Vec<_>>()),
        pgbench_tps: median(&mut pgs),
        server_cores: median(&mut cpus.iter().map(|c| c.own_cores).collect::<Vec<_>>()),
        postgres_cores: median(&mut cpus.iter().map(|c| c.postgres_cores).collect::<Vec<_>>()),
    })
}

/// How many status changes are recorded (each change writes one).
async fn recorded_changes(t: &TestApp) -> anyhow::Result<i64> {
    let db = &t.db;
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM status_changes",
    ))
    .await?
    .and_then(|r| r.try_get::<i64>("", "n").ok())
    .ok_or_else(|| anyhow::anyhow!("could not count status changes"))
}

/// Runs `clients` tasks until `secs` pass; each try answers whether it
/// succeeded (or why not). Any failure, or a count of recorded changes
/// that differs from the successes, is an error: a rate made of failed or
/// empty requests is not a result.
async fn status_change_rate<F, Fut>(
    t: &TestApp,
    what: &str,
    clients: usize,
    secs: u64,
    one: F,
) -> anyhow::Result<f64>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let before = recorded_changes(t).await?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (done, failed, first_failure, one) = (
            done.clone(),
            failed.clone(),
            first_failure.clone(),
            one.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while Instant::now() < until {
                match one(c, i).await {
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
                i += 1;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let (done, failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    if failed > 0 {
        let first = first_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        anyhow::bail!(
            "{what}: {failed} of {} status changes failed (first: {first})",
            done + failed
        );
    }
    let recorded = recorded_changes(t).await? - before;
    anyhow::ensure!(
        done > 0 && recorded == done as i64,
        "{what}: {done} status changes answered, {recorded} recorded"
    );
    Ok(done as f64 / secs as f64)
}

/// Status changes per second through `PUT /api/v1/tickets/{id}/status`.
async fn status_changes_over_http(
    t: &TestApp,
    owner: &str,
    ids: &[TicketId],
    notify: &[StatusId],
    clients: usize,
    secs: u64,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let urls: Arc<Vec<String>> = Arc::new(
        ids.iter()
            .map(|id| t.url(&format!("/api/v1/tickets/{id}/status")))
            .collect(),
    );
    let (notify, owner) = (Arc::new(notify.to_vec()), Arc::new(owner.to_owned()));
    status_change_rate(t, "HTTP API", clients, secs, move |c, i| {
        let (client, urls, notify, owner) =
            (client.clone(), urls.clone(), notify.clone(), owner.clone());
        async move {
            // Client c takes every clients-th ticket, so no two race.
            let mine = urls.len().div_ceil(clients).max(1);
            let url = &urls[(c + (i % mine) * clients) % urls.len()];
            let status = notify[i % notify.len()];
            match client
                .put(url)
                .bearer_auth(owner.as_str())
                .json(&json!({"status_id": status}))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("answered {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}

/// The same write path without HTTP: the use case the API calls, with the
/// same concurrency (its answer, the ticket view, is still read).
async fn status_changes_direct(
    t: &TestApp,
    ctx: &pitwall_core::ShopCtx,
    ids: &[TicketId],
    notify: &[StatusId],
    clients: usize,
    secs: u64,
) -> anyhow::Result<f64> {
    let (app, ctx) = (t.app.clone(), ctx.clone());
    let (ids, notify) = (Arc::new(ids.to_vec()), Arc::new(notify.to_vec()));
    status_change_rate(t, "use case", clients, secs, move |c, i| {
        let (app, ctx, ids, notify) = (app.clone(), ctx.clone(), ids.clone(), notify.clone());
        async move {
            let mine = ids.len().div_ceil(clients).max(1);
            let id = ids[(c + (i % mine) * clients) % ids.len()];
            let status = notify[i % notify.len()];
            match pitwall_core::tickets::set_status(&app, &ctx, id, status, None).await {
                Ok(change)
                    if change
                        .view
                        .status
                        .as_ref()
                        .is_some_and(|s| s.id == status.as_uuid()) =>
                {
                    Ok(())
                }
                Ok(_) => Err("the ticket does not show the new status".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}

/// The authenticated ticket list (`GET /api/v1/tickets?limit=25`) under
/// 64 connections from `wrk` in its own process, each request signed in as
/// the owner of one of `shops` shops in turn (so shop contexts, plans and
/// permissions are many, as in production), against `pgbench -S` (primary
/// key reads) with the same 64 clients on the same server: alternating
/// rounds, the median of each. Every request must succeed.
pub async fn list_under_load(
    shops: usize,
    tickets_per_shop: usize,
    secs: u32,
    rounds: usize,
) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(Backend::Postgres).await else {
        println!("ticket list under load: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    let Some((pgbench_db, url)) = pgbench_database().await? else {
        println!("ticket list under load: skipped, pgbench is not installed or failed");
        t.finish().await;
        return Ok(());
    };
    let mut tokens = Vec::with_capacity(shops);
    for s in 0..shops {
        let (_, owner) = t.shop(&format!("list-bench-{s}"), "premium").await;
        let (_, key) = t
            .post("/api/v1/api-keys", &owner, json!({"name": "bench"}))
            .await;
        let key = key["secret"].as_str().unwrap_or_default().to_owned();
        for chunk in (0..tickets_per_shop).collect::<Vec<_>>().chunks(100) {
            let tickets: Vec<Value> = chunk.iter().map(|i| bench_ticket(*i)).collect();
            push_batch(&t, &key, tickets).await?;
        }
        tokens.push(owner);
    }
    // An operator's database has statistics (autovacuum gathers them
    // within a minute of a load); without them PostgreSQL plans the
    // page's lookups as if the tables were empty.
    t.db.execute_raw(Statement::from_string(
        t.db.get_database_backend(),
        "ANALYZE".to_owned(),
    ))
    .await?;
    // Each wrk thread runs its own copy of the script, starting at a
    // different token.
    let quoted: Vec<String> = tokens.iter().map(|k| format!("\"{k}\"")).collect();
    let script = std::env::temp_dir().join(format!("pitwall-list-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "local tokens = {{{}}}\nlocal n = math.random(#tokens)\n\
             request = function()\n  n = n % #tokens + 1\n  \
             return wrk.format(\"GET\", \"/api/v1/tickets?limit=25\", {{[\"Authorization\"] = \"Bearer \" .. tokens[n]}})\nend\n",
            quoted.join(", ")
        ),
    )?;
    let measured = rounds_against_pgbench_select(
        &t.url("/api/v1/tickets?limit=25"),
        &script,
        64,
        secs,
        rounds,
        &url,
    )
    .await;
    pitwall_testkit::drop_pg_database(&pgbench_db).await;
    let measured = measured?;
    let (server_ms, postgres_ms) = measured.cpu_ms_per_request();
    let AgainstSelect {
        rps: app_rps,
        p50_ms: p50,
        p99_ms: p99,
        pgbench_tps: pg_tps,
        round_ratios: ratios,
        server_cores,
        postgres_cores,
    } = measured;
    println!(
        "ticket list under load (PostgreSQL, wrk, 64 connections, {shops} shops x {tickets_per_shop} tickets, \
         {rounds} x {secs} s): {app_rps:.0} req/s, p50 {p50:.1} ms, p99 {p99:.1} ms; pgbench -S {pg_tps:.0} tps; \
         ratio {:.2} (rounds {}; goal >= 0.35, p99 <= 25 ms); cores busy: server {server_cores:.2}, \
         PostgreSQL {postgres_cores:.2} (CPU per list {server_ms:.2} ms / {postgres_ms:.2} ms)",
        app_rps / pg_tps,
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    crate::results::record(
        "ticket_list_under_load",
        serde_json::json!({
            "connections": 64, "shops": shops, "app_rps": app_rps, "p50_ms": p50, "p99_ms": p99,
            "pgbench_select_tps": pg_tps, "ratio": app_rps / pg_tps, "goal_ratio": 0.35, "goal_p99_ms": 25,
            "server_cores": server_cores, "postgres_cores": postgres_cores,
        }),
    );
    t.finish().await;
    Ok(())
}
