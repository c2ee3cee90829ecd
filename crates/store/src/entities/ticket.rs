use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub external_id: String,
    pub kind: String,
    pub number: String,
    pub customer_id: Option<Uuid>,
    pub vehicle_id: Option<Uuid>,
    pub status_id: Option<Uuid>,
    pub status_changed_at: Option<DateTimeUtc>,
    pub status_due_at: Option<DateTimeUtc>,
    pub advisor_id: Option<Uuid>,
    pub technician_id: Option<Uuid>,
    pub priority: i32,
    pub promised_at: Option<DateTimeUtc>,
    pub closed: bool,
    pub tax_rate_ppm: i64,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    pub pos_updated_at: DateTimeUtc,
    pub version: i32,
    pub search_text: String,
    pub customer_replied_at: Option<DateTimeUtc>,
    pub reply_read_at: Option<DateTimeUtc>,
    pub approved_at: Option<DateTimeUtc>,
    pub approval_seen_at: Option<DateTimeUtc>,
    /// The repair-order stage (staff only); see `pitwall_domain::workflow`.
    pub stage: String,
    pub stage_changed_at: Option<DateTimeUtc>,
    pub approval_reminded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
