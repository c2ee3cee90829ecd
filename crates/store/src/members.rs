//! Memberships (user × shop × role) and invitations, always within one shop.

use chrono::{DateTime, Utc};
use pitwall_domain::{Email, InvitationId, Role, ShopId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::entities::{invitation, membership, shop, user};
use crate::{InShop, Page, PageRequest, StoreError, now};

pub use invitation::Model as Invitation;
pub use membership::Model as Membership;

/// A member of a shop with the user's public details.
#[derive(Debug, Clone)]
pub struct Member {
    pub membership: Membership,
    pub user: user::Model,
}

pub async fn insert_membership(
    db: &impl ConnectionTrait,
    shop: ShopId,
    user: UserId,
    role: Role,
) -> Result<Membership, StoreError> {
    Ok(membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        shop_id: Set(shop.as_uuid()),
        user_id: Set(user.as_uuid()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

pub async fn membership(
    db: &impl ConnectionTrait,
    shop: ShopId,
    user: UserId,
) -> Result<Option<Membership>, StoreError> {
    Ok(membership::Entity::find()
        .in_shop(shop)
        .filter(membership::Column::UserId.eq(user.as_uuid()))
        .one(db)
        .await?)
}

/// The shops a user belongs to, with the role in each, by shop name.
pub async fn shops_of_user(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Vec<(Membership, shop::Model)>, StoreError> {
    let rows = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.as_uuid()))
        .all(db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|m| m.shop_id).collect();
    let shops = shop::Entity::find()
        .filter(shop::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let mut out: Vec<_> = rows
        .into_iter()
        .filter_map(|m| {
            let s = shops.iter().find(|s| s.id == m.shop_id)?.clone();
            Some((m, s))
        })
        .collect();
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(out)
}

pub async fn list_members(
    db: &impl ConnectionTrait,
    shop: ShopId,
    page: PageRequest,
) -> Result<Page<Member>, StoreError> {
    let mut q = membership::Entity::find()
        .in_shop(shop)
        .order_by_asc(membership::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(membership::Column::Id.gt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|m| m.user_id).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let members = rows
        .into_iter()
        .filter_map(|m| {
            let u = users.iter().find(|u| u.id == m.user_id)?.clone();
            Some(Member {
                membership: m,
                user: u,
            })
        })
        .collect();
    Ok(page.finish(members, |m: &Member| m.membership.id))
}

pub async fn count_members(db: &impl ConnectionTrait, shop: ShopId) -> Result<u64, StoreError> {
    Ok(membership::Entity::find().in_shop(shop).count(db).await?)
}

pub async fn count_members_with_role(
    db: &impl ConnectionTrait,
    shop: ShopId,
    role: Role,
) -> Result<u64, StoreError> {
    Ok(membership::Entity::find()
        .in_shop(shop)
        .filter(membership::Column::Role.eq(role.as_str()))
        .count(db)
        .await?)
}

pub async fn set_role(
    db: &impl ConnectionTrait,
    shop: ShopId,
    user: UserId,
    role: Role,
) -> Result<bool, StoreError> {
    let res = membership::Entity::update_many()
        .col_expr(membership::Column::Role, Expr::value(role.as_str()))
        .in_shop(shop)
        .filter(membership::Column::UserId.eq(user.as_uuid()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

pub async fn remove_membership(
    db: &impl ConnectionTrait,
    shop: ShopId,
    user: UserId,
) -> Result<bool, StoreError> {
    let res = membership::Entity::delete_many()
        .in_shop(shop)
        .filter(membership::Column::UserId.eq(user.as_uuid()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

pub struct NewInvitation<'a> {
    pub id: InvitationId,
    pub shop: ShopId,
    pub email: &'a Email,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_invitation(
    db: &impl ConnectionTrait,
    new: NewInvitation<'_>,
) -> Result<Invitation, StoreError> {
    Ok(invitation::ActiveModel {
        id: Set(new.id.as_uuid()),
        shop_id: Set(new.shop.as_uuid()),
        email: Set(new.email.as_str().to_owned()),
        role: Set(new.role.as_str().to_owned()),
        token_hash: Set(new.token_hash),
        invited_by: Set(new.invited_by.map(|u| u.as_uuid())),
        expires_at: Set(new.expires_at),
        accepted_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

/// Invitations not yet accepted, revoked or expired.
pub async fn pending_invitations(
    db: &impl ConnectionTrait,
    shop: ShopId,
    page: PageRequest,
) -> Result<Page<Invitation>, StoreError> {
    let mut q = invitation::Entity::find()
        .in_shop(shop)
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now()))
        .order_by_asc(invitation::Column::Id);
    if let Some(after) = page.after {
        q = q.filter(invitation::Column::Id.gt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |i| i.id))
}

pub async fn count_pending_invitations(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<u64, StoreError> {
    Ok(invitation::Entity::find()
        .in_shop(shop)
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now()))
        .count(db)
        .await?)
}

pub async fn invitation(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvitationId,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitation::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

pub async fn revoke_invitation(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvitationId,
) -> Result<bool, StoreError> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(Some(now())))
        .filter(invitation::Column::Id.eq(id.as_uuid()))
        .in_shop(shop)
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Looks an invitation up by the token in its link. The token names the shop,
/// so this is the one invitation query without a `ShopId`.
pub async fn invitation_by_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?)
}

/// Marks an invitation accepted if it is still open; false if someone got
/// there first (single use).
pub async fn mark_invitation_accepted(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvitationId,
) -> Result<bool, StoreError> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(Some(now())))
        .filter(invitation::Column::Id.eq(id.as_uuid()))
        .in_shop(shop)
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
