//! POS API keys: listed by prefix, created with the secret shown once, revoked.

use minijinja::context;
use pitwall_core::domain::{ApiKeyId, Feature};
use pitwall_core::model::PageRequest;
use pitwall_core::{App, Error, api_keys};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::{Notice, Page, finish, parse_id, refused, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            keys_page(&app, &shop, Notice::ok(flash(req)), None).await
        }
        .await,
    )
}

/// `secret` is a key just created: this answer is the only place it shows.
async fn keys_page(app: &App, shop: &InShop, notice: Notice, secret: Option<&str>) -> Page {
    let keys = api_keys::list(app, &shop.ctx, PageRequest::first(PageRequest::MAX_LIMIT))
        .await
        .or_page(&shop.layout)?;
    // Keys of a shop without POS sync do not work; say so instead of
    // offering a form that would be refused.
    let plan_note = match shop.ctx.features.require(Feature::PosSync) {
        Err(Error::FeatureNotInPlan {
            feature,
            cheapest_plan,
        }) => Some(render::not_in_plan(
            feature.describe(),
            cheapest_plan.as_deref(),
        )),
        _ => None,
    };
    let mut resp = render::page(
        notice.status,
        "api_keys.html",
        context! {
            secret,
            plan_note,
            keys => keys.items.iter().map(|k| context! {
                id => k.id.to_string(),
                name => k.name.clone(),
                prefix => k.prefix.clone(),
                created_at => render::day(k.created_at),
                last_used_at => k.last_used_at.map(render::minute),
                revoked_at => k.revoked_at.map(render::minute),
            }).collect::<Vec<_>>(),
            ..notice.with(&shop.layout)
        },
    );
    if secret.is_some()
        && let Ok(v) = "no-store".parse()
    {
        // Neither the browser's cache nor its history may keep the secret.
        resp.headers_mut().insert("cache-control", v);
    }
    Ok(resp)
}

#[handler]
pub(crate) async fn create(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            match api_keys::create(&app, &shop.ctx, form.get("name")).await {
                // Shown in this answer rather than after a redirect: the
                // secret must never travel in a URL.
                Ok(created) => {
                    keys_page(&app, &shop, Notice::ok(None), Some(&created.secret)).await
                }
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        keys_page(&app, &shop, n, None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn revoke(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: ApiKeyId = parse_id(&id, "API key").or_page(&shop.layout)?;
            let result = api_keys::revoke(&app, &shop.ctx, id).await;
            finish(
                result,
                "/app/api-keys?ok=revoked",
                &shop.layout,
                async |n| keys_page(&app, &shop, n, None).await,
            )
            .await
        }
        .await,
    )
}
