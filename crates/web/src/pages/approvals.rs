//! The staff side of customer care on a ticket: customer links (create,
//! send, re-issue, revoke), the advisor's preview of the customer's page,
//! "customer viewing", approvals (recorded in person or by phone, opened
//! with their signature, verified as a chain).

use minijinja::{Value, context};
use pitwall_core::App;
use pitwall_core::approvals::{self, ApprovalView, Decision};
use pitwall_core::customer;
use pitwall_core::domain::approvals::Link;
use pitwall_core::domain::{ApprovalId, Feature, LinkId, Permission, ServiceId, TicketId};
use pitwall_core::links;
use pitwall_core::tickets::TicketView;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::customer::{Extras, Mode, render_page};
use super::tickets::{local, posted_ticket, ticket_page_with, viewing_value, wants_fragment};
use super::{Notice, Page, parse_id, refused, respond};
use crate::render::{self, OrPage, money};
use crate::session::{FormData, InShop, Signed, flash};

fn method_label(m: &str) -> &'static str {
    match m {
        "customer_link" => "customer link",
        "in_person" => "in person",
        "phone" => "by phone",
        _ => "other",
    }
}

/// What the ticket page shows of customer care: links, presence,
/// approvals and the forms that go with them.
pub(super) async fn customer_care(
    app: &App,
    shop: &InShop,
    v: &TicketView,
) -> Result<Value, Response> {
    let ctx = &shop.ctx;
    let id = TicketId::from_uuid(v.ticket.id);
    let has_links = ctx.features.has(Feature::CustomerLinks);
    let links = if has_links {
        let all = links::list(app, ctx, id).await.or_page(&shop.layout)?;
        Some(
            all.iter()
                .rev()
                .map(|l| {
                    context! {
                        id => l.link.id.to_string(),
                        state => l.state,
                        viewing => l.viewing,
                        created => local(shop, l.link.created_at),
                        expires => local(shop, l.link.expires_at),
                        visits => l.link.open_count,
                        last_opened => l.link.last_opened_at.map(|t| local(shop, t)),
                    }
                })
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let viewing = if has_links {
        links::viewing(app, ctx, id).await.or_page(&shop.layout)?
    } else {
        None
    };
    let list = approvals::list(app, ctx, id).await.or_page(&shop.layout)?;
    let approvals: Vec<Value> = list
        .iter()
        .rev()
        .map(|a| {
            let r = &a.record;
            context! {
                id => r.id.to_string(),
                at => local(shop, r.created_at),
                method => method_label(&r.method),
                signer => r.signer_name.clone(),
                staff => r.staff_name.clone(),
                approved => a.approved.iter().map(|s| s.title.clone()).collect::<Vec<_>>(),
                declined => a.declined.iter().map(|s| s.title.clone()).collect::<Vec<_>>(),
                approved_total => money(r.approved_total, &r.currency),
            }
        })
        .collect();
    let may_send = has_links && app.may(ctx, Permission::CustomerLinksSend).await;
    let may_record =
        ctx.features.has(Feature::Approvals) && app.may(ctx, Permission::ApprovalsRecord).await;
    let cur = v.ticket.currency.as_str();
    let awaiting: Vec<Value> = v
        .services
        .iter()
        .filter(|s| approvals::awaits_decision(&s.service.status))
        .map(|s| {
            context! {
                id => s.service.id.to_string(),
                title => s.service.title.clone(),
                subtotal => money(s.service.subtotal, cur),
            }
        })
        .collect();
    Ok(context! {
        links,
        link_card => has_links.then(|| context! { may_send }),
        viewing => viewing_value(viewing),
        approvals,
        record_approval => (may_record && !awaiting.is_empty()).then(|| context! { services => awaiting }),
    })
}

// ---- links ---------------------------------------------------------------------

#[handler]
pub(crate) async fn issue_link(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let result = links::issue(
                &app,
                &shop.ctx,
                id,
                links::Issue {
                    send: form.opt("send"),
                    replace: form.get("replace") == "on",
                    template: pitwall_core::domain::messaging::TemplateKind::Link,
                    attachment: None,
                },
            )
            .await;
            match result {
                // The URL exists only now: shown on the page, not redirected.
                Ok(issued) => {
                    let how = match form.get("send") {
                        "sms" => "sent by text",
                        "email" => "sent by e-mail",
                        _ => "created",
                    };
                    let value = context! {
                        url => issued.url,
                        how,
                        expires => local(&shop, issued.link.expires_at),
                        message_status => issued.message.as_ref().map(|m| m.status.clone()),
                        message_error => issued.message.as_ref().and_then(|m| m.error_message.clone().or(m.hold_reason.clone())),
                    };
                    ticket_page_with(
                        &app,
                        &shop,
                        id,
                        Notice::ok(None),
                        false,
                        Some(value),
                    )
                    .await
                }
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        ticket_page_with(&app, &shop, id, n, false, None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn revoke_link(
    app: Data<&App>,
    req: &Request,
    Path((id, link)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let link: LinkId = parse_id(&link, "customer link").or_page(&shop.layout)?;
            let result = links::revoke(&app, &shop.ctx, id, link).await;
            super::finish(
                result,
                &format!("/app/tickets/{id}?ok=link_revoked"),
                &shop.layout,
                async |n| ticket_page_with(&app, &shop, id, n, false, None).await,
            )
            .await
        }
        .await,
    )
}

/// The customer's page exactly as the customer would see it, marked as a
/// preview, with nothing that posts.
#[handler]
pub(crate) async fn preview(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: TicketId = parse_id(&id, "ticket").or_page(&shop.layout)?;
            let p = customer::preview(&app, &shop.ctx, id)
                .await
                .or_page(&shop.layout)?;
            Ok(render_page(
                StatusCode::OK,
                &p,
                &Mode::Preview(id.as_uuid()),
                &Extras::default(),
                wants_fragment(req),
            ))
        }
        .await,
    )
}

// ---- approvals -------------------------------------------------------------------

#[handler]
pub(crate) async fn record(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let ids = |name: &str| -> Vec<uuid::Uuid> {
                form.all(name)
                    .iter()
                    .filter_map(|s| s.trim().parse().ok())
                    .collect()
            };
            let approved = ids("approve");
            let declined: Vec<uuid::Uuid> = ids("awaiting")
                .into_iter()
                .filter(|a| !approved.contains(a))
                .collect();
            let result = approvals::record_by_staff(
                &app,
                &shop.ctx,
                id,
                form.get("method"),
                Decision {
                    approved: approved.into_iter().map(ServiceId::from_uuid).collect(),
                    declined: declined.into_iter().map(ServiceId::from_uuid).collect(),
                    signer_name: form.opt("signer_name").map(str::to_owned),
                    signature: form.opt("signature").map(str::to_owned),
                    note: form.opt("note").map(str::to_owned),
                    ticket_version: None,
                },
            )
            .await;
            match result {
                Ok(r) => Ok(render::redirect(&format!(
                    "/app/approvals/{}?ok=approval_recorded",
                    r.approval.id
                ))),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        ticket_page_with(&app, &shop, id, n, false, None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

/// Staff saw the new approval (the banner's button): the dashboard's
/// highlight goes.
#[handler]
pub(crate) async fn seen(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            approvals::acknowledge(&app, &shop.ctx, id)
                .await
                .or_page(&shop.layout)?;
            Ok(render::redirect(&format!("/app/tickets/{id}")))
        }
        .await,
    )
}

fn snapshot_value(s: &pitwall_core::domain::approvals::ServiceSnapshot, cur: &str) -> Value {
    context! {
        title => s.title.clone(),
        subtotal => money(s.subtotal, cur),
        items => s.line_items.iter().map(|l| context! {
            kind => l.kind.clone(),
            description => l.description.clone(),
            quantity => format!("{}", l.quantity_milli as f64 / 1000.0),
            unit_price => money(l.unit_price, cur),
            amount => money(l.amount, cur),
        }).collect::<Vec<_>>(),
        finding => s.finding.as_ref().map(|f| context! {
            inspection_id => f.inspection_id.to_string(),
            condition => f.condition.replace('_', " "),
            media => f.media_ids.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        }),
    }
}

fn approval_value(shop: &InShop, a: &ApprovalView) -> Value {
    let r = &a.record;
    let cur = r.currency.as_str();
    let (png, svg) = match r.signature.as_deref() {
        Some(s) if s.starts_with("data:image/png;base64,") => (Some(s.to_owned()), None),
        Some(s) => (None, Some(s.to_owned())),
        None => (None, None),
    };
    context! {
        id => r.id.to_string(),
        ticket_id => r.ticket_id.to_string(),
        seq => r.seq,
        at => local(shop, r.created_at),
        at_utc => r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        method => method_label(&r.method),
        raw_method => r.method.clone(),
        signer => r.signer_name.clone(),
        staff => r.staff_name.clone(),
        signature_png => png,
        signature_svg => svg,
        approved => a.approved.iter().map(|s| snapshot_value(s, cur)).collect::<Vec<_>>(),
        declined => a.declined.iter().map(|s| snapshot_value(s, cur)).collect::<Vec<_>>(),
        approved_total => money(r.approved_total, cur),
        subtotal => money(r.subtotal, cur),
        tax => money(r.tax, cur),
        total => money(r.total, cur),
        ticket_version => r.ticket_version,
        ip => r.ip.clone(),
        user_agent => r.user_agent.clone(),
        note => r.note.clone(),
        hash => r.hash.clone(),
        prev_hash => r.prev_hash.clone(),
    }
}

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: ApprovalId = parse_id(&id, "approval").or_page(&shop.layout)?;
            let a = approvals::get(&app, &shop.ctx, id)
                .await
                .or_page(&shop.layout)?;
            let ticket = pitwall_core::tickets::get(
                &app,
                &shop.ctx,
                TicketId::from_uuid(a.record.ticket_id),
            )
            .await
            .or_page(&shop.layout)?;
            let t = &ticket.view.ticket;
            Ok(render::page(
                StatusCode::OK,
                "approval.html",
                context! {
                    a => approval_value(&shop, &a),
                    ticket => context! { id => t.id.to_string(), number => t.number.clone(), kind => t.kind.clone() },
                    ..Notice::ok(flash(req)).with(&shop.layout)
                },
            ))
        }
        .await,
    )
}

/// Every approval of the ticket, its hash recomputed and the chain followed.
#[handler]
pub(crate) async fn verify(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(verify_page(&app, req, &id).await)
}

async fn verify_page(app: &App, req: &Request, id: &str) -> Page {
    let shop = Signed::from(app, req).await?.in_shop(app).await?;
    let id: TicketId = parse_id(id, "ticket").or_page(&shop.layout)?;
    let checked = approvals::verify(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let all = approvals::list(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let ticket = pitwall_core::tickets::get(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let rows: Vec<Value> = checked
        .iter()
        .map(|v| {
            let (state, text) = match v.link {
                Link::Intact => ("intact", "Intact: the record is as it was signed"),
                Link::Altered => (
                    "altered",
                    "Altered: what is stored now is not what was signed",
                ),
                Link::Broken => (
                    "broken",
                    "Broken: it does not follow the approval before it (one was removed or replaced)",
                ),
            };
            let a = all.iter().find(|a| a.record.id == v.approval_id);
            context! {
                id => v.approval_id.to_string(),
                seq => v.seq,
                hash => v.hash.clone(),
                state,
                text,
                at => a.map(|a| local(&shop, a.record.created_at)),
                signer => a.map(|a| a.record.signer_name.clone()),
            }
        })
        .collect();
    let all_intact = checked.iter().all(|v| v.link == Link::Intact);
    let t = &ticket.view.ticket;
    Ok(render::page(
        StatusCode::OK,
        "approvals_verify.html",
        context! {
            rows,
            all_intact,
            ticket => context! { id => t.id.to_string(), number => t.number.clone(), kind => t.kind.clone() },
            ..shop.layout.clone()
        },
    ))
}
