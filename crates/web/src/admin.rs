//! The admin console: platform admins and support.

use minijinja::context;
use pitwall_core::domain::{Feature, ShopId, ShopLifecycle};
use pitwall_core::features::set_override;
use pitwall_core::shops::{Creator, NewShopInput, create_shop as create_shop_use_case};
use pitwall_core::store::PageRequest;
use pitwall_core::{App, Error, admin};
use pitwall_jobs::admin::JobFilter;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};

use crate::render::{self, redirect};
use crate::session::{FormData, Signed, flash};

fn query(req: &Request, name: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.replace('+', " ").replace("%20", " "))
    })
}

/// The signed-in platform user, or the page to show instead.
async fn platform(app: &App, req: &Request) -> Result<Signed, Response> {
    let s = Signed::from(app, req).await?;
    s.actor
        .require_platform()
        .map_err(|e| render::error(&e, s.layout()))?;
    Ok(s)
}

fn done(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

#[handler]
pub(crate) async fn shops(app: Data<&App>, req: &Request) -> Response {
    done(async {
        let s = platform(&app, req).await?;
        let q = query(req, "q").unwrap_or_default();
        let page = PageRequest::parse(query(req, "cursor").as_deref(), Some(50))
            .map_err(|(f, m)| render::error(&Error::invalid(f, m), s.layout()))?;
        let list = admin::list_shops(&app, &s.actor, Some(&q), page)
            .await
            .map_err(|e| render::error(&e, s.layout()))?;
        Ok(render::ok(
            "admin_shops.html",
            context! {
                ok => flash(req),
                q => q,
                next => list.next_cursor,
                shops => list.items.iter().map(|sh| context! { id => sh.id.to_string(), name => sh.name.clone(), slug => sh.slug.clone(), plan_code => sh.plan_code.clone(), lifecycle => sh.lifecycle.clone() }).collect::<Vec<_>>(), ..s.layout()
            },
        ))
    }
    .await)
}

async fn new_shop_page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    error: Option<String>,
    form: Option<&FormData>,
) -> Response {
    let plans = app.plans().await.unwrap_or_default();
    render::page(
        status,
        "admin_new_shop.html",
        context! {
            error => error,
            form => form.map(|f| context! { name => f.get("name"), slug => f.get("slug"), owner_email => f.get("owner_email") }),
            plans => plans.iter().map(|p| context! { code => p.code.clone(), name => p.name.clone() }).collect::<Vec<_>>(), ..s.layout()
        },
    )
}

#[handler]
pub(crate) async fn new_shop_form(app: Data<&App>, req: &Request) -> Response {
    match platform(&app, req).await {
        Ok(s) => new_shop_page(&app, &s, StatusCode::OK, None, None).await,
        Err(r) => r,
    }
}

#[handler]
pub(crate) async fn create_shop(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    done(
        async {
            let s = platform(&app, req).await?;
            let form = FormData(form);
            s.check(&form)?;
            let input = NewShopInput {
                name: form.get("name"),
                slug: form.get("slug"),
                plan: form.get("plan"),
                owner_email: form.get("owner_email"),
                owner_password: None,
                time_zone: None,
            };
            match create_shop_use_case(&app, Creator::Platform(&s.actor), input).await {
                Ok(created) => Ok(redirect(&format!(
                    "/admin/shops/{}?ok=created",
                    created.shop.id
                ))),
                Err(e) => match render::form_error(&e) {
                    Some(msg) => Ok(new_shop_page(
                        &app,
                        &s,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some(msg),
                        Some(&form),
                    )
                    .await),
                    None => Err(render::error(&e, s.layout())),
                },
            }
        }
        .await,
    )
}

fn shop_id(raw: &str, s: &Signed) -> Result<ShopId, Response> {
    raw.parse()
        .map_err(|_| render::error(&Error::NotFound("shop"), s.layout()))
}

#[handler]
pub(crate) async fn shop(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    done(async {
        let s = platform(&app, req).await?;
        let id = shop_id(&id, &s)?;
        let d = admin::shop_detail(&app, &s.actor, id).await.map_err(|e| render::error(&e, s.layout()))?;
        let plans = app.plans().await.map_err(|e| render::error(&e, s.layout()))?;
        let policy = pitwall_core::roles::list_for_support(&app, &s.actor, id)
            .await
            .map_err(|e| render::error(&e, s.layout()))?;
        let features = Feature::ALL
            .iter()
            .map(|f| {
                let o = d.overrides.iter().find(|o| o.feature == f.as_str());
                context! {
                    name => f.as_str(),
                    description => f.describe(),
                    enabled => d.features.has(*f),
                    override => o.map(|o| o.enabled),
                    reason => o.map(|o| o.reason.clone()),
                }
            })
            .collect::<Vec<_>>();
        Ok(render::ok(
            "admin_shop.html",
            context! {
                ok => flash(req),
                shop => context! {
                    id => d.shop.id.to_string(), name => d.shop.name.clone(), slug => d.shop.slug.clone(),
                    plan_code => d.shop.plan_code.clone(), lifecycle => d.shop.lifecycle.clone(),
                    created_at => d.shop.created_at.format("%Y-%m-%d").to_string(),
                },
                plans => plans.iter().map(|p| context! { code => p.code.clone(), name => p.name.clone() }).collect::<Vec<_>>(),
                lifecycles => ShopLifecycle::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
                features => features,
                policy => policy.iter().map(|r| context! {
                    role => r.role.as_str(),
                    customised => r.customised,
                    permissions => r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                }).collect::<Vec<_>>(), ..s.layout()
            },
        ))
    }
    .await)
}

/// Runs an admin action from a form, then shows the shop again.
async fn shop_form_action<F, Fut>(
    app: &App,
    req: &Request,
    id: String,
    form: Vec<(String, String)>,
    action: F,
) -> Response
where
    F: FnOnce(Signed, ShopId, FormData) -> Fut,
    Fut: std::future::Future<Output = (Signed, pitwall_core::Result<()>)>,
{
    done(
        async {
            let s = platform(app, req).await?;
            let form = FormData(form);
            s.check(&form)?;
            let id = shop_id(&id, &s)?;
            let (s, result) = action(s, id, form).await;
            result.map_err(|e| render::error(&e, s.layout()))?;
            Ok(redirect(&format!("/admin/shops/{id}?ok=saved")))
        }
        .await,
    )
}

#[handler]
pub(crate) async fn set_plan(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_form_action(&app, req, id, form, |s, id, f| async move {
        let r = admin::set_plan(&a, &s.actor, id, f.get("plan"))
            .await
            .map(|_| ());
        (s, r)
    })
    .await
}

#[handler]
pub(crate) async fn set_lifecycle(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_form_action(&app, req, id, form, |s, id, f| async move {
        let r = admin::set_lifecycle(&a, &s.actor, id, f.get("lifecycle"), f.get("reason"))
            .await
            .map(|_| ());
        (s, r)
    })
    .await
}

#[handler]
pub(crate) async fn set_feature(
    app: Data<&App>,
    req: &Request,
    Path((id, feature)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_form_action(&app, req, id, form, |s, id, f| async move {
        let r = async {
            let feature = admin::parse_feature(&feature, "feature")?;
            let state = match f.get("state") {
                "on" => Some(true),
                "off" => Some(false),
                "plan" => None,
                _ => return Err(Error::invalid("state", "must be on, off or plan")),
            };
            set_override(&a, &s.actor, id, feature, state, f.get("reason")).await
        }
        .await;
        (s, r)
    })
    .await
}

#[handler]
pub(crate) async fn audit(app: Data<&App>, req: &Request) -> Response {
    done(async {
        let s = platform(&app, req).await?;
        let page = PageRequest::parse(query(req, "cursor").as_deref(), Some(100))
            .map_err(|(f, m)| render::error(&Error::invalid(f, m), s.layout()))?;
        let list = admin::audit_log(&app, &s.actor, None, page)
            .await
            .map_err(|e| render::error(&e, s.layout()))?;
        Ok(render::ok(
            "admin_audit.html",
            context! {
                next => list.next_cursor,
                entries => list.items.iter().map(|e| context! {
                    created_at => e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    action => e.action.clone(), shop_id => e.shop_id.map(|i| i.to_string()),
                    actor_user_id => e.actor_user_id.map(|i| i.to_string()), target => e.target.clone(), details => e.details.clone(),
                }).collect::<Vec<_>>(), ..s.layout()
            },
        ))
    }
    .await)
}

#[handler]
pub(crate) async fn jobs(app: Data<&App>, req: &Request) -> Response {
    done(async {
        let s = platform(&app, req).await?;
        let err = |e: pitwall_core::store::StoreError| render::error(&Error::from(e), s.layout());
        let rows = pitwall_jobs::admin::list(&app.db, JobFilter::Dead, 200).await.map_err(err)?;
        let backlog = pitwall_core::store::outbox::count_unpushed(&app.db).await.map_err(err)?;
        Ok(render::ok(
            "admin_jobs.html",
            context! {
                ok => flash(req),
                backlog => backlog,
                jobs => rows.iter().map(|j| context! { id => j.id.clone(), queue => j.queue.clone(), status => j.status.clone(), attempts => j.attempts, max_attempts => j.max_attempts, last_error => j.last_error.clone() }).collect::<Vec<_>>(), ..s.layout()
            },
        ))
    }
    .await)
}

#[handler]
pub(crate) async fn retry_job(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    done(
        async {
            let s = platform(&app, req).await?;
            s.check(&FormData(form))?;
            let ok = pitwall_jobs::admin::retry(&app.db, &id)
                .await
                .map_err(|e| render::error(&Error::from(e), s.layout()))?;
            if !ok {
                return Err(render::error(&Error::NotFound("dead job"), s.layout()));
            }
            app.jobs.nudge();
            Ok(redirect("/admin/jobs?ok=retried"))
        }
        .await,
    )
}
