use chrono::{DateTime, Duration, Utc};
use pitwall_domain::{Feature, ShopId};
use pitwall_store::{activity, api_keys, shops};

use crate::{App, Error, Result};

pub struct SyncHealth {
    pub last_push_at: Option<DateTime<Utc>>,
    pub last_accepted_at: Option<DateTime<Utc>>,
    /// Counts over the last 24 hours by outcome.
    pub accepted_24h: u64,
    pub stale_24h: u64,
    pub rejected_24h: u64,
    pub unprocessed_notifications: u64,
    /// The latest rejected pushes, with their errors and payloads.
    pub recent_rejections: Vec<activity::SyncEvent>,
    pub keys: Vec<api_keys::ApiKey>,
}

pub async fn sync_health_of(app: &App, shop: ShopId) -> Result<SyncHealth> {
    let since = Utc::now() - Duration::hours(24);
    let latest = activity::sync_events(&app.db, shop, None, 1).await?;
    let mut accepted = 0;
    let mut last_accepted_at = None;
    for outcome in ["created", "updated", "unchanged"] {
        accepted += activity::count_sync_since(&app.db, shop, outcome, since).await?;
        if let Some(e) = activity::sync_events(&app.db, shop, Some(outcome), 1)
            .await?
            .first()
        {
            last_accepted_at = last_accepted_at.max(Some(e.created_at));
        }
    }
    Ok(SyncHealth {
        last_push_at: latest.first().map(|e| e.created_at),
        last_accepted_at,
        accepted_24h: accepted,
        stale_24h: activity::count_sync_since(&app.db, shop, "stale", since).await?,
        rejected_24h: activity::count_sync_since(&app.db, shop, "rejected", since).await?,
        unprocessed_notifications: activity::count_unprocessed(&app.db, shop).await?,
        recent_rejections: activity::sync_events(&app.db, shop, Some("rejected"), 20).await?,
        keys: api_keys::list(&app.db, shop, pitwall_store::PageRequest::first(50))
            .await?
            .items,
    })
}

/// The shop's own view (owners and managers: those who manage API keys).
pub async fn sync_health(app: &App, ctx: &crate::ShopCtx) -> Result<SyncHealth> {
    app.require(ctx, pitwall_domain::Permission::ApiKeysManage)
        .await?;
    ctx.require_feature(Feature::SyncHealth)?;
    sync_health_of(app, ctx.shop_id()).await
}

/// Support's view of any shop.
pub async fn sync_health_for_support(
    app: &App,
    actor: &crate::Actor,
    shop: ShopId,
) -> Result<SyncHealth> {
    actor.require_platform()?;
    shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    sync_health_of(app, shop).await
}
