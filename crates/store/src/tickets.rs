//! Tickets, their services and line items.

use chrono::{DateTime, Utc};
use pitwall_domain::{LineItemId, ServiceId, ShopId, StatusId, TicketId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::{line_item, ticket, ticket_service};
use crate::{InShop, Page, PageRequest, StoreError, now};

pub use line_item::Model as LineItem;
pub use ticket::Model as Ticket;
pub use ticket_service::Model as Service;

/// What the POS owns on a ticket; Pitwall's own fields (status, advisor,
/// technician, priority) are never overwritten by a push.
#[derive(Debug, Clone)]
pub struct PosFields {
    pub external_id: String,
    pub kind: String,
    pub number: String,
    pub customer_id: Option<uuid::Uuid>,
    pub vehicle_id: Option<uuid::Uuid>,
    pub promised_at: Option<DateTime<Utc>>,
    pub closed: bool,
    pub tax_rate_ppm: i64,
    pub currency: String,
    pub pos_updated_at: DateTime<Utc>,
    pub search_text: String,
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
) -> Result<Option<Ticket>, StoreError> {
    Ok(ticket::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

pub async fn by_external_id(
    db: &impl ConnectionTrait,
    shop: ShopId,
    external_id: &str,
) -> Result<Option<Ticket>, StoreError> {
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// A new ticket's row, in `status` (the shop's first status).
pub fn new_ticket(
    shop: ShopId,
    id: TicketId,
    f: PosFields,
    status: Option<StatusId>,
    at: DateTime<Utc>,
) -> Ticket {
    Ticket {
        id: id.as_uuid(),
        shop_id: shop.as_uuid(),
        external_id: f.external_id,
        kind: f.kind,
        number: f.number,
        customer_id: f.customer_id,
        vehicle_id: f.vehicle_id,
        status_id: status.map(|s| s.as_uuid()),
        status_changed_at: status.map(|_| at),
        status_due_at: None,
        advisor_id: None,
        technician_id: None,
        priority: 0,
        promised_at: f.promised_at,
        closed: f.closed,
        tax_rate_ppm: f.tax_rate_ppm,
        subtotal: 0,
        tax: 0,
        total: 0,
        currency: f.currency,
        pos_updated_at: f.pos_updated_at,
        version: 1,
        search_text: f.search_text,
        customer_replied_at: None,
        reply_read_at: None,
        approved_at: None,
        approval_seen_at: None,
        stage: pitwall_domain::workflow::Stage::FIRST.as_str().to_owned(),
        stage_changed_at: None,
        approval_reminded_at: None,
        created_at: at,
        updated_at: at,
    }
}

/// Tickets by their POS external ids.
pub async fn by_external_ids(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[String],
) -> Result<Vec<Ticket>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::ExternalId.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Applies a newer push to an existing ticket and bumps its version.
/// Writes only what the POS owns, and the totals.
pub async fn update_from_pos(
    db: &impl ConnectionTrait,
    existing: Ticket,
    f: PosFields,
    totals: &pitwall_domain::tickets::Totals,
) -> Result<Ticket, StoreError> {
    let version = existing.version + 1;
    let mut row = existing.into_active_model();
    row.kind = Set(f.kind);
    row.number = Set(f.number);
    row.customer_id = Set(f.customer_id);
    row.vehicle_id = Set(f.vehicle_id);
    row.promised_at = Set(f.promised_at);
    row.closed = Set(f.closed);
    row.tax_rate_ppm = Set(f.tax_rate_ppm);
    row.currency = Set(f.currency);
    row.pos_updated_at = Set(f.pos_updated_at);
    row.search_text = Set(f.search_text);
    row.subtotal = Set(totals.subtotal);
    row.tax = Set(totals.tax);
    row.total = Set(totals.total);
    row.version = Set(version);
    row.updated_at = Set(now());
    Ok(row.update(db).await?)
}

pub async fn set_totals(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
    subtotal: i64,
    tax: i64,
    total: i64,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(ticket::Column::Subtotal, Expr::value(subtotal))
        .col_expr(ticket::Column::Tax, Expr::value(tax))
        .col_expr(ticket::Column::Total, Expr::value(total))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn services(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<Service>, StoreError> {
    Ok(ticket_service::Entity::find()
        .in_shop(shop)
        .filter(ticket_service::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(ticket_service::Column::Position)
        .order_by_asc(ticket_service::Column::Id)
        .all(db)
        .await?)
}

pub struct ServiceFields {
    pub external_id: String,
    pub position: i32,
    pub title: String,
    pub status: String,
    pub subtotal: i64,
    pub taxable_subtotal: i64,
}

/// A new service the POS sent, as a row.
pub fn new_service(
    shop: ShopId,
    ticket: TicketId,
    id: ServiceId,
    f: ServiceFields,
) -> ticket_service::ActiveModel {
    ticket_service::ActiveModel {
        id: Set(id.as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(ticket.as_uuid()),
        external_id: Set(f.external_id),
        position: Set(f.position),
        title: Set(f.title),
        status: Set(f.status),
        subtotal: Set(f.subtotal),
        taxable_subtotal: Set(f.taxable_subtotal),
        removed: Set(false),
        source: Set(SOURCE_POS.to_owned()),
        // The workflow's own fields start at their column defaults.
        ..Default::default()
    }
}

/// Writes what the POS sent of a service it sent before; ids stay stable
/// across pushes because approvals name them. Nothing is written when
/// nothing changes.
pub async fn update_pushed_service(
    db: &impl ConnectionTrait,
    existing: Service,
    f: ServiceFields,
) -> Result<Service, StoreError> {
    let same = existing.position == f.position
        && existing.title == f.title
        && existing.status == f.status
        && existing.subtotal == f.subtotal
        && existing.taxable_subtotal == f.taxable_subtotal
        && !existing.removed
        && existing.source == SOURCE_POS;
    if same {
        return Ok(existing);
    }
    let mut row = existing.into_active_model();
    row.position = Set(f.position);
    row.title = Set(f.title);
    row.status = Set(f.status);
    row.subtotal = Set(f.subtotal);
    row.taxable_subtotal = Set(f.taxable_subtotal);
    row.removed = Set(false);
    // The POS sends it now: from here on it owns the service.
    row.source = Set(SOURCE_POS.to_owned());
    Ok(row.update(db).await?)
}

/// The services of several tickets, in ticket and position order.
pub async fn services_of_many(
    db: &impl ConnectionTrait,
    shop: ShopId,
    tickets: &[uuid::Uuid],
) -> Result<Vec<Service>, StoreError> {
    if tickets.is_empty() {
        return Ok(vec![]);
    }
    Ok(ticket_service::Entity::find()
        .in_shop(shop)
        .filter(ticket_service::Column::TicketId.is_in(tickets.iter().copied()))
        .order_by_asc(ticket_service::Column::TicketId)
        .order_by_asc(ticket_service::Column::Position)
        .order_by_asc(ticket_service::Column::Id)
        .all(db)
        .await?)
}

/// Where a service came from: the POS, or Pitwall (a finding turned into
/// a recommendation) until the POS sends it itself.
pub const SOURCE_POS: &str = "pos";
pub const SOURCE_PITWALL: &str = "pitwall";

/// Adds a service made in Pitwall (from an inspection finding). Its
/// external id is `pitwall-{id}`, so the POS can adopt it by sending that
/// id back.
pub struct OwnService<'a> {
    /// The id to give it (`None`: a new one).
    pub id: Option<ServiceId>,
    pub position: i32,
    pub title: &'a str,
    pub status: &'a str,
    pub subtotal: i64,
    pub taxable_subtotal: i64,
}

pub async fn insert_own_service(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    f: OwnService<'_>,
) -> Result<Service, StoreError> {
    let OwnService {
        id,
        position,
        title,
        status,
        subtotal,
        taxable_subtotal,
    } = f;
    let id = id.unwrap_or_else(ServiceId::new).as_uuid();
    Ok(ticket_service::ActiveModel {
        id: Set(id),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(ticket.as_uuid()),
        external_id: Set(format!("pitwall-{id}")),
        position: Set(position),
        title: Set(title.to_owned()),
        status: Set(status.to_owned()),
        subtotal: Set(subtotal),
        taxable_subtotal: Set(taxable_subtotal),
        removed: Set(false),
        source: Set(SOURCE_PITWALL.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn mark_services_removed(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[uuid::Uuid],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    ticket_service::Entity::update_many()
        .col_expr(ticket_service::Column::Removed, Expr::value(true))
        .in_shop(shop)
        .filter(ticket_service::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_service_status(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ids: &[uuid::Uuid],
    status: &str,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    ticket_service::Entity::update_many()
        .col_expr(ticket_service::Column::Status, Expr::value(status))
        .in_shop(shop)
        .filter(ticket_service::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

pub struct LineItemFields {
    pub service_id: uuid::Uuid,
    pub position: i32,
    pub kind: String,
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price: i64,
    pub taxable: bool,
    pub amount: i64,
    /// Parts lines: the supplier's number.
    pub part_number: Option<String>,
}

/// Line items have no identity of their own: a push replaces them all.
/// This removes those of `tickets`, except those of the services in `keep`
/// (made in Pitwall, not the POS's to replace); the push then adds its own.
pub async fn delete_pushed_line_items(
    db: &impl ConnectionTrait,
    shop: ShopId,
    tickets: &[uuid::Uuid],
    keep: &[uuid::Uuid],
) -> Result<(), StoreError> {
    if tickets.is_empty() {
        return Ok(());
    }
    let mut delete = line_item::Entity::delete_many()
        .in_shop(shop)
        .filter(line_item::Column::TicketId.is_in(tickets.iter().copied()));
    if !keep.is_empty() {
        delete = delete.filter(line_item::Column::ServiceId.is_not_in(keep.iter().copied()));
    }
    delete.exec(db).await?;
    Ok(())
}

/// Line items as rows, for a [`crate::batch::Batch`].
pub fn line_item_rows(
    shop: ShopId,
    ticket: TicketId,
    items: Vec<LineItemFields>,
) -> impl Iterator<Item = line_item::ActiveModel> {
    items.into_iter().map(move |i| line_item::ActiveModel {
        id: Set(LineItemId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(ticket.as_uuid()),
        service_id: Set(i.service_id),
        position: Set(i.position),
        kind: Set(i.kind),
        description: Set(i.description),
        quantity_milli: Set(i.quantity_milli),
        unit_price: Set(i.unit_price),
        taxable: Set(i.taxable),
        amount: Set(i.amount),
        part_number: Set(i.part_number),
    })
}

/// Adds line items (to a service just made in Pitwall).
pub async fn add_line_items(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    items: Vec<LineItemFields>,
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    line_item::Entity::insert_many(line_item_rows(shop, ticket, items))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn line_items(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<LineItem>, StoreError> {
    Ok(line_item::Entity::find()
        .in_shop(shop)
        .filter(line_item::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(line_item::Column::Position)
        .all(db)
        .await?)
}

/// A ticket's services in order, and their line items in order, in one
/// query (the ticket view after a change).
pub async fn services_and_line_items(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<(Vec<Service>, Vec<LineItem>), StoreError> {
    services_and_line_items_of_many(db, shop, &[ticket.as_uuid()]).await
}

/// The services of several tickets (ticket by ticket, each in order) and
/// their line items in order, in one query (ticket lists).
pub async fn services_and_line_items_of_many(
    db: &impl ConnectionTrait,
    shop: ShopId,
    tickets: &[uuid::Uuid],
) -> Result<(Vec<Service>, Vec<LineItem>), StoreError> {
    use crate::by_position::{self, ByPosition};
    use sea_orm::Statement;
    if tickets.is_empty() {
        return Ok((vec![], vec![]));
    }
    let backend = db.get_database_backend();
    // Line items are found by their ticket (the index on `(shop_id,
    // ticket_id)`), then matched to the service: joined by the service
    // alone, PostgreSQL read every line item of the shop, a cost that grew
    // with the shop (docs/BENCHMARKS.md, POS batch import).
    let placeholders: Vec<String> = (2..tickets.len() + 2).map(|n| format!("${n}")).collect();
    let sql = numbered(
        backend,
        format!(
            "SELECT {}, {} FROM ticket_services s \
             LEFT JOIN line_items l ON l.shop_id = s.shop_id AND l.ticket_id = s.ticket_id \
               AND l.service_id = s.id \
             WHERE s.shop_id = $1 AND s.ticket_id IN ({}) \
             ORDER BY s.ticket_id, s.position, s.id, l.position",
            by_position::select_list::<Service>("s"),
            by_position::select_list::<LineItem>("l"),
            placeholders.join(", "),
        ),
    );
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(tickets.len() + 1);
    values.push(shop.as_uuid().into());
    values.extend(tickets.iter().map(|t| (*t).into()));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    // Read by position: the service's columns, then the line item's; each
    // begins with its id (checked in `by_position`'s tests).
    let item_at = Service::columns().len();
    let mut services: Vec<Service> = Vec::new();
    let mut items = Vec::new();
    for row in &rows {
        // One row per line item: the service repeats on each of them.
        let id: uuid::Uuid = row.try_get_by_index(0)?;
        if services.last().is_none_or(|s| s.id != id) {
            services.push(Service::read(row, 0)?);
        }
        // A service without line items has one row, its line item all NULL.
        if row
            .try_get_by_index::<Option<uuid::Uuid>>(item_at)?
            .is_some()
        {
            items.push(LineItem::read(row, item_at)?);
        }
    }
    Ok((services, items))
}

/// Filters of the ticket list; every one is optional.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Search terms, already normalised (see `search_terms`); each must match.
    pub terms: Vec<String>,
    pub kind: Option<String>,
    pub closed: Option<bool>,
    pub status_id: Option<uuid::Uuid>,
    pub advisor_id: Option<uuid::Uuid>,
    pub technician_id: Option<uuid::Uuid>,
    pub customer_id: Option<uuid::Uuid>,
    pub vehicle_id: Option<uuid::Uuid>,
}

/// Newest first, seek-paginated by id.
pub async fn list(
    db: &impl ConnectionTrait,
    shop: ShopId,
    filter: &TicketFilter,
    page: PageRequest,
) -> Result<Page<Ticket>, StoreError> {
    let mut q = ticket::Entity::find()
        .in_shop(shop)
        .order_by_desc(ticket::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(ticket::Column::Id.lt(after));
    }
    for term in &filter.terms {
        q = q.filter(ticket::Column::SearchText.like(format!("%{term}%")));
    }
    if let Some(k) = &filter.kind {
        q = q.filter(ticket::Column::Kind.eq(k.as_str()));
    }
    if let Some(c) = filter.closed {
        q = q.filter(ticket::Column::Closed.eq(c));
    }
    let eq = |col: ticket::Column, v: Option<uuid::Uuid>| v.map(|v| col.eq(v));
    let mut all = Condition::all();
    for c in [
        eq(ticket::Column::StatusId, filter.status_id),
        eq(ticket::Column::AdvisorId, filter.advisor_id),
        eq(ticket::Column::TechnicianId, filter.technician_id),
        eq(ticket::Column::CustomerId, filter.customer_id),
        eq(ticket::Column::VehicleId, filter.vehicle_id),
    ]
    .into_iter()
    .flatten()
    {
        all = all.add(c);
    }
    let q = q.filter(all).limit(page.limit + 1);
    let rows = crate::by_position::all::<Ticket>(db, q).await?;
    Ok(page.finish(rows, |t| t.id))
}

/// Every other ticket of the same customer or vehicle, newest first.
pub async fn history(
    db: &impl ConnectionTrait,
    shop: ShopId,
    of: &Ticket,
    limit: u64,
) -> Result<Vec<Ticket>, StoreError> {
    let mut any = Condition::any();
    if let Some(c) = of.customer_id {
        any = any.add(ticket::Column::CustomerId.eq(c));
    }
    if let Some(v) = of.vehicle_id {
        any = any.add(ticket::Column::VehicleId.eq(v));
    }
    if of.customer_id.is_none() && of.vehicle_id.is_none() {
        return Ok(vec![]);
    }
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::Id.ne(of.id))
        .filter(any)
        .order_by_desc(ticket::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Open tickets for the dashboard, most urgent first is the caller's sort.
pub async fn open(
    db: &impl ConnectionTrait,
    shop: ShopId,
    limit: u64,
) -> Result<Vec<Ticket>, StoreError> {
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::Closed.eq(false))
        .order_by_desc(ticket::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Everything a status change decides on, read in one round trip.
#[derive(Debug, Clone)]
pub struct StatusInputs {
    pub ticket: Ticket,
    pub customer: Option<crate::customers::Customer>,
    pub vehicle: Option<crate::customers::Vehicle>,
    /// The status asked for, if it is one of the shop's.
    pub to: Option<crate::statuses::VehicleStatus>,
    /// The status the ticket has now.
    pub from: Option<crate::statuses::VehicleStatus>,
    /// SMS segments used in `sms_month`, when asked for.
    pub sms_used: Option<i64>,
}

/// The ticket with its customer, vehicle, current status and the status
/// `to`, each joined on the shop, and (when `sms_month` is given) the
/// shop's SMS segments used that month. `None` when the ticket is not the
/// shop's.
pub async fn status_inputs(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
    to: StatusId,
    sms_month: Option<&str>,
) -> Result<Option<StatusInputs>, StoreError> {
    use crate::entities::{customer, vehicle, vehicle_status};
    use sea_orm::{FromQueryResult, Statement};
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, \
         (SELECT u.segments FROM sms_usage u WHERE u.shop_id = $1 AND u.month = $4) AS sms_used \
         FROM tickets t \
         LEFT JOIN customers c ON c.shop_id = t.shop_id AND c.id = t.customer_id \
         LEFT JOIN vehicles v ON v.shop_id = t.shop_id AND v.id = t.vehicle_id \
         LEFT JOIN vehicle_statuses n ON n.shop_id = t.shop_id AND n.id = $3 \
         LEFT JOIN vehicle_statuses f ON f.shop_id = t.shop_id AND f.id = t.status_id \
         WHERE t.shop_id = $1 AND t.id = $2",
        prefixed::<ticket::Entity>("t"),
        prefixed::<customer::Entity>("c"),
        prefixed::<vehicle::Entity>("v"),
        prefixed::<vehicle_status::Entity>("n"),
        prefixed::<vehicle_status::Entity>("f"),
    );
    let sql = numbered(backend, sql);
    let Some(row) = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                shop.as_uuid().into(),
                id.as_uuid().into(),
                to.as_uuid().into(),
                sms_month.map(str::to_owned).into(),
            ],
        ))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(StatusInputs {
        ticket: Ticket::from_query_result(&row, "t_")?,
        customer: joined(&row, "c")?,
        vehicle: joined(&row, "v")?,
        to: joined(&row, "n")?,
        from: joined(&row, "f")?,
        sms_used: row.try_get::<Option<i64>>("", "sms_used")?,
    }))
}

/// The row of a left-joined table read with [`prefixed`] columns, `None`
/// when the join found nothing.
fn joined<M: sea_orm::FromQueryResult>(
    row: &sea_orm::QueryResult,
    alias: &str,
) -> Result<Option<M>, StoreError> {
    let pre = format!("{alias}_");
    if row.try_get::<Option<uuid::Uuid>>(&pre, "id")?.is_none() {
        return Ok(None);
    }
    Ok(Some(M::from_query_result(row, &pre)?))
}

/// SQLite numbers its parameters `?N` where PostgreSQL writes `$N`.
fn numbered(backend: sea_orm::DbBackend, sql: String) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => sql,
        _ => sql.replace('$', "?"),
    }
}

/// `alias.col AS alias_col, ...` for every column of `E`.
fn prefixed<E: EntityTrait>(alias: &str) -> String {
    use sea_orm::{IdenStatic, Iterable};
    E::Column::iter()
        .map(|c| format!("{alias}.\"{0}\" AS \"{alias}_{0}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The guard of a status change: the update applies only to the version
/// the change was decided on (see [`crate::batch`]).
pub fn status_guard(
    shop: ShopId,
    id: TicketId,
    version: i32,
    status: StatusId,
    at: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
) -> crate::batch::Guard {
    crate::batch::Guard::update::<ticket::Entity>()
        .set(ticket::Column::StatusId, status.as_uuid())
        .set(ticket::Column::StatusChangedAt, Some(at))
        .set(ticket::Column::StatusDueAt, due)
        .increment(ticket::Column::Version)
        .set(ticket::Column::UpdatedAt, at)
        .filter(ticket::Column::ShopId, shop.as_uuid())
        .filter(ticket::Column::Id, id.as_uuid())
        .filter(ticket::Column::Version, version)
}

/// Staff-owned fields of a ticket.
#[derive(Debug, Clone)]
pub struct StaffFields {
    pub advisor_id: Option<UserId>,
    pub technician_id: Option<UserId>,
    pub priority: i32,
    pub promised_at: Option<DateTime<Utc>>,
}

pub async fn set_staff_fields(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
    f: &StaffFields,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(
            ticket::Column::AdvisorId,
            Expr::value(f.advisor_id.map(|u| u.as_uuid())),
        )
        .col_expr(
            ticket::Column::TechnicianId,
            Expr::value(f.technician_id.map(|u| u.as_uuid())),
        )
        .col_expr(ticket::Column::Priority, Expr::value(f.priority))
        .col_expr(ticket::Column::PromisedAt, Expr::value(f.promised_at))
        .col_expr(ticket::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Tickets assigned to one technician, open ones, by priority.
pub async fn assigned_to(
    db: &impl ConnectionTrait,
    shop: ShopId,
    technician: UserId,
) -> Result<Vec<Ticket>, StoreError> {
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::TechnicianId.eq(technician.as_uuid()))
        .filter(ticket::Column::Closed.eq(false))
        .order_by_desc(ticket::Column::Priority)
        .order_by_asc(ticket::Column::PromisedAt)
        .order_by_asc(ticket::Column::Id)
        .limit(200)
        .all(db)
        .await?)
}

/// Whether any ticket sits in this status (a status in use cannot vanish).
pub async fn count_in_status(
    db: &impl ConnectionTrait,
    shop: ShopId,
    status: StatusId,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::StatusId.eq(status.as_uuid()))
        .filter(ticket::Column::Closed.eq(false))
        .count(db)
        .await?)
}

pub async fn set_search_text(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
    text: &str,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(ticket::Column::SearchText, Expr::value(text))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_reply_read(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(ticket::Column::ReplyReadAt, Expr::value(Some(now())))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// The customer's most recent open ticket, where a reply belongs.
pub async fn latest_open_of_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: uuid::Uuid,
) -> Result<Option<Ticket>, StoreError> {
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::CustomerId.eq(customer))
        .filter(ticket::Column::Closed.eq(false))
        .order_by_desc(ticket::Column::UpdatedAt)
        .order_by_desc(ticket::Column::Id)
        .one(db)
        .await?)
}

/// The customer wrote: the dashboard marks the ticket until someone reads.
pub async fn set_customer_replied(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(ticket::Column::CustomerRepliedAt, Expr::value(Some(at)))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Someone read the customer's thread: every ticket of theirs is read.
pub async fn mark_customer_replies_read(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: uuid::Uuid,
) -> Result<Vec<uuid::Uuid>, StoreError> {
    let unread: Vec<uuid::Uuid> = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::Id)
        .in_shop(shop)
        .filter(ticket::Column::CustomerId.eq(customer))
        .filter(ticket::Column::CustomerRepliedAt.is_not_null())
        .filter(
            Condition::any()
                .add(ticket::Column::ReplyReadAt.is_null())
                .add(
                    Expr::col(ticket::Column::ReplyReadAt)
                        .lt(Expr::col(ticket::Column::CustomerRepliedAt)),
                ),
        )
        .into_tuple()
        .all(db)
        .await?;
    if !unread.is_empty() {
        ticket::Entity::update_many()
            .col_expr(ticket::Column::ReplyReadAt, Expr::value(Some(now())))
            .in_shop(shop)
            .filter(ticket::Column::Id.is_in(unread.clone()))
            .exec(db)
            .await?;
    }
    Ok(unread)
}

/// What the ticket says changed (a service added): a page showing the
/// old version must not approve on it.
pub async fn bump_version(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(
            ticket::Column::Version,
            Expr::col(ticket::Column::Version).add(1),
        )
        .col_expr(ticket::Column::UpdatedAt, Expr::value(now()))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// An approval changed what the ticket says (service statuses, totals): a
/// page showing the old version must not approve on it.
pub async fn bump_version_approved(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(
            ticket::Column::Version,
            Expr::col(ticket::Column::Version).add(1),
        )
        .col_expr(ticket::Column::ApprovedAt, Expr::value(Some(at)))
        .col_expr(ticket::Column::UpdatedAt, Expr::value(at))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Staff saw the approval: the dashboard's highlight goes.
pub async fn mark_approval_seen(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: TicketId,
) -> Result<bool, StoreError> {
    let r = ticket::Entity::update_many()
        .col_expr(ticket::Column::ApprovalSeenAt, Expr::value(Some(now())))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(id.as_uuid()))
        .filter(ticket::Column::ApprovedAt.is_not_null())
        .filter(
            Condition::any()
                .add(ticket::Column::ApprovalSeenAt.is_null())
                .add(
                    Expr::col(ticket::Column::ApprovalSeenAt)
                        .lt(Expr::col(ticket::Column::ApprovedAt)),
                ),
        )
        .exec(db)
        .await?;
    Ok(r.rows_affected > 0)
}

/// The workflow's fields of a position, as a use case decided them.
#[derive(Debug, Clone)]
pub struct ServiceWork {
    pub title: String,
    pub parts_needed: bool,
    pub parts_status: Option<String>,
    pub customer_note: Option<String>,
    pub internal_note: Option<String>,
    pub ready: bool,
}

/// Writes a position's workflow fields (and its title).
pub async fn set_service_work(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: ServiceId,
    w: ServiceWork,
) -> Result<(), StoreError> {
    use ticket_service::Column as C;
    ticket_service::Entity::update_many()
        .col_expr(C::Title, Expr::value(w.title))
        .col_expr(C::PartsNeeded, Expr::value(w.parts_needed))
        .col_expr(C::PartsStatus, Expr::value(w.parts_status))
        .col_expr(C::CustomerNote, Expr::value(w.customer_note))
        .col_expr(C::InternalNote, Expr::value(w.internal_note))
        .col_expr(C::Ready, Expr::value(w.ready))
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces a position's lines of the given kinds (the advisor's labour and
/// fees, or parts' part lines) and sets its amounts from all its lines.
pub async fn replace_service_lines(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    service: ServiceId,
    kinds: &[&str],
    items: Vec<LineItemFields>,
) -> Result<(), StoreError> {
    // By ticket first: line items are indexed by `(shop_id, ticket_id)`,
    // not by service.
    line_item::Entity::delete_many()
        .in_shop(shop)
        .filter(line_item::Column::TicketId.eq(ticket.as_uuid()))
        .filter(line_item::Column::ServiceId.eq(service.as_uuid()))
        .filter(line_item::Column::Kind.is_in(kinds.iter().copied()))
        .exec(db)
        .await?;
    add_line_items(db, shop, ticket, items).await?;
    let lines = line_item::Entity::find()
        .in_shop(shop)
        .filter(line_item::Column::TicketId.eq(ticket.as_uuid()))
        .filter(line_item::Column::ServiceId.eq(service.as_uuid()))
        .all(db)
        .await?;
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
    let taxable: i64 = lines.iter().filter(|l| l.taxable).map(|l| l.amount).sum();
    ticket_service::Entity::update_many()
        .col_expr(ticket_service::Column::Subtotal, Expr::value(subtotal))
        .col_expr(
            ticket_service::Column::TaxableSubtotal,
            Expr::value(taxable),
        )
        .in_shop(shop)
        .filter(ticket_service::Column::Id.eq(service.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks an approved position done, once: `false` when it already was.
pub async fn mark_service_done(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: ServiceId,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = ticket_service::Entity::update_many()
        .col_expr(ticket_service::Column::DoneAt, Expr::value(Some(at)))
        .col_expr(
            ticket_service::Column::DoneBy,
            Expr::value(Some(by.as_uuid())),
        )
        .in_shop(shop)
        .filter(ticket_service::Column::Id.eq(id.as_uuid()))
        .filter(ticket_service::Column::DoneAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected > 0)
}

/// A work queue's tickets: open, in one of `stages`, newest hand-off first.
pub struct QueueFilter<'a> {
    pub stages: &'a [&'a str],
    /// Only tickets assigned to this technician, or to nobody.
    pub technician: Option<UserId>,
    /// Only tickets with a position whose parts have not arrived.
    pub parts_waiting: bool,
}

pub async fn in_queue(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: QueueFilter<'_>,
) -> Result<Vec<Ticket>, StoreError> {
    let mut q = ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::Closed.eq(false))
        .filter(ticket::Column::Stage.is_in(f.stages.iter().copied()));
    if let Some(tech) = f.technician {
        q = q.filter(
            Condition::any()
                .add(ticket::Column::TechnicianId.eq(tech.as_uuid()))
                .add(ticket::Column::TechnicianId.is_null()),
        );
    }
    if f.parts_waiting {
        // One statement: the tickets with a position whose parts have not
        // arrived, however many there are.
        q = q.filter(ticket::Column::Id.in_subquery(parts_waiting(shop)));
    }
    Ok(q.order_by_desc(ticket::Column::StageChangedAt)
        .order_by_desc(ticket::Column::Id)
        .limit(200)
        .all(db)
        .await?)
}

/// The tickets of `shop` with a position whose parts have not arrived: the
/// parts queue's rule.
fn parts_waiting(shop: ShopId) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(ticket_service::Column::TicketId)
        .from(ticket_service::Entity)
        .and_where(ticket_service::Column::ShopId.eq(shop.as_uuid()))
        .and_where(ticket_service::Column::Removed.eq(false))
        .and_where(ticket_service::Column::PartsNeeded.eq(true))
        .cond_where(
            Condition::any()
                .add(ticket_service::Column::PartsStatus.is_null())
                .add(ticket_service::Column::PartsStatus.ne("received")),
        )
        .to_owned()
}

/// Whether the ticket waits on parts (it is in the parts queue's rule).
pub async fn waits_on_parts(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket_id: TicketId,
) -> Result<bool, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(ticket_id.as_uuid()))
        .filter(ticket::Column::Id.in_subquery(parts_waiting(shop)))
        .count(db)
        .await?
        > 0)
}
