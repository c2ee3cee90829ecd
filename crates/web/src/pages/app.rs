//! The signed-in home page and switching between one's shops.

use chrono::Utc;
use minijinja::context;
use pitwall_core::domain::ShopId;
use pitwall_core::{App, shops};
use poem::web::Data;
use poem::{Request, Response, handler};

use super::{Page, parse_id, respond};
use crate::render::{self, OrPage, redirect};
use crate::session::{FormData, Signed, flash};

#[handler]
pub(crate) async fn home(app: Data<&App>, req: &Request) -> Response {
    respond(home_page(&app, req).await)
}

async fn home_page(app: &App, req: &Request) -> Page {
    let shop = Signed::from(app, req).await?.in_shop(app).await?;
    let (ctx, layout) = (&shop.ctx, &shop.layout);
    let mine = shops::my_shops(app, &shop.signed.actor)
        .await
        .or_page(layout)?;
    let trial_ends = ctx
        .shop
        .trial_ends_at
        .filter(|_| ctx.lifecycle == pitwall_core::domain::ShopLifecycle::Trial);
    Ok(render::page(
        poem::http::StatusCode::OK,
        "home.html",
        context! {
            ok => flash(req),
            shop => context! {
                name => ctx.shop.name.clone(),
                plan => ctx.features.plan.name.clone(),
                lifecycle => ctx.lifecycle.as_str().replace('_', " "),
                writable => ctx.lifecycle.allows_writes(),
            },
            trial_ends => trial_ends.map(render::day),
            trial_days_left => trial_ends.map(|end| (end - Utc::now()).num_days().max(0)),
            features => ctx.features.enabled().iter().map(|f| f.describe()).collect::<Vec<_>>(),
            shops => mine.iter().map(|(s, role)| context! {
                id => s.id.to_string(),
                name => s.name.clone(),
                role => role.as_str(),
                current => s.id == ctx.shop.id,
            }).collect::<Vec<_>>(),
            ..layout.clone()
        },
    ))
}

#[handler]
pub(crate) async fn switch_shop(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let s = Signed::posted(&app, req, &form).await?;
            let layout = s.layout();
            let shop: ShopId = parse_id(form.get("shop_id"), "shop").or_page(&layout)?;
            pitwall_core::auth::switch_shop(&app, &s.actor, shop)
                .await
                .or_page(&layout)?;
            Ok(redirect("/app?ok=switched"))
        }
        .await,
    )
}
