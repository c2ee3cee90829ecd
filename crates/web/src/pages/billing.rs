//! The owner's billing page: plan, status, next invoice, trial, SMS usage,
//! and the buttons that go to Stripe (Checkout, customer portal). The same
//! use cases as `/api/v1/billing`.

use minijinja::context;
use pitwall_core::{App, billing};
use poem::web::Data;
use poem::{Request, Response, handler};

use super::{Notice, Page, refused, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed};

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let back = req.uri().query().unwrap_or_default();
            let from_checkout = back
                .split('&')
                .any(|kv| kv == "checkout=success")
                .then_some("success");
            billing_page(&app, &shop, Notice::ok(None), from_checkout).await
        }
        .await,
    )
}

async fn billing_page(
    app: &App,
    shop: &InShop,
    notice: Notice,
    from_checkout: Option<&str>,
) -> Page {
    let o = billing::overview(app, &shop.ctx)
        .await
        .or_page(&shop.layout)?;
    let s = &o.summary;
    // The online-payments card, for plans that have them.
    let payments = match pitwall_core::payments::payment_account(app, &shop.ctx).await {
        Ok(a) => Some(context! {
            mode => a.mode.as_str(),
            account_id => a.account_id,
            charges_enabled => a.charges_enabled,
            details_submitted => a.details_submitted,
        }),
        Err(_) => None,
    };
    let mut page = render::page(
        notice.status,
        "billing.html",
        context! {
            checkout => from_checkout,
            payments,
            plan_name => s.plan_name.clone(),
            lifecycle => s.lifecycle.as_str().replace('_', " "),
            status => s.status.clone(),
            interval => s.interval.clone(),
            trial_days_left => s.trial_days_left,
            trial_ended => s.trial_ended,
            trial_ends => s.trial_ends_at.map(render::day),
            grace_ends => s.grace_ends_at.map(render::day),
            next_invoice => s.next_invoice_at.map(render::day),
            cancel_at_period_end => s.cancel_at_period_end,
            comp => s.comp,
            configured => s.configured,
            sms_used => o.sms_used,
            sms_included => o.sms_included,
            sms_overage => o.sms_overage.as_str(),
            sms_overage_reported => o.sms_overage_reported,
            subscribed => o.subscribed,
            has_customer => o.has_customer,
            plans => o.plans.iter().map(|p| context! {
                code => p.code.clone(), name => p.name.clone(), current => p.current,
                price => render::money(p.monthly_price_cents, "USD"),
                intervals => p.intervals.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            ..notice.with(&shop.layout)
        },
    );
    // The forms post here and are redirected to Stripe's own pages; the
    // site-wide `form-action 'self'` would stop that redirect.
    if let Some(stripe) = &app.config().stripe {
        render::allow_forms_to(&mut page, &stripe.page_origins());
    }
    Ok(page)
}

/// Stripe's pages are on another site: a 303 to them.
fn away(url: &str) -> Response {
    Response::builder()
        .status(poem::http::StatusCode::SEE_OTHER)
        .header("location", url)
        .finish()
}

#[handler]
pub(crate) async fn start_checkout(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            match billing::start_checkout(&app, &shop.ctx, form.get("plan"), form.opt("interval"))
                .await
            {
                Ok(url) => Ok(away(&url)),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        billing_page(&app, &shop, n, None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

/// Connect (or finish connecting) the shop's own Stripe account for
/// invoice payments: on to Stripe's onboarding.
#[handler]
pub(crate) async fn start_payments(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            match pitwall_core::payments::onboarding_link(&app, &shop.ctx).await {
                Ok(url) => Ok(away(&url)),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        billing_page(&app, &shop, n, None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn start_portal(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            match billing::start_portal(&app, &shop.ctx).await {
                Ok(url) => Ok(away(&url)),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        billing_page(&app, &shop, n, None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}
