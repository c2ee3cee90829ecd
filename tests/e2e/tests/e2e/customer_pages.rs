//! The customer's page at `/c/{token}` and the staff pages of issue 6 over
//! HTTP, on both databases: the page in English and Spanish, its headers,
//! the friendly 404/410, a form approval and a stale one re-rendered with
//! the change marked, the message form, the live stream's presence, and the
//! staff side (link card, preview, approvals with their chain check, the
//! dashboard's marks, customer-page settings, webhooks).

use std::time::Duration;

use pitwall_core::domain::Role;
use pitwall_testkit::pages::{browser, csrf_of, sign_in};
use pitwall_testkit::{StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

/// The page's HTML with the `/` minijinja escapes in attributes undone.
async fn text(r: reqwest::Response) -> String {
    r.text().await.unwrap().replace("&#x2f;", "/")
}

async fn page(t: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c.get(t.url(path)).send().await.unwrap();
    (r.status(), text(r).await)
}

/// A shop on `plan` with a POS key, and one ticket with three services
/// awaiting the customer (one with a taxable part) and one approved.
struct Setup {
    owner: String,
    key: String,
    ticket: String,
    services: Vec<String>,
}

fn ticket_body(brakes_price: i64, extra: bool, updated: &str) -> Value {
    let mut services = vec![
        json!({"external_id": "S-1", "title": "Front brakes", "status": "recommended", "line_items": [
            {"kind": "labor", "description": "Pads and rotors", "quantity": 1.5, "unit_price": brakes_price, "taxable": false},
            {"kind": "part", "description": "Pad set", "quantity": 1, "unit_price": 6499, "taxable": true}
        ]}),
        json!({"external_id": "S-2", "title": "Wiper blades", "status": "pending", "line_items": [
            {"kind": "part", "description": "Blades", "quantity": 2, "unit_price": 1500, "taxable": true}
        ]}),
        json!({"external_id": "S-3", "title": "Cabin filter", "status": "recommended", "line_items": [
            {"kind": "part", "description": "Filter", "quantity": 1, "unit_price": 3200, "taxable": true}
        ]}),
        json!({"external_id": "S-0", "title": "Oil change", "status": "approved", "line_items": [
            {"kind": "labor", "description": "Oil and filter", "quantity": 1, "unit_price": 5900, "taxable": false}
        ]}),
    ];
    if extra {
        services.push(json!({"external_id": "S-4", "title": "Coolant flush", "status": "recommended", "line_items": [
            {"kind": "labor", "description": "Flush", "quantity": 1, "unit_price": 9900, "taxable": false}
        ]}));
    }
    let customer = json!({"external_id": "C-1", "first_name": "Dana", "last_name": "Reyes",
        "phone": "(512) 555-0123", "email": "dana@example.com"});
    json!({
        "kind": "workorder", "number": "4242",
        "customer": customer,
        "vehicle": {"external_id": "V-1", "year": 2019, "make": "Honda", "model": "Civic", "plate": "ABC-1234"},
        "services": services,
        "tax_rate": 0.0825,
        "pos_updated_at": updated,
    })
}

async fn setup(t: &TestApp, slug: &str, plan: &str, locale: Option<&str>) -> Setup {
    let (_, owner) = t.shop(slug, plan).await;
    let (s, k) = t
        .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{k}");
    let key = k["secret"].as_str().unwrap().to_owned();
    if let Some(l) = locale {
        // The shop's language (customers have none of their own yet).
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/customer-page-settings",
                Some(&owner),
                Some(json!({"link_ttl_hours": 72, "locale": l})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, pushed) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/RO-1",
            Some(&key),
            Some(ticket_body(12000, false, "2026-11-23T10:00:00Z")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let ticket = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    let services = pushed["ticket"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    Setup {
        owner,
        key,
        ticket,
        services,
    }
}

async fn link(t: &TestApp, s: &Setup) -> String {
    let (st, b) = t
        .post(
            &format!("/api/v1/tickets/{}/customer-links", s.ticket),
            &s.owner,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let url = b["url"].as_str().unwrap();
    url[url.find("/c/").unwrap()..].to_owned()
}

/// The value of `name="<name>" value="..."` in a form.
fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    html[at + name.len() + 15..]
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// The hidden `shown_<id>=<subtotal>` pairs of the approval form.
fn shown(html: &str) -> Vec<(String, String)> {
    html.split("name=\"shown_")
        .skip(1)
        .map(|rest| {
            let id = rest.split('"').next().unwrap().to_owned();
            let v = rest.split("value=\"").nth(1).unwrap();
            (
                format!("shown_{id}"),
                v.split('"').next().unwrap().to_owned(),
            )
        })
        .collect()
}

const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

both_backends!(
    customer_page_in_english_and_spanish_with_headers,
    async |t: &TestApp| {
        let s = setup(t, "cp-en", "pro", None).await;
        let path = link(t, &s).await;
        let anon = reqwest::Client::new();
        let r = anon.get(t.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers().clone();
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h["x-robots-tag"].to_str().unwrap().contains("noindex"));
        assert_eq!(h["cache-control"], "no-store");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'")
        );
        let html = text(r).await;
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("Work order #4242"));
        assert!(html.contains("2019 Honda Civic"));
        assert!(html.contains("Shop cp-en"));
        // Services: awaiting apart from approved; line items; totals.
        let awaiting = html
            .split("data-testid=\"services-awaiting\"")
            .nth(1)
            .unwrap();
        let awaiting = awaiting.split("</ul>").next().unwrap();
        assert!(
            awaiting.contains("Front brakes")
                && awaiting.contains("Wiper blades")
                && !awaiting.contains("Oil change")
        );
        let approved = html
            .split("data-testid=\"services-approved\"")
            .nth(1)
            .unwrap();
        assert!(
            approved
                .split("</ul>")
                .next()
                .unwrap()
                .contains("Oil change")
        );
        // 1.5 × 120.00 + 64.99 = 244.99; blades 30.00; filter 32.00; oil 59.00
        assert!(
            html.contains("$244.99") && html.contains("Pads and rotors") && html.contains("1.5")
        );
        assert!(
            html.contains("<dd data-testid=\"subtotal\">$365.99</dd>"),
            "{html}"
        );
        // taxable 64.99 + 30 + 32 = 126.99 × 8.25 % = 10.48
        assert!(html.contains("<dd data-testid=\"tax\">$10.48</dd>"));
        assert!(html.contains("$376.47"));
        // Everything awaiting is checked by default; the form carries the
        // version and what was shown.
        assert_eq!(html.matches("name=\"approve\"").count(), 3);
        assert_eq!(html.matches(" checked data-subtotal").count(), 3);
        assert_eq!(shown(&html).len(), 4);
        assert!(!field(&html, "ticket_version").is_empty());
        // No inline script, only our own files; no third-party requests.
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=\"/static/").count()
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing from elsewhere"
        );
        assert!(html.contains(&format!("data-events=\"{path}/events\"")));
        // The live fragment.
        let r = anon
            .get(t.url(&path))
            .header("x-fragment", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let frag = text(r).await;
        assert!(frag.contains("data-testid=\"status\"") && !frag.contains("<html"));
        // Static files are served with caching.
        for f in [
            "/static/customer.css",
            "/static/customer.js",
            "/static/signature.js",
        ] {
            let r = anon.get(t.url(f)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{f}");
            assert!(
                r.headers()["cache-control"]
                    .to_str()
                    .unwrap()
                    .contains("max-age")
            );
        }

        // The same ticket for a Spanish-speaking customer.
        let s = setup(t, "cp-es", "pro", Some("es")).await;
        let path = link(t, &s).await;
        let html = anon.get(t.url(&path)).send().await.map(text).unwrap().await;
        assert!(html.contains("<html lang=\"es\">"), "{html}");
        assert!(html.contains("Orden de trabajo #4242"));
        assert!(html.contains("Esperan su aprobación"));
        assert!(html.contains("244,99\u{a0}US$"), "{html}");
        assert!(html.contains("376,47\u{a0}US$"));
        assert!(html.contains("1,5"), "quantities in Spanish");
        assert!(html.contains("Firmar y enviar mi respuesta"));
    }
);

both_backends!(
    unknown_revoked_and_expired_links_get_friendly_pages,
    async |t: &TestApp| {
        let s = setup(t, "cp-gone", "pro", None).await;
        let anon = reqwest::Client::new();
        let r = anon
            .get(t.url("/c/pwc_notARealTokenAtAll0000000000000"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        let html = text(r).await;
        assert!(html.contains("This link does not work") && html.contains("customer.css"));
        assert!(!html.contains("nav-"), "not the staff layout");
        // Spanish for a Spanish browser.
        let r = anon
            .get(t.url("/c/pwc_x"))
            .header("accept-language", "es-MX,es;q=0.9")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(text(r).await.contains("Este enlace no funciona"));

        // Re-issued: the first link is gone (410, with the shop's name).
        let first = link(t, &s).await;
        let (st, b) = t
            .post(
                &format!("/api/v1/tickets/{}/customer-links", s.ticket),
                &s.owner,
                json!({"replace": true}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        let r = anon.get(t.url(&first)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::GONE);
        let html = text(r).await;
        assert!(
            html.contains("This link no longer works") && html.contains("Shop cp-gone"),
            "{html}"
        );

        // Expired: the link's time is up.
        let second = b["url"].as_str().unwrap();
        let second = &second[second.find("/c/").unwrap()..];
        assert_eq!(
            anon.get(t.url(second)).send().await.unwrap().status(),
            StatusCode::OK
        );
        use pitwall_store::sea_orm::{ConnectionTrait, Statement};
        let db = &t.db;
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "UPDATE customer_links SET expires_at = created_at",
        ))
        .await
        .unwrap();
        let r = anon.get(t.url(second)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::GONE);
        assert!(text(r).await.contains("expired"));
        // Posting to a dead link changes nothing and says so.
        let r = anon
            .post(t.url(&format!("{second}/messages")))
            .form(&[("body", "hello?")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::GONE);
    }
);

both_backends!(
    form_approval_and_a_stale_version_marked,
    async |t: &TestApp| {
        let s = setup(t, "cp-approve", "pro", None).await;
        let path = link(t, &s).await;
        let anon = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let html = anon.get(t.url(&path)).send().await.map(text).unwrap().await;
        let version = field(&html, "ticket_version");
        let stale_shown = shown(&html);

        // The POS changes the brakes' price and adds a service meanwhile.
        let (st, b) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/RO-1",
                Some(&s.key),
                Some(ticket_body(13000, true, "2026-11-23T11:00:00Z")),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");

        let mut form: Vec<(String, String)> = vec![
            ("ticket_version".into(), version.clone()),
            ("signer_name".into(), "Dana Reyes".into()),
            ("signature".into(), PNG.into()),
            ("approve".into(), s.services[0].clone()),
            ("approve".into(), s.services[1].clone()),
            ("awaiting".into(), s.services[0].clone()),
            ("awaiting".into(), s.services[1].clone()),
            ("awaiting".into(), s.services[2].clone()),
        ];
        form.extend(stale_shown);
        let r = anon
            .post(t.url(&format!("{path}/approval")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let html = text(r).await;
        assert!(
            html.contains("changed this work order while you were looking"),
            "{html}"
        );
        let changes = html
            .split("data-testid=\"changes\"")
            .nth(1)
            .expect("changes listed");
        assert!(changes.contains("New: Coolant flush"), "{changes}");
        assert!(
            changes.contains("Front brakes: Price changed, was $244.99"),
            "{changes}"
        );
        assert_eq!(html.matches("data-testid=\"service-change\"").count(), 2);
        assert!(html.contains("Dana Reyes"), "the typed name is kept");
        let (_, api) = t
            .get(&format!("/api/v1/tickets/{}", s.ticket), &s.owner)
            .await;
        assert!(
            api["ticket"]["services"]
                .as_array()
                .unwrap()
                .iter()
                .all(|sv| sv["title"] == "Oil change"
                    || sv["status"] == "recommended"
                    || sv["status"] == "pending"),
            "nothing recorded: {api}"
        );

        // Again on the page as it is now: approve two of four, decline the rest.
        let html = anon.get(t.url(&path)).send().await.map(text).unwrap().await;
        let version = field(&html, "ticket_version");
        let awaiting: Vec<String> = html
            .split("name=\"awaiting\" value=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap().to_owned())
            .collect();
        assert_eq!(awaiting.len(), 4);
        let mut form: Vec<(String, String)> = vec![
            ("ticket_version".into(), version),
            ("signer_name".into(), "Dana Reyes".into()),
            ("signature".into(), PNG.into()),
            ("approve".into(), awaiting[0].clone()),
            ("approve".into(), awaiting[1].clone()),
        ];
        form.extend(awaiting.iter().map(|a| ("awaiting".to_owned(), a.clone())));
        form.extend(shown(&html));
        // Without a signature it is refused in words and nothing is recorded.
        let no_sig: Vec<_> = form
            .iter()
            .filter(|(k, _)| k != "signature")
            .cloned()
            .collect();
        let r = anon
            .post(t.url(&format!("{path}/approval")))
            .form(&no_sig)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(r).await.contains("Sign in the box"));
        let r = anon
            .post(t.url(&format!("{path}/approval")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            format!("{path}#confirmation").as_str()
        );
        // A double tap: the same answer again makes no second record.
        let r = anon
            .post(t.url(&format!("{path}/approval")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);

        // Coming back shows the confirmation: approved, declined, totals.
        let html = anon.get(t.url(&path)).send().await.map(text).unwrap().await;
        let conf = html
            .split("data-testid=\"confirmation\"")
            .nth(1)
            .expect("a confirmation");
        let conf = conf.split("</section>").next().unwrap();
        assert!(conf.contains("Dana Reyes"));
        let approved = conf
            .split("data-testid=\"conf-approved\"")
            .nth(1)
            .unwrap()
            .split("</ul>")
            .next()
            .unwrap();
        let declined = conf
            .split("data-testid=\"conf-declined\"")
            .nth(1)
            .unwrap()
            .split("</ul>")
            .next()
            .unwrap();
        assert_eq!(approved.matches("<li>").count(), 2, "{approved}");
        assert_eq!(declined.matches("<li>").count(), 2, "{declined}");
        assert!(conf.contains("data-print"), "a print button");
        assert!(
            !html.contains("data-testid=\"approval-form\""),
            "nothing left to approve"
        );
        let (_, list) = t
            .get(
                &format!("/api/v1/tickets/{}/approvals/verification", s.ticket),
                &s.owner,
            )
            .await;
        assert_eq!(
            list["approvals"].as_array().map(Vec::len),
            Some(1),
            "one record: {list}"
        );
        assert_eq!(list["intact"], true);

        // The message form joins the shop's thread.
        let r = anon
            .post(t.url(&format!("{path}/messages")))
            .form(&[("body", "Can you also check the horn?")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        let html = anon.get(t.url(&to)).send().await.map(text).unwrap().await;
        assert!(html.contains("Your message was sent to the shop."));
        let r = anon
            .post(t.url(&format!("{path}/messages")))
            .form(&[("body", "  ")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let c = browser();
        sign_in(t, &c, "owner@cp-approve.test").await;
        let (_, tk) = t
            .get(&format!("/api/v1/tickets/{}", s.ticket), &s.owner)
            .await;
        let customer = tk["ticket"]["customer"]["id"].as_str().unwrap();
        let (_, thread) = page(t, &c, &format!("/app/messages/{customer}")).await;
        assert!(thread.contains("Can you also check the horn?"), "{thread}");
    }
);

both_backends!(
    staff_see_links_presence_approvals_and_the_preview,
    async |t: &TestApp| {
        let s = setup(t, "cp-staff", "premium", None).await;
        let c = browser();
        sign_in(t, &c, "owner@cp-staff.test").await;
        let tp = format!("/app/tickets/{}", s.ticket);
        let (st, html) = page(t, &c, &tp).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("data-testid=\"link-card\"") && html.contains("Send by text"));
        assert!(
            html.contains("data-testid=\"staff-approval-form\"")
                && html.contains("/static/signature.js")
        );
        let csrf = csrf_of(&html);

        // Create a link to copy: its URL is on the page this once.
        let r = c
            .post(t.url(&format!("{tp}/links")))
            .form(&[("send", ""), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = text(r).await;
        let at = html
            .find("data-testid=\"issued-url\"")
            .expect("the URL shown");
        let before = &html[..at];
        let v = before.rfind("value=\"").unwrap();
        let url = before[v + 7..].split('"').next().unwrap().to_owned();
        assert!(
            url.starts_with(&t.base_url) && url.contains("/c/pwc_"),
            "{url}"
        );
        let (_, again) = page(t, &c, &tp).await;
        assert!(!again.contains(&url), "shown once only");
        assert!(again.contains("data-testid=\"link-row\" data-state=\"active\""));

        // The customer opens it and keeps the page open: staff see it live.
        let path = url[url.find("/c/").unwrap()..].to_owned();
        let anon = reqwest::Client::new();
        let mut stream = anon
            .get(t.url(&format!("{path}/events")))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        let (_, html) = page(t, &c, &tp).await;
        assert!(html.contains("data-testid=\"customer-viewing\""), "{html}");
        let (_, board) = page(t, &c, "/app/dashboard").await;
        assert!(board.contains("data-testid=\"board-viewing\""));
        // Closing the page ends it at once (not only after the window).
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.chunk()).await;
        drop(stream);
        let mut gone = false;
        let closed = std::time::Instant::now();
        while closed.elapsed() < Duration::from_secs(30) {
            let (_, html) = page(t, &c, &tp).await;
            if !html.contains("data-testid=\"customer-viewing\"") {
                gone = true;
                eprintln!(
                    "customer viewing went away {:?} after closing",
                    closed.elapsed()
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "customer viewing went away after the page closed");

        // Preview: the customer's template, marked, with nothing that posts.
        let (st, pv) = page(t, &c, &format!("{tp}/customer-view")).await;
        assert_eq!(st, StatusCode::OK);
        assert!(pv.contains("data-testid=\"preview-bar\"") && pv.contains("Work order #4242"));
        assert!(
            !pv.contains("method=\"post\""),
            "no form posts in the preview"
        );
        assert!(!pv.contains("/events"));

        // An in-person approval from the staff page.
        let mut form: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("method".into(), "in_person".into()),
            ("signer_name".into(), "Dana at the counter".into()),
            ("signature".into(), "M 10 10 L 50 40 L 90 20".into()),
            ("approve".into(), s.services[0].clone()),
        ];
        for sv in &s.services[..3] {
            form.push(("awaiting".into(), sv.clone()));
        }
        let r = c
            .post(t.url(&format!("{tp}/approvals")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/app/approvals/"), "{to}");
        let (st, ap) = page(t, &c, &to).await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            ap.contains("Approval recorded.")
                && ap.contains("in person")
                && ap.contains("Dana at the counter")
        );
        assert!(
            ap.contains("<svg class=\"signature\"")
                && ap.contains("Front brakes")
                && ap.contains("Wiper blades")
        );
        assert!(ap.contains("data-testid=\"approval-hash\""));

        // The dashboard highlights it until someone opens the ticket.
        let (_, board) = page(t, &c, "/app/dashboard").await;
        assert!(board.contains("data-testid=\"board-approved\""), "{board}");
        let (_, html) = page(t, &c, &tp).await;
        assert!(html.contains("data-testid=\"approval-row\""));
        let approval_id = to
            .trim_start_matches("/app/approvals/")
            .split('?')
            .next()
            .unwrap();
        assert!(
            html.contains(&format!(
                "href=\"/app/approvals/{approval_id}\"><strong>work approved"
            )),
            "the timeline links the approval"
        );
        let (_, board) = page(t, &c, "/app/dashboard").await;
        assert!(!board.contains("data-testid=\"board-approved\""), "seen");

        // The chain check says intact, then altered after tampering.
        let (_, v) = page(t, &c, &format!("{tp}/approvals/verify")).await;
        assert!(v.contains("data-state=\"intact\""), "{v}");
        use pitwall_store::sea_orm::{ConnectionTrait, DbBackend, Statement};
        let db = &t.db;
        let backend = db.get_database_backend();
        // The database refuses edits; an attacker with its keys drops the
        // guard first.
        let drop = match backend {
            DbBackend::Postgres => "DROP TRIGGER approvals_never_edited ON approvals",
            _ => "DROP TRIGGER approvals_never_edited",
        };
        for sql in [drop, "UPDATE approvals SET signer_name = 'Somebody else'"] {
            db.execute_raw(Statement::from_string(backend, sql))
                .await
                .unwrap();
        }
        let (_, v) = page(t, &c, &format!("{tp}/approvals/verify")).await;
        assert!(v.contains("data-state=\"altered\""), "{v}");

        // Revoke from the page.
        let (_, html) = page(t, &c, &tp).await;
        let at = html.find("/revoke\"").expect("a revoke form");
        let action = &html[..at];
        let action = &action[action.rfind("action=\"").unwrap() + 8..];
        let r = c
            .post(t.url(&format!("{action}/revoke")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            anon.get(t.url(&path)).send().await.unwrap().status(),
            StatusCode::GONE
        );

        // An advisor may not see webhooks; the owner may (premium).
        let (_, home) = page(t, &c, "/app").await;
        assert!(home.contains("nav-webhooks"));
    }
);

both_backends!(settings_and_webhooks_pages, async |t: &TestApp| {
    let (shop, _) = t.shop("cp-hooks", "premium").await;
    t.member(shop, "adv@cp-hooks.test", Role::Advisor).await;
    let c = browser();
    sign_in(t, &c, "owner@cp-hooks.test").await;
    let (st, html) = page(t, &c, "/app/settings").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("data-testid=\"customer-page-settings\""));
    let csrf = csrf_of(&html);
    let r = c
        .post(t.url("/app/settings/customer-page"))
        .form(&[("link_ttl_hours", "0"), ("locale", "es"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(r).await.contains("link ttl hours: must be from 1"));
    let r = c
        .post(t.url("/app/settings/customer-page"))
        .form(&[("link_ttl_hours", "48"), ("locale", "es"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(t, &c, "/app/settings").await;
    assert!(html.contains("value=\"48\"") && html.contains("<option value=\"es\" selected>"));

    let (st, html) = page(t, &c, "/app/webhooks").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("data-testid=\"no-webhooks\""));
    let r = c
        .post(t.url("/app/webhooks"))
        .form(&[("url", "ftp://example.com/x"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(r).await.contains("url: must start with https://"));
    let r = c
        .post(t.url("/app/webhooks"))
        .form(&[("url", "http://127.0.0.1:9/hook"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(t, &c, "/app/webhooks").await;
    assert!(
        html.contains("http://127.0.0.1:9/hook") && html.contains("whsec_"),
        "{html}"
    );
    let at = html.find("/test\"").expect("a test form");
    let before = &html[..at];
    let action = &before[before.rfind("action=\"").unwrap() + 8..];
    let r = c
        .post(t.url(&format!("{action}/test")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(t, &c, "/app/webhooks").await;
    assert!(
        html.contains("data-testid=\"delivery\""),
        "the test delivery listed: {html}"
    );
    let r = c
        .post(t.url(&format!("{action}/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(t, &c, "/app/webhooks").await;
    assert!(html.contains("data-testid=\"no-webhooks\""));

    // An advisor has no webhooks page.
    let a = browser();
    sign_in(t, &a, "adv@cp-hooks.test").await;
    let (_, home) = page(t, &a, "/app").await;
    assert!(!home.contains("nav-webhooks"));
    assert_eq!(page(t, &a, "/app/webhooks").await.0, StatusCode::FORBIDDEN);

    // A Pro shop has no webhooks: the page says why.
    let (_, _) = t.shop("cp-nohooks", "pro").await;
    let p = browser();
    sign_in(t, &p, "owner@cp-nohooks.test").await;
    let (st, html) = page(t, &p, "/app/webhooks").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        html.contains("Your plan does not include outgoing webhooks"),
        "{html}"
    );
});
