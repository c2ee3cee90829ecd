//! Inspections: the upload of a phone photo (type sniffed, location data
//! stripped, screen copy and thumbnail made, stored) against writing the
//! same bytes to disk; and the weight of the customer's page once a
//! 30-item inspection is published (photos excluded: they load lazily).

use std::time::{Duration, Instant};

use pitwall_testkit::{Backend, Options, TestApp};
use serde_json::{Value, json};

/// The first load of the customer's page may not exceed this (page and
/// the assets it pulls from us, photos excluded).
const PAGE_BUDGET: usize = 100 * 1024;

/// A JPEG of the given size with a gradient and noise, so that it
/// compresses about as badly as a photo of a car does.
fn jpeg(width: u32, height: u32, noise: u32, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut seed: u32 = 0x9e37_79b9;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = (seed % (2 * noise + 1)) as i32 - noise as i32;
        let base = |v: u32, of: u32| (v * 255 / of.max(1)) as i32;
        let px = |v: i32| (v + n).clamp(0, 255) as u8;
        image::Rgb([
            px(base(x, width)),
            px(base(y, height)),
            px(base(x + y, width + height)),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(&img)?;
    Ok(out)
}

/// A 12-megapixel photo of about `target` bytes.
fn phone_photo(target: usize) -> anyhow::Result<Vec<u8>> {
    for noise in [4, 8, 12, 16, 24, 32, 48, 64, 96] {
        let bytes = jpeg(4032, 3024, noise, 90)?;
        if bytes.len() >= target {
            return Ok(bytes);
        }
    }
    anyhow::bail!("could not make a photo of {target} bytes")
}

/// One multipart upload of `bytes` as the field `file`; the answer's JSON.
async fn upload(
    t: &TestApp,
    token: &str,
    inspection: &str,
    item_key: &str,
    bytes: &[u8],
) -> anyhow::Result<Value> {
    let boundary = "pitwall-bench-boundary-7d1f";
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = t
        .client
        .post(t.url(&format!(
            "/api/v1/inspections/{inspection}/findings/{item_key}/media"
        )))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(
        status.as_u16() == 201,
        "upload to {item_key} answered {status}: {v}"
    );
    Ok(v)
}

/// A shop on the plan with inspections, a ticket pushed by its POS, and
/// an inspection started on it from the built-in multi-point sheet.
async fn inspection(t: &TestApp, slug: &str) -> anyhow::Result<(String, String, Value)> {
    let (_, owner) = t.shop(slug, "premium").await;
    let (_, key) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
        .await;
    let key = key["secret"].as_str().unwrap_or_default().to_owned();
    let (status, pushed) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/BENCH-INSP",
            Some(&key),
            Some(json!({
                "kind": "workorder", "number": "W-77", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": "c", "first_name": "Dana", "phone": "+15125550123", "email": "dana@example.test"},
                "vehicle": {"external_id": "v", "year": 2019, "make": "Honda", "model": "Civic", "plate": "ABC1234"},
                "services": [{"external_id": "s1", "title": "Brakes", "status": "pending",
                    "line_items": [{"kind": "labor", "description": "Pads", "quantity": 1, "unit_price": 10000, "taxable": true}]}],
            })),
        )
        .await;
    anyhow::ensure!(
        status.is_success(),
        "the POS push answered {status}: {pushed}"
    );
    let ticket = pushed["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, sheets) = t.get("/api/v1/inspection-templates", &owner).await;
    let template = sheets["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, started) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/inspections"),
            &owner,
            json!({"template_id": template}),
        )
        .await;
    anyhow::ensure!(status.as_u16() == 201, "start answered {status}: {started}");
    Ok((owner, ticket, started))
}

pub async fn photo_upload(n: usize) -> anyhow::Result<()> {
    let photo = phone_photo(4 * 1024 * 1024)?;
    let Some(t) = TestApp::spawn_with(Backend::Sqlite, Options::default()).await else {
        anyhow::bail!("the app did not start");
    };
    let (owner, _, started) = inspection(&t, "bench-photo").await?;
    let id = started["id"].as_str().unwrap_or_default().to_owned();
    let key = started["findings"][0]["item_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let dir = t.dir.join("bench-disk");
    tokio::fs::create_dir_all(&dir).await?;

    let mut uploads = Vec::with_capacity(n);
    let mut writes = Vec::with_capacity(n);
    // Alternate, so that both see the same state of the machine.
    for i in 0..n + 1 {
        let t0 = Instant::now();
        let made = upload(&t, &owner, &id, &key, &photo).await?;
        let took = t0.elapsed();
        anyhow::ensure!(
            made["bytes"].as_u64().is_some_and(|b| b > 0) && made["width"] == 4032,
            "the upload did not record the photo: {made}"
        );
        let t0 = Instant::now();
        let path = dir.join(format!("photo-{i}.jpg"));
        tokio::fs::write(&path, &photo).await?;
        let wrote = t0.elapsed();
        // The first round warms the caches; it is not counted.
        if i > 0 {
            uploads.push(took);
            writes.push(wrote);
        }
    }
    let (_, insp) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
    let kept = insp["findings"][0]["media"]
        .as_array()
        .map_or(0, |m| m.len());
    anyhow::ensure!(
        kept == n + 1,
        "{kept} of {} uploads are on the finding",
        n + 1
    );
    uploads.sort();
    writes.sort();
    let p50 = |v: &[Duration]| v[v.len() / 2].as_secs_f64() * 1000.0;
    println!(
        "photo upload (Sqlite, files): a {:.1} MB 12-megapixel JPEG, p50 {:.1} ms (sniffed, location stripped, 1600 px and 320 px copies made, stored); \
         writing the same bytes to disk p50 {:.2} ms; ratio {:.0}x ({n} sequential uploads)",
        photo.len() as f64 / (1024.0 * 1024.0),
        p50(&uploads),
        p50(&writes),
        p50(&uploads) / p50(&writes).max(0.001),
    );
    t.finish().await;
    Ok(())
}

/// What the customer's page shows of a finding: its label, as HTML writes it.
fn escaped(label: &str) -> String {
    label
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

pub async fn inspected_page(backend: Backend) -> anyhow::Result<()> {
    let opts = Options {
        env: vec![("PITWALL_LINK_LOOKUPS_PER_MINUTE".into(), "1000000".into())],
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        println!("inspected customer page: skipped, {backend:?} not reachable");
        return Ok(());
    };
    let (owner, ticket, started) = inspection(&t, "bench-inspected").await?;
    let id = started["id"].as_str().unwrap_or_default().to_owned();
    let findings = started["findings"].as_array().cloned().unwrap_or_default();
    let small = jpeg(640, 480, 16, 85)?;
    let mut labels = Vec::new();
    let mut photos = 0;
    for (i, f) in findings.iter().enumerate() {
        let key = f["item_key"].as_str().unwrap_or_default();
        let condition = match i % 10 {
            0 => "urgent",
            3 | 7 => "needs_attention",
            _ => "good",
        };
        let measurement = match f["kind"].as_str() {
            Some("measurement") => json!(12.4),
            Some("tire") => json!({"lf": 6, "rf": 6, "lr": 4.5, "rr": 4}),
            _ => Value::Null,
        };
        let note = (condition != "good").then(|| {
            format!(
                "{} shows wear: we recommend looking at it on this visit.",
                f["label"].as_str().unwrap_or_default()
            )
        });
        let (status, b) = t
            .call(
                "PUT",
                &format!("/api/v1/inspections/{id}/findings/{key}"),
                Some(&owner),
                Some(json!({"condition": condition, "measurement": measurement, "customer_note": note})),
            )
            .await;
        anyhow::ensure!(status.is_success(), "finding {key} answered {status}: {b}");
        let photo = f["photo"].as_str().unwrap_or_default();
        if photo == "always" || (photo == "on_attention" && condition != "good") {
            upload(&t, &owner, &id, key, &small).await?;
            photos += 1;
        }
        if condition != "good" {
            // Findings with a default service become services to approve.
            let _ = t
                .post(
                    &format!("/api/v1/inspections/{id}/findings/{key}/service"),
                    &owner,
                    json!({}),
                )
                .await;
        }
        labels.push(escaped(f["label"].as_str().unwrap_or_default()));
    }
    for step in ["submit", "publish"] {
        let (status, b) = t
            .post(
                &format!("/api/v1/inspections/{id}/{step}"),
                &owner,
                json!({}),
            )
            .await;
        anyhow::ensure!(status.is_success(), "{step} answered {status}: {b}");
    }
    let (_, issued) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/customer-links"),
            &owner,
            json!({}),
        )
        .await;
    let url = issued["url"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!url.is_empty(), "no customer link: {issued}");

    let client = reqwest::Client::new();
    let html = client.get(&url).send().await?.text().await?;
    if let Some(missing) = labels.iter().find(|l| !html.contains(l.as_str())) {
        anyhow::bail!("the customer page does not show the finding {missing}");
    }
    let mut raw = html.len();
    let mut gz = crate::customer::gzip_len(html.as_bytes());
    let files: Vec<String> = crate::customer::assets(&html);
    for a in &files {
        let r = client.get(t.url(a)).send().await?;
        anyhow::ensure!(r.status().is_success(), "{a} answered {}", r.status());
        let body = r.bytes().await?;
        raw += body.len();
        gz += crate::customer::gzip_len(&body);
    }
    println!(
        "customer page ({backend:?}), published inspection of {} findings ({photos} with a photo): first load {:.1} KB raw, {:.1} KB gzip, photos excluded \
         (budget {} KB raw: {:.2} of it; page {:.1} KB + {} assets)",
        findings.len(),
        raw as f64 / 1024.0,
        gz as f64 / 1024.0,
        PAGE_BUDGET / 1024,
        raw as f64 / PAGE_BUDGET as f64,
        html.len() as f64 / 1024.0,
        files.len(),
    );
    anyhow::ensure!(
        raw <= PAGE_BUDGET,
        "the customer page's first load is {raw} bytes, over the {PAGE_BUDGET}-byte budget"
    );
    t.finish().await;
    Ok(())
}
