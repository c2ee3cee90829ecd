//! Digital vehicle inspections, by what users do:
//! - `sheets`: the shop's templates, with import and export;
//! - `start`: start an inspection on a ticket from a sheet, read one, list
//!   a ticket's;
//! - `findings`: rate one item (one row per finding, so two devices never
//!   lose each other's work), turn a finding into a recommended service;
//! - `workflow`: submit (photo rules), return to the technician, publish
//!   to the customer (and send the link);
//! - `media`: photos and videos of findings;
//! - `published`: what the customer's page shows of it.

pub mod findings;
pub mod media;
pub mod published;
pub mod settings;
pub mod sheets;
pub mod start;
pub mod workflow;

use pitwall_domain::findings::InspectionStatus;
use pitwall_domain::inspections::{Condition, Item, Sheet};
use pitwall_domain::{Feature, InspectionId, Permission};
use pitwall_store::inspections::{self as store, Finding, Inspection};
use pitwall_store::sea_orm::ConnectionTrait;

use crate::{App, Error, Result, ShopCtx};

/// An inspection with its sheet copy and every finding, in sheet order.
#[derive(Debug, Clone)]
pub struct InspectionView {
    pub row: Inspection,
    pub status: InspectionStatus,
    pub sheet: Sheet,
    pub findings: Vec<FindingView>,
}

/// A finding with the sheet item it rates.
#[derive(Debug, Clone)]
pub struct FindingView {
    pub row: Finding,
    pub item: Item,
    pub section: String,
    pub condition: Condition,
    pub measurement: Option<serde_json::Value>,
    /// The same item on this vehicle's last finished inspection.
    pub previous: Option<Previous>,
    /// Photos and videos, in upload order.
    pub media: Vec<pitwall_store::media::Medium>,
}

/// Last visit's reading of an item, shown beside this visit's.
#[derive(Debug, Clone)]
pub struct Previous {
    pub inspection_id: InspectionId,
    pub condition: Condition,
    pub measurement: Option<serde_json::Value>,
    pub inspected_at: chrono::DateTime<chrono::Utc>,
}

pub(crate) fn read_sheet(row: &Inspection) -> Result<Sheet> {
    serde_json::from_str(&row.sheet)
        .map_err(|e| Error::Internal(format!("inspection {} sheet: {e}", row.id)))
}

pub(crate) fn status_of(row: &Inspection) -> Result<InspectionStatus> {
    InspectionStatus::parse(&row.status)
        .ok_or_else(|| Error::Internal(format!("inspection {} status {}", row.id, row.status)))
}

/// Joins findings to the items of the inspection's own sheet copy.
pub(crate) fn assemble(row: Inspection, findings: Vec<Finding>) -> Result<InspectionView> {
    let sheet = read_sheet(&row)?;
    let status = status_of(&row)?;
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        let Some((section, item)) = sheet.items().find(|(_, i)| i.key == f.item_key) else {
            return Err(Error::Internal(format!(
                "inspection {} finding {} has no item",
                row.id, f.item_key
            )));
        };
        let condition = f.condition_value()?;
        let measurement =
            match &f.measurement {
                Some(m) => Some(serde_json::from_str(m).map_err(|e| {
                    Error::Internal(format!("inspection {} measurement: {e}", row.id))
                })?),
                None => None,
            };
        out.push(FindingView {
            section: section.name.clone(),
            item: item.clone(),
            condition,
            measurement,
            previous: None,
            media: vec![],
            row: f,
        });
    }
    Ok(InspectionView {
        row,
        status,
        sheet,
        findings: out,
    })
}

/// The whole view: findings with their media and last visit's readings.
pub(crate) async fn load(
    db: &impl ConnectionTrait,
    ctx: &ShopCtx,
    id: InspectionId,
) -> Result<InspectionView> {
    let mut view = load_to_change(db, ctx, id).await?;
    with_media(db, ctx.shop_id(), &mut view).await?;
    with_previous(db, ctx, &mut view).await?;
    Ok(view)
}

/// What a change decides on: the status, the sheet copy and the findings,
/// without media or last visit (each tap on the phone runs this).
pub(crate) async fn load_to_change(
    db: &impl ConnectionTrait,
    ctx: &ShopCtx,
    id: InspectionId,
) -> Result<InspectionView> {
    let row = store::get(db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("inspection"))?;
    let findings = store::findings(db, ctx.shop_id(), id).await?;
    assemble(row, findings)
}

pub(crate) async fn with_media(
    db: &impl ConnectionTrait,
    shop: pitwall_domain::ShopId,
    view: &mut InspectionView,
) -> Result<()> {
    let id = InspectionId::from_uuid(view.row.id);
    let mut media = media::by_finding(db, shop, id).await?;
    for f in &mut view.findings {
        f.media = media.remove(&f.row.id).unwrap_or_default();
    }
    Ok(())
}

/// Fills each finding's `previous` from the vehicle's last finished
/// inspection: items matched by key, unchecked ones left out.
pub(crate) async fn with_previous(
    db: &impl ConnectionTrait,
    ctx: &ShopCtx,
    view: &mut InspectionView,
) -> Result<()> {
    let Some((earlier, findings)) = store::previous_visit(db, ctx.shop_id(), &view.row).await?
    else {
        return Ok(());
    };
    let inspected_at = earlier.submitted_at.unwrap_or(earlier.updated_at);
    for f in findings {
        let condition = f.condition_value()?;
        if condition == Condition::NotChecked {
            continue;
        }
        let Some(now) = view
            .findings
            .iter_mut()
            .find(|v| v.row.item_key == f.item_key)
        else {
            continue;
        };
        // A reading that no longer parses is left out, not an error: it is
        // history, and this visit's work must not depend on it.
        let measurement = f
            .measurement
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok());
        now.previous = Some(Previous {
            inspection_id: InspectionId::from_uuid(earlier.id),
            condition,
            measurement,
            inspected_at,
        });
    }
    Ok(())
}

pub(crate) async fn may_read(app: &App, ctx: &ShopCtx) -> Result<()> {
    ctx.require_feature(Feature::Inspections)?;
    app.require(ctx, Permission::TicketsView).await
}

/// The plan, the permission, and a shop that may still change things.
pub(crate) async fn may(app: &App, ctx: &ShopCtx, perm: Permission) -> Result<()> {
    ctx.require_feature(Feature::Inspections)?;
    app.require(ctx, perm).await?;
    ctx.require_writable()
}

pub(crate) fn not_editable(status: InspectionStatus) -> Error {
    Error::Conflict {
        field: "status".into(),
        message: format!(
            "is {status}: findings change only while the inspection is in progress or returned"
        ),
    }
}
