//! What each role may do in a shop, and the owner's editor for it.

use pitwall_domain::{Permission, Role, ShopId};
use pitwall_store::audit;
use serde_json::json;

use crate::{App, Error, Result, ShopCtx};

#[derive(Debug, Clone)]
pub struct RolePermissions {
    pub role: Role,
    pub permissions: Vec<Permission>,
    pub customised: bool,
}

pub async fn list(app: &App, ctx: &ShopCtx) -> Result<Vec<RolePermissions>> {
    app.require(ctx, Permission::UsersView).await?;
    effective(app, ctx.shop_id()).await
}

/// Support's view of a shop's effective policy.
pub async fn list_for_support(
    app: &App,
    actor: &crate::Actor,
    shop: ShopId,
) -> Result<Vec<RolePermissions>> {
    actor.require_platform()?;
    pitwall_store::shops::get(&app.db, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    effective(app, shop).await
}

async fn effective(app: &App, shop: ShopId) -> Result<Vec<RolePermissions>> {
    let mut out = Vec::new();
    for role in Role::ALL {
        out.push(RolePermissions {
            role: *role,
            permissions: app.authz.role_permissions(shop, *role).await?,
            customised: pitwall_authz::rules::role_is_customised(&app.db, shop, *role).await?,
        });
    }
    Ok(out)
}

/// Sets exactly what `role` may do in the shop. The owner always keeps the
/// permissions that manage roles and staff, so a shop cannot lock itself out.
pub async fn set_permissions(
    app: &App,
    ctx: &ShopCtx,
    role: &str,
    names: &[String],
) -> Result<RolePermissions> {
    app.require(ctx, Permission::RolesManage).await?;
    ctx.require_writable()?;
    let role = Role::parse(role).ok_or_else(|| Error::invalid("role", "is not a role"))?;
    let mut wanted = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let p = Permission::parse(name).ok_or_else(|| {
            Error::invalid(
                format!("permissions/{i}"),
                format!("is not a permission: {name:?}"),
            )
        })?;
        if !wanted.contains(&p) {
            wanted.push(p);
        }
    }
    for locked in role.locked_permissions() {
        if !wanted.contains(locked) {
            return Err(Error::invalid(
                "permissions",
                format!("the {role} role must keep {locked}"),
            ));
        }
    }
    let before = app.authz.role_permissions(ctx.shop_id(), role).await?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    pitwall_authz::rules::set_role_permissions(&txn, ctx.shop_id(), role, &wanted).await?;
    let names = |ps: &[Permission]| ps.iter().map(|p| p.as_str()).collect::<Vec<_>>();
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action: "role.set_permissions",
            target: Some(role.as_str().to_owned()),
            details: json!({ "before": names(&before), "after": names(&wanted) }),
        },
    )
    .await?;
    txn.commit().await?;
    app.authz.refresh().await?;
    app.cache.clear();
    Ok(RolePermissions {
        role,
        permissions: app.authz.role_permissions(ctx.shop_id(), role).await?,
        customised: pitwall_authz::rules::role_is_customised(&app.db, ctx.shop_id(), role).await?,
    })
}
