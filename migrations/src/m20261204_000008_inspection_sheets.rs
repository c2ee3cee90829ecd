//! Inspection sheets: a shop's templates for digital vehicle inspections.
//! A sheet is one JSON document (sections of items, see
//! `pitwall_domain::inspections`), edited and exported as a whole. Every
//! shop that exists now gets the built-in multi-point sheet, as new shops
//! do when they are created.

use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, index, shop_fk, table, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

pub const MULTIPOINT_NAME: &str = "Multi-point inspection";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        table(
            m,
            "inspection_templates",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                string_len(a("name"), 120),
                text(a("sheet")),
                integer(a("item_count")),
                integer(a("version")).default(1).to_owned(),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![shop_fk("inspection_templates")],
        )
        .await?;
        m.create_index(index(
            "ix_inspection_templates_shop",
            "inspection_templates",
            &["shop_id", "name"],
        ))
        .await?;

        let db = m.get_connection();
        let backend = m.get_database_backend();
        let sheet = pitwall_domain::inspections::multipoint();
        let json = sheet.to_json();
        let count = sheet.item_count() as i32;
        let now = chrono::Utc::now();
        let shops = db
            .query_all_raw(Statement::from_string(backend, "SELECT id FROM shops"))
            .await?;
        for row in shops {
            let shop: uuid::Uuid = row.try_get("", "id")?;
            let insert = Query::insert()
                .into_table(a("inspection_templates"))
                .columns([
                    a("id"),
                    a("shop_id"),
                    a("name"),
                    a("sheet"),
                    a("item_count"),
                    a("version"),
                    a("created_at"),
                    a("updated_at"),
                ])
                .values_panic([
                    uuid::Uuid::new_v4().into(),
                    shop.into(),
                    MULTIPOINT_NAME.into(),
                    json.clone().into(),
                    count.into(),
                    1.into(),
                    now.into(),
                    now.into(),
                ])
                .to_owned();
            m.exec_stmt(insert).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("inspection_templates")).to_owned())
            .await
    }
}
