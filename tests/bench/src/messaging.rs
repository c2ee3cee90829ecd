//! Messaging on PostgreSQL: jobs per second through the apalis worker path
//! against a raw `FOR UPDATE SKIP LOCKED` loop and graphile-worker on the
//! same database, and the latency from a status change to the text
//! reaching the provider.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use pitwall_store::sea_orm::sqlx;
use pitwall_testkit::fake_sms::FakeSms;
use pitwall_testkit::{Backend, Options, TestApp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cpu::{CpuMark, CpuSplit};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BenchJob {
    n: u64,
}

#[derive(Clone)]
struct Counter {
    done: Arc<AtomicUsize>,
    target: usize,
    all_done: Arc<tokio::sync::Notify>,
}

async fn count(_job: BenchJob, c: Data<Counter>) -> Result<(), BoxDynError> {
    if c.done.fetch_add(1, Ordering::SeqCst) + 1 == c.target {
        c.all_done.notify_one();
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `jobs` no-op jobs drained by the worker setup Pitwall runs (apalis on
/// PostgreSQL, the same queue config, wake-ups, concurrency and retry
/// layer), against the same work done by hand at the same batch size and
/// concurrency (the fair baseline), against graphile-worker with the same
/// concurrency on the same database (one job per fetch, as 0.16 fetches),
/// and against `workers` tasks doing the textbook one-job-per-transaction
/// loop.
pub async fn jobs_vs_skip_locked(jobs: usize, workers: usize) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(Backend::Postgres).await else {
        println!("jobs vs SKIP LOCKED: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    let pool = t.db.get_postgres_connection_pool().clone();

    // Baseline: one row per job, claimed and marked done in a transaction.
    sqlx::query("CREATE TABLE bench_jobs (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, done_at TIMESTAMPTZ)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO bench_jobs (payload) SELECT '{\"n\":' || g || '}' FROM generate_series(1, $1) g")
        .bind(jobs as i64)
        .execute(&pool)
        .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let mut tx = pool.begin().await?;
                let row: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, payload FROM bench_jobs WHERE done_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                let Some((id, payload)) = row else {
                    tx.commit().await?;
                    return anyhow::Ok(());
                };
                let _: BenchJob = serde_json::from_str(&payload)?;
                sqlx::query("UPDATE bench_jobs SET done_at = now() WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let raw = jobs as f64 / started.elapsed().as_secs_f64();
    // The message queue's batch and concurrency, on both sides.
    let (batch, handlers) = (
        pitwall_jobs::runtime::MESSAGE_BATCH,
        pitwall_jobs::runtime::MESSAGE_CONCURRENCY,
    );
    let fair_run = raw_batched_loop(&pool, jobs, batch as i64, handlers).await?;
    let fair = fair_run.jobs_per_s;

    // apalis as Pitwall runs it, then the same without its second
    // statement per fetched batch (marking the jobs Running), to see what
    // that costs. Each on its own queue.
    let apalis_run = drain_with_apalis(&pool, jobs, batch, handlers, "pitwall.bench", true).await?;
    let through_apalis = apalis_run.jobs_per_s;
    let without_lock =
        drain_with_apalis(&pool, jobs, batch, handlers, "pitwall.bench.nolock", false)
            .await?
            .jobs_per_s;
    // Whether a drain is bound by CPU (both cores busy) or by waiting.
    for (name, run) in [("fair loop", &fair_run), ("apalis", &apalis_run)] {
        let (own_us, pg_us) = run.cpu.us_per(jobs);
        println!(
            "  {name}: cores busy {:.2} in this process + {:.2} in PostgreSQL (of 2); \
             CPU per job {own_us:.0} us here, {pg_us:.0} us in PostgreSQL",
            run.cpu.own_cores, run.cpu.postgres_cores
        );
    }
    let graphile = drain_with_graphile(&t.database_url, jobs, handlers).await?;
    println!(
        "  apalis with lock_tasks off (jobs stay Queued while they run): {without_lock:.0} jobs/s, \
         {:.2}x Pitwall's setup, {:.2} of the fair loop",
        without_lock / through_apalis,
        without_lock / fair
    );
    println!(
        "  graphile-worker {} (Node, same database, {handlers} at once, one job per fetch as 0.16 fetches): {:.0} jobs/s",
        graphile.version, graphile.jobs_per_s
    );
    println!(
        "jobs on PostgreSQL ({jobs} no-op jobs): apalis worker path {through_apalis:.0} jobs/s; \
         fair raw SKIP LOCKED loop (batches of {batch}, {handlers} handlers, partial index) {fair:.0} jobs/s, ratio {:.2} (goal >= 0.8); \
         graphile-worker {:.0} jobs/s, ratio {:.2} (goal > 1); \
         textbook loop (one job per transaction, {workers} tasks) {raw:.0} jobs/s, ratio {:.2}",
        through_apalis / fair,
        graphile.jobs_per_s,
        through_apalis / graphile.jobs_per_s,
        through_apalis / raw
    );
    crate::results::record(
        "jobs_vs_skip_locked",
        serde_json::json!({
            "jobs": jobs, "apalis_jobs_per_s": through_apalis,
            "fair_loop_jobs_per_s": fair, "fair_loop_batch": batch, "fair_loop_handlers": handlers,
            "ratio": through_apalis / fair, "goal_ratio": 0.8,
            "textbook_loop_jobs_per_s": raw, "textbook_loop_tasks": workers,
            "apalis_lock_tasks_off_jobs_per_s": without_lock,
            "ratio_to_textbook_loop": through_apalis / raw,
            "graphile_worker_version": graphile.version,
            "graphile_worker_jobs_per_s": graphile.jobs_per_s,
            "ratio_to_graphile_worker": through_apalis / graphile.jobs_per_s,
            "apalis_cores_own": apalis_run.cpu.own_cores,
            "apalis_cores_postgres": apalis_run.cpu.postgres_cores,
            "fair_loop_cores_own": fair_run.cpu.own_cores,
            "fair_loop_cores_postgres": fair_run.cpu.postgres_cores,
        }),
    );
    t.finish().await;
    Ok(())
}

/// Pushes `jobs` no-op jobs to `queue`, then drains them with one worker
/// set up as Pitwall's runtime sets up its own (wake-ups, heartbeat,
/// concurrency, retry layer); answers jobs per second of the drain.
async fn drain_with_apalis(
    pool: &sqlx::PgPool,
    jobs: usize,
    batch: usize,
    concurrency: usize,
    queue: &'static str,
    lock_tasks: bool,
) -> anyhow::Result<Drained> {
    let mut storage = PostgresStorage::<BenchJob>::new(pool)
        .with_config(apalis_postgres::Config::default().queue(queue));
    for n in 0..jobs as u64 {
        storage.push(BenchJob { n }).await?;
    }
    let counter = Counter {
        done: Arc::new(AtomicUsize::new(0)),
        target: jobs,
        all_done: Arc::new(tokio::sync::Notify::new()),
    };
    let settings = pitwall_jobs::runtime::WorkerSettings::default();
    let handle = pitwall_jobs::JobsHandle::default();
    let mark = CpuMark::now();
    let all_done = counter.all_done.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_pool = pool.clone();
    let monitor = tokio::spawn(async move {
        Monitor::new()
            .register(move |_| {
                let backend = PostgresStorage::<BenchJob>::new(&worker_pool)
                    .with_config(
                        apalis_postgres::Config::default()
                            .queue(queue)
                            .batch_size(batch)
                            .heartbeat_interval(settings.heartbeat)
                            .missed_heartbeats(3)
                            .lock_tasks(lock_tasks),
                    )
                    .poll_with_stream(pitwall_jobs::runtime::wakeups(&settings, &handle));
                WorkerBuilder::new(format!("pitwall-bench-{queue}"))
                    .backend(backend)
                    .data(counter.clone())
                    .concurrency(concurrency)
                    .retry(pitwall_jobs::runtime::retry_policy(&settings))
                    .build(count)
            })
            .run_with_signal(async move {
                let _ = stop_rx.await;
                Ok(())
            })
            .await
    });
    tokio::time::timeout(Duration::from_secs(300), all_done.notified()).await?;
    let drained = Drained::of(jobs, mark.split());
    let _ = stop_tx.send(());
    let _ = monitor.await;
    Ok(drained)
}

/// One timed drain: its rate and where the CPU went meanwhile.
struct Drained {
    jobs_per_s: f64,
    cpu: CpuSplit,
}

impl Drained {
    fn of(jobs: usize, cpu: CpuSplit) -> Self {
        Self {
            jobs_per_s: jobs as f64 / cpu.wall.as_secs_f64().max(1e-9),
            cpu,
        }
    }
}

/// What graphile-worker's drain printed (`tests/bench/graphile/drain.mjs`).
#[derive(Deserialize)]
struct GraphileRun {
    jobs_per_s: f64,
    version: String,
}

/// graphile-worker 0.16 (npm, pinned in `tests/bench/graphile`) draining
/// the same number of no-op jobs with the same concurrency, in its own
/// schema of the same database, as a Node process of its own. It fetches
/// one job per query: 0.16 has no batched fetch.
async fn drain_with_graphile(
    database_url: &str,
    jobs: usize,
    concurrency: usize,
) -> anyhow::Result<GraphileRun> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("graphile");
    anyhow::ensure!(
        dir.join("node_modules/graphile-worker").is_dir(),
        "graphile-worker is not installed: run `npm ci` in {} (`just bench` and .ci/run do)",
        dir.display()
    );
    let out = tokio::process::Command::new("node")
        .arg(dir.join("drain.mjs"))
        .env("DATABASE_URL", database_url)
        .env("JOBS", jobs.to_string())
        .env("CONCURRENCY", concurrency.to_string())
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("node did not run ({e})"))?;
    anyhow::ensure!(
        out.status.success(),
        "graphile-worker's drain failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .map_err(|e| anyhow::anyhow!("graphile-worker's drain printed {last:?}: {e}"))
}

/// The fair baseline for apalis: the same loop done by hand with what
/// apalis has. One claimer takes up to `batch` waiting jobs per query
/// (`FOR UPDATE SKIP LOCKED`, through a partial index on the waiting ones,
/// marked running in the same statement), up to `handlers` run at once,
/// and each is acknowledged on its own, as apalis acknowledges.
async fn raw_batched_loop(
    pool: &sqlx::PgPool,
    jobs: usize,
    batch: i64,
    handlers: usize,
) -> anyhow::Result<Drained> {
    sqlx::query(
        "CREATE TABLE bench_jobs_fair (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, \
         status TEXT NOT NULL DEFAULT 'pending', lock_at TIMESTAMPTZ, done_at TIMESTAMPTZ)",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "CREATE INDEX bench_jobs_fair_waiting ON bench_jobs_fair (id) WHERE status = 'pending'",
    )
    .execute(pool)
    .await?;
    sqlx::query("INSERT INTO bench_jobs_fair (payload) SELECT '{\"n\":' || g || '}' FROM generate_series(1, $1) g")
        .bind(jobs as i64)
        .execute(pool)
        .await?;
    sqlx::query("ANALYZE bench_jobs_fair").execute(pool).await?;
    let mark = CpuMark::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(handlers));
    let mut running = tokio::task::JoinSet::new();
    let mut done = 0usize;
    loop {
        let claimed: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE bench_jobs_fair SET status = 'running', lock_at = now() WHERE id IN \
             (SELECT id FROM bench_jobs_fair WHERE status = 'pending' ORDER BY id \
              LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, payload",
        )
        .bind(batch)
        .fetch_all(pool)
        .await?;
        if claimed.is_empty() {
            break;
        }
        for (id, payload) in claimed {
            let permit = permits.clone().acquire_owned().await?;
            let pool = pool.clone();
            running.spawn(async move {
                let _permit = permit;
                let _: BenchJob = serde_json::from_str(&payload)?;
                sqlx::query(
                    "UPDATE bench_jobs_fair SET status = 'done', done_at = now() WHERE id = $1",
                )
                .bind(id)
                .execute(&pool)
                .await?;
                anyhow::Ok(())
            });
        }
        while let Some(r) = running.try_join_next() {
            r??;
            done += 1;
        }
    }
    while let Some(r) = running.join_next().await {
        r??;
        done += 1;
    }
    anyhow::ensure!(done == jobs, "the fair loop ran {done} of {jobs} jobs");
    Ok(Drained::of(jobs, mark.split()))
}

/// From `PUT .../status` (a status that texts the customer) to the request
/// reaching the provider, one change at a time, with the app's in-process
/// workers.
pub async fn status_to_provider(changes: usize) -> anyhow::Result<()> {
    let fake = FakeSms::start().await?;
    let mut env = fake.env("+15125550100");
    env.push(("PITWALL_SMS_RATE_PER_SENDER".into(), "1000".into()));
    let Some(t) = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            workers: true,
            env,
            ..Default::default()
        },
    )
    .await
    else {
        println!("status to provider: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    let (_, owner) = t.shop("latency-bench", "premium").await;
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "bench"}))
        .await;
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    let (_, pushed) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/LAT-1",
            Some(&key),
            Some(json!({
                "kind": "workorder", "number": "1", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": "C-LAT", "first_name": "Lat", "phone": "+15125550142"},
                "services": [],
            })),
        )
        .await;
    let ticket = pushed["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
    let notify: Vec<String> = statuses["items"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| s["notify_customer"] == true)
                .filter_map(|s| s["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(
        !ticket.is_empty() && !notify.is_empty(),
        "bench data missing"
    );
    // The premium plan's 10,000 texts a month are plenty for this run.
    let url = t.url(&format!("/api/v1/tickets/{ticket}/status"));
    let mut latencies = Vec::with_capacity(changes);
    for i in 0..changes {
        let before = fake.messages().len();
        let started = Instant::now();
        let r = t
            .client
            .put(&url)
            .bearer_auth(&owner)
            .json(&json!({"status_id": notify[i % notify.len()]}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "status change: {}", r.status());
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = fake.messages();
            if got.len() > before {
                latencies.push(got[before].received_at.duration_since(started));
                break;
            }
            anyhow::ensure!(
                Instant::now() < until,
                "the text never reached the provider"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
    latencies.sort();
    println!(
        "status change to provider (PostgreSQL, {changes} changes one at a time): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies
            .last()
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
    );
    crate::results::record(
        "status_change_to_provider",
        serde_json::json!({
            "changes": changes,
            "p50_ms": percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            "p99_ms": percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        }),
    );
    t.finish().await;
    Ok(())
}
