//! A shop's own sender number belongs to that shop alone, and a customer
//! link is kept out of stored message text.
//!
//! - `ux_shops_sms_from`: two shops with one number would each receive the
//!   other's customers' replies and STOP keywords. Numbers held by more than
//!   one shop are cleared first (no one can tell which shop owns them); those
//!   shops send from the platform's shared number until support assigns
//!   theirs again in the admin console.
//! - `messages.outgoing_body`: the text as it goes out when it differs from
//!   the stored `body` (a customer link, stored masked in `body`). The
//!   worker sends it and clears it once the message is sent.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000007_sender_numbers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE shops SET sms_from = NULL WHERE sms_from IN \
             (SELECT sms_from FROM shops WHERE sms_from IS NOT NULL \
              GROUP BY sms_from HAVING COUNT(*) > 1)",
        )
        .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX ux_shops_sms_from ON shops (sms_from)")
            .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("messages"))
                .add_column(ColumnDef::new(Alias::new("outgoing_body")).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("messages"))
                .drop_column(Alias::new("outgoing_body"))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ux_shops_sms_from")
            .await?;
        Ok(())
    }
}
