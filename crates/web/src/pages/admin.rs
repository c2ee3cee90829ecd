//! The admin console, for platform admins and support: shops, plans,
//! lifecycle, feature overrides, the audit log and dead jobs.

use minijinja::context;
use pitwall_core::admin::JobFilter;
use pitwall_core::domain::{Feature, Quota, ShopId, ShopLifecycle};
use pitwall_core::features::set_override;
use pitwall_core::model::PageRequest;
use pitwall_core::shops::{Creator, NewShopInput, create_shop as create_shop_use_case};
use pitwall_core::{App, Error, admin, roles};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::{Notice, Page, finish, parse_id, refused, respond};
use crate::render::{self, OrPage, redirect};
use crate::session::{FormData, Signed, flash};

/// The query of the console's lists; anything unreadable reads as absent.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
    shop: Option<String>,
}

fn list_query(req: &Request) -> ListQuery {
    req.params().unwrap_or_default()
}

pub(crate) async fn platform(app: &App, req: &Request) -> Result<Signed, Response> {
    Signed::from(app, req).await?.require_platform()
}

pub(crate) async fn platform_post(
    app: &App,
    req: &Request,
    form: &FormData,
) -> Result<Signed, Response> {
    Signed::posted(app, req, form).await?.require_platform()
}

fn plan_options(plans: &[pitwall_core::model::plans::Plan]) -> Vec<minijinja::Value> {
    plans
        .iter()
        .map(|p| context! { code => p.code.clone(), name => p.name.clone() })
        .collect()
}

#[handler]
pub(crate) async fn shops(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            let layout = s.layout();
            let query = list_query(req);
            let q = query.q.unwrap_or_default();
            let page = PageRequest::parse(query.cursor.as_deref(), Some(50))
                .map_err(|(field, message)| Error::invalid(field, message))
                .or_page(&layout)?;
            let search = Some(q.trim()).filter(|q| !q.is_empty());
            let list = admin::list_shops(&app, &s.actor, search, page)
                .await
                .or_page(&layout)?;
            Ok(render::page(
                StatusCode::OK,
                "admin_shops.html",
                context! {
                    ok => flash(req),
                    q,
                    next => list.next_cursor,
                    shops => list.items.iter().map(|sh| context! {
                        id => sh.id.to_string(),
                        name => sh.name.clone(),
                        slug => sh.slug.clone(),
                        plan_code => sh.plan_code.clone(),
                        lifecycle => sh.lifecycle.clone(),
                        created_at => render::day(sh.created_at),
                    }).collect::<Vec<_>>(),
                    ..layout
                },
            ))
        }
        .await,
    )
}

async fn new_shop_page(app: &App, s: &Signed, notice: Notice, form: Option<&FormData>) -> Page {
    let layout = s.layout();
    let plans = app.plans().await.or_page(&layout)?;
    Ok(render::page(
        notice.status,
        "admin_new_shop.html",
        context! {
            form => form.map(|f| context! {
                name => f.get("name"),
                slug => f.get("slug"),
                plan => f.get("plan"),
                owner_email => f.get("owner_email"),
            }),
            plans => plan_options(&plans),
            ..notice.with(&layout)
        },
    ))
}

#[handler]
pub(crate) async fn new_shop_form(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            new_shop_page(&app, &s, Notice::ok(None), None).await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn create_shop(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let s = platform_post(&app, req, &form).await?;
            let input = NewShopInput {
                name: form.get("name"),
                slug: form.get("slug"),
                plan: form.get("plan"),
                owner_email: form.get("owner_email"),
                // Support never sets someone else's password: the owner
                // chooses it from the invitation.
                owner_password: None,
                time_zone: None,
            };
            match create_shop_use_case(&app, Creator::Platform(&s.actor), input).await {
                Ok(created) => {
                    let ok = if created.owner_invited {
                        "created_invited"
                    } else {
                        "created"
                    };
                    Ok(redirect(&format!(
                        "/admin/shops/{}?ok={ok}",
                        created.shop.id
                    )))
                }
                Err(e) => {
                    refused(&e, &s.layout(), async |n| {
                        new_shop_page(&app, &s, n, Some(&form)).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

async fn shop_page(app: &App, s: &Signed, id: ShopId, notice: Notice) -> Page {
    let layout = s.layout();
    let d = admin::shop_detail(app, &s.actor, id)
        .await
        .or_page(&layout)?;
    let plans = app.plans().await.or_page(&layout)?;
    let policy = roles::list_for_support(app, &s.actor, id)
        .await
        .or_page(&layout)?;
    let usage = pitwall_core::messaging::usage_for_support(
        app,
        &s.actor,
        id,
        d.features.quota(Quota::SmsPerMonth),
    )
    .await
    .or_page(&layout)?;
    let billing = super::admin_billing::section(app, s, id, d.shop.trial_ends_at)
        .await
        .or_page(&layout)?;
    let features = Feature::ALL
        .iter()
        .map(|f| {
            let o = d.overrides.iter().find(|o| o.feature == f.as_str());
            context! {
                name => f.as_str(),
                description => f.describe(),
                enabled => d.features.has(*f),
                in_plan => d.features.plan.features.contains(f),
                override => o.map(|o| o.enabled),
                reason => o.map(|o| o.reason.clone()),
            }
        })
        .collect::<Vec<_>>();
    Ok(render::page(
        notice.status,
        "admin_shop.html",
        context! {
            shop => context! {
                id => d.shop.id.to_string(),
                name => d.shop.name.clone(),
                slug => d.shop.slug.clone(),
                plan_code => d.shop.plan_code.clone(),
                lifecycle => d.shop.lifecycle.clone(),
                sms_from => d.shop.sms_from.clone(),
                trial_ends_at => d.shop.trial_ends_at.map(render::day),
                created_at => render::day(d.shop.created_at),
            },
            plans => plan_options(&plans),
            lifecycles => ShopLifecycle::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            features,
            billing,
            usage => context! {
                since => render::day(usage.period_start),
                used => usage.sms_segments,
                quota => usage.sms_quota,
            },
            policy => policy.iter().map(|r| context! {
                role => r.role.as_str(),
                customised => r.customised,
                permissions => r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            ..notice.with(&layout)
        },
    ))
}

#[handler]
pub(crate) async fn shop(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            let id: ShopId = parse_id(&id, "shop").or_page(&s.layout())?;
            shop_page(&app, &s, id, Notice::ok(flash(req))).await
        }
        .await,
    )
}

/// A shop's POS sync health, for support.
#[handler]
pub(crate) async fn shop_sync_health(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            let layout = s.layout();
            let id: ShopId = parse_id(&id, "shop").or_page(&layout)?;
            let h = pitwall_core::pos::sync_health_for_support(&app, &s.actor, id)
                .await
                .or_page(&layout)?;
            let row = admin::shop(&app, &s.actor, id).await.or_page(&layout)?;
            Ok(super::tickets::sync_health_page(
                &h,
                &row,
                Some(&id.to_string()),
                layout,
            ))
        }
        .await,
    )
}

/// Runs one of the shop page's forms, then shows the shop again.
pub(crate) async fn shop_action(
    app: &App,
    req: &Request,
    id: &str,
    form: &FormData,
    action: impl AsyncFnOnce(&Signed, ShopId) -> pitwall_core::Result<()>,
) -> Page {
    let s = platform_post(app, req, form).await?;
    let layout = s.layout();
    let id: ShopId = parse_id(id, "shop").or_page(&layout)?;
    let result = action(&s, id).await;
    finish(
        result,
        &format!("/admin/shops/{id}?ok=saved"),
        &layout,
        async |n| shop_page(app, &s, id, n).await,
    )
    .await
}

#[handler]
pub(crate) async fn set_plan(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            admin::set_plan(&app, &s.actor, id, form.get("plan"))
                .await
                .map(drop)
        })
        .await,
    )
}

#[handler]
pub(crate) async fn set_sms_from(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            admin::set_sms_from(&app, &s.actor, id, form.opt("sms_from"))
                .await
                .map(drop)
        })
        .await,
    )
}

#[handler]
pub(crate) async fn set_lifecycle(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            admin::set_lifecycle(
                &app,
                &s.actor,
                id,
                form.get("lifecycle"),
                form.get("reason"),
            )
            .await
            .map(drop)
        })
        .await,
    )
}

#[handler]
pub(crate) async fn set_feature(
    app: Data<&App>,
    req: &Request,
    Path((id, feature)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            let feature = admin::parse_feature(&feature, "feature")?;
            let state = match form.get("state") {
                "on" => Some(true),
                "off" => Some(false),
                "plan" => None,
                _ => return Err(Error::invalid("state", "must be on, off or plan")),
            };
            set_override(&app, &s.actor, id, feature, state, form.get("reason")).await
        })
        .await,
    )
}

#[handler]
pub(crate) async fn audit(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            let layout = s.layout();
            let query = list_query(req);
            let only_shop: Option<ShopId> = query
                .shop
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| parse_id(v, "shop"))
                .transpose()
                .or_page(&layout)?;
            let page = PageRequest::parse(query.cursor.as_deref(), Some(100))
                .map_err(|(field, message)| Error::invalid(field, message))
                .or_page(&layout)?;
            let list = admin::audit_log(&app, &s.actor, only_shop, page)
                .await
                .or_page(&layout)?;
            Ok(render::page(
                StatusCode::OK,
                "admin_audit.html",
                context! {
                    shop => only_shop.map(|id| id.to_string()),
                    next => list.next_cursor,
                    entries => list.items.iter().map(|e| context! {
                        created_at => e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        action => e.action.clone(),
                        shop_id => e.shop_id.map(|i| i.to_string()),
                        actor_user_id => e.actor_user_id.map(|i| i.to_string()),
                        target => e.target.clone(),
                        details => e.details.clone(),
                    }).collect::<Vec<_>>(),
                    ..layout
                },
            ))
        }
        .await,
    )
}

#[handler]
pub(crate) async fn jobs(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            let layout = s.layout();
            let board = admin::jobs(&app, &s.actor, JobFilter::Dead)
                .await
                .or_page(&layout)?;
            let (rows, backlog) = (board.jobs, board.outbox_backlog);
            let queues: Vec<_> = board
                .queues
                .iter()
                .map(|q| context! { queue => q.queue.clone(), waiting => q.waiting, running => q.running, dead => q.dead })
                .collect();
            Ok(render::page(
                StatusCode::OK,
                "admin_jobs.html",
                context! {
                    ok => flash(req),
                    backlog,
                    queues,
                    jobs => rows.iter().map(|j| context! {
                        id => j.id.clone(),
                        queue => j.queue.clone(),
                        status => j.status.clone(),
                        attempts => j.attempts,
                        max_attempts => j.max_attempts,
                        last_error => j.last_error.clone(),
                        run_at => j.run_at.map(render::minute),
                    }).collect::<Vec<_>>(),
                    ..layout
                },
            ))
        }
        .await,
    )
}

#[handler]
pub(crate) async fn retry_job(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let s = platform_post(&app, req, &form).await?;
            let layout = s.layout();
            admin::retry_job(&app, &s.actor, &id)
                .await
                .or_page(&layout)?;
            Ok(redirect("/admin/jobs?ok=retried"))
        }
        .await,
    )
}
