use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_prices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub plan_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub billing_interval: String,
    pub price_id: String,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
