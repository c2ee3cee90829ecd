//! Customers and vehicles of one shop.

use pitwall_domain::{CustomerId, ShopId, VehicleId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::{customer, message, ticket, vehicle};
use crate::{InShop, Page, PageRequest, StoreError, now};

pub use customer::Model as Customer;
pub use vehicle::Model as Vehicle;

/// Customer fields as validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `en` or `es`: the customer's pages speak it. `None` keeps what is
    /// stored (the shop's language applies when nothing is).
    pub locale: Option<String>,
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: CustomerId,
) -> Result<Option<Customer>, StoreError> {
    Ok(customer::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

pub async fn by_external_id(
    db: &impl ConnectionTrait,
    shop: ShopId,
    external_id: &str,
) -> Result<Option<Customer>, StoreError> {
    Ok(customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// The live (not merged away) customer with this E.164 number, oldest first.
pub async fn by_phone(
    db: &impl ConnectionTrait,
    shop: ShopId,
    phone: &str,
) -> Result<Option<Customer>, StoreError> {
    Ok(customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::Phone.eq(phone))
        .filter(customer::Column::MergedInto.is_null())
        .order_by_asc(customer::Column::Id)
        .one(db)
        .await?)
}

/// The live customer with this e-mail address (compared without case),
/// oldest first.
pub async fn by_email(
    db: &impl ConnectionTrait,
    shop: ShopId,
    email: &str,
) -> Result<Option<Customer>, StoreError> {
    Ok(customer::Entity::find()
        .in_shop(shop)
        .filter(
            Expr::expr(Func::lower(Expr::col(customer::Column::Email))).eq(email.to_lowercase()),
        )
        .filter(customer::Column::MergedInto.is_null())
        .order_by_asc(customer::Column::Id)
        .one(db)
        .await?)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: CustomerFields,
) -> Result<Customer, StoreError> {
    let at = now();
    Ok(customer::ActiveModel {
        id: Set(CustomerId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        external_id: Set(f.external_id),
        first_name: Set(f.first_name),
        last_name: Set(f.last_name),
        phone: Set(f.phone),
        email: Set(f.email),
        sms_opt_out: Set(false),
        email_opt_out: Set(false),
        sms_consent_at: Set(None),
        merged_into: Set(None),
        locale: Set(f.locale),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await?)
}

/// Overwrites what the sender knows; keeps an external id once set.
pub async fn update(
    db: &impl ConnectionTrait,
    existing: Customer,
    f: CustomerFields,
) -> Result<Customer, StoreError> {
    let unchanged = existing.first_name == f.first_name
        && existing.last_name == f.last_name
        && existing.phone == f.phone
        && existing.email == f.email
        && (f.external_id.is_none() || existing.external_id == f.external_id)
        && (f.locale.is_none() || existing.locale == f.locale);
    if unchanged {
        return Ok(existing);
    }
    let keep_external = existing.external_id.clone();
    let mut row = existing.into_active_model();
    row.first_name = Set(f.first_name);
    row.last_name = Set(f.last_name);
    row.phone = Set(f.phone);
    row.email = Set(f.email);
    row.external_id = Set(f.external_id.or(keep_external));
    if f.locale.is_some() {
        row.locale = Set(f.locale);
    }
    row.updated_at = Set(now());
    Ok(row.update(db).await?)
}

pub async fn set_opt_out(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: CustomerId,
    sms: Option<bool>,
    email: Option<bool>,
) -> Result<(), StoreError> {
    let mut q = customer::Entity::update_many()
        .col_expr(customer::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(customer::Column::Id.eq(id.as_uuid()));
    if let Some(v) = sms {
        q = q.col_expr(customer::Column::SmsOptOut, Expr::value(v));
    }
    if let Some(v) = email {
        q = q.col_expr(customer::Column::EmailOptOut, Expr::value(v));
    }
    q.exec(db).await?;
    Ok(())
}

/// Live customers by name or phone digits, newest first.
pub async fn search(
    db: &impl ConnectionTrait,
    shop: ShopId,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<Customer>, StoreError> {
    let mut query = customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::MergedInto.is_null())
        .order_by_desc(customer::Column::Id);
    if let Some(after) = page.after {
        query = query.filter(customer::Column::Id.lt(after));
    }
    for term in q.unwrap_or("").split_whitespace().take(5) {
        let text = format!("%{}%", term.to_lowercase().replace(['%', '_'], ""));
        let mut any = Condition::any()
            .add(Expr::expr(Func::lower(Expr::col(customer::Column::FirstName))).like(text.clone()))
            .add(Expr::expr(Func::lower(Expr::col(customer::Column::LastName))).like(text.clone()))
            .add(Expr::expr(Func::lower(Expr::col(customer::Column::Email))).like(text));
        let digits = pitwall_domain::phone::search_digits(term);
        if digits.len() >= 3 {
            any = any.add(customer::Column::Phone.like(format!("%{digits}%")));
        }
        query = query.filter(any);
    }
    let rows = query.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |c| c.id))
}

/// Moves everything of `from` to `into` and marks `from` merged.
pub async fn merge(
    db: &impl ConnectionTrait,
    shop: ShopId,
    from: CustomerId,
    into: CustomerId,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(ticket::Column::CustomerId, Expr::value(into.as_uuid()))
        .in_shop(shop)
        .filter(ticket::Column::CustomerId.eq(from.as_uuid()))
        .exec(db)
        .await?;
    vehicle::Entity::update_many()
        .col_expr(vehicle::Column::CustomerId, Expr::value(into.as_uuid()))
        .in_shop(shop)
        .filter(vehicle::Column::CustomerId.eq(from.as_uuid()))
        .exec(db)
        .await?;
    message::Entity::update_many()
        .col_expr(message::Column::CustomerId, Expr::value(into.as_uuid()))
        .in_shop(shop)
        .filter(message::Column::CustomerId.eq(from.as_uuid()))
        .exec(db)
        .await?;
    // The POS may still send the old external id: it now finds the kept one
    // through `merged_into`.
    customer::Entity::update_many()
        .col_expr(customer::Column::MergedInto, Expr::value(into.as_uuid()))
        .col_expr(customer::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(customer::Column::Id.eq(from.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn vehicle(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: VehicleId,
) -> Result<Option<Vehicle>, StoreError> {
    Ok(vehicle::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct VehicleFields {
    pub external_id: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub vin: Option<String>,
    pub year: Option<i32>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub plate: Option<String>,
    pub mileage: Option<i64>,
}

/// The vehicle the POS means: by its external id, else by VIN.
pub async fn find_vehicle(
    db: &impl ConnectionTrait,
    shop: ShopId,
    external_id: Option<&str>,
    vin: Option<&str>,
) -> Result<Option<Vehicle>, StoreError> {
    let base = || vehicle::Entity::find().in_shop(shop);
    if let Some(ext) = external_id
        && let Some(v) = base()
            .filter(vehicle::Column::ExternalId.eq(ext))
            .one(db)
            .await?
    {
        return Ok(Some(v));
    }
    if let Some(vin) = vin {
        return Ok(base()
            .filter(vehicle::Column::Vin.eq(vin))
            .order_by_asc(vehicle::Column::Id)
            .one(db)
            .await?);
    }
    Ok(None)
}

pub async fn upsert_vehicle(
    db: &impl ConnectionTrait,
    shop: ShopId,
    existing: Option<Vehicle>,
    f: VehicleFields,
) -> Result<Vehicle, StoreError> {
    let at = now();
    match existing {
        Some(v) => {
            let keep_external = v.external_id.clone();
            let keep_customer = v.customer_id;
            let mut row = v.into_active_model();
            row.external_id = Set(f.external_id.or(keep_external));
            row.customer_id = Set(f.customer_id.map(|c| c.as_uuid()).or(keep_customer));
            row.vin = Set(f.vin);
            row.year = Set(f.year);
            row.make = Set(f.make);
            row.model = Set(f.model);
            row.plate = Set(f.plate);
            row.mileage = Set(f.mileage);
            row.updated_at = Set(at);
            Ok(row.update(db).await?)
        }
        None => Ok(vehicle::ActiveModel {
            id: Set(VehicleId::new().as_uuid()),
            shop_id: Set(shop.as_uuid()),
            customer_id: Set(f.customer_id.map(|c| c.as_uuid())),
            external_id: Set(f.external_id),
            vin: Set(f.vin),
            year: Set(f.year),
            make: Set(f.make),
            model: Set(f.model),
            plate: Set(f.plate),
            mileage: Set(f.mileage),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(db)
        .await?),
    }
}

pub async fn vehicles_of(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: CustomerId,
) -> Result<Vec<Vehicle>, StoreError> {
    Ok(vehicle::Entity::find()
        .in_shop(shop)
        .filter(vehicle::Column::CustomerId.eq(customer.as_uuid()))
        .order_by_asc(vehicle::Column::Id)
        .limit(100)
        .all(db)
        .await?)
}

/// Several customers at once (for lists), by id.
pub async fn many(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[uuid::Uuid],
) -> Result<Vec<Customer>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

pub async fn many_vehicles(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[uuid::Uuid],
) -> Result<Vec<Vehicle>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(vehicle::Entity::find()
        .in_shop(shop)
        .filter(vehicle::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Staff recorded the customer's consent to texts.
pub async fn set_sms_consent(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: CustomerId,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), StoreError> {
    customer::Entity::update_many()
        .col_expr(customer::Column::SmsConsentAt, Expr::value(at))
        .col_expr(customer::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(customer::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}
