use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: Uuid,
    pub qualification_minutes: Option<i32>,
    pub parts_minutes: Option<i32>,
    pub approval_reminder_minutes: Option<i32>,
    /// JSON object: stage name → the vehicle status id that stage sets.
    pub stage_statuses: String,
    /// E-mail the staff a hand-off concerns.
    pub handoff_emails: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
