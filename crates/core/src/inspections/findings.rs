//! Rate one item of an inspection, and turn a finding into a recommended
//! service on the ticket.
//!
//! Each tap on the phone writes one finding's row and nothing else (but
//! the inspection's version): two devices rating different items of one
//! inspection never lose each other's work.

use pitwall_domain::findings::{self as rules, MAX_NOTE};
use pitwall_domain::inspections::Condition;
use pitwall_domain::tickets::ServiceStatus;
use pitwall_domain::{InspectionId, Permission, ServiceId, TicketId, values};
use pitwall_store::inspections::{self as store, FindingFields};
use pitwall_store::tickets;

use super::{InspectionView, load, load_to_change, may, not_editable};
use crate::live::LiveEvent;
use crate::{App, Error, Problems, Result, ShopCtx};

/// What the technician sets on one finding.
pub struct FindingInput {
    pub condition: String,
    /// A number (`measurement` items) or tire positions to tread depths
    /// (`tire` items); null for the other kinds.
    pub measurement: Option<serde_json::Value>,
    /// For the shop only.
    pub note: Option<String>,
    /// What the customer reads.
    pub customer_note: Option<String>,
}

/// Sets one finding (`inspections.edit`) while the inspection is in
/// progress or returned. Every bad field is named at once and nothing is
/// written.
pub async fn set(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionId,
    key: &str,
    input: FindingInput,
) -> Result<InspectionView> {
    may(app, ctx, Permission::InspectionsEdit).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let current = load_to_change(&txn, ctx, id).await?;
    if !current.status.editable() {
        return Err(not_editable(current.status));
    }
    let finding = current
        .findings
        .iter()
        .find(|f| f.row.item_key == key)
        .ok_or(Error::NotFound("finding"))?;
    let mut p = Problems::default();
    let condition = Condition::parse(input.condition.trim());
    if condition.is_none() {
        p.add(
            "condition",
            "must be not_checked, good, needs_attention or urgent",
        );
    }
    let measurement = match rules::measurement(finding.item.kind, input.measurement.as_ref()) {
        Ok(m) => m,
        Err((field, message)) => {
            p.add(field, message);
            None
        }
    };
    let note = p
        .check(
            "note",
            values::optional_text(input.note.as_deref(), MAX_NOTE),
        )
        .flatten();
    let customer_note = p
        .check(
            "customer_note",
            values::optional_text(input.customer_note.as_deref(), MAX_NOTE),
        )
        .flatten();
    p.into_result()?;
    let condition = condition.unwrap_or(Condition::NotChecked);
    store::set_finding(
        &txn,
        shop,
        id,
        key,
        ctx.user_id,
        FindingFields {
            condition: condition.as_str().to_owned(),
            measurement: measurement.map(|m| m.to_json().to_string()),
            note,
            customer_note,
        },
    )
    .await?;
    let view = load(&txn, ctx, id).await?;
    txn.commit().await?;
    Ok(view)
}

/// A service to make from a finding, when the item's default is not
/// wanted; money in minor units.
pub struct ServiceInput {
    pub title: String,
    pub line_items: Vec<LineInput>,
}

pub struct LineInput {
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    pub taxable: bool,
}

/// Turns a finding into a recommended service on the ticket
/// (`inspections.edit`): the body's, else the sheet item's default,
/// priced by the same rules as a service the POS sends. The service is
/// Pitwall's (`source = pitwall`): a POS push keeps it until the POS
/// sends it itself (external id `pitwall-{id}`).
pub async fn to_service(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionId,
    key: &str,
    input: Option<ServiceInput>,
) -> Result<InspectionView> {
    may(app, ctx, Permission::InspectionsEdit).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let current = load_to_change(&txn, ctx, id).await?;
    let finding = current
        .findings
        .iter()
        .find(|f| f.row.item_key == key)
        .ok_or(Error::NotFound("finding"))?;
    let ticket_id = TicketId::from_uuid(current.row.ticket_id);
    let existing = tickets::services(&txn, shop, ticket_id).await?;
    if let Some(sid) = finding.row.service_id
        && existing.iter().any(|s| s.id == sid && !s.removed)
    {
        return Err(Error::Conflict {
            field: "service_id".into(),
            message: "the finding already has a service on the ticket".into(),
        });
    }
    let input = match input {
        Some(i) => i,
        None => match &finding.item.service {
            Some(s) => ServiceInput {
                title: s.title.clone(),
                line_items: s
                    .line_items
                    .iter()
                    .map(|l| LineInput {
                        kind: l.kind.as_str().to_owned(),
                        description: l.description.clone(),
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                        taxable: l.taxable,
                    })
                    .collect(),
            },
            None => {
                return Err(Error::invalid(
                    "title",
                    "is required: the sheet's item has no recommended service",
                ));
            }
        },
    };
    let mut p = Problems::default();
    let title = p.check("title", values::required_text(&input.title, 200));
    if input.line_items.len() > 200 {
        p.add("line_items", "must have at most 200 line items");
    }
    let mut lines = Vec::new();
    for (j, l) in input.line_items.iter().enumerate() {
        let at = |name: &str| format!("line_items/{j}/{name}");
        if let Some(v) = crate::pos::valid_line(
            &mut p,
            &at,
            &l.kind,
            &l.description,
            l.quantity,
            l.unit_price,
            l.taxable,
        ) {
            lines.push(v);
        }
    }
    p.into_result()?;
    let title = title.unwrap_or_default();
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    // After every service the POS may send (at most 200), so a push that
    // renumbers its own keeps Pitwall's at the end.
    let position = existing
        .iter()
        .filter(|s| s.source == tickets::SOURCE_PITWALL)
        .map(|s| s.position + 1)
        .max()
        .unwrap_or(1000)
        .max(1000);
    let subtotal = lines.iter().map(|l| l.5).sum();
    let taxable = lines.iter().filter(|l| l.4).map(|l| l.5).sum();
    let service = tickets::insert_own_service(
        &txn,
        shop,
        ticket_id,
        tickets::OwnService {
            id: None,
            position,
            title: &title,
            status: ServiceStatus::Recommended.as_str(),
            subtotal,
            taxable_subtotal: taxable,
        },
    )
    .await?;
    tickets::add_line_items(
        &txn,
        shop,
        ticket_id,
        lines
            .into_iter()
            .enumerate()
            .map(
                |(j, (kind, description, qty, price, taxable, amount))| tickets::LineItemFields {
                    service_id: service.id,
                    position: position * 1000 + j as i32,
                    kind: kind.as_str().to_owned(),
                    description,
                    quantity_milli: qty,
                    unit_price: price,
                    taxable,
                    amount,
                    part_number: None,
                },
            )
            .collect(),
    )
    .await?;
    store::set_finding_service(&txn, shop, id, key, ServiceId::from_uuid(service.id)).await?;
    crate::tickets::recompute_totals(&txn, shop, &ticket).await?;
    tickets::bump_version(&txn, shop, ticket_id).await?;
    let view = load(&txn, ctx, id).await?;
    let announced = app.live.announce(vec![LiveEvent::new(
        shop,
        Some(ticket_id.as_uuid()),
        "ticket_updated",
        None,
    )]);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, inspection.id = %id, service.id = %service.id, "finding turned into a service");
    Ok(view)
}
