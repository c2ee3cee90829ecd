use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub ticket_id: Uuid,
    pub external_id: String,
    pub position: i32,
    pub title: String,
    pub status: String,
    pub subtotal: i64,
    pub taxable_subtotal: i64,
    pub removed: bool,
    /// `pos`, or `pitwall` for a service made here (from an inspection
    /// finding) that the POS has not sent yet.
    pub source: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
