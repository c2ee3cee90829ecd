//! `pitwall demo`: a demo shop with staff, reused on later runs.

use pitwall_core::App;
use pitwall_core::domain::net::ClientAddr;
use pitwall_core::domain::{PlatformRole, Role, ShopId};
use pitwall_core::model::PageRequest;
use pitwall_core::shops::{Creator, NewShopInput, create_platform_user, create_shop};

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
    let shop = match pitwall_core::operator::find_shop(app, DEMO_SLUG).await? {
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
        pitwall_core::shops::add_staff(app, shop, email, DEMO_PASSWORD, role).await?;
    }
    let key = pitwall_core::api_keys::create_for_shop(app, shop, "Demo POS", None).await?;
    let pos = pitwall_core::pos::authenticate(app, &key.secret).await?;
    let ctx = owner_ctx(app, shop).await?;
    let existing =
        pitwall_core::tickets::list(app, &ctx, Default::default(), PageRequest::first(1)).await?;
    if existing.items.is_empty() {
        seed_tickets(app, &pos, &ctx).await?;
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
    ctx: &pitwall_core::ShopCtx,
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
    let statuses = pitwall_core::statuses::list(app, ctx, false).await?;
    let status = |label: &str| {
        statuses
            .iter()
            .find(|s| s.label == label)
            .map(|s| pitwall_core::domain::StatusId::from_uuid(s.id))
    };
    let tickets =
        pitwall_core::tickets::list(app, ctx, Default::default(), PageRequest::first(50)).await?;
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
                ctx,
                pitwall_core::domain::TicketId::from_uuid(t.ticket.id),
                s,
                minutes,
            )
            .await?;
        }
    }
    Ok(())
}

/// The demo owner inside the demo shop, signed in the way staff sign in.
async fn owner_ctx(app: &App, shop: ShopId) -> anyhow::Result<pitwall_core::ShopCtx> {
    let session = pitwall_core::auth::login(
        app,
        "owner@demo.pitwall.test",
        DEMO_PASSWORD,
        ClientAddr::new(std::net::Ipv4Addr::LOCALHOST.into()),
        pitwall_core::auth::Kind::Api,
    )
    .await?;
    let actor =
        pitwall_core::auth::authenticate(app, &session.token, pitwall_core::auth::Kind::Api)
            .await?;
    let ctx = app.shop_ctx(&actor, Some(shop)).await?;
    pitwall_core::auth::logout(app, &session.token).await?;
    Ok(ctx)
}
