//! The customer's side: capability links to one ticket (only the token's
//! hash is stored), approvals as evidence (written once, hash-chained per
//! ticket, never updated: a trigger refuses edits on both databases), the
//! shop's link expiry and language, the customer's language, and the shop's
//! outgoing webhooks with their delivery log.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_tickets::{a, fk_to, index, shop_fk, table, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "webhook_deliveries",
    "shop_webhooks",
    "approvals",
    "customer_links",
];

pub(crate) async fn add_columns(
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

const IMMUTABLE_SQLITE: &str = "CREATE TRIGGER approvals_never_edited BEFORE UPDATE ON approvals \
     BEGIN SELECT RAISE(ABORT, 'approvals are evidence and are never edited'); END";
const IMMUTABLE_PG_FN: &str = "CREATE FUNCTION approvals_never_edited() RETURNS trigger AS $$ \
     BEGIN RAISE EXCEPTION 'approvals are evidence and are never edited'; END; \
     $$ LANGUAGE plpgsql";
const IMMUTABLE_PG: &str = "CREATE TRIGGER approvals_never_edited BEFORE UPDATE ON approvals \
     FOR EACH ROW EXECUTE FUNCTION approvals_never_edited()";

/// Plan decisions that came with this capability: approvals with signature
/// belong in every plan; outgoing webhooks in the top one.
const PLAN_FEATURES: &[(&str, &str)] = &[("starter", "approvals"), ("premium", "webhooks")];

/// Adds features to plans as seeded (a plan an operator removed, or that
/// already has the feature, is left as it is).
pub(crate) async fn add_plan_features(
    m: &SchemaManager<'_>,
    plan_features: &[(&str, &str)],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
    let db = m.get_connection();
    let backend = m.get_database_backend();
    for (plan, feature) in plan_features {
        let select = match backend {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                "SELECT features FROM plans WHERE code = $1"
            }
            _ => "SELECT features FROM plans WHERE code = ?",
        };
        let Some(row) = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                select,
                [(*plan).into()],
            ))
            .await?
        else {
            continue;
        };
        let raw: String = row.try_get("", "features")?;
        let mut names: Vec<String> = serde_json::from_str(&raw)
            .map_err(|e| DbErr::Custom(format!("plan {plan} features: {e}")))?;
        if names.iter().any(|n| n == feature) {
            continue;
        }
        names.push((*feature).to_owned());
        let json = serde_json::to_string(&names).map_err(|e| DbErr::Custom(e.to_string()))?;
        let update = match backend {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                "UPDATE plans SET features = $1 WHERE code = $2"
            }
            _ => "UPDATE plans SET features = ? WHERE code = ?",
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            update,
            [json.into(), (*plan).into()],
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        // How long a customer link lives (hours), and the language of the
        // customer's pages when the customer has none of their own.
        add_columns(
            m,
            "shops",
            vec![
                integer(a("link_ttl_hours")).default(168).to_owned(),
                string_len(a("locale"), 10).default("en").to_owned(),
            ],
        )
        .await?;
        add_columns(m, "customers", vec![string_len_null(a("locale"), 10)]).await?;
        // The dashboard's "work approved" highlight: set by an approval,
        // cleared when staff open the ticket.
        add_columns(
            m,
            "tickets",
            vec![ts_null("approved_at"), ts_null("approval_seen_at")],
        )
        .await?;
        add_plan_features(m, PLAN_FEATURES).await?;

        table(
            m,
            "customer_links",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                string_len(a("token_hash"), 64),
                uuid_null(a("created_by")),
                ts("created_at"),
                ts("expires_at"),
                ts_null("revoked_at"),
                uuid_null(a("revoked_by")),
                ts_null("first_opened_at"),
                ts_null("last_opened_at"),
                integer(a("open_count")).default(0).to_owned(),
                // The customer's page says it is still open every few
                // seconds; "viewing" is a recent beat.
                ts_null("last_seen_at"),
            ],
            vec![
                shop_fk("customer_links"),
                fk_to("customer_links", "ticket_id", "tickets", Cascade),
                fk_to("customer_links", "created_by", "users", SetNull),
                fk_to("customer_links", "revoked_by", "users", SetNull),
            ],
        )
        .await?;
        // The token is the credential: found by its hash alone.
        m.create_index(
            index(
                "ux_customer_links_token_hash",
                "customer_links",
                &["token_hash"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_customer_links_shop_ticket",
            "customer_links",
            &["shop_id", "ticket_id"],
        ))
        .await?;

        table(
            m,
            "approvals",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("ticket_id")),
                // 1, 2, ... per ticket; unique, so two approvals racing for
                // the same place in the chain cannot both land.
                integer(a("seq")),
                string_len(a("method"), 20),
                uuid_null(a("link_id")),
                uuid_null(a("staff_id")),
                text_null(a("staff_name")),
                text(a("signer_name")),
                text_null(a("signature")),
                text(a("approved")),
                text(a("declined")),
                big_integer(a("approved_total")),
                big_integer(a("subtotal")),
                big_integer(a("tax")),
                big_integer(a("total")),
                string_len(a("currency"), 3),
                integer(a("ticket_version")),
                string_len_null(a("ip"), 64),
                text_null(a("user_agent")),
                text_null(a("note")),
                ts("created_at"),
                string_len_null(a("prev_hash"), 64),
                string_len(a("hash"), 64),
            ],
            vec![
                shop_fk("approvals"),
                fk_to("approvals", "ticket_id", "tickets", Cascade),
                fk_to("approvals", "link_id", "customer_links", SetNull),
            ],
        )
        .await?;
        m.create_index(
            index(
                "ux_approvals_shop_ticket_seq",
                "approvals",
                &["shop_id", "ticket_id", "seq"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        match m.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(IMMUTABLE_PG_FN).await?;
                db.execute_unprepared(IMMUTABLE_PG).await?;
            }
            _ => {
                db.execute_unprepared(IMMUTABLE_SQLITE).await?;
            }
        }

        table(
            m,
            "shop_webhooks",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                text(a("url")),
                // Used to sign each delivery, so kept as is (it guards
                // nothing of ours; the shop's receiver checks it).
                string_len(a("secret"), 80),
                boolean(a("active")).default(true).to_owned(),
                uuid_null(a("created_by")),
                ts("created_at"),
            ],
            vec![
                shop_fk("shop_webhooks"),
                fk_to("shop_webhooks", "created_by", "users", SetNull),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_shop_webhooks_shop",
            "shop_webhooks",
            &["shop_id", "created_at"],
        ))
        .await?;

        table(
            m,
            "webhook_deliveries",
            vec![
                pk_uuid(a("id")),
                uuid(a("shop_id")),
                uuid(a("webhook_id")),
                string_len(a("event"), 40),
                text(a("payload")),
                string_len(a("status"), 12),
                integer(a("attempts")).default(0).to_owned(),
                integer_null(a("response_status")),
                text_null(a("last_error")),
                ts("created_at"),
                ts_null("delivered_at"),
            ],
            vec![
                shop_fk("webhook_deliveries"),
                fk_to("webhook_deliveries", "webhook_id", "shop_webhooks", Cascade),
            ],
        )
        .await?;
        m.create_index(index(
            "ix_webhook_deliveries_shop_webhook",
            "webhook_deliveries",
            &["shop_id", "webhook_id", "id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            db.execute_unprepared("DROP TRIGGER IF EXISTS approvals_never_edited ON approvals")
                .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS approvals_never_edited()")
                .await?;
        }
        for t in TABLES {
            m.drop_table(Table::drop().table(a(t)).if_exists().to_owned())
                .await?;
        }
        for (t, c) in [
            ("tickets", "approval_seen_at"),
            ("tickets", "approved_at"),
            ("customers", "locale"),
            ("shops", "locale"),
            ("shops", "link_ttl_hours"),
        ] {
            m.alter_table(Table::alter().table(a(t)).drop_column(a(c)).to_owned())
                .await?;
        }
        Ok(())
    }
}
