//! Online payment of invoices into the shop's own Stripe account: the
//! shop's connected account, the Checkout sessions made for an invoice
//! (one per invoice and amount, reused while open), the payments received
//! (one per shop and payment intent, whatever Stripe repeats), and the
//! Connect events as received (stored once by id, applied by a job), and
//! when an unpaid invoice reminds the customer; and who signed for the
//! vehicle at pickup.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};
use crate::m20261126_000004_customer_links::add_columns;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        // Pickup at the counter: who signed for the vehicle, and when.
        add_columns(
            m,
            "invoices",
            vec![
                string_len_null(a("picked_up_by"), 120),
                text_null(a("pickup_signature")),
                ts_null("picked_up_at"),
            ],
        )
        .await?;
        table(
            m,
            "payment_accounts",
            vec![
                pk_uuid(a("shop_id")),
                string_len(a("stripe_account_id"), 255),
                boolean(a("charges_enabled")).default(false).to_owned(),
                boolean(a("details_submitted")).default(false).to_owned(),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![shop_fk("payment_accounts")],
        )
        .await?;
        m.create_index(
            index(
                "ux_payment_accounts_stripe",
                "payment_accounts",
                &["stripe_account_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        table(
            m,
            "payment_sessions",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("invoice_id")),
                string_len(a("stripe_session_id"), 255),
                // None: the platform's own account.
                string_len_null(a("stripe_account_id"), 255),
                big_integer(a("amount")),
                string_len(a("currency"), 3),
                text(a("url")),
                string_len(a("status"), 20),
                ts("expires_at"),
                ts("created_at"),
            ],
            vec![
                shop_fk("payment_sessions"),
                fk_to("payment_sessions", "invoice_id", "invoices", Cascade),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_payment_sessions_stripe",
                "payment_sessions",
                &["stripe_session_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_payment_sessions_shop_invoice",
            "payment_sessions",
            &["shop_id", "invoice_id", "status"],
        ))
        .await?;
        table(
            m,
            "payments",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("invoice_id")),
                string_len(a("payment_intent_id"), 255),
                string_len_null(a("stripe_account_id"), 255),
                string_len(a("stripe_session_id"), 255),
                big_integer(a("amount")),
                big_integer(a("fee")),
                string_len(a("currency"), 3),
                big_integer(a("refunded")).default(0).to_owned(),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("payments"),
                fk_to("payments", "invoice_id", "invoices", Cascade),
            ],
        )
        .await?;
        // Paid exactly once, however often Stripe tells it.
        m.create_index(
            index(
                "ux_payments_shop_intent",
                "payments",
                &["shop_id", "payment_intent_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_payments_shop_invoice",
            "payments",
            &["shop_id", "invoice_id"],
        ))
        .await?;
        // When an unpaid invoice reminds the customer (none: never).
        table(
            m,
            "invoice_settings",
            vec![
                pk_uuid(a("shop_id")),
                integer_null(a("reminder_hours")),
                ts("updated_at"),
            ],
            vec![shop_fk("invoice_settings")],
        )
        .await?;
        table(
            m,
            "connect_events",
            vec![
                string_len(a("id"), 255).primary_key().to_owned(),
                string_len(a("event_type"), 100),
                // The connected account the event names; none on the
                // platform's own account.
                string_len_null(a("account_id"), 255),
                text(a("payload")),
                // `queued`, `applied`, `refused`, `ignored`.
                string_len(a("outcome"), 20),
                text_null(a("note")),
                integer(a("attempts")).default(0).to_owned(),
                ts("received_at"),
                ts_null("processed_at"),
            ],
            vec![],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "connect_events",
            "invoice_settings",
            "payments",
            "payment_sessions",
            "payment_accounts",
        ] {
            m.drop_table(Table::drop().table(a(t)).to_owned()).await?;
        }
        for c in ["picked_up_at", "pickup_signature", "picked_up_by"] {
            m.alter_table(
                Table::alter()
                    .table(a("invoices"))
                    .drop_column(a(c))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
