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

const PAYMENTS: usize = 120;
const SUBSCRIPTION_ROUNDS: usize = 12;
const STRIPE_KILLS: usize = 3;
const CONNECT_SECRET: &str = "whsec_crash_connect";

/// One count from the test's database.
async fn count(db: &pitwall_store::sea_orm::DatabaseConnection, sql: &str) -> i64 {
    use pitwall_store::sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// Stripe's events with a worker killed (SIGKILL) while it applies them.
/// 120 invoices are paid online (Connect's `checkout.session.completed`),
/// the worker killed three times meanwhile; then the shop's subscription
/// flips between active and past due over 12 rounds of `customer.
/// subscription.updated`, the worker killed once more. Every event is applied; each invoice is paid once, with one
/// payment, one receipt and one `payment_received` webhook; the shop ends
/// in the subscription's last state, and its audit trail of status
/// changes is an unbroken chain (an event applied twice would write a
/// change from a state to itself, or break the chain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_events_survive_a_killed_worker() {
    let fake = pitwall_testkit::fake_stripe::FakeStripe::start()
        .await
        .expect("fake Stripe");
    let mut extra = fake.env("starter=price_starter,pro=price_pro,premium=price_premium");
    extra.push(("PITWALL_PAYMENTS".into(), "connect".into()));
    extra.push((
        "STRIPE_CONNECT_WEBHOOK_SECRET".into(),
        CONNECT_SECRET.into(),
    ));
    extra.push(("PITWALL_WEBHOOKS_ALLOW_PRIVATE".into(), "true".into()));
    // Every customer pays from this one address.
    extra.push(("PITWALL_LINK_LOOKUPS_PER_MINUTE".into(), "10000".into()));
    let receiver = pitwall_testkit::receiver::Receiver::start(&[])
        .await
        .expect("a receiver");
    let Some(Setup {
        name,
        dir,
        env,
        base,
        client,
        token,
        _api,
    }) = setup("stripe", extra).await
    else {
        return;
    };
    fake.set_connect_webhook(&format!("{base}/webhooks/stripe/connect"), CONNECT_SECRET);
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{status}: {body}");
            body
        }
    };
    use reqwest::Method;
    // The shop takes payments on its connected account, and tells its POS.
    call(
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url()})),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/payment-account/onboarding-links",
        Some(json!({})),
    )
    .await;
    let account = call(Method::GET, "/api/v1/payment-account", None).await["account_id"]
        .as_str()
        .expect("an account")
        .to_owned();
    fake.enable_account(&account);
    // Read again from Stripe: the account may now take payments.
    let now = call(Method::GET, "/api/v1/payment-account", None).await;
    assert_eq!(now["charges_enabled"], true, "{now}");
    let key = call(
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": "POS"})),
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Every invoice sent and paid before any worker runs: the API alone
    // stores the events.
    let mut invoices = Vec::new();
    for i in 0..PAYMENTS {
        let pushed: Value = client
            .put(format!("{base}/api/pos/v1/tickets/crash-{i}"))
            .bearer_auth(&key)
            .json(&json!({
                "kind": "workorder", "number": format!("C-{i}"), "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": format!("cust-{i}"), "last_name": "Payer",
                             "email": format!("payer{i}@example.test")},
                "services": [],
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ticket = &pushed["ticket"];
        let invoice = call(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"customer_id": ticket["customer"]["id"], "ticket_id": ticket["id"],
                        "lines": [{"kind": "labor", "description": "Work", "quantity": 1, "unit_price": 1000 + i}]})),
        )
        .await;
        let id = invoice["id"].as_str().expect("an invoice").to_owned();
        let sent = call(
            Method::POST,
            &format!("/api/v1/invoices/{id}/send"),
            Some(json!({"send": "email"})),
        )
        .await;
        let url = sent["link_url"].as_str().expect("a link");
        let link = &url[url.find("/c/").unwrap() + 3..];
        let r = client
            .post(format!("{base}/api/customer/v1/links/{link}/payments"))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{}",
            r.text().await.unwrap_or_default()
        );
        invoices.push(id);
    }
    for session in fake.payment_sessions() {
        fake.pay(&session.id).await.expect("paid");
    }
    let shop: Value = call(Method::GET, "/api/v1/shop", None).await;
    let shop_id = shop["id"].as_str().unwrap().to_owned();
    // The shop's own plan (a change of plan could take away its webhooks
    // halfway through).
    let sub = fake.add_subscription("cus_crash", "price_premium", "active", Some(&shop_id));

    let db = pitwall_store::connect(&format!("{}/{name}", pitwall_testkit::pg_admin_url()))
        .await
        .unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM payments").await, 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM connect_events").await as usize,
        PAYMENTS
    );

    // Kill the worker while it applies them.
    let mut worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    let all_applied = async || {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let open = count(
                &db,
                "SELECT (SELECT COUNT(*) FROM connect_events WHERE processed_at IS NULL) \
                 + (SELECT COUNT(*) FROM stripe_events WHERE processed_at IS NULL) AS n",
            )
            .await;
            if open == 0 {
                break;
            }
            // The killed worker's jobs come back after its heartbeat lapses.
            assert!(Instant::now() < until, "{open} Stripe events not applied");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    for k in 1..=STRIPE_KILLS {
        let target = (k * PAYMENTS / (STRIPE_KILLS + 2)) as i64;
        let until = Instant::now() + Duration::from_secs(120);
        while count(&db, "SELECT COUNT(*) AS n FROM payments").await < target {
            assert!(Instant::now() < until, "no progress before kill {k}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = worker.0.kill(); // SIGKILL
        let _ = worker.0.wait();
        worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    }
    all_applied().await;

    // The subscription flips between active and past due, one event a
    // round, each applied before the next; the worker is killed right
    // after one is delivered.
    let mut status = "active";
    for round in 0..SUBSCRIPTION_ROUNDS {
        status = if round % 2 == 0 { "active" } else { "past_due" };
        fake.set_status(&sub, status);
        let e = fake.subscription_event("updated", &sub);
        let (s, body) = fake
            .deliver_signed(
                &format!("{base}/webhooks/stripe"),
                &e,
                pitwall_testkit::fake_stripe::WEBHOOK_SECRET,
                None,
            )
            .await
            .unwrap();
        assert!(s.is_success(), "{s}: {body}");
        if round == SUBSCRIPTION_ROUNDS / 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = worker.0.kill(); // SIGKILL
            let _ = worker.0.wait();
            worker = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
        }
        all_applied().await;
    }
    let round = SUBSCRIPTION_ROUNDS;
    let n = |sql: &'static str| count(&db, sql);
    // An event whose worker was killed after its payment was committed
    // runs again and finds the payment there.
    assert_eq!(
        n("SELECT COUNT(*) AS n FROM connect_events \
           WHERE NOT (outcome = 'applied' AND note IN ('paid', 'already recorded'))")
        .await,
        0,
        "every payment event applied"
    );
    let rerun = n("SELECT COUNT(*) AS n FROM connect_events WHERE note = 'already recorded'").await;
    assert_eq!(
        n("SELECT COUNT(*) AS n FROM payments").await as usize,
        PAYMENTS
    );
    assert_eq!(
        n("SELECT COUNT(DISTINCT invoice_id) AS n FROM payments").await as usize,
        PAYMENTS,
        "one payment per invoice"
    );
    assert_eq!(
        n("SELECT COUNT(*) AS n FROM invoices WHERE status = 'paid'").await as usize,
        PAYMENTS
    );
    assert_eq!(
        n("SELECT COUNT(*) AS n FROM messages WHERE kind = 'receipt'").await as usize,
        PAYMENTS,
        "one receipt per payment"
    );
    assert_eq!(
        n("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event = 'payment_received'").await
            as usize,
        PAYMENTS,
        "one POS webhook per payment"
    );
    let applied = n("SELECT COUNT(*) AS n FROM stripe_events").await as usize;
    assert_eq!(applied, round, "every subscription event stored once");

    // The subscription's last state, and a chain of changes to it.
    use pitwall_store::sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT details::json->>'from' AS from_status, details::json->>'to' AS to_status FROM audit_entries \
             WHERE action = 'billing.status' ORDER BY created_at, id",
        ))
        .await
        .unwrap();
    let mut last: Option<String> = None;
    for r in &rows {
        let from: Option<String> = r.try_get("", "from_status").unwrap();
        let to: String = r.try_get("", "to_status").unwrap();
        assert_eq!(from, last, "status changes form a chain");
        assert_ne!(from.as_deref(), Some(to.as_str()), "a change to itself");
        last = Some(to);
    }
    assert_eq!(
        last.as_deref(),
        Some(status),
        "the shop ends as Stripe has it"
    );
    let plan_changes =
        n("SELECT COUNT(*) AS n FROM audit_entries WHERE action = 'billing.plan'").await;
    assert_eq!(plan_changes, 0, "the price is the plan the shop has");
    eprintln!(
        "{PAYMENTS} payments and {round} subscription events, worker killed {} times: \
         each invoice paid once ({PAYMENTS} payments, receipts, webhooks; {rerun} events ran again and found their payment); \
         {} status changes in an unbroken chain",
        STRIPE_KILLS + 1,
        rows.len()
    );
    db.close().await.unwrap();
    drop((worker, _api));
    pitwall_testkit::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&dir);
}

const HANDED: usize = 300;

/// A worker stopped with SIGTERM while it sends finishes what it started
/// and hands back what it fetched but had not started (apalis for what it
/// knows of, `jobs::runtime` for the rest): right after it exits no job is
/// held by it, so none waits out a heartbeat, and the next worker sends
/// every text once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_hands_back_what_it_holds() {
    let fake = FakeSms::start().await.expect("fake provider");
    let mut extra = fake.env("+15125550100");
    // Slow enough that the worker holds a backlog when it is stopped.
    extra.push(("PITWALL_SMS_RATE_PER_SENDER".into(), "20".into()));
    let Some(Setup {
        name,
        dir,
        env,
        base,
        client,
        token,
        _api,
    }) = setup("handback", extra).await
    else {
        return;
    };
    let c: Value = client
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(&token)
        .json(&json!({"first_name": "Hand", "phone": "+15125553000"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = c["customer"]["id"].as_str().expect("customer").to_owned();
    for i in 0..HANDED {
        let r = client
            .post(format!("{base}/api/v1/threads/{customer}/messages"))
            .bearer_auth(&token)
            .json(&json!({"channel": "sms", "body": format!("hand back {i:03}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }

    let mut worker = pitwall(&env, &["worker"]).spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(120);
    while fake.messages().len() < HANDED / 10 {
        assert!(Instant::now() < until, "no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = Command::new("kill").arg(worker.id().to_string()).status();
    let status = worker.wait().unwrap();
    assert!(status.success(), "the worker stopped cleanly: {status}");
    let sent_by_first = fake.messages().len();
    assert!(sent_by_first < HANDED, "the first worker did not finish");

    let db = pitwall_store::connect(&format!("{}/{name}", pitwall_testkit::pg_admin_url()))
        .await
        .unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM apalis.jobs WHERE status IN ('Queued', 'Running')"
        )
        .await,
        0,
        "no job is held by the stopped worker"
    );
    let handed = count(
        &db,
        "SELECT COUNT(*) AS n FROM apalis.jobs WHERE last_result::text LIKE '%worker shutdown%' OR last_result::text LIKE '%Handed back%'",
    )
    .await;
    // How many were handed back depends on what the worker had fetched
    // when the signal came (none, if it had only jobs in flight, which it
    // finishes); that none is left held is the point.

    let next = Proc(pitwall(&env, &["worker"]).spawn().unwrap());
    let got = fake.wait_for(HANDED, 120).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_again = fake.messages();
    assert_eq!(got.len(), HANDED);
    assert_eq!(got_again.len(), HANDED, "nothing sent twice");
    let mut bodies: Vec<&str> = got_again.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), HANDED, "each text once");
    eprintln!(
        "worker stopped after {sent_by_first} of {HANDED} texts; it handed back {handed} fetched jobs; the next worker sent the rest, each once"
    );
    db.close().await.unwrap();
    drop((next, _api));
    pitwall_testkit::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&dir);
}
