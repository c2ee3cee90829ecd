//! Authentication for the JSON API: bearer tokens for staff and admins,
//! API keys for the POS. Every handler resolves its principal through here.

use pitwall_core::auth::Kind;
use pitwall_core::domain::ShopId;
use pitwall_core::{Actor, App, ShopCtx};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::error::{ApiError, invalid};

/// A user's token from `POST /api/v1/auth/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque")]
pub struct UserToken(pub Bearer);

/// A shop's POS API key (`pk_...`), from the staff app or `pitwall admin create-api-key`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "pk_...")]
pub struct PosKey(pub Bearer);

/// Header that picks the shop for users who belong to several.
pub const SHOP_HEADER: &str = "X-Pitwall-Shop";

pub async fn actor(app: &App, token: &UserToken) -> Result<Actor, ApiError> {
    Ok(pitwall_core::auth::authenticate(app, &token.0.token, Kind::Api).await?)
}

pub fn requested_shop(req: &Request) -> Result<Option<ShopId>, ApiError> {
    match req.header(SHOP_HEADER) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<ShopId>()
            .map(Some)
            .map_err(|_| invalid(SHOP_HEADER, "must be a shop id")),
    }
}

/// The signed-in user inside the shop the request is for.
pub async fn shop_ctx(app: &App, req: &Request, token: &UserToken) -> Result<ShopCtx, ApiError> {
    let actor = actor(app, token).await?;
    Ok(app.shop_ctx(&actor, requested_shop(req)?).await?)
}
