//! Page sessions: the cookie, the signed-in principal, CSRF and forms.

use minijinja::{Value, context};
use pitwall_core::auth::{Kind, csrf_ok, csrf_token};
use pitwall_core::domain::Permission;
use pitwall_core::{Actor, App, ShopCtx};
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::render;

pub(crate) const COOKIE: &str = "pitwall_session";

/// A form body as name/value pairs (checkbox lists repeat a name).
pub(crate) struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.trim().is_empty())
    }
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub(crate) fn cookie_token(req: &Request) -> Option<String> {
    let header = req.header("cookie")?;
    header.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
    })
}

pub(crate) fn set_cookie(app: &App, token: &str, max_age_secs: i64) -> String {
    let secure = if app.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// Forms sent before there is a session (sign in, accept, reset) have no
/// CSRF token to carry; a browser's Origin header must then name this host.
pub(crate) fn same_origin(req: &Request) -> bool {
    let Some(origin) = req.header("origin") else {
        return true;
    };
    let Some(host) = req.header("host") else {
        return false;
    };
    origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/') == host)
        .unwrap_or(false)
}

/// A signed-in user on a page, with what the layout needs.
pub(crate) struct Signed {
    pub actor: Actor,
    pub token: String,
    pub csrf: String,
}

impl Signed {
    /// The session from the cookie, or a redirect to the sign-in page.
    pub(crate) async fn from(app: &App, req: &Request) -> Result<Self, Response> {
        let Some(token) = cookie_token(req) else {
            return Err(render::redirect("/login"));
        };
        match pitwall_core::auth::authenticate(app, &token, Kind::Web).await {
            Ok(actor) => Ok(Self {
                csrf: csrf_token(&token),
                actor,
                token,
            }),
            Err(pitwall_core::Error::Unauthenticated(_)) => Err(render::redirect("/login")),
            Err(e) => Err(render::error(&e, Value::UNDEFINED)),
        }
    }

    /// Refuses a form post whose CSRF token is not this session's.
    pub(crate) fn check(&self, form: &FormData) -> Result<(), Response> {
        if csrf_ok(&self.token, form.get("csrf")) {
            Ok(())
        } else {
            Err(render::message(
                StatusCode::FORBIDDEN,
                Value::UNDEFINED,
                "Form expired",
                "This form is out of date. Go back, reload the page and try again.",
            ))
        }
    }

    /// The layout for pages outside a shop (admin console).
    pub(crate) fn layout(&self) -> Value {
        context! {
            nav => context! { admin => self.actor.platform_role.is_some() },
            user_name => self.actor.name.clone(),
            csrf => self.csrf.clone(),
        }
    }

    /// The layout inside a shop: navigation shows only what the role may use.
    pub(crate) async fn shop_layout(&self, app: &App, ctx: &ShopCtx) -> Value {
        context! {
            nav => context! {
                users => app.may(ctx, Permission::UsersView).await,
                roles => app.may(ctx, Permission::UsersView).await,
                settings => app.may(ctx, Permission::ShopSettingsManage).await,
                api_keys => app.may(ctx, Permission::ApiKeysManage).await,
                admin => self.actor.platform_role.is_some(),
            },
            shop_name => ctx.shop.name.clone(),
            user_name => self.actor.name.clone(),
            role => ctx.role.as_str(),
            csrf => self.csrf.clone(),
        }
    }

    /// The shop the session acts in, with its layout; or the page to show.
    pub(crate) async fn shop(&self, app: &App) -> Result<(ShopCtx, Value), Response> {
        match app.shop_ctx(&self.actor, None).await {
            Ok(ctx) => {
                let layout = self.shop_layout(app, &ctx).await;
                Ok((ctx, layout))
            }
            Err(pitwall_core::Error::NotFound(_)) if self.actor.platform_role.is_some() => {
                Err(render::redirect("/admin"))
            }
            Err(e) => Err(render::error(&e, self.layout())),
        }
    }
}

/// The confirmation named by `?ok=<code>`. Only fixed texts: a link cannot
/// make a page say something of its author's choosing.
pub(crate) fn flash(req: &Request) -> Option<&'static str> {
    let code = req
        .uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("ok="))?;
    Some(match code {
        "invited" => "Invitation sent.",
        "role" => "Role changed.",
        "removed" => "Removed from the shop.",
        "revoked" => "Revoked.",
        "saved" => "Saved.",
        "switched" => "Shop switched.",
        "created" => "Created.",
        "reset" => "Your password is changed. Sign in with it.",
        "retried" => "The job is queued again.",
        _ => return None,
    })
}
