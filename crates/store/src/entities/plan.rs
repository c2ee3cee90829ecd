use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub monthly_price_cents: i64,
    pub position: i32,
    /// JSON array of feature names.
    pub features: String,
    pub max_users: Option<i32>,
    pub sms_per_month: Option<i32>,
    pub max_locations: Option<i32>,
    /// Photos and videos of inspections, in megabytes.
    pub media_mb: Option<i32>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
