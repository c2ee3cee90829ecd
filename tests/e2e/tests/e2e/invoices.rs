//! Invoice cases on both databases: made from a ticket's approved, done
//! positions (frozen and hashed) or by hand, every move the state machine
//! allows and refuses through the API and the POS, bad input named with
//! nothing written, the plan gate and the permission, numbering under
//! concurrent creation, and the PDF.

use pitwall_core::domain::invoices::InvoiceStatus;
use pitwall_core::domain::{InvoiceId, Role, ShopId};
use pitwall_testkit::{StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

/// A POS ticket with brake pads (approved by phone, then done) and wipers
/// (declined): (POS key, ticket id, customer id).
pub(crate) async fn approved_and_done(
    t: &TestApp,
    owner: &str,
    ext: &str,
) -> (String, String, String) {
    let key = t.pos_key(owner).await;
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{ext}"),
            Some(&key),
            Some(json!({
                "kind": "workorder", "number": ext, "pos_updated_at": "2026-11-23T10:00:00Z",
                "tax_rate": 0.0825,
                "customer": {"external_id": format!("c-{ext}"), "first_name": "Ana", "last_name": "Lopez",
                             "phone": "(512) 555-0142", "email": "ana@example.test"},
                "services": [
                    {"external_id": "s1", "title": "Brake pads", "status": "pending",
                     "line_items": [{"kind": "labor", "description": "Pads", "quantity": 1.5, "unit_price": 10000, "taxable": true},
                                    {"kind": "fee", "description": "Disposal", "quantity": 1, "unit_price": 500, "taxable": false}]},
                    {"external_id": "s2", "title": "Wipers", "status": "pending",
                     "line_items": [{"kind": "part", "description": "Blades", "quantity": 2, "unit_price": 1500, "taxable": true}]}],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let ticket = b["ticket"]["id"].as_str().unwrap().to_owned();
    let customer = b["ticket"]["customer"]["id"].as_str().unwrap().to_owned();
    let brakes = b["ticket"]["services"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wipers = b["ticket"]["services"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/approvals"),
            owner,
            json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers], "method": "phone"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let create = format!("/api/v1/tickets/{ticket}/invoices");
    // Approved but not done yet: nothing to bill under the workflow.
    let (s, b) = t.post(&create, owner, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["field"], "services", "{b}");
    let (s, b) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/services/{brakes}/done"),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    (key, ticket, customer)
}

async fn invoices(t: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (s, b) = t.get(&format!("/api/v1/invoices{query}"), token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"].as_array().unwrap().clone()
}

async fn act(t: &TestApp, token: &str, id: &str, action: &str, body: Value) -> (StatusCode, Value) {
    t.post(&format!("/api/v1/invoices/{id}/{action}"), token, body)
        .await
}

async fn timeline(t: &TestApp, token: &str, ticket: &str) -> Vec<String> {
    let (s, b) = t
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|k| k.starts_with("invoice_") || k == "vehicle_delivered")
        .collect()
}

/// Stands in for an online payment until the payment flow lands: the case
/// moves to `paid` through the store, as the payment will move it.
async fn paid_online(t: &TestApp, shop: ShopId, id: &str) {
    let id: InvoiceId = id.parse().expect("an invoice id");
    let current = pitwall_store::invoices::get(&t.db, shop, id)
        .await
        .expect("read")
        .expect("the case");
    let moved = pitwall_store::invoices::move_status(
        &t.db,
        shop,
        id,
        pitwall_store::invoices::InvoiceMove {
            from: current.status_value().expect("a status"),
            to: InvoiceStatus::Paid,
            at: chrono::Utc::now(),
            cancel_reason: None,
        },
    )
    .await
    .expect("moved");
    assert!(moved.is_some(), "paid");
}

both_backends!(
    an_invoice_is_made_from_the_done_work_and_moves_forward_only,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("inv-flow", "premium").await;
        let (key, ticket, customer) = approved_and_done(t, &owner, "I-1").await;

        let (s, inv) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{inv}");
        let id = inv["id"].as_str().unwrap().to_owned();
        assert_eq!(inv["number"], "INV-00001");
        assert_eq!(inv["status"], "draft");
        assert_eq!(inv["customer_id"], customer.as_str());
        assert_eq!(inv["customer_name"], "Ana Lopez");
        // Only the approved, done position: 1.5 × 100.00 + 5.00 disposal,
        // tax 8.25 % on the taxable 150.00 only.
        let positions = inv["positions"].as_array().unwrap();
        assert_eq!(positions.len(), 1, "{inv}");
        assert_eq!(positions[0]["title"], "Brake pads");
        assert_eq!(inv["subtotal"], 15500);
        assert_eq!(inv["tax"], 1238);
        assert_eq!(inv["total"], 16738);
        assert_eq!(inv["intact"], true);
        assert_eq!(inv["hash"].as_str().unwrap().len(), 64);
        assert_eq!(
            inv["allowed_actions"],
            json!(["send", "pay_online", "paid_pos", "cancel"])
        );

        // One live case per ticket.
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "ticket_id", "{b}");
        assert!(b["message"].as_str().unwrap().contains("INV-00001"), "{b}");
        assert_eq!(invoices(t, &owner, "").await.len(), 1);

        // Forbidden moves of a draft: each 409 naming status, nothing moves.
        for action in ["delivered", "booked"] {
            let (s, b) = act(t, &owner, &id, action, json!({})).await;
            assert_eq!(s, StatusCode::CONFLICT, "{action}: {b}");
            assert_eq!(b["field"], "status", "{b}");
        }
        let (s, b) = t
            .post(
                &format!("/api/pos/v1/invoices/{id}/booked"),
                &key,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "status", "{b}");

        // Sent by text: a link with the invoice template, the case is sent.
        let (s, b) = act(t, &owner, &id, "send", json!({"send": "pigeon"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "send");
        let (s, sent) = act(t, &owner, &id, "send", json!({"send": "sms"})).await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        assert_eq!(sent["invoice"]["status"], "sent");
        assert!(sent["invoice"]["sent_at"].is_string());
        assert!(sent["link_url"].as_str().unwrap().contains("/c/pwc_"));
        let message = sent["message_id"].as_str().unwrap().to_owned();
        let (_, thread) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        let msg = thread["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("the invoice message in {thread}"));
        assert_eq!(msg["kind"], "invoice", "{msg}");
        // Sending again is allowed and stays sent.
        let (s, again) = act(t, &owner, &id, "send", json!({"send": "email"})).await;
        assert_eq!(s, StatusCode::OK, "{again}");
        assert_eq!(again["invoice"]["status"], "sent");

        // The case is paid (online), handed over, and booked by the POS.
        let (s, b) = act(t, &owner, &id, "cancel", json!({"reason": "x"})).await;
        assert_eq!(s, StatusCode::OK, "a sent case may be canceled: {b}");
        assert_eq!(b["status"], "canceled");
        assert_eq!(b["cancel_reason"], "x");
        for action in ["send", "paid-pos", "delivered", "booked"] {
            let body = if action == "send" {
                json!({"send": "sms"})
            } else {
                json!({})
            };
            let (s, b) = act(t, &owner, &id, action, body).await;
            assert_eq!(s, StatusCode::CONFLICT, "{action}: {b}");
            assert_eq!(b["field"], "status", "{b}");
            assert!(b["message"].as_str().unwrap().contains("closed"), "{b}");
        }
        // A canceled case frees the ticket for a new one.
        let (s, second) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{second}");
        assert_eq!(second["number"], "INV-00002");
        let second = second["id"].as_str().unwrap().to_owned();
        let (s, b) = act(t, &owner, &second, "delivered", json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        paid_online(t, shop, &second).await;
        let (s, b) = t
            .post(
                &format!("/api/pos/v1/invoices/{second}/booked"),
                &key,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "booked only after delivery: {b}");
        let (s, b) = act(t, &owner, &second, "cancel", json!({"reason": "late"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "a paid case is not canceled: {b}");
        let (s, b) = act(t, &owner, &second, "delivered", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "delivered");
        assert_eq!(b["allowed_actions"], json!(["booked"]));
        let (s, b) = t
            .post(
                &format!("/api/pos/v1/invoices/{second}/booked"),
                &key,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "booked");
        assert!(
            b["booked_at"].is_string() && b["closed_at"].is_string(),
            "{b}"
        );
        let (s, b) = act(t, &owner, &second, "booked", json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "booked once: {b}");

        // The list by status, the timeline, the POS's notifications.
        let ids = |v: Vec<Value>| -> Vec<String> {
            v.iter()
                .map(|i| i["number"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            ids(invoices(t, &owner, "?status=booked").await),
            ["INV-00002"]
        );
        assert_eq!(
            ids(invoices(t, &owner, "?status=canceled").await),
            ["INV-00001"]
        );
        assert_eq!(
            ids(invoices(t, &owner, &format!("?ticket_id={ticket}")).await),
            ["INV-00002", "INV-00001"]
        );
        let (s, b) = t.get("/api/v1/invoices?status=unpaid", &owner).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "status");
        assert_eq!(
            timeline(t, &owner, &ticket).await,
            [
                "invoice_created",
                "invoice_sent",
                "invoice_sent",
                "invoice_canceled",
                "invoice_created",
                "vehicle_delivered",
                "invoice_booked"
            ]
        );
        let (_, notes) = t.get("/api/pos/v1/notifications", &key).await;
        let told: Vec<(String, String)> = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "invoice_update")
            .map(|n| {
                (
                    n["data"]["number"].as_str().unwrap().to_owned(),
                    n["data"]["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        // Every move but the POS's own booking.
        assert_eq!(told.len(), 6, "{notes}");
        assert!(
            told.contains(&("INV-00002".into(), "delivered".into())),
            "{told:?}"
        );
        assert!(
            !told.contains(&("INV-00002".into(), "booked".into())),
            "{told:?}"
        );

        // The PDF says what the case says.
        let (s, headers, pdf) = t
            .fetch(&format!("/api/v1/invoices/{second}/pdf"), Some(&owner), &[])
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"INV-00002.pdf\""
        );
        assert!(pdf.starts_with(b"%PDF-1.4"));
        let text = String::from_utf8_lossy(&pdf);
        for needle in ["INV-00002", "Brake pads", "$167.38", "Ana Lopez"] {
            assert!(text.contains(needle), "{needle} in the PDF");
        }
    }
);

both_backends!(
    a_paid_pos_case_closes_at_the_counter,
    async |t: &TestApp| {
        let (_, owner) = t.shop("inv-counter", "premium").await;
        let (_, ticket, _) = approved_and_done(t, &owner, "I-2").await;
        let (_, inv) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &owner,
                json!({}),
            )
            .await;
        let id = inv["id"].as_str().unwrap();
        let (s, b) = act(t, &owner, id, "cancel", json!({"reason": "  "})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "reason");
        let (s, b) = act(t, &owner, id, "cancel", json!({"reason": "x".repeat(501)})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "reason");
        let (s, b) = act(t, &owner, id, "cancel", json!({})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "reason");
        assert_eq!(invoices(t, &owner, "?status=draft").await.len(), 1);
        let (s, b) = act(t, &owner, id, "paid-pos", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "paid_pos");
        assert!(
            b["paid_at"].is_string() && b["closed_at"].is_string(),
            "{b}"
        );
        assert_eq!(b["allowed_actions"], json!([]));
        let (s, b) = act(t, &owner, id, "delivered", json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "status");
    }
);

both_backends!(
    hand_invoices_name_every_bad_field_and_make_nothing,
    async |t: &TestApp| {
        let (_, owner) = t.shop("inv-hand", "premium").await;
        let (_, ticket, customer) = approved_and_done(t, &owner, "I-3").await;
        let (_, other_ticket, _) = {
            let key = t.pos_key(&owner).await;
            let (s, b) = t
                .call(
                    "PUT",
                    "/api/pos/v1/tickets/I-4",
                    Some(&key),
                    Some(json!({
                        "kind": "workorder", "number": "I-4", "pos_updated_at": "2026-11-23T10:00:00Z",
                        "customer": {"external_id": "c-other", "last_name": "Other", "phone": "(512) 555-0177"},
                        "services": [],
                    })),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            (key, b["ticket"]["id"].as_str().unwrap().to_owned(), ())
        };
        let line = json!({"kind": "labor", "description": "Diagnosis", "quantity": 2, "unit_price": 1250, "taxable": true});
        let good = json!({"customer_id": customer, "lines": [line, {"kind": "fee", "description": "Shop fee", "quantity": 1, "unit_price": 300}], "tax_rate": 0.0825});
        let with = |k: &str, v: Value| {
            let mut b = good.clone();
            b[k] = v;
            b
        };
        let with_line = |k: &str, v: Value| {
            let mut l = line.clone();
            l[k] = v;
            with("lines", json!([l]))
        };
        for (body, field) in [
            (with("lines", json!([])), "lines"),
            (
                with("lines", Value::Array(vec![line.clone(); 101])),
                "lines",
            ),
            (with_line("kind", json!("magic")), "lines/0/kind"),
            (with_line("description", json!("  ")), "lines/0/description"),
            (with_line("quantity", json!(0)), "lines/0/quantity"),
            (with_line("quantity", json!("two")), "lines/0/quantity"),
            (
                with_line("unit_price", json!(20_000_000_000i64)),
                "lines/0/unit_price",
            ),
            (with_line("unit_price", json!(-9000)), "lines"),
            (with_line("colour", json!("red")), "lines/0/colour"),
            (with("tax_rate", json!(1.5)), "tax_rate"),
            (
                with("customer_id", json!(uuid::Uuid::now_v7())),
                "customer_id",
            ),
            (with("customer_id", json!("nobody")), "customer_id"),
            (with("ticket_id", json!(other_ticket)), "ticket_id"),
            (with("ticket_id", json!(uuid::Uuid::now_v7())), "ticket_id"),
            (with("discount", json!(5)), "discount"),
            (json!({"lines": []}), "customer_id"),
        ] {
            let (s, b) = t.post("/api/v1/invoices", &owner, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
            let named = b["field"] == field
                || b["errors"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x["field"] == field));
            assert!(named, "{field} named for {body}: {b}");
        }
        assert!(invoices(t, &owner, "").await.is_empty(), "nothing made");

        let (s, inv) = t.post("/api/v1/invoices", &owner, good.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{inv}");
        assert_eq!(inv["ticket_id"], Value::Null);
        assert_eq!(inv["positions"].as_array().unwrap().len(), 2);
        // 2 × 12.50 taxed at 8.25 % (2.0625 → 2.06), plus 3.00 untaxed.
        assert_eq!(inv["subtotal"], 2800);
        assert_eq!(inv["tax"], 206);
        assert_eq!(inv["total"], 3006);
        // Without a ticket there is no page to link to yet.
        let id = inv["id"].as_str().unwrap();
        let (s, b) = act(t, &owner, id, "send", json!({"send": "sms"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "ticket_id");
        // With the customer's ticket it may be sent.
        let (s, on_ticket) = t
            .post("/api/v1/invoices", &owner, with("ticket_id", json!(ticket)))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{on_ticket}");
        assert_eq!(on_ticket["ticket_id"], ticket.as_str());

        // Numbers stay unique when cases are made at the same moment.
        let made = futures::future::join_all(
            (0..6).map(|_| t.post("/api/v1/invoices", &owner, good.clone())),
        )
        .await;
        let mut numbers: Vec<String> = made
            .iter()
            .map(|(s, b)| {
                assert_eq!(*s, StatusCode::CREATED, "{b}");
                b["number"].as_str().unwrap().to_owned()
            })
            .collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 6, "{numbers:?}");
        assert_eq!(invoices(t, &owner, "?limit=3").await.len(), 3);
        let (s, page) = t.get("/api/v1/invoices?limit=5", &owner).await;
        assert_eq!(s, StatusCode::OK);
        let next = page["next_cursor"].as_str().unwrap();
        let (_, rest) = t
            .get(&format!("/api/v1/invoices?limit=5&cursor={next}"), &owner)
            .await;
        assert_eq!(
            rest["items"].as_array().unwrap().len(),
            3,
            "8 in all: {rest}"
        );
    }
);

both_backends!(
    invoices_need_the_plan_and_the_permission,
    async |t: &TestApp| {
        let (_, pro) = t.shop("inv-pro", "pro").await;
        let (s, b) = t.get("/api/v1/invoices", &pro).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["feature"], "online_payments", "{b}");

        let (shop, owner) = t.shop("inv-roles", "premium").await;
        let (_, ticket, _) = approved_and_done(t, &owner, "I-5").await;
        let (_, tech) = t
            .member(shop, "tech@inv-roles.test", Role::Technician)
            .await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "payments.take", "{b}");
        assert!(invoices(t, &owner, "").await.is_empty());
        let (_, inv) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &owner,
                json!({}),
            )
            .await;
        let id = inv["id"].as_str().unwrap();
        // The technician may read it, not move it.
        let (s, _) = t.get(&format!("/api/v1/invoices/{id}"), &tech).await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = act(t, &tech, id, "paid-pos", json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        let (_, again) = t.get(&format!("/api/v1/invoices/{id}"), &owner).await;
        assert_eq!(again["status"], "draft");
    }
);

both_backends!(
    the_ticket_page_makes_and_sends_the_invoice_the_customer_sees,
    async |t: &TestApp| {
        use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
        let (shop, owner) = t.shop("inv-pages", "premium").await;
        let (_, ticket, _) = approved_and_done(t, &owner, "IP-1").await;
        t.member(shop, "adv@inv-pages.test", Role::Advisor).await;
        t.member(shop, "tech@inv-pages.test", Role::Technician)
            .await;
        let c = browser();
        sign_in(t, &c, "adv@inv-pages.test").await;
        let (s, html) = page(t, &c, &format!("/app/tickets/{ticket}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("No invoice yet."), "{html}");
        let csrf = csrf_of(&html);
        let post = |path: String, form: Vec<(&'static str, String)>| {
            let c = c.clone();
            let url = t.url(&path);
            async move { c.post(url).form(&form).send().await.unwrap() }
        };
        let create = format!("/app/tickets/{ticket}/invoices");
        let r = post(create.clone(), vec![]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token, no invoice");
        let r = post(create.clone(), vec![("csrf", csrf.clone())]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, html) = page(t, &c, &format!("/app/tickets/{ticket}?ok=invoice_created")).await;
        assert!(html.contains("Invoice made."), "{html}");
        assert!(html.contains("INV-00001"), "{html}");
        assert!(html.contains("data-status=\"draft\""), "{html}");
        assert!(
            !html.contains("data-testid=\"invoice-create\""),
            "one live case per ticket: {html}"
        );
        let id = invoices(t, &owner, "").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let base = format!("/app/tickets/{ticket}/invoices/{id}");

        // The customer sees nothing of a draft.
        let (_, issued) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                &owner,
                json!({}),
            )
            .await;
        let url = issued["url"].as_str().unwrap();
        let link = &url[url.find("/c/").unwrap()..];
        let customer = browser();
        let (_, view) = page(t, &customer, link).await;
        assert!(!view.contains("data-testid=\"customer-invoice\""), "{view}");

        // Bad input on the page: named, nothing moves.
        let r = post(
            format!("{base}/cancel"),
            vec![("csrf", csrf.clone()), ("reason", "".into())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("is required to cancel"));
        let r = post(format!("{base}/delivered"), vec![("csrf", csrf.clone())]).await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let r = post(format!("{base}/fly"), vec![("csrf", csrf.clone())]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(invoices(t, &owner, "?status=draft").await.len(), 1);

        // Sent by text from the page: the customer's page shows it due.
        let r = post(
            format!("{base}/send"),
            vec![("csrf", csrf.clone()), ("send", "sms".into())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, view) = page(t, &customer, link).await;
        assert!(
            view.contains("data-testid=\"customer-invoice\" data-status=\"sent\""),
            "{view}"
        );
        assert!(view.contains("$167.38"), "{view}");
        assert!(view.contains("data-testid=\"invoice-pay-note\""), "{view}");
        let (_, json_view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{}", &link[3..]),
                None,
                None,
            )
            .await;
        assert_eq!(json_view["invoice"]["number"], "INV-00001", "{json_view}");
        assert_eq!(json_view["invoice"]["total"], 16738);

        // The pickup form wants the customer's signature.
        assert!(html_has_pickup(
            &page(t, &c, &format!("/app/tickets/{ticket}")).await.1
        ));
        let r = post(
            format!("{base}/pickup"),
            vec![
                ("csrf", csrf.clone()),
                ("signer_name", "Ana Lopez".into()),
                ("signature", "".into()),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("sign in the box"));

        // Paid at the counter; the PDF downloads for staff, not for others.
        let r = post(format!("{base}/paid-pos"), vec![("csrf", csrf.clone())]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, view) = page(t, &customer, link).await;
        assert!(view.contains("data-status=\"paid_pos\""), "{view}");
        let r = c
            .get(t.url(&format!("/app/invoices/{id}/pdf")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
        let r = customer
            .get(t.url(&format!("/app/invoices/{id}/pdf")))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::OK, "not signed in");

        // The technician sees the case but no buttons to move it.
        let tc = browser();
        sign_in(t, &tc, "tech@inv-pages.test").await;
        let (_, html) = page(t, &tc, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("INV-00001"), "{html}");
        assert!(!html.contains("data-testid=\"invoice-send\""), "{html}");
        let r = tc
            .post(t.url(&create))
            .form(&[("csrf", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
);

both_backends!(
    an_unpaid_invoice_reminds_the_customer_once,
    async |t: &TestApp| {
        let (_, owner) = t.shop("inv-remind", "premium").await;
        let (_, ticket, customer) = approved_and_done(t, &owner, "IR-1").await;
        const SETTINGS: &str = "/api/v1/invoice-settings";
        let (s, b) = t.get(SETTINGS, &owner).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["reminder_hours"], Value::Null);
        for bad in [
            json!({"reminder_hours": 0}),
            json!({"reminder_hours": 721}),
            json!({"reminder_hours": "soon"}),
            json!({"reminder_hours": 2, "colour": 1}),
        ] {
            let (s, b) = t
                .call("PUT", SETTINGS, Some(&owner), Some(bad.clone()))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
            assert!(
                b["field"] == "reminder_hours" || b["field"] == "colour",
                "{bad}: {b}"
            );
        }
        assert_eq!(
            t.get(SETTINGS, &owner).await.1["reminder_hours"],
            Value::Null
        );
        let (s, b) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&owner),
                Some(json!({"reminder_hours": 24})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["reminder_hours"], 24);

        let (_, inv) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/invoices"),
                &owner,
                json!({}),
            )
            .await;
        let id = inv["id"].as_str().unwrap().to_owned();
        let now = chrono::Utc::now();
        // Not due before its time, nor while a draft.
        let sent = pitwall_core::invoices::send_due_invoice_reminders(
            &t.app,
            now + chrono::Duration::hours(25),
        )
        .await
        .expect("reminders");
        assert_eq!(sent, 0, "a draft is not reminded");
        let (s, b) = act(t, &owner, &id, "send", json!({"send": "sms"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let sent = pitwall_core::invoices::send_due_invoice_reminders(
            &t.app,
            now + chrono::Duration::hours(23),
        )
        .await
        .expect("reminders");
        assert_eq!(sent, 0, "not due yet");
        let sent = pitwall_core::invoices::send_due_invoice_reminders(
            &t.app,
            now + chrono::Duration::hours(25),
        )
        .await
        .expect("reminders");
        assert_eq!(sent, 1);
        let again = pitwall_core::invoices::send_due_invoice_reminders(
            &t.app,
            now + chrono::Duration::hours(50),
        )
        .await
        .expect("reminders");
        assert_eq!(again, 0, "once");
        let (_, thread) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        let invoice_texts: Vec<&Value> = thread["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "invoice")
            .collect();
        assert_eq!(invoice_texts.len(), 2, "sent, then reminded: {thread}");
        assert!(
            invoice_texts
                .iter()
                .all(|m| m["body"].as_str().unwrap().contains("/c/pwc_…")),
            "each carries a link, masked in the chat log: {thread}"
        );
        // A paid invoice is not reminded.
        let (s, _) = act(t, &owner, &id, "paid-pos", json!({})).await;
        assert_eq!(s, StatusCode::OK);
    }
);

both_backends!(pickup_at_the_counter_is_one_step, async |t: &TestApp| {
    let (shop, owner) = t.shop("inv-pickup", "premium").await;
    let (key, ticket, _) = approved_and_done(t, &owner, "PU-1").await;
    let (_, inv) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/invoices"),
            &owner,
            json!({}),
        )
        .await;
    let id = inv["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/invoices/{id}/pickup");
    for (body, field) in [
        (
            json!({"signer_name": "  ", "signature": "M 1 1 L 5 5"}),
            "signer_name",
        ),
        (
            json!({"signer_name": "Ana Lopez", "signature": ""}),
            "signature",
        ),
        (
            json!({"signer_name": "Ana Lopez", "signature": "<svg onload=x>"}),
            "signature",
        ),
        (json!({"signer_name": "Ana Lopez"}), "signature"),
    ] {
        let (s, b) = t.post(&path, &owner, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(b["field"], field, "{body}: {b}");
    }
    assert_eq!(
        invoices(t, &owner, "?status=draft").await.len(),
        1,
        "nothing moved"
    );
    // Unpaid: paid at the counter and handed over, closed.
    let (s, b) = t
        .post(
            &path,
            &owner,
            json!({"signer_name": "Ana Lopez", "signature": "M 1 1 L 5 5"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "paid_pos");
    assert_eq!(b["picked_up_by"], "Ana Lopez");
    assert!(b["picked_up_at"].is_string());
    let (s, b) = t
        .post(
            &path,
            &owner,
            json!({"signer_name": "Ana Lopez", "signature": "M 1 1 L 5 5"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "once: {b}");
    assert_eq!(b["field"], "status");

    // Paid online: handed over, delivered, then booked by the POS.
    let (_, hand) = t
            .post(
                "/api/v1/invoices",
                &owner,
                json!({"customer_id": inv["customer_id"],
                       "lines": [{"kind": "fee", "description": "Storage", "quantity": 1, "unit_price": 2000}]}),
            )
            .await;
    // The ticket's closed case still counts: no second bill for its work.
    let (s, b) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/invoices"),
            &owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let hand = hand["id"].as_str().unwrap().to_owned();
    paid_online(t, shop, &hand).await;
    let (s, b) = t
        .post(
            &format!("/api/v1/invoices/{hand}/pickup"),
            &owner,
            json!({"signer_name": "Ana Lopez", "signature": "M 1 1 L 5 5"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "delivered");
    let (s, b) = t
        .post(
            &format!("/api/pos/v1/invoices/{hand}/booked"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, timeline) = t
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
        .await;
    let pickups = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["data"]["pickup"] == true
                || e["data"]
                    .as_str()
                    .is_some_and(|d| d.contains("\"pickup\":true"))
        })
        .count();
    assert_eq!(
        pickups, 1,
        "the ticket's pickup (the other case has no ticket): {timeline}"
    );
});

fn html_has_pickup(html: &str) -> bool {
    html.contains("data-testid=\"pickup-form\"")
}

/// The e-mail of a sent invoice carries its PDF (the development outbox
/// keeps the message as it would go out); a text carries none.
async fn the_invoice_email_carries_its_pdf(backend: pitwall_testkit::Backend) {
    use base64::Engine as _;
    let Some(t) = TestApp::spawn_with(
        backend,
        pitwall_testkit::Options {
            workers: true,
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let (shop, owner) = t.shop("inv-mail", "premium").await;
    let (_, ticket, _) = approved_and_done(&t, &owner, "I-M").await;
    let (s, inv) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/invoices"),
            &owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let id = inv["id"].as_str().unwrap().to_owned();
    let (s, sent) = act(&t, &owner, &id, "send", json!({"send": "email"})).await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    let message = sent["message_id"].as_str().unwrap().to_owned();
    let eml = t.dir.join("outbox").join(format!("{message}.eml"));
    let mut text = String::new();
    for _ in 0..200 {
        if let Ok(found) = std::fs::read_to_string(&eml) {
            text = found;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !text.is_empty(),
        "the e-mail was not sent: {}",
        eml.display()
    );
    assert!(text.contains("multipart/mixed"), "{text}");
    assert!(text.contains("Content-Type: application/pdf"), "{text}");
    assert!(text.contains("filename=\"INV-00001.pdf\""), "{text}");
    // The attachment is the invoice's PDF, byte for byte.
    let part = text
        .split("filename=\"INV-00001.pdf\"")
        .nth(1)
        .unwrap()
        .split("\r\n\r\n")
        .nth(1)
        .unwrap()
        .split("\r\n--")
        .next()
        .unwrap()
        .replace("\r\n", "");
    let attached = base64::engine::general_purpose::STANDARD
        .decode(part.trim())
        .expect("base64");
    let (s, _, pdf) = t
        .fetch(&format!("/api/v1/invoices/{id}/pdf"), Some(&owner), &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(attached, pdf, "the PDF sent is the invoice's");
    // A text has no attachment.
    let (s, texted) = act(&t, &owner, &id, "send", json!({"send": "sms"})).await;
    assert_eq!(s, StatusCode::OK, "{texted}");
    let sms_id: pitwall_core::domain::MessageId =
        texted["message_id"].as_str().unwrap().parse().unwrap();
    let files = pitwall_store::messages::attachments(&t.db, shop, sms_id)
        .await
        .unwrap();
    assert!(files.is_empty());
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_email_carries_its_pdf_sqlite() {
    the_invoice_email_carries_its_pdf(pitwall_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_email_carries_its_pdf_postgres() {
    the_invoice_email_carries_its_pdf(pitwall_testkit::Backend::Postgres).await;
}
