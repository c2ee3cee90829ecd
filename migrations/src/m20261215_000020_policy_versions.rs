//! Which shop each permission-policy change concerns. A change still bumps
//! the one `authz_state.version` every node polls; the changed shop now
//! carries that version too, so a node drops only that shop's loaded policy
//! instead of reloading every shop's rules.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(a("shops"))
                .add_column(big_integer(a("policy_version")).default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_shops_policy_version")
                .table(a("shops"))
                .col(a("policy_version"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_shops_policy_version")
                .table(a("shops"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(a("shops"))
                .drop_column(a("policy_version"))
                .to_owned(),
        )
        .await
    }
}
