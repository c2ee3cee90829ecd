use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub channel: String,
    pub direction: String,
    pub to_address: String,
    pub body: String,
    /// The text as it goes out when it differs from `body` (it carries a
    /// customer link, masked in `body`); cleared once sent.
    pub outgoing_body: Option<String>,
    pub status: String,
    pub provider_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub created_by: Option<Uuid>,
    pub kind: String,
    pub subject: Option<String>,
    pub from_address: Option<String>,
    pub segments: i32,
    pub held_until: Option<DateTimeUtc>,
    pub hold_reason: Option<String>,
    pub claimed_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
