//! The repair-order workflow: a ticket's staff-only `stage` with the time it
//! was entered, the history of every move (who, when, from, to, why), each
//! position's parts, notes, readiness and completion, and a shop's
//! workflow settings (per-stage time targets, the vehicle status each
//! stage sets). Pro and Premium include the feature.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};
use crate::m20261126_000004_customer_links::{add_columns, add_plan_features};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PLAN_FEATURES: &[(&str, &str)] = &[("pro", "repair_orders"), ("premium", "repair_orders")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        // Every ticket already here starts where a new one does.
        add_columns(
            m,
            "tickets",
            vec![
                string_len(a("stage"), 20).default("inspection").to_owned(),
                ts_null("stage_changed_at"),
                // The one reminder of an approval request went out (for the
                // request made when the stage was last entered).
                ts_null("approval_reminded_at"),
            ],
        )
        .await?;
        // A position's way through the workshop: parts needed and where
        // they stand, the advisor's customer text and the shop's internal
        // note, ready for the customer, done by the technician.
        add_columns(
            m,
            "ticket_services",
            vec![
                boolean(a("parts_needed")).default(false).to_owned(),
                string_len_null(a("parts_status"), 20),
                text_null(a("customer_note")),
                text_null(a("internal_note")),
                boolean(a("ready")).default(false).to_owned(),
                ts_null("done_at"),
                uuid_null(a("done_by")),
            ],
        )
        .await?;
        add_columns(m, "line_items", vec![string_len_null(a("part_number"), 60)]).await?;
        table(
            m,
            "stage_changes",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                string_len(a("from_stage"), 20),
                string_len(a("to_stage"), 20),
                string_len_null(a("reason"), 500),
                // `staff`, `customer` or `system`; the staff member when staff.
                string_len(a("actor_kind"), 20),
                uuid_null(a("changed_by")),
                string_len_null(a("actor_name"), 200),
                ts("created_at"),
            ],
            vec![
                shop_fk("stage_changes"),
                fk_to("stage_changes", "ticket_id", "tickets", Cascade),
                fk_to("stage_changes", "changed_by", "users", SetNull),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_stage_changes_shop_ticket",
            "stage_changes",
            &["shop_id", "ticket_id", "created_at"],
        ))
        .await?;
        // The work queues read open tickets by stage.
        m.create_index(index(
            "ix_tickets_shop_stage",
            "tickets",
            &["shop_id", "stage", "stage_changed_at"],
        ))
        .await?;
        table(
            m,
            "workflow_settings",
            vec![
                pk_uuid(a("shop_id")),
                integer_null(a("qualification_minutes")),
                integer_null(a("parts_minutes")),
                integer_null(a("approval_reminder_minutes")),
                // JSON object: stage name → vehicle status id the stage sets.
                text(a("stage_statuses")).default("{}").to_owned(),
                ts("updated_at"),
            ],
            vec![shop_fk("workflow_settings")],
        )
        .await?;
        add_plan_features(m, PLAN_FEATURES).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("workflow_settings")).to_owned())
            .await?;
        m.drop_table(Table::drop().table(a("stage_changes")).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("ix_tickets_shop_stage")
                .table(a("tickets"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(a("line_items"))
                .drop_column(a("part_number"))
                .to_owned(),
        )
        .await?;
        for c in [
            "done_by",
            "done_at",
            "ready",
            "internal_note",
            "customer_note",
            "parts_status",
            "parts_needed",
        ] {
            m.alter_table(
                Table::alter()
                    .table(a("ticket_services"))
                    .drop_column(a(c))
                    .to_owned(),
            )
            .await?;
        }
        for c in ["approval_reminded_at", "stage_changed_at", "stage"] {
            m.alter_table(
                Table::alter()
                    .table(a("tickets"))
                    .drop_column(a(c))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
