//! The POS API, `/api/pos/v1`, authenticated by a shop's API key. The
//! ticket sync endpoints arrive with the tickets issue; this group already
//! carries the key check they will use.

use pitwall_core::App;
use pitwall_core::domain::{Feature, ShopId};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use crate::auth::PosKey;
use crate::error::{ApiError, ApiResult};
use crate::models::PosWhoAmI;

#[derive(Tags)]
pub enum PosTags {
    /// POS integration.
    Pos,
}

pub struct PosApi;

/// The shop behind a POS key, refused when the shop's plan lost POS sync.
pub async fn pos_shop(
    app: &App,
    key: &PosKey,
) -> Result<
    (
        pitwall_core::store::api_keys::ApiKey,
        pitwall_core::store::shops::Shop,
    ),
    ApiError,
> {
    let (k, shop) = pitwall_core::api_keys::authenticate(app, &key.0.token).await?;
    let features =
        pitwall_core::features::FeatureSet::load_for(app, ShopId::from_uuid(shop.id)).await?;
    features.require(Feature::PosSync)?;
    Ok((k, shop))
}

#[OpenApi(prefix_path = "/api/pos/v1")]
impl PosApi {
    /// Which shop and key this request authenticates as.
    #[oai(
        path = "/whoami",
        method = "get",
        tag = "PosTags::Pos",
        operation_id = "pos_whoami"
    )]
    async fn whoami(&self, app: Data<&App>, key: PosKey) -> ApiResult<PosWhoAmI> {
        let (k, shop) = pos_shop(&app, &key).await?;
        Ok(Json(PosWhoAmI {
            shop_id: shop.id,
            shop_name: shop.name,
            key_name: k.name,
            scopes: k.scopes,
        }))
    }
}
