//! Whether a shop e-mails its staff when work is handed to them (a ticket
//! to qualify, parts to price, approved work to do).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(a("workflow_settings"))
                .add_column(boolean(a("handoff_emails")).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(a("workflow_settings"))
                .drop_column(a("handoff_emails"))
                .to_owned(),
        )
        .await
    }
}
