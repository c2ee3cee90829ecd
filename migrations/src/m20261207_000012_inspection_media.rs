//! `inspection_media`: the photos and videos of findings. The files live in
//! the media store (a folder or S3) under `shops/{shop}/media/{id}/…`; a
//! row exists only for files whose upload finished, and a file with no row
//! (a crash between the two) is swept away later. `plans.media_mb` is the
//! plan's quota for them (null: unlimited).

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
            "inspection_media",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("inspection_id")),
                uuid(a("finding_id")),
                string_len(a("content_type"), 40),
                // The original as stored (metadata removed).
                big_integer(a("bytes")),
                // Original and copies: what counts against the quota.
                big_integer(a("stored_bytes")),
                integer_null(a("width")),
                integer_null(a("height")),
                // A thumbnail and a screen-sized copy exist.
                boolean(a("has_copies")),
                uuid_null(a("created_by")),
                ts("created_at"),
            ],
            vec![
                shop_fk("inspection_media"),
                fk_to("inspection_media", "inspection_id", "inspections", Cascade),
                fk_to(
                    "inspection_media",
                    "finding_id",
                    "inspection_findings",
                    Cascade,
                ),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_inspection_media_shop_inspection",
            "inspection_media",
            &["shop_id", "inspection_id", "created_at"],
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table(a("plans"))
                .add_column(integer_null(a("media_mb")))
                .to_owned(),
        )
        .await?;
        // Premium sells inspections: 20 GB of photos and video to start.
        m.get_connection()
            .execute_unprepared("UPDATE plans SET media_mb = 20480 WHERE code = 'premium'")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(a("plans"))
                .drop_column(a("media_mb"))
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(a("inspection_media")).to_owned())
            .await
    }
}
