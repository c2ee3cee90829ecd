//! Invoices: reading an uploaded invoice by OCR, per page, against running
//! the same programs by hand on the same file (pdftoppm at 300 dpi, then
//! Tesseract's TSV with one thread, as the worker does); and the time from
//! Stripe's `checkout.session.completed` to the advisor's live stream
//! hearing of the payment.

use std::time::{Duration, Instant};

use pitwall_domain::pdf::{Line, Style};
use pitwall_testkit::fake_stripe::FakeStripe;
use pitwall_testkit::{Backend, Options, TestApp};
use serde_json::{Value, json};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A POS's one-page invoice: letterhead, bill-to block, 20 lines, totals.
fn pos_invoice() -> Vec<u8> {
    let mut lines = vec![
        Line::new(Style::Title, "Main Street Garage"),
        Line::new(Style::Small, "12 Main Street, Austin TX · (512) 555-0100"),
        Line::gap(),
        Line::new(Style::Heading, "INVOICE # 10-4471").with_right("Date: 12/03/2026"),
        Line::new(Style::Body, "Bill To:"),
        Line::new(Style::Body, "Ana Lopez"),
        Line::new(Style::Body, "Phone: (512) 555-0142"),
        Line::new(Style::Body, "Plate: 7ABC123   VIN: 1HGCM82633A004352"),
        Line::rule(),
    ];
    let mut subtotal = 0i64;
    for n in 0..20 {
        let cents = 1_995 + n * 1_250;
        subtotal += cents;
        lines.push(
            Line::new(Style::Body, format!("Part or labour item number {n}")).with_right(format!(
                "{}.{:02}",
                cents / 100,
                cents % 100
            )),
        );
    }
    let tax = subtotal * 825 / 10_000;
    let money = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    lines.push(Line::rule());
    lines.push(Line::new(Style::Body, "Subtotal").with_right(money(subtotal)));
    lines.push(Line::new(Style::Body, "Sales Tax").with_right(money(tax)));
    lines.push(Line::new(Style::Heading, "Grand Total").with_right(money(subtotal + tax)));
    pitwall_domain::pdf::render("Invoice 10-4471", &lines)
}

fn installed(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The same reading by hand: what an operator would run.
fn by_hand(dir: &std::path::Path, pdf: &[u8]) -> anyhow::Result<Duration> {
    let input = dir.join("in.pdf");
    std::fs::write(&input, pdf)?;
    let at = Instant::now();
    let ok = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            "300",
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
        ])
        .arg(&input)
        .arg(dir.join("page"))
        .status()?
        .success();
    anyhow::ensure!(ok, "pdftoppm failed");
    let out = std::process::Command::new("tesseract")
        .arg(dir.join("page.png"))
        .arg("stdout")
        .args(["-l", "eng", "--psm", "3", "tsv"])
        .env("OMP_THREAD_LIMIT", "1")
        .output()?;
    anyhow::ensure!(out.status.success(), "tesseract failed");
    Ok(at.elapsed())
}

/// Upload to `done` through the API and the worker, against the programs
/// run by hand, alternating rounds.
pub async fn ocr_per_page(rounds: usize) -> anyhow::Result<()> {
    if !installed("tesseract", "--version") || !installed("pdftoppm", "-v") {
        println!("OCR per page: skipped, tesseract or pdftoppm not installed");
        return Ok(());
    }
    let Some(t) = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            workers: true,
            ..Default::default()
        },
    )
    .await
    else {
        return Ok(());
    };
    let (_, owner) = t.shop("bench-ocr", "premium").await;
    let pdf = pos_invoice();
    let dir = t.dir.join("bench-ocr");
    std::fs::create_dir_all(&dir)?;
    let (mut api, mut hand, mut inside) = (Vec::new(), Vec::new(), Vec::new());
    // One warm-up of each, then alternating rounds.
    for round in 0..=rounds {
        let at = Instant::now();
        let (status, up) = t
            .upload(
                "/api/v1/invoice-uploads",
                &owner,
                "pos.pdf",
                "application/pdf",
                pdf.clone(),
            )
            .await;
        anyhow::ensure!(status.as_u16() == 201, "upload answered {status}: {up}");
        let id = up["id"].as_str().unwrap_or_default().to_owned();
        let done = loop {
            let (status, b) = t
                .get(&format!("/api/v1/invoice-uploads/{id}"), &owner)
                .await;
            anyhow::ensure!(status.is_success(), "read answered {status}: {b}");
            if b["ocr_status"] != "queued" {
                break b;
            }
            anyhow::ensure!(at.elapsed() < Duration::from_secs(120), "not read in 2 min");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let took = at.elapsed();
        anyhow::ensure!(done["ocr_status"] == "done", "not read: {done}");
        anyhow::ensure!(
            done["fields"]["total"]["value"].is_string(),
            "no total read: {done}"
        );
        let by = by_hand(&dir, &pdf)?;
        if round > 0 {
            api.push(took);
            hand.push(by);
            inside.push(Duration::from_millis(
                done["ocr_ms"].as_u64().unwrap_or_default(),
            ));
        }
    }
    api.sort();
    hand.sort();
    inside.sort();
    let (a, h, w) = (
        percentile(&api, 0.5),
        percentile(&hand, 0.5),
        percentile(&inside, 0.5),
    );
    println!(
        "OCR per page ({rounds} rounds, 1-page PDF): upload to done p50 {:.0} ms (worker's own reading {:.0} ms), pdftoppm + tesseract by hand p50 {:.0} ms, ratio {:.2}",
        a.as_secs_f64() * 1e3,
        w.as_secs_f64() * 1e3,
        h.as_secs_f64() * 1e3,
        a.as_secs_f64() / h.as_secs_f64().max(1e-9),
    );
    crate::results::record(
        "ocr_per_page",
        json!({
            "rounds": rounds, "upload_to_done_p50_ms": a.as_secs_f64() * 1e3,
            "worker_reading_p50_ms": w.as_secs_f64() * 1e3,
            "by_hand_p50_ms": h.as_secs_f64() * 1e3,
            "ratio": a.as_secs_f64() / h.as_secs_f64().max(1e-9),
        }),
    );
    t.finish().await;
    Ok(())
}

const CONNECT_SECRET: &str = "whsec_bench_connect";

/// A connected shop with one sent invoice of a POS ticket: (owner, ticket,
/// link token).
async fn sent_invoice(
    t: &TestApp,
    fake: &FakeStripe,
    owner: &str,
    key: &str,
    n: usize,
) -> anyhow::Result<(String, String)> {
    let ext = format!("PAY-{n}");
    let (status, pushed) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{ext}"),
            Some(key),
            Some(json!({
                "kind": "workorder", "number": ext, "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": format!("c-{n}"), "first_name": "Ana", "phone": "+15125550142", "email": "ana@example.test"},
                "services": [{"external_id": "s1", "title": "Brakes", "status": "pending",
                    "line_items": [{"kind": "labor", "description": "Pads", "quantity": 1, "unit_price": 10000, "taxable": true}]}],
            })),
        )
        .await;
    anyhow::ensure!(status.is_success(), "push answered {status}: {pushed}");
    let ticket = pushed["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let service = pushed["ticket"]["services"][0]["id"].clone();
    // Approved by phone and done, as the repair-order workflow wants.
    let (status, b) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/approvals"),
            owner,
            json!({"approved_service_ids": [service], "declined_service_ids": [], "method": "phone"}),
        )
        .await;
    anyhow::ensure!(status.is_success(), "approval answered {status}: {b}");
    let (status, b) = t
        .post(
            &format!(
                "/api/v1/tickets/{ticket}/services/{}/done",
                service.as_str().unwrap_or_default()
            ),
            owner,
            json!({}),
        )
        .await;
    anyhow::ensure!(status.is_success(), "done answered {status}: {b}");
    let (status, inv) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/invoices"),
            owner,
            json!({}),
        )
        .await;
    anyhow::ensure!(status.as_u16() == 201, "invoice answered {status}: {inv}");
    let id = inv["id"].as_str().unwrap_or_default();
    let (status, sent) = t
        .post(
            &format!("/api/v1/invoices/{id}/send"),
            owner,
            json!({"send": "email"}),
        )
        .await;
    anyhow::ensure!(status.is_success(), "send answered {status}: {sent}");
    let url = sent["link_url"].as_str().unwrap_or_default();
    let token = url.rsplit("/c/").next().unwrap_or_default().to_owned();
    let _ = fake;
    Ok((ticket, token))
}

/// From the moment Stripe sends `checkout.session.completed` to the moment
/// the advisor's open live stream (`GET /api/v1/events?ticket_id=`) carries
/// the payment's timeline event: what "the screen shows Paid without a
/// reload" waits for.
pub async fn payment_to_advisor(rounds: usize) -> anyhow::Result<()> {
    let fake = FakeStripe::start().await?;
    let mut env = fake.env("pro=price_pro,premium=price_premium");
    env.push(("PITWALL_PAYMENTS".into(), "connect".into()));
    env.push((
        "STRIPE_CONNECT_WEBHOOK_SECRET".into(),
        CONNECT_SECRET.into(),
    ));
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
        println!("payment to advisor: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    fake.set_connect_webhook(&t.url("/webhooks/stripe/connect"), CONNECT_SECRET);
    let (_, owner) = t.shop("bench-pay", "premium").await;
    let (_, link) = t
        .post(
            "/api/v1/payment-account/onboarding-links",
            &owner,
            json!({}),
        )
        .await;
    anyhow::ensure!(link["url"].is_string(), "onboarding: {link}");
    let (_, acct) = t.get("/api/v1/payment-account", &owner).await;
    fake.enable_account(acct["account_id"].as_str().unwrap_or_default());
    let _ = t.get("/api/v1/payment-account", &owner).await;
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
        .await;
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    // One stream for the whole run, as an advisor's open screen; each
    // chunk is stamped when it arrives.
    let mut stream = t
        .client
        .get(t.url("/api/v1/events"))
        .bearer_auth(&owner)
        .send()
        .await?;
    anyhow::ensure!(stream.status().is_success(), "stream: {}", stream.status());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    let reader = tokio::spawn(async move {
        while let Ok(Some(chunk)) = stream.chunk().await {
            if tx
                .send((Instant::now(), String::from_utf8_lossy(&chunk).into_owned()))
                .is_err()
            {
                break;
            }
        }
    });
    let mut waits = Vec::with_capacity(rounds);
    for n in 0..=rounds {
        let (ticket, token) = sent_invoice(&t, &fake, &owner, &key, n).await?;
        let (status, pay) = t
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/payments"),
                None,
                None,
            )
            .await;
        anyhow::ensure!(status.as_u16() == 201, "pay answered {status}: {pay}");
        let session = fake
            .payment_sessions()
            .last()
            .map(|s| s.id.clone())
            .ok_or_else(|| anyhow::anyhow!("no session"))?;
        // What the setup announced is read and dropped first.
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {}
        let at = Instant::now();
        fake.pay(&session).await?;
        // Events may arrive split over chunks: read whole lines of the text
        // since paying, each `data:` line one event (read as JSON: the
        // order of its fields is not part of the contract).
        let heard = tokio::time::timeout(Duration::from_secs(30), async {
            let mut since = String::new();
            while let Some((when, chunk)) = rx.recv().await {
                since.push_str(&chunk);
                while let Some(end) = since.find('\n') {
                    let line: String = since.drain(..=end).collect();
                    let Some(data) = line.trim_end().strip_prefix("data:") else {
                        continue;
                    };
                    let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    if event["kind"] == "timeline" && event["ticket_id"] == ticket.as_str() {
                        return Some(when);
                    }
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| anyhow::anyhow!("no live event for the payment within 30 s"))?;
        let (_, b): (_, Value) = t
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
            .await;
        anyhow::ensure!(
            b.to_string().contains("payment_received"),
            "the event heard was not the payment: {b}"
        );
        if n > 0 {
            waits.push(heard.duration_since(at));
        }
    }
    reader.abort();
    waits.sort();
    let (p50, p99) = (percentile(&waits, 0.5), percentile(&waits, 0.99));
    println!(
        "Stripe event to the advisor's stream (PostgreSQL, {rounds} payments): p50 {:.1} ms, p99 {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    crate::results::record(
        "payment_to_advisor",
        json!({"rounds": rounds, "p50_ms": p50.as_secs_f64() * 1e3, "p99_ms": p99.as_secs_f64() * 1e3}),
    );
    t.finish().await;
    Ok(())
}
