//! The shop's daily work: the active-customers dashboard, ticket search and
//! the ticket page, message setup, customers, the technician's queue, POS
//! sync health, and the live event stream the pages listen to.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use minijinja::{Value, context};
use pitwall_core::domain::workflow::Stage;
use pitwall_core::domain::{CustomerId, Feature, StatusId, TicketId, UserId};
use pitwall_core::model::PageRequest;
use pitwall_core::streams::Told;
use pitwall_core::tickets::{self, TicketView};
use pitwall_core::{App, customers, pos, statuses};
use poem::http::StatusCode;
use poem::web::sse::{Event, SSE};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use super::{Notice, Page, finish, parse_id, refused, respond};
use crate::render::{self, OrPage, money};
use crate::session::{FormData, InShop, Signed, flash};

pub(super) fn local(shop: &InShop, t: DateTime<Utc>) -> String {
    pitwall_core::domain::timer::local_display(t, &shop.ctx.shop.time_zone)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A stage as staff read it ("awaiting approval").
pub(super) fn stage_label(s: Stage) -> String {
    s.as_str().replace('_', " ")
}

/// A ticket as the templates read it.
fn ticket_value(shop: &InShop, v: &TicketView) -> Value {
    let t = &v.ticket;
    let cur = t.currency.as_str();
    context! {
        id => t.id.to_string(),
        number => t.number.clone(),
        kind => t.kind.clone(),
        closed => t.closed,
        customer => v.customer.as_ref().map(tickets::customer_name),
        customer_id => v.customer.as_ref().map(|c| c.id.to_string()),
        phone => v.customer.as_ref().and_then(|c| c.phone.clone()),
        email => v.customer.as_ref().and_then(|c| c.email.clone()),
        vehicle => v.vehicle.as_ref().map(tickets::vehicle_label),
        plate => v.vehicle.as_ref().and_then(|x| x.plate.clone()),
        vin => v.vehicle.as_ref().and_then(|x| x.vin.clone()),
        mileage => v.vehicle.as_ref().and_then(|x| x.mileage),
        status => v.status.as_ref().map(|s| s.label.clone()),
        status_id => v.status.as_ref().map(|s| s.id.to_string()),
        status_color => v.status.as_ref().map(|s| s.color.clone()),
        advisor => v.advisor.as_ref().map(|p| p.name.clone()),
        advisor_id => v.advisor.as_ref().map(|p| p.id.to_string()),
        technician => v.technician.as_ref().map(|p| p.name.clone()),
        technician_id => v.technician.as_ref().map(|p| p.id.to_string()),
        priority => t.priority,
        promised => t.promised_at.map(|p| local(shop, p)),
        promised_input => t.promised_at.map(|p| p.with_timezone(&shop_tz(shop)).format("%Y-%m-%dT%H:%M").to_string()),
        approval_unseen => v.approval_unseen(),
        stage => v.stage.as_str(),
        stage_label => stage_label(v.stage),
        stage_moves => v.stage.next_moves().into_iter().map(|s| context! {
            value => s.as_str(), label => stage_label(s),
        }).collect::<Vec<_>>(),
        subtotal => money(t.subtotal, cur),
        tax => money(t.tax, cur),
        total => money(t.total, cur),
        timer => v.timer.as_ref().map(|s| context! {
            mode => s.mode.as_str(),
            started => rfc3339(s.started_at),
            due => s.due_at.map(rfc3339),
            due_local => s.due_at.map(|d| local(shop, d)),
            level => s.level.as_str(),
            text => pitwall_core::domain::timer::format_secs(s.remaining_secs.unwrap_or(s.elapsed_secs)),
        }),
        stage_timer => v.stage_timer.as_ref().map(|s| context! {
            started => rfc3339(s.started_at),
            due => s.due_at.map(rfc3339),
            due_local => s.due_at.map(|d| local(shop, d)),
            level => s.level.as_str(),
            text => pitwall_core::domain::timer::format_secs(s.remaining_secs.unwrap_or(s.elapsed_secs)),
        }),
        services => v.services.iter().map(|s| context! {
            id => s.service.id.to_string(),
            awaiting => pitwall_core::approvals::awaits_decision(&s.service.status),
            title => s.service.title.clone(),
            status => s.service.status.clone(),
            parts_status => s.service.parts_status.clone(),
            parts_needed => s.service.parts_needed,
            own => s.service.source == "pitwall",
            ready => s.service.ready,
            done => s.service.done_at.is_some(),
            customer_note => s.service.customer_note.clone(),
            internal_note => s.service.internal_note.clone(),
            subtotal => money(s.service.subtotal, cur),
            items => s.line_items.iter().map(|l| context! {
                id => l.id.to_string(),
                kind => l.kind.clone(),
                description => l.description.clone(),
                quantity => format!("{}", l.quantity_milli as f64 / 1000.0),
                unit_price => money(l.unit_price, cur),
                amount => money(l.amount, cur),
                taxable => l.taxable,
                part_number => l.part_number.clone(),
            }).collect::<Vec<_>>(),
        }).collect::<Vec<_>>(),
    }
}

/// "Customer viewing" for a template: until when it holds without news,
/// and how many seconds that is from now (the script hides the mark then,
/// on the page's own clock).
pub(super) fn viewing_value(until: Option<DateTime<Utc>>) -> Option<Value> {
    until.map(|u| {
        context! {
            until => rfc3339(u),
            left => (u - Utc::now()).num_seconds().max(1),
        }
    })
}

fn shop_tz(shop: &InShop) -> chrono_tz::Tz {
    shop.ctx.shop.time_zone.parse().unwrap_or(chrono_tz::UTC)
}

async fn status_choices(app: &App, shop: &InShop) -> Vec<Value> {
    statuses::list(app, &shop.ctx, false)
        .await
        .unwrap_or_default()
        .iter()
        .map(|s| {
            context! { id => s.id.to_string(), label => s.label.clone(), mode => s.timer_mode.clone(),
            minutes => s.default_minutes }
        })
        .collect()
}

pub(super) async fn staff_choices(app: &App, shop: &InShop) -> Vec<Value> {
    pitwall_core::members::list(app, &shop.ctx, PageRequest::first(PageRequest::MAX_LIMIT))
        .await
        .map(|p| {
            p.items
                .iter()
                .map(|m| context! { id => m.user.id.to_string(), name => m.user.name.clone(), role => m.membership.role.clone() })
                .collect()
        })
        .unwrap_or_default()
}

/// Pages re-read by the live script ask for their fragment only.
pub(super) fn wants_fragment(req: &Request) -> bool {
    req.header("x-fragment") == Some("1")
}

// ---- dashboard -------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(crate) struct DashboardQuery {
    advisor: Option<String>,
    status: Option<String>,
}

fn opt_id<T: std::str::FromStr>(raw: &Option<String>) -> Option<T> {
    raw.as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

#[handler]
pub(crate) async fn dashboard(
    app: Data<&App>,
    req: &Request,
    Query(q): Query<DashboardQuery>,
) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let rows = tickets::dashboard(
                &app,
                &shop.ctx,
                tickets::DashboardFilter {
                    advisor_id: opt_id::<UserId>(&q.advisor),
                    status_id: opt_id::<StatusId>(&q.status),
                },
            )
            .await
            .or_page(&shop.layout)?;
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let last = r.last_message.as_ref().map(|m| {
                        let what = if m.channel == "sms" { "Text" } else { "E-mail" };
                        let (label, level) = match m.status.as_str() {
                            "failed" => (format!("{what} failed"), "bad"),
                            "held" => (format!("{what} held"), "warn"),
                            "delivered" => (format!("{what} delivered"), "ok"),
                            "sent" => (format!("{what} sent"), "ok"),
                            _ => (format!("{what} queued"), "muted"),
                        };
                        context! { label, level, reason => m.error_message.clone().or(m.hold_reason.clone()) }
                    });
                    context! { sms => r.sms, email => r.email, unread => r.unread_reply, last,
                    viewing => viewing_value(r.customer_viewing_until),
                    ..ticket_value(&shop, &r.view) }
                })
                .collect();
            let query = format!(
                "advisor={}&status={}",
                q.advisor.clone().unwrap_or_default(),
                q.status.clone().unwrap_or_default()
            );
            let ctx = context! {
                rows,
                statuses => status_choices(&app, &shop).await,
                staff => staff_choices(&app, &shop).await,
                advisor => q.advisor.clone().unwrap_or_default(),
                status => q.status.clone().unwrap_or_default(),
                query,
                may_set_status => app.may(&shop.ctx, pitwall_core::domain::Permission::TicketsStatusSet).await,
                repair_orders => shop.ctx.features.has(Feature::RepairOrders),
                ..Notice::ok(flash(req)).with(&shop.layout)
            };
            let name = if wants_fragment(req) {
                "dashboard_rows.html"
            } else {
                "dashboard.html"
            };
            Ok(render::page(StatusCode::OK, name, ctx))
        }
        .await,
    )
}

// ---- live events -------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(crate) struct EventsQuery {
    ticket: Option<String>,
}

/// Server-sent events for the signed-in page (the API's twin is
/// `GET /api/v1/events`, which takes a bearer token).
#[handler]
pub(crate) async fn events(
    app: Data<&App>,
    req: &Request,
    Query(q): Query<EventsQuery>,
) -> Response {
    let shop = match Signed::from(&app, req).await {
        Ok(s) => match s.in_shop(&app).await {
            Ok(shop) => shop,
            Err(r) => return r,
        },
        Err(r) => return r,
    };
    let ticket = opt_id::<TicketId>(&q.ticket);
    let stream = match pitwall_core::streams::open_staff(
        &app,
        &shop.signed.actor,
        &shop.ctx,
        ticket,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return render::error(&e, shop.layout.clone()),
    };
    let app = app.clone();
    let stream = futures::stream::unfold((stream, app), |(mut stream, app)| async move {
        let data = match stream.next(&app).await? {
            Told::Event(e) => match e.handoff {
                // The page names the ticket and the queues it entered.
                Some(h) => serde_json::json!({
                    "kind": e.kind,
                    "ticket_id": e.ticket_id,
                    "ticket_number": h.ticket_number,
                    "queues": h.queues,
                }),
                None => serde_json::json!({"kind": e.kind, "ticket_id": e.ticket_id}),
            }
            .to_string(),
            Told::Resync => "{\"kind\":\"resync\"}".to_owned(),
        };
        Some((Event::message(data), (stream, app)))
    });
    SSE::new(stream.boxed())
        .keep_alive(pitwall_core::streams::KEEP_ALIVE)
        .into_response()
}

// ---- tickets -----------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(crate) struct TicketQuery {
    q: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
}

#[handler]
pub(crate) async fn list(app: Data<&App>, req: &Request, Query(q): Query<TicketQuery>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let page =
                PageRequest::parse(q.cursor.as_deref(), Some(25)).unwrap_or(PageRequest::first(25));
            let state = q.state.clone().unwrap_or_else(|| "open".to_owned());
            let result = tickets::list(
                &app,
                &shop.ctx,
                tickets::ListQuery {
                    q: q.q.as_deref(),
                    kind: q.kind.as_deref(),
                    state: Some(&state),
                    status_id: None,
                    advisor_id: None,
                    technician_id: None,
                },
                page,
            )
            .await;
            let (items, next, error) = match result {
                Ok(p) => (p.items, p.next_cursor, None),
                Err(e) => match render::form_error(&e) {
                    Some(p) => (vec![], None, Some(p.message)),
                    None => return Err(render::error(&e, shop.layout.clone())),
                },
            };
            Ok(render::page(
                StatusCode::OK,
                "tickets.html",
                context! {
                    tickets => items.iter().map(|v| ticket_value(&shop, v)).collect::<Vec<_>>(),
                    q => q.q.clone().unwrap_or_default(),
                    kind => q.kind.clone().unwrap_or_default(),
                    state,
                    next,
                    ..context! { error, ..shop.layout.clone() }
                },
            ))
        }
        .await,
    )
}

pub(super) async fn ticket_page(
    app: &App,
    shop: &InShop,
    id: TicketId,
    notice: Notice,
    fragment: bool,
) -> Page {
    ticket_page_with(app, shop, id, notice, fragment, None).await
}

/// The ticket's facts card alone (status, stage, people), which an open
/// page re-reads when the ticket changes, as it does its live part.
async fn ticket_facts(app: &App, shop: &InShop, id: TicketId) -> Page {
    let view = tickets::get_view(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let ctx = context! {
        ticket => ticket_value(shop, &view),
        repair_orders => shop.ctx.features.has(Feature::RepairOrders),
        ..shop.layout.clone()
    };
    Ok(render::page(StatusCode::OK, "ticket_facts.html", ctx))
}

/// The ticket page; `issued` is a customer link just made (its URL is
/// shown this once).
pub(super) async fn ticket_page_with(
    app: &App,
    shop: &InShop,
    id: TicketId,
    notice: Notice,
    fragment: bool,
    issued: Option<Value>,
) -> Page {
    let d = tickets::get(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let care = super::approvals::customer_care(app, shop, &d.view).await?;
    let timeline = match tickets::timeline(app, &shop.ctx, id, PageRequest::first(200)).await {
        Ok(p) => Some(p.items),
        Err(pitwall_core::Error::FeatureNotInPlan { .. }) => None,
        Err(e) => return Err(render::error(&e, shop.layout.clone())),
    };
    let cur = d.view.ticket.currency.clone();
    let inspections = if fragment {
        Value::UNDEFINED
    } else {
        super::inspect::of_ticket(app, shop, id).await
    };
    // In the live part: a payment shows on an open ticket page at once.
    let invoices = super::invoices::of_ticket(app, shop, id).await;
    let ctx = context! {
        inspections,
        invoices,
        ticket => ticket_value(shop, &d.view),
        history => d.status_history.iter().map(|h| context! {
            from => h.from.clone(), to => h.to.clone(), by => h.by.clone(), at => local(shop, h.at),
        }).collect::<Vec<_>>(),
        comments => d.comments.iter().map(|c| context! {
            author => c.author_name.clone(), body => c.body.clone(), source => c.source.clone(), at => local(shop, c.created_at),
        }).collect::<Vec<_>>(),
        messages => d.messages.iter().map(|m| context! {
            channel => m.channel.clone(), to => m.to_address.clone(), body => m.body.clone(), status => m.status.clone(), at => local(shop, m.created_at),
        }).collect::<Vec<_>>(),
        shop_history => d.shop_history.iter().map(|t| context! {
            id => t.id.to_string(), number => t.number.clone(), kind => t.kind.clone(),
            total => money(t.total, &cur), closed => t.closed, at => local(shop, t.created_at),
        }).collect::<Vec<_>>(),
        timeline => timeline.map(|items| items.iter().map(|e| context! {
            kind => e.kind.replace('_', " "),
            raw_kind => e.kind.clone(),
            actor => e.actor_name.clone(),
            at => local(shop, e.created_at),
            detail => timeline_detail(&e.kind, &e.data),
            approval_id => serde_json::from_str::<serde_json::Value>(&e.data).ok()
                .and_then(|v| v["approval_id"].as_str().map(str::to_owned)),
        }).collect::<Vec<_>>()),
        statuses => status_choices(app, shop).await,
        staff => staff_choices(app, shop).await,
        may_set_status => app.may(&shop.ctx, pitwall_core::domain::Permission::TicketsStatusSet).await,
        may_comment => app.may(&shop.ctx, pitwall_core::domain::Permission::TicketsComment).await,
        may_edit => app.may(&shop.ctx, pitwall_core::domain::Permission::TicketsEdit).await,
        repair_orders => shop.ctx.features.has(Feature::RepairOrders),
        may_complete => app.may(&shop.ctx, pitwall_core::domain::Permission::ServicesComplete).await,
        may_services => app.may(&shop.ctx, pitwall_core::domain::Permission::ServicesEdit).await,
        may_parts => app.may(&shop.ctx, pitwall_core::domain::Permission::PartsEdit).await,
        may_message => app.may(&shop.ctx, pitwall_core::domain::Permission::MessagesSend).await,
        issued,
        ..context! { ..care, ..notice.with(&shop.layout) }
    };
    let name = if fragment {
        "ticket_live.html"
    } else {
        "ticket.html"
    };
    Ok(render::page(notice.status, name, ctx))
}

/// One line about a timeline event, from its data.
fn timeline_detail(kind: &str, data: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    match kind {
        "status_changed" => format!(
            "{} → {}",
            v["from"]["label"].as_str().unwrap_or("none"),
            v["to"]["label"].as_str().unwrap_or_default()
        ),
        "pos_push" => format!("POS {} ticket {}", s("outcome"), s("number")),
        "stage_changed" => {
            let moved = format!("{} → {}", s("from"), s("to")).replace('_', " ");
            match v["reason"].as_str() {
                Some(why) => format!("{moved}: {why}"),
                None => moved,
            }
        }
        "message_queued" => format!("{} queued", s("channel").to_uppercase()),
        "work_approved" => {
            let titles: Vec<&str> = v["approved"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["title"].as_str()).collect())
                .unwrap_or_default();
            format!(
                "approved ({}): {}",
                s("method").replace('_', " "),
                titles.join(", ")
            )
        }
        "work_declined" => {
            let titles: Vec<&str> = v["declined"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["title"].as_str()).collect())
                .unwrap_or_default();
            format!(
                "declined ({}): {}",
                s("method").replace('_', " "),
                titles.join(", ")
            )
        }
        "link_sent" => match s("how").as_str() {
            "copied" => "link created to copy".to_owned(),
            "sms" => "link sent by text".to_owned(),
            "email" => "link sent by e-mail".to_owned(),
            other => format!("link sent ({other})"),
        },
        "link_opened" => {
            if v["first_open"].as_bool() == Some(true) {
                "first open".to_owned()
            } else {
                format!("visit {}", v["visit"].as_i64().unwrap_or_default())
            }
        }
        "customer_message" => "wrote from the customer page".to_owned(),
        "assigned" => format!(
            "advisor {}, technician {}",
            v["advisor"].as_str().unwrap_or("none"),
            v["technician"].as_str().unwrap_or("none")
        ),
        _ => String::new(),
    }
}

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: TicketId = parse_id(&id, "ticket").or_page(&shop.layout)?;
            let fragment = wants_fragment(req);
            if fragment && req.uri().query() == Some("part=facts") {
                return ticket_facts(&app, &shop, id).await;
            }
            if !fragment {
                // Opening the ticket is seeing its approval: the dashboard's
                // highlight goes. A failure only keeps the highlight.
                if let Err(e) = pitwall_core::approvals::acknowledge(&app, &shop.ctx, id).await {
                    tracing::debug!(error = %e, "approval not acknowledged");
                }
            }
            ticket_page(&app, &shop, id, Notice::ok(flash(req)), fragment).await
        }
        .await,
    )
}

pub(super) async fn posted_ticket(
    app: &App,
    req: &Request,
    form: &FormData,
    id: &str,
) -> Result<(InShop, TicketId), Response> {
    let shop = Signed::posted(app, req, form).await?.in_shop(app).await?;
    let id: TicketId = parse_id(id, "ticket").or_page(&shop.layout)?;
    Ok((shop, id))
}

/// Where a ticket form returns to: the dashboard when sent from there.
pub(super) fn back_to(form: &FormData, id: TicketId, code: &str) -> String {
    match form.get("back") {
        "dashboard" => format!("/app/dashboard?ok={code}"),
        _ => format!("/app/tickets/{id}?ok={code}"),
    }
}

#[handler]
pub(crate) async fn set_status(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let status = match form.get("status_id").parse::<StatusId>() {
                Ok(s) => s,
                Err(_) => {
                    let e = pitwall_core::Error::invalid("status_id", "choose a status");
                    return refused(&e, &shop.layout, async |n| {
                        ticket_page(&app, &shop, id, n, false).await
                    })
                    .await;
                }
            };
            let minutes = match form.get("duration_minutes").trim() {
                "" => None,
                m => match m.parse::<i32>() {
                    Ok(m) => Some(m),
                    Err(_) => {
                        let e = pitwall_core::Error::invalid(
                            "duration_minutes",
                            "must be a whole number of minutes",
                        );
                        return refused(&e, &shop.layout, async |n| {
                            ticket_page(&app, &shop, id, n, false).await
                        })
                        .await;
                    }
                },
            };
            let result = tickets::set_status(&app, &shop.ctx, id, status, minutes).await;
            finish(
                result,
                &back_to(&form, id, "status"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn set_stage(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let reason = form.get("reason");
            let result = pitwall_core::workflow::move_stage(
                &app,
                &shop.ctx,
                id,
                pitwall_core::workflow::StageRequest {
                    stage: form.get("stage"),
                    reason: Some(reason),
                    ticket_version: form.get("ticket_version").parse().ok(),
                },
            )
            .await;
            finish(
                result,
                &back_to(&form, id, "stage"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

/// A typed number (hours, quantity) or the field's error.
fn typed_number(form: &FormData, field: &str) -> pitwall_core::Result<f64> {
    form.get(field)
        .trim()
        .parse::<f64>()
        .map_err(|_| pitwall_core::Error::invalid(field, "must be a number such as 1 or 1.5"))
}

fn typed_amount(form: &FormData, field: &str) -> pitwall_core::Result<i64> {
    pitwall_core::domain::tickets::amount_minor(form.get(field))
        .map_err(pitwall_core::Error::field(field))
}

/// The advisor adds a position from the ticket page: a title, the
/// customer's words, whether it needs parts, and one labour line.
#[handler]
pub(crate) async fn add_position(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let result = async {
                let mut line_items = Vec::new();
                if !form.get("labor_description").trim().is_empty() {
                    line_items.push(pitwall_core::workflow::WorkLine {
                        kind: "labor".into(),
                        description: form.get("labor_description").to_owned(),
                        quantity: typed_number(&form, "labor_hours")?,
                        unit_price: typed_amount(&form, "labor_rate")?,
                        taxable: form.get("taxable") == "on",
                        part_number: None,
                    });
                }
                pitwall_core::workflow::add_service(
                    &app,
                    &shop.ctx,
                    id,
                    pitwall_core::workflow::NewService {
                        title: form.get("title").to_owned(),
                        customer_note: Some(form.get("customer_note").to_owned()),
                        parts_needed: form.get("parts_needed") == "on",
                        line_items,
                    },
                )
                .await
            }
            .await;
            finish(
                result,
                &back_to(&form, id, "position_added"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

/// Parts works a position from the ticket page: adds a part line, or
/// moves its parts status.
#[handler]
pub(crate) async fn work_position(
    app: Data<&App>,
    req: &Request,
    Path((id, service)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let service: pitwall_core::domain::ServiceId =
                parse_id(&service, "service").or_page(&shop.layout)?;
            let result = async {
                let patch = match form.get("action") {
                    "part" => pitwall_core::workflow::ServicePatch {
                        add_part: Some(pitwall_core::workflow::WorkLine {
                            kind: "part".into(),
                            description: form.get("description").to_owned(),
                            quantity: typed_number(&form, "quantity")?,
                            unit_price: typed_amount(&form, "unit_price")?,
                            taxable: form.get("taxable") == "on",
                            part_number: Some(form.get("part_number").to_owned()),
                        }),
                        ..Default::default()
                    },
                    "parts_status" => pitwall_core::workflow::ServicePatch {
                        parts_status: Some(form.get("parts_status").to_owned()),
                        ..Default::default()
                    },
                    // The advisor's words for the customer, and whether the
                    // recommendation is ready to go out.
                    "edit" => pitwall_core::workflow::ServicePatch {
                        title: Some(form.get("title").to_owned()),
                        customer_note: Some(form.opt("customer_note").map(str::to_owned)),
                        ready: Some(form.get("ready") == "on"),
                        ..Default::default()
                    },
                    "note" => pitwall_core::workflow::ServicePatch {
                        internal_note: Some(form.opt("internal_note").map(str::to_owned)),
                        ..Default::default()
                    },
                    "remove_line" => pitwall_core::workflow::ServicePatch {
                        remove_line: Some(form.get("line").parse().map_err(|_| {
                            pitwall_core::Error::invalid("line", "must be a line id")
                        })?),
                        ..Default::default()
                    },
                    _ => {
                        return Err(pitwall_core::Error::invalid(
                            "action",
                            "must be part, parts_status, edit, note or remove_line",
                        ));
                    }
                };
                pitwall_core::workflow::edit_service(&app, &shop.ctx, id, service, patch).await
            }
            .await;
            finish(
                result,
                &back_to(&form, id, "position_saved"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

/// The advisor sends positions found after the approval to the customer as
/// an order extension, by text, e-mail or not at all (then the link goes
/// out some other way).
#[handler]
pub(crate) async fn send_extension(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let result = async {
                let mut ids = Vec::new();
                for (n, raw) in form.all("service_ids").iter().enumerate() {
                    ids.push(
                        raw.parse::<pitwall_core::domain::ServiceId>()
                            .map_err(|_| {
                                pitwall_core::Error::invalid(
                                    format!("service_ids/{n}"),
                                    "is not a position of this ticket",
                                )
                            })?,
                    );
                }
                pitwall_core::workflow::send_extension(&app, &shop.ctx, id, &ids, form.opt("send"))
                    .await
            }
            .await;
            finish(
                result,
                &back_to(&form, id, "extension_sent"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn service_done(
    app: Data<&App>,
    req: &Request,
    Path((id, service)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let service = parse_id(&service, "service").or_page(&shop.layout)?;
            let result =
                pitwall_core::workflow::complete_service(&app, &shop.ctx, id, service).await;
            finish(
                result,
                &back_to(&form, id, "service_done"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn comment(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let result = tickets::add_comment(&app, &shop.ctx, id, form.get("body")).await;
            finish(
                result,
                &back_to(&form, id, "commented"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn assign(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let user = |name: &str| form.get(name).parse::<UserId>().ok();
            let promised = match form.get("promised_at").trim() {
                "" => Ok(None),
                raw => chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
                    .ok()
                    .and_then(|n| n.and_local_timezone(shop_tz(&shop)).earliest())
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .ok_or_else(|| {
                        pitwall_core::Error::invalid("promised_at", "must be a date and time")
                    }),
            };
            let result = match promised {
                Ok(promised_at) => tickets::assign(
                    &app,
                    &shop.ctx,
                    id,
                    tickets::Assignment {
                        advisor_id: user("advisor_id"),
                        technician_id: user("technician_id"),
                        priority: form.get("priority").parse().unwrap_or(0),
                        promised_at,
                    },
                )
                .await
                .map(|_| ()),
                Err(e) => Err(e),
            };
            finish(
                result,
                &back_to(&form, id, "assigned"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

/// Sends the shop's reminder template about the ticket (`messaging::send_reminder`).
#[handler]
pub(crate) async fn reminder(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let result =
                pitwall_core::messaging::send_reminder(&app, &shop.ctx, id, form.get("channel"))
                    .await;
            finish(
                result,
                &back_to(&form, id, "reminder"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

// ---- technician's work, sync health -------------------------------------------

#[handler]
pub(crate) async fn work(app: Data<&App>, req: &Request, Query(q): Query<WorkQuery>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let queue = q.queue.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let items = match queue {
                Some(name) => pitwall_core::workflow::queue(&app, &shop.ctx, name).await,
                None => tickets::my_work(&app, &shop.ctx).await,
            }
            .or_page(&shop.layout)?;
            use pitwall_core::domain::Permission;
            // The queues this member's role works from (repair-order
            // workflow), beside the technician's own assigned work.
            let mut queues = Vec::new();
            if shop.ctx.features.has(Feature::RepairOrders) {
                for (name, label, perm) in [
                    ("qualification", "To qualify", Permission::ServicesEdit),
                    ("parts", "Parts", Permission::PartsEdit),
                    ("completion", "To complete", Permission::ServicesComplete),
                ] {
                    if app.may(&shop.ctx, perm).await {
                        queues.push(context! { name, label, current => queue == Some(name) });
                    }
                }
            }
            let ctx = context! {
                tickets => items.iter().map(|v| ticket_value(&shop, v)).collect::<Vec<_>>(),
                queue,
                queues,
                live_src => match queue {
                    Some(q) => format!("/app/work?queue={q}"),
                    None => "/app/work".to_owned(),
                },
                ..shop.layout.clone()
            };
            let name = if wants_fragment(req) {
                "work_rows.html"
            } else {
                "work.html"
            };
            Ok(render::page(StatusCode::OK, name, ctx))
        }
        .await,
    )
}

#[derive(Deserialize, Default)]
pub(crate) struct WorkQuery {
    queue: Option<String>,
}

#[handler]
pub(crate) async fn sync_health(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let h = pos::sync_health(&app, &shop.ctx)
                .await
                .or_page(&shop.layout)?;
            Ok(sync_health_page(
                &h,
                &shop.ctx.shop,
                None,
                shop.layout.clone(),
            ))
        }
        .await,
    )
}

/// The sync-health page, for the shop's owner or (with `for_support`) for
/// platform support in the admin console.
pub(crate) fn sync_health_page(
    h: &pos::SyncHealth,
    shop: &pitwall_core::model::shops::Shop,
    for_support: Option<&str>,
    layout: Value,
) -> Response {
    let at = |t: DateTime<Utc>| pitwall_core::domain::timer::local_display(t, &shop.time_zone);
    render::page(
        StatusCode::OK,
        "sync_health.html",
        context! {
            for_support,
            shop_name_heading => shop.name.clone(),
            last_push => h.last_push_at.map(at),
            last_accepted => h.last_accepted_at.map(at),
            accepted => h.accepted_24h,
            stale => h.stale_24h,
            rejected => h.rejected_24h,
            unprocessed => h.unprocessed_notifications,
            keys => h.keys.iter().map(|k| context! {
                name => k.name.clone(), prefix => k.prefix.clone(),
                last_used => k.last_used_at.map(at), revoked => k.revoked_at.is_some(),
            }).collect::<Vec<_>>(),
            rejections => h.recent_rejections.iter().map(|e| context! {
                at => at(e.created_at),
                operation => e.operation.clone(),
                external_id => e.external_id.clone(),
                errors => e.errors.clone(),
                payload => e.payload.clone(),
            }).collect::<Vec<_>>(),
            ..layout
        },
    )
}

// ---- message setup -------------------------------------------------------------

async fn statuses_page(app: &App, shop: &InShop, notice: Notice) -> Page {
    let all = statuses::list(app, &shop.ctx, true)
        .await
        .or_page(&shop.layout)?;
    Ok(render::page(
        notice.status,
        "statuses.html",
        context! {
            statuses => all.iter().map(|s| context! {
                id => s.id.to_string(), position => s.position, label => s.label.clone(), color => s.color.clone(),
                notify => s.notify_customer, template => s.message_template.clone(), mode => s.timer_mode.clone(),
                minutes => s.default_minutes, retired => s.retired_at.is_some(),
            }).collect::<Vec<_>>(),
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn statuses_show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            app.require(
                &shop.ctx,
                pitwall_core::domain::Permission::MessageSetupManage,
            )
            .await
            .or_page(&shop.layout)?;
            statuses_page(&app, &shop, Notice::ok(flash(req))).await
        }
        .await,
    )
}

fn status_input(form: &FormData) -> statuses::StatusInput {
    statuses::StatusInput {
        label: form.get("label").to_owned(),
        color: form.get("color").to_owned(),
        notify_customer: form.get("notify_customer") == "on",
        message_template: form.get("message_template").to_owned(),
        timer_mode: form.get("timer_mode").to_owned(),
        default_minutes: form.get("default_minutes").trim().parse().ok(),
        position: form.get("position").trim().parse().ok(),
    }
}

#[handler]
pub(crate) async fn statuses_create(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let result = statuses::create(&app, &shop.ctx, status_input(&form)).await;
            finish(result, "/app/statuses?ok=saved", &shop.layout, async |n| {
                statuses_page(&app, &shop, n).await
            })
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn statuses_update(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: StatusId = parse_id(&id, "status").or_page(&shop.layout)?;
            let result = statuses::update(&app, &shop.ctx, id, status_input(&form)).await;
            finish(result, "/app/statuses?ok=saved", &shop.layout, async |n| {
                statuses_page(&app, &shop, n).await
            })
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn statuses_retire(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: StatusId = parse_id(&id, "status").or_page(&shop.layout)?;
            let result = statuses::retire(&app, &shop.ctx, id).await;
            finish(
                result,
                "/app/statuses?ok=retired",
                &shop.layout,
                async |n| statuses_page(&app, &shop, n).await,
            )
            .await
        }
        .await,
    )
}

// ---- customers -------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(crate) struct CustomerQuery {
    q: Option<String>,
}

async fn customers_page(app: &App, shop: &InShop, q: Option<&str>, notice: Notice) -> Page {
    let page = customers::search(app, &shop.ctx, q, PageRequest::first(50))
        .await
        .or_page(&shop.layout)?;
    Ok(render::page(
        notice.status,
        "customers.html",
        context! {
            q => q.unwrap_or_default(),
            customers => page.items.iter().map(customer_value).collect::<Vec<_>>(),
            may_edit => app.may(&shop.ctx, pitwall_core::domain::Permission::CustomersEdit).await,
            ..notice.with(&shop.layout)
        },
    ))
}

fn customer_value(c: &pitwall_core::model::customers::Customer) -> Value {
    context! {
        id => c.id.to_string(),
        name => tickets::customer_name(c),
        phone => c.phone.clone(),
        email => c.email.clone(),
        sms => c.phone.is_some() && !c.sms_opt_out,
        email_on => c.email.is_some() && !c.email_opt_out,
        sms_opt_out => c.sms_opt_out,
        email_opt_out => c.email_opt_out,
    }
}

#[handler]
pub(crate) async fn customers_list(
    app: Data<&App>,
    req: &Request,
    Query(q): Query<CustomerQuery>,
) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            customers_page(&app, &shop, q.q.as_deref(), Notice::ok(flash(req))).await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn customers_create(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let opt = |k: &str| Some(form.get(k).to_owned()).filter(|v| !v.trim().is_empty());
            let result = customers::create(
                &app,
                &shop.ctx,
                customers::NewCustomer {
                    first_name: opt("first_name"),
                    last_name: opt("last_name"),
                    phone: opt("phone"),
                    email: opt("email"),
                },
            )
            .await;
            match result {
                Ok((c, _)) => Ok(render::redirect(&format!("/app/customers/{}", c.id))),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        customers_page(&app, &shop, None, n).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn customer_show(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: CustomerId = parse_id(&id, "customer").or_page(&shop.layout)?;
            let d = customers::get(&app, &shop.ctx, id).await.or_page(&shop.layout)?;
            Ok(render::page(
                StatusCode::OK,
                "customer.html",
                context! {
                    customer => customer_value(&d.customer),
                    vehicles => d.vehicles.iter().map(|v| context! {
                        label => tickets::vehicle_label(v), plate => v.plate.clone(), vin => v.vin.clone(),
                    }).collect::<Vec<_>>(),
                    tickets => d.tickets.iter().map(|t| context! {
                        id => t.id.to_string(), number => t.number.clone(), kind => t.kind.clone(),
                        total => money(t.total, &t.currency), closed => t.closed,
                    }).collect::<Vec<_>>(),
                    ..shop.layout.clone()
                },
            ))
        }
        .await,
    )
}
