//! Inspection sheets end to end on both databases: the multi-point sheet
//! every shop starts with, create/edit/delete, import and export (JSON and
//! CSV, round trips), bad input named by row and field with nothing
//! written, the plan gate, permissions and other shops' ids.

use pitwall_core::domain::Role;
use pitwall_testkit::{StatusCode, TestApp, both_backends};
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
