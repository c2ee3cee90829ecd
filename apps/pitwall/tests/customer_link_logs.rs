//! A customer link's token never reaches the log. The real binary serves
//! (SQLite, JSON logs at `info`), the link is issued, opened as a page and
//! as JSON, approved and written from, a wrong token is tried; then the
//! whole log is read: the requests are there, the token is not.

use pitwall_testkit::process::{Proc, free_port};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn pitwall(env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitwall"));
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_of_a_customer_link_is_never_logged() {
    let dir = std::env::temp_dir().join(format!("pitwall-logs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env: Vec<(String, String)> = vec![
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/pitwall.db?mode=rwc", dir.display()),
        ),
        ("PITWALL_ADDR".into(), format!("127.0.0.1:{port}")),
        ("PITWALL_BASE_URL".into(), base.clone()),
        ("PITWALL_DATA_DIR".into(), dir.display().to_string()),
        ("PITWALL_LOG_FORMAT".into(), "json".into()),
        // Everything the app says, ours and the libraries'.
        ("RUST_LOG".into(), "debug".into()),
    ];
    let setup = pitwall(
        &env,
        &[
            "admin",
            "create-shop",
            "--name",
            "Log Garage",
            "--slug",
            "log-garage",
            "--plan",
            "premium",
            "--owner-email",
            "owner@logs.test",
            "--owner-password",
            "owner password here",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .unwrap();
    assert!(setup.success());
    let log_path = dir.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Proc(
        pitwall(&env, &["serve"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    pitwall_testkit::process::wait_ready(&client, &base).await;
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "owner@logs.test", "password": "owner password here"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let staff = login["token"].as_str().unwrap().to_owned();
    let key: Value = client
        .post(format!("{base}/api/v1/api-keys"))
        .bearer_auth(&staff)
        .json(&json!({"name": "POS"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pushed: Value = client
        .put(format!("{base}/api/pos/v1/tickets/L-1"))
        .bearer_auth(key["secret"].as_str().unwrap())
        .json(&json!({
            "kind": "estimate", "number": "77", "pos_updated_at": "2026-11-23T10:00:00Z",
            "customer": {"external_id": "c1", "first_name": "Lee", "phone": "+15125550177"},
            "services": [{"external_id": "s1", "title": "Brakes", "status": "recommended", "line_items": [
                {"kind": "labor", "description": "Pads", "quantity": 1, "unit_price": 9000, "taxable": false}]}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    let issued: Value = client
        .post(format!("{base}/api/v1/tickets/{ticket}/customer-links"))
        .bearer_auth(&staff)
        .json(&json!({"send": "sms"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = issued["url"].as_str().expect("a link").to_owned();
    let token = url.rsplit("/c/").next().unwrap().to_owned();

    client.get(&url).send().await.unwrap();
    let view: Value = client
        .get(format!("{base}/api/customer/v1/links/{token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let approved = client
        .post(format!("{base}/api/customer/v1/links/{token}/approval"))
        .json(&json!({
            "approved_service_ids": [view["services"][0]["id"]], "declined_service_ids": [],
            "signer_name": "Lee", "signature": "M 1 1 L 9 9", "ticket_version": view["ticket_version"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 201);
    client
        .post(format!("{base}/api/customer/v1/links/{token}/messages"))
        .json(&json!({"body": "thanks"}))
        .send()
        .await
        .unwrap();
    let wrong = format!("{token}x");
    client
        .get(format!("{base}/api/customer/v1/links/{wrong}"))
        .send()
        .await
        .unwrap();
    // The text carries the link: wait until the worker has sent it (and
    // logged doing so) before reading the log.
    let message = issued["message_id"].as_str().expect("a text").to_owned();
    let customer = pushed["ticket"]["customer"]["id"]
        .as_str()
        .expect("a customer")
        .to_owned();
    let started = Instant::now();
    loop {
        let thread: Value = client
            .get(format!("{base}/api/v1/threads/{customer}"))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sent = thread["messages"].as_array().is_some_and(|ms| {
            ms.iter()
                .any(|m| m["id"] == message.as_str() && m["status"] == "sent")
        });
        if sent {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker never sent the text: {thread}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("/api/customer/v1/links/:token"),
        "the customer's requests are logged: {text}"
    );
    assert!(text.contains("approval recorded"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("message sent") && l.contains(&message)),
        "the worker's send is in the log: {text}"
    );
    let secret = &token[4..];
    assert!(
        !text.contains(secret),
        "the token is in the log:\n{}",
        text.lines()
            .filter(|l| l.contains(secret))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
