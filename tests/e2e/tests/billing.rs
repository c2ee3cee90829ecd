//! Billing end to end on both databases, with a local Stripe that speaks
//! Stripe's wire format (Pitwall's real async-stripe client talks to it)
//! and the app's real workers: Checkout, webhooks in every order and with
//! duplicates, forged/stale/rotated signatures, downgrades that take effect
//! on the next request, past-due grace with a controlled clock, bad input
//! and support's tools.

use std::time::Duration;

use pitwall_testkit::fake_stripe::{FakeStripe, WEBHOOK_SECRET};
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
        t.app.config.clock.advance(chrono::Duration::days(2));
        let (s, _) = brand(t, &token, "#202020").await;
        assert_eq!(s, StatusCode::OK);
        // Past the grace: read-only on the next request, no event needed.
        t.app
            .config
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stripe_billing_says_so_and_everything_else_works() {
    let t = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (_, token) = t.shop("nostripe", "starter").await;
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
    t.finish().await;
}
