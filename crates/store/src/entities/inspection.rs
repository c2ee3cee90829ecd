use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub ticket_id: Uuid,
    pub template_id: Option<Uuid>,
    pub name: String,
    /// The sheet as it was when the inspection started (JSON).
    pub sheet: String,
    /// `in_progress`, `submitted`, `returned` or `published`.
    pub status: String,
    /// Bumped by every change, findings included.
    pub version: i32,
    pub created_by: Option<Uuid>,
    pub returned_reason: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub published_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
