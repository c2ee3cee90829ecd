//! Tenant isolation at scale, on PostgreSQL: thousands of shops, and a
//! randomised walk of every route of the OpenAPI document where a shop
//! names another shop's objects. Not one answer may carry another shop's
//! data, every named object must answer 404 or 403, no answer may be a 5xx
//! or break the document, and no victim may change.
//!
//! The shops: 12 victims built through the API with one of everything,
//! 300 attackers as `create_shop` makes them (each attacks with its
//! owner's session and its own POS key), and the rest, up to
//! `PITWALL_TENANT_SHOPS` (default 10,000), written straight into
//! PostgreSQL with an owner, a customer and a ticket each: their ids are
//! named too, and looked up among all of them. `PITWALL_TENANT_ATTEMPTS`
//! sets the attempts (default 10,000; CI runs 100,000 more, about a
//! minute and a half here), and
//! `PITWALL_TENANT_SEED` replays a run (each run prints its seed).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use pitwall_core::domain::{Email, ShopId, UserId};
use pitwall_store::identity::SessionKind;
use pitwall_testkit::{Backend, StatusCode, TestApp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::contract::{
    Operation, ShopOfEverything, body_schema, example, fill_path, is_upload, operations,
    shop_of_everything, snapshot, spec, tiny_jpeg,
};

/// Shops built with one of everything: the victims whose objects are named.
const VICTIMS: usize = 12;
/// Shops made as a real shop is made, each attacking the others.
const ATTACKERS: usize = 300;
/// Requests in flight at once.
const CONCURRENCY: usize = 16;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// A shop that only attacks: its owner's session, and a POS key made on
/// first use.
struct Attacker {
    shop: ShopId,
    owner: UserId,
    session: String,
    pos_key: OnceCell<String>,
}

/// Shops as `create_shop` makes them (statuses, sheets, owner, role),
/// with an owner session made directly: signing in hundreds of owners
/// would time argon2, not isolation.
async fn attackers(t: &TestApp, count: usize) -> Vec<Attacker> {
    let mut made = tokio::task::JoinSet::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    for i in 0..count {
        let (app, db, sem) = (t.app.clone(), t.db.clone(), sem.clone());
        made.spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let slug = format!("attacker-{i:04}");
            let email = Email::parse(&format!("owner@{slug}.test")).expect("an e-mail");
            let owner = UserId::new();
            pitwall_store::identity::insert_user(&db, owner, &email, "Owner", None, None)
                .await
                .expect("owner");
            let created = pitwall_core::shops::create_shop(
                &app,
                pitwall_core::shops::Creator::Cli,
                pitwall_core::shops::NewShopInput {
                    name: &format!("Attacker {i}"),
                    slug: &slug,
                    plan: "premium",
                    owner_email: email.as_str(),
                    owner_password: None,
                    time_zone: None,
                },
            )
            .await
            .expect("shop");
            let session = pitwall_core::tokens::new_token("pt_");
            pitwall_store::identity::insert_session(
                &db,
                owner,
                pitwall_core::tokens::hash_token(&session),
                SessionKind::Api,
                None,
                chrono::Utc::now() + chrono::Duration::hours(4),
            )
            .await
            .expect("session");
            Attacker {
                shop: ShopId::from_uuid(created.shop.id),
                owner,
                session,
                pos_key: OnceCell::new(),
            }
        });
    }
    let made = made.join_all().await;
    t.app.authz().refresh().await.expect("policy");
    made
}

/// A shop written straight into PostgreSQL: what its ids are.
struct Bystander {
    shop: String,
    owner: String,
    customer: String,
    ticket: String,
}

/// `count` shops, each with an owner, a customer and a ticket, in four
/// set-based statements.
async fn bystanders(t: &TestApp, count: usize) -> Vec<Bystander> {
    use pitwall_store::sea_orm::{ConnectionTrait, Statement};
    let db = &t.db;
    for sql in [
        format!(
            "INSERT INTO shops (id, name, slug, plan_code, lifecycle, time_zone, country, currency, created_at, updated_at)
             SELECT gen_random_uuid(), 'Bystander ' || g, 'bystander-' || g, 'premium', 'active', 'America/Chicago', 'US', 'USD', now(), now()
             FROM generate_series(1, {count}) g"
        ),
        "INSERT INTO users (id, email, name, created_at, updated_at)
         SELECT gen_random_uuid(), 'owner@' || slug || '.test', 'Owner', now(), now() FROM shops WHERE slug LIKE 'bystander-%'"
            .to_owned(),
        "INSERT INTO memberships (id, shop_id, user_id, role, created_at)
         SELECT gen_random_uuid(), s.id, u.id, 'owner', now() FROM shops s
         JOIN users u ON u.email = 'owner@' || s.slug || '.test' WHERE s.slug LIKE 'bystander-%'"
            .to_owned(),
        "INSERT INTO customers (id, shop_id, external_id, first_name, last_name, phone, sms_opt_out, email_opt_out, created_at, updated_at)
         SELECT gen_random_uuid(), id, 'C1', 'Private', 'Bystander', '+15125550000', false, false, now(), now()
         FROM shops WHERE slug LIKE 'bystander-%'"
            .to_owned(),
        "INSERT INTO tickets (id, shop_id, external_id, kind, number, customer_id, closed, tax_rate_ppm, subtotal, tax, total,
                              currency, pos_updated_at, version, search_text, priority, created_at, updated_at)
         SELECT gen_random_uuid(), shop_id, 'RO1', 'workorder', '1', id, false, 0, 0, 0, 0, 'USD', now(), 1, '1', 0, now(), now()
         FROM customers WHERE external_id = 'C1' AND last_name = 'Bystander'"
            .to_owned(),
        "ANALYZE".to_owned(),
    ] {
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("bystanders written");
    }
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT s.id::text AS shop, m.user_id::text AS owner, c.id::text AS customer, t.id::text AS ticket
         FROM shops s JOIN memberships m ON m.shop_id = s.id JOIN customers c ON c.shop_id = s.id
         JOIN tickets t ON t.customer_id = c.id AND t.shop_id = s.id WHERE s.slug LIKE 'bystander-%'",
    ))
    .await
    .expect("bystanders read")
    .into_iter()
    .map(|r| Bystander {
        shop: r.try_get("", "shop").expect("shop"),
        owner: r.try_get("", "owner").expect("owner"),
        customer: r.try_get("", "customer").expect("customer"),
        ticket: r.try_get("", "ticket").expect("ticket"),
    })
    .collect()
}

/// Every UUID in `text`, by shape.
fn uuids(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let shape = |w: &[u8]| {
        w.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    };
    (0..b.len().saturating_sub(35))
        .filter(move |&i| shape(&b[i..i + 36]))
        .map(move |i| &text[i..i + 36])
}

struct Attempt {
    op: usize,
    attacker: usize,
    victim: usize,
    /// Whether ids in the body name the other shop's objects too.
    body_names_victim: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_shops_never_reach_each_others_objects() {
    let Some(t) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let shops = size("PITWALL_TENANT_SHOPS", 10_000).max(VICTIMS + 2);
    let attempts = size("PITWALL_TENANT_ATTEMPTS", 10_000);
    let seed = std::env::var("PITWALL_TENANT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!(
        "tenant scale: {shops} shops, {attempts} attempts, seed {seed} (PITWALL_TENANT_SEED replays it)"
    );

    let started = Instant::now();
    let mut victims: Vec<ShopOfEverything> = Vec::with_capacity(VICTIMS);
    for v in 0..VICTIMS {
        victims.push(shop_of_everything(&t, &format!("victim-{v:02}")).await);
    }
    let attackers = attackers(&t, ATTACKERS.min(shops - VICTIMS)).await;
    let bystanders = bystanders(&t, shops - VICTIMS - attackers.len()).await;
    println!(
        "tenant scale: {} shops made in {:.1} s ({} victims, {} attackers, {} bystanders)",
        victims.len() + attackers.len() + bystanders.len(),
        started.elapsed().as_secs_f64(),
        victims.len(),
        attackers.len(),
        bystanders.len()
    );

    // Whose each id is: any id in an answer must be the caller's own.
    let mut owner_of: HashMap<String, usize> = HashMap::new();
    for (i, a) in attackers.iter().enumerate() {
        owner_of.insert(a.shop.to_string(), i);
        owner_of.insert(a.owner.to_string(), i);
    }
    const VICTIM: usize = usize::MAX / 2;
    for (v, victim) in victims.iter().enumerate() {
        for s in &victim.secrets {
            owner_of.insert(s.clone(), VICTIM + v);
        }
    }
    const BYSTANDER: usize = usize::MAX / 4;
    for (b, by) in bystanders.iter().enumerate() {
        for id in [&by.shop, &by.owner, &by.customer, &by.ticket] {
            owner_of.insert(id.clone(), BYSTANDER + b);
        }
    }
    let before: Vec<_> =
        futures::future::join_all(victims.iter().map(|v| snapshot(&t, &v.owner))).await;

    let spec = Arc::new(spec());
    let ops: Vec<Operation> = operations(&["/api/v1/", "/api/pos/v1/"])
        .into_iter()
        .filter(|o| !o.path.contains("/auth/") && !o.path.ends_with("/invitations/accept"))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let plan: Vec<Attempt> = (0..attempts)
        .map(|_| Attempt {
            op: rng.random_range(0..ops.len()),
            attacker: rng.random_range(0..attackers.len()),
            victim: rng.random_range(0..victims.len() + attackers.len() + bystanders.len()),
            body_names_victim: rng.random(),
        })
        .collect();

    let walked = Instant::now();
    let outcomes: Vec<(usize, Option<StatusCode>)> = futures::stream::iter(plan)
        .map(|a| {
            let (t, ops, spec, attackers, victims, bystanders, owner_of) = (
                &t,
                &ops,
                &spec,
                &attackers,
                &victims,
                &bystanders,
                &owner_of,
            );
            async move {
                let o = &ops[a.op];
                let me = &attackers[a.attacker];
                // Another shop's objects: a victim's whole set, or, for an
                // attacker or a bystander (which hold fewer kinds), a
                // victim's set with that shop's own ids where it has them.
                let mut fixtures = victims[a.victim % victims.len()].fixtures.clone();
                let rest = a.victim.checked_sub(victims.len());
                match rest {
                    Some(i) if i < attackers.len() => {
                        let other = &attackers[i];
                        if other.shop == me.shop {
                            // Its own shop: not an attempt.
                            return (a.op, None);
                        }
                        fixtures.insert("shop_id", other.shop.to_string());
                        fixtures.insert("user_id", other.owner.to_string());
                    }
                    Some(i) => {
                        let other = &bystanders[i - attackers.len()];
                        fixtures.insert("shop_id", other.shop.clone());
                        fixtures.insert("user_id", other.owner.clone());
                        fixtures.insert("customer_id", other.customer.clone());
                        fixtures.insert("ticket_id", other.ticket.clone());
                    }
                    None => {}
                }
                let (path, mut has_id) = fill_path(o, &fixtures);
                let body = body_schema(&o.op).map(|s| {
                    let mut v = example(spec, &s, "");
                    if o.path == "/api/v1/me/shop" {
                        v["shop_id"] = json!(fixtures["shop_id"]);
                        has_id = true;
                    }
                    // Some bodies name objects too: point them at the
                    // other shop's.
                    if let Some(m) = v.as_object_mut() {
                        for (k, x) in m.iter_mut() {
                            if let Some(id) = fixtures.get(k.as_str())
                                && x.is_string()
                                && a.body_names_victim
                            {
                                *x = json!(id);
                            }
                        }
                    }
                    v
                });
                let token = if o.path.starts_with("/api/pos/") {
                    me.pos_key
                        .get_or_init(|| async {
                            let (s, key) = t
                                .post("/api/v1/api-keys", &me.session, json!({"name": "POS"}))
                                .await;
                            assert!(s.is_success(), "{s}: {key}");
                            key["secret"].as_str().unwrap().to_owned()
                        })
                        .await
                        .as_str()
                } else {
                    me.session.as_str()
                };
                let (status, text) = send(t, o, &path, token, body).await;
                assert!(
                    !status.is_server_error(),
                    "{} {path} answered {status}: {text}",
                    o.method
                );
                for id in uuids(&text) {
                    if let Some(&whose) = owner_of.get(id) {
                        assert_eq!(
                            whose, a.attacker,
                            "{} {path} by shop {} leaked another shop's id {id}: {text}",
                            o.method, me.shop
                        );
                    }
                }
                for (v, victim) in victims.iter().enumerate() {
                    for s in &victim.secrets {
                        assert!(
                            !text.contains(s.as_str()),
                            "{} {path} leaked victim {v}'s {s}: {text}",
                            o.method
                        );
                    }
                }
                if has_id {
                    assert!(
                        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                        "{} {path} answered {status} for another shop's object: {text}",
                        o.method
                    );
                }
                (a.op, Some(status))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let took = walked.elapsed();

    let mut per_op = vec![0usize; ops.len()];
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for (op, status) in &outcomes {
        let Some(status) = status else { continue };
        per_op[*op] += 1;
        *statuses.entry(status.as_u16()).or_default() += 1;
    }
    let sent: usize = statuses.values().sum();
    println!(
        "tenant scale: {sent} cross-shop attempts over {} operations in {:.1} s ({:.0}/s), 0 leaks; statuses {statuses:?}",
        ops.len(),
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64()
    );
    if attempts >= ops.len() * 20 {
        for (o, n) in ops.iter().zip(&per_op) {
            assert!(*n > 0, "{} {} was never tried", o.method, o.path);
        }
    }
    for (v, victim) in victims.iter().enumerate() {
        assert_eq!(
            before[v],
            snapshot(&t, &victim.owner).await,
            "victim {v} changed"
        );
    }
    t.finish().await;
}

/// One request; the answer as text (so non-JSON answers are searched too),
/// JSON answers held to the published document.
async fn send(
    t: &TestApp,
    o: &Operation,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let verb = reqwest::Method::from_bytes(o.method.as_bytes()).expect("HTTP method");
    let mut req = t.client.request(verb, t.url(path)).bearer_auth(token);
    if is_upload(&o.op) {
        let part = reqwest::multipart::Part::bytes(tiny_jpeg())
            .file_name("a.jpg")
            .mime_str("image/jpeg")
            .expect("content type");
        req = req.multipart(reqwest::multipart::Form::new().part("file", part));
    } else if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    if resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    {
        // A live stream of the caller's own shop never ends.
        return (status, String::new());
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Ok(json) = serde_json::from_slice::<Value>(&bytes)
        && let Err(e) =
            pitwall_testkit::openapi::committed().check(&o.method, path, status.as_u16(), &json)
    {
        panic!("{e}");
    }
    (status, text)
}
