//! Billing end to end on both databases, with a local Stripe that speaks
//! Stripe's wire format (Pitwall's real async-stripe client talks to it)
//! and the app's real workers: Checkout, webhooks in every order and with
//! duplicates, forged/stale/rotated signatures, downgrades that take effect
//! on the next request, past-due grace with a controlled clock, bad input
//! and support's tools.

use std::time::Duration;

use pitwall_testkit::fake_sms::FakeSms;
use pitwall_testkit::fake_stripe::{FakeStripe, WEBHOOK_SECRET};
use pitwall_testkit::pages::{browser, csrf_of, page, sign_in};
use pitwall_testkit::{Backend, Options, StatusCode, TestApp};
use serde_json::{Value, json};

const PRICES: &str =
    "starter=price_starter,pro=price_pro,premium=price_premium,pro:yearly=price_pro_yearly";

macro_rules! with_stripe {
    ($name:ident, $body:expr) => {
        with_stripe!($name, env = &[], $body);
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

async fn run<F>(backend: Backend, extra: &[(&str, &str)], body: F)
where
    F: AsyncFnOnce(&TestApp, &FakeStripe),
{
    let fake = FakeStripe::start().await.expect("fake Stripe");
    let mut env = fake.env(PRICES);
    for (k, v) in extra {
        env.retain(|(n, _)| n != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
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
    fake.set_webhook(&t.url("/webhooks/stripe"), WEBHOOK_SECRET);
    body(&t, &fake).await;
    t.finish().await;
}

/// Polls `GET /api/v1/me` until `check` holds (10 s).
async fn wait_me(t: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (_, me) = t.get("/api/v1/me", token).await;
        if check(&me) {
            return me;
        }
        last = me;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never reached the expected state: {last}");
}

/// Changes the shop's branding: a `custom_branding` (Pro) feature.
async fn brand(t: &TestApp, token: &str, color: &str) -> (StatusCode, Value) {
    t.call(
        "PUT",
        "/api/v1/shop",
        Some(token),
        Some(json!({"name": "Branded", "time_zone": "America/Chicago", "primary_color": color})),
    )
    .await
}

async fn deliver(t: &TestApp, fake: &FakeStripe, event: &Value) -> StatusCode {
    fake.deliver_signed(&t.url("/webhooks/stripe"), event, WEBHOOK_SECRET, None)
        .await
        .expect("delivered")
        .0
}

/// A shop with a Stripe customer (made by its first Checkout); answers
/// shop id, owner token and customer id.
async fn shop_with_customer(
    t: &TestApp,
    fake: &FakeStripe,
    slug: &str,
) -> (String, String, String) {
    let (shop, token) = t.shop(slug, "starter").await;
    let (s, b) = t
        .post(
            "/api/v1/billing/checkout-sessions",
            &token,
            json!({"plan": "pro"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let customer = fake
        .sessions()
        .iter()
        .rev()
        .find(|x| x.client_reference_id.as_deref() == Some(&shop.to_string()))
        .map(|x| x.customer.clone())
        .expect("session");
    (shop.to_string(), token, customer)
}

with_stripe!(
    checkout_upgrade_then_downgrade_apply_on_the_next_request,
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token) = t.shop("bill-up", "starter").await;
        let (s, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(me["billing"]["plan"], "starter");
        assert_eq!(me["billing"]["lifecycle"], "trial");
        assert!(me["billing"]["trial_days_left"].as_i64().unwrap() >= 13);
        let (s, _) = brand(t, &token, "#112233").await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        let (s, b) = t
            .post(
                "/api/v1/billing/checkout-sessions",
                &token,
                json!({"plan": "pro"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(
            b["url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/checkout/", fake.url()))
        );
        // The customer is made once and reused.
        let (s, _) = t
            .post(
                "/api/v1/billing/checkout-sessions",
                &token,
                json!({"plan": "pro", "interval": "yearly"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(fake.customers(), 1);
        let sessions = fake.sessions();
        let session = sessions.first().unwrap();
        assert_eq!(
            session.client_reference_id.as_deref(),
            Some(shop.to_string().as_str())
        );
        assert_eq!(
            session.subscription_metadata.get("shop_id"),
            Some(&shop.to_string())
        );
        assert_eq!(session.price, "price_pro");
        assert_eq!(sessions[1].price, "price_pro_yearly");
        // The shop's trial carries over to the subscription.
        assert!(session.trial_end.is_some());

        fake.complete_checkout(&session.id).await.unwrap();
        let me = wait_me(t, &token, |m| {
            m["billing"]["plan"] == "pro" && m["billing"]["status"] == "trialing"
        })
        .await;
        assert!(me["billing"]["next_invoice_at"].is_string(), "{me}");
        let (s, b) = brand(t, &token, "#112233").await;
        assert_eq!(s, StatusCode::OK, "upgrade opens the feature at once: {b}");

        // A second Checkout for a subscribed shop goes to the portal's
        // plan-change flow, never a second subscription.
        let (s, b) = t
            .post(
                "/api/v1/billing/checkout-sessions",
                &token,
                json!({"plan": "premium"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(b["url"].as_str().unwrap().contains("/portal/"));
        assert_eq!(
            fake.portal_sessions().last().unwrap().1.as_deref(),
            Some("subscription_update")
        );

        // Downgrade in Stripe: the next request has lost the feature.
        let sub = fake.sessions()[0].subscription.clone().unwrap();
        fake.set_price(&sub, "price_starter");
        fake.set_status(&sub, "active");
        assert_eq!(
            deliver(t, fake, &fake.subscription_event("updated", &sub)).await,
            StatusCode::OK
        );
        wait_me(t, &token, |m| m["billing"]["plan"] == "starter").await;
        let (s, b) = brand(t, &token, "#445566").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "feature_not_in_plan");

        // Every change is audited with the Stripe event id.
        let admin = t
            .platform(
                "admin@bill-up.test",
                pitwall_core::domain::PlatformRole::PlatformAdmin,
            )
            .await;
        let (_, audit) = t
            .get(&format!("/api/admin/v1/audit?shop_id={shop}"), &admin)
            .await;
        let plan_changes: Vec<&Value> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "billing.plan")
            .collect();
        assert_eq!(plan_changes.len(), 2, "{audit}");
        assert!(
            plan_changes
                .iter()
                .all(|a| a["details"].to_string().contains("evt_")),
            "{audit}"
        );

        // Cancel: read-only, data kept, can subscribe again.
        fake.set_status(&sub, "canceled");
        deliver(t, fake, &fake.subscription_event("deleted", &sub)).await;
        wait_me(t, &token, |m| m["billing"]["lifecycle"] == "closed").await;
        let (s, b) = brand(t, &token, "#445566").await;
        assert_eq!(b["code"], "shop_restricted", "{s} {b}");
        let (s, b) = t
            .post(
                "/api/v1/billing/checkout-sessions",
                &token,
                json!({"plan": "pro"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "a canceled shop can resubscribe: {b}");
        assert!(b["url"].as_str().unwrap().contains("/checkout/"));
    }
);

with_stripe!(
    a_slow_read_of_an_older_state_never_undoes_a_newer_one,
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token, customer) = shop_with_customer(t, fake, "slow-read").await;
        let sub = fake.add_subscription(&customer, "price_pro", "active", Some(&shop));
        let created = fake.subscription_event("created", &sub);
        assert_eq!(deliver(t, fake, &created).await, StatusCode::OK);
        wait_me(t, &token, |m| m["billing"]["plan"] == "pro").await;

        // The first event's read from Stripe sees Pro and answers late...
        let reads = fake.subscription_reads();
        fake.slow_next_read(Duration::from_millis(1500));
        let slow = fake.subscription_event("updated", &sub);
        assert_eq!(deliver(t, fake, &slow).await, StatusCode::OK);
        for _ in 0..200 {
            if fake.subscription_reads() > reads {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            fake.subscription_reads() > reads,
            "the slow read never began"
        );
        // ...while the downgrade happens and its event is applied first.
        fake.set_price(&sub, "price_starter");
        let downgrade = fake.subscription_event("updated", &sub);
        assert_eq!(deliver(t, fake, &downgrade).await, StatusCode::OK);
        wait_me(t, &token, |m| m["billing"]["plan"] == "starter").await;

        // The slow read finishes after: it is recorded, and changes nothing.
        let admin = t
            .platform(
                "admin@slow-read.test",
                pitwall_core::domain::PlatformRole::PlatformAdmin,
            )
            .await;
        let mut slow_result = Value::Null;
        for _ in 0..200 {
            let (_, b) = t
                .get(&format!("/api/admin/v1/shops/{shop}/billing"), &admin)
                .await;
            if let Some(e) = b["events"]
                .as_array()
                .and_then(|es| es.iter().find(|e| e["id"] == slow["id"]))
                .filter(|e| e["processed_at"].is_string())
            {
                slow_result = e.clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(slow_result["result"], "ignored", "{slow_result}");
        assert!(
            slow_result["detail"]
                .as_str()
                .is_some_and(|d| d.contains("superseded")),
            "{slow_result}"
        );
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["plan"], "starter", "{me}");
        let (_, b) = t
            .get(&format!("/api/admin/v1/shops/{shop}/billing"), &admin)
            .await;
        assert_eq!(b["price_id"], "price_starter", "{b}");
    }
);

with_stripe!(
    events_in_any_order_with_duplicates_end_in_the_same_state,
    async |t: &TestApp, fake: &FakeStripe| {
        // Six orders of the same deliveries, each on its own shop.
        for n in 0..6 {
            let (shop, token, customer) = shop_with_customer(t, fake, &format!("order-{n}")).await;
            // An older subscription, canceled, and the live one on Premium.
            let old = fake.add_subscription(&customer, "price_pro", "active", Some(&shop));
            let old_created = fake.subscription_event("created", &old);
            fake.set_status(&old, "canceled");
            let old_deleted = fake.subscription_event("deleted", &old);
            let live = fake.add_subscription(&customer, "price_pro", "incomplete", Some(&shop));
            let created = fake.subscription_event("created", &live);
            fake.set_status(&live, "active");
            fake.set_price(&live, "price_premium");
            let updated = fake.subscription_event("updated", &live);
            let paid = fake.invoice_event("paid", &live);
            let mut events = vec![
                old_created,
                old_deleted,
                created,
                updated.clone(),
                paid,
                updated,
            ];
            match n {
                0 => {}
                1 => events.reverse(),
                k => events.rotate_left(k),
            }
            for e in &events {
                assert_eq!(deliver(t, fake, e).await, StatusCode::OK);
            }
            let me = wait_me(t, &token, |m| {
                m["billing"]["plan"] == "premium"
                    && m["billing"]["status"] == "active"
                    && m["billing"]["lifecycle"] == "active"
            })
            .await;
            assert_eq!(me["shop"]["plan"], "premium");
            // Let the rest of the queue drain, then check nothing moved it.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (_, me) = t.get("/api/v1/me", &token).await;
            assert_eq!(me["billing"]["lifecycle"], "active", "order {n}: {me}");
            assert_eq!(me["billing"]["plan"], "premium", "order {n}: {me}");
        }
    }
);

with_stripe!(
    forged_unsigned_stale_and_rotated_deliveries,
    env = &[(
        "STRIPE_WEBHOOK_SECRET",
        "whsec_old_one, whsec_fake_pitwall_current"
    )],
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token, customer) = shop_with_customer(t, fake, "sigs").await;
        let sub = fake.add_subscription(&customer, "price_premium", "active", Some(&shop));
        let url = t.url("/webhooks/stripe");
        let event = fake.subscription_event("updated", &sub);
        let body = event.to_string();
        // Unsigned.
        let r = t.client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["field"], "Stripe-Signature");
        // Forged (another secret), stale (301 s old), a garbage header.
        let (s, _) = fake
            .deliver_signed(&url, &event, "whsec_forged", None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let stale = chrono::Utc::now().timestamp() - 301;
        let (s, _) = fake
            .deliver_signed(&url, &event, WEBHOOK_SECRET, Some(stale))
            .await
            .unwrap();
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let r = t
            .client
            .post(&url)
            .header("Stripe-Signature", "t=1,v1=zz")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // Nothing changed, nothing stored.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["plan"], "starter");
        let admin = t
            .platform(
                "admin@sigs.test",
                pitwall_core::domain::PlatformRole::Support,
            )
            .await;
        // A signed body that is not an event: 400 naming the field.
        let (s, b) = fake
            .deliver_signed(&url, &json!({"hello": 1}), WEBHOOK_SECRET, None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert!(b.contains("\"field\":\"id\""), "{b}");
        // Both secrets of a rotation work.
        let (s, _) = fake
            .deliver_signed(&url, &event, "whsec_old_one", None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK);
        wait_me(t, &token, |m| m["billing"]["plan"] == "premium").await;
        let again = fake.subscription_event("updated", &sub);
        let (s, _) = fake
            .deliver_signed(&url, &again, WEBHOOK_SECRET, None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK);
        // A duplicate delivery is acknowledged and not processed again.
        let (s, b) = fake
            .deliver_signed(&url, &again, WEBHOOK_SECRET, None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("\"duplicate\":true"), "{b}");
        // Other types are acknowledged and ignored.
        let other = fake.event("charge.refunded", json!({"id": "ch_1"}));
        let (s, b) = fake
            .deliver_signed(&url, &other, WEBHOOK_SECRET, None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("\"ignored\":true"), "{b}");
        // Support sees the events and their results.
        let mut seen = Value::Null;
        for _ in 0..100 {
            let (_, v) = t
                .get(&format!("/api/admin/v1/shops/{shop}/billing"), &admin)
                .await;
            if v["events"]
                .as_array()
                .is_some_and(|e| e.len() == 2 && e.iter().all(|x| x["result"] == "applied"))
            {
                seen = v;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(seen["stripe_customer_id"], customer.as_str(), "{seen}");
        assert_eq!(seen["status"], "active");
    }
);

with_stripe!(
    past_due_keeps_the_plan_for_the_grace_then_restricts,
    env = &[("PITWALL_PAST_DUE_GRACE_DAYS", "3")],
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token, customer) = shop_with_customer(t, fake, "late").await;
        let sub = fake.add_subscription(&customer, "price_pro", "active", Some(&shop));
        deliver(t, fake, &fake.subscription_event("created", &sub)).await;
        wait_me(t, &token, |m| m["billing"]["lifecycle"] == "active").await;
        fake.set_status(&sub, "past_due");
        deliver(t, fake, &fake.invoice_event("payment_failed", &sub)).await;
        let me = wait_me(t, &token, |m| m["billing"]["lifecycle"] == "past_due").await;
        assert!(me["billing"]["grace_ends_at"].is_string(), "{me}");
        // The owner is told by e-mail, and the shop still works.
        let mail = t.wait_for_mail("owner@late.test").await;
        assert!(mail.contains("payment did not go through"), "{mail}");
        let (s, b) = brand(t, &token, "#101010").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // A repeated failure does not send a second e-mail or restart the grace.
        deliver(t, fake, &fake.invoice_event("payment_failed", &sub)).await;
        t.app.config().clock.advance(chrono::Duration::days(2));
        let (s, _) = brand(t, &token, "#202020").await;
        assert_eq!(s, StatusCode::OK);
        // Past the grace: read-only on the next request, no event needed.
        t.app
            .config()
            .clock
            .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
        tokio::time::sleep(pitwall_core::cache::TTL).await;
        let (s, b) = brand(t, &token, "#303030").await;
        assert_eq!(b["code"], "shop_restricted", "{s} {b}");
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["lifecycle"], "suspended");
        // Paying again restores it at once.
        fake.set_status(&sub, "active");
        deliver(t, fake, &fake.invoice_event("paid", &sub)).await;
        wait_me(t, &token, |m| m["billing"]["lifecycle"] == "active").await;
        let (s, _) = brand(t, &token, "#404040").await;
        assert_eq!(s, StatusCode::OK);
    }
);

with_stripe!(
    billing_endpoints_refuse_bad_input_and_other_roles,
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token) = t.shop("bill-bad", "starter").await;
        for (body, field) in [
            (json!({"plan": "gold"}), "plan"),
            (json!({"plan": ""}), "plan"),
            (json!({"plan": "pro", "interval": "weekly"}), "interval"),
            (json!({"plan": "premium", "interval": "yearly"}), "interval"),
        ] {
            let (s, b) = t
                .post("/api/v1/billing/checkout-sessions", &token, body.clone())
                .await;
            assert!(s.is_client_error(), "{body}: {s} {b}");
            assert_eq!(b["field"], field, "{body}: {b}");
        }
        let (s, b) = t
            .call(
                "POST",
                "/api/v1/billing/portal-sessions",
                Some(&token),
                None,
            )
            .await;
        assert!(s.is_client_error(), "{b}");
        assert_eq!(b["field"], "billing");
        assert_eq!(fake.customers(), 0, "nothing was made at Stripe");
        let (_, advisor) = t
            .member(
                shop,
                "adv@bill-bad.test",
                pitwall_core::domain::Role::Advisor,
            )
            .await;
        let (s, _) = t
            .post(
                "/api/v1/billing/checkout-sessions",
                &advisor,
                json!({"plan": "pro"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get("/api/v1/billing", &advisor).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, b) = t.get("/api/v1/billing", &token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["configured"], true);
        assert_eq!(b["sms_included"], 500);

        // Support: comp plan (no Stripe), extend trial, prices.
        let support = t
            .platform(
                "support@bill-bad.test",
                pitwall_core::domain::PlatformRole::Support,
            )
            .await;
        let admin = t
            .platform(
                "admin@bill-bad.test",
                pitwall_core::domain::PlatformRole::PlatformAdmin,
            )
            .await;
        let (s, b) = t
            .post(
                &format!("/api/admin/v1/shops/{shop}/billing/comp"),
                &support,
                json!({"plan": "gold", "reason": "x"}),
            )
            .await;
        assert_eq!(
            (s.is_client_error(), b["field"].as_str()),
            (true, Some("plan")),
            "{b}"
        );
        let (s, _) = t
            .post(
                &format!("/api/admin/v1/shops/{shop}/billing/comp"),
                &support,
                json!({"plan": "premium", "reason": "partner"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(
            (
                me["billing"]["plan"].as_str(),
                me["billing"]["comp"].as_bool()
            ),
            (Some("premium"), Some(true)),
            "{me}"
        );
        let (s, b) = t
            .post(
                &format!("/api/admin/v1/shops/{shop}/billing/trial"),
                &support,
                json!({"days": 0, "reason": "x"}),
            )
            .await;
        assert_eq!(b["field"], "days", "{s} {b}");
        let (s, b) = t
            .post(
                &format!("/api/admin/v1/shops/{shop}/billing/trial"),
                &support,
                json!({"days": 30, "reason": "more time"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, _) = t
            .call(
                "PUT",
                "/api/admin/v1/plans/pro/stripe-price",
                Some(&support),
                Some(json!({"interval": "monthly", "price_id": "price_new"})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "support may not edit prices");
        let (s, b) = t
            .call(
                "PUT",
                "/api/admin/v1/plans/pro/stripe-price",
                Some(&admin),
                Some(json!({"interval": "monthly", "price_id": "nope"})),
            )
            .await;
        assert_eq!(b["field"], "price_id", "{s} {b}");
        let (s, b) = t
            .call(
                "PUT",
                "/api/admin/v1/plans/pro/stripe-price",
                Some(&admin),
                Some(json!({"interval": "monthly", "price_id": "price_premium"})),
            )
            .await;
        assert_eq!(b["field"], "price_id", "a price of another plan: {s} {b}");
        let (s, _) = t.call("PUT", "/api/admin/v1/plans/pro/stripe-price", Some(&admin), Some(json!({"interval": "monthly", "price_id": "price_pro_v2", "sms_overage": "report"}))).await;
        assert_eq!(s, StatusCode::OK);
        let (_, list) = t.get("/api/admin/v1/stripe-prices", &admin).await;
        let pro = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["plan"] == "pro" && p["interval"] == "monthly")
            .unwrap()
            .clone();
        assert_eq!(
            (pro["price_id"].as_str(), pro["sms_overage"].as_str()),
            (Some("price_pro_v2"), Some("report"))
        );
        // Another shop's owner cannot see or touch this shop's billing.
        let (_, other) = t.shop("bill-other", "starter").await;
        let (s, _) = t
            .call_with(
                "GET",
                "/api/v1/billing",
                Some(&other),
                None,
                &[("X-Pitwall-Shop", &shop.to_string())],
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = t
            .get(&format!("/api/admin/v1/shops/{shop}/billing"), &other)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
);

mod without_stripe_billing_says_so_and_everything_else_works {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        without_stripe(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        without_stripe(Backend::Postgres).await;
    }
}

async fn without_stripe(backend: Backend) {
    let opts = Options {
        workers: true,
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, opts).await else {
        return;
    };
    let (shop, token) = t.shop("nostripe", "starter").await;
    let (s, b) = t.get("/api/v1/billing", &token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["configured"], false);
    let (s, b) = t
        .post(
            "/api/v1/billing/checkout-sessions",
            &token,
            json!({"plan": "pro"}),
        )
        .await;
    assert!(s.is_client_error());
    assert_eq!(b["field"], "billing");
    let r = t
        .client
        .post(t.url("/webhooks/stripe"))
        .header("Stripe-Signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = t.client.get(t.url("/app/billing")).send().await.unwrap();
    assert!(r.status().is_redirection() || r.status().is_success());

    // Everything else works. The POS pushes a ticket; a status that tells
    // the customer is set, and the workers text them.
    let (_, key) = t
        .post("/api/v1/api-keys", &token, json!({"name": "POS"}))
        .await;
    let key = key["secret"].as_str().expect("an API key").to_owned();
    let (s, pushed) = t
        .call(
            "PUT",
            "/api/pos/v1/tickets/NS-1",
            Some(&key),
            Some(json!({
                "kind": "workorder", "number": "3001", "pos_updated_at": "2026-11-23T10:00:00Z",
                "customer": {"external_id": "C-NS", "first_name": "Nora", "phone": "(512) 555-0161"},
                "services": [],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let ticket = pushed["ticket"]["id"].as_str().unwrap().to_owned();
    let customer = pushed["ticket"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, statuses) = t.get("/api/v1/vehicle-statuses", &token).await;
    let notify = statuses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["notify_customer"] == true)
        .expect("a status that tells the customer")["id"]
        .clone();
    let (s, set) = t
        .call(
            "PUT",
            &format!("/api/v1/tickets/{ticket}/status"),
            Some(&token),
            Some(json!({"status_id": notify})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    let message = set["messages"][0]["id"]
        .as_str()
        .expect("a text")
        .to_owned();
    let mut last = Value::Null;
    for _ in 0..300 {
        let (_, th) = t.get(&format!("/api/v1/threads/{customer}"), &token).await;
        last = th["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["id"] == message.as_str()).cloned())
            .unwrap_or_default();
        if last["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last["status"], "sent", "{last}");
    // Invitations go out by e-mail.
    let (s, b) = t
        .post(
            "/api/v1/invitations",
            &token,
            json!({"email": "advisor@nostripe.test", "role": "advisor"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    t.wait_for_mail("advisor@nostripe.test").await;
    // Support moves the shop to another plan, and its features follow.
    let (s, b) = brand(&t, &token, "#123456").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "Starter has no branding: {b}");
    let support = t
        .platform(
            "support@nostripe.test",
            pitwall_core::domain::PlatformRole::Support,
        )
        .await;
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/shops/{shop}/plan"),
            Some(&support),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    wait_me(&t, &token, |me| me["billing"]["plan"] == "pro").await;
    let (s, b) = brand(&t, &token, "#123456").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The pages: the dashboard, and billing saying who sets plans.
    let c = browser();
    sign_in(&t, &c, "owner@nostripe.test").await;
    let (s, html) = page(&t, &c, "/app").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let (s, html) = page(&t, &c, "/app/billing").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(
        html.contains("data-testid=\"billing-not-configured\""),
        "{html}"
    );
    t.finish().await;
}

// ------------------------------------------------------------ pages

async fn form(
    t: &TestApp,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let r = c.post(t.url(path)).form(fields).send().await.unwrap();
    let status = r.status();
    let to = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to, r.text().await.unwrap())
}

/// The text of the element marked `data-testid="{id}"` (up to its first tag).
fn testid<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("data-testid=\"{id}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    html[at + marker.len()..].split("</").next().unwrap()
}

async fn shop_trial_end(t: &TestApp, shop: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    pitwall_store::shops::get(&t.db, shop.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .trial_ends_at
}

with_stripe!(
    admin_console_shows_billing_and_its_forms_use_the_support_tools,
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token, customer) = shop_with_customer(t, fake, "console-bill").await;
        let sub = fake.add_subscription(&customer, "price_pro", "active", Some(&shop));
        deliver(t, fake, &fake.subscription_event("created", &sub)).await;
        wait_me(t, &token, |m| m["billing"]["plan"] == "pro").await;
        t.platform(
            "support@console-bill.test",
            pitwall_core::domain::PlatformRole::Support,
        )
        .await;
        let c = browser();
        sign_in(t, &c, "support@console-bill.test").await;
        let shop_page = format!("/admin/shops/{shop}");
        // The event's result is written by the job; wait for it.
        let mut html = String::new();
        for _ in 0..100 {
            let (s, h) = page(t, &c, &shop_page).await;
            assert_eq!(s, StatusCode::OK);
            html = h;
            if html.contains("applied") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            testid(&html, "admin-billing-customer").contains(&customer),
            "{html}"
        );
        assert!(testid(&html, "admin-billing-subscription").contains(&sub));
        assert_eq!(testid(&html, "admin-billing-status"), "active");
        assert!(testid(&html, "admin-billing-plan").starts_with("pro"));
        assert_eq!(testid(&html, "admin-billing-comp"), "no");
        assert_eq!(testid(&html, "admin-billing-past-due"), "not past due");
        assert!(html.contains("data-testid=\"admin-billing-events\""));
        assert!(html.contains("customer.subscription.created") && html.contains("applied"));
        let csrf = csrf_of(&html);

        // A comp plan through the form: the shop's features follow at once.
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert!(!me["shop"]["features"].to_string().contains("webhooks"));
        let (s, to, _) = form(
            t,
            &c,
            &format!("{shop_page}/billing/comp"),
            &[
                ("plan", "premium"),
                ("reason", "partner garage"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(to, format!("{shop_page}?ok=saved"));
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["plan"], "premium", "{me}");
        assert_eq!(me["billing"]["comp"], true);
        assert!(
            me["shop"]["features"].to_string().contains("webhooks"),
            "{me}"
        );
        let (_, html) = page(t, &c, &to).await;
        assert!(html.contains("Saved."));
        assert_eq!(testid(&html, "admin-billing-comp"), "yes: partner garage");

        // Bad input names the field and changes nothing.
        let before = shop_trial_end(t, &shop).await;
        for (days, says) in [
            ("0", "days: must be between 1 and 365"),
            ("10000", "days: must be between 1 and 365"),
            ("soon", "days: must be a whole number of days"),
        ] {
            let (s, _, body) = form(
                t,
                &c,
                &format!("{shop_page}/billing/trial"),
                &[("days", days), ("reason", "asked"), ("csrf", &csrf)],
            )
            .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{days}");
            assert!(body.contains(says), "{days}: {body}");
            // The shop's page again, with its billing section.
            assert!(body.contains("admin-billing-customer"));
        }
        let (s, _, body) = form(
            t,
            &c,
            &format!("{shop_page}/billing/trial"),
            &[("days", "30"), ("reason", " "), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("reason:"), "{body}");
        let (s, _, body) = form(
            t,
            &c,
            &format!("{shop_page}/billing/comp"),
            &[("plan", "gold"), ("reason", "x"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("plan: is not a plan"), "{body}");
        assert_eq!(shop_trial_end(t, &shop).await, before, "nothing changed");
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["plan"], "premium");

        // Extending the trial by 30 days.
        let (s, _, _) = form(
            t,
            &c,
            &format!("{shop_page}/billing/trial"),
            &[("days", "30"), ("reason", "slow start"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let after = shop_trial_end(t, &shop).await.unwrap();
        assert_eq!(after, before.unwrap() + chrono::Duration::days(30));
        let (_, html) = page(t, &c, &shop_page).await;
        assert_eq!(
            testid(&html, "admin-billing-trial"),
            after.format("%Y-%m-%d %H:%M UTC").to_string()
        );

        // Ending the comp plan.
        let (s, _, _) = form(
            t,
            &c,
            &format!("{shop_page}/billing/comp/end"),
            &[("reason", "partnership over"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(t, &c, &shop_page).await;
        assert_eq!(testid(&html, "admin-billing-comp"), "no");
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["comp"], false);
        let (_, audit) = page(t, &c, &format!("/admin/audit?shop={shop}")).await;
        for action in ["billing.comp", "billing.comp_end", "billing.extend_trial"] {
            assert!(audit.contains(action), "{action} audited");
        }

        // Prices: support may look, not change.
        let (s, html) = page(t, &c, "/admin/billing/prices").await;
        assert_eq!(s, StatusCode::OK);
        assert!(testid(&html, "price-pro-monthly").contains("price_pro"));
        assert!(!html.contains("name=\"price_id\""));
        let (s, _, _) = form(
            t,
            &c,
            "/admin/billing/prices/pro",
            &[
                ("interval", "monthly"),
                ("price_id", "price_x"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
);

with_stripe!(
    admin_console_prices_page_edits_prices_and_overage,
    async |t: &TestApp, _fake: &FakeStripe| {
        t.platform(
            "admin@prices.test",
            pitwall_core::domain::PlatformRole::PlatformAdmin,
        )
        .await;
        let c = browser();
        sign_in(t, &c, "admin@prices.test").await;
        let (s, html) = page(t, &c, "/admin/billing/prices").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("data-testid=\"admin-prices\""),
            "linked from the nav"
        );
        assert_eq!(testid(&html, "overage-pro"), "stop");
        let csrf = csrf_of(&html);
        for (price, says) in [
            ("nope", "price id: must be a Stripe Price id"),
            ("price_premium", "price id: is already the price of premium"),
        ] {
            let (s, _, body) = form(
                t,
                &c,
                "/admin/billing/prices/pro",
                &[
                    ("interval", "monthly"),
                    ("price_id", price),
                    ("sms_overage", "report"),
                    ("csrf", &csrf),
                ],
            )
            .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{price}");
            assert!(body.contains(says), "{price}: {body}");
        }
        let (s, _, body) = form(
            t,
            &c,
            "/admin/billing/prices/pro",
            &[
                ("interval", "monthly"),
                ("price_id", "price_pro_v2"),
                ("sms_overage", "sometimes"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body.contains("sms overage: must be stop or report"),
            "{body}"
        );
        // Nothing changed.
        let (_, html) = page(t, &c, "/admin/billing/prices").await;
        assert!(testid(&html, "price-pro-monthly").contains("<code>price_pro"));
        assert!(!html.contains("price_pro_v2"));
        assert_eq!(testid(&html, "overage-pro"), "stop");
        // A good one.
        let (s, to, _) = form(
            t,
            &c,
            "/admin/billing/prices/pro",
            &[
                ("interval", "yearly"),
                ("price_id", "price_pro_y2"),
                ("sms_overage", "report"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(t, &c, &to).await;
        assert!(html.contains("Saved."));
        assert!(testid(&html, "price-pro-yearly").contains("price_pro_y2"));
        assert_eq!(testid(&html, "overage-pro"), "report");
        // The same use case as the API: the API lists the change.
        let admin = t
            .login("admin@prices.test", pitwall_testkit::PASSWORD)
            .await;
        let (_, list) = t.get("/api/admin/v1/stripe-prices", &admin).await;
        assert!(list.to_string().contains("price_pro_y2"), "{list}");
    }
);

with_stripe!(
    shop_staff_cannot_use_the_billing_console,
    async |t: &TestApp, _fake: &FakeStripe| {
        let (shop, token) = t.shop("staff-bill", "starter").await;
        t.member(
            shop,
            "adv@staff-bill.test",
            pitwall_core::domain::Role::Advisor,
        )
        .await;
        for who in ["owner@staff-bill.test", "adv@staff-bill.test"] {
            let c = browser();
            sign_in(t, &c, who).await;
            let (_, home) = page(t, &c, "/app").await;
            let csrf = csrf_of(&home);
            for path in [
                format!("/admin/shops/{shop}"),
                "/admin/billing/prices".into(),
            ] {
                let (s, _) = page(t, &c, &path).await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{who} {path}");
            }
            for (path, fields) in [
                (
                    format!("/admin/shops/{shop}/billing/comp"),
                    vec![("plan", "premium"), ("reason", "me")],
                ),
                (
                    format!("/admin/shops/{shop}/billing/trial"),
                    vec![("days", "300"), ("reason", "me")],
                ),
                (
                    "/admin/billing/prices/starter".into(),
                    vec![("interval", "monthly"), ("price_id", "price_mine")],
                ),
            ] {
                let mut fields = fields.clone();
                fields.push(("csrf", &csrf));
                let (s, _, _) = form(t, &c, &path, &fields).await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{who} {path}");
            }
        }
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["plan"], "starter");
        assert_eq!(me["billing"]["comp"], false);
    }
);

// ------------------------------------------------------------ trial end

with_stripe!(
    a_trial_that_ends_without_a_subscription_makes_the_shop_read_only_until_it_subscribes,
    env = &[("PITWALL_TRIAL_DAYS", "14")],
    async |t: &TestApp, fake: &FakeStripe| {
        let (shop, token) = t.shop("trial-end", "pro").await;
        t.member(
            shop,
            "adv@trial-end.test",
            pitwall_core::domain::Role::Advisor,
        )
        .await;
        let (extended, ext_token) = t.shop("trial-ext", "pro").await;
        let (s, _) = brand(t, &token, "#111111").await;
        assert_eq!(s, StatusCode::OK);
        let (s, key) = t
            .post("/api/v1/api-keys", &token, json!({"name": "POS"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{key}");
        let key = key["secret"].as_str().unwrap().to_owned();

        // The day before the end: still on trial.
        t.app.config().clock.advance(chrono::Duration::days(13));
        tokio::time::sleep(pitwall_core::cache::TTL).await;
        let (s, _) = brand(t, &token, "#222222").await;
        assert_eq!(s, StatusCode::OK);
        // Past the end, with no subscription: read-only on the next request.
        t.app
            .config()
            .clock
            .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
        tokio::time::sleep(pitwall_core::cache::TTL).await;
        let (s, b) = brand(t, &token, "#333333").await;
        assert_eq!(b["code"], "shop_restricted", "{s} {b}");
        let (_, me) = t.get("/api/v1/me", &token).await;
        assert_eq!(me["billing"]["lifecycle"], "suspended", "{me}");
        assert_eq!(me["billing"]["trial_ended"], true);
        // Staff can still read.
        let (s, _) = t.get("/api/v1/shop", &token).await;
        assert_eq!(s, StatusCode::OK);
        // The POS sees the same rule.
        let (s, b) = pos_push(t, &key, "RO-TRIAL").await;
        assert_eq!(b["code"], "shop_restricted", "{s} {b}");

        // The banner: the owner is asked to subscribe, the others told why.
        let owner = browser();
        sign_in(t, &owner, "owner@trial-end.test").await;
        let (_, home) = page(t, &owner, "/app").await;
        assert!(
            testid(&home, "trial-ended-banner").contains("Your free trial has ended"),
            "{home}"
        );
        assert!(home.contains("Subscribe on the billing page"));
        let (_, billing_page) = page(t, &owner, "/app/billing").await;
        assert!(billing_page.contains("data-testid=\"trial-ended\""));
        let adv = browser();
        sign_in(t, &adv, "adv@trial-end.test").await;
        let (_, home) = page(t, &adv, "/app").await;
        assert!(testid(&home, "trial-ended-banner").contains("until the owner subscribes"));

        // Subscribing restores it (no trial is carried into Stripe: it ended).
        let (s, b) = t
            .post(
                "/api/v1/billing/checkout-sessions",
                &token,
                json!({"plan": "pro"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "a restricted shop can subscribe: {b}");
        let session = fake.sessions().last().unwrap().clone();
        assert_eq!(session.trial_end, None);
        fake.complete_checkout(&session.id).await.unwrap();
        let me = wait_me(t, &token, |m| m["billing"]["lifecycle"] == "active").await;
        assert_eq!(me["billing"]["trial_ended"], false, "{me}");
        let (s, b) = brand(t, &token, "#444444").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b) = pos_push(t, &key, "RO-TRIAL").await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (_, home) = page(t, &owner, "/app").await;
        assert!(!home.contains("trial-ended-banner"));

        // Support extending the trial also opens a shop whose trial ended.
        let (s, b) = brand(t, &ext_token, "#555555").await;
        assert_eq!(b["code"], "shop_restricted", "{s} {b}");
        let support = t
            .platform(
                "support@trial-end.test",
                pitwall_core::domain::PlatformRole::Support,
            )
            .await;
        let (s, b) = t
            .post(
                &format!("/api/admin/v1/shops/{extended}/billing/trial"),
                &support,
                json!({"days": 7, "reason": "needs another week"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, me) = t.get("/api/v1/me", &ext_token).await;
        assert_eq!(me["billing"]["lifecycle"], "trial", "{me}");
        assert_eq!(me["billing"]["trial_days_left"], 6, "{me}");
        let (s, _) = brand(t, &ext_token, "#666666").await;
        assert_eq!(s, StatusCode::OK);
        // And past that extension, restricted again without any write.
        t.app.config().clock.advance(chrono::Duration::days(8));
        tokio::time::sleep(pitwall_core::cache::TTL).await;
        let (_, me) = t.get("/api/v1/me", &ext_token).await;
        assert_eq!(me["billing"]["lifecycle"], "suspended", "{me}");
        // A comp plan carries a shop whose trial ended.
        let (s, _) = t
            .post(
                &format!("/api/admin/v1/shops/{extended}/billing/comp"),
                &support,
                json!({"plan": "pro", "reason": "partner"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = brand(t, &ext_token, "#777777").await;
        assert_eq!(s, StatusCode::OK);
    }
);

/// A POS pushes a ticket whose customer has `phone`; answers the response.
async fn pos_ticket(t: &TestApp, key: &str, ext: &str, phone: &str) -> (StatusCode, Value) {
    t.call(
        "PUT",
        &format!("/api/pos/v1/tickets/{ext}"),
        Some(key),
        Some(json!({
            "kind": "workorder", "number": "2001", "pos_updated_at": "2026-11-23T10:00:00Z",
            "customer": {"external_id": format!("C-{ext}"), "first_name": "Dana", "last_name": "Reyes", "phone": phone},
            "vehicle": {"external_id": format!("V-{ext}"), "year": 2019, "make": "Honda", "model": "Civic"},
            "services": [],
        })),
    )
    .await
}

async fn pos_push(t: &TestApp, key: &str, ext: &str) -> (StatusCode, Value) {
    pos_ticket(t, key, ext, "(512) 555-0123").await
}

// ------------------------------------------------------------ SMS overage

/// Like `with_stripe!`, with the local SMS provider too.
macro_rules! with_stripe_and_sms {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run_with_sms(Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run_with_sms(Backend::Postgres, $body).await;
            }
        }
    };
}

async fn run_with_sms<F>(backend: Backend, body: F)
where
    F: AsyncFnOnce(&TestApp, &FakeStripe, &FakeSms),
{
    let fake = FakeStripe::start().await.expect("fake Stripe");
    let sms = FakeSms::start().await.expect("fake SMS provider");
    let mut env = fake.env(PRICES);
    env.extend(sms.env("+15125550100"));
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
    fake.set_webhook(&t.url("/webhooks/stripe"), WEBHOOK_SECRET);
    body(&t, &fake, &sms).await;
    t.finish().await;
}

/// Lowers a plan's included texts to `n` through the admin API.
async fn include_texts(t: &TestApp, admin: &str, plan: &str, n: i64) {
    let (_, plans) = t.get("/api/admin/v1/plans", admin).await;
    let p = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == plan)
        .unwrap()
        .clone();
    let body = json!({
        "name": p["name"], "monthly_price_cents": p["monthly_price_cents"],
        "features": p["features"], "max_users": p["max_users"],
        "sms_per_month": n, "max_locations": p["max_locations"],
    });
    let (s, b) = t
        .call(
            "PUT",
            &format!("/api/admin/v1/plans/{plan}"),
            Some(admin),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// A shop on `plan` with a Stripe customer (made by a Checkout it never
/// completed) and a POS key; answers shop id, owner token, customer id and
/// the id of a customer with a phone.
async fn texting_shop(
    t: &TestApp,
    fake: &FakeStripe,
    slug: &str,
    plan: &str,
    other_plan: &str,
) -> (String, String, String, String) {
    let (shop, token) = t.shop(slug, plan).await;
    let (s, b) = t
        .post(
            "/api/v1/billing/checkout-sessions",
            &token,
            json!({"plan": other_plan}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let customer = fake
        .sessions()
        .iter()
        .rev()
        .find(|x| x.client_reference_id.as_deref() == Some(&shop.to_string()))
        .map(|x| x.customer.clone())
        .expect("session");
    let (s, key) = t
        .post("/api/v1/api-keys", &token, json!({"name": "POS"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    let (s, b) = pos_ticket(
        t,
        key["secret"].as_str().unwrap(),
        &format!("RO-{slug}"),
        "(512) 555-0123",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let person = b["ticket"]["customer"]["id"].as_str().unwrap().to_owned();
    (shop.to_string(), token, customer, person)
}

async fn text(t: &TestApp, token: &str, person: &str, body: &str) -> (StatusCode, Value) {
    t.post(
        &format!("/api/v1/threads/{person}/messages"),
        token,
        json!({"channel": "sms", "body": body}),
    )
    .await
}

with_stripe_and_sms!(
    sms_overage_is_reported_once_per_message_or_stops_per_plan,
    async |t: &TestApp, fake: &FakeStripe, sms: &FakeSms| {
        let admin = t
            .platform(
                "admin@overage.test",
                pitwall_core::domain::PlatformRole::PlatformAdmin,
            )
            .await;
        // Pro bills texts past one a month; Premium stops at one.
        include_texts(t, &admin, "pro", 1).await;
        include_texts(t, &admin, "premium", 1).await;
        let (s, b) = t
            .call(
                "PUT",
                "/api/admin/v1/plans/pro/stripe-price",
                Some(&admin),
                Some(json!({"interval": "monthly", "price_id": "price_pro", "sms_overage": "report"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // Report: sending does not stop; each text past the allowance is
        // one meter event, its identifier the message id.
        let (_, token, customer, person) =
            texting_shop(t, fake, "overage-report", "pro", "premium").await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let (s, b) = text(t, &token, &person, &format!("Your car is ready ({i})")).await;
            assert_eq!(s, StatusCode::CREATED, "text {i} is not refused: {b}");
            ids.push(b["id"].as_str().unwrap().to_owned());
            // One at a time, so which texts are past the allowance is known.
            sms.wait_for(i + 1, 15).await;
        }
        assert_eq!(sms.messages().len(), 4, "every text reached the provider");
        let mut events = Vec::new();
        for _ in 0..200 {
            events = fake.meter_events();
            if events.len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Let any retry or duplicate arrive before counting.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            fake.meter_event_requests(),
            3,
            "once per message: {events:?}"
        );
        let events = fake.meter_events();
        assert_eq!(events.len(), 3, "{events:?}");
        let mut reported: Vec<String> = events
            .iter()
            .map(|(name, p)| {
                assert_eq!(name, pitwall_core::billing::SMS_METER_EVENT);
                assert_eq!(p.get("stripe_customer_id"), Some(&customer));
                assert_eq!(p.get("value").map(String::as_str), Some("1"));
                p["identifier"].clone()
            })
            .collect();
        reported.sort();
        let mut over = ids[1..].to_vec();
        over.sort();
        assert_eq!(reported, over, "the texts past the first, by message id");
        let (_, b) = t.get("/api/v1/billing", &token).await;
        assert_eq!(b["sms_overage"], "report", "{b}");
        assert_eq!(b["sms_used"], 4, "{b}");
        assert_eq!(b["sms_overage_reported"], 3, "{b}");

        // Stop: the second text is refused with quota_exceeded, nothing is
        // reported.
        let (_, token, _, person) = texting_shop(t, fake, "overage-stop", "premium", "pro").await;
        let (s, b) = text(t, &token, &person, "first").await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        sms.wait_for(5, 15).await;
        // The first text counts once it is sent.
        for _ in 0..100 {
            let (_, u) = t.get("/api/v1/billing", &token).await;
            if u["sms_used"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (s, b) = text(t, &token, &person, "second").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "quota_exceeded");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sms.messages().len(), 5);
        assert_eq!(
            fake.meter_event_requests(),
            3,
            "nothing reported for a stop plan"
        );
    }
);
