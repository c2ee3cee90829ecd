//! Online payment of invoices into the shop's own Stripe account, on both
//! databases, against the fake Stripe speaking Stripe's wire format
//! (accounts, account links, the `Stripe-Account` header, Connect events):
//! onboarding, the customer's payment session (reused, fee applied), the
//! invoice paid exactly once however events repeat, with the POS, the
//! timeline and the customer's receipt; and forged, misdirected,
//! wrong-amount and early events that change nothing.

use pitwall_core::domain::ShopId;
use pitwall_testkit::fake_stripe::{CONNECT_WEBHOOK_SECRET, FakeStripe};
use pitwall_testkit::{Backend, Options, StatusCode, TestApp};
use serde_json::{Value, json};

use crate::invoices::approved_and_done;

const PRICES: &str = "starter=price_starter,pro=price_pro,premium=price_premium";

macro_rules! with_connect {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, $body).await;
            }
        }
    };
}

async fn run<F>(backend: Backend, body: F)
where
    F: AsyncFnOnce(&TestApp, &FakeStripe),
{
    let fake = FakeStripe::start().await.expect("fake Stripe");
    let mut env = fake.env(PRICES);
    env.push(("PITWALL_PAYMENTS".into(), "connect".into()));
    env.push(("PITWALL_PAYMENT_FEE_BPS".into(), "250".into()));
    env.push((
        "STRIPE_CONNECT_WEBHOOK_SECRET".into(),
        CONNECT_WEBHOOK_SECRET.into(),
    ));
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
    fake.set_connect_webhook(&t.url("/webhooks/stripe/connect"), CONNECT_WEBHOOK_SECRET);
    body(&t, &fake).await;
    t.finish().await;
}

/// A connected, enabled shop with a sent invoice of 167.38: (shop, owner,
/// POS key, ticket, invoice id, link token, account).
struct Sent {
    shop: ShopId,
    owner: String,
    key: String,
    ticket: String,
    invoice: String,
    token: String,
    account: String,
}

async fn connected_and_sent(t: &TestApp, fake: &FakeStripe, slug: &str) -> Sent {
    let (shop, owner) = t.shop(slug, "premium").await;
    let (s, b) = t.get("/api/v1/payment-account", &owner).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["mode"], "connect");
    assert_eq!(b["account_id"], Value::Null);
    assert_eq!(b["charges_enabled"], false);
    let (s, link) = t
        .post(
            "/api/v1/payment-account/onboarding-links",
            &owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    assert!(
        link["url"]
            .as_str()
            .unwrap()
            .contains("/connect/onboard/acct_"),
        "{link}"
    );
    let (_, again) = t
        .post(
            "/api/v1/payment-account/onboarding-links",
            &owner,
            json!({}),
        )
        .await;
    assert!(again["url"].is_string(), "{again}");
    let (_, b) = t.get("/api/v1/payment-account", &owner).await;
    let account = b["account_id"].as_str().unwrap().to_owned();
    assert!(
        fake.accounts()
            .iter()
            .filter(|(id, _)| *id == account)
            .count()
            == 1,
        "one account per shop"
    );
    let (key, ticket, _) = approved_and_done(t, &owner, &format!("{slug}-1")).await;
    let (s, inv) = t
        .post(
            &format!("/api/v1/tickets/{ticket}/invoices"),
            &owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let invoice = inv["id"].as_str().unwrap().to_owned();
    let (s, sent) = t
        .post(
            &format!("/api/v1/invoices/{invoice}/send"),
            &owner,
            json!({"send": "email"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sent}");
    let url = sent["link_url"].as_str().unwrap();
    let token = url[url.find("/c/").unwrap() + 3..].to_owned();
    // Not ready to take payments until Stripe says so.
    let (s, b) = pay(t, &token).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["field"], "payments", "{b}");
    fake.enable_account(&account);
    let (_, b) = t.get("/api/v1/payment-account", &owner).await;
    assert_eq!(b["charges_enabled"], true, "read again from Stripe: {b}");
    Sent {
        shop,
        owner,
        key,
        ticket,
        invoice,
        token,
        account,
    }
}

async fn pay(t: &TestApp, token: &str) -> (StatusCode, Value) {
    t.call(
        "POST",
        &format!("/api/customer/v1/links/{token}/payments"),
        None,
        None,
    )
    .await
}

async fn invoice(t: &TestApp, owner: &str, id: &str) -> Value {
    let (s, b) = t.get(&format!("/api/v1/invoices/{id}"), owner).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

/// Waits until the worker has applied the event (10 s): its outcome.
async fn outcome(t: &TestApp, event_id: &str) -> String {
    for _ in 0..200 {
        if let Some(e) = pitwall_store::payments::event(&t.db, event_id)
            .await
            .expect("read")
            && e.processed_at.is_some()
        {
            return e.outcome;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("event {event_id} was not applied");
}

async fn deliver(t: &TestApp, fake: &FakeStripe, event: &Value) -> Value {
    let (s, body) = fake
        .deliver_signed(
            &t.url("/webhooks/stripe/connect"),
            event,
            CONNECT_WEBHOOK_SECRET,
            None,
        )
        .await
        .expect("delivered");
    assert_eq!(s, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

async fn payments_of(
    t: &TestApp,
    shop: ShopId,
    invoice: &str,
) -> Vec<pitwall_store::payments::Payment> {
    pitwall_store::payments::payments_of_invoice(&t.db, shop, invoice.parse().unwrap())
        .await
        .expect("read")
}

with_connect!(
    the_customer_pays_into_the_shops_account_exactly_once,
    async |t: &TestApp, fake: &FakeStripe| {
        let s = connected_and_sent(t, fake, "pay-once").await;
        let (st, first) = pay(t, &s.token).await;
        assert_eq!(st, StatusCode::CREATED, "{first}");
        let (_, second) = pay(t, &s.token).await;
        assert_eq!(first["url"], second["url"], "the open session is reused");
        let sessions = fake.payment_sessions();
        assert_eq!(sessions.len(), 1);
        let session = &sessions[0];
        assert_eq!(session.account.as_deref(), Some(s.account.as_str()));
        assert_eq!(session.amount_total, 16738);
        assert_eq!(session.application_fee_amount, Some(418), "2.5 %");
        assert_eq!(session.metadata["invoice_id"], s.invoice);
        assert_eq!(session.metadata["shop_id"], s.shop.to_string());

        // The customer pays on Stripe's page; Stripe tells Pitwall.
        fake.pay(&session.id).await.expect("paid");
        let mut paid = Value::Null;
        for _ in 0..200 {
            paid = invoice(t, &s.owner, &s.invoice).await;
            if paid["status"] == "paid" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(paid["status"], "paid", "{paid}");
        assert!(paid["paid_at"].is_string());
        let recorded = payments_of(t, s.shop, &s.invoice).await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].amount, 16738);
        assert_eq!(recorded[0].fee, 418);
        assert!(recorded[0].payment_intent_id.starts_with("pi_"));

        // Stripe repeats itself, and sends the later event type too:
        // still one payment.
        let object = fake.payment_session_json(&session.id).expect("session");
        let repeat = fake.connect_event(
            "checkout.session.completed",
            Some(&s.account),
            object.clone(),
        );
        let answer = deliver(t, fake, &repeat).await;
        assert_eq!(answer["duplicate"], false);
        assert_eq!(outcome(t, repeat["id"].as_str().unwrap()).await, "applied");
        let answer = deliver(t, fake, &repeat).await;
        assert_eq!(answer["duplicate"], true, "{answer}");
        let late = fake.connect_event(
            "checkout.session.async_payment_succeeded",
            Some(&s.account),
            object,
        );
        deliver(t, fake, &late).await;
        assert_eq!(outcome(t, late["id"].as_str().unwrap()).await, "applied");
        assert_eq!(payments_of(t, s.shop, &s.invoice).await.len(), 1);

        // Nothing is due any more.
        let (st, b) = pay(t, &s.token).await;
        assert_eq!(st, StatusCode::CONFLICT, "{b}");
        assert_eq!(b["field"], "invoice", "{b}");

        // The POS, the timeline and the customer hear of it once.
        let (_, notes) = t.get("/api/pos/v1/notifications", &s.key).await;
        let received: Vec<&Value> = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "payment_received")
            .collect();
        assert_eq!(received.len(), 1, "{notes}");
        assert_eq!(received[0]["data"]["amount"], 16738);
        let (_, timeline) = t
            .get(&format!("/api/v1/tickets/{}/timeline", s.ticket), &s.owner)
            .await;
        let kinds: Vec<&str> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .filter(|k| *k == "payment_received")
            .collect();
        assert_eq!(kinds.len(), 1, "{timeline}");
        let (_, view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{}", s.token),
                None,
                None,
            )
            .await;
        assert_eq!(view["invoice"]["status"], "paid", "{view}");
        let (_, tickets) = t
            .get(&format!("/api/v1/tickets/{}", s.ticket), &s.owner)
            .await;
        let customer = tickets["ticket"]["customer"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, thread) = t
            .get(&format!("/api/v1/threads/{customer}"), &s.owner)
            .await;
        let receipts: Vec<&Value> = thread["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "receipt")
            .collect();
        assert_eq!(receipts.len(), 1, "{thread}");
        assert!(
            receipts[0]["body"].as_str().unwrap().contains("$167.38"),
            "{}",
            receipts[0]
        );

        // Handed over, then the POS books it.
        let (st, b) = t
            .post(
                &format!("/api/v1/invoices/{}/delivered", s.invoice),
                &s.owner,
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let (st, b) = t
            .post(
                &format!("/api/pos/v1/invoices/{}/booked", s.invoice),
                &s.key,
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "booked");
    }
);

with_connect!(
    forged_misdirected_and_wrong_amount_events_change_nothing,
    async |t: &TestApp, fake: &FakeStripe| {
        let s = connected_and_sent(t, fake, "pay-forged").await;
        let other = connected_and_sent(t, fake, "pay-other").await;
        let (st, b) = pay(t, &s.token).await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        let session = fake
            .payment_sessions()
            .into_iter()
            .find(|x| x.metadata["invoice_id"] == s.invoice)
            .expect("the session");
        let object = fake.payment_session_json(&session.id).expect("session");

        // Not signed with the Connect secret: refused at the door.
        let forged = fake.connect_event(
            "checkout.session.completed",
            Some(&s.account),
            object.clone(),
        );
        let (st, body) = fake
            .deliver_signed(
                &t.url("/webhooks/stripe/connect"),
                &forged,
                "whsec_wrong",
                None,
            )
            .await
            .unwrap();
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            pitwall_store::payments::event(&t.db, forged["id"].as_str().unwrap())
                .await
                .unwrap()
                .is_none()
        );

        // Signed, but not paid yet: nothing to do.
        let early = fake.connect_event(
            "checkout.session.completed",
            Some(&s.account),
            object.clone(),
        );
        deliver(t, fake, &early).await;
        assert_eq!(outcome(t, early["id"].as_str().unwrap()).await, "ignored");

        // Paid, but the event names another shop's account, or none.
        let mut paid_object = object.clone();
        paid_object["payment_status"] = json!("paid");
        for account in [Some(other.account.as_str()), None, Some("acct_unknown")] {
            let e = fake.connect_event("checkout.session.completed", account, paid_object.clone());
            deliver(t, fake, &e).await;
            assert_eq!(
                outcome(t, e["id"].as_str().unwrap()).await,
                "refused",
                "{account:?}"
            );
        }
        // A session Pitwall never made.
        let mut strange = paid_object.clone();
        strange["id"] = json!("cs_test_never_made");
        let e = fake.connect_event("checkout.session.completed", Some(&s.account), strange);
        deliver(t, fake, &e).await;
        assert_eq!(outcome(t, e["id"].as_str().unwrap()).await, "refused");

        // Stripe reports another amount than is due: refused.
        fake.set_session_amount(&session.id, 100);
        fake.pay(&session.id).await.expect("paid");
        let completed = fake.connect_event(
            "checkout.session.completed",
            Some(&s.account),
            fake.payment_session_json(&session.id).unwrap(),
        );
        deliver(t, fake, &completed).await;
        assert_eq!(
            outcome(t, completed["id"].as_str().unwrap()).await,
            "refused"
        );
        let still = invoice(t, &s.owner, &s.invoice).await;
        assert_eq!(still["status"], "sent", "{still}");
        assert!(payments_of(t, s.shop, &s.invoice).await.is_empty());
        assert!(payments_of(t, other.shop, &other.invoice).await.is_empty());
        let other_now = invoice(t, &other.owner, &other.invoice).await;
        assert_eq!(other_now["status"], "sent");

        // Malformed bodies are named.
        let bad = json!({"id": "nope", "type": "checkout.session.completed"});
        let (st, body) = fake
            .deliver_signed(
                &t.url("/webhooks/stripe/connect"),
                &bad,
                CONNECT_WEBHOOK_SECRET,
                None,
            )
            .await
            .unwrap();
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("\"field\":\"id\""), "{body}");
    }
);

with_connect!(
    onboarding_needs_the_owner_and_the_plan,
    async |t: &TestApp, _fake: &FakeStripe| {
        let (shop, _) = t.shop("pay-roles", "premium").await;
        let (_, advisor) = t
            .member(
                shop,
                "adv@pay-roles.test",
                pitwall_core::domain::Role::Advisor,
            )
            .await;
        let (s, b) = t
            .post(
                "/api/v1/payment-account/onboarding-links",
                &advisor,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["permission"], "billing.manage");
        let (_, pro) = t.shop("pay-pro", "pro").await;
        let (s, b) = t.get("/api/v1/payment-account", &pro).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["feature"], "online_payments");
    }
);

with_connect!(
    refunds_made_in_stripe_show_on_the_invoice,
    async |t: &TestApp, fake: &FakeStripe| {
        let s = connected_and_sent(t, fake, "refund").await;
        let (st, b) = pay(t, &s.token).await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        let session = fake.payment_sessions()[0].id.clone();
        fake.pay(&session).await.expect("paid");
        let mut paid = Value::Null;
        for _ in 0..200 {
            paid = invoice(t, &s.owner, &s.invoice).await;
            if paid["status"] == "paid" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(paid["status"], "paid", "{paid}");
        assert_eq!(paid["refunded"], 0);
        let payments = paid["payments"].as_array().unwrap();
        assert_eq!(payments.len(), 1, "{paid}");
        assert_eq!(payments[0]["amount"], 16738);
        assert_eq!(payments[0]["fee"], 418);
        let intent = payments[0]["payment_intent_id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Part refunded in the Dashboard: the invoice shows it; the same
        // event again changes nothing.
        let event = fake.refund(&intent, 5000).await.expect("refunded");
        assert_eq!(outcome(t, event["id"].as_str().unwrap()).await, "applied");
        let b = invoice(t, &s.owner, &s.invoice).await;
        assert_eq!(b["refunded"], 5000, "{b}");
        assert_eq!(b["payments"][0]["refunded"], 5000, "{b}");
        assert_eq!(b["status"], "paid", "a refund does not move the case");
        let again = deliver(t, fake, &event).await;
        assert_eq!(again["duplicate"], true, "{again}");

        // A refund event naming another account, or a charge that account
        // does not have: refused, nothing changes.
        let mut forged = fake.connect_event(
            "charge.refunded",
            Some("acct_someone_else"),
            event["data"]["object"].clone(),
        );
        forged["data"]["object"]["amount_refunded"] = json!(16738);
        deliver(t, fake, &forged).await;
        assert_eq!(outcome(t, forged["id"].as_str().unwrap()).await, "refused");
        let unknown = fake.connect_event(
            "charge.refunded",
            Some(&s.account),
            json!({"id": "ch_not_there", "object": "charge"}),
        );
        deliver(t, fake, &unknown).await;
        assert_eq!(outcome(t, unknown["id"].as_str().unwrap()).await, "refused");
        assert_eq!(invoice(t, &s.owner, &s.invoice).await["refunded"], 5000);

        // The rest refunded; an older event read late does not lower it.
        let rest = fake.refund(&intent, 20000).await.expect("refunded");
        assert_eq!(outcome(t, rest["id"].as_str().unwrap()).await, "applied");
        let mut late = event.clone();
        late["id"] = json!(format!("{}_late", event["id"].as_str().unwrap()));
        deliver(t, fake, &late).await;
        assert_eq!(outcome(t, late["id"].as_str().unwrap()).await, "applied");
        let b = invoice(t, &s.owner, &s.invoice).await;
        assert_eq!(b["refunded"], 16738, "{b}");
        let recorded = payments_of(t, s.shop, &s.invoice).await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].refunded, 16738);

        // The timeline, the POS and the customer's page say so.
        let (_, timeline) = t
            .get(&format!("/api/v1/tickets/{}/timeline", s.ticket), &s.owner)
            .await;
        let refunds: Vec<&Value> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "payment_refunded")
            .collect();
        assert_eq!(refunds.len(), 2, "{timeline}");
        let (_, notes) = t.get("/api/pos/v1/notifications", &s.key).await;
        assert!(
            notes["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["kind"] == "invoice_update" && n["data"]["refunded"] == 16738),
            "{notes}"
        );
        let (_, view) = t
            .call(
                "GET",
                &format!("/api/customer/v1/links/{}", s.token),
                None,
                None,
            )
            .await;
        assert_eq!(view["invoice"]["refunded"], 16738, "{view}");
        let (st, page) =
            pitwall_testkit::pages::page(t, &t.client, &format!("/c/{}", s.token)).await;
        assert_eq!(st, StatusCode::OK);
        assert!(page.contains("data-testid=\"invoice-refunded\""), "{page}");
    }
);
