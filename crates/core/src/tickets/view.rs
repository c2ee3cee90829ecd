use chrono::{DateTime, Utc};
use pitwall_domain::tickets::{ServiceStatus, TimerMode, Totals};
use pitwall_domain::timer::{self, TimerState};
use pitwall_domain::{Permission, ShopId, StatusId, TicketId, UserId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{activity, customers, identity, statuses, tickets};

use crate::{App, Error, Result, ShopCtx};

/// A ticket with what it refers to, as every view shows it.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: tickets::Ticket,
    pub customer: Option<customers::Customer>,
    pub vehicle: Option<customers::Vehicle>,
    pub status: Option<statuses::VehicleStatus>,
    pub services: Vec<ServiceView>,
    pub advisor: Option<Person>,
    pub technician: Option<Person>,
    pub timer: Option<TimerState>,
    /// The repair-order stage, read once (staff only).
    pub stage: pitwall_domain::workflow::Stage,
    /// The hand-off's target in a work queue (the shop's minutes for the
    /// queue, counted from when the stage was entered); set by
    /// `workflow::queue` only.
    pub stage_timer: Option<TimerState>,
}

impl TicketView {
    /// Work approved that no staff member has looked at yet: the
    /// dashboard's highlight, in the API and on the pages alike.
    pub fn approval_unseen(&self) -> bool {
        let t = &self.ticket;
        t.approved_at
            .is_some_and(|a| t.approval_seen_at.is_none_or(|seen| seen < a))
    }
}

#[derive(Debug, Clone)]
pub struct ServiceView {
    pub service: tickets::Service,
    /// The service's status, read once (a value Pitwall does not know is
    /// a corrupt row, refused where the view is made).
    pub status: ServiceStatus,
    pub line_items: Vec<tickets::LineItem>,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: uuid::Uuid,
    pub name: String,
}

/// The ticket page: the view plus its history and activity (staff only).
#[derive(Debug, Clone)]
pub struct TicketDetail {
    pub view: TicketView,
    pub status_history: Vec<StatusHistoryEntry>,
    pub comments: Vec<activity::Comment>,
    pub messages: Vec<activity::Message>,
    /// Other tickets of the same customer or vehicle, newest first.
    pub shop_history: Vec<tickets::Ticket>,
}

#[derive(Debug, Clone)]
pub struct StatusHistoryEntry {
    pub from: Option<String>,
    pub to: String,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

pub(super) async fn person(
    db: &impl ConnectionTrait,
    id: Option<uuid::Uuid>,
) -> Result<Option<Person>> {
    let Some(id) = id else { return Ok(None) };
    Ok(identity::user_by_id(db, UserId::from_uuid(id))
        .await?
        .map(|u| Person {
            id: u.id,
            name: u.name,
        }))
}

/// Whether the signed-in member may see customers' phone and e-mail.
/// Technicians and parts work on the car, not with the customer: a role
/// without `customers.view` sees tickets without them, and messages
/// without the address they went to.
pub(super) struct Contact(bool);

impl Contact {
    pub(super) async fn of(app: &App, ctx: &ShopCtx) -> Self {
        Contact(app.may(ctx, Permission::CustomersView).await)
    }

    pub(super) fn view(&self, mut v: TicketView) -> TicketView {
        if !self.0
            && let Some(c) = v.customer.as_mut()
        {
            c.phone = None;
            c.email = None;
        }
        v
    }

    pub(super) fn messages(&self, list: &mut [pitwall_store::messages::Message]) {
        if !self.0 {
            for m in list {
                m.to_address.clear();
            }
        }
    }
}

/// Loads everything a ticket view shows; its timer as of `now` (the app's
/// clock).
pub async fn view(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: tickets::Ticket,
    now: DateTime<Utc>,
) -> Result<TicketView> {
    let customer = match ticket.customer_id {
        Some(c) => customers::get(db, shop, pitwall_domain::CustomerId::from_uuid(c)).await?,
        None => None,
    };
    let vehicle = match ticket.vehicle_id {
        Some(v) => customers::vehicle(db, shop, pitwall_domain::VehicleId::from_uuid(v)).await?,
        None => None,
    };
    let status = match ticket.status_id {
        Some(s) => statuses::get(db, shop, StatusId::from_uuid(s)).await?,
        None => None,
    };
    view_with(db, shop, ticket, customer, vehicle, status, now).await
}

/// The view of a ticket whose customer, vehicle and status the caller
/// already holds: services with line items, and people, in two queries.
pub(super) async fn view_with(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: tickets::Ticket,
    customer: Option<customers::Customer>,
    vehicle: Option<customers::Vehicle>,
    status: Option<statuses::VehicleStatus>,
    now: DateTime<Utc>,
) -> Result<TicketView> {
    let tid = TicketId::from_uuid(ticket.id);
    let (services, line_items) = tickets::services_and_line_items(db, shop, tid).await?;
    let wanted: Vec<uuid::Uuid> = [ticket.advisor_id, ticket.technician_id]
        .into_iter()
        .flatten()
        .collect();
    let people = identity::users_by_ids(db, &wanted).await?;
    let person = |id: Option<uuid::Uuid>| {
        id.and_then(|id| people.iter().find(|u| u.id == id))
            .map(|u| Person {
                id: u.id,
                name: u.name.clone(),
            })
    };
    assemble(
        Parts {
            advisor: person(ticket.advisor_id),
            technician: person(ticket.technician_id),
            ticket,
            customer,
            vehicle,
            status,
            services,
            line_items,
        },
        now,
    )
}

/// Loads the views of many tickets with a fixed number of queries (lists,
/// the dashboard), whatever the page size; their timers as of `now`.
pub async fn views(
    db: &impl ConnectionTrait,
    shop: ShopId,
    list: Vec<tickets::Ticket>,
    now: DateTime<Utc>,
) -> Result<Vec<TicketView>> {
    use std::collections::HashMap;
    if list.is_empty() {
        return Ok(vec![]);
    }
    let uniq = |f: &dyn Fn(&tickets::Ticket) -> Option<uuid::Uuid>| {
        let mut v: Vec<uuid::Uuid> = list.iter().filter_map(f).collect();
        v.sort();
        v.dedup();
        v
    };
    let customers: HashMap<_, _> = customers::many(db, shop, &uniq(&|t| t.customer_id))
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let vehicles: HashMap<_, _> = customers::many_vehicles(db, shop, &uniq(&|t| t.vehicle_id))
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let all_statuses: HashMap<_, _> = statuses::all(db, shop)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut people = uniq(&|t| t.advisor_id);
    people.extend(uniq(&|t| t.technician_id));
    let people: HashMap<_, _> = identity::users_by_ids(db, &people)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.id,
                Person {
                    id: u.id,
                    name: u.name,
                },
            )
        })
        .collect();
    let person = |id: Option<uuid::Uuid>| id.and_then(|id| people.get(&id)).cloned();
    let ids: Vec<uuid::Uuid> = list.iter().map(|t| t.id).collect();
    let (all_services, all_items) =
        tickets::services_and_line_items_of_many(db, shop, &ids).await?;
    let mut services: HashMap<uuid::Uuid, Vec<tickets::Service>> = HashMap::new();
    for s in all_services {
        services.entry(s.ticket_id).or_default().push(s);
    }
    let mut items: HashMap<uuid::Uuid, Vec<tickets::LineItem>> = HashMap::new();
    for i in all_items {
        items.entry(i.ticket_id).or_default().push(i);
    }
    list.into_iter()
        .map(|ticket| {
            assemble(
                Parts {
                    customer: ticket.customer_id.and_then(|c| customers.get(&c)).cloned(),
                    vehicle: ticket.vehicle_id.and_then(|v| vehicles.get(&v)).cloned(),
                    status: ticket.status_id.and_then(|s| all_statuses.get(&s)).cloned(),
                    advisor: person(ticket.advisor_id),
                    technician: person(ticket.technician_id),
                    services: services.remove(&ticket.id).unwrap_or_default(),
                    line_items: items.remove(&ticket.id).unwrap_or_default(),
                    ticket,
                },
                now,
            )
        })
        .collect()
}

/// Everything read of a ticket for its view.
struct Parts {
    ticket: tickets::Ticket,
    customer: Option<customers::Customer>,
    vehicle: Option<customers::Vehicle>,
    status: Option<statuses::VehicleStatus>,
    advisor: Option<Person>,
    technician: Option<Person>,
    /// In order, removed ones included.
    services: Vec<tickets::Service>,
    /// The services' line items, each service's in order.
    line_items: Vec<tickets::LineItem>,
}

/// A ticket's view from everything read of it, for one ticket and for many
/// alike: removed services left out, line items under their service, the
/// timer as of `now`.
fn assemble(parts: Parts, now: DateTime<Utc>) -> Result<TicketView> {
    let mut items = parts.line_items;
    let services = parts
        .services
        .into_iter()
        .filter(|s| !s.removed)
        .map(|service| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                items.drain(..).partition(|i| i.service_id == service.id);
            items = rest;
            Ok(ServiceView {
                status: service.status_value()?,
                service,
                line_items: mine,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ticket = parts.ticket;
    Ok(TicketView {
        stage: ticket.stage_value()?,
        stage_timer: None,
        customer: parts.customer,
        vehicle: parts.vehicle,
        advisor: parts.advisor,
        technician: parts.technician,
        services,
        timer: timer_of(&ticket, parts.status.as_ref(), now),
        status: parts.status,
        ticket,
    })
}

pub fn timer_of(
    t: &tickets::Ticket,
    status: Option<&statuses::VehicleStatus>,
    now: DateTime<Utc>,
) -> Option<TimerState> {
    let status = status?;
    let mode = TimerMode::parse(&status.timer_mode)?;
    if mode == TimerMode::Open {
        return None;
    }
    Some(timer::state(
        mode,
        t.status_changed_at?,
        t.status_due_at,
        now,
    ))
}

/// Recomputes a ticket's totals from its services (after any change to them).
pub(crate) async fn recompute_totals(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: &tickets::Ticket,
) -> Result<Totals> {
    let services = tickets::services(db, shop, TicketId::from_uuid(ticket.id)).await?;
    let counted = services
        .iter()
        .filter(|s| !s.removed)
        .map(|s| Ok((s.status_value()?, s.subtotal, s.taxable_subtotal)))
        .collect::<Result<Vec<_>>>()?;
    let totals = Totals::of(counted, ticket.tax_rate_ppm);
    tickets::set_totals(
        db,
        shop,
        TicketId::from_uuid(ticket.id),
        totals.subtotal,
        totals.tax,
        totals.total,
    )
    .await?;
    Ok(totals)
}

pub(super) async fn ticket_in(
    db: &impl ConnectionTrait,
    ctx: &ShopCtx,
    id: TicketId,
) -> Result<tickets::Ticket> {
    tickets::get(db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("ticket"))
}
