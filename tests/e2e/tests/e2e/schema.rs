//! The schema is ready to be distributed by shop (Citus): read from
//! PostgreSQL's catalogue after every migration, each table is either a
//! tenant table (`shop_id` NOT NULL) whose primary key, unique indexes and
//! foreign keys to other tenant tables all carry `shop_id`, or a platform
//! table named below with the reason it has no shop.

use pitwall_store::sea_orm::{ConnectionTrait, Statement};
use pitwall_testkit::{Backend, TestApp};

/// Tables without a shop of their own: what the platform keeps about
/// itself, about people (who may work in several shops) and about the
/// outside services it talks to. In a distributed database they are
/// reference or local tables.
const PLATFORM: &[(&str, &str)] = &[
    ("seaql_migrations", "the migrations applied"),
    (
        "shops",
        "the shops themselves: the distribution key's source",
    ),
    ("users", "a person may belong to several shops"),
    (
        "sessions",
        "a person's sign-in; the shop is only their choice",
    ),
    ("password_resets", "a person's"),
    (
        "login_failures",
        "counted per address and account, before any shop is known",
    ),
    ("plans", "the plan catalogue"),
    ("plan_billing", "the plan catalogue's Stripe products"),
    ("stripe_prices", "the plan catalogue's Stripe prices"),
    ("casbin_rules", "the policy: the default matrix has no shop"),
    ("authz_state", "the policy's version"),
    ("audit_entries", "platform actions have no shop"),
    ("outbox", "jobs, some the platform's own (operator e-mails)"),
    ("emails", "some go to people, not to a shop's customers"),
    ("stripe_events", "Stripe's events for the platform account"),
    (
        "connect_events",
        "Stripe's events, before the account is matched to a shop",
    ),
    (
        "rate_windows",
        "counted per client address, before any shop is known",
    ),
    (
        "sender_slots",
        "a sender number may be the platform's, shared by shops",
    ),
];

async fn rows(t: &TestApp, sql: &str) -> Vec<Vec<String>> {
    let got =
        t.db.query_all_raw(Statement::from_string(t.db.get_database_backend(), sql))
            .await
            .expect("the catalogue answers");
    got.iter()
        .map(|r| {
            (0..)
                .map_while(|i| r.try_get_by_index::<Option<String>>(i).ok())
                .map(Option::unwrap_or_default)
                .collect()
        })
        .collect()
}

/// Every way the schema breaks the rule, one line each.
async fn violations(t: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    let tables = rows(
        t,
        "SELECT c.relname::text, \
           (SELECT CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END FROM pg_attribute a \
             WHERE a.attrelid = c.oid AND a.attname = 'shop_id' AND NOT a.attisdropped) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1",
    )
    .await;
    let mut tenant = std::collections::HashSet::new();
    for row in &tables {
        let (name, shop_id) = (row[0].as_str(), row[1].as_str());
        let platform = PLATFORM.iter().any(|(p, _)| *p == name);
        match (shop_id, platform) {
            ("not null", true) => found.push(format!(
                "{name}: has a shop_id NOT NULL but is listed as a platform table"
            )),
            ("not null", false) => {
                tenant.insert(name.to_owned());
            }
            (_, true) => {}
            ("null", false) => found.push(format!(
                "{name}: shop_id may be NULL (a tenant table needs it NOT NULL, or list it as a platform table)"
            )),
            _ => found.push(format!(
                "{name}: no shop_id (a tenant table needs one, or list it as a platform table with the reason)"
            )),
        }
    }
    for (name, _) in PLATFORM {
        if !tables.iter().any(|r| r[0] == *name) {
            found.push(format!(
                "{name}: listed as a platform table but does not exist"
            ));
        }
    }

    // Primary keys and unique indexes of tenant tables: with shop_id.
    let keys = rows(
        t,
        "SELECT c.relname::text, ic.relname::text, \
           CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique index' END, \
           CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
             AND a.attnum = ANY (i.indkey) AND a.attname = 'shop_id') THEN 'yes' ELSE 'no' END \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND i.indisunique",
    )
    .await;
    for name in &tenant {
        if !keys.iter().any(|k| k[0] == *name && k[2] == "primary key") {
            found.push(format!("{name}: no primary key"));
        }
    }
    for k in keys
        .iter()
        .filter(|k| tenant.contains(&k[0]) && k[3] == "no")
    {
        found.push(format!("{}: {} {} lacks shop_id", k[0], k[2], k[1]));
    }

    // Foreign keys touching a tenant table: between two tenant tables,
    // shop_id on both sides, matched; from a platform table, none.
    let fks = rows(
        t,
        "SELECT k.conname::text, k.conrelid::regclass::text, k.confrelid::regclass::text, \
           CASE WHEN EXISTS (SELECT 1 FROM unnest(k.conkey, k.confkey) AS m(c, p) \
             JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = m.c \
             JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = m.p \
             WHERE ca.attname = 'shop_id' AND pa.attname = 'shop_id') THEN 'yes' ELSE 'no' END \
         FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace \
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .await;
    for f in &fks {
        let (name, child, parent, carries) = (&f[0], &f[1], &f[2], &f[3]);
        match (tenant.contains(child), tenant.contains(parent)) {
            (true, true) if carries == "no" => found.push(format!(
                "{child}: foreign key {name} to {parent} does not carry shop_id on both sides"
            )),
            (false, true) => found.push(format!(
                "{child}: platform table with foreign key {name} into tenant table {parent}"
            )),
            _ => {}
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_key_carries_the_shop() {
    let Some(t) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let found = violations(&t).await;
    assert!(
        found.is_empty(),
        "the schema cannot be distributed by shop:\n{}",
        found.join("\n")
    );

    // The check finds what a careless migration would add.
    for sql in [
        "CREATE TABLE careless_notes (id uuid PRIMARY KEY, shop_id uuid NOT NULL REFERENCES shops(id), \
           reply_to uuid REFERENCES careless_notes(id), token text UNIQUE)",
        "CREATE TABLE careless_links (id uuid PRIMARY KEY, note_id uuid REFERENCES careless_notes(id))",
    ] {
        t.db.execute_unprepared(sql)
            .await
            .expect("a careless table");
    }
    let found = violations(&t).await;
    let says = |what: &str| found.iter().any(|f| f.contains(what));
    assert!(
        says("careless_notes: primary key careless_notes_pkey lacks shop_id"),
        "{found:?}"
    );
    assert!(
        says("careless_notes: unique index careless_notes_token_key lacks shop_id"),
        "{found:?}"
    );
    assert!(
        says(
            "careless_notes: foreign key careless_notes_reply_to_fkey to careless_notes does not carry shop_id"
        ),
        "{found:?}"
    );
    assert!(says("careless_links: no shop_id"), "{found:?}");
    assert!(
        says(
            "careless_links: platform table with foreign key careless_links_note_id_fkey into tenant table careless_notes"
        ),
        "{found:?}"
    );
}

/// The single-file database is never distributed, but the list above must
/// still name every table without a shop, so a new one is a choice. (The
/// job queue's own tables, apalis's, are left out: on PostgreSQL they live
/// in their own schema.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sqlite_table_has_a_shop_or_a_reason() {
    let Some(t) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let tables = rows(
        &t,
        "SELECT m.name, CASE WHEN EXISTS (SELECT 1 FROM pragma_table_info(m.name) p \
           WHERE p.name = 'shop_id') THEN 'yes' ELSE 'no' END \
         FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
           AND m.name NOT IN ('Jobs', 'Workers', '_sqlx_migrations')",
    )
    .await;
    let missing: Vec<&String> = tables
        .iter()
        .filter(|r| r[1] == "no" && !PLATFORM.iter().any(|(p, _)| *p == r[0]))
        .map(|r| &r[0])
        .collect();
    assert!(
        missing.is_empty(),
        "tables with no shop and no reason: {missing:?}"
    );
}
