//! Rows of the photos and videos of findings. Every query takes the shop.
//! The files themselves are in the media store (`pitwall_core::media`).

use pitwall_domain::{FindingId, InspectionId, MediaId, ShopId};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::inspection_medium::{self, Column, Entity as Media};
use crate::{InShop, StoreError};

pub type Medium = inspection_medium::Model;

pub async fn insert(db: &impl ConnectionTrait, row: Medium) -> Result<(), StoreError> {
    Media::insert(inspection_medium::ActiveModel::from(row))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: MediaId,
) -> Result<Option<Medium>, StoreError> {
    Ok(Media::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// An inspection's media, oldest first.
pub async fn of_inspection(
    db: &impl ConnectionTrait,
    shop: ShopId,
    inspection: InspectionId,
) -> Result<Vec<Medium>, StoreError> {
    Ok(Media::find()
        .in_shop(shop)
        .filter(Column::InspectionId.eq(inspection.as_uuid()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// The media of these findings, oldest first.
pub async fn of_findings(
    db: &impl ConnectionTrait,
    shop: ShopId,
    findings: &[uuid::Uuid],
) -> Result<Vec<Medium>, StoreError> {
    if findings.is_empty() {
        return Ok(vec![]);
    }
    Ok(Media::find()
        .in_shop(shop)
        .filter(Column::FindingId.is_in(findings.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Makes the shop's uploads take turns for the rest of the transaction,
/// so that two at once cannot both fit under the quota that only one of
/// them fits under. PostgreSQL: the shop's row `FOR NO KEY UPDATE` (which,
/// unlike `FOR UPDATE`, lets rows that reference the shop be written
/// meanwhile); SQLite's write transactions already take turns.
pub async fn take_turns(db: &impl ConnectionTrait, shop: ShopId) -> Result<(), StoreError> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use crate::entities::shop;
        shop::Entity::find_by_id(shop.as_uuid())
            .select_only()
            .column(shop::Column::Id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .into_tuple::<uuid::Uuid>()
            .one(db)
            .await?;
    }
    Ok(())
}

pub async fn count_for_finding(
    db: &impl ConnectionTrait,
    shop: ShopId,
    finding: FindingId,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(Media::find()
        .in_shop(shop)
        .filter(Column::FindingId.eq(finding.as_uuid()))
        .count(db)
        .await?)
}

pub async fn delete(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: MediaId,
) -> Result<bool, StoreError> {
    let res = Media::delete_many()
        .in_shop(shop)
        .filter(Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

#[derive(FromQueryResult)]
struct Total {
    total: Option<i64>,
}

/// Bytes the shop stores, copies included: what the quota counts.
pub async fn stored_bytes(db: &impl ConnectionTrait, shop: ShopId) -> Result<i64, StoreError> {
    let row = Media::find()
        .select_only()
        .column_as(
            Expr::expr(Func::sum(Expr::col(Column::StoredBytes)))
                .cast_as(sea_orm::sea_query::Alias::new("BIGINT")),
            "total",
        )
        .in_shop(shop)
        .into_model::<Total>()
        .one(db)
        .await?;
    Ok(row.and_then(|r| r.total).unwrap_or(0))
}

/// Which of these ids have a row (of any shop): the sweep keeps those.
pub async fn existing(
    db: &impl ConnectionTrait,
    ids: &[uuid::Uuid],
) -> Result<Vec<uuid::Uuid>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(Media::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<uuid::Uuid>()
        .all(db)
        .await?)
}
