//! Billing through Stripe: each shop's subscription as Stripe last told us
//! (`shop_billing`, one row per shop), every webhook event received, once
//! by id, with its processing result (`stripe_events`), admin edits of the
//! plan ↔ Stripe Price map over the configured one (`stripe_prices`), each
//! plan's SMS overage rule (`plan_billing`), and the overage reported to
//! Stripe per message (`sms_overage_reports`, so a retried job reports once).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, index, shop_fk, table, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "sms_overage_reports",
    "plan_billing",
    "stripe_prices",
    "stripe_events",
    "shop_billing",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        table(
            m,
            "shop_billing",
            vec![
                uuid(a("shop_id")).primary_key().to_owned(),
                string_len_null(a("stripe_customer_id"), 255),
                string_len_null(a("stripe_subscription_id"), 255),
                // Stripe's subscription status, as last read from Stripe.
                string_len_null(a("status"), 32),
                string_len_null(a("price_id"), 255),
                string_len_null(a("billing_interval"), 16),
                ts_null("current_period_end"),
                boolean(a("cancel_at_period_end")).default(false).to_owned(),
                ts_null("trial_end"),
                // When this past-due episode began (the grace counts from it)
                // and when the owner was told.
                ts_null("past_due_since"),
                ts_null("past_due_notified_at"),
                // A comp plan set by support: Stripe events leave plan and
                // lifecycle alone.
                boolean(a("comp")).default(false).to_owned(),
                text_null(a("comp_reason")),
                string_len_null(a("last_event_id"), 255),
                ts("updated_at"),
            ],
            vec![shop_fk("shop_billing")],
        )
        .await?;
        // A webhook names only Stripe's customer: one shop per customer.
        m.create_index(
            index(
                "ux_shop_billing_customer",
                "shop_billing",
                &["stripe_customer_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        table(
            m,
            "stripe_events",
            vec![
                string_len(a("id"), 255).primary_key().to_owned(),
                string_len(a("event_type"), 100),
                // Found when the event is processed (customer or metadata).
                uuid_null(a("shop_id")),
                string_len_null(a("object_id"), 255),
                ts("received_at"),
                ts_null("processed_at"),
                // applied, ignored, no_shop, failed
                string_len_null(a("result"), 20),
                text_null(a("detail")),
                integer(a("attempts")).default(0).to_owned(),
            ],
            vec![],
        )
        .await?;
        m.create_index(
            index(
                "ix_stripe_events_shop_received",
                "stripe_events",
                &["shop_id", "received_at"],
            )
            .to_owned(),
        )
        .await?;

        table(
            m,
            "stripe_prices",
            vec![
                string_len(a("plan_code"), 40),
                string_len(a("billing_interval"), 16),
                // Empty: the configured price is switched off.
                string_len(a("price_id"), 255),
                uuid_null(a("updated_by")),
                ts("updated_at"),
            ],
            vec![],
        )
        .await?;
        m.create_index(
            index(
                "ux_stripe_prices_plan_interval",
                "stripe_prices",
                &["plan_code", "billing_interval"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        table(
            m,
            "plan_billing",
            vec![
                string_len(a("plan_code"), 40).primary_key().to_owned(),
                // stop | report
                string_len(a("sms_overage"), 10).default("stop").to_owned(),
                ts("updated_at"),
            ],
            vec![],
        )
        .await?;

        table(
            m,
            "sms_overage_reports",
            vec![
                uuid(a("message_id")).primary_key().to_owned(),
                uuid(a("shop_id")),
                big_integer(a("segments")),
                ts("created_at"),
                ts_null("reported_at"),
            ],
            vec![shop_fk("sms_overage_reports")],
        )
        .await?;
        m.create_index(
            index(
                "ix_sms_overage_reports_shop",
                "sms_overage_reports",
                &["shop_id", "created_at"],
            )
            .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(a(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
