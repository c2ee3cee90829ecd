//! Templates and answers, and the one place a use-case error becomes words.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use minijinja::{Environment, Value, context};
use pitwall_core::Error;
use pitwall_core::domain::Quota;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{IntoResponse, Response, handler};

/// Every template, compiled into the binary: no files to deploy.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    (
        "admin_nav.html",
        include_str!("../templates/admin_nav.html"),
    ),
    ("login.html", include_str!("../templates/login.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("accept.html", include_str!("../templates/accept.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("users.html", include_str!("../templates/users.html")),
    ("roles.html", include_str!("../templates/roles.html")),
    ("settings.html", include_str!("../templates/settings.html")),
    ("api_keys.html", include_str!("../templates/api_keys.html")),
    ("billing.html", include_str!("../templates/billing.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    (
        "dashboard_rows.html",
        include_str!("../templates/dashboard_rows.html"),
    ),
    ("tickets.html", include_str!("../templates/tickets.html")),
    ("ticket.html", include_str!("../templates/ticket.html")),
    (
        "ticket_live.html",
        include_str!("../templates/ticket_live.html"),
    ),
    (
        "ticket_facts.html",
        include_str!("../templates/ticket_facts.html"),
    ),
    ("work.html", include_str!("../templates/work.html")),
    ("invoices.html", include_str!("../templates/invoices.html")),
    (
        "invoice_upload.html",
        include_str!("../templates/invoice_upload.html"),
    ),
    (
        "work_rows.html",
        include_str!("../templates/work_rows.html"),
    ),
    (
        "sync_health.html",
        include_str!("../templates/sync_health.html"),
    ),
    ("statuses.html", include_str!("../templates/statuses.html")),
    (
        "customers.html",
        include_str!("../templates/customers.html"),
    ),
    ("customer.html", include_str!("../templates/customer.html")),
    ("messages.html", include_str!("../templates/messages.html")),
    (
        "messages_rows.html",
        include_str!("../templates/messages_rows.html"),
    ),
    ("thread.html", include_str!("../templates/thread.html")),
    (
        "thread_live.html",
        include_str!("../templates/thread_live.html"),
    ),
    (
        "message_templates.html",
        include_str!("../templates/message_templates.html"),
    ),
    (
        "inspection_sheets.html",
        include_str!("../templates/inspection_sheets.html"),
    ),
    (
        "inspection.html",
        include_str!("../templates/inspection.html"),
    ),
    (
        "inspection_sheet.html",
        include_str!("../templates/inspection_sheet.html"),
    ),
    (
        "customer_view.html",
        include_str!("../templates/customer_view.html"),
    ),
    (
        "customer_status.html",
        include_str!("../templates/customer_status.html"),
    ),
    (
        "customer_error.html",
        include_str!("../templates/customer_error.html"),
    ),
    ("approval.html", include_str!("../templates/approval.html")),
    (
        "approval_service.html",
        include_str!("../templates/approval_service.html"),
    ),
    (
        "approvals_verify.html",
        include_str!("../templates/approvals_verify.html"),
    ),
    ("webhooks.html", include_str!("../templates/webhooks.html")),
    (
        "admin_shops.html",
        include_str!("../templates/admin_shops.html"),
    ),
    (
        "admin_new_shop.html",
        include_str!("../templates/admin_new_shop.html"),
    ),
    (
        "admin_shop.html",
        include_str!("../templates/admin_shop.html"),
    ),
    (
        "admin_prices.html",
        include_str!("../templates/admin_prices.html"),
    ),
    (
        "admin_audit.html",
        include_str!("../templates/admin_audit.html"),
    ),
    (
        "admin_jobs.html",
        include_str!("../templates/admin_jobs.html"),
    ),
];

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    environment().unwrap_or_else(|e| {
        // A template that does not parse is a build mistake the unit test
        // below catches; in a running server each page then answers 500.
        tracing::error!(error = %e, "a page template does not parse");
        Environment::new()
    })
});

pub(crate) fn page(status: StatusCode, name: &str, ctx: Value) -> Response {
    match ENV.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).with_status(status).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

pub(crate) fn message(status: StatusCode, layout: Value, heading: &str, text: &str) -> Response {
    page(status, "message.html", context! { heading, text, ..layout })
}

pub(crate) fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .finish()
}

/// A problem with what was typed, shown on the form it came from.
pub(crate) struct Problem {
    pub status: StatusCode,
    pub message: String,
}

/// How the pages show a use-case error.
enum Shown {
    /// Fixable by editing the form: said on the form.
    Inline(Problem),
    /// A page of its own.
    Page {
        status: StatusCode,
        heading: &'static str,
        text: String,
    },
    /// The session is gone.
    SignIn,
}

/// A use-case error's status: core's one mapping, as the API answers.
pub(crate) fn status_of(err: &Error) -> StatusCode {
    StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The one mapping from use-case errors to what a person sees.
fn shown(err: &Error) -> Shown {
    let status = status_of(err);
    let page = |status, heading, text: String| Shown::Page {
        status,
        heading,
        text,
    };
    match err {
        // Field names are the API's (`time_zone`); people read "time zone".
        Error::Invalid { field, message } => Shown::Inline(Problem {
            status,
            message: format!("{}: {message}", field.replace('_', " ")),
        }),
        Error::InvalidFields(list) => Shown::Inline(Problem {
            status,
            message: list
                .iter()
                .map(|f| format!("{}: {}", f.field.replace(['_', '/'], " "), f.message))
                .collect::<Vec<_>>()
                .join("; "),
        }),
        Error::TooLarge { .. } => Shown::Inline(Problem {
            status,
            message: err.to_string(),
        }),
        Error::Conflict { field, message } => Shown::Inline(Problem {
            status,
            message: format!("{}: {message}", field.replace('_', " ")),
        }),
        Error::CustomerOptedOut { channel } => Shown::Inline(Problem {
            status,
            message: format!(
                "The customer opted out of {}. They can opt back in (for texts: by replying START).",
                match channel {
                    pitwall_core::domain::messaging::Channel::Sms => "texts",
                    pitwall_core::domain::messaging::Channel::Email => "e-mail",
                    pitwall_core::domain::messaging::Channel::Web => "messages",
                }
            ),
        }),
        Error::ConsentRequired => Shown::Inline(Problem {
            status,
            message: "Your shop texts only customers whose consent is recorded: record it on the customer's page first.".into(),
        }),
        Error::TicketChanged { .. } => Shown::Inline(Problem {
            status,
            message: "The ticket changed since this page was loaded: review it again.".into(),
        }),
        Error::LinkGone {
            reason, shop_name, ..
        } => page(
            status,
            "Link no longer works",
            format!("This customer link {reason}. Send {shop_name}'s customer a new one."),
        ),
        Error::RateLimited(m) => Shown::Inline(Problem {
            status,
            message: capitalised(m),
        }),
        Error::Unauthenticated(_) => Shown::SignIn,
        Error::PermissionDenied(p) => page(
            status,
            "Not allowed",
            format!(
                "Your role may not do this: it needs the permission “{}” ({}). Ask the shop's owner.",
                p.describe(),
                p.as_str()
            ),
        ),
        Error::PlatformDenied(role) => page(
            status,
            "Not allowed",
            format!("This page is for Pitwall {role} staff."),
        ),
        Error::FeatureNotInPlan {
            feature,
            cheapest_plan,
        } => page(
            status,
            "Not in your plan",
            not_in_plan(feature.describe(), cheapest_plan.as_deref()),
        ),
        // Said on the form that ran into it (a reply, an invitation), so
        // that what was typed is not lost.
        Error::QuotaExceeded { quota, limit } => Shown::Inline(Problem {
            status,
            message: quota_text(*quota, *limit),
        }),
        Error::ShopRestricted(state) => page(
            status,
            "This shop is read-only",
            format!(
                "This shop is {}: you can look, but nothing can be changed. Contact Pitwall support.",
                state.as_str().replace('_', " ")
            ),
        ),
        Error::NotFound(what) => page(
            status,
            "Not found",
            format!("The {what} was not found."),
        ),
        Error::Unavailable => page(
            status,
            "Try again shortly",
            "Pitwall cannot reach its database right now. Please try again in a minute.".to_owned(),
        ),
        Error::Internal(_) => page(
            status,
            "Something went wrong",
            "Something went wrong on our side. Please try again.".to_owned(),
        ),
    }
}

/// A use-case error in words, for a page's script to show beside what was
/// tapped.
pub(crate) fn error_text(err: &Error) -> (StatusCode, String) {
    if let Error::Internal(detail) = err {
        tracing::error!(error = %detail, "internal error on a page's request");
    }
    match shown(err) {
        Shown::Inline(p) => (p.status, p.message),
        Shown::Page { status, text, .. } => (status, text),
        Shown::SignIn => (
            StatusCode::UNAUTHORIZED,
            "Your session ended: reload the page and sign in again.".to_owned(),
        ),
    }
}

/// The message to show on the form, if the person can fix the error there;
/// `None` when the error needs a page of its own ([`error`]).
pub(crate) fn form_error(err: &Error) -> Option<Problem> {
    match shown(err) {
        Shown::Inline(p) => Some(p),
        Shown::Page { .. } | Shown::SignIn => None,
    }
}

/// A use-case error as a whole page (or the way to sign in).
pub(crate) fn error(err: &Error, layout: Value) -> Response {
    if let Error::Internal(detail) = err {
        // The page says nothing of it; the log must.
        tracing::error!(error = %detail, "internal error on a page");
    }
    match shown(err) {
        Shown::Inline(p) if matches!(err, Error::QuotaExceeded { .. }) => {
            message(p.status, layout, "Plan limit reached", &p.message)
        }
        Shown::Inline(p) => message(
            p.status,
            layout,
            "Please check what you entered",
            &p.message,
        ),
        Shown::Page {
            status,
            heading,
            text,
        } => message(status, layout, heading, &text),
        Shown::SignIn => redirect("/login"),
    }
}

/// The sentence for a feature the shop's plan lacks; pages that hide a form
/// for that reason say the same as the refusal would.
pub(crate) fn not_in_plan(feature: &str, cheapest_plan: Option<&str>) -> String {
    // Feature descriptions are written as labels ("Your logo and colours");
    // mid-sentence they start in lower case.
    let mut chars = feature.chars();
    let feature = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    match cheapest_plan {
        Some(plan) => format!("Your plan does not include {feature}. The {plan} plan has it."),
        None => format!("Your plan does not include {feature}."),
    }
}

fn quota_text(quota: Quota, limit: i64) -> String {
    format!(
        "Your plan allows {limit} {}, and that is reached. A bigger plan allows more.",
        quota_words(quota)
    )
}

fn quota_words(q: Quota) -> &'static str {
    match q {
        Quota::Users => "staff members (pending invitations count)",
        Quota::SmsPerMonth => "text messages a month",
        Quota::Locations => "locations",
        Quota::MediaMb => "megabytes of inspection photos and video",
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Turns a use case's error into the page to show instead.
pub(crate) trait OrPage<T> {
    fn or_page(self, layout: &Value) -> Result<T, Response>;
}

impl<T> OrPage<T> for pitwall_core::Result<T> {
    fn or_page(self, layout: &Value) -> Result<T, Response> {
        self.map_err(|e| error(&e, layout.clone()))
    }
}

pub(crate) fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub(crate) fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[handler]
pub(crate) fn script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("../static/app.js"))
}

/// Lets a page's forms lead to `origins` besides this site (a form
/// answered with a redirect to Stripe's hosted pages): the site-wide
/// `form-action 'self'` would stop that redirect.
pub(crate) fn allow_forms_to(page: &mut Response, origins: &[String]) {
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self' {}",
        origins.join(" ")
    );
    if let Ok(v) = csp.parse() {
        page.headers_mut().insert("content-security-policy", v);
    }
}

/// Money in minor units as people read it: `$244.99`, `1,244.99 EUR`
/// (the domain's one rule, which the PDF and messages use too).
pub(crate) fn money(minor: i64, currency: &str) -> String {
    pitwall_core::domain::invoices::format_money(minor, currency)
}

fn asset(content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header("cache-control", "public, max-age=3600")
        .body(body)
}

/// The customer page's own stylesheet and scripts (small: the page is
/// often opened on a phone over a weak connection).
#[handler]
pub(crate) fn customer_css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../static/customer.css"),
    )
}

#[handler]
pub(crate) fn customer_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/customer.js"),
    )
}

/// Signature capture on a canvas: the customer's page and the staff's
/// in-person approval share it.
#[handler]
pub(crate) fn signature_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/signature.js"),
    )
}

#[handler]
pub(crate) fn inspection_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/inspection.js"),
    )
}

#[handler]
pub(crate) fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("../static/app.css"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each page with data shaped like its handler's, signed in to a shop
    /// where it applies: catches a template that parses but cannot render.
    #[test]
    fn every_template_renders_with_sample_data() {
        let env = environment().expect("templates parse");
        let layout = context! {
            nav => context! { users => true, roles => true, settings => true, api_keys => true, admin => true },
            shop_name => "Main St Garage", user_name => "Olive Owner", role => "owner", csrf => "c5rf",
        };
        let shop_row = context! {
            id => "0191", name => "Main St Garage", slug => "main-st", plan_code => "pro",
            lifecycle => "trial", created_at => "2025-01-01", trial_ends_at => "2025-01-15",
        };
        let ticket = context! {
            id => "t1", number => "1001", kind => "workorder", closed => false, customer => "Dana Reyes",
            customer_id => "c1", phone => "+15125550123", email => "d@x.test", vehicle => "2019 Honda Civic",
            plate => "ABC1234", vin => "1HGCM82633A004352", mileage => 48210, status => "In shop",
            status_id => "s1", status_color => "#00897b", advisor => "Olive", advisor_id => "u1",
            technician => None::<String>, technician_id => None::<String>, priority => 2,
            promised => "Mon 9 Mar, 3:30 PM", promised_input => "2026-03-09T15:30",
            subtotal => "$244.99", tax => "$5.36", total => "$250.35",
            timer => context! { mode => "count_down", started => "2026-03-09T13:00:00Z", due => "2026-03-09T15:00:00Z", due_local => "3 PM", level => "warning", text => "0h 10m" },
            services => vec![context! { title => "Brakes", status => "recommended", subtotal => "$244.99",
                items => vec![context! { id => "00000000-0000-0000-0000-000000000009", kind => "labor", description => "Pads", quantity => "1.5", unit_price => "$120.00", amount => "$180.00", taxable => false }] }],
        };
        let samples = [
            (
                "login.html",
                context! { email => "a@b.test", error => "Could not sign in" },
            ),
            ("forgot.html", context! {}),
            ("reset.html", context! { min_password => 10 }),
            (
                "accept.html",
                context! { shop => "Main St Garage", email => "a@b.test", invited_role => "advisor", existing_user => false, min_password => 10 },
            ),
            (
                "message.html",
                context! { heading => "Not found", text => "The shop was not found.", ..layout.clone() },
            ),
            (
                "home.html",
                context! {
                    shop => context! { name => "Main St Garage", plan => "Pro", lifecycle => "trial", writable => true },
                    trial_ends => "2025-01-15", trial_days_left => 3, features => vec!["Dashboard"],
                    shops => vec![context! { id => "1", name => "A", role => "owner", current => true }, context! { id => "2", name => "B", role => "viewer", current => false }],
                    ..layout.clone()
                },
            ),
            (
                "users.html",
                context! {
                    members => vec![context! { id => "u1", name => "Olive", email => "o@b.test", role => "owner", is_me => true, manageable => true }],
                    invitations => vec![context! { id => "i1", email => "x@b.test", role => "advisor", expires_at => "2025-01-08" }],
                    can_invite => true, can_manage => true, assignable => vec!["owner", "advisor"],
                    invite => context! { email => "x@b.test", role => "advisor" },
                    ..layout.clone()
                },
            ),
            (
                "roles.html",
                context! {
                    can_edit => true,
                    roles => vec![context! { role => "owner", customised => true, permissions => vec!["users.view"], locked => vec!["roles.manage"] }],
                    permissions => vec![context! { name => "users.view", description => "See the shop's staff" }],
                    ..layout.clone()
                },
            ),
            (
                "settings.html",
                context! {
                    s => context! { name => "Main St Garage", time_zone => "UTC" }, branding_note => "Not in plan",
                    customer_page => context! { ttl_hours => 72, locale => "en", min => 1, max => 2160, locales => vec![context! { code => "en", name => "English" }] },
                    workflow => context! {
                        qualification_minutes => 30, parts_minutes => None::<i32>, approval_reminder_minutes => 120,
                        handoff_emails => true,
                        stages => vec![context! { name => "in_work", label => "in work", status => "s1" }],
                        statuses => vec![context! { id => "s1", label => "In the bay" }],
                    },
                    ..layout.clone()
                },
            ),
            (
                "api_keys.html",
                context! {
                    secret => "pk_secret", plan_note => None::<String>,
                    keys => vec![context! { id => "k1", name => "POS", prefix => "pk_abc", created_at => "2025-01-01", last_used_at => None::<String>, revoked_at => None::<String> }],
                    ..layout.clone()
                },
            ),
            (
                "admin_shops.html",
                context! { q => "main", next => "0192", shops => vec![shop_row.clone()], ..layout.clone() },
            ),
            (
                "admin_new_shop.html",
                context! {
                    form => context! { name => "X", slug => "x", plan => "pro", owner_email => "o@x.test" },
                    plans => vec![context! { code => "pro", name => "Pro" }], ..layout.clone()
                },
            ),
            (
                "admin_shop.html",
                context! {
                    shop => shop_row,
                    plans => vec![context! { code => "pro", name => "Pro" }],
                    lifecycles => vec!["trial", "suspended"],
                    features => vec![context! { name => "sms", description => "Texts", enabled => true, in_plan => false, override => true, reason => "trial" }],
                    usage => context! { since => "2025-01-01", used => 12, quota => 2000 },
                    billing => context! {
                        configured => true, customer => "cus_1", subscription => "sub_1",
                        status => "past_due", price_id => "price_pro", interval => "monthly",
                        period_end => "2025-02-01", cancel_at_period_end => false,
                        trial_ends_at => None::<String>, comp => true, comp_reason => "partner",
                        past_due_since => "2025-01-10 09:00 UTC", grace_ends_at => "2025-01-17 09:00 UTC",
                        events => vec![context! { id => "evt_1", event_type => "invoice.payment_failed", received_at => "2025-01-10 09:00 UTC", processed_at => "2025-01-10 09:00 UTC", result => "applied", detail => None::<String>, attempts => 1 }],
                    },
                    policy => vec![context! { role => "owner", customised => false, permissions => vec!["users.view"] }],
                    ..layout.clone()
                },
            ),
            (
                "admin_prices.html",
                context! {
                    configured => false, may_edit => true,
                    plans => vec![context! {
                        code => "pro", sms_overage => "report",
                        prices => vec![context! { interval => "monthly", price_id => "price_pro" }, context! { interval => "yearly", price_id => None::<String> }],
                    }],
                    ..layout.clone()
                },
            ),
            (
                "admin_audit.html",
                context! {
                    shop => "0191", next => "0193",
                    entries => vec![context! { created_at => "2025-01-01 10:00:00", action => "shop.create", shop_id => "01910000", actor_user_id => None::<String>, target => "main-st", details => "{}" }],
                    ..layout.clone()
                },
            ),
            (
                "admin_jobs.html",
                context! {
                    backlog => 0,
                    queues => vec![context! { queue => "pitwall.message", waiting => 3, running => 32, dead => 0 }],
                    jobs => vec![context! { id => "j/1", queue => "email", status => "Killed", attempts => 5, max_attempts => 5, last_error => "smtp down", run_at => "2025-01-01 10:00 UTC" }],
                    ..layout.clone()
                },
            ),
            (
                "dashboard.html",
                context! {
                    rows => vec![context! { sms => true, email => false, unread => true,
                        stage => "qualification", stage_label => "Qualification",
                        stage_timer => context! { started => "2026-03-09T13:00:00Z", due => "2026-03-09T13:30:00Z", due_local => "1:30 PM", level => "overdue", text => "-0h 05m" },
                        ..ticket.clone() }],
                    repair_orders => true,
                    statuses => vec![context! { id => "s1", label => "In shop", mode => "count_down", minutes => 120 }],
                    staff => vec![context! { id => "u1", name => "Olive", role => "owner" }],
                    advisor => "", status => "", query => "advisor=&status=", may_set_status => true,
                    ..layout.clone()
                },
            ),
            (
                "tickets.html",
                context! { tickets => vec![ticket.clone()], q => "reyes", kind => "", state => "open", next => "x", ..layout.clone() },
            ),
            (
                "ticket.html",
                context! {
                    ticket => ticket.clone(),
                    history => vec![context! { from => "Not started", to => "In shop", by => "Olive", at => "Mon 9 Mar, 3:30 AM" }],
                    comments => vec![context! { author => "Olive", body => "Parts ordered", source => "staff", at => "now" }],
                    messages => vec![context! { channel => "sms", to => "+15125550123", body => "Hi", status => "queued", at => "now" }],
                    shop_history => vec![context! { id => "t0", number => "999", kind => "invoice", total => "$1.00", closed => true, at => "then" }],
                    timeline => vec![context! { kind => "status changed", raw_kind => "status_changed", actor => "Olive", at => "now", detail => "a → b" }],
                    statuses => vec![context! { id => "s1", label => "In shop", mode => "count_down", minutes => 120 }],
                    staff => vec![context! { id => "u1", name => "Olive", role => "owner" }],
                    may_set_status => true, may_comment => true, may_edit => true,
                    ..layout.clone()
                },
            ),
            (
                "invoices.html",
                context! {
                    status => "", statuses => vec!["draft", "paid"], next => "c1",
                    invoices => vec![context! { id => "i1", number => "INV-00001", customer => "Ana Lopez", status => "paid", status_label => "paid", total => "$1.00", refunded => "$0.50", created_at => "2026-12-04", ticket_id => "t1" }],
                    may_upload => true, ocr_in_plan => true,
                    uploads => vec![context! { id => "u1", file_name => "scan.pdf", status => "done", invoice_made => false, created_at => "now" }],
                    ..layout.clone()
                },
            ),
            (
                "invoice_upload.html",
                context! {
                    id => "u1", file_name => "scan.pdf", image => false, status => "done", queued => false,
                    error => None::<String>, pages => 1, text => "Total $1.00", invoice_id => None::<String>,
                    fields => vec![context! { name => "total", label => "Total", value => "1.00", confidence => 62, unsure => true }],
                    matched => true, customers => vec![context! { id => "c1", name => "Ana Lopez", chosen => true }],
                    tickets => vec![context! { id => "t1", label => "workorder W-1 · 2026-12-04", chosen => true }],
                    may_confirm => true, currency => "USD",
                    form => context! { description => "Invoice 1", amount => "0.92", tax_rate => "8.250" },
                    ..layout.clone()
                },
            ),
            (
                "work.html",
                context! {
                    tickets => vec![ticket.clone()], live_src => "/app/work?queue=parts", queue => "parts",
                    queues => vec![context! { name => "parts", label => "Parts", current => true }],
                    ..layout.clone()
                },
            ),
            (
                "sync_health.html",
                context! {
                    last_push => "now", last_accepted => "now", accepted => 3, stale => 1, rejected => 1, unprocessed => 2,
                    for_support => "s1", shop_name_heading => "Main St Garage",
                    keys => vec![context! { name => "POS", prefix => "pk_abc", last_used => "now", revoked => false }],
                    rejections => vec![context! { at => "now", operation => "ticket.put", external_id => "RO-1", errors => "[]", payload => "{}" }],
                    ..layout.clone()
                },
            ),
            (
                "statuses.html",
                context! {
                    statuses => vec![context! { id => "s1", position => 0, label => "In shop", color => "#00897b", notify => true, template => "Hi {{ first_name }}", mode => "count_down", minutes => 120, retired => false }],
                    ..layout.clone()
                },
            ),
            (
                "customers.html",
                context! {
                    q => "", may_edit => true,
                    customers => vec![context! { id => "c1", name => "Dana Reyes", phone => "+15125550123", email => None::<String>, sms => true, email_on => false, sms_opt_out => false, email_opt_out => false }],
                    ..layout.clone()
                },
            ),
            (
                "customer.html",
                context! {
                    customer => context! { id => "c1", name => "Dana Reyes", phone => "+15125550123", email => "d@x.test", sms => true, email_on => true, sms_opt_out => false, email_opt_out => false },
                    vehicles => vec![context! { label => "2019 Honda Civic", plate => "ABC1234", vin => "1HGCM82633A004352" }],
                    tickets => vec![context! { id => "t1", number => "1001", kind => "workorder", total => "$250.35", closed => false }],
                    ..layout.clone()
                },
            ),
        ];
        let samples = [
            samples.as_slice(),
            &[
                (
                    "customer_view.html",
                    context! {
                        lang => "es", t => crate::i18n::table(pitwall_core::domain::locale::Locale::Es),
                        shop => context! { name => "Main St Garage", phone => "+15125550100", address => "1 Main St", hours => "Mon–Fri 8–6" },
                        brand => context! { primary => "#1a56db", primary_ink => "#ffffff", accent => "#f59e0b", logo => "https://x.test/logo.png" },
                        c => context! { number => "1001", kind_label => "Orden de trabajo", version => 3, vehicle => "2019 Honda Civic", plate => "ABC1234",
                            status => "In shop", status_color => "#00897b", promised => "lun, 9 mar, 15:30", updated => "lun, 9 mar, 13:00",
                            subtotal => "244,99 US$", tax => "5,36 US$", total => "250,35 US$", subtotal_minor => 24499, taxable_minor => 6499, rate_ppm => 82500, currency => "USD" },
                        groups => vec![context! { code => "awaiting", label => "Esperan", services => vec![context! {
                            id => "s1", title => "Frenos", status => "recommended", status_label => "Recomendado", subtotal => "244,99 US$", change => "Nuevo",
                            items => vec![context! { description => "Pastillas", kind => "pieza", quantity => "1,5", amount => "180,00 US$" }] }] }],
                        awaiting => vec![context! { id => "s1", title => "Frenos", subtotal => "244,99 US$", subtotal_minor => 24499, taxable_minor => 6499, checked => true }],
                        shown => vec![context! { id => "s1", subtotal => 24499 }],
                        sel => context! { selected => "244,99 US$", total => "250,35 US$" },
                        may_approve => true,
                        latest => context! { signer => "Dana", at => "now", approved => vec![context! { title => "Frenos", subtotal => "1 US$" }], declined => vec![context! { title => "Filtro", subtotal => "2 US$" }], approved_total => "1 US$", tax => "0 US$", total => "1 US$" },
                        earlier => vec![context! { signer => "Dana", at => "then", approved_total => "1 US$" }],
                        authorisation => "Autorizo", events => "/c/pwc_x/events", live_src => "/c/pwc_x", post_base => "/c/pwc_x",
                        expires => "mar, 10 mar", notice => "Enviado", error => "Cambió", changes => vec!["Frenos: precio"],
                        removed_count => 1, removed_note => "Se quitó 1", form => context! { signer_name => "Dana", message => "" },
                    },
                ),
                (
                    "customer_error.html",
                    context! { lang => "en", heading => "This link no longer works", text => "Ask for a new one.", shop_name => "Main St Garage", shop_phone => "+15125550100", call => "Call the shop:" },
                ),
                (
                    "approval.html",
                    context! {
                        a => context! { id => "a1", ticket_id => "t1", seq => 1, at => "now", at_utc => "2026-01-01T00:00:00Z", method => "in person", raw_method => "in_person",
                            signer => "Dana", staff => "Olive", signature_png => None::<String>, signature_svg => "M 1 1 L 2 2",
                            approved => vec![context! { title => "Brakes", subtotal => "$1.00", items => vec![context! { kind => "labor", description => "Pads", quantity => "1", unit_price => "$1.00", amount => "$1.00" }] }],
                            declined => Vec::<Value>::new(), approved_total => "$1.00", subtotal => "$1.00", tax => "$0.08", total => "$1.08", ticket_version => 2,
                            ip => "127.0.0.1", user_agent => "Firefox", note => "ok", hash => "ab", prev_hash => None::<String> },
                        ticket => context! { id => "t1", number => "1001", kind => "workorder" },
                        ..layout.clone()
                    },
                ),
                (
                    "approvals_verify.html",
                    context! {
                        rows => vec![context! { id => "a1", seq => 1, hash => "ab", state => "altered", text => "Altered", at => "now", signer => "Dana" }],
                        all_intact => false, ticket => context! { id => "t1", number => "1001", kind => "workorder" },
                        ..layout.clone()
                    },
                ),
                (
                    "webhooks.html",
                    context! {
                        url => "", max => 5, events => vec!["work_approved"],
                        hooks => vec![context! { id => "w1", url => "https://x.test/h", secret => "whsec_x", active => true, created => "now",
                            deliveries => vec![context! { event => "test", status => "failed", attempts => 6, response_status => 500, error => "HTTP 500", at => "now", delivered => None::<String> }] }],
                        ..layout.clone()
                    },
                ),

                (
                    "messages.html",
                    context! {
                        threads => vec![context! {
                            customer_id => "c1", name => "Dana Reyes", phone => "+15125550123", unread => true, done => false,
                            assigned => "Olive", at => "Mon 9 Mar, 3:30 PM",
                            last => context! { inbound => true, channel => "sms", status => "received", snippet => "Is it ready?" },
                        }],
                        filter => "open", offset => 0, next => 50,
                        filters => vec![context! { code => "open", label => "Open", current => true }],
                        ..layout.clone()
                    },
                ),
                (
                    "thread.html",
                    context! {
                        customer => context! { id => "c1", name => "Dana Reyes", phone => "+15125550123", email => None::<String>, sms_opt_out => false, email_opt_out => false, sms_consent_at => None::<String> },
                        thread => context! { unread => true, done => false, assigned_to => "u1" },
                        open_ticket => context! { id => "t1", number => "1001" },
                        messages => vec![
                            context! { id => "m1", inbound => true, channel => "sms", kind => "inbound", subject => None::<String>, body => "Is it ready?", to => "+15125550100", status => "received", error_code => None::<String>, error_message => None::<String>, hold_reason => None::<String>, held_until => None::<String>, attempts => 0, segments => 1, by => "Dana Reyes", at => "now", new => true, resendable => false },
                            context! { id => "m2", inbound => false, channel => "sms", kind => "reply", subject => None::<String>, body => "Yes", to => "+15125550123", status => "failed", error_code => "30003", error_message => "the phone is off", hold_reason => None::<String>, held_until => None::<String>, attempts => 2, segments => 1, by => "Olive", at => "now", new => false, resendable => true },
                            context! { id => "m3", inbound => false, channel => "sms", kind => "reminder", subject => None::<String>, body => "Reminder", to => "+15125550123", status => "held", error_code => None::<String>, error_message => None::<String>, hold_reason => "quiet hours", held_until => "Tue 8:00 AM", attempts => 0, segments => 1, by => "Olive", at => "now", new => false, resendable => false },
                        ],
                        consent => vec![context! { channel => "Texts", action => "opt out", source => "keyword", detail => "stop", at => "now" }],
                        require_consent => true,
                        staff => vec![context! { id => "u1", name => "Olive", role => "owner" }],
                        draft => context! { channel => "sms", body => "" },
                        may_send => true, may_edit_customer => true,
                        ..layout.clone()
                    },
                ),
                (
                    "message_templates.html",
                    context! {
                        templates => vec![context! {
                            kind => "reminder", title => "Reminder", about => "Sent by Send reminder", body => "Hi {{ first_name }}",
                            is_default => false, unsaved => true, error => "body: cannot be rendered: line 1: syntax error",
                            preview => context! { text => "Hi Sam", encoding => "GSM-7", characters => 6, segments => 1, cost => "0.79" },
                        }],
                        variables => vec![context! { name => "first_name", description => "Customer's first name", sample => "Sam" }],
                        settings => context! { sms_from => "+15125550100", start => "21:00", end => "08:00", require_consent => true },
                        default_sms_from => None::<String>, may_settings => true,
                        usage => context! { since => "2025-01-01", used => 12, quota => 500, over => false },
                        ..layout.clone()
                    },
                ),
                (
                    "inspection_sheets.html",
                    context! {
                        sheets => vec![context! { id => "t1", name => "Multi-point", items => 32, updated => "2026-12-03" }],
                        may_edit => true, columns => "section,key",
                        import => context! { format => "csv", name => "", content => "" },
                        ..layout.clone()
                    },
                ),
                (
                    "inspection_sheet.html",
                    context! {
                        sheet => context! { id => "t1", version => 2, items => 1, sections => vec![context! {
                            name => "Brakes", items => vec![context! { key => "pads", label => "Pads", kind => "measurement", unit => "mm", photo => "on_attention", service => "Brake pads" }],
                        }] },
                        name => "Multi-point", content => "section,key", may_edit => true, columns => "section,key",
                        ..layout.clone()
                    },
                ),
                (
                    "inspection.html",
                    context! {
                        inspection => context! {
                            id => "i1", ticket_id => "t1", name => "Quick", status => "returned",
                            status_label => "returned", version => 3, returned_reason => "Photo, please",
                            published_at => None::<String>, items => 2, checked => 1,
                            sections => vec![context! { n => 1, name => "Wheels", checked => 1, findings => vec![
                                context! {
                                    key => "tread", label => "Tread", kind => "tire", unit => None::<String>,
                                    photo => "on_attention", condition => "urgent", measurement => "",
                                    tires => vec![context! { pos => "lf", label => "Left front", value => "2" }],
                                    note => "worn", customer_note => "Worn out", needs_photo => false,
                                    media => vec![context! { id => "m1", video => false, thumb => "/app/media/m1?variant=thumb", url => "/app/media/m1" },
                                                  context! { id => "m2", video => true, thumb => None::<String>, url => "/app/media/m2" }],
                                    on_estimate => false, suggested_service => "Tires",
                                    previous => context! { condition => "good", reading => "LF 5 mm", at => "2026-06-01" },
                                },
                                context! {
                                    key => "battery", label => "Battery", kind => "measurement", unit => "V",
                                    photo => "never", condition => "not_checked", measurement => "12.4",
                                    tires => Vec::<Value>::new(), note => "", customer_note => "", needs_photo => true,
                                    media => Vec::<Value>::new(), on_estimate => true, suggested_service => None::<String>,
                                    previous => None::<Value>,
                                },
                            ] }],
                        },
                        editable => true, may_review => true, may_publish => true, may_add_service => true,
                        max_mb => 100,
                        ..layout.clone()
                    },
                ),
                (
                    "billing.html",
                    context! {
                        checkout => "success", plan_name => "Pro", lifecycle => "past due",
                        status => "past_due", interval => "monthly", trial_days_left => 3,
                        trial_ends => "2025-01-15", grace_ends => "2025-01-20",
                        next_invoice => "2025-02-01", cancel_at_period_end => false, comp => true,
                        configured => true, sms_used => 12, sms_included => 500,
                        sms_overage => "report", sms_overage_reported => 4,
                        subscribed => true, has_customer => true, past_due => true,
                        plans => vec![context! { code => "pro", name => "Pro", current => true, price => "$99.00", intervals => vec!["monthly"] }],
                        ..layout.clone()
                    },
                ),
            ],
        ]
        .concat();
        for (name, _) in TEMPLATES {
            let is_page = samples.iter().any(|(n, _)| n == name);
            assert!(
                is_page
                    || [
                        "base.html",
                        "admin_nav.html",
                        "dashboard_rows.html",
                        "ticket_live.html",
                        "ticket_facts.html",
                        "messages_rows.html",
                        "work_rows.html",
                        "thread_live.html",
                        "customer_status.html",
                        "approval_service.html"
                    ]
                    .contains(name),
                "{name} has no sample"
            );
        }
        for (name, ctx) in samples {
            let html = env
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .unwrap_or_else(|e| panic!("{name} renders: {e:#}"));
            assert!(html.contains("<h1>"), "{name} has a heading");
            assert!(
                html.matches("<script").count() == html.matches("<script src=").count(),
                "{name} has no inline script"
            );
        }
    }

    #[test]
    fn form_errors_name_the_field_in_words() {
        let p =
            form_error(&Error::invalid("time_zone", "must be an IANA time zone")).expect("inline");
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.message, "time zone: must be an IANA time zone");
        assert!(form_error(&Error::NotFound("shop")).is_none());
    }

    #[test]
    fn html_is_escaped() {
        let env = environment().expect("templates parse");
        let html = env
            .get_template("message.html")
            .and_then(|t| t.render(context! { heading => "<b>x</b>", text => "<script>" }))
            .expect("renders");
        assert!(!html.contains("<script>") && html.contains("&lt;b&gt;x&lt;"));
    }
}
