//! Message setup: the shop's vehicle statuses, what each tells the customer,
//! and how the dashboard times it.

use pitwall_domain::tickets::{TimerMode, parse_color};
use pitwall_domain::{Permission, StatusId, values};
use pitwall_store::statuses::{self, StatusFields, VehicleStatus};
use serde_json::json;

use crate::{App, Error, Problems, Result, ShopCtx};

pub struct StatusInput {
    pub label: String,
    pub color: String,
    pub notify_customer: bool,
    pub message_template: String,
    pub timer_mode: String,
    pub default_minutes: Option<i32>,
    /// Where it goes in the list (0 is first); `None` keeps it (or appends).
    pub position: Option<i32>,
}

fn validate(input: &StatusInput) -> Result<StatusFields> {
    let mut p = Problems::default();
    let label = p.check("label", values::required_text(&input.label, 60));
    let color = p.check("color", parse_color(&input.color));
    let mode = TimerMode::parse(input.timer_mode.trim());
    if mode.is_none() {
        p.add("timer_mode", "must be open, count_down or count_up");
    }
    if let Some(m) = input.default_minutes
        && !(1..=10_080).contains(&m)
    {
        p.add("default_minutes", "must be from 1 to 10080 (one week)");
    }
    let template = input.message_template.trim().to_owned();
    if template.chars().count() > 1000 {
        p.add("message_template", "must be at most 1000 characters");
    } else if let Err(Error::Invalid { field, message }) =
        crate::outreach::check_template("message_template", &template)
    {
        p.add(field, message);
    }
    if input.notify_customer && template.is_empty() {
        p.add(
            "message_template",
            "is required when the status notifies the customer",
        );
    }
    p.into_result()?;
    Ok(StatusFields {
        label: label.unwrap_or_default(),
        color: color.unwrap_or_default(),
        notify_customer: input.notify_customer,
        message_template: template,
        timer_mode: mode.unwrap_or(TimerMode::Open).as_str().to_owned(),
        default_minutes: input.default_minutes,
    })
}

/// In order; retired ones only when asked.
pub async fn list(app: &App, ctx: &ShopCtx, include_retired: bool) -> Result<Vec<VehicleStatus>> {
    app.require(ctx, Permission::TicketsView).await?;
    Ok(statuses::all(&app.db, ctx.shop_id())
        .await?
        .into_iter()
        .filter(|s| include_retired || s.retired_at.is_none())
        .collect())
}

/// Renumbers the active statuses so that `moved` sits at `position`.
async fn place(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    ctx: &ShopCtx,
    moved: uuid::Uuid,
    position: Option<i32>,
) -> Result<()> {
    let mut order: Vec<uuid::Uuid> = statuses::all(db, ctx.shop_id())
        .await?
        .into_iter()
        .map(|s| s.id)
        .filter(|id| *id != moved)
        .collect();
    let at = position
        .map(|p| (p.max(0) as usize).min(order.len()))
        .unwrap_or(order.len());
    order.insert(at, moved);
    for (i, id) in order.into_iter().enumerate() {
        statuses::set_position(db, ctx.shop_id(), StatusId::from_uuid(id), i as i32).await?;
    }
    Ok(())
}

pub async fn create(app: &App, ctx: &ShopCtx, input: StatusInput) -> Result<VehicleStatus> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    ctx.require_writable()?;
    let fields = validate(&input)?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if statuses::all(&txn, shop).await?.len() >= 50 {
        return Err(Error::invalid(
            "label",
            "a shop may have at most 50 statuses",
        ));
    }
    let s = statuses::insert(&txn, shop, i32::MAX, fields).await?;
    place(&txn, ctx, s.id, input.position).await?;
    audit(&txn, ctx, "status.create", s.id, &s.label).await?;
    let s = statuses::get(&txn, shop, StatusId::from_uuid(s.id))
        .await?
        .ok_or(Error::NotFound("status"))?;
    txn.commit().await?;
    Ok(s)
}

pub async fn update(
    app: &App,
    ctx: &ShopCtx,
    id: StatusId,
    input: StatusInput,
) -> Result<VehicleStatus> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    statuses::get(&app.db, shop, id)
        .await?
        .ok_or(Error::NotFound("status"))?;
    let fields = validate(&input)?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    let existing = statuses::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("status"))?;
    let s = statuses::update(&txn, existing, fields).await?;
    if input.position.is_some() {
        place(&txn, ctx, s.id, input.position).await?;
    }
    audit(&txn, ctx, "status.update", s.id, &s.label).await?;
    let s = statuses::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("status"))?;
    txn.commit().await?;
    Ok(s)
}

/// Retires a status: it leaves the list of choices, but tickets and history
/// that have it keep showing it. Tickets still open in it keep it too.
pub async fn retire(app: &App, ctx: &ShopCtx, id: StatusId) -> Result<VehicleStatus> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let s = statuses::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("status"))?;
    let active = statuses::all(&txn, shop)
        .await?
        .iter()
        .filter(|s| s.retired_at.is_none())
        .count();
    if s.retired_at.is_none() && active <= 1 {
        return Err(Error::Conflict {
            field: "status_id".into(),
            message: "is the last active status; a shop needs at least one".into(),
        });
    }
    statuses::set_retired(&txn, shop, id, true).await?;
    audit(&txn, ctx, "status.retire", s.id, &s.label).await?;
    let s = statuses::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("status"))?;
    txn.commit().await?;
    Ok(s)
}

async fn audit(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    ctx: &ShopCtx,
    action: &str,
    id: uuid::Uuid,
    label: &str,
) -> Result<()> {
    pitwall_store::audit::record(
        db,
        pitwall_store::audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action,
            target: Some(id.to_string()),
            details: json!({ "label": label }),
        },
    )
    .await?;
    Ok(())
}
