//! Tests that walk the OpenAPI document, so every endpoint joins them
//! without anyone editing this file: cross-shop isolation, bad input, and
//! the committed document's drift.

use std::collections::BTreeMap;

use pitwall_core::domain::Role;
use pitwall_testkit::{StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

pub(crate) fn spec() -> Value {
    serde_json::from_str(&pitwall_api::spec_json()).expect("spec is JSON")
}

#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/pitwall.json");
    let current = pitwall_api::spec_json();
    if std::env::var("PITWALL_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, format!("{current}\n")).expect("write openapi");
    }
    let committed =
        std::fs::read_to_string(&path).expect("openapi/pitwall.json exists (run `just openapi`)");
    let a: Value = serde_json::from_str(&committed).expect("committed spec is JSON");
    let b: Value = serde_json::from_str(&current).expect("spec is JSON");
    assert!(
        a == b,
        "openapi/pitwall.json is out of date: run `just openapi` and commit it"
    );
}

pub(crate) struct Operation {
    pub method: String,
    pub path: String,
    pub op: Value,
}

pub(crate) fn operations(prefixes: &[&str]) -> Vec<Operation> {
    let spec = spec();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if !prefixes.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                op: op.clone(),
            });
        }
    }
    out
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A plausible value for a schema: valid where the field name says what is
/// expected, so that requests reach the checks that matter.
pub(crate) fn example(spec: &Value, schema: &Value, name: &str) -> Value {
    let schema = resolve(spec, schema);
    if let Some(all) = schema["allOf"].as_array()
        && let Some(first) = all.first()
    {
        return example(spec, first, name);
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut m = serde_json::Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in props {
                    m.insert(k.clone(), example(spec, v, k));
                }
            }
            Value::Object(m)
        }
        Some("array") => json!([]),
        Some("boolean") => json!(true),
        Some("integer") | Some("number") => json!(1),
        _ if schema["format"] == "uuid" => json!(uuid::Uuid::now_v7()),
        _ if schema["format"] == "date-time" => json!("2026-01-01T00:00:00Z"),
        _ => match name {
            "email" | "owner_email" => json!("iso-probe@example.test"),
            "role" => json!("viewer"),
            "plan" => json!("starter"),
            "lifecycle" => json!("suspended"),
            "time_zone" => json!("America/Chicago"),
            "slug" => json!("iso-probe"),
            "password" => json!("a long enough password"),
            "color" => json!("#1e88e5"),
            "timer_mode" => json!("open"),
            "kind" => json!("workorder"),
            "method" => json!("in_person"),
            "signature" => json!("M 1 1 L 5 5"),
            "signer_name" => json!("Probe Signer"),
            // Where sending may be left out it is (nothing goes out);
            // where it is required, a channel.
            "send" if schema["nullable"] == true => json!(null),
            "send" => json!("sms"),
            "url" => json!("https://example.com/hook"),
            "locale" => json!("en"),
            "channel" => json!("sms"),
            _ => json!("probe"),
        },
    }
}

/// The JSON body an operation takes; uploads (multipart) are sent as
/// forms instead (`is_upload`).
pub(crate) fn body_schema(op: &Value) -> Option<Value> {
    op["requestBody"]["content"]
        .as_object()
        .and_then(|c| {
            c.iter()
                .find(|(kind, _)| kind.starts_with("application/json"))
                .map(|(_, m)| m)
        })
        .map(|m| m["schema"].clone())
}

pub(crate) fn is_upload(op: &Value) -> bool {
    op["requestBody"]["content"]
        .as_object()
        .is_some_and(|c| c.contains_key("multipart/form-data"))
}

pub(crate) fn tiny_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8, y as u8, 1]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&img)
        .expect("a JPEG");
    jpeg
}

/// What shop B holds, as B's owner sees it.
pub(crate) async fn snapshot(t: &TestApp, token: &str) -> BTreeMap<&'static str, Value> {
    let mut m = BTreeMap::new();
    for (k, path) in [
        ("users", "/api/v1/users"),
        ("invitations", "/api/v1/invitations"),
        ("api_keys", "/api/v1/api-keys"),
        ("roles", "/api/v1/roles"),
        ("shop", "/api/v1/shop"),
        ("tickets", "/api/v1/tickets"),
        ("statuses", "/api/v1/vehicle-statuses?include_retired=true"),
        ("customers", "/api/v1/customers"),
        ("threads", "/api/v1/threads?filter=all"),
        ("templates", "/api/v1/message-templates"),
        ("messaging", "/api/v1/messaging-settings"),
        ("webhooks", "/api/v1/webhooks"),
        ("inspection_templates", "/api/v1/inspection-templates"),
        ("inspection_settings", "/api/v1/inspection-settings"),
        ("workflow_settings", "/api/v1/workflow-settings"),
        ("invoices", "/api/v1/invoices"),
        ("invoice_settings", "/api/v1/invoice-settings"),
        ("invoice_uploads", "/api/v1/invoice-uploads"),
        ("payment_account", "/api/v1/payment-account"),
    ] {
        m.insert(k, without_use_times(t.get(path, token).await.1));
    }
    m
}

/// Using a key is not changing the shop: drop the last-use times.
fn without_use_times(mut v: Value) -> Value {
    match &mut v {
        Value::Object(m) => {
            m.remove("last_used_at");
            for x in m.values_mut() {
                *x = without_use_times(x.take());
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                *x = without_use_times(x.take());
            }
        }
        _ => {}
    }
    v
}

/// A shop holding one of everything the API names by id, as another shop
/// would try to reach it: the path parameters that name each object, and
/// the strings (ids, names, secrets) that must never show in another
/// shop's answers.
pub(crate) struct ShopOfEverything {
    pub shop: pitwall_core::domain::ShopId,
    pub owner: String,
    pub fixtures: BTreeMap<&'static str, String>,
    pub secrets: Vec<String>,
}

/// Builds a [`ShopOfEverything`] through the API. `slug` names the shop and
/// marks its private strings, so pick slugs that are not substrings of each
/// other.
pub(crate) async fn shop_of_everything(t: &TestApp, slug: &str) -> ShopOfEverything {
    let (b, b_owner) = t.shop(slug, "premium").await;
    let (b_member, _) = t
        .member(b, &format!("staff@{slug}.test"), Role::Advisor)
        .await;
    let (_, inv) = t
        .post(
            "/api/v1/invitations",
            &b_owner,
            json!({"email": format!("new@{slug}.test"), "role": "viewer"}),
        )
        .await;
    let (_, key) = t
        .post("/api/v1/api-keys", &b_owner, json!({"name": "B POS"}))
        .await;
    let b_key = key["secret"].as_str().unwrap().to_owned();
    let external_id = format!("{slug}-ticket");
    let (s, pushed) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{external_id}"),
            Some(&b_key),
            Some(json!({
                "kind": "workorder", "number": "B-1", "pos_updated_at": "2026-01-01T00:00:00Z",
                "customer": {"external_id": format!("{slug}-cust"), "last_name": format!("Zanzibar-{slug}"), "phone": "(512) 555-0199"},
                "services": [{"external_id": "s1", "title": "Oil", "status": "pending", "line_items": []}],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let b_ticket = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    let b_service = pushed["ticket"]["services"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_customer = pushed["ticket"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_status = pushed["ticket"]["status"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = t
        .post(
            &format!("/api/v1/tickets/{b_ticket}/comments"),
            &b_owner,
            json!({"body": format!("{slug} internal")}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, notes) = t.get("/api/pos/v1/notifications", &b_key).await;
    let b_notification = notes["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, sent) = t
        .post(
            &format!("/api/v1/threads/{b_customer}/messages"),
            &b_owner,
            json!({"channel": "sms", "body": format!("{slug} private text")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let b_message = sent["id"].as_str().unwrap().to_owned();
    // B's customer link, the customer's approval through it, B's webhook.
    let (s, issued) = t
        .post(
            &format!("/api/v1/tickets/{b_ticket}/customer-links"),
            &b_owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{issued}");
    let b_link = issued["id"].as_str().unwrap().to_owned();
    let b_token = issued["url"]
        .as_str()
        .unwrap()
        .rsplit("/c/")
        .next()
        .unwrap()
        .to_owned();
    let (_, view) = t
        .call(
            "GET",
            &format!("/api/customer/v1/links/{b_token}"),
            None,
            None,
        )
        .await;
    let (s, approved) = t
        .call(
            "POST",
            &format!("/api/customer/v1/links/{b_token}/approval"),
            None,
            Some(json!({
                "approved_service_ids": [view["services"][0]["id"]], "declined_service_ids": [],
                "signer_name": format!("{slug} Signer"), "signature": "M 1 1 L 5 5", "ticket_version": view["ticket_version"],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{approved}");
    let b_approval = approved["approval"]["id"].as_str().unwrap().to_owned();
    let (s, hook) = t
        .post(
            "/api/v1/webhooks",
            &b_owner,
            json!({"url": format!("http://127.0.0.1:9/{slug}-hook")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let b_webhook = hook["id"].as_str().unwrap().to_owned();
    // B's sheet and an inspection started from it on B's ticket.
    let (_, sheets) = t.get("/api/v1/inspection-templates", &b_owner).await;
    let b_template = sheets["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, insp) = t
        .post(
            &format!("/api/v1/tickets/{b_ticket}/inspections"),
            &b_owner,
            json!({"template_id": b_template}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let b_inspection = insp["id"].as_str().unwrap().to_owned();
    let b_item = insp["findings"][0]["item_key"].as_str().unwrap().to_owned();
    let (s, photo) = t
        .upload(
            &format!("/api/v1/inspections/{b_inspection}/findings/{b_item}/media"),
            &b_owner,
            "b.jpg",
            "image/jpeg",
            tiny_jpeg(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{photo}");
    let b_media = photo["id"].as_str().unwrap().to_owned();
    // B's invoice, by hand on B's ticket.
    let (s, invoice) = t
        .post(
            "/api/v1/invoices",
            &b_owner,
            json!({"customer_id": b_customer, "ticket_id": b_ticket,
                   "lines": [{"kind": "labor", "description": format!("{slug} private work"), "quantity": 1, "unit_price": 4200}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{invoice}");
    let b_invoice = invoice["id"].as_str().unwrap().to_owned();
    let upload_name = format!("{slug}-invoice.jpg");
    let (s, upload) = t
        .upload(
            "/api/v1/invoice-uploads",
            &b_owner,
            &upload_name,
            "image/jpeg",
            tiny_jpeg(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{upload}");
    let b_upload = upload["id"].as_str().unwrap().to_owned();
    let fixtures: BTreeMap<&str, String> = [
        ("ticket_id", b_ticket.clone()),
        ("customer_id", b_customer.clone()),
        ("status_id", b_status.clone()),
        ("external_id", external_id),
        ("notification_id", b_notification.clone()),
        ("message_id", b_message.clone()),
        ("link_id", b_link.clone()),
        ("approval_id", b_approval.clone()),
        ("webhook_id", b_webhook.clone()),
        ("template_id", b_template.clone()),
        ("inspection_id", b_inspection.clone()),
        ("service_id", b_service.clone()),
        ("item_key", b_item),
        ("media_id", b_media.clone()),
        ("invoice_id", b_invoice.clone()),
        ("upload_id", b_upload.clone()),
        ("kind", "reminder".to_owned()),
        ("user_id", b_member.to_string()),
        ("invitation_id", inv["id"].as_str().unwrap().to_owned()),
        ("api_key_id", key["key"]["id"].as_str().unwrap().to_owned()),
        ("shop_id", b.to_string()),
        ("role", "advisor".to_owned()),
    ]
    .into_iter()
    .collect();
    // What must never appear in another shop's answers.
    let secrets = vec![
        b.to_string(),
        b_member.to_string(),
        inv["id"].as_str().unwrap().to_owned(),
        key["key"]["id"].as_str().unwrap().to_owned(),
        format!("{slug}.test"),
        b_ticket,
        b_customer,
        b_status,
        b_notification,
        b_message,
        b_link,
        b_approval,
        b_webhook,
        b_template,
        b_inspection,
        b_media,
        b_invoice,
        b_upload,
        upload_name,
        format!("{slug} private work"),
        hook["secret"].as_str().unwrap().to_owned(),
        format!("{slug}-hook"),
        format!("{slug} Signer"),
        format!("{slug} private text"),
        format!("Zanzibar-{slug}"),
        format!("{slug} internal"),
        b_key,
    ];
    ShopOfEverything {
        shop: b,
        owner: b_owner,
        fixtures,
        secrets,
    }
}

/// Fills an operation's path with `fixtures`; `has_id` says whether the
/// path names an object of the fixtures' shop (so the caller, of another
/// shop, must get 404 or 403).
pub(crate) fn fill_path(o: &Operation, fixtures: &BTreeMap<&str, String>) -> (String, bool) {
    let mut path = o.path.clone();
    let mut has_id = false;
    for p in o.op["parameters"].as_array().cloned().unwrap_or_default() {
        if p["in"] != "path" {
            continue;
        }
        let name = p["name"].as_str().unwrap();
        let value = fixtures.get(name).unwrap_or_else(|| {
            panic!(
                "{} {}: add a fixture for path parameter {name} to shop_of_everything",
                o.method, o.path
            )
        });
        path = path.replace(&format!("{{{name}}}"), value);
        // A PUT by external id is an upsert into the caller's own shop:
        // it must not touch or show B's ticket, which the snapshot and
        // the leak check prove; it need not answer 404.
        // Templates are named by kind within the caller's own shop.
        has_id |= name != "role"
            && name != "kind"
            && name != "item_key"
            && !(name == "external_id" && o.method == "PUT");
    }
    (path, has_id)
}

both_backends!(no_shop_sees_another_shops_objects, async |t: &TestApp| {
    let spec = spec();
    let (_, a_owner) = t.shop("iso-a", "premium").await;
    let (_, a_key) = t
        .post("/api/v1/api-keys", &a_owner, json!({"name": "A POS"}))
        .await;
    let a_key = a_key["secret"].as_str().unwrap().to_owned();
    let ShopOfEverything {
        shop: b,
        owner: b_owner,
        fixtures,
        secrets: secrets_of_b,
    } = shop_of_everything(t, "iso-b").await;
    let before = snapshot(t, &b_owner).await;

    let mut checked = 0;
    for o in operations(&["/api/v1/", "/api/pos/v1/"]) {
        if o.path.contains("/auth/") || o.path.ends_with("/invitations/accept") {
            continue; // no principal to cross shops with
        }
        let (path, mut has_id) = fill_path(&o, &fixtures);
        let body = body_schema(&o.op).map(|s| {
            let mut v = example(&spec, &s, "");
            if o.path == "/api/v1/me/shop" {
                v["shop_id"] = json!(b.to_string());
                has_id = true;
            }
            v
        });
        let token = if o.path.starts_with("/api/pos/") {
            &a_key
        } else {
            &a_owner
        };
        let (status, answer) = if is_upload(&o.op) {
            t.upload(&path, token, "a.jpg", "image/jpeg", tiny_jpeg())
                .await
        } else {
            t.call(&o.method, &path, Some(token), body).await
        };
        let text = answer.to_string();
        for s in &secrets_of_b {
            assert!(
                !text.contains(s.as_str()),
                "{} {path} leaked shop B's {s}: {text}",
                o.method
            );
        }
        if has_id {
            assert!(
                matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{} {path} answered {status} for shop B's object: {text}",
                o.method
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "walked only {checked} operations");
    assert_eq!(before, snapshot(t, &b_owner).await, "shop B changed");

    // The admin API refuses shop staff altogether.
    for o in operations(&["/api/admin/"]) {
        let mut path = o.path.clone();
        for (name, value) in &fixtures {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path = path
            .replace("{feature}", "sms")
            .replace("{plan_code}", "starter")
            .replace("{job_id}", "x");
        let body = body_schema(&o.op).map(|s| example(&spec, &s, ""));
        let (status, answer) = t
            .call(
                &o.method,
                &format!("{path}?reason=probe"),
                Some(&a_owner),
                body,
            )
            .await;
        assert!(
            matches!(
                status,
                StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{} {path}: {status} {answer}",
            o.method
        );
        assert_ne!(status, StatusCode::OK);
    }
    assert_eq!(before, snapshot(t, &b_owner).await, "shop B changed");
});

both_backends!(
    every_body_rejects_bad_input_naming_the_field,
    async |t: &TestApp| {
        let spec = spec();
        let (_, owner) = t.shop("bad-input", "premium").await;
        let admin = t
            .platform(
                "bad@platform.test",
                pitwall_core::domain::PlatformRole::PlatformAdmin,
            )
            .await;
        let (_, key) = t
            .post("/api/v1/api-keys", &owner, json!({"name": "POS"}))
            .await;
        let pos_key = key["secret"].as_str().unwrap().to_owned();
        let before = snapshot(t, &owner).await;
        let mut checked = 0;
        for o in operations(&["/api/"]) {
            let Some(schema) = body_schema(&o.op) else {
                continue;
            };
            let schema = resolve(&spec, &schema).clone();
            let token = if o.path.starts_with("/api/admin/") {
                &admin
            } else if o.path.starts_with("/api/pos/") {
                &pos_key
            } else {
                &owner
            };
            let path = o
                .path
                .replace("{user_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{invitation_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{api_key_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{shop_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{ticket_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{customer_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{status_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{notification_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{external_id}", "probe-ticket")
                .replace("{message_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{link_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{approval_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{webhook_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{template_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{inspection_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{service_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{invoice_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{upload_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{item_key}", "oil_level")
                .replace("{token}", "pwc_probe")
                .replace("{kind}", "reminder")
                .replace("{role}", "viewer")
                .replace("{feature}", "sms")
                .replace("{plan_code}", "starter")
                .replace("{job_id}", "x");

            // Not JSON at all.
            let resp = t
                .client
                .request(
                    reqwest::Method::from_bytes(o.method.as_bytes()).unwrap(),
                    t.url(&path),
                )
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::BAD_REQUEST,
                "{} {path}",
                o.method
            );
            let b: Value = resp.json().await.unwrap();
            assert_eq!(b["code"], "malformed_request", "{} {path}: {b}", o.method);
            // Sent past the test kit's call, so checked against the document here.
            if let Err(e) = pitwall_testkit::openapi::committed().check(&o.method, &path, 400, &b) {
                panic!("{e}");
            }

            let required: Vec<String> = schema["required"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let good = example(&spec, &schema, "");
            for field in &required {
                // Missing.
                let mut body = good.clone();
                body.as_object_mut().unwrap().remove(field);
                let (s, b) = t.call(&o.method, &path, Some(token), Some(body)).await;
                assert_eq!(
                    s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{} {path} without {field}: {b}",
                    o.method
                );
                assert_eq!(
                    b["field"],
                    json!(field),
                    "{} {path} without {field}: {b}",
                    o.method
                );
                assert_eq!(b["code"], "invalid_input");
                // Wrong type.
                let mut body = good.clone();
                let wrong = if good[field].is_string() {
                    json!({"nested": 1})
                } else {
                    json!("wrong type")
                };
                body[field] = wrong;
                let (s, b) = t.call(&o.method, &path, Some(token), Some(body)).await;
                assert_eq!(
                    s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{} {path} with bad {field}: {b}",
                    o.method
                );
                assert_eq!(
                    b["field"],
                    json!(field),
                    "{} {path} with bad {field}: {b}",
                    o.method
                );
            }
            // A field the request does not have.
            let mut body = good.clone();
            body["surprise"] = json!(1);
            let (s, b) = t.call(&o.method, &path, Some(token), Some(body)).await;
            assert_eq!(
                s,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{} {path} with an unknown field: {b}",
                o.method
            );
            assert_eq!(b["field"], "surprise");
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} operations have bodies?");
        assert_eq!(
            before,
            snapshot(t, &owner).await,
            "bad input changed something"
        );
    }
);

both_backends!(parameters_and_paths_are_checked, async |t: &TestApp| {
    let (_, owner) = t.shop("param-shop", "starter").await;
    let (s, b) = t.get("/api/v1/users?limit=0", &owner).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "limit");
    let (s, b) = t.get("/api/v1/users?limit=abc", &owner).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "limit");
    let (s, b) = t.get("/api/v1/users?cursor=zzz", &owner).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "cursor");
    let (s, b) = t.get("/api/v1/users/not-a-uuid", &owner).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["code"], "not_found");
    let (s, b) = t
        .call_with(
            "GET",
            "/api/v1/me",
            Some(&owner),
            None,
            &[("X-Pitwall-Shop", "nope")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "X-Pitwall-Shop");
    let (s, b) = t
        .call("GET", "/api/v1/nothing-here", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["code"], "not_found");
    let (s, b) = t.call("GET", "/api/v1/me", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    assert_eq!(b["code"], "unauthenticated");
});

both_backends!(pagination_walks_every_member_once, async |t: &TestApp| {
    let (shop, owner) = t.shop("page-shop", "premium").await;
    for i in 0..6 {
        t.member(shop, &format!("m{i}@page.test"), Role::Viewer)
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=3&cursor={c}"),
            None => "/api/v1/users?limit=3".to_owned(),
        };
        let (s, page) = t.get(&path, &owner).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for u in page["items"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(unique.len(), 7);
});
