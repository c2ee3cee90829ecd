use chrono::{DateTime, Utc};
use pitwall_domain::{Permission, Quota, ShopId};
use pitwall_store::messages::{self};

use crate::outreach::{self};
use crate::{App, Result, ShopCtx};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    pub period_start: DateTime<Utc>,
    pub sms_segments: i64,
    pub sms_quota: Option<i64>,
}

/// A shop's SMS usage for platform support (the admin console).
pub async fn usage_for_support(
    app: &App,
    actor: &crate::Actor,
    shop: ShopId,
    quota: Option<i64>,
) -> Result<Usage> {
    actor.require_platform()?;
    usage_of(app, shop, quota).await
}

pub(super) async fn usage_of(app: &App, shop: ShopId, quota: Option<i64>) -> Result<Usage> {
    let start = outreach::month_start(Utc::now());
    Ok(Usage {
        period_start: start,
        sms_segments: messages::sms_segments_in(&app.db, shop, &outreach::usage_month(start))
            .await?,
        sms_quota: quota,
    })
}

pub async fn usage(app: &App, ctx: &ShopCtx) -> Result<Usage> {
    app.require(ctx, Permission::TicketsView).await?;
    usage_of(app, ctx.shop_id(), ctx.quota(Quota::SmsPerMonth)).await
}
