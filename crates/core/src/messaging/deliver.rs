//! Delivering one customer message, exactly once: the rules the
//! `pitwall.message` queue runs (the job runtime calls [`Deliverer`]
//! through `pitwall_jobs::send_message::MessageWork`; the provider clients
//! stay in `pitwall_jobs`).
//!
//! The design (ARCHITECTURE.md, "Sending exactly once"):
//! 1. The message row and its job were written in the transaction of the
//!    change that caused them; the job carries only the message id.
//! 2. Before handing the message over, delivery *claims* it: `queued`/`held`
//!    → `sending`, in one conditional update that only one worker can win.
//! 3. It records what the provider answered (`sent` with the provider's id,
//!    or `failed`) right after.
//! 4. A worker killed between 2 and 3 leaves the message in `sending`. The
//!    job runs again (apalis re-queues the orphan); finding `sending`, it
//!    first asks the provider whether a text with these words reached this
//!    number since the claim (and is not another message of ours). Found:
//!    recorded as sent, not sent again. Not found: sent now.
//!    E-mail has no such question; a resend carries the same Message-ID.
//!
//! Before sending: the customer's opt-out (checked again, it may be newer
//! than the message), the sender number, the plan's monthly allowance
//! (taken in one conditional update; past it the plan stops or reports
//! overage). Transient failures (timeouts, refused connections, 5xx, 429)
//! retry with backoff; permanent ones (4xx: invalid number, unsubscribed
//! recipient, which opts the customer out) fail at once. Each sender number
//! is held to its rate by slots reserved in the database, shared by every
//! worker process. [`transition`] is the one place a message changes
//! state, for delivery and for the provider's receipts alike.

use std::time::Duration;

use chrono::Utc;
use pitwall_domain::messaging::{Channel, MessageKind, MessageStatus};
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{CustomerId, MessageId, ShopId};
use pitwall_jobs::WorkFailure;
use pitwall_jobs::mailer::{MailAttachment, Mailer, OutgoingEmail, SendError};
use pitwall_jobs::send_message::MessageWork;
use pitwall_jobs::sms::{Accepted, OutgoingSms, SmsError, SmsSender, UNSUBSCRIBED_RECIPIENT};
use pitwall_store::live::{Announced, Live, LiveEvent};
use pitwall_store::messages::{self, Message, Outcome};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{Db, StoreError, activity, customers, shops};
use serde_json::json;

use crate::App;

/// Platform-wide delivery settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Public URL of this deployment (for the status callback).
    pub base_url: String,
    /// The platform's sender for shops without their own (`TWILIO_FROM`).
    pub default_sms_from: Option<String>,
    /// Texts per second per sender number (`PITWALL_SMS_RATE_PER_SENDER`).
    pub sms_rate_per_sender: f64,
}

impl DeliverySettings {
    pub fn send_interval(&self) -> chrono::Duration {
        let per = if self.sms_rate_per_sender > 0.0 {
            1.0 / self.sms_rate_per_sender
        } else {
            1.0
        };
        chrono::Duration::microseconds((per * 1_000_000.0) as i64)
    }
}

/// Delivers messages for the job runtime: the database and live hub of
/// the app, and the provider clients the process was configured with.
pub struct Deliverer {
    db: Db,
    live: Live,
    sms: SmsSender,
    mailer: Mailer,
    settings: DeliverySettings,
}

impl Deliverer {
    pub fn new(app: &App, sms: SmsSender, mailer: Mailer, settings: DeliverySettings) -> Self {
        Deliverer {
            db: app.db.clone(),
            live: app.live.clone(),
            sms,
            mailer,
            settings,
        }
    }
}

impl MessageWork for Deliverer {
    fn deliver(
        &self,
        message: MessageId,
    ) -> futures::future::BoxFuture<'_, Result<(), WorkFailure>> {
        Box::pin(deliver(self, message))
    }
}

/// How a try ended, before it is recorded.
enum Tried {
    Sent(Accepted, Option<String>),
    Failed { code: String, reason: String },
    Retry { code: String, reason: String },
}

async fn deliver(deps: &Deliverer, id: MessageId) -> Result<(), WorkFailure> {
    let Some(msg) = messages::by_id_for_delivery(&deps.db, id).await? else {
        return Err(WorkFailure::Permanent(format!(
            "message {id} does not exist"
        )));
    };
    let status = msg.status_value()?;
    if status.is_final() {
        return Ok(());
    }
    // Held for the quota: nothing to do until staff send it again (which
    // writes a new job).
    if status == MessageStatus::Held && msg.hold_reason.as_deref() == Some("quota_exceeded") {
        return Ok(());
    }
    let shop = ShopId::from_uuid(msg.shop_id);
    let Some(shop_row) = shops::get(&deps.db, shop).await? else {
        return Err(WorkFailure::Permanent("the shop no longer exists".into()));
    };
    let channel = msg.channel_value()?;
    let kind = msg.kind_value()?;

    // Opted out since it was queued: refuse, visibly. The one confirmation
    // of an opt-out is the exception carriers allow.
    if kind != MessageKind::KeywordReply
        && let Some(c) = msg.customer_id
        && let Some(customer) = customers::get(&deps.db, shop, CustomerId::from_uuid(c)).await?
    {
        let out = match channel {
            Channel::Sms => customer.sms_opt_out,
            Channel::Email | Channel::Web => customer.email_opt_out,
        };
        if out {
            record(
                deps,
                &msg,
                MessageStatus::Failed,
                Outcome {
                    error_code: Some("customer_opted_out"),
                    error_message: Some("the customer opted out of this channel"),
                    ..Default::default()
                },
            )
            .await?;
            return Err(WorkFailure::Permanent("customer opted out".into()));
        }
    }

    let sender = match channel {
        Channel::Sms => shop_row
            .sms_from
            .clone()
            .or_else(|| deps.settings.default_sms_from.clone())
            .or_else(|| deps.sms.is_dev().then(|| "+15005550006".to_owned())),
        Channel::Email | Channel::Web => None,
    };
    if channel == Channel::Sms && sender.is_none() {
        record(
            deps,
            &msg,
            MessageStatus::Failed,
            Outcome {
                error_code: Some("no_sender"),
                error_message: Some(
                    "the shop has no sender number and the platform has no default (TWILIO_FROM)",
                ),
                ..Default::default()
            },
        )
        .await?;
        return Err(WorkFailure::Permanent("no sender number".into()));
    }

    // The plan's monthly allowance is taken here, when the text is about
    // to go, in one conditional update: concurrent workers can never pass
    // it together. A text found mid-send after a crash was counted then.
    let month = pitwall_domain::messaging::usage_month(Utc::now());
    if channel == Channel::Sms && status != MessageStatus::Sending {
        let included = pitwall_store::plans::get(&deps.db, &shop_row.plan_code)
            .await?
            .and_then(|p| p.sms_per_month)
            .map(i64::from);
        // Past the included segments, the plan either stops or reports the
        // extra ones to Stripe as usage (billing queue).
        let overage = pitwall_store::billing::sms_overage(&deps.db, &shop_row.plan_code).await?;
        let limit = overage.stop_at(included);
        let billed_overage =
            included.is_some() && overage == pitwall_domain::billing::SmsOverage::Report;
        if !messages::reserve_sms_segments(&deps.db, shop, &month, i64::from(msg.segments), limit)
            .await?
        {
            record(
                deps,
                &msg,
                MessageStatus::Held,
                Outcome {
                    hold_reason: Some("quota_exceeded"),
                    ..Default::default()
                },
            )
            .await?;
            return Ok(());
        }
        if billed_overage && let Some(included) = included {
            let used = messages::sms_segments_in(&deps.db, shop, &month).await?;
            let over = (used - included).min(i64::from(msg.segments));
            if over > 0 {
                pitwall_jobs::billing::record_overage(&deps.db, shop, id, over).await?;
            }
        }
    }

    // Wait for this sender's turn before claiming, so a message never sits
    // in `sending` longer than it must.
    if let Some(sender) = &sender {
        wait_for_slot(deps, sender).await?;
    }

    // What the customer receives: a customer link goes out whole, while
    // the stored body keeps it masked.
    let text = msg.outgoing_body.as_deref().unwrap_or(&msg.body);
    let sms = sender.as_ref().map(|from| OutgoingSms {
        message_id: msg.id.to_string(),
        to: msg.to_address.clone(),
        from: from.clone(),
        body: text.to_owned(),
        status_callback: (!deps.sms.is_dev()).then(|| {
            format!(
                "{}/webhooks/twilio/status?message_id={}",
                deps.settings.base_url, msg.id
            )
        }),
    });

    let reconciled = if status == MessageStatus::Sending {
        // A try before this one claimed the message and never recorded the
        // outcome: ask before sending again.
        messages::count_attempt(&deps.db, id).await?;
        match &sms {
            Some(sms) => {
                let since = msg.claimed_at.unwrap_or(msg.created_at) - chrono::Duration::minutes(5);
                let known = known_provider_ids(&deps.db, &msg).await?;
                match deps
                    .sms
                    .find_sent(sms, since, |sid| known.iter().any(|k| k == sid))
                    .await
                {
                    Ok(found) => found,
                    Err(
                        SmsError::Transient { code, reason } | SmsError::Permanent { code, reason },
                    ) => {
                        messages::note_error(&deps.db, id, &code, &reason).await?;
                        return Err(WorkFailure::Retry(reason));
                    }
                }
            }
            None => None,
        }
    } else {
        if !messages::claim(&deps.db, id).await? {
            // Someone else moved it meanwhile; whatever they do stands.
            return Ok(());
        }
        None
    };

    let tried = match (reconciled, &sms) {
        (Some(found), _) => {
            tracing::info!(message.id = %id, "text found at the provider after an interrupted try; not sent again");
            Tried::Sent(found, sender.clone())
        }
        (None, Some(sms)) => match deps.sms.send(sms).await {
            Ok(a) => Tried::Sent(a, sender.clone()),
            Err(SmsError::Permanent { code, reason }) => Tried::Failed { code, reason },
            Err(SmsError::Transient { code, reason }) => Tried::Retry { code, reason },
        },
        (None, None) => {
            let attachments = messages::attachments(&deps.db, shop, id)
                .await?
                .into_iter()
                .map(|a| MailAttachment {
                    file_name: a.file_name,
                    content_type: a.content_type,
                    content: a.content,
                })
                .collect();
            let mail = OutgoingEmail {
                id: msg.id.to_string(),
                from_name: Some(shop_row.name.clone()),
                to: msg.to_address.clone(),
                reply_to: shop_row.email.clone(),
                subject: msg
                    .subject
                    .clone()
                    .unwrap_or_else(|| format!("A message from {}", shop_row.name)),
                text: text.to_owned(),
                html: Some(email_html(&shop_row.name, text)),
                attachments,
            };
            match deps.mailer.send(&mail).await {
                Ok(()) => Tried::Sent(
                    Accepted {
                        provider_id: format!("email-{}", msg.id),
                    },
                    None,
                ),
                Err(SendError::Permanent(reason)) => Tried::Failed {
                    code: "smtp_rejected".into(),
                    reason,
                },
                Err(SendError::Transient(reason)) => Tried::Retry {
                    code: "smtp_unavailable".into(),
                    reason,
                },
            }
        }
    };

    let current = messages::by_id_for_delivery(&deps.db, id)
        .await?
        .ok_or_else(|| WorkFailure::Permanent("message vanished while sending".into()))?;
    match tried {
        Tried::Sent(accepted, from) => {
            record(
                deps,
                &current,
                MessageStatus::Sent,
                Outcome {
                    provider_id: Some(&accepted.provider_id),
                    from_address: from.as_deref(),
                    ..Default::default()
                },
            )
            .await?;
            tracing::info!(message.id = %id, message.channel = %channel, "message sent");
            Ok(())
        }
        Tried::Failed { code, reason } => {
            // The opt-out first: whoever sees the message failed with
            // 21610 must also see the customer opted out.
            if code == UNSUBSCRIBED_RECIPIENT
                && let Some(c) = msg.customer_id
            {
                let txn = pitwall_store::begin_write(&deps.db).await?;
                messages::record_carrier_opt_out(&txn, shop, CustomerId::from_uuid(c)).await?;
                txn.commit().await?;
            }
            record(
                deps,
                &current,
                MessageStatus::Failed,
                Outcome {
                    error_code: Some(&code),
                    error_message: Some(&reason),
                    from_address: sender.as_deref(),
                    ..Default::default()
                },
            )
            .await?;
            if channel == Channel::Sms {
                messages::release_sms_segments(&deps.db, shop, &month, i64::from(msg.segments))
                    .await?;
            }
            tracing::warn!(message.id = %id, error.code = %code, "message refused for good");
            Err(WorkFailure::Permanent(reason))
        }
        Tried::Retry { code, reason } => {
            if current.attempts as usize >= pitwall_jobs::relay::MAX_ATTEMPTS {
                let reason = format!("gave up after {} tries: {reason}", current.attempts);
                record(
                    deps,
                    &current,
                    MessageStatus::Failed,
                    Outcome {
                        error_code: Some(&code),
                        error_message: Some(&reason),
                        ..Default::default()
                    },
                )
                .await?;
                return Err(WorkFailure::Permanent(reason));
            }
            messages::note_error(&deps.db, id, &code, &reason).await?;
            tracing::warn!(message.id = %id, error.code = %code, "message not sent, will retry");
            Err(WorkFailure::Retry(reason))
        }
    }
}

/// Records a state change in its own transaction and tells the pages.
async fn record(
    deps: &Deliverer,
    msg: &Message,
    to: MessageStatus,
    o: Outcome<'_>,
) -> Result<(), StoreError> {
    let txn = pitwall_store::begin_write(&deps.db).await?;
    let announced = transition(&txn, &deps.live, msg, to, o).await?;
    txn.commit().await?;
    if let Some(a) = announced {
        deps.live.after_commit(a);
    }
    Ok(())
}

async fn wait_for_slot(deps: &Deliverer, sender: &str) -> Result<(), StoreError> {
    let interval = deps.settings.send_interval();
    loop {
        let slot = {
            let txn = pitwall_store::begin_write(&deps.db).await?;
            let slot =
                messages::reserve_send_slot(&txn, sender, interval, chrono::Duration::seconds(5))
                    .await?;
            txn.commit().await?;
            slot
        };
        match slot {
            Some(at) => {
                let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                return Ok(());
            }
            None => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Provider ids our other messages to the same number already carry: a
/// text with the same words among them is not this one.
async fn known_provider_ids(db: &Db, msg: &Message) -> Result<Vec<String>, StoreError> {
    let Some(c) = msg.customer_id else {
        return Ok(Vec::new());
    };
    let recent = messages::recent_of_customer(
        db,
        ShopId::from_uuid(msg.shop_id),
        CustomerId::from_uuid(c),
        200,
    )
    .await?;
    Ok(recent
        .into_iter()
        .filter(|m| m.id != msg.id)
        .filter_map(|m| m.provider_id)
        .collect())
}

/// The HTML part of a customer e-mail: the rendered text, every character
/// escaped (so nothing a template or a customer name holds can become
/// markup), paragraphs kept.
pub fn email_html(shop_name: &str, text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let body = text
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", esc(p).replace('\n', "<br>")))
        .collect::<String>();
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\"><h2>{}</h2>{body}</body></html>",
        esc(shop_name)
    )
}

/// Moves `msg` to `to` (unless it already stands later) and records it.
/// `None` when nothing changed.
pub(crate) async fn transition(
    txn: &impl ConnectionTrait,
    live: &Live,
    msg: &Message,
    to: MessageStatus,
    o: Outcome<'_>,
) -> Result<Option<Announced>, StoreError> {
    if !messages::advance(txn, msg, to, o.clone()).await? {
        return Ok(None);
    }
    let shop = ShopId::from_uuid(msg.shop_id);
    let kind = match to {
        MessageStatus::Queued => Some(TimelineKind::MessageQueued),
        MessageStatus::Held => Some(TimelineKind::MessageHeld),
        MessageStatus::Sent => Some(TimelineKind::MessageSent),
        MessageStatus::Delivered => Some(TimelineKind::MessageDelivered),
        MessageStatus::Failed => Some(TimelineKind::MessageFailed),
        MessageStatus::Sending | MessageStatus::Received => None,
    };
    let mut event_id = None;
    if let (Some(kind), Some(ticket)) = (kind, msg.ticket_id) {
        let e = activity::record_event(
            txn,
            shop,
            activity::NewEvent {
                ticket: pitwall_domain::TicketId::from_uuid(ticket),
                kind: kind.as_str(),
                actor_kind: ActorKind::System.as_str(),
                actor_id: None,
                actor_name: None,
                data: json!({
                    "message_id": msg.id,
                    "channel": msg.channel,
                    "kind": msg.kind,
                    "error_code": o.error_code,
                    "error_message": o.error_message,
                    "held_until": o.held_until,
                    "hold_reason": o.hold_reason,
                }),
            },
        )
        .await?;
        event_id = Some(e.id);
    }
    let announced = live.announce(vec![LiveEvent::new(
        ShopId::from_uuid(msg.shop_id),
        msg.ticket_id,
        "message",
        event_id,
    )]);
    Ok(Some(announced))
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_html_escapes_everything_from_templates_and_names() {
        let html = super::email_html("Bob's <Garage>", "Hi <script>x</script>\n\nBye & see you");
        assert!(html.contains("Bob&#39;s &lt;Garage&gt;"));
        assert!(html.contains("<p>Hi &lt;script&gt;x&lt;/script&gt;</p><p>Bye &amp; see you</p>"));
        assert!(!html.contains("<script>"));
    }
}
