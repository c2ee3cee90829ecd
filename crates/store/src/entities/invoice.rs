use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub seq: i32,
    pub number: String,
    pub ticket_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub customer_name: String,
    /// See `pitwall_domain::invoices::InvoiceStatus`.
    pub status: String,
    /// JSON array of `pitwall_domain::invoices::InvoicePosition`.
    pub positions: String,
    pub subtotal: i64,
    pub tax_rate_ppm: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    pub hash: String,
    pub cancel_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub sent_at: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub booked_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub reminded_at: Option<DateTimeUtc>,
    pub version: i32,
    /// Who signed for the vehicle at the counter.
    pub picked_up_by: Option<String>,
    pub pickup_signature: Option<String>,
    pub picked_up_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
