//! The transactional outbox and the e-mail record.
//!
//! A business change writes its job here in its own transaction; the relay in
//! `pitwall-jobs` moves committed rows to the job queue. So a job exists if and
//! only if the change that caused it committed.

use chrono::{DateTime, Utc};
use pitwall_domain::{EmailId, OutboxId, ShopId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

use crate::entities::{email, outbox};
use crate::{StoreError, now};

pub use email::Model as Email;
pub use outbox::Model as OutboxRow;

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: Option<ShopId>,
    queue: &str,
    payload: &serde_json::Value,
) -> Result<OutboxId, StoreError> {
    let id = OutboxId::new();
    outbox::ActiveModel {
        id: Set(id.as_uuid()),
        shop_id: Set(shop.map(|s| s.as_uuid())),
        queue: Set(queue.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(now()),
        pushed_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// The row of one job, for a [`crate::batch::Batch`].
pub fn row(
    shop: Option<ShopId>,
    queue: &str,
    payload: &serde_json::Value,
    at: DateTime<Utc>,
) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: Set(OutboxId::new().as_uuid()),
        shop_id: Set(shop.map(|s| s.as_uuid())),
        queue: Set(queue.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(at),
        pushed_at: Set(None),
    }
}

/// Several jobs in one statement.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    shop: Option<ShopId>,
    queue: &str,
    payloads: &[serde_json::Value],
) -> Result<(), StoreError> {
    if payloads.is_empty() {
        return Ok(());
    }
    let at = now();
    let rows: Vec<outbox::ActiveModel> = payloads.iter().map(|p| row(shop, queue, p, at)).collect();
    outbox::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn unpushed(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::PushedAt.is_null())
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

pub async fn mark_pushed(db: &impl ConnectionTrait, id: uuid::Uuid) -> Result<(), StoreError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::PushedAt, Expr::value(Some(now())))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn count_unpushed(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(outbox::Entity::find()
        .filter(outbox::Column::PushedAt.is_null())
        .count(db)
        .await?)
}

pub struct NewEmail<'a> {
    pub shop: Option<ShopId>,
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    /// The body carries a secret (an invitation or reset link): it is wiped
    /// once the mail has been handed to the mail server.
    pub secret_bearing: bool,
}

pub async fn insert_email(
    db: &impl ConnectionTrait,
    e: NewEmail<'_>,
) -> Result<EmailId, StoreError> {
    let id = EmailId::new();
    email::ActiveModel {
        id: Set(id.as_uuid()),
        shop_id: Set(e.shop.map(|s| s.as_uuid())),
        kind: Set(e.kind.to_owned()),
        to_address: Set(e.to.to_owned()),
        subject: Set(e.subject.to_owned()),
        body_text: Set(e.body_text.to_owned()),
        body_html: Set(e.body_html.map(str::to_owned)),
        secret_bearing: Set(e.secret_bearing),
        status: Set("queued".to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        created_at: Set(now()),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

pub async fn email(db: &impl ConnectionTrait, id: EmailId) -> Result<Option<Email>, StoreError> {
    Ok(email::Entity::find_by_id(id.as_uuid()).one(db).await?)
}

/// Claims an e-mail for one attempt: counts it and marks it sending.
pub async fn claim_email(db: &impl ConnectionTrait, id: EmailId) -> Result<(), StoreError> {
    email::Entity::update_many()
        .col_expr(email::Column::Status, Expr::value("sending"))
        .col_expr(
            email::Column::Attempts,
            Expr::col(email::Column::Attempts).add(1),
        )
        .filter(email::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_email_sent(
    db: &impl ConnectionTrait,
    id: EmailId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = email::Entity::find_by_id(id.as_uuid()).one(db).await?;
    let Some(row) = row else { return Ok(()) };
    let wipe = row.secret_bearing;
    let mut am: email::ActiveModel = row.into();
    am.status = Set("sent".to_owned());
    am.sent_at = Set(Some(at));
    am.last_error = Set(None);
    if wipe {
        am.body_text = Set("(removed after sending: it contained a one-time link)".to_owned());
        am.body_html = Set(None);
    }
    am.update(db).await?;
    Ok(())
}

pub async fn mark_email_failed(
    db: &impl ConnectionTrait,
    id: EmailId,
    error: &str,
    permanent: bool,
) -> Result<(), StoreError> {
    email::Entity::update_many()
        .col_expr(
            email::Column::Status,
            Expr::value(if permanent { "failed" } else { "retrying" }),
        )
        .col_expr(
            email::Column::LastError,
            Expr::value(Some(error.to_owned())),
        )
        .filter(email::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}
