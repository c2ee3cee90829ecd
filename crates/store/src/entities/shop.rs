use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shops")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan_code: String,
    pub lifecycle: String,
    pub trial_ends_at: Option<DateTimeUtc>,
    pub time_zone: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub hours: Option<String>,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub country: String,
    pub currency: String,
    pub sms_from: Option<String>,
    pub quiet_hours_start: Option<i32>,
    pub quiet_hours_end: Option<i32>,
    pub require_sms_consent: bool,
    pub link_ttl_hours: i32,
    pub locale: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
