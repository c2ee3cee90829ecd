use chrono::{DateTime, Duration, Utc};
use pitwall_domain::billing::{self as rules, BillingInterval, SmsOverage};
use pitwall_domain::{ShopId, ShopLifecycle};
use pitwall_store::{audit, billing, plans, shops};
use serde_json::json;

use super::price_map;
use crate::{Actor, App, Error, Result};

/// What support sees of a shop's billing.
#[derive(Debug, Clone)]
pub struct AdminView {
    pub billing: Option<billing::ShopBilling>,
    pub events: Vec<billing::StripeEvent>,
    pub grace_ends_at: Option<DateTime<Utc>>,
}

pub async fn admin_view(app: &App, actor: &Actor, shop: ShopId) -> Result<AdminView> {
    actor.require_platform()?;
    shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let row = billing::get(&app.db, shop).await?;
    Ok(AdminView {
        grace_ends_at: row
            .as_ref()
            .and_then(|r| r.past_due_since)
            .map(|s| s + app.config.past_due_grace),
        billing: row,
        events: billing::events_of_shop(&app.db, shop, 20).await?,
    })
}

/// Support gives a shop a plan without Stripe (`plan` `None` ends the comp
/// and leaves the shop to its subscription's next event).
pub async fn set_comp(
    app: &App,
    actor: &Actor,
    shop: ShopId,
    plan: Option<&str>,
    reason: &str,
) -> Result<()> {
    actor.require_platform()?;
    let reason =
        pitwall_domain::values::required_text(reason, 500).map_err(Error::field("reason"))?;
    let before = shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    if let Some(p) = plan
        && plans::get(&app.db, p).await?.is_none()
    {
        return Err(Error::invalid("plan", format!("is not a plan: {p:?}")));
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    billing::set_comp(&txn, shop, plan.is_some(), plan.map(|_| reason.as_str())).await?;
    if let Some(p) = plan {
        shops::set_plan(&txn, shop, p).await?;
        shops::set_lifecycle(&txn, shop, ShopLifecycle::Active).await?;
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(actor.user_id),
            action: if plan.is_some() { "billing.comp" } else { "billing.comp_end" },
            target: plan.map(str::to_owned),
            details: json!({ "from_plan": before.plan_code, "from_lifecycle": before.lifecycle, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(())
}

/// Support extends a shop's trial by `days` (from its end, or from now if
/// it has ended) and puts a shop whose trial ran out back on trial.
pub async fn extend_trial(
    app: &App,
    actor: &Actor,
    shop: ShopId,
    days: i64,
    reason: &str,
) -> Result<DateTime<Utc>> {
    actor.require_platform()?;
    if !(1..=365).contains(&days) {
        return Err(Error::invalid("days", "must be between 1 and 365"));
    }
    let reason =
        pitwall_domain::values::required_text(reason, 500).map_err(Error::field("reason"))?;
    let before = shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let now = app.config.clock.now();
    let from = before.trial_ends_at.filter(|t| *t > now).unwrap_or(now);
    let ends = from + Duration::days(days);
    let txn = pitwall_store::begin_write(&app.db).await?;
    billing::set_trial_end(&txn, shop, ends).await?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(actor.user_id),
            action: "billing.extend_trial",
            target: Some(ends.to_rfc3339()),
            details: json!({ "from": before.trial_ends_at, "days": days, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(ends)
}

/// A price as the admin console lists it.
#[derive(Debug, Clone)]
pub struct PriceRow {
    pub plan: String,
    pub interval: BillingInterval,
    pub price_id: Option<String>,
    pub sms_overage: SmsOverage,
}

pub async fn prices(app: &App, actor: &Actor) -> Result<Vec<PriceRow>> {
    actor.require_platform()?;
    let map = price_map(app).await?;
    let mut out = Vec::new();
    for p in plans::list(&app.db).await? {
        let overage = billing::sms_overage(&app.db, &p.code).await?;
        for i in BillingInterval::ALL {
            out.push(PriceRow {
                plan: p.code.clone(),
                interval: *i,
                price_id: map.price_for(&p.code, *i).map(str::to_owned),
                sms_overage: overage,
            });
        }
    }
    Ok(out)
}

/// A platform admin sets a plan's Stripe Price (empty: not sold in that
/// interval) and its SMS overage rule.
pub async fn set_price(
    app: &App,
    actor: &Actor,
    plan: &str,
    interval: &str,
    price_id: &str,
    sms_overage: Option<&str>,
) -> Result<()> {
    actor.require_platform_admin()?;
    if plans::get(&app.db, plan).await?.is_none() {
        return Err(Error::NotFound("plan"));
    }
    let interval = BillingInterval::parse(interval.trim())
        .ok_or_else(|| Error::invalid("interval", "must be monthly or yearly"))?;
    let price_id = match price_id.trim() {
        "" => String::new(),
        p => rules::parse_price_id(p).map_err(Error::field("price_id"))?,
    };
    let overage = sms_overage
        .map(|o| {
            SmsOverage::parse(o.trim())
                .ok_or_else(|| Error::invalid("sms_overage", "must be stop or report"))
        })
        .transpose()?;
    if !price_id.is_empty() {
        let map = price_map(app).await?;
        if let Some((other, i)) = map.plan_of(&price_id)
            && (other != plan || i != interval)
        {
            return Err(Error::invalid(
                "price_id",
                format!("is already the price of {other} ({i})"),
            ));
        }
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    billing::set_price(&txn, plan, interval, &price_id, Some(actor.user_id)).await?;
    if let Some(o) = overage {
        billing::set_sms_overage(&txn, plan, o).await?;
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: None,
            actor: Some(actor.user_id),
            action: "billing.price",
            target: Some(format!("{plan}:{interval}")),
            details: json!({ "price_id": price_id, "sms_overage": overage.map(|o| o.as_str()) }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(())
}
