//! POS API keys: per shop, named, shown once, stored hashed, revocable.

use pitwall_domain::{ApiKeyId, Feature, Permission, ShopId};
use pitwall_store::{Page, PageRequest, api_keys, audit, shops};
use serde_json::json;

use crate::tokens::{hash_token, new_token};
use crate::{App, Error, Result, ShopCtx};

/// The only scope so far: the POS sync API.
pub const SCOPE_POS: &str = "pos";

pub struct CreatedKey {
    pub key: api_keys::ApiKey,
    /// The secret, shown once.
    pub secret: String,
}

pub async fn create(app: &App, ctx: &ShopCtx, name: &str) -> Result<CreatedKey> {
    app.require(ctx, Permission::ApiKeysManage).await?;
    ctx.require_feature(Feature::PosSync)?;
    ctx.require_writable()?;
    create_for_shop(app, ctx.shop_id(), name, Some(ctx.user_id)).await
}

/// Also used by `pitwall admin create-api-key`.
pub async fn create_for_shop(
    app: &App,
    shop: ShopId,
    name: &str,
    by: Option<pitwall_domain::UserId>,
) -> Result<CreatedKey> {
    let name = pitwall_domain::values::required_text(name, 80).map_err(Error::field("name"))?;
    let secret = new_token("pk_");
    let prefix: String = secret.chars().take(10).collect();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let key = api_keys::insert(
        &txn,
        api_keys::NewApiKey {
            id: ApiKeyId::new(),
            shop,
            name: &name,
            prefix: &prefix,
            key_hash: hash_token(&secret),
            scopes: SCOPE_POS,
            created_by: by,
        },
    )
    .await?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: by,
            action: "api_key.create",
            target: Some(key.id.to_string()),
            details: json!({ "name": name }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedKey { key, secret })
}

pub async fn list(app: &App, ctx: &ShopCtx, page: PageRequest) -> Result<Page<api_keys::ApiKey>> {
    app.require(ctx, Permission::ApiKeysManage).await?;
    Ok(api_keys::list(&app.db, ctx.shop_id(), page).await?)
}

pub async fn revoke(app: &App, ctx: &ShopCtx, id: ApiKeyId) -> Result<api_keys::ApiKey> {
    app.require(ctx, Permission::ApiKeysManage).await?;
    let key = api_keys::revoke(&app.db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("API key"))?;
    audit::record(
        &app.db,
        audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action: "api_key.revoke",
            target: Some(id.to_string()),
            details: json!({}),
        },
    )
    .await?;
    Ok(key)
}

/// The shop a POS key belongs to. Keys authenticate the POS API and nothing
/// else; a key of a shop whose plan lost POS sync stops working.
pub async fn authenticate(app: &App, secret: &str) -> Result<(api_keys::ApiKey, shops::Shop)> {
    let key = api_keys::authenticate(&app.db, &hash_token(secret))
        .await?
        .ok_or(Error::Unauthenticated(
            "the API key is missing, wrong or revoked",
        ))?;
    let shop = shops::get(&app.db, ShopId::from_uuid(key.shop_id))
        .await?
        .ok_or(Error::Unauthenticated(
            "the API key is missing, wrong or revoked",
        ))?;
    Ok((key, shop))
}
