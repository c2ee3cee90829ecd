//! `pitwall demo`: a demo shop with staff, reused on later runs.

use pitwall_core::App;
use pitwall_core::domain::{Email, PlatformRole, Role, ShopId, UserId};
use pitwall_core::shops::{Creator, NewShopInput, create_platform_user, create_shop};
use pitwall_core::store::{identity, members, shops};

pub const DEMO_PASSWORD: &str = "pitwall-demo";
pub const DEMO_SLUG: &str = "demo-garage";

pub struct DemoLogin {
    pub email: &'static str,
    pub role: &'static str,
}

pub const LOGINS: &[DemoLogin] = &[
    DemoLogin {
        email: "owner@demo.pitwall.test",
        role: "owner",
    },
    DemoLogin {
        email: "advisor@demo.pitwall.test",
        role: "advisor",
    },
    DemoLogin {
        email: "tech@demo.pitwall.test",
        role: "technician",
    },
    DemoLogin {
        email: "parts@demo.pitwall.test",
        role: "parts",
    },
    DemoLogin {
        email: "admin@demo.pitwall.test",
        role: "platform admin",
    },
];

/// Creates the demo shop and its people, or leaves them as they are.
pub async fn ensure(app: &App) -> anyhow::Result<ShopId> {
    create_platform_user(
        app,
        "admin@demo.pitwall.test",
        DEMO_PASSWORD,
        PlatformRole::PlatformAdmin,
    )
    .await?;
    let shop = match shops::find_by_slug(&app.db, DEMO_SLUG).await? {
        Some(s) => ShopId::from_uuid(s.id),
        None => {
            let created = create_shop(
                app,
                Creator::Cli,
                NewShopInput {
                    name: "Demo Garage",
                    slug: DEMO_SLUG,
                    plan: "premium",
                    owner_email: "owner@demo.pitwall.test",
                    owner_password: Some(DEMO_PASSWORD),
                    time_zone: Some("America/Chicago"),
                },
            )
            .await?;
            ShopId::from_uuid(created.shop.id)
        }
    };
    for (email, role) in [
        ("advisor@demo.pitwall.test", Role::Advisor),
        ("tech@demo.pitwall.test", Role::Technician),
        ("parts@demo.pitwall.test", Role::Parts),
    ] {
        add_staff(app, shop, email, role).await?;
    }
    Ok(shop)
}

async fn add_staff(app: &App, shop: ShopId, email: &str, role: Role) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = match identity::user_by_email(&app.db, &email).await? {
        Some(u) => UserId::from_uuid(u.id),
        None => {
            let id = UserId::new();
            let hash = pitwall_core::tokens::hash_password(DEMO_PASSWORD).await?;
            let name = email
                .as_str()
                .split('@')
                .next()
                .unwrap_or("staff")
                .to_owned();
            identity::insert_user(&app.db, id, &email, &name, Some(hash), None).await?;
            id
        }
    };
    if members::membership(&app.db, shop, user).await?.is_none() {
        members::insert_membership(&app.db, shop, user, role).await?;
        pitwall_authz::rules::assign_role(&app.db, shop, user, role).await?;
        app.authz.refresh().await?;
    }
    Ok(())
}
