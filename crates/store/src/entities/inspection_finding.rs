use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspection_findings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub inspection_id: Uuid,
    pub item_key: String,
    /// The item's place in the sheet.
    pub position: i32,
    pub condition: String,
    /// JSON: a number, or an object of tire positions to tread depths.
    pub measurement: Option<String>,
    pub note: Option<String>,
    pub customer_note: Option<String>,
    pub service_id: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
