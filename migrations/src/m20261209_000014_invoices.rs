//! Invoice cases: what a customer is asked to pay, frozen and hashed when
//! the case is made (positions, tax, total), numbered per shop, and the
//! moments the case moved (sent, paid, delivered, booked, closed).
//! Premium includes reading uploaded invoices (`invoice_ocr`).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};
use crate::m20261126_000004_customer_links::add_plan_features;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PLAN_FEATURES: &[(&str, &str)] = &[("premium", "invoice_ocr")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        table(
            m,
            "invoices",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                // Per shop, from 1: the number is made from it.
                integer(a("seq")),
                string_len(a("number"), 30),
                uuid_null(a("ticket_id")),
                uuid_null(a("customer_id")),
                string_len(a("customer_name"), 200),
                string_len(a("status"), 20),
                // JSON array of the positions as billed, hashed as stored.
                text(a("positions")),
                big_integer(a("subtotal")),
                big_integer(a("tax_rate_ppm")),
                big_integer(a("tax")),
                big_integer(a("total")),
                string_len(a("currency"), 3),
                string_len(a("hash"), 64),
                string_len_null(a("cancel_reason"), 500),
                uuid_null(a("created_by")),
                ts_null("sent_at"),
                ts_null("paid_at"),
                ts_null("delivered_at"),
                ts_null("booked_at"),
                ts_null("closed_at"),
                // The one reminder of an unpaid invoice went out.
                ts_null("reminded_at"),
                integer(a("version")).default(1).to_owned(),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("invoices"),
                fk_to("invoices", "ticket_id", "tickets", Cascade),
                fk_to("invoices", "customer_id", "customers", SetNull),
                fk_to("invoices", "created_by", "users", SetNull),
            ],
        )
        .await?;
        m.create_index(
            index("ux_invoices_shop_seq", "invoices", &["shop_id", "seq"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_invoices_shop_status",
            "invoices",
            &["shop_id", "status", "created_at"],
        ))
        .await?;
        m.create_index(index(
            "ix_invoices_shop_ticket",
            "invoices",
            &["shop_id", "ticket_id"],
        ))
        .await?;
        add_plan_features(m, PLAN_FEATURES).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("invoices")).to_owned())
            .await
    }
}
