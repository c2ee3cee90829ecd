//! The plan catalogue and per-shop feature overrides.

use pitwall_domain::{Feature, ShopId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::OnConflict,
};

use crate::entities::{feature_override, plan};
use crate::{InShop, StoreError, now};

pub use feature_override::Model as FeatureOverride;
pub use plan::Model as PlanRow;

/// A plan as the code uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub monthly_price_cents: i64,
    pub position: i32,
    pub features: Vec<Feature>,
    pub max_users: Option<i32>,
    pub sms_per_month: Option<i32>,
    pub max_locations: Option<i32>,
    pub media_mb: Option<i32>,
}

impl TryFrom<PlanRow> for Plan {
    type Error = StoreError;
    fn try_from(row: PlanRow) -> Result<Self, StoreError> {
        let names: Vec<String> = serde_json::from_str(&row.features)
            .map_err(|e| StoreError::Corrupt(format!("plan {} features: {e}", row.code)))?;
        // A feature name this binary does not know (written by a newer
        // version) is skipped rather than failing every request.
        let features = names.iter().filter_map(|n| Feature::parse(n)).collect();
        Ok(Plan {
            code: row.code,
            name: row.name,
            monthly_price_cents: row.monthly_price_cents,
            position: row.position,
            features,
            max_users: row.max_users,
            sms_per_month: row.sms_per_month,
            max_locations: row.max_locations,
            media_mb: row.media_mb,
        })
    }
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Plan>, StoreError> {
    plan::Entity::find()
        .order_by_asc(plan::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(Plan::try_from)
        .collect()
}

pub async fn get(db: &impl ConnectionTrait, code: &str) -> Result<Option<Plan>, StoreError> {
    plan::Entity::find_by_id(code.to_owned())
        .one(db)
        .await?
        .map(Plan::try_from)
        .transpose()
}

pub async fn update(db: &impl ConnectionTrait, p: &Plan) -> Result<Option<Plan>, StoreError> {
    let Some(row) = plan::Entity::find_by_id(p.code.clone()).one(db).await? else {
        return Ok(None);
    };
    let names: Vec<&str> = p.features.iter().map(|f| f.as_str()).collect();
    let mut am: plan::ActiveModel = row.into();
    am.name = Set(p.name.clone());
    am.monthly_price_cents = Set(p.monthly_price_cents);
    am.features = Set(serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()));
    am.max_users = Set(p.max_users);
    am.sms_per_month = Set(p.sms_per_month);
    am.max_locations = Set(p.max_locations);
    am.media_mb = Set(p.media_mb);
    am.updated_at = Set(now());
    Plan::try_from(am.update(db).await?).map(Some)
}

pub async fn overrides(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Vec<FeatureOverride>, StoreError> {
    Ok(feature_override::Entity::find()
        .in_shop(shop)
        .order_by_asc(feature_override::Column::Feature)
        .all(db)
        .await?)
}

pub async fn set_override(
    db: &impl ConnectionTrait,
    shop: ShopId,
    feature: Feature,
    enabled: bool,
    reason: &str,
    set_by: Option<UserId>,
) -> Result<(), StoreError> {
    let row = feature_override::ActiveModel {
        shop_id: Set(shop.as_uuid()),
        feature: Set(feature.as_str().to_owned()),
        enabled: Set(enabled),
        reason: Set(reason.to_owned()),
        set_by: Set(set_by.map(|u| u.as_uuid())),
        updated_at: Set(now()),
    };
    feature_override::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                feature_override::Column::ShopId,
                feature_override::Column::Feature,
            ])
            .update_columns([
                feature_override::Column::Enabled,
                feature_override::Column::Reason,
                feature_override::Column::SetBy,
                feature_override::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn clear_override(
    db: &impl ConnectionTrait,
    shop: ShopId,
    feature: Feature,
) -> Result<bool, StoreError> {
    let res = feature_override::Entity::delete_many()
        .in_shop(shop)
        .filter(feature_override::Column::Feature.eq(feature.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
