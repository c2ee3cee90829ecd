//! Tickets and everything around them: customers, vehicles, services and
//! line items, vehicle statuses and their history, the timeline, comments,
//! notifications for the POS, the sync log, and outgoing messages.
//!
//! Every table is tenant-owned: `shop_id` leads each serving index, and the
//! POS's external ids are unique per shop only.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) fn a(name: &'static str) -> Alias {
    Alias::new(name)
}
pub(crate) fn ts(c: &'static str) -> ColumnDef {
    timestamp_with_time_zone(a(c))
}
pub(crate) fn ts_null(c: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(a(c))
}

/// `shop_id` with a cascading foreign key to `shops`.
pub(crate) fn shop_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_shop"))
        .from(a(table), a("shop_id"))
        .to(a("shops"), a("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

pub(crate) fn fk_to(
    table: &'static str,
    col: &'static str,
    target: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(a(table), a(col))
        .to(a(target), a("id"))
        .on_delete(on_delete)
        .to_owned()
}

pub(crate) fn index(
    name: &str,
    table: &'static str,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(a(table));
    for c in cols {
        i.col(a(c));
    }
    i.to_owned()
}

pub(crate) async fn table(
    m: &SchemaManager<'_>,
    name: &'static str,
    cols: Vec<ColumnDef>,
    fks: Vec<ForeignKeyCreateStatement>,
) -> Result<(), DbErr> {
    let mut t = Table::create();
    t.table(a(name));
    for mut c in cols {
        t.col(&mut c);
    }
    for mut f in fks {
        t.foreign_key(&mut f);
    }
    m.create_table(t.to_owned()).await
}

const TABLES: &[&str] = &[
    "pos_sync_events",
    "pos_notifications",
    "messages",
    "ticket_comments",
    "timeline_events",
    "status_changes",
    "line_items",
    "ticket_services",
    "tickets",
    "vehicle_statuses",
    "vehicles",
    "customers",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        // The shop's region and currency: phone numbers are read in the
        // region, money is in the currency's minor units.
        m.alter_table(
            Table::alter()
                .table(a("shops"))
                .add_column(string_len(a("country"), 2).default("US"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(a("shops"))
                .add_column(string_len(a("currency"), 3).default("USD"))
                .to_owned(),
        )
        .await?;

        table(
            m,
            "customers",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                string_len_null(a("external_id"), 100),
                string_len_null(a("first_name"), 100),
                string_len_null(a("last_name"), 100),
                string_len_null(a("phone"), 20),
                string_len_null(a("email"), 254),
                boolean(a("sms_opt_out")).default(false).to_owned(),
                boolean(a("email_opt_out")).default(false).to_owned(),
                ts_null("sms_consent_at"),
                uuid_null(a("merged_into")),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![shop_fk("customers")],
        )
        .await?;
        m.create_index(
            index(
                "ux_customers_shop_external",
                "customers",
                &["shop_id", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_customers_shop_phone",
            "customers",
            &["shop_id", "phone"],
        ))
        .await?;
        m.create_index(index(
            "ix_customers_shop_last_name",
            "customers",
            &["shop_id", "last_name"],
        ))
        .await?;

        table(
            m,
            "vehicles",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid_null(a("customer_id")),
                string_len_null(a("external_id"), 100),
                string_len_null(a("vin"), 17),
                integer_null(a("year")),
                string_len_null(a("make"), 60),
                string_len_null(a("model"), 60),
                string_len_null(a("plate"), 20),
                big_integer_null(a("mileage")),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("vehicles"),
                fk_to("vehicles", "customer_id", "customers", SetNull),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_vehicles_shop_external",
                "vehicles",
                &["shop_id", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_vehicles_shop_customer",
            "vehicles",
            &["shop_id", "customer_id"],
        ))
        .await?;

        table(
            m,
            "vehicle_statuses",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                integer(a("position")),
                string_len(a("label"), 60),
                string_len(a("color"), 7),
                boolean(a("notify_customer")),
                text(a("message_template")),
                string_len(a("timer_mode"), 20),
                integer_null(a("default_minutes")),
                ts_null("retired_at"),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![shop_fk("vehicle_statuses")],
        )
        .await?;
        m.create_index(index(
            "ix_vehicle_statuses_shop_position",
            "vehicle_statuses",
            &["shop_id", "position"],
        ))
        .await?;

        table(
            m,
            "tickets",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                string_len(a("external_id"), 100),
                string_len(a("kind"), 20),
                string_len(a("number"), 40),
                uuid_null(a("customer_id")),
                uuid_null(a("vehicle_id")),
                uuid_null(a("status_id")),
                ts_null("status_changed_at"),
                ts_null("status_due_at"),
                uuid_null(a("advisor_id")),
                uuid_null(a("technician_id")),
                integer(a("priority")).default(0).to_owned(),
                ts_null("promised_at"),
                boolean(a("closed")),
                // Parts per million: 8.25 % is 82,500.
                big_integer(a("tax_rate_ppm")),
                big_integer(a("subtotal")),
                big_integer(a("tax")),
                big_integer(a("total")),
                string_len(a("currency"), 3),
                ts("pos_updated_at"),
                // Bumped on every change the customer could see; approvals
                // name the version they saw.
                integer(a("version")),
                // Lower-case number, names, phone digits, plate and VIN.
                text(a("search_text")),
                ts_null("customer_replied_at"),
                ts_null("reply_read_at"),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("tickets"),
                fk_to("tickets", "customer_id", "customers", SetNull),
                fk_to("tickets", "vehicle_id", "vehicles", SetNull),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_tickets_shop_external",
                "tickets",
                &["shop_id", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_tickets_shop_closed_id",
            "tickets",
            &["shop_id", "closed", "id"],
        ))
        .await?;
        m.create_index(index(
            "ix_tickets_shop_customer",
            "tickets",
            &["shop_id", "customer_id"],
        ))
        .await?;
        m.create_index(index(
            "ix_tickets_shop_vehicle",
            "tickets",
            &["shop_id", "vehicle_id"],
        ))
        .await?;
        m.create_index(index(
            "ix_tickets_shop_technician",
            "tickets",
            &["shop_id", "technician_id"],
        ))
        .await?;

        table(
            m,
            "ticket_services",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                string_len(a("external_id"), 100),
                integer(a("position")),
                string_len(a("title"), 200),
                string_len(a("status"), 20),
                big_integer(a("subtotal")),
                big_integer(a("taxable_subtotal")),
                // Dropped by the POS but kept: an approval may name it.
                boolean(a("removed")).default(false).to_owned(),
            ],
            vec![
                shop_fk("ticket_services"),
                fk_to("ticket_services", "ticket_id", "tickets", Cascade),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_ticket_services_shop_ticket_external",
                "ticket_services",
                &["shop_id", "ticket_id", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        table(
            m,
            "line_items",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                uuid(a("service_id")),
                integer(a("position")),
                string_len(a("kind"), 10),
                string_len(a("description"), 300),
                // Thousandths: 1.5 hours of labour is 1,500.
                big_integer(a("quantity_milli")),
                big_integer(a("unit_price")),
                boolean(a("taxable")),
                big_integer(a("amount")),
            ],
            vec![
                shop_fk("line_items"),
                fk_to("line_items", "ticket_id", "tickets", Cascade),
                fk_to("line_items", "service_id", "ticket_services", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_line_items_shop_ticket",
            "line_items",
            &["shop_id", "ticket_id"],
        ))
        .await?;

        table(
            m,
            "status_changes",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                uuid_null(a("from_status_id")),
                uuid(a("to_status_id")),
                uuid_null(a("changed_by")),
                ts("created_at"),
            ],
            vec![
                shop_fk("status_changes"),
                fk_to("status_changes", "ticket_id", "tickets", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_status_changes_shop_ticket",
            "status_changes",
            &["shop_id", "ticket_id", "id"],
        ))
        .await?;

        table(
            m,
            "timeline_events",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                string_len(a("kind"), 40),
                string_len(a("actor_kind"), 20),
                uuid_null(a("actor_id")),
                string_len_null(a("actor_name"), 120),
                text(a("data")),
                ts("created_at"),
            ],
            vec![
                shop_fk("timeline_events"),
                fk_to("timeline_events", "ticket_id", "tickets", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_timeline_events_shop_ticket",
            "timeline_events",
            &["shop_id", "ticket_id", "id"],
        ))
        .await?;

        table(
            m,
            "ticket_comments",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                string_len(a("source"), 10),
                string_len_null(a("external_id"), 100),
                uuid_null(a("author_user_id")),
                string_len(a("author_name"), 120),
                text(a("body")),
                ts("created_at"),
            ],
            vec![
                shop_fk("ticket_comments"),
                fk_to("ticket_comments", "ticket_id", "tickets", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_ticket_comments_shop_ticket",
            "ticket_comments",
            &["shop_id", "ticket_id", "id"],
        ))
        .await?;
        m.create_index(
            index(
                "ux_ticket_comments_shop_external",
                "ticket_comments",
                &["shop_id", "ticket_id", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        table(
            m,
            "messages",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid_null(a("ticket_id")),
                uuid_null(a("customer_id")),
                string_len(a("channel"), 10),
                string_len(a("direction"), 10),
                string_len(a("to_address"), 254),
                text(a("body")),
                string_len(a("status"), 20),
                string_len_null(a("provider_id"), 100),
                string_len_null(a("error_code"), 40),
                text_null(a("error_message")),
                integer(a("attempts")).default(0).to_owned(),
                uuid_null(a("created_by")),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("messages"),
                fk_to("messages", "ticket_id", "tickets", SetNull),
                fk_to("messages", "customer_id", "customers", SetNull),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_messages_shop_ticket",
            "messages",
            &["shop_id", "ticket_id", "id"],
        ))
        .await?;

        table(
            m,
            "pos_notifications",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                string_len(a("kind"), 30),
                text(a("data")),
                ts("created_at"),
                ts_null("processed_at"),
            ],
            vec![
                shop_fk("pos_notifications"),
                fk_to("pos_notifications", "ticket_id", "tickets", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_pos_notifications_shop_processed",
            "pos_notifications",
            &["shop_id", "processed_at", "id"],
        ))
        .await?;

        table(
            m,
            "pos_sync_events",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                string_len(a("operation"), 40),
                string_len_null(a("external_id"), 100),
                string_len(a("outcome"), 20),
                text_null(a("errors")),
                text_null(a("payload")),
                ts("created_at"),
            ],
            vec![shop_fk("pos_sync_events")],
        )
        .await?;
        m.create_index(index(
            "ix_pos_sync_events_shop_id",
            "pos_sync_events",
            &["shop_id", "id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(a(t)).if_exists().to_owned())
                .await?;
        }
        for c in ["currency", "country"] {
            m.alter_table(
                Table::alter()
                    .table(a("shops"))
                    .drop_column(a(c))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
