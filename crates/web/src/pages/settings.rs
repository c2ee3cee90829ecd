//! The shop's profile (name, contact, hours, time zone, branding), its
//! customer page, and its repair-order workflow (time targets, the vehicle
//! status each stage sets, hand-off e-mails).

use std::collections::BTreeMap;

use minijinja::{Value, context};
use pitwall_core::domain::locale::Locale;
use pitwall_core::domain::workflow::Stage;
use pitwall_core::domain::{Feature, Permission, ShopProfileInput};
use pitwall_core::{App, Error, shops};
use poem::web::Data;
use poem::{Request, Response, handler};

use super::{Notice, Page, finish, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

const FIELDS: [&str; 9] = [
    "name",
    "phone",
    "email",
    "address",
    "hours",
    "time_zone",
    "logo_url",
    "primary_color",
    "accent_color",
];

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            // Only those who may change the settings see the form at all.
            app.require(&shop.ctx, Permission::ShopSettingsManage)
                .await
                .or_page(&shop.layout)?;
            Ok(settings_page(&app, &shop, current_values(&shop), Notice::ok(flash(req))).await)
        }
        .await,
    )
}

/// `values` are the shop's, or what was just sent when it had a problem.
async fn settings_page(app: &App, shop: &InShop, values: Value, notice: Notice) -> Response {
    let workflow = workflow_values(app, shop).await;
    // The words come from the same refusal saving would give.
    let branding_note = match shop.ctx.features.require(Feature::CustomBranding) {
        Err(Error::FeatureNotInPlan {
            feature,
            cheapest_plan,
        }) => Some(render::not_in_plan(
            feature.describe(),
            cheapest_plan.as_deref(),
        )),
        _ => None,
    };
    let sh = &shop.ctx.shop;
    render::page(
        notice.status,
        "settings.html",
        context! {
            s => values, branding_note, workflow,
            customer_page => context! {
                ttl_hours => sh.link_ttl_hours, locale => sh.locale.clone(),
                min => pitwall_core::links::MIN_TTL_HOURS, max => pitwall_core::links::MAX_TTL_HOURS,
                locales => [Locale::En, Locale::Es].iter().map(|l| context! { code => l.as_str(), name => l.name() }).collect::<Vec<_>>(),
            },
            ..notice.with(&shop.layout)
        },
    )
}

/// The customer page's settings: how long links work, the language.
#[handler]
pub(crate) async fn save_customer_page(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let result = match form.get("link_ttl_hours").trim().parse::<i32>() {
                Ok(h) => pitwall_core::links::set_ttl(&app, &shop.ctx, h, form.get("locale")).await,
                Err(_) => Err(Error::invalid(
                    "link_ttl_hours",
                    "must be a whole number of hours",
                )),
            };
            finish(result, "/app/settings?ok=saved", &shop.layout, async |n| {
                Ok(settings_page(&app, &shop, current_values(&shop), n).await)
            })
            .await
        }
        .await,
    )
}

/// The workflow form's values, for a shop with repair orders.
async fn workflow_values(app: &App, shop: &InShop) -> Option<Value> {
    if !shop.ctx.features.has(Feature::RepairOrders) {
        return None;
    }
    let w = pitwall_core::workflow::settings(app, &shop.ctx)
        .await
        .ok()?;
    let statuses = pitwall_core::statuses::list(app, &shop.ctx, false)
        .await
        .unwrap_or_default();
    Some(context! {
        qualification_minutes => w.qualification_minutes,
        parts_minutes => w.parts_minutes,
        approval_reminder_minutes => w.approval_reminder_minutes,
        handoff_emails => w.handoff_emails,
        stages => Stage::ALL.iter().map(|stage| context! {
            name => stage.as_str(),
            label => super::tickets::stage_label(*stage),
            status => w.stage_statuses.get(stage).map(|id| id.to_string()),
        }).collect::<Vec<_>>(),
        statuses => statuses.iter().map(|st| context! {
            id => st.id.to_string(), label => st.label.clone(),
        }).collect::<Vec<_>>(),
    })
}

/// A typed number of minutes; empty is none.
fn minutes(form: &FormData, field: &str) -> pitwall_core::Result<Option<i32>> {
    form.opt(field)
        .map(|m| {
            m.trim().parse::<i32>().map_err(|_| {
                Error::invalid(
                    field,
                    "must be a whole number of minutes, or empty for none",
                )
            })
        })
        .transpose()
}

/// The repair-order workflow's settings, as `PUT /api/v1/workflow-settings`
/// takes them: each stage's select is `stage_{stage}` (empty: sets none).
#[handler]
pub(crate) async fn save_workflow(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let result = async {
                let mut stage_statuses = BTreeMap::new();
                for stage in Stage::ALL {
                    let field = format!("stage_{stage}");
                    if let Some(id) = form.opt(&field) {
                        let id = id.trim().parse::<uuid::Uuid>().map_err(|_| {
                            Error::invalid(
                                format!("stage_statuses/{stage}"),
                                "is not a status of this shop",
                            )
                        })?;
                        stage_statuses.insert(stage.as_str().to_owned(), id);
                    }
                }
                let input = pitwall_core::workflow::WorkflowSettingsInput {
                    qualification_minutes: minutes(&form, "qualification_minutes")?,
                    parts_minutes: minutes(&form, "parts_minutes")?,
                    approval_reminder_minutes: minutes(&form, "approval_reminder_minutes")?,
                    stage_statuses,
                    handoff_emails: form.get("handoff_emails") == "on",
                };
                pitwall_core::workflow::save_settings(&app, &shop.ctx, input).await
            }
            .await;
            finish(result, "/app/settings?ok=saved", &shop.layout, async |n| {
                Ok(settings_page(&app, &shop, current_values(&shop), n).await)
            })
            .await
        }
        .await,
    )
}

fn current_values(shop: &InShop) -> Value {
    let s = &shop.ctx.shop;
    context! {
        name => s.name.clone(), phone => s.phone.clone(), email => s.email.clone(),
        address => s.address.clone(), hours => s.hours.clone(), time_zone => s.time_zone.clone(),
        logo_url => s.logo_url.clone(), primary_color => s.primary_color.clone(),
        accent_color => s.accent_color.clone(),
    }
}

#[handler]
pub(crate) async fn save(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(save_settings(&app, req, &form).await)
}

async fn save_settings(app: &App, req: &Request, form: &FormData) -> Page {
    let shop = Signed::posted(app, req, form).await?.in_shop(app).await?;
    let input = ShopProfileInput {
        name: form.get("name"),
        phone: form.opt("phone"),
        email: form.opt("email"),
        address: form.opt("address"),
        hours: form.opt("hours"),
        time_zone: form.get("time_zone"),
        logo_url: form.opt("logo_url"),
        primary_color: form.opt("primary_color"),
        accent_color: form.opt("accent_color"),
    };
    let result = shops::update_profile(app, &shop.ctx, &input).await;
    finish(result, "/app/settings?ok=saved", &shop.layout, async |n| {
        let sent: BTreeMap<&str, String> = FIELDS
            .iter()
            .map(|f| (*f, form.get(f).to_owned()))
            .collect();
        let sent = Value::from(sent);
        Ok(settings_page(app, &shop, sent, n).await)
    })
    .await
}
