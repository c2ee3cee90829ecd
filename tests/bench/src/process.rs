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

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
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
