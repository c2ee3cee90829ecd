use chrono::Utc;
use pitwall_domain::messaging::{Channel, Direction, Keyword, MessageKind, MessageStatus};
use pitwall_domain::phone::Phone;
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{CustomerId, MessageId, Permission, ShopId, TicketId};
use pitwall_store::live::LiveEvent;
use pitwall_store::messages::{self};
use pitwall_store::{activity, customers, shops, tickets};
use serde_json::json;

use crate::outreach::{self};
use crate::{App, Error, Result, ShopCtx};

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

pub(super) async fn record_inbound(
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
    let announced = app.live.announce(vec![LiveEvent::new(
        shop,
        ticket_id.map(|t| t.as_uuid()),
        "customer_reply",
        event_id,
    )]);
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
pub(super) async fn answer_keyword(
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
