use chrono::{DateTime, Utc};
use pitwall_domain::billing::{self as rules, BillingInterval, SmsOverage, SubscriptionStatus};
use pitwall_domain::{Permission, Quota, ShopLifecycle};
use pitwall_store::{billing, messages, plans};

use super::price_map;
use crate::{App, Result, ShopCtx};

/// The shop's plan and billing state, as the API and the page show it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub plan: String,
    pub plan_name: String,
    pub lifecycle: ShopLifecycle,
    /// Stripe's subscription status; `None` before any subscription.
    pub status: Option<String>,
    pub interval: Option<String>,
    pub next_invoice_at: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub trial_days_left: Option<i64>,
    /// When a past-due shop becomes read-only.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// The trial ended without a subscription: read-only until the owner
    /// subscribes.
    pub trial_ended: bool,
    pub comp: bool,
    pub configured: bool,
}

pub async fn summary(app: &App, ctx: &ShopCtx) -> Result<Summary> {
    let row = billing::get(&app.db, ctx.shop_id()).await?;
    let now = app.config.clock.now();
    let trial_ended = ctx.trial_ended();
    let trial_ends_at = ctx
        .shop
        .trial_ends_at
        .filter(|_| ctx.lifecycle == ShopLifecycle::Trial || trial_ended);
    let grace_ends_at = row
        .as_ref()
        .and_then(|r| r.past_due_since)
        .filter(|_| ctx.lifecycle == ShopLifecycle::PastDue)
        .map(|since| since + app.config.past_due_grace);
    Ok(Summary {
        plan: ctx.features.plan.code.clone(),
        plan_name: ctx.features.plan.name.clone(),
        lifecycle: ctx.lifecycle,
        status: row.as_ref().and_then(|r| r.status.clone()),
        interval: row.as_ref().and_then(|r| r.billing_interval.clone()),
        next_invoice_at: row
            .as_ref()
            .filter(|r| !r.cancel_at_period_end)
            .filter(|r| {
                r.status.as_deref().and_then(SubscriptionStatus::parse)
                    != Some(SubscriptionStatus::Canceled)
            })
            .and_then(|r| r.current_period_end),
        cancel_at_period_end: row.as_ref().is_some_and(|r| r.cancel_at_period_end),
        trial_ends_at,
        trial_days_left: trial_ends_at.map(|end| (end - now).num_days().max(0)),
        grace_ends_at,
        trial_ended,
        comp: row.as_ref().is_some_and(|r| r.comp),
        configured: app.config.stripe.is_some(),
    })
}

/// A plan the owner can choose, with the intervals it is sold in.
#[derive(Debug, Clone)]
pub struct PlanChoice {
    pub code: String,
    pub name: String,
    pub monthly_price_cents: i64,
    pub intervals: Vec<BillingInterval>,
    pub current: bool,
}

/// Everything the billing page shows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub summary: Summary,
    pub sms_used: i64,
    pub sms_included: Option<i64>,
    pub sms_overage: SmsOverage,
    pub sms_overage_reported: i64,
    pub plans: Vec<PlanChoice>,
    pub has_customer: bool,
    pub subscribed: bool,
}

pub async fn overview(app: &App, ctx: &ShopCtx) -> Result<Overview> {
    app.require(ctx, Permission::BillingManage).await?;
    let summary = summary(app, ctx).await?;
    let row = billing::get(&app.db, ctx.shop_id()).await?;
    let now = app.config.clock.now();
    let month = pitwall_domain::messaging::usage_month(now);
    let prices = price_map(app).await?;
    let plans = plans::list(&app.db)
        .await?
        .into_iter()
        .map(|p| PlanChoice {
            intervals: BillingInterval::ALL
                .iter()
                .copied()
                .filter(|i| prices.price_for(&p.code, *i).is_some())
                .collect(),
            current: p.code == ctx.shop.plan_code,
            code: p.code,
            name: p.name,
            monthly_price_cents: p.monthly_price_cents,
        })
        .collect();
    Ok(Overview {
        sms_used: messages::sms_segments_in(&app.db, ctx.shop_id(), &month).await?,
        sms_included: ctx.quota(Quota::SmsPerMonth),
        sms_overage: billing::sms_overage(&app.db, &ctx.shop.plan_code).await?,
        sms_overage_reported: billing::overage_since(
            &app.db,
            ctx.shop_id(),
            crate::outreach::month_start(now),
        )
        .await?,
        plans,
        has_customer: row.as_ref().is_some_and(|r| r.stripe_customer_id.is_some()),
        subscribed: rules::status_counts_as_subscribed(
            row.as_ref()
                .and_then(|r| r.status.as_deref())
                .and_then(SubscriptionStatus::parse),
        ),
        summary,
    })
}
