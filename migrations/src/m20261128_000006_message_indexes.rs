//! Indexes of `messages` that match the queries that use them.
//!
//! - `ix_messages_shop_channel_created` served counting a month's texts;
//!   the `sms_usage` counter took that over, and the index only cost every
//!   message insert an entry.
//! - An inbound text to a shared number is routed to the shop that last
//!   texted that customer from that number (`shop_last_texting`): without an
//!   index that was a scan of every shop's messages.
//! - Only sent messages have a provider id; queued ones no longer enter the
//!   receipt index.
//!
//! The partial index is written as SQL both databases accept.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000006_message_indexes"
    }
}

const UP: &[&str] = &[
    "DROP INDEX IF EXISTS ix_messages_shop_channel_created",
    "DROP INDEX IF EXISTS ix_messages_provider_id",
    "CREATE INDEX ix_messages_provider_id ON messages (provider_id) \
     WHERE provider_id IS NOT NULL",
    "CREATE INDEX ix_messages_route ON messages (to_address, from_address, id)",
];

const DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS ix_messages_route",
    "DROP INDEX IF EXISTS ix_messages_provider_id",
    "CREATE INDEX ix_messages_provider_id ON messages (provider_id)",
    "CREATE INDEX ix_messages_shop_channel_created ON messages (shop_id, channel, created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One connection for all statements on SQLite too: without a
    /// transaction each statement may take another pooled connection, whose
    /// cached schema can still hold the index just dropped.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            m.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            m.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
