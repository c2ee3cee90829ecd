//! The shop's outgoing webhooks: the URLs Pitwall signs and delivers work
//! approved / declined events to, their secrets, recent deliveries and
//! failures, a test event.

use minijinja::context;
use pitwall_core::domain::WebhookId;
use pitwall_core::{App, webhooks};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::{Notice, Page, finish, parse_id, refused, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

async fn webhooks_page(app: &App, shop: &InShop, notice: Notice, url: &str) -> Page {
    let list = webhooks::list(app, &shop.ctx).await.or_page(&shop.layout)?;
    let at = |t| super::tickets::local(shop, t);
    Ok(render::page(
        notice.status,
        "webhooks.html",
        context! {
            url,
            max => webhooks::MAX_PER_SHOP,
            events => webhooks::EVENTS.to_vec(),
            hooks => list.iter().map(|w| context! {
                id => w.webhook.id.to_string(),
                url => w.webhook.url.clone(),
                secret => w.webhook.secret.clone(),
                active => w.webhook.active,
                created => at(w.webhook.created_at),
                deliveries => w.deliveries.iter().map(|d| context! {
                    event => d.event.clone(),
                    status => d.status.clone(),
                    attempts => d.attempts,
                    response_status => d.response_status,
                    error => d.last_error.clone(),
                    at => at(d.created_at),
                    delivered => d.delivered_at.map(at),
                }).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            webhooks_page(&app, &shop, Notice::ok(flash(req)), "").await
        }
        .await,
    )
}

async fn posted(app: &App, req: &Request, form: &FormData) -> Result<InShop, Response> {
    Signed::posted(app, req, form).await?.in_shop(app).await
}

#[handler]
pub(crate) async fn create(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = posted(&app, req, &form).await?;
            let result = webhooks::create(&app, &shop.ctx, form.get("url")).await;
            match result {
                Ok(_) => Ok(render::redirect("/app/webhooks?ok=webhook_added")),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        webhooks_page(&app, &shop, n, form.get("url")).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn test(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = posted(&app, req, &form).await?;
            let id: WebhookId = parse_id(&id, "webhook").or_page(&shop.layout)?;
            let result = webhooks::send_test(&app, &shop.ctx, id).await;
            finish(
                result,
                "/app/webhooks?ok=webhook_test",
                &shop.layout,
                async |n| webhooks_page(&app, &shop, n, "").await,
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn delete(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = posted(&app, req, &form).await?;
            let id: WebhookId = parse_id(&id, "webhook").or_page(&shop.layout)?;
            let result = webhooks::delete(&app, &shop.ctx, id).await;
            finish(
                result,
                "/app/webhooks?ok=webhook_deleted",
                &shop.layout,
                async |n| webhooks_page(&app, &shop, n, "").await,
            )
            .await
        }
        .await,
    )
}
