//! Messaging: delivery states and their times on each message, customer
//! threads (the inbox), consent and opt-out history, per-shop templates for
//! the non-status messages, per-sender send slots (the rate limit shared by
//! every worker process), and the shop's messaging settings.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "sms_usage",
    "sender_slots",
    "message_templates",
    "consent_events",
    "message_threads",
];

/// SQLite takes one new column per ALTER.
async fn add_columns(
    m: &SchemaManager<'_>,
    t: &'static str,
    cols: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for mut c in cols {
        m.alter_table(Table::alter().table(a(t)).add_column(&mut c).to_owned())
            .await?;
    }
    Ok(())
}

const SHOP_COLUMNS: &[&str] = &[
    "sms_from",
    "quiet_hours_start",
    "quiet_hours_end",
    "require_sms_consent",
];
const MESSAGE_COLUMNS: &[&str] = &[
    "kind",
    "subject",
    "from_address",
    "segments",
    "held_until",
    "hold_reason",
    "claimed_at",
    "sent_at",
    "delivered_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        // The shop's own sender number (E.164) and quiet hours in minutes
        // after local midnight; both empty means "platform default" and
        // "no quiet hours".
        add_columns(
            m,
            "shops",
            vec![
                string_len_null(a("sms_from"), 20),
                integer_null(a("quiet_hours_start")),
                integer_null(a("quiet_hours_end")),
                boolean(a("require_sms_consent")).default(false).to_owned(),
            ],
        )
        .await?;

        add_columns(
            m,
            "messages",
            vec![
                string_len(a("kind"), 20)
                    .default("status_update")
                    .to_owned(),
                text_null(a("subject")),
                string_len_null(a("from_address"), 254),
                integer(a("segments")).default(0).to_owned(),
                ts_null("held_until"),
                string_len_null(a("hold_reason"), 30),
                ts_null("claimed_at"),
                ts_null("sent_at"),
                ts_null("delivered_at"),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_messages_shop_customer",
            "messages",
            &["shop_id", "customer_id", "id"],
        ))
        .await?;
        // Monthly SMS usage: count a shop's outbound texts since a date.
        m.create_index(index(
            "ix_messages_shop_channel_created",
            "messages",
            &["shop_id", "channel", "created_at"],
        ))
        .await?;
        // Delivery receipts name only the provider's message id; the row
        // found tells which shop it belongs to.
        m.create_index(index(
            "ix_messages_provider_id",
            "messages",
            &["provider_id"],
        ))
        .await?;

        table(
            m,
            "message_threads",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("customer_id")),
                ts("last_message_at"),
                ts_null("last_inbound_at"),
                ts_null("unread_since"),
                uuid_null(a("assigned_to")),
                ts_null("done_at"),
                ts("created_at"),
                ts("updated_at"),
            ],
            vec![
                shop_fk("message_threads"),
                fk_to("message_threads", "customer_id", "customers", Cascade),
                fk_to("message_threads", "assigned_to", "users", SetNull),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_message_threads_shop_customer",
                "message_threads",
                &["shop_id", "customer_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_message_threads_shop_last",
            "message_threads",
            &["shop_id", "last_message_at"],
        ))
        .await?;

        table(
            m,
            "consent_events",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("customer_id")),
                string_len(a("channel"), 10),
                string_len(a("action"), 20),
                string_len(a("source"), 20),
                uuid_null(a("actor_id")),
                text_null(a("detail")),
                ts("created_at"),
            ],
            vec![
                shop_fk("consent_events"),
                fk_to("consent_events", "customer_id", "customers", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_consent_events_shop_customer",
            "consent_events",
            &["shop_id", "customer_id", "id"],
        ))
        .await?;

        table(
            m,
            "message_templates",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                string_len(a("kind"), 20),
                text(a("body")),
                uuid_null(a("updated_by")),
                ts("updated_at"),
            ],
            vec![shop_fk("message_templates")],
        )
        .await?;
        m.create_index(
            index(
                "ux_message_templates_shop_kind",
                "message_templates",
                &["shop_id", "kind"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        // Platform-level: a sender number may be the platform default that
        // many shops share, and its rate limit is the carrier's, not a shop's.
        table(
            m,
            "sender_slots",
            vec![
                string_len(a("sender"), 254).primary_key().to_owned(),
                ts("next_at"),
            ],
            vec![],
        )
        .await?;

        // SMS segments per shop and month, counted as texts are queued, so
        // the quota check reads one row however many texts were sent.
        table(
            m,
            "sms_usage",
            vec![
                uuid(a("shop_id")),
                string_len(a("month"), 7),
                big_integer(a("segments")).default(0).to_owned(),
            ],
            vec![shop_fk("sms_usage")],
        )
        .await?;
        m.create_index(
            index(
                "ux_sms_usage_shop_month",
                "sms_usage",
                &["shop_id", "month"],
            )
            .unique()
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
        for name in [
            "ix_messages_provider_id",
            "ix_messages_shop_channel_created",
            "ix_messages_shop_customer",
        ] {
            m.drop_index(Index::drop().name(name).table(a("messages")).to_owned())
                .await?;
        }
        for (t, cols) in [("messages", MESSAGE_COLUMNS), ("shops", SHOP_COLUMNS)] {
            for c in cols.iter().rev() {
                m.alter_table(Table::alter().table(a(t)).drop_column(a(c)).to_owned())
                    .await?;
            }
        }
        Ok(())
    }
}
