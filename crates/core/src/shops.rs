//! Creating shops and editing their profile.

use pitwall_domain::{
    Email, Feature, Password, Permission, PlatformRole, Role, ShopId, ShopLifecycle, ShopProfile,
    ShopProfileInput, Slug, UserId,
};
use pitwall_store::{audit, identity, members, plans, shops};
use serde_json::json;

use crate::members::invite_in_txn;
use crate::{Actor, App, Error, Result, ShopCtx};

/// Who is creating a shop: support in the console, or an operator at the CLI.
#[derive(Debug, Clone, Copy)]
pub enum Creator<'a> {
    Platform(&'a Actor),
    Cli,
}

pub struct NewShopInput<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub plan: &'a str,
    pub owner_email: &'a str,
    /// With a password the owner can sign in at once; without, they get an
    /// invitation e-mail.
    pub owner_password: Option<&'a str>,
    pub time_zone: Option<&'a str>,
}

pub struct CreatedShop {
    pub shop: shops::Shop,
    pub owner_invited: bool,
}

pub async fn create_shop(
    app: &App,
    by: Creator<'_>,
    input: NewShopInput<'_>,
) -> Result<CreatedShop> {
    let actor = match by {
        Creator::Platform(a) => {
            a.require_platform()?;
            Some(a.user_id)
        }
        Creator::Cli => None,
    };
    let name =
        pitwall_domain::values::required_text(input.name, 120).map_err(Error::field("name"))?;
    let slug = Slug::parse(input.slug).map_err(Error::field("slug"))?;
    let owner_email = Email::parse(input.owner_email).map_err(Error::field("owner_email"))?;
    let password = input
        .owner_password
        .filter(|p| !p.is_empty())
        .map(Password::parse)
        .transpose()
        .map_err(Error::field("owner_password"))?;
    let time_zone =
        pitwall_domain::shop::parse_time_zone(input.time_zone.unwrap_or("America/Chicago"))
            .map_err(Error::field("time_zone"))?;
    if plans::get(&app.db, input.plan).await?.is_none() {
        return Err(Error::invalid(
            "plan",
            format!("is not a plan: {:?}", input.plan),
        ));
    }
    if shops::find_by_slug(&app.db, slug.as_str()).await?.is_some() {
        return Err(Error::Conflict {
            field: "slug".into(),
            message: "is already taken".into(),
        });
    }
    let existing_owner = identity::user_by_email(&app.db, &owner_email).await?;
    let password_hash = match &password {
        Some(p) if existing_owner.is_none() => Some(app.passwords.hash(p.expose()).await?),
        _ => None,
    };

    let txn = pitwall_store::begin_write(&app.db).await?;
    let shop_id = ShopId::new();
    let shop = shops::insert(
        &txn,
        shops::NewShop {
            id: shop_id,
            name: &name,
            slug: &slug,
            plan_code: input.plan,
            lifecycle: ShopLifecycle::Trial,
            trial_ends_at: Some(
                app.config.clock.now() + chrono::Duration::days(app.config.trial_days),
            ),
            time_zone: &time_zone,
        },
    )
    .await?;
    pitwall_store::statuses::seed_defaults(&txn, shop_id).await?;
    crate::inspections::sheets::seed(&txn, shop_id).await?;
    let owner_invited = match (existing_owner, password_hash) {
        (Some(user), _) => {
            let user_id = UserId::from_uuid(user.id);
            crate::members::join(&txn, shop_id, user_id, Role::Owner).await?;
            false
        }
        (None, Some(hash)) => {
            let user_id = UserId::new();
            let display = owner_email.local_part().to_owned();
            identity::insert_user(&txn, user_id, &owner_email, &display, Some(hash), None).await?;
            crate::members::join(&txn, shop_id, user_id, Role::Owner).await?;
            false
        }
        (None, None) => {
            invite_in_txn(app, &txn, shop_id, &name, &owner_email, Role::Owner, actor).await?;
            true
        }
    };
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(shop_id),
            actor,
            action: "shop.create",
            target: Some(slug.as_str().to_owned()),
            details: json!({ "plan": input.plan, "owner_invited": owner_invited }),
        },
    )
    .await?;
    txn.commit().await?;
    app.authz.refresh().await?;
    app.cache.clear();
    app.jobs.nudge();
    Ok(CreatedShop {
        shop,
        owner_invited,
    })
}

/// Adds a staff member with a password they can sign in with at once (the
/// demo and operators' scripts; staff otherwise join by invitation). An
/// existing user keeps their password; an existing member is left as is.
pub async fn add_staff(
    app: &App,
    shop: ShopId,
    email: &str,
    password: &str,
    role: Role,
) -> Result<UserId> {
    let email = Email::parse(email).map_err(Error::field("email"))?;
    let password = Password::parse(password).map_err(Error::field("password"))?;
    let existing = identity::user_by_email(&app.db, &email).await?;
    let hash = match existing {
        Some(_) => None,
        None => Some(app.passwords.hash(password.expose()).await?),
    };
    let txn = pitwall_store::begin_write(&app.db).await?;
    shops::get(&txn, shop)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let user = match existing {
        Some(u) => UserId::from_uuid(u.id),
        None => {
            let id = UserId::new();
            let name = email.local_part().to_owned();
            identity::insert_user(&txn, id, &email, &name, hash, None).await?;
            id
        }
    };
    let joined = members::membership(&txn, shop, user).await?.is_none();
    if joined {
        crate::members::join(&txn, shop, user, role).await?;
        audit::record(
            &txn,
            audit::NewAudit {
                shop: Some(shop),
                actor: None,
                action: "member.add",
                target: Some(user.to_string()),
                details: json!({ "role": role.as_str() }),
            },
        )
        .await?;
    }
    txn.commit().await?;
    if joined {
        app.authz.refresh().await?;
        app.cache.clear();
    }
    Ok(user)
}

/// Creates a platform admin or support user (CLI), or promotes an existing
/// user.
pub async fn create_platform_user(
    app: &App,
    email: &str,
    password: &str,
    role: PlatformRole,
) -> Result<UserId> {
    let email = Email::parse(email).map_err(Error::field("email"))?;
    let password = Password::parse(password).map_err(Error::field("password"))?;
    let hash = app.passwords.hash(password.expose()).await?;
    let txn = pitwall_store::begin_write(&app.db).await?;
    let id = match identity::user_by_email(&txn, &email).await? {
        Some(u) => {
            let id = UserId::from_uuid(u.id);
            identity::set_password_hash(&txn, id, hash).await?;
            identity::set_platform_role(&txn, id, Some(role)).await?;
            id
        }
        None => {
            let id = UserId::new();
            let name = email.local_part().to_owned();
            identity::insert_user(&txn, id, &email, &name, Some(hash), Some(role)).await?;
            id
        }
    };
    audit::record(
        &txn,
        audit::NewAudit {
            shop: None,
            actor: None,
            action: "platform_user.create",
            target: Some(id.to_string()),
            details: json!({ "role": role.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Updates the shop's name, contact, hours, time zone and branding. Branding
/// (logo, colours) is a plan feature; changing it without the feature is
/// refused, but a downgraded shop can still edit the rest.
pub async fn update_profile(
    app: &App,
    ctx: &ShopCtx,
    input: &ShopProfileInput<'_>,
) -> Result<shops::Shop> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_writable()?;
    let profile = ShopProfile::parse(input).map_err(|(f, e)| Error::invalid(f, e.0))?;
    let current = shops::profile_of(&ctx.shop);
    let branding_changed = profile.logo_url != current.logo_url
        || profile.primary_color != current.primary_color
        || profile.accent_color != current.accent_color;
    if branding_changed && profile.uses_branding() {
        ctx.require_feature(Feature::CustomBranding)?;
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    let saved = shops::update_profile(&txn, ctx.shop_id(), &profile)
        .await?
        .ok_or(Error::NotFound("shop"))?;
    audit::record(
        &txn,
        audit::NewAudit {
            shop: Some(ctx.shop_id()),
            actor: Some(ctx.user_id),
            action: "shop.update_profile",
            target: None,
            details: json!({ "branding_changed": branding_changed }),
        },
    )
    .await?;
    txn.commit().await?;
    app.cache.clear();
    Ok(saved)
}

/// The shops an actor belongs to, with their role in each.
pub async fn my_shops(app: &App, actor: &Actor) -> Result<Vec<(shops::Shop, Role)>> {
    Ok(members::shops_of_user(&app.db, actor.user_id)
        .await?
        .into_iter()
        .filter_map(|(m, s)| Some((s, Role::parse(&m.role)?)))
        .collect())
}
