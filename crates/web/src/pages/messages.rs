//! Talking with customers: the message center (every thread, unread
//! first), one customer's thread (the chat log, reply, assignment, done,
//! resend, consent and opt-out), and the message templates and messaging
//! settings. Every rule is the use case's (`pitwall_core::messaging`); the
//! pages read forms and show what the use cases answer.

use minijinja::{Value, context};
use pitwall_core::domain::messaging::{TEMPLATE_VARIABLES, TemplateKind};
use pitwall_core::domain::{CustomerId, MessageId, Permission, UserId};
use pitwall_core::messaging::{self, Reply, SettingsInput, ThreadDetail, ThreadRow};
use pitwall_core::model::messages::Message;
use pitwall_core::outreach::Preview;
use pitwall_core::{App, tickets};
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::tickets::{local, staff_choices, wants_fragment};
use super::{Notice, Page, finish, parse_id, refused, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

/// Threads per page of the message center.
const PER_PAGE: u64 = 50;

/// The message center's filters, as the links show them.
const FILTERS: &[(&str, &str)] = &[
    ("open", "Open"),
    ("unread", "Unread"),
    ("mine", "Assigned to me"),
    ("done", "Done"),
    ("all", "All"),
];

/// The start of a message body, on one line, for a list.
fn snippet(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

fn inbound(m: &Message) -> bool {
    m.direction == "inbound"
}

// ---- the message center ------------------------------------------------------

#[derive(Deserialize, Default)]
pub(crate) struct CenterQuery {
    filter: Option<String>,
    offset: Option<String>,
}

fn thread_row(shop: &InShop, r: &ThreadRow) -> Value {
    context! {
        customer_id => r.customer.id.to_string(),
        name => tickets::customer_name(&r.customer),
        phone => r.customer.phone.clone(),
        unread => r.thread.unread_since.is_some(),
        done => r.thread.done_at.is_some(),
        assigned => r.assigned_name.clone(),
        at => local(shop, r.thread.last_message_at),
        last => r.last.as_ref().map(|m| context! {
            inbound => inbound(m),
            channel => m.channel.clone(),
            status => m.status.clone(),
            snippet => snippet(&m.body),
        }),
    }
}

#[handler]
pub(crate) async fn center(
    app: Data<&App>,
    req: &Request,
    Query(q): Query<CenterQuery>,
) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let name = q
                .filter
                .clone()
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "open".to_owned());
            let filter = messaging::parse_filter(&shop.ctx, Some(name.as_str())).or_page(&shop.layout)?;
            let offset = q
                .offset
                .as_deref()
                .and_then(|o| o.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let list = messaging::threads(&app, &shop.ctx, filter, offset, PER_PAGE)
                .await
                .or_page(&shop.layout)?;
            let ctx = context! {
                threads => list.items.iter().map(|r| thread_row(&shop, r)).collect::<Vec<_>>(),
                filter => name.clone(),
                filters => FILTERS.iter().map(|&(code, label)| context! { code, label, current => code == name }).collect::<Vec<_>>(),
                offset,
                next => list.next_offset,
                ..Notice::ok(flash(req)).with(&shop.layout)
            };
            let template = if wants_fragment(req) {
                "messages_rows.html"
            } else {
                "messages.html"
            };
            Ok(render::page(StatusCode::OK, template, ctx))
        }
        .await,
    )
}

// ---- one customer's thread -----------------------------------------------------

/// What was typed into the reply form, kept when the reply is refused.
#[derive(Default)]
struct Draft {
    channel: String,
    body: String,
}

/// How the thread page is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Showing {
    /// Someone opened the page: it is read from now on.
    Opened,
    /// A form's refusal shown again over the page.
    Again,
    /// The live script re-reads the chat log: nobody asked to open it.
    Fragment,
}

fn message_value(shop: &InShop, d: &ThreadDetail, name: &str, m: &Message) -> Value {
    let unread_since = d.thread.as_ref().and_then(|t| t.unread_since);
    let by = if inbound(m) {
        name.to_owned()
    } else {
        match m.created_by {
            Some(u) => d
                .senders
                .iter()
                .find(|(id, _)| *id == u)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| "A former staff member".to_owned()),
            None => "Pitwall (automatic)".to_owned(),
        }
    };
    let resendable = messaging::resendable(m);
    context! {
        id => m.id.to_string(),
        inbound => inbound(m),
        channel => m.channel.clone(),
        kind => m.kind.replace('_', " "),
        subject => m.subject.clone(),
        body => m.body.clone(),
        to => m.to_address.clone(),
        status => m.status.clone(),
        error_code => m.error_code.clone(),
        error_message => m.error_message.clone(),
        hold_reason => m.hold_reason.as_ref().map(|r| r.replace('_', " ")),
        held_until => m.held_until.map(|t| local(shop, t)),
        attempts => m.attempts,
        segments => m.segments,
        by,
        at => local(shop, m.created_at),
        new => inbound(m) && unread_since.is_some_and(|u| m.created_at >= u),
        resendable,
    }
}

async fn thread_page(
    app: &App,
    shop: &InShop,
    id: CustomerId,
    notice: Notice,
    draft: Draft,
    showing: Showing,
) -> Page {
    let d = messaging::thread(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    if showing == Showing::Opened {
        messaging::read_thread(app, &shop.ctx, id)
            .await
            .or_page(&shop.layout)?;
    }
    let c = &d.customer;
    let name = tickets::customer_name(c);
    let unread =
        showing != Showing::Opened && d.thread.as_ref().is_some_and(|t| t.unread_since.is_some());
    let channel = if !draft.channel.is_empty() {
        draft.channel.clone()
    } else if c.phone.is_some() && !c.sms_opt_out {
        "sms".to_owned()
    } else if c.email.is_some() {
        "email".to_owned()
    } else {
        "sms".to_owned()
    };
    let ctx = context! {
        customer => context! {
            id => c.id.to_string(),
            name => name.clone(),
            phone => c.phone.clone(),
            email => c.email.clone(),
            sms_opt_out => c.sms_opt_out,
            email_opt_out => c.email_opt_out,
            sms_consent_at => c.sms_consent_at.map(|t| local(shop, t)),
        },
        thread => context! {
            unread,
            done => d.thread.as_ref().is_some_and(|t| t.done_at.is_some()),
            assigned_to => d.thread.as_ref().and_then(|t| t.assigned_to).map(|u| u.to_string()),
        },
        open_ticket => d.open_ticket.as_ref().map(|t| context! { id => t.id.to_string(), number => t.number.clone() }),
        messages => d.messages.iter().map(|m| message_value(shop, &d, &name, m)).collect::<Vec<_>>(),
        consent => d.consent.iter().map(|e| context! {
            channel => if e.channel == "sms" { "Texts" } else { "E-mail" },
            action => e.action.replace('_', " "),
            source => e.source.clone(),
            detail => e.detail.clone(),
            at => local(shop, e.created_at),
        }).collect::<Vec<_>>(),
        require_consent => shop.ctx.shop.require_sms_consent,
        // The live fragment has no forms but the chat log's own.
        staff => if showing == Showing::Fragment { Vec::new() } else { staff_choices(app, shop).await },
        draft => context! { channel, body => draft.body },
        may_send => app.may(&shop.ctx, Permission::MessagesSend).await,
        may_edit_customer => app.may(&shop.ctx, Permission::CustomersEdit).await,
        // Texts go to the development outbox: no provider can bring
        // replies, so the page offers to play one.
        simulate => app.config().twilio_auth_token.is_none() && d.customer.phone.is_some(),
        ..notice.with(&shop.layout)
    };
    let template = if showing == Showing::Fragment {
        "thread_live.html"
    } else {
        "thread.html"
    };
    Ok(render::page(notice.status, template, ctx))
}

#[handler]
pub(crate) async fn thread(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: CustomerId = parse_id(&id, "customer").or_page(&shop.layout)?;
            let showing = if wants_fragment(req) {
                Showing::Fragment
            } else {
                Showing::Opened
            };
            thread_page(
                &app,
                &shop,
                id,
                Notice::ok(flash(req)),
                Draft::default(),
                showing,
            )
            .await
        }
        .await,
    )
}

async fn posted_thread(
    app: &App,
    req: &Request,
    form: &FormData,
    id: &str,
) -> Result<(InShop, CustomerId), Response> {
    let shop = Signed::posted(app, req, form).await?.in_shop(app).await?;
    let id: CustomerId = parse_id(id, "customer").or_page(&shop.layout)?;
    Ok((shop, id))
}

fn back(id: CustomerId, code: &str) -> String {
    format!("/app/messages/{id}?ok={code}")
}

/// Runs one of the thread page's forms, then goes back to the thread with
/// `code`; a refusal shows the thread again with the reason.
async fn thread_action<T>(
    app: &App,
    req: &Request,
    id: &str,
    form: &FormData,
    code: &str,
    action: impl AsyncFnOnce(&InShop, CustomerId) -> pitwall_core::Result<T>,
) -> Page {
    let (shop, id) = posted_thread(app, req, form, id).await?;
    let result = action(&shop, id).await;
    finish(result, &back(id, code), &shop.layout, async |n| {
        thread_page(app, &shop, id, n, Draft::default(), Showing::Again).await
    })
    .await
}

#[handler]
pub(crate) async fn reply(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_thread(&app, req, &form, &id).await?;
            let result = messaging::reply(
                &app,
                &shop.ctx,
                id,
                Reply {
                    channel: form.get("channel"),
                    body: form.get("body"),
                    ticket_id: None,
                },
            )
            .await;
            finish(result, &back(id, "sent"), &shop.layout, async |n| {
                let draft = Draft {
                    channel: form.get("channel").to_owned(),
                    body: form.get("body").to_owned(),
                };
                thread_page(&app, &shop, id, n, draft, Showing::Again).await
            })
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
        thread_action(&app, req, &id, &form, "assigned", async |shop, id| {
            let to = match form.opt("user_id") {
                None => None,
                Some(raw) => Some(raw.parse::<UserId>().map_err(|_| {
                    pitwall_core::Error::invalid("user_id", "is not a member of this shop")
                })?),
            };
            messaging::assign_thread(&app, &shop.ctx, id, to).await
        })
        .await,
    )
}

#[handler]
pub(crate) async fn done(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let done = form.get("done") != "0";
    let code = if done { "done" } else { "reopened" };
    respond(
        thread_action(&app, req, &id, &form, code, async |shop, id| {
            messaging::set_thread_done(&app, &shop.ctx, id, done).await
        })
        .await,
    )
}

#[handler]
pub(crate) async fn read(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        thread_action(&app, req, &id, &form, "read", async |shop, id| {
            messaging::read_thread(&app, &shop.ctx, id).await
        })
        .await,
    )
}

#[handler]
pub(crate) async fn resend(
    app: Data<&App>,
    req: &Request,
    Path((id, message_id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_thread(&app, req, &form, &id).await?;
            let message: MessageId = parse_id(&message_id, "message").or_page(&shop.layout)?;
            let result = messaging::resend(&app, &shop.ctx, message).await;
            // The new message belongs to the old one's customer.
            let to = match &result {
                Ok(m) => m.customer_id.map(CustomerId::from_uuid).unwrap_or(id),
                Err(_) => id,
            };
            finish(result, &back(to, "resent"), &shop.layout, async |n| {
                thread_page(&app, &shop, id, n, Draft::default(), Showing::Again).await
            })
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn consent(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        thread_action(&app, req, &id, &form, "consent", async |shop, id| {
            messaging::record_consent(&app, &shop.ctx, id, form.opt("detail")).await
        })
        .await,
    )
}

#[handler]
pub(crate) async fn opt_out(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        thread_action(&app, req, &id, &form, "opted_out", async |shop, id| {
            let channel = form.opt("channel").unwrap_or("sms");
            messaging::opt_out(&app, &shop.ctx, id, channel).await
        })
        .await,
    )
}

/// Development sender only: play the customer's reply (see
/// `messaging::simulate_reply`).
#[handler]
pub(crate) async fn simulate_reply(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        thread_action(&app, req, &id, &form, "simulated", async |shop, id| {
            let body = form.opt("body").unwrap_or_default();
            messaging::simulate_reply(&app, &shop.ctx, id, body).await
        })
        .await,
    )
}

// ---- templates and settings ------------------------------------------------------

/// A template as typed into its form, not (necessarily) saved.
struct Edited<'a> {
    kind: TemplateKind,
    body: &'a str,
    preview: Option<Preview>,
}

/// The messaging settings form as typed, kept when it is refused.
struct TypedSettings<'a> {
    start: &'a str,
    end: &'a str,
    require_consent: bool,
}

fn template_title(kind: TemplateKind) -> (&'static str, &'static str) {
    match kind {
        TemplateKind::Link => (
            "Customer link",
            "Sent with the link where the customer sees their vehicle and approves work.",
        ),
        TemplateKind::Reminder => (
            "Reminder",
            "Sent by “Send reminder” on a ticket; waits out quiet hours.",
        ),
        TemplateKind::Invoice => (
            "Invoice ready",
            "Sent when the invoice is ready; waits out quiet hours.",
        ),
        TemplateKind::Receipt => (
            "Payment receipt",
            "Sent when the customer paid an invoice online, with the amount and the invoice number.",
        ),
        TemplateKind::Confirmation => (
            "Approval confirmation",
            "Sent when the customer (or staff for them) approves work, with what was approved. Repair-order workflow only.",
        ),
        TemplateKind::Extension => (
            "Order extension",
            "Sent with the link when more work found later awaits the customer's decision.",
        ),
    }
}

fn preview_value(p: &Preview) -> Value {
    context! {
        text => p.text.clone(),
        encoding => p.encoding,
        characters => p.characters,
        segments => p.segments,
        cost => format!("{:.2}", p.cost_hint_cents),
    }
}

async fn setup_page(
    app: &App,
    shop: &InShop,
    mut notice: Notice,
    edited: Option<Edited<'_>>,
    typed: Option<TypedSettings<'_>>,
) -> Page {
    app.require(&shop.ctx, Permission::MessageSetupManage)
        .await
        .or_page(&shop.layout)?;
    let templates = messaging::templates(app, &shop.ctx)
        .await
        .or_page(&shop.layout)?;
    let settings = messaging::settings(app, &shop.ctx)
        .await
        .or_page(&shop.layout)?;
    let usage = messaging::usage(app, &shop.ctx)
        .await
        .or_page(&shop.layout)?;
    // A refused template says why under its own text box, not at the top.
    let template_error = match &edited {
        Some(_) => notice.error.take(),
        None => None,
    };
    let templates = templates
        .iter()
        .map(|t| {
            let (title, about) = template_title(t.kind);
            let mine = edited.as_ref().filter(|e| e.kind == t.kind);
            context! {
                kind => t.kind.as_str(),
                title,
                about,
                body => mine.map_or(t.body.as_str(), |e| e.body),
                is_default => t.is_default,
                unsaved => mine.is_some_and(|e| e.body.trim() != t.body.trim()),
                preview => mine.and_then(|e| e.preview.as_ref()).map(preview_value),
                error => mine.and(template_error.clone()),
            }
        })
        .collect::<Vec<_>>();
    let form = match typed {
        Some(t) => context! {
            sms_from => settings.sms_from.clone(), start => t.start, end => t.end, require_consent => t.require_consent,
        },
        None => context! {
            sms_from => settings.sms_from.clone(),
            start => settings.quiet_hours_start.clone().unwrap_or_default(),
            end => settings.quiet_hours_end.clone().unwrap_or_default(),
            require_consent => settings.require_sms_consent,
        },
    };
    Ok(render::page(
        notice.status,
        "message_templates.html",
        context! {
            templates,
            variables => TEMPLATE_VARIABLES.iter().map(|&(name, description, sample)| context! { name, description, sample }).collect::<Vec<_>>(),
            settings => form,
            default_sms_from => settings.default_sms_from.clone(),
            may_settings => app.may(&shop.ctx, Permission::ShopSettingsManage).await,
            usage => context! {
                since => render::day(usage.period_start),
                used => usage.sms_segments,
                quota => usage.sms_quota,
                over => usage.sms_quota.is_some_and(|q| usage.sms_segments >= q),
            },
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn setup(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            setup_page(&app, &shop, Notice::ok(flash(req)), None, None).await
        }
        .await,
    )
}

async fn posted_template(
    app: &App,
    req: &Request,
    form: &FormData,
    kind: &str,
) -> Result<(InShop, TemplateKind), Response> {
    let shop = Signed::posted(app, req, form).await?.in_shop(app).await?;
    let kind = messaging::parse_template_kind(kind).or_page(&shop.layout)?;
    Ok((shop, kind))
}

#[handler]
pub(crate) async fn save_template(
    app: Data<&App>,
    req: &Request,
    Path(kind): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, kind) = posted_template(&app, req, &form, &kind).await?;
            let body = form.get("body");
            let result = messaging::put_template(&app, &shop.ctx, kind, body).await;
            finish(
                result,
                &format!("/app/message-templates?ok=saved#template-{kind}"),
                &shop.layout,
                async |n| {
                    let edited = Edited {
                        kind,
                        body,
                        preview: None,
                    };
                    setup_page(&app, &shop, n, Some(edited), None).await
                },
            )
            .await
        }
        .await,
    )
}

/// Shows the page again with the template's text rendered from sample
/// data, its SMS encoding, size and cost. Saves nothing.
#[handler]
pub(crate) async fn preview(
    app: Data<&App>,
    req: &Request,
    Path(kind): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, kind) = posted_template(&app, req, &form, &kind).await?;
            let body = form.get("body");
            let edited = |preview| Edited {
                kind,
                body,
                preview,
            };
            match messaging::preview(&app, &shop.ctx, body).await {
                Ok(p) => {
                    setup_page(&app, &shop, Notice::ok(None), Some(edited(Some(p))), None).await
                }
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        setup_page(&app, &shop, n, Some(edited(None)), None).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn save_settings(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let require_consent = form.get("require_sms_consent") == "on";
            let result = messaging::put_settings(
                &app,
                &shop.ctx,
                SettingsInput {
                    sms_from: form.opt("sms_from"),
                    quiet_hours_start: form.opt("quiet_hours_start"),
                    quiet_hours_end: form.opt("quiet_hours_end"),
                    require_sms_consent: require_consent,
                },
            )
            .await;
            finish(
                result,
                "/app/message-templates?ok=saved#settings",
                &shop.layout,
                async |n| {
                    let typed = TypedSettings {
                        start: form.get("quiet_hours_start"),
                        end: form.get("quiet_hours_end"),
                        require_consent,
                    };
                    setup_page(&app, &shop, n, None, Some(typed)).await
                },
            )
            .await
        }
        .await,
    )
}
