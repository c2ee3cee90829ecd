//! How many times the reader has tried an uploaded invoice: after the last
//! try it is recorded as failed instead of staying queued for ever.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(a("invoice_uploads"))
                .add_column(integer(a("attempts")).default(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(a("invoice_uploads"))
                .drop_column(a("attempts"))
                .to_owned(),
        )
        .await
    }
}
