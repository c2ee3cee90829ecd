//! Messaging end to end on both databases, with a local SMS provider that
//! speaks Twilio's wire format (Pitwall's real client talks to it) and the
//! app's real workers: delivery and receipts, replies that turn the
//! dashboard orange, STOP/START/HELP, retries and permanent failures,
//! signatures, templates, quiet hours, consent and quota.

use std::time::Duration;

use pitwall_testkit::fake_sms::FakeSms;
use pitwall_testkit::{Backend, Options, StatusCode, TestApp};
use serde_json::{Value, json};

const SHOP_NUMBER: &str = "+15125550100";
const CUSTOMER: &str = "+15125550123";
/// A shop's own number, assigned by platform support (not the shared one).
const OWN_NUMBER: &str = "+15125550177";

/// Runs `body` on both databases with workers and the fake provider.
macro_rules! with_provider {
    ($name:ident, $body:expr) => {
        with_provider!($name, env = &[], $body);
    };
    ($name:ident, env = $env:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite, $env, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, $env, $body).await;
            }
        }
    };
}

/// `extra`: more settings for the app, on top of the provider's.
async fn run<F>(backend: Backend, extra: &[(&str, &str)], body: F)
where
    F: AsyncFnOnce(&TestApp, &FakeSms),
{
    let fake = FakeSms::start().await.expect("fake SMS provider");
    let mut env = fake.env(SHOP_NUMBER);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            workers: true,
            env,
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    body(&t, &fake).await;
    t.finish().await;
}

/// A ticket whose customer has a phone (and no e-mail, so one text per
/// status update); returns (ticket id, customer id).
async fn ticket(t: &TestApp, owner: &str, phone: &str) -> (String, String) {
    let key = t.pos_key(owner).await;
    let ext = format!("RO-{}", uuid::Uuid::new_v4().simple());
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/pos/v1/tickets/{ext}"),
            Some(&key),
            Some(json!({
                "kind": "workorder", "number": "2001", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": format!("C-{ext}"), "first_name": "Dana", "last_name": "Reyes", "phone": phone},
                "vehicle": {"external_id": format!("V-{ext}"), "year": 2019, "make": "Honda", "model": "Civic"},
                "services": [],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (
        b["ticket"]["id"].as_str().unwrap().to_owned(),
        b["ticket"]["customer"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn notifying_status(t: &TestApp, owner: &str) -> String {
    let (_, statuses) = t.get("/api/v1/vehicle-statuses", owner).await;
    statuses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["notify_customer"] == true)
        .expect("a status that tells the customer")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls the thread until the message reaches one of `states`.
async fn message_in(t: &TestApp, owner: &str, customer: &str, id: &str, states: &[&str]) -> Value {
    for _ in 0..300 {
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), owner).await;
        if let Some(m) = th["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["id"] == id))
            && states.iter().any(|s| m["status"] == *s)
        {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), owner).await;
    panic!("message {id} never reached {states:?}: {th}");
}

async fn last_message_on_dashboard(t: &TestApp, owner: &str, ticket: &str) -> Value {
    let (_, dash) = t.get("/api/v1/dashboard", owner).await;
    dash["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket"]["id"] == ticket)
        .expect("the ticket is on the dashboard")["last_message"]
        .clone()
}

async fn unread_on_dashboard(t: &TestApp, owner: &str, ticket: &str) -> bool {
    let (_, dash) = t.get("/api/v1/dashboard", owner).await;
    dash["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket"]["id"] == ticket)
        .expect("the ticket is on the dashboard")["unread_reply"]
        == true
}

/// Waits until no message of the customer's thread waits for a worker
/// (queued or mid-send). Taken after a text queued last has reached the
/// provider, it proves the workers have been through everything written
/// before it, so a count of what the provider got is final.
async fn settled(t: &TestApp, owner: &str, customer: &str) -> Value {
    let mut th = Value::Null;
    for _ in 0..300 {
        th = t.get(&format!("/api/v1/threads/{customer}"), owner).await.1;
        let busy = th["messages"].as_array().is_some_and(|ms| {
            ms.iter()
                .any(|m| m["status"] == "queued" || m["status"] == "sending")
        });
        if !busy {
            return th;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("messages still wait for a worker: {th}");
}

with_provider!(
    a_status_text_is_delivered_receipted_answered_and_stopped,
    async |t: &TestApp, fake: &FakeSms| {
        let (_, owner) = t.shop("msg-shop", "premium").await;
        let (ticket_id, customer) = ticket(t, &owner, "(512) 555-0123").await;
        let status = notifying_status(t, &owner).await;

        // A status that tells the customer: one text, through the provider.
        let (s, set) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{ticket_id}/status"),
                Some(&owner),
                Some(json!({"status_id": status})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{set}");
        let msg_id = set["messages"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(set["messages"][0]["status"], "queued");
        let got = fake.wait_for(1, 15).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, CUSTOMER);
        assert_eq!(got[0].from, SHOP_NUMBER);
        assert!(got[0].body.contains("Dana"), "{}", got[0].body);
        let sent = message_in(t, &owner, &customer, &msg_id, &["sent"]).await;
        assert_eq!(sent["from"], SHOP_NUMBER);
        assert_eq!(sent["attempts"], 1);

        // The provider's receipt (signed) moves it to delivered.
        let (s, _) = fake.report(&got[0], "delivered", None).await.unwrap();
        assert_eq!(s, StatusCode::NO_CONTENT);
        let delivered = message_in(t, &owner, &customer, &msg_id, &["delivered"]).await;
        assert!(delivered["delivered_at"].is_string());
        // The dashboard row shows where the ticket's last text stands.
        let last = last_message_on_dashboard(t, &owner, &ticket_id).await;
        assert_eq!(last["id"], msg_id.as_str());
        assert_eq!(last["status"], "delivered");
        // A late "sent" receipt is taken (so the provider stops retrying it)
        // and never undoes "delivered".
        let (s, b) = fake.report(&got[0], "sent", None).await.unwrap();
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        assert_eq!(th["messages"][0]["status"], "delivered");
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket_id}/timeline"), &owner)
            .await;
        let kinds: Vec<&str> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        for k in ["message_queued", "message_sent", "message_delivered"] {
            assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
        }

        // The customer answers: the thread and the dashboard show it unread.
        assert!(!unread_on_dashboard(t, &owner, &ticket_id).await);
        let (s, twiml) = fake
            .text_in(&t.base_url, CUSTOMER, SHOP_NUMBER, "Is it ready yet?")
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK, "{twiml}");
        assert!(twiml.contains("<Response>"));
        assert!(unread_on_dashboard(t, &owner, &ticket_id).await);
        let (_, threads) = t.get("/api/v1/threads?filter=unread", &owner).await;
        assert_eq!(threads["items"][0]["customer_id"], customer.as_str());
        assert_eq!(
            threads["items"][0]["last_message"]["body"],
            "Is it ready yet?"
        );
        let (_, tl) = t
            .get(&format!("/api/v1/tickets/{ticket_id}/timeline"), &owner)
            .await;
        assert!(
            tl["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "customer_reply")
        );
        // Reading the thread clears it.
        let (s, _) = t
            .post(
                &format!("/api/v1/threads/{customer}/read"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(!unread_on_dashboard(t, &owner, &ticket_id).await);
        let (_, threads) = t.get("/api/v1/threads?filter=unread", &owner).await;
        assert_eq!(threads["items"].as_array().unwrap().len(), 0);

        // A staff reply goes out at once.
        let (s, reply) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "Ready at 5!"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["kind"], "reply");
        assert_eq!(reply["ticket_id"], ticket_id.as_str());
        let got = fake.wait_for(2, 15).await;
        assert_eq!(got[1].body, "Ready at 5!");

        // STOP (any case, spaces around) opts out at once, with one
        // confirmation; later texts are refused and shown.
        let (s, _) = fake
            .text_in(&t.base_url, CUSTOMER, SHOP_NUMBER, "  stop ")
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK);
        let got = fake.wait_for(3, 15).await;
        assert_eq!(got.len(), 3);
        assert!(got[2].body.contains("unsubscribed"), "{}", got[2].body);
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        assert_eq!(th["customer"]["sms_opt_out"], true);
        assert_eq!(th["consent"][0]["action"], "opt_out");
        assert_eq!(th["consent"][0]["source"], "keyword");
        let (s, refused) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "Still there?"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{refused}");
        assert_eq!(refused["code"], "customer_opted_out");
        let (s, set) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{ticket_id}/status"),
                Some(&owner),
                Some(json!({"status_id": status})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{set}");
        assert_eq!(set["messages"][0]["status"], "failed");
        assert_eq!(set["messages"][0]["error_code"], "customer_opted_out");
        let last = last_message_on_dashboard(t, &owner, &ticket_id).await;
        assert_eq!(last["status"], "failed");
        assert_eq!(last["error_code"], "customer_opted_out");

        // HELP answers with the shop's name. Its answer is queued after
        // the refused texts: once it has gone and nothing waits, the
        // workers have been through the queue, and nothing more was texted.
        fake.text_in(&t.base_url, CUSTOMER, SHOP_NUMBER, "HELP")
            .await
            .unwrap();
        let got = fake.wait_for(4, 15).await;
        assert!(got[3].body.contains("Shop msg-shop"), "{}", got[3].body);
        settled(t, &owner, &customer).await;
        let bodies: Vec<String> = fake.messages().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies.len(), 4, "nothing more was texted: {bodies:?}");
        // START opts back in.
        fake.text_in(&t.base_url, CUSTOMER, SHOP_NUMBER, "Start")
            .await
            .unwrap();
        let got = fake.wait_for(5, 15).await;
        assert!(got[4].body.contains("resubscribed"), "{}", got[4].body);
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        assert_eq!(th["customer"]["sms_opt_out"], false);
        // Keywords are handled, not left waiting for a person.
        assert_eq!(th["unread"], false);
        let (s, _) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "Welcome back"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        fake.wait_for(6, 15).await;
        // The same inbound text delivered twice is recorded once.
        let before = th["messages"].as_array().unwrap().len();
        let params = [
            ("MessageSid", "SMduplicate1"),
            ("From", CUSTOMER),
            ("To", SHOP_NUMBER),
            ("Body", "twice"),
        ];
        let url = format!("{}/webhooks/twilio/inbound", t.base_url);
        fake.post_signed(&url, &params).await.unwrap();
        fake.post_signed(&url, &params).await.unwrap();
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        let twice = th["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["body"] == "twice")
            .count();
        assert_eq!(twice, 1);
        assert!(th["messages"].as_array().unwrap().len() > before);
    }
);

with_provider!(
    customer_links_go_out_whole_and_are_stored_masked,
    async |t: &TestApp, fake: &FakeSms| {
        use pitwall_store::entities::message;
        use pitwall_store::sea_orm::EntityTrait;
        let (_, owner) = t.shop("masked-links", "premium").await;
        let (ticket_id, customer) = ticket(t, &owner, CUSTOMER).await;
        let (s, b) = t
            .post(
                &format!("/api/v1/tickets/{ticket_id}/customer-links"),
                &owner,
                json!({"send": "sms"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let url = b["url"].as_str().unwrap().to_owned();
        let token = url.rsplit('/').next().unwrap().to_owned();
        let id = b["message_id"].as_str().unwrap().to_owned();

        // The customer receives the link whole, and it opens their page.
        let got = fake.wait_for(1, 15).await;
        assert!(got[0].body.contains(&url), "{}", got[0].body);
        let (s, _) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{token}"),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // Everyone who reads the thread, the dashboard or the timeline sees
        // it masked: enough to tell links apart, not to open one.
        let m = message_in(t, &owner, &customer, &id, &["sent", "delivered"]).await;
        let body = m["body"].as_str().unwrap();
        let tail = &token[token.len() - 4..];
        assert!(
            body.contains(&format!("/c/pwc_…{tail}")) && !body.contains(&token),
            "{body}"
        );
        for path in [
            format!("/api/v1/threads/{customer}"),
            "/api/v1/dashboard".to_owned(),
            format!("/api/v1/tickets/{ticket_id}/timeline"),
        ] {
            let (s, b) = t.get(&path, &owner).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
            assert!(
                !b.to_string().contains(&token),
                "{path} shows the token: {b}"
            );
        }
        // Once sent, the database keeps no usable copy either.
        let row = message::Entity::find_by_id(uuid::Uuid::parse_str(&id).unwrap())
            .one(&t.db)
            .await
            .unwrap()
            .unwrap();
        assert!(!row.body.contains(&token), "{}", row.body);
        assert_eq!(row.outgoing_body, None);
    }
);

with_provider!(
    sender_numbers_are_assigned_by_support_and_belong_to_one_shop,
    async |t: &TestApp, fake: &FakeSms| {
        let (shop_a, owner_a) = t.shop("number-a", "premium").await;
        let (shop_b, owner_b) = t.shop("number-b", "premium").await;
        let settings = async |owner: &str| t.get("/api/v1/messaging-settings", owner).await.1;

        // Staff cannot choose their sender number: not in the settings, not
        // through the admin API.
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/messaging-settings",
                Some(&owner_a),
                Some(json!({"sms_from": OWN_NUMBER, "require_sms_consent": false})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "sms_from");
        let (s, b) = t
            .call(
                "PUT",
                &format!("/api/admin/v1/shops/{shop_a}/sms-from"),
                Some(&owner_a),
                Some(json!({"sms_from": OWN_NUMBER})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(settings(&owner_a).await["sms_from"], Value::Null);

        // Support assigns it; staff see it and may send it back unchanged.
        let (s, b) = t.assign_sms_from(shop_a, Some("(512) 555-0177")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["shop"]["sms_from"], OWN_NUMBER);
        assert_eq!(settings(&owner_a).await["sms_from"], OWN_NUMBER);
        for body in [
            json!({"sms_from": OWN_NUMBER, "require_sms_consent": true}),
            json!({"require_sms_consent": false}),
        ] {
            let (s, b) = t
                .call(
                    "PUT",
                    "/api/v1/messaging-settings",
                    Some(&owner_a),
                    Some(body),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["sms_from"], OWN_NUMBER);
        }

        // Shop B can take neither A's number (however it is written) nor
        // the platform's shared one; a non-number is named.
        for (number, status) in [
            ("+1 512 555 0177", StatusCode::CONFLICT),
            (SHOP_NUMBER, StatusCode::CONFLICT),
            ("not a number", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (s, b) = t.assign_sms_from(shop_b, Some(number)).await;
            assert_eq!(s, status, "{number}: {b}");
            assert_eq!(b["field"], "sms_from", "{number}: {b}");
            if status == StatusCode::CONFLICT {
                assert_eq!(b["code"], "conflict");
            }
        }
        assert_eq!(settings(&owner_b).await["sms_from"], Value::Null);

        // The same phone is a customer of both shops: a STOP to A's own
        // number opts out of A only.
        let (_, customer_a) = ticket(t, &owner_a, CUSTOMER).await;
        let (_, customer_b) = ticket(t, &owner_b, CUSTOMER).await;
        let (s, b) = fake
            .text_in(&t.base_url, CUSTOMER, OWN_NUMBER, "STOP")
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, th) = t
            .get(&format!("/api/v1/threads/{customer_a}"), &owner_a)
            .await;
        assert_eq!(th["customer"]["sms_opt_out"], true, "{th}");
        let (_, th) = t
            .get(&format!("/api/v1/threads/{customer_b}"), &owner_b)
            .await;
        assert_eq!(th["customer"]["sms_opt_out"], false, "{th}");

        // Taken back, the number is free for another shop.
        let (s, b) = t.assign_sms_from(shop_a, None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["shop"]["sms_from"], Value::Null);
        let (s, b) = t.assign_sms_from(shop_b, Some(OWN_NUMBER)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, audit) = t
            .get(
                &format!("/api/admin/v1/audit?shop_id={shop_b}"),
                &t.platform(
                    "auditor@platform.test",
                    pitwall_core::domain::PlatformRole::PlatformAdmin,
                )
                .await,
            )
            .await;
        assert!(
            audit.to_string().contains("shop.set_sms_from"),
            "the assignment is audited: {audit}"
        );
    }
);

with_provider!(
    webhooks_refuse_forged_and_bad_requests_and_change_nothing,
    async |t: &TestApp, fake: &FakeSms| {
        let (shop, owner) = t.shop("hook-shop", "premium").await;
        let (_, customer) = ticket(t, &owner, "(512) 555-0123").await;
        // The shop's own number: texts to it belong to this shop.
        let (s, b) = t.assign_sms_from(shop, Some("(512) 555-0177")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["shop"]["sms_from"], OWN_NUMBER);
        let inbound = format!("{}/webhooks/twilio/inbound", t.base_url);
        let form = [
            ("MessageSid", "SMforged"),
            ("From", CUSTOMER),
            ("To", OWN_NUMBER),
            ("Body", "hello"),
        ];
        // Unsigned, wrongly signed, signed over other words or another URL.
        let unsigned = t.client.post(&inbound).form(&form).send().await.unwrap();
        assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
        let b: Value = unsigned.json().await.unwrap();
        assert_eq!(b["code"], "invalid_signature");
        assert_eq!(b["field"], "X-Twilio-Signature");
        let wrong = t
            .client
            .post(&inbound)
            .header("X-Twilio-Signature", "bm90IHRoZSBzaWduYXR1cmU=")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let owned: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let other_url = pitwall_jobs::sms::signature(
            pitwall_testkit::fake_sms::AUTH_TOKEN,
            "https://elsewhere.example/webhooks/twilio/inbound",
            &owned,
        );
        let moved = t
            .client
            .post(&inbound)
            .header("X-Twilio-Signature", other_url)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), StatusCode::FORBIDDEN);
        let other_key = pitwall_jobs::sms::signature("not the token", &inbound, &owned);
        let stolen = t
            .client
            .post(&inbound)
            .header("X-Twilio-Signature", other_key)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(stolen.status(), StatusCode::FORBIDDEN);
        let receipt = t
            .client
            .post(format!("{}/webhooks/twilio/status", t.base_url))
            .form(&[("MessageSid", "SMx"), ("MessageStatus", "delivered")])
            .send()
            .await
            .unwrap();
        assert_eq!(receipt.status(), StatusCode::FORBIDDEN);
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        assert_eq!(th["messages"].as_array().unwrap().len(), 0, "{th}");

        // Signed but bad: each names what is wrong.
        let (s, b) = fake
            .post_signed(
                &inbound,
                &[("MessageSid", "SM1"), ("To", OWN_NUMBER), ("Body", "x")],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert!(b.contains("\"field\":\"From\""), "{b}");
        let (s, b) = fake
            .post_signed(
                &inbound,
                &[
                    ("MessageSid", "SM2"),
                    ("From", "not a phone"),
                    ("To", OWN_NUMBER),
                    ("Body", "x"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.contains("\"field\":\"From\""), "{b}");
        // A number no shop uses and nobody was texted from.
        let (s, b) = fake
            .text_in(&t.base_url, CUSTOMER, "+15125559999", "who are you")
            .await
            .unwrap();
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        // Oversized: the body of a text is capped, and so is the request.
        let long = "x".repeat(1601);
        let (s, b) = fake
            .post_signed(
                &inbound,
                &[
                    ("MessageSid", "SM3"),
                    ("From", CUSTOMER),
                    ("To", OWN_NUMBER),
                    ("Body", &long),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.contains("\"field\":\"Body\""), "{b}");
        let huge = "y".repeat(70 * 1024);
        let (s, _) = fake
            .post_signed(
                &inbound,
                &[
                    ("MessageSid", "SM4"),
                    ("From", CUSTOMER),
                    ("To", OWN_NUMBER),
                    ("Body", &huge),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        // An empty text is still a text (a photo without words, say).
        let (s, b) = fake
            .post_signed(
                &inbound,
                &[
                    ("MessageSid", "SM5"),
                    ("From", CUSTOMER),
                    ("To", OWN_NUMBER),
                    ("Body", ""),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK, "{b}");
        // Receipts: an unknown message is acknowledged and changes nothing;
        // an unknown state is named.
        let status_url = format!("{}/webhooks/twilio/status", t.base_url);
        let (s, _) = fake
            .post_signed(
                &status_url,
                &[("MessageSid", "SMnobody"), ("MessageStatus", "delivered")],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, b) = fake
            .post_signed(
                &status_url,
                &[("MessageSid", "SMnobody"), ("MessageStatus", "exploded")],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.contains("MessageStatus"), "{b}");
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        assert_eq!(
            th["messages"].as_array().unwrap().len(),
            1,
            "only the empty text: {th}"
        );
    }
);

with_provider!(
    transient_failures_retry_and_permanent_ones_fail_at_once,
    async |t: &TestApp, fake: &FakeSms| {
        let (_, owner) = t.shop("retry-shop", "premium").await;
        let (_, customer) = ticket(t, &owner, "(512) 555-0123").await;
        // Two 500s, then the provider takes it: one text, three tries.
        fake.fail_next(2);
        let (s, m) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "third time lucky"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        let sent = message_in(t, &owner, &customer, m["id"].as_str().unwrap(), &["sent"]).await;
        assert_eq!(sent["attempts"], 3);
        assert_eq!(fake.messages().len(), 1);

        // An invalid number fails at once with the provider's code.
        let (_, bad) = ticket(t, &owner, "(512) 555-0177").await;
        fake.refuse("+15125550177", 21211);
        let (_, m) = t
            .post(
                &format!("/api/v1/threads/{bad}/messages"),
                &owner,
                json!({"channel": "sms", "body": "to nowhere"}),
            )
            .await;
        let failed = message_in(t, &owner, &bad, m["id"].as_str().unwrap(), &["failed"]).await;
        assert_eq!(failed["error_code"], "21211");
        assert_eq!(failed["attempts"], 1);
        assert!(
            failed["error_message"]
                .as_str()
                .unwrap()
                .contains("not a valid")
        );

        // An unsubscribed recipient (21610): failed, and the customer is
        // marked opted out so nobody keeps trying.
        let (_, gone) = ticket(t, &owner, "(512) 555-0188").await;
        fake.refuse("+15125550188", 21610);
        let (_, m) = t
            .post(
                &format!("/api/v1/threads/{gone}/messages"),
                &owner,
                json!({"channel": "sms", "body": "hello?"}),
            )
            .await;
        let failed = message_in(t, &owner, &gone, m["id"].as_str().unwrap(), &["failed"]).await;
        assert_eq!(failed["error_code"], "21610");
        let (_, th) = t.get(&format!("/api/v1/threads/{gone}"), &owner).await;
        assert_eq!(th["customer"]["sms_opt_out"], true);
        let (s, b) = t
            .post(
                &format!("/api/v1/messages/{}/resend", m["id"].as_str().unwrap()),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["code"], "customer_opted_out");
        // A delivery receipt reporting failure records the provider's code
        // in words.
        let (_, m) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "will bounce"}),
            )
            .await;
        let id = m["id"].as_str().unwrap();
        message_in(t, &owner, &customer, id, &["sent"]).await;
        let last = fake
            .messages()
            .into_iter()
            .find(|x| x.body == "will bounce")
            .unwrap();
        fake.report(&last, "undelivered", Some("30003"))
            .await
            .unwrap();
        let failed = message_in(t, &owner, &customer, id, &["failed"]).await;
        assert_eq!(failed["error_code"], "30003");
        assert!(
            failed["error_message"]
                .as_str()
                .unwrap()
                .contains("phone is off")
        );
        // Sent again: a new message, the failure kept.
        let (s, again) = t
            .post(&format!("/api/v1/messages/{id}/resend"), &owner, json!({}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{again}");
        assert_ne!(again["id"], m["id"]);
        message_in(
            t,
            &owner,
            &customer,
            again["id"].as_str().unwrap(),
            &["sent"],
        )
        .await;
        // Only failed messages can be sent again.
        let (s, b) = t
            .post(
                &format!("/api/v1/messages/{}/resend", again["id"].as_str().unwrap()),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
    }
);

with_provider!(
    templates_are_checked_sandboxed_and_previewed,
    async |t: &TestApp, _fake: &FakeSms| {
        let (shop, owner) = t.shop("tpl-shop", "premium").await;
        let (_, list) = t.get("/api/v1/message-templates", &owner).await;
        let kinds: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "link",
                "reminder",
                "invoice",
                "extension",
                "confirmation",
                "receipt"
            ]
        );
        assert!(
            list["variables"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "first_name")
        );
        let owner_ref = owner.as_str();
        let put = |body: &str| {
            let body = body.to_owned();
            async move {
                t.call(
                    "PUT",
                    "/api/v1/message-templates/reminder",
                    Some(owner_ref),
                    Some(json!({"body": body})),
                )
                .await
            }
        };
        for (bad, says) in [
            ("Hi {{ first_name ", "line 1"),
            ("line one\n{% if %}", "line 2"),
            (
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                "fuel",
            ),
            (
                "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
                "recursion",
            ),
            (
                "{% for i in range(2000) %}x{% endfor %}",
                "longer than 1600",
            ),
            ("{% include 'secrets.txt' %}", "non-existing template"),
        ] {
            let (s, b) = put(bad).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
            assert_eq!(b["field"], "body", "{bad}: {b}");
            assert!(
                b["message"].as_str().unwrap().to_lowercase().contains(says),
                "{bad}: {b}"
            );
        }
        let (_, list_after) = t.get("/api/v1/message-templates", &owner).await;
        assert_eq!(list, list_after, "refused templates changed nothing");
        let (s, b) =
            put("Hi {{ first_name }}, your {{ vehicle }} is waiting at {{ shop_name }}.").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["is_default"], false);

        // Preview: text with samples, encoding, segments.
        let (s, p) = t
            .post(
                "/api/v1/message-templates/preview",
                &owner,
                json!({"body": "Hi {{ first_name }} 🙂"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["text"], "Hi Sam 🙂");
        assert_eq!(p["encoding"], "UCS-2");
        assert_eq!(p["segments"], 1);
        let (_, p) = t
            .post(
                "/api/v1/message-templates/preview",
                &owner,
                json!({"body": "x".repeat(200)}),
            )
            .await;
        assert_eq!(
            (p["encoding"].as_str(), p["segments"].as_u64()),
            (Some("GSM-7"), Some(2))
        );
        assert!(p["cost_hint_cents"].as_f64().unwrap() > 0.0);
        // A template that would take the server's memory is refused in
        // preview and save alike, naming the field (the memory itself is
        // measured in crates/core/tests/template_memory.rs).
        for hostile in [
            r#"{{ "x" * 100000000 }}"#,
            r#"{% set ns = namespace(s="xxxxxxxx") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"#,
            r#"{{ range(100000000)|join(",") }}"#,
        ] {
            let (s, b) = t
                .post(
                    "/api/v1/message-templates/preview",
                    &owner,
                    json!({"body": hostile}),
                )
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{hostile}: {b}");
            assert_eq!(b["field"], "body", "{hostile}: {b}");
            let (s, b) = put(hostile).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{hostile}: {b}");
            assert_eq!(b["field"], "body", "{hostile}: {b}");
        }
        // Preview is for those who edit templates, not every viewer.
        for role in [
            pitwall_core::domain::Role::Viewer,
            pitwall_core::domain::Role::Technician,
            pitwall_core::domain::Role::Advisor,
        ] {
            let (_, token) = t.member(shop, &format!("{role}@tpl.test"), role).await;
            let (s, b) = t
                .post(
                    "/api/v1/message-templates/preview",
                    &token,
                    json!({"body": "Hi"}),
                )
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{role}: {b}");
            assert_eq!(b["permission"], "message_setup.manage");
        }
        // Status templates are held to the same rules.
        let (s, b) = t
            .post(
                "/api/v1/vehicle-statuses",
                &owner,
                json!({"label": "Broken", "color": "#123456", "notify_customer": true,
                       "message_template": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                       "timer_mode": "open"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.to_string().contains("message_template"), "{b}");
    }
);

with_provider!(
    quiet_hours_consent_and_quota_decide_when_and_whether,
    async |t: &TestApp, fake: &FakeSms| {
        let (shop, owner) = t.shop("rules-shop", "premium").await;
        let (ticket_id, customer) = ticket(t, &owner, "(512) 555-0123").await;
        // Quiet hours around now, in the shop's zone.
        let (_, me) = t.get("/api/v1/shop", &owner).await;
        let tz: chrono_tz::Tz = me["time_zone"].as_str().unwrap().parse().unwrap();
        let local = chrono::Utc::now().with_timezone(&tz);
        use chrono::Timelike;
        let start = (local.hour() + 23) % 24;
        let end = (local.hour() + 2) % 24;
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/messaging-settings",
                Some(&owner),
                Some(json!({"quiet_hours_start": format!("{start:02}:00"), "quiet_hours_end": format!("{end:02}:00"),
                            "require_sms_consent": false, "sms_from": null})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // A reminder waits for morning, visibly.
        let (s, r) = t
            .post(
                &format!("/api/v1/tickets/{ticket_id}/reminders"),
                &owner,
                json!({"channel": "sms"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!(r["status"], "held");
        assert_eq!(r["hold_reason"], "quiet_hours");
        let until: chrono::DateTime<chrono::Utc> =
            r["held_until"].as_str().unwrap().parse().unwrap();
        assert!(
            until > chrono::Utc::now() && until < chrono::Utc::now() + chrono::Duration::hours(3)
        );
        // A status update (the customer is waiting for it) goes at once.
        let status = notifying_status(t, &owner).await;
        let (_, set) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{ticket_id}/status"),
                Some(&owner),
                Some(json!({"status_id": status})),
            )
            .await;
        assert_eq!(set["messages"][0]["status"], "queued");
        // The status text was queued after the reminder; once it has gone,
        // the reminder is still held and the provider has nothing else.
        let got = fake.wait_for(1, 15).await;
        message_in(
            t,
            &owner,
            &customer,
            set["messages"][0]["id"].as_str().unwrap(),
            &["sent"],
        )
        .await;
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &owner).await;
        let reminder = th["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == r["id"])
            .expect("the reminder in the thread");
        assert_eq!(reminder["status"], "held", "{reminder}");
        assert_eq!(fake.messages().len(), 1, "the reminder waits: {got:?}");
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/messaging-settings",
                Some(&owner),
                Some(json!({"quiet_hours_start": "25:00", "quiet_hours_end": "07:00", "require_sms_consent": false})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["field"], "quiet_hours_start");
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/messaging-settings",
                Some(&owner),
                Some(json!({"quiet_hours_end": "07:00", "require_sms_consent": false, "sms_from": "not a number"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

        // Consent required: refused until staff record it.
        let (s, _) = t
            .call(
                "PUT",
                "/api/v1/messaging-settings",
                Some(&owner),
                Some(json!({"require_sms_consent": true})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "hi"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["code"], "consent_required");
        let (s, c) = t
            .post(
                &format!("/api/v1/customers/{customer}/consent"),
                &owner,
                json!({"detail": "signed the drop-off form"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let (s, hi) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "hi"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        // Texts count toward the month when they go.
        message_in(t, &owner, &customer, hi["id"].as_str().unwrap(), &["sent"]).await;

        // The plan's monthly SMS quota: a support override lowers it to
        // what is already used; the next text is refused.
        let (_, usage) = t.get("/api/v1/usage", &owner).await;
        let used = usage["sms_segments"].as_i64().unwrap();
        assert!(used >= 2, "{usage}");
        let admin = t
            .platform(
                "plans@rules.test",
                pitwall_core::domain::PlatformRole::PlatformAdmin,
            )
            .await;
        let (_, plans) = t.get("/api/admin/v1/plans", &admin).await;
        let mut premium = plans["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["code"] == "premium")
            .unwrap()
            .clone();
        premium["sms_per_month"] = json!(used);
        let body = json!({
            "name": premium["name"], "monthly_price_cents": premium["monthly_price_cents"],
            "features": premium["features"], "max_users": premium["max_users"],
            "sms_per_month": used, "max_locations": premium["max_locations"],
        });
        let (s, b) = t
            .call(
                "PUT",
                "/api/admin/v1/plans/premium",
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let _ = shop;
        let (s, b) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "one too many"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "quota_exceeded");
        // An automatic status text is held for the quota, not lost.
        let (_, set) = t
            .call(
                "PUT",
                &format!("/api/v1/tickets/{ticket_id}/status"),
                Some(&owner),
                Some(json!({"status_id": status})),
            )
            .await;
        assert_eq!(set["messages"][0]["status"], "held", "{set}");
        assert_eq!(set["messages"][0]["hold_reason"], "quota_exceeded");
    }
);

// The rate per sender number is kept by the workers: with 5 texts a
// second allowed, 6 texts from one number take about a second at the
// provider, however fast they were queued. (Only a lower bound is
// asserted: a slow machine makes the span longer, not shorter.)
with_provider!(
    the_sender_rate_is_kept,
    env = &[("PITWALL_SMS_RATE_PER_SENDER", "5")],
    async |t: &TestApp, fake: &FakeSms| {
        let (_, owner) = t.shop("rate-shop", "premium").await;
        let (_, customer) = ticket(t, &owner, "(512) 555-0123").await;
        for i in 0..6 {
            let (s, b) = t
                .post(
                    &format!("/api/v1/threads/{customer}/messages"),
                    &owner,
                    json!({"channel": "sms", "body": format!("rate {i}")}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        let got = fake.wait_for(6, 30).await;
        assert_eq!(got.len(), 6);
        let mut at: Vec<_> = got.iter().map(|m| m.received_at).collect();
        at.sort();
        // Five gaps of 200 ms; the slots are exact, arrivals jitter by what
        // happens between a slot and the provider (a claim, an HTTP request),
        // so allow 200 ms of that. Unlimited, six texts arrive within ~50 ms.
        let span = at[5].duration_since(at[0]);
        assert!(
            span >= Duration::from_millis(800),
            "six texts within {span:?}"
        );
    }
);

// Quiet hours end at the top of an hour in the shop's zone. The app's
// clock (the one the rules read) is moved to a few seconds before that
// instant, inside the quiet hours: a reminder is held until their end and
// goes out then, without the test waiting for a real night to pass.
with_provider!(
    a_held_text_goes_when_quiet_hours_end,
    async |t: &TestApp, fake: &FakeSms| {
        use chrono::{Timelike, Utc};
        let (_, owner) = t.shop("dawn-shop", "premium").await;
        let (ticket_id, customer) = ticket(t, &owner, "(512) 555-0123").await;
        let (_, shop) = t.get("/api/v1/shop", &owner).await;
        let tz: chrono_tz::Tz = shop["time_zone"].as_str().unwrap().parse().unwrap();
        let clock = &t.app.config().clock;
        let end_local = (clock.now().with_timezone(&tz) + chrono::Duration::hours(2))
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .expect("the top of an hour");
        let end = end_local.with_timezone(&Utc);
        // An hour long: the real time, up to two hours before the end, is
        // outside them, so only the moved clock puts the reminder inside.
        let start_hour = (end_local.hour() + 23) % 24;
        let (s, b) = t
            .call(
                "PUT",
                "/api/v1/messaging-settings",
                Some(&owner),
                Some(json!({"quiet_hours_start": format!("{start_hour:02}:00"),
                            "quiet_hours_end": format!("{:02}:00", end_local.hour()),
                            "require_sms_consent": false, "sms_from": null})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        clock.advance(end - clock.now() - chrono::Duration::seconds(4));

        let (s, r) = t
            .post(
                &format!("/api/v1/tickets/{ticket_id}/reminders"),
                &owner,
                json!({"channel": "sms"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!(r["status"], "held", "{r}");
        assert_eq!(r["hold_reason"], "quiet_hours");
        let until: chrono::DateTime<Utc> = r["held_until"].as_str().unwrap().parse().unwrap();
        assert_eq!(until, end, "held until the quiet hours end");

        // Released when they end: at the provider, recorded as sent, and
        // not before the end (by the system clock the queue runs on).
        let got = fake.wait_for(1, 30).await;
        assert_eq!(got[0].body, r["body"].as_str().unwrap());
        let sent = message_in(t, &owner, &customer, r["id"].as_str().unwrap(), &["sent"]).await;
        let sent_at: chrono::DateTime<Utc> = sent["sent_at"].as_str().unwrap().parse().unwrap();
        assert!(
            sent_at >= clock.on_system_clock(end),
            "sent at {sent_at}, before the quiet hours ended"
        );
    }
);

// The provider answers 500 to ten tries in a row (more than the six a job
// used to get): the text waits, support sees it in the job board, and it
// goes out once when the provider is back.
with_provider!(
    a_provider_outage_loses_nothing_and_shows_on_the_job_board,
    async |t: &TestApp, fake: &FakeSms| {
        let (_, owner) = t.shop("outage-sms-shop", "premium").await;
        let (_, customer) = ticket(t, &owner, "(512) 555-0124").await;
        let admin = t
            .platform(
                "queues@platform.test",
                pitwall_core::domain::PlatformRole::Support,
            )
            .await;
        fake.fail_next(10);
        let (s, m) = t
            .post(
                &format!("/api/v1/threads/{customer}/messages"),
                &owner,
                json!({"channel": "sms", "body": "after the outage"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        let mut seen_on_board = false;
        for _ in 0..200 {
            let (s, board) = t.get("/api/admin/v1/jobs", &admin).await;
            assert_eq!(s, StatusCode::OK, "{board}");
            let queue = board["queues"]
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["queue"] == "pitwall.message")
                .cloned();
            if queue.is_some_and(|q| q["running"].as_i64() > Some(0)) {
                seen_on_board = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            seen_on_board,
            "the retrying text never showed on the job board"
        );
        let sent = message_in(t, &owner, &customer, m["id"].as_str().unwrap(), &["sent"]).await;
        assert_eq!(sent["attempts"], 11, "{sent}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(fake.messages().len(), 1, "sent once");
        // The console's page shows the same counts.
        let c = pitwall_testkit::pages::browser();
        pitwall_testkit::pages::sign_in(t, &c, "queues@platform.test").await;
        let (s, page) = pitwall_testkit::pages::page(t, &c, "/admin/jobs").await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("data-testid=\"queue-row\""), "{page}");
        assert!(page.contains("pitwall.message"), "{page}");
    }
);
