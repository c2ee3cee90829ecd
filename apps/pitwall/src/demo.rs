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
/// Answers the shop and a fresh POS key for it (shown once, like any key).
pub async fn ensure(app: &App) -> anyhow::Result<(ShopId, String)> {
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
    let key = pitwall_core::api_keys::create_for_shop(app, shop, "Demo POS", None).await?;
    let pos = pitwall_core::pos::authenticate(app, &key.secret).await?;
    let existing = pitwall_core::store::tickets::list(
        &app.db,
        shop,
        &Default::default(),
        pitwall_core::store::PageRequest::first(1),
    )
    .await?;
    if existing.items.is_empty() {
        seed_tickets(app, &pos, shop).await?;
    }
    Ok((shop, key.secret))
}

/// (number, first, last, phone, email, year, make, model, plate, services)
type DemoTicket = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    i32,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, f64, i64, &'static str, i64)],
);

const DEMO_TICKETS: &[DemoTicket] = &[
    (
        "10231",
        "Dana",
        "Reyes",
        "(512) 555-0123",
        Some("dana.reyes@example.com"),
        2019,
        "Honda",
        "Civic",
        "KRT-4821",
        &[
            (
                "Front brake pads and rotors",
                "recommended",
                1.5,
                12_000,
                "Brake pad set",
                6_499,
            ),
            (
                "Oil change",
                "approved",
                0.5,
                9_000,
                "Synthetic oil 5 qt",
                3_299,
            ),
        ],
    ),
    (
        "10232",
        "Marcus",
        "Lee",
        "512.555.0147",
        None,
        2016,
        "Ford",
        "F-150",
        "BXL-2290",
        &[(
            "Replace water pump",
            "pending",
            3.0,
            12_000,
            "Water pump",
            18_950,
        )],
    ),
    (
        "10233",
        "",
        "Okafor",
        "+1 512 555 0188",
        Some("okafor@example.com"),
        2021,
        "Toyota",
        "RAV4",
        "JWD-7714",
        &[
            (
                "60k mile service",
                "approved",
                2.0,
                12_000,
                "Service kit",
                8_900,
            ),
            (
                "Cabin air filter",
                "recommended",
                0.2,
                12_000,
                "Cabin filter",
                2_499,
            ),
        ],
    ),
    (
        "10234",
        "Priya",
        "Shah",
        "512-555-0102",
        Some("priya.shah@example.com"),
        2014,
        "Subaru",
        "Outback",
        "HPN-3306",
        &[(
            "Diagnose check-engine light",
            "approved",
            1.0,
            12_000,
            "Scan",
            0,
        )],
    ),
    (
        "10235",
        "Tom",
        "Brennan",
        "(512) 555-0166",
        None,
        2012,
        "Chevrolet",
        "Malibu",
        "CVD-9142",
        &[
            (
                "Battery replacement",
                "approved",
                0.5,
                12_000,
                "Battery H6",
                17_999,
            ),
            ("Wiper blades", "declined", 0.1, 12_000, "Wiper pair", 3_199),
        ],
    ),
    (
        "10236",
        "Ana",
        "Morales",
        "512 555 0190",
        Some("ana.m@example.com"),
        2020,
        "Mazda",
        "CX-5",
        "ZTR-5520",
        &[(
            "Tire rotation and balance",
            "pending",
            1.0,
            9_500,
            "Wheel weights",
            800,
        )],
    ),
    // The estimate for the approval walk-through: three recommended jobs.
    (
        "10237",
        "Jordan",
        "Kim",
        "(512) 555-0175",
        Some("jordan.kim@example.com"),
        2018,
        "Subaru",
        "Forester",
        "LMB-6403",
        &[
            (
                "Rear brake pads",
                "recommended",
                1.2,
                12_000,
                "Rear pad set",
                5_899,
            ),
            (
                "Wiper blades",
                "recommended",
                0.1,
                12_000,
                "Wiper pair",
                3_199,
            ),
            (
                "Coolant flush",
                "recommended",
                0.8,
                12_000,
                "Coolant 2 gal",
                3_800,
            ),
        ],
    ),
];

async fn seed_tickets(
    app: &App,
    pos: &pitwall_core::pos::PosCtx,
    shop: ShopId,
) -> anyhow::Result<()> {
    use pitwall_core::pos::{
        CustomerInput, LineItemInput, ServiceInput, TicketInput, VehicleInput,
    };
    let now = chrono::Utc::now();
    for (i, (number, first, last, phone, email, year, make, model, plate, services)) in
        DEMO_TICKETS.iter().enumerate()
    {
        let input = TicketInput {
            kind: if i == 3 { "estimate" } else { "workorder" }.into(),
            number: (*number).into(),
            customer: Some(CustomerInput {
                external_id: Some(format!("DEMO-C{i}")),
                first_name: Some((*first).to_owned()).filter(|f| !f.is_empty()),
                last_name: Some((*last).into()),
                phone: Some((*phone).into()),
                email: email.map(str::to_owned),
                // Jordan Kim reads Spanish: the approval walk-through shows it.
                locale: (*number == "10237").then(|| "es".to_owned()),
            }),
            vehicle: Some(VehicleInput {
                external_id: Some(format!("DEMO-V{i}")),
                vin: None,
                year: Some(*year),
                make: Some((*make).into()),
                model: Some((*model).into()),
                plate: Some((*plate).into()),
                mileage: Some(40_000 + 7_331 * i as i64),
            }),
            services: services
                .iter()
                .enumerate()
                .map(
                    |(j, (title, status, hours, rate, part, price))| ServiceInput {
                        external_id: format!("DEMO-S{i}-{j}"),
                        title: (*title).into(),
                        status: (*status).into(),
                        line_items: [
                            Some(LineItemInput {
                                kind: "labor".into(),
                                description: format!("Labor: {title}"),
                                quantity: *hours,
                                unit_price: *rate,
                                taxable: false,
                            }),
                            (*price > 0).then(|| LineItemInput {
                                kind: "part".into(),
                                description: (*part).into(),
                                quantity: 1.0,
                                unit_price: *price,
                                taxable: true,
                            }),
                        ]
                        .into_iter()
                        .flatten()
                        .collect(),
                    },
                )
                .collect(),
            tax_rate: 0.0825,
            promised_at: Some(now + chrono::Duration::hours(2 + i as i64)),
            closed: false,
            pos_updated_at: now,
        };
        pitwall_core::pos::put_ticket(app, pos, &format!("DEMO-RO-{number}"), &input, None).await?;
    }
    // A few tickets further along, set by the owner.
    let owner = identity::user_by_email(
        &app.db,
        &Email::parse("owner@demo.pitwall.test").map_err(|e| anyhow::anyhow!("{e}"))?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("demo owner missing"))?;
    let actor = pitwall_core::Actor {
        user_id: UserId::from_uuid(owner.id),
        name: owner.name.clone(),
        email: owner.email.clone(),
        platform_role: None,
        session_id: uuid::Uuid::nil(),
        session_shop: Some(shop),
    };
    let ctx = app.shop_ctx(&actor, Some(shop)).await?;
    let statuses = pitwall_core::statuses::list(app, &ctx, false).await?;
    let status = |label: &str| {
        statuses
            .iter()
            .find(|s| s.label == label)
            .map(|s| pitwall_core::domain::StatusId::from_uuid(s.id))
    };
    let tickets = pitwall_core::store::tickets::list(
        &app.db,
        shop,
        &Default::default(),
        pitwall_core::store::PageRequest::first(50),
    )
    .await?;
    for (t, (label, minutes)) in tickets.items.iter().zip([
        ("Ready for pickup", None),
        ("Waiting for parts", Some(240)),
        ("In shop", Some(90)),
        ("Checked in", None),
        ("Inspection complete", Some(30)),
    ]) {
        if let Some(s) = status(label) {
            pitwall_core::tickets::set_status(
                app,
                &ctx,
                pitwall_core::domain::TicketId::from_uuid(t.id),
                s,
                minutes,
            )
            .await?;
        }
    }
    Ok(())
}

async fn add_staff(app: &App, shop: ShopId, email: &str, role: Role) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = match identity::user_by_email(&app.db, &email).await? {
        Some(u) => UserId::from_uuid(u.id),
        None => {
            let id = UserId::new();
            let hash = app.passwords.hash(DEMO_PASSWORD).await?;
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
