//! The customer's page at `/c/{token}`: no account, the token is the
//! credential. Phone first, in the customer's language, readable without
//! script; with it, the status stays live, the total follows the choice and
//! the signature is drawn on a canvas. The advisor's preview renders the
//! same template with nothing that posts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use minijinja::{Value, context};
use pitwall_core::approvals::{Decision, awaits_decision};
use pitwall_core::customer::{self, CustomerPage, Visitor};
use pitwall_core::domain::ServiceId;
use pitwall_core::domain::locale::Locale;
use pitwall_core::domain::net::ClientAddr;
use pitwall_core::domain::tickets::{ServiceStatus, Totals};
use pitwall_core::model::customer_links::CustomerLink;
use pitwall_core::streams::Told;
use pitwall_core::{App, Error};
use poem::http::StatusCode;
use poem::web::sse::{Event, SSE};
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use crate::i18n::{self, fill, word};
use crate::render;
use crate::session::{FormData, client_addr};

/// Live changes the customer's page re-reads on.
const FORWARDED: &[&str] = &[
    "status_changed",
    "ticket_updated",
    "work_approved",
    "work_declined",
    "timeline",
];

/// The client as the use cases want it: the address the HTTP stack worked
/// out, and the user agent.
pub(crate) struct Client {
    address: ClientAddr,
    user_agent: Option<String>,
}

impl Client {
    pub(crate) fn of(req: &Request) -> Self {
        Self {
            address: client_addr(req),
            user_agent: req.header("user-agent").map(str::to_owned),
        }
    }

    pub(crate) fn visitor(&self) -> Visitor<'_> {
        Visitor {
            address: self.address,
            user_agent: self.user_agent.as_deref(),
        }
    }
}

/// The language for a page without a ticket (an error): the browser's.
fn browser_locale(req: &Request) -> Locale {
    req.header("accept-language")
        .and_then(|h| h.split(',').next())
        .and_then(|tag| Locale::from_tag(tag.split(';').next().unwrap_or_default()))
        .unwrap_or(Locale::En)
}

/// The customer's own error pages (not the staff layout).
fn error_page(err: &Error, locale: Locale) -> Response {
    let status = render::status_of(err);
    let (heading, text, shop_name, shop_phone) = match err {
        Error::NotFound(_) => (
            word(locale, "not_found_h"),
            word(locale, "not_found_t").to_owned(),
            None,
            None,
        ),
        Error::LinkGone {
            reason,
            shop_name,
            shop_phone,
        } => {
            let key = if reason.contains("expired") {
                "gone_expired"
            } else if reason.contains("withdrawn") {
                "gone_revoked"
            } else {
                "gone_other"
            };
            (
                word(locale, "gone_h"),
                fill(locale, key, shop_name),
                Some(shop_name.clone()),
                shop_phone.clone(),
            )
        }
        Error::RateLimited(_) => (
            word(locale, "rate_h"),
            word(locale, "rate_t").to_owned(),
            None,
            None,
        ),
        Error::Unavailable => (
            word(locale, "error_h"),
            word(locale, "error_t").to_owned(),
            None,
            None,
        ),
        other => {
            if let Error::Internal(detail) = other {
                tracing::error!(error = %detail, "internal error on a customer page");
            }
            (
                word(locale, "error_h"),
                word(locale, "error_t").to_owned(),
                None,
                None,
            )
        }
    };
    let mut resp = render::page(
        status,
        "customer_error.html",
        context! {
            lang => locale.as_str(), heading, text, shop_name, shop_phone,
            call => word(locale, "call"),
        },
    );
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Ok(v) = "60".parse()
    {
        resp.headers_mut().insert("retry-after", v);
    }
    resp
}

/// What the page shows besides the ticket: the answer to a form just sent.
#[derive(Default)]
pub(crate) struct Extras {
    notice: Option<&'static str>,
    error: Option<String>,
    /// Sentences about what changed since the customer's page was drawn.
    changes: Vec<String>,
    /// Per service: what changed about it.
    marks: HashMap<uuid::Uuid, String>,
    removed: usize,
    signer_name: String,
    message: String,
    /// The services the customer had checked (`None`: all, the default).
    checked: Option<HashSet<uuid::Uuid>>,
}

/// Where the page's links and forms point.
pub(crate) enum Mode<'a> {
    Link(&'a str),
    Preview(uuid::Uuid),
}

fn brand_ink(hex: &str) -> &'static str {
    // Relative luminance (WCAG) of #rrggbb; dark text on light colours.
    let h = hex.trim_start_matches('#');
    let ch = |i: usize| {
        let v = h
            .get(i..i + 2)
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .unwrap_or(0) as f64
            / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * ch(0) + 0.7152 * ch(2) + 0.0722 * ch(4);
    // Contrast with white is (1.05)/(l+0.05); with near-black (#111, l≈0.0056)
    // it is (l+0.05)/0.0556. Pick the larger.
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.0556 {
        "#ffffff"
    } else {
        "#111111"
    }
}

fn valid_hex(c: &Option<String>) -> Option<String> {
    c.as_ref()
        .filter(|c| {
            c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit())
        })
        .cloned()
}

fn quantity(locale: Locale, milli: i64) -> String {
    let s = format!("{}", milli as f64 / 1000.0);
    match locale {
        Locale::Es => s.replace('.', ","),
        _ => s,
    }
}

/// The template's context for a customer page (the link's or the preview).
pub(crate) fn context_of(p: &CustomerPage, mode: &Mode<'_>, x: &Extras) -> Value {
    let locale = p.locale;
    let t = &p.view.ticket;
    let cur = t.currency.as_str();
    let tz = p.shop.time_zone.as_str();
    let money = |m: i64| locale.money(m, cur);
    let when = |d: DateTime<Utc>| locale.datetime(d, tz);
    let status_label = |s: &str| word(locale, &format!("st_{s}")).to_owned();
    // The domain's totals rule, on the statuses as they are and as they
    // would be if the customer sent the boxes as checked now.
    let totals_if = |decline_unchecked: &dyn Fn(uuid::Uuid) -> bool| {
        Totals::of(
            p.view.services.iter().map(|s| {
                let sv = &s.service;
                let status = if awaits_decision(&sv.status) && decline_unchecked(sv.id) {
                    ServiceStatus::Declined
                } else {
                    s.status
                };
                (status, sv.subtotal, sv.taxable_subtotal)
            }),
            t.tax_rate_ppm,
        )
    };
    let taxable = totals_if(&|_| false).taxable;
    let service = |s: &pitwall_core::tickets::ServiceView| {
        let sv = &s.service;
        context! {
            id => sv.id.to_string(),
            title => sv.title.clone(),
            note => sv.customer_note.clone(),
            status => sv.status.clone(),
            status_label => status_label(&sv.status),
            subtotal => money(sv.subtotal),
            subtotal_minor => sv.subtotal,
            taxable_minor => sv.taxable_subtotal,
            change => x.marks.get(&sv.id).cloned(),
            items => s.line_items.iter().map(|l| context! {
                description => l.description.clone(),
                kind => word(locale, &format!("line_{}", l.kind)),
                quantity => quantity(locale, l.quantity_milli),
                amount => money(l.amount),
            }).collect::<Vec<_>>(),
        }
    };
    let of = |pred: &dyn Fn(&str) -> bool| {
        p.view
            .services
            .iter()
            .filter(|s| pred(&s.service.status))
            .map(service)
            .collect::<Vec<_>>()
    };
    let groups = vec![
        context! { code => "awaiting", label => word(locale, "group_awaiting"), services => of(&|s| awaits_decision(s)) },
        context! { code => "approved", label => word(locale, "group_approved"), services => of(&|s| s == "approved") },
        context! { code => "declined", label => word(locale, "group_declined"), services => of(&|s| s == "declined") },
    ];
    let awaiting_services: Vec<_> = p
        .view
        .services
        .iter()
        .filter(|s| awaits_decision(&s.service.status))
        .collect();
    let is_checked = |id: uuid::Uuid| x.checked.as_ref().is_none_or(|c| c.contains(&id));
    let selected: i64 = awaiting_services
        .iter()
        .filter(|s| is_checked(s.service.id))
        .map(|s| s.service.subtotal)
        .sum();
    let sel_total = totals_if(&|id| !is_checked(id)).total;
    let awaiting: Vec<Value> = awaiting_services
        .iter()
        .map(|s| {
            context! {
                id => s.service.id.to_string(),
                title => s.service.title.clone(),
                subtotal => money(s.service.subtotal),
                subtotal_minor => s.service.subtotal,
                taxable_minor => s.service.taxable_subtotal,
                checked => is_checked(s.service.id),
            }
        })
        .collect();
    let approval = |a: &pitwall_core::approvals::ApprovalView| {
        let r = &a.record;
        let m = |v: i64| locale.money(v, &r.currency);
        context! {
            signer => r.signer_name.clone(),
            at => when(r.created_at),
            approved => a.approved.iter().map(|s| context! { title => s.title.clone(), subtotal => m(s.subtotal) }).collect::<Vec<_>>(),
            declined => a.declined.iter().map(|s| context! { title => s.title.clone(), subtotal => m(s.subtotal) }).collect::<Vec<_>>(),
            approved_total => m(r.approved_total),
            tax => m(r.tax),
            total => m(r.total),
        }
    };
    // The confirmation shows once nothing waits for the customer; earlier
    // answers are listed below.
    let (latest, earlier) = match (awaiting.is_empty(), p.approvals.split_last()) {
        (true, Some((last, rest))) => (Some(approval(last)), rest.iter().map(approval).collect()),
        _ => (None, p.approvals.iter().map(approval).collect::<Vec<_>>()),
    };
    let shop = &p.shop;
    let brand = p.branded.then(|| {
        let primary = valid_hex(&shop.primary_color).unwrap_or_else(|| "#1a56db".to_owned());
        context! {
            primary_ink => brand_ink(&primary),
            accent => valid_hex(&shop.accent_color).unwrap_or_else(|| primary.clone()),
            primary,
            logo => shop.logo_url.clone().filter(|u| u.starts_with("https://")),
        }
    });
    let (events, live_src, post_base, preview) = match mode {
        Mode::Link(token) => (
            Some(format!("/c/{token}/events")),
            format!("/c/{token}"),
            format!("/c/{token}"),
            None,
        ),
        Mode::Preview(id) => (
            None,
            format!("/app/tickets/{id}/customer-view"),
            String::new(),
            Some(context! { ticket_id => id.to_string() }),
        ),
    };
    // Photos go through the link for the customer, through the session for
    // the advisor's preview.
    let media_base = match mode {
        Mode::Link(token) => format!("/c/{token}/media"),
        Mode::Preview(_) => "/app/media".to_owned(),
    };
    let inspection = p.inspection.as_ref().map(|i| {
        let finding = |f: &pitwall_core::inspections::published::CustomerFinding| {
            let media: Vec<Value> = f
                .media
                .iter()
                .map(|m| {
                    let url = format!("{media_base}/{}", m.id);
                    context! {
                        video => m.content_type.starts_with("video/"),
                        content_type => m.content_type.clone(),
                        thumb => m.has_copies.then(|| format!("{url}?variant=thumb")),
                        screen => m.has_copies.then(|| format!("{url}?variant=screen")),
                        url,
                    }
                })
                .collect();
            context! {
                media,
                key => f.item_key.clone(),
                label => f.label.clone(),
                explanation => f.explanation.clone(),
                condition => f.condition.as_str(),
                condition_label => word(locale, &format!("cond_{}", f.condition.as_str())),
                note => f.customer_note.clone(),
                measurement => reading(f.measurement.as_ref(), f.unit.as_deref()),
                service => f.service_id.map(|s| s.to_string()),
            }
        };
        // The core orders them urgent, needs attention, good.
        let (good, concerns): (Vec<_>, Vec<_>) = i
            .findings
            .iter()
            .partition(|f| f.condition.as_str() == "good");
        context! {
            name => i.name.clone(),
            published => i.published_at.map(when),
            concerns => concerns.into_iter().map(finding).collect::<Vec<_>>(),
            good => good.into_iter().map(finding).collect::<Vec<_>>(),
        }
    });
    let invoice = p.invoice.as_ref().map(|v| {
        let i = &v.invoice;
        let m = |a: i64| locale.money(a, &i.currency);
        context! {
            number => i.number.clone(),
            status => v.status.as_str(),
            status_label => word(locale, &format!("inv_{}", v.status.as_str())),
            paid => !v.status.is_unpaid(),
            may_pay => p.may_pay,
            paid_at => i.paid_at.map(when),
            refunded => (v.refunded() > 0).then(|| m(v.refunded())),
            positions => v.positions.iter().map(|p| context! {
                title => p.title.clone(),
                subtotal => m(p.subtotal),
            }).collect::<Vec<_>>(),
            subtotal => m(i.subtotal),
            tax => m(i.tax),
            total => m(i.total),
        }
    });
    context! {
        lang => locale.as_str(),
        t => i18n::table(locale),
        inspection,
        invoice,
        shop => context! {
            name => shop.name.clone(), phone => shop.phone.clone(), address => shop.address.clone(),
            hours => shop.hours.clone(),
        },
        brand,
        c => context! {
            number => t.number.clone(),
            kind_label => word(locale, &format!("kind_{}", t.kind)),
            version => t.version,
            vehicle => p.view.vehicle.as_ref().map(pitwall_core::tickets::vehicle_label),
            plate => p.view.vehicle.as_ref().and_then(|v| v.plate.clone()),
            status => p.view.status.as_ref().map(|s| s.label.clone()),
            status_color => p.view.status.as_ref().map(|s| s.color.clone()),
            promised => t.promised_at.map(when),
            updated => when(t.updated_at),
            subtotal => money(t.subtotal),
            tax => money(t.tax),
            total => money(t.total),
            subtotal_minor => t.subtotal,
            taxable_minor => taxable,
            rate_ppm => t.tax_rate_ppm,
            currency => cur,
        },
        groups,
        awaiting,
        shown => p.view.services.iter().map(|s| context! { id => s.service.id.to_string(), subtotal => s.service.subtotal }).collect::<Vec<_>>(),
        sel => context! { selected => money(selected), total => money(sel_total) },
        may_approve => p.may_approve,
        latest,
        earlier,
        authorisation => fill(locale, "authorisation", &shop.name),
        events,
        live_src,
        post_base,
        preview,
        expires => p.link.as_ref().map(|l| when(l.expires_at)),
        notice => x.notice.map(|k| word(locale, k)),
        error => x.error.clone(),
        changes => x.changes.clone(),
        removed_count => x.removed,
        removed_note => (x.removed > 0).then(|| fill(locale, "change_removed", &x.removed.to_string())),
        form => context! { signer_name => x.signer_name.clone(), message => x.message.clone() },
    }
}

/// A measurement as the customer reads it: `12.4 V`, or tire positions
/// with their tread (`LF 6 · RF 5.5 mm`).
fn reading(m: Option<&serde_json::Value>, unit: Option<&str>) -> Option<String> {
    let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
    match m? {
        serde_json::Value::Number(n) => Some(format!("{n}{unit}")),
        serde_json::Value::Object(positions) => {
            let parts: Vec<String> = ["lf", "rf", "lr", "rr", "spare"]
                .iter()
                .filter_map(|p| {
                    positions
                        .get(*p)
                        .map(|v| format!("{} {v}", p.to_uppercase()))
                })
                .collect();
            (!parts.is_empty()).then(|| format!("{}{unit}", parts.join(" · ")))
        }
        _ => None,
    }
}

pub(crate) fn render_page(
    status: StatusCode,
    p: &CustomerPage,
    mode: &Mode<'_>,
    x: &Extras,
    fragment: bool,
) -> Response {
    let name = if fragment {
        "customer_status.html"
    } else {
        "customer_view.html"
    };
    render::page(status, name, context_of(p, mode, x))
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    sent: Option<String>,
    /// Back from Stripe's payment page.
    paid: Option<String>,
}

#[handler]
pub(crate) async fn show(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    poem::web::Query(q): poem::web::Query<ShowQuery>,
) -> Response {
    let client = Client::of(req);
    let fragment = super::tickets::wants_fragment(req);
    let result = if fragment {
        customer::reread(&app, &token, client.visitor()).await
    } else {
        customer::open(&app, &token, client.visitor()).await
    };
    match result {
        Ok(p) => {
            let notice = if q.paid.is_some() {
                Some("inv_thanks")
            } else {
                q.sent.is_some().then_some("sent_message")
            };
            let x = Extras {
                notice,
                ..Extras::default()
            };
            let mut page = render_page(StatusCode::OK, &p, &Mode::Link(&token), &x, fragment);
            if p.may_pay {
                // The Pay form is answered with a redirect to Stripe's page.
                render::allow_forms_to(&mut page, &pitwall_core::payments::checkout_origins(&app));
            }
            page
        }
        Err(e) => error_page(&e, browser_locale(req)),
    }
}

/// The Pay button: on to Stripe's payment page for what is due.
#[handler]
pub(crate) async fn pay(app: Data<&App>, req: &Request, Path(token): Path<String>) -> Response {
    let client = Client::of(req);
    match pitwall_core::payments::pay_by_link(&app, &token, client.visitor()).await {
        Ok(url) => Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", url)
            .finish(),
        Err(e) => error_page(&e, browser_locale(req)),
    }
}

fn uuids(raw: impl IntoIterator<Item = String>) -> Vec<uuid::Uuid> {
    raw.into_iter()
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Compares what the customer saw (`shown_<id>=<subtotal>`) with the ticket
/// now: new services, changed prices, removed ones.
fn mark_changes(p: &CustomerPage, form: &FormData, x: &mut Extras) {
    let locale = p.locale;
    let cur = p.view.ticket.currency.as_str();
    let shown: HashMap<uuid::Uuid, i64> = form
        .pairs()
        .iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix("shown_")?.parse().ok()?;
            Some((id, v.trim().parse().ok()?))
        })
        .collect();
    let mut now = HashSet::new();
    for s in &p.view.services {
        let sv = &s.service;
        now.insert(sv.id);
        match shown.get(&sv.id) {
            None => {
                x.marks.insert(sv.id, word(locale, "change_new").to_owned());
                x.changes
                    .push(format!("{}: {}", word(locale, "change_new"), sv.title));
            }
            Some(was) if *was != sv.subtotal => {
                let said = fill(locale, "change_price", &locale.money(*was, cur));
                x.changes.push(format!("{}: {said}", sv.title));
                x.marks.insert(sv.id, said);
            }
            Some(_) => {}
        }
    }
    x.removed = shown.keys().filter(|id| !now.contains(id)).count();
}

#[handler]
pub(crate) async fn approve(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    form: FormData,
) -> Response {
    let client = Client::of(req);
    let approved = uuids(form.all("approve"));
    let approved_set: HashSet<uuid::Uuid> = approved.iter().copied().collect();
    let declined: Vec<uuid::Uuid> = uuids(form.all("awaiting"))
        .into_iter()
        .filter(|id| !approved_set.contains(id))
        .collect();
    let decision = Decision {
        approved: approved.iter().copied().map(ServiceId::from_uuid).collect(),
        declined: declined.into_iter().map(ServiceId::from_uuid).collect(),
        signer_name: Some(form.get("signer_name").to_owned()),
        signature: Some(form.get("signature").to_owned()),
        note: None,
        ticket_version: form.get("ticket_version").trim().parse().ok(),
    };
    match customer::approve(&app, &token, client.visitor(), decision).await {
        Ok(_) => render::redirect(&format!("/c/{token}#confirmation")),
        Err(e) => {
            let key = match &e {
                Error::TicketChanged { .. } => "changed",
                Error::Invalid { field, .. } if field == "signer_name" => "err_name",
                Error::Invalid { field, .. } if field == "signature" => "err_signature",
                Error::Invalid { .. } => "err_other",
                Error::Conflict { .. } => "err_closed",
                _ => return error_page(&e, browser_locale(req)),
            };
            let status = render::status_of(&e);
            let p = match customer::reread(&app, &token, client.visitor()).await {
                Ok(p) => p,
                Err(e) => return error_page(&e, browser_locale(req)),
            };
            let mut x = Extras {
                signer_name: form.get("signer_name").to_owned(),
                ..Extras::default()
            };
            if matches!(e, Error::TicketChanged { .. }) {
                mark_changes(&p, &form, &mut x);
            } else {
                x.checked = Some(approved_set);
            }
            x.error = Some(match &e {
                Error::Invalid { message, .. } if key == "err_other" => {
                    fill(p.locale, key, message)
                }
                _ => word(p.locale, key).to_owned(),
            });
            render_page(status, &p, &Mode::Link(&token), &x, false)
        }
    }
}

#[handler]
pub(crate) async fn send_message(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
    form: FormData,
) -> Response {
    let client = Client::of(req);
    match customer::send_message(&app, &token, client.visitor(), form.get("body")).await {
        Ok(()) => render::redirect(&format!("/c/{token}?sent=1#message")),
        Err(e @ Error::Invalid { .. }) => {
            let p = match customer::reread(&app, &token, client.visitor()).await {
                Ok(p) => p,
                Err(e) => return error_page(&e, browser_locale(req)),
            };
            let key = match &e {
                Error::Invalid { field, .. } if field == "body" => "err_message",
                _ => "err_other",
            };
            let x = Extras {
                error: Some(match &e {
                    Error::Invalid { message, .. } if key == "err_other" => {
                        fill(p.locale, key, message)
                    }
                    _ => word(p.locale, key).to_owned(),
                }),
                message: form.get("body").to_owned(),
                ..Extras::default()
            };
            render_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &p,
                &Mode::Link(&token),
                &x,
                false,
            )
        }
        Err(e) => error_page(&e, browser_locale(req)),
    }
}

/// Tells staff the page closed when the stream ends, however it ends.
struct Closing {
    app: App,
    link: CustomerLink,
}

impl Drop for Closing {
    fn drop(&mut self) {
        tracing::debug!(link.id = %self.link.id, "customer page stream closed");
        let (app, link) = (self.app.clone(), self.link.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = pitwall_core::presence::beat(&app, &link, false).await {
                    tracing::warn!(error = %e, "could not record that a customer page closed");
                }
            });
        }
    }
}

/// The page's event stream: the ticket's changes, and the customer's
/// presence for staff (a beat every 10 s while open, "closed" at the end).
#[handler]
pub(crate) async fn event_stream(
    app: Data<&App>,
    req: &Request,
    Path(token): Path<String>,
) -> Response {
    let client = Client::of(req);
    let watch = match customer::watch(&app, &token, client.visitor()).await {
        Ok(w) => w,
        Err(e) => return error_page(&e, browser_locale(req)),
    };
    let closing = Closing {
        app: app.clone(),
        link: watch.link.clone(),
    };
    let stream =
        futures::stream::unfold((watch, closing), move |(mut watch, closing)| async move {
            let data = match watch.next(&closing.app, FORWARDED).await? {
                Told::Event(e) => serde_json::json!({ "kind": e.kind }).to_string(),
                Told::Resync => "{\"kind\":\"resync\"}".to_owned(),
            };
            Some((Event::message(data), (watch, closing)))
        });
    // A closed page is noticed when a write fails (often the second after
    // the close): a comment every 5 s keeps that, and so "customer
    // viewing", well within 30 s.
    SSE::new(stream.boxed())
        .keep_alive(pitwall_core::streams::KEEP_ALIVE)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_the_shops_colour_is_readable() {
        assert_eq!(brand_ink("#1a56db"), "#ffffff");
        assert_eq!(brand_ink("#f59e0b"), "#111111");
        assert_eq!(brand_ink("#ffffff"), "#111111");
        assert_eq!(brand_ink("#000000"), "#ffffff");
    }
}
