//! Inspections: a ticket's inspection keeps its own copy of the sheet it
//! was started from, and one row per finding, so that two devices rating
//! different items of one inspection never overwrite each other. Services
//! learn where they came from: one Pitwall created from a finding is not
//! dropped by a POS push that does not know it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        table(
            m,
            "inspections",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                uuid_null(a("template_id")),
                string_len(a("name"), 120),
                // The sheet as it was when the inspection started.
                text(a("sheet")),
                string_len(a("status"), 20),
                integer(a("version")).default(1).to_owned(),
                uuid_null(a("created_by")),
                text_null(a("returned_reason")),
                ts_null("submitted_at"),
                ts_null("published_at"),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("inspections"),
                fk_to("inspections", "ticket_id", "tickets", Cascade),
                fk_to(
                    "inspections",
                    "template_id",
                    "inspection_templates",
                    SetNull,
                ),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_inspections_shop_ticket",
            "inspections",
            &["shop_id", "ticket_id", "created_at"],
        ))
        .await?;

        table(
            m,
            "inspection_findings",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("inspection_id")),
                string_len(a("item_key"), 40),
                integer(a("position")),
                string_len(a("condition"), 20)
                    .default("not_checked")
                    .to_owned(),
                text_null(a("measurement")),
                text_null(a("note")),
                text_null(a("customer_note")),
                uuid_null(a("service_id")),
                uuid_null(a("updated_by")),
                ts("updated_at"),
            ],
            vec![
                shop_fk("inspection_findings"),
                fk_to(
                    "inspection_findings",
                    "inspection_id",
                    "inspections",
                    Cascade,
                ),
                fk_to(
                    "inspection_findings",
                    "service_id",
                    "ticket_services",
                    SetNull,
                ),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_inspection_findings_shop_inspection_key",
                "inspection_findings",
                &["shop_id", "inspection_id", "item_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        // `pos` for services the POS sent; `pitwall` for those made here
        // (from a finding), which a push leaves alone until the POS sends
        // the service itself.
        m.alter_table(
            Table::alter()
                .table(a("ticket_services"))
                .add_column(string_len(a("source"), 10).default("pos"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["inspection_findings", "inspections"] {
            m.drop_table(Table::drop().table(a(t)).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(a("ticket_services"))
                .drop_column(a("source"))
                .to_owned(),
        )
        .await
    }
}
