//! Messages to customers: rendering tenant templates in a sandbox, and
//! queueing a message under every rule that decides whether, when and how
//! it may go (channel reachable, opt-out, consent, plan, quota, quiet
//! hours). A message row and its delivery job are written in the caller's
//! transaction, so a message exists exactly when the change that caused it
//! committed. Delivery itself is `messaging::Deliverer`, which the message
//! queue runs.

use chrono::Utc;
use pitwall_domain::messaging::{
    Channel, Direction, MessageKind, MessageStatus, QuietHours, TEMPLATE_VARIABLES, TemplateKind,
    sms_size,
};
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{CustomerId, Feature, MessageId, Quota, TicketId, TimelineEventId, UserId};
use pitwall_store::batch::Batch;
use pitwall_store::messages::{self, Message, NewMessage};
use pitwall_store::sea_orm::{ConnectionTrait, IntoActiveModel};
use pitwall_store::{activity, customers, statuses, tickets};
use serde_json::json;

use crate::clock::Clock;
use crate::features::FeatureSet;
use crate::{Error, Result, ShopCtx};

/// The shop a message goes out for: its settings (quiet hours, consent,
/// sender) and its plan (channels, SMS allowance). Staff's messages and
/// the ones Pitwall sends by itself (a customer's approval confirmed) pass
/// the same gate.
#[derive(Clone, Copy)]
pub(crate) struct Sender<'a> {
    pub shop: &'a pitwall_store::shops::Shop,
    pub features: &'a FeatureSet,
}

impl Sender<'_> {
    pub fn shop_id(&self) -> pitwall_domain::ShopId {
        pitwall_domain::ShopId::from_uuid(self.shop.id)
    }

    pub fn require_feature(&self, f: Feature) -> Result<()> {
        self.features.require(f)
    }
}

impl<'a> From<&'a ShopCtx> for Sender<'a> {
    fn from(ctx: &'a ShopCtx) -> Self {
        Sender {
            shop: &ctx.shop,
            features: &ctx.features,
        }
    }
}

/// The longest text a template may produce: ten SMS segments, or a
/// reasonable e-mail.
pub const MAX_SMS_CHARS: usize = 1_600;
pub const MAX_EMAIL_CHARS: usize = 20_000;

/// The environment for tenant-written templates: nothing to load (no
/// includes or imports reach a file), bounded work (fuel) and depth
/// (recursion), and no escaping — texts are plain; the e-mail HTML part
/// escapes the whole rendered text (`messaging::email_html`).
fn tenant_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(20_000));
    env.set_recursion_limit(16);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

/// Where in the template it went wrong, in words.
fn describe(e: &minijinja::Error) -> String {
    let what = e
        .detail()
        .map(str::to_owned)
        .unwrap_or_else(|| e.kind().to_string());
    match e.line() {
        Some(line) => format!("line {line}: {what}"),
        None => what,
    }
}

/// Renders a tenant template with `vars`, capped at `max` characters.
pub fn render_capped(template: &str, vars: &serde_json::Value, max: usize) -> Result<String> {
    let env = tenant_env();
    let out = env
        .render_str(template, minijinja::value::Serde(vars))
        .map_err(|e| Error::invalid("template", format!("cannot be rendered: {}", describe(&e))))?;
    let out = out.trim().to_owned();
    if out.chars().count() > max {
        return Err(Error::invalid(
            "template",
            format!("renders longer than {max} characters"),
        ));
    }
    Ok(out)
}

/// Renders a status template (checked when saved, so an error here is a
/// hand-edited row).
pub fn render(template: &str, vars: &serde_json::Value) -> Result<String> {
    render_capped(template, vars, MAX_SMS_CHARS)
        .map_err(|e| Error::Internal(format!("message template: {e}")))
}

pub fn sample_vars() -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (name, _, sample) in TEMPLATE_VARIABLES {
        m.insert((*name).to_owned(), json!(sample));
    }
    serde_json::Value::Object(m)
}

/// Refuses a template that would not render with sample data, naming the
/// line and the reason: syntax errors, unknown filters, endless loops (out
/// of fuel), runaway recursion, output longer than a text may be.
pub fn check_template(field: &str, template: &str) -> Result<()> {
    if template.len() > 4_000 {
        return Err(Error::invalid(field, "must be at most 4000 characters"));
    }
    render_capped(template, &sample_vars(), MAX_SMS_CHARS)
        .map(|_| ())
        .map_err(|e| match e {
            Error::Invalid { message, .. } => Error::invalid(field, message),
            other => other,
        })
}

/// What a template's text costs as an SMS.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    pub text: String,
    pub encoding: &'static str,
    pub characters: usize,
    pub segments: usize,
    /// US cents, rounded up: a hint, not a bill.
    pub cost_hint_cents: f64,
}

pub fn preview(field: &str, template: &str) -> Result<Preview> {
    check_template(field, template)?;
    let text = render_capped(template, &sample_vars(), MAX_SMS_CHARS)?;
    let size = sms_size(&text);
    Ok(Preview {
        encoding: size.encoding.as_str(),
        characters: size.units,
        segments: size.segments,
        cost_hint_cents: (size.segments as u64 * pitwall_domain::messaging::SMS_SEGMENT_COST_MICROS)
            as f64
            / 10_000.0,
        text,
    })
}

/// The variables for one customer and ticket.
pub(crate) fn vars_for(
    ctx: Sender<'_>,
    customer: &customers::Customer,
    ticket: Option<&tickets::Ticket>,
    vehicle: Option<&customers::Vehicle>,
    status: Option<&str>,
    link: Option<&str>,
) -> serde_json::Value {
    let tz: chrono_tz::Tz = ctx.shop.time_zone.parse().unwrap_or(chrono_tz::UTC);
    json!({
        "first_name": customer.first_name.clone().unwrap_or_default(),
        "last_name": customer.last_name.clone().unwrap_or_default(),
        "shop_name": ctx.shop.name,
        "shop_phone": ctx.shop.phone.clone().unwrap_or_default(),
        "vehicle": vehicle.map(crate::labels::vehicle_label).unwrap_or_else(|| "vehicle".into()),
        "status": status.unwrap_or_default(),
        "ticket_number": ticket.map(|t| t.number.clone()).unwrap_or_default(),
        "promised_at": ticket
            .and_then(|t| t.promised_at)
            .map(|p| p.with_timezone(&tz).format("%a %-I:%M %p").to_string())
            .unwrap_or_default(),
        "link": link.unwrap_or_default(),
    })
}

/// One message to a customer, on one or more channels.
pub struct Outgoing<'a> {
    pub ticket: Option<TicketId>,
    pub customer: &'a customers::Customer,
    pub kind: MessageKind,
    pub channels: &'a [Channel],
    /// The text as stored and shown in the chat log.
    pub body: &'a str,
    /// The text as it goes out, when it is not `body`: a customer link is
    /// stored masked and sent whole (see [`crate::links`]).
    pub sent_body: Option<&'a str>,
    pub subject: Option<String>,
    pub by: Option<UserId>,
    /// Staff asked for exactly this message: a refusal is an error they
    /// see at once. Automatic messages record a refusal as a failed or held
    /// message instead, visible in the chat log.
    pub requested: bool,
}

/// What stops a message before it is sent.
enum Refusal {
    Fail(&'static str, &'static str),
    Hold(&'static str, Option<chrono::DateTime<Utc>>),
}

/// Queues `o` on each channel under the messaging rules. Returns the
/// messages written (including refused ones, recorded as failed or held).
pub(crate) async fn queue(
    txn: &impl ConnectionTrait,
    clock: &Clock,
    ctx: Sender<'_>,
    o: Outgoing<'_>,
) -> Result<Vec<Message>> {
    let now = Utc::now();
    let sms_used = match sms_usage_month(ctx, now) {
        Some(month) if o.channels.contains(&Channel::Sms) => {
            Some(messages::sms_segments_in(txn, ctx.shop_id(), &month).await?)
        }
        _ => None,
    };
    let mut batch = Batch::new();
    let out = plan(ctx, clock, o, sms_used, now, &mut batch)?;
    batch.run_in(txn).await?;
    Ok(out)
}

/// The month whose SMS usage a message sent now must fit in, when the
/// shop's plan stops at its allowance (else there is nothing to read).
pub(crate) fn sms_usage_month(ctx: Sender<'_>, now: chrono::DateTime<Utc>) -> Option<String> {
    ctx.features.sms_stop_at().map(|_| usage_month(now))
}

/// Decides `o` on each channel under the messaging rules and adds the
/// messages, their delivery jobs, their timeline events and the thread's
/// touch to `batch`. `sms_used`: the segments used this month, read by
/// the caller when [`sms_usage_month`] asked for them. Returns the
/// messages as they will be written (including refused ones, recorded as
/// failed or held).
pub(crate) fn plan(
    ctx: Sender<'_>,
    clock: &Clock,
    o: Outgoing<'_>,
    sms_used: Option<i64>,
    now: chrono::DateTime<Utc>,
    batch: &mut Batch,
) -> Result<Vec<Message>> {
    let shop = ctx.shop_id();
    let customer = o.customer;
    let customer_id = CustomerId::from_uuid(customer.id);
    let mut planned = Vec::new();
    for &channel in o.channels {
        let (address, opted_out, feature) = match channel {
            Channel::Sms => (
                customer.phone.as_deref(),
                customer.sms_opt_out,
                Feature::Sms,
            ),
            Channel::Email => (
                customer.email.as_deref(),
                customer.email_opt_out,
                Feature::Email,
            ),
            // Nothing is ever sent on the page channel.
            Channel::Web => (None, false, Feature::CustomerLinks),
        };
        let Some(address) = address else {
            if o.requested {
                return Err(Error::invalid(
                    "channel",
                    match channel {
                        Channel::Sms => "the customer has no mobile number",
                        Channel::Email => "the customer has no e-mail address",
                        Channel::Web => "must be sms or email",
                    },
                ));
            }
            continue;
        };
        if !ctx.features.has(feature) {
            if o.requested {
                ctx.require_feature(feature)?;
            }
            continue;
        }
        let segments = match channel {
            Channel::Sms => sms_size(o.sent_body.unwrap_or(o.body)).segments as i32,
            Channel::Email | Channel::Web => 0,
        };
        let mut refusal = None;
        if opted_out && o.kind != MessageKind::KeywordReply {
            if o.requested {
                return Err(Error::CustomerOptedOut { channel });
            }
            refusal = Some(Refusal::Fail(
                "customer_opted_out",
                "the customer opted out of this channel",
            ));
        } else if channel == Channel::Sms
            && ctx.shop.require_sms_consent
            && customer.sms_consent_at.is_none()
            && o.kind != MessageKind::KeywordReply
        {
            if o.requested {
                return Err(Error::ConsentRequired);
            }
            refusal = Some(Refusal::Fail(
                "consent_required",
                "the shop requires recorded consent before texting this customer",
            ));
        } else if channel == Channel::Sms
            && o.kind != MessageKind::KeywordReply
            && let Some(limit) = ctx.features.sms_stop_at()
        {
            let used = sms_used.unwrap_or(0);
            if used + i64::from(segments) > limit {
                if o.requested {
                    return Err(Error::QuotaExceeded {
                        quota: Quota::SmsPerMonth,
                        limit,
                    });
                }
                refusal = Some(Refusal::Hold("quota_exceeded", None));
            }
        }
        if refusal.is_none()
            && o.kind.waits_out_quiet_hours()
            && let (Some(s), Some(e)) = (ctx.shop.quiet_hours_start, ctx.shop.quiet_hours_end)
            && let Some(q) = QuietHours::new(s, e)
        {
            let tz: chrono_tz::Tz = ctx.shop.time_zone.parse().unwrap_or(chrono_tz::UTC);
            if let Some(until) = q.ends_after(clock.now(), tz) {
                refusal = Some(Refusal::Hold("quiet_hours", Some(until)));
            }
        }
        let (status, held_until, hold_reason) = match &refusal {
            None => (MessageStatus::Queued, None, None),
            Some(Refusal::Fail(..)) => (MessageStatus::Failed, None, None),
            Some(Refusal::Hold(reason, until)) => (MessageStatus::Held, *until, Some(*reason)),
        };
        let error = match refusal {
            Some(Refusal::Fail(code, reason)) => Some((code, reason)),
            _ => None,
        };
        let needs_job = !matches!(
            refusal,
            Some(Refusal::Fail(..) | Refusal::Hold("quota_exceeded", _))
        );
        planned.push((
            messages::message_row(
                shop,
                NewMessage {
                    ticket: o.ticket,
                    customer: Some(customer_id),
                    channel,
                    direction: Direction::Outbound,
                    kind: o.kind,
                    to_address: address,
                    from_address: None,
                    subject: o.subject.as_deref(),
                    body: o.body,
                    outgoing_body: o.sent_body,
                    segments,
                    created_by: o.by,
                    status,
                    held_until,
                    hold_reason,
                    provider_id: None,
                    error,
                },
                now,
            ),
            needs_job,
        ));
    }
    if planned.is_empty() {
        return Ok(vec![]);
    }
    let jobs: Vec<(MessageId, Option<chrono::DateTime<Utc>>)> = planned
        .iter()
        .filter(|(_, j)| *j)
        .map(|(m, _)| {
            (
                MessageId::from_uuid(m.id),
                m.held_until.map(|t| clock.on_system_clock(t)),
            )
        })
        .collect();
    let out: Vec<Message> = planned.into_iter().map(|(m, _)| m).collect();
    batch.insert(out.iter().cloned().map(|m| m.into_active_model()));
    batch.insert(pitwall_jobs::message_job_rows(shop, &jobs, now)?);
    if let Some(ticket) = o.ticket {
        batch.insert(out.iter().map(|m| {
            activity::event_row(
                shop,
                TimelineEventId::new(),
                activity::NewEvent {
                    ticket,
                    kind: match MessageStatus::parse(&m.status) {
                        Some(MessageStatus::Failed) => TimelineKind::MessageFailed.as_str(),
                        Some(MessageStatus::Held) => TimelineKind::MessageHeld.as_str(),
                        _ => TimelineKind::MessageQueued.as_str(),
                    },
                    actor_kind: if o.by.is_some() {
                        ActorKind::Staff.as_str()
                    } else {
                        ActorKind::System.as_str()
                    },
                    actor_id: o.by.map(|u| u.as_uuid()),
                    actor_name: None,
                    data: json!({
                        "message_id": m.id, "channel": m.channel, "kind": o.kind,
                        "error_code": m.error_code, "hold_reason": m.hold_reason,
                        "held_until": m.held_until,
                    }),
                },
                now,
            )
        }));
    }
    let (thread, on_conflict) = messages::thread_touch(shop, customer_id, now, false);
    batch.upsert(thread, on_conflict);
    Ok(out)
}

/// The month SMS usage is counted in: `YYYY-MM`, UTC.
pub fn usage_month(now: chrono::DateTime<Utc>) -> String {
    pitwall_domain::messaging::usage_month(now)
}

/// The SMS quota counts from the first of the month (UTC).
pub fn month_start(now: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// Plans the status update for every channel that reaches the customer
/// into `batch` (the caller has the customer and vehicle in hand, and the
/// SMS usage when [`sms_usage_month`] asked for it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_status_update(
    ctx: Sender<'_>,
    clock: &Clock,
    ticket: &tickets::Ticket,
    status: &statuses::VehicleStatus,
    customer: Option<&customers::Customer>,
    vehicle: Option<&customers::Vehicle>,
    by: Option<UserId>,
    sms_used: Option<i64>,
    now: chrono::DateTime<Utc>,
    batch: &mut Batch,
) -> Result<Vec<Message>> {
    let Some(customer) = customer else {
        return Ok(vec![]);
    };
    if status.message_template.trim().is_empty() {
        return Ok(vec![]);
    }
    let vars = vars_for(
        ctx,
        customer,
        Some(ticket),
        vehicle,
        Some(&status.label),
        None,
    );
    let body = render(&status.message_template, &vars)?;
    plan(
        ctx,
        clock,
        Outgoing {
            ticket: Some(TicketId::from_uuid(ticket.id)),
            customer,
            kind: MessageKind::StatusUpdate,
            channels: &[Channel::Sms, Channel::Email],
            body: &body,
            sent_body: None,
            subject: Some(format!("{}: {}", ctx.shop.name, status.label)),
            by,
            requested: false,
        },
        sms_used,
        now,
        batch,
    )
}

/// The shop's text for a template kind: its own, else the default.
pub(crate) async fn template_body(
    db: &impl ConnectionTrait,
    shop: pitwall_domain::ShopId,
    kind: TemplateKind,
) -> Result<String> {
    Ok(messages::template(db, shop, kind.as_str())
        .await?
        .map(|t| t.body)
        .unwrap_or_else(|| kind.default_body().to_owned()))
}

/// A message Pitwall sends by itself about a ticket (a confirmation, a
/// reminder), from the shop's `template`, with `extra` variables for the
/// customer it reaches (their language decides how amounts read): by text
/// when the customer has a phone, else by e-mail; nothing when the ticket
/// has no customer or the customer no way to be reached. Refusals (opted
/// out, quiet hours, no allowance left) are recorded on the message, never
/// an error for what caused it.
pub(crate) struct Automatic<'a> {
    pub template: TemplateKind,
    pub extra: &'a (dyn Fn(&customers::Customer) -> Vec<(&'static str, String)> + Sync),
    pub subject: String,
    pub by: Option<UserId>,
    /// Issue a customer link for this message (the template's
    /// `{{ link }}`), under this base URL, once the customer is known to be
    /// reachable: whole for the customer, masked for the chat log.
    pub link_base: Option<&'a str>,
}

pub(crate) async fn queue_automatic(
    txn: &impl ConnectionTrait,
    clock: &Clock,
    sender: Sender<'_>,
    ticket: &tickets::Ticket,
    a: Automatic<'_>,
) -> Result<Option<Message>> {
    let shop = sender.shop_id();
    let Some(customer) = (match ticket.customer_id {
        Some(c) => customers::get(txn, shop, CustomerId::from_uuid(c)).await?,
        None => None,
    }) else {
        return Ok(None);
    };
    let channel = if customer.phone.is_some() {
        Channel::Sms
    } else if customer.email.is_some() {
        Channel::Email
    } else {
        return Ok(None);
    };
    let vehicle = match ticket.vehicle_id {
        Some(v) => customers::vehicle(txn, shop, pitwall_domain::VehicleId::from_uuid(v)).await?,
        None => None,
    };
    let template = template_body(txn, shop, a.template).await?;
    let mut vars = vars_for(
        sender,
        &customer,
        Some(ticket),
        vehicle.as_ref(),
        None,
        None,
    );
    for (name, value) in (a.extra)(&customer) {
        vars[name] = json!(value);
    }
    let link = match a.link_base {
        Some(base) => Some(
            crate::links::issue_for_message(txn, base, sender.shop, TicketId::from_uuid(ticket.id))
                .await?,
        ),
        None => None,
    };
    let (body, sent_body) = match &link {
        Some(l) => {
            vars["link"] = json!(l.masked);
            let body = render(&template, &vars)?;
            vars["link"] = json!(l.url);
            (body, Some(render(&template, &vars)?))
        }
        None => (render(&template, &vars)?, None),
    };
    Ok(queue(
        txn,
        clock,
        sender,
        Outgoing {
            ticket: Some(TicketId::from_uuid(ticket.id)),
            customer: &customer,
            kind: a.template.message_kind(),
            channels: &[channel],
            body: &body,
            sent_body: sent_body.as_deref(),
            subject: Some(a.subject),
            by: a.by,
            requested: false,
        },
    )
    .await?
    .pop())
}
