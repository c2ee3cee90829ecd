//! Tickets for staff: find, read, comment, assign, set the vehicle status,
//! record in-person approvals; the dashboard and the technician's queue.
//! The POS side of the same tickets is in [`crate::pos`].

use chrono::{DateTime, Utc};
use pitwall_domain::tickets::{ActorKind, ServiceStatus, TimelineKind, TimerMode, Totals};
use pitwall_domain::timer::{self, TimerState};
use pitwall_domain::{
    Feature, Permission, ServiceId, ShopId, StatusId, TicketId, TimelineEventId, UserId, values,
};
use pitwall_store::batch::Batch;
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{Page, PageRequest, activity, customers, identity, members, statuses, tickets};
use serde_json::json;

use crate::live::LiveEvent;
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

/// The customer's name as staff read it.
pub fn customer_name(c: &customers::Customer) -> String {
    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        c.phone.clone().unwrap_or_else(|| "Customer".to_owned())
    } else {
        name
    }
}

/// `2019 Honda Civic`, or the plate, or nothing.
pub fn vehicle_label(v: &customers::Vehicle) -> String {
    let yr = v.year.map(|y| y.to_string());
    let parts: Vec<&str> = [yr.as_deref(), v.make.as_deref(), v.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        v.plate.clone().unwrap_or_else(|| "vehicle".to_owned())
    } else {
        parts.join(" ")
    }
}

/// Lower-case tokens of everything a ticket is searched by, each stripped to
/// letters and digits so that `ABC-123` and `abc 123` both find `ABC123`.
pub fn search_text(
    number: &str,
    customer: Option<&customers::Customer>,
    vehicle: Option<&customers::Vehicle>,
) -> String {
    let mut parts: Vec<String> = vec![number.to_owned()];
    if let Some(c) = customer {
        parts.extend(c.first_name.clone());
        parts.extend(c.last_name.clone());
        parts.extend(c.phone.clone());
        parts.extend(c.email.clone());
    }
    if let Some(v) = vehicle {
        parts.extend(v.plate.clone());
        parts.extend(v.vin.clone());
        parts.extend(v.make.clone());
        parts.extend(v.model.clone());
    }
    parts
        .iter()
        .flat_map(|p| p.split_whitespace())
        .map(normalise_term)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn normalise_term(t: &str) -> String {
    t.chars()
        .filter(|c| c.is_alphanumeric() || *c == '@' || *c == '.')
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .trim_matches('.')
        .to_owned()
}

/// What someone typed into the search box, as terms that each must match.
pub fn search_terms(q: &str) -> Vec<String> {
    q.split_whitespace()
        .take(6)
        .map(|t| {
            let digits = pitwall_domain::phone::search_digits(t);
            let phone_like = t
                .chars()
                .all(|c| c.is_ascii_digit() || "()+-. ".contains(c));
            if phone_like && !digits.is_empty() {
                digits
            } else {
                normalise_term(t)
            }
        })
        .filter(|t| !t.is_empty())
        .map(|t| t.replace(['%', '_'], ""))
        .collect()
}

/// Re-indexes the tickets of a customer whose name, phone or e-mail changed
/// (an edit from the POS, a merge), so that search finds them by the new
/// values. Runs in the caller's transaction.
pub(crate) async fn reindex_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: &customers::Customer,
) -> Result<()> {
    let filter = tickets::TicketFilter {
        customer_id: Some(customer.id),
        ..Default::default()
    };
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let batch = tickets::list(db, shop, &filter, page).await?;
        for t in &batch.items {
            let vehicle = match t.vehicle_id {
                Some(v) => {
                    customers::vehicle(db, shop, pitwall_domain::VehicleId::from_uuid(v)).await?
                }
                None => None,
            };
            let text = search_text(&t.number, Some(customer), vehicle.as_ref());
            if text != t.search_text {
                tickets::set_search_text(db, shop, TicketId::from_uuid(t.id), &text).await?;
            }
        }
        match batch.next_cursor.and_then(|c| c.parse().ok()) {
            Some(after) => page.after = Some(after),
            None => return Ok(()),
        }
    }
}

async fn person(db: &impl ConnectionTrait, id: Option<uuid::Uuid>) -> Result<Option<Person>> {
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
struct Contact(bool);

impl Contact {
    async fn of(app: &App, ctx: &ShopCtx) -> Self {
        Contact(app.may(ctx, Permission::CustomersView).await)
    }

    fn view(&self, mut v: TicketView) -> TicketView {
        if !self.0
            && let Some(c) = v.customer.as_mut()
        {
            c.phone = None;
            c.email = None;
        }
        v
    }

    fn messages(&self, list: &mut [pitwall_store::messages::Message]) {
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
/// already holds: services, line items and people in three queries.
async fn view_with(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: tickets::Ticket,
    customer: Option<customers::Customer>,
    vehicle: Option<customers::Vehicle>,
    status: Option<statuses::VehicleStatus>,
    now: DateTime<Utc>,
) -> Result<TicketView> {
    let tid = TicketId::from_uuid(ticket.id);
    let (services, mut items) = tickets::services_and_line_items(db, shop, tid).await?;
    let services = services
        .into_iter()
        .filter(|s| !s.removed)
        .map(|service| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                items.drain(..).partition(|i| i.service_id == service.id);
            items = rest;
            ServiceView {
                service,
                line_items: mine,
            }
        })
        .collect();
    let timer = timer_of(&ticket, status.as_ref(), now);
    let wanted: Vec<uuid::Uuid> = [ticket.advisor_id, ticket.technician_id]
        .into_iter()
        .flatten()
        .collect();
    let people = if wanted.is_empty() {
        Vec::new()
    } else {
        identity::users_by_ids(db, &wanted).await?
    };
    let person_of = |id: Option<uuid::Uuid>| {
        id.and_then(|id| people.iter().find(|u| u.id == id))
            .map(|u| Person {
                id: u.id,
                name: u.name.clone(),
            })
    };
    Ok(TicketView {
        advisor: person_of(ticket.advisor_id),
        technician: person_of(ticket.technician_id),
        ticket,
        customer,
        vehicle,
        status,
        services,
        timer,
    })
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
    let ids: Vec<uuid::Uuid> = list.iter().map(|t| t.id).collect();
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
    let (all_services, all_items) =
        tickets::services_and_line_items_of_many(db, shop, &ids).await?;
    let mut items: HashMap<uuid::Uuid, Vec<tickets::LineItem>> = HashMap::new();
    for i in all_items {
        items.entry(i.service_id).or_default().push(i);
    }
    let mut services: HashMap<uuid::Uuid, Vec<ServiceView>> = HashMap::new();
    for s in all_services {
        if s.removed {
            continue;
        }
        let line_items = items.remove(&s.id).unwrap_or_default();
        services.entry(s.ticket_id).or_default().push(ServiceView {
            service: s,
            line_items,
        });
    }
    Ok(list
        .into_iter()
        .map(|ticket| {
            let status = ticket.status_id.and_then(|s| all_statuses.get(&s)).cloned();
            TicketView {
                customer: ticket.customer_id.and_then(|c| customers.get(&c)).cloned(),
                vehicle: ticket.vehicle_id.and_then(|v| vehicles.get(&v)).cloned(),
                advisor: ticket.advisor_id.and_then(|p| people.get(&p)).cloned(),
                technician: ticket.technician_id.and_then(|p| people.get(&p)).cloned(),
                services: services.remove(&ticket.id).unwrap_or_default(),
                timer: timer_of(&ticket, status.as_ref(), now),
                status,
                ticket,
            }
        })
        .collect())
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
    let totals = Totals::of(
        services.iter().filter(|s| !s.removed).map(|s| {
            (
                ServiceStatus::parse(&s.status).unwrap_or(ServiceStatus::Pending),
                s.subtotal,
                s.taxable_subtotal,
            )
        }),
        ticket.tax_rate_ppm,
    );
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

async fn ticket_in(
    db: &impl ConnectionTrait,
    ctx: &ShopCtx,
    id: TicketId,
) -> Result<tickets::Ticket> {
    tickets::get(db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("ticket"))
}

pub struct ListQuery<'a> {
    pub q: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// `open`, `closed` or `all` (default `all`).
    pub state: Option<&'a str>,
    pub status_id: Option<StatusId>,
    pub advisor_id: Option<UserId>,
    pub technician_id: Option<UserId>,
}

pub async fn list(
    app: &App,
    ctx: &ShopCtx,
    query: ListQuery<'_>,
    page: PageRequest,
) -> Result<Page<TicketView>> {
    app.require(ctx, Permission::TicketsView).await?;
    let kind = match query.kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(
            pitwall_domain::tickets::TicketKind::parse(k)
                .ok_or_else(|| Error::invalid("kind", "must be estimate, workorder or invoice"))?
                .as_str()
                .to_owned(),
        ),
    };
    let closed = match query.state.map(str::trim) {
        None | Some("") | Some("all") => None,
        Some("open") => Some(false),
        Some("closed") => Some(true),
        Some(_) => return Err(Error::invalid("state", "must be open, closed or all")),
    };
    let filter = tickets::TicketFilter {
        terms: search_terms(query.q.unwrap_or("")),
        kind,
        closed,
        status_id: query.status_id.map(|s| s.as_uuid()),
        advisor_id: query.advisor_id.map(|u| u.as_uuid()),
        technician_id: query.technician_id.map(|u| u.as_uuid()),
        customer_id: None,
        vehicle_id: None,
    };
    let page = tickets::list(&app.db, ctx.shop_id(), &filter, page).await?;
    let contact = Contact::of(app, ctx).await;
    Ok(Page {
        items: views(&app.db, ctx.shop_id(), page.items, app.config.clock.now())
            .await?
            .into_iter()
            .map(|v| contact.view(v))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

pub async fn get(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<TicketDetail> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    let ticket = ticket_in(&app.db, ctx, id).await?;
    let shop_history = tickets::history(&app.db, shop, &ticket, 50).await?;
    let all_statuses = statuses::all(&app.db, shop).await?;
    let label = |id: Option<uuid::Uuid>| {
        id.and_then(|id| all_statuses.iter().find(|s| s.id == id))
            .map(|s| s.label.clone())
    };
    let changes = activity::status_history(&app.db, shop, id).await?;
    // Who made the changes, in one query however long the history.
    let mut who: Vec<uuid::Uuid> = changes.iter().filter_map(|c| c.changed_by).collect();
    who.sort_unstable();
    who.dedup();
    let people = if who.is_empty() {
        Vec::new()
    } else {
        identity::users_by_ids(&app.db, &who).await?
    };
    let status_history = changes
        .into_iter()
        .map(|c| StatusHistoryEntry {
            from: label(c.from_status_id),
            to: label(Some(c.to_status_id)).unwrap_or_default(),
            by: c
                .changed_by
                .and_then(|u| people.iter().find(|p| p.id == u))
                .map(|p| p.name.clone()),
            at: c.created_at,
        })
        .collect();
    let comments = activity::comments(&app.db, shop, id, PageRequest::first(200))
        .await?
        .items;
    let mut messages = pitwall_store::messages::of_ticket(&app.db, shop, id).await?;
    let contact = Contact::of(app, ctx).await;
    contact.messages(&mut messages);
    Ok(TicketDetail {
        view: contact.view(view(&app.db, shop, ticket, app.config.clock.now()).await?),
        status_history,
        comments,
        messages,
        shop_history,
    })
}

pub async fn timeline(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    page: PageRequest,
) -> Result<Page<activity::TimelineEvent>> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::Timeline)?;
    ticket_in(&app.db, ctx, id).await?;
    Ok(activity::timeline(&app.db, ctx.shop_id(), id, page).await?)
}

/// Checks that a ticket exists in the shop (for live streams).
pub async fn require_ticket(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    ticket_in(&app.db, ctx, id).await.map(|_| ())
}

pub struct StatusChange {
    pub view: TicketView,
    pub messages: Vec<activity::Message>,
}

/// Sets the vehicle status. The ticket, its history, the timeline event,
/// the customer messages with their delivery jobs and timeline events, the
/// customer's thread and the live announcement are written together: all
/// of them or none.
///
/// Everything the change decides on is read in one query, and everything
/// it writes goes in one batch guarded by the ticket's version (on
/// PostgreSQL one statement: the busiest write path of a shop's day costs
/// two round trips, see docs/BENCHMARKS.md). If another change got to the
/// ticket in between, nothing was written and the change is decided again
/// on the new state.
pub async fn set_status(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    status_id: StatusId,
    duration_minutes: Option<i32>,
) -> Result<StatusChange> {
    app.require(ctx, Permission::TicketsStatusSet).await?;
    ctx.require_writable()?;
    change_status(app, ctx, id, status_id, duration_minutes).await
}

/// The status change itself, for a rule of the shop's own (publishing an
/// inspection sets the status the shop chose) as much as for staff; the
/// caller has decided that this actor may cause it.
pub(crate) async fn change_status(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    status_id: StatusId,
    duration_minutes: Option<i32>,
) -> Result<StatusChange> {
    if let Some(m) = duration_minutes
        && !(1..=10_080).contains(&m)
    {
        return Err(Error::invalid(
            "duration_minutes",
            "must be from 1 to 10080 (one week)",
        ));
    }
    let shop = ctx.shop_id();
    // Only changes racing on the same ticket retry; a short random pause
    // lets them pass one another instead of colliding again.
    const ATTEMPTS: u64 = 16;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let pause = rand::random::<u64>() % (500 * attempt);
            tokio::time::sleep(std::time::Duration::from_micros(pause)).await;
        }
        let now = Utc::now();
        let sms_month = crate::outreach::sms_usage_month(ctx, now);
        let inputs = tickets::status_inputs(&app.db, shop, id, status_id, sms_month.as_deref())
            .await?
            .ok_or(Error::NotFound("ticket"))?;
        let status = inputs
            .to
            .ok_or_else(|| Error::invalid("status_id", "is not a status of this shop"))?;
        if status.retired_at.is_some() {
            return Err(Error::invalid("status_id", "is retired"));
        }
        let mut ticket = inputs.ticket;
        let mode = TimerMode::parse(&status.timer_mode).unwrap_or(TimerMode::Open);
        let due = match mode {
            TimerMode::CountDown => duration_minutes
                .or(status.default_minutes)
                .map(|m| timer::due_at(now, m)),
            _ => None,
        };
        let mut batch = Batch::guarded(tickets::status_guard(
            shop,
            id,
            ticket.version,
            status_id,
            now,
            due,
        ));
        batch.insert([activity::status_change_row(
            shop,
            id,
            ticket.status_id,
            status_id,
            Some(ctx.user_id),
            now,
        )]);
        let event_id = TimelineEventId::new();
        batch.insert([activity::event_row(
            shop,
            event_id,
            activity::NewEvent {
                ticket: id,
                kind: TimelineKind::StatusChanged.as_str(),
                actor_kind: ActorKind::Staff.as_str(),
                actor_id: Some(ctx.user_id.as_uuid()),
                actor_name: Some(&ctx.user_name),
                data: json!({
                    "from": inputs.from.as_ref().map(|s| json!({"id": s.id, "label": s.label})),
                    "to": {"id": status.id, "label": status.label},
                    "due_at": due,
                }),
            },
            now,
        )]);
        // What the guard writes, applied to the row in hand (the answer
        // needs no second read).
        ticket.status_id = Some(status_id.as_uuid());
        ticket.status_changed_at = Some(now);
        ticket.status_due_at = due;
        ticket.version += 1;
        ticket.updated_at = now;
        let messages = if status.notify_customer {
            crate::outreach::plan_status_update(
                ctx,
                &app.config.clock,
                &ticket,
                &status,
                inputs.customer.as_ref(),
                inputs.vehicle.as_ref(),
                ctx.user_id,
                inputs.sms_used,
                now,
                &mut batch,
            )?
        } else {
            Vec::new()
        };
        let announced = app.live.announce(vec![LiveEvent {
            shop_id: shop.as_uuid(),
            ticket_id: Some(id.as_uuid()),
            kind: "status_changed".into(),
            event_id: Some(event_id.as_uuid()),
        }]);
        if !batch.run_guarded(&app.db).await? {
            // Changed (or deleted) since it was read: decide again.
            continue;
        }
        app.live.after_commit(announced);
        if !messages.is_empty() {
            app.jobs.nudge();
        }
        let view = view_with(
            &app.db,
            shop,
            ticket,
            inputs.customer,
            inputs.vehicle,
            Some(status),
            app.config.clock.now(),
        )
        .await?;
        let contact = Contact::of(app, ctx).await;
        let mut messages = messages;
        contact.messages(&mut messages);
        return Ok(StatusChange {
            view: contact.view(view),
            messages,
        });
    }
    // Only a ticket changed by many others at this very moment gets here.
    Err(Error::Conflict {
        field: "status_id".into(),
        message: "could not be set: others are changing this ticket right now; try again".into(),
    })
}

pub async fn add_comment(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    body: &str,
) -> Result<activity::Comment> {
    app.require(ctx, Permission::TicketsComment).await?;
    ctx.require_writable()?;
    let body = values::required_text(body, 4000).map_err(Error::field("body"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    ticket_in(&txn, ctx, id).await?;
    let author = ctx.user_name.clone();
    let comment = activity::add_comment(
        &txn,
        shop,
        activity::NewComment {
            ticket: id,
            source: "staff",
            external_id: None,
            author_user_id: Some(ctx.user_id),
            author_name: &author,
            body: &body,
        },
    )
    .await?;
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: id,
            kind: TimelineKind::Comment.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&author),
            data: json!({ "comment_id": comment.id }),
        },
    )
    .await?;
    // The POS lists staff comments and hears of each one.
    activity::notify_pos(
        &txn,
        shop,
        id,
        pitwall_domain::tickets::NotificationKind::Comment.as_str(),
        json!({ "comment_id": comment.id, "author": author, "body": body }),
    )
    .await?;
    let announced = app.live.announce(vec![timeline_live(shop, id, event.id)]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(comment)
}

pub(crate) fn timeline_live(shop: ShopId, ticket: TicketId, event: uuid::Uuid) -> LiveEvent {
    LiveEvent {
        shop_id: shop.as_uuid(),
        ticket_id: Some(ticket.as_uuid()),
        kind: "timeline".into(),
        event_id: Some(event),
    }
}

/// Staff-owned fields: who works on it, how urgent, when it is promised.
pub struct Assignment {
    pub advisor_id: Option<UserId>,
    pub technician_id: Option<UserId>,
    pub priority: i32,
    pub promised_at: Option<DateTime<Utc>>,
}

pub async fn assign(app: &App, ctx: &ShopCtx, id: TicketId, a: Assignment) -> Result<TicketView> {
    app.require(ctx, Permission::TicketsEdit).await?;
    ctx.require_writable()?;
    if !(0..=3).contains(&a.priority) {
        return Err(Error::invalid(
            "priority",
            "must be 0 (normal), 1 (soon), 2 (high) or 3 (urgent)",
        ));
    }
    let shop = ctx.shop_id();
    ticket_in(&app.db, ctx, id).await?;
    for (field, user) in [
        ("advisor_id", a.advisor_id),
        ("technician_id", a.technician_id),
    ] {
        if let Some(u) = user
            && members::membership(&app.db, shop, u).await?.is_none()
        {
            return Err(Error::invalid(field, "is not a member of this shop"));
        }
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    ticket_in(&txn, ctx, id).await?;
    tickets::set_staff_fields(
        &txn,
        shop,
        id,
        &tickets::StaffFields {
            advisor_id: a.advisor_id,
            technician_id: a.technician_id,
            priority: a.priority,
            promised_at: a.promised_at,
        },
    )
    .await?;
    let actor = ctx.user_name.clone();
    let advisor = person(&txn, a.advisor_id.map(|u| u.as_uuid())).await?;
    let technician = person(&txn, a.technician_id.map(|u| u.as_uuid())).await?;
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: id,
            kind: TimelineKind::Assigned.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&actor),
            data: json!({
                "advisor": advisor.map(|p| p.name),
                "technician": technician.map(|p| p.name),
                "priority": a.priority,
                "promised_at": a.promised_at,
            }),
        },
    )
    .await?;
    let announced = app.live.announce(vec![
        timeline_live(shop, id, event.id),
        LiveEvent {
            shop_id: shop.as_uuid(),
            ticket_id: Some(id.as_uuid()),
            kind: "ticket_updated".into(),
            event_id: None,
        },
    ]);
    let ticket = ticket_in(&txn, ctx, id).await?;
    let view = view(&txn, shop, ticket, app.config.clock.now()).await?;
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(Contact::of(app, ctx).await.view(view))
}

pub struct ApprovalInput {
    pub approved: Vec<ServiceId>,
    pub declined: Vec<ServiceId>,
    pub method: String,
    pub signer_name: Option<String>,
    pub signature: Option<String>,
    pub note: Option<String>,
}

/// Records an approval the customer gave in person (signed on the staff
/// device) or by phone, through the one approval routine
/// ([`crate::approvals`]); answers the ticket as it is now.
pub async fn record_approval(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    input: ApprovalInput,
) -> Result<TicketView> {
    crate::approvals::record_by_staff(
        app,
        ctx,
        id,
        &input.method,
        crate::approvals::Decision {
            approved: input.approved,
            declined: input.declined,
            signer_name: input.signer_name,
            signature: input.signature,
            note: input.note,
            ticket_version: None,
        },
    )
    .await?;
    let ticket = ticket_in(&app.db, ctx, id).await?;
    let view = view(&app.db, ctx.shop_id(), ticket, app.config.clock.now()).await?;
    Ok(Contact::of(app, ctx).await.view(view))
}

/// One row of the active-customers dashboard.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    pub view: TicketView,
    /// The customer can get texts / e-mail (has the address, not opted out).
    pub sms: bool,
    pub email: bool,
    /// The customer replied and nobody has read it yet.
    pub unread_reply: bool,
    /// The ticket's newest outgoing message (its state shows on the row).
    pub last_message: Option<pitwall_store::messages::Message>,
    /// The customer has the ticket's page open; it counts as open until
    /// then without another beat (live timeline feature).
    pub customer_viewing_until: Option<DateTime<Utc>>,
}

pub struct DashboardFilter {
    pub advisor_id: Option<UserId>,
    pub status_id: Option<StatusId>,
}

/// Every open ticket, overdue and urgent first.
pub async fn dashboard(
    app: &App,
    ctx: &ShopCtx,
    filter: DashboardFilter,
) -> Result<Vec<DashboardRow>> {
    app.require(ctx, Permission::DashboardView).await?;
    ctx.require_feature(Feature::Dashboard)?;
    let shop = ctx.shop_id();
    let open: Vec<tickets::Ticket> = tickets::open(&app.db, shop, 500)
        .await?
        .into_iter()
        .filter(|t| {
            filter
                .advisor_id
                .is_none_or(|a| t.advisor_id == Some(a.as_uuid()))
                && filter
                    .status_id
                    .is_none_or(|s| t.status_id == Some(s.as_uuid()))
        })
        .collect();
    let ids: Vec<uuid::Uuid> = open.iter().map(|t| t.id).collect();
    let mut last: std::collections::HashMap<uuid::Uuid, _> =
        pitwall_store::messages::latest_outbound_of_tickets(&app.db, shop, &ids)
            .await?
            .into_iter()
            .filter_map(|m| m.ticket_id.map(|t| (t, m)))
            .collect();
    let viewing: std::collections::HashMap<uuid::Uuid, DateTime<Utc>> =
        if ctx.features.has(Feature::Timeline) {
            let window = chrono::Duration::seconds(crate::links::PRESENCE_WINDOW_SECS);
            pitwall_store::customer_links::viewing(&app.db, shop, &ids, Utc::now() - window)
                .await?
                .into_iter()
                .map(|(t, seen)| (t, seen + window))
                .collect()
        } else {
            Default::default()
        };
    let contact = Contact::of(app, ctx).await;
    let mut rows = Vec::with_capacity(open.len());
    for mut view in views(&app.db, shop, open, app.config.clock.now()).await? {
        let t = &view.ticket;
        let unread_reply = match (t.customer_replied_at, t.reply_read_at) {
            (Some(r), Some(read)) => r > read,
            (Some(_), None) => true,
            _ => false,
        };
        if !ctx.features.has(Feature::StatusTimers) {
            view.timer = None;
        }
        let (sms, email) = match &view.customer {
            Some(c) => (
                c.phone.is_some() && !c.sms_opt_out,
                c.email.is_some() && !c.email_opt_out,
            ),
            None => (false, false),
        };
        let view = contact.view(view);
        let mut last_message = last.remove(&view.ticket.id);
        contact.messages(last_message.as_mut_slice());
        let customer_viewing_until = viewing.get(&view.ticket.id).copied();
        rows.push(DashboardRow {
            view,
            sms,
            email,
            unread_reply,
            last_message,
            customer_viewing_until,
        });
    }
    let urgency = |r: &DashboardRow| match r.view.timer.as_ref().map(|t| t.level) {
        Some(timer::TimerLevel::Overdue) => 0,
        Some(timer::TimerLevel::Warning) => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        urgency(a)
            .cmp(&urgency(b))
            .then(b.view.ticket.priority.cmp(&a.view.ticket.priority))
            .then(b.view.ticket.id.cmp(&a.view.ticket.id))
    });
    Ok(rows)
}

/// The signed-in technician's open work, by priority.
pub async fn my_work(app: &App, ctx: &ShopCtx) -> Result<Vec<TicketView>> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::TechnicianView)?;
    let shop = ctx.shop_id();
    let assigned = tickets::assigned_to(&app.db, shop, ctx.user_id).await?;
    let contact = Contact::of(app, ctx).await;
    Ok(views(&app.db, shop, assigned, app.config.clock.now())
        .await?
        .into_iter()
        .map(|v| contact.view(v))
        .collect())
}

/// Staff read the customer's reply (clears the dashboard's orange mark).
pub async fn mark_reply_read(app: &App, ctx: &ShopCtx, id: TicketId) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    ticket_in(&app.db, ctx, id).await?;
    tickets::mark_reply_read(&app.db, ctx.shop_id(), id).await?;
    Ok(())
}

/// Live changes of the shop (the dashboard) or of one ticket (its page).
pub async fn subscribe(
    app: &App,
    ctx: &ShopCtx,
    ticket: Option<TicketId>,
) -> Result<crate::live::Subscription> {
    match ticket {
        Some(id) => require_ticket(app, ctx, id).await?,
        None => {
            app.require(ctx, Permission::DashboardView).await?;
        }
    }
    Ok(app.live.subscribe(ctx.shop_id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_read_phones_plates_and_names() {
        assert_eq!(search_terms("(512) 555-0123"), vec!["512", "5550123"]);
        assert_eq!(search_terms("ABC-123"), vec!["abc123"]);
        assert_eq!(search_terms(" O'Brien  "), vec!["obrien"]);
        assert_eq!(search_terms("100%_"), vec!["100"]);
    }
}
