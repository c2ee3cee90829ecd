//! Files sent with a customer e-mail (the invoice's PDF), written in the
//! transaction that queues the message, so the worker always finds them,
//! and kept as sent.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        table(
            m,
            "message_attachments",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("message_id")),
                string_len(a("file_name"), 255),
                string_len(a("content_type"), 100),
                blob(a("content")),
                ts("created_at"),
            ],
            vec![
                shop_fk("message_attachments"),
                fk_to("message_attachments", "message_id", "messages", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_message_attachments_shop_message",
            "message_attachments",
            &["shop_id", "message_id"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("message_attachments")).to_owned())
            .await
    }
}
