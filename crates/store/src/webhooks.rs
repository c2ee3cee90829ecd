//! The shop's outgoing webhooks and the log of every delivery.

use chrono::{DateTime, Utc};
use pitwall_domain::{ShopId, UserId, WebhookDeliveryId, WebhookId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::{shop_webhook, webhook_delivery};
use crate::{InShop, StoreError, now};

pub use shop_webhook::Model as Webhook;
pub use webhook_delivery::Model as Delivery;

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    url: &str,
    secret: &str,
    by: UserId,
) -> Result<Webhook, StoreError> {
    Ok(shop_webhook::ActiveModel {
        id: Set(WebhookId::new().as_uuid()),
        shop_id: Set(shop.as_uuid()),
        url: Set(url.to_owned()),
        secret: Set(secret.to_owned()),
        active: Set(true),
        created_by: Set(Some(by.as_uuid())),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

pub async fn list(db: &impl ConnectionTrait, shop: ShopId) -> Result<Vec<Webhook>, StoreError> {
    Ok(shop_webhook::Entity::find()
        .in_shop(shop)
        .order_by_asc(shop_webhook::Column::Id)
        .all(db)
        .await?)
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: WebhookId,
) -> Result<Option<Webhook>, StoreError> {
    Ok(shop_webhook::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// Removes a webhook and its delivery log; whether it existed.
pub async fn delete(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: WebhookId,
) -> Result<bool, StoreError> {
    let r = shop_webhook::Entity::delete_many()
        .in_shop(shop)
        .filter(shop_webhook::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(r.rows_affected > 0)
}

/// A delivery of `payload` to each active webhook of the shop (or only
/// `only`), pending.
pub async fn insert_deliveries(
    db: &impl ConnectionTrait,
    shop: ShopId,
    only: Option<WebhookId>,
    event: &str,
    payload: &serde_json::Value,
) -> Result<Vec<Delivery>, StoreError> {
    let mut q = shop_webhook::Entity::find()
        .in_shop(shop)
        .filter(shop_webhook::Column::Active.eq(true));
    if let Some(id) = only {
        q = q.filter(shop_webhook::Column::Id.eq(id.as_uuid()));
    }
    let hooks = q.all(db).await?;
    let mut out = Vec::with_capacity(hooks.len());
    for h in hooks {
        let id = WebhookDeliveryId::new();
        // The payload names its own delivery id so receivers can drop a
        // delivery they already handled.
        let mut body = payload.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("id".into(), serde_json::json!(id));
        }
        out.push(
            webhook_delivery::ActiveModel {
                id: Set(id.as_uuid()),
                shop_id: Set(shop.as_uuid()),
                webhook_id: Set(h.id),
                event: Set(event.to_owned()),
                payload: Set(body.to_string()),
                status: Set("pending".into()),
                attempts: Set(0),
                response_status: Set(None),
                last_error: Set(None),
                created_at: Set(now()),
                delivered_at: Set(None),
            }
            .insert(db)
            .await?,
        );
    }
    Ok(out)
}

pub async fn delivery(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: WebhookDeliveryId,
) -> Result<Option<(Delivery, Webhook)>, StoreError> {
    let Some(d) = webhook_delivery::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let hook = get(db, shop, WebhookId::from_uuid(d.webhook_id)).await?;
    Ok(hook.map(|h| (d, h)))
}

/// Records one attempt: its HTTP status (if any answer came), the error,
/// and the state it leaves the delivery in.
pub async fn record_attempt(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: WebhookDeliveryId,
    status: &str,
    response_status: Option<i32>,
    error: Option<&str>,
    delivered_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::col(webhook_delivery::Column::Attempts).add(1),
        )
        .col_expr(
            webhook_delivery::Column::ResponseStatus,
            Expr::value(response_status),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(error.map(str::to_owned)),
        )
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value(delivered_at),
        )
        .in_shop(shop)
        .filter(webhook_delivery::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// The latest deliveries of a webhook, newest first.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    shop: ShopId,
    webhook: WebhookId,
    limit: u64,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(webhook_delivery::Entity::find()
        .in_shop(shop)
        .filter(webhook_delivery::Column::WebhookId.eq(webhook.as_uuid()))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
