use std::collections::BTreeMap;

use pitwall_domain::workflow::Stage;
use pitwall_domain::{Feature, Permission, ShopId, StatusId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{statuses, workflow as store};

use crate::{App, Error, FieldError, Result, ShopCtx};

/// A shop's workflow settings: time targets per hand-off (none: no target)
/// and the vehicle status each stage sets when a ticket enters it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowSettings {
    pub qualification_minutes: Option<i32>,
    pub parts_minutes: Option<i32>,
    pub approval_reminder_minutes: Option<i32>,
    pub stage_statuses: BTreeMap<Stage, StatusId>,
    /// E-mail the staff each hand-off concerns (see `workflow::handoffs`).
    pub handoff_emails: bool,
}

/// What a manager sends: stage names as the client wrote them, checked
/// here so that each problem names its field.
#[derive(Debug, Clone, Default)]
pub struct WorkflowSettingsInput {
    pub qualification_minutes: Option<i32>,
    pub parts_minutes: Option<i32>,
    pub approval_reminder_minutes: Option<i32>,
    pub stage_statuses: BTreeMap<String, uuid::Uuid>,
    pub handoff_emails: bool,
}

/// The longest target: one week.
const MAX_MINUTES: i32 = 10_080;

pub(crate) async fn read(db: &impl ConnectionTrait, shop: ShopId) -> Result<WorkflowSettings> {
    let row = store::settings(db, shop).await?;
    let raw: BTreeMap<String, uuid::Uuid> =
        serde_json::from_str(&row.stage_statuses).map_err(|e| {
            pitwall_store::StoreError::Corrupt(format!("workflow_settings.stage_statuses: {e}"))
        })?;
    let mut stage_statuses = BTreeMap::new();
    for (k, v) in raw {
        let stage = Stage::parse(&k).ok_or_else(|| {
            pitwall_store::StoreError::Corrupt(format!(
                "workflow_settings.stage_statuses holds {k:?}"
            ))
        })?;
        stage_statuses.insert(stage, StatusId::from_uuid(v));
    }
    Ok(WorkflowSettings {
        qualification_minutes: row.qualification_minutes,
        parts_minutes: row.parts_minutes,
        approval_reminder_minutes: row.approval_reminder_minutes,
        stage_statuses,
        handoff_emails: row.handoff_emails,
    })
}

/// The shop's workflow settings (`tickets.view`).
pub async fn settings(app: &App, ctx: &ShopCtx) -> Result<WorkflowSettings> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    read(&app.db, ctx.shop_id()).await
}

/// Replaces the shop's workflow settings (`shop.settings.manage`). Every
/// problem is named at once; nothing is saved while any remains.
pub async fn save_settings(
    app: &App,
    ctx: &ShopCtx,
    input: WorkflowSettingsInput,
) -> Result<WorkflowSettings> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let mut problems = Vec::new();
    for (field, value) in [
        ("qualification_minutes", input.qualification_minutes),
        ("parts_minutes", input.parts_minutes),
        ("approval_reminder_minutes", input.approval_reminder_minutes),
    ] {
        if let Some(m) = value
            && !(1..=MAX_MINUTES).contains(&m)
        {
            problems.push(FieldError {
                field: field.into(),
                message: format!("must be from 1 to {MAX_MINUTES} minutes (one week), or null"),
            });
        }
    }
    let shop_statuses = statuses::all(&app.db, shop).await?;
    let mut stage_statuses = BTreeMap::new();
    for (key, id) in &input.stage_statuses {
        let field = format!("stage_statuses/{key}");
        let Some(stage) = Stage::parse(key) else {
            problems.push(FieldError {
                field,
                message: "is not a stage".into(),
            });
            continue;
        };
        match shop_statuses.iter().find(|s| s.id == *id) {
            None => problems.push(FieldError {
                field,
                message: "is not a status of this shop".into(),
            }),
            Some(s) if s.retired_at.is_some() => problems.push(FieldError {
                field,
                message: "is retired".into(),
            }),
            Some(_) => {
                stage_statuses.insert(stage, StatusId::from_uuid(*id));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::InvalidFields(problems));
    }
    let stored: BTreeMap<&str, uuid::Uuid> = stage_statuses
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_uuid()))
        .collect();
    let json = serde_json::to_string(&stored)
        .map_err(|e| pitwall_store::StoreError::Corrupt(format!("stage statuses: {e}")))?;
    store::save_settings(
        &app.db,
        shop,
        store::WorkflowSettings {
            shop_id: shop.as_uuid(),
            qualification_minutes: input.qualification_minutes,
            parts_minutes: input.parts_minutes,
            approval_reminder_minutes: input.approval_reminder_minutes,
            stage_statuses: json,
            handoff_emails: input.handoff_emails,
            updated_at: chrono::Utc::now(),
        },
    )
    .await?;
    tracing::info!(shop.id = %shop, "workflow settings saved");
    read(&app.db, shop).await
}
