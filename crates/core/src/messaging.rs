//! Messaging use cases: the inbox (threads per customer), staff replies and
//! re-sends, templates and their preview, the shop's messaging settings,
//! consent, SMS usage; and the provider's side: inbound texts (with the
//! STOP/START/HELP keywords) and delivery receipts, both behind a verified
//! signature.

use chrono::{DateTime, Utc};
use pitwall_domain::messaging::{
    Channel, Direction, Keyword, MessageKind, MessageStatus, QuietHours, TemplateKind,
};
use pitwall_domain::phone::Phone;
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{CustomerId, MessageId, Permission, Quota, ShopId, TicketId, UserId};
use pitwall_store::live::LiveEvent;
use pitwall_store::messages::{self, Message, ThreadFilter};
use pitwall_store::{activity, customers, identity, members, shops, tickets};
use serde_json::json;

use crate::outreach::{self, Outgoing};
use crate::{App, Error, Result, ShopCtx};

// ----- the inbox -----

pub struct ThreadRow {
    pub thread: messages::Thread,
    pub customer: customers::Customer,
    pub last: Option<Message>,
    pub assigned_name: Option<String>,
}

pub struct ThreadList {
    pub items: Vec<ThreadRow>,
    pub next_offset: Option<u64>,
}

pub fn parse_filter(ctx: &ShopCtx, filter: Option<&str>) -> Result<ThreadFilter> {
    Ok(match filter.unwrap_or("open") {
        "open" => ThreadFilter::Open,
        "unread" => ThreadFilter::Unread,
        "mine" => ThreadFilter::AssignedTo(ctx.user_id),
        "done" => ThreadFilter::Done,
        "all" => ThreadFilter::All,
        _ => {
            return Err(Error::invalid(
                "filter",
                "must be open, unread, mine, done or all",
            ));
        }
    })
}

/// Threads, unread first.
pub async fn threads(
    app: &App,
    ctx: &ShopCtx,
    filter: ThreadFilter,
    offset: u64,
    limit: u64,
) -> Result<ThreadList> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let (rows, more) = messages::threads(&app.db, shop, filter, offset, limit).await?;
    let customer_ids: Vec<uuid::Uuid> = rows.iter().map(|t| t.customer_id).collect();
    let customers = customers::many(&app.db, shop, &customer_ids).await?;
    let user_ids: Vec<uuid::Uuid> = rows.iter().filter_map(|t| t.assigned_to).collect();
    let users = identity::users_by_ids(&app.db, &user_ids).await?;
    let mut last: std::collections::HashMap<uuid::Uuid, Message> =
        messages::latest_of_customers(&app.db, shop, &customer_ids)
            .await?
            .into_iter()
            .filter_map(|m| m.customer_id.map(|c| (c, m)))
            .collect();
    let mut items = Vec::with_capacity(rows.len());
    for thread in rows {
        let Some(customer) = customers
            .iter()
            .find(|c| c.id == thread.customer_id)
            .cloned()
        else {
            continue;
        };
        let assigned_name = thread
            .assigned_to
            .and_then(|u| users.iter().find(|x| x.id == u).map(|x| x.name.clone()));
        items.push(ThreadRow {
            last: last.remove(&customer.id),
            thread,
            customer,
            assigned_name,
        });
    }
    Ok(ThreadList {
        items,
        next_offset: more.then_some(offset + limit),
    })
}

/// How many conversations wait for someone to read them (the navigation's
/// count; one count over an index that leads with the shop).
pub async fn unread_threads(app: &App, ctx: &ShopCtx) -> Result<u64> {
    app.require(ctx, Permission::CustomersView).await?;
    Ok(messages::unread_count(&app.db, ctx.shop_id()).await?)
}

pub struct ThreadDetail {
    pub customer: customers::Customer,
    pub thread: Option<messages::Thread>,
    pub messages: Vec<Message>,
    pub consent: Vec<messages::ConsentEvent>,
    /// Who sent each staff message.
    pub senders: Vec<(uuid::Uuid, String)>,
    pub open_ticket: Option<tickets::Ticket>,
}

/// A customer's whole conversation (the last 200 messages).
pub async fn thread(app: &App, ctx: &ShopCtx, customer: CustomerId) -> Result<ThreadDetail> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let c = customers::get(&app.db, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let msgs = messages::recent_of_customer(&app.db, shop, customer, 200).await?;
    let mut by: Vec<uuid::Uuid> = msgs.iter().filter_map(|m| m.created_by).collect();
    by.sort();
    by.dedup();
    let senders = identity::users_by_ids(&app.db, &by)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    Ok(ThreadDetail {
        thread: messages::thread(&app.db, shop, customer).await?,
        consent: messages::consent_history(&app.db, shop, customer).await?,
        open_ticket: tickets::latest_open_of_customer(&app.db, shop, c.id).await?,
        customer: c,
        messages: msgs,
        senders,
    })
}

/// Someone read the thread: it and the customer's tickets stop showing
/// an unread reply, on every open dashboard.
pub async fn read_thread(app: &App, ctx: &ShopCtx, customer: CustomerId) -> Result<()> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let thread_was_unread = messages::mark_thread_read(&txn, shop, customer).await?;
    let tickets_read = tickets::mark_customer_replies_read(&txn, shop, customer.as_uuid()).await?;
    if !thread_was_unread && tickets_read.is_empty() {
        return Ok(());
    }
    let mut events: Vec<LiveEvent> = tickets_read
        .iter()
        .map(|t| LiveEvent {
            shop_id: shop.as_uuid(),
            ticket_id: Some(*t),
            kind: "reply_read".into(),
            event_id: None,
        })
        .collect();
    if events.is_empty() {
        events.push(LiveEvent {
            shop_id: shop.as_uuid(),
            ticket_id: None,
            kind: "reply_read".into(),
            event_id: None,
        });
    }
    let announced = app.live.announce(events);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(())
}

pub async fn assign_thread(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    to: Option<UserId>,
) -> Result<()> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    // The thread first: another shop's customer is simply not found.
    customers::get(&app.db, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    if let Some(u) = to
        && members::membership(&app.db, shop, u).await?.is_none()
    {
        return Err(Error::invalid("user_id", "is not a member of this shop"));
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    messages::touch_thread(&txn, shop, customer, Utc::now(), false).await?;
    messages::assign_thread(&txn, shop, customer, to).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn set_thread_done(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    done: bool,
) -> Result<()> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    customers::get(&app.db, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    if done {
        read_thread(app, ctx, customer).await?;
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    // A customer with no conversation yet gets one, so "done" sticks.
    if messages::thread(&txn, shop, customer).await?.is_none() {
        messages::touch_thread(&txn, shop, customer, Utc::now(), false).await?;
    }
    messages::set_thread_done(&txn, shop, customer, done).await?;
    let announced = app.live.announce(vec![LiveEvent {
        shop_id: shop.as_uuid(),
        ticket_id: None,
        kind: "thread".into(),
        event_id: None,
    }]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(())
}

// ----- sending -----

pub struct Reply<'a> {
    pub channel: &'a str,
    pub body: &'a str,
    pub ticket_id: Option<TicketId>,
}

/// A staff message to a customer, by SMS or e-mail. Goes at once (a reply
/// is something the customer waits for), refused with a clear code when it
/// cannot go: opted out, no consent, quota, channel not in plan.
pub async fn reply(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    r: Reply<'_>,
) -> Result<Message> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let channel = Channel::outbound(r.channel)
        .ok_or_else(|| Error::invalid("channel", "must be sms or email"))?;
    let body = r.body.trim();
    let max = match channel {
        Channel::Sms => outreach::MAX_SMS_CHARS,
        Channel::Email | Channel::Web => outreach::MAX_EMAIL_CHARS,
    };
    if body.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    if body.chars().count() > max {
        return Err(Error::invalid(
            "body",
            format!("must be at most {max} characters"),
        ));
    }
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let ticket = match r.ticket_id {
        Some(t) => {
            let t = tickets::get(&txn, shop, t)
                .await?
                .filter(|t| t.customer_id == Some(c.id))
                .ok_or_else(|| Error::invalid("ticket_id", "is not a ticket of this customer"))?;
            Some(TicketId::from_uuid(t.id))
        }
        None => tickets::latest_open_of_customer(&txn, shop, c.id)
            .await?
            .map(|t| TicketId::from_uuid(t.id)),
    };
    let mut sent = outreach::queue(
        &txn,
        &app.config.clock,
        ctx,
        Outgoing {
            ticket,
            customer: &c,
            kind: MessageKind::Reply,
            channels: &[channel],
            body,
            sent_body: None,
            subject: Some(format!("A message from {}", ctx.shop.name)),
            by: Some(ctx.user_id),
            requested: true,
        },
    )
    .await?;
    let Some(m) = sent.pop() else {
        return Err(Error::Internal("reply queued nothing".into()));
    };
    // Replying reads the thread.
    messages::mark_thread_read(&txn, shop, customer).await?;
    tickets::mark_customer_replies_read(&txn, shop, c.id).await?;
    let announced = app.live.announce(vec![LiveEvent {
        shop_id: shop.as_uuid(),
        ticket_id: m.ticket_id,
        kind: "message".into(),
        event_id: None,
    }]);
    txn.commit().await?;
    app.live.after_commit(announced);
    app.jobs.nudge();
    Ok(m)
}

/// Whether [`resend`] takes this message: an outgoing one that failed or
/// was held for the SMS allowance. A held message already sent again is
/// marked `replaced`: sending it once more would send the same words twice.
pub fn resendable(m: &Message) -> bool {
    let status = MessageStatus::parse(&m.status);
    m.direction == Direction::Outbound.as_str()
        && m.error_code.as_deref() != Some("replaced")
        && (status == Some(MessageStatus::Failed)
            || (status == Some(MessageStatus::Held)
                && m.hold_reason.as_deref() == Some("quota_exceeded")))
}

/// Sends a failed (or quota-held) message again, as a new message: the
/// failure stays in the log.
pub async fn resend(app: &App, ctx: &ShopCtx, id: MessageId) -> Result<Message> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let old = messages::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("message"))?;
    let status = MessageStatus::parse(&old.status);
    if !resendable(&old) {
        return Err(Error::Conflict {
            field: "message_id".into(),
            message: "only a failed or quota-held message can be sent again".into(),
        });
    }
    let customer_id = old
        .customer_id
        .ok_or_else(|| Error::invalid("message_id", "has no customer to send to"))?;
    let c = customers::get(&txn, shop, CustomerId::from_uuid(customer_id))
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let channel = Channel::outbound(&old.channel)
        .ok_or_else(|| Error::invalid("message_id", "is a message from the customer's page"))?;
    let kind = MessageKind::parse(&old.kind).unwrap_or(MessageKind::Reply);
    let mut sent = outreach::queue(
        &txn,
        &app.config.clock,
        ctx,
        Outgoing {
            ticket: old.ticket_id.map(TicketId::from_uuid),
            customer: &c,
            kind,
            channels: &[channel],
            body: &old.body,
            sent_body: None,
            subject: old.subject.clone(),
            by: Some(ctx.user_id),
            requested: true,
        },
    )
    .await?;
    let m = sent
        .pop()
        .ok_or_else(|| Error::Internal("resend queued nothing".into()))?;
    // The held one is replaced by the new one.
    let replaced = if status == Some(MessageStatus::Held) {
        pitwall_jobs::delivery::transition(
            &txn,
            &app.live,
            &old,
            MessageStatus::Failed,
            messages::Outcome {
                error_code: Some("replaced"),
                error_message: Some("sent again as a new message"),
                ..Default::default()
            },
        )
        .await?
    } else {
        None
    };
    txn.commit().await?;
    if let Some(a) = replaced {
        app.live.after_commit(a);
    }
    app.jobs.nudge();
    Ok(m)
}

/// Sends the shop's reminder template about a ticket (waits out quiet
/// hours).
pub async fn send_reminder(
    app: &App,
    ctx: &ShopCtx,
    ticket: TicketId,
    channel: &str,
) -> Result<Message> {
    app.require(ctx, Permission::MessagesSend).await?;
    ctx.require_writable()?;
    let channel = Channel::outbound(channel)
        .ok_or_else(|| Error::invalid("channel", "must be sms or email"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let t = tickets::get(&txn, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let c = match t.customer_id {
        Some(c) => customers::get(&txn, shop, CustomerId::from_uuid(c)).await?,
        None => None,
    }
    .ok_or_else(|| Error::invalid("ticket_id", "has no customer"))?;
    let vehicle = match t.vehicle_id {
        Some(v) => customers::vehicle(&txn, shop, pitwall_domain::VehicleId::from_uuid(v)).await?,
        None => None,
    };
    let template = template_body(&txn, shop, TemplateKind::Reminder).await?;
    let vars = outreach::vars_for(ctx, &c, Some(&t), vehicle.as_ref(), None, None);
    let body = outreach::render(&template, &vars)?;
    let mut sent = outreach::queue(
        &txn,
        &app.config.clock,
        ctx,
        Outgoing {
            ticket: Some(ticket),
            customer: &c,
            kind: MessageKind::Reminder,
            channels: &[channel],
            body: &body,
            sent_body: None,
            subject: Some(format!("A reminder from {}", ctx.shop.name)),
            by: Some(ctx.user_id),
            requested: true,
        },
    )
    .await?;
    let m = sent
        .pop()
        .ok_or_else(|| Error::Internal("reminder queued nothing".into()))?;
    let announced = app.live.announce(vec![LiveEvent {
        shop_id: shop.as_uuid(),
        ticket_id: Some(t.id),
        kind: "message".into(),
        event_id: None,
    }]);
    txn.commit().await?;
    app.live.after_commit(announced);
    app.jobs.nudge();
    Ok(m)
}

// ----- templates -----

async fn template_body(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    kind: TemplateKind,
) -> Result<String> {
    Ok(messages::template(db, shop, kind.as_str())
        .await?
        .map(|t| t.body)
        .unwrap_or_else(|| kind.default_body().to_owned()))
}

pub struct TemplateView {
    pub kind: TemplateKind,
    pub body: String,
    pub is_default: bool,
}

pub async fn templates(app: &App, ctx: &ShopCtx) -> Result<Vec<TemplateView>> {
    app.require(ctx, Permission::TicketsView).await?;
    let stored = messages::templates(&app.db, ctx.shop_id()).await?;
    Ok(TemplateKind::ALL
        .iter()
        .map(
            |&kind| match stored.iter().find(|t| t.kind == kind.as_str()) {
                Some(t) => TemplateView {
                    kind,
                    body: t.body.clone(),
                    is_default: false,
                },
                None => TemplateView {
                    kind,
                    body: kind.default_body().to_owned(),
                    is_default: true,
                },
            },
        )
        .collect())
}

pub fn parse_template_kind(kind: &str) -> Result<TemplateKind> {
    TemplateKind::parse(kind)
        .ok_or_else(|| Error::invalid("kind", "must be link, reminder or invoice"))
}

pub async fn put_template(
    app: &App,
    ctx: &ShopCtx,
    kind: TemplateKind,
    body: &str,
) -> Result<TemplateView> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    ctx.require_writable()?;
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    outreach::check_template("body", body)?;
    messages::put_template(&app.db, ctx.shop_id(), kind.as_str(), body, ctx.user_id).await?;
    Ok(TemplateView {
        kind,
        body: body.to_owned(),
        is_default: false,
    })
}

/// Renders a template with sample data, with its SMS size and cost.
/// Needs the permission that edits templates: rendering is work the
/// server does for the caller, not something every viewer may ask for.
pub async fn preview(app: &App, ctx: &ShopCtx, body: &str) -> Result<outreach::Preview> {
    app.require(ctx, Permission::MessageSetupManage).await?;
    outreach::preview("body", body)
}

// ----- settings, consent, usage -----

#[derive(Debug, Clone)]
pub struct Settings {
    pub sms_from: Option<String>,
    pub default_sms_from: Option<String>,
    /// `HH:MM` local time, both or neither.
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub require_sms_consent: bool,
}

fn hhmm(m: i32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn parse_hhmm(field: &str, s: &str) -> Result<i32> {
    let bad = || Error::invalid(field, "must be a time such as 21:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub async fn settings(app: &App, ctx: &ShopCtx) -> Result<Settings> {
    app.require(ctx, Permission::TicketsView).await?;
    let s = &ctx.shop;
    Ok(Settings {
        sms_from: s.sms_from.clone(),
        default_sms_from: app.config.default_sms_from.clone(),
        quiet_hours_start: s.quiet_hours_start.map(hhmm),
        quiet_hours_end: s.quiet_hours_end.map(hhmm),
        require_sms_consent: s.require_sms_consent,
    })
}

pub struct SettingsInput<'a> {
    pub sms_from: Option<&'a str>,
    pub quiet_hours_start: Option<&'a str>,
    pub quiet_hours_end: Option<&'a str>,
    pub require_sms_consent: bool,
}

pub async fn put_settings(app: &App, ctx: &ShopCtx, input: SettingsInput<'_>) -> Result<Settings> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_writable()?;
    let mut p = crate::Problems::default();
    // The sender number is platform support's to assign (a number routes
    // replies and STOP keywords to its shop); the form may send it back
    // unchanged.
    if let Some(s) = input.sms_from.map(str::trim).filter(|s| !s.is_empty()) {
        let same = Phone::parse(s, &ctx.shop.country)
            .is_ok_and(|ph| ctx.shop.sms_from.as_deref() == Some(ph.as_str()));
        if !same {
            p.add(
                "sms_from",
                "is assigned by platform support; ask support to change the shop's sender number",
            );
        }
    }
    let start = input
        .quiet_hours_start
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let end = input
        .quiet_hours_end
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let quiet = match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) => {
            let s = parse_hhmm("quiet_hours_start", s);
            let e = parse_hhmm("quiet_hours_end", e);
            match (s, e) {
                (Ok(s), Ok(e)) if QuietHours::new(s, e).is_some() => Some((s, e)),
                (Ok(_), Ok(_)) => {
                    p.add("quiet_hours_end", "must differ from the start");
                    None
                }
                (s, e) => {
                    for r in [s, e] {
                        if let Err(Error::Invalid { field, message }) = r {
                            p.add(field, message);
                        }
                    }
                    None
                }
            }
        }
        (None, Some(_)) => {
            p.add("quiet_hours_start", "is needed with quiet_hours_end");
            None
        }
        (Some(_), None) => {
            p.add("quiet_hours_end", "is needed with quiet_hours_start");
            None
        }
    };
    p.into_result()?;
    let shop = ctx.shop_id();
    shops::set_messaging(
        &app.db,
        shop,
        shops::MessagingSettings {
            quiet_hours: quiet,
            require_sms_consent: input.require_sms_consent,
        },
    )
    .await?;
    app.cache.clear();
    Ok(Settings {
        sms_from: ctx.shop.sms_from.clone(),
        default_sms_from: app.config.default_sms_from.clone(),
        quiet_hours_start: quiet.map(|q| hhmm(q.0)),
        quiet_hours_end: quiet.map(|q| hhmm(q.1)),
        require_sms_consent: input.require_sms_consent,
    })
}

/// Staff recorded that the customer agreed to texts (in person, on a
/// form). A customer who texted STOP must text START themselves.
pub async fn record_consent(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    detail: Option<&str>,
) -> Result<customers::Customer> {
    app.require(ctx, Permission::CustomersEdit).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let detail = detail.map(str::trim).filter(|d| !d.is_empty());
    if detail.is_some_and(|d| d.chars().count() > 500) {
        return Err(Error::invalid("detail", "must be at most 500 characters"));
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    if c.sms_opt_out {
        return Err(Error::CustomerOptedOut {
            channel: Channel::Sms,
        });
    }
    customers::set_sms_consent(&txn, shop, customer, Some(Utc::now())).await?;
    messages::record_consent(
        &txn,
        shop,
        messages::NewConsent {
            customer,
            channel: Channel::Sms,
            action: "consent",
            source: "staff",
            actor: Some(ctx.user_id),
            detail,
        },
    )
    .await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    txn.commit().await?;
    Ok(c)
}

/// Staff turn a channel off for the customer (they asked in person).
pub async fn opt_out(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    channel: &str,
) -> Result<customers::Customer> {
    app.require(ctx, Permission::CustomersEdit).await?;
    ctx.require_writable()?;
    let channel = Channel::outbound(channel)
        .ok_or_else(|| Error::invalid("channel", "must be sms or email"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let (sms, email) = match channel {
        Channel::Sms => (Some(true), None),
        Channel::Email | Channel::Web => (None, Some(true)),
    };
    customers::set_opt_out(&txn, shop, customer, sms, email).await?;
    messages::record_consent(
        &txn,
        shop,
        messages::NewConsent {
            customer,
            channel,
            action: "opt_out",
            source: "staff",
            actor: Some(ctx.user_id),
            detail: None,
        },
    )
    .await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    txn.commit().await?;
    Ok(c)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    pub period_start: DateTime<Utc>,
    pub sms_segments: i64,
    pub sms_quota: Option<i64>,
}

/// A shop's SMS usage for platform support (the admin console).
pub async fn usage_for_support(
    app: &App,
    actor: &crate::Actor,
    shop: ShopId,
    quota: Option<i64>,
) -> Result<Usage> {
    actor.require_platform()?;
    usage_of(app, shop, quota).await
}

async fn usage_of(app: &App, shop: ShopId, quota: Option<i64>) -> Result<Usage> {
    let start = outreach::month_start(Utc::now());
    Ok(Usage {
        period_start: start,
        sms_segments: messages::sms_segments_in(&app.db, shop, &outreach::usage_month(start))
            .await?,
        sms_quota: quota,
    })
}

pub async fn usage(app: &App, ctx: &ShopCtx) -> Result<Usage> {
    app.require(ctx, Permission::TicketsView).await?;
    usage_of(app, ctx.shop_id(), ctx.quota(Quota::SmsPerMonth)).await
}

// ----- the provider's side -----

/// Checks `X-Twilio-Signature` against the public URL the provider called.
/// Without a configured auth token nothing can be verified, so nothing is
/// accepted.
pub fn verify_provider_signature(
    app: &App,
    path_and_query: &str,
    params: &[(String, String)],
    signature: Option<&str>,
) -> Result<()> {
    let Some(token) = &app.config.twilio_auth_token else {
        return Err(Error::Unauthenticated(
            "SMS webhooks are off: TWILIO_AUTH_TOKEN is not set",
        ));
    };
    let Some(sig) = signature else {
        return Err(Error::Unauthenticated("X-Twilio-Signature is missing"));
    };
    let url = format!("{}{}", app.config.base_url, path_and_query);
    if pitwall_jobs::sms::signature_is_valid(token.expose(), &url, params, sig) {
        Ok(())
    } else {
        Err(Error::Unauthenticated("X-Twilio-Signature does not match"))
    }
}

pub struct InboundSms<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub provider_id: &'a str,
}

/// What an inbound text did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Recorded {
        shop: ShopId,
        message: MessageId,
    },
    /// The provider sent the same text twice.
    Duplicate,
}

/// An inbound text: found the shop by the number it was sent to (or, on
/// the shared platform number, by who last texted this customer), the
/// customer by phone (a stranger becomes a new customer), recorded in
/// the thread and on the customer's open ticket, marked unread. Keywords
/// change the customer's opt-out and are answered once.
pub async fn receive_sms(app: &App, sms: InboundSms<'_>) -> Result<Inbound> {
    if sms.provider_id.trim().is_empty() {
        return Err(Error::invalid("MessageSid", "is missing"));
    }
    if sms.body.chars().count() > outreach::MAX_SMS_CHARS {
        return Err(Error::invalid(
            "Body",
            format!("must be at most {} characters", outreach::MAX_SMS_CHARS),
        ));
    }
    let from = Phone::parse(sms.from, "US").map_err(|e| Error::invalid("From", e.0))?;
    let to = Phone::parse(sms.to, "US").map_err(|e| Error::invalid("To", e.0))?;
    if messages::by_provider_id(&app.db, sms.provider_id)
        .await?
        .is_some()
    {
        return Ok(Inbound::Duplicate);
    }
    // The platform's shared number is never a shop's own, whatever a row
    // says: a reply to it goes to the shop that last texted that phone.
    let shared = app.config.default_sms_from.as_deref() == Some(to.as_str());
    let own = match shared {
        true => None,
        false => shops::by_sms_from(&app.db, to.as_str()).await?,
    };
    let shop_row = match own {
        Some(s) => s,
        None => {
            let shop = messages::shop_last_texting(&app.db, from.as_str(), to.as_str())
                .await?
                .ok_or(Error::NotFound("shop using this number"))?;
            shops::get(&app.db, shop)
                .await?
                .ok_or(Error::NotFound("shop using this number"))?
        }
    };
    record_inbound(app, shop_row, from, to, sms.body, sms.provider_id).await
}

/// Development only (texts go to the development outbox, so no provider
/// can deliver replies): staff play the customer's reply, which then takes
/// the very path a real inbound text takes.
pub async fn simulate_reply(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    body: &str,
) -> Result<Inbound> {
    app.require(ctx, Permission::MessagesSend).await?;
    if app.config.twilio_auth_token.is_some() {
        return Err(Error::NotFound("reply simulation"));
    }
    if body.chars().count() > outreach::MAX_SMS_CHARS {
        return Err(Error::invalid(
            "body",
            format!("must be at most {} characters", outreach::MAX_SMS_CHARS),
        ));
    }
    let c = customers::get(&app.db, ctx.shop_id(), customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let from = c
        .phone
        .as_deref()
        .and_then(|p| Phone::parse(p, &ctx.shop.country).ok())
        .ok_or_else(|| Error::invalid("customer_id", "the customer has no mobile number"))?;
    let to_raw = ctx
        .shop
        .sms_from
        .clone()
        .or_else(|| app.config.default_sms_from.clone())
        .unwrap_or_else(|| "+15005550006".to_owned());
    let to = Phone::parse(&to_raw, "US").map_err(|e| Error::invalid("sms_from", e.0))?;
    let sid = format!("SIM{}", uuid::Uuid::new_v4().simple());
    record_inbound(app, ctx.shop.clone(), from, to, body, &sid).await
}

async fn record_inbound(
    app: &App,
    shop_row: shops::Shop,
    from: Phone,
    to: Phone,
    body: &str,
    provider_id: &str,
) -> Result<Inbound> {
    let sms = InboundSms {
        from: from.as_str(),
        to: to.as_str(),
        body,
        provider_id,
    };
    let shop = ShopId::from_uuid(shop_row.id);
    let now = Utc::now();
    let keyword = Keyword::of(sms.body);
    let txn = pitwall_store::begin_write(&app.db).await?;
    let customer = match customers::by_phone(&txn, shop, from.as_str()).await? {
        Some(c) => c,
        None => {
            customers::insert(
                &txn,
                shop,
                customers::CustomerFields {
                    external_id: None,
                    first_name: None,
                    last_name: None,
                    phone: Some(from.as_str().to_owned()),
                    email: None,
                    locale: None,
                },
            )
            .await?
        }
    };
    let customer_id = CustomerId::from_uuid(customer.id);
    let ticket = tickets::latest_open_of_customer(&txn, shop, customer.id).await?;
    let ticket_id = ticket.as_ref().map(|t| TicketId::from_uuid(t.id));
    let m = messages::insert(
        &txn,
        shop,
        messages::NewMessage {
            ticket: ticket_id,
            customer: Some(customer_id),
            channel: Channel::Sms,
            direction: Direction::Inbound,
            kind: MessageKind::Inbound,
            to_address: to.as_str(),
            from_address: Some(from.as_str()),
            subject: None,
            body: sms.body,
            outgoing_body: None,
            segments: pitwall_domain::messaging::sms_size(sms.body).segments as i32,
            created_by: None,
            status: MessageStatus::Received,
            held_until: None,
            hold_reason: None,
            provider_id: Some(sms.provider_id),
            error: None,
        },
    )
    .await?;
    // A keyword is handled for the shop; a conversation waits for a person.
    let conversational = keyword.is_none();
    messages::touch_thread(&txn, shop, customer_id, now, conversational).await?;
    let mut event_id = None;
    if let Some(t) = ticket_id {
        if conversational {
            tickets::set_customer_replied(&txn, shop, t, now).await?;
        }
        let e = activity::record_event(
            &txn,
            shop,
            activity::NewEvent {
                ticket: t,
                kind: TimelineKind::CustomerReply.as_str(),
                actor_kind: ActorKind::Customer.as_str(),
                actor_id: None,
                actor_name: None,
                data: json!({ "message_id": m.id, "channel": "sms", "keyword": keyword }),
            },
        )
        .await?;
        event_id = Some(e.id);
    }
    if let Some(k) = keyword {
        answer_keyword(&txn, &shop_row, &customer, ticket_id, k).await?;
    }
    let announced = app.live.announce(vec![LiveEvent {
        shop_id: shop.as_uuid(),
        ticket_id: ticket_id.map(|t| t.as_uuid()),
        kind: "customer_reply".into(),
        event_id,
    }]);
    txn.commit().await?;
    app.live.after_commit(announced);
    if keyword.is_some() {
        app.jobs.nudge();
    }
    tracing::info!(shop.id = %shop, message.id = %m.id, keyword = ?keyword, "inbound text recorded");
    Ok(Inbound::Recorded {
        shop,
        message: MessageId::from_uuid(m.id),
    })
}

/// STOP opts out, START opts back in, HELP says who we are; each answered
/// by one text (carriers require the confirmation), each recorded.
async fn answer_keyword(
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: &shops::Shop,
    customer: &customers::Customer,
    ticket: Option<TicketId>,
    k: Keyword,
) -> Result<()> {
    let shop_id = ShopId::from_uuid(shop.id);
    let customer_id = CustomerId::from_uuid(customer.id);
    let contact = shop.phone.clone().unwrap_or_default();
    let (body, change) = match k {
        Keyword::Stop => (
            format!(
                "You are unsubscribed from {} texts and will get no more. Reply START to resubscribe.",
                shop.name
            ),
            Some((true, "opt_out")),
        ),
        Keyword::Start => (
            format!(
                "You are resubscribed to {} texts. Reply STOP to unsubscribe.",
                shop.name
            ),
            Some((false, "opt_in")),
        ),
        Keyword::Help => (
            format!(
                "{}{}{}. Reply STOP to unsubscribe.",
                shop.name,
                if contact.is_empty() { "" } else { ": call " },
                contact
            ),
            None,
        ),
    };
    if let Some((out, action)) = change {
        customers::set_opt_out(txn, shop_id, customer_id, Some(out), None).await?;
        messages::record_consent(
            txn,
            shop_id,
            messages::NewConsent {
                customer: customer_id,
                channel: Channel::Sms,
                action,
                source: "keyword",
                actor: None,
                detail: Some(k.as_str()),
            },
        )
        .await?;
    }
    let Some(phone) = customer.phone.as_deref() else {
        return Ok(());
    };
    let m = messages::insert(
        txn,
        shop_id,
        messages::NewMessage {
            ticket,
            customer: Some(customer_id),
            channel: Channel::Sms,
            direction: Direction::Outbound,
            kind: MessageKind::KeywordReply,
            to_address: phone,
            from_address: None,
            subject: None,
            body: &body,
            outgoing_body: None,
            segments: pitwall_domain::messaging::sms_size(&body).segments as i32,
            created_by: None,
            status: MessageStatus::Queued,
            held_until: None,
            hold_reason: None,
            provider_id: None,
            error: None,
        },
    )
    .await?;
    pitwall_jobs::enqueue_message(txn, shop_id, MessageId::from_uuid(m.id), None).await?;
    Ok(())
}

pub struct Receipt<'a> {
    pub provider_id: &'a str,
    /// Twilio's `MessageStatus`.
    pub status: &'a str,
    pub error_code: Option<&'a str>,
    /// Our id, from the status callback URL we gave the provider.
    pub message_id: Option<MessageId>,
}

/// A delivery receipt. `false` when it names no message of ours (the
/// provider is told "fine" anyway: there is nothing to retry).
pub async fn receive_receipt(app: &App, r: Receipt<'_>) -> Result<bool> {
    let to = match r.status {
        "sent" => MessageStatus::Sent,
        "delivered" | "read" => MessageStatus::Delivered,
        "failed" | "undelivered" | "canceled" => MessageStatus::Failed,
        // queued, accepted, sending, scheduled: nothing new for us.
        "queued" | "accepted" | "sending" | "scheduled" | "receiving" | "received" => {
            return Ok(true);
        }
        _ => return Err(Error::invalid("MessageStatus", "is not a status we know")),
    };
    let msg = match r.message_id {
        Some(id) => messages::by_id_for_delivery(&app.db, id)
            .await?
            .filter(|m| m.provider_id.as_deref().is_none_or(|p| p == r.provider_id)),
        None => None,
    };
    let msg = match msg {
        Some(m) => Some(m),
        None => messages::by_provider_id(&app.db, r.provider_id).await?,
    };
    let Some(msg) = msg else {
        return Ok(false);
    };
    let reason = r.error_code.map(twilio_error_text);
    let txn = pitwall_store::begin_write(&app.db).await?;
    let announced = pitwall_jobs::delivery::transition(
        &txn,
        &app.live,
        &msg,
        to,
        messages::Outcome {
            provider_id: Some(r.provider_id),
            error_code: r.error_code,
            error_message: reason.as_deref(),
            ..Default::default()
        },
    )
    .await?;
    if to == MessageStatus::Failed
        && r.error_code == Some(pitwall_jobs::sms::UNSUBSCRIBED_RECIPIENT)
        && let Some(c) = msg.customer_id
    {
        let shop = ShopId::from_uuid(msg.shop_id);
        customers::set_opt_out(&txn, shop, CustomerId::from_uuid(c), Some(true), None).await?;
    }
    txn.commit().await?;
    if let Some(a) = announced {
        app.live.after_commit(a);
    }
    Ok(true)
}

/// Twilio's most common delivery error codes, in words staff understand.
pub fn twilio_error_text(code: &str) -> String {
    match code {
        "30003" => "the phone is off or out of reach".into(),
        "30004" => "the recipient blocked the message".into(),
        "30005" => "the number does not exist".into(),
        "30006" => "the number is a landline or cannot receive texts".into(),
        "30007" => "the carrier filtered the message".into(),
        "30008" => "the carrier could not deliver it".into(),
        "21610" => "the customer unsubscribed (replied STOP)".into(),
        "21211" => "the number is not a valid phone number".into(),
        "21614" => "the number cannot receive texts".into(),
        other => format!("the provider reported error {other}"),
    }
}
