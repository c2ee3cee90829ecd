//! Pushed tickets written set-based: whatever the batch, a fixed number of
//! reads, then every new row in one statement (a [`Batch`]), in one
//! transaction. Rows that already exist and change (a customer's new phone,
//! a ticket's newer push) are updated one by one; rows that do not change
//! are not written at all.
//!
//! The rules a push follows (which customer and vehicle it means, what it
//! may overwrite, which services stay) are decided in memory on what was
//! read, so the one ticket of `PUT` and the hundred of a batch go through
//! the same code.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pitwall_domain::tickets::{ActorKind, Totals};
use pitwall_domain::{CustomerId, ServiceId, ShopId, StatusId, TicketId, TimelineEventId};
use pitwall_store::batch::Batch;
use pitwall_store::sea_orm::{ConnectionTrait, IntoActiveModel};
use pitwall_store::{activity, customers, statuses, tickets};
use serde_json::json;
use uuid::Uuid;

use super::{Outcome, PosCtx, ValidTicket};
use crate::live::LiveEvent;
use crate::tickets::search_text;
use crate::timeline::timeline_live;
use crate::{App, Error, Result};

/// The status a new ticket starts in, read once per push or batch.
#[derive(Default)]
pub(super) struct FirstStatus(Option<Option<StatusId>>);

impl FirstStatus {
    async fn get(&mut self, db: &impl ConnectionTrait, shop: ShopId) -> Result<Option<StatusId>> {
        if let Some(known) = self.0 {
            return Ok(known);
        }
        let first = statuses::all(db, shop)
            .await?
            .into_iter()
            .find(|s| s.retired_at.is_none())
            .map(|s| StatusId::from_uuid(s.id));
        self.0 = Some(first);
        Ok(first)
    }
}

/// One valid ticket of a push, by its checked external id.
pub(super) struct Pending {
    pub(super) ext: String,
    pub(super) ticket: ValidTicket,
}

/// Writes `pending`, committed, and answers each ticket as stored, in
/// order. Two pushes of one new ticket at once: the second hits the unique
/// index and is written again, finding the first one's row.
pub(super) async fn write(
    app: &App,
    pos: &PosCtx,
    pending: &[Pending],
    first: &mut FirstStatus,
) -> Result<Vec<(Outcome, tickets::Ticket)>> {
    match write_once(app, pos, pending, first).await {
        Err(Error::Conflict { .. }) => write_once(app, pos, pending, first).await,
        other => other,
    }
}

async fn write_once(
    app: &App,
    pos: &PosCtx,
    pending: &[Pending],
    first: &mut FirstStatus,
) -> Result<Vec<(Outcome, tickets::Ticket)>> {
    // A batch may name one ticket twice: each round holds each external id
    // once, and a later round reads what the earlier one wrote.
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, p) in pending.iter().enumerate() {
        let n = seen.entry(p.ext.as_str()).or_default();
        if rounds.len() <= *n {
            rounds.push(Vec::new());
        }
        rounds[*n].push(i);
        *n += 1;
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    let mut answers: Vec<Option<(Outcome, tickets::Ticket)>> = vec![None; pending.len()];
    let mut live = Vec::new();
    for round in rounds {
        let these: Vec<&Pending> = round.iter().map(|&i| &pending[i]).collect();
        let written = write_round(&txn, pos, &these, first, &mut live).await?;
        for (i, answer) in round.into_iter().zip(written) {
            answers[i] = Some(answer);
        }
    }
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    answers
        .into_iter()
        .map(|a| a.ok_or(Error::NotFound("ticket")))
        .collect()
}

/// What a round decided for one ticket it writes.
struct Planned<'a> {
    pending: &'a Pending,
    existing: Option<tickets::Ticket>,
    customer: Option<Uuid>,
    vehicle: Option<Uuid>,
}

async fn write_round(
    db: &impl ConnectionTrait,
    pos: &PosCtx,
    pending: &[&Pending],
    first: &mut FirstStatus,
    live: &mut Vec<LiveEvent>,
) -> Result<Vec<(Outcome, tickets::Ticket)>> {
    let shop = pos.shop_id();
    let at = pitwall_store::now();
    let exts: Vec<String> = pending.iter().map(|p| p.ext.clone()).collect();
    let mut stored: HashMap<String, tickets::Ticket> = tickets::by_external_ids(db, shop, &exts)
        .await?
        .into_iter()
        .map(|t| (t.external_id.clone(), t))
        .collect();

    let mut batch = Batch::new();
    let mut sync_rows = Vec::new();
    let mut answers: Vec<Option<(Outcome, tickets::Ticket)>> = vec![None; pending.len()];
    let mut to_write: Vec<(usize, Option<tickets::Ticket>)> = Vec::new();
    for (i, p) in pending.iter().enumerate() {
        match stored.remove(&p.ext) {
            Some(t) if p.ticket.pos_updated_at <= t.pos_updated_at => {
                let outcome = if p.ticket.pos_updated_at == t.pos_updated_at {
                    Outcome::Unchanged
                } else {
                    Outcome::Stale
                };
                sync_rows.push(activity::sync_event_row(
                    shop,
                    activity::NewSyncEvent {
                        operation: "ticket.put",
                        external_id: Some(&p.ext),
                        outcome: outcome.as_str(),
                        errors: (outcome == Outcome::Stale).then(|| {
                            json!([{"field": "pos_updated_at", "message": format!("is older than the stored {}", t.pos_updated_at.to_rfc3339())}])
                        }),
                        payload: None,
                    },
                ));
                answers[i] = Some((outcome, t));
            }
            existing => to_write.push((i, existing)),
        }
    }

    // Who and what each ticket is about, decided on what was read.
    let mut people = People::load(
        db,
        shop,
        at,
        to_write.iter().map(|(i, existing)| {
            let t = &pending[*i].ticket;
            Wanted {
                customer: t.customer.as_ref().map(|c| &c.0),
                vehicle: t.vehicle.as_ref().map(|v| &v.0),
                customer_id: existing.as_ref().and_then(|e| e.customer_id),
                vehicle_id: existing.as_ref().and_then(|e| e.vehicle_id),
            }
        }),
    )
    .await?;
    let mut planned = Vec::with_capacity(to_write.len());
    for (i, existing) in to_write {
        let p = pending[i];
        let customer = match &p.ticket.customer {
            Some(c) => Some(people.customer(&c.0)),
            None => existing
                .as_ref()
                .and_then(|t| t.customer_id)
                .filter(|id| people.customers.contains_key(id)),
        };
        let vehicle = match &p.ticket.vehicle {
            Some(v) => Some(people.vehicle(&v.0, customer)),
            None => existing
                .as_ref()
                .and_then(|t| t.vehicle_id)
                .filter(|id| people.vehicles.contains_key(id)),
        };
        planned.push((
            i,
            Planned {
                pending: p,
                existing,
                customer,
                vehicle,
            },
        ));
    }

    let existing_ids: Vec<Uuid> = planned
        .iter()
        .filter_map(|(_, p)| p.existing.as_ref().map(|t| t.id))
        .collect();
    let mut current: HashMap<Uuid, Vec<tickets::Service>> = HashMap::new();
    for s in tickets::services_of_many(db, shop, &existing_ids).await? {
        current.entry(s.ticket_id).or_default().push(s);
    }
    let first_status = if planned.iter().any(|(_, p)| p.existing.is_none()) {
        first.get(db, shop).await?
    } else {
        None
    };

    let mut new_tickets = Vec::new();
    let mut updates = Vec::new();
    let mut new_services = Vec::new();
    let mut changed_services = Vec::new();
    let mut line_items = Vec::new();
    let mut events = Vec::new();
    let mut removed = Vec::new();
    let mut own = Vec::new();
    for (i, plan) in planned {
        let v = &plan.pending.ticket;
        let customer = plan.customer.and_then(|id| people.customers.get(&id));
        let vehicle = plan.vehicle.and_then(|id| people.vehicles.get(&id));
        let fields = tickets::PosFields {
            external_id: plan.pending.ext.clone(),
            kind: v.kind.as_str().to_owned(),
            number: v.number.clone(),
            customer_id: plan.customer,
            vehicle_id: plan.vehicle,
            promised_at: v.promised_at,
            closed: v.closed,
            tax_rate_ppm: v.tax_rate_ppm,
            currency: pos.shop.currency.clone(),
            pos_updated_at: v.pos_updated_at,
            search_text: search_text(&v.number, customer, vehicle),
        };
        let tid = plan
            .existing
            .as_ref()
            .map(|t| TicketId::from_uuid(t.id))
            .unwrap_or_else(TicketId::new);
        let current = plan
            .existing
            .as_ref()
            .and_then(|t| current.remove(&t.id))
            .unwrap_or_default();

        let mut kept = Vec::new();
        let mut items = Vec::new();
        for (n, s) in v.services.iter().enumerate() {
            let service = tickets::ServiceFields {
                external_id: s.external_id.clone(),
                position: n as i32,
                title: s.title.clone(),
                status: s.status.as_str().to_owned(),
                subtotal: s.subtotal,
                taxable_subtotal: s.taxable,
            };
            let id = match current.iter().find(|c| c.external_id == s.external_id) {
                Some(found) => {
                    changed_services.push((found.clone(), service));
                    found.id
                }
                None => {
                    let id = ServiceId::new();
                    new_services.push(tickets::new_service(shop, tid, id, service));
                    id.as_uuid()
                }
            };
            for (j, (kind, desc, qty, price, taxable, amount)) in s.items.iter().enumerate() {
                items.push(tickets::LineItemFields {
                    service_id: id,
                    position: (n * 1000 + j) as i32,
                    kind: kind.as_str().to_owned(),
                    description: desc.clone(),
                    quantity_milli: *qty,
                    unit_price: *price,
                    taxable: *taxable,
                    amount: *amount,
                    part_number: None,
                });
            }
            kept.push(id);
        }
        line_items.extend(tickets::line_item_rows(shop, tid, items));
        // A service Pitwall made (from an inspection finding) stays, with
        // its line items, until the POS sends it itself; the POS's other
        // services it no longer sends are marked removed.
        let mut counted: Vec<_> = v
            .services
            .iter()
            .map(|s| (s.status, s.subtotal, s.taxable))
            .collect();
        for c in current.iter().filter(|c| !kept.contains(&c.id)) {
            if c.source == tickets::SOURCE_PITWALL {
                own.push(c.id);
                if !c.removed {
                    counted.push((c.status_value()?, c.subtotal, c.taxable_subtotal));
                }
            } else if !c.removed {
                removed.push(c.id);
            }
        }
        let totals = Totals::of(counted, v.tax_rate_ppm);

        let outcome = if plan.existing.is_some() {
            Outcome::Updated
        } else {
            Outcome::Created
        };
        let event = TimelineEventId::new();
        events.push(activity::event_row(
            shop,
            event,
            activity::NewEvent {
                ticket: tid,
                kind: pitwall_domain::tickets::TimelineKind::PosPush.as_str(),
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
            at,
        ));
        sync_rows.push(activity::sync_event_row(
            shop,
            activity::NewSyncEvent {
                operation: "ticket.put",
                external_id: Some(&plan.pending.ext),
                outcome: outcome.as_str(),
                errors: None,
                payload: None,
            },
        ));
        let kind = if outcome == Outcome::Created {
            "ticket_created"
        } else {
            "ticket_updated"
        };
        live.push(LiveEvent::new(
            shop,
            Some(tid.as_uuid()),
            kind,
            Some(event.as_uuid()),
        ));
        live.push(timeline_live(shop, tid, event.as_uuid()));

        match plan.existing {
            Some(t) => updates.push((i, t, fields, totals)),
            None => {
                let mut t = tickets::new_ticket(shop, tid, fields, first_status, at);
                t.subtotal = totals.subtotal;
                t.tax = totals.tax;
                t.total = totals.total;
                answers[i] = Some((Outcome::Created, t.clone()));
                new_tickets.push(t.into_active_model());
            }
        }
    }

    // Removals first, so that the push's own line items go in after.
    tickets::mark_services_removed(db, shop, &removed).await?;
    let updated_ids: Vec<Uuid> = updates.iter().map(|(_, t, _, _)| t.id).collect();
    tickets::delete_pushed_line_items(db, shop, &updated_ids, &own).await?;
    // Parents before children: SQLite runs the inserts in this order.
    people.insert_new(&mut batch);
    batch.insert(new_tickets);
    batch.insert(new_services);
    batch.insert(line_items);
    batch.insert(events);
    batch.insert(sync_rows);
    batch.run_in(db).await?;
    // Updates may point at rows the batch just made. Rows are updated in
    // id order, so two batches touching the same rows wait for each other
    // instead of deadlocking.
    let changed = people.save_changed(db).await?;
    updates.sort_by_key(|(_, t, _, _)| t.id);
    changed_services.sort_by_key(|(s, _)| s.id);
    for (i, t, fields, totals) in updates {
        let t = tickets::update_from_pos(db, t, fields, &totals).await?;
        answers[i] = Some((Outcome::Updated, t));
    }
    for (found, service) in changed_services {
        tickets::update_pushed_service(db, found, service).await?;
    }
    // Other tickets of a customer or vehicle whose searched fields changed
    // are found by the old values until re-indexed.
    changed.reindex(db, shop).await?;
    answers
        .into_iter()
        .map(|a| a.ok_or(Error::NotFound("ticket")))
        .collect()
}

/// The customer and vehicle one ticket names, and those it had.
struct Wanted<'a> {
    customer: Option<&'a customers::CustomerFields>,
    vehicle: Option<&'a customers::VehicleFields>,
    customer_id: Option<Uuid>,
    vehicle_id: Option<Uuid>,
}

/// The customers and vehicles a push may mean, read at once, and what the
/// push makes of them. Lookups scan: a batch holds at most a few hundred.
struct People {
    shop: ShopId,
    at: DateTime<Utc>,
    customers: HashMap<Uuid, customers::Customer>,
    /// As read; absent for those the push makes.
    customers_read: HashMap<Uuid, customers::Customer>,
    vehicles: HashMap<Uuid, customers::Vehicle>,
    vehicles_read: HashMap<Uuid, customers::Vehicle>,
    /// New rows, in the order made.
    made_customers: Vec<Uuid>,
    made_vehicles: Vec<Uuid>,
}

impl People {
    async fn load<'a>(
        db: &impl ConnectionTrait,
        shop: ShopId,
        at: DateTime<Utc>,
        wanted: impl Iterator<Item = Wanted<'a>>,
    ) -> Result<Self> {
        let (mut c_exts, mut phones, mut c_ids) = (Vec::new(), Vec::new(), Vec::new());
        let (mut v_exts, mut vins, mut v_ids) = (Vec::new(), Vec::new(), Vec::new());
        for w in wanted {
            match w.customer {
                Some(c) => {
                    c_exts.extend(c.external_id.clone());
                    phones.extend(c.phone.clone());
                }
                None => c_ids.extend(w.customer_id),
            }
            match w.vehicle {
                Some(v) => {
                    v_exts.extend(v.external_id.clone());
                    vins.extend(v.vin.clone());
                }
                None => v_ids.extend(w.vehicle_id),
            }
        }
        let mut read = customers::by_external_ids(db, shop, &c_exts).await?;
        // A merged customer's external id leads to the kept one.
        c_ids.extend(read.iter().filter_map(|c| c.merged_into));
        read.extend(customers::live_by_phones(db, shop, &phones).await?);
        c_ids.retain(|id| !read.iter().any(|c| c.id == *id));
        read.extend(customers::many(db, shop, &c_ids).await?);
        let mut vehicles = customers::vehicles_by_external_ids(db, shop, &v_exts).await?;
        vehicles.extend(customers::vehicles_by_vins(db, shop, &vins).await?);
        v_ids.retain(|id| !vehicles.iter().any(|v| v.id == *id));
        vehicles.extend(customers::many_vehicles(db, shop, &v_ids).await?);
        let customers: HashMap<Uuid, customers::Customer> =
            read.into_iter().map(|c| (c.id, c)).collect();
        let vehicles: HashMap<Uuid, customers::Vehicle> =
            vehicles.into_iter().map(|v| (v.id, v)).collect();
        Ok(People {
            shop,
            at,
            customers_read: customers.clone(),
            customers,
            vehicles_read: vehicles.clone(),
            vehicles,
            made_customers: Vec::new(),
            made_vehicles: Vec::new(),
        })
    }

    /// The customer the POS means: by its external id (following a
    /// merge), else the oldest live one with the phone number, else a new
    /// one. A phone match keeps the customer's existing external id.
    fn customer(&mut self, f: &customers::CustomerFields) -> Uuid {
        let mut found = f.external_id.as_ref().and_then(|ext| {
            self.customers
                .values()
                .find(|c| c.external_id.as_ref() == Some(ext))
                .map(|c| c.id)
        });
        if let Some(into) = found.and_then(|id| self.customers.get(&id)?.merged_into) {
            found = self.customers.contains_key(&into).then_some(into);
        }
        let mut fields = f.clone();
        if found.is_none()
            && let Some(phone) = &f.phone
        {
            found = self
                .customers
                .values()
                .filter(|c| c.phone.as_ref() == Some(phone) && c.merged_into.is_none())
                .map(|c| c.id)
                .min();
            if found
                .and_then(|id| self.customers.get(&id))
                .is_some_and(|c| c.external_id.is_some())
            {
                fields.external_id = None;
            }
        }
        match found.and_then(|id| self.customers.get(&id)) {
            Some(c) => {
                let id = c.id;
                if let Some(after) = customers::pushed(c, fields, self.at) {
                    self.customers.insert(id, after);
                }
                id
            }
            None => {
                let c = customers::new_customer(self.shop, fields, self.at);
                let id = c.id;
                self.customers.insert(id, c);
                self.made_customers.push(id);
                id
            }
        }
    }

    /// The vehicle the POS means: by its external id, else the oldest with
    /// the VIN, else a new one; it belongs to the ticket's customer.
    fn vehicle(&mut self, f: &customers::VehicleFields, customer: Option<Uuid>) -> Uuid {
        let mut f = f.clone();
        f.customer_id = customer.map(CustomerId::from_uuid);
        let by_ext = f.external_id.as_ref().and_then(|ext| {
            self.vehicles
                .values()
                .find(|v| v.external_id.as_ref() == Some(ext))
                .map(|v| v.id)
        });
        let found = by_ext.or_else(|| {
            let vin = f.vin.as_ref()?;
            self.vehicles
                .values()
                .filter(|v| v.vin.as_ref() == Some(vin))
                .map(|v| v.id)
                .min()
        });
        match found.and_then(|id| self.vehicles.get(&id)) {
            Some(v) => {
                let id = v.id;
                if let Some(after) = customers::pushed_vehicle(v, f, self.at) {
                    self.vehicles.insert(id, after);
                }
                id
            }
            None => {
                let v = customers::new_vehicle(self.shop, f, self.at);
                let id = v.id;
                self.vehicles.insert(id, v);
                self.made_vehicles.push(id);
                id
            }
        }
    }

    /// The new customers, then the new vehicles (which may name them).
    fn insert_new(&self, batch: &mut Batch) {
        batch.insert(
            self.made_customers
                .iter()
                .filter_map(|id| self.customers.get(id))
                .cloned()
                .map(IntoActiveModel::into_active_model),
        );
        batch.insert(
            self.made_vehicles
                .iter()
                .filter_map(|id| self.vehicles.get(id))
                .cloned()
                .map(IntoActiveModel::into_active_model),
        );
    }

    /// Writes the customers and vehicles that existed and changed; answers
    /// those whose searched fields changed (their other tickets need
    /// re-indexing).
    async fn save_changed(&self, db: &impl ConnectionTrait) -> Result<SearchedChanges> {
        use crate::tickets::search_text;
        let mut changed = SearchedChanges::default();
        for (before, after) in changed_rows(&self.customers_read, &self.customers) {
            customers::save_pushed(db, self.shop, after).await?;
            if search_text("", Some(before), None) != search_text("", Some(after), None) {
                changed.customers.push(after.clone());
            }
        }
        for (before, after) in changed_rows(&self.vehicles_read, &self.vehicles) {
            customers::save_pushed_vehicle(db, self.shop, after).await?;
            if search_text("", None, Some(before)) != search_text("", None, Some(after)) {
                changed.vehicles.push(after.clone());
            }
        }
        Ok(changed)
    }

    /// Writes what a push of one customer or vehicle made of them, and
    /// re-indexes the tickets that show a changed one.
    async fn write_alone(&self, db: &impl ConnectionTrait) -> Result<()> {
        let mut batch = Batch::new();
        self.insert_new(&mut batch);
        batch.run_in(db).await?;
        self.save_changed(db).await?.reindex(db, self.shop).await
    }
}

/// The rows that were read and have changed since, as read and as now, in id
/// order: two pushes update the same rows in the same order, so they wait
/// for each other instead of deadlocking.
fn changed_rows<'a, T: PartialEq>(
    read: &'a HashMap<Uuid, T>,
    now: &'a HashMap<Uuid, T>,
) -> Vec<(&'a T, &'a T)> {
    let mut rows: Vec<_> = read
        .iter()
        .filter_map(|(id, before)| Some((id, before, now.get(id).filter(|a| *a != before)?)))
        .collect();
    rows.sort_by_key(|(id, _, _)| **id);
    rows.into_iter()
        .map(|(_, before, after)| (before, after))
        .collect()
}

/// Customers and vehicles whose searched fields a push changed.
#[derive(Default)]
struct SearchedChanges {
    customers: Vec<customers::Customer>,
    vehicles: Vec<customers::Vehicle>,
}

impl SearchedChanges {
    async fn reindex(&self, db: &impl ConnectionTrait, shop: ShopId) -> Result<()> {
        for c in &self.customers {
            crate::tickets::reindex_customer(db, shop, c).await?;
        }
        for v in &self.vehicles {
            crate::tickets::reindex_vehicle(db, shop, v).await?;
        }
        Ok(())
    }
}

/// A customer pushed on its own: the same rules as a ticket's customer.
pub(super) async fn push_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: &customers::CustomerFields,
) -> Result<customers::Customer> {
    let wanted = Wanted {
        customer: Some(f),
        vehicle: None,
        customer_id: None,
        vehicle_id: None,
    };
    let mut people = People::load(db, shop, pitwall_store::now(), std::iter::once(wanted)).await?;
    let id = people.customer(f);
    people.write_alone(db).await?;
    people
        .customers
        .remove(&id)
        .ok_or(Error::NotFound("customer"))
}

/// A vehicle pushed on its own: the same rules as a ticket's vehicle (by
/// external id, else the oldest with the VIN, else a new one). Its owner
/// stays unless `f` names one.
pub(super) async fn push_vehicle(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: &customers::VehicleFields,
) -> Result<customers::Vehicle> {
    let wanted = Wanted {
        customer: None,
        vehicle: Some(f),
        customer_id: None,
        vehicle_id: None,
    };
    let mut people = People::load(db, shop, pitwall_store::now(), std::iter::once(wanted)).await?;
    let owner = f.customer_id.map(|c| c.as_uuid());
    let id = people.vehicle(f, owner);
    people.write_alone(db).await?;
    people
        .vehicles
        .remove(&id)
        .ok_or(Error::NotFound("vehicle"))
}
