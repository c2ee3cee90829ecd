//! The production shape on PostgreSQL: `pitwall serve --no-workers` and
//! `pitwall worker` as two processes of the real binary. The API process
//! commits the invitation and its job; only the worker process sends it.

use pitwall_testkit::process::{Graceful, free_port, wait_ready};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

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
    let port = free_port();
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
    let _api = Graceful(
        pitwall(&with_dir(&api_dir), &["serve", "--no-workers"])
            .spawn()
            .unwrap(),
    );
    let _worker = Graceful(
        pitwall(&with_dir(&worker_dir), &["worker"])
            .spawn()
            .unwrap(),
    );

    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
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

async fn json_of(r: reqwest::RequestBuilder) -> serde_json::Value {
    let r = r.send().await.expect("the request is answered");
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Two API processes of the real binary on one PostgreSQL database (as
/// behind a load balancer): a customer's live page is served by one, the
/// advisor changes the ticket's status through the other, and the page's
/// stream hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_reaches_a_live_stream_served_by_another_process() {
    let name = match pitwall_testkit::pg_database(&pitwall_testkit::pg_admin_url()).await {
        Ok(n) => n,
        Err(e) if !pitwall_testkit::pg_required() => {
            eprintln!("SKIPPED: PostgreSQL is not reachable ({e:#})");
            return;
        }
        Err(e) => panic!("PostgreSQL: {e:#}"),
    };
    let dir = std::env::temp_dir().join(format!("pitwall-live-{name}"));
    let free_port = || free_port();
    let env_for = |which: &str, port: u16| {
        let d = dir.join(which);
        std::fs::create_dir_all(&d).unwrap();
        vec![
            (
                "DATABASE_URL",
                format!("{}/{name}", pitwall_testkit::pg_admin_url()),
            ),
            ("PITWALL_ADDR", format!("127.0.0.1:{port}")),
            ("PITWALL_BASE_URL", format!("http://127.0.0.1:{port}")),
            ("PITWALL_DATA_DIR", d.display().to_string()),
        ]
    };
    let (port_a, port_b) = (free_port(), free_port());
    let (env_a, env_b) = (env_for("a", port_a), env_for("b", port_b));
    assert!(
        pitwall(&env_a, &["migrate", "up"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        pitwall(
            &env_a,
            &[
                "admin",
                "create-shop",
                "--name",
                "Live Garage",
                "--slug",
                "live-garage",
                "--plan",
                "premium",
                "--owner-email",
                "owner@live.test",
                "--owner-password",
                "owner password here",
            ]
        )
        .status()
        .unwrap()
        .success()
    );
    let _a = Graceful(pitwall(&env_a, &["serve", "--no-workers"]).spawn().unwrap());
    let _b = Graceful(pitwall(&env_b, &["serve", "--no-workers"]).spawn().unwrap());
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let client = reqwest::Client::new();
    wait_ready(&client, &a).await;
    wait_ready(&client, &b).await;

    // Through process A: the owner, the POS's ticket, a customer link.
    let login = json_of(
        client
            .post(format!("{a}/api/v1/auth/login"))
            .json(&json!({"email": "owner@live.test", "password": "owner password here"})),
    )
    .await;
    let staff = login["token"].as_str().expect("token").to_owned();
    let key = json_of(
        client
            .post(format!("{a}/api/v1/api-keys"))
            .bearer_auth(&staff)
            .json(&json!({"name": "POS"})),
    )
    .await;
    let pushed = json_of(
        client
            .put(format!("{a}/api/pos/v1/tickets/LIVE-1"))
            .bearer_auth(key["secret"].as_str().expect("secret"))
            .json(&json!({
                "kind": "estimate", "number": "42", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": "c1", "first_name": "Lee", "phone": "+15125550177"},
                "services": [],
            })),
    )
    .await;
    let ticket = pushed["ticket"]["id"].as_str().expect("ticket").to_owned();
    let issued = json_of(
        client
            .post(format!("{a}/api/v1/tickets/{ticket}/customer-links"))
            .bearer_auth(&staff)
            .json(&json!({})),
    )
    .await;
    let url = issued["url"].as_str().expect("a link");
    let token = url.rsplit("/c/").next().expect("a token").to_owned();
    let statuses = json_of(
        client
            .get(format!("{a}/api/v1/vehicle-statuses"))
            .bearer_auth(&staff),
    )
    .await;
    let ids: Vec<String> = statuses["items"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .take(2)
        .collect();
    assert_eq!(ids.len(), 2, "{statuses}");

    // The customer's page, live, served by process B.
    let mut stream = client
        .get(format!("{b}/c/{token}/events"))
        .send()
        .await
        .expect("the stream opens");
    assert!(stream.status().is_success(), "{}", stream.status());
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<String>();
    let reader = tokio::spawn(async move {
        while let Ok(Some(chunk)) = stream.chunk().await {
            if tx
                .send(String::from_utf8_lossy(&chunk).into_owned())
                .is_err()
            {
                return;
            }
        }
    });

    // The advisor changes the status through process A. B's listener may
    // still be connecting when the first change commits: change again
    // until the stream hears one, up to a deadline.
    let started = Instant::now();
    let mut text = String::new();
    let mut i = 0;
    while !text.contains("status_changed") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "process B's stream never heard of a status change made through A; it sent: {text:?}"
        );
        json_of(
            client
                .put(format!("{a}/api/v1/tickets/{ticket}/status"))
                .bearer_auth(&staff)
                .json(&json!({"status_id": ids[i % 2]})),
        )
        .await;
        i += 1;
        if let Ok(Some(more)) = tokio::time::timeout(Duration::from_secs(2), heard.recv()).await {
            text.push_str(&more);
        }
        while let Ok(more) = heard.try_recv() {
            text.push_str(&more);
        }
    }
    reader.abort();
    drop((_a, _b));
    pitwall_testkit::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&dir);
}
