//! Users, sessions (API tokens and page sessions), password resets and
//! failed-login counting. Tokens are stored only as SHA-256 hashes.

use chrono::{DateTime, Utc};
use pitwall_domain::{Email, PlatformRole, ShopId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::entities::{login_failure, password_reset, session, user};
use crate::{StoreError, now};

pub use password_reset::Model as PasswordReset;
pub use session::Model as Session;
pub use user::Model as User;

pub async fn insert_user(
    db: &impl ConnectionTrait,
    id: UserId,
    email: &Email,
    name: &str,
    password_hash: Option<String>,
    platform_role: Option<PlatformRole>,
) -> Result<User, StoreError> {
    let at = now();
    Ok(user::ActiveModel {
        id: Set(id.as_uuid()),
        email: Set(email.as_str().to_owned()),
        name: Set(name.to_owned()),
        password_hash: Set(password_hash),
        platform_role: Set(platform_role.map(|r| r.as_str().to_owned())),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await?)
}

pub async fn user_by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}

pub async fn user_by_id(db: &impl ConnectionTrait, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find_by_id(id.as_uuid()).one(db).await?)
}

/// Several users at once (names on lists).
pub async fn users_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<User>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    id: UserId,
    hash: String,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(now()))
        .filter(user::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_platform_role(
    db: &impl ConnectionTrait,
    id: UserId,
    role: Option<PlatformRole>,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(
            user::Column::PlatformRole,
            Expr::value(role.map(|r| r.as_str().to_owned())),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(now()))
        .filter(user::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// `Authorization: Bearer` token for the JSON API.
    Api,
    /// Cookie session for the pages.
    Web,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Api => "api",
            SessionKind::Web => "web",
        }
    }
}

pub async fn insert_session(
    db: &impl ConnectionTrait,
    user: UserId,
    token_hash: String,
    kind: SessionKind,
    shop: Option<ShopId>,
    expires_at: DateTime<Utc>,
) -> Result<Session, StoreError> {
    let at = now();
    Ok(session::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.as_uuid()),
        token_hash: Set(token_hash),
        kind: Set(kind.as_str().to_owned()),
        shop_id: Set(shop.map(|s| s.as_uuid())),
        created_at: Set(at),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(at),
    }
    .insert(db)
    .await?)
}

/// A session that is neither expired nor revoked, with its user.
pub async fn live_session(
    db: &impl ConnectionTrait,
    token_hash: &str,
    kind: SessionKind,
) -> Result<Option<(Session, User)>, StoreError> {
    let found = session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::Kind.eq(kind.as_str()))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now()))
        .one(db)
        .await?;
    let Some(s) = found else { return Ok(None) };
    let Some(u) = user::Entity::find_by_id(s.user_id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some((s, u)))
}

/// Whether the session with this row id is still live (not revoked, not
/// expired): asked again by long-lived streams.
pub async fn session_is_live(
    db: &impl ConnectionTrait,
    id: uuid::Uuid,
) -> Result<bool, StoreError> {
    Ok(session::Entity::find_by_id(id)
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now()))
        .one(db)
        .await?
        .is_some())
}

pub async fn revoke_session(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<bool, StoreError> {
    let res = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now())))
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Ends every session of a user (after a password reset).
pub async fn revoke_user_sessions(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<(), StoreError> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Some(now())))
        .filter(session::Column::UserId.eq(user.as_uuid()))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_session_shop(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    shop: Option<ShopId>,
) -> Result<(), StoreError> {
    session::Entity::update_many()
        .col_expr(
            session::Column::ShopId,
            Expr::value(shop.map(|s| s.as_uuid())),
        )
        .filter(session::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_password_reset(
    db: &impl ConnectionTrait,
    user: UserId,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<PasswordReset, StoreError> {
    Ok(password_reset::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.as_uuid()),
        token_hash: Set(token_hash),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

/// The user a reset token belongs to, if it is unused and unexpired;
/// changes nothing.
pub async fn live_password_reset(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<UserId>, StoreError> {
    Ok(password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now()))
        .one(db)
        .await?
        .map(|r| UserId::from_uuid(r.user_id)))
}

/// Ends every reset link of a user that is still open (a newer request or
/// a successful reset makes them void).
pub async fn end_password_resets(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<(), StoreError> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now())))
        .filter(password_reset::Column::UserId.eq(user.as_uuid()))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Marks a reset token used and returns its user, if it was live. The update
/// is conditional, so two concurrent uses cannot both succeed.
pub async fn consume_password_reset(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<UserId>, StoreError> {
    let Some(r) = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let res = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now())))
        .filter(password_reset::Column::Id.eq(r.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then(|| UserId::from_uuid(r.user_id)))
}

/// Counts one attempt under `key` (a sign-in, a reset request), before the
/// work it asks for; answers the row's id.
pub async fn record_attempt(db: &impl ConnectionTrait, key: &str) -> Result<i64, StoreError> {
    Ok(login_failure::ActiveModel {
        id: sea_orm::NotSet,
        key: Set(key.to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await?
    .id)
}

/// The attempts under `key` since `since` other than `except`: how many,
/// and when the latest was.
pub async fn attempts_since(
    db: &impl ConnectionTrait,
    key: &str,
    since: DateTime<Utc>,
    except: i64,
) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    let others = || {
        login_failure::Entity::find()
            .filter(login_failure::Column::Key.eq(key))
            .filter(login_failure::Column::CreatedAt.gt(since))
            .filter(login_failure::Column::Id.ne(except))
    };
    let n = others().count(db).await?;
    let latest = others()
        .order_by_desc(login_failure::Column::CreatedAt)
        .one(db)
        .await?
        .map(|r| r.created_at);
    Ok((n, latest))
}

/// Removes attempts by id (a sign-in that succeeded does not count).
pub async fn forget_attempts(db: &impl ConnectionTrait, ids: &[i64]) -> Result<(), StoreError> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn clear_login_failures(db: &impl ConnectionTrait, key: &str) -> Result<(), StoreError> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}
