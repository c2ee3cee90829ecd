//! The admin console's billing tools: the Billing section of a shop's page
//! (Stripe ids, status, trial, comp, past due, the last Stripe events), the
//! forms support uses on it (comp plan, end it, extend the trial) and the
//! platform admins' page of Stripe Prices and SMS overage rules.
//!
//! Every form calls the same use case as `/api/admin/v1` does
//! (`pitwall_core::billing`); the rules and the platform role checks live
//! there, not here.

use minijinja::{Value, context};
use pitwall_core::domain::{PlatformRole, ShopId};
use pitwall_core::{App, Error, billing};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::admin::{platform, platform_post, shop_action};
use super::{Notice, Page, finish, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, Signed, flash};

/// The Billing section of a shop's page in the console.
pub(crate) async fn section(
    app: &App,
    s: &Signed,
    shop: ShopId,
    trial_ends_at: Option<chrono::DateTime<chrono::Utc>>,
) -> pitwall_core::Result<Value> {
    let v = billing::admin_view(app, &s.actor, shop).await?;
    let b = v.billing.as_ref();
    Ok(context! {
        configured => app.config().stripe.is_some(),
        customer => b.and_then(|b| b.stripe_customer_id.clone()),
        subscription => b.and_then(|b| b.stripe_subscription_id.clone()),
        status => b.and_then(|b| b.status.clone()),
        price_id => b.and_then(|b| b.price_id.clone()),
        interval => b.and_then(|b| b.billing_interval.clone()),
        period_end => b.and_then(|b| b.current_period_end).map(render::day),
        cancel_at_period_end => b.is_some_and(|b| b.cancel_at_period_end),
        trial_ends_at => trial_ends_at.map(render::minute),
        comp => b.is_some_and(|b| b.comp),
        comp_reason => b.and_then(|b| b.comp_reason.clone()),
        past_due_since => b.and_then(|b| b.past_due_since).map(render::minute),
        grace_ends_at => v.grace_ends_at.map(render::minute),
        events => v.events.iter().map(|e| context! {
            id => e.id.clone(),
            event_type => e.event_type.clone(),
            received_at => render::minute(e.received_at),
            processed_at => e.processed_at.map(render::minute),
            result => e.result.clone(),
            detail => e.detail.clone(),
            attempts => e.attempts,
        }).collect::<Vec<_>>(),
    })
}

/// Support gives the shop a plan outside Stripe.
#[handler]
pub(crate) async fn give_comp(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            let plan = form.get("plan").trim();
            // An empty choice would read as "end the comp" to the use case;
            // on this form it is a missing plan.
            if plan.is_empty() {
                return Err(Error::invalid("plan", "is required"));
            }
            billing::set_comp(&app, &s.actor, id, Some(plan), form.get("reason")).await
        })
        .await,
    )
}

/// Support ends the comp plan; the subscription's next event decides again.
#[handler]
pub(crate) async fn end_comp(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            billing::set_comp(&app, &s.actor, id, None, form.get("reason")).await
        })
        .await,
    )
}

/// Support extends the shop's trial by a number of days.
#[handler]
pub(crate) async fn extend_trial(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        shop_action(&app, req, &id, &form, async |s, id| {
            let days = form
                .get("days")
                .trim()
                .parse::<i64>()
                .map_err(|_| Error::invalid("days", "must be a whole number of days"))?;
            billing::extend_trial(&app, &s.actor, id, days, form.get("reason"))
                .await
                .map(drop)
        })
        .await,
    )
}

async fn prices_page(app: &App, s: &Signed, notice: Notice) -> Page {
    let layout = s.layout();
    let rows = billing::prices(app, &s.actor).await.or_page(&layout)?;
    let mut plans: Vec<Value> = Vec::new();
    let mut codes: Vec<&str> = Vec::new();
    for r in &rows {
        if !codes.contains(&r.plan.as_str()) {
            codes.push(&r.plan);
        }
    }
    for code in codes {
        let of_plan: Vec<_> = rows.iter().filter(|r| r.plan == code).collect();
        plans.push(context! {
            code,
            sms_overage => of_plan.first().map(|r| r.sms_overage.as_str()),
            prices => of_plan.iter().map(|r| context! {
                interval => r.interval.as_str(),
                price_id => r.price_id.clone(),
            }).collect::<Vec<_>>(),
        });
    }
    Ok(render::page(
        notice.status,
        "admin_prices.html",
        context! {
            plans,
            configured => app.config().stripe.is_some(),
            may_edit => s.actor.platform_role == Some(PlatformRole::PlatformAdmin),
            ..notice.with(&layout)
        },
    ))
}

/// Every plan's Stripe Price per interval and its SMS overage rule.
#[handler]
pub(crate) async fn prices(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let s = platform(&app, req).await?;
            prices_page(&app, &s, Notice::ok(flash(req))).await
        }
        .await,
    )
}

/// A platform admin sets one plan's price for one interval and the plan's
/// SMS overage rule.
#[handler]
pub(crate) async fn set_price(
    app: Data<&App>,
    req: &Request,
    Path(plan): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let s = platform_post(&app, req, &form).await?;
            let result = billing::set_price(
                &app,
                &s.actor,
                &plan,
                form.get("interval"),
                form.get("price_id"),
                form.opt("sms_overage"),
            )
            .await;
            finish(
                result,
                "/admin/billing/prices?ok=saved",
                &s.layout(),
                async |n| prices_page(&app, &s, n).await,
            )
            .await
        }
        .await,
    )
}
