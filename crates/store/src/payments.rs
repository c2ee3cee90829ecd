//! Online payments of invoices: the shop's connected Stripe account, the
//! Checkout sessions made for invoices, the payments received (one per
//! shop and payment intent: the unique index is what makes a repeated
//! event a no-op), and the Connect events as received.

use chrono::{DateTime, Utc};
use pitwall_domain::{InvoiceId, ShopId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entities::{connect_event, payment, payment_account, payment_session};
use crate::{InShop, StoreError, now};

pub use connect_event::Model as ConnectEvent;
pub use payment::Model as Payment;
pub use payment_account::Model as PaymentAccount;
pub use payment_session::Model as PaymentSession;

pub async fn account(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Option<PaymentAccount>, StoreError> {
    Ok(payment_account::Entity::find()
        .in_shop(shop)
        .one(db)
        .await?)
}

/// Stores the shop's account, or its new state. The account id never
/// changes once stored: a second one for the shop is refused by the key.
pub async fn save_account(
    db: &impl ConnectionTrait,
    shop: ShopId,
    stripe_account_id: &str,
    charges_enabled: bool,
    details_submitted: bool,
) -> Result<(), StoreError> {
    use payment_account::Column as C;
    let at = now();
    payment_account::Entity::insert(payment_account::ActiveModel {
        shop_id: Set(shop.as_uuid()),
        stripe_account_id: Set(stripe_account_id.to_owned()),
        charges_enabled: Set(charges_enabled),
        details_submitted: Set(details_submitted),
        created_at: Set(at),
        updated_at: Set(at),
    })
    .on_conflict(
        OnConflict::column(C::ShopId)
            .update_columns([C::ChargesEnabled, C::DetailsSubmitted, C::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The shop a connected account belongs to (a lookup by the account Stripe
/// names, so it cannot take a shop; it answers the shop the row names).
pub async fn account_by_stripe_id(
    db: &impl ConnectionTrait,
    stripe_account_id: &str,
) -> Result<Option<PaymentAccount>, StoreError> {
    Ok(payment_account::Entity::find()
        .filter(payment_account::Column::StripeAccountId.eq(stripe_account_id))
        .one(db)
        .await?)
}

/// An open session for the invoice at this amount that still has time
/// left, to send the customer back to instead of making another.
pub async fn open_session(
    db: &impl ConnectionTrait,
    shop: ShopId,
    invoice: InvoiceId,
    amount: i64,
    usable_until: DateTime<Utc>,
) -> Result<Option<PaymentSession>, StoreError> {
    use payment_session::Column as C;
    Ok(payment_session::Entity::find()
        .in_shop(shop)
        .filter(C::InvoiceId.eq(invoice.as_uuid()))
        .filter(C::Status.eq("open"))
        .filter(C::Amount.eq(amount))
        .filter(C::ExpiresAt.gt(usable_until))
        .order_by_desc(C::CreatedAt)
        .one(db)
        .await?)
}

/// Every session of the invoice still open (to expire the ones for an
/// amount no longer due).
pub async fn open_sessions(
    db: &impl ConnectionTrait,
    shop: ShopId,
    invoice: InvoiceId,
) -> Result<Vec<PaymentSession>, StoreError> {
    use payment_session::Column as C;
    Ok(payment_session::Entity::find()
        .in_shop(shop)
        .filter(C::InvoiceId.eq(invoice.as_uuid()))
        .filter(C::Status.eq("open"))
        .all(db)
        .await?)
}

pub async fn count_sessions(
    db: &impl ConnectionTrait,
    shop: ShopId,
    invoice: InvoiceId,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(payment_session::Entity::find()
        .in_shop(shop)
        .filter(payment_session::Column::InvoiceId.eq(invoice.as_uuid()))
        .count(db)
        .await?)
}

/// Stores a session; `false` when it is already stored (two requests that
/// got the same session from Stripe through its idempotency key).
pub async fn insert_session(
    db: &impl ConnectionTrait,
    shop: ShopId,
    row: PaymentSession,
) -> Result<bool, StoreError> {
    debug_assert_eq!(row.shop_id, shop.as_uuid());
    let res = payment_session::Entity::insert(payment_session::ActiveModel::from(row))
        .on_conflict_do_nothing_on([
            payment_session::Column::ShopId,
            payment_session::Column::StripeSessionId,
        ])
        .exec(db)
        .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(_)))
}

/// A session by Stripe's id (a lookup by what Stripe names; the row says
/// which shop and invoice it belongs to).
pub async fn session_by_stripe_id(
    db: &impl ConnectionTrait,
    stripe_session_id: &str,
) -> Result<Option<PaymentSession>, StoreError> {
    Ok(payment_session::Entity::find()
        .filter(payment_session::Column::StripeSessionId.eq(stripe_session_id))
        .one(db)
        .await?)
}

pub async fn set_session_status(
    db: &impl ConnectionTrait,
    shop: ShopId,
    stripe_session_id: &str,
    status: &str,
) -> Result<(), StoreError> {
    payment_session::Entity::update_many()
        .col_expr(payment_session::Column::Status, Expr::value(status))
        .in_shop(shop)
        .filter(payment_session::Column::StripeSessionId.eq(stripe_session_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a payment; `false` (nothing written) when this shop already has
/// the payment intent.
pub async fn insert_payment(
    db: &impl ConnectionTrait,
    shop: ShopId,
    row: Payment,
) -> Result<bool, StoreError> {
    debug_assert_eq!(row.shop_id, shop.as_uuid());
    let res = payment::Entity::insert(payment::ActiveModel::from(row))
        .on_conflict_do_nothing_on([payment::Column::ShopId, payment::Column::PaymentIntentId])
        .exec(db)
        .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(_)))
}

pub async fn payments_of_invoice(
    db: &impl ConnectionTrait,
    shop: ShopId,
    invoice: InvoiceId,
) -> Result<Vec<Payment>, StoreError> {
    Ok(payment::Entity::find()
        .in_shop(shop)
        .filter(payment::Column::InvoiceId.eq(invoice.as_uuid()))
        .order_by_asc(payment::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The payments of several invoices of one shop (a list page), in one
/// query.
pub async fn payments_of_invoices(
    db: &impl ConnectionTrait,
    shop: ShopId,
    invoices: &[uuid::Uuid],
) -> Result<Vec<Payment>, StoreError> {
    if invoices.is_empty() {
        return Ok(Vec::new());
    }
    Ok(payment::Entity::find()
        .in_shop(shop)
        .filter(payment::Column::InvoiceId.is_in(invoices.iter().copied()))
        .order_by_asc(payment::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The payment Stripe knows by this payment intent (a refund names the
/// intent, not the shop; the row names the shop, and the caller checks the
/// account the event came from against it).
pub async fn payment_by_intent(
    db: &impl ConnectionTrait,
    payment_intent_id: &str,
) -> Result<Option<Payment>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::PaymentIntentId.eq(payment_intent_id))
        .one(db)
        .await?)
}

/// Records how much of a payment is refunded, as Stripe now says: only
/// ever upwards (an older event read late changes nothing). `true` when it
/// changed.
pub async fn set_refunded(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: uuid::Uuid,
    refunded: i64,
) -> Result<bool, StoreError> {
    use payment::Column as C;
    let res = payment::Entity::update_many()
        .in_shop(shop)
        .filter(C::Id.eq(id))
        .filter(C::Refunded.lt(refunded))
        .col_expr(C::Refunded, Expr::value(refunded))
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Stores a Connect event once by id; `false` when it was seen before.
pub async fn insert_event(
    db: &impl ConnectionTrait,
    id: &str,
    event_type: &str,
    account: Option<&str>,
    payload: &str,
    outcome: &str,
) -> Result<bool, StoreError> {
    let res = connect_event::Entity::insert(connect_event::ActiveModel {
        id: Set(id.to_owned()),
        event_type: Set(event_type.to_owned()),
        account_id: Set(account.map(str::to_owned)),
        payload: Set(payload.to_owned()),
        outcome: Set(outcome.to_owned()),
        note: Set(None),
        attempts: Set(0),
        received_at: Set(now()),
        processed_at: Set(None),
    })
    .on_conflict_do_nothing()
    .exec(db)
    .await?;
    Ok(matches!(res, sea_orm::TryInsertResult::Inserted(_)))
}

pub async fn event(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ConnectEvent>, StoreError> {
    Ok(connect_event::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

pub async fn count_event_attempt(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    connect_event::Entity::update_many()
        .col_expr(
            connect_event::Column::Attempts,
            Expr::col(connect_event::Column::Attempts).add(1),
        )
        .filter(connect_event::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// How processing ended: `applied`, `refused` or `ignored`.
pub async fn finish_event(
    db: &impl ConnectionTrait,
    id: &str,
    outcome: &str,
    note: Option<&str>,
) -> Result<(), StoreError> {
    connect_event::Entity::update_many()
        .col_expr(connect_event::Column::Outcome, Expr::value(outcome))
        .col_expr(
            connect_event::Column::Note,
            Expr::value(note.map(|n| n.chars().take(500).collect::<String>())),
        )
        .col_expr(connect_event::Column::ProcessedAt, Expr::value(Some(now())))
        .filter(connect_event::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
