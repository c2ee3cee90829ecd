//! Invoices uploaded to be read by OCR: the file (kept in the media store),
//! where its reading stands, what was read, and the invoice staff made from
//! it once they confirmed the fields (at most one).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::SetNull;
        table(
            m,
            "invoice_uploads",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                string_len_null(a("file_name"), 255),
                string_len(a("content_type"), 40),
                big_integer(a("bytes")),
                // `queued`, `done`, `failed`, `unavailable`.
                string_len(a("ocr_status"), 20),
                integer_null(a("pages")),
                text_null(a("ocr_text")),
                // JSON: the fields read, each {"value","confidence"}.
                text_null(a("fields")),
                text_null(a("error")),
                // How long the reading took, for the operator and the bench.
                big_integer_null(a("ocr_ms")),
                // The customer the phone (or e-mail) read belongs to.
                uuid_null(a("customer_id")),
                // The invoice made from it, once confirmed.
                uuid_null(a("invoice_id")),
                uuid_null(a("created_by")),
                ts("created_at"),
                ts_null("read_at"),
            ],
            vec![
                shop_fk("invoice_uploads"),
                fk_to("invoice_uploads", "invoice_id", "invoices", SetNull),
                fk_to("invoice_uploads", "customer_id", "customers", SetNull),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_invoice_uploads_shop_created",
            "invoice_uploads",
            &["shop_id", "created_at"],
        ))
        .await?;
        // One invoice per upload, and one upload per invoice.
        m.create_index(
            index(
                "ux_invoice_uploads_invoice",
                "invoice_uploads",
                &["invoice_id"],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("invoice_uploads")).to_owned())
            .await
    }
}
