//! The POS side of tickets: pushes of tickets, customers and vehicles,
//! comments both ways, notifications, and the sync log behind the
//! sync-health view.
//!
//! A push is idempotent by external id, and ordered by `pos_updated_at`:
//! an older push changes nothing and says so (`stale`), the same push again
//! changes nothing (`unchanged`).

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::phone::Phone;
use pitwall_domain::tickets::{
    self as rules, ActorKind, LineItemKind, NotificationKind, ServiceStatus, TicketKind,
    TimelineKind,
};
use pitwall_domain::{
    CustomerId, Email, Feature, NotificationId, ShopId, StatusId, TicketId, values,
};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{activity, api_keys, customers, shops, statuses, tickets};
use serde_json::json;

use crate::live::LiveEvent;
use crate::tickets::{TicketView, recompute_totals, search_text, timeline_live, view};
use crate::{App, Error, Problems, Result};

/// Most tickets one batch request may carry.
pub const MAX_BATCH: usize = 100;

/// A POS key's shop, with POS sync in its plan.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PosCtx {
    pub shop: shops::Shop,
    pub key: api_keys::ApiKey,
    /// What the shop may do now (billing's past-due grace and trial end
    /// applied, as for staff).
    pub lifecycle: pitwall_domain::ShopLifecycle,
}

impl PosCtx {
    pub fn shop_id(&self) -> ShopId {
        ShopId::from_uuid(self.shop.id)
    }
}

/// Authenticates a POS key. A key of a shop whose plan lost POS sync stops
/// working; suspended shops may read but not push.
pub async fn authenticate(app: &App, secret: &str) -> Result<PosCtx> {
    let (key, shop) = crate::api_keys::authenticate(app, secret).await?;
    let features = crate::features::FeatureSet::load(&app.db, &shop).await?;
    features.require(Feature::PosSync)?;
    let lifecycle = crate::billing::effective_lifecycle(app, &shop).await?;
    Ok(PosCtx {
        shop,
        key,
        lifecycle,
    })
}

fn require_writable(pos: &PosCtx) -> Result<()> {
    if pos.lifecycle.allows_writes() {
        Ok(())
    } else {
        Err(Error::ShopRestricted(pos.lifecycle))
    }
}

// ---- input ---------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `en` or `es` (a tag such as `es-MX` is read as `es`).
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct VehicleInput {
    pub external_id: Option<String>,
    pub vin: Option<String>,
    pub year: Option<i32>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub plate: Option<String>,
    pub mileage: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct LineItemInput {
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    pub taxable: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceInput {
    pub external_id: String,
    pub title: String,
    pub status: String,
    pub line_items: Vec<LineItemInput>,
}

#[derive(Debug, Clone)]
pub struct TicketInput {
    pub kind: String,
    pub number: String,
    pub customer: Option<CustomerInput>,
    pub vehicle: Option<VehicleInput>,
    pub services: Vec<ServiceInput>,
    pub tax_rate: f64,
    pub promised_at: Option<DateTime<Utc>>,
    pub closed: bool,
    pub pos_updated_at: DateTime<Utc>,
}

/// Checks an external id from the path.
pub fn external_id(field: &str, raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must be 1 to 100 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}

struct ValidCustomer(customers::CustomerFields);
struct ValidVehicle(customers::VehicleFields);

struct ValidService {
    external_id: String,
    title: String,
    status: ServiceStatus,
    items: Vec<ValidLine>,
    subtotal: i64,
    taxable: i64,
}

struct ValidTicket {
    kind: TicketKind,
    number: String,
    customer: Option<ValidCustomer>,
    vehicle: Option<ValidVehicle>,
    services: Vec<ValidService>,
    tax_rate_ppm: i64,
    promised_at: Option<DateTime<Utc>>,
    closed: bool,
    pos_updated_at: DateTime<Utc>,
}

fn opt_text(p: &mut Problems, field: &str, raw: &Option<String>, max: usize) -> Option<String> {
    p.check(field, values::optional_text(raw.as_deref(), max))
        .flatten()
}

fn valid_customer(p: &mut Problems, at: &str, c: &CustomerInput, country: &str) -> ValidCustomer {
    let f = |name: &str| format!("{at}{name}");
    let phone = c
        .phone
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|raw| p.check(&f("phone"), Phone::parse(raw, country)))
        .map(|ph| ph.as_str().to_owned());
    let email = c
        .email
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|raw| p.check(&f("email"), Email::parse(raw)))
        .map(|e| e.as_str().to_owned());
    ValidCustomer(customers::CustomerFields {
        external_id: opt_text(p, &f("external_id"), &c.external_id, 100),
        first_name: opt_text(p, &f("first_name"), &c.first_name, 100),
        last_name: opt_text(p, &f("last_name"), &c.last_name, 100),
        phone,
        email,
        locale: c
            .locale
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|raw| {
                p.check(
                    &f("locale"),
                    pitwall_domain::locale::Locale::from_tag(raw).ok_or_else(|| {
                        pitwall_domain::Invalid("must be en or es (or a tag such as es-MX)".into())
                    }),
                )
            })
            .map(|l| l.as_str().to_owned()),
    })
}

fn valid_vehicle(p: &mut Problems, at: &str, v: &VehicleInput) -> ValidVehicle {
    let f = |name: &str| format!("{at}{name}");
    let vin = v
        .vin
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|raw| p.check(&f("vin"), rules::parse_vin(raw)));
    let this_year = Utc::now()
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap_or(2100);
    if let Some(y) = v.year
        && !(1886..=this_year + 2).contains(&y)
    {
        p.add(f("year"), format!("must be from 1886 to {}", this_year + 2));
    }
    if let Some(m) = v.mileage
        && !(0..=10_000_000).contains(&m)
    {
        p.add(f("mileage"), "must be from 0 to 10000000");
    }
    let plate = opt_text(p, &f("plate"), &v.plate, 20).map(|pl| rules::normalise_plate(&pl));
    ValidVehicle(customers::VehicleFields {
        external_id: opt_text(p, &f("external_id"), &v.external_id, 100),
        customer_id: None,
        vin,
        year: v.year,
        make: opt_text(p, &f("make"), &v.make, 60),
        model: opt_text(p, &f("model"), &v.model, 60),
        plate: plate.filter(|s| !s.is_empty()),
        mileage: v.mileage,
    })
}

/// A line item checked and priced: kind, description, quantity in
/// thousandths, unit price and amount in minor units, taxable.
pub(crate) type ValidLine = (LineItemKind, String, i64, i64, bool, i64);

/// The money rules of one line item, wherever a service comes from (a POS
/// push, an inspection finding); problems are named through `at`.
pub(crate) fn valid_line(
    p: &mut Problems,
    at: &dyn Fn(&str) -> String,
    kind: &str,
    description: &str,
    quantity: f64,
    unit_price: i64,
    taxable: bool,
) -> Option<ValidLine> {
    let kind_ok = LineItemKind::parse(kind.trim());
    if kind_ok.is_none() {
        p.add(at("kind"), "must be labor, part or fee");
    }
    let desc = p.check(&at("description"), values::required_text(description, 300));
    let qty = p.check(&at("quantity"), rules::quantity_milli(quantity));
    if unit_price.abs() > 10_000_000_000 {
        p.add(
            at("unit_price"),
            "must be at most 10000000000 minor units either way",
        );
    }
    let (kind, desc, qty) = (kind_ok?, desc?, qty?);
    let amount = rules::line_amount(qty, unit_price);
    Some((kind, desc, qty, unit_price, taxable, amount))
}

fn validate(input: &TicketInput, country: &str) -> Result<ValidTicket> {
    let mut p = Problems::default();
    let kind = TicketKind::parse(input.kind.trim());
    if kind.is_none() {
        p.add("kind", "must be estimate, workorder or invoice");
    }
    let number = p.check("number", values::required_text(&input.number, 40));
    let tax_rate_ppm = p.check("tax_rate", rules::tax_rate_ppm(input.tax_rate));
    let customer = input
        .customer
        .as_ref()
        .map(|c| valid_customer(&mut p, "customer/", c, country));
    let vehicle = input
        .vehicle
        .as_ref()
        .map(|v| valid_vehicle(&mut p, "vehicle/", v));
    if input.services.len() > 200 {
        p.add("services", "must have at most 200 services");
    }
    let mut services = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, s) in input.services.iter().enumerate() {
        let at = |name: &str| format!("services/{i}/{name}");
        let ext = match external_id(&at("external_id"), &s.external_id) {
            Ok(e) => Some(e),
            Err(Error::Invalid { field, message }) => {
                p.add(field, message);
                None
            }
            Err(_) => None,
        };
        if let Some(e) = &ext
            && !seen.insert(e.clone())
        {
            p.add(
                at("external_id"),
                "is used by another service of this ticket",
            );
        }
        let title = p.check(&at("title"), values::required_text(&s.title, 200));
        let status = ServiceStatus::parse(s.status.trim());
        if status.is_none() {
            p.add(
                at("status"),
                "must be recommended, pending, approved or declined",
            );
        }
        if s.line_items.len() > 200 {
            p.add(at("line_items"), "must have at most 200 line items");
        }
        let mut items = Vec::new();
        for (j, li) in s.line_items.iter().enumerate() {
            let at = |name: &str| format!("services/{i}/line_items/{j}/{name}");
            if let Some(l) = valid_line(
                &mut p,
                &at,
                &li.kind,
                &li.description,
                li.quantity,
                li.unit_price,
                li.taxable,
            ) {
                items.push(l);
            }
        }
        if let (Some(external_id), Some(title), Some(status)) = (ext, title, status) {
            let subtotal = items.iter().map(|i| i.5).sum();
            let taxable = items.iter().filter(|i| i.4).map(|i| i.5).sum();
            services.push(ValidService {
                external_id,
                title,
                status,
                items,
                subtotal,
                taxable,
            });
        }
    }
    p.into_result()?;
    Ok(ValidTicket {
        kind: kind.ok_or_else(|| Error::invalid("kind", "is required"))?,
        number: number.ok_or_else(|| Error::invalid("number", "is required"))?,
        customer,
        vehicle,
        services,
        tax_rate_ppm: tax_rate_ppm.unwrap_or(0),
        promised_at: input.promised_at,
        closed: input.closed,
        pos_updated_at: input.pos_updated_at,
    })
}

// ---- tickets -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    /// The same `pos_updated_at` as stored: a repeat, nothing changed.
    Unchanged,
    /// Older than what is stored: nothing changed.
    Stale,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Stale => "stale",
        }
    }
}

pub struct Pushed {
    pub outcome: Outcome,
    pub ticket: TicketView,
}

/// Records a push the API refused before it reached a use case (a body
/// that is not the documented shape), so that sync health shows it.
pub async fn record_rejected(
    app: &App,
    pos: &PosCtx,
    operation: &str,
    external_id: Option<&str>,
    errors: &[crate::FieldError],
    payload: Option<&str>,
) -> Result<()> {
    // Kept for support to read; large bodies are cut.
    let payload = payload.map(|p| p.chars().take(16_384).collect::<String>());
    activity::record_sync(
        &app.db,
        pos.shop_id(),
        activity::NewSyncEvent {
            operation,
            external_id,
            outcome: "rejected",
            errors: Some(json!(errors)),
            payload,
        },
    )
    .await?;
    Ok(())
}

/// Creates or updates one ticket. `raw` is the body as sent, kept only if it
/// is rejected.
pub async fn put_ticket(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &TicketInput,
    raw: Option<&str>,
) -> Result<Pushed> {
    let ext = external_id("external_id", external_id_raw)?;
    require_writable(pos)?;
    let valid = match validate(input, &pos.shop.country) {
        Ok(v) => v,
        Err(Error::InvalidFields(errors)) => {
            record_rejected(app, pos, "ticket.put", Some(&ext), &errors, raw).await?;
            return Err(Error::InvalidFields(errors));
        }
        Err(e) => return Err(e),
    };
    // Two pushes of one new ticket at once: the second insert hits the
    // unique index; its retry finds the first one's row.
    match put_once(app, pos, &ext, &valid).await {
        Err(Error::Conflict { .. }) => put_once(app, pos, &ext, &valid).await,
        other => other,
    }
}

async fn put_once(app: &App, pos: &PosCtx, ext: &str, v: &ValidTicket) -> Result<Pushed> {
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let existing = tickets::by_external_id(&txn, shop, ext).await?;
    if let Some(t) = &existing
        && v.pos_updated_at <= t.pos_updated_at
    {
        let outcome = if v.pos_updated_at == t.pos_updated_at {
            Outcome::Unchanged
        } else {
            Outcome::Stale
        };
        activity::record_sync(
            &txn,
            shop,
            activity::NewSyncEvent {
                operation: "ticket.put",
                external_id: Some(ext),
                outcome: outcome.as_str(),
                errors: (outcome == Outcome::Stale).then(|| {
                    json!([{"field": "pos_updated_at", "message": format!("is older than the stored {}", t.pos_updated_at.to_rfc3339())}])
                }),
                payload: None,
            },
        )
        .await?;
        let ticket = view(&txn, shop, t.clone(), app.config.clock.now()).await?;
        txn.commit().await?;
        return Ok(Pushed { outcome, ticket });
    }

    let customer = match &v.customer {
        Some(c) => Some(resolve_customer(&txn, shop, &c.0).await?),
        None => match existing.as_ref().and_then(|t| t.customer_id) {
            Some(id) => customers::get(&txn, shop, CustomerId::from_uuid(id)).await?,
            None => None,
        },
    };
    let vehicle = match &v.vehicle {
        Some(veh) => {
            let mut f = veh.0.clone();
            f.customer_id = customer.as_ref().map(|c| CustomerId::from_uuid(c.id));
            let found =
                customers::find_vehicle(&txn, shop, f.external_id.as_deref(), f.vin.as_deref())
                    .await?;
            Some(customers::upsert_vehicle(&txn, shop, found, f).await?)
        }
        None => match existing.as_ref().and_then(|t| t.vehicle_id) {
            Some(id) => {
                customers::vehicle(&txn, shop, pitwall_domain::VehicleId::from_uuid(id)).await?
            }
            None => None,
        },
    };
    let fields = tickets::PosFields {
        external_id: ext.to_owned(),
        kind: v.kind.as_str().to_owned(),
        number: v.number.clone(),
        customer_id: customer.as_ref().map(|c| c.id),
        vehicle_id: vehicle.as_ref().map(|v| v.id),
        promised_at: v.promised_at,
        closed: v.closed,
        tax_rate_ppm: v.tax_rate_ppm,
        currency: pos.shop.currency.clone(),
        pos_updated_at: v.pos_updated_at,
        search_text: search_text(&v.number, customer.as_ref(), vehicle.as_ref()),
    };
    let (ticket, outcome) = match existing {
        Some(t) => (
            tickets::update_from_pos(&txn, t, fields).await?,
            Outcome::Updated,
        ),
        None => {
            let first = statuses::all(&txn, shop)
                .await?
                .into_iter()
                .find(|s| s.retired_at.is_none())
                .map(|s| StatusId::from_uuid(s.id));
            (
                tickets::insert(&txn, shop, fields, first).await?,
                Outcome::Created,
            )
        }
    };
    let tid = TicketId::from_uuid(ticket.id);
    let current = tickets::services(&txn, shop, tid).await?;
    let mut kept = Vec::new();
    let mut items = Vec::new();
    for (i, s) in v.services.iter().enumerate() {
        let found = current
            .iter()
            .find(|c| c.external_id == s.external_id)
            .cloned();
        let row = tickets::upsert_service(
            &txn,
            shop,
            tid,
            found,
            tickets::ServiceFields {
                external_id: s.external_id.clone(),
                position: i as i32,
                title: s.title.clone(),
                status: s.status.as_str().to_owned(),
                subtotal: s.subtotal,
                taxable_subtotal: s.taxable,
            },
        )
        .await?;
        for (j, (kind, desc, qty, price, taxable, amount)) in s.items.iter().enumerate() {
            items.push(tickets::LineItemFields {
                service_id: row.id,
                position: (i * 1000 + j) as i32,
                kind: kind.as_str().to_owned(),
                description: desc.clone(),
                quantity_milli: *qty,
                unit_price: *price,
                taxable: *taxable,
                amount: *amount,
            });
        }
        kept.push(row.id);
    }
    // A service Pitwall made (from an inspection finding) stays, with its
    // line items, until the POS sends it itself.
    let own: Vec<uuid::Uuid> = current
        .iter()
        .filter(|c| c.source == tickets::SOURCE_PITWALL && !kept.contains(&c.id))
        .map(|c| c.id)
        .collect();
    let removed: Vec<uuid::Uuid> = current
        .iter()
        .filter(|c| !kept.contains(&c.id) && !own.contains(&c.id) && !c.removed)
        .map(|c| c.id)
        .collect();
    tickets::mark_services_removed(&txn, shop, &removed).await?;
    tickets::replace_line_items(&txn, shop, tid, &own, items).await?;
    let totals = recompute_totals(&txn, shop, &ticket).await?;
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: tid,
            kind: TimelineKind::PosPush.as_str(),
            actor_kind: ActorKind::Pos.as_str(),
            actor_id: Some(pos.key.id),
            actor_name: Some(&pos.key.name),
            data: json!({
                "outcome": outcome.as_str(),
                "number": v.number,
                "total": totals.total,
                "closed": v.closed,
            }),
        },
    )
    .await?;
    activity::record_sync(
        &txn,
        shop,
        activity::NewSyncEvent {
            operation: "ticket.put",
            external_id: Some(ext),
            outcome: outcome.as_str(),
            errors: None,
            payload: None,
        },
    )
    .await?;
    let kind = if outcome == Outcome::Created {
        "ticket_created"
    } else {
        "ticket_updated"
    };
    let announced = app.live.announce(vec![
        LiveEvent {
            shop_id: shop.as_uuid(),
            ticket_id: Some(tid.as_uuid()),
            kind: kind.into(),
            event_id: Some(event.id),
        },
        timeline_live(shop, tid, event.id),
    ]);
    let ticket = tickets::get(&txn, shop, tid)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let ticket = view(&txn, shop, ticket, app.config.clock.now()).await?;
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(Pushed { outcome, ticket })
}

/// The customer the POS means: by its external id (following merges), else
/// by phone number, else a new one. A phone match keeps the customer's
/// existing external id.
async fn resolve_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: &customers::CustomerFields,
) -> Result<customers::Customer> {
    let mut found = match &f.external_id {
        Some(ext) => customers::by_external_id(db, shop, ext).await?,
        None => None,
    };
    if let Some(into) = found.as_ref().and_then(|c| c.merged_into) {
        found = customers::get(db, shop, CustomerId::from_uuid(into)).await?;
    }
    let mut fields = f.clone();
    if found.is_none()
        && let Some(phone) = &f.phone
    {
        found = customers::by_phone(db, shop, phone).await?;
        if found.as_ref().is_some_and(|c| c.external_id.is_some()) {
            fields.external_id = None;
        }
    }
    Ok(match found {
        Some(c) => {
            let before = (
                c.first_name.clone(),
                c.last_name.clone(),
                c.phone.clone(),
                c.email.clone(),
            );
            let after = customers::update(db, c, fields).await?;
            if before
                != (
                    after.first_name.clone(),
                    after.last_name.clone(),
                    after.phone.clone(),
                    after.email.clone(),
                )
            {
                // Other tickets of this customer are searched by the old values.
                crate::tickets::reindex_customer(db, shop, &after).await?;
            }
            after
        }
        None => customers::insert(db, shop, fields).await?,
    })
}

pub async fn get_ticket(app: &App, pos: &PosCtx, external_id_raw: &str) -> Result<TicketView> {
    let ext = external_id("external_id", external_id_raw)?;
    let t = tickets::by_external_id(&app.db, pos.shop_id(), &ext)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    view(&app.db, pos.shop_id(), t, app.config.clock.now()).await
}

/// One ticket of a batch, answered on its own.
pub enum BatchResult {
    Pushed(Box<Pushed>),
    Failed(Error),
}

pub struct BatchItem<'a> {
    pub external_id: String,
    /// The ticket, or the problems found while reading it.
    pub input: std::result::Result<TicketInput, Vec<crate::FieldError>>,
    pub raw: Option<&'a str>,
}

pub async fn put_batch(
    app: &App,
    pos: &PosCtx,
    items: Vec<BatchItem<'_>>,
) -> Result<Vec<BatchResult>> {
    if items.len() > MAX_BATCH {
        return Err(Error::invalid(
            "tickets",
            format!("must have at most {MAX_BATCH} tickets"),
        ));
    }
    require_writable(pos)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let res = match item.input {
            Ok(input) => put_ticket(app, pos, &item.external_id, &input, item.raw).await,
            Err(errors) => {
                record_rejected(
                    app,
                    pos,
                    "ticket.put",
                    Some(&item.external_id),
                    &errors,
                    item.raw,
                )
                .await?;
                Err(Error::InvalidFields(errors))
            }
        };
        match res {
            Ok(p) => out.push(BatchResult::Pushed(Box::new(p))),
            // The database going away sinks the batch; one bad ticket does not.
            Err(Error::Unavailable) => return Err(Error::Unavailable),
            Err(e) => out.push(BatchResult::Failed(e)),
        }
    }
    Ok(out)
}

// ---- customers and vehicles on their own ---------------------------------

pub async fn put_customer(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &CustomerInput,
) -> Result<customers::Customer> {
    let ext = external_id("external_id", external_id_raw)?;
    require_writable(pos)?;
    let mut p = Problems::default();
    let mut c = valid_customer(&mut p, "", input, &pos.shop.country);
    p.into_result()?;
    c.0.external_id = Some(ext.clone());
    let txn = pitwall_store::begin_write(&app.db).await?;
    let customer = resolve_customer(&txn, pos.shop_id(), &c.0).await?;
    activity::record_sync(
        &txn,
        pos.shop_id(),
        activity::NewSyncEvent {
            operation: "customer.put",
            external_id: Some(&ext),
            outcome: "updated",
            errors: None,
            payload: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(customer)
}

pub async fn put_vehicle(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &VehicleInput,
    customer_external_id: Option<&str>,
) -> Result<customers::Vehicle> {
    let ext = external_id("external_id", external_id_raw)?;
    require_writable(pos)?;
    let mut p = Problems::default();
    let mut v = valid_vehicle(&mut p, "", input);
    p.into_result()?;
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if let Some(c) = customer_external_id {
        let c = customers::by_external_id(&txn, shop, c)
            .await?
            .ok_or_else(|| {
                Error::invalid("customer_external_id", "is not a customer of this shop")
            })?;
        v.0.customer_id = Some(CustomerId::from_uuid(c.merged_into.unwrap_or(c.id)));
    }
    v.0.external_id = Some(ext.clone());
    let found = customers::find_vehicle(&txn, shop, Some(&ext), None).await?;
    let vehicle = customers::upsert_vehicle(&txn, shop, found, v.0).await?;
    activity::record_sync(
        &txn,
        shop,
        activity::NewSyncEvent {
            operation: "vehicle.put",
            external_id: Some(&ext),
            outcome: "updated",
            errors: None,
            payload: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(vehicle)
}

// ---- comments ------------------------------------------------------------

pub struct CommentInput {
    /// The POS's id for the comment; a repeat with the same id is one comment.
    pub external_id: Option<String>,
    pub author: String,
    pub body: String,
}

pub async fn add_comment(
    app: &App,
    pos: &PosCtx,
    ticket_external_id: &str,
    input: &CommentInput,
) -> Result<activity::Comment> {
    let ext = external_id("external_id", ticket_external_id)?;
    require_writable(pos)?;
    let mut p = Problems::default();
    let body = p.check("body", values::required_text(&input.body, 4000));
    let author = p.check("author", values::required_text(&input.author, 120));
    let comment_ext = match &input.external_id {
        Some(raw) => match external_id("external_id", raw) {
            Ok(e) => Some(e),
            Err(_) => {
                p.add("external_id", "must be 1 to 100 characters");
                None
            }
        },
        None => None,
    };
    p.into_result()?;
    let (body, author) = (body.unwrap_or_default(), author.unwrap_or_default());
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::by_external_id(&txn, shop, &ext)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let tid = TicketId::from_uuid(ticket.id);
    if let Some(ce) = &comment_ext
        && let Some(existing) = activity::comment_by_external_id(&txn, shop, tid, ce).await?
    {
        txn.commit().await?;
        return Ok(existing);
    }
    let comment = activity::add_comment(
        &txn,
        shop,
        activity::NewComment {
            ticket: tid,
            source: "pos",
            external_id: comment_ext.as_deref(),
            author_user_id: None,
            author_name: &author,
            body: &body,
        },
    )
    .await?;
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: tid,
            kind: TimelineKind::Comment.as_str(),
            actor_kind: ActorKind::Pos.as_str(),
            actor_id: Some(pos.key.id),
            actor_name: Some(&author),
            data: json!({ "comment_id": comment.id }),
        },
    )
    .await?;
    let announced = app.live.announce(vec![timeline_live(shop, tid, event.id)]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(comment)
}

pub async fn comments(
    app: &App,
    pos: &PosCtx,
    ticket_external_id: &str,
    page: pitwall_store::PageRequest,
) -> Result<pitwall_store::Page<activity::Comment>> {
    let ext = external_id("external_id", ticket_external_id)?;
    let ticket = tickets::by_external_id(&app.db, pos.shop_id(), &ext)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    Ok(activity::comments(&app.db, pos.shop_id(), TicketId::from_uuid(ticket.id), page).await?)
}

// ---- notifications -------------------------------------------------------

pub struct NotificationView {
    pub notification: activity::Notification,
    pub ticket_external_id: String,
    pub ticket_number: String,
}

/// Unprocessed first (oldest first), then processed ones. The cursor says
/// which part and where: `u.<id>` or `p.<id>`.
pub async fn notifications(
    app: &App,
    pos: &PosCtx,
    cursor: Option<&str>,
    limit: u64,
) -> Result<(Vec<NotificationView>, Option<String>)> {
    let (mut processed, mut after) = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => (false, None),
        Some(c) => {
            let (part, id) = c
                .split_once('.')
                .ok_or_else(|| Error::invalid("cursor", "is not a cursor this API returned"))?;
            let id = uuid::Uuid::parse_str(id)
                .map_err(|_| Error::invalid("cursor", "is not a cursor this API returned"))?;
            match part {
                "u" => (false, Some(id)),
                "p" => (true, Some(id)),
                _ => {
                    return Err(Error::invalid(
                        "cursor",
                        "is not a cursor this API returned",
                    ));
                }
            }
        }
    };
    let shop = pos.shop_id();
    let mut rows = activity::notifications(&app.db, shop, processed, after, limit + 1).await?;
    if !processed && (rows.len() as u64) < limit + 1 {
        // Unprocessed ones are exhausted: continue into processed ones.
        let more =
            activity::notifications(&app.db, shop, true, None, limit + 1 - rows.len() as u64)
                .await?;
        rows.extend(more);
    }
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if has_more {
        rows.last().map(|n| {
            processed = n.processed_at.is_some();
            after = Some(n.id);
            format!("{}.{}", if processed { "p" } else { "u" }, n.id)
        })
    } else {
        None
    };
    let mut out = Vec::with_capacity(rows.len());
    for n in rows {
        let t = tickets::get(&app.db, shop, TicketId::from_uuid(n.ticket_id)).await?;
        out.push(NotificationView {
            ticket_external_id: t
                .as_ref()
                .map(|t| t.external_id.clone())
                .unwrap_or_default(),
            ticket_number: t.map(|t| t.number).unwrap_or_default(),
            notification: n,
        });
    }
    Ok((out, next))
}

/// Marks a notification processed. Processing `work_approved` adds a comment
/// to the ticket naming what was approved, by whom and when; doing it twice
/// adds nothing more.
pub async fn process_notification(
    app: &App,
    pos: &PosCtx,
    id: NotificationId,
) -> Result<NotificationView> {
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let n = activity::notification(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("notification"))?;
    let first_time = activity::mark_processed(&txn, shop, id).await?;
    let tid = TicketId::from_uuid(n.ticket_id);
    let mut announced = None;
    if first_time && n.kind == NotificationKind::WorkApproved.as_str() {
        let data: serde_json::Value = serde_json::from_str(&n.data).unwrap_or_default();
        let list = |key: &str| {
            data[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        let mut body = format!(
            "Work approved by {} ({}) on {}: {}.",
            data["approved_by"].as_str().unwrap_or("the customer"),
            data["method"]
                .as_str()
                .unwrap_or("online")
                .replace('_', " "),
            data["approved_at"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| pitwall_domain::timer::local_display(
                    t.with_timezone(&Utc),
                    &pos.shop.time_zone
                ))
                .unwrap_or_default(),
            if list("approved_services").is_empty() {
                "nothing".to_owned()
            } else {
                list("approved_services")
            },
        );
        let declined = list("declined_services");
        if !declined.is_empty() {
            body.push_str(&format!(" Declined: {declined}."));
        }
        let comment = activity::add_comment(
            &txn,
            shop,
            activity::NewComment {
                ticket: tid,
                source: "pitwall",
                external_id: None,
                author_user_id: None,
                author_name: "Pitwall",
                body: &body,
            },
        )
        .await?;
        let event = activity::record_event(
            &txn,
            shop,
            activity::NewEvent {
                ticket: tid,
                kind: TimelineKind::Comment.as_str(),
                actor_kind: ActorKind::System.as_str(),
                actor_id: None,
                actor_name: Some("Pitwall"),
                data: json!({ "comment_id": comment.id, "notification_id": n.id }),
            },
        )
        .await?;
        announced = Some(app.live.announce(vec![timeline_live(shop, tid, event.id)]));
    }
    let n = activity::notification(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("notification"))?;
    let t = tickets::get(&txn, shop, tid).await?;
    txn.commit().await?;
    if let Some(a) = announced {
        app.live.after_commit(a);
    }
    Ok(NotificationView {
        ticket_external_id: t
            .as_ref()
            .map(|t| t.external_id.clone())
            .unwrap_or_default(),
        ticket_number: t.map(|t| t.number).unwrap_or_default(),
        notification: n,
    })
}

// ---- sync health ---------------------------------------------------------

pub struct SyncHealth {
    pub last_push_at: Option<DateTime<Utc>>,
    pub last_accepted_at: Option<DateTime<Utc>>,
    /// Counts over the last 24 hours by outcome.
    pub accepted_24h: u64,
    pub stale_24h: u64,
    pub rejected_24h: u64,
    pub unprocessed_notifications: u64,
    /// The latest rejected pushes, with their errors and payloads.
    pub recent_rejections: Vec<activity::SyncEvent>,
    pub keys: Vec<api_keys::ApiKey>,
}

pub async fn sync_health_of(app: &App, shop: ShopId) -> Result<SyncHealth> {
    let since = Utc::now() - Duration::hours(24);
    let latest = activity::sync_events(&app.db, shop, None, 1).await?;
    let mut accepted = 0;
    let mut last_accepted_at = None;
    for outcome in ["created", "updated", "unchanged"] {
        accepted += activity::count_sync_since(&app.db, shop, outcome, since).await?;
        if let Some(e) = activity::sync_events(&app.db, shop, Some(outcome), 1)
            .await?
            .first()
        {
            last_accepted_at = last_accepted_at.max(Some(e.created_at));
        }
    }
    Ok(SyncHealth {
        last_push_at: latest.first().map(|e| e.created_at),
        last_accepted_at,
        accepted_24h: accepted,
        stale_24h: activity::count_sync_since(&app.db, shop, "stale", since).await?,
        rejected_24h: activity::count_sync_since(&app.db, shop, "rejected", since).await?,
        unprocessed_notifications: activity::count_unprocessed(&app.db, shop).await?,
        recent_rejections: activity::sync_events(&app.db, shop, Some("rejected"), 20).await?,
        keys: api_keys::list(&app.db, shop, pitwall_store::PageRequest::first(50))
            .await?
            .items,
    })
}

/// The shop's own view (owners and managers: those who manage API keys).
pub async fn sync_health(app: &App, ctx: &crate::ShopCtx) -> Result<SyncHealth> {
    app.require(ctx, pitwall_domain::Permission::ApiKeysManage)
        .await?;
    ctx.require_feature(Feature::SyncHealth)?;
    sync_health_of(app, ctx.shop_id()).await
}

/// Support's view of any shop.
pub async fn sync_health_for_support(
    app: &App,
    actor: &crate::Actor,
    shop: ShopId,
) -> Result<SyncHealth> {
    actor.require_platform()?;
    shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    sync_health_of(app, shop).await
}
