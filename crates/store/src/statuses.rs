//! A shop's vehicle statuses, in workflow order. Retired statuses stay in
//! the table so that tickets and history that name them still read.

use pitwall_domain::tickets::DEFAULT_STATUSES;
use pitwall_domain::{ShopId, StatusId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use crate::entities::vehicle_status;
use crate::{InShop, StoreError, now};

pub use vehicle_status::Model as VehicleStatus;

#[derive(Debug, Clone)]
pub struct StatusFields {
    pub label: String,
    pub color: String,
    pub notify_customer: bool,
    pub message_template: String,
    pub timer_mode: String,
    pub default_minutes: Option<i32>,
}

/// Gives a new shop the default statuses.
pub async fn seed_defaults(db: &impl ConnectionTrait, shop: ShopId) -> Result<(), StoreError> {
    for (i, d) in DEFAULT_STATUSES.iter().enumerate() {
        insert(
            db,
            shop,
            i as i32,
            StatusFields {
                label: d.label.to_owned(),
                color: d.color.to_owned(),
                notify_customer: d.notify_customer,
                message_template: d.message_template.to_owned(),
                timer_mode: d.timer_mode.as_str().to_owned(),
                default_minutes: d.default_minutes,
            },
        )
        .await?;
    }
    Ok(())
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    position: i32,
    f: StatusFields,
) -> Result<VehicleStatus, StoreError> {
    let at = now();
    Ok(vehicle_status::ActiveModel {
        id: Set(StatusId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        position: Set(position),
        label: Set(f.label),
        color: Set(f.color),
        notify_customer: Set(f.notify_customer),
        message_template: Set(f.message_template),
        timer_mode: Set(f.timer_mode),
        default_minutes: Set(f.default_minutes),
        retired_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await?)
}

/// Every status of the shop, retired ones included, in order.
pub async fn all(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Vec<VehicleStatus>, StoreError> {
    Ok(vehicle_status::Entity::find()
        .in_shop(shop)
        .order_by_asc(vehicle_status::Column::Position)
        .order_by_asc(vehicle_status::Column::Id)
        .all(db)
        .await?)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: StatusId,
) -> Result<Option<VehicleStatus>, StoreError> {
    Ok(vehicle_status::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// Several statuses of the shop in one query.
pub async fn get_many(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[uuid::Uuid],
) -> Result<Vec<VehicleStatus>, StoreError> {
    Ok(vehicle_status::Entity::find()
        .in_shop(shop)
        .filter(vehicle_status::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

pub async fn update(
    db: &impl ConnectionTrait,
    existing: VehicleStatus,
    f: StatusFields,
) -> Result<VehicleStatus, StoreError> {
    let mut row = existing.into_active_model();
    row.label = Set(f.label);
    row.color = Set(f.color);
    row.notify_customer = Set(f.notify_customer);
    row.message_template = Set(f.message_template);
    row.timer_mode = Set(f.timer_mode);
    row.default_minutes = Set(f.default_minutes);
    row.updated_at = Set(now());
    Ok(row.update(db).await?)
}

pub async fn set_retired(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: StatusId,
    retired: bool,
) -> Result<(), StoreError> {
    let at = now();
    vehicle_status::Entity::update_many()
        .col_expr(
            vehicle_status::Column::RetiredAt,
            Expr::value(if retired { Some(at) } else { None }),
        )
        .col_expr(vehicle_status::Column::UpdatedAt, Expr::value(at))
        .in_shop(shop)
        .filter(vehicle_status::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_position(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: StatusId,
    position: i32,
) -> Result<(), StoreError> {
    vehicle_status::Entity::update_many()
        .col_expr(vehicle_status::Column::Position, Expr::value(position))
        .in_shop(shop)
        .filter(vehicle_status::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}
