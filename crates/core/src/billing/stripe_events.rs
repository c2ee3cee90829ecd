use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pitwall_domain::billing::{
    self as rules, BillingInterval, PriceMap, SignatureError, SubscriptionStatus,
};
use pitwall_domain::{Role, ShopId};
use pitwall_jobs::billing::{BillingFailure, BillingJob};
use pitwall_store::{PageRequest, audit, billing, members, plans, shops};
use serde_json::json;

use super::{StripeSettings, price_map};
use crate::mail::{LinkMail, queue_link_mail};
use crate::{App, Error, Result};

/// Checks a delivery's `Stripe-Signature` against every configured secret,
/// before anything of the body is read. Without Stripe every delivery is
/// refused.
pub fn verify_webhook(
    app: &App,
    payload: &[u8],
    header: Option<&str>,
) -> std::result::Result<(), SignatureError> {
    let secrets: Vec<String> = app
        .config
        .stripe
        .as_ref()
        .map(|s| {
            s.webhook_secrets
                .iter()
                .map(|x| x.expose().to_owned())
                .collect()
        })
        .unwrap_or_default();
    if secrets.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    // Real time, not the billing clock: the tolerance is about the delivery.
    rules::verify_signature(payload, header, &secrets, Utc::now())
}

/// The event types Pitwall acts on; others are acknowledged and ignored.
pub const HANDLED_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored; a job applies it.
    Queued,
    /// Stored and acknowledged; Pitwall does not act on this type.
    Ignored,
    /// Seen before (Stripe retries and duplicates): nothing done.
    Duplicate,
}

/// The subscription an event is about: the object itself for
/// `customer.subscription.*`, the one it names for a checkout session or an
/// invoice (in the API versions before and after Stripe moved it under
/// `parent`).
pub(super) fn subscription_named(event_type: &str, object: &serde_json::Value) -> Option<String> {
    let s = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v["id"].as_str().map(str::to_owned))
    };
    if event_type.starts_with("customer.subscription.") {
        return object["id"].as_str().map(str::to_owned);
    }
    s(&object["subscription"])
        .or_else(|| s(&object["parent"]["subscription_details"]["subscription"]))
        .filter(|id| id.starts_with("sub_"))
}

/// Stores a verified event once by id and queues its processing in the
/// same transaction; answers at once (Stripe retries slow endpoints).
pub async fn receive_event(app: &App, payload: &[u8]) -> Result<Received> {
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| Error::invalid("body", format!("is not JSON: {e}")))?;
    let id = v["id"]
        .as_str()
        .filter(|id| id.starts_with("evt_") && id.len() <= 255)
        .ok_or_else(|| Error::invalid("id", "must be a Stripe event id (evt_...)"))?;
    let event_type = v["type"]
        .as_str()
        .filter(|t| !t.is_empty() && t.len() <= 100)
        .ok_or_else(|| Error::invalid("type", "is missing"))?;
    let handled = HANDLED_EVENTS.contains(&event_type);
    let subscription = subscription_named(event_type, &v["data"]["object"]);
    let txn = pitwall_store::begin_write(&app.db).await?;
    if !billing::insert_event(&txn, id, event_type, subscription.as_deref()).await? {
        return Ok(Received::Duplicate);
    }
    let outcome = if handled && subscription.is_some() {
        pitwall_jobs::billing::enqueue(
            &txn,
            None,
            &BillingJob::StripeEvent {
                event_id: id.to_owned(),
            },
        )
        .await?;
        Received::Queued
    } else {
        let why = if handled {
            "names no subscription"
        } else {
            "not an event Pitwall acts on"
        };
        billing::finish_event(&txn, id, None, "ignored", Some(why)).await?;
        Received::Ignored
    };
    txn.commit().await?;
    tracing::info!(stripe.event_id = %id, stripe.event_type = %event_type, outcome = ?outcome, "Stripe event received");
    app.jobs.nudge();
    Ok(outcome)
}

/// The subscription's current state, read from Stripe.
pub(super) async fn read_subscription(
    s: &StripeSettings,
    id: &str,
) -> std::result::Result<(billing::SubscriptionState, HashMap<String, String>), BillingFailure> {
    // Real time, not the billing clock: it orders reads made by any worker.
    let read_started_at = Utc::now();
    let sub = stripe_billing::subscription::RetrieveSubscription::new(id)
        .send(&s.client)
        .await
        .map_err(|e| match e {
            stripe::StripeError::Stripe(_, status)
                if (400..500).contains(&status) && status != 429 =>
            {
                BillingFailure::Permanent(format!("Stripe answered {status} for the subscription"))
            }
            other => BillingFailure::Retry(format!("reading the subscription: {other}")),
        })?;
    let status = SubscriptionStatus::parse(sub.status.as_str()).ok_or_else(|| {
        BillingFailure::Permanent(format!(
            "unknown subscription status {:?}",
            sub.status.as_str()
        ))
    })?;
    let item = sub.items.data.first();
    let interval = item
        .and_then(|i| i.price.recurring.as_ref())
        .map(|r| r.interval.as_str())
        .and_then(|i| match i {
            "month" => Some(BillingInterval::Monthly),
            "year" => Some(BillingInterval::Yearly),
            _ => None,
        });
    let state = billing::SubscriptionState {
        customer_id: sub.customer.id().as_str().to_owned(),
        subscription_id: sub.id.as_str().to_owned(),
        status,
        price_id: item.map(|i| i.price.id.as_str().to_owned()),
        interval,
        current_period_end: item.and_then(|i| DateTime::from_timestamp(i.current_period_end, 0)),
        cancel_at_period_end: sub.cancel_at_period_end,
        trial_end: sub.trial_end.and_then(|t| DateTime::from_timestamp(t, 0)),
        read_started_at,
    };
    Ok((state, sub.metadata))
}

pub(super) fn retry(e: impl std::fmt::Display) -> BillingFailure {
    BillingFailure::Retry(e.to_string())
}

/// Applies one stored event: re-reads its subscription from Stripe, finds
/// the shop (by the subscription's `metadata.shop_id` or the customer), and
/// writes plan, lifecycle and subscription state with an audit entry per
/// change, in one transaction. Running it twice changes nothing the second
/// time.
pub async fn process_event(app: &App, event_id: &str) -> std::result::Result<(), BillingFailure> {
    let Some(event) = billing::event(&app.db, event_id).await.map_err(retry)? else {
        return Err(BillingFailure::Permanent(format!(
            "event {event_id} is not stored"
        )));
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let s = app
        .config
        .stripe
        .as_ref()
        .ok_or_else(|| BillingFailure::Retry("Stripe is not configured".into()))?;
    billing::count_event_attempt(&app.db, event_id)
        .await
        .map_err(retry)?;
    let Some(sub_id) = event.object_id.clone() else {
        billing::finish_event(
            &app.db,
            event_id,
            None,
            "ignored",
            Some("names no subscription"),
        )
        .await
        .map_err(retry)?;
        return Ok(());
    };
    let (state, metadata) = match read_subscription(s, &sub_id).await {
        Ok(x) => x,
        Err(e) => {
            let (BillingFailure::Retry(m) | BillingFailure::Permanent(m)) = &e;
            let _ = billing::finish_event(&app.db, event_id, None, "failed", Some(m)).await;
            return Err(e);
        }
    };
    // The shop: the metadata we put on the subscription, else the customer.
    let by_customer = billing::shop_by_customer(&app.db, &state.customer_id)
        .await
        .map_err(retry)?;
    let by_metadata = metadata
        .get("shop_id")
        .and_then(|v| v.parse::<ShopId>().ok());
    let shop = match (by_metadata, by_customer) {
        (Some(m), Some(c)) if m != c => {
            billing::finish_event(
                &app.db,
                event_id,
                None,
                "no_shop",
                Some("the subscription's shop_id and its customer's shop differ"),
            )
            .await
            .map_err(retry)?;
            return Ok(());
        }
        (Some(m), _) => m,
        (None, Some(c)) => c,
        (None, None) => {
            billing::finish_event(
                &app.db,
                event_id,
                None,
                "no_shop",
                Some("no shop has this customer"),
            )
            .await
            .map_err(retry)?;
            return Ok(());
        }
    };
    let Some(shop_row) = shops::get(&app.db, shop).await.map_err(retry)? else {
        billing::finish_event(
            &app.db,
            event_id,
            None,
            "no_shop",
            Some("the shop does not exist"),
        )
        .await
        .map_err(retry)?;
        return Ok(());
    };
    let prices = price_map(app).await.map_err(|e| retry(e.to_string()))?;
    let outcome = apply_state(app, &shop_row, &state, &prices, event_id)
        .await
        .map_err(|e| retry(e.to_string()))?;
    billing::finish_event(
        &app.db,
        event_id,
        Some(shop),
        outcome.0,
        outcome.1.as_deref(),
    )
    .await
    .map_err(retry)?;
    app.cache.clear();
    app.jobs.nudge();
    Ok(())
}

/// Writes the subscription's state to the shop. Answers the result and a
/// note for the admin console.
pub(super) async fn apply_state(
    app: &App,
    shop_row: &shops::Shop,
    state: &billing::SubscriptionState,
    prices: &PriceMap,
    event_id: &str,
) -> Result<(&'static str, Option<String>)> {
    let shop = ShopId::from_uuid(shop_row.id);
    let now = app.config.clock.now();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let before = billing::lock(&txn, shop).await?;
    // Re-read under the lock: another event of this shop may have just
    // changed plan or lifecycle (each change is audited once).
    let shop_row = &shops::get(&txn, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    // Two events of one shop can be processed at once, each re-reading the
    // subscription. A read of the same subscription begun after ours saw
    // at least what we saw, so ours must not overwrite it (the change it
    // missed has its own event). A later read of another subscription says
    // nothing about this one: an old subscription's end read last must not
    // hide the live one (the rule below decides between them).
    if let Some(newer) = before.state_read_at
        && newer > state.read_started_at
        && before.stripe_subscription_id.as_deref() == Some(state.subscription_id.as_str())
    {
        txn.commit().await?;
        return Ok((
            "ignored",
            Some(format!(
                "superseded: a later read of the subscription was applied ({})",
                before.last_event_id.as_deref().unwrap_or("support")
            )),
        ));
    }
    // An older subscription ending must not close a shop that has since
    // subscribed again (events of both arrive in any order).
    let live = rules::status_counts_as_subscribed(Some(state.status));
    if let Some(current) = &before.stripe_subscription_id
        && current != &state.subscription_id
        && !live
    {
        let current_live = rules::status_counts_as_subscribed(
            before.status.as_deref().and_then(SubscriptionStatus::parse),
        );
        if current_live {
            txn.commit().await?;
            return Ok((
                "ignored",
                Some(format!(
                    "{} is {}; the shop's subscription is {current}",
                    state.subscription_id, state.status
                )),
            ));
        }
    }
    let past_due_since =
        (state.status == SubscriptionStatus::PastDue).then(|| before.past_due_since.unwrap_or(now));
    let mut notified = past_due_since.and(before.past_due_notified_at);
    let tell_owner = past_due_since.is_some() && notified.is_none();
    if tell_owner {
        notified = Some(now);
    }
    billing::apply_subscription(&txn, shop, state, past_due_since, notified, event_id).await?;
    let mut notes = Vec::new();
    if before.comp {
        txn.commit().await?;
        return Ok((
            "applied",
            Some("comp plan: plan and lifecycle left as support set them".into()),
        ));
    }
    if before.status.as_deref() != Some(state.status.as_str()) {
        audit::record(
            &txn,
            audit::NewAudit {
                shop: Some(shop),
                actor: None,
                action: "billing.status",
                target: Some(state.status.as_str().to_owned()),
                details: json!({
                    "from": before.status, "to": state.status.as_str(),
                    "stripe_event_id": event_id, "subscription": state.subscription_id,
                }),
            },
        )
        .await?;
    }
    // The plan follows the price while the subscription is live; a
    // canceled shop keeps its last plan, read-only.
    if live && let Some(price) = &state.price_id {
        match prices.plan_of(price) {
            Some((plan, _)) if plan != shop_row.plan_code => {
                if plans::get(&txn, plan).await?.is_none() {
                    notes.push(format!("price {price} maps to unknown plan {plan}"));
                } else {
                    shops::set_plan(&txn, shop, plan).await?;
                    audit::record(
                        &txn,
                        audit::NewAudit {
                            shop: Some(shop),
                            actor: None,
                            action: "billing.plan",
                            target: Some(plan.to_owned()),
                            details: json!({
                                "from": shop_row.plan_code, "to": plan,
                                "stripe_event_id": event_id, "price": price,
                            }),
                        },
                    )
                    .await?;
                }
            }
            Some(_) => {}
            None => notes.push(format!("price {price} is not in the price map")),
        }
    }
    let lifecycle_now = shops::lifecycle_of(shop_row)?;
    if let Some(lifecycle) =
        rules::lifecycle_for(state.status, past_due_since, app.config.past_due_grace, now)
        && lifecycle != lifecycle_now
    {
        shops::set_lifecycle(&txn, shop, lifecycle).await?;
        audit::record(
            &txn,
            audit::NewAudit {
                shop: Some(shop),
                actor: None,
                action: "billing.lifecycle",
                target: Some(lifecycle.as_str().to_owned()),
                details: json!({
                    "from": lifecycle_now.as_str(), "to": lifecycle.as_str(),
                    "stripe_event_id": event_id, "status": state.status.as_str(),
                }),
            },
        )
        .await?;
    }
    if state.status == SubscriptionStatus::Trialing
        && let Some(end) = state.trial_end
    {
        billing::set_trial_end(&txn, shop, end).await?;
    }
    if tell_owner {
        let grace_end = now + app.config.past_due_grace;
        for owner in owners(&txn, shop).await? {
            queue_link_mail(
                &txn,
                LinkMail {
                    shop: Some(shop),
                    kind: "billing_past_due",
                    to: &owner,
                    subject: &format!("{}: your Pitwall payment did not go through", shop_row.name),
                    intro: &format!(
                        "The last payment for {} failed. Everything keeps working until {}; after that the shop becomes read-only and no messages are sent.",
                        shop_row.name,
                        grace_end.format("%Y-%m-%d")
                    ),
                    action: "Update your card",
                    link: &format!("{}/app/billing", app.config.base_url),
                    outro: "If you already fixed it, you can ignore this e-mail.",
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(("applied", (!notes.is_empty()).then(|| notes.join("; "))))
}

/// The owners' e-mail addresses.
pub(super) async fn owners(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
) -> Result<Vec<String>> {
    Ok(
        members::list_members(db, shop, PageRequest::first(PageRequest::MAX_LIMIT))
            .await?
            .items
            .into_iter()
            .filter(|m| Role::parse(&m.membership.role) == Some(Role::Owner))
            .map(|m| m.user.email)
            .collect(),
    )
}
