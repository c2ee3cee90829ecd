use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_billing")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: Uuid,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub status: Option<String>,
    pub price_id: Option<String>,
    pub billing_interval: Option<String>,
    pub current_period_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<DateTimeUtc>,
    pub past_due_since: Option<DateTimeUtc>,
    pub past_due_notified_at: Option<DateTimeUtc>,
    pub comp: bool,
    pub comp_reason: Option<String>,
    pub last_event_id: Option<String>,
    pub state_read_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
