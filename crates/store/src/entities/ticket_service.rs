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
    /// The technician says the position needs parts; `parts_status` then
    /// says where they stand (`needed`, `ordered`, `received`).
    pub parts_needed: bool,
    pub parts_status: Option<String>,
    /// The advisor's words for the customer.
    pub customer_note: Option<String>,
    /// For the shop only (parts and the advisor).
    pub internal_note: Option<String>,
    /// The advisor qualified it for the customer.
    pub ready: bool,
    pub done_at: Option<DateTimeUtc>,
    pub done_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
