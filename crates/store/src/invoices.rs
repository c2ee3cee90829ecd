//! Invoice cases. A case is written once with its frozen positions and
//! hash; afterwards only its status (moved from the status the caller read,
//! so two people acting at once cannot both win) and the moments it moved
//! change.

use chrono::{DateTime, Utc};
use pitwall_domain::invoices::InvoiceStatus;
use pitwall_domain::{InvoiceId, ShopId, TicketId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{invoice, invoice_setting};
use crate::{InShop, Page, PageRequest, StoreError};

pub use invoice::Model as Invoice;

/// The shop's next invoice sequence number. Two writers that read the same
/// number collide on the unique `(shop_id, seq)` index; the caller retries.
pub async fn next_seq(db: &impl ConnectionTrait, shop: ShopId) -> Result<i32, StoreError> {
    let last: Option<Option<i32>> = invoice::Entity::find()
        .in_shop(shop)
        .select_only()
        .column_as(invoice::Column::Seq.max(), "last")
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0) + 1)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    row: Invoice,
) -> Result<Invoice, StoreError> {
    debug_assert_eq!(row.shop_id, shop.as_uuid());
    invoice::Entity::insert(invoice::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceId,
) -> Result<Option<Invoice>, StoreError> {
    Ok(invoice::Entity::find()
        .in_shop(shop)
        .filter(invoice::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await?)
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub ticket: Option<TicketId>,
}

/// Newest first (ids are time-ordered).
pub async fn list(
    db: &impl ConnectionTrait,
    shop: ShopId,
    f: &InvoiceFilter,
    page: PageRequest,
) -> Result<Page<Invoice>, StoreError> {
    let mut q = invoice::Entity::find().in_shop(shop);
    if let Some(s) = f.status {
        q = q.filter(invoice::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = f.ticket {
        q = q.filter(invoice::Column::TicketId.eq(t.as_uuid()));
    }
    if let Some(after) = page.after {
        q = q.filter(invoice::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(invoice::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    Ok(page.finish(rows, |r| r.id))
}

/// A move of a case's status and what comes with it.
pub struct InvoiceMove<'a> {
    pub from: InvoiceStatus,
    pub to: InvoiceStatus,
    pub at: DateTime<Utc>,
    pub cancel_reason: Option<&'a str>,
}

/// Moves the case from `m.from` to `m.to`, stamping the moment the new
/// status stands for. `None` (nothing written) when the case is no longer
/// in `m.from`.
pub async fn move_status(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceId,
    m: InvoiceMove<'_>,
) -> Result<Option<Invoice>, StoreError> {
    use InvoiceStatus as S;
    use invoice::Column as C;
    let mut update = invoice::Entity::update_many()
        .col_expr(C::Status, Expr::value(m.to.as_str()))
        .col_expr(C::UpdatedAt, Expr::value(m.at))
        .col_expr(C::Version, Expr::col(C::Version).add(1));
    let stamp = match m.to {
        S::Draft => None,
        S::Sent => Some(C::SentAt),
        S::Paid => Some(C::PaidAt),
        S::Delivered => Some(C::DeliveredAt),
        S::Booked | S::PaidPos | S::Canceled => Some(C::ClosedAt),
    };
    if let Some(c) = stamp {
        update = update.col_expr(c, Expr::value(Some(m.at)));
    }
    if m.to == S::Booked {
        update = update.col_expr(C::BookedAt, Expr::value(Some(m.at)));
    }
    if m.to == S::PaidPos {
        update = update.col_expr(C::PaidAt, Expr::value(Some(m.at)));
    }
    if let Some(reason) = m.cancel_reason {
        update = update.col_expr(C::CancelReason, Expr::value(reason));
    }
    let moved = update
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .filter(C::Status.eq(m.from.as_str()))
        .exec(db)
        .await?;
    if moved.rows_affected == 0 {
        return Ok(None);
    }
    get(db, shop, id).await
}

/// Hours after sending when the shop's unpaid invoices remind the customer.
pub async fn reminder_hours(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Option<i32>, StoreError> {
    Ok(invoice_setting::Entity::find()
        .in_shop(shop)
        .one(db)
        .await?
        .and_then(|s| s.reminder_hours))
}

pub async fn save_reminder_hours(
    db: &impl ConnectionTrait,
    shop: ShopId,
    hours: Option<i32>,
) -> Result<(), StoreError> {
    use invoice_setting::Column as C;
    invoice_setting::Entity::insert(invoice_setting::ActiveModel {
        shop_id: sea_orm::Set(shop.as_uuid()),
        reminder_hours: sea_orm::Set(hours),
        updated_at: sea_orm::Set(crate::now()),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(C::ShopId)
            .update_columns([C::ReminderHours, C::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Shops whose unpaid invoices remind customers, with their delay.
pub async fn reminder_shops(db: &impl ConnectionTrait) -> Result<Vec<(ShopId, i32)>, StoreError> {
    Ok(invoice_setting::Entity::find()
        .filter(invoice_setting::Column::ReminderHours.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|s| s.reminder_hours.map(|h| (ShopId::from_uuid(s.shop_id), h)))
        .collect())
}

/// The shop's cases sent before `before`, still unpaid and not yet
/// reminded (at most 100, oldest first).
pub async fn awaiting_reminder(
    db: &impl ConnectionTrait,
    shop: ShopId,
    before: DateTime<Utc>,
) -> Result<Vec<Invoice>, StoreError> {
    use invoice::Column as C;
    Ok(invoice::Entity::find()
        .in_shop(shop)
        .filter(C::Status.eq(InvoiceStatus::Sent.as_str()))
        .filter(C::TicketId.is_not_null())
        .filter(C::SentAt.lte(before))
        .filter(C::RemindedAt.is_null())
        .order_by_asc(C::SentAt)
        .limit(100)
        .all(db)
        .await?)
}

/// Claims the case's one reminder; `false` when another worker did.
pub async fn claim_reminder(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use invoice::Column as C;
    let r = invoice::Entity::update_many()
        .col_expr(C::RemindedAt, Expr::value(Some(at)))
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .filter(C::Status.eq(InvoiceStatus::Sent.as_str()))
        .filter(C::RemindedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Records who signed for the vehicle (in the transaction of the move that
/// hands it over).
pub async fn record_pickup(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceId,
    signer: &str,
    signature: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use invoice::Column as C;
    invoice::Entity::update_many()
        .col_expr(C::PickedUpBy, Expr::value(signer))
        .col_expr(C::PickupSignature, Expr::value(signature))
        .col_expr(C::PickedUpAt, Expr::value(Some(at)))
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}
