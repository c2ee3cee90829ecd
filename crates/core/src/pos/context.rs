use pitwall_domain::{Feature, ShopId};
use pitwall_store::{api_keys, shops};

use crate::{App, Error, Result};

/// Most tickets one batch request may carry.
pub const MAX_BATCH: usize = 100;

/// A POS key's shop, with POS sync in its plan.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PosCtx {
    pub shop: shops::Shop,
    pub key: api_keys::ApiKey,
    /// What the shop may do now (billing's past-due grace and trial end
    /// applied, as for staff).
    pub lifecycle: pitwall_domain::ShopLifecycle,
}

impl PosCtx {
    pub fn shop_id(&self) -> ShopId {
        ShopId::from_uuid(self.shop.id)
    }
}

/// Authenticates a POS key. A key of a shop whose plan lost POS sync stops
/// working; suspended shops may read but not push.
pub async fn authenticate(app: &App, secret: &str) -> Result<PosCtx> {
    let (key, shop) = crate::api_keys::authenticate(app, secret).await?;
    let features = crate::features::FeatureSet::load(&app.db, &shop).await?;
    features.require(Feature::PosSync)?;
    let lifecycle = crate::billing::effective_lifecycle(app, &shop).await?;
    Ok(PosCtx {
        shop,
        key,
        lifecycle,
    })
}

pub(crate) fn require_writable(pos: &PosCtx) -> Result<()> {
    if pos.lifecycle.allows_writes() {
        Ok(())
    } else {
        Err(Error::ShopRestricted(pos.lifecycle))
    }
}
