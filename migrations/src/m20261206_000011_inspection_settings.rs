//! `inspection_settings`: a shop's rules for inspections. For now the
//! vehicle status to set when an inspection is published ("Inspection
//! complete"); statuses are retired, never deleted, and a deleted shop takes
//! its row with it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, shop_fk, table, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        table(
            m,
            "inspection_settings",
            vec![
                pk_uuid(a("shop_id")),
                uuid_null(a("status_on_publish")),
                ts("updated_at"),
            ],
            vec![
                shop_fk("inspection_settings"),
                fk_to(
                    "inspection_settings",
                    "status_on_publish",
                    "vehicle_statuses",
                    ForeignKeyAction::SetNull,
                ),
            ],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("inspection_settings")).to_owned())
            .await
    }
}
