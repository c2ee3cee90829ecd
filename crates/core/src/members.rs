//! A shop's staff: listing, inviting, accepting, changing roles, removing.

use chrono::Utc;
use pitwall_domain::{Email, InvitationId, Password, Permission, Quota, Role, ShopId, UserId};
use pitwall_store::identity::SessionKind;
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{Page, PageRequest, audit, identity, members, shops};
use serde_json::json;

use crate::auth::{NewSession, start_session};
use crate::tokens::{hash_token, new_token};
use crate::{App, Error, Result, ShopCtx, mail};

pub async fn list(app: &App, ctx: &ShopCtx, page: PageRequest) -> Result<Page<members::Member>> {
    app.require(ctx, Permission::UsersView).await?;
    Ok(members::list_members(&app.db, ctx.shop_id(), page).await?)
}

pub async fn list_invitations(
    app: &App,
    ctx: &ShopCtx,
    page: PageRequest,
) -> Result<Page<members::Invitation>> {
    app.require(ctx, Permission::UsersInvite).await?;
    Ok(members::pending_invitations(&app.db, ctx.shop_id(), page).await?)
}

/// Invites someone to the shop by e-mail with a role no higher than the
/// inviter's own. Counts against the plan's user quota.
pub async fn invite(
    app: &App,
    ctx: &ShopCtx,
    email: &str,
    role: &str,
) -> Result<members::Invitation> {
    app.require(ctx, Permission::UsersInvite).await?;
    ctx.require_writable()?;
    let email = Email::parse(email).map_err(Error::field("email"))?;
    let role = Role::parse(role).ok_or_else(|| Error::invalid("role", "is not a role"))?;
    if !ctx.role.may_assign(role) {
        return Err(Error::invalid(
            "role",
            format!("a {} cannot invite a {}", ctx.role, role),
        ));
    }
    if let Some(user) = identity::user_by_email(&app.db, &email).await?
        && members::membership(&app.db, ctx.shop_id(), UserId::from_uuid(user.id))
            .await?
            .is_some()
    {
        return Err(Error::Conflict {
            field: "email".into(),
            message: "already belongs to this shop".into(),
        });
    }
    if let Some(limit) = ctx.quota(Quota::Users) {
        let used = members::count_members(&app.db, ctx.shop_id()).await?
            + members::count_pending_invitations(&app.db, ctx.shop_id()).await?;
        if used as i64 >= limit {
            return Err(Error::QuotaExceeded {
                quota: Quota::Users,
                limit,
            });
        }
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    let inv = invite_in_txn(
        app,
        &txn,
        ctx.shop_id(),
        &ctx.shop.name,
        &email,
        role,
        Some(ctx.user_id),
    )
    .await?;
    txn.commit().await?;
    app.jobs.nudge();
    Ok(inv)
}

/// Writes the invitation, its e-mail and the e-mail's job in the caller's
/// transaction.
pub(crate) async fn invite_in_txn(
    app: &App,
    txn: &impl ConnectionTrait,
    shop: ShopId,
    shop_name: &str,
    email: &Email,
    role: Role,
    by: Option<UserId>,
) -> Result<members::Invitation> {
    let token = new_token("");
    let inv = members::insert_invitation(
        txn,
        members::NewInvitation {
            id: InvitationId::new(),
            shop,
            email,
            role,
            token_hash: hash_token(&token),
            invited_by: by,
            expires_at: Utc::now() + app.config.invitation_ttl,
        },
    )
    .await?;
    let link = format!("{}/invitations/{token}", app.config.base_url);
    let subject = format!("You are invited to {shop_name} on Pitwall");
    let intro = format!("You have been invited to join {shop_name} on Pitwall as {role}.");
    let outro = format!(
        "The link works once and expires in {} days.",
        app.config.invitation_ttl.num_days()
    );
    mail::queue_link_mail(
        txn,
        mail::LinkMail {
            shop: Some(shop),
            kind: "invitation",
            to: email.as_str(),
            subject: &subject,
            intro: &intro,
            action: "Accept the invitation",
            link: &link,
            outro: &outro,
        },
    )
    .await?;
    audit::record(
        txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: by,
            action: "invitation.create",
            target: Some(inv.id.to_string()),
            details: json!({ "role": role.as_str() }),
        },
    )
    .await?;
    Ok(inv)
}

pub async fn revoke_invitation(app: &App, ctx: &ShopCtx, id: InvitationId) -> Result<()> {
    app.require(ctx, Permission::UsersInvite).await?;
    if !members::revoke_invitation(&app.db, ctx.shop_id(), id).await? {
        return Err(Error::NotFound("invitation"));
    }
    audit::record(
        &app.db,
        audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action: "invitation.revoke",
            target: Some(id.to_string()),
            details: json!({}),
        },
    )
    .await?;
    Ok(())
}

/// What the accept page shows before the invitee answers.
pub struct InvitationPreview {
    pub shop_name: String,
    pub email: String,
    pub role: Role,
    /// The address already has an account: accepting needs its password.
    pub existing_user: bool,
}

async fn open_invitation(app: &App, token: &str) -> Result<members::Invitation> {
    let inv = members::invitation_by_token(&app.db, &hash_token(token))
        .await?
        .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > Utc::now())
        .ok_or(Error::NotFound(
            "invitation (it may have expired or been used)",
        ))?;
    Ok(inv)
}

pub async fn preview_invitation(app: &App, token: &str) -> Result<InvitationPreview> {
    let inv = open_invitation(app, token).await?;
    let shop = shops::get(&app.db, ShopId::from_uuid(inv.shop_id))
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let email = Email::parse(&inv.email).map_err(|e| Error::Internal(e.0))?;
    Ok(InvitationPreview {
        shop_name: shop.name,
        existing_user: identity::user_by_email(&app.db, &email).await?.is_some(),
        email: inv.email,
        role: Role::parse(&inv.role).ok_or(Error::Internal("invitation role".into()))?,
    })
}

/// Makes a user a member of a shop with a role: the membership and the
/// policy's role in the caller's transaction, so neither exists without the
/// other. Callers refresh the policy after committing.
pub(crate) async fn join(
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    user: UserId,
    role: Role,
) -> Result<()> {
    members::insert_membership(txn, shop, user, role).await?;
    pitwall_authz::rules::assign_role(txn, shop, user, role).await?;
    Ok(())
}

/// Accepts an invitation: creates the account (name and password) or, for an
/// existing account, checks its password; then joins the shop and signs in.
pub async fn accept_invitation(
    app: &App,
    token: &str,
    name: &str,
    password: &str,
    kind: SessionKind,
) -> Result<NewSession> {
    let inv = open_invitation(app, token).await?;
    let shop = ShopId::from_uuid(inv.shop_id);
    let role = Role::parse(&inv.role).ok_or(Error::Internal("invitation role".into()))?;
    let email = Email::parse(&inv.email).map_err(|e| Error::Internal(e.0))?;
    let existing = identity::user_by_email(&app.db, &email).await?;
    let new_user = match &existing {
        Some(u) => {
            if !app
                .passwords
                .verify(password, u.password_hash.as_deref())
                .await?
            {
                return Err(Error::invalid(
                    "password",
                    "is not the password of this account",
                ));
            }
            None
        }
        None => {
            let name =
                pitwall_domain::values::required_text(name, 120).map_err(Error::field("name"))?;
            let password = Password::parse(password).map_err(Error::field("password"))?;
            Some((name, app.passwords.hash(password.expose()).await?))
        }
    };
    let txn = pitwall_store::begin_write(&app.db).await?;
    if !members::mark_invitation_accepted(&txn, shop, InvitationId::from_uuid(inv.id)).await? {
        return Err(Error::NotFound(
            "invitation (it may have expired or been used)",
        ));
    }
    let user_id = match (existing, new_user) {
        (Some(u), _) => UserId::from_uuid(u.id),
        (None, Some((name, hash))) => {
            let id = UserId::new();
            identity::insert_user(&txn, id, &email, &name, Some(hash), None).await?;
            id
        }
        (None, None) => return Err(Error::Internal("invitation accept state".into())),
    };
    if members::membership(&txn, shop, user_id).await?.is_none() {
        join(&txn, shop, user_id, role).await?;
    }
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop),
            actor: Some(user_id),
            action: "invitation.accept",
            target: Some(inv.id.to_string()),
            details: json!({ "role": role.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    app.authz.refresh().await?;
    app.cache.clear();
    start_session(app, user_id, kind, Some(shop)).await
}

async fn member_role(app: &App, shop: ShopId, user: UserId) -> Result<Role> {
    let m = members::membership(&app.db, shop, user)
        .await?
        .ok_or(Error::NotFound("user"))?;
    Role::parse(&m.role).ok_or(Error::Internal("membership role".into()))
}

/// The shop must keep at least one owner.
async fn ensure_not_last_owner(app: &App, shop: ShopId, user: UserId) -> Result<()> {
    if member_role(app, shop, user).await? == Role::Owner
        && members::count_members_with_role(&app.db, shop, Role::Owner).await? <= 1
    {
        return Err(Error::Conflict {
            field: "role".into(),
            message: "the shop's last owner cannot be changed or removed".into(),
        });
    }
    Ok(())
}

pub async fn change_role(
    app: &App,
    ctx: &ShopCtx,
    user: UserId,
    role: &str,
) -> Result<members::Member> {
    app.require(ctx, Permission::UsersManage).await?;
    ctx.require_writable()?;
    let role = Role::parse(role).ok_or_else(|| Error::invalid("role", "is not a role"))?;
    let current = member_role(app, ctx.shop_id(), user).await?;
    if !ctx.role.may_assign(role) || !ctx.role.may_assign(current) {
        return Err(Error::invalid(
            "role",
            format!("a {} cannot make someone {}", ctx.role, role),
        ));
    }
    if role != Role::Owner {
        ensure_not_last_owner(app, ctx.shop_id(), user).await?;
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    members::set_role(&txn, ctx.shop_id(), user, role).await?;
    pitwall_authz::rules::assign_role(&txn, ctx.shop_id(), user, role).await?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action: "member.change_role",
            target: Some(user.to_string()),
            details: json!({ "from": current.as_str(), "to": role.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    app.authz.refresh().await?;
    app.cache.clear();
    let m = members::membership(&app.db, ctx.shop_id(), user)
        .await?
        .ok_or(Error::NotFound("user"))?;
    Ok(members::Member {
        membership: m,
        user: app.user(user).await?,
    })
}

pub async fn remove(app: &App, ctx: &ShopCtx, user: UserId) -> Result<()> {
    app.require(ctx, Permission::UsersManage).await?;
    ctx.require_writable()?;
    let current = member_role(app, ctx.shop_id(), user).await?;
    if !ctx.role.may_assign(current) {
        return Err(Error::PermissionDenied(Permission::UsersManage));
    }
    ensure_not_last_owner(app, ctx.shop_id(), user).await?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    members::remove_membership(&txn, ctx.shop_id(), user).await?;
    pitwall_authz::rules::remove_user(&txn, ctx.shop_id(), user).await?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action: "member.remove",
            target: Some(user.to_string()),
            details: json!({ "role": current.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    app.authz.refresh().await?;
    app.cache.clear();
    Ok(())
}

/// One member by user id, within the shop.
pub async fn get(app: &App, ctx: &ShopCtx, user: UserId) -> Result<members::Member> {
    app.require(ctx, Permission::UsersView).await?;
    let m = members::membership(&app.db, ctx.shop_id(), user)
        .await?
        .ok_or(Error::NotFound("user"))?;
    Ok(members::Member {
        membership: m,
        user: app.user(user).await?,
    })
}

/// Accept with a web session (pages) — kept apart so the page adapter does
/// not need to know session kinds.
pub async fn accept_invitation_web(
    app: &App,
    token: &str,
    name: &str,
    password: &str,
) -> Result<NewSession> {
    accept_invitation(app, token, name, password, SessionKind::Web).await
}

/// The name a person's actions are recorded under.
pub async fn display_name(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    user: UserId,
) -> Result<String> {
    Ok(pitwall_store::identity::user_by_id(db, user)
        .await?
        .map(|u| u.name)
        .unwrap_or_else(|| "Staff".to_owned()))
}
