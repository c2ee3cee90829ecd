//! Ticket search at platform scale on PostgreSQL: `shops` x `per_shop`
//! realistic tickets (customers, vehicles, statuses, services and line
//! items, with the search text the app writes itself), searched over HTTP
//! by concurrent searchers (`wrk`, a separate process) in rounds
//! alternating with `pgbench -S` at the same concurrency.

use pitwall_core::domain::ShopId;
use pitwall_store::sea_orm::{ConnectionTrait, Statement, sqlx};
use pitwall_testkit::{Backend, TestApp};
use serde_json::{Value, json};

use crate::tickets::{AgainstSelect, pgbench_database, push_batch, rounds_against_pgbench_select};

const FIRST: [&str; 24] = [
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Patricia",
    "David",
    "Jennifer",
    "William",
    "Elizabeth",
    "Jose",
    "Susan",
    "Richard",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Nancy",
    "Anthony",
    "Lisa",
    "Kevin",
    "Ana",
];
const LAST: [&str; 48] = [
    "Garcia",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
];
const CARS: [(&str, &str); 16] = [
    ("Honda", "Accord"),
    ("Honda", "Civic"),
    ("Toyota", "Camry"),
    ("Toyota", "Corolla"),
    ("Toyota", "Tacoma"),
    ("Ford", "F-150"),
    ("Ford", "Escape"),
    ("Chevrolet", "Silverado"),
    ("Chevrolet", "Equinox"),
    ("Nissan", "Altima"),
    ("Nissan", "Rogue"),
    ("Jeep", "Wrangler"),
    ("Subaru", "Outback"),
    ("Hyundai", "Elantra"),
    ("Kia", "Sorento"),
    ("Ram", "1500"),
];
/// Service titles with their line items (kind, description, quantity,
/// unit price in cents).
type Service = (
    &'static str,
    &'static [(&'static str, &'static str, f64, i64)],
);
const SERVICES: [Service; 6] = [
    (
        "Front brake pads and rotors",
        &[
            ("labor", "Replace front pads and rotors", 1.8, 14000),
            ("part", "Ceramic pad set", 1.0, 6499),
        ],
    ),
    (
        "Synthetic oil change",
        &[
            ("part", "0W-20 synthetic oil", 5.0, 899),
            ("part", "Oil filter", 1.0, 1299),
        ],
    ),
    (
        "Tire rotation",
        &[("labor", "Rotate and balance four tires", 0.8, 14000)],
    ),
    (
        "Replace cabin air filter",
        &[("part", "Cabin air filter", 1.0, 2899)],
    ),
    (
        "Coolant flush",
        &[
            ("labor", "Drain and refill coolant", 1.0, 14000),
            ("part", "Coolant, 2 gal", 2.0, 2199),
        ],
    ),
    (
        "Battery test and replace",
        &[
            ("part", "Battery group 35", 1.0, 18999),
            ("fee", "Core charge", 1.0, 1800),
        ],
    ),
];
/// VIN characters (no I, O or Q).
const VIN: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";

/// One customer per two tickets, one vehicle per customer.
fn customer_of(i: usize) -> usize {
    i / 2
}

/// A US number (its exchange cannot start with 0 or 1).
fn phone(c: usize) -> String {
    format!("512{}{:04}", 200 + (c * 7) % 800, (c * 7_919) % 10_000)
}

fn plate(c: usize) -> String {
    let l = |k: usize| char::from(b'A' + ((c / k) % 26) as u8);
    format!("{}{}{}{:04}", l(1), l(26), l(7), (c * 37) % 10_000)
}

fn vin(c: usize) -> String {
    (0..17)
        .map(|k| char::from(VIN[(c * 31 + k * k * 7 + k * c / 3) % VIN.len()]))
        .collect()
}

/// A ticket as a POS pushes it: the search text is the app's own, written
/// from these fields.
fn realistic_ticket(i: usize) -> Value {
    let c = customer_of(i);
    let (make, model) = CARS[c % CARS.len()];
    let services: Vec<Value> = (0..2 + i % 2)
        .map(|s| {
            let (title, items) = SERVICES[(i + s * 5) % SERVICES.len()];
            json!({
                "external_id": format!("S{s}"),
                "title": title,
                "status": if s == 0 { "approved" } else { "recommended" },
                "line_items": items.iter().map(|(kind, description, quantity, unit_price)| json!({
                    "kind": kind, "description": description, "quantity": quantity,
                    "unit_price": unit_price, "taxable": *kind == "part",
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "external_id": format!("RO-{i}"),
        "kind": if i.is_multiple_of(5) { "estimate" } else { "workorder" },
        "number": format!("{}", 10_000 + i),
        "customer": {
            "external_id": format!("C-{c}"),
            "first_name": FIRST[c % FIRST.len()],
            "last_name": LAST[(c * 7) % LAST.len()],
            "phone": phone(c),
            "email": format!("{}.{}{c}@example.com", FIRST[c % FIRST.len()].to_lowercase(), LAST[(c * 7) % LAST.len()].to_lowercase()),
        },
        "vehicle": {
            "external_id": format!("V-{c}"), "year": 2008 + (c % 17), "make": make, "model": model,
            "plate": plate(c), "vin": vin(c), "mileage": 20_000 + (c * 1_117) % 150_000,
        },
        "services": services,
        "tax_rate": 0.0825,
        "closed": i.is_multiple_of(3),
        "pos_updated_at": "2026-11-23T10:00:00Z",
    })
}

/// What staff type into the search box, by kind: a ticket number, a last
/// name, a first and last name, a phone number as people type it, a plate,
/// a VIN's last six, a make and model.
fn searches(per_shop: usize, n: usize) -> Vec<(&'static str, String)> {
    let customers = (per_shop / 2).max(1);
    (0..n)
        .map(|k| {
            let i = (k * 7_919) % per_shop;
            let c = customer_of(i);
            match k % 7 {
                0 => ("number", format!("{}", 10_000 + i)),
                1 => ("last name", LAST[(c * 7) % LAST.len()].to_owned()),
                2 => (
                    "first and last name",
                    format!("{} {}", FIRST[c % FIRST.len()], LAST[(c * 7) % LAST.len()]),
                ),
                3 => {
                    let p = phone(c);
                    ("phone", format!("({}) {}-{}", &p[..3], &p[3..6], &p[6..8]))
                }
                4 => ("plate", plate((k * 13) % customers)),
                5 => ("VIN", vin(c)[11..].to_owned()),
                _ => {
                    let (make, model) = CARS[c % CARS.len()];
                    ("make and model", format!("{make} {model}"))
                }
            }
        })
        .collect()
}

/// Copies the template shop's tickets with everything they refer to into
/// every shop whose slug starts with `bench-`. A copied row's id, and each
/// reference to a copied row, is the template's id with its rest hashed
/// with the target shop's id, so the copies refer only to each other.
/// Columns are read from the schema, so a new column is copied too.
async fn copy_shop_rows(db: &pitwall_store::Db, template: ShopId) -> anyhow::Result<()> {
    let pg = db.get_postgres_connection_pool();
    for table in [
        "vehicle_statuses",
        "customers",
        "vehicles",
        "tickets",
        "ticket_services",
        "line_items",
    ] {
        let columns: Vec<(String,)> = sqlx::query_as(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pg)
        .await?;
        anyhow::ensure!(!columns.is_empty(), "table {table} has no columns");
        let select: Vec<String> = columns
            .iter()
            .map(|(c,)| match c.as_str() {
                "shop_id" => "s.id".to_owned(),
                // The id's time prefix (UUIDv7's first 48 bits) is kept,
                // so copies interleave in time with the shops' own rows
                // as concurrent shops' rows do.
                "id" | "customer_id" | "vehicle_id" | "status_id" | "ticket_id" | "service_id"
                | "merged_into" => format!(
                    "(substr(replace(r.{c}::text, '-', ''), 1, 12) || substr(md5(r.{c}::text || s.id::text), 13))::uuid"
                ),
                _ => format!("r.{c}"),
            })
            .collect();
        let names: Vec<&str> = columns.iter().map(|(c,)| c.as_str()).collect();
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!(
                "INSERT INTO {table} ({}) SELECT {} FROM {table} r CROSS JOIN shops s \
                 WHERE r.shop_id = $1 AND s.slug LIKE 'bench-%'",
                names.join(", "),
                select.join(", ")
            ),
            [template.as_uuid().into()],
        ))
        .await?;
    }
    Ok(())
}

/// `shops` x `per_shop` tickets, `searchers` of the shops searched at once
/// over HTTP, in `rounds` of `secs` against `pgbench -S` with as many
/// clients. Every search answers 200, and every kind of search finds
/// tickets, or the benchmark fails.
pub async fn search_at_scale(
    shops: usize,
    per_shop: usize,
    searchers: usize,
    secs: u32,
    rounds: usize,
) -> anyhow::Result<()> {
    let Some(t) = TestApp::spawn(Backend::Postgres).await else {
        println!("ticket search: skipped, PostgreSQL not reachable");
        return Ok(());
    };
    let Some((pgbench_db, url)) = pgbench_database().await? else {
        println!("ticket search: skipped, pgbench is not installed or failed");
        t.finish().await;
        return Ok(());
    };
    let outcome = measure(&t, &url, shops, per_shop, searchers, secs, rounds).await;
    pitwall_testkit::drop_pg_database(&pgbench_db).await;
    t.finish().await;
    outcome
}

async fn measure(
    t: &TestApp,
    pgbench_url: &str,
    shops: usize,
    per_shop: usize,
    searchers: usize,
    secs: u32,
    rounds: usize,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // The searched shops get their tickets the way shops do: pushed by
    // their POS, written by the app.
    let mut tokens = Vec::with_capacity(searchers);
    let mut template = None;
    for s in 0..searchers {
        let (shop, owner) = t.shop(&format!("search-{s}"), "premium").await;
        let (_, key) = t
            .post("/api/v1/api-keys", &owner, json!({"name": "pos"}))
            .await;
        let key = key["secret"].as_str().unwrap_or_default().to_owned();
        for chunk in (0..per_shop).collect::<Vec<_>>().chunks(100) {
            push_batch(
                t,
                &key,
                chunk.iter().map(|i| realistic_ticket(*i)).collect(),
            )
            .await?;
        }
        template.get_or_insert(shop);
        tokens.push(owner);
    }
    let pushed = started.elapsed();
    let template = template.ok_or_else(|| anyhow::anyhow!("no searchers"))?;
    // The rest of the platform: copies of the first shop's rows.
    let db = &t.db;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        format!(
            "INSERT INTO shops (id, name, slug, plan_code, lifecycle, time_zone, country, currency, created_at, updated_at)
             SELECT gen_random_uuid(), 'Bench ' || g, 'bench-' || g, 'premium', 'active', 'America/Chicago', 'US', 'USD', now(), now()
             FROM generate_series(1, {}) g",
            shops.saturating_sub(searchers)
        ),
    ))
    .await?;
    copy_shop_rows(db, template).await?;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "ANALYZE".to_owned(),
    ))
    .await?;
    let loaded = started.elapsed();
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tickets")
        .fetch_one(db.get_postgres_connection_pool())
        .await?;

    // Each search once before the load: all must answer, and every kind
    // must find tickets (a search that finds nothing measures nothing).
    let queries = searches(per_shop, 210);
    let mut found: Vec<(&str, usize)> = Vec::new();
    let mut paths = Vec::with_capacity(queries.len());
    for (kind, q) in &queries {
        let url = reqwest::Url::parse_with_params(
            &t.url("/api/v1/tickets"),
            &[("q", q.as_str()), ("limit", "25")],
        )?;
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let (status, body) = t.get(&path, &tokens[0]).await;
        anyhow::ensure!(
            status.is_success(),
            "search {q:?} answered {status}: {body}"
        );
        let hits = body["items"].as_array().map_or(0, Vec::len);
        match found.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += hits,
            None => found.push((kind, hits)),
        }
        paths.push(path);
    }
    anyhow::ensure!(
        found.iter().all(|(_, n)| *n > 0),
        "a kind of search found no tickets: {found:?}"
    );

    // Where PostgreSQL's time goes in the search itself (the page's views
    // are the ticket list's, measured there): the list's query for one
    // search of each kind, as the store writes it.
    let mut plans = Vec::new();
    for kind in found.iter().map(|(k, _)| *k) {
        let Some((_, q)) = queries.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        let mut sql =
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM tickets WHERE shop_id = $1".to_owned();
        let terms = pitwall_core::tickets::search_terms(q);
        for n in 0..terms.len() {
            sql.push_str(&format!(" AND search_text LIKE ${}", n + 2));
        }
        sql.push_str(" ORDER BY id DESC LIMIT 26");
        let mut values: Vec<pitwall_store::sea_orm::Value> = vec![template.as_uuid().into()];
        values.extend(terms.iter().map(|t| format!("%{t}%").into()));
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                values,
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("EXPLAIN answered nothing"))?;
        let plan: Value = row.try_get("", "QUERY PLAN")?;
        // The plan's spine: each node's first child, down to the scan.
        let mut spine = Vec::new();
        let mut node = &plan[0]["Plan"];
        while node.is_object() {
            let name = node["Node Type"].as_str().unwrap_or("?");
            spine.push(match node["Index Name"].as_str() {
                Some(index) => format!(
                    "{name} {index} ({} rows read)",
                    node["Actual Rows"].as_f64().unwrap_or(0.0)
                        + node["Rows Removed by Filter"].as_f64().unwrap_or(0.0)
                ),
                None => name.to_owned(),
            });
            node = &node["Plans"][0];
        }
        plans.push(format!(
            "{kind} {:.2} ms ({})",
            plan[0]["Execution Time"].as_f64().unwrap_or(f64::NAN),
            spine.join(" > "),
        ));
    }
    println!(
        "  the search query alone (EXPLAIN ANALYZE, one search of each kind): {}",
        plans.join("; ")
    );

    let quote = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let script = std::env::temp_dir().join(format!("pitwall-search-{}.lua", std::process::id()));
    // Tokens and searches advance at different strides, so each shop runs
    // every kind of search; each wrk thread starts somewhere else.
    std::fs::write(
        &script,
        format!(
            "local tokens = {{{}}}\nlocal paths = {{{}}}\n\
             local n = math.random(#tokens)\nlocal m = math.random(#paths)\n\
             request = function()\n  n = n % #tokens + 1\n  m = m % #paths + 1\n  \
             return wrk.format(\"GET\", paths[m], {{[\"Authorization\"] = \"Bearer \" .. tokens[n]}})\nend\n",
            quote(&tokens),
            quote(&paths),
        ),
    )?;
    let measured = rounds_against_pgbench_select(
        &t.url("/api/v1/tickets"),
        &script,
        searchers as u32,
        secs,
        rounds,
        pgbench_url,
    )
    .await?;
    let (server_ms, postgres_ms) = measured.cpu_ms_per_request();
    let AgainstSelect {
        rps,
        p50_ms: p50,
        p99_ms: p99,
        pgbench_tps: pg_tps,
        round_ratios,
        server_cores,
        postgres_cores,
    } = measured;
    let ratios: Vec<String> = round_ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "ticket search (PostgreSQL, {shops} shops x {per_shop} tickets = {} tickets; {searchers} shops pushed in {:.1} s, \
         all loaded in {:.1} s): {searchers} searchers over HTTP (wrk), {rounds} x {secs} s, {} kinds of search: \
         {rps:.0} searches/s, p50 {p50:.1} ms, p99 {p99:.1} ms (goal <= 20 ms); pgbench -S {pg_tps:.0} tps, \
         ratio {:.3} (rounds {}); cores busy: server {server_cores:.2}, PostgreSQL {postgres_cores:.2} \
         (CPU per search {server_ms:.2} ms / {postgres_ms:.2} ms)",
        count.0,
        pushed.as_secs_f64(),
        loaded.as_secs_f64(),
        found.len(),
        rps / pg_tps,
        ratios.join(", "),
    );
    crate::results::record(
        "ticket_search",
        json!({
            "shops": shops, "tickets": count.0, "searchers": searchers, "searches_per_s": rps,
            "p50_ms": p50, "p99_ms": p99, "goal_p99_ms": 20,
            "pgbench_select_tps": pg_tps, "ratio": rps / pg_tps,
            "server_cores": server_cores, "postgres_cores": postgres_cores,
        }),
    );
    Ok(())
}
