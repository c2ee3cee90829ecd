//! What happens to a ticket: timeline events, comments, status history,
//! outgoing messages, notifications for the POS and the POS sync log.

use chrono::{DateTime, Utc};
use pitwall_domain::{
    CommentId, NotificationId, ShopId, StatusChangeId, StatusId, SyncEventId, TicketId,
    TimelineEventId, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entities::{
    pos_notification, pos_sync_event, status_change, ticket_comment, timeline_event,
};
use crate::{InShop, Page, PageRequest, StoreError, now};

pub use crate::messages::Message;
pub use pos_notification::Model as Notification;
pub use pos_sync_event::Model as SyncEvent;
pub use status_change::Model as StatusChange;
pub use ticket_comment::Model as Comment;
pub use timeline_event::Model as TimelineEvent;

pub struct NewEvent<'a> {
    pub ticket: TicketId,
    pub kind: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: Option<uuid::Uuid>,
    pub actor_name: Option<&'a str>,
    pub data: serde_json::Value,
}

/// The row of one timeline event, for a [`crate::batch::Batch`].
pub fn event_row(
    shop: ShopId,
    id: TimelineEventId,
    e: NewEvent<'_>,
    at: DateTime<Utc>,
) -> timeline_event::ActiveModel {
    timeline_event::ActiveModel {
        id: Set(id.as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(e.ticket.as_uuid()),
        kind: Set(e.kind.to_owned()),
        actor_kind: Set(e.actor_kind.to_owned()),
        actor_id: Set(e.actor_id),
        actor_name: Set(e.actor_name.map(str::to_owned)),
        data: Set(e.data.to_string()),
        created_at: Set(at),
    }
}

pub async fn record_event(
    db: &impl ConnectionTrait,
    shop: ShopId,
    e: NewEvent<'_>,
) -> Result<TimelineEvent, StoreError> {
    Ok(event_row(shop, TimelineEventId::new(), e, now())
        .insert(db)
        .await?)
}

/// Oldest first, seek-paginated: a timeline reads like a story.
pub async fn timeline(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    page: PageRequest,
) -> Result<Page<TimelineEvent>, StoreError> {
    let mut q = timeline_event::Entity::find()
        .in_shop(shop)
        .filter(timeline_event::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(timeline_event::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(timeline_event::Column::Id.gt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |e| e.id))
}

pub async fn event(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: uuid::Uuid,
) -> Result<Option<TimelineEvent>, StoreError> {
    Ok(timeline_event::Entity::find_by_id(id)
        .in_shop(shop)
        .one(db)
        .await?)
}

/// The row of one status change, for a [`crate::batch::Batch`].
pub fn status_change_row(
    shop: ShopId,
    ticket: TicketId,
    from: Option<uuid::Uuid>,
    to: StatusId,
    by: Option<UserId>,
    at: DateTime<Utc>,
) -> status_change::ActiveModel {
    status_change::ActiveModel {
        id: Set(StatusChangeId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(ticket.as_uuid()),
        from_status_id: Set(from),
        to_status_id: Set(to.as_uuid()),
        changed_by: Set(by.map(|u| u.as_uuid())),
        created_at: Set(at),
    }
}

pub async fn status_history(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<StatusChange>, StoreError> {
    Ok(status_change::Entity::find()
        .in_shop(shop)
        .filter(status_change::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(status_change::Column::Id)
        .limit(500)
        .all(db)
        .await?)
}

pub struct NewComment<'a> {
    pub ticket: TicketId,
    pub source: &'a str,
    pub external_id: Option<&'a str>,
    pub author_user_id: Option<UserId>,
    pub author_name: &'a str,
    pub body: &'a str,
}

pub async fn add_comment(
    db: &impl ConnectionTrait,
    shop: ShopId,
    c: NewComment<'_>,
) -> Result<Comment, StoreError> {
    Ok(ticket_comment::ActiveModel {
        id: Set(CommentId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(c.ticket.as_uuid()),
        source: Set(c.source.to_owned()),
        external_id: Set(c.external_id.map(str::to_owned)),
        author_user_id: Set(c.author_user_id.map(|u| u.as_uuid())),
        author_name: Set(c.author_name.to_owned()),
        body: Set(c.body.to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

pub async fn comment_by_external_id(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    external_id: &str,
) -> Result<Option<Comment>, StoreError> {
    Ok(ticket_comment::Entity::find()
        .in_shop(shop)
        .filter(ticket_comment::Column::TicketId.eq(ticket.as_uuid()))
        .filter(ticket_comment::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

pub async fn comments(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    page: PageRequest,
) -> Result<Page<Comment>, StoreError> {
    let mut q = ticket_comment::Entity::find()
        .in_shop(shop)
        .filter(ticket_comment::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(ticket_comment::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(ticket_comment::Column::Id.gt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |c| c.id))
}

pub async fn notify_pos(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    kind: &str,
    data: serde_json::Value,
) -> Result<Notification, StoreError> {
    Ok(pos_notification::ActiveModel {
        id: Set(NotificationId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(ticket.as_uuid()),
        kind: Set(kind.to_owned()),
        data: Set(data.to_string()),
        created_at: Set(now()),
        processed_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// Unprocessed notifications, oldest first; with `include_processed`, the
/// processed ones follow once every unprocessed one has been read. The
/// cursor is `u:<id>` or `p:<id>` so that paging crosses from one to the
/// other.
pub async fn notifications(
    db: &impl ConnectionTrait,
    shop: ShopId,
    processed: bool,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<Notification>, StoreError> {
    let mut q = pos_notification::Entity::find()
        .in_shop(shop)
        .order_by_asc(pos_notification::Column::Id);
    q = if processed {
        q.filter(pos_notification::Column::ProcessedAt.is_not_null())
    } else {
        q.filter(pos_notification::Column::ProcessedAt.is_null())
    };
    if let Some(after) = after {
        q = q.filter(pos_notification::Column::Id.gt(after));
    }
    Ok(q.limit(limit).all(db).await?)
}

pub async fn notification(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: NotificationId,
) -> Result<Option<Notification>, StoreError> {
    Ok(pos_notification::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// Marks it processed; false when it already was (so the side effect of
/// processing happens once).
pub async fn mark_processed(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: NotificationId,
) -> Result<bool, StoreError> {
    let res = pos_notification::Entity::update_many()
        .col_expr(
            pos_notification::Column::ProcessedAt,
            Expr::value(Some(now())),
        )
        .in_shop(shop)
        .filter(pos_notification::Column::Id.eq(id.as_uuid()))
        .filter(pos_notification::Column::ProcessedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn count_unprocessed(db: &impl ConnectionTrait, shop: ShopId) -> Result<u64, StoreError> {
    Ok(pos_notification::Entity::find()
        .in_shop(shop)
        .filter(pos_notification::Column::ProcessedAt.is_null())
        .count(db)
        .await?)
}

pub struct NewSyncEvent<'a> {
    pub operation: &'a str,
    pub external_id: Option<&'a str>,
    /// `created`, `updated`, `unchanged`, `stale` or `rejected`.
    pub outcome: &'a str,
    pub errors: Option<serde_json::Value>,
    /// Kept for rejected pushes only, so support can see what was sent.
    pub payload: Option<String>,
}

pub async fn record_sync(
    db: &impl ConnectionTrait,
    shop: ShopId,
    e: NewSyncEvent<'_>,
) -> Result<(), StoreError> {
    sync_event_row(shop, e).insert(db).await?;
    Ok(())
}

/// The row of one sync-log entry, for a [`crate::batch::Batch`].
pub fn sync_event_row(shop: ShopId, e: NewSyncEvent<'_>) -> pos_sync_event::ActiveModel {
    pos_sync_event::ActiveModel {
        id: Set(SyncEventId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        operation: Set(e.operation.to_owned()),
        external_id: Set(e.external_id.map(|s| s.chars().take(100).collect())),
        outcome: Set(e.outcome.to_owned()),
        errors: Set(e.errors.map(|v| v.to_string())),
        payload: Set(e.payload),
        created_at: Set(now()),
    }
}

/// Newest first.
pub async fn sync_events(
    db: &impl ConnectionTrait,
    shop: ShopId,
    outcome: Option<&str>,
    limit: u64,
) -> Result<Vec<SyncEvent>, StoreError> {
    let mut q = pos_sync_event::Entity::find()
        .in_shop(shop)
        .order_by_desc(pos_sync_event::Column::Id);
    if let Some(o) = outcome {
        q = q.filter(pos_sync_event::Column::Outcome.eq(o));
    }
    Ok(q.limit(limit).all(db).await?)
}

pub async fn count_sync_since(
    db: &impl ConnectionTrait,
    shop: ShopId,
    outcome: &str,
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(pos_sync_event::Entity::find()
        .in_shop(shop)
        .filter(pos_sync_event::Column::Outcome.eq(outcome))
        .filter(pos_sync_event::Column::CreatedAt.gte(since))
        .count(db)
        .await?)
}
