//! The document tells the truth: one walk calls every operation of the
//! published OpenAPI document with real data on both databases. Every
//! answer read through the test kit is checked against the committed
//! document (status declared, body matching its schema, nulls only where
//! declared nullable, no undeclared field: `pitwall_testkit::openapi`); this
//! walk makes sure that covers every operation, so a new endpoint fails
//! here until the walk calls it.

use std::collections::{BTreeMap, BTreeSet};

use pitwall_core::domain::{PlatformRole, Role};
use pitwall_testkit::{PASSWORD, StatusCode, TestApp, both_backends, openapi};
use serde_json::{Value, json};

/// Operations the walk can only reach with a refusal, and why. Their
/// success bodies are checked by the tests that set up what they need
/// (identity.rs, billing.rs, messaging.rs, operations.rs), through the same
/// test kit; here their error envelopes are.
const REFUSED_HERE: &[(&str, &str)] = &[
    (
        "accept_invitation",
        "the token only exists in the invitation e-mail",
    ),
    (
        "confirm_password_reset",
        "the token only exists in the reset e-mail",
    ),
    (
        "create_checkout_session",
        "needs Stripe (a fake one in billing.rs)",
    ),
    (
        "create_portal_session",
        "needs a Stripe customer (billing.rs)",
    ),
    ("admin_retry_job", "needs a dead job (operations.rs)"),
    ("resend_message", "needs a failed message (messaging.rs)"),
    (
        "create_payment_onboarding_link",
        "needs Stripe Connect (a fake one in payments.rs)",
    ),
    (
        "pay_customer_link",
        "needs Stripe Connect and a sent invoice (payments.rs)",
    ),
];

/// Calls one operation, expects `want` (a refusal for the operations in
/// `REFUSED_HERE`), and records which operation answered.
struct Walk<'a> {
    t: &'a TestApp,
    seen: BTreeMap<String, u16>,
}

impl Walk<'_> {
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        want: StatusCode,
    ) -> Value {
        let (status, answer) = self.t.call(method, path, token, body).await;
        assert_eq!(status, want, "{method} {path}: {answer}");
        self.record(method, path, status);
        answer
    }

    fn record(&mut self, method: &str, path: &str, status: StatusCode) {
        let op = openapi::committed()
            .operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not in the document"));
        self.seen
            .entry(op.id.clone())
            .and_modify(|s| *s = (*s).min(status.as_u16()))
            .or_insert(status.as_u16());
    }

    /// A photo as the form field `file`.
    async fn upload(&mut self, path: &str, token: &str, want: StatusCode) -> Value {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
            .encode_image(&img)
            .expect("a JPEG");
        let (status, answer) = self
            .t
            .upload(path, token, "photo.jpg", "image/jpeg", jpeg)
            .await;
        assert_eq!(status, want, "POST {path}: {answer}");
        self.record("POST", path, status);
        answer
    }

    /// A GET whose answer is bytes.
    async fn fetch(&mut self, path: &str, token: &str, want: StatusCode) -> Vec<u8> {
        let (status, _, body) = self.t.fetch(path, Some(token), &[]).await;
        assert_eq!(status, want, "GET {path}");
        self.record("GET", path, status);
        body
    }

    async fn get(&mut self, path: &str, token: &str) -> Value {
        self.call("GET", path, Some(token), None, StatusCode::OK)
            .await
    }

    async fn send(&mut self, method: &str, path: &str, token: &str, body: Value) -> Value {
        self.call(method, path, Some(token), Some(body), StatusCode::OK)
            .await
    }
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

both_backends!(
    every_operation_answers_as_documented,
    async |t: &TestApp| {
        let mut w = Walk {
            t,
            seen: BTreeMap::new(),
        };
        let (shop, _) = t.shop("walk", "premium").await;
        let owner = w
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "owner@walk.test", "password": PASSWORD})),
                StatusCode::OK,
            )
            .await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let owner = owner.as_str();
        let (member, _) = t.member(shop, "adv@walk.test", Role::Advisor).await;
        let admin = t
            .platform("admin@walk-platform.test", PlatformRole::PlatformAdmin)
            .await;
        let admin = admin.as_str();

        // Me, users, roles, shop.
        w.get("/api/v1/me", owner).await;
        w.send(
            "POST",
            "/api/v1/me/shop",
            owner,
            json!({"shop_id": shop.to_string()}),
        )
        .await;
        w.get("/api/v1/users?limit=1", owner).await;
        w.get(&format!("/api/v1/users/{member}"), owner).await;
        w.send(
            "PATCH",
            &format!("/api/v1/users/{member}"),
            owner,
            json!({"role": "technician"}),
        )
        .await;
        w.get("/api/v1/roles", owner).await;
        w.send(
            "PUT",
            "/api/v1/roles/viewer",
            owner,
            json!({"permissions": ["dashboard.view", "tickets.view"]}),
        )
        .await;
        w.get("/api/v1/shop", owner).await;
        w.send(
        "PUT",
        "/api/v1/shop",
        owner,
        json!({"name": "Walk Garage", "time_zone": "America/Chicago", "phone": "(512) 555-0100"}),
    )
    .await;

        // Invitations and API keys.
        let inv = w
            .send(
                "POST",
                "/api/v1/invitations",
                owner,
                json!({"email": "new@walk.test", "role": "viewer"}),
            )
            .await;
        w.get("/api/v1/invitations?limit=5", owner).await;
        w.call(
            "DELETE",
            &format!("/api/v1/invitations/{}", id(&inv)),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"token": "pwi_not-a-real-token", "name": "X", "password": PASSWORD})),
            StatusCode::NOT_FOUND,
        )
        .await;
        let key = w
            .send(
                "POST",
                "/api/v1/api-keys",
                owner,
                json!({"name": "Counter"}),
            )
            .await;
        let pos = key["secret"].as_str().unwrap().to_owned();
        let pos = pos.as_str();
        let spare = w
            .send("POST", "/api/v1/api-keys", owner, json!({"name": "Spare"}))
            .await;
        w.get("/api/v1/api-keys", owner).await;
        w.call(
            "DELETE",
            &format!("/api/v1/api-keys/{}", id(&spare["key"])),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;

        // The POS side.
        w.get("/api/pos/v1/whoami", pos).await;
        w.send(
        "PUT",
        "/api/pos/v1/customers/C-1",
        pos,
        json!({"first_name": "Dana", "last_name": "Reyes", "phone": "(512) 555-0123", "email": "dana@example.com"}),
    )
    .await;
        w.send(
            "PUT",
            "/api/pos/v1/vehicles/V-1",
            pos,
            json!({"make": "Honda", "model": "Civic", "year": 2019, "customer_external_id": "C-1"}),
        )
        .await;
        let ticket_body = |number: &str, at: &str| {
            json!({
                "kind": "workorder", "number": number, "pos_updated_at": at, "tax_rate": 0.0825,
                "customer": {"external_id": "C-1", "last_name": "Reyes", "phone": "(512) 555-0123"},
                "vehicle": {"external_id": "V-1", "make": "Honda", "model": "Civic"},
                "services": [
                    {"external_id": "S-1", "title": "Brakes", "status": "recommended", "line_items": [
                        {"kind": "labor", "description": "Pads", "quantity": 1.5, "unit_price": 12000, "taxable": false}]},
                    {"external_id": "S-2", "title": "Wipers", "status": "recommended", "line_items": [
                        {"kind": "part", "description": "Blades", "quantity": 1.0, "unit_price": 2500, "taxable": true}]},
                ],
            })
        };
        let pushed = w
            .call(
                "PUT",
                "/api/pos/v1/tickets/RO-1",
                Some(pos),
                Some(ticket_body("1001", "2026-01-01T00:00:00Z")),
                StatusCode::CREATED,
            )
            .await;
        let ticket = id(&pushed["ticket"]);
        let customer = id(&pushed["ticket"]["customer"]);
        // An older push is refused with the envelope.
        w.call(
            "PUT",
            "/api/pos/v1/tickets/RO-1",
            Some(pos),
            Some(ticket_body("1001", "2025-01-01T00:00:00Z")),
            StatusCode::CONFLICT,
        )
        .await;
        w.get("/api/pos/v1/tickets/RO-1", pos).await;
        let mut batch = Vec::new();
        for n in 2..=4 {
            let mut b = ticket_body(&format!("100{n}"), "2026-01-01T00:00:00Z");
            b["external_id"] = json!(format!("RO-{n}"));
            batch.push(b);
        }
        // One bad ticket in the batch: its result carries the envelope.
        batch.push(json!({"external_id": "RO-bad", "kind": "nonsense", "number": "X", "pos_updated_at": "2026-01-01T00:00:00Z"}));
        let results = w
            .send(
                "POST",
                "/api/pos/v1/tickets/batch",
                pos,
                json!({"tickets": batch}),
            )
            .await;
        let other_ticket = id(&results["results"][0]["ticket"]);
        w.send(
            "POST",
            "/api/pos/v1/tickets/RO-1/comments",
            pos,
            json!({"external_id": "N-1", "author": "Front desk", "body": "Customer waits"}),
        )
        .await;
        w.get("/api/pos/v1/tickets/RO-1/comments?limit=10", pos)
            .await;

        // Tickets, paged to the last page (whose next_cursor is null).
        let mut path = "/api/v1/tickets?limit=2".to_owned();
        let mut pages = 0;
        loop {
            let page = w.get(&path, owner).await;
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/tickets?limit=2&cursor={c}"),
                None => {
                    assert!(page.get("next_cursor").is_some(), "{page}");
                    break;
                }
            }
        }
        assert!(pages >= 2, "4 tickets in pages of 2");
        w.get(&format!("/api/v1/tickets/{ticket}"), owner).await;
        let statuses = w.get("/api/v1/vehicle-statuses", owner).await;
        let texting = statuses["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["notify_customer"] == true)
            .unwrap_or(&statuses["items"][0])
            .clone();
        w.send(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/status"),
            owner,
            json!({"status_id": id(&texting)}),
        )
        .await;
        w.send(
            "POST",
            &format!("/api/v1/tickets/{ticket}/comments"),
            owner,
            json!({"body": "Pads ordered"}),
        )
        .await;
        w.send(
        "PUT",
        &format!("/api/v1/tickets/{ticket}/assignment"),
        owner,
        json!({"advisor_id": member.to_string(), "priority": 2, "promised_at": "2026-02-01T17:00:00Z"}),
    )
    .await;
        w.get(
            &format!("/api/v1/tickets/{ticket}/timeline?limit=50"),
            owner,
        )
        .await;
        w.get("/api/v1/dashboard", owner).await;
        w.get("/api/v1/me/work", owner).await;
        w.get("/api/v1/sync-health", owner).await;
        w.get(&format!("/api/v1/events?ticket_id={ticket}"), owner)
            .await;

        // The staff comment is a notification for the POS.
        let notes = w.get("/api/pos/v1/notifications?limit=10", pos).await;
        let note = id(&notes["items"][0]);
        w.call(
            "POST",
            &format!("/api/pos/v1/notifications/{note}/processed"),
            Some(pos),
            None,
            StatusCode::OK,
        )
        .await;

        // Vehicle statuses.
        let made = w
        .call(
            "POST",
            "/api/v1/vehicle-statuses",
            Some(owner),
            Some(json!({"label": "Road test", "color": "#1e88e5", "notify_customer": false, "timer_mode": "count_up"})),
            StatusCode::CREATED,
        )
        .await;
        w.send(
        "PUT",
        &format!("/api/v1/vehicle-statuses/{}", id(&made)),
        owner,
        json!({"label": "Road test", "color": "#1e88e5", "notify_customer": false, "timer_mode": "open"}),
    )
    .await;
        w.call(
            "DELETE",
            &format!("/api/v1/vehicle-statuses/{}", id(&made)),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.get("/api/v1/vehicle-statuses?include_retired=true", owner)
            .await;

        // Customers.
        w.get("/api/v1/customers?limit=5", owner).await;
        let dup = w
            .call(
                "POST",
                "/api/v1/customers",
                Some(owner),
                Some(
                    json!({"first_name": "Dana", "last_name": "R.", "email": "dana.r@example.com"}),
                ),
                StatusCode::CREATED,
            )
            .await;
        let dup = id(&dup["customer"]);
        w.get(&format!("/api/v1/customers/{customer}"), owner).await;
        w.send(
            "POST",
            &format!("/api/v1/customers/{customer}/merge"),
            owner,
            json!({"duplicate_id": dup}),
        )
        .await;

        // Messaging.
        w.get("/api/v1/threads?filter=all", owner).await;
        let sent = w
            .call(
                "POST",
                &format!("/api/v1/threads/{customer}/messages"),
                Some(owner),
                Some(json!({"channel": "sms", "body": "Your car is ready", "ticket_id": ticket})),
                StatusCode::CREATED,
            )
            .await;
        w.call(
            "POST",
            &format!("/api/v1/messages/{}/resend", id(&sent)),
            Some(owner),
            None,
            StatusCode::CONFLICT,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/reminders"),
            Some(owner),
            Some(json!({"channel": "sms"})),
            StatusCode::CREATED,
        )
        .await;
        w.get(&format!("/api/v1/threads/{customer}"), owner).await;
        w.call(
            "POST",
            &format!("/api/v1/threads/{customer}/read"),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.send(
            "PUT",
            &format!("/api/v1/threads/{customer}/assignment"),
            owner,
            json!({"user_id": member.to_string()}),
        )
        .await;
        w.send(
            "PUT",
            &format!("/api/v1/threads/{customer}/done"),
            owner,
            json!({"done": true}),
        )
        .await;
        w.get("/api/v1/message-templates", owner).await;
        w.send(
            "PUT",
            "/api/v1/message-templates/reminder",
            owner,
            json!({"body": "Your car is ready for pick-up."}),
        )
        .await;
        w.send(
            "POST",
            "/api/v1/message-templates/preview",
            owner,
            json!({"body": "Your car is ready for pick-up."}),
        )
        .await;
        w.get("/api/v1/messaging-settings", owner).await;
        w.send(
        "PUT",
        "/api/v1/messaging-settings",
        owner,
        json!({"quiet_hours_start": "21:00", "quiet_hours_end": "07:00", "require_sms_consent": false}),
    )
    .await;
        w.send(
            "POST",
            &format!("/api/v1/customers/{customer}/consent"),
            owner,
            json!({"detail": "asked at the counter"}),
        )
        .await;
        w.get("/api/v1/usage", owner).await;

        // The customer's link, the customer's side, approvals.
        let link = w
            .call(
                "POST",
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                Some(owner),
                Some(json!({})),
                StatusCode::CREATED,
            )
            .await;
        let token = link["url"]
            .as_str()
            .unwrap()
            .rsplit("/c/")
            .next()
            .unwrap()
            .to_owned();
        w.get(&format!("/api/v1/tickets/{ticket}/customer-links"), owner)
            .await;
        w.get(&format!("/api/v1/tickets/{ticket}/customer-view"), owner)
            .await;
        let view = w
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
                StatusCode::OK,
            )
            .await;
        w.call(
            "POST",
            &format!("/api/customer/v1/links/{token}/payments"),
            None,
            None,
            StatusCode::CONFLICT,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/customer/v1/links/{token}/messages"),
            None,
            Some(json!({"body": "Is the loaner free?"})),
            StatusCode::OK,
        )
        .await;
        let decision = json!({
            "approved_service_ids": [view["services"][0]["id"]],
            "declined_service_ids": [view["services"][1]["id"]],
            "signer_name": "Dana Reyes", "signature": "M 10 10 L 20 20",
            "ticket_version": view["ticket_version"],
        });
        let approved = w
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/approval"),
                None,
                Some(decision.clone()),
                StatusCode::CREATED,
            )
            .await;
        // The same decision again answers the first record.
        w.call(
            "POST",
            &format!("/api/customer/v1/links/{token}/approval"),
            None,
            Some(decision),
            StatusCode::OK,
        )
        .await;
        w.get(&format!("/api/v1/tickets/{ticket}/approvals"), owner)
            .await;
        w.get(
            &format!("/api/v1/approvals/{}", id(&approved["approval"])),
            owner,
        )
        .await;
        w.get(
            &format!("/api/v1/tickets/{ticket}/approvals/verification"),
            owner,
        )
        .await;
        let other = w
            .get(&format!("/api/v1/tickets/{other_ticket}"), owner)
            .await;
        w.send(
            "POST",
            &format!("/api/v1/tickets/{other_ticket}/approvals"),
            owner,
            json!({"method": "phone", "approved_service_ids": [other["ticket"]["services"][0]["id"]],
               "declined_service_ids": [other["ticket"]["services"][1]["id"]], "note": "called at 9:40"}),
        )
        .await;
        w.call(
            "POST",
            &format!(
                "/api/v1/tickets/{ticket}/customer-links/{}/revoke",
                id(&link)
            ),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        // A revoked link is gone: the envelope with 410.
        w.call(
            "GET",
            &format!("/api/customer/v1/links/{token}"),
            None,
            None,
            StatusCode::GONE,
        )
        .await;
        w.send(
            "PUT",
            "/api/v1/customer-page-settings",
            owner,
            json!({"link_ttl_hours": 72, "locale": "en"}),
        )
        .await;
        w.send(
            "POST",
            &format!("/api/v1/customers/{customer}/opt-out"),
            owner,
            json!({"channel": "sms"}),
        )
        .await;

        // Outgoing webhooks (the test kit allows loopback addresses).
        let hook = w
            .call(
                "POST",
                "/api/v1/webhooks",
                Some(owner),
                Some(json!({"url": "http://127.0.0.1:9/hook"})),
                StatusCode::CREATED,
            )
            .await;
        w.call(
            "POST",
            &format!("/api/v1/webhooks/{}/test", id(&hook)),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.get("/api/v1/webhooks", owner).await;
        w.call(
            "DELETE",
            &format!("/api/v1/webhooks/{}", id(&hook)),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;

        // Billing without Stripe configured: the envelope names `billing`.
        w.get("/api/v1/billing", owner).await;
        w.call(
            "POST",
            "/api/v1/billing/checkout-sessions",
            Some(owner),
            Some(json!({"plan": "pro", "interval": "monthly"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        w.call(
            "POST",
            "/api/v1/billing/portal-sessions",
            Some(owner),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

        // Inspection sheets.
        let sheets = w.get("/api/v1/inspection-templates", owner).await;
        let sheet_id = id(&sheets["items"][0]);
        let sheet = w
            .get(&format!("/api/v1/inspection-templates/{sheet_id}"), owner)
            .await;
        let file = w
            .get(
                &format!("/api/v1/inspection-templates/{sheet_id}/export?format=json"),
                owner,
            )
            .await;
        let imported = w
            .call(
                "POST",
                "/api/v1/inspection-templates/import",
                Some(owner),
                Some(json!({"format": "json", "content": file.to_string(), "name": null})),
                StatusCode::CREATED,
            )
            .await;
        let made = w
            .call(
                "POST",
                "/api/v1/inspection-templates",
                Some(owner),
                Some(json!({"name": "Walk sheet", "sections": sheet["sections"]})),
                StatusCode::CREATED,
            )
            .await;
        w.send(
            "PUT",
            &format!("/api/v1/inspection-templates/{}", id(&made)),
            owner,
            json!({"name": "Walk sheet 2", "sections": imported["sections"]}),
        )
        .await;
        w.call(
            "DELETE",
            &format!("/api/v1/inspection-templates/{}", id(&made)),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;

        // Inspection settings: read, choose a status, a bad one.
        w.get("/api/v1/inspection-settings", owner).await;
        let statuses = w.get("/api/v1/vehicle-statuses", owner).await;
        w.send(
            "PUT",
            "/api/v1/inspection-settings",
            owner,
            json!({"status_on_publish": id(&statuses["items"][0])}),
        )
        .await;
        w.call(
            "PUT",
            "/api/v1/inspection-settings",
            Some(owner),
            Some(json!({"status_on_publish": "00000000-0000-7000-8000-000000000000"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        w.send(
            "PUT",
            "/api/v1/inspection-settings",
            owner,
            json!({"status_on_publish": null}),
        )
        .await;

        // Inspecting: start, rate, a service, submit (refused, then not),
        // return, publish.
        let quick = w
            .call(
                "POST",
                "/api/v1/inspection-templates",
                Some(owner),
                Some(json!({"name": "Walk quick", "sections": [{"name": "All", "items": [
                    {"key": "oil", "label": "Oil", "kind": "condition", "photo": "never",
                     "service": {"title": "Oil change", "line_items": [{"kind": "labor", "description": "Change", "quantity": 1, "unit_price": 5000, "taxable": true}]}},
                    {"key": "tread", "label": "Tread", "kind": "tire", "photo": "on_attention"}]}]})),
                StatusCode::CREATED,
            )
            .await;
        let insp = w
            .call(
                "POST",
                &format!("/api/v1/tickets/{ticket}/inspections"),
                Some(owner),
                Some(json!({"template_id": id(&quick)})),
                StatusCode::CREATED,
            )
            .await;
        let insp = id(&insp);
        w.get(&format!("/api/v1/tickets/{ticket}/inspections"), owner)
            .await;
        w.get(&format!("/api/v1/inspections/{insp}"), owner).await;
        w.send(
            "PUT",
            &format!("/api/v1/inspections/{insp}/findings/oil"),
            owner,
            json!({"condition": "needs_attention", "measurement": null, "note": "seep", "customer_note": "Low"}),
        )
        .await;
        w.send(
            "PUT",
            &format!("/api/v1/inspections/{insp}/findings/tread"),
            owner,
            json!({"condition": "urgent", "measurement": {"lf": 2}}),
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/inspections/{insp}/submit"),
            Some(owner),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let photo = w
            .upload(
                &format!("/api/v1/inspections/{insp}/findings/tread/media"),
                owner,
                StatusCode::CREATED,
            )
            .await;
        let photo = id(&photo);
        assert!(
            !w.fetch(&format!("/api/v1/media/{photo}"), owner, StatusCode::OK)
                .await
                .is_empty()
        );
        w.call(
            "DELETE",
            &format!("/api/v1/media/{photo}"),
            Some(owner),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
        w.send(
            "PUT",
            &format!("/api/v1/inspections/{insp}/findings/tread"),
            owner,
            json!({"condition": "good", "measurement": {"lf": 7}}),
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/inspections/{insp}/findings/oil/service"),
            Some(owner),
            Some(json!({})),
            StatusCode::CREATED,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/inspections/{insp}/submit"),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.send(
            "POST",
            &format!("/api/v1/inspections/{insp}/return"),
            owner,
            json!({"reason": "Look again"}),
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/inspections/{insp}/submit"),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.send(
            "POST",
            &format!("/api/v1/inspections/{insp}/publish"),
            owner,
            json!({"send": null}),
        )
        .await;

        // The repair-order workflow: the inspection moved the stage by
        // itself; a forbidden move, a bad one, an allowed one; settings.
        let moves = w
            .get(&format!("/api/v1/tickets/{ticket}/stage-history"), owner)
            .await;
        let last = moves["items"].as_array().and_then(|m| m.last()).cloned();
        assert_eq!(
            last.map(|m| m["to"].clone()),
            Some(json!("awaiting_approval")),
            "{moves}"
        );
        w.call(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/stage"),
            Some(owner),
            Some(json!({"stage": "completed"})),
            StatusCode::CONFLICT,
        )
        .await;
        w.call(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/stage"),
            Some(owner),
            Some(json!({"stage": "done"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        w.send(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/stage"),
            owner,
            json!({"stage": "in_work", "reason": null, "ticket_version": null}),
        )
        .await;
        // Positions: added, priced by parts, done.
        let added = w
            .call(
                "POST",
                &format!("/api/v1/tickets/{ticket}/services"),
                Some(owner),
                Some(json!({"title": "Walk rotors", "customer_note": null, "parts_needed": true,
                            "line_items": [{"kind": "labor", "description": "Fit", "quantity": 1,
                                            "unit_price": 5000, "taxable": true, "part_number": null}]})),
                StatusCode::CREATED,
            )
            .await;
        let added = added["service_id"].as_str().unwrap().to_owned();
        w.send(
            "PATCH",
            &format!("/api/v1/tickets/{ticket}/services/{added}"),
            owner,
            json!({"part_lines": [{"kind": "part", "description": "Rotor", "quantity": 2,
                                   "unit_price": 4000, "taxable": true, "part_number": "R-1"}],
                   "parts_status": "ordered", "internal_note": "Supplier B"}),
        )
        .await;
        w.call(
            "PATCH",
            &format!("/api/v1/tickets/{ticket}/services/{added}"),
            Some(owner),
            Some(json!({"parts_status": "lost"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/extensions"),
            Some(owner),
            Some(json!({"service_ids": [added], "send": null})),
            StatusCode::CREATED,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/extensions"),
            Some(owner),
            Some(json!({"service_ids": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        w.get("/api/v1/me/work?queue=parts", owner).await;
        let now = w.get(&format!("/api/v1/tickets/{ticket}"), owner).await;
        let approved = now["ticket"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["status"] == "approved" && s["done_at"].is_null())
            .map(id)
            .expect("the walk's approval left an approved position");
        w.send(
            "POST",
            &format!("/api/v1/tickets/{ticket}/services/{approved}/done"),
            owner,
            json!({}),
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/services/{approved}/done"),
            Some(owner),
            Some(json!({})),
            StatusCode::CONFLICT,
        )
        .await;
        // Invoice cases: from the done work, sent, canceled, made again,
        // paid at the counter; by hand; the PDF; the POS's booking.
        let invoice = w
            .call(
                "POST",
                &format!("/api/v1/tickets/{ticket}/invoices"),
                Some(owner),
                None,
                StatusCode::CREATED,
            )
            .await;
        let invoice = id(&invoice);
        w.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/invoices"),
            Some(owner),
            None,
            StatusCode::CONFLICT,
        )
        .await;
        w.get("/api/v1/invoices?status=draft&limit=5", owner).await;
        w.get(&format!("/api/v1/invoices/{invoice}"), owner).await;
        let pdf = w
            .fetch(
                &format!("/api/v1/invoices/{invoice}/pdf"),
                owner,
                StatusCode::OK,
            )
            .await;
        assert!(pdf.starts_with(b"%PDF"));
        w.send(
            "POST",
            &format!("/api/v1/invoices/{invoice}/send"),
            owner,
            json!({"send": "email"}),
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/invoices/{invoice}/delivered"),
            Some(owner),
            Some(json!({})),
            StatusCode::CONFLICT,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/v1/invoices/{invoice}/booked"),
            Some(owner),
            Some(json!({})),
            StatusCode::CONFLICT,
        )
        .await;
        w.call(
            "POST",
            &format!("/api/pos/v1/invoices/{invoice}/booked"),
            Some(pos),
            None,
            StatusCode::CONFLICT,
        )
        .await;
        w.send(
            "POST",
            &format!("/api/v1/invoices/{invoice}/cancel"),
            owner,
            json!({"reason": "Wrong customer"}),
        )
        .await;
        let again = w
            .call(
                "POST",
                &format!("/api/v1/tickets/{ticket}/invoices"),
                Some(owner),
                None,
                StatusCode::CREATED,
            )
            .await;
        w.send(
            "POST",
            &format!("/api/v1/invoices/{}/paid-pos", id(&again)),
            owner,
            json!({}),
        )
        .await;
        // Two cases by hand, paid (online payments move them there; the
        // walk writes it), handed over, booked by staff and by the POS.
        for booker in [owner, pos] {
            let hand = w
                .call(
                    "POST",
                    "/api/v1/invoices",
                    Some(owner),
                    Some(
                        json!({"customer_id": customer, "ticket_id": null, "tax_rate": 0.05,
                                "lines": [{"kind": "fee", "description": "Towing", "quantity": 1,
                                           "unit_price": 9000, "taxable": true}]}),
                    ),
                    StatusCode::CREATED,
                )
                .await;
            let hand = id(&hand);
            let paid = pitwall_store::invoices::move_status(
                &t.db,
                shop,
                hand.parse().expect("an invoice id"),
                pitwall_store::invoices::InvoiceMove {
                    from: pitwall_core::domain::invoices::InvoiceStatus::Draft,
                    to: pitwall_core::domain::invoices::InvoiceStatus::Paid,
                    at: chrono::Utc::now(),
                    cancel_reason: None,
                },
            )
            .await
            .expect("paid");
            assert!(paid.is_some());
            w.send(
                "POST",
                &format!("/api/v1/invoices/{hand}/delivered"),
                owner,
                json!({}),
            )
            .await;
            let path = if booker == pos {
                format!("/api/pos/v1/invoices/{hand}/booked")
            } else {
                format!("/api/v1/invoices/{hand}/booked")
            };
            w.call("POST", &path, Some(booker), None, StatusCode::OK)
                .await;
        }
        w.call(
            "POST",
            "/api/v1/invoices",
            Some(owner),
            Some(json!({"customer_id": customer, "lines": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let counter = w
            .call(
                "POST",
                "/api/v1/invoices",
                Some(owner),
                Some(
                    json!({"customer_id": customer, "ticket_id": null, "tax_rate": null,
                            "lines": [{"kind": "labor", "description": "Jump start", "quantity": 1,
                                       "unit_price": 4000, "taxable": false}]}),
                ),
                StatusCode::CREATED,
            )
            .await;
        w.call(
            "POST",
            &format!("/api/v1/invoices/{}/pickup", id(&counter)),
            Some(owner),
            Some(json!({"signer_name": "Dana Reyes", "signature": ""})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        w.send(
            "POST",
            &format!("/api/v1/invoices/{}/pickup", id(&counter)),
            owner,
            json!({"signer_name": "Dana Reyes", "signature": "M 10 10 L 20 20"}),
        )
        .await;
        // An invoice to read: kept, listed, shown (read or not: the test
        // kit runs no workers here).
        let upload = w
            .upload("/api/v1/invoice-uploads", owner, StatusCode::CREATED)
            .await;
        assert!(
            ["queued", "unavailable"].contains(&upload["ocr_status"].as_str().unwrap_or("")),
            "{upload}"
        );
        w.get("/api/v1/invoice-uploads?limit=5", owner).await;
        w.get(&format!("/api/v1/invoice-uploads/{}", id(&upload)), owner)
            .await;
        w.get("/api/v1/invoice-settings", owner).await;
        w.send(
            "PUT",
            "/api/v1/invoice-settings",
            owner,
            json!({"reminder_hours": 48}),
        )
        .await;
        w.call(
            "PUT",
            "/api/v1/invoice-settings",
            Some(owner),
            Some(json!({"reminder_hours": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        // Online payments are off on this Pitwall: the account says so,
        // onboarding and paying are refused naming `payments`.
        let account = w.get("/api/v1/payment-account", owner).await;
        assert_eq!(account["mode"], "off");
        w.call(
            "POST",
            "/api/v1/payment-account/onboarding-links",
            Some(owner),
            None,
            StatusCode::CONFLICT,
        )
        .await;
        w.get("/api/v1/workflow-settings", owner).await;
        w.send(
            "PUT",
            "/api/v1/workflow-settings",
            owner,
            json!({"qualification_minutes": 30, "parts_minutes": null,
                   "approval_reminder_minutes": 240,
                   "stage_statuses": {"in_work": id(&statuses["items"][0])}}),
        )
        .await;
        w.call(
            "PUT",
            "/api/v1/workflow-settings",
            Some(owner),
            Some(json!({"qualification_minutes": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

        // The admin API.
        w.get("/api/admin/v1/shops?limit=5", admin).await;
        let created = w
        .send(
            "POST",
            "/api/admin/v1/shops",
            admin,
            json!({"name": "Second", "slug": "walk-second", "plan": "starter", "owner_email": "o@walk-second.test"}),
        )
        .await;
        let second = id(&created["shop"]);
        w.get(&format!("/api/admin/v1/shops/{second}"), admin).await;
        w.get(&format!("/api/admin/v1/shops/{shop}/sync-health"), admin)
            .await;
        w.get(&format!("/api/admin/v1/shops/{shop}/roles"), admin)
            .await;
        w.send(
            "PUT",
            &format!("/api/admin/v1/shops/{second}/plan"),
            admin,
            json!({"plan": "pro"}),
        )
        .await;
        let assigned = w
            .send(
                "PUT",
                &format!("/api/admin/v1/shops/{second}/sms-from"),
                admin,
                json!({"sms_from": "+15125550188"}),
            )
            .await;
        assert_eq!(assigned["shop"]["sms_from"], "+15125550188");
        w.send(
            "PUT",
            &format!("/api/admin/v1/shops/{second}/lifecycle"),
            admin,
            json!({"lifecycle": "suspended", "reason": "walk"}),
        )
        .await;
        w.send(
            "PUT",
            &format!("/api/admin/v1/shops/{second}/features/custom_branding"),
            admin,
            json!({"enabled": true, "reason": "walk"}),
        )
        .await;
        w.call(
            "DELETE",
            &format!("/api/admin/v1/shops/{second}/features/custom_branding?reason=walk"),
            Some(admin),
            None,
            StatusCode::OK,
        )
        .await;
        w.get("/api/admin/v1/plans", admin).await;
        w.send(
        "PUT",
        "/api/admin/v1/plans/starter",
        admin,
        json!({"name": "Starter", "monthly_price_cents": 5900, "features": ["pos_sync", "dashboard", "sms"], "max_users": 5}),
    )
    .await;
        w.get(
            &format!("/api/admin/v1/audit?shop_id={shop}&limit=5"),
            admin,
        )
        .await;
        w.get("/api/admin/v1/jobs", admin).await;
        w.call(
            "POST",
            "/api/admin/v1/jobs/no-such-job/retry",
            Some(admin),
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
        w.get(&format!("/api/admin/v1/shops/{second}/billing"), admin)
            .await;
        w.send(
            "POST",
            &format!("/api/admin/v1/shops/{second}/billing/comp"),
            admin,
            json!({"plan": "premium", "reason": "walk"}),
        )
        .await;
        w.send(
            "POST",
            &format!("/api/admin/v1/shops/{second}/billing/trial"),
            admin,
            json!({"days": 7, "reason": "walk"}),
        )
        .await;
        w.send(
            "PUT",
            "/api/admin/v1/plans/pro/stripe-price",
            admin,
            json!({"interval": "monthly", "price_id": "price_walk"}),
        )
        .await;
        w.get("/api/admin/v1/stripe-prices", admin).await;

        // Sessions and passwords; the member leaves last.
        w.send(
            "POST",
            "/api/v1/auth/password-reset",
            owner,
            json!({"email": "adv@walk.test"}),
        )
        .await;
        w.call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": "pwr_not-a-real-token", "password": "a long enough password"})),
            StatusCode::NOT_FOUND,
        )
        .await;
        w.call(
            "DELETE",
            &format!("/api/v1/users/{member}"),
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        w.call(
            "POST",
            "/api/v1/auth/logout",
            Some(owner),
            None,
            StatusCode::OK,
        )
        .await;
        // A signed-out token: the 401 envelope.
        w.call(
            "GET",
            "/api/v1/me",
            Some(owner),
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;

        // Every operation of the document was called; the ones in
        // REFUSED_HERE only with a refusal, every other one with success.
        let all: BTreeSet<&str> = openapi::committed()
            .operations
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        let missing: Vec<&&str> = all.iter().filter(|id| !w.seen.contains_key(**id)).collect();
        assert!(
            missing.is_empty(),
            "the walk never calls {missing:?}: call them in every_operation_answers_as_documented"
        );
        let refused: BTreeSet<&str> = w
            .seen
            .iter()
            .filter(|(_, s)| **s >= 300)
            .map(|(id, _)| id.as_str())
            .collect();
        let expected: BTreeSet<&str> = REFUSED_HERE.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            refused, expected,
            "operations the walk reaches only with a refusal (update REFUSED_HERE)"
        );
    }
);
