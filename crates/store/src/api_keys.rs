//! POS API keys: per shop, stored as a SHA-256 hash, shown once.

use pitwall_domain::{ApiKeyId, ShopId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Expr,
};

use crate::entities::api_key;
use crate::{InShop, Page, PageRequest, StoreError, now};

pub use api_key::Model as ApiKey;

pub struct NewApiKey<'a> {
    pub id: ApiKeyId,
    pub shop: ShopId,
    pub name: &'a str,
    /// The key's first characters, kept to recognise it in lists.
    pub prefix: &'a str,
    pub key_hash: String,
    pub scopes: &'a str,
    pub created_by: Option<UserId>,
}

pub async fn insert(db: &impl ConnectionTrait, k: NewApiKey<'_>) -> Result<ApiKey, StoreError> {
    Ok(api_key::ActiveModel {
        id: Set(k.id.as_uuid()),
        shop_id: Set(k.shop.as_uuid()),
        name: Set(k.name.to_owned()),
        prefix: Set(k.prefix.to_owned()),
        key_hash: Set(k.key_hash),
        scopes: Set(k.scopes.to_owned()),
        created_by: Set(k.created_by.map(|u| u.as_uuid())),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?)
}

pub async fn list(
    db: &impl ConnectionTrait,
    shop: ShopId,
    page: PageRequest,
) -> Result<Page<ApiKey>, StoreError> {
    let mut q = api_key::Entity::find()
        .in_shop(shop)
        .order_by_asc(api_key::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(api_key::Column::Id.gt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |k| k.id))
}

pub async fn revoke(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: ApiKeyId,
) -> Result<Option<ApiKey>, StoreError> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(Some(now())))
        .filter(api_key::Column::Id.eq(id.as_uuid()))
        .in_shop(shop)
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(api_key::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// A live key by hash; records its use. The key itself names its shop.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    key_hash: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let found = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(key_hash))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?;
    // Last use is recorded to the minute: a POS pushing all day must not
    // turn every request into a write.
    let stale = now() - chrono::Duration::seconds(60);
    if let Some(k) = &found
        && k.last_used_at.is_none_or(|t| t < stale)
    {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(now())))
            .filter(api_key::Column::Id.eq(k.id))
            .exec(db)
            .await?;
    }
    Ok(found)
}
