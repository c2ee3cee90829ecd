use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspection_media")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub inspection_id: Uuid,
    pub finding_id: Uuid,
    pub content_type: String,
    /// The original as stored (metadata removed).
    pub bytes: i64,
    /// Original and copies: what counts against the plan's quota.
    pub stored_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// A thumbnail and a screen-sized copy exist.
    pub has_copies: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
