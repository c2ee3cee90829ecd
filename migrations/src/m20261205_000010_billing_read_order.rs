//! `shop_billing.state_read_at`: when Pitwall began the read from Stripe
//! whose subscription state the row holds.
//!
//! Each Stripe event is applied by re-reading its subscription, and two
//! events of one shop can be processed at once. A read that began earlier
//! may finish later; without this column its older state would overwrite
//! the newer one (a downgrade undone by the checkout that preceded it).

use sea_orm_migration::{prelude::*, schema::timestamp_with_time_zone_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000010_billing_read_order"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("shop_billing"))
                .add_column(timestamp_with_time_zone_null(Alias::new("state_read_at")))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("shop_billing"))
                .drop_column(Alias::new("state_read_at"))
                .to_owned(),
        )
        .await
    }
}
