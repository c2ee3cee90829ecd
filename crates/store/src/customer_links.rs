//! Customer links (capability URLs to one ticket; only the token's hash is
//! kept) and the customer's presence on them.

use chrono::{DateTime, Utc};
use pitwall_domain::{LinkId, ShopId, TicketId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::InShop;
use crate::StoreError;
use crate::entities::customer_link;

pub use customer_link::Model as CustomerLink;

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    token_hash: &str,
    created_by: Option<UserId>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<CustomerLink, StoreError> {
    Ok(customer_link::ActiveModel {
        id: Set(LinkId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        ticket_id: Set(ticket.as_uuid()),
        token_hash: Set(token_hash.to_owned()),
        created_by: Set(created_by.map(|u| u.as_uuid())),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_by: Set(None),
        first_opened_at: Set(None),
        last_opened_at: Set(None),
        open_count: Set(0),
        last_seen_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// The link a token names. Not shop-scoped: the token is the credential
/// and the row says whose shop it belongs to.
pub async fn by_token_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<CustomerLink>, StoreError> {
    Ok(customer_link::Entity::find()
        .filter(customer_link::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: LinkId,
) -> Result<Option<CustomerLink>, StoreError> {
    Ok(customer_link::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// A ticket's links, newest first.
pub async fn of_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<CustomerLink>, StoreError> {
    Ok(customer_link::Entity::find()
        .in_shop(shop)
        .filter(customer_link::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_desc(customer_link::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a link that is not revoked yet; whether it did.
pub async fn revoke(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: LinkId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = customer_link::Entity::update_many()
        .col_expr(customer_link::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(
            customer_link::Column::RevokedBy,
            Expr::value(Some(by.as_uuid())),
        )
        .col_expr(
            customer_link::Column::LastSeenAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .in_shop(shop)
        .filter(customer_link::Column::Id.eq(id.as_uuid()))
        .filter(customer_link::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected > 0)
}

/// Revokes every live link of a ticket (a re-issue replaces them).
pub async fn revoke_all_of_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let r = customer_link::Entity::update_many()
        .col_expr(customer_link::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(
            customer_link::Column::RevokedBy,
            Expr::value(Some(by.as_uuid())),
        )
        .in_shop(shop)
        .filter(customer_link::Column::TicketId.eq(ticket.as_uuid()))
        .filter(customer_link::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

/// The page was opened. A new visit (first ever, or after `visit_gap`
/// without an open) is counted; whether this was one.
pub async fn record_open(
    db: &impl ConnectionTrait,
    link: &CustomerLink,
    now: DateTime<Utc>,
    visit_gap: chrono::Duration,
) -> Result<bool, StoreError> {
    let new_visit = link.last_opened_at.is_none_or(|t| now - t >= visit_gap);
    let mut q = customer_link::Entity::update_many()
        .col_expr(customer_link::Column::LastOpenedAt, Expr::value(Some(now)))
        .col_expr(customer_link::Column::LastSeenAt, Expr::value(Some(now)));
    if new_visit {
        q = q.col_expr(
            customer_link::Column::OpenCount,
            Expr::col(customer_link::Column::OpenCount).add(1),
        );
    }
    if link.first_opened_at.is_none() {
        q = q.col_expr(customer_link::Column::FirstOpenedAt, Expr::value(Some(now)));
    }
    q.filter(customer_link::Column::ShopId.eq(link.shop_id))
        .filter(customer_link::Column::Id.eq(link.id))
        .exec(db)
        .await?;
    Ok(new_visit)
}

/// The page is still open (`Some(now)`) or was closed (`None`).
pub async fn set_seen(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: LinkId,
    at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    customer_link::Entity::update_many()
        .col_expr(customer_link::Column::LastSeenAt, Expr::value(at))
        .in_shop(shop)
        .filter(customer_link::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Of `tickets`, those whose customer page was seen open since `since`,
/// with the latest beat.
pub async fn viewing(
    db: &impl ConnectionTrait,
    shop: ShopId,
    tickets: &[uuid::Uuid],
    since: DateTime<Utc>,
) -> Result<Vec<(uuid::Uuid, DateTime<Utc>)>, StoreError> {
    if tickets.is_empty() {
        return Ok(vec![]);
    }
    let rows = customer_link::Entity::find()
        .in_shop(shop)
        .filter(customer_link::Column::TicketId.is_in(tickets.iter().copied()))
        .filter(customer_link::Column::LastSeenAt.gte(since))
        .filter(customer_link::Column::RevokedAt.is_null())
        .all(db)
        .await?;
    let mut out: Vec<(uuid::Uuid, DateTime<Utc>)> = Vec::new();
    for r in rows {
        let Some(seen) = r.last_seen_at else { continue };
        match out.iter_mut().find(|(t, _)| *t == r.ticket_id) {
            Some(entry) if entry.1 < seen => entry.1 = seen,
            Some(_) => {}
            None => out.push((r.ticket_id, seen)),
        }
    }
    Ok(out)
}
