//! The shop's inspection settings: the vehicle status an inspection's
//! publication sets (for example "Inspection complete"), or none.

use pitwall_domain::{Permission, StatusId};
use pitwall_store::{inspections as store, statuses};

use super::{may, may_read};
use crate::{App, Error, Result, ShopCtx};

/// What the shop has chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectionSettings {
    pub status_on_publish: Option<StatusId>,
}

pub async fn get(app: &App, ctx: &ShopCtx) -> Result<InspectionSettings> {
    may_read(app, ctx).await?;
    read(app, ctx).await
}

async fn read(app: &App, ctx: &ShopCtx) -> Result<InspectionSettings> {
    Ok(InspectionSettings {
        status_on_publish: store::status_on_publish(&app.db, ctx.shop_id())
            .await?
            .map(StatusId::from_uuid),
    })
}

/// Saves the settings (`inspections.setup`). The status must be one of the
/// shop's active ones.
pub async fn set(
    app: &App,
    ctx: &ShopCtx,
    status_on_publish: Option<StatusId>,
) -> Result<InspectionSettings> {
    may(app, ctx, Permission::InspectionsSetup).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if let Some(id) = status_on_publish {
        let active = statuses::get(&txn, shop, id)
            .await?
            .is_some_and(|s| s.retired_at.is_none());
        if !active {
            return Err(Error::invalid(
                "status_on_publish",
                "is not one of the shop's active statuses",
            ));
        }
    }
    store::set_status_on_publish(&txn, shop, status_on_publish.map(|s| s.as_uuid())).await?;
    txn.commit().await?;
    tracing::info!(shop.id = %shop, "inspection settings saved");
    read(app, ctx).await
}
