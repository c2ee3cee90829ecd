//! Signing in and out, sessions, and password reset.

use chrono::Utc;
use pitwall_domain::net::ClientAddr;
use pitwall_domain::{Email, Password, ShopId, UserId};
use pitwall_store::identity::{self, SessionKind};

use crate::tokens::{fingerprint, hash_password, hash_token, new_token, verify_password};
use crate::{Actor, App, Error, Result, mail};

pub use identity::SessionKind as Kind;

/// Failed logins allowed per account and per address in the window.
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u64 = 30;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

/// A new session; `token` is shown to the client once and never stored.
pub struct NewSession {
    pub token: String,
    pub user_id: UserId,
    pub expires_at: chrono::DateTime<Utc>,
}

/// Checks e-mail and password, rate-limited per account and per client
/// address. The same answer for an unknown e-mail and a wrong password.
pub async fn login(
    app: &App,
    email: &str,
    password: &str,
    client: ClientAddr,
    kind: SessionKind,
) -> Result<NewSession> {
    let email = Email::parse(email).map_err(Error::field("email"))?;
    if password.is_empty() {
        return Err(Error::invalid("password", "is required"));
    }
    let account_key = format!("acct:{}", fingerprint(email.as_str()));
    let address_key = format!("addr:{}", fingerprint(&client.limiter_key()));
    let since = Utc::now() - chrono::Duration::minutes(FAILURE_WINDOW_MINUTES);
    if identity::login_failures_since(&app.db, &account_key, since).await?
        >= MAX_FAILURES_PER_ACCOUNT
        || identity::login_failures_since(&app.db, &address_key, since).await?
            >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(Error::RateLimited(
            "too many failed sign-ins; try again in 15 minutes",
        ));
    }
    let user = identity::user_by_email(&app.db, &email).await?;
    let ok = verify_password(
        password,
        user.as_ref().and_then(|u| u.password_hash.as_deref()),
    )
    .await?;
    let Some(user) = user.filter(|_| ok) else {
        identity::record_login_failure(&app.db, &account_key).await?;
        identity::record_login_failure(&app.db, &address_key).await?;
        return Err(Error::Unauthenticated("wrong e-mail or password"));
    };
    identity::clear_login_failures(&app.db, &account_key).await?;
    start_session(app, UserId::from_uuid(user.id), kind, None).await
}

pub(crate) async fn start_session(
    app: &App,
    user: UserId,
    kind: SessionKind,
    shop: Option<ShopId>,
) -> Result<NewSession> {
    let token = new_token(match kind {
        SessionKind::Api => "pt_",
        SessionKind::Web => "pw_",
    });
    let ttl = match kind {
        SessionKind::Api => app.config.api_token_ttl,
        SessionKind::Web => app.config.web_session_ttl,
    };
    let expires_at = Utc::now() + ttl;
    identity::insert_session(&app.db, user, hash_token(&token), kind, shop, expires_at).await?;
    Ok(NewSession {
        token,
        user_id: user,
        expires_at,
    })
}

/// The actor behind a token, if the token is live.
pub async fn authenticate(app: &App, token: &str, kind: SessionKind) -> Result<Actor> {
    let hash = hash_token(token);
    let kind_key = match kind {
        SessionKind::Api => "api",
        SessionKind::Web => "web",
    };
    let version = app.authz.version();
    if let Some(actor) = app.cache.session(&hash, kind_key, version) {
        return Ok(actor);
    }
    let Some((session, user)) = identity::live_session(&app.db, &hash, kind).await? else {
        return Err(Error::Unauthenticated(
            "sign in first: the token is missing, expired or revoked",
        ));
    };
    let actor = Actor {
        user_id: UserId::from_uuid(user.id),
        name: user.name,
        email: user.email,
        platform_role: user
            .platform_role
            .as_deref()
            .and_then(pitwall_domain::PlatformRole::parse),
        session_id: session.id,
        session_shop: session.shop_id.map(ShopId::from_uuid),
    };
    app.cache.put_session(&hash, kind_key, version, &actor);
    Ok(actor)
}

pub async fn logout(app: &App, token: &str) -> Result<()> {
    identity::revoke_session(&app.db, &hash_token(token)).await?;
    app.cache.clear();
    Ok(())
}

/// Switches the session's current shop; the actor must belong to it.
pub async fn switch_shop(app: &App, actor: &Actor, shop: ShopId) -> Result<crate::ShopCtx> {
    let ctx = app.shop_ctx(actor, Some(shop)).await?;
    identity::set_session_shop(&app.db, actor.session_id, Some(shop)).await?;
    app.cache.clear();
    Ok(ctx)
}

/// Sends a reset link if the address belongs to a user. Answers the same
/// either way, so the form does not reveal who has an account.
pub async fn request_password_reset(app: &App, email: &str) -> Result<()> {
    let email = Email::parse(email).map_err(Error::field("email"))?;
    let Some(user) = identity::user_by_email(&app.db, &email).await? else {
        return Ok(());
    };
    let token = new_token("");
    let txn = pitwall_store::begin_write(&app.db).await?;
    identity::insert_password_reset(
        &txn,
        UserId::from_uuid(user.id),
        hash_token(&token),
        Utc::now() + app.config.password_reset_ttl,
    )
    .await?;
    let link = format!("{}/reset-password/{token}", app.config.base_url);
    mail::queue_link_mail(
        &txn,
        mail::LinkMail {
            shop: None,
            kind: "password_reset",
            to: email.as_str(),
            subject: "Reset your Pitwall password",
            intro: "Someone asked to reset the password of your Pitwall account.",
            action: "Choose a new password",
            link: &link,
            outro: "The link works once, for one hour. If you did not ask for it, ignore this e-mail.",
        },
    )
    .await?;
    txn.commit().await?;
    app.jobs.nudge();
    Ok(())
}

/// Sets a new password with a reset token and ends every other session.
pub async fn reset_password(app: &App, token: &str, password: &str) -> Result<()> {
    let password = Password::parse(password).map_err(Error::field("password"))?;
    let hash = hash_password(password.expose()).await?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    let Some(user) = identity::consume_password_reset(&txn, &hash_token(token)).await? else {
        return Err(Error::NotFound(
            "reset link (it may have expired or been used)",
        ));
    };
    identity::set_password_hash(&txn, user, hash).await?;
    identity::revoke_user_sessions(&txn, user).await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(())
}

/// The CSRF token for a page session: derived from the session token, so it
/// needs no storage and no other site can compute it (it cannot read the
/// cookie). Every form post must carry it.
pub fn csrf_token(session_token: &str) -> String {
    hash_token(&format!("csrf:{session_token}"))
}

/// Constant-time comparison of a submitted CSRF token.
pub fn csrf_ok(session_token: &str, submitted: &str) -> bool {
    let expected = csrf_token(session_token);
    expected.len() == submitted.len()
        && expected
            .bytes()
            .zip(submitted.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
