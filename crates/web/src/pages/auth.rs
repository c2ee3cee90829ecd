//! Signing in and out, password reset and accepting an invitation: the
//! pages used before there is a session.

use minijinja::{Value, context};
use pitwall_core::auth::{self, Kind};
use pitwall_core::domain::Password;
use pitwall_core::{App, Error, members};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::Notice;
use crate::render::{self, redirect};
use crate::session::{
    FormData, Signed, client_addr, cookie_token, cross_site, flash, redirect_with_session,
    same_origin,
};

#[handler]
pub(crate) async fn root(app: Data<&App>, req: &Request) -> Response {
    match Signed::from(&app, req).await {
        Ok(_) => redirect("/app"),
        Err(_) => redirect("/login"),
    }
}

fn login_page(notice: Notice, email: &str) -> Response {
    render::page(
        notice.status,
        "login.html",
        context! { email, ..notice.with(&Value::UNDEFINED) },
    )
}

#[handler]
pub(crate) async fn login_form(app: Data<&App>, req: &Request) -> Response {
    if Signed::from(&app, req).await.is_ok() {
        return redirect("/app");
    }
    login_page(Notice::ok(flash(req)), "")
}

/// Ends the session this browser had before a new one replaces it, so that
/// an old cookie (perhaps someone else's on a shared computer) does not
/// stay live in the database.
async fn end_previous_session(app: &App, req: &Request) {
    if let Some(old) = cookie_token(req)
        && let Err(e) = auth::logout(app, old).await
    {
        tracing::warn!(error = %e, "could not end the previous session");
    }
}

#[handler]
pub(crate) async fn login(app: Data<&App>, req: &Request, form: FormData) -> Response {
    if !same_origin(&app, req) {
        return cross_site();
    }
    let email = form.get("email");
    match auth::login(
        &app,
        email,
        form.get("password"),
        client_addr(req),
        Kind::Web,
    )
    .await
    {
        Ok(session) => {
            end_previous_session(&app, req).await;
            redirect_with_session(&app, Some(&session.token), "/app")
        }
        // The one error of sign-in that belongs on its form as it is.
        Err(Error::Unauthenticated(why)) => login_page(
            Notice::problem(render::Problem {
                status: StatusCode::UNAUTHORIZED,
                message: format!("Could not sign in: {why}."),
            }),
            email,
        ),
        Err(e) => match render::form_error(&e) {
            Some(p) => login_page(Notice::problem(p), email),
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

#[handler]
pub(crate) async fn logout(app: Data<&App>, req: &Request, form: FormData) -> Response {
    match Signed::posted(&app, req, &form).await {
        Ok(s) => {
            if let Err(e) = auth::logout(&app, &s.token).await {
                return render::error(&e, s.layout());
            }
        }
        // A session that is already gone (the answer would send you to sign
        // in) needs only its cookie cleared. A live one with a bad CSRF
        // token stays signed in.
        Err(refusal) if refusal.status() != StatusCode::SEE_OTHER => return refusal,
        Err(_) => {}
    }
    redirect_with_session(&app, None, "/login")
}

fn forgot_page(notice: Notice) -> Response {
    render::page(notice.status, "forgot.html", notice.with(&Value::UNDEFINED))
}

#[handler]
pub(crate) fn forgot_form() -> Response {
    forgot_page(Notice::ok(None))
}

#[handler]
pub(crate) async fn forgot(app: Data<&App>, req: &Request, form: FormData) -> Response {
    if !same_origin(&app, req) {
        return cross_site();
    }
    match auth::request_password_reset(&app, form.get("email"), client_addr(req)).await {
        // The same answer whether or not the address has an account.
        Ok(()) => render::message(
            StatusCode::OK,
            Value::UNDEFINED,
            "Check your e-mail",
            "If an account exists for that address, we sent it a link to choose a new password. The link works once, for one hour.",
        ),
        Err(e) => match render::form_error(&e) {
            Some(p) => forgot_page(Notice::problem(p)),
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

fn reset_page(notice: Notice) -> Response {
    render::page(
        notice.status,
        "reset.html",
        context! { min_password => Password::MIN_LEN, ..notice.with(&Value::UNDEFINED) },
    )
}

/// The token is only checked on submit: checking it here would need a use
/// case that looks without consuming, and a stale link fails clearly then.
#[handler]
pub(crate) fn reset_form() -> Response {
    reset_page(Notice::ok(None))
}

#[handler]
pub(crate) async fn reset(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    form: FormData,
) -> Response {
    if !same_origin(&app, req) {
        return cross_site();
    }
    match auth::reset_password(&app, &token, form.get("password")).await {
        Ok(()) => redirect("/login?ok=reset"),
        Err(e) => match render::form_error(&e) {
            Some(p) => reset_page(Notice::problem(p)),
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}

async fn accept_page(app: &App, token: &str, notice: Notice, name: &str) -> Response {
    match members::preview_invitation(app, token).await {
        Ok(p) => render::page(
            notice.status,
            "accept.html",
            context! {
                shop => p.shop_name,
                email => p.email,
                invited_role => p.role.as_str(),
                existing_user => p.existing_user,
                min_password => Password::MIN_LEN,
                name,
                ..notice.with(&Value::UNDEFINED)
            },
        ),
        Err(e) => render::error(&e, Value::UNDEFINED),
    }
}

#[handler]
pub(crate) async fn accept_form(app: Data<&App>, Path(token): Path<String>) -> Response {
    accept_page(&app, &token, Notice::ok(None), "").await
}

#[handler]
pub(crate) async fn accept(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    form: FormData,
) -> Response {
    if !same_origin(&app, req) {
        return cross_site();
    }
    let name = form.get("name");
    match members::accept_invitation_web(&app, &token, name, form.get("password")).await {
        Ok(session) => {
            end_previous_session(&app, req).await;
            redirect_with_session(&app, Some(&session.token), "/app")
        }
        Err(e) => match render::form_error(&e) {
            Some(p) => accept_page(&app, &token, Notice::problem(p), name).await,
            None => render::error(&e, Value::UNDEFINED),
        },
    }
}
