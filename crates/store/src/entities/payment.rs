use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub invoice_id: Uuid,
    pub payment_intent_id: String,
    pub stripe_account_id: Option<String>,
    pub stripe_session_id: String,
    pub amount: i64,
    /// The platform's fee taken from it (minor units).
    pub fee: i64,
    pub currency: String,
    pub refunded: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
