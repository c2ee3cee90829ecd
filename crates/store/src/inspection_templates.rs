//! A shop's inspection sheets. Every query takes the shop.

use pitwall_domain::{InspectionTemplateId, ShopId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder};

use crate::entities::inspection_template::{self, Entity as Templates};
use crate::{InShop, StoreError, now};

pub type InspectionTemplate = inspection_template::Model;

pub async fn list(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Vec<InspectionTemplate>, StoreError> {
    Ok(Templates::find()
        .in_shop(shop)
        .order_by_asc(inspection_template::Column::Name)
        .order_by_asc(inspection_template::Column::Id)
        .all(db)
        .await?)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InspectionTemplateId,
) -> Result<Option<InspectionTemplate>, StoreError> {
    Ok(Templates::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    name: &str,
    sheet_json: &str,
    item_count: i32,
) -> Result<InspectionTemplate, StoreError> {
    let at = now();
    let row = InspectionTemplate {
        id: InspectionTemplateId::new().as_uuid(),
        shop_id: shop.as_uuid(),
        name: name.to_owned(),
        sheet: sheet_json.to_owned(),
        item_count,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    Templates::insert(inspection_template::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Replaces a sheet's name and content; `None` when the shop has no such
/// sheet.
pub async fn update(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InspectionTemplateId,
    name: &str,
    sheet_json: &str,
    item_count: i32,
) -> Result<Option<InspectionTemplate>, StoreError> {
    let res = Templates::update_many()
        .col_expr(inspection_template::Column::Name, Expr::value(name))
        .col_expr(inspection_template::Column::Sheet, Expr::value(sheet_json))
        .col_expr(
            inspection_template::Column::ItemCount,
            Expr::value(item_count),
        )
        .col_expr(
            inspection_template::Column::Version,
            Expr::col(inspection_template::Column::Version).add(1),
        )
        .col_expr(inspection_template::Column::UpdatedAt, Expr::value(now()))
        .filter(inspection_template::Column::Id.eq(id.as_uuid()))
        .in_shop(shop)
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    get(db, shop, id).await
}

pub async fn delete(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InspectionTemplateId,
) -> Result<bool, StoreError> {
    let res = Templates::delete_many()
        .filter(inspection_template::Column::Id.eq(id.as_uuid()))
        .in_shop(shop)
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
