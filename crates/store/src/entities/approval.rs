use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approvals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub ticket_id: Uuid,
    pub seq: i32,
    pub method: String,
    pub link_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
    pub staff_name: Option<String>,
    pub signer_name: String,
    pub signature: Option<String>,
    /// JSON: the approved services as the customer saw them.
    pub approved: String,
    /// JSON: the declined services as the customer saw them.
    pub declined: String,
    pub approved_total: i64,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    pub ticket_version: i32,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub prev_hash: Option<String>,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
