//! Indexes for two lookups that read a whole shop's rows without them: a
//! POS push finding its vehicle by VIN (when the POS sends no vehicle id
//! Pitwall knows), and an approval reading the findings behind the
//! services decided (also what clearing a finding's service on delete
//! needs). Both grew with the shop, not with the request.

use sea_orm_migration::prelude::*;

use crate::m20261124_000002_tickets::{a, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str, [&str; 2]); 2] = [
    ("ix_vehicles_shop_vin", "vehicles", ["shop_id", "vin"]),
    (
        "ix_inspection_findings_shop_service",
        "inspection_findings",
        ["shop_id", "service_id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            m.create_index(index(name, table, &cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            m.drop_index(Index::drop().name(name).table(a(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
