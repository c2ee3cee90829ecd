//! Keys that carry the shop, so the tenant tables can be distributed by
//! `shop_id` (Citus: distributed tables need the distribution column in
//! every primary key, unique index and foreign key between them).
//!
//! A tenant table is one whose `shop_id` is NOT NULL. On PostgreSQL, for
//! each of them:
//! - the primary key becomes `(shop_id, <old key>)`, and the old key keeps a
//!   plain index, for the lookups that name only it (a job handling a
//!   message by id);
//! - a unique index without `shop_id` (a token's hash, a Stripe id) becomes
//!   unique per shop, with a plain index on the old columns for lookups.
//!   Those values are random or issued by Stripe, so they are unique
//!   anyway; the database just no longer checks it across shops;
//! - a foreign key to another tenant table becomes `(shop_id, x_id)` to
//!   `(shop_id, id)`: a row can no longer point into another shop at all.
//!   `ON DELETE SET NULL` clears only `x_id` (PostgreSQL 15).
//!
//! Done from the catalogue, so it covers every tenant table the earlier
//! migrations made; the schema test (`tests/e2e/.../schema.rs`) fails on
//! any table a later migration adds against the rule.
//!
//! SQLite is one file on one machine and is never distributed: there the
//! keys stay as they are (changing a key means rebuilding the table), and
//! only the unique indexes that inserts name as their conflict target get
//! a per-shop twin, so the same statement runs on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
DO $$
DECLARE
    r record;
BEGIN
    CREATE TEMP TABLE pw_tenant ON COMMIT DROP AS
        SELECT c.oid AS rel, c.relname::text AS name
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'shop_id'
        WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnotnull;

    -- Foreign keys between tenant tables (one column each), remembered and
    -- dropped: they hang on the primary keys about to change.
    CREATE TEMP TABLE pw_fk ON COMMIT DROP AS
        SELECT k.conname::text AS name, child.name AS child, parent.name AS parent,
               ca.attname::text AS col, pa.attname::text AS ref, k.confdeltype AS del
        FROM pg_constraint k
        JOIN pw_tenant child ON child.rel = k.conrelid
        JOIN pw_tenant parent ON parent.rel = k.confrelid
        JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[1]
        JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
        WHERE k.contype = 'f' AND cardinality(k.conkey) = 1;
    FOR r IN SELECT * FROM pw_fk LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.child, r.name);
    END LOOP;

    -- Primary keys without shop_id.
    FOR r IN
        SELECT t.name AS tbl, k.conname::text AS pk,
               string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord) AS cols,
               string_agg(a.attname, '_' ORDER BY u.ord) AS suffix
        FROM pw_tenant t
        JOIN pg_constraint k ON k.conrelid = t.rel AND k.contype = 'p'
        CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = t.rel AND a.attnum = u.attnum
        GROUP BY t.name, k.conname
        HAVING NOT bool_or(a.attname = 'shop_id')
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.pk);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (shop_id, %s)', r.tbl, r.cols);
        EXECUTE format('CREATE INDEX %I ON %I (%s)', 'ix_' || r.tbl || '_' || r.suffix, r.tbl, r.cols);
    END LOOP;

    -- A tenant table without any primary key takes its unique index that
    -- starts with shop_id (sms_usage: one row per shop and month).
    FOR r IN
        SELECT t.name AS tbl, ic.relname::text AS idx
        FROM pw_tenant t
        JOIN pg_index i ON i.indrelid = t.rel AND i.indisunique AND i.indpred IS NULL
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_attribute a ON a.attrelid = t.rel AND a.attnum = i.indkey[0] AND a.attname = 'shop_id'
        WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = t.rel AND k.contype = 'p')
    LOOP
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY USING INDEX %I', r.tbl, r.idx);
    END LOOP;

    -- Unique indexes (and unique constraints) without shop_id: unique per
    -- shop, plus a plain index for lookups by the value alone.
    FOR r IN
        SELECT t.name AS tbl, ic.relname::text AS idx, k.conname::text AS con,
               pg_get_indexdef(i.indexrelid) AS def
        FROM pw_tenant t
        JOIN pg_index i ON i.indrelid = t.rel AND i.indisunique AND NOT i.indisprimary
        JOIN pg_class ic ON ic.oid = i.indexrelid
        LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype = 'u'
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = t.rel AND a.attnum = ANY (i.indkey) AND a.attname = 'shop_id')
    LOOP
        IF r.con IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.con);
        ELSE
            EXECUTE format('DROP INDEX %I', r.idx);
        END IF;
        EXECUTE replace(r.def, ' USING btree (', ' USING btree (shop_id, ');
        EXECUTE regexp_replace(r.def, '^CREATE UNIQUE INDEX (\S+)', 'CREATE INDEX \1_lookup');
    END LOOP;

    -- The foreign keys again, each carrying the shop.
    FOR r IN SELECT * FROM pw_fk LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (shop_id, %I) REFERENCES %I (shop_id, %I) ON DELETE %s',
            r.child, r.name, r.col, r.parent, r.ref,
            CASE r.del
                WHEN 'c' THEN 'CASCADE'
                WHEN 'n' THEN format('SET NULL (%I)', r.col)
                WHEN 'r' THEN 'RESTRICT'
                ELSE 'NO ACTION'
            END);
    END LOOP;
END
$$;
"#;

/// `ON CONFLICT (shop_id, x)` targets whose old unique key was `x` alone.
const SQLITE_CONFLICT_TARGETS: &[(&str, &str)] = &[
    ("payment_sessions", "stripe_session_id"),
    ("sms_overage_reports", "message_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            m.get_connection().execute_unprepared(UP).await?;
            return Ok(());
        }
        for (table, column) in SQLITE_CONFLICT_TARGETS {
            m.create_index(
                Index::create()
                    .name(format!("ux_{table}_shop_{column}"))
                    .table(Alias::new(*table))
                    .col(Alias::new("shop_id"))
                    .col(Alias::new(*column))
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    /// Keys are widened, never narrowed back: the earlier single-column
    /// keys hold for every row the widened ones hold, so rolling back the
    /// code past this migration works with the keys as they are.
    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
