//! The repair-order workflow on both databases: the stage rules through the
//! API (every forbidden move refused naming `stage`, bad input named with
//! nothing written, the plan gate and the permission), the moves the
//! workflow makes by itself (inspection submitted, published, approved by
//! the customer or by staff), the history and the timeline, and the
//! shop's settings with a stage that sets a vehicle status.

use pitwall_core::domain::Role;
use pitwall_testkit::{StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

const SIGNATURE: &str = "data:image/png;base64,iVBORw0KGgpzaWduYXR1cmU=";

/// A ticket pushed by the POS with two services; the ticket id.
async fn pushed(t: &TestApp, owner: &str, ext: &str) -> String {
    pushed_with_key(t, owner, ext).await.1
}

/// The same, with the POS key that pushed it.
async fn pushed_with_key(t: &TestApp, owner: &str, ext: &str) -> (String, String) {
    let key = t.pos_key(owner).await;
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{ext}"),
            Some(&key),
            Some(json!({
                "kind": "estimate", "number": ext, "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": format!("c-{ext}"), "first_name": "Ana", "last_name": "Lopez",
                             "phone": "(512) 555-0142", "email": "ana@example.test"},
                "services": [
                    {"external_id": "s1", "title": "Brake pads", "status": "pending",
                     "line_items": [{"kind": "labor", "description": "Pads", "quantity": 1, "unit_price": 10000, "taxable": true}]},
                    {"external_id": "s2", "title": "Wipers", "status": "pending",
                     "line_items": [{"kind": "part", "description": "Blades", "quantity": 2, "unit_price": 1500, "taxable": true}]}],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (key, b["ticket"]["id"].as_str().unwrap().to_owned())
}

/// The id of the ticket page's line that reads `text` ("kind · description").
fn line_id(html: &str, text: &str) -> String {
    let at = html
        .find(&format!("\"><td>{text}"))
        .unwrap_or_else(|| panic!("no line {text}: {html}"));
    let start = html[..at].rfind("data-line=\"").expect("a line id") + "data-line=\"".len();
    html[start..at].to_owned()
}

/// The ids of the two services `pushed` gives a ticket.
async fn two_services(t: &TestApp, token: &str, ticket: &str) -> [String; 2] {
    let (s, d) = t.get(&format!("/api/v1/tickets/{ticket}"), token).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    [0, 1].map(|n| {
        d["ticket"]["services"][n]["id"]
            .as_str()
            .expect("a service id")
            .to_owned()
    })
}

/// Assigns the ticket to a technician, as the owner.
async fn assign(t: &TestApp, owner: &str, ticket: &str, technician: impl std::fmt::Display) {
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/assignment"),
            Some(owner),
            Some(json!({"technician_id": technician.to_string()})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn stage_of(t: &TestApp, token: &str, ticket: &str) -> Value {
    let (s, b) = t.get(&format!("/api/v1/tickets/{ticket}"), token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["ticket"]["stage"].clone()
}

async fn put_stage(t: &TestApp, token: &str, ticket: &str, body: Value) -> (StatusCode, Value) {
    t.call(
        "PUT",
        &format!("/api/v1/tickets/{ticket}/stage"),
        Some(token),
        Some(body),
    )
    .await
}

async fn history(t: &TestApp, token: &str, ticket: &str) -> Vec<Value> {
    let (s, b) = t
        .get(&format!("/api/v1/tickets/{ticket}/stage-history"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"].as_array().unwrap().clone()
}

fn moves(h: &[Value]) -> Vec<(String, String)> {
    h.iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap().to_owned(),
                m["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn timeline_kinds(t: &TestApp, token: &str, ticket: &str) -> Vec<Value> {
    let (s, b) = t
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "stage_changed")
        .cloned()
        .collect()
}

both_backends!(
    stages_move_only_as_the_workflow_allows_and_every_move_is_recorded,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("stages", "pro").await;
        let ticket = pushed(t, &owner, "R-1").await;
        assert_eq!(stage_of(t, &owner, &ticket).await, "inspection");

        // Bad input: each named, nothing moves.
        for (body, field) in [
            (json!({"stage": "flying"}), "stage"),
            (json!({}), "stage"),
            (json!({"stage": 3}), "stage"),
            (json!({"stage": "canceled"}), "reason"),
            (json!({"stage": "canceled", "reason": "   "}), "reason"),
            (
                json!({"stage": "qualification", "reason": "x".repeat(501)}),
                "reason",
            ),
            (json!({"stage": "qualification", "colour": "red"}), "colour"),
            (
                json!({"stage": "qualification", "ticket_version": "one"}),
                "ticket_version",
            ),
        ] {
            let (s, b) = put_stage(t, &owner, &ticket, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
            assert_eq!(b["field"], field, "{body}: {b}");
        }
        assert_eq!(stage_of(t, &owner, &ticket).await, "inspection");
        assert!(history(t, &owner, &ticket).await.is_empty());

        // Forbidden moves: 409 naming the stage, saying where it may go.
        for to in ["awaiting_approval", "in_work", "completed", "inspection"] {
            let (s, b) = put_stage(t, &owner, &ticket, json!({"stage": to})).await;
            assert_eq!(s, StatusCode::CONFLICT, "{to}: {b}");
            assert_eq!(b["code"], "conflict");
            assert_eq!(b["field"], "stage");
        }
        let (_, b) = put_stage(t, &owner, &ticket, json!({"stage": "completed"})).await;
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("qualification, canceled"),
            "{b}"
        );

        // A decision made on an old screen is refused as such.
        let (_, detail) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let version = detail["ticket"]["version"].as_i64().unwrap();
        let (s, b) = put_stage(
            t,
            &owner,
            &ticket,
            json!({"stage": "qualification", "ticket_version": version - 1}),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["code"], "ticket_changed");
        assert!(history(t, &owner, &ticket).await.is_empty());

        // The whole way, with the two moves back.
        let way = [
            ("qualification", None),
            ("inspection", Some("Photo of the pads is blurred")),
            ("qualification", None),
            ("awaiting_approval", None),
            ("in_work", None),
            ("qualification", Some("Found a torn boot")),
            ("awaiting_approval", None),
            ("in_work", None),
            ("completed", None),
        ];
        for (to, reason) in way {
            let (s, b) = put_stage(
                t,
                &owner,
                &ticket,
                json!({"stage": to, "reason": reason, "ticket_version": version}),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{to}: {b}");
            assert_eq!(b["ticket"]["stage"], to);
            assert_eq!(b["change"]["to"], to);
            assert_eq!(b["change"]["actor_kind"], "staff");
            // Staff-only: what the customer sees did not change.
            assert_eq!(b["ticket"]["version"], version, "{b}");
        }
        let (s, b) = put_stage(t, &owner, &ticket, json!({"stage": "in_work"})).await;
        assert_eq!(
            s,
            StatusCode::CONFLICT,
            "completed work does not reopen: {b}"
        );
        let (s, b) = put_stage(
            t,
            &owner,
            &ticket,
            json!({"stage": "canceled", "reason": "Customer took the car"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        for to in ["inspection", "completed", "canceled"] {
            let (s, b) =
                put_stage(t, &owner, &ticket, json!({"stage": to, "reason": "again"})).await;
            assert_eq!(s, StatusCode::CONFLICT, "{to}: {b}");
            assert_eq!(b["field"], "stage");
        }

        let h = history(t, &owner, &ticket).await;
        let mut expected: Vec<(String, String)> = Vec::new();
        let mut from = "inspection".to_owned();
        for (to, _) in way.iter().chain([("canceled", None)].iter()) {
            expected.push((from.clone(), (*to).to_owned()));
            from = (*to).to_owned();
        }
        assert_eq!(moves(&h), expected);
        assert_eq!(h[1]["reason"], "Photo of the pads is blurred");
        assert_eq!(h[9]["reason"], "Customer took the car");
        assert!(
            h.iter()
                .all(|m| m["actor_name"].is_string() && m["actor_id"].is_string())
        );
        let events = timeline_kinds(t, &owner, &ticket).await;
        assert_eq!(events.len(), h.len(), "one timeline entry per move");

        // Roles: a technician (no tickets.edit) may not move it by hand.
        let other = pushed(t, &owner, "R-2").await;
        let (_, tech) = t.member(shop, "tech@stages.test", Role::Technician).await;
        let (s, b) = put_stage(t, &tech, &other, json!({"stage": "qualification"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(stage_of(t, &owner, &other).await, "inspection");
        // The technician reads the stage and its history.
        assert_eq!(stage_of(t, &tech, &other).await, "inspection");
        assert!(history(t, &tech, &other).await.is_empty());

        // The plan: Starter has no repair-order workflow.
        let (_, starter) = t.shop("stages-starter", "starter").await;
        let cheap = pushed(t, &starter, "S-1").await;
        let (s, b) = put_stage(t, &starter, &cheap, json!({"stage": "qualification"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "feature_not_in_plan");
        assert!(
            b["message"].as_str().unwrap().contains("repair_orders")
                || b["feature"] == "repair_orders",
            "{b}"
        );

        // Another shop's ticket is not found, moved or listed, whatever
        // the body says.
        let (_, other_owner) = t.shop("stages-other", "premium").await;
        for body in [
            json!({"stage": "qualification"}),
            json!({"stage": "nowhere"}),
        ] {
            let (s, b) = put_stage(t, &other_owner, &other, body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        }
        let (s, _) = t
            .get(
                &format!("/api/v1/tickets/{other}/stage-history"),
                &other_owner,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(stage_of(t, &owner, &other).await, "inspection");
    }
);

fn quick_sheet() -> Value {
    json!({"name": "Quick", "sections": [
        {"name": "Brakes", "items": [
            {"key": "pads", "label": "Brake pads", "kind": "condition", "photo": "never"}]}]})
}

both_backends!(
    the_workflow_moves_by_itself_on_inspection_publication_and_approval,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("auto-moves", "premium").await;
        let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
        let in_work_status = statuses["items"][2]["id"].as_str().unwrap().to_owned();
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/workflow-settings",
                Some(&owner),
                Some(json!({"stage_statuses": {"in_work": in_work_status}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, tech) = t
            .member(shop, "tech@auto-moves.test", Role::Technician)
            .await;
        let ticket = pushed(t, &owner, "A-1").await;
        let (s, sheet) = t
            .post("/api/v1/inspection-templates", &owner, quick_sheet())
            .await;
        assert_eq!(s, StatusCode::CREATED, "{sheet}");
        let (s, insp) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/inspections"),
                &tech,
                json!({"template_id": sheet["id"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{insp}");
        let insp = insp["id"].as_str().unwrap().to_owned();
        let (s, b) = t
            .call(
                "PUT",
                &format!("/api/v1/inspections/{insp}/findings/pads"),
                Some(&tech),
                Some(json!({"condition": "urgent", "customer_note": "Worn to 2 mm"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // The technician submits: parts and the advisor qualify.
        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{insp}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(stage_of(t, &owner, &ticket).await, "qualification");
        // The advisor publishes: the customer decides.
        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{insp}/publish"),
                &owner,
                json!({"send": null}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(stage_of(t, &owner, &ticket).await, "awaiting_approval");

        // The customer's approval sends the work to the workshop.
        let (s, issued) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{issued}");
        let token = issued["url"]
            .as_str()
            .unwrap()
            .rsplit("/c/")
            .next()
            .unwrap()
            .to_owned();
        let (s, v) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, b) = t
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/approval"),
                None,
                Some(json!({"approved_service_ids": [v["services"][0]["id"]],
                            "declined_service_ids": [v["services"][1]["id"]],
                            "signer_name": "Ana Lopez", "signature": SIGNATURE,
                            "ticket_version": v["ticket_version"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(stage_of(t, &owner, &ticket).await, "in_work");
        // The status the shop mapped to in_work is set, as the customer's change.
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        assert_eq!(d["ticket"]["status"]["id"], in_work_status.as_str(), "{d}");
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
            .await;
        let changed = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "status_changed")
            .cloned()
            .unwrap_or_else(|| panic!("no status change on the timeline: {tl}"));
        assert_eq!(changed["actor_kind"], "customer", "{changed}");
        assert_eq!(changed["actor_name"], "Ana Lopez", "{changed}");

        let h = history(t, &owner, &ticket).await;
        assert_eq!(
            moves(&h),
            [
                ("inspection".into(), "qualification".into()),
                ("qualification".into(), "awaiting_approval".into()),
                ("awaiting_approval".into(), "in_work".into()),
            ]
        );
        assert_eq!(h[0]["actor_kind"], "staff");
        assert_eq!(
            h[0]["actor_name"],
            "tech@auto-moves.test".split('@').next().unwrap()
        );
        assert_eq!(h[2]["actor_kind"], "customer");
        assert_eq!(h[2]["actor_name"], "Ana Lopez");
        assert!(h[2]["actor_id"].is_null());
        assert_eq!(timeline_kinds(t, &owner, &ticket).await.len(), 3);

        // A staff-recorded approval moves a ticket the same way, straight
        // from inspection when nothing was inspected; a decline of all the
        // work moves nothing.
        let declined = pushed(t, &owner, "A-3").await;
        let (_, d) = t.get(&format!("/api/v1/tickets/{declined}"), &owner).await;
        let all: Vec<Value> = d["ticket"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect();
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{declined}/approvals"),
                &owner,
                json!({"declined_service_ids": all, "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["stage"], "inspection");
        assert!(history(t, &owner, &declined).await.is_empty());
        let phone = pushed(t, &owner, "A-2").await;
        let (_, d) = t.get(&format!("/api/v1/tickets/{phone}"), &owner).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{phone}/approvals"),
                &owner,
                json!({"approved_service_ids": [d["ticket"]["services"][0]["id"]], "method": "phone",
                       "note": "Called at 10:15"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b["stage"], "in_work",
            "the answer is the ticket as it is now: {b}"
        );
        assert_eq!(
            moves(&history(t, &owner, &phone).await),
            [("inspection".into(), "in_work".into())]
        );

        // A late event never drags the job back: a second approval while
        // completed moves nothing.
        let (s, b) = put_stage(t, &owner, &phone, json!({"stage": "completed"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{phone}/approvals"),
                &owner,
                json!({"approved_service_ids": [d["ticket"]["services"][1]["id"]], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(stage_of(t, &owner, &phone).await, "completed");

        // Without the feature nothing moves by itself.
        let (_, starter) = t.shop("auto-starter", "starter").await;
        let plain = pushed(t, &starter, "P-1").await;
        let (_, d) = t.get(&format!("/api/v1/tickets/{plain}"), &starter).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{plain}/approvals"),
                &starter,
                json!({"approved_service_ids": [d["ticket"]["services"][0]["id"]], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(stage_of(t, &starter, &plain).await, "inspection");
        assert!(
            messages_of(t, &starter, &plain, "confirmation")
                .await
                .is_empty(),
            "confirmations belong to the workflow"
        );
        let (s, _) = t
            .get(&format!("/api/v1/tickets/{plain}/stage-history"), &starter)
            .await;
        assert_eq!(s, StatusCode::OK);
    }
);

both_backends!(
    workflow_settings_are_checked_and_a_stage_sets_its_vehicle_status,
    async |t: &TestApp| {
        const SETTINGS: &str = "/api/v1/workflow-settings";
        let (shop, owner) = t.shop("wf-settings", "pro").await;
        let (s, b) = t.get(SETTINGS, &owner).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b,
            json!({"qualification_minutes": null, "parts_minutes": null,
                   "approval_reminder_minutes": null, "stage_statuses": {},
                   "handoff_emails": false})
        );
        let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
        let in_work_status = statuses["items"][2]["id"].as_str().unwrap().to_owned();
        let retired = statuses["items"][3]["id"].as_str().unwrap().to_owned();
        let (s, b) = t
            .call(
                "DELETE",
                &format!("/api/v1/vehicle-statuses/{retired}"),
                Some(&owner),
                None,
            )
            .await;
        assert!(s.is_success(), "{b}");
        let (_, other_owner) = t.shop("wf-other", "pro").await;
        let (_, theirs) = t.get("/api/v1/vehicle-statuses", &other_owner).await;
        let theirs = theirs["items"][0]["id"].as_str().unwrap().to_owned();

        // Every problem at once, named; nothing saved.
        let (s, b) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&owner),
                Some(json!({"qualification_minutes": 0, "parts_minutes": 10081,
                            "approval_reminder_minutes": -5,
                            "stage_statuses": {"flying": in_work_status, "in_work": theirs,
                                               "completed": retired}})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let mut named: Vec<String> = b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        named.sort();
        assert_eq!(
            named,
            [
                "approval_reminder_minutes",
                "parts_minutes",
                "qualification_minutes",
                "stage_statuses/completed",
                "stage_statuses/flying",
                "stage_statuses/in_work",
            ]
        );
        let (s, b) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&owner),
                Some(json!({"stage_statuses": {"in_work": "nope"}})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "stage_statuses/in_work");
        let (_, b) = t.get(SETTINGS, &owner).await;
        assert_eq!(b["stage_statuses"], json!({}));
        assert!(b["qualification_minutes"].is_null());

        // Only those who manage the shop's settings change them.
        let (_, advisor) = t.member(shop, "adv@wf-settings.test", Role::Advisor).await;
        let (s, _) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&advisor),
                Some(json!({"qualification_minutes": 5})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get(SETTINGS, &advisor).await;
        assert_eq!(s, StatusCode::OK);

        let (s, b) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&owner),
                Some(
                    json!({"qualification_minutes": 30, "approval_reminder_minutes": 240,
                            "stage_statuses": {"in_work": in_work_status}}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["qualification_minutes"], 30);
        assert!(b["parts_minutes"].is_null());
        assert_eq!(b["stage_statuses"]["in_work"], in_work_status.as_str());
        let (_, again) = t.get(SETTINGS, &owner).await;
        assert_eq!(again, b);
        // The other shop's settings are its own.
        let (_, theirs) = t.get(SETTINGS, &other_owner).await;
        assert_eq!(theirs["stage_statuses"], json!({}));

        // Entering in_work sets the mapped status, with its history.
        let ticket = pushed(t, &owner, "M-1").await;
        for to in ["qualification", "awaiting_approval"] {
            let (s, b) = put_stage(t, &advisor, &ticket, json!({"stage": to})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_ne!(b["ticket"]["status"]["id"], in_work_status.as_str());
            assert!(
                b["ticket"]["stage_timer"].is_null(),
                "timers are the queues': {b}"
            );
            if to == "qualification" {
                // The qualification queue counts down the shop's 30 minutes.
                let (s, q) = t.get("/api/v1/me/work?queue=qualification", &advisor).await;
                assert_eq!(s, StatusCode::OK, "{q}");
                let item = &q["items"][0];
                assert_eq!(item["id"], ticket.as_str(), "{q}");
                let timer = &item["stage_timer"];
                assert_eq!(timer["level"], "normal", "{q}");
                let started: chrono::DateTime<chrono::Utc> =
                    timer["started_at"].as_str().unwrap().parse().unwrap();
                let due: chrono::DateTime<chrono::Utc> =
                    timer["due_at"].as_str().unwrap().parse().unwrap();
                assert_eq!(due - started, chrono::Duration::minutes(30));
                assert_eq!(timer["started_at"], item["stage_changed_at"]);
                // The dashboard shows the same hand-off, and colours it
                // once it is overdue.
                let board = async || {
                    let (s, d) = t.get("/api/v1/dashboard", &owner).await;
                    assert_eq!(s, StatusCode::OK, "{d}");
                    d["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|r| r["ticket"]["id"] == ticket.as_str())
                        .map(|r| r["ticket"]["stage_timer"].clone())
                        .unwrap_or_else(|| panic!("the ticket on the board: {d}"))
                };
                let on_board = board().await;
                assert_eq!(on_board["due_at"], timer["due_at"], "{on_board}");
                assert_eq!(on_board["level"], "normal");
                t.app.config().clock.advance(chrono::Duration::minutes(31));
                assert_eq!(board().await["level"], "overdue");
                let browser = pitwall_testkit::pages::browser();
                pitwall_testkit::pages::sign_in(t, &browser, "owner@wf-settings.test").await;
                let (_, page) = pitwall_testkit::pages::page(t, &browser, "/app/dashboard").await;
                assert!(
                    page.contains(r#"<span class="timer overdue" data-timer="count_down""#)
                        && page.contains(r#"data-testid="board-stage-timer""#),
                    "the board page colours the hand-off: {page}"
                );
            }
        }
        let (s, b) = put_stage(t, &advisor, &ticket, json!({"stage": "in_work"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["ticket"]["status"]["id"], in_work_status.as_str(), "{b}");
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let last = d["status_history"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap();
        assert_eq!(last["to"], statuses["items"][2]["label"], "{d}");

        // Starter: no workflow settings.
        let (_, starter) = t.shop("wf-starter", "starter").await;
        let (s, b) = t.get(SETTINGS, &starter).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "feature_not_in_plan");
    }
);

async fn patch(
    t: &TestApp,
    token: &str,
    ticket: &str,
    service: &str,
    body: Value,
) -> (StatusCode, Value) {
    t.call(
        "PATCH",
        &format!("/api/v1/tickets/{ticket}/services/{service}"),
        Some(token),
        Some(body),
    )
    .await
}

async fn done(t: &TestApp, token: &str, ticket: &str, service: &str) -> (StatusCode, Value) {
    t.post(
        &format!("/api/v1/tickets/{ticket}/services/{service}/done"),
        token,
        json!({}),
    )
    .await
}

async fn queue(t: &TestApp, token: &str, q: &str) -> Vec<String> {
    let (s, b) = t.get(&format!("/api/v1/me/work?queue={q}"), token).await;
    assert_eq!(s, StatusCode::OK, "{q}: {b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ticket's messages of one kind, oldest first.
async fn messages_of(t: &TestApp, token: &str, ticket: &str, kind: &str) -> Vec<Value> {
    let (s, d) = t.get(&format!("/api/v1/tickets/{ticket}"), token).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind)
        .cloned()
        .collect()
}

fn service<'a>(ticket: &'a Value, id: &str) -> &'a Value {
    ticket["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no service {id} in {ticket}"))
}

both_backends!(
    one_job_from_inspection_through_parts_and_qualification_to_completed,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("whole-flow", "premium").await;
        let (_, tech) = t
            .member(shop, "tech@whole-flow.test", Role::Technician)
            .await;
        let (_, parts) = t.member(shop, "parts@whole-flow.test", Role::Parts).await;
        let (_, advisor) = t.member(shop, "adv@whole-flow.test", Role::Advisor).await;
        let (key, ticket) = pushed_with_key(t, &owner, "W-1").await;
        let [brakes, wipers] = two_services(t, &owner, &ticket).await;

        // The technician inspects and hands in: the job waits for qualification.
        let (_, sheet) = t
            .post("/api/v1/inspection-templates", &owner, quick_sheet())
            .await;
        let (_, insp) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/inspections"),
                &tech,
                json!({"template_id": sheet["id"]}),
            )
            .await;
        let insp = insp["id"].as_str().unwrap().to_owned();
        t.call(
            "PUT",
            &format!("/api/v1/inspections/{insp}/findings/pads"),
            Some(&tech),
            Some(json!({"condition": "urgent"})),
        )
        .await;
        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{insp}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            queue(t, &advisor, "qualification").await,
            vec![ticket.clone()]
        );
        assert!(queue(t, &parts, "parts").await.is_empty());
        assert!(queue(t, &tech, "completion").await.is_empty());

        // The advisor adds the recommendation the finding calls for; it needs parts.
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/services"),
                &advisor,
                json!({"title": "Rotors", "customer_note": "Grooved", "parts_needed": true,
                       "line_items": [{"kind": "labor", "description": "Replace rotors", "quantity": 1.5, "unit_price": 12000, "taxable": true}]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let rotors = b["service_id"].as_str().unwrap().to_owned();
        let made = service(&b["ticket"], &rotors);
        assert_eq!(made["source"], "pitwall");
        assert_eq!(made["parts_status"], "needed");
        assert_eq!(made["subtotal"], 18000);
        assert_eq!(made["status"], "recommended");
        assert_eq!(queue(t, &parts, "parts").await, vec![ticket.clone()]);
        let (_, notes) = t.get("/api/pos/v1/notifications", &key).await;
        let added: Vec<&Value> = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "service_added")
            .collect();
        assert_eq!(added.len(), 1, "{notes}");
        assert_eq!(added[0]["data"]["title"], "Rotors", "{notes}");

        // Parts prices and orders; it may not touch the advisor's part.
        let before = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await.1;
        for (body, perm) in [
            (json!({"title": "Cheaper rotors"}), "services.edit"),
            (json!({"labor_lines": []}), "services.edit"),
            (json!({"ready": true}), "services.edit"),
        ] {
            let (s, b) = patch(t, &parts, &ticket, &rotors, body.clone()).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{body}: {b}");
            assert_eq!(b["permission"], perm, "{b}");
        }
        for (body, field) in [
            (
                json!({"part_lines": [{"kind": "labor", "description": "x", "quantity": 1, "unit_price": 1}]}),
                "part_lines/0/kind",
            ),
            (
                json!({"part_lines": [{"kind": "part", "description": "Rotor", "quantity": 0, "unit_price": 1}]}),
                "part_lines/0/quantity",
            ),
            (
                json!({"part_lines": [{"kind": "part", "description": "", "quantity": 1, "unit_price": 1}]}),
                "part_lines/0/description",
            ),
            (json!({"parts_status": "lost"}), "parts_status"),
            (json!({"internal_note": "x".repeat(2001)}), "internal_note"),
            (json!({"part_lines": "many"}), "part_lines"),
        ] {
            let (s, b) = patch(t, &parts, &ticket, &rotors, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
            assert_eq!(b["field"], field, "{body}: {b}");
        }
        let after = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await.1;
        assert_eq!(
            before["ticket"], after["ticket"],
            "refusals changed nothing"
        );
        let (s, b) = patch(
            t,
            &parts,
            &ticket,
            &rotors,
            json!({"part_lines": [{"kind": "part", "description": "Front rotor", "part_number": "BR-900",
                                   "quantity": 2, "unit_price": 6550, "taxable": true}],
                   "internal_note": "Supplier B, next-day", "parts_status": "ordered"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let r = service(&b["ticket"], &rotors);
        assert_eq!(r["subtotal"], 18000 + 13100);
        assert_eq!(r["parts_status"], "ordered");
        assert_eq!(r["internal_note"], "Supplier B, next-day");
        assert_eq!(r["title"], "Rotors");
        let part = r["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["kind"] == "part")
            .unwrap();
        assert_eq!(part["part_number"], "BR-900");
        let (s, b) = patch(
            t,
            &parts,
            &ticket,
            &rotors,
            json!({"parts_status": "needed"}),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "parts move forward only: {b}");
        assert_eq!(b["field"], "parts_status");

        // The advisor qualifies; parts lines are not theirs, the POS's lines neither.
        let (s, b) = patch(t, &advisor, &ticket, &rotors, json!({"part_lines": []})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "parts.edit");
        let (s, b) = patch(t, &advisor, &ticket, &brakes, json!({"labor_lines": []})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "labor_lines");
        let (s, b) = patch(
            t,
            &advisor,
            &ticket,
            &rotors,
            json!({"title": "Front rotors", "customer_note": "Grooved: the pads wore into them",
                   "labor_lines": [{"kind": "labor", "description": "Replace rotors", "quantity": 2, "unit_price": 12000, "taxable": true}],
                   "ready": true}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let r = service(&b["ticket"], &rotors);
        assert_eq!(r["title"], "Front rotors");
        assert_eq!(r["ready"], true);
        assert_eq!(r["subtotal"], 24000 + 13100, "labour replaced, parts kept");
        let (s, b) = patch(
            t,
            &advisor,
            &ticket,
            &brakes,
            json!({"customer_note": "Pads at 2 mm", "ready": true}),
        )
        .await;
        assert_eq!(
            s,
            StatusCode::OK,
            "notes on the POS's positions are Pitwall's: {b}"
        );

        // Published, the customer approves rotors and brakes, declines wipers.
        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{insp}/publish"),
                &advisor,
                json!({"send": null}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(queue(t, &advisor, "qualification").await.is_empty());
        let (_, issued) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                &advisor,
                json!({}),
            )
            .await;
        let token = issued["url"]
            .as_str()
            .unwrap()
            .rsplit("/c/")
            .next()
            .unwrap()
            .to_owned();
        let (_, v) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        let (s, b) = t
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/approval"),
                None,
                Some(json!({"approved_service_ids": [brakes, rotors], "declined_service_ids": [wipers],
                            "signer_name": "Ana Lopez", "signature": SIGNATURE,
                            "ticket_version": v["ticket_version"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(stage_of(t, &owner, &ticket).await, "in_work");
        assert_eq!(queue(t, &tech, "completion").await, vec![ticket.clone()]);
        // The customer gets the frozen overview of what they approved, once.
        let confirmations = messages_of(t, &owner, &ticket, "confirmation").await;
        assert_eq!(confirmations.len(), 1, "{confirmations:?}");
        let body = confirmations[0]["body"].as_str().unwrap();
        assert!(body.contains("Brake pads, Front rotors"), "{body}");
        assert!(body.contains("471.00"), "{body}");
        assert!(!body.contains("Wipers"), "{body}");

        // The price the customer approved stays.
        let (s, b) = patch(t, &parts, &ticket, &rotors, json!({"part_lines": []})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "status");

        // Completion: parts first, approved work only, once each.
        let (s, b) = done(t, &tech, &ticket, &rotors).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "parts_status");
        let (s, b) = done(t, &tech, &ticket, &wipers).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "status");
        let (s, b) = done(t, &parts, &ticket, &brakes).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "services.complete");
        let (s, b) = patch(
            t,
            &parts,
            &ticket,
            &rotors,
            json!({"parts_status": "received"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(queue(t, &parts, "parts").await.is_empty());
        let (s, b) = done(t, &tech, &ticket, &brakes).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b["ticket"]["stage"], "in_work",
            "one position is still open"
        );
        assert!(service(&b["ticket"], &brakes)["done_at"].is_string());
        let (s, b) = done(t, &tech, &ticket, &brakes).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "done_at");
        let (s, b) = done(t, &tech, &ticket, &rotors).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b["ticket"]["stage"], "completed",
            "the last position done completes the job"
        );
        assert!(queue(t, &tech, "completion").await.is_empty());
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/services"),
                &advisor,
                json!({"title": "Late idea"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "stage");

        let h = history(t, &owner, &ticket).await;
        assert_eq!(
            moves(&h),
            [
                ("inspection".into(), "qualification".into()),
                ("qualification".into(), "awaiting_approval".into()),
                ("awaiting_approval".into(), "in_work".into()),
                ("in_work".into(), "completed".into()),
            ]
        );
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
            .await;
        let kinds: Vec<&str> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.iter().filter(|k| **k == "service_done").count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == "service_added").count(), 1);

        // Bad queues and roles without one.
        let (s, b) = t.get("/api/v1/me/work?queue=everything", &advisor).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "queue");
        let (s, _) = t.get("/api/v1/me/work?queue=parts", &advisor).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Another shop reaches none of it.
        let (_, stranger) = t.shop("whole-flow-other", "premium").await;
        let (s, _) = patch(t, &stranger, &ticket, &rotors, json!({"title": "Mine"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = done(t, &stranger, &ticket, &rotors).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/services"),
                &stranger,
                json!({"title": "Mine"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(queue(t, &stranger, "completion").await.is_empty());
    }
);

both_backends!(
    the_ticket_page_moves_the_stage_and_marks_work_done,
    async |t: &TestApp| {
        use pitwall_testkit::pages::{browser, csrf_of, fragment, page, sign_in};
        let (shop, owner) = t.shop("wf-pages", "pro").await;
        let ticket = pushed(t, &owner, "PG-1").await;
        t.member(shop, "adv@wf-pages.test", Role::Advisor).await;
        t.member(shop, "tech@wf-pages.test", Role::Technician).await;
        let c = browser();
        sign_in(t, &c, "adv@wf-pages.test").await;
        let (s, html) = page(t, &c, &format!("/app/tickets/{ticket}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("data-stage=\"inspection\""), "{html}");
        assert!(html.contains("data-testid=\"stage-form\""), "{html}");
        let csrf = csrf_of(&html);
        let post = |form: Vec<(&'static str, String)>| {
            let c = c.clone();
            let url = t.url(&format!("/app/tickets/{ticket}/stage"));
            async move { c.post(url).form(&form).send().await.unwrap() }
        };
        // Without its token nothing moves; a cancel without a reason is
        // refused on the page, in words.
        let r = post(vec![("stage", "qualification".into())]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = post(vec![
            ("csrf", csrf.clone()),
            ("stage", "canceled".into()),
            ("reason", "".into()),
        ])
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("is required to cancel"));
        let r = post(vec![
            ("csrf", csrf.clone()),
            ("stage", "completed".into()),
            ("reason", "".into()),
        ])
        .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(stage_of(t, &owner, &ticket).await, "inspection");
        let r = post(vec![
            ("csrf", csrf.clone()),
            ("stage", "qualification".into()),
            ("reason", "".into()),
        ])
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let back = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(back, format!("/app/tickets/{ticket}?ok=stage"));
        let (_, html) = page(t, &c, &back).await;
        assert!(html.contains("data-stage=\"qualification\""), "{html}");
        assert!(html.contains("Stage moved."), "{html}");
        // An open page re-reads its facts card on each change: the card
        // alone, with the new stage.
        let (s, facts) = fragment(t, &c, &format!("/app/tickets/{ticket}?part=facts")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            facts.trim_start().starts_with("<dt>Customer</dt>"),
            "{facts}"
        );
        assert!(
            facts.contains("data-testid=\"ticket-stage\" data-stage=\"qualification\""),
            "{facts}"
        );
        let (_, board) = page(t, &c, "/app/dashboard").await;
        assert!(
            board.contains("data-testid=\"board-stage\" data-stage=\"qualification\""),
            "the dashboard shows where the job stands: {board}"
        );
        assert!(
            html.contains("inspection → qualification"),
            "the timeline says so: {html}"
        );

        // The advisor adds a position from the page; a bad rate is named.
        let add = |form: Vec<(&'static str, String)>| {
            let c = c.clone();
            let url = t.url(&format!("/app/tickets/{ticket}/services"));
            async move { c.post(url).form(&form).send().await.unwrap() }
        };
        let position = |rate: &str| {
            vec![
                ("csrf", csrf.clone()),
                ("title", "Front rotors".to_owned()),
                ("customer_note", "Grooved".to_owned()),
                ("parts_needed", "on".to_owned()),
                ("labor_description", "Replace rotors".to_owned()),
                ("labor_hours", "1.5".to_owned()),
                ("labor_rate", rate.to_owned()),
                ("taxable", "on".to_owned()),
            ]
        };
        let r = add(position("a lot")).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("must be an amount"));
        let r = add(position("$120.00")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let rotors = d["ticket"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == "Front rotors")
            .cloned()
            .unwrap_or_else(|| panic!("no position added: {d}"));
        assert_eq!(rotors["subtotal"], 18000);
        assert_eq!(rotors["parts_status"], "needed");
        let rotors = rotors["id"].as_str().unwrap().to_owned();

        // Parts prices it and marks the parts received, from the page.
        t.member(shop, "parts@wf-pages.test", Role::Parts).await;
        let pc = browser();
        sign_in(t, &pc, "parts@wf-pages.test").await;
        let (_, html) = page(t, &pc, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("data-testid=\"add-part-form\""), "{html}");
        assert!(
            !html.contains("data-testid=\"add-position\""),
            "not the parts role's: {html}"
        );
        let pcsrf = csrf_of(&html);
        let work = |form: Vec<(&'static str, String)>| {
            let pc = pc.clone();
            let url = t.url(&format!("/app/tickets/{ticket}/services/{rotors}"));
            async move { pc.post(url).form(&form).send().await.unwrap() }
        };
        let part = |price: &str| {
            vec![
                ("csrf", pcsrf.clone()),
                ("action", "part".to_owned()),
                ("description", "Front rotor".to_owned()),
                ("part_number", "BR-900".to_owned()),
                ("quantity", "2".to_owned()),
                ("unit_price", price.to_owned()),
                ("taxable", "on".to_owned()),
            ]
        };
        let r = work(part("-3")).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = work(part("65.50")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);

        // A line added by mistake comes off again, by whoever may change
        // its kind: parts a part line, the advisor a labour line.
        let mut wrong = part("10");
        wrong[2].1 = "Wrong rotor".to_owned();
        let r = work(wrong).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let subtotal = async || {
            let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
            service(&d["ticket"], &rotors)["subtotal"].clone()
        };
        assert_eq!(subtotal().await, 18000 + 13100 + 2000);
        let (_, html) = page(t, &pc, &format!("/app/tickets/{ticket}")).await;
        let wrong_line = line_id(&html, "part · Wrong rotor");
        let labour_line = line_id(&html, "labor · Replace rotors");
        let brakes_line = line_id(&html, "labor · Pads");
        let remove = |token: &str, line: &str| {
            vec![
                ("csrf", token.to_owned()),
                ("action", "remove_line".to_owned()),
                ("line", line.to_owned()),
            ]
        };
        let r = c
            .post(t.url(&format!("/app/tickets/{ticket}/services/{rotors}")))
            .form(&remove(&csrf, &wrong_line))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "not the advisor's");
        assert!(r.text().await.unwrap().contains("parts.edit"));
        let r = work(remove(&pcsrf, &labour_line)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "not parts'");
        assert!(r.text().await.unwrap().contains("services.edit"));
        for bad in ["not-an-id", &brakes_line, &uuid::Uuid::new_v4().to_string()] {
            let r = work(remove(&pcsrf, bad)).await;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            let text = r.text().await.unwrap();
            assert!(text.contains("line"), "{bad}: {text}");
        }
        let brakes_id = d["ticket"]["services"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = c
            .post(t.url(&format!("/app/tickets/{ticket}/services/{brakes_id}")))
            .form(&remove(&csrf, &brakes_line))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "the POS's line");
        assert!(r.text().await.unwrap().contains("POS"));
        assert_eq!(subtotal().await, 18000 + 13100 + 2000, "nothing changed");
        let r = work(remove(&pcsrf, &wrong_line)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(subtotal().await, 18000 + 13100);
        let (_, html) = page(t, &pc, &format!("/app/tickets/{ticket}")).await;
        assert!(!html.contains("Wrong rotor"), "{html}");
        assert!(html.contains("#BR-900"), "the other part stays: {html}");

        let r = work(vec![
            ("csrf", pcsrf.clone()),
            ("action", "parts_status".to_owned()),
            ("parts_status", "received".to_owned()),
        ])
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let priced = service(&d["ticket"], &rotors);
        assert_eq!(priced["subtotal"], 18000 + 13100, "{priced}");
        assert_eq!(priced["parts_status"], "received");
        let (_, html) = page(t, &pc, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("#BR-900"), "{html}");

        // The technician marks approved work done from the page.
        let [brakes, wipers] = two_services(t, &owner, &ticket).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/approvals"),
                &owner,
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let tc = browser();
        sign_in(t, &tc, "tech@wf-pages.test").await;
        // The technician's queue lists it, with the tabs their role works from.
        let (s, html) = page(t, &tc, "/app/work?queue=completion").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains(&format!("data-ticket=\"{ticket}\"")),
            "{html}"
        );
        assert!(html.contains("data-testid=\"queue-completion\""), "{html}");
        assert!(
            !html.contains("data-testid=\"queue-parts\""),
            "not the technician's: {html}"
        );
        let (s, html) = page(t, &tc, "/app/work?queue=parts").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{html}");
        let (s, html) = page(t, &tc, "/app/work?queue=everything").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        let (_, html) = page(t, &tc, &format!("/app/tickets/{ticket}")).await;
        assert_eq!(
            html.matches("data-testid=\"service-done-submit\"").count(),
            1,
            "{html}"
        );
        let csrf = csrf_of(&html);
        let r = tc
            .post(t.url(&format!("/app/tickets/{ticket}/services/{brakes}/done")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, html) = page(t, &tc, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("data-stage=\"completed\""), "{html}");
        assert!(html.contains("data-testid=\"service-done\""), "{html}");
        // The live region's re-read: the queue's rows alone, now empty.
        let (s, rows) = fragment(t, &tc, "/app/work?queue=completion").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            rows.trim_start().starts_with("<ol class=\"board\">"),
            "{rows}"
        );
        assert!(rows.contains("work-empty"), "{rows}");
        let r = tc
            .post(t.url(&format!("/app/tickets/{ticket}/services/{brakes}/done")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "done once");
    }
);

// The advisor's and the parts clerk's part of qualification, from the
// ticket page: the advisor rewords a position and marks it ready, parts
// leaves an internal note (and may not reword), and a finding made after
// the approval goes to the customer as an extension. Each refusal is in
// words, and changes nothing.
both_backends!(
    the_ticket_page_qualifies_positions_and_sends_an_extension,
    async |t: &TestApp| {
        use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
        let (shop, owner) = t.shop("wf-qualify", "pro").await;
        let ticket = pushed(t, &owner, "PQ-1").await;
        t.member(shop, "adv@wf-qualify.test", Role::Advisor).await;
        t.member(shop, "parts@wf-qualify.test", Role::Parts).await;
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let id_of = |n: usize| {
            d["ticket"]["services"][n]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (brakes, wipers) = (id_of(0), id_of(1));
        let ac = browser();
        sign_in(t, &ac, "adv@wf-qualify.test").await;
        let (_, html) = page(t, &ac, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("data-testid=\"position-edit\""), "{html}");
        assert!(
            !html.contains("data-testid=\"send-extension\""),
            "nothing approved yet, so nothing to extend: {html}"
        );
        let csrf = csrf_of(&html);
        let post = |c: &reqwest::Client, path: String, form: Vec<(&'static str, String)>| {
            let (c, url) = (c.clone(), t.url(&path));
            async move { c.post(url).form(&form).send().await.unwrap() }
        };
        let on_brakes = format!("/app/tickets/{ticket}/services/{brakes}");
        let brakes_now = async || {
            let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
            service(&d["ticket"], &brakes).clone()
        };
        let before = brakes_now().await;

        let edit = |title: &str, ready: bool| {
            let mut form = vec![
                ("csrf", csrf.clone()),
                ("action", "edit".to_owned()),
                ("title", title.to_owned()),
                ("customer_note", "The pads are at 2 mm.".to_owned()),
            ];
            if ready {
                form.push(("ready", "on".to_owned()));
            }
            form
        };
        let r = post(&ac, on_brakes.clone(), edit("  ", true)).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("title"));
        let r = post(
            &ac,
            on_brakes.clone(),
            vec![("csrf", csrf.clone()), ("action", "rename".into())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(brakes_now().await, before, "nothing changed");

        let r = post(&ac, on_brakes.clone(), edit("Front brake pads", true)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let now = brakes_now().await;
        assert_eq!(now["title"], "Front brake pads");
        assert_eq!(now["customer_note"], "The pads are at 2 mm.");
        assert_eq!(now["ready"], true);
        let (_, html) = page(t, &ac, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("Front brake pads"), "{html}");

        // Parts may leave the internal note, not reword the position.
        let pc = browser();
        sign_in(t, &pc, "parts@wf-qualify.test").await;
        let (_, html) = page(t, &pc, &format!("/app/tickets/{ticket}")).await;
        assert!(!html.contains("data-testid=\"position-edit\""), "{html}");
        assert!(html.contains("data-testid=\"position-internal\""), "{html}");
        let pcsrf = csrf_of(&html);
        let mut reword = edit("Cheaper pads", true);
        reword[0].1 = pcsrf.clone();
        let r = post(&pc, on_brakes.clone(), reword).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.unwrap().contains("services.edit"));
        assert_eq!(brakes_now().await["title"], "Front brake pads");
        let r = post(
            &pc,
            on_brakes.clone(),
            vec![
                ("csrf", pcsrf.clone()),
                ("action", "note".into()),
                ("internal_note", "Pads in stock Friday".into()),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(brakes_now().await["internal_note"], "Pads in stock Friday");
        let (_, html) = page(t, &ac, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("Internal: Pads in stock Friday"), "{html}");

        // The advisor takes "ready" back.
        let r = post(&ac, on_brakes.clone(), edit("Front brake pads", false)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(brakes_now().await["ready"], false);

        // Approved, in work; a new finding goes out as an extension.
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/approvals"),
                &owner,
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["stage"], "in_work");
        let r = post(
            &ac,
            format!("/app/tickets/{ticket}/services"),
            vec![
                ("csrf", csrf.clone()),
                ("title", "Cabin filter".into()),
                ("customer_note", "Clogged".into()),
                ("labor_description", "Replace filter".into()),
                ("labor_hours", "0.5".into()),
                ("labor_rate", "100".into()),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let filter = d["ticket"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == "Cabin filter")
            .and_then(|s| s["id"].as_str())
            .unwrap_or_else(|| panic!("no new position: {d}"))
            .to_owned();
        let (_, html) = page(t, &ac, &format!("/app/tickets/{ticket}")).await;
        assert!(html.contains("data-testid=\"send-extension\""), "{html}");
        assert!(
            html.contains(&format!("name=\"service_ids\" value=\"{filter}\"")),
            "{html}"
        );
        let extend = format!("/app/tickets/{ticket}/extensions");
        for (ids, named) in [
            (vec![], "service ids: name at least one position"),
            (
                vec!["not-a-position".to_owned()],
                "service ids&#x2f;0: is not a position of this ticket",
            ),
            (vec![brakes.clone()], "the customer already decided on it"),
        ] {
            let mut form = vec![("csrf", csrf.clone()), ("send", String::new())];
            form.extend(ids.into_iter().map(|id| ("service_ids", id)));
            let r = post(&ac, extend.clone(), form).await;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{named}");
            let text = r.text().await.unwrap();
            assert!(text.contains(named), "{named}: {text}");
        }
        assert_eq!(
            stage_of(t, &owner, &ticket).await,
            "in_work",
            "nothing sent"
        );
        let r = post(
            &ac,
            extend.clone(),
            vec![
                ("csrf", csrf.clone()),
                ("send", String::new()),
                ("service_ids", filter.clone()),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("/app/tickets/{ticket}?ok=extension_sent")
        );
        assert_eq!(stage_of(t, &owner, &ticket).await, "awaiting_approval");
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        assert_eq!(service(&d["ticket"], &filter)["ready"], true);
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
            .await;
        let sent: Vec<&Value> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "extension_sent")
            .collect();
        assert_eq!(sent.len(), 1, "{tl}");

        // Another shop's advisor reaches none of it.
        let (other, _) = t.shop("wf-qualify-other", "pro").await;
        t.member(other, "adv@wf-qualify-other.test", Role::Advisor)
            .await;
        let oc = browser();
        sign_in(t, &oc, "adv@wf-qualify-other.test").await;
        let (_, html) = page(t, &oc, "/app/tickets").await;
        let ocsrf = csrf_of(&html);
        let before = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await.1;
        for (path, form) in [
            (on_brakes.clone(), edit("Taken over", true)),
            (
                extend.clone(),
                vec![("send", String::new()), ("service_ids", filter.clone())],
            ),
        ] {
            let mut form = form;
            form.retain(|(k, _)| *k != "csrf");
            form.push(("csrf", ocsrf.clone()));
            let r = post(&oc, path.clone(), form).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(
            t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await.1,
            before,
            "nothing changed"
        );
    }
);

// A manager sets the workflow from the settings page, through the same
// use case as the API: each problem named on the page with nothing saved,
// then every field saved as typed; a shop without repair orders has no
// such form, and its post is refused.
both_backends!(the_settings_page_sets_the_workflow, async |t: &TestApp| {
    use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
    let (_, owner) = t.shop("wf-spage", "pro").await;
    let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
    let in_bay = statuses["items"][1]["id"].as_str().unwrap().to_owned();
    let c = browser();
    sign_in(t, &c, "owner@wf-spage.test").await;
    let (s, html) = page(t, &c, "/app/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-testid=\"workflow-settings\""), "{html}");
    assert!(html.contains("name=\"stage_in_work\""), "{html}");
    let csrf = csrf_of(&html);
    let post = |form: Vec<(&'static str, String)>| {
        let (c, url) = (c.clone(), t.url("/app/settings/workflow"));
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    let stored = async || t.get("/api/v1/workflow-settings", &owner).await.1;
    let before = stored().await;
    for (form, named) in [
        (
            vec![("qualification_minutes", "soon".to_owned())],
            "qualification minutes: must be a whole number of minutes",
        ),
        (
            vec![("parts_minutes", "0".to_owned())],
            "parts minutes: must be from 1 to 10080 minutes",
        ),
        (
            vec![("stage_in_work", "not-a-status".to_owned())],
            "is not a status of this shop",
        ),
    ] {
        let mut form = form;
        form.push(("csrf", csrf.clone()));
        form.push(("handoff_emails", "on".to_owned()));
        let r = post(form).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{named}");
        let text = r.text().await.unwrap();
        assert!(text.contains(named), "{named}: {text}");
    }
    assert_eq!(stored().await, before, "nothing saved");

    let r = post(vec![
        ("csrf", csrf.clone()),
        ("qualification_minutes", "45".into()),
        ("parts_minutes", "".into()),
        ("approval_reminder_minutes", "120".into()),
        ("stage_in_work", in_bay.clone()),
        ("stage_completed", "".into()),
        ("handoff_emails", "on".into()),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        stored().await,
        json!({"qualification_minutes": 45, "parts_minutes": null,
                   "approval_reminder_minutes": 120, "stage_statuses": {"in_work": in_bay},
                   "handoff_emails": true})
    );
    let (_, html) = page(t, &c, "/app/settings").await;
    assert!(html.contains("value=\"45\""), "{html}");
    assert!(
        html.contains(&format!("<option value=\"{in_bay}\" selected>")),
        "{html}"
    );

    // Without the feature: no form, and a post is refused.
    t.shop("wf-spage-starter", "starter").await;
    let sc = browser();
    sign_in(t, &sc, "owner@wf-spage-starter.test").await;
    let (_, html) = page(t, &sc, "/app/settings").await;
    assert!(
        !html.contains("data-testid=\"workflow-settings\""),
        "{html}"
    );
    let r = sc
        .post(t.url("/app/settings/workflow"))
        .form(&[
            ("csrf", csrf_of(&html)),
            ("handoff_emails", "on".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
});

/// The hand-off e-mails written for the shop: (to, subject), sorted.
async fn handoff_mails(t: &TestApp, shop: pitwall_core::domain::ShopId) -> Vec<(String, String)> {
    use pitwall_store::entities::email;
    use pitwall_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut out: Vec<(String, String)> = email::Entity::find()
        .filter(email::Column::ShopId.eq(shop.as_uuid()))
        .filter(email::Column::Kind.eq("handoff"))
        .all(&t.db)
        .await
        .expect("emails")
        .into_iter()
        .map(|e| (e.to_address, e.subject))
        .collect();
    out.sort();
    out
}

// With `handoff_emails` on, each hand-off e-mails the people whose work it
// is by the shop's policy: findings to qualify, approved work (its
// technician's alone once assigned), parts when a position waits on them.
// The person who moved the ticket gets none; neither does anyone whose
// role has no part in it; and a shop that did not ask gets none at all.
both_backends!(
    hand_offs_email_the_people_they_concern,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("wf-mail", "pro").await;
        let (_, advisor) = t.member(shop, "adv@wf-mail.test", Role::Advisor).await;
        t.member(shop, "parts@wf-mail.test", Role::Parts).await;
        let (tech1, _) = t.member(shop, "tech1@wf-mail.test", Role::Technician).await;
        t.member(shop, "tech2@wf-mail.test", Role::Technician).await;
        t.member(shop, "viewer@wf-mail.test", Role::Viewer).await;
        let owner_email = "owner@wf-mail.test".to_owned();

        // Off by default: a move e-mails nobody.
        let quiet = pushed(t, &owner, "M-0").await;
        let (s, b) = put_stage(t, &owner, &quiet, json!({"stage": "qualification"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(handoff_mails(t, shop).await.is_empty());

        // A bad value is named, and nothing is saved.
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/workflow-settings",
                Some(&owner),
                Some(json!({"handoff_emails": "yes please"})),
            )
            .await;
        assert!(s.is_client_error(), "{s}: {b}");
        assert!(b.to_string().contains("handoff_emails"), "{b}");
        assert_eq!(
            t.get("/api/v1/workflow-settings", &owner).await.1["handoff_emails"],
            false
        );
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/workflow-settings",
                Some(&owner),
                Some(json!({"handoff_emails": true})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["handoff_emails"], true);

        // Into qualification, moved by the owner: the advisor qualifies.
        let ticket = pushed(t, &owner, "M-1").await;
        let (s, b) = put_stage(t, &owner, &ticket, json!({"stage": "qualification"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let mails = handoff_mails(t, shop).await;
        let to: Vec<&str> = mails.iter().map(|(to, _)| to.as_str()).collect();
        assert_eq!(to, ["adv@wf-mail.test"], "{mails:?}");
        assert_eq!(
            mails[0].1, "Shop wf-mail: ticket M-1 waits for you",
            "{mails:?}"
        );

        // Approved by the advisor, no technician assigned, a position
        // waiting on parts: every technician, the owner (who may do
        // anything), and parts; not the advisor who recorded it.
        let [brakes, wipers] = two_services(t, &owner, &ticket).await;
        let (s, b) = patch(t, &advisor, &ticket, &brakes, json!({"parts_needed": true})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let before = handoff_mails(t, shop).await.len();
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/approvals"),
                &advisor,
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["stage"], "in_work");
        let mails = handoff_mails(t, shop).await;
        assert_eq!(mails.len(), before + 4, "{mails:?}");
        let mut to: Vec<&str> = mails.iter().map(|(to, _)| to.as_str()).collect();
        to.dedup();
        let mut expected = vec![
            "adv@wf-mail.test",
            owner_email.as_str(),
            "parts@wf-mail.test",
            "tech1@wf-mail.test",
            "tech2@wf-mail.test",
        ];
        expected.sort();
        assert_eq!(to, expected, "{mails:?}");

        // Assigned to one technician: only they hear of the approved work.
        let other = pushed(t, &owner, "M-2").await;
        assign(t, &owner, &other, tech1).await;
        let [first, second] = two_services(t, &owner, &other).await;
        let before = handoff_mails(t, shop).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{other}/approvals"),
                &advisor,
                json!({"approved_service_ids": [first, second], "declined_service_ids": [], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let after = handoff_mails(t, shop).await;
        let new: Vec<&(String, String)> = after.iter().filter(|m| !before.contains(m)).collect();
        assert_eq!(
            new,
            [&(
                "tech1@wf-mail.test".to_owned(),
                "Shop wf-mail: ticket M-2 waits for you".to_owned()
            )]
        );
        assert!(
            !after.iter().any(|(to, _)| to == "viewer@wf-mail.test"),
            "{after:?}"
        );
    }
);

both_backends!(
    an_extension_goes_to_the_customer_who_decides_again,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("extension", "premium").await;
        let (_, advisor) = t.member(shop, "adv@extension.test", Role::Advisor).await;
        let (_, parts) = t.member(shop, "parts@extension.test", Role::Parts).await;
        let ticket = pushed(t, &owner, "X-1").await;
        let [brakes, wipers] = two_services(t, &owner, &ticket).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/approvals"),
                &advisor,
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["stage"], "in_work");
        // A staff-recorded approval confirms to the customer too.
        let confirmations = messages_of(t, &owner, &ticket, "confirmation").await;
        assert_eq!(confirmations.len(), 1, "{confirmations:?}");
        assert_eq!(confirmations[0]["channel"], "sms");
        assert!(
            confirmations[0]["body"]
                .as_str()
                .unwrap()
                .contains("confirms the work you approved"),
            "{confirmations:?}"
        );
        // The customer's page as it was before the new finding.
        let (_, issued) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                &advisor,
                json!({}),
            )
            .await;
        let token = issued["url"]
            .as_str()
            .unwrap()
            .rsplit("/c/")
            .next()
            .unwrap()
            .to_owned();
        let customer_view = || async {
            let (s, v) = t
                .call(
                    "GET",
                    &format!("/api/customer/v1/links/{token}"),
                    None,
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v
        };
        let old = customer_view().await;

        // Work found later: a new position, sent as an extension.
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/services"),
                &advisor,
                json!({"title": "Torn CV boot", "customer_note": "Grease is leaking",
                       "line_items": [{"kind": "labor", "description": "Replace boot", "quantity": 1, "unit_price": 9000, "taxable": true}]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let boot = b["service_id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/tickets/{ticket}/extensions");
        for (body, field) in [
            (json!({"service_ids": []}), "service_ids"),
            (json!({"service_ids": [brakes]}), "service_ids/0"),
            (
                json!({"service_ids": [boot, "00000000-0000-7000-8000-000000000000"]}),
                "service_ids/1",
            ),
            (json!({"service_ids": [boot], "send": "fax"}), "send"),
            (json!({"service_ids": "all"}), "service_ids"),
        ] {
            let (s, b) = t.post(&path, &advisor, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
            assert_eq!(b["field"], field, "{body}: {b}");
        }
        let (s, b) = t.post(&path, &parts, json!({"service_ids": [boot]})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        let (_, stranger) = t.shop("extension-other", "premium").await;
        let (s, _) = t
            .post(&path, &stranger, json!({"service_ids": [boot]}))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(
            stage_of(t, &owner, &ticket).await,
            "in_work",
            "refusals moved nothing"
        );

        let (s, b) = t
            .post(
                &path,
                &advisor,
                json!({"service_ids": [boot], "send": "email"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["ticket"]["stage"], "awaiting_approval");
        assert!(b["link_url"].as_str().unwrap().contains("/c/pwc_"), "{b}");
        assert!(b["message_id"].is_string(), "{b}");
        assert_eq!(service(&b["ticket"], &boot)["ready"], true);
        let (_, d) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let sent: Vec<&Value> = d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "extension")
            .collect();
        assert_eq!(sent.len(), 1, "{d}");
        assert!(
            sent[0]["body"].as_str().unwrap().contains("found more"),
            "{d}"
        );
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
            .await;
        assert!(
            tl["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "extension_sent")
        );

        // A decision on the page as it was before is refused; on the page
        // as it is now, it sends the work back to the workshop.
        let (s, b) = t
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/approval"),
                None,
                Some(
                    json!({"approved_service_ids": [boot], "declined_service_ids": [],
                            "signer_name": "Ana Lopez", "signature": SIGNATURE,
                            "ticket_version": old["ticket_version"]}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["code"], "ticket_changed");
        let now = customer_view().await;
        let statuses: Vec<(String, String)> = now["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["title"].as_str().unwrap().to_owned(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            statuses.contains(&("Brake pads".into(), "approved".into())),
            "{statuses:?}"
        );
        assert!(
            statuses.contains(&("Wipers".into(), "declined".into())),
            "{statuses:?}"
        );
        assert!(
            statuses.contains(&("Torn CV boot".into(), "recommended".into())),
            "{statuses:?}"
        );
        // The page asks for the extension as such, after the earlier
        // decision.
        let (st, html) = pitwall_testkit::pages::page(t, &t.client, &format!("/c/{token}")).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("data-testid=\"extension-heading\""), "{html}");
        assert!(html.contains("Approve the additional work"), "{html}");
        let shown = now["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == boot.as_str())
            .cloned()
            .unwrap();
        assert_eq!(
            shown["note"], "Grease is leaking",
            "the advisor's words reach the customer"
        );
        assert!(shown["awaiting_decision"].as_bool().unwrap());
        let (_, _, page) = t.fetch(&format!("/c/{token}"), None, &[]).await;
        let page = String::from_utf8_lossy(&page);
        assert!(page.contains("Grease is leaking"), "{page}");
        let (s, b) = t
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/approval"),
                None,
                Some(
                    json!({"approved_service_ids": [boot], "declined_service_ids": [],
                            "signer_name": "Ana Lopez", "signature": SIGNATURE,
                            "ticket_version": now["ticket_version"]}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(stage_of(t, &owner, &ticket).await, "in_work");
        let confirmations = messages_of(t, &owner, &ticket, "confirmation").await;
        assert_eq!(
            confirmations.len(),
            2,
            "one per approval: {confirmations:?}"
        );
        assert!(
            confirmations[1]["body"]
                .as_str()
                .unwrap()
                .contains("Torn CV boot"),
            "{confirmations:?}"
        );
        let (s, b) = t
            .post(&path, &advisor, json!({"service_ids": [boot]}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "decided now: {b}");
        assert_eq!(b["field"], "service_ids/0");
    }
);

both_backends!(
    an_unanswered_approval_request_gets_one_reminder,
    async |t: &TestApp| {
        let (_, owner) = t.shop("reminders", "pro").await;
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/workflow-settings",
                Some(&owner),
                Some(json!({"approval_reminder_minutes": 30})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let ticket = pushed(t, &owner, "RM-1").await;
        let (_, quiet) = t.shop("reminders-none", "pro").await;
        let unreminded = pushed(t, &quiet, "RM-2").await;
        for (token, id) in [(&owner, &ticket), (&quiet, &unreminded)] {
            for to in ["qualification", "awaiting_approval"] {
                let (s, b) = put_stage(t, token, id, json!({"stage": to})).await;
                assert_eq!(s, StatusCode::OK, "{b}");
            }
        }
        let due = |minutes: i64| {
            pitwall_core::workflow::send_due_reminders(
                &t.app,
                chrono::Utc::now() + chrono::Duration::minutes(minutes),
            )
        };
        assert_eq!(due(0).await.unwrap(), 0, "not yet due");
        assert_eq!(due(31).await.unwrap(), 1);
        assert_eq!(due(31).await.unwrap(), 0, "one reminder per request");
        assert_eq!(due(600).await.unwrap(), 0);
        let reminded = messages_of(t, &owner, &ticket, "reminder").await;
        assert_eq!(reminded.len(), 1, "{reminded:?}");
        assert_eq!(reminded[0]["channel"], "sms");
        assert!(
            messages_of(t, &quiet, &unreminded, "reminder")
                .await
                .is_empty()
        );

        // A new request (the customer decided, an extension went out) gets
        // its own reminder.
        for to in ["in_work", "qualification", "awaiting_approval"] {
            let (s, b) = put_stage(t, &owner, &ticket, json!({"stage": to})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        assert_eq!(due(31).await.unwrap(), 1);
        assert_eq!(messages_of(t, &owner, &ticket, "reminder").await.len(), 2);
        // Answered (moved on): nothing more.
        let (s, _) = put_stage(t, &owner, &ticket, json!({"stage": "in_work"})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(due(600).await.unwrap(), 0);
    }
);

/// One staff member's live stream, read event by event.
struct Heard {
    stream: reqwest::Response,
    buffer: String,
}

impl Heard {
    async fn open(t: &TestApp, token: &str, path: &str) -> Heard {
        let stream = t
            .client
            .get(t.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("stream");
        assert_eq!(stream.status(), StatusCode::OK);
        Heard {
            stream,
            buffer: String::new(),
        }
    }

    /// Every event up to and including the first about `ticket` (a later
    /// change used as a marker: what a move announced comes before it),
    /// of `kind` when given (a ticket that existed before the stream was
    /// opened may still have its creation's events on the way).
    async fn until(&mut self, ticket: &str, kind: Option<&str>) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut events = Vec::new();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                for line in block.lines() {
                    if let Some(data) = line.strip_prefix("data: ") {
                        let e: Value = serde_json::from_str(data).expect("event json");
                        let done = e["ticket_id"] == ticket && kind.is_none_or(|k| e["kind"] == k);
                        events.push(e);
                        if done {
                            return events;
                        }
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event about {ticket} within 10 s: {events:?}"))
                .expect("read")
                .expect("stream open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The hand-offs among what was heard up to the marker.
    async fn handoffs_until(&mut self, marker: &str) -> Vec<Value> {
        self.handoffs_until_kind(marker, None).await
    }

    async fn handoffs_until_kind(&mut self, marker: &str, kind: Option<&str>) -> Vec<Value> {
        self.until(marker, kind)
            .await
            .into_iter()
            .filter(|e| e["kind"] == "handoff")
            .collect()
    }
}

// Each hand-off is a live event for the people it concerns and nobody
// else, whatever screen they have open (the dashboard feed or another
// ticket's page), naming the ticket and their queues; the person who made
// the move hears none. E-mails stay off: the events do not depend on them.
both_backends!(
    hand_offs_are_heard_live_by_the_people_they_concern_alone,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("wf-live", "pro").await;
        let (_, advisor) = t.member(shop, "adv@wf-live.test", Role::Advisor).await;
        let (_, parts) = t.member(shop, "parts@wf-live.test", Role::Parts).await;
        let (tech1_id, tech1) = t.member(shop, "tech1@wf-live.test", Role::Technician).await;
        let (_, tech2) = t.member(shop, "tech2@wf-live.test", Role::Technician).await;
        let (_, viewer) = t.member(shop, "viewer@wf-live.test", Role::Viewer).await;
        let ticket = pushed(t, &owner, "H-1").await;
        let elsewhere = pushed(t, &owner, "H-0").await;

        let mut adv = Heard::open(t, &advisor, "/api/v1/events").await;
        let mut par = Heard::open(t, &parts, "/api/v1/events").await;
        // The first technician has another ticket's page open.
        let mut t1 = Heard::open(t, &tech1, &format!("/api/v1/events?ticket_id={elsewhere}")).await;
        let mut t2 = Heard::open(t, &tech2, "/api/v1/events").await;
        let mut view = Heard::open(t, &viewer, "/api/v1/events").await;
        // On PostgreSQL the listener needs a moment to LISTEN after start.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;

        // Into qualification, moved by the owner: the advisor's to qualify.
        let (s, b) = put_stage(t, &owner, &ticket, json!({"stage": "qualification"})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let marker = pushed(t, &owner, "H-M1").await;
        let heard = adv.handoffs_until(&marker).await;
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert_eq!(heard[0]["ticket_id"], ticket.as_str());
        assert_eq!(heard[0]["ticket_number"], "H-1");
        assert_eq!(heard[0]["queues"], json!(["qualification"]));
        for (who, stream) in [
            ("parts", &mut par),
            ("viewer", &mut view),
            ("tech2", &mut t2),
        ] {
            let heard = stream.handoffs_until(&marker).await;
            assert!(heard.is_empty(), "{who} heard {heard:?}");
        }
        // The ticket page of another ticket hears no one else's changes,
        // so the marker is not heard there: the next check covers tech1.

        // Assigned to the first technician, a position waiting on parts,
        // approved by the advisor: the technician's to complete and parts'
        // to order; not the second technician's, not the advisor's (who
        // made the move).
        assign(t, &owner, &ticket, tech1_id).await;
        let [brakes, wipers] = two_services(t, &owner, &ticket).await;
        let (s, b) = patch(t, &advisor, &ticket, &brakes, json!({"parts_needed": true})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/approvals"),
                &advisor,
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["stage"], "in_work");
        // A change of the ticket tech1's page shows marks the end there.
        let (s, b) = put_stage(
            t,
            &owner,
            &elsewhere,
            json!({"stage": "canceled", "reason": "marker"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let marker = pushed(t, &owner, "H-M2").await;

        // The marker is the stage change: under load the events of
        // `elsewhere`'s creation may reach this stream after it opened.
        let heard = t1
            .handoffs_until_kind(&elsewhere, Some("stage_changed"))
            .await;
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert_eq!(heard[0]["ticket_id"], ticket.as_str());
        assert_eq!(heard[0]["queues"], json!(["completion"]));
        let heard = par.handoffs_until(&marker).await;
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert_eq!(heard[0]["queues"], json!(["parts"]));
        for (who, stream) in [
            ("advisor", &mut adv),
            ("viewer", &mut view),
            ("tech2", &mut t2),
        ] {
            let heard = stream.handoffs_until(&marker).await;
            assert!(heard.is_empty(), "{who} heard {heard:?}");
        }
        // Nothing was e-mailed: the shop did not ask.
        assert!(handoff_mails(t, shop).await.is_empty());
    }
);
