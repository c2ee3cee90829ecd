//! Invoices read by OCR: the shop's own invoice PDF (made by the app) and a
//! photo of it (made here from the PDF: smaller, greyer, JPEG) are
//! uploaded, read by the worker with the real Tesseract, and must give
//! number, date and total; staff confirm the fields into an invoice, once.
//! Without Tesseract the upload is `unavailable` and the invoice is typed
//! by hand. Bad files, the size limit, the plan and the permission.
//!
//! Tesseract and pdftoppm come from Debian (`tesseract-ocr`,
//! `poppler-utils`; `.ci/run` installs them). Without them these tests say
//! SKIPPED and pass, unless `CI` or `PITWALL_REQUIRE_OCR` is set.

use std::time::Duration;

use pitwall_core::domain::Role;
use pitwall_testkit::{Backend, Options, StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

use crate::invoices::approved_and_done;

fn ocr_installed() -> bool {
    let runs = |p: &str, arg: &str| {
        std::process::Command::new(p)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("tesseract", "--version") && runs("pdftoppm", "-v") {
        return true;
    }
    let required = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
        || std::env::var("PITWALL_REQUIRE_OCR").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "tesseract and pdftoppm are required (apt-get install tesseract-ocr poppler-utils)"
    );
    eprintln!("SKIPPED: tesseract or pdftoppm is not installed");
    false
}

/// The app with its workers (the reader among them).
async fn with_workers(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        Options {
            workers: true,
            ..Default::default()
        },
    )
    .await
}

/// A test on both databases, with workers.
macro_rules! reading {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(t) = with_workers(Backend::Sqlite).await {
                    $body(&t).await;
                    t.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = with_workers(Backend::Postgres).await {
                    $body(&t).await;
                    t.finish().await;
                }
            }
        }
    };
}

/// Waits for the worker to finish reading.
async fn read(t: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (s, b) = t.get(&format!("/api/v1/invoice-uploads/{id}"), token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        if b["ocr_status"] != "queued" {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("upload {id} was not read within two minutes");
}

/// The shop's own invoice as a PDF: (invoice JSON, PDF bytes, customer id).
async fn invoice_pdf(t: &TestApp, owner: &str, ext: &str) -> (Value, Vec<u8>, String) {
    let (_, ticket, customer) = approved_and_done(t, owner, ext).await;
    let (s, inv) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/invoices"),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let (s, _, pdf) = t
        .fetch(
            &format!("/api/v1/invoices/{}/pdf", inv["id"].as_str().unwrap()),
            Some(owner),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    (inv, pdf, customer)
}

fn today_in(tz: &str) -> String {
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    chrono::Utc::now()
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string()
}

fn decimal(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// What a phone photo of the printed PDF looks like, roughly: 150 dpi,
/// grey paper, a little noise, JPEG at quality 70.
fn photo_of(pdf: &[u8]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("pitwall-ocr-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.pdf"), pdf).unwrap();
    let ok = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(dir.join("in.pdf"))
        .arg(dir.join("page"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "pdftoppm");
    let page = image::open(dir.join("page.png")).unwrap().to_luma8();
    let _ = std::fs::remove_dir_all(&dir);
    let mut seed = 7u32;
    let photo = image::GrayImage::from_fn(page.width(), page.height(), |x, y| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let noise = (seed >> 16) % 24;
        // Paper is grey under a phone's light; ink a little lighter.
        let v = u32::from(page.get_pixel(x, y).0[0]) * 200 / 255 + 20 + noise;
        image::Luma([v.min(255) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
        .encode_image(&image::DynamicImage::ImageLuma8(photo).to_rgb8())
        .unwrap();
    out
}

/// A small blank PNG: a valid image with nothing to read.
fn blank_png() -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::new(40, 20))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn field<'a>(upload: &'a Value, name: &str) -> &'a Value {
    &upload["fields"][name]
}

reading!(
    the_shops_own_invoice_is_read_and_confirmed_once,
    async |t: &TestApp| {
        if !ocr_installed() {
            return;
        }
        let (shop, owner) = t.shop("ocr-read", "premium").await;
        let (inv, pdf, customer) = invoice_pdf(t, &owner, "O-1").await;
        let tz = pitwall_store::shops::get(&t.db, shop)
            .await
            .unwrap()
            .unwrap()
            .time_zone;

        let (s, up) = t
            .upload(
                "/api/v1/invoice-uploads",
                &owner,
                "INV-00001.pdf",
                "application/pdf",
                pdf,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{up}");
        assert_eq!(up["ocr_status"], "queued");
        assert_eq!(up["file_name"], "INV-00001.pdf");
        assert_eq!(up["content_type"], "application/pdf");
        let id = up["id"].as_str().unwrap().to_owned();

        let done = read(t, &owner, &id).await;
        assert_eq!(done["ocr_status"], "done", "{done}");
        assert_eq!(done["pages"], 1);
        assert!(done["ocr_ms"].as_i64().unwrap() > 0);
        assert_eq!(
            field(&done, "invoice_number")["value"],
            inv["number"],
            "{done}"
        );
        assert_eq!(
            field(&done, "invoice_date")["value"],
            today_in(&tz).as_str(),
            "{done}"
        );
        let total = decimal(inv["total"].as_i64().unwrap());
        assert_eq!(field(&done, "total")["value"], total.as_str(), "{done}");
        assert_eq!(
            field(&done, "tax")["value"],
            decimal(inv["tax"].as_i64().unwrap()).as_str(),
            "{done}"
        );
        assert_eq!(
            field(&done, "customer_name")["value"],
            "Ana Lopez",
            "{done}"
        );
        // A clean PDF is read with confidence.
        let c = field(&done, "total")["confidence"].as_f64().unwrap();
        assert!(c > 0.8 && c <= 1.0, "{done}");
        assert!(
            done["text"].as_str().unwrap().contains("Brake pads"),
            "{done}"
        );
        // Nothing was made by reading.
        let (_, list) = t.get("/api/v1/invoices", &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

        // Staff confirm the fields: the invoice is made and tied to the
        // upload, once.
        let confirm = json!({
            "customer_id": customer,
            "lines": [{"kind": "fee", "description": format!("Invoice {} as read", inv["number"].as_str().unwrap()),
                       "quantity": 1, "unit_price": inv["total"], "taxable": false}],
            "upload_id": id,
        });
        let (s, made) = t.post("/api/v1/invoices", &owner, confirm.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{made}");
        assert_eq!(made["total"], inv["total"]);
        let (_, up) = t
            .get(&format!("/api/v1/invoice-uploads/{id}"), &owner)
            .await;
        assert_eq!(up["invoice_id"], made["id"], "{up}");
        let (s, b) = t.post("/api/v1/invoices", &owner, confirm).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "upload_id", "{b}");
        let (_, list) = t.get("/api/v1/invoices", &owner).await;
        assert_eq!(
            list["items"].as_array().unwrap().len(),
            2,
            "nothing more made: {list}"
        );

        // The list shows it; another shop sees none of it.
        let (s, uploads) = t.get("/api/v1/invoice-uploads", &owner).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(uploads["items"][0]["id"], id.as_str());
        let (_, other) = t.shop("ocr-other", "premium").await;
        let (s, b) = t
            .get(&format!("/api/v1/invoice-uploads/{id}"), &other)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        let (_, b) = t.get("/api/v1/invoice-uploads", &other).await;
        assert_eq!(b["items"], json!([]));
        let (s, b) = t
            .post(
                "/api/v1/invoices",
                &other,
                json!({"customer_id": customer, "lines": [{"kind": "fee", "description": "x", "quantity": 1, "unit_price": 100}],
                       "upload_id": id}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_of_the_invoice_is_read() {
    if !ocr_installed() {
        return;
    }
    let Some(t) = with_workers(Backend::Sqlite).await else {
        return;
    };
    let (shop, owner) = t.shop("ocr-photo", "premium").await;
    let (inv, pdf, customer) = invoice_pdf(&t, &owner, "O-2").await;
    let tz = pitwall_store::shops::get(&t.db, shop)
        .await
        .unwrap()
        .unwrap()
        .time_zone;
    let (s, up) = t
        .upload(
            "/api/v1/invoice-uploads",
            &owner,
            "IMG_2041.JPG",
            "image/jpeg",
            photo_of(&pdf),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let done = read(&t, &owner, up["id"].as_str().unwrap()).await;
    assert_eq!(done["ocr_status"], "done", "{done}");
    assert_eq!(
        field(&done, "invoice_number")["value"],
        inv["number"],
        "{done}"
    );
    assert_eq!(
        field(&done, "invoice_date")["value"],
        today_in(&tz).as_str(),
        "{done}"
    );
    assert_eq!(
        field(&done, "total")["value"],
        decimal(inv["total"].as_i64().unwrap()).as_str(),
        "{done}"
    );
    // The invoice names no phone, so no customer is matched by it.
    assert!(done["customer_id"].is_null(), "{done}");
    let _ = customer;
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_is_found_by_the_phone_read() {
    if !ocr_installed() {
        return;
    }
    let Some(t) = with_workers(Backend::Sqlite).await else {
        return;
    };
    let (_, owner) = t.shop("ocr-phone", "premium").await;
    let (_, _, customer) = invoice_pdf(&t, &owner, "O-3").await;
    // A POS's invoice with a bill-to block, printed here as a PDF.
    let lines = [
        "MAIN ST GARAGE",
        "INVOICE # 10-4471",
        "Date: 12/03/2026",
        "Bill To:",
        "Ana Lopez",
        "Phone: (512) 555-0142",
        "Plate: 7ABC123   VIN: 1HGCM82633A004352",
        "Oil change 49.95",
        "Sales Tax 4.12",
        "Grand Total 54.07",
    ];
    let doc: Vec<_> = lines
        .iter()
        .map(|l| pitwall_domain::pdf::Line::new(pitwall_domain::pdf::Style::Heading, *l))
        .collect();
    let pdf = pitwall_domain::pdf::render("POS invoice", &doc);
    let (s, up) = t
        .upload(
            "/api/v1/invoice-uploads",
            &owner,
            "pos.pdf",
            "application/pdf",
            pdf,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let done = read(&t, &owner, up["id"].as_str().unwrap()).await;
    assert_eq!(done["ocr_status"], "done", "{done}");
    assert_eq!(field(&done, "invoice_number")["value"], "10-4471", "{done}");
    assert_eq!(
        field(&done, "invoice_date")["value"],
        "2026-12-03",
        "{done}"
    );
    assert_eq!(field(&done, "total")["value"], "54.07", "{done}");
    assert_eq!(field(&done, "tax")["value"], "4.12", "{done}");
    assert_eq!(field(&done, "phone")["value"], "+15125550142", "{done}");
    assert_eq!(field(&done, "plate")["value"], "7ABC123", "{done}");
    assert_eq!(field(&done, "vin")["value"], "1HGCM82633A004352", "{done}");
    assert_eq!(done["customer_id"], customer.as_str(), "{done}");
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tesseract_the_upload_is_unavailable_and_typing_works() {
    let Some(t) = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            workers: true,
            env: vec![("PITWALL_TESSERACT".into(), "/nonexistent/tesseract".into())],
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let (_, owner) = t.shop("ocr-none", "premium").await;
    let (_, _, customer) = approved_and_done(&t, &owner, "O-4").await;
    let png = blank_png();
    let (s, up) = t
        .upload(
            "/api/v1/invoice-uploads",
            &owner,
            "scan.png",
            "image/png",
            png,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    assert_eq!(up["ocr_status"], "unavailable", "{up}");
    assert!(up["error"].as_str().unwrap().contains("by hand"), "{up}");
    assert_eq!(up["fields"]["total"], Value::Null);
    // No job waits for a reader that is not there.
    let jobs = pitwall_store::outbox::unpushed(&t.db, 100).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.queue != "pitwall.documents"),
        "{jobs:?}"
    );
    // Typed by hand, tied to the upload.
    let (s, made) = t
        .post(
            "/api/v1/invoices",
            &owner,
            json!({"customer_id": customer, "upload_id": up["id"],
                   "lines": [{"kind": "labor", "description": "As on the paper invoice", "quantity": 1, "unit_price": 5407}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["total"], 5407);
    t.finish().await;
}

both_backends!(
    bad_uploads_the_plan_and_the_permission,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("ocr-bad", "premium").await;
        let path = "/api/v1/invoice-uploads";
        // Not a PDF, JPEG or PNG: named, nothing kept.
        let (s, b) = t
            .upload(
                path,
                &owner,
                "invoice.gif",
                "image/gif",
                b"GIF89a........".to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "file", "{b}");
        // Over 10 MB: 413 naming file.
        let mut big = b"%PDF-1.4\n".to_vec();
        big.resize(10 * 1024 * 1024 + 1, b' ');
        let (s, b) = t
            .upload(path, &owner, "big.pdf", "application/pdf", big)
            .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
        assert_eq!(b["field"], "file", "{b}");
        // No file field.
        let (s, b) = t.call("POST", path, Some(&owner), Some(json!({}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["field"], "file", "{b}");
        let (_, list) = t.get(path, &owner).await;
        assert_eq!(list["items"], json!([]), "nothing kept");
        // A bad cursor and an unknown upload.
        let (s, b) = t.get(&format!("{path}?cursor=nope"), &owner).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "cursor");
        let (s, _) = t
            .get(&format!("{path}/{}", uuid::Uuid::now_v7()), &owner)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // An upload id that is not one.
        let (_, _, customer) = approved_and_done(t, &owner, "O-5").await;
        let (s, b) = t
            .post(
                "/api/v1/invoices",
                &owner,
                json!({"customer_id": customer, "upload_id": uuid::Uuid::now_v7(),
                       "lines": [{"kind": "fee", "description": "x", "quantity": 1, "unit_price": 100}]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "upload_id", "{b}");

        // A technician may not upload; a shop without the feature may not.
        let (_, tech) = t.member(shop, "tech@ocr-bad.test", Role::Technician).await;
        let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
        let (s, b) = t
            .upload(path, &tech, "x.pdf", "application/pdf", pdf.clone())
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        let (_, pro) = t.shop("ocr-pro", "pro").await;
        let (s, b) = t.upload(path, &pro, "x.pdf", "application/pdf", pdf).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "feature_not_in_plan", "{b}");
        assert_eq!(b["feature"], "invoice_ocr", "{b}");
    }
);

/// The pages: the invoices list, a paper invoice uploaded from the form,
/// read, checked and confirmed into an invoice; bad input named on the
/// page with nothing made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_read_and_confirm_a_paper_invoice_on_the_pages() {
    use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
    if !ocr_installed() {
        return;
    }
    let Some(t) = with_workers(Backend::Sqlite).await else {
        return;
    };
    let (_, owner) = t.shop("ocr-pages", "premium").await;
    let (inv, pdf, customer) = invoice_pdf(&t, &owner, "OP-1").await;
    let c = browser();
    sign_in(&t, &c, "owner@ocr-pages.test").await;
    let (s, html) = page(&t, &c, "/app/invoices").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("data-testid=\"nav-invoices\""), "{html}");
    assert!(html.contains(inv["number"].as_str().unwrap()), "{html}");
    assert!(html.contains("data-testid=\"ocr-upload\""), "{html}");
    let csrf = csrf_of(&html);

    // Uploaded from the form (the token first, as a browser sends it).
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf)
                .file_name("scan.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let r = c
        .post(t.url("/app/invoice-uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(at.starts_with("/app/invoice-uploads/"), "{at}");
    let id = at.rsplit('/').next().unwrap().to_owned();
    read(&t, &owner, &id).await;
    let (s, html) = page(&t, &c, &at).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-status=\"done\""), "{html}");
    assert!(html.contains(inv["number"].as_str().unwrap()), "{html}");
    // Filled from what was read: the amount before tax and the rate.
    let net = inv["subtotal"].as_i64().unwrap();
    assert!(
        html.contains(&format!("value=\"{}.{:02}\"", net / 100, net % 100)),
        "{html}"
    );
    let (s, file) = page(&t, &c, &format!("{at}/file")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(file.starts_with("%PDF-"));

    // Bad input: named, nothing made.
    let confirm = format!("{at}/confirm");
    let r = c
        .post(t.url(&confirm))
        .form(&[
            ("csrf", csrf.as_str()),
            ("customer_id", customer.as_str()),
            ("description", "As read"),
            ("amount", "lots"),
            ("tax_rate", "8.25"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.to_lowercase().contains("amount"), "{body}");
    // With the customer chosen, their tickets are offered: an invoice on a
    // ticket can be sent with a payment link.
    assert!(body.contains("data-testid=\"ocr-ticket\""), "{body}");
    let (_, list) = t.get("/api/v1/invoices", &owner).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // The ticket's own case is canceled (the paper one replaces it), so
    // the ticket takes the confirmed one.
    let (s, b) = t
        .post(
            &format!("/api/v1/invoices/{}/cancel", inv["id"].as_str().unwrap()),
            &owner,
            json!({"reason": "billed on paper"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ticket = inv["ticket_id"].as_str().unwrap().to_owned();
    let amount = format!("{}.{:02}", net / 100, net % 100);
    let r = c
        .post(t.url(&confirm))
        .form(&[
            ("csrf", csrf.as_str()),
            ("customer_id", customer.as_str()),
            ("ticket_id", ticket.as_str()),
            ("description", "Invoice as read"),
            ("amount", amount.as_str()),
            ("tax_rate", "8.25"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&t, &c, "/app/invoices?ok=invoice_confirmed").await;
    assert!(
        html.contains("Invoice made from the paper invoice."),
        "{html}"
    );
    assert!(html.contains("INV-00002"), "{html}");
    let (_, up) = t
        .get(&format!("/api/v1/invoice-uploads/{id}"), &owner)
        .await;
    let made = up["invoice_id"].as_str().unwrap().to_owned();
    let (_, made) = t.get(&format!("/api/v1/invoices/{made}"), &owner).await;
    assert_eq!(made["subtotal"].as_i64().unwrap(), net);
    assert_eq!(made["ticket_id"], ticket.as_str());
    // On its ticket, it goes to the customer with a link.
    let (s, sent) = t
        .post(
            &format!("/api/v1/invoices/{}/send", made["id"].as_str().unwrap()),
            &owner,
            json!({"send": "email"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    assert_eq!(sent["invoice"]["status"], "sent");
    let (_, html) = page(&t, &c, &at).await;
    assert!(html.contains("data-testid=\"ocr-invoice-made\""), "{html}");
    assert!(!html.contains("data-testid=\"ocr-confirm\""), "{html}");

    // Another shop's staff reach none of it.
    t.shop("ocr-pages-other", "premium").await;
    let other = browser();
    sign_in(&t, &other, "owner@ocr-pages-other.test").await;
    for path in [at.clone(), format!("{at}/file")] {
        let (s, _) = page(&t, &other, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, html) = page(&t, &other, "/app/invoices").await;
    assert!(!html.contains("scan.pdf"), "{html}");
    let r = other
        .post(t.url(&confirm))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("customer_id", customer.as_str()),
            ("description", "x"),
            ("amount", "1.00"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    t.finish().await;
}

/// The stored file of an upload, under the app's folder.
fn stored_file(dir: &std::path::Path, id: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = stored_file(&path, id) {
                return Some(found);
            }
        } else if path.ends_with(format!("invoice-uploads/{id}")) {
            return Some(path);
        }
    }
    None
}

both_backends!(
    an_upload_the_reader_cannot_read_ends_failed_not_queued,
    async |t: &TestApp| {
        if !ocr_installed() {
            return;
        }
        let (shop, owner) = t.shop("ocr-retries", "premium").await;
        let png = blank_png();
        let mut ids = Vec::new();
        for name in ["gone.png", "unreadable.png"] {
            let (s, up) = t
                .upload(
                    "/api/v1/invoice-uploads",
                    &owner,
                    name,
                    "image/png",
                    png.clone(),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{up}");
            // No workers here: the test plays the queue's tries.
            assert_eq!(up["ocr_status"], "queued", "{up}");
            ids.push(up["id"].as_str().unwrap().to_owned());
        }
        let try_once = async |id: &str| {
            let upload = pitwall_core::domain::InvoiceUploadId::from_uuid(id.parse().unwrap());
            pitwall_core::invoices::read_upload(&t.app, shop, upload).await
        };
        let status = async |id: &str| {
            let (s, b) = t
                .get(&format!("/api/v1/invoice-uploads/{id}"), &owner)
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            b
        };

        // The file is gone: nothing will bring it back, failed at once.
        let file = stored_file(&t.dir, &ids[0]).expect("the upload's file is stored");
        std::fs::remove_file(&file).unwrap();
        assert!(try_once(&ids[0]).await.is_ok());
        let b = status(&ids[0]).await;
        assert_eq!(b["ocr_status"], "failed", "{b}");
        assert!(
            b["error"].as_str().unwrap().contains("no longer stored"),
            "{b}"
        );

        // The store fails on every try (a link that points at itself):
        // queued while the queue may try again, failed on its last try,
        // naming how many tries were made.
        let file = stored_file(&t.dir, &ids[1]).expect("the upload's file is stored");
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&file, &file).unwrap();
        let tries = pitwall_jobs::relay::MAX_ATTEMPTS;
        for n in 1..tries {
            assert!(try_once(&ids[1]).await.is_err(), "try {n} is to be retried");
            let b = status(&ids[1]).await;
            assert_eq!(b["ocr_status"], "queued", "after try {n}: {b}");
        }
        assert!(try_once(&ids[1]).await.is_ok(), "the last try records");
        let b = status(&ids[1]).await;
        assert_eq!(b["ocr_status"], "failed", "{b}");
        let error = b["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("gave up after {tries} tries")),
            "{b}"
        );
        // A job run again after that changes nothing.
        assert!(try_once(&ids[1]).await.is_ok());
        assert_eq!(status(&ids[1]).await["error"], b["error"]);
    }
);
