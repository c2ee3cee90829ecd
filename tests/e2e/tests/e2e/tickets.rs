//! Tickets end to end on both databases: POS sync (idempotency, order,
//! batches, bad payloads), customers, statuses and their messages, the
//! dashboard's live feed, notifications back to the POS, and plan gates.

use std::time::Duration;

use pitwall_core::domain::Role;
use pitwall_store::sea_orm::{ConnectionTrait, DbBackend, Statement};
use pitwall_testkit::{StatusCode, TestApp, both_backends};
use serde_json::{Value, json};

fn ticket(number: &str, updated: &str) -> Value {
    json!({
        "kind": "workorder",
        "number": number,
        "customer": {"external_id": format!("C-{number}"), "first_name": "Dana", "last_name": "Reyes",
                     "phone": "(512) 555-0123", "email": "dana@example.com"},
        "vehicle": {"external_id": format!("V-{number}"), "vin": "1HGCM82633A004352", "year": 2019,
                    "make": "Honda", "model": "Civic", "plate": "ABC-1234", "mileage": 48210},
        "services": [
            {"external_id": "S-1", "title": "Front brakes", "status": "recommended", "line_items": [
                {"kind": "labor", "description": "Pads and rotors", "quantity": 1.5, "unit_price": 12000, "taxable": false},
                {"kind": "part", "description": "Pad set", "quantity": 1, "unit_price": 6499, "taxable": true}
            ]},
            {"external_id": "S-2", "title": "Wiper blades", "status": "declined", "line_items": [
                {"kind": "part", "description": "Blades", "quantity": 2, "unit_price": 1500, "taxable": true}
            ]}
        ],
        "tax_rate": 0.0825,
        "pos_updated_at": updated,
    })
}

async fn put(t: &TestApp, key: &str, ext: &str, body: Value) -> (StatusCode, Value) {
    t.call(
        "PUT",
        &format!("/api/pos/v1/tickets/{ext}"),
        Some(key),
        Some(body),
    )
    .await
}

both_backends!(
    pos_push_is_idempotent_ordered_and_totalled,
    async |t: &TestApp| {
        let (_, owner) = t.shop("pos-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (s, first) = put(t, &key, "RO-1", ticket("1001", "2026-11-23T10:00:00Z")).await;
        assert_eq!(s, StatusCode::CREATED, "{first}");
        assert_eq!(first["outcome"], "created");
        let tk = &first["ticket"];
        // 1.5 x 120.00 + 64.99 = 244.99; tax 8.25 % of 64.99 = 5.36; the
        // declined wipers do not count.
        assert_eq!(tk["subtotal"], 24_499);
        assert_eq!(tk["tax"], 536);
        assert_eq!(tk["total"], 25_035);
        assert_eq!(tk["customer"]["phone"], "+15125550123");
        assert_eq!(tk["vehicle"]["plate"], "ABC1234");
        assert_eq!(tk["status"]["label"], "Not started");
        let service_id = tk["services"][0]["id"].clone();

        // The same body again: one ticket, nothing changed.
        let (s, again) = put(t, &key, "RO-1", ticket("1001", "2026-11-23T10:00:00Z")).await;
        assert_eq!(s, StatusCode::OK, "{again}");
        assert_eq!(again["outcome"], "unchanged");
        assert_eq!(again["ticket"]["id"], tk["id"]);
        assert_eq!(again["ticket"]["version"], tk["version"]);

        // A newer push updates and keeps the service's id.
        let mut newer = ticket("1001", "2026-11-23T11:00:00Z");
        newer["services"][0]["title"] = json!("Front brakes (pads, rotors)");
        let (s, upd) = put(t, &key, "RO-1", newer).await;
        assert_eq!(s, StatusCode::OK, "{upd}");
        assert_eq!(upd["outcome"], "updated");
        assert_eq!(upd["ticket"]["services"][0]["id"], service_id);
        assert_eq!(upd["ticket"]["version"], 2);

        // An older one arriving late changes nothing and says so.
        let mut older = ticket("1001", "2026-11-23T10:30:00Z");
        older["number"] = json!("WRONG");
        let (s, stale) = put(t, &key, "RO-1", older).await;
        assert_eq!(s, StatusCode::CONFLICT, "{stale}");
        assert_eq!(stale["code"], "stale_update");
        assert_eq!(stale["field"], "pos_updated_at");
        let (_, got) = t.get("/api/pos/v1/tickets/RO-1", &key).await;
        assert_eq!(got["number"], "1001");
        assert_eq!(got["services"][0]["title"], "Front brakes (pads, rotors)");

        let (_, list) = t.get("/api/v1/tickets", &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

        // Another shop's key does not see it.
        let (_, other_owner) = t.shop("pos-other", "premium").await;
        let other_key = t.pos_key(&other_owner).await;
        let (s, _) = t.get("/api/pos/v1/tickets/RO-1", &other_key).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    bad_payloads_name_every_field_and_change_nothing,
    async |t: &TestApp| {
        let (_, owner) = t.shop("bad-pos", "premium").await;
        let key = t.pos_key(&owner).await;
        let mut bad = ticket("2001", "2026-11-23T10:00:00Z");
        bad["kind"] = json!("quote");
        bad["tax_rate"] = json!(8.25);
        bad["customer"]["phone"] = json!("12");
        bad["vehicle"]["vin"] = json!("SHORT");
        bad["services"][0]["status"] = json!("maybe");
        bad["services"][0]["line_items"][1]["quantity"] = json!(0);
        bad["services"][1]["line_items"][0]["kind"] = json!("gadget");
        let (s, b) = put(t, &key, "RO-BAD", bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["code"], "invalid_input");
        let fields: Vec<&str> = b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for f in [
            "kind",
            "tax_rate",
            "customer/phone",
            "vehicle/vin",
            "services/0/status",
            "services/0/line_items/1/quantity",
            "services/1/line_items/0/kind",
        ] {
            assert!(fields.contains(&f), "{f} not named in {b}");
        }
        // A wrong type is named by its pointer too.
        let mut typed = ticket("2001", "2026-11-23T10:00:00Z");
        typed["services"][0]["line_items"][0]["unit_price"] = json!("12.00");
        let (s, b) = put(t, &key, "RO-BAD", typed).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "services/0/line_items/0/unit_price");

        let (_, list) = t.get("/api/v1/tickets", &owner).await;
        assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
        let (_, customers) = t.get("/api/v1/customers", &owner).await;
        assert!(customers["items"].as_array().unwrap().is_empty());
        // Sync health shows both rejections with their errors and payloads.
        let (s, health) = t.get("/api/v1/sync-health", &owner).await;
        assert_eq!(s, StatusCode::OK, "{health}");
        assert_eq!(health["rejected_24h"], 2, "{health}");
        let last = &health["recent_rejections"][0];
        assert_eq!(last["external_id"], "RO-BAD");
        assert!(last["payload"].as_str().unwrap().contains("12.00"));
    }
);

both_backends!(
    a_batch_answers_each_ticket_on_its_own,
    async |t: &TestApp| {
        let (_, owner) = t.shop("batch-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let mut tickets = Vec::new();
        for (i, ext) in ["B-1", "B-2", "B-3"].iter().enumerate() {
            let mut tk = ticket(&format!("300{i}"), "2026-11-23T10:00:00Z");
            tk["external_id"] = json!(ext);
            tickets.push(tk);
        }
        tickets[1]["kind"] = json!("nonsense");
        let (s, b) = t
            .post(
                "/api/pos/v1/tickets/batch",
                &key,
                json!({"tickets": tickets}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let r = b["results"].as_array().unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0]["outcome"], "created");
        assert_eq!(r[1]["outcome"], "rejected");
        assert_eq!(r[1]["error"]["field"], "tickets/1/kind", "{b}");
        assert_eq!(r[2]["outcome"], "created");
        let (_, list) = t.get("/api/v1/tickets", &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 2);

        let too_many: Vec<Value> = (0..101)
            .map(|i| {
                let mut tk = ticket("1", "2026-11-23T10:00:00Z");
                tk["external_id"] = json!(format!("X-{i}"));
                tk
            })
            .collect();
        let (s, b) = t
            .post(
                "/api/pos/v1/tickets/batch",
                &key,
                json!({"tickets": too_many}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "tickets");
    }
);

both_backends!(
    a_batch_may_name_one_ticket_and_one_customer_more_than_once,
    async |t: &TestApp| {
        // A batch is written set-based; these are the cases where a later
        // ticket of the batch must see what an earlier one wrote.
        let (_, owner) = t.shop("batch-twice", "premium").await;
        let key = t.pos_key(&owner).await;
        let phone_only = |first: &str| json!({"first_name": first, "last_name": "Okafor", "phone": "(512) 555-0199"});
        let mut first = ticket("4001", "2026-11-23T10:00:00Z");
        first["external_id"] = json!("T-1");
        first["customer"] = phone_only("Ngozi");
        first["vehicle"]["vin"] = json!("2HGFC2F59JH000001");
        let mut other = ticket("4002", "2026-11-23T10:00:00Z");
        other["external_id"] = json!("T-2");
        other["customer"] = phone_only("Adaeze");
        other["vehicle"] = json!({"vin": "2HGFC2F59JH000001", "make": "Honda", "model": "Civic"});
        let mut newer = ticket("4001-B", "2026-11-23T11:00:00Z");
        newer["external_id"] = json!("T-1");
        newer["customer"] = phone_only("Adaeze");
        newer["vehicle"] = first["vehicle"].clone();
        newer["services"][0]["status"] = json!("approved");
        let mut older = ticket("4001-OLD", "2026-11-23T09:00:00Z");
        older["external_id"] = json!("T-1");
        let (s, b) = t
            .post(
                "/api/pos/v1/tickets/batch",
                &key,
                json!({"tickets": [first, other, newer, older]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let r = b["results"].as_array().unwrap();
        let outcomes: Vec<&str> = r.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["created", "created", "updated", "stale"], "{b}");
        // Each answer naming T-1 shows it as the batch left it.
        for x in [&r[0], &r[2], &r[3]] {
            assert_eq!(x["ticket"], r[2]["ticket"], "{b}");
        }
        assert_eq!(r[2]["ticket"]["number"], "4001-B");
        assert_eq!(r[2]["ticket"]["services"].as_array().unwrap().len(), 2);
        // One customer, found by phone the second and third time, with the
        // last name sent; one vehicle, found by VIN.
        let (_, found) = t.get("/api/v1/customers?q=okafor", &owner).await;
        let customers = found["items"].as_array().unwrap();
        assert_eq!(customers.len(), 1, "{found}");
        assert_eq!(customers[0]["first_name"], "Adaeze");
        for x in &r[..3] {
            assert_eq!(x["ticket"]["customer"]["id"], customers[0]["id"], "{x}");
            assert_eq!(
                x["ticket"]["vehicle"]["id"], r[0]["ticket"]["vehicle"]["id"],
                "{x}"
            );
        }
        // Both tickets are found by the name the customer has now, the
        // approved service counts, and nothing is found by the old name.
        let (_, list) = t.get("/api/v1/tickets?q=adaeze", &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
        let (_, list) = t.get("/api/v1/tickets?q=ngozi", &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
        let page = as_its_page_shows_it(t, &owner, &r[2]["ticket"]["id"]).await;
        assert_eq!(page, without_timer(&r[2]["ticket"]));
        assert!(page["total"].as_i64().unwrap() > 0, "{page}");
        let (_, timeline) = t
            .get(
                &format!(
                    "/api/v1/tickets/{}/timeline",
                    r[0]["ticket"]["id"].as_str().unwrap()
                ),
                &owner,
            )
            .await;
        let pushes = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "pos_push")
            .count();
        assert_eq!(pushes, 2, "{timeline}");
    }
);

/// The ticket as its own page shows it, less the timer (its clock moves
/// between two reads).
async fn as_its_page_shows_it(t: &TestApp, owner: &str, id: &Value) -> Value {
    let (s, d) = t
        .get(&format!("/api/v1/tickets/{}", id.as_str().unwrap()), owner)
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let mut tk = d["ticket"].clone();
    tk.as_object_mut().unwrap().remove("timer");
    tk
}

fn without_timer(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("timer");
    v
}

both_backends!(
    lists_and_batches_answer_each_ticket_as_its_own_page_does,
    async |t: &TestApp| {
        // The list reads customers, vehicles and statuses in the ticket's
        // own query and a batch reads its answers at once: each must say
        // what the ticket's page says, ticket by ticket.
        let (_, owner) = t.shop("views-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (s, first) = put(t, &key, "V-1", ticket("5001", "2026-11-23T10:00:00Z")).await;
        assert_eq!(s, StatusCode::CREATED, "{first}");
        let mut newer = ticket("5001", "2026-11-23T11:00:00Z");
        newer["external_id"] = json!("V-1");
        newer["services"][0]["status"] = json!("approved");
        // The same customer as V-1 with a vehicle of its own.
        let mut same_customer = ticket("5002", "2026-11-23T10:00:00Z");
        same_customer["external_id"] = json!("V-2");
        same_customer["customer"] = json!({"external_id": "C-5001", "last_name": "Reyes"});
        same_customer["vehicle"]["external_id"] = json!("V-5002");
        same_customer["vehicle"]["vin"] = json!("2T1BURHE0JC123456");
        let mut bare = ticket("5003", "2026-11-23T10:00:00Z");
        bare["external_id"] = json!("V-3");
        bare.as_object_mut().unwrap().remove("customer");
        bare.as_object_mut().unwrap().remove("vehicle");
        let mut stale = ticket("5004", "2026-11-23T09:00:00Z");
        stale["external_id"] = json!("V-1");
        let (s, b) = t
            .post(
                "/api/pos/v1/tickets/batch",
                &key,
                json!({"tickets": [newer, same_customer, bare]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let results = b["results"].as_array().unwrap();
        let outcomes: Vec<&str> = results
            .iter()
            .map(|r| r["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, ["updated", "created", "created"], "{b}");
        let (s, b2) = t
            .post(
                "/api/pos/v1/tickets/batch",
                &key,
                json!({"tickets": [stale]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b2}");
        assert_eq!(b2["results"][0]["outcome"], "stale", "{b2}");

        // Staff give V-2 a status and a technician; the list shows both.
        let v2 = &results[1]["ticket"];
        let waiting = status_id(t, &owner, "Waiting for parts").await;
        let (s, r) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{}/status", v2["id"].as_str().unwrap()),
                Some(&owner),
                Some(json!({"status_id": waiting})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (_, me) = t.get("/api/v1/me", &owner).await;
        let (s, r) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{}/assignment", v2["id"].as_str().unwrap()),
                Some(&owner),
                Some(json!({"technician_id": me["user"]["id"], "priority": 2})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");

        for r in results.iter().chain(b2["results"].as_array().unwrap()) {
            let answered = &r["ticket"];
            if answered["external_id"] == "V-2" {
                continue; // changed by staff since
            }
            assert_eq!(
                without_timer(answered),
                as_its_page_shows_it(t, &owner, &answered["id"]).await
            );
        }
        // The approved brakes count now: the answer carries the new totals.
        assert_eq!(results[0]["ticket"]["subtotal"], 24_499);
        assert_eq!(
            results[1]["ticket"]["customer"]["id"],
            first["ticket"]["customer"]["id"]
        );
        assert!(results[2]["ticket"]["customer"].is_null(), "{b}");

        // Pages of two, so the cursor is walked too.
        let mut listed = Vec::new();
        let mut path = "/api/v1/tickets?limit=2".to_owned();
        loop {
            let (s, page) = t.get(&path, &owner).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            listed.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/tickets?limit=2&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(listed.len(), 3);
        for item in &listed {
            assert_eq!(
                without_timer(item),
                as_its_page_shows_it(t, &owner, &item["id"]).await
            );
        }
        let v2_listed = listed.iter().find(|i| i["external_id"] == "V-2").unwrap();
        assert_eq!(
            v2_listed["status"]["label"], "Waiting for parts",
            "{v2_listed}"
        );
        assert_eq!(
            v2_listed["technician"]["id"], me["user"]["id"],
            "{v2_listed}"
        );
        assert_eq!(
            v2_listed["vehicle"]["vin"], "2T1BURHE0JC123456",
            "{v2_listed}"
        );
        assert_eq!(
            v2_listed["customer"]["id"],
            first["ticket"]["customer"]["id"]
        );
    }
);

both_backends!(one_phone_number_is_one_customer, async |t: &TestApp| {
    let (_, owner) = t.shop("phone-shop", "premium").await;
    let key = t.pos_key(&owner).await;
    let mut a = ticket("4001", "2026-11-23T10:00:00Z");
    a["customer"] = json!({"external_id": "C-A", "last_name": "Reyes", "phone": "(512) 555-0123"});
    let mut b = ticket("4002", "2026-11-23T10:00:00Z");
    b["customer"] = json!({"last_name": "Reyes", "phone": "+1 512.555.0123"});
    let (_, ra) = put(t, &key, "P-1", a).await;
    let (_, rb) = put(t, &key, "P-2", b).await;
    assert_eq!(
        ra["ticket"]["customer"]["id"],
        rb["ticket"]["customer"]["id"]
    );
    // Staff adding the same number by hand find the customer.
    let (s, c) = t
        .post(
            "/api/v1/customers",
            &owner,
            json!({"phone": "512-555-0123"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["created"], false);
    assert_eq!(c["customer"]["id"], ra["ticket"]["customer"]["id"]);
    // A new number makes a new customer, first name optional.
    let (s, d) = t
        .post(
            "/api/v1/customers",
            &owner,
            json!({"last_name": "Nguyen", "phone": "512 555 0177"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["customer"]["sms"], true);
    // Search by phone in another format, and by name.
    let (_, found) = t.get("/api/v1/customers?q=(512)%20555-0177", &owner).await;
    assert_eq!(found["items"][0]["last_name"], "Nguyen", "{found}");
    // Merge folds the duplicate's tickets into the kept customer: give the
    // duplicate two (the POS finds it by its phone).
    let keep = ra["ticket"]["customer"]["id"].as_str().unwrap();
    let dup = d["customer"]["id"].as_str().unwrap();
    let mut dup_tickets = Vec::new();
    for (ext, number) in [("P-3", "4003"), ("P-4", "4004")] {
        let mut tk = ticket(number, "2026-11-23T10:00:00Z");
        tk["customer"] = json!({"last_name": "Nguyen", "phone": "(512) 555-0177"});
        let (s, r) = put(t, &key, ext, tk).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!(r["ticket"]["customer"]["id"], dup, "{r}");
        dup_tickets.push(r["ticket"]["id"].as_str().unwrap().to_owned());
    }
    let (s, merged) = t
        .post(
            &format!("/api/v1/customers/{keep}/merge"),
            &owner,
            json!({"duplicate_id": dup}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{merged}");
    let (_, all) = t.get("/api/v1/customers", &owner).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
    for id in &dup_tickets {
        let (_, tk) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
        assert_eq!(tk["ticket"]["customer"]["id"], keep, "{tk}");
    }
    // Bad phone names the field and adds nobody.
    let (s, e) = t
        .post("/api/v1/customers", &owner, json!({"phone": "call me"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "phone");
});

both_backends!(
    ticket_search_finds_number_name_phone_plate_vin,
    async |t: &TestApp| {
        let (_, owner) = t.shop("search-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        put(t, &key, "S-1", ticket("5001", "2026-11-23T10:00:00Z")).await;
        let mut other = ticket("5002", "2026-11-23T10:00:00Z");
        other["customer"] = json!({"external_id": "C-Z", "first_name": "Zed", "last_name": "Oakes", "phone": "214-555-0100"});
        other["vehicle"] = json!({"external_id": "V-Z", "plate": "XYZ 999"});
        put(t, &key, "S-2", other).await;
        // Another shop with the very same ticket: a search never crosses
        // shops.
        let (_, other_owner) = t.shop("search-other", "premium").await;
        let other_key = t.pos_key(&other_owner).await;
        put(t, &other_key, "S-1", ticket("5001", "2026-11-23T10:00:00Z")).await;
        for (q, number) in [
            ("5001", "5001"),
            // One- and two-letter terms, and several terms at once.
            ("z", "5002"),
            ("xy", "5002"),
            ("zed%20xyz", "5002"),
            ("reyes", "5001"),
            ("(512)%20555-0123", "5001"),
            ("abc-1234", "5001"),
            ("1HGCM82633A004352", "5001"),
            ("oakes", "5002"),
            ("xyz999", "5002"),
            ("214.555.0100", "5002"),
        ] {
            let (s, b) = t.get(&format!("/api/v1/tickets?q={q}"), &owner).await;
            assert_eq!(s, StatusCode::OK);
            let items = b["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "q={q}: {b}");
            assert_eq!(items[0]["number"], number, "q={q}");
        }
        // A customer renamed by the POS is found under the new name on every
        // ticket, not only the one pushed last.
        let (s, _) = t
            .call(
                "PUT",
                "/api/pos/v1/customers/C-Z",
                Some(&key),
                Some(json!({"first_name": "Zed", "last_name": "Quinlan", "phone": "214-555-0100"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, b) = t.get("/api/v1/tickets?q=quinlan", &owner).await;
        assert_eq!(b["items"][0]["number"], "5002", "{b}");
        let (_, b) = t.get("/api/v1/tickets?q=oakes", &owner).await;
        assert!(b["items"].as_array().unwrap().is_empty(), "{b}");
        // A vehicle re-plated by the POS is found by its new plate on its
        // tickets, and no longer by the old one.
        let (s, v) = t
            .call(
                "PUT",
                "/api/pos/v1/vehicles/V-Z",
                Some(&key),
                Some(json!({"plate": "NEW 777", "make": "Ford", "model": "Transit"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for (q, found) in [
            ("new777", Some("5002")),
            ("transit", Some("5002")),
            ("xyz999", None),
        ] {
            let (_, b) = t.get(&format!("/api/v1/tickets?q={q}"), &owner).await;
            let items = b["items"].as_array().unwrap();
            match found {
                Some(number) => assert_eq!(items[0]["number"], number, "q={q}: {b}"),
                None => assert!(items.is_empty(), "q={q}: {b}"),
            }
        }
        // A vehicle pushed under a new external id with a VIN the shop knows
        // is that vehicle, as in a ticket push: no second car, and its
        // tickets are found by the new plate.
        let (_, first) = t.get("/api/v1/tickets?q=5001", &owner).await;
        let known = first["items"][0]["vehicle"]["id"].clone();
        let vehicles_before = count(t, "vehicles").await;
        let (s, v) = t
            .call(
                "PUT",
                "/api/pos/v1/vehicles/V-NEW",
                Some(&key),
                Some(json!({"vin": "1HGCM82633A004352", "make": "Honda", "model": "Civic", "plate": "LMN 4321"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["id"], known, "{v}");
        assert_eq!(count(t, "vehicles").await, vehicles_before);
        let (_, b) = t.get("/api/v1/tickets?q=lmn4321", &owner).await;
        assert_eq!(b["items"][0]["number"], "5001", "{b}");
        let (_, b) = t.get("/api/v1/tickets?q=abc1234", &owner).await;
        assert!(b["items"].as_array().unwrap().is_empty(), "{b}");
        let (s, b) = t.get("/api/v1/tickets?state=maybe", &owner).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b["field"], "state");
    }
);

async fn status_id(t: &TestApp, owner: &str, label: &str) -> String {
    let (_, list) = t.get("/api/v1/vehicle-statuses", owner).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == label)
        .unwrap_or_else(|| panic!("no status {label}: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn count(t: &TestApp, table: &str) -> i64 {
    let db = &t.db;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

both_backends!(a_status_change_is_one_transaction, async |t: &TestApp| {
    let (_, owner) = t.shop("status-shop", "premium").await;
    let key = t.pos_key(&owner).await;
    let (_, pushed) = put(t, &key, "ST-1", ticket("6001", "2026-11-23T10:00:00Z")).await;
    let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    let in_shop = status_id(t, &owner, "In shop").await;
    let outbox_before = count(t, "outbox").await;

    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{id}/status"),
            Some(&owner),
            Some(json!({"status_id": in_shop, "duration_minutes": 90})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["ticket"]["status"]["label"], "In shop");
    assert_eq!(b["ticket"]["timer"]["mode"], "count_down");
    assert_eq!(b["ticket"]["timer"]["level"], "normal");
    // Texted and e-mailed, both queued with their jobs.
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{b}");
    assert!(msgs.iter().all(|m| m["status"] == "queued"));
    assert!(msgs[0]["body"].as_str().unwrap().contains("Dana"));
    assert_eq!(count(t, "outbox").await, outbox_before + 2);
    let (_, detail) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
    assert_eq!(detail["status_history"][0]["to"], "In shop", "{detail}");
    assert_eq!(detail["messages"].as_array().unwrap().len(), 2);
    let (_, tl) = t
        .get(&format!("/api/v1/tickets/{id}/timeline"), &owner)
        .await;
    let kinds: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "pos_push",
            "status_changed",
            "message_queued",
            "message_queued"
        ]
    );

    // A failure in the middle (the message insert) leaves none of it.
    let db = &t.db;
    let trigger = match db.get_database_backend() {
        DbBackend::Postgres => vec![
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql".to_owned(),
            "CREATE TRIGGER refuse_messages BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse()".to_owned(),
        ],
        _ => vec!["CREATE TRIGGER refuse_messages BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused'); END".to_owned()],
    };
    for sql in trigger {
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
    }
    let ready = status_id(t, &owner, "Ready for pickup").await;
    let (history, events, messages, outbox) = (
        count(t, "status_changes").await,
        count(t, "timeline_events").await,
        count(t, "messages").await,
        count(t, "outbox").await,
    );
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{id}/status"),
            Some(&owner),
            Some(json!({"status_id": ready})),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{b}");
    assert_eq!(count(t, "status_changes").await, history);
    assert_eq!(count(t, "timeline_events").await, events);
    assert_eq!(count(t, "messages").await, messages);
    assert_eq!(count(t, "outbox").await, outbox);
    let (_, detail) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
    assert_eq!(detail["ticket"]["status"]["label"], "In shop");

    // Bad input: another shop's status, a retired one, a silly duration.
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{id}/status"),
            Some(&owner),
            Some(json!({"status_id": uuid::Uuid::now_v7()})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "status_id");
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{id}/status"),
            Some(&owner),
            Some(json!({"status_id": in_shop, "duration_minutes": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "duration_minutes");
});

both_backends!(
    concurrent_status_changes_chain_and_a_stale_write_changes_nothing,
    async |t: &TestApp| {
        let (_, owner) = t.shop("race-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (_, pushed) = put(t, &key, "RC-1", ticket("6101", "2026-11-23T10:00:00Z")).await;
        let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
        let (_, list) = t.get("/api/v1/vehicle-statuses", &owner).await;
        let statuses: Vec<(String, String)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_owned(),
                    s["label"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(statuses.len() >= 6, "{list}");

        // Every status at once on one ticket: each change is decided on the
        // state it read and written only if nobody got there first, so all
        // succeed and the history is one unbroken chain.
        let url = t.url(&format!("/api/v1/tickets/{id}/status"));
        let client = reqwest::Client::new();
        let answers: Vec<_> = statuses
            .iter()
            .map(|(sid, _)| {
                let request = client
                    .put(&url)
                    .bearer_auth(&owner)
                    .json(&json!({"status_id": sid}))
                    .send();
                tokio::spawn(async move {
                    let r = request.await.unwrap();
                    (r.status().as_u16(), r.text().await.unwrap_or_default())
                })
            })
            .collect();
        for a in answers {
            let (s, b) = a.await.unwrap();
            assert_eq!(s, 200, "{b}");
        }
        let (_, detail) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
        let history = detail["status_history"].as_array().unwrap();
        assert_eq!(history.len(), statuses.len(), "{detail}");
        // A pushed ticket starts at the shop's first status.
        assert_eq!(
            history[0]["from"], pushed["ticket"]["status"]["label"],
            "{detail}"
        );
        for pair in history.windows(2) {
            assert_eq!(pair[1]["from"], pair[0]["to"], "{detail}");
        }
        let mut reached: Vec<&str> = history.iter().map(|h| h["to"].as_str().unwrap()).collect();
        reached.sort_unstable();
        let mut all: Vec<&str> = statuses.iter().map(|(_, l)| l.as_str()).collect();
        all.sort_unstable();
        assert_eq!(reached, all);
        assert_eq!(
            detail["ticket"]["status"]["label"],
            history[history.len() - 1]["to"],
            "{detail}"
        );

        // A write decided on an old version writes nothing at all.
        use pitwall_domain::{ShopId, StatusId, TicketId};
        use pitwall_store::{activity, batch::Batch, tickets};
        let db = &t.db;
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT shop_id, version FROM tickets WHERE external_id = 'RC-1'".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let shop = ShopId::from_uuid(row.try_get::<uuid::Uuid>("", "shop_id").unwrap());
        let version = row.try_get::<i32>("", "version").unwrap();
        let tid: TicketId = id.parse().unwrap();
        let to: StatusId = statuses[0].0.parse().unwrap();
        let now = chrono::Utc::now();
        let before = count(t, "status_changes").await;
        let mut stale =
            Batch::guarded(tickets::status_guard(shop, tid, version - 1, to, now, None));
        stale.insert([activity::status_change_row(shop, tid, None, to, None, now)]);
        assert!(!stale.run_guarded(db).await.unwrap());
        assert_eq!(count(t, "status_changes").await, before);
        let (_, after) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
        assert_eq!(after["ticket"]["status"], detail["ticket"]["status"]);
        // The same write on the current version lands.
        let mut current = Batch::guarded(tickets::status_guard(shop, tid, version, to, now, None));
        current.insert([activity::status_change_row(shop, tid, None, to, None, now)]);
        assert!(current.run_guarded(db).await.unwrap());
        assert_eq!(count(t, "status_changes").await, before + 1);
    }
);

both_backends!(
    statuses_are_managed_and_retired_ones_stay_on_tickets,
    async |t: &TestApp| {
        let (_, owner) = t.shop("setup-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (_, pushed) = put(t, &key, "SU-1", ticket("7001", "2026-11-23T10:00:00Z")).await;
        let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
        let (s, created) = t
        .post(
            "/api/v1/vehicle-statuses",
            &owner,
            json!({"label": "Road test", "color": "#3949ab", "notify_customer": true,
                   "message_template": "Hi {{ first_name }}, we are road testing your {{ vehicle }}.",
                   "timer_mode": "count_up", "position": 0}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let (_, list) = t.get("/api/v1/vehicle-statuses", &owner).await;
        assert_eq!(list["items"][0]["label"], "Road test");
        assert_eq!(list["items"].as_array().unwrap().len(), 9);
        let rt = created["id"].as_str().unwrap();
        let (s, b) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{id}/status"),
                Some(&owner),
                Some(json!({"status_id": rt})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            b["messages"][0]["body"]
                .as_str()
                .unwrap()
                .contains("road testing your 2019 Honda Civic")
        );
        let (s, _) = t
            .call(
                "DELETE",
                &format!("/api/v1/vehicle-statuses/{rt}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, list) = t.get("/api/v1/vehicle-statuses", &owner).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 8);
        let (_, detail) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
        assert_eq!(detail["ticket"]["status"]["label"], "Road test");
        assert_eq!(detail["ticket"]["status"]["retired"], true);
        let (s, b) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{id}/status"),
                Some(&owner),
                Some(json!({"status_id": rt})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        // A template that cannot render is refused, naming the field.
        let (s, b) = t
            .post(
                "/api/v1/vehicle-statuses",
                &owner,
                json!({"label": "Bad", "color": "#000000", "notify_customer": true,
                   "message_template": "Hi {{ first_name", "timer_mode": "open"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "message_template");
    }
);

both_backends!(
    the_dashboard_stream_hears_a_status_change,
    async |t: &TestApp| {
        let (_, owner) = t.shop("live-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (_, pushed) = put(t, &key, "L-1", ticket("8001", "2026-11-23T10:00:00Z")).await;
        let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
        let mut stream = t
            .client
            .get(t.url("/api/v1/events"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        // The subscription is live once headers arrived; on PostgreSQL the
        // listener needs a moment to LISTEN after start.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ready = status_id(t, &owner, "Ready for pickup").await;
        let (s, _) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{id}/status"),
                Some(&owner),
                Some(json!({"status_id": ready})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !seen.contains("status_changed") {
            let chunk = tokio::time::timeout_at(deadline, stream.chunk())
                .await
                .expect("an event within 5 s")
                .unwrap()
                .expect("stream open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(seen.contains(&id), "{seen}");
        // The dashboard shows the new status.
        let (_, dash) = t.get("/api/v1/dashboard", &owner).await;
        assert_eq!(
            dash["items"][0]["ticket"]["status"]["label"],
            "Ready for pickup"
        );
        assert_eq!(dash["items"][0]["sms"], true);
    }
);

both_backends!(
    approvals_reach_the_pos_and_processing_comments,
    async |t: &TestApp| {
        let (shop, owner) = t.shop("notify-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (_, pushed) = put(t, &key, "N-1", ticket("9001", "2026-11-23T10:00:00Z")).await;
        let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
        let brakes = pushed["ticket"]["services"][0]["id"].clone();
        let (_, advisor) = t.member(shop, "adv@notify.test", Role::Advisor).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{id}/approvals"),
                &advisor,
                json!({"approved_service_ids": [brakes], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["services"][0]["status"], "approved");
        // The POS comment from Pitwall's side and the staff comment.
        let (s, _) = t
            .post(
                &format!("/api/v1/tickets/{id}/comments"),
                &advisor,
                json!({"body": "Parts ordered"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, notes) = t.get("/api/pos/v1/notifications", &key).await;
        let items = notes["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{notes}");
        assert_eq!(items[0]["kind"], "work_approved");
        assert_eq!(items[0]["ticket_external_id"], "N-1");
        assert_eq!(items[1]["kind"], "comment");
        let nid = items[0]["id"].as_str().unwrap();
        for _ in 0..2 {
            let (s, n) = t
                .post(
                    &format!("/api/pos/v1/notifications/{nid}/processed"),
                    &key,
                    json!({}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{n}");
            assert!(n["processed_at"].is_string());
        }
        let (_, comments) = t.get("/api/pos/v1/tickets/N-1/comments", &key).await;
        let bodies: Vec<&str> = comments["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap())
            .collect();
        assert_eq!(
            bodies.len(),
            2,
            "processing twice adds one comment: {bodies:?}"
        );
        assert!(bodies.contains(&"Parts ordered"));
        let approved = bodies
            .iter()
            .find(|b| b.starts_with("Work approved by"))
            .unwrap();
        assert!(
            approved.contains("Front brakes") && approved.contains("phone"),
            "{approved}"
        );
        // Unprocessed come first.
        let (_, notes) = t.get("/api/pos/v1/notifications", &key).await;
        assert_eq!(notes["items"][0]["kind"], "comment");
        assert!(notes["items"][1]["processed_at"].is_string());
        // POS comments are idempotent by their id.
        for _ in 0..2 {
            let (s, _) = t
            .post(
                "/api/pos/v1/tickets/N-1/comments",
                &key,
                json!({"external_id": "pc-1", "author": "Front desk", "body": "Customer called"}),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
        }
        let (_, comments) = t.get("/api/pos/v1/tickets/N-1/comments", &key).await;
        assert_eq!(comments["items"].as_array().unwrap().len(), 3);
        // Technicians may not record approvals.
        let (_, tech) = t.member(shop, "tech@notify.test", Role::Technician).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{id}/approvals"),
                &tech,
                json!({"approved_service_ids": [brakes], "method": "phone"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "approvals.record");
    }
);

both_backends!(plans_gate_the_ticket_features, async |t: &TestApp| {
    let (_, owner) = t.shop("starter-tix", "starter").await;
    let key = t.pos_key(&owner).await;
    let (_, pushed) = put(t, &key, "G-1", ticket("1", "2026-11-23T10:00:00Z")).await;
    let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    for (path, feature) in [
        ("/api/v1/me/work".to_owned(), "technician_view"),
        ("/api/v1/sync-health".to_owned(), "sync_health"),
        (format!("/api/v1/tickets/{id}/timeline"), "timeline"),
    ] {
        let (s, b) = t.get(&path, &owner).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {b}");
        assert_eq!(b["code"], "feature_not_in_plan");
        assert_eq!(b["feature"], feature);
    }
    // The dashboard and timers are in every plan.
    let (s, _) = t.get("/api/v1/dashboard", &owner).await;
    assert_eq!(s, StatusCode::OK);
    // Technician view on Pro: assigned work by priority.
    let (_, pro_owner) = t.shop("pro-tix", "pro").await;
    let pro_key = t.pos_key(&pro_owner).await;
    let (_, a) = put(t, &pro_key, "T-1", ticket("11", "2026-11-23T10:00:00Z")).await;
    let (_, b) = put(t, &pro_key, "T-2", ticket("12", "2026-11-23T10:00:00Z")).await;
    let (_, me) = t.get("/api/v1/me", &pro_owner).await;
    let me_id = me["user"]["id"].as_str().unwrap().to_owned();
    for (tk, priority) in [(&a, 1), (&b, 3)] {
        let (s, r) = t
            .call(
                "PUT",
                &format!(
                    "/api/v1/tickets/{}/assignment",
                    tk["ticket"]["id"].as_str().unwrap()
                ),
                Some(&pro_owner),
                Some(json!({"technician_id": me_id, "priority": priority})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (s, work) = t.get("/api/v1/me/work", &pro_owner).await;
    assert_eq!(s, StatusCode::OK, "{work}");
    assert_eq!(work["items"][0]["number"], "12");
    assert_eq!(work["items"][1]["number"], "11");
    let (s, b) = t
        .call(
            "PUT",
            &format!(
                "/api/v1/tickets/{}/assignment",
                a["ticket"]["id"].as_str().unwrap()
            ),
            Some(&pro_owner),
            Some(json!({"technician_id": uuid::Uuid::now_v7(), "priority": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "technician_id");
});

/// Reads `stream` until it ends; `false` when it is still open after `secs`.
async fn ends_within(stream: &mut reqwest::Response, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Err(_) => return false,
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None) | Err(_)) => return true,
        }
    }
}

async fn open_stream(t: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = t.client.get(t.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

// Live streams are capped per user and per customer link, and re-check on
// each beat (every second here) what let them open: signing out, leaving
// the shop and a revoked link end them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_are_capped_and_end_when_access_does() {
    use pitwall_testkit::Backend;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let opts = pitwall_testkit::Options {
            env: vec![("PITWALL_STREAM_RECHECK_SECS".into(), "1".into())],
            ..Default::default()
        };
        let Some(t) = TestApp::spawn_with(backend, opts).await else {
            continue;
        };
        let (shop, owner) = t.shop("streams-shop", "premium").await;
        let key = t.pos_key(&owner).await;
        let (_, pushed) = put(&t, &key, "S-1", ticket("8101", "2026-11-23T10:00:00Z")).await;
        let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();

        // Signing out ends the stream that session opened.
        let token = t
            .login("owner@streams-shop.test", pitwall_testkit::PASSWORD)
            .await;
        let mut stream = open_stream(&t, "/api/v1/events", Some(&token)).await;
        assert_eq!(stream.status(), StatusCode::OK);
        assert!(!ends_within(&mut stream, 2).await, "open while signed in");
        let (s, _) = t
            .call("POST", "/api/v1/auth/logout", Some(&token), None)
            .await;
        assert!(s.is_success(), "{s}");
        assert!(ends_within(&mut stream, 10).await, "ended by signing out");

        // Removal from the shop ends a member's ticket stream.
        let (user, advisor) = t.member(shop, "adv@streams.test", Role::Advisor).await;
        let mut stream = open_stream(
            &t,
            &format!("/api/v1/events?ticket_id={id}"),
            Some(&advisor),
        )
        .await;
        assert_eq!(stream.status(), StatusCode::OK);
        let (s, b) = t
            .call(
                "DELETE",
                &format!("/api/v1/users/{user}"),
                Some(&owner),
                None,
            )
            .await;
        assert!(s.is_success(), "{s}: {b}");
        assert!(
            ends_within(&mut stream, 10).await,
            "ended by leaving the shop"
        );

        // One user holds at most a few streams; closing one frees its place.
        let mut open = Vec::new();
        for _ in 0..pitwall_core::streams::STAFF_STREAMS_PER_USER {
            let s = open_stream(&t, "/api/v1/events", Some(&owner)).await;
            assert_eq!(s.status(), StatusCode::OK);
            open.push(s);
        }
        let refused = open_stream(&t, "/api/v1/events", Some(&owner)).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited", "{body}");
        // The server notices a closed client at its next keep-alive write.
        drop(open.pop());
        let mut freed = false;
        for _ in 0..150 {
            let s = open_stream(&t, "/api/v1/events", Some(&owner)).await;
            if s.status() == StatusCode::OK {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(freed, "a closed stream gives its place back");
        drop(open);

        // A customer link: a few streams per address, and revoking it ends
        // them and the "viewing" mark.
        let (s, link) = t
            .post(
                &format!("/api/v1/tickets/{id}/customer-links"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{link}");
        let url = link["url"].as_str().unwrap();
        let path = format!("{}/events", &url[url.find("/c/").unwrap()..]);
        let mut customer = Vec::new();
        for _ in 0..pitwall_core::streams::CUSTOMER_STREAMS_PER_LINK {
            let s = open_stream(&t, &path, None).await;
            assert_eq!(s.status(), StatusCode::OK);
            customer.push(s);
        }
        let refused = open_stream(&t, &path, None).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let links = format!("/api/v1/tickets/{id}/customer-links");
        let (_, list) = t.get(&links, &owner).await;
        assert_eq!(list["items"][0]["viewing"], true, "{list}");
        let link_id = list["items"][0]["id"].as_str().unwrap().to_owned();
        let (s, b) = t
            .call(
                "POST",
                &format!("{links}/{link_id}/revoke"),
                Some(&owner),
                None,
            )
            .await;
        assert!(s.is_success(), "{s}: {b}");
        for s in &mut customer {
            assert!(ends_within(s, 10).await, "ended by revoking the link");
        }
        let (_, list) = t.get(&links, &owner).await;
        assert_eq!(list["items"][0]["viewing"], false, "{list}");
        let (_, dash) = t.get("/api/v1/dashboard", &owner).await;
        assert!(!dash.to_string().contains("viewing_until\":\"2"), "{dash}");
        t.finish().await;
    }
}

// A count-down of 60 minutes turns orange with a fifth of it (12 minutes)
// left and red when it runs out, on the API, the dashboard and the page.
// The app's clock (the one the rules read) moves instead of real time.
both_backends!(a_timer_turns_orange_then_red, async |t: &TestApp| {
    let (_, owner) = t.shop("timer-shop", "premium").await;
    let key = t.pos_key(&owner).await;
    let (_, pushed) = put(t, &key, "TM-1", ticket("7001", "2026-11-23T10:00:00Z")).await;
    let id = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    let in_shop = status_id(t, &owner, "In shop").await;
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{id}/status"),
            Some(&owner),
            Some(json!({"status_id": in_shop, "duration_minutes": 60})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["ticket"]["timer"]["mode"], "count_down");
    let c = pitwall_testkit::pages::browser();
    pitwall_testkit::pages::sign_in(t, &c, "owner@timer-shop.test").await;
    // The level on the ticket, on the dashboard row, and the dashboard
    // page's class for it (orange for warning, red for overdue).
    let levels = async || {
        let (_, detail) = t.get(&format!("/api/v1/tickets/{id}"), &owner).await;
        let (_, dash) = t.get("/api/v1/dashboard", &owner).await;
        let row = dash["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ticket"]["id"] == id.as_str())
            .expect("the ticket on the dashboard")
            .clone();
        let (_, html) = pitwall_testkit::pages::page(t, &c, "/app/dashboard").await;
        let class = html
            .split("<span class=\"timer ")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned();
        (
            detail["ticket"]["timer"]["level"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            row["ticket"]["timer"]["level"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            class,
        )
    };
    let all = |l: &str| (l.to_owned(), l.to_owned(), l.to_owned());
    assert_eq!(levels().await, all("normal"));
    let clock = &t.app.config().clock;
    clock.advance(chrono::Duration::minutes(47));
    assert_eq!(levels().await, all("normal"), "13 minutes left");
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(levels().await, all("warning"), "11 minutes left");
    clock.advance(chrono::Duration::minutes(11));
    assert_eq!(levels().await, all("overdue"), "time is up");
});
