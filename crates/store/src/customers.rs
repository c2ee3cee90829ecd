//! Customers and vehicles of one shop.

use pitwall_domain::{CustomerId, ShopId, VehicleId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
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

/// The row a push makes of a customer Pitwall does not know.
pub fn new_customer(
    shop: ShopId,
    f: CustomerFields,
    at: chrono::DateTime<chrono::Utc>,
) -> Customer {
    Customer {
        id: CustomerId::new().as_uuid(),
        shop_id: shop.as_uuid(),
        external_id: f.external_id,
        first_name: f.first_name,
        last_name: f.last_name,
        phone: f.phone,
        email: f.email,
        sms_opt_out: false,
        email_opt_out: false,
        sms_consent_at: None,
        merged_into: None,
        locale: f.locale,
        created_at: at,
        updated_at: at,
    }
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: CustomerFields,
) -> Result<Customer, StoreError> {
    Ok(new_customer(shop, f, now())
        .into_active_model()
        .reset_all()
        .insert(db)
        .await?)
}

/// What a push makes of a stored customer: the sender's fields overwrite,
/// an external id once set is kept, a locale only when sent. `None` when
/// nothing changes.
pub fn pushed(
    existing: &Customer,
    f: CustomerFields,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Customer> {
    let unchanged = existing.first_name == f.first_name
        && existing.last_name == f.last_name
        && existing.phone == f.phone
        && existing.email == f.email
        && (f.external_id.is_none() || existing.external_id == f.external_id)
        && (f.locale.is_none() || existing.locale == f.locale);
    if unchanged {
        return None;
    }
    let mut after = existing.clone();
    after.first_name = f.first_name;
    after.last_name = f.last_name;
    after.phone = f.phone;
    after.email = f.email;
    if f.external_id.is_some() {
        after.external_id = f.external_id;
    }
    if f.locale.is_some() {
        after.locale = f.locale;
    }
    after.updated_at = at;
    Some(after)
}

/// Writes what a push owns of a customer (see [`pushed`]), nothing that
/// staff or the customer set (opt-outs, consent, merges).
pub async fn save_pushed(
    db: &impl ConnectionTrait,
    shop: ShopId,
    c: &Customer,
) -> Result<(), StoreError> {
    customer::Entity::update_many()
        .col_expr(
            customer::Column::ExternalId,
            Expr::value(c.external_id.clone()),
        )
        .col_expr(
            customer::Column::FirstName,
            Expr::value(c.first_name.clone()),
        )
        .col_expr(customer::Column::LastName, Expr::value(c.last_name.clone()))
        .col_expr(customer::Column::Phone, Expr::value(c.phone.clone()))
        .col_expr(customer::Column::Email, Expr::value(c.email.clone()))
        .col_expr(customer::Column::Locale, Expr::value(c.locale.clone()))
        .col_expr(customer::Column::UpdatedAt, Expr::value(c.updated_at))
        .in_shop(shop)
        .filter(customer::Column::Id.eq(c.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Overwrites what the sender knows; keeps an external id once set.
pub async fn update(
    db: &impl ConnectionTrait,
    existing: Customer,
    f: CustomerFields,
) -> Result<Customer, StoreError> {
    match pushed(&existing, f, now()) {
        None => Ok(existing),
        Some(after) => {
            save_pushed(db, ShopId::from_uuid(after.shop_id), &after).await?;
            Ok(after)
        }
    }
}

/// Customers by external id, merged ones included (the caller follows
/// `merged_into`).
pub async fn by_external_ids(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[String],
) -> Result<Vec<Customer>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::ExternalId.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Live customers with any of these E.164 numbers.
pub async fn live_by_phones(
    db: &impl ConnectionTrait,
    shop: ShopId,
    phones: &[String],
) -> Result<Vec<Customer>, StoreError> {
    if phones.is_empty() {
        return Ok(vec![]);
    }
    Ok(customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::Phone.is_in(phones.iter().cloned()))
        .filter(customer::Column::MergedInto.is_null())
        .all(db)
        .await?)
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

/// The row a push makes of a vehicle Pitwall does not know.
pub fn new_vehicle(shop: ShopId, f: VehicleFields, at: chrono::DateTime<chrono::Utc>) -> Vehicle {
    Vehicle {
        id: VehicleId::new().as_uuid(),
        shop_id: shop.as_uuid(),
        customer_id: f.customer_id.map(|c| c.as_uuid()),
        external_id: f.external_id,
        vin: f.vin,
        year: f.year,
        make: f.make,
        model: f.model,
        plate: f.plate,
        mileage: f.mileage,
        created_at: at,
        updated_at: at,
    }
}

/// What a push makes of a stored vehicle: the sender's fields overwrite,
/// the external id and the owner are kept when not sent. `None` when
/// nothing changes.
pub fn pushed_vehicle(
    existing: &Vehicle,
    f: VehicleFields,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Vehicle> {
    let mut after = existing.clone();
    after.external_id = f.external_id.or(after.external_id);
    after.customer_id = f.customer_id.map(|c| c.as_uuid()).or(after.customer_id);
    after.vin = f.vin;
    after.year = f.year;
    after.make = f.make;
    after.model = f.model;
    after.plate = f.plate;
    after.mileage = f.mileage;
    if after == *existing {
        return None;
    }
    after.updated_at = at;
    Some(after)
}

/// Writes what a push owns of a vehicle (see [`pushed_vehicle`]).
pub async fn save_pushed_vehicle(
    db: &impl ConnectionTrait,
    shop: ShopId,
    v: &Vehicle,
) -> Result<(), StoreError> {
    vehicle::Entity::update_many()
        .col_expr(
            vehicle::Column::ExternalId,
            Expr::value(v.external_id.clone()),
        )
        .col_expr(vehicle::Column::CustomerId, Expr::value(v.customer_id))
        .col_expr(vehicle::Column::Vin, Expr::value(v.vin.clone()))
        .col_expr(vehicle::Column::Year, Expr::value(v.year))
        .col_expr(vehicle::Column::Make, Expr::value(v.make.clone()))
        .col_expr(vehicle::Column::Model, Expr::value(v.model.clone()))
        .col_expr(vehicle::Column::Plate, Expr::value(v.plate.clone()))
        .col_expr(vehicle::Column::Mileage, Expr::value(v.mileage))
        .col_expr(vehicle::Column::UpdatedAt, Expr::value(v.updated_at))
        .in_shop(shop)
        .filter(vehicle::Column::Id.eq(v.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Vehicles by external id.
pub async fn vehicles_by_external_ids(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[String],
) -> Result<Vec<Vehicle>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(vehicle::Entity::find()
        .in_shop(shop)
        .filter(vehicle::Column::ExternalId.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Vehicles by VIN.
pub async fn vehicles_by_vins(
    db: &impl ConnectionTrait,
    shop: ShopId,
    vins: &[String],
) -> Result<Vec<Vehicle>, StoreError> {
    if vins.is_empty() {
        return Ok(vec![]);
    }
    Ok(vehicle::Entity::find()
        .in_shop(shop)
        .filter(vehicle::Column::Vin.is_in(vins.iter().cloned()))
        .all(db)
        .await?)
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
    let q = customer::Entity::find()
        .in_shop(shop)
        .filter(customer::Column::Id.is_in(ids.iter().copied()));
    crate::by_position::all::<Customer>(db, q).await
}

pub async fn many_vehicles(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[uuid::Uuid],
) -> Result<Vec<Vehicle>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let q = vehicle::Entity::find()
        .in_shop(shop)
        .filter(vehicle::Column::Id.is_in(ids.iter().copied()));
    crate::by_position::all::<Vehicle>(db, q).await
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
