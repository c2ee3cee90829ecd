//! Signing in and out, sessions, and password reset.

use chrono::Utc;
use pitwall_domain::net::ClientAddr;
use pitwall_domain::{Email, Password, ShopId, UserId};
use pitwall_store::identity::{self, SessionKind};

use crate::tokens::{fingerprint, hash_token, new_token};
use crate::{Actor, App, Error, Result, mail};

pub use identity::SessionKind as Kind;

/// Sign-in attempts that go through at once, per account from one address
/// and per address, within the window; past them the address slows down.
pub const FREE_ATTEMPTS_PER_ACCOUNT: u64 = 5;
pub const FREE_ATTEMPTS_PER_ADDRESS: u64 = 30;
pub const ATTEMPT_WINDOW_MINUTES: i64 = 15;
/// Reset requests per account and per address within the window.
pub const RESETS_PER_ACCOUNT: u64 = 3;
pub const RESETS_PER_ADDRESS: u64 = 10;
pub const RESET_WINDOW_MINUTES: i64 = 60;

/// How long an address waits before its next attempt once `previous`
/// attempts in the window used up `free`: 5 s, doubling with each further
/// attempt, at most 15 minutes. Slowing the address down (never the
/// account) means a guesser cannot lock a known user out for everyone.
pub fn backoff(previous: u64, free: u64) -> Option<chrono::Duration> {
    let over = previous.checked_sub(free)?;
    let secs = 5i64.saturating_mul(1i64 << over.min(10));
    Some(chrono::Duration::seconds(secs.min(15 * 60)))
}

/// A new session; `token` is shown to the client once and never stored.
pub struct NewSession {
    pub token: String,
    pub user_id: UserId,
    pub expires_at: chrono::DateTime<Utc>,
}

/// Checks e-mail and password. The same answer for an unknown e-mail and
/// a wrong password. The attempt is counted before the password is
/// checked, so a burst of guesses sent at once cannot all slip past the
/// limit while their hashes are being computed; past the free attempts
/// the address (this account from it, or the address overall) waits
/// longer and longer (`backoff`), while other addresses still sign in.
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
    let address = fingerprint(&client.limiter_key());
    let pair_key = format!("acct:{}:{address}", fingerprint(email.as_str()));
    let address_key = format!("addr:{address}");
    let pair_attempt = identity::record_attempt(&app.db, &pair_key).await?;
    let address_attempt = identity::record_attempt(&app.db, &address_key).await?;
    let since = Utc::now() - chrono::Duration::minutes(ATTEMPT_WINDOW_MINUTES);
    for (key, attempt, free) in [
        (&pair_key, pair_attempt, FREE_ATTEMPTS_PER_ACCOUNT),
        (&address_key, address_attempt, FREE_ATTEMPTS_PER_ADDRESS),
    ] {
        let (previous, latest) = identity::attempts_since(&app.db, key, since, attempt).await?;
        if let (Some(wait), Some(latest)) = (backoff(previous, free), latest)
            && latest + wait > Utc::now()
        {
            return Err(Error::RateLimited(
                "too many failed sign-ins from your address; wait a minute and try again",
            ));
        }
    }
    let user = identity::user_by_email(&app.db, &email).await?;
    let ok = app
        .passwords
        .verify(
            password,
            user.as_ref().and_then(|u| u.password_hash.as_deref()),
        )
        .await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(Error::Unauthenticated("wrong e-mail or password"));
    };
    // A success is not a failure of the address, and forgives this
    // account's earlier typos from here (not the address's other misses).
    identity::forget_attempts(&app.db, &[address_attempt]).await?;
    identity::clear_login_failures(&app.db, &pair_key).await?;
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
    if let Some(actor) = app.cache.session(&hash, kind_key) {
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
    app.cache.put_session(&hash, kind_key, &actor);
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

/// Sends a reset link if the address belongs to a user. Answers the same,
/// after the same work, either way, so neither the answer nor its timing
/// tells who has an account: the request is counted (per address and per
/// e-mail address, whether or not it has an account) and everything that
/// depends on the account happens after the answer. A new link ends the
/// user's older ones.
pub async fn request_password_reset(app: &App, email: &str, client: ClientAddr) -> Result<()> {
    let email = Email::parse(email).map_err(Error::field("email"))?;
    let since = Utc::now() - chrono::Duration::minutes(RESET_WINDOW_MINUTES);
    for (key, limit) in [
        (
            format!("reset_acct:{}", fingerprint(email.as_str())),
            RESETS_PER_ACCOUNT,
        ),
        (
            format!("reset_addr:{}", fingerprint(&client.limiter_key())),
            RESETS_PER_ADDRESS,
        ),
    ] {
        let attempt = identity::record_attempt(&app.db, &key).await?;
        if identity::attempts_since(&app.db, &key, since, attempt)
            .await?
            .0
            >= limit
        {
            return Err(Error::RateLimited(
                "too many password reset requests; wait an hour and try again",
            ));
        }
    }
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = send_password_reset(&app, &email).await {
            tracing::error!(error = %e, "could not send a password reset");
        }
    });
    Ok(())
}

async fn send_password_reset(app: &App, email: &Email) -> Result<()> {
    let Some(user) = identity::user_by_email(&app.db, email).await? else {
        return Ok(());
    };
    let user = UserId::from_uuid(user.id);
    let token = new_token("");
    let txn = pitwall_store::begin_write(&app.db).await?;
    identity::end_password_resets(&txn, user).await?;
    identity::insert_password_reset(
        &txn,
        user,
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

/// Sets a new password with a reset token and ends every other session
/// and every other reset link of the user. The token is checked before the
/// new password is hashed: a guessed token costs no hashing.
pub async fn reset_password(app: &App, token: &str, password: &str) -> Result<()> {
    let password = Password::parse(password).map_err(Error::field("password"))?;
    let gone = || Error::NotFound("reset link (it may have expired or been used)");
    let token_hash = hash_token(token);
    if identity::live_password_reset(&app.db, &token_hash)
        .await?
        .is_none()
    {
        return Err(gone());
    }
    let hash = app.passwords.hash(password.expose()).await?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    // Consumed conditionally: of two uses at once, one wins.
    let Some(user) = identity::consume_password_reset(&txn, &token_hash).await? else {
        return Err(gone());
    };
    identity::set_password_hash(&txn, user, hash).await?;
    identity::revoke_user_sessions(&txn, user).await?;
    identity::end_password_resets(&txn, user).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_slows_down_past_its_free_attempts() {
        assert_eq!(backoff(4, 5), None);
        assert_eq!(backoff(5, 5), Some(chrono::Duration::seconds(5)));
        assert_eq!(backoff(6, 5), Some(chrono::Duration::seconds(10)));
        assert_eq!(backoff(8, 5), Some(chrono::Duration::seconds(40)));
        assert_eq!(backoff(500, 5), Some(chrono::Duration::minutes(15)));
    }
}
