//! The repair-order workflow's rows: a ticket's stage (moved only from the
//! stage the caller read, so two people moving at once cannot both win),
//! its history, and the shop's workflow settings.

use chrono::{DateTime, Utc};
use pitwall_domain::workflow::Stage;
use pitwall_domain::{ShopId, TicketId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entities::{stage_change, ticket, workflow_setting};
use crate::{InShop, StoreError, now};

pub use stage_change::Model as StageChange;
pub use workflow_setting::Model as WorkflowSettings;

/// Who moved a ticket.
#[derive(Debug, Clone, Copy)]
pub struct MovedBy<'a> {
    /// `staff`, `customer` or `system`.
    pub kind: &'a str,
    pub user: Option<uuid::Uuid>,
    pub name: Option<&'a str>,
}

pub struct StageMove<'a> {
    pub ticket: TicketId,
    pub from: Stage,
    pub to: Stage,
    pub reason: Option<&'a str>,
    pub by: MovedBy<'a>,
    pub at: DateTime<Utc>,
}

/// Moves the ticket from `m.from` to `m.to` and writes the history row.
/// `false` (nothing written) when the ticket is no longer in `m.from`.
pub async fn move_stage(
    db: &impl ConnectionTrait,
    shop: ShopId,
    m: StageMove<'_>,
) -> Result<Option<StageChange>, StoreError> {
    let moved = ticket::Entity::update_many()
        .col_expr(ticket::Column::Stage, Expr::value(m.to.as_str()))
        .col_expr(ticket::Column::StageChangedAt, Expr::value(Some(m.at)))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(m.ticket.as_uuid()))
        .filter(ticket::Column::Stage.eq(m.from.as_str()))
        .exec(db)
        .await?;
    if moved.rows_affected == 0 {
        return Ok(None);
    }
    let row = stage_change::Model {
        id: uuid::Uuid::now_v7(),
        shop_id: shop.as_uuid(),
        ticket_id: m.ticket.as_uuid(),
        from_stage: m.from.as_str().to_owned(),
        to_stage: m.to.as_str().to_owned(),
        reason: m.reason.map(str::to_owned),
        actor_kind: m.by.kind.to_owned(),
        changed_by: m.by.user,
        actor_name: m.by.name.map(str::to_owned),
        created_at: m.at,
    };
    stage_change::Entity::insert(stage_change::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(Some(row))
}

/// A ticket's stage moves, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<StageChange>, StoreError> {
    Ok(stage_change::Entity::find()
        .in_shop(shop)
        .filter(stage_change::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(stage_change::Column::CreatedAt)
        .order_by_asc(stage_change::Column::Id)
        .all(db)
        .await?)
}

/// The shop's settings; a shop that never saved any has the defaults (no
/// targets, no statuses set by stages).
pub async fn settings(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<WorkflowSettings, StoreError> {
    Ok(workflow_setting::Entity::find_by_id(shop.as_uuid())
        .one(db)
        .await?
        .unwrap_or_else(|| WorkflowSettings {
            shop_id: shop.as_uuid(),
            qualification_minutes: None,
            parts_minutes: None,
            approval_reminder_minutes: None,
            stage_statuses: "{}".into(),
            handoff_emails: false,
            updated_at: now(),
        }))
}

pub async fn save_settings(
    db: &impl ConnectionTrait,
    shop: ShopId,
    s: WorkflowSettings,
) -> Result<(), StoreError> {
    use workflow_setting::Column as C;
    let row = workflow_setting::ActiveModel {
        shop_id: Set(shop.as_uuid()),
        qualification_minutes: Set(s.qualification_minutes),
        parts_minutes: Set(s.parts_minutes),
        approval_reminder_minutes: Set(s.approval_reminder_minutes),
        stage_statuses: Set(s.stage_statuses),
        handoff_emails: Set(s.handoff_emails),
        updated_at: Set(now()),
    };
    workflow_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::ShopId)
                .update_columns([
                    C::QualificationMinutes,
                    C::PartsMinutes,
                    C::ApprovalReminderMinutes,
                    C::StageStatuses,
                    C::HandoffEmails,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Shops that remind customers of unanswered approval requests, with
/// their delay in minutes.
pub async fn reminder_shops(db: &impl ConnectionTrait) -> Result<Vec<(ShopId, i32)>, StoreError> {
    Ok(workflow_setting::Entity::find()
        .filter(workflow_setting::Column::ApprovalReminderMinutes.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|s| {
            s.approval_reminder_minutes
                .map(|m| (ShopId::from_uuid(s.shop_id), m))
        })
        .collect())
}

fn not_reminded_since_entering() -> sea_orm::Condition {
    use sea_orm::sea_query::ExprTrait;
    sea_orm::Condition::any()
        .add(ticket::Column::ApprovalRemindedAt.is_null())
        .add(
            Expr::col(ticket::Column::ApprovalRemindedAt)
                .lt(Expr::col(ticket::Column::StageChangedAt)),
        )
}

/// Open tickets of `shop` waiting for the customer's approval since
/// `before` or longer, not yet reminded for this request (at most 100).
pub async fn awaiting_reminder(
    db: &impl ConnectionTrait,
    shop: ShopId,
    before: DateTime<Utc>,
) -> Result<Vec<crate::tickets::Ticket>, StoreError> {
    use sea_orm::QuerySelect;
    Ok(ticket::Entity::find()
        .in_shop(shop)
        .filter(ticket::Column::Closed.eq(false))
        .filter(ticket::Column::Stage.eq(Stage::AwaitingApproval.as_str()))
        .filter(ticket::Column::StageChangedAt.lte(before))
        .filter(not_reminded_since_entering())
        .order_by_asc(ticket::Column::StageChangedAt)
        .limit(100)
        .all(db)
        .await?)
}

/// Claims the reminder of one request: `false` when another worker did,
/// or the ticket moved on meanwhile.
pub async fn claim_reminder(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = ticket::Entity::update_many()
        .col_expr(ticket::Column::ApprovalRemindedAt, Expr::value(Some(at)))
        .in_shop(shop)
        .filter(ticket::Column::Id.eq(ticket.as_uuid()))
        .filter(ticket::Column::Stage.eq(Stage::AwaitingApproval.as_str()))
        .filter(not_reminded_since_entering())
        .exec(db)
        .await?;
    Ok(r.rows_affected > 0)
}
