//! Inspection sheets end to end on both databases: the multi-point sheet
//! every shop starts with, create/edit/delete, import and export (JSON and
//! CSV, round trips), bad input named by row and field with nothing
//! written, the plan gate, permissions and other shops' ids.

use pitwall_core::domain::Role;
use pitwall_testkit::{Backend, Options, StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

const BASE: &str = "/api/v1/inspection-templates";

/// The shop's one sheet at the start: the built-in multi-point one.
async fn multipoint(t: &TestApp, token: &str) -> String {
    let (s, list) = t.get(BASE, token).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["name"], "Multi-point inspection");
    assert!(items[0]["item_count"].as_i64().unwrap() >= 28, "{list}");
    items[0]["id"].as_str().unwrap().to_owned()
}

async fn export(t: &TestApp, token: &str, id: &str, format: &str) -> (StatusCode, String, String) {
    let r = t
        .client
        .get(t.url(&format!("{BASE}/{id}/export?format={format}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, r.text().await.unwrap())
}

fn fields(b: &Value) -> Vec<String> {
    b["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|p| p["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

both_backends!(
    sheets_export_and_import_round_trip_in_json_and_csv,
    async |t: &TestApp| {
        let (_, owner) = t.shop("sheets-shop", "premium").await;
        let id = multipoint(t, &owner).await;
        let (s, sheet) = t.get(&format!("{BASE}/{id}"), &owner).await;
        assert_eq!(s, StatusCode::OK, "{sheet}");
        let first = &sheet["sections"][0]["items"][0];
        assert_eq!(first["key"], "oil_level");
        assert_eq!(first["kind"], "condition");
        assert!(first["service"]["line_items"].as_array().unwrap().len() >= 2);

        for format in ["json", "csv"] {
            let (s, kind, file) = export(t, &owner, &id, format).await;
            assert_eq!(s, StatusCode::OK, "{file}");
            assert!(
                kind.starts_with(if format == "json" {
                    "application/json"
                } else {
                    "text/csv"
                }),
                "{kind}"
            );
            let (s, made) = t
                .post(
                    &format!("{BASE}/import"),
                    &owner,
                    json!({"format": format, "content": file, "name": if format == "csv" { Some("Multi-point inspection") } else { None }}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{format}: {made}");
            assert_eq!(made["name"], "Multi-point inspection");
            assert_eq!(made["sections"], sheet["sections"], "{format}");
            let copy = made["id"].as_str().unwrap();
            let (_, _, again) = export(t, &owner, copy, format).await;
            assert_eq!(
                again, file,
                "{format}: export, import, export gives the same file"
            );
        }
        let (_, list) = t.get(BASE, &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 3);
    }
);

both_backends!(
    bad_sheets_are_named_by_row_and_field_and_change_nothing,
    async |t: &TestApp| {
        let (_, owner) = t.shop("bad-sheets", "premium").await;
        let id = multipoint(t, &owner).await;
        let (_, _, csv) = export(t, &owner, &id, "csv").await;
        let rows = csv.lines().count();
        let bad_csv = format!(
            "{csv}Extra,rear_wiper,Rear wiper,colour,,never,,,\nExtra,oil_level,Again,condition,,sometimes,,,\n"
        );
        let (s, b) = t
            .post(
                &format!("{BASE}/import"),
                &owner,
                json!({"format": "csv", "content": bad_csv}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let named = fields(&b);
        assert!(
            named.contains(&format!("content/rows/{}/kind", rows + 1)),
            "{b}"
        );
        assert!(
            named.contains(&format!("content/rows/{}/photo", rows + 2)),
            "{b}"
        );

        let mut cases: Vec<(Value, &str)> = vec![
            (json!({"format": "xml", "content": "x"}), "format"),
            (
                json!({"format": "json", "content": "{\"sections\": 3}"}),
                "content",
            ),
            (
                json!({"format": "csv", "content": "name,label\nx,y\n"}),
                "content/rows/1",
            ),
        ];
        let (_, sheet) = t.get(&format!("{BASE}/{id}"), &owner).await;
        let mut dup = sheet.clone();
        dup["sections"][1]["items"][0]["key"] = json!("oil_level");
        dup["sections"][0]["items"][1]["kind"] = json!("colour");
        dup["sections"][0]["items"][2]["unit"] = json!("mm");
        dup["sections"][0]["items"][0]["service"]["line_items"][0]["quantity"] = json!(0);
        let body = json!({"name": "Dup", "sections": dup["sections"]});
        let (s, b) = t.post(BASE, &owner, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(
            fields(&b),
            vec!["sections/0/items/1/kind".to_owned()],
            "{b}"
        );
        dup["sections"][0]["items"][1]["kind"] = json!("condition");
        let (s, b) = t
            .post(
                BASE,
                &owner,
                json!({"name": "Dup", "sections": dup["sections"]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let named = fields(&b);
        for f in [
            "sections/1/items/0/key",
            "sections/0/items/2/unit",
            "sections/0/items/0/service/line_items/0/quantity",
        ] {
            assert!(named.contains(&f.to_owned()), "{f}: {b}");
        }
        cases.push((json!({"name": " ", "sections": sheet["sections"]}), "name"));
        cases.push((json!({"name": "Empty", "sections": []}), "sections"));
        for (body, field) in cases {
            let path = if body.get("format").is_some() {
                format!("{BASE}/import")
            } else {
                BASE.to_owned()
            };
            let (s, b) = t.post(&path, &owner, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
            assert_eq!(b["field"], field, "{body}: {b}");
        }
        let (s, _, b) = export(t, &owner, &id, "pdf").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        // Nothing was written by any of it.
        let (_, list) = t.get(BASE, &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        let (_, same) = t.get(&format!("{BASE}/{id}"), &owner).await;
        assert_eq!(same, sheet);
    }
);

both_backends!(
    sheets_are_edited_and_deleted_by_those_who_set_up_inspections,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("edit-sheets", "premium").await;
        let id = multipoint(t, &owner).await;
        let (_, sheet) = t.get(&format!("{BASE}/{id}"), &owner).await;
        let mut sections = sheet["sections"].clone();
        sections[0]["items"][0]["label"] = json!("Oil");
        let (s, b) = t
            .call(
                "PUT",
                &format!("{BASE}/{id}"),
                Some(&owner),
                Some(json!({"name": "Quick check", "sections": sections})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["name"], "Quick check");
        assert_eq!(b["version"], 2);
        assert_eq!(b["sections"][0]["items"][0]["label"], "Oil");

        // Technicians read sheets (they start inspections) but do not edit
        // them; advisors neither edit nor export.
        let (_, tech) = t
            .member(shop, "tech@edit-sheets.test", Role::Technician)
            .await;
        let (_, advisor) = t.member(shop, "adv@edit-sheets.test", Role::Advisor).await;
        assert_eq!(
            t.get(&format!("{BASE}/{id}"), &tech).await.0,
            StatusCode::OK
        );
        for token in [&tech, &advisor] {
            let (s, b) = t
                .call(
                    "PUT",
                    &format!("{BASE}/{id}"),
                    Some(token),
                    Some(json!({"name": "Mine", "sections": sections})),
                )
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
            assert_eq!(b["permission"], "inspections.setup");
            let (s, _, _) = export(t, token, &id, "json").await;
            assert_eq!(s, StatusCode::FORBIDDEN);
            let (s, b) = t
                .call("DELETE", &format!("{BASE}/{id}"), Some(token), None)
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        }
        let (s, _) = t
            .call("DELETE", &format!("{BASE}/{id}"), Some(&owner), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            t.get(&format!("{BASE}/{id}"), &owner).await.0,
            StatusCode::NOT_FOUND
        );
        let (_, list) = t.get(BASE, &owner).await;
        assert_eq!(list["items"], json!([]));
    }
);

both_backends!(
    sheets_need_the_plan_and_stay_in_their_shop,
    async |t: &TestApp| {
        let (_, pro) = t.shop("pro-sheets", "pro").await;
        let (s, b) = t.get(BASE, &pro).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "feature_not_in_plan");
        assert_eq!(b["feature"], "inspections");

        let (_, a) = t.shop("sheets-a", "premium").await;
        let (_, b_owner) = t.shop("sheets-b", "premium").await;
        let id = multipoint(t, &a).await;
        let (_, sheet) = t.get(&format!("{BASE}/{id}"), &a).await;
        let path = format!("{BASE}/{id}");
        assert_eq!(t.get(&path, &b_owner).await.0, StatusCode::NOT_FOUND);
        let (s, _) = t
            .call(
                "PUT",
                &path,
                Some(&b_owner),
                Some(json!({"name": "Taken", "sections": sheet["sections"]})),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(
            t.call("DELETE", &path, Some(&b_owner), None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            export(t, &b_owner, &id, "csv").await.0,
            StatusCode::NOT_FOUND
        );
        let (_, same) = t.get(&path, &a).await;
        assert_eq!(same, sheet, "another shop changed nothing");
    }
);

both_backends!(
    sheet_pages_list_import_edit_and_export,
    async |t: &TestApp| {
        use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
        let (shop, owner) = t.shop("sheet-pages", "premium").await;
        let id = multipoint(t, &owner).await;
        let c = browser();
        sign_in(t, &c, "owner@sheet-pages.test").await;
        let (s, html) = page(t, &c, "/app/inspection-sheets").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("Multi-point inspection")
                && html.contains("data-testid=\"nav-inspection-sheets\""),
            "{html}"
        );
        let csrf = csrf_of(&html);

        // Edit: the CSV as a spreadsheet shows it; a bad row is named and
        // nothing changes; a good edit is saved.
        let (_, html) = page(t, &c, &format!("/app/inspection-sheets/{id}")).await;
        let (_, _, csv) = export(t, &owner, &id, "csv").await;
        let post = |path: String, form: Vec<(&'static str, String)>| {
            let c = c.clone();
            async move { c.post(t.url(&path)).form(&form).send().await.unwrap() }
        };
        assert!(html.contains("oil_level"), "{html}");
        let bad = csv.replacen(",condition,", ",colour,", 1);
        let r = post(
            format!("/app/inspection-sheets/{id}"),
            vec![
                ("csrf", csrf.clone()),
                ("name", "Quick".into()),
                ("content", bad),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("content rows 2 kind: must be condition"),
            "{html}"
        );
        let (_, same) = t.get(&format!("{BASE}/{id}"), &owner).await;
        assert_eq!(same["name"], "Multi-point inspection");
        let good = csv.replacen("Engine oil level and condition", "Oil", 1);
        let r = post(
            format!("/app/inspection-sheets/{id}"),
            vec![
                ("csrf", csrf.clone()),
                ("name", "Quick".into()),
                ("content", good),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, saved) = t.get(&format!("{BASE}/{id}"), &owner).await;
        assert_eq!(saved["name"], "Quick");
        assert_eq!(saved["sections"][0]["items"][0]["label"], "Oil");

        // Download, then import the file as a new sheet.
        let r = c
            .get(t.url(&format!("/app/inspection-sheets/{id}/export?format=csv")))
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        let file = r.text().await.unwrap();
        let r = post(
            "/app/inspection-sheets/import".into(),
            vec![
                ("csrf", csrf.clone()),
                ("name", "Copy".into()),
                ("format", "csv".into()),
                ("content", file),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, list) = t.get(BASE, &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");

        // A technician sees no sheet editor in the navigation and cannot
        // post one; without the CSRF token nothing happens either.
        t.member(shop, "tech@sheet-pages.test", Role::Technician)
            .await;
        let tc = browser();
        sign_in(t, &tc, "tech@sheet-pages.test").await;
        let (_, html) = page(t, &tc, "/app/dashboard").await;
        assert!(!html.contains("nav-inspection-sheets"));
        let (_, html) = page(t, &tc, &format!("/app/inspection-sheets/{id}")).await;
        assert!(!html.contains("data-testid=\"sheet-edit\""));
        let r = post(
            format!("/app/inspection-sheets/{id}/delete"),
            vec![("name", "x".into())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = post(
            format!("/app/inspection-sheets/{id}/delete"),
            vec![("csrf", csrf)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            t.get(&format!("{BASE}/{id}"), &owner).await.0,
            StatusCode::NOT_FOUND
        );
    }
);

// ---- inspecting ----------------------------------------------------------

/// A small sheet: a condition item with a default service, a tire item
/// that needs a photo on attention, a measurement and a text item.
fn quick_sheet(name: &str) -> Value {
    json!({"name": name, "sections": [
        {"name": "Under the hood", "items": [
            {"key": "oil", "label": "Engine oil", "kind": "condition", "photo": "never",
             "explanation": "Oil keeps the engine alive",
             "service": {"title": "Oil change", "line_items": [
                 {"kind": "labor", "description": "Change oil", "quantity": 0.5, "unit_price": 9000, "taxable": true},
                 {"kind": "part", "description": "Oil 5 qt", "quantity": 1, "unit_price": 3000, "taxable": false}]}},
            {"key": "battery", "label": "Battery", "kind": "measurement", "unit": "V", "photo": "never"}]},
        {"name": "Wheels", "items": [
            {"key": "tread", "label": "Tread depth", "kind": "tire", "photo": "on_attention"},
            {"key": "remarks", "label": "Remarks", "kind": "text", "photo": "never"}]}
    ]})
}

/// A ticket pushed by the POS with one service; the POS key and the ticket id.
async fn pushed_ticket(t: &TestApp, owner: &str, ext: &str) -> (String, String) {
    let (s, key) = t
        .post("/api/v1/api-keys", owner, json!({"name": "POS"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    let key = key["secret"].as_str().unwrap().to_owned();
    let (s, pushed) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{ext}"),
            Some(&key),
            Some(pos_body("2026-01-01T00:00:00Z")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    (key, pushed["ticket"]["id"].as_str().unwrap().to_owned())
}

fn pos_body(at: &str) -> Value {
    json!({
        "kind": "workorder", "number": "W-1", "pos_updated_at": at,
        "customer": {"external_id": "c1", "first_name": "Ana", "last_name": "Lopez", "phone": "(512) 555-0142", "email": "ana@example.test"},
        "services": [{"external_id": "s1", "title": "Brakes", "status": "pending",
            "line_items": [{"kind": "labor", "description": "Pads", "quantity": 1, "unit_price": 10000, "taxable": true}]}],
    })
}

async fn start(t: &TestApp, owner: &str, ticket: &str) -> (String, Value) {
    let (s, sheet) = t.post(BASE, owner, quick_sheet("Quick")).await;
    assert_eq!(s, StatusCode::CREATED, "{sheet}");
    let template = sheet["id"].as_str().unwrap().to_owned();
    let (s, insp) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/inspections"),
            owner,
            json!({"template_id": template}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    (template, insp)
}

async fn put_finding(
    t: &TestApp,
    token: &str,
    insp: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    t.call(
        "PUT",
        &format!("/api/v1/inspections/{insp}/findings/{key}"),
        Some(token),
        Some(body),
    )
    .await
}

both_backends!(
    an_inspection_keeps_its_sheet_and_each_finding_is_its_own,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("insp-start", "premium").await;
        let (_, ticket) = pushed_ticket(t, &owner, "t1").await;
        let (template, insp) = start(t, &owner, &ticket).await;
        let id = insp["id"].as_str().unwrap().to_owned();
        assert_eq!(insp["status"], "in_progress");
        assert_eq!(insp["ticket_id"], ticket.as_str());
        let keys: Vec<&str> = insp["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["item_key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["oil", "battery", "tread", "remarks"]);
        let oil = &insp["findings"][0];
        assert_eq!(oil["condition"], "not_checked");
        assert_eq!(oil["section"], "Under the hood");
        assert_eq!(oil["media"], json!([]));
        assert_eq!(insp["findings"][1]["unit"], "V");

        // Editing, then deleting, the sheet changes nothing here.
        let mut edited = quick_sheet("Renamed");
        edited["sections"][0]["items"][0]["label"] = json!("Changed label");
        edited["sections"].as_array_mut().unwrap().pop();
        let (s, _) = t
            .call(
                "PUT",
                &format!("{BASE}/{template}"),
                Some(&owner),
                Some(edited),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            t.call("DELETE", &format!("{BASE}/{template}"), Some(&owner), None)
                .await
                .0,
            StatusCode::OK
        );
        let (s, again) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(s, StatusCode::OK, "{again}");
        assert_eq!(again["findings"], insp["findings"]);
        assert_eq!(again["name"], "Quick");
        assert_eq!(again["template_id"], Value::Null);

        // Two devices, different findings: neither loses the other's work.
        let (_, tech_token) = t
            .member(shop, "tech@insp-start.test", Role::Technician)
            .await;
        let (s, a) = put_finding(t, &owner, &id, "oil", json!({"condition": "needs_attention", "note": "seeping", "customer_note": "Oil is low"})).await;
        assert_eq!(s, StatusCode::OK, "{a}");
        let (s, b) = put_finding(
            t,
            &tech_token,
            &id,
            "tread",
            json!({"condition": "good", "measurement": {"lf": 7, "rf": 6.5}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["findings"][0]["condition"], "needs_attention", "{b}");
        assert_eq!(b["findings"][0]["note"], "seeping");
        assert_eq!(
            b["findings"][2]["measurement"],
            json!({"lf": 7.0, "rf": 6.5})
        );
        assert!(b["version"].as_i64().unwrap() > insp["version"].as_i64().unwrap() + 1);

        // Bad input is named and changes nothing.
        for (key, body, field) in [
            (
                "battery",
                json!({"condition": "good", "measurement": "12"}),
                "measurement",
            ),
            (
                "tread",
                json!({"condition": "good", "measurement": {"lf": 5, "middle": 3}}),
                "measurement/middle",
            ),
            (
                "tread",
                json!({"condition": "good", "measurement": {"rr": -2}}),
                "measurement/rr",
            ),
            (
                "tread",
                json!({"condition": "good", "measurement": 5}),
                "measurement",
            ),
            (
                "remarks",
                json!({"condition": "good", "measurement": 1}),
                "measurement",
            ),
            ("oil", json!({"condition": "broken"}), "condition"),
            (
                "oil",
                json!({"condition": "good", "note": "x".repeat(2001)}),
                "note",
            ),
        ] {
            let (s, e) = put_finding(t, &owner, &id, key, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {e}");
            let named = fields(&e);
            assert!(
                named.contains(&field.to_owned()) || e["field"] == field,
                "{key}: {e}"
            );
        }
        let (s, _) =
            put_finding(t, &owner, &id, "no_such_item", json!({"condition": "good"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, after) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(after["findings"], b["findings"], "nothing changed");
        assert_eq!(after["version"], b["version"]);

        let (s, list) = t
            .get(&format!("/api/v1/tickets/{ticket}/inspections"), &owner)
            .await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(list["items"][0]["id"], id.as_str());
    }
);

both_backends!(
    findings_become_services_a_push_keeps_and_publishing_shows_the_customer,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("insp-flow", "premium").await;
        let (key, ticket) = pushed_ticket(t, &owner, "t1").await;
        let (_, insp) = start(t, &owner, &ticket).await;
        let id = insp["id"].as_str().unwrap().to_owned();
        let (_, tech) = t
            .member(shop, "tech@insp-flow.test", Role::Technician)
            .await;

        // The item's default service, priced like any other.
        let (s, made) = t
            .post(
                &format!("/api/v1/inspections/{id}/findings/oil/service"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{made}");
        let service = made["findings"][0]["service_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, tv) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let tv = if tv["ticket"].is_object() {
            tv["ticket"].clone()
        } else {
            tv
        };
        let svc = tv["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == service.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{tv}"));
        assert_eq!(svc["title"], "Oil change");
        assert_eq!(svc["status"], "recommended");
        assert_eq!(svc["subtotal"], 7500, "0.5 × 9000 + 3000");
        let (s, again) = t
            .post(
                &format!("/api/v1/inspections/{id}/findings/oil/service"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{again}");
        // No default: the body names what is missing; bad money is named.
        let (s, e) = t
            .post(
                &format!("/api/v1/inspections/{id}/findings/battery/service"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, e) = t.post(&format!("/api/v1/inspections/{id}/findings/battery/service"), &tech,
            json!({"title": "Battery", "line_items": [{"kind": "gift", "description": "", "quantity": 0, "unit_price": 1}]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let named = fields(&e);
        for f in [
            "line_items/0/kind",
            "line_items/0/description",
            "line_items/0/quantity",
        ] {
            assert!(named.contains(&f.to_owned()), "{f}: {e}");
        }

        // A later push without it keeps the Pitwall service and its lines.
        let (s, pushed) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/t1",
                Some(&key),
                Some(pos_body("2026-01-02T00:00:00Z")),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{pushed}");
        let kept = pushed["ticket"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == service.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("dropped: {pushed}"));
        assert_eq!(kept["line_items"].as_array().unwrap().len(), 2, "{kept}");

        // Submit: a tire rated urgent needs a photo, so it is refused.
        let (s, _) = put_finding(
            t,
            &tech,
            &id,
            "tread",
            json!({"condition": "urgent", "measurement": {"lf": 2}, "customer_note": "Worn"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, e) = t
            .post(
                &format!("/api/v1/inspections/{id}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(fields(&e), ["findings/tread/media"]);
        put_finding(
            t,
            &tech,
            &id,
            "tread",
            json!({"condition": "good", "measurement": {"lf": 7}}),
        )
        .await;
        put_finding(
            t,
            &tech,
            &id,
            "battery",
            json!({"condition": "urgent", "measurement": 11.2, "note": "internal only"}),
        )
        .await;
        let (s, sub) = t
            .post(
                &format!("/api/v1/inspections/{id}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{sub}");
        assert_eq!(sub["status"], "submitted");
        let (s, _) = put_finding(t, &tech, &id, "oil", json!({"condition": "good"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "submitted findings are frozen");

        // Technicians neither return nor publish.
        let (s, _) = t
            .post(
                &format!("/api/v1/inspections/{id}/publish"),
                &tech,
                json!({"send": null}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t
            .post(
                &format!("/api/v1/inspections/{id}/return"),
                &tech,
                json!({"reason": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, e) = t
            .post(
                &format!("/api/v1/inspections/{id}/return"),
                &owner,
                json!({"reason": " "}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (s, back) = t
            .post(
                &format!("/api/v1/inspections/{id}/return"),
                &owner,
                json!({"reason": "Measure the battery again"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{back}");
        assert_eq!(back["status"], "returned");
        assert_eq!(back["returned_reason"], "Measure the battery again");
        let (s, _) = t
            .post(
                &format!("/api/v1/inspections/{id}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // The customer sees nothing until it is published.
        let (_, link) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                &owner,
                json!({}),
            )
            .await;
        let token = link["url"]
            .as_str()
            .unwrap()
            .rsplit("/c/")
            .next()
            .unwrap()
            .to_owned();
        let (_, view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        assert_eq!(view["inspection"], Value::Null, "{view}");

        let (s, e) = t
            .post(
                &format!("/api/v1/inspections/{id}/publish"),
                &owner,
                json!({"send": "pigeon"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        // The shop's webhook hears of the publication.
        let (s, hook) = t
            .post(
                "/api/v1/webhooks",
                &owner,
                json!({"url": "http://127.0.0.1:9/inspections"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{hook}");
        let (s, p) = t
            .post(
                &format!("/api/v1/inspections/{id}/publish"),
                &owner,
                json!({"send": "email"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let (_, hooks) = t.get("/api/v1/webhooks", &owner).await;
        let deliveries = hooks["items"][0]["deliveries"].as_array().unwrap();
        assert!(
            deliveries
                .iter()
                .any(|d| d["event"] == "inspection_published"),
            "{hooks}"
        );
        assert_eq!(p["inspection"]["status"], "published");
        assert!(p["link_url"].as_str().unwrap().contains("/c/pwc_"), "{p}");
        assert!(p["message_id"].is_string(), "{p}");
        let (s, _) = t
            .post(
                &format!("/api/v1/inspections/{id}/publish"),
                &owner,
                json!({"send": null}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "published once");

        let (_, view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        let seen = &view["inspection"];
        let order: Vec<(&str, &str)> = seen["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["item_key"].as_str().unwrap(),
                    f["condition"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(order, [("battery", "urgent"), ("tread", "good")], "{seen}");
        assert_eq!(seen["findings"][0]["measurement"], json!(11.2));
        assert!(
            !view.to_string().contains("internal only"),
            "internal notes stay inside"
        );
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket}/timeline"), &owner)
            .await;
        let kinds = tl.to_string();
        for k in [
            "inspection_submitted",
            "inspection_returned",
            "inspection_published",
        ] {
            assert!(kinds.contains(k), "{k}: {tl}");
        }
        let (_, notes) = t.get("/api/pos/v1/notifications", &key).await;
        assert!(
            notes["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["kind"] == "inspection_published"),
            "{notes}"
        );
    }
);

both_backends!(
    inspections_need_the_plan_and_stay_in_their_shop,
    async |t: &TestApp| {
        let (_, pro) = t.shop("insp-pro", "pro").await;
        let (_, pro_ticket) = pushed_ticket(t, &pro, "p1").await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{pro_ticket}/inspections"),
                &pro,
                json!({"template_id": uuid::Uuid::nil()}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "feature_not_in_plan");

        let (_, a) = t.shop("insp-a", "premium").await;
        let (_, b_owner) = t.shop("insp-b", "premium").await;
        let (_, ticket) = pushed_ticket(t, &a, "a1").await;
        let (template, insp) = start(t, &a, &ticket).await;
        let id = insp["id"].as_str().unwrap();
        assert_eq!(
            t.get(&format!("/api/v1/inspections/{id}"), &b_owner)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            put_finding(t, &b_owner, id, "oil", json!({"condition": "urgent"}))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // B's ticket with A's sheet: the sheet is not B's.
        let (_, b_ticket) = pushed_ticket(t, &b_owner, "b1").await;
        let (s, e) = t
            .post(
                &format!("/api/v1/tickets/{b_ticket}/inspections"),
                &b_owner,
                json!({"template_id": template}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (_, same) = t.get(&format!("/api/v1/inspections/{id}"), &a).await;
        assert_eq!(same["findings"], insp["findings"]);
    }
);

/// A ticket for `vehicle` (the POS's vehicle id) pushed with `key`.
async fn ticket_for_vehicle(t: &TestApp, key: &str, ext: &str, vehicle: &str) -> String {
    let mut body = pos_body("2026-01-01T00:00:00Z");
    body["number"] = json!(ext);
    body["vehicle"] =
        json!({"external_id": vehicle, "year": 2018, "make": "Toyota", "model": "Corolla"});
    let (s, pushed) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{ext}"),
            Some(key),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    pushed["ticket"]["id"].as_str().unwrap().to_owned()
}

async fn start_with(t: &TestApp, token: &str, ticket: &str, template: &str) -> Value {
    let (s, insp) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/inspections"),
            token,
            json!({"template_id": template}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    insp
}

fn finding<'a>(insp: &'a Value, key: &str) -> &'a Value {
    insp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["item_key"] == key)
        .unwrap()
}

both_backends!(
    last_visits_readings_are_shown_beside_this_visits,
    async |t: &TestApp| {
        let (_, owner) = t.shop("insp-previous", "premium").await;
        let (key, _) = pushed_ticket(t, &owner, "first-visit-unused").await;
        let (s, sheet) = t.post(BASE, &owner, quick_sheet("Quick")).await;
        assert_eq!(s, StatusCode::CREATED, "{sheet}");
        let template = sheet["id"].as_str().unwrap().to_owned();

        // First visit: the battery reads 12.1 V and needs attention.
        let visit1 = ticket_for_vehicle(t, &key, "V1", "car-1").await;
        let first = start_with(t, &owner, &visit1, &template).await;
        let first_id = first["id"].as_str().unwrap().to_owned();
        for (item, body) in [
            (
                "battery",
                json!({"condition": "needs_attention", "measurement": 12.1}),
            ),
            ("oil", json!({"condition": "good"})),
        ] {
            let (s, b) = put_finding(t, &owner, &first_id, item, body).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }

        // Second visit of the same car, started while the first is still
        // being worked on: nothing finished to show yet.
        let visit2 = ticket_for_vehicle(t, &key, "V2", "car-1").await;
        let second = start_with(t, &owner, &visit2, &template).await;
        let second_id = second["id"].as_str().unwrap().to_owned();
        assert_eq!(
            finding(&second, "battery")["previous"],
            Value::Null,
            "{second}"
        );

        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{first_id}/submit"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, second) = t
            .get(&format!("/api/v1/inspections/{second_id}"), &owner)
            .await;
        assert_eq!(s, StatusCode::OK, "{second}");
        let battery = &finding(&second, "battery")["previous"];
        assert_eq!(battery["condition"], "needs_attention", "{second}");
        assert_eq!(battery["measurement"], json!(12.1));
        assert_eq!(battery["inspection_id"], first_id.as_str());
        assert!(battery["inspected_at"].is_string());
        assert_eq!(finding(&second, "oil")["previous"]["condition"], "good");
        assert_eq!(
            finding(&second, "oil")["previous"]["measurement"],
            Value::Null
        );
        // Not checked last time: nothing to show.
        assert_eq!(finding(&second, "tread")["previous"], Value::Null);
        // This visit's own reading does not change last visit's.
        let (s, b) = put_finding(
            t,
            &owner,
            &second_id,
            "battery",
            json!({"condition": "good", "measurement": 12.6}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            finding(&b, "battery")["previous"]["measurement"],
            json!(12.1),
            "{b}"
        );
        assert_eq!(finding(&b, "battery")["measurement"], json!(12.6));

        // The first visit has no earlier one; another car has none either.
        let (_, first) = t
            .get(&format!("/api/v1/inspections/{first_id}"), &owner)
            .await;
        assert_eq!(finding(&first, "battery")["previous"], Value::Null);
        let other_car = ticket_for_vehicle(t, &key, "V3", "car-2").await;
        let other = start_with(t, &owner, &other_car, &template).await;
        assert!(
            other["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["previous"].is_null()),
            "{other}"
        );

        // Another shop's car with the same POS id is another car.
        let (_, b_owner) = t.shop("insp-previous-b", "premium").await;
        let (b_key, _) = pushed_ticket(t, &b_owner, "b-unused").await;
        let (_, b_sheet) = t.post(BASE, &b_owner, quick_sheet("Quick")).await;
        let b_ticket = ticket_for_vehicle(t, &b_key, "V1", "car-1").await;
        let b_insp = start_with(t, &b_owner, &b_ticket, b_sheet["id"].as_str().unwrap()).await;
        assert!(
            b_insp["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["previous"].is_null()),
            "{b_insp}"
        );
    }
);

both_backends!(
    publishing_sets_the_status_the_shop_chose,
    async |t: &TestApp| {
        const SETTINGS: &str = "/api/v1/inspection-settings";
        let (shop, owner) = t.shop("insp-settings", "premium").await;
        let (_, b_owner) = t.shop("insp-settings-b", "premium").await;
        let (_, tech) = t
            .member(shop, "tech@insp-settings.test", Role::Technician)
            .await;
        let (s, none) = t.get(SETTINGS, &owner).await;
        assert_eq!(s, StatusCode::OK, "{none}");
        assert_eq!(none, json!({"status_on_publish": null}));

        let (_, ticket) = pushed_ticket(t, &owner, "settings-1").await;
        let (_, detail) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        let before = detail["ticket"]["status"]["label"].clone();
        let (_, statuses) = t.get("/api/v1/vehicle-statuses", &owner).await;
        let chosen = statuses["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] != before)
            .unwrap()
            .clone();
        let chosen_id = chosen["id"].as_str().unwrap();
        let (_, b_statuses) = t.get("/api/v1/vehicle-statuses", &b_owner).await;
        let b_status = b_statuses["items"][0]["id"].as_str().unwrap();

        // Technicians rate items; they do not set the shop's rules.
        let (s, e) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&tech),
                Some(json!({"status_on_publish": chosen_id})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        // Another shop's status, one that does not exist, a typo'd field,
        // not an id: named, nothing saved.
        for (body, field) in [
            (json!({"status_on_publish": b_status}), "status_on_publish"),
            (
                json!({"status_on_publish": "00000000-0000-7000-8000-000000000000"}),
                "status_on_publish",
            ),
            (
                json!({"status_on_publish": "inspected"}),
                "status_on_publish",
            ),
            (json!({"status_on_publsh": chosen_id}), "status_on_publsh"),
        ] {
            let (s, e) = t
                .call("PUT", SETTINGS, Some(&owner), Some(body.clone()))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
            assert!(e.to_string().contains(field), "{body}: {e}");
        }
        assert_eq!(t.get(SETTINGS, &owner).await.1, none, "nothing saved");

        let (s, saved) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&owner),
                Some(json!({"status_on_publish": chosen_id})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{saved}");
        assert_eq!(saved["status_on_publish"], chosen_id);
        assert_eq!(t.get(SETTINGS, &owner).await.1, saved);
        // Shop B's settings are its own.
        assert_eq!(t.get(SETTINGS, &b_owner).await.1, none);

        // Submitting does not set it; publishing does, as a status change.
        let (_, insp) = start(t, &owner, &ticket).await;
        let id = insp["id"].as_str().unwrap().to_owned();
        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{id}/submit"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, detail) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        assert_eq!(detail["ticket"]["status"]["label"], before);
        let (s, b) = t
            .post(
                &format!("/api/v1/inspections/{id}/publish"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, detail) = t.get(&format!("/api/v1/tickets/{ticket}"), &owner).await;
        assert_eq!(
            detail["ticket"]["status"]["label"], chosen["label"],
            "{detail}"
        );
        let history = detail["status_history"].as_array().unwrap();
        assert!(
            history.iter().any(|h| h["to"] == chosen["label"]),
            "{detail}"
        );

        // Null turns it off.
        let (s, off) = t
            .call(
                "PUT",
                SETTINGS,
                Some(&owner),
                Some(json!({"status_on_publish": null})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{off}");
        assert_eq!(off, none);
    }
);

both_backends!(
    the_customer_page_shows_the_published_inspection_worst_first,
    async |t: &TestApp| {
        let (_, owner) = t.shop("insp-page", "premium").await;
        let (key, ticket) = pushed_ticket(t, &owner, "page-1").await;
        let (_, insp) = start(t, &owner, &ticket).await;
        let id = insp["id"].as_str().unwrap().to_owned();
        for (key, body) in [
            ("oil", json!({"condition": "good", "note": "INTERNAL-ONLY"})),
            (
                "battery",
                json!({"condition": "urgent", "measurement": 11.2, "customer_note": "Battery is failing"}),
            ),
            (
                "remarks",
                json!({"condition": "needs_attention", "customer_note": "Wipers smear"}),
            ),
        ] {
            let (s, b) = put_finding(t, &owner, &id, key, body).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let (_, link) = t
            .post(
                &format!("/api/v1/tickets/{ticket}/customer-links"),
                &owner,
                json!({}),
            )
            .await;
        let url = link["url"].as_str().unwrap().to_owned();
        let page = |lang: &'static str| {
            let url = url.clone();
            async move {
                t.client
                    .get(&url)
                    .header("accept-language", lang)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        // Not before it is published.
        assert!(!page("en").await.contains("data-testid=\"inspection\""));
        for step in ["submit", "publish"] {
            let (s, b) = t
                .post(
                    &format!("/api/v1/inspections/{id}/{step}"),
                    &owner,
                    json!({}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{step}: {b}");
        }
        let html = page("en").await;
        let at = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"))
        };
        assert!(html.contains("Vehicle inspection"));
        // Urgent, then needs attention, then the good ones folded away.
        let (urgent, attention, folded) = (
            at("data-condition=\"urgent\""),
            at("data-condition=\"needs_attention\""),
            at("data-testid=\"good-findings\""),
        );
        assert!(urgent < attention && attention < folded, "order");
        assert!(
            at("data-condition=\"good\"") > folded,
            "good items are inside the fold"
        );
        assert!(html.contains("11.2 V") && html.contains("Battery is failing"));
        assert!(html.contains("Needs attention now"));
        assert!(
            !html.contains("INTERNAL-ONLY"),
            "internal notes never reach the customer"
        );
        // Unchecked items are left out.
        assert_eq!(html.matches("data-testid=\"finding\"").count(), 3);
        // The customer reads Spanish (their language comes from the POS).
        let mut body = pos_body("2026-01-02T00:00:00Z");
        body["customer"]["locale"] = json!("es");
        let (s, b) = t
            .call("PUT", "/api/pos/v1/tickets/page-1", Some(&key), Some(body))
            .await;
        assert!(s.is_success(), "{b}");
        let es = page("es").await;
        assert!(
            es.contains("Inspección del vehículo") && es.contains("Requiere atención ya"),
            "Spanish"
        );
    }
);

// ---- photos and videos ---------------------------------------------------

/// A phone photo: a real JPEG of `w`×`h` with an Exif block that holds the
/// orientation and where it was taken.
fn phone_photo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .unwrap();
    // Big-endian TIFF: Orientation = 1 and a GPS block named in plain text.
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x01\0\0\0\0\0\0".to_vec();
    tiff.extend_from_slice(b"GPSLatitude 30.2672 N GPSLongitude 97.7431 W");
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    [&jpeg[..2], &app1[..], &jpeg[2..]].concat()
}

/// A short MP4 as far as its boxes go: `ftyp`, a `moov` whose user data
/// says where it was recorded (as phones write it), then `len` bytes of
/// `mdat`.
fn phone_video(len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    let xyz = b"\0\0\0\x1e\xA9xyz\0\x12\x15\xC7+30.2672-097.7431/";
    v.extend_from_slice(&(16 + xyz.len() as u32).to_be_bytes());
    v.extend_from_slice(b"moov");
    v.extend_from_slice(&(8 + xyz.len() as u32).to_be_bytes());
    v.extend_from_slice(b"udta");
    v.extend_from_slice(xyz);
    v.extend_from_slice(&(8 + len as u32).to_be_bytes());
    v.extend_from_slice(b"mdat");
    v.extend((0..len).map(|i| (i % 251) as u8));
    v
}

/// A new customer link's token.
async fn customer_token(t: &TestApp, owner: &str, ticket: &str) -> String {
    let (s, link) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/customer-links"),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    link["url"]
        .as_str()
        .unwrap()
        .rsplit("/c/")
        .next()
        .unwrap()
        .to_owned()
}

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

both_backends!(
    photos_are_known_by_their_bytes_cleaned_copied_and_shown_only_to_whom_they_belong,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("insp-media", "premium").await;
        let (_, tech) = t
            .member(shop, "tech@insp-media.test", Role::Technician)
            .await;
        let (_, ticket) = pushed_ticket(t, &owner, "m1").await;
        let (_, insp) = start(t, &owner, &ticket).await;
        let id = insp["id"].as_str().unwrap().to_owned();
        let media_of = |key: &str| format!("/api/v1/inspections/{id}/findings/{key}/media");

        // A tire rated urgent needs a photo before the inspection is handed in.
        let (s, _) = put_finding(
            t,
            &tech,
            &id,
            "tread",
            json!({"condition": "urgent", "measurement": {"lf": 2}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, e) = t
            .post(
                &format!("/api/v1/inspections/{id}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(fields(&e), ["findings/tread/media"]);

        // A photo: stored without where it was taken, with its copies.
        let photo = phone_photo(2400, 1200);
        assert!(has(&photo, b"GPSLatitude"));
        let (s, m) = t
            .upload(
                &media_of("tread"),
                &tech,
                "IMG_0001.JPG",
                "image/jpeg",
                photo,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        assert_eq!(m["content_type"], "image/jpeg");
        assert_eq!(
            (m["width"].as_i64(), m["height"].as_i64()),
            (Some(2400), Some(1200))
        );
        let photo_id = m["id"].as_str().unwrap().to_owned();
        let (s, h, original) = t
            .fetch(&format!("/api/v1/media/{photo_id}"), Some(&owner), &[])
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["content-type"], "image/jpeg");
        assert_eq!(original.len() as i64, m["bytes"].as_i64().unwrap());
        assert!(original.starts_with(&[0xFF, 0xD8]));
        assert!(!has(&original, b"GPSLatitude"), "location removed");
        let decoded = image::load_from_memory(&original).expect("still a picture");
        assert_eq!((decoded.width(), decoded.height()), (2400, 1200));
        for (variant, long) in [("thumb", 320), ("screen", 1600)] {
            let (s, h, copy) = t
                .fetch(
                    &format!("/api/v1/media/{photo_id}?variant={variant}"),
                    Some(&tech),
                    &[],
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{variant}");
            assert_eq!(h["content-type"], "image/jpeg");
            let c = image::load_from_memory(&copy).unwrap();
            assert_eq!((c.width(), c.height()), (long, long / 2), "{variant}");
        }

        // What the name or the declared type say does not matter: the bytes do.
        let before = t.get(&format!("/api/v1/inspections/{id}"), &owner).await.1;
        for (name, bytes) in [
            ("photo.jpg", b"<script>alert('x')</script>".to_vec()),
            ("scan.jpg", b"%PDF-1.7\n1 0 obj".to_vec()),
            ("cut.jpg", phone_photo(64, 64)[..300].to_vec()),
        ] {
            let (s, e) = t
                .upload(&media_of("oil"), &tech, name, "image/jpeg", bytes)
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {e}");
            assert_eq!(e["field"], "file", "{e}");
        }
        let (s, e) = t
            .upload(
                &media_of("no_such_item"),
                &tech,
                "a.jpg",
                "image/jpeg",
                phone_photo(8, 8),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        let (s, e) = t
            .call(
                "POST",
                &media_of("oil"),
                Some(&tech),
                Some(json!({"file": "not a form"})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(e["code"], "malformed_request");
        assert_eq!(e["field"], "file");
        let after = t.get(&format!("/api/v1/inspections/{id}"), &owner).await.1;
        assert_eq!(before, after, "refused uploads change nothing");

        // Video plays on phones: byte ranges.
        let video = phone_video(5000);
        let (s, v) = t
            .upload(
                &media_of("oil"),
                &tech,
                "clip.mov",
                "application/octet-stream",
                video.clone(),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["content_type"], "video/mp4");
        assert_eq!(v["width"], Value::Null);
        let video_id = v["id"].as_str().unwrap().to_owned();
        let (s, h, part) = t
            .fetch(
                &format!("/api/v1/media/{video_id}"),
                Some(&owner),
                &[("range", "bytes=100-199")],
            )
            .await;
        assert_eq!(s, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            h["content-range"],
            format!("bytes 100-199/{}", video.len()).as_str()
        );
        assert_eq!(part, video[100..200]);
        let (s, _, tail) = t
            .fetch(
                &format!("/api/v1/media/{video_id}"),
                Some(&owner),
                &[("range", "bytes=-10")],
            )
            .await;
        assert_eq!(s, StatusCode::PARTIAL_CONTENT);
        assert_eq!(tail, video[video.len() - 10..]);
        // Where it was recorded is gone; every byte of the picture stayed
        // where it was.
        let (_, _, stored) = t
            .fetch(&format!("/api/v1/media/{video_id}"), Some(&owner), &[])
            .await;
        assert!(has(&video, b"+30.2672") && !has(&stored, b"+30.2672"));
        assert_eq!(stored.len(), video.len());
        assert_eq!(stored[80..], video[80..]);

        // The inspection lists them on their findings; removing one works
        // while it is in progress.
        let (_, now) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        let tread = finding(&now, "tread");
        assert_eq!(tread["media"][0]["id"], photo_id.as_str());
        assert_eq!(
            tread["media"][0]["url"],
            format!("/api/v1/media/{photo_id}").as_str()
        );
        assert!(
            tread["media"][0]["thumbnail_url"]
                .as_str()
                .unwrap()
                .ends_with("variant=thumb")
        );
        assert_eq!(
            finding(&now, "oil")["media"][0]["thumbnail_url"],
            Value::Null
        );
        let (s, _) = t
            .call(
                "DELETE",
                &format!("/api/v1/media/{video_id}"),
                Some(&tech),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _, _) = t
            .fetch(&format!("/api/v1/media/{video_id}"), Some(&owner), &[])
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Now the photo is there, it can be handed in; then nothing changes.
        let (s, sub) = t
            .post(
                &format!("/api/v1/inspections/{id}/submit"),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{sub}");
        let (s, _) = t
            .call(
                "DELETE",
                &format!("/api/v1/media/{photo_id}"),
                Some(&tech),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, _) = t
            .upload(
                &media_of("oil"),
                &tech,
                "a.jpg",
                "image/jpeg",
                phone_photo(16, 16),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);

        // The customer sees it through their link once published, and only so.
        let token = customer_token(t, &owner, &ticket).await;
        let (s, _, _) = t
            .fetch(&format!("/c/{token}/media/{photo_id}"), None, &[])
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "not before it is published");
        let (s, p) = t
            .post(
                &format!("/api/v1/inspections/{id}/publish"),
                &owner,
                json!({"send": null}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let (_, view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        let shown = &view["inspection"]["findings"][0];
        assert_eq!(shown["item_key"], "tread", "{view}");
        let url = shown["media"][0]["url"].as_str().unwrap().to_owned();
        assert_eq!(url, format!("/c/{token}/media/{photo_id}"));
        let (s, h, seen) = t.fetch(&url, None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(seen, original);
        assert!(h["cache-control"].to_str().unwrap().starts_with("private"));
        let screen = shown["media"][0]["screen_url"].as_str().unwrap();
        assert_eq!(t.fetch(screen, None, &[]).await.0, StatusCode::OK);
        // The page shows it, lazily, beside the finding.
        let (s, _, page) = t.fetch(&format!("/c/{token}"), None, &[]).await;
        assert_eq!(s, StatusCode::OK);
        let page = String::from_utf8(page).unwrap().replace("&#x2f;", "/");
        assert!(
            page.contains(&format!(
                "<img loading=\"lazy\" src=\"/c/{token}/media/{photo_id}?variant=thumb\""
            )),
            "{page}"
        );
        // Another ticket's link, a made-up token, another shop: nothing.
        let (_, other_ticket) = pushed_ticket(t, &owner, "m2").await;
        let other = customer_token(t, &owner, &other_ticket).await;
        assert_eq!(
            t.fetch(&format!("/c/{other}/media/{photo_id}"), None, &[])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.fetch(&format!("/c/pwc_madeup/media/{photo_id}"), None, &[])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (_, stranger) = t.shop("insp-media-b", "premium").await;
        for (method, status) in [
            ("GET", StatusCode::NOT_FOUND),
            ("DELETE", StatusCode::NOT_FOUND),
        ] {
            let (s, _) = t
                .call(
                    method,
                    &format!("/api/v1/media/{photo_id}"),
                    Some(&stranger),
                    None,
                )
                .await;
            assert_eq!(s, status, "{method} by another shop");
        }
        let (s, _) = t
            .upload(
                &media_of("oil"),
                &stranger,
                "a.jpg",
                "image/jpeg",
                phone_photo(16, 16),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another shop's inspection");
        // Staff pages read it through the session.
        let (_, starter) = t.shop("insp-media-c", "starter").await;
        let (s, e) = t
            .call(
                "GET",
                &format!("/api/v1/media/{photo_id}"),
                Some(&starter),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(e["code"], "feature_not_in_plan");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_stop_at_the_size_limit_and_the_plans_quota_sqlite() {
    limits(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_stop_at_the_size_limit_and_the_plans_quota_postgres() {
    limits(Backend::Postgres).await
}

async fn limits(backend: Backend) {
    let opts = Options {
        env: vec![("PITWALL_MEDIA_MAX_MB".into(), "1".into())],
        ..Default::default()
    };
    let Some(app) = TestApp::spawn_with(backend, opts).await else {
        return;
    };
    let t = &app;
    let (_, owner) = t.shop("insp-quota", "premium").await;
    let (_, ticket) = pushed_ticket(t, &owner, "q1").await;
    let (_, insp) = start(t, &owner, &ticket).await;
    let id = insp["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/inspections/{id}/findings/oil/media");

    // Over PITWALL_MEDIA_MAX_MB: 413, nothing stored.
    let (s, e) = t
        .upload(
            &path,
            &owner,
            "long.mp4",
            "video/mp4",
            phone_video(2 * 1024 * 1024),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert_eq!(e["field"], "file");
    assert_eq!(e["code"], "payload_too_large");

    // The plan's media_mb, set by the platform: a full quota refuses.
    let admin = t
        .platform(
            "admin@insp-quota-platform.test",
            pitwall_core::domain::PlatformRole::PlatformAdmin,
        )
        .await;
    let (_, plans) = t.get("/api/admin/v1/plans", &admin).await;
    let mut premium = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "premium")
        .cloned()
        .unwrap();
    assert_eq!(premium["media_mb"], 20480, "premium starts with 20 GB");
    let code = premium["code"].as_str().unwrap().to_owned();
    let body = |mb: i64, p: &mut Value| {
        let o = p.as_object_mut().unwrap();
        o.remove("code");
        o.insert("media_mb".into(), json!(mb));
        p.clone()
    };
    let (s, e) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/plans/{code}"),
            Some(&admin),
            Some(body(-1, &mut premium)),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "media_mb");
    let (s, saved) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/plans/{code}"),
            Some(&admin),
            Some(body(1, &mut premium)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    // Four phones upload at once and one file fits: one is stored and the
    // others are told the quota is full. (Here the uploads rarely overlap
    // between the early check and the row; the check inside the row's
    // transaction, with the shop's uploads taking turns, is what holds
    // when they do.)
    let answers = futures::future::join_all((0..4).map(|n| {
        let (path, owner) = (path.clone(), owner.clone());
        async move {
            t.upload(
                &path,
                &owner,
                &format!("{n}.mp4"),
                "video/mp4",
                phone_video(600 * 1024),
            )
            .await
        }
    }))
    .await;
    let stored: Vec<&(StatusCode, Value)> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .collect();
    assert_eq!(stored.len(), 1, "{answers:?}");
    for (s, e) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(e["code"], "quota_exceeded");
        assert_eq!(e["quota"], "media_mb");
    }
    let (_, now) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
    assert_eq!(finding(&now, "oil")["media"].as_array().unwrap().len(), 1);
    app.finish().await;
}

/// `PITWALL_TEST_S3_SERVER`: moto's `moto_server`, a real S3-compatible
/// server (`.ci/run` installs it). Without it the test is skipped, unless
/// `PITWALL_REQUIRE_S3=1`.
async fn s3_server() -> Option<(tokio::process::Child, String)> {
    let Ok(bin) = std::env::var("PITWALL_TEST_S3_SERVER") else {
        assert!(
            std::env::var("PITWALL_REQUIRE_S3").as_deref() != Ok("1"),
            "PITWALL_REQUIRE_S3=1 but PITWALL_TEST_S3_SERVER is not set"
        );
        eprintln!("SKIPPED: set PITWALL_TEST_S3_SERVER to moto_server to test the S3 store");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server starts");
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(&url).send().await.is_ok() {
            return Some((child, url));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("moto_server did not answer on {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_live_in_s3_when_told_to_and_orphans_are_swept() {
    let Some((_server, s3)) = s3_server().await else {
        return;
    };
    let http = reqwest::Client::new();
    let made = http
        .put(format!("{s3}/pitwall-media"))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let env = [
        ("PITWALL_MEDIA_STORE", "s3://pitwall-media/prod"),
        ("PITWALL_MEDIA_S3_ENDPOINT", s3.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let opts = Options {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, opts).await else {
        return;
    };
    let t = &app;
    let (shop, owner) = t.shop("insp-s3", "premium").await;
    let (_, ticket) = pushed_ticket(t, &owner, "s1").await;
    let (_, insp) = start(t, &owner, &ticket).await;
    let id = insp["id"].as_str().unwrap();
    let photo = phone_photo(800, 600);
    let (s, m) = t
        .upload(
            &format!("/api/v1/inspections/{id}/findings/oil/media"),
            &owner,
            "p.jpg",
            "image/jpeg",
            photo,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let media = m["id"].as_str().unwrap().to_owned();
    let list = || async {
        http.get(format!("{s3}/pitwall-media?list-type=2&prefix=prod/shops/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let listed = list().await;
    for variant in ["original", "thumb", "screen"] {
        assert!(
            listed.contains(&format!("prod/shops/{shop}/media/{media}/{variant}")),
            "{variant} in the bucket: {listed}"
        );
    }
    let (s, _, back) = t
        .fetch(&format!("/api/v1/media/{media}"), Some(&owner), &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!has(&back, b"GPSLatitude"));
    assert_eq!(back.len() as i64, m["bytes"].as_i64().unwrap());

    // A file whose row never committed (a crash between the two) is swept;
    // files with rows stay.
    let orphan = uuid::Uuid::now_v7();
    let put = http
        .put(format!(
            "{s3}/pitwall-media/prod/shops/{shop}/media/{orphan}/original"
        ))
        .body("half an upload")
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let swept = pitwall_core::inspections::media::sweep(&t.app, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(swept, 1);
    let listed = list().await;
    assert!(!listed.contains(&orphan.to_string()), "{listed}");
    assert!(listed.contains(&format!("{media}/original")), "{listed}");

    let (s, _) = t
        .call(
            "DELETE",
            &format!("/api/v1/media/{media}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(!list().await.contains(&media), "deleted from the bucket");
    app.finish().await;
}

// ---- the technician's and the advisor's pages -----------------------------

/// A page form post as the inspection page's script sends it (JSON back).
async fn page_post(
    t: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
    json_back: bool,
) -> reqwest::Response {
    let mut r = c.post(t.url(path)).form(form);
    if json_back {
        r = r.header("accept", "application/json");
    }
    r.send().await.unwrap()
}

async fn page_upload(
    t: &TestApp,
    c: &reqwest::Client,
    path: &str,
    csrf: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("IMG_0002.JPG"),
        );
    c.post(t.url(path))
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

both_backends!(
    the_inspection_pages_rate_upload_hand_in_send_back_publish_and_the_approval_keeps_the_finding,
    async |t: &TestApp| {
        use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
        let (shop, owner) = t.shop("insp-pages", "premium").await;
        t.member(shop, "tech@insp-pages.test", Role::Technician)
            .await;
        let (_, ticket) = pushed_ticket(t, &owner, "p1").await;
        let (s, sheet) = t.post(BASE, &owner, quick_sheet("Quick")).await;
        assert_eq!(s, StatusCode::CREATED, "{sheet}");
        let template = sheet["id"].as_str().unwrap().to_owned();
        let insp_count = async || {
            let (_, l) = t
                .get(&format!("/api/v1/tickets/{ticket}/inspections"), &owner)
                .await;
            l["items"].as_array().map_or(0, Vec::len)
        };

        // The technician starts it from the ticket page; a sheet that is
        // not the shop's starts nothing.
        let tech = browser();
        sign_in(t, &tech, "tech@insp-pages.test").await;
        let (s, html) = page(t, &tech, &format!("/app/tickets/{ticket}")).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("data-testid=\"ticket-inspections\"") && html.contains(&template),
            "{html}"
        );
        let csrf = csrf_of(&html);
        let start_path = format!("/app/tickets/{ticket}/inspections");
        let r = page_post(
            t,
            &tech,
            &start_path,
            &[("csrf", &csrf), ("template_id", "not-a-sheet")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("template id"));
        assert_eq!(insp_count().await, 0);
        let r = page_post(
            t,
            &tech,
            &start_path,
            &[("csrf", &csrf), ("template_id", &template)],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        let id = to
            .trim_start_matches("/app/inspections/")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(insp_count().await, 1);
        let base = format!("/app/inspections/{id}");
        let (s, html) = page(t, &tech, &base).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        for needle in [
            "Engine oil",
            "data-testid=\"cond-urgent\"",
            "capture=\"environment\"",
            "name=\"tire_lf\"",
            "0 of 4 items checked",
        ] {
            assert!(html.contains(needle), "{needle}: {html}");
        }

        // Each tap saves one finding: the script gets JSON, a plain form
        // a redirect back to the item.
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/tread"),
            &[("csrf", &csrf), ("condition", "urgent"), ("tire_lf", "2,5")],
            true,
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let saved: Value = r.json().await.unwrap();
        assert_eq!(saved["needs_photo"], true, "{saved}");
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/oil"),
            &[("csrf", &csrf), ("condition", "needs_attention")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], format!("{base}#f-oil").as_str());
        let (_, api) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(finding(&api, "tread")["measurement"], json!({"lf": 2.5}));
        assert_eq!(finding(&api, "oil")["condition"], "needs_attention");

        // Bad input is named, and changes nothing.
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/battery"),
            &[
                ("csrf", &csrf),
                ("condition", "good"),
                ("measurement", "twelve"),
            ],
            true,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e: Value = r.json().await.unwrap();
        assert!(e["error"].as_str().unwrap().contains("measurement"), "{e}");
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/battery"),
            &[("csrf", &csrf), ("condition", "shiny")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("condition: must be"));
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/battery"),
            &[("csrf", "forged"), ("condition", "urgent")],
            true,
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (_, api) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(finding(&api, "battery")["condition"], "not_checked");

        // Photos from the phone's camera, through the page.
        let photo = phone_photo(640, 480);
        let r = page_upload(
            t,
            &tech,
            &format!("{base}/findings/tread/media"),
            &csrf,
            photo.clone(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let m: Value = r.json().await.unwrap();
        assert!(
            m["thumb"].as_str().unwrap().ends_with("?variant=thumb"),
            "{m}"
        );
        let r = page_upload(
            t,
            &tech,
            &format!("{base}/findings/oil/media"),
            &csrf,
            photo.clone(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let oil_photo = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = page_upload(
            t,
            &tech,
            &format!("{base}/findings/oil/media"),
            &csrf,
            b"%PDF-1.7 not a photo".to_vec(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.json::<Value>().await.unwrap()["error"]
                .as_str()
                .unwrap()
                .starts_with("file")
        );
        let r = page_upload(
            t,
            &tech,
            &format!("{base}/findings/oil/media"),
            "forged",
            photo.clone(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (_, api) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(finding(&api, "oil")["media"].as_array().unwrap().len(), 1);
        // A second shot of the oil, deleted from the page.
        let r = page_upload(
            t,
            &tech,
            &format!("{base}/findings/oil/media"),
            &csrf,
            photo.clone(),
        )
        .await;
        let extra = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = page_post(
            t,
            &tech,
            &format!("{base}/media/{extra}/delete"),
            &[("csrf", &csrf)],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, api) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(finding(&api, "oil")["media"].as_array().unwrap().len(), 1);
        let (s, _) = page(t, &tech, &format!("/app/media/{extra}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, thumb) = page(t, &tech, m["thumb"].as_str().unwrap()).await;
        assert_eq!(s, StatusCode::OK, "{thumb}");

        // The finding's service goes on the estimate from the page.
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/oil/service"),
            &[("csrf", &csrf)],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, api) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        let oil_service = finding(&api, "oil")["service_id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Handed in; the advisor sends it back with a reason (a blank one
        // is named), the technician hands it in again.
        let r = page_post(
            t,
            &tech,
            &format!("{base}/submit"),
            &[("csrf", &csrf)],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let advisor = browser();
        sign_in(t, &advisor, "owner@insp-pages.test").await;
        let (_, html) = page(t, &advisor, &base).await;
        assert!(html.contains("data-testid=\"publish-form\""), "{html}");
        let acsrf = csrf_of(&html);
        let r = page_post(
            t,
            &advisor,
            &format!("{base}/return"),
            &[("csrf", &acsrf), ("reason", " ")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("reason"));
        let r = page_post(
            t,
            &advisor,
            &format!("{base}/return"),
            &[("csrf", &acsrf), ("reason", "Photo of the battery, please")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, html) = page(t, &tech, &base).await;
        assert!(html.contains("Photo of the battery, please"), "{html}");
        let r = page_post(
            t,
            &tech,
            &format!("{base}/submit"),
            &[("csrf", &csrf)],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);

        // Published from the page; the technician can no longer rate.
        let r = page_post(
            t,
            &advisor,
            &format!("{base}/publish"),
            &[("csrf", &acsrf), ("send", "fax")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = page_post(
            t,
            &advisor,
            &format!("{base}/publish"),
            &[("csrf", &acsrf), ("send", "")],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("ok=inspection_published")
        );
        let r = page_post(
            t,
            &tech,
            &format!("{base}/findings/oil"),
            &[("csrf", &csrf), ("condition", "good")],
            true,
        )
        .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);

        // The customer approves the finding's service: the record keeps
        // the finding's condition and the photos shown with it.
        let token = customer_token(t, &owner, &ticket).await;
        let (_, view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        let brakes = view["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == "Brakes")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (s, a) = t
            .call(
                "POST",
                &format!("/api/customer/v1/links/{token}/approval"),
                None,
                Some(json!({"approved_service_ids": [oil_service], "declined_service_ids": [brakes],
                    "signer_name": "Ana", "signature": "data:image/png;base64,iVBORw0KGgpzaWduYXR1cmU=",
                    "ticket_version": view["ticket_version"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let (_, list) = t
            .get(&format!("/api/v1/tickets/{ticket}/approvals"), &owner)
            .await;
        let rec = &list["items"][0];
        assert_eq!(
            rec["approved"][0]["finding"],
            json!({"inspection_id": id, "item_key": "oil", "condition": "needs_attention", "media_ids": [oil_photo]}),
            "{rec}"
        );
        assert_eq!(rec["declined"][0]["finding"], Value::Null, "{rec}");
        let (_, chain) = t
            .get(
                &format!("/api/v1/tickets/{ticket}/approvals/verification"),
                &owner,
            )
            .await;
        assert_eq!(chain["intact"], true, "{chain}");
        let (_, html) = page(
            t,
            &advisor,
            &format!("/app/approvals/{}", rec["id"].as_str().unwrap()),
        )
        .await;
        assert!(
            html.contains("data-testid=\"approval-finding\"") && html.contains(&oil_photo),
            "{html}"
        );

        // Another shop's staff find none of it.
        t.shop("insp-pages-b", "premium").await;
        let other = browser();
        sign_in(t, &other, "owner@insp-pages-b.test").await;
        let (s, _) = page(t, &other, &base).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, html) = page(t, &other, "/app/tickets").await;
        let ocsrf = csrf_of(&html);
        let r = page_post(
            t,
            &other,
            &format!("{base}/findings/battery"),
            &[("csrf", &ocsrf), ("condition", "urgent")],
            true,
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = page_upload(
            t,
            &other,
            &format!("{base}/findings/oil/media"),
            &ocsrf,
            photo,
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = page_post(
            t,
            &other,
            &format!("/app/tickets/{ticket}/inspections"),
            &[("csrf", &ocsrf), ("template_id", &template)],
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let (s, _) = page(t, &other, &format!("/app/media/{oil_photo}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        for path in [
            format!("{base}/findings/battery/service"),
            format!("{base}/media/{oil_photo}/delete"),
            format!("{base}/submit"),
            format!("{base}/return"),
            format!("{base}/publish"),
        ] {
            let r = page_post(
                t,
                &other,
                &path,
                &[("csrf", &ocsrf), ("reason", "mine now"), ("send", "")],
                false,
            )
            .await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(insp_count().await, 1);
        let (_, api) = t.get(&format!("/api/v1/inspections/{id}"), &owner).await;
        assert_eq!(api["status"], "published");
        assert_eq!(finding(&api, "oil")["media"][0]["id"], oil_photo.as_str());
        assert_eq!(finding(&api, "battery")["service_id"], Value::Null);
    }
);
