//! Inspections: the weight of the customer's page once a 32-item
//! inspection is published, against its 100 KB budget (photos excluded:
//! they load lazily); and a 4 MB phone photo's upload (metadata stripped,
//! thumbnail and screen copy made, stored, row written) against writing the
//! same bytes to disk.

use pitwall_testkit::{Backend, Options, TestApp};
use serde_json::{Value, json};

/// The first load of the customer's page may not exceed this (page and
/// the assets it pulls from us, photos excluded).
const PAGE_BUDGET: usize = 100 * 1024;

/// A shop on the plan with inspections, a ticket pushed by its POS, and
/// an inspection started on it from a copy of the multi-point sheet.
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
    // The built-in multi-point sheet, its photo rules set aside: photos are
    // not part of the page's weight, and attaching them is media upload's
    // own measure.
    let (_, sheets) = t.get("/api/v1/inspection-templates", &owner).await;
    let builtin = sheets["items"][0]["id"].as_str().unwrap_or_default();
    let (_, mut sheet) = t
        .get(&format!("/api/v1/inspection-templates/{builtin}"), &owner)
        .await;
    for section in sheet["sections"].as_array_mut().into_iter().flatten() {
        for item in section["items"].as_array_mut().into_iter().flatten() {
            item["photo"] = json!("never");
        }
    }
    let (status, copy) = t
        .post(
            "/api/v1/inspection-templates",
            &owner,
            json!({"name": "Multi-point (bench)", "sections": sheet["sections"]}),
        )
        .await;
    anyhow::ensure!(
        status.as_u16() == 201,
        "the sheet copy answered {status}: {copy}"
    );
    let template = copy["id"].as_str().unwrap_or_default().to_owned();
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
    let shown = html.matches("data-testid=\"finding\"").count();
    anyhow::ensure!(
        shown == findings.len(),
        "the customer page shows {shown} of the {} findings",
        findings.len()
    );
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
        "customer page ({backend:?}), published inspection of {} findings: first load {:.1} KB raw, {:.1} KB gzip, photos excluded \
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

/// A camera-like JPEG of about 4 MB: noise compresses as badly as a
/// detailed photo does.
fn four_megabyte_photo() -> anyhow::Result<Vec<u8>> {
    let mut seed: u32 = 0x2545_f491;
    let img = image::RgbImage::from_fn(2048, 1536, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let [a, b, c, _] = seed.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75).encode_image(&img)?;
    Ok(jpeg)
}

fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v[v.len() / 2]
}

/// Uploads `n` photos one after another (after one to warm up) and writes
/// the same bytes to `n` files in the same folder, same order; any upload
/// that is not a 201 fails the run. Reported: medians and their ratio.
pub async fn photo_upload(backend: Backend, n: usize) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn_with(backend, Options::default()).await else {
        println!("photo upload: skipped, {backend:?} not reachable");
        return Ok(());
    };
    let photo = four_megabyte_photo()?;
    let (owner, _ticket, started) = inspection(&t, "bench-photos").await?;
    let id = started["id"].as_str().unwrap_or_default().to_owned();
    let key = started["findings"][0]["item_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!("/api/v1/inspections/{id}/findings/{key}/media");
    let mut uploads = Vec::with_capacity(n);
    for i in 0..=n {
        let at = std::time::Instant::now();
        let (status, body) = t
            .upload(&path, &owner, "IMG.JPG", "image/jpeg", photo.clone())
            .await;
        anyhow::ensure!(status.as_u16() == 201, "upload answered {status}: {body}");
        if i > 0 {
            uploads.push(at.elapsed());
        }
    }
    let dir = t.dir.join("bench-writes");
    std::fs::create_dir_all(&dir)?;
    let mut writes = Vec::with_capacity(n);
    for i in 0..n {
        let at = std::time::Instant::now();
        tokio::fs::write(dir.join(format!("{i}.jpg")), &photo).await?;
        writes.push(at.elapsed());
    }
    let (up, write) = (median(uploads), median(writes));
    println!(
        "photo upload ({backend:?}, {:.1} MB, {n} each): upload p50 {:.1} ms, disk write p50 {:.1} ms, ratio {:.1}",
        photo.len() as f64 / 1e6,
        up.as_secs_f64() * 1e3,
        write.as_secs_f64() * 1e3,
        up.as_secs_f64() / write.as_secs_f64().max(1e-9),
    );
    crate::results::record(
        "photo_upload",
        serde_json::json!({
            "backend": format!("{backend:?}"), "upload_p50_ms": up.as_secs_f64() * 1e3,
            "disk_write_p50_ms": write.as_secs_f64() * 1e3,
        }),
    );
    t.finish().await;
    Ok(())
}
