use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{CustomerId, ShopId, StatusId, TicketId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{activity, customers, statuses, tickets};
use serde_json::json;

use super::{MAX_BATCH, PosCtx, TicketInput, ValidTicket, external_id, require_writable, validate};
use crate::live::LiveEvent;
use crate::tickets::{TicketView, recompute_totals, search_text, view};
use crate::timeline::timeline_live;
use crate::{App, Error, Result};

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
    let (outcome, ticket) = store_ticket(
        app,
        pos,
        external_id_raw,
        input,
        raw,
        &mut FirstStatus::default(),
    )
    .await?;
    let ticket = view(&app.db, pos.shop_id(), ticket, app.config.clock.now()).await?;
    Ok(Pushed { outcome, ticket })
}

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

/// Validates and writes one pushed ticket, committed, and returns it as
/// stored. Its view (the answer) is read afterwards: for a batch, all of
/// them in one go.
async fn store_ticket(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &TicketInput,
    raw: Option<&str>,
    first: &mut FirstStatus,
) -> Result<(Outcome, tickets::Ticket)> {
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
    match put_once(app, pos, &ext, &valid, first).await {
        Err(Error::Conflict { .. }) => put_once(app, pos, &ext, &valid, first).await,
        other => other,
    }
}

pub(super) async fn put_once(
    app: &App,
    pos: &PosCtx,
    ext: &str,
    v: &ValidTicket,
    first: &mut FirstStatus,
) -> Result<(Outcome, tickets::Ticket)> {
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
        txn.commit().await?;
        return Ok((outcome, t.clone()));
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
    let (mut ticket, outcome) = match existing {
        Some(t) => (
            tickets::update_from_pos(&txn, t, fields).await?,
            Outcome::Updated,
        ),
        None => {
            let first = first.get(&txn, shop).await?;
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
                part_number: None,
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
        LiveEvent::new(shop, Some(tid.as_uuid()), kind, Some(event.id)),
        timeline_live(shop, tid, event.id),
    ]);
    // The row as stored: the totals were the last write to it.
    ticket.subtotal = totals.subtotal;
    ticket.tax = totals.tax;
    ticket.total = totals.total;
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok((outcome, ticket))
}

/// The customer the POS means: by its external id (following merges), else
/// by phone number, else a new one. A phone match keeps the customer's
/// existing external id.
pub(super) async fn resolve_customer(
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
    let mut first = FirstStatus::default();
    let mut out: Vec<std::result::Result<(Outcome, tickets::Ticket), Error>> =
        Vec::with_capacity(items.len());
    for item in items {
        let res = match item.input {
            Ok(input) => {
                store_ticket(app, pos, &item.external_id, &input, item.raw, &mut first).await
            }
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
            // The database going away sinks the batch; one bad ticket does not.
            Err(Error::Unavailable) => return Err(Error::Unavailable),
            other => out.push(other),
        }
    }
    // Every stored ticket's view in one go: a fixed number of queries for
    // the batch, not five per ticket.
    let stored: Vec<tickets::Ticket> = out
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(_, t)| t.clone()))
        .collect();
    let mut views = crate::tickets::views(&app.db, pos.shop_id(), stored, app.config.clock.now())
        .await?
        .into_iter();
    let out = out
        .into_iter()
        .map(|r| match r {
            Ok((outcome, _)) => match views.next() {
                Some(ticket) => BatchResult::Pushed(Box::new(Pushed { outcome, ticket })),
                None => BatchResult::Failed(Error::NotFound("ticket")),
            },
            Err(e) => BatchResult::Failed(e),
        })
        .collect();
    Ok(out)
}
