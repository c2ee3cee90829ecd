//! Request counts per client and minute that every node of a fleet shares
//! (customer-link lookups), so a limit holds across API nodes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("rate_windows"))
                .col(string_len(a("bucket"), 200))
                .col(big_integer(a("window_start")))
                .col(integer(a("hits")))
                .primary_key(Index::create().col(a("bucket")).col(a("window_start")))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("rate_windows")).to_owned())
            .await
    }
}
