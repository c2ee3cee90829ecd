//! Shops (tenants). Reading a shop by id is the one "tenant" query that takes
//! the id itself: the `ShopId` came from authentication or the admin path.

use chrono::{DateTime, Utc};
use pitwall_domain::{ShopId, ShopLifecycle, ShopProfile, Slug};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use sea_orm::sea_query::ExprTrait;

use crate::entities::shop::{self, Entity as Shops};
use crate::{Page, PageRequest, StoreError, now};

pub use shop::Model as Shop;

pub struct NewShop<'a> {
    pub id: ShopId,
    pub name: &'a str,
    pub slug: &'a Slug,
    pub plan_code: &'a str,
    pub lifecycle: ShopLifecycle,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub time_zone: &'a str,
}

pub async fn insert(db: &impl ConnectionTrait, new: NewShop<'_>) -> Result<Shop, StoreError> {
    let at = now();
    let row = shop::ActiveModel {
        id: Set(new.id.as_uuid()),
        name: Set(new.name.to_owned()),
        slug: Set(new.slug.as_str().to_owned()),
        plan_code: Set(new.plan_code.to_owned()),
        lifecycle: Set(new.lifecycle.as_str().to_owned()),
        trial_ends_at: Set(new.trial_ends_at),
        time_zone: Set(new.time_zone.to_owned()),
        phone: Set(None),
        email: Set(None),
        address: Set(None),
        hours: Set(None),
        logo_url: Set(None),
        primary_color: Set(None),
        accent_color: Set(None),
        country: Set("US".to_owned()),
        currency: Set("USD".to_owned()),
        sms_from: Set(None),
        quiet_hours_start: Set(None),
        quiet_hours_end: Set(None),
        require_sms_consent: Set(false),
        link_ttl_hours: Set(168),
        locale: Set("en".to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
    };
    Ok(row.insert(db).await?)
}

pub async fn get(db: &impl ConnectionTrait, id: ShopId) -> Result<Option<Shop>, StoreError> {
    Ok(Shops::find_by_id(id.as_uuid()).one(db).await?)
}

pub async fn find_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<Option<Shop>, StoreError> {
    Ok(Shops::find()
        .filter(shop::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// All shops, for the admin console; `q` matches name or slug.
pub async fn list(
    db: &impl ConnectionTrait,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<Shop>, StoreError> {
    let mut query = Shops::find().order_by_asc(shop::Column::Id);
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(
            Condition::any()
                .add(
                    sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(
                        sea_orm::sea_query::Expr::col(shop::Column::Name),
                    ))
                    .like(pattern.clone()),
                )
                .add(shop::Column::Slug.like(pattern)),
        );
    }
    if let Some(after) = page.after {
        query = query.filter(shop::Column::Id.gt(after));
    }
    let rows = query.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |s| s.id))
}

pub async fn update_profile(
    db: &impl ConnectionTrait,
    id: ShopId,
    p: &ShopProfile,
) -> Result<Option<Shop>, StoreError> {
    let Some(existing) = get(db, id).await? else {
        return Ok(None);
    };
    let mut row: shop::ActiveModel = existing.into();
    row.name = Set(p.name.clone());
    row.phone = Set(p.phone.clone());
    row.email = Set(p.email.clone());
    row.address = Set(p.address.clone());
    row.hours = Set(p.hours.clone());
    row.time_zone = Set(p.time_zone.clone());
    row.logo_url = Set(p.logo_url.clone());
    row.primary_color = Set(p.primary_color.clone());
    row.accent_color = Set(p.accent_color.clone());
    row.updated_at = Set(now());
    Ok(Some(row.update(db).await?))
}

pub async fn set_plan(
    db: &impl ConnectionTrait,
    id: ShopId,
    plan_code: &str,
) -> Result<Option<Shop>, StoreError> {
    let Some(existing) = get(db, id).await? else {
        return Ok(None);
    };
    let mut row: shop::ActiveModel = existing.into();
    row.plan_code = Set(plan_code.to_owned());
    row.updated_at = Set(now());
    Ok(Some(row.update(db).await?))
}

pub async fn set_lifecycle(
    db: &impl ConnectionTrait,
    id: ShopId,
    lifecycle: ShopLifecycle,
) -> Result<Option<Shop>, StoreError> {
    let Some(existing) = get(db, id).await? else {
        return Ok(None);
    };
    let mut row: shop::ActiveModel = existing.into();
    row.lifecycle = Set(lifecycle.as_str().to_owned());
    row.updated_at = Set(now());
    Ok(Some(row.update(db).await?))
}

pub fn profile_of(s: &Shop) -> ShopProfile {
    ShopProfile {
        name: s.name.clone(),
        phone: s.phone.clone(),
        email: s.email.clone(),
        address: s.address.clone(),
        hours: s.hours.clone(),
        time_zone: s.time_zone.clone(),
        logo_url: s.logo_url.clone(),
        primary_color: s.primary_color.clone(),
        accent_color: s.accent_color.clone(),
    }
}

pub fn lifecycle_of(s: &Shop) -> Result<ShopLifecycle, StoreError> {
    ShopLifecycle::parse(&s.lifecycle)
        .ok_or_else(|| StoreError::Corrupt(format!("shop {} lifecycle {:?}", s.id, s.lifecycle)))
}

/// The shop whose own sender number this is (an inbound text names only
/// numbers; the row says whose it is).
pub async fn by_sms_from(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<Shop>, StoreError> {
    Ok(Shops::find()
        .filter(shop::Column::SmsFrom.eq(number))
        .order_by_asc(shop::Column::Id)
        .one(db)
        .await?)
}

/// Assigns (or takes back) the shop's own sender number. Unique across
/// shops: a number already assigned is a `Conflict` on `sms_from`.
pub async fn set_sms_from(
    db: &impl ConnectionTrait,
    id: ShopId,
    number: Option<&str>,
) -> Result<Option<Shop>, StoreError> {
    use sea_orm::sea_query::Expr;
    let res = Shops::update_many()
        .col_expr(
            shop::Column::SmsFrom,
            Expr::value(number.map(str::to_owned)),
        )
        .col_expr(shop::Column::UpdatedAt, Expr::value(now()))
        .filter(shop::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    get(db, id).await
}

pub struct MessagingSettings {
    pub quiet_hours: Option<(i32, i32)>,
    pub require_sms_consent: bool,
}

pub async fn set_messaging(
    db: &impl ConnectionTrait,
    id: ShopId,
    s: MessagingSettings,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    Shops::update_many()
        .col_expr(
            shop::Column::QuietHoursStart,
            Expr::value(s.quiet_hours.map(|q| q.0)),
        )
        .col_expr(
            shop::Column::QuietHoursEnd,
            Expr::value(s.quiet_hours.map(|q| q.1)),
        )
        .col_expr(
            shop::Column::RequireSmsConsent,
            Expr::value(s.require_sms_consent),
        )
        .col_expr(shop::Column::UpdatedAt, Expr::value(now()))
        .filter(shop::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// How long the shop's customer links live, and its customers' default
/// language.
pub async fn set_customer_page(
    db: &impl ConnectionTrait,
    id: ShopId,
    link_ttl_hours: i32,
    locale: &str,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    Shops::update_many()
        .col_expr(shop::Column::LinkTtlHours, Expr::value(link_ttl_hours))
        .col_expr(shop::Column::Locale, Expr::value(locale))
        .col_expr(shop::Column::UpdatedAt, Expr::value(now()))
        .filter(shop::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}
