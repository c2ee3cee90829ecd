//! The shop's profile: name, contact, hours, time zone and branding.

use std::collections::BTreeMap;

use minijinja::{Value, context};
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
            let s = &shop.ctx.shop;
            let values = context! {
                name => s.name.clone(), phone => s.phone.clone(), email => s.email.clone(),
                address => s.address.clone(), hours => s.hours.clone(), time_zone => s.time_zone.clone(),
                logo_url => s.logo_url.clone(), primary_color => s.primary_color.clone(),
                accent_color => s.accent_color.clone(),
            };
            Ok(settings_page(&shop, values, Notice::ok(flash(req))))
        }
        .await,
    )
}

/// `values` are the shop's, or what was just sent when it had a problem.
fn settings_page(shop: &InShop, values: Value, notice: Notice) -> Response {
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
    render::page(
        notice.status,
        "settings.html",
        context! { s => values, branding_note, ..notice.with(&shop.layout) },
    )
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
        Ok(settings_page(&shop, sent, n))
    })
    .await
}
