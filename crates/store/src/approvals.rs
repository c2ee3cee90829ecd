//! Approvals: written once, never updated (a trigger refuses it), read in
//! chain order.

use pitwall_domain::{ShopId, TicketId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::InShop;
use crate::StoreError;
use crate::entities::approval;

pub use approval::ActiveModel as NewApproval;
pub use approval::Model as Approval;

pub async fn insert(db: &impl ConnectionTrait, row: NewApproval) -> Result<Approval, StoreError> {
    Ok(row.insert(db).await?)
}

/// A ticket's approvals in chain order.
pub async fn of_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<Approval>, StoreError> {
    Ok(approval::Entity::find()
        .in_shop(shop)
        .filter(approval::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(approval::Column::Seq)
        .all(db)
        .await?)
}

/// The last approval of a ticket: the chain's head.
pub async fn last_of_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Option<Approval>, StoreError> {
    Ok(approval::Entity::find()
        .in_shop(shop)
        .filter(approval::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_desc(approval::Column::Seq)
        .one(db)
        .await?)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: uuid::Uuid,
) -> Result<Option<Approval>, StoreError> {
    Ok(approval::Entity::find_by_id(id)
        .in_shop(shop)
        .one(db)
        .await?)
}
