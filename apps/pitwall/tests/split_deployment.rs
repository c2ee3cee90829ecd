//! The production shape on PostgreSQL: `pitwall serve --no-workers` and
//! `pitwall worker` as two processes of the real binary. The API process
//! commits the invitation and its job; only the worker process sends it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first, so the graceful path runs; then make sure.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pitwall(env: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitwall"));
    c.args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn eml_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_workers_plus_a_worker_process() {
    let name = match pitwall_testkit::pg_database(&pitwall_testkit::pg_admin_url()).await {
        Ok(n) => n,
        Err(e) if !pitwall_testkit::pg_required() => {
            eprintln!("SKIPPED: PostgreSQL is not reachable ({e:#})");
            return;
        }
        Err(e) => panic!("PostgreSQL: {e:#}"),
    };
    let dir = std::env::temp_dir().join(format!("pitwall-split-{name}"));
    let (api_dir, worker_dir) = (dir.join("api"), dir.join("worker"));
    std::fs::create_dir_all(&api_dir).unwrap();
    std::fs::create_dir_all(&worker_dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let common = vec![
        (
            "DATABASE_URL",
            format!("{}/{name}", pitwall_testkit::pg_admin_url()),
        ),
        ("PITWALL_ADDR", format!("127.0.0.1:{port}")),
        ("PITWALL_BASE_URL", base.clone()),
    ];
    let with_dir = |d: &Path| {
        let mut e = common.clone();
        e.push(("PITWALL_DATA_DIR", d.display().to_string()));
        e
    };

    assert!(
        pitwall(&with_dir(&api_dir), &["migrate", "up"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        pitwall(
            &with_dir(&api_dir),
            &[
                "admin",
                "create-admin",
                "--email",
                "ops@split.test",
                "--password",
                "operator password"
            ]
        )
        .status()
        .unwrap()
        .success()
    );
    let _api = Proc(
        pitwall(&with_dir(&api_dir), &["serve", "--no-workers"])
            .spawn()
            .unwrap(),
    );
    let _worker = Proc(
        pitwall(&with_dir(&worker_dir), &["worker"])
            .spawn()
            .unwrap(),
    );

    let client = reqwest::Client::new();
    let started = Instant::now();
    while !client
        .get(format!("{base}/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the API never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "ops@split.test", "password": "operator password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("token").to_owned();
    let created = client
        .post(format!("{base}/api/admin/v1/shops"))
        .bearer_auth(&token)
        .json(&json!({"name": "Split Garage", "slug": "split-garage", "plan": "pro", "owner_email": "owner@split.test"}))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap_or_default()
    );

    let started = Instant::now();
    loop {
        let sent = eml_files(&worker_dir.join("outbox"));
        if sent.iter().any(|m| m.contains("owner@split.test")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker process sent nothing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        eml_files(&api_dir.join("outbox")).is_empty(),
        "the API process must not send when run without workers"
    );
    drop((_api, _worker));
    pitwall_testkit::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&dir);
}
