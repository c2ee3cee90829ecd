//! The shop's outgoing webhooks: register a URL (Pitwall signs every
//! delivery with the webhook's own secret, see `pitwall_jobs::webhooks`),
//! list deliveries with their failures, send a test event, remove.

use pitwall_domain::{Feature, Permission, WebhookId};
use pitwall_store::{audit, webhooks};
use serde_json::json;

use crate::tokens::new_token;
use crate::{App, Error, Result, ShopCtx};

/// The events a webhook receives.
pub const EVENTS: &[&str] = &[
    "work_approved",
    "work_declined",
    "inspection_published",
    "test",
];

/// At most this many webhooks per shop.
pub const MAX_PER_SHOP: usize = 5;

/// A webhook as its shop sees it, with its latest deliveries.
#[derive(Debug, Clone)]
pub struct WebhookView {
    pub webhook: webhooks::Webhook,
    pub deliveries: Vec<webhooks::Delivery>,
}

fn check_url(raw: &str, allow_private: bool) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid("url", "is required"));
    }
    if raw.len() > 2_000 {
        return Err(Error::invalid("url", "must be at most 2000 characters"));
    }
    let url =
        url::Url::parse(raw).map_err(|e| Error::invalid("url", format!("is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(Error::invalid("url", "must start with https://")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("url", "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            "url",
            "must not carry a user name or password; check the signature instead",
        ));
    }
    if !allow_private && let Some(host) = url.host() {
        let private = match host {
            url::Host::Ipv4(ip) => pitwall_jobs::webhooks::is_private(ip.into()),
            url::Host::Ipv6(ip) => pitwall_jobs::webhooks::is_private(ip.into()),
            url::Host::Domain(d) => {
                d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
            }
        };
        if private {
            return Err(Error::invalid("url", "must be a public address"));
        }
    }
    Ok(url.to_string())
}

/// Registers a webhook; its signing secret is in the answer (and on the
/// webhook page for the shop's administrators).
pub async fn create(app: &App, ctx: &ShopCtx, url: &str) -> Result<webhooks::Webhook> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_feature(Feature::Webhooks)?;
    ctx.require_writable()?;
    let url = check_url(url, app.config.webhooks_allow_private)?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if webhooks::list(&txn, shop).await?.len() >= MAX_PER_SHOP {
        return Err(Error::Conflict {
            field: "url".into(),
            message: format!("cannot be added: a shop has at most {MAX_PER_SHOP} webhooks"),
        });
    }
    let secret = new_token("whsec_");
    let hook = webhooks::insert(&txn, shop, &url, &secret, ctx.user_id).await?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(ctx.user_id),
            action: "webhook.create",
            target: Some(hook.id.to_string()),
            details: json!({ "url": url }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(hook)
}

pub async fn list(app: &App, ctx: &ShopCtx) -> Result<Vec<WebhookView>> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_feature(Feature::Webhooks)?;
    let shop = ctx.shop_id();
    let mut out = Vec::new();
    for w in webhooks::list(&app.db, shop).await? {
        let deliveries =
            webhooks::deliveries(&app.db, shop, WebhookId::from_uuid(w.id), 20).await?;
        out.push(WebhookView {
            webhook: w,
            deliveries,
        });
    }
    Ok(out)
}

pub async fn delete(app: &App, ctx: &ShopCtx, id: WebhookId) -> Result<()> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_feature(Feature::Webhooks)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if !webhooks::delete(&txn, shop, id).await? {
        return Err(Error::NotFound("webhook"));
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(ctx.user_id),
            action: "webhook.delete",
            target: Some(id.to_string()),
            details: json!({}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sends a `test` event to this one webhook.
pub async fn send_test(app: &App, ctx: &ShopCtx, id: WebhookId) -> Result<()> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_feature(Feature::Webhooks)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    webhooks::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("webhook"))?;
    pitwall_jobs::webhooks::enqueue_to(
        &txn,
        shop,
        id,
        "test",
        json!({
            "event": "test",
            "created_at": chrono::Utc::now(),
            "shop_id": shop,
            "data": { "message": "A test delivery from Pitwall", "webhook_id": id },
        }),
    )
    .await?;
    txn.commit().await?;
    app.jobs.nudge();
    Ok(())
}
