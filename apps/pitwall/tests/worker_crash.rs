//! A killed worker loses nothing and sends nothing twice. On PostgreSQL,
//! `pitwall serve --no-workers` takes 2,000 texts; a separate `pitwall
//! worker` process delivers them to a local provider that speaks Twilio's
//! format, and is killed with SIGKILL five times while it sends (and
//! restarted each time). At the end the provider has every text exactly
//! once and every message is recorded as sent.

use pitwall_testkit::process::{Proc, free_port};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pitwall_testkit::fake_sms::FakeSms;
use serde_json::{Value, json};

const MESSAGES: usize = 2_000;
const CUSTOMERS: usize = 20;
const KILLS: usize = 5;

fn pitwall(env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitwall"));
    c.args(args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// What both crash tests start from: a migrated database with a premium
/// shop, `pitwall serve --no-workers` on it, and the owner's token.
struct Setup {
    name: String,
    dir: std::path::PathBuf,
    env: Vec<(String, String)>,
    base: String,
    client: reqwest::Client,
    token: String,
    _api: Proc,
}

/// `None` when PostgreSQL is not there (and not required). `extra` adds
/// settings to every process.
async fn setup(tag: &str, extra: Vec<(String, String)>) -> Option<Setup> {
    let name = match pitwall_testkit::pg_database(&pitwall_testkit::pg_admin_url()).await {
        Ok(n) => n,
        Err(e) if !pitwall_testkit::pg_required() => {
            eprintln!("SKIPPED: PostgreSQL is not reachable ({e:#})");
            return None;
        }
        Err(e) => panic!("PostgreSQL: {e:#}"),
    };
    let dir = std::env::temp_dir().join(format!("pitwall-{tag}-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(String, String)> = vec![
        (
            "DATABASE_URL".into(),
            format!("{}/{name}", pitwall_testkit::pg_admin_url()),
        ),
        ("PITWALL_ADDR".into(), format!("127.0.0.1:{port}")),
        ("PITWALL_BASE_URL".into(), base.clone()),
        ("PITWALL_DATA_DIR".into(), dir.display().to_string()),
    ];
    env.extend(extra);
    assert!(
        pitwall(&env, &["migrate", "up"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        pitwall(
            &env,
            &[
                "admin",
                "create-shop",
                "--name",
                "Crash Garage",
                "--slug",
                "crash-garage",
                "--plan",
                "premium",
                "--owner-email",
                "owner@crash.test",
                "--owner-password",
                "owner password here",
            ]
        )
        .status()
        .unwrap()
        .success()
    );
    let api = Proc(pitwall(&env, &["serve", "--no-workers"]).spawn().unwrap());
    let client = reqwest::Client::new();
    pitwall_testkit::process::wait_ready(&client, &base).await;
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "owner@crash.test", "password": "owner password here"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("token").to_owned();
    Some(Setup {
        name,
        dir,
        env,
        base,
        client,
        token,
        _api: api,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_five_times_loses_and_duplicates_nothing() {
    let fake = FakeSms::start().await.expect("fake provider");
    let mut extra = fake.env("+15125550100");
    // A short code's rate: the test is about crashes, not the limit.
    extra.push(("PITWALL_SMS_RATE_PER_SENDER".into(), "1000".into()));
    let Some(Setup {
        name,
        dir,
        env,
        base,
        client,
        token,
        _api,
    }) = setup("crash", extra).await
    else {
        return;
    };

    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let c: Value = client
            .post(format!("{base}/api/v1/customers"))
            .bearer_auth(&token)
            .json(&json!({"first_name": format!("C{i}"), "phone": format!("+1512555{:04}", 2000 + i)}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        customers.push(
            c["customer"]["id"]
                .as_str()
                .expect("customer id")
                .to_owned(),
        );
    }

    // Queue every text before any worker runs: the API alone commits them.
    let mut queued = tokio::task::JoinSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    for i in 0..MESSAGES {
        let (client, token, base, sem) = (client.clone(), token.clone(), base.clone(), sem.clone());
        let customer = customers[i % CUSTOMERS].clone();
        queued.spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let r = client
                .post(format!("{base}/api/v1/threads/{customer}/messages"))
                .bearer_auth(&token)
                .json(&json!({"channel": "sms", "body": format!("crash test {i:04}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                201,
                "{}",
                r.text().await.unwrap_or_default()
            );
        });
    }
    while let Some(r) = queued.join_next().await {
        r.unwrap();
    }
    assert!(fake.messages().is_empty(), "no worker yet, nothing sent");

    // Kill the worker while it sends, five times.
    let mut worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    for k in 1..=KILLS {
        let target = k * MESSAGES / (KILLS + 2);
        let until = Instant::now() + Duration::from_secs(120);
        while fake.messages().len() < target {
            assert!(Instant::now() < until, "no progress before kill {k}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = worker.0.kill(); // SIGKILL
        let _ = worker.0.wait();
        worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    }

    // Everything arrives, once.
    let until = Instant::now() + Duration::from_secs(180);
    while fake.messages().len() < MESSAGES && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a duplicate (if there were one) time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = fake.messages();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for m in &got {
        *seen.entry(m.body.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let missing: Vec<String> = (0..MESSAGES)
        .map(|i| format!("crash test {i:04}"))
        .filter(|b| !seen.contains_key(b.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} never sent, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(got.len(), MESSAGES);

    // And Pitwall knows it: every message is recorded as sent.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let db = pitwall_store::connect(&format!("{}/{name}", pitwall_testkit::pg_admin_url()))
            .await
            .unwrap();
        use pitwall_store::sea_orm::{ConnectionTrait, Statement};
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FILTER (WHERE status <> 'sent') AS pending, COUNT(*) AS total, \
                 COUNT(*) FILTER (WHERE attempts > 1) AS interrupted \
                 FROM messages WHERE direction = 'outbound'",
            ))
            .await
            .unwrap()
            .unwrap();
        let pending: i64 = row.try_get("", "pending").unwrap();
        let total: i64 = row.try_get("", "total").unwrap();
        let interrupted: i64 = row.try_get("", "interrupted").unwrap();
        db.close().await.unwrap();
        assert_eq!(total as usize, MESSAGES);
        if pending == 0 {
            // The kills did land in the send window: those messages were
            // claimed, then found again and reconciled with the provider.
            eprintln!("{interrupted} messages were interrupted mid-send and reconciled");
            assert!(interrupted > 0, "no kill hit a message being sent");
            break;
        }
        assert!(
            Instant::now() < until,
            "{pending} messages not recorded as sent"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((worker, _api));
    pitwall_testkit::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&dir);
}

const DELIVERIES: usize = 300;
const WEBHOOK_KILLS: usize = 3;

/// Webhook deliveries with a worker killed (SIGKILL) three times while it
/// delivers: every delivery reaches the shop's endpoint and is recorded
/// delivered. HTTP offers no way to ask the receiver what it got, so a
/// delivery in flight at a kill may arrive twice, with the same
/// `Pitwall-Delivery` id and body for the receiver to drop (docs/API.md):
/// at most one per delivery running at a kill, never a different body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_survive_a_killed_worker() {
    let receiver = pitwall_testkit::receiver::Receiver::start(&[])
        .await
        .expect("a receiver");
    let extra = vec![("PITWALL_WEBHOOKS_ALLOW_PRIVATE".into(), "true".into())];
    let Some(Setup {
        name,
        dir,
        env,
        base,
        client,
        token,
        _api,
    }) = setup("hooks", extra).await
    else {
        return;
    };
    let hook: Value = client
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": receiver.url()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_id = hook["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{hook}"))
        .to_owned();
    for _ in 0..DELIVERIES {
        let r = client
            .post(format!("{base}/api/v1/webhooks/{hook_id}/test"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    let mut worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    for k in 1..=WEBHOOK_KILLS {
        let target = k * DELIVERIES / (WEBHOOK_KILLS + 2);
        let until = Instant::now() + Duration::from_secs(120);
        while receiver.received().len() < target {
            assert!(Instant::now() < until, "no progress before kill {k}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = worker.0.kill(); // SIGKILL
        let _ = worker.0.wait();
        worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    }

    // Every delivery recorded delivered (the killed ones come back after
    // their worker's heartbeat lapses).
    let db = pitwall_store::connect(&format!("{}/{name}", pitwall_testkit::pg_admin_url()))
        .await
        .unwrap();
    use pitwall_store::sea_orm::{ConnectionTrait, Statement};
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE status = 'delivered') AS delivered \
                 FROM webhook_deliveries",
            ))
            .await
            .unwrap()
            .unwrap();
        let total: i64 = row.try_get("", "total").unwrap();
        let delivered: i64 = row.try_get("", "delivered").unwrap();
        assert_eq!(total as usize, DELIVERIES);
        if delivered == total {
            break;
        }
        assert!(
            Instant::now() < until,
            "{} deliveries not recorded delivered",
            total - delivered
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    db.close().await.unwrap();

    let got = receiver.received();
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    for r in &got {
        let id = r
            .header("Pitwall-Delivery")
            .expect("a delivery id")
            .to_owned();
        by_id.entry(id).or_default().push(r.body.clone());
    }
    assert_eq!(by_id.len(), DELIVERIES, "every delivery arrives");
    for (id, bodies) in &by_id {
        assert!(
            bodies.iter().all(|b| b == &bodies[0]),
            "delivery {id} arrived with different bodies"
        );
    }
    let again = got.len() - DELIVERIES;
    // Webhook deliveries run 8 at a time per worker.
    assert!(
        again <= WEBHOOK_KILLS * 8,
        "{again} deliveries arrived twice: more than were in flight at the kills"
    );
    eprintln!(
        "{DELIVERIES} webhook deliveries, worker killed {WEBHOOK_KILLS} times: all delivered and recorded; {again} arrived a second time (same id and body)"
    );
    drop((worker, _api));
    pitwall_testkit::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&dir);
}
