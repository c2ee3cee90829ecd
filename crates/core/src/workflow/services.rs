//! Positions between people: the advisor adds and qualifies them (title,
//! the customer's words, labour, ready), parts prices them (part lines,
//! an internal note, ordered, received), the technician marks parts needed
//! and, after approval, marks each position done. Each role changes only
//! its own part; amounts follow the domain's money rules.

use chrono::Utc;
use pitwall_domain::tickets::TimerMode;
use pitwall_domain::tickets::{
    ActorKind, LineItemKind, NotificationKind, ServiceStatus, TimelineKind,
};
use pitwall_domain::timer;
use pitwall_domain::workflow::{PartsStatus, Stage, Trigger};
use pitwall_domain::{Feature, Permission, ServiceId, TicketId, values};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{activity, tickets};
use serde_json::json;

use crate::live::LiveEvent;
use crate::tickets::TicketView;
use crate::{App, Error, Problems, Result, ShopCtx};

/// A line as a client sends it; money in minor units.
#[derive(Debug, Clone)]
pub struct WorkLine {
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    pub taxable: bool,
    /// Part lines: the supplier's number.
    pub part_number: Option<String>,
}

/// A position the advisor adds to the ticket.
#[derive(Debug, Clone, Default)]
pub struct NewService {
    pub title: String,
    pub customer_note: Option<String>,
    pub parts_needed: bool,
    /// Labour, parts and fees.
    pub line_items: Vec<WorkLine>,
}

/// A change to a position; a field left `None` stays as it is. The
/// doubled options clear a note with `Some(None)`.
#[derive(Debug, Clone, Default)]
pub struct ServicePatch {
    pub title: Option<String>,
    pub customer_note: Option<Option<String>>,
    pub internal_note: Option<Option<String>>,
    pub parts_needed: Option<bool>,
    pub parts_status: Option<String>,
    pub ready: Option<bool>,
    /// Replaces the position's labour and fee lines.
    pub labor_lines: Option<Vec<WorkLine>>,
    /// Replaces the position's part lines.
    pub part_lines: Option<Vec<WorkLine>>,
    /// Adds one part line to those the position has (read in the same
    /// transaction, so two clerks adding at once both keep theirs); takes
    /// the place of `part_lines`.
    pub add_part: Option<WorkLine>,
    /// Removes one line (by id) of the position, read in the same
    /// transaction: a part line as parts (`parts.edit`), a labour or fee
    /// line as the advisor (`services.edit`). Takes the place of
    /// `part_lines` or `labor_lines`.
    pub remove_line: Option<uuid::Uuid>,
}

pub struct ServiceChanged {
    pub service: ServiceId,
    pub ticket: TicketView,
}

const MAX_LINES: usize = 100;

/// Checks lines by the POS's money rules, `allowed` kinds only, named
/// `{field}/{n}/...`.
fn valid_lines(
    p: &mut Problems,
    field: &str,
    lines: &[WorkLine],
    allowed: &[LineItemKind],
    service: ServiceId,
    position: i32,
) -> Vec<tickets::LineItemFields> {
    if lines.len() > MAX_LINES {
        p.add(field, format!("must have at most {MAX_LINES} lines"));
    }
    let mut out = Vec::new();
    for (j, l) in lines.iter().enumerate() {
        let at = |name: &str| format!("{field}/{j}/{name}");
        let part_number = match values::optional_text(l.part_number.as_deref(), 60) {
            Ok(n) => n,
            Err(e) => {
                p.add(at("part_number"), e.0);
                None
            }
        };
        let Some((kind, description, qty, price, taxable, amount)) = crate::pos::valid_line(
            p,
            &at,
            &l.kind,
            &l.description,
            l.quantity,
            l.unit_price,
            l.taxable,
        ) else {
            continue;
        };
        if !allowed.contains(&kind) {
            p.add(
                at("kind"),
                format!(
                    "must be {}",
                    allowed
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            );
            continue;
        }
        out.push(tickets::LineItemFields {
            service_id: service.as_uuid(),
            position: position * 1000 + j as i32 + if kind == LineItemKind::Part { 500 } else { 0 },
            kind: kind.as_str().to_owned(),
            description,
            quantity_milli: qty,
            unit_price: price,
            taxable,
            amount,
            part_number: if kind == LineItemKind::Part {
                part_number
            } else {
                None
            },
        });
    }
    out
}

fn open_for_work(ticket: &tickets::Ticket) -> Result<Stage> {
    let stage = ticket.stage_value()?;
    if matches!(stage, Stage::Completed | Stage::Canceled) {
        return Err(Error::Conflict {
            field: "stage".into(),
            message: format!("is {stage}: the work on this ticket is closed"),
        });
    }
    Ok(stage)
}

/// The advisor adds a position to the ticket (`services.edit`): a
/// recommendation made in Pitwall (`source = pitwall`), priced by the
/// POS's money rules, which a POS push keeps until the POS sends it
/// itself, and which the POS hears of (`service_added`) so it can add it
/// to its own ticket.
pub async fn add_service(
    app: &App,
    ctx: &ShopCtx,
    ticket_id: TicketId,
    input: NewService,
) -> Result<ServiceChanged> {
    app.require(ctx, Permission::ServicesEdit).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let service = ServiceId::new();
    let existing = tickets::services(&txn, shop, ticket_id).await?;
    // After every service the POS may send, as findings' services are.
    let position = existing
        .iter()
        .filter(|s| s.source == tickets::SOURCE_PITWALL)
        .map(|s| s.position + 1)
        .max()
        .unwrap_or(1000)
        .max(1000);
    let mut p = Problems::default();
    let title = p.check("title", values::required_text(&input.title, 200));
    let note = p.check(
        "customer_note",
        values::optional_text(input.customer_note.as_deref(), 2000),
    );
    let lines = valid_lines(
        &mut p,
        "line_items",
        &input.line_items,
        &[LineItemKind::Labor, LineItemKind::Part, LineItemKind::Fee],
        service,
        position,
    );
    p.into_result()?;
    open_for_work(&ticket)?;
    let title = title.unwrap_or_default();
    let subtotal = lines.iter().map(|l| l.amount).sum();
    let taxable = lines.iter().filter(|l| l.taxable).map(|l| l.amount).sum();
    let made = tickets::insert_own_service(
        &txn,
        shop,
        ticket_id,
        tickets::OwnService {
            id: Some(service),
            position,
            title: &title,
            status: ServiceStatus::Recommended.as_str(),
            subtotal,
            taxable_subtotal: taxable,
        },
    )
    .await?;
    let line_summary: Vec<_> = lines
        .iter()
        .map(|l| {
            json!({"kind": l.kind, "description": l.description, "part_number": l.part_number,
                        "quantity": l.quantity_milli as f64 / 1000.0, "unit_price": l.unit_price,
                        "taxable": l.taxable, "amount": l.amount})
        })
        .collect();
    tickets::add_line_items(&txn, shop, ticket_id, lines).await?;
    tickets::set_service_work(
        &txn,
        shop,
        service,
        tickets::ServiceWork {
            title: title.clone(),
            parts_needed: input.parts_needed,
            parts_status: input
                .parts_needed
                .then(|| PartsStatus::Needed.as_str().to_owned()),
            customer_note: note.flatten(),
            internal_note: None,
            ready: false,
        },
    )
    .await?;
    crate::tickets::recompute_totals(&txn, shop, &ticket).await?;
    tickets::bump_version(&txn, shop, ticket_id).await?;
    let mut live = vec![ticket_updated(ctx, ticket_id)];
    live.push(
        event(
            &txn,
            ctx,
            ticket_id,
            TimelineKind::ServiceAdded,
            json!({"service_id": service, "title": title, "subtotal": subtotal}),
        )
        .await?,
    );
    activity::notify_pos(
        &txn,
        shop,
        ticket_id,
        NotificationKind::ServiceAdded.as_str(),
        json!({
            "service_id": service,
            "external_id": made.external_id,
            "title": title,
            "subtotal": subtotal,
            "parts_needed": input.parts_needed,
            "line_items": line_summary,
            "added_by": ctx.user_name,
        }),
    )
    .await?;
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, ticket.id = %ticket_id, service.id = %service, "service added");
    Ok(ServiceChanged {
        service,
        ticket: crate::tickets::view_after_change(app, ctx, ticket_id).await?,
    })
}

/// Changes a position, each field by the role it belongs to:
/// `services.edit` (the advisor) for the title, the customer's note,
/// labour and fee lines and `ready`; `parts.edit` for part lines and
/// `parts_status`; either for the internal note; `services.edit` or
/// `inspections.edit` (the technician) for `parts_needed`. A field the
/// caller's role does not own is refused (403 naming the permission) and
/// nothing changes. Lines of a position the POS sent stay the POS's, and
/// an approved or declined position's price stays what the customer
/// decided on.
pub async fn edit_service(
    app: &App,
    ctx: &ShopCtx,
    ticket_id: TicketId,
    service_id: ServiceId,
    mut patch: ServicePatch,
) -> Result<ServiceChanged> {
    ctx.require_feature(Feature::RepairOrders)?;
    ctx.require_writable()?;
    let may_edit = app.may(ctx, Permission::ServicesEdit).await;
    let may_parts = app.may(ctx, Permission::PartsEdit).await;
    let may_inspect = app.may(ctx, Permission::InspectionsEdit).await;
    if !(may_edit || may_parts || may_inspect) {
        return Err(Error::PermissionDenied(Permission::ServicesEdit));
    }
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let current = tickets::services(&txn, shop, ticket_id)
        .await?
        .into_iter()
        .find(|s| s.id == service_id.as_uuid() && !s.removed)
        .ok_or(Error::NotFound("service"))?;
    if let Some(line) = patch.remove_line.take() {
        let (part_lines, labor_lines) =
            lines_without(&txn, shop, ticket_id, &current, line).await?;
        if part_lines.is_some() {
            patch.part_lines = part_lines;
        } else {
            patch.labor_lines = labor_lines;
        }
    }
    let advisor_fields = patch.title.is_some()
        || patch.customer_note.is_some()
        || patch.ready.is_some()
        || patch.labor_lines.is_some();
    if advisor_fields && !may_edit {
        return Err(Error::PermissionDenied(Permission::ServicesEdit));
    }
    if (patch.part_lines.is_some() || patch.add_part.is_some() || patch.parts_status.is_some())
        && !may_parts
    {
        return Err(Error::PermissionDenied(Permission::PartsEdit));
    }
    if patch.internal_note.is_some() && !(may_edit || may_parts) {
        return Err(Error::PermissionDenied(Permission::PartsEdit));
    }
    if patch.parts_needed.is_some() && !(may_edit || may_inspect) {
        return Err(Error::PermissionDenied(Permission::ServicesEdit));
    }

    let mut p = Problems::default();
    let title = match &patch.title {
        Some(t) => p.check("title", values::required_text(t, 200)),
        None => Some(current.title.clone()),
    };
    let customer_note = match &patch.customer_note {
        Some(n) => p.check("customer_note", values::optional_text(n.as_deref(), 2000)),
        None => Some(current.customer_note.clone()),
    };
    let internal_note = match &patch.internal_note {
        Some(n) => p.check("internal_note", values::optional_text(n.as_deref(), 2000)),
        None => Some(current.internal_note.clone()),
    };
    let wanted_status = match patch.parts_status.as_deref().map(str::trim) {
        Some(s) => match PartsStatus::parse(s) {
            Some(ps) => Some(ps),
            None => {
                p.add("parts_status", "must be needed, ordered or received");
                None
            }
        },
        None => None,
    };
    let labor = patch.labor_lines.as_ref().map(|l| {
        valid_lines(
            &mut p,
            "labor_lines",
            l,
            &[LineItemKind::Labor, LineItemKind::Fee],
            service_id,
            current.position,
        )
    });
    if let Some(added) = patch.add_part.take() {
        let mut lines: Vec<WorkLine> = tickets::line_items(&txn, shop, ticket_id)
            .await?
            .into_iter()
            .filter(|l| l.service_id == current.id && l.kind == LineItemKind::Part.as_str())
            .map(WorkLine::from)
            .collect();
        lines.push(added);
        patch.part_lines = Some(lines);
    }
    let parts = patch.part_lines.as_ref().map(|l| {
        valid_lines(
            &mut p,
            "part_lines",
            l,
            &[LineItemKind::Part],
            service_id,
            current.position,
        )
    });
    p.into_result()?;
    open_for_work(&ticket)?;

    let status = current.status_value()?;
    let lines_change = labor.is_some() || parts.is_some();
    if lines_change && current.source != tickets::SOURCE_PITWALL {
        return Err(Error::Conflict {
            field: if labor.is_some() {
                "labor_lines"
            } else {
                "part_lines"
            }
            .into(),
            message: "belong to the POS for a service it sent: change them there".into(),
        });
    }
    if lines_change && matches!(status, ServiceStatus::Approved | ServiceStatus::Declined) {
        return Err(Error::Conflict {
            field: "status".into(),
            message: format!(
                "is {status}: the customer decided on this price; add the change as a new position"
            ),
        });
    }
    let parts_needed = patch.parts_needed.unwrap_or(current.parts_needed);
    let now_status = current.parts_status.as_deref().and_then(PartsStatus::parse);
    let parts_status = match (parts_needed, wanted_status, now_status) {
        (false, Some(_), _) => {
            return Err(Error::Conflict {
                field: "parts_status".into(),
                message: "the position needs no parts: mark parts_needed first".into(),
            });
        }
        (false, None, _) => None,
        (true, Some(to), Some(from)) if to != from && !from.may_become(to) => {
            return Err(Error::Conflict {
                field: "parts_status".into(),
                message: format!("is {from}: parts move forward only (needed, ordered, received)"),
            });
        }
        (true, Some(to), _) => Some(to),
        (true, None, from) => Some(from.unwrap_or(PartsStatus::Needed)),
    };
    let customer_visible = lines_change
        || title.as_deref() != Some(current.title.as_str())
        || customer_note.as_ref() != Some(&current.customer_note);
    tickets::set_service_work(
        &txn,
        shop,
        service_id,
        tickets::ServiceWork {
            title: title.unwrap_or_default(),
            parts_needed,
            parts_status: parts_status.map(|s| s.as_str().to_owned()),
            customer_note: customer_note.flatten(),
            internal_note: internal_note.flatten(),
            ready: patch.ready.unwrap_or(current.ready),
        },
    )
    .await?;
    if let Some(lines) = labor {
        tickets::replace_service_lines(
            &txn,
            shop,
            ticket_id,
            service_id,
            &[LineItemKind::Labor.as_str(), LineItemKind::Fee.as_str()],
            lines,
        )
        .await?;
    }
    if let Some(lines) = parts {
        tickets::replace_service_lines(
            &txn,
            shop,
            ticket_id,
            service_id,
            &[LineItemKind::Part.as_str()],
            lines,
        )
        .await?;
    }
    if lines_change {
        crate::tickets::recompute_totals(&txn, shop, &ticket).await?;
    }
    if customer_visible {
        // A page showing the old words or prices must not approve on them.
        tickets::bump_version(&txn, shop, ticket_id).await?;
    }
    let announced = app.live.announce(vec![ticket_updated(ctx, ticket_id)]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(ServiceChanged {
        service: service_id,
        ticket: crate::tickets::view_after_change(app, ctx, ticket_id).await?,
    })
}

/// The technician marks an approved position done (`services.complete`),
/// once, after its parts arrived. The last approved position done
/// completes the job (stage `completed`).
pub async fn complete_service(
    app: &App,
    ctx: &ShopCtx,
    ticket_id: TicketId,
    service_id: ServiceId,
) -> Result<ServiceChanged> {
    app.require(ctx, Permission::ServicesComplete).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let services: Vec<tickets::Service> = tickets::services(&txn, shop, ticket_id)
        .await?
        .into_iter()
        .filter(|s| !s.removed)
        .collect();
    let current = services
        .iter()
        .find(|s| s.id == service_id.as_uuid())
        .ok_or(Error::NotFound("service"))?;
    open_for_work(&ticket)?;
    let status = current.status_value()?;
    if status != ServiceStatus::Approved {
        return Err(Error::Conflict {
            field: "status".into(),
            message: format!("is {status}: only approved work is done"),
        });
    }
    if current.done_at.is_some() {
        return Err(Error::Conflict {
            field: "done_at".into(),
            message: "is set: the position is already done".into(),
        });
    }
    if current.parts_needed
        && current.parts_status.as_deref() != Some(PartsStatus::Received.as_str())
    {
        return Err(Error::Conflict {
            field: "parts_status".into(),
            message: "the parts have not been received yet".into(),
        });
    }
    let now = Utc::now();
    if !tickets::mark_service_done(&txn, shop, service_id, ctx.user_id, now).await? {
        return Err(Error::Conflict {
            field: "done_at".into(),
            message: "is set: the position is already done".into(),
        });
    }
    let mut live = vec![
        ticket_updated(ctx, ticket_id),
        event(
            &txn,
            ctx,
            ticket_id,
            TimelineKind::ServiceDone,
            json!({"service_id": service_id, "title": current.title}),
        )
        .await?,
    ];
    let rest_done = services
        .iter()
        .filter(|s| s.id != service_id.as_uuid())
        .filter(|s| {
            s.status_value()
                .is_ok_and(|st| st == ServiceStatus::Approved)
        })
        .all(|s| s.done_at.is_some());
    let stage = if rest_done {
        match super::advance(
            app,
            &txn,
            shop,
            &ctx.features,
            ticket_id,
            Trigger::LastPositionDone,
            super::staff(ctx),
        )
        .await?
        {
            Some((stage, more)) => {
                live.extend(more);
                Some(stage)
            }
            None => None,
        }
    } else {
        None
    };
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    if let Some(stage) = stage {
        super::status_for_stage(app, ctx, ticket_id, stage).await;
    }
    Ok(ServiceChanged {
        service: service_id,
        ticket: crate::tickets::view_after_change(app, ctx, ticket_id).await?,
    })
}

fn ticket_updated(ctx: &ShopCtx, ticket: TicketId) -> LiveEvent {
    LiveEvent::new(
        ctx.shop_id(),
        Some(ticket.as_uuid()),
        "ticket_updated",
        None,
    )
}

async fn event(
    txn: &impl ConnectionTrait,
    ctx: &ShopCtx,
    ticket: TicketId,
    kind: TimelineKind,
    data: serde_json::Value,
) -> Result<LiveEvent> {
    let e = activity::record_event(
        txn,
        ctx.shop_id(),
        activity::NewEvent {
            ticket,
            kind: kind.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&ctx.user_name),
            data,
        },
    )
    .await?;
    Ok(crate::timeline::timeline_live(ctx.shop_id(), ticket, e.id))
}

impl From<tickets::LineItem> for WorkLine {
    fn from(l: tickets::LineItem) -> Self {
        WorkLine {
            kind: l.kind,
            description: l.description,
            quantity: l.quantity_milli as f64 / 1000.0,
            unit_price: l.unit_price,
            taxable: l.taxable,
            part_number: l.part_number,
        }
    }
}

/// The position's lines of the removed line's kind without it: as
/// `(part_lines, None)` for a part line, `(None, labor_lines)` for a
/// labour or fee line, so the usual rules (who may change which, and
/// when) apply to the removal.
type Remaining = (Option<Vec<WorkLine>>, Option<Vec<WorkLine>>);

async fn lines_without(
    txn: &impl ConnectionTrait,
    shop: pitwall_domain::ShopId,
    ticket: TicketId,
    service: &tickets::Service,
    line: uuid::Uuid,
) -> Result<Remaining> {
    let lines: Vec<tickets::LineItem> = tickets::line_items(txn, shop, ticket)
        .await?
        .into_iter()
        .filter(|l| l.service_id == service.id)
        .collect();
    let Some(gone) = lines.iter().find(|l| l.id == line) else {
        return Err(Error::invalid(
            "remove_line",
            "is not a line of this position",
        ));
    };
    let parts = gone.kind == LineItemKind::Part.as_str();
    let same_kind = |l: &tickets::LineItem| (l.kind == LineItemKind::Part.as_str()) == parts;
    let rest: Vec<WorkLine> = lines
        .iter()
        .filter(|l| l.id != line && same_kind(l))
        .cloned()
        .map(WorkLine::from)
        .collect();
    Ok(if parts {
        (Some(rest), None)
    } else {
        (None, Some(rest))
    })
}

/// The work queues: what waits for the caller's part of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Findings to qualify (`services.edit`): tickets in `qualification`.
    Qualification,
    /// Parts to price, order or receive (`parts.edit`): tickets in
    /// `qualification` or `in_work` with a position whose parts have not
    /// arrived.
    Parts,
    /// Approved work to do (`services.complete`): tickets `in_work`
    /// assigned to the caller or to nobody.
    Completion,
}

impl Queue {
    /// The permission that works this queue.
    pub fn permission(self) -> Permission {
        match self {
            Queue::Qualification => Permission::ServicesEdit,
            Queue::Parts => Permission::PartsEdit,
            Queue::Completion => Permission::ServicesComplete,
        }
    }

    /// Whether a ticket in this queue waits for `user` as far as its
    /// assignment goes: approved work is its technician's, or anyone's
    /// while none is assigned (in SQL: `QueueFilter::technician`).
    pub(crate) fn is_for(self, technician: Option<uuid::Uuid>, user: uuid::Uuid) -> bool {
        self != Queue::Completion || technician.is_none_or(|t| t == user)
    }

    pub const ALL: [Queue; 3] = [Queue::Qualification, Queue::Parts, Queue::Completion];

    /// The name in `GET /api/v1/me/work?queue=` and in hand-off events.
    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Qualification => "qualification",
            Queue::Parts => "parts",
            Queue::Completion => "completion",
        }
    }

    pub fn parse(s: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.as_str() == s)
    }
}

/// One work queue, newest hand-off first (at most 200 tickets).
pub async fn queue(app: &App, ctx: &ShopCtx, queue: &str) -> Result<Vec<TicketView>> {
    let q = Queue::parse(queue.trim())
        .ok_or_else(|| Error::invalid("queue", "must be qualification, parts or completion"))?;
    let filter = match q {
        Queue::Qualification => tickets::QueueFilter {
            stages: &[Stage::Qualification.as_str()],
            technician: None,
            parts_waiting: false,
        },
        Queue::Parts => tickets::QueueFilter {
            stages: &[Stage::Qualification.as_str(), Stage::InWork.as_str()],
            technician: None,
            parts_waiting: true,
        },
        Queue::Completion => tickets::QueueFilter {
            stages: &[Stage::InWork.as_str()],
            technician: Some(ctx.user_id),
            parts_waiting: false,
        },
    };
    app.require(ctx, q.permission()).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    let shop = ctx.shop_id();
    let list = tickets::in_queue(&app.db, shop, filter).await?;
    let settings = super::settings::read(&app.db, shop).await?;
    let target = match q {
        Queue::Qualification => settings.qualification_minutes,
        Queue::Parts => settings.parts_minutes,
        Queue::Completion => None,
    };
    let now = app.config.clock.now();
    let mut views = crate::tickets::views_for(app, ctx, list).await?;
    if let Some(minutes) = target {
        for v in &mut views {
            v.stage_timer = stage_timer(v, minutes, now);
        }
    }
    Ok(views)
}

/// A hand-off's target counted down from when the ticket entered its
/// stage, in the same orange and red as a count-down status.
fn stage_timer(
    v: &TicketView,
    minutes: i32,
    now: chrono::DateTime<Utc>,
) -> Option<timer::TimerState> {
    v.ticket.stage_changed_at.map(|entered| {
        timer::state(
            TimerMode::CountDown,
            entered,
            Some(timer::due_at(entered, minutes)),
            now,
        )
    })
}

/// The shop's hand-off targets, for [`handoff_timer`].
pub(crate) async fn handoff_targets(
    db: &impl ConnectionTrait,
    shop: pitwall_domain::ShopId,
) -> Result<super::WorkflowSettings> {
    super::settings::read(db, shop).await
}

/// The hand-off a ticket on the dashboard waits on, timed against the
/// shop's target for it: parts not yet received (`parts_minutes`, in
/// qualification or in work, as the parts queue counts them), else the
/// advisor's qualification (`qualification_minutes`). None without a
/// target or a hand-off.
pub(crate) fn handoff_timer(
    settings: &super::WorkflowSettings,
    v: &TicketView,
    now: chrono::DateTime<Utc>,
) -> Option<timer::TimerState> {
    let parts_waiting = matches!(v.stage, Stage::Qualification | Stage::InWork)
        && v.services.iter().any(|s| {
            !s.service.removed
                && s.service.parts_needed
                && s.service.parts_status.as_deref() != Some(PartsStatus::Received.as_str())
        });
    let minutes = if parts_waiting {
        settings.parts_minutes
    } else if v.stage == Stage::Qualification {
        settings.qualification_minutes
    } else {
        None
    }?;
    stage_timer(v, minutes, now)
}
