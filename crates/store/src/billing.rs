//! Billing storage: each shop's subscription as Stripe last told us, the
//! Stripe events received (once each, by id), admin edits of the price map,
//! each plan's SMS overage rule and the overage reported per message.
//!
//! Two lookups are platform-level by design and say so: a shop by its
//! Stripe customer id (a webhook names only Stripe's ids) and an event by
//! its Stripe id (events arrive before we know whose they are).

use chrono::{DateTime, Utc};
use pitwall_domain::billing::{BillingInterval, PlanPrice, SmsOverage, SubscriptionStatus};
use pitwall_domain::{MessageId, ShopId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::{plan_billing, shop_billing, sms_overage_report, stripe_event, stripe_price};
use crate::{InShop, StoreError, now};

pub use shop_billing::Model as ShopBilling;
pub use stripe_event::Model as StripeEvent;

/// The shop's billing row; `None` before anything billing happened.
pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Option<ShopBilling>, StoreError> {
    Ok(shop_billing::Entity::find_by_id(shop.as_uuid())
        .one(db)
        .await?)
}

/// The shop whose Stripe customer this is (platform-level: a webhook names
/// only Stripe's ids; the row says whose it is).
pub async fn shop_by_customer(
    db: &impl ConnectionTrait,
    customer_id: &str,
) -> Result<Option<ShopId>, StoreError> {
    Ok(shop_billing::Entity::find()
        .filter(shop_billing::Column::StripeCustomerId.eq(customer_id))
        .one(db)
        .await?
        .map(|r| ShopId::from_uuid(r.shop_id)))
}

/// Makes sure the shop has a billing row (and reads it).
pub async fn ensure(db: &impl ConnectionTrait, shop: ShopId) -> Result<ShopBilling, StoreError> {
    let row = shop_billing::ActiveModel {
        shop_id: Set(shop.as_uuid()),
        stripe_customer_id: Set(None),
        stripe_subscription_id: Set(None),
        status: Set(None),
        price_id: Set(None),
        billing_interval: Set(None),
        current_period_end: Set(None),
        cancel_at_period_end: Set(false),
        trial_end: Set(None),
        past_due_since: Set(None),
        past_due_notified_at: Set(None),
        comp: Set(false),
        comp_reason: Set(None),
        last_event_id: Set(None),
        state_read_at: Set(None),
        updated_at: Set(now()),
    };
    shop_billing::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec(db)
        .await?;
    get(db, shop)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("billing row of shop {shop} vanished")))
}

/// Records the shop's Stripe customer, unless it already has one; answers
/// the customer the shop has now (so two racing requests end up with one).
pub async fn set_customer_once(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer_id: &str,
) -> Result<String, StoreError> {
    ensure(db, shop).await?;
    shop_billing::Entity::update_many()
        .col_expr(
            shop_billing::Column::StripeCustomerId,
            Expr::value(customer_id),
        )
        .col_expr(shop_billing::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(shop_billing::Column::StripeCustomerId.is_null())
        .exec(db)
        .await?;
    get(db, shop)
        .await?
        .and_then(|r| r.stripe_customer_id)
        .ok_or_else(|| StoreError::Corrupt(format!("shop {shop} has no Stripe customer")))
}

/// A subscription's state as read from Stripe.
#[derive(Debug, Clone)]
pub struct SubscriptionState {
    pub customer_id: String,
    pub subscription_id: String,
    pub status: SubscriptionStatus,
    pub price_id: Option<String>,
    pub interval: Option<BillingInterval>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<DateTime<Utc>>,
    /// When the read from Stripe that answered this state began.
    pub read_started_at: DateTime<Utc>,
}

/// Writes the subscription's state, the past-due episode's start (kept
/// while it lasts, cleared when it ends) and the event that caused it.
pub async fn apply_subscription(
    db: &impl ConnectionTrait,
    shop: ShopId,
    s: &SubscriptionState,
    past_due_since: Option<DateTime<Utc>>,
    past_due_notified_at: Option<DateTime<Utc>>,
    event_id: &str,
) -> Result<ShopBilling, StoreError> {
    let existing = ensure(db, shop).await?;
    let mut am: shop_billing::ActiveModel = existing.into();
    am.stripe_customer_id = Set(Some(s.customer_id.clone()));
    am.stripe_subscription_id = Set(Some(s.subscription_id.clone()));
    am.status = Set(Some(s.status.as_str().to_owned()));
    am.price_id = Set(s.price_id.clone());
    am.billing_interval = Set(s.interval.map(|i| i.as_str().to_owned()));
    am.current_period_end = Set(s.current_period_end);
    am.cancel_at_period_end = Set(s.cancel_at_period_end);
    am.trial_end = Set(s.trial_end);
    am.past_due_since = Set(past_due_since);
    am.past_due_notified_at = Set(past_due_notified_at);
    am.last_event_id = Set(Some(event_id.to_owned()));
    am.state_read_at = Set(Some(s.read_started_at));
    am.updated_at = Set(now());
    Ok(am.update(db).await?)
}

/// Support's comp plan: on, with a reason, or off.
pub async fn set_comp(
    db: &impl ConnectionTrait,
    shop: ShopId,
    comp: bool,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    ensure(db, shop).await?;
    shop_billing::Entity::update_many()
        .col_expr(shop_billing::Column::Comp, Expr::value(comp))
        .col_expr(
            shop_billing::Column::CompReason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(shop_billing::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a received event; `false` when its id was stored before (a
/// duplicate delivery: nothing more to do).
pub async fn insert_event(
    db: &impl ConnectionTrait,
    id: &str,
    event_type: &str,
    object_id: Option<&str>,
) -> Result<bool, StoreError> {
    let row = stripe_event::ActiveModel {
        id: Set(id.to_owned()),
        event_type: Set(event_type.to_owned()),
        shop_id: Set(None),
        object_id: Set(object_id.map(str::to_owned)),
        received_at: Set(now()),
        processed_at: Set(None),
        result: Set(None),
        detail: Set(None),
        attempts: Set(0),
    };
    let res = stripe_event::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec(db)
        .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(_)))
}

pub async fn event(db: &impl ConnectionTrait, id: &str) -> Result<Option<StripeEvent>, StoreError> {
    Ok(stripe_event::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

/// Counts a processing attempt.
pub async fn count_event_attempt(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    stripe_event::Entity::update_many()
        .col_expr(
            stripe_event::Column::Attempts,
            Expr::col(stripe_event::Column::Attempts).add(Expr::value(1)),
        )
        .filter(stripe_event::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records how processing went: `applied`, `ignored`, `no_shop` (final) or
/// `failed` (will be retried).
pub async fn finish_event(
    db: &impl ConnectionTrait,
    id: &str,
    shop: Option<ShopId>,
    result: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let mut q = stripe_event::Entity::update_many()
        .col_expr(stripe_event::Column::Result, Expr::value(result))
        .col_expr(
            stripe_event::Column::Detail,
            Expr::value(detail.map(|d| d.chars().take(500).collect::<String>())),
        );
    if result != "failed" {
        q = q.col_expr(stripe_event::Column::ProcessedAt, Expr::value(now()));
    }
    if let Some(shop) = shop {
        q = q.col_expr(stripe_event::Column::ShopId, Expr::value(shop.as_uuid()));
    }
    q.filter(stripe_event::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// The shop's latest events, newest first (the admin console).
pub async fn events_of_shop(
    db: &impl ConnectionTrait,
    shop: ShopId,
    limit: u64,
) -> Result<Vec<StripeEvent>, StoreError> {
    Ok(stripe_event::Entity::find()
        .filter(stripe_event::Column::ShopId.eq(shop.as_uuid()))
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Events not tied to a shop (yet or ever), newest first.
pub async fn unmatched_events(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<StripeEvent>, StoreError> {
    Ok(stripe_event::Entity::find()
        .filter(stripe_event::Column::ShopId.is_null())
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Admin edits of the price map (they win over configuration).
pub async fn price_overrides(db: &impl ConnectionTrait) -> Result<Vec<PlanPrice>, StoreError> {
    Ok(stripe_price::Entity::find()
        .order_by_asc(stripe_price::Column::PlanCode)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(PlanPrice {
                plan: r.plan_code,
                interval: BillingInterval::parse(&r.billing_interval)?,
                price_id: r.price_id,
            })
        })
        .collect())
}

/// Sets (or, with an empty id, switches off) a plan's price.
pub async fn set_price(
    db: &impl ConnectionTrait,
    plan: &str,
    interval: BillingInterval,
    price_id: &str,
    by: Option<UserId>,
) -> Result<(), StoreError> {
    let row = stripe_price::ActiveModel {
        plan_code: Set(plan.to_owned()),
        billing_interval: Set(interval.as_str().to_owned()),
        price_id: Set(price_id.to_owned()),
        updated_by: Set(by.map(|u| u.as_uuid())),
        updated_at: Set(now()),
    };
    stripe_price::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                stripe_price::Column::PlanCode,
                stripe_price::Column::BillingInterval,
            ])
            .update_columns([
                stripe_price::Column::PriceId,
                stripe_price::Column::UpdatedBy,
                stripe_price::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// A plan's SMS overage rule (stop unless set).
pub async fn sms_overage(db: &impl ConnectionTrait, plan: &str) -> Result<SmsOverage, StoreError> {
    Ok(plan_billing::Entity::find_by_id(plan.to_owned())
        .one(db)
        .await?
        .and_then(|r| SmsOverage::parse(&r.sms_overage))
        .unwrap_or(SmsOverage::Stop))
}

pub async fn set_sms_overage(
    db: &impl ConnectionTrait,
    plan: &str,
    rule: SmsOverage,
) -> Result<(), StoreError> {
    let row = plan_billing::ActiveModel {
        plan_code: Set(plan.to_owned()),
        sms_overage: Set(rule.as_str().to_owned()),
        updated_at: Set(now()),
    };
    plan_billing::Entity::insert(row)
        .on_conflict(
            OnConflict::column(plan_billing::Column::PlanCode)
                .update_columns([
                    plan_billing::Column::SmsOverage,
                    plan_billing::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Records that `segments` of this message are overage; `false` when it
/// was recorded before (a retried job).
pub async fn record_overage(
    db: &impl ConnectionTrait,
    shop: ShopId,
    message: MessageId,
    segments: i64,
) -> Result<bool, StoreError> {
    let row = sms_overage_report::ActiveModel {
        message_id: Set(message.as_uuid()),
        shop_id: Set(shop.as_uuid()),
        segments: Set(segments),
        created_at: Set(now()),
        reported_at: Set(None),
    };
    let res = sms_overage_report::Entity::insert(row)
        .on_conflict_do_nothing_on([
            sms_overage_report::Column::ShopId,
            sms_overage_report::Column::MessageId,
        ])
        .exec(db)
        .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(_)))
}

pub async fn overage_report(
    db: &impl ConnectionTrait,
    shop: ShopId,
    message: MessageId,
) -> Result<Option<sms_overage_report::Model>, StoreError> {
    Ok(sms_overage_report::Entity::find_by_id(message.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

pub async fn mark_overage_reported(
    db: &impl ConnectionTrait,
    shop: ShopId,
    message: MessageId,
) -> Result<(), StoreError> {
    sms_overage_report::Entity::update_many()
        .col_expr(sms_overage_report::Column::ReportedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(sms_overage_report::Column::MessageId.eq(message.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Overage segments the shop had reported since `since` (the billing page).
pub async fn overage_since(
    db: &impl ConnectionTrait,
    shop: ShopId,
    since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(sms_overage_report::Entity::find()
        .in_shop(shop)
        .filter(sms_overage_report::Column::CreatedAt.gte(since))
        .all(db)
        .await?
        .iter()
        .map(|r| r.segments)
        .sum())
}

/// Extends a shop's trial (support).
pub async fn set_trial_end(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ends: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::entities::shop;
    shop::Entity::update_many()
        .col_expr(shop::Column::TrialEndsAt, Expr::value(ends))
        .col_expr(shop::Column::UpdatedAt, Expr::value(now()))
        .filter(shop::Column::Id.eq(shop.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes the shop's billing row for the rest of the transaction, so two
/// events of one shop applied at once take turns (PostgreSQL: `FOR UPDATE`;
/// SQLite's write transactions already take turns).
pub async fn lock(db: &impl ConnectionTrait, shop: ShopId) -> Result<ShopBilling, StoreError> {
    let row = ensure(db, shop).await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        return shop_billing::Entity::find_by_id(shop.as_uuid())
            .lock_exclusive()
            .one(db)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("billing row of shop {shop} vanished")));
    }
    Ok(row)
}
