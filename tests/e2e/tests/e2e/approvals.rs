//! The customer's link and approvals end to end on both databases: links
//! as capabilities (guessed, another ticket's, expired, revoked,
//! re-issued, rate-limited, headers), approvals (partial, all declined,
//! stale version refused, double submit, in person, tampering caught by
//! the chain check), presence, the customer's message, the POS
//! notification, outgoing webhooks and plan gates.

use pitwall_core::domain::Role;
use pitwall_store::sea_orm::{ConnectionTrait, DbBackend, Statement};
use pitwall_testkit::fake_sms::FakeSms;
use pitwall_testkit::receiver::Receiver;
use pitwall_testkit::{Backend, Options, StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

/// A real (if tiny) PNG data URL, as a canvas would send.
const SIGNATURE: &str = "data:image/png;base64,iVBORw0KGgpzaWduYXR1cmU=";

/// Three recommended services: brakes 200.00 (labour), wipers 30.00
/// (taxable part), cabin filter 45.00 (taxable part); tax 10 %.
fn estimate(number: &str, updated: &str) -> Value {
    json!({
        "kind": "estimate",
        "number": number,
        "customer": {"external_id": format!("C-{number}"), "first_name": "Dana", "last_name": "Reyes",
                     "phone": "(512) 555-0123", "email": "dana@example.com"},
        "vehicle": {"external_id": format!("V-{number}"), "year": 2019, "make": "Honda", "model": "Civic"},
        "services": [
            {"external_id": "S-1", "title": "Front brakes", "status": "recommended", "line_items": [
                {"kind": "labor", "description": "Pads and rotors", "quantity": 2, "unit_price": 10000, "taxable": false}]},
            {"external_id": "S-2", "title": "Wiper blades", "status": "recommended", "line_items": [
                {"kind": "part", "description": "Blades", "quantity": 2, "unit_price": 1500, "taxable": true}]},
            {"external_id": "S-3", "title": "Cabin filter", "status": "recommended", "line_items": [
                {"kind": "part", "description": "Filter", "quantity": 1, "unit_price": 4500, "taxable": true}]}
        ],
        "tax_rate": 0.1,
        "pos_updated_at": updated,
    })
}

struct Setup {
    owner: String,
    key: String,
    ticket: String,
    services: Vec<String>,
}

async fn setup(t: &TestApp, slug: &str, plan: &str) -> Setup {
    let (_, owner) = t.shop(slug, plan).await;
    let key = t.pos_key(&owner).await;
    let (s, b) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/E-1",
            Some(&key),
            Some(estimate("5001", "2026-11-23T10:00:00Z")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    Setup {
        ticket: b["ticket"]["id"].as_str().unwrap().to_owned(),
        services: b["ticket"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect(),
        owner,
        key,
    }
}

/// Issues a link; answers its token.
async fn link(t: &TestApp, owner: &str, ticket: &str, body: Value) -> (String, Value) {
    let (s, b) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/customer-links"),
            owner,
            body,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let url = b["url"].as_str().unwrap();
    let token = url.rsplit("/c/").next().unwrap().to_owned();
    (token, b)
}

async fn customer_get(t: &TestApp, token: &str) -> (StatusCode, Value) {
    t.call(
        "GET",
        &format!("/api/customer/v1/links/{token}"),
        None,
        None,
    )
    .await
}

const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)";

async fn approve(t: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    t.call_with(
        "POST",
        &format!("/api/customer/v1/links/{token}/approval"),
        None,
        Some(body),
        &[("user-agent", PHONE)],
    )
    .await
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    let row =
        t.db.query_one_raw(Statement::from_string(t.db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn exec(t: &TestApp, sql: &str) -> Result<(), String> {
    t.db.execute_raw(Statement::from_string(t.db.get_database_backend(), sql))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

both_backends!(links_are_capabilities, async |t: &TestApp| {
    let s = setup(t, "link-shop", "premium").await;
    let (_, shop) = t.get("/api/v1/shop", &s.owner).await;
    let (token, issued) = link(t, &s.owner, &s.ticket, json!({})).await;
    // 256 random bits, URL-safe, after a recognisable prefix.
    assert!(
        token.starts_with("pwc_") && token.len() >= 4 + 43,
        "{token}"
    );
    assert!(
        issued["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/c/pwc_", t.base_url))
    );
    assert!(issued["expires_at"].is_string());
    // Only the hash is stored.
    assert_eq!(
        count(
            t,
            &format!(
                "SELECT COUNT(*) FROM customer_links WHERE token_hash LIKE '%{}%'",
                &token[4..20]
            )
        )
        .await,
        0
    );

    let resp = t
        .client
        .get(t.url(&format!("/api/customer/v1/links/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    assert!(
        resp.headers()["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let view: Value = resp.json().await.unwrap();
    assert_eq!(view["ticket_number"], "5001");
    assert_eq!(view["services"].as_array().unwrap().len(), 3);
    assert_eq!(view["services"][0]["awaiting_decision"], true);
    assert_eq!(view["shop"]["name"], shop["name"]);
    // 200.00 + 30.00 + 45.00, tax 10 % of the taxable 75.00.
    assert_eq!(view["total"], 28_250, "{view}");
    assert!(view["ticket_version"].is_i64());
    // Staff-only facts stay out of the customer's answer.
    let text = view.to_string();
    assert!(
        !text.contains("dana@example.com") && !text.contains("+1512"),
        "{text}"
    );

    // A guessed token, a malformed one: 404, nothing about any shop.
    for bad in [
        format!("pwc_{}", "A".repeat(43)),
        "not-a-token".to_owned(),
        format!("{}x", token),
    ] {
        let (st, b) = customer_get(t, &bad).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{bad}: {b}");
        assert_eq!(b["code"], "not_found");
    }

    // The link names its ticket only: another ticket's services are not
    // approvable through it.
    let (_, other) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/E-2",
            Some(&s.key),
            Some(estimate("5002", "2026-11-23T10:00:00Z")),
        )
        .await;
    let foreign = other["ticket"]["services"][0]["id"].clone();
    let (st, b) = approve(
        t,
        &token,
        json!({"approved_service_ids": [foreign], "declined_service_ids": [],
               "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": view["ticket_version"]}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "approved_service_ids");

    // Staff see the link without its token, opened once, and the timeline
    // says who issued it and how, and that the customer opened it.
    let (_, list) = t
        .get(
            &format!("/api/v1/tickets/{}/customer-links", s.ticket),
            &s.owner,
        )
        .await;
    assert!(!list.to_string().contains(&token));
    assert_eq!(list["items"][0]["state"], "active");
    assert_eq!(list["items"][0]["visits"], 1);
    assert_eq!(list["items"][0]["viewing"], true, "{list}");
    let (_, tl) = t
        .get(&format!("/api/v1/tickets/{}/timeline", s.ticket), &s.owner)
        .await;
    let kinds: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"link_sent") && kinds.contains(&"link_opened"),
        "{kinds:?}"
    );
    let sent = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "link_sent")
        .unwrap();
    assert_eq!(sent["data"]["how"], "copied");
    assert_eq!(sent["actor_kind"], "staff");
    // Opening again within the visit gap is the same visit.
    customer_get(t, &token).await;
    let (_, list) = t
        .get(
            &format!("/api/v1/tickets/{}/customer-links", s.ticket),
            &s.owner,
        )
        .await;
    assert_eq!(list["items"][0]["visits"], 1);

    // Revoked: 410 with the shop's name; re-issued: the new one works.
    let link_id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (st, b) = t
        .post(
            &format!(
                "/api/v1/tickets/{}/customer-links/{link_id}/revoke",
                s.ticket
            ),
            &s.owner,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, b) = customer_get(t, &token).await;
    assert_eq!(st, StatusCode::GONE, "{b}");
    assert_eq!(b["code"], "link_gone");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains(shop["name"].as_str().unwrap())
    );
    let (st, b) = t
        .post(
            &format!(
                "/api/v1/tickets/{}/customer-links/{link_id}/revoke",
                s.ticket
            ),
            &s.owner,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "revoking twice: {b}");
    let (second, _) = link(t, &s.owner, &s.ticket, json!({})).await;
    let (third, _) = link(t, &s.owner, &s.ticket, json!({"replace": true})).await;
    assert_eq!(
        customer_get(t, &second).await.0,
        StatusCode::GONE,
        "replaced"
    );
    assert_eq!(customer_get(t, &third).await.0, StatusCode::OK);

    // Expired: 410.
    exec(
        t,
        "UPDATE customer_links SET expires_at = created_at WHERE revoked_at IS NULL",
    )
    .await
    .unwrap();
    let (st, b) = customer_get(t, &third).await;
    assert_eq!(st, StatusCode::GONE, "{b}");
    assert!(b["message"].as_str().unwrap().contains("expired"), "{b}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_lookups_are_rate_limited_per_address() {
    let opts = Options {
        env: vec![("PITWALL_LINK_LOOKUPS_PER_MINUTE".into(), "5".into())],
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(Backend::Sqlite, opts).await else {
        return;
    };
    let s = setup(&t, "limit-shop", "premium").await;
    let (token, _) = link(&t, &s.owner, &s.ticket, json!({})).await;
    for i in 0..5 {
        let guess = format!("pwc_{}", "B".repeat(40 + i));
        assert_eq!(customer_get(&t, &guess).await.0, StatusCode::NOT_FOUND);
    }
    // Even the right token waits once the address used up its lookups.
    let (st, b) = customer_get(&t, &token).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert_eq!(b["code"], "rate_limited");
    t.finish().await;
}

/// Two API nodes on one PostgreSQL count one address's lookups together:
/// a guesser gains nothing by spreading over nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_lookups_are_limited_across_nodes_on_postgres() {
    let limit = ("PITWALL_LINK_LOOKUPS_PER_MINUTE".to_owned(), "5".to_owned());
    let Some(a) = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            env: vec![limit.clone()],
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let Some(b) = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            env: vec![limit, ("DATABASE_URL".to_owned(), a.database_url.clone())],
            ..Default::default()
        },
    )
    .await
    else {
        a.finish().await;
        return;
    };
    let s = setup(&a, "limit-nodes", "premium").await;
    let (token, _) = link(&a, &s.owner, &s.ticket, json!({})).await;
    // The count is per minute: keep the lookups inside one.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    // The link works on either node.
    assert_eq!(customer_get(&b, &token).await.0, StatusCode::OK);
    for i in 0..4 {
        let node = if i % 2 == 0 { &a } else { &b };
        let guess = format!("pwc_{}", "C".repeat(40 + i));
        assert_eq!(customer_get(node, &guess).await.0, StatusCode::NOT_FOUND);
    }
    // Five lookups in all (two on one node, three on the other): the next
    // is refused on both.
    for node in [&a, &b] {
        let (st, body) = customer_get(node, &token).await;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
    b.finish().await;
    a.finish().await;
}

both_backends!(
    approvals_are_evidence_and_refuse_stale_prices,
    async |t: &TestApp| {
        let s = setup(t, "approve-shop", "premium").await;
        let (token, _) = link(t, &s.owner, &s.ticket, json!({})).await;
        let (_, view) = customer_get(t, &token).await;
        let version = view["ticket_version"].clone();
        let [brakes, wipers, filter] = [&s.services[0], &s.services[1], &s.services[2]];

        // Bad decisions change nothing and name the field.
        for (body, field) in [
            (
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers, filter],
                       "signer_name": "Dana", "signature": "", "ticket_version": version}),
                "signature",
            ),
            (
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers, filter],
                       "signer_name": "Dana", "signature": "<svg onload=alert(1)>", "ticket_version": version}),
                "signature",
            ),
            (
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers, filter],
                       "signer_name": " ", "signature": SIGNATURE, "ticket_version": version}),
                "signer_name",
            ),
            (
                json!({"approved_service_ids": [brakes], "declined_service_ids": [wipers],
                       "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": version}),
                "declined_service_ids",
            ),
            (
                json!({"approved_service_ids": [brakes], "declined_service_ids": [brakes, wipers, filter],
                       "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": version}),
                "declined_service_ids",
            ),
        ] {
            let (st, b) = approve(t, &token, body).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
            assert_eq!(b["field"], field, "{b}");
        }
        assert_eq!(count(t, "SELECT COUNT(*) FROM approvals").await, 0);

        // A price changed after the page was shown: refused, nothing changed.
        let mut newer = estimate("5001", "2026-11-23T11:00:00Z");
        newer["services"][1]["line_items"][0]["unit_price"] = json!(2500);
        let (st, _) = t
            .call("PUT", "/api/pos/v1/tickets/E-1", Some(&s.key), Some(newer))
            .await;
        assert_eq!(st, StatusCode::OK);
        let decision = json!({"approved_service_ids": [brakes, wipers], "declined_service_ids": [filter],
                              "signer_name": "Dana Reyes", "signature": SIGNATURE, "ticket_version": version});
        let (st, b) = approve(t, &token, decision.clone()).await;
        assert_eq!(st, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["code"], "ticket_changed");
        assert_eq!(b["field"], "ticket_version");
        let current = b["current_version"].clone();
        assert_ne!(current, version);
        assert_eq!(count(t, "SELECT COUNT(*) FROM approvals").await, 0);
        let (_, tk) = t
            .get(&format!("/api/v1/tickets/{}", s.ticket), &s.owner)
            .await;
        assert_eq!(tk["ticket"]["services"][0]["status"], "recommended");

        // On the version shown now: two approved, one declined.
        let mut decision = decision;
        decision["ticket_version"] = current.clone();
        let (st, first) = approve(t, &token, decision.clone()).await;
        assert_eq!(st, StatusCode::CREATED, "{first}");
        let a = &first["approval"];
        assert_eq!(a["method"], "customer_link");
        assert_eq!(a["signer_name"], "Dana Reyes");
        assert_eq!(a["approved"].as_array().unwrap().len(), 2);
        assert_eq!(a["declined"][0]["title"], "Cabin filter");
        // 200.00 + 2 x 25.00; tax 10 % of the taxable 50.00.
        assert_eq!(a["approved_total"], 25_000);
        assert_eq!(a["total"], 25_500);
        assert_eq!(first["ticket"]["services"][2]["status"], "declined");
        assert_eq!(first["ticket"]["services"][0]["awaiting_decision"], false);

        // Sent twice (a double tap): one record, the same answer.
        let (st, again) = approve(t, &token, decision).await;
        assert_eq!(st, StatusCode::OK, "{again}");
        assert_eq!(again["approval"]["id"], a["id"]);
        assert_eq!(count(t, "SELECT COUNT(*) FROM approvals").await, 1);

        // Staff see the record with its evidence; the POS hears of it.
        let (_, list) = t
            .get(&format!("/api/v1/tickets/{}/approvals", s.ticket), &s.owner)
            .await;
        let rec = &list["items"][0];
        assert_eq!(rec["signature"], SIGNATURE);
        assert_eq!(rec["ip"], "127.0.0.1");
        assert_eq!(rec["user_agent"], PHONE);
        assert_eq!(rec["seq"], 1);
        assert_eq!(rec["hash"].as_str().unwrap().len(), 64);
        assert!(rec["prev_hash"].is_null());
        let approval_id = rec["id"].as_str().unwrap();
        let (st, one) = t
            .get(&format!("/api/v1/approvals/{approval_id}"), &s.owner)
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(one["approved"][1]["title"], "Wiper blades");
        let (_, notes) = t.get("/api/pos/v1/notifications", &s.key).await;
        let approved = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "work_approved")
            .expect("a work_approved notification");
        assert_eq!(
            approved["data"]["approved_services"],
            json!(["Front brakes", "Wiper blades"])
        );
        assert_eq!(approved["data"]["approved_by"], "Dana Reyes");
        assert_eq!(approved["data"]["method"], "customer_link");
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{}/timeline", s.ticket), &s.owner)
            .await;
        let event = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "work_approved")
            .expect("work approved on the timeline");
        assert_eq!(event["data"]["approval_id"], a["id"]);
        assert_eq!(event["actor_kind"], "customer");

        // Coming back shows the same decision.
        let (_, back) = customer_get(t, &token).await;
        assert_eq!(back["approvals"][0]["id"], a["id"]);

        // Nothing left to decide: another approval is refused.
        let (st, b) = approve(
            t,
            &token,
            json!({"approved_service_ids": [filter], "declined_service_ids": [],
                   "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": back["ticket_version"]}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    }
);

both_backends!(everything_declined_is_recorded_too, async |t: &TestApp| {
    let s = setup(t, "decline-shop", "starter").await;
    let (token, _) = link(t, &s.owner, &s.ticket, json!({})).await;
    let (_, view) = customer_get(t, &token).await;
    let (st, b) = approve(
        t,
        &token,
        json!({"approved_service_ids": [], "declined_service_ids": s.services,
                   "signer_name": "Dana", "signature": "M 10 10 L 40 30 L 80 12",
                   "ticket_version": view["ticket_version"]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["approval"]["approved_total"], 0);
    assert_eq!(b["ticket"]["total"], 0);
    let (_, notes) = t.get("/api/pos/v1/notifications", &s.key).await;
    assert!(
        notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "work_approved"),
        "{notes}"
    );
    // Starter has approvals but not live presence.
    let (_, list) = t
        .get(
            &format!("/api/v1/tickets/{}/customer-links", s.ticket),
            &s.owner,
        )
        .await;
    assert_eq!(list["items"][0]["viewing"], false);
});

both_backends!(
    tampering_is_caught_by_the_chain_check,
    async |t: &TestApp| {
        let s = setup(t, "chain-shop", "premium").await;
        let (token, _) = link(t, &s.owner, &s.ticket, json!({})).await;
        let (_, view) = customer_get(t, &token).await;
        let (st, _) = approve(
            t,
            &token,
            json!({"approved_service_ids": [s.services[0]], "declined_service_ids": [s.services[1], s.services[2]],
                   "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": view["ticket_version"]}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        // The POS recommends one more service; the customer approves it.
        let mut newer = estimate("5001", "2026-11-23T12:00:00Z");
        newer["services"][0]["status"] = json!("approved");
        newer["services"][1]["status"] = json!("declined");
        newer["services"][2]["status"] = json!("declined");
        newer["services"].as_array_mut().unwrap().push(json!(
            {"external_id": "S-4", "title": "Alignment", "status": "recommended", "line_items": [
                {"kind": "labor", "description": "Four wheels", "quantity": 1, "unit_price": 9000, "taxable": false}]}
        ));
        let (st, b) = t
            .call("PUT", "/api/pos/v1/tickets/E-1", Some(&s.key), Some(newer))
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let alignment = b["ticket"]["services"][3]["id"].clone();
        let (_, view) = customer_get(t, &token).await;
        let (st, b) = approve(
            t,
            &token,
            json!({"approved_service_ids": [alignment], "declined_service_ids": [],
                   "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": view["ticket_version"]}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        let verify = format!("/api/v1/tickets/{}/approvals/verification", s.ticket);
        let (_, chain) = t.get(&verify, &s.owner).await;
        assert_eq!(chain["intact"], true, "{chain}");
        assert_eq!(chain["approvals"].as_array().unwrap().len(), 2);
        let (_, list) = t
            .get(&format!("/api/v1/tickets/{}/approvals", s.ticket), &s.owner)
            .await;
        assert_eq!(list["items"][1]["prev_hash"], list["items"][0]["hash"]);

        // The database refuses edits outright...
        let edit = "UPDATE approvals SET signer_name = 'Someone else' WHERE seq = 1";
        let refused = exec(t, edit).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("never edited")),
            "{refused:?}"
        );
        // ...and someone who removes that guard is still found out.
        match t.db.get_database_backend() {
            DbBackend::Postgres => exec(t, "DROP TRIGGER approvals_never_edited ON approvals")
                .await
                .unwrap(),
            _ => exec(t, "DROP TRIGGER approvals_never_edited")
                .await
                .unwrap(),
        }
        exec(t, edit).await.unwrap();
        let (_, chain) = t.get(&verify, &s.owner).await;
        assert_eq!(chain["intact"], false);
        assert_eq!(chain["approvals"][0]["result"], "altered");
        assert_eq!(chain["approvals"][1]["result"], "intact");
        exec(t, "DELETE FROM approvals WHERE seq = 1")
            .await
            .unwrap();
        let (_, chain) = t.get(&verify, &s.owner).await;
        assert_eq!(chain["approvals"][0]["result"], "broken", "{chain}");
    }
);

both_backends!(
    staff_record_in_person_and_phone_approvals,
    async |t: &TestApp| {
        let s = setup(t, "inperson-shop", "pro").await;
        let path = format!("/api/v1/tickets/{}/approvals", s.ticket);
        let (st, b) = t
            .post(
                &path,
                &s.owner,
                json!({"approved_service_ids": [s.services[0]], "method": "in_person", "signer_name": "Dana"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "signature");
        let (st, b) = t
            .post(
                &path,
                &s.owner,
                json!({"approved_service_ids": [s.services[0]], "method": "email", "signer_name": "Dana"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "method");
        assert_eq!(count(t, "SELECT COUNT(*) FROM approvals").await, 0);
        let (st, b) = t
            .post(
                &path,
                &s.owner,
                json!({"approved_service_ids": [s.services[0]], "method": "in_person",
                       "signer_name": "Dana Reyes", "signature": SIGNATURE}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["services"][0]["status"], "approved");
        let (st, b) = t
            .post(
                &path,
                &s.owner,
                json!({"declined_service_ids": [s.services[1]], "method": "phone",
                       "note": "Called at 10:15, declined wipers"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let (_, list) = t.get(&path, &s.owner).await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["method"], "in_person");
        assert_eq!(items[0]["signature"], SIGNATURE);
        assert!(items[0]["staff_name"].is_string());
        assert_eq!(items[1]["method"], "phone");
        assert!(items[1]["signature"].is_null());
        assert_eq!(items[1]["note"], "Called at 10:15, declined wipers");
        let (_, chain) = t.get(&format!("{path}/verification"), &s.owner).await;
        assert_eq!(chain["intact"], true);
    }
);

both_backends!(presence_and_the_customers_message, async |t: &TestApp| {
    let s = setup(t, "presence-shop", "premium").await;
    let (token, _) = link(t, &s.owner, &s.ticket, json!({})).await;
    let links = format!("/api/v1/tickets/{}/customer-links", s.ticket);
    let (_, list) = t.get(&links, &s.owner).await;
    assert_eq!(list["items"][0]["viewing"], false, "not opened yet");
    customer_get(t, &token).await;
    let (_, list) = t.get(&links, &s.owner).await;
    assert_eq!(list["items"][0]["viewing"], true);
    // The page's stream ends (the customer closed it): gone at once.
    let (_, shop) = t.get("/api/v1/shop", &s.owner).await;
    let shop_id = pitwall_core::domain::ShopId::from_uuid(
        uuid::Uuid::parse_str(shop["id"].as_str().unwrap()).unwrap(),
    );
    let rows = pitwall_store::customer_links::of_ticket(
        &t.db,
        shop_id,
        pitwall_core::domain::TicketId::from_uuid(uuid::Uuid::parse_str(&s.ticket).unwrap()),
    )
    .await
    .unwrap();
    pitwall_core::presence::beat(&t.app, &rows[0], false)
        .await
        .unwrap();
    let (_, list) = t.get(&links, &s.owner).await;
    assert_eq!(list["items"][0]["viewing"], false);

    // The customer writes from the page: it joins the thread and marks
    // the ticket for staff.
    let msg = format!("/api/customer/v1/links/{token}/messages");
    let (st, b) = t
        .call("POST", &msg, None, Some(json!({"body": "  "})))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "body");
    let (st, b) = t
        .call(
            "POST",
            &msg,
            None,
            Some(json!({"body": "Can you also check the horn?"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, tk) = t
        .get(&format!("/api/v1/tickets/{}", s.ticket), &s.owner)
        .await;
    let customer = tk["ticket"]["customer"]["id"].as_str().unwrap();
    let (_, thread) = t
        .get(&format!("/api/v1/threads/{customer}"), &s.owner)
        .await;
    let text = thread.to_string();
    assert!(text.contains("Can you also check the horn?"), "{text}");
    assert!(text.contains("\"web\""), "{text}");
    let (_, dash) = t.get("/api/v1/dashboard", &s.owner).await;
    assert_eq!(dash["items"][0]["unread_reply"], true, "{dash}");
});

mod links_go_out_by_text_with_the_shops_template {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        links_by_text(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        links_by_text(Backend::Postgres).await;
    }
}

/// With the workers and a provider: the text the customer gets is the
/// shop's own link template, filled in.
async fn links_by_text(backend: Backend) {
    let fake = FakeSms::start().await.expect("fake SMS provider");
    let opts = Options {
        workers: true,
        env: fake.env("+15125550100"),
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        return;
    };
    {
        let t = &t;
        let s = setup(t, "send-shop", "premium").await;
        let (st, b) = t
            .call(
                "PUT",
                "/api/v1/message-templates/link",
                Some(&s.owner),
                Some(json!({"body": "{{ shop_name }} for {{ first_name }}: your {{ vehicle }} estimate, {{ link }} (reply STOP to stop)"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let (token, b) = link(t, &s.owner, &s.ticket, json!({"send": "sms"})).await;
        let message = b["message_id"].as_str().expect("a message").to_owned();
        let url = b["url"].as_str().unwrap().to_owned();
        let got = fake.wait_for(1, 15).await;
        assert_eq!(
            got[0].body,
            format!(
                "Shop send-shop for Dana: your 2019 Honda Civic estimate, {url} (reply STOP to stop)"
            )
        );
        let (_, tk) = t
            .get(&format!("/api/v1/tickets/{}", s.ticket), &s.owner)
            .await;
        let customer = tk["ticket"]["customer"]["id"].as_str().unwrap();
        let (_, thread) = t
            .get(&format!("/api/v1/threads/{customer}"), &s.owner)
            .await;
        let text = thread.to_string();
        // The chat log shows the link masked (the customer gets it whole).
        let tail = &token[token.len() - 4..];
        assert!(
            text.contains(&message) && text.contains(&format!("pwc_…{tail}")),
            "{text}"
        );
        assert!(!text.contains(&token), "{text}");
        let (st, b) = t
            .post(
                &format!("/api/v1/tickets/{}/customer-links", s.ticket),
                &s.owner,
                json!({"send": "fax"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "send");
        // An advisor may send links; a technician may not.
        let (_, shop) = t.get("/api/v1/shop", &s.owner).await;
        let shop = uuid::Uuid::parse_str(shop["id"].as_str().unwrap()).unwrap();
        let (_, tech) = t
            .member(
                pitwall_core::domain::ShopId::from_uuid(shop),
                "tech@send.test",
                Role::Technician,
            )
            .await;
        let (st, b) = t
            .post(
                &format!("/api/v1/tickets/{}/customer-links", s.ticket),
                &tech,
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "customer_links.send");
    }
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_webhooks_are_signed_retried_and_logged() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let opts = Options {
            workers: true,
            ..Default::default()
        };
        let Some(t) = TestApp::spawn_with(backend, opts).await else {
            continue;
        };
        // Pro plans do not have webhooks; Premium does.
        let (_, pro) = t.shop("pro-hooks", "pro").await;
        let (st, b) = t
            .post(
                "/api/v1/webhooks",
                &pro,
                json!({"url": "https://example.com/h"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["feature"], "webhooks");

        let s = setup(&t, "hooks-shop", "premium").await;
        let (st, b) = t
            .post(
                "/api/v1/webhooks",
                &s.owner,
                json!({"url": "ftp://example.com/h"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "url");
        // The first delivery meets a 503, the retry gets through.
        let rx = Receiver::start(&[503]).await.unwrap();
        let (st, hook) = t
            .post("/api/v1/webhooks", &s.owner, json!({"url": rx.url()}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{hook}");
        let secret = hook["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));

        let (token, _) = link(&t, &s.owner, &s.ticket, json!({})).await;
        let (_, view) = customer_get(&t, &token).await;
        let (st, _) = approve(
            &t,
            &token,
            json!({"approved_service_ids": [s.services[0]], "declined_service_ids": [s.services[1], s.services[2]],
                   "signer_name": "Dana", "signature": SIGNATURE, "ticket_version": view["ticket_version"]}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let got = rx.wait_for(2, 15).await;
        assert_eq!(got.len(), 2, "one failed try and one delivery");
        let last = &got[1];
        let sig = last.header("pitwall-signature").unwrap();
        let ts: i64 = sig
            .split(',')
            .next()
            .and_then(|p| p.strip_prefix("t="))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
        assert_eq!(
            sig,
            pitwall_jobs::webhooks::signature(&secret, ts, &last.body),
            "signed with the webhook's secret over t.body"
        );
        assert_ne!(
            sig,
            pitwall_jobs::webhooks::signature("whsec_other", ts, &last.body)
        );
        let body: Value = serde_json::from_str(&last.body).unwrap();
        assert_eq!(body["event"], "work_approved");
        assert_eq!(body["ticket_id"], json!(s.ticket));
        assert_eq!(body["data"]["approved_services"], json!(["Front brakes"]));
        assert_eq!(got[0].body, last.body, "a retry sends the same delivery");
        assert_eq!(last.header("pitwall-event"), Some("work_approved"));

        // The shop sees the delivery, its tries and its outcome.
        let mut delivered = Value::Null;
        for _ in 0..50 {
            let (_, list) = t.get("/api/v1/webhooks", &s.owner).await;
            delivered = list["items"][0]["deliveries"][0].clone();
            if delivered["status"] == "delivered" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(delivered["status"], "delivered", "{delivered}");
        assert_eq!(delivered["attempts"], 2);

        // A receiver that refuses (4xx) fails at once, with the reason.
        let refusing = Receiver::start(&[410]).await.unwrap();
        let (_, hook2) = t
            .post("/api/v1/webhooks", &s.owner, json!({"url": refusing.url()}))
            .await;
        let hook2_id = hook2["id"].as_str().unwrap();
        let (st, _) = t
            .post(
                &format!("/api/v1/webhooks/{hook2_id}/test"),
                &s.owner,
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        refusing.wait_for(1, 10).await;
        let mut failed = Value::Null;
        for _ in 0..50 {
            let (_, list) = t.get("/api/v1/webhooks", &s.owner).await;
            failed = list["items"][1]["deliveries"][0].clone();
            if failed["status"] == "failed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(failed["response_status"], 410);
        assert_eq!(failed["attempts"], 1);
        assert_eq!(
            rx.received().len(),
            2,
            "a test goes to the webhook asked for only"
        );
        let (st, _) = t
            .call(
                "DELETE",
                &format!("/api/v1/webhooks/{hook2_id}"),
                Some(&s.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        t.finish().await;
    }
}

both_backends!(
    the_customers_language_comes_from_the_pos,
    async |t: &TestApp| {
        let s = setup(t, "lang-shop", "premium").await;
        let (token, _) = link(t, &s.owner, &s.ticket, json!({})).await;
        assert_eq!(customer_get(t, &token).await.1["locale"], "en");
        let mut bad = estimate("5001", "2026-11-23T11:00:00Z");
        bad["customer"]["locale"] = json!("fr");
        let (st, b) = t
            .call("PUT", "/api/pos/v1/tickets/E-1", Some(&s.key), Some(bad))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "customer/locale");
        let mut spanish = estimate("5001", "2026-11-23T12:00:00Z");
        spanish["customer"]["locale"] = json!("es-MX");
        let (st, b) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/E-1",
                Some(&s.key),
                Some(spanish),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["ticket"]["customer"]["locale"], "es");
        assert_eq!(customer_get(t, &token).await.1["locale"], "es");
        // A later push without a language keeps it.
        let (st, _) = t
            .call(
                "PUT",
                "/api/pos/v1/tickets/E-1",
                Some(&s.key),
                Some(estimate("5001", "2026-11-23T13:00:00Z")),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(customer_get(t, &token).await.1["locale"], "es");
    }
);
