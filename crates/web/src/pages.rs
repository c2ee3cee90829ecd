//! The staff pages: sign-in flows, home, users, roles, settings, API keys.

use minijinja::{Value, context};
use pitwall_core::auth::Kind;
use pitwall_core::domain::{
    ApiKeyId, InvitationId, Permission, Role, ShopId, ShopProfileInput, UserId,
};
use pitwall_core::store::{PageRequest, shops as shop_store};
use pitwall_core::{App, Error, api_keys, members, roles, shops};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};

use crate::render::{self, redirect};
use crate::session::{FormData, Signed, cookie_token, flash, same_origin, set_cookie};

fn client_addr(req: &Request) -> String {
    req.remote_addr()
        .to_string()
        .rsplit_once(':')
        .map(|(h, _)| h.to_owned())
        .unwrap_or_default()
}

fn cross_site() -> Response {
    render::message(
        StatusCode::FORBIDDEN,
        Value::UNDEFINED,
        "Blocked",
        "This form was sent from another site, so it was not accepted.",
    )
}

fn signed_in_redirect(app: &App, token: &str, to: &str) -> Response {
    let mut resp = redirect(to);
    if let Ok(v) = set_cookie(app, token, app.config.web_session_ttl.num_seconds()).parse() {
        resp.headers_mut().append("set-cookie", v);
    }
    resp
}

fn all<T>(r: std::result::Result<T, Response>) -> Response
where
    T: Into<Response>,
{
    match r {
        Ok(v) => v.into(),
        Err(e) => e,
    }
}

#[handler]
pub(crate) async fn root(app: Data<&App>, req: &Request) -> Response {
    match Signed::from(&app, req).await {
        Ok(_) => redirect("/app"),
        Err(_) => redirect("/login"),
    }
}

#[handler]
pub(crate) fn login_form(req: &Request) -> Response {
    render::ok("login.html", context! { ok => flash(req), email => "" })
}

#[handler]
pub(crate) async fn login(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !same_origin(req) {
        return cross_site();
    }
    let form = FormData(form);
    match pitwall_core::auth::login(
        &app,
        form.get("email"),
        form.get("password"),
        &client_addr(req),
        Kind::Web,
    )
    .await
    {
        Ok(s) => signed_in_redirect(&app, &s.token, "/app"),
        Err(e) => match render::form_error(&e) {
            Some(msg) => render::page(
                StatusCode::UNAUTHORIZED,
                "login.html",
                context! { error => msg, email => form.get("email") },
            ),
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

#[handler]
pub(crate) async fn logout(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let form = FormData(form);
    if let Ok(s) = Signed::from(&app, req).await
        && let Err(r) = s.check(&form)
    {
        return r;
    }
    if let Some(token) = cookie_token(req) {
        let _ = pitwall_core::auth::logout(&app, &token).await;
    }
    let mut resp = redirect("/login");
    if let Ok(v) = set_cookie(&app, "", 0).parse() {
        resp.headers_mut().append("set-cookie", v);
    }
    resp
}

#[handler]
pub(crate) fn forgot_form() -> Response {
    render::ok("forgot.html", context! {})
}

#[handler]
pub(crate) async fn forgot(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !same_origin(req) {
        return cross_site();
    }
    let form = FormData(form);
    match pitwall_core::auth::request_password_reset(&app, form.get("email")).await {
        Ok(()) => render::message(
            StatusCode::OK,
            Value::UNDEFINED,
            "Check your e-mail",
            "If an account exists for that address, we sent it a link to choose a new password. The link works for one hour.",
        ),
        Err(e) => match render::form_error(&e) {
            Some(msg) => render::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "forgot.html",
                context! { error => msg },
            ),
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

#[handler]
pub(crate) fn reset_form() -> Response {
    render::ok("reset.html", context! {})
}

#[handler]
pub(crate) async fn reset(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !same_origin(req) {
        return cross_site();
    }
    let form = FormData(form);
    match pitwall_core::auth::reset_password(&app, &token, form.get("password")).await {
        Ok(()) => redirect("/login?ok=reset"),
        Err(e) => match render::form_error(&e) {
            Some(msg) => render::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reset.html",
                context! { error => msg },
            ),
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

async fn accept_page(
    app: &App,
    token: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    match members::preview_invitation(app, token).await {
        Ok(p) => render::page(
            status,
            "accept.html",
            context! {
                shop => p.shop_name,
                email => p.email.clone(),
                invited_role => p.role.as_str(),
                existing_user => p.existing_user,
                error => error,
            },
        ),
        Err(e) => render::error(&e, Value::UNDEFINED),
    }
}

#[handler]
pub(crate) async fn accept_form(app: Data<&App>, Path(token): Path<String>) -> Response {
    accept_page(&app, &token, StatusCode::OK, None).await
}

#[handler]
pub(crate) async fn accept(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !same_origin(req) {
        return cross_site();
    }
    let form = FormData(form);
    match members::accept_invitation_web(&app, &token, form.get("name"), form.get("password")).await
    {
        Ok(s) => signed_in_redirect(&app, &s.token, "/app"),
        Err(e) => match render::form_error(&e) {
            Some(msg) => {
                accept_page(&app, &token, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await
            }
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

#[handler]
pub(crate) async fn home(app: Data<&App>, req: &Request) -> Response {
    all(async {
        let s = Signed::from(&app, req).await?;
        let (ctx, layout) = s.shop(&app).await?;
        let mine = shops::my_shops(&app, &s.actor).await.map_err(|e| render::error(&e, layout.clone()))?;
        let trial_days_left = ctx
            .shop
            .trial_ends_at
            .filter(|_| ctx.shop.lifecycle == "trial")
            .map(|end| (end - chrono::Utc::now()).num_days().max(0));
        Ok::<_, Response>(render::ok(
            "home.html",
            context! {
                ok => flash(req),
                shop => context! { name => ctx.shop.name.clone(), plan => ctx.shop.plan_code.clone(), lifecycle => ctx.shop.lifecycle.clone() },
                trial_days_left => trial_days_left,
                features => ctx.features.enabled().iter().map(|f| f.describe()).collect::<Vec<_>>(),
                shops => mine.iter().map(|(sh, r)| context! { id => sh.id.to_string(), name => sh.name.clone(), role => r.as_str(), current => sh.id == ctx.shop.id }).collect::<Vec<_>>(), ..layout
            },
        ))
    }
    .await)
}

#[handler]
pub(crate) async fn switch_shop(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    all(async {
        let s = Signed::from(&app, req).await?;
        let form = FormData(form);
        s.check(&form)?;
        let shop: ShopId = form
            .get("shop_id")
            .parse()
            .map_err(|_| render::error(&Error::NotFound("shop"), s.layout()))?;
        pitwall_core::auth::switch_shop(&app, &s.actor, shop)
            .await
            .map_err(|e| render::error(&e, s.layout()))?;
        Ok::<_, Response>(redirect("/app?ok=switched"))
    }
    .await)
}

#[handler]
pub(crate) async fn users(app: Data<&App>, req: &Request) -> Response {
    all(async {
        let s = Signed::from(&app, req).await?;
        let (ctx, layout) = s.shop(&app).await?;
        let list = members::list(&app, &ctx, PageRequest::first(PageRequest::MAX_LIMIT))
            .await
            .map_err(|e| render::error(&e, layout.clone()))?;
        let can_invite = app.may(&ctx, Permission::UsersInvite).await;
        let invitations = if can_invite {
            members::list_invitations(&app, &ctx, PageRequest::first(PageRequest::MAX_LIMIT))
                .await
                .map_err(|e| render::error(&e, layout.clone()))?
                .items
        } else {
            Vec::new()
        };
        let invitable: Vec<&str> = Role::ALL.iter().filter(|r| ctx.role.may_assign(**r)).map(|r| r.as_str()).collect();
        Ok::<_, Response>(render::ok(
            "users.html",
            context! {
                ok => flash(req),
                members => list.items.iter().map(|m| context! { id => m.user.id.to_string(), name => m.user.name.clone(), email => m.user.email.clone(), role => m.membership.role.clone() }).collect::<Vec<_>>(),
                invitations => invitations.iter().map(|i| context! { id => i.id.to_string(), email => i.email.clone(), role => i.role.clone(), expires_at => i.expires_at.format("%Y-%m-%d").to_string() }).collect::<Vec<_>>(),
                can_invite => can_invite,
                can_manage => app.may(&ctx, Permission::UsersManage).await,
                roles => invitable.clone(),
                invitable => invitable, ..layout
            },
        ))
    }
    .await)
}

/// Runs a shop action from a form and redirects to `to` on success.
async fn shop_action<F, Fut>(
    app: &App,
    req: &Request,
    form: Vec<(String, String)>,
    to: &str,
    action: F,
) -> Response
where
    F: FnOnce(pitwall_core::ShopCtx, FormData) -> Fut,
    Fut: std::future::Future<Output = pitwall_core::Result<()>>,
{
    all(async {
        let s = Signed::from(app, req).await?;
        let form = FormData(form);
        s.check(&form)?;
        let (ctx, layout) = s.shop(app).await?;
        action(ctx, form)
            .await
            .map_err(|e| render::error(&e, layout))?;
        Ok::<_, Response>(redirect(to))
    }
    .await)
}

#[handler]
pub(crate) async fn invite(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_action(
        &app,
        req,
        form,
        "/app/users?ok=invited",
        |ctx, f| async move {
            members::invite(&a, &ctx, f.get("email"), f.get("role"))
                .await
                .map(|_| ())
        },
    )
    .await
}

#[handler]
pub(crate) async fn change_role(
    app: Data<&App>,
    req: &Request,
    Path(user): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_action(&app, req, form, "/app/users?ok=role", |ctx, f| async move {
        let user: UserId = user.parse().map_err(|_| Error::NotFound("user"))?;
        members::change_role(&a, &ctx, user, f.get("role"))
            .await
            .map(|_| ())
    })
    .await
}

#[handler]
pub(crate) async fn remove_user(
    app: Data<&App>,
    req: &Request,
    Path(user): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_action(
        &app,
        req,
        form,
        "/app/users?ok=removed",
        |ctx, _| async move {
            let user: UserId = user.parse().map_err(|_| Error::NotFound("user"))?;
            members::remove(&a, &ctx, user).await
        },
    )
    .await
}

#[handler]
pub(crate) async fn revoke_invitation(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_action(
        &app,
        req,
        form,
        "/app/users?ok=revoked",
        |ctx, _| async move {
            let id: InvitationId = id.parse().map_err(|_| Error::NotFound("invitation"))?;
            members::revoke_invitation(&a, &ctx, id).await
        },
    )
    .await
}

#[handler]
pub(crate) async fn roles_page(app: Data<&App>, req: &Request) -> Response {
    all(async {
        let s = Signed::from(&app, req).await?;
        let (ctx, layout) = s.shop(&app).await?;
        let list = roles::list(&app, &ctx).await.map_err(|e| render::error(&e, layout.clone()))?;
        Ok::<_, Response>(render::ok(
            "roles.html",
            context! {
                ok => flash(req),
                can_edit => app.may(&ctx, Permission::RolesManage).await,
                roles => list.iter().map(|r| context! {
                    role => r.role.as_str(),
                    customised => r.customised,
                    permissions => r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                }).collect::<Vec<_>>(),
                permissions => Permission::ALL.iter().map(|p| context! { name => p.as_str(), description => p.describe() }).collect::<Vec<_>>(), ..layout
            },
        ))
    }
    .await)
}

#[handler]
pub(crate) async fn save_role(
    app: Data<&App>,
    req: &Request,
    Path(role): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_action(
        &app,
        req,
        form,
        "/app/roles?ok=saved",
        |ctx, f| async move {
            roles::set_permissions(&a, &ctx, &role, &f.all("permissions"))
                .await
                .map(|_| ())
        },
    )
    .await
}

fn settings_page(
    layout: Value,
    shop: &shop_store::Shop,
    branding: bool,
    status: StatusCode,
    error: Option<String>,
    ok: Option<&str>,
) -> Response {
    render::page(
        status,
        "settings.html",
        context! {
            ok => ok,
            error => error,
            branding => branding,
            s => context! {
                name => shop.name.clone(), phone => shop.phone.clone(), email => shop.email.clone(), address => shop.address.clone(),
                hours => shop.hours.clone(), time_zone => shop.time_zone.clone(), logo_url => shop.logo_url.clone(),
                primary_color => shop.primary_color.clone(), accent_color => shop.accent_color.clone(),
            }, ..layout
        },
    )
}

#[handler]
pub(crate) async fn settings(app: Data<&App>, req: &Request) -> Response {
    all(async {
        let s = Signed::from(&app, req).await?;
        let (ctx, layout) = s.shop(&app).await?;
        app.require(&ctx, Permission::ShopSettingsManage)
            .await
            .map_err(|e| render::error(&e, layout.clone()))?;
        let branding = ctx
            .features
            .has(pitwall_core::domain::Feature::CustomBranding);
        Ok::<_, Response>(settings_page(
            layout,
            &ctx.shop,
            branding,
            StatusCode::OK,
            None,
            flash(req),
        ))
    }
    .await)
}

#[handler]
pub(crate) async fn save_settings(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    all(async {
        let s = Signed::from(&app, req).await?;
        let form = FormData(form);
        s.check(&form)?;
        let (ctx, layout) = s.shop(&app).await?;
        let input = ShopProfileInput {
            name: form.get("name"),
            phone: form.opt("phone"),
            email: form.opt("email"),
            address: form.opt("address"),
            hours: form.opt("hours"),
            time_zone: form.get("time_zone"),
            logo_url: form.opt("logo_url"),
            primary_color: form.opt("primary_color"),
            accent_color: form.opt("accent_color"),
        };
        match shops::update_profile(&app, &ctx, &input).await {
            Ok(_) => Ok::<_, Response>(redirect("/app/settings?ok=saved")),
            Err(e) => match render::form_error(&e) {
                Some(msg) => {
                    let branding = ctx
                        .features
                        .has(pitwall_core::domain::Feature::CustomBranding);
                    Ok(settings_page(
                        layout,
                        &ctx.shop,
                        branding,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some(msg),
                        None,
                    ))
                }
                None => Err(render::error(&e, layout)),
            },
        }
    }
    .await)
}

async fn api_keys_page(app: &App, req: &Request, secret: Option<String>) -> Response {
    all(async {
        let s = Signed::from(app, req).await?;
        let (ctx, layout) = s.shop(app).await?;
        let keys = api_keys::list(app, &ctx, PageRequest::first(PageRequest::MAX_LIMIT))
            .await
            .map_err(|e| render::error(&e, layout.clone()))?;
        Ok::<_, Response>(render::ok(
            "api_keys.html",
            context! {
                ok => flash(req),
                secret => secret,
                keys => keys.items.iter().map(|k| context! {
                    id => k.id.to_string(), name => k.name.clone(), prefix => k.prefix.clone(),
                    last_used_at => k.last_used_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                    revoked_at => k.revoked_at.map(|t| t.to_rfc3339()),
                }).collect::<Vec<_>>(), ..layout
            },
        ))
    }
    .await)
}

#[handler]
pub(crate) async fn api_keys_list(app: Data<&App>, req: &Request) -> Response {
    api_keys_page(&app, req, None).await
}

#[handler]
pub(crate) async fn create_api_key(
    app: Data<&App>,
    req: &Request,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let created = async {
        let s = Signed::from(&app, req).await?;
        let form = FormData(form);
        s.check(&form)?;
        let (ctx, layout) = s.shop(&app).await?;
        api_keys::create(&app, &ctx, form.get("name"))
            .await
            .map_err(|e| render::error(&e, layout))
    }
    .await;
    match created {
        // The secret is shown in this answer only, never in a URL.
        Ok(k) => api_keys_page(&app, req, Some(k.secret)).await,
        Err(r) => r,
    }
}

#[handler]
pub(crate) async fn revoke_api_key(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let a = app.0.clone();
    shop_action(
        &app,
        req,
        form,
        "/app/api-keys?ok=revoked",
        |ctx, _| async move {
            let id: ApiKeyId = id.parse().map_err(|_| Error::NotFound("API key"))?;
            api_keys::revoke(&a, &ctx, id).await.map(|_| ())
        },
    )
    .await
}
