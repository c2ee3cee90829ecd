//! Customer links, the staff side: issue one for a ticket (and send it by
//! text or e-mail through the messaging rules), list, revoke, re-issue, see
//! whether the customer is looking right now.
//!
//! The link is a capability: `/c/{token}`, 256 bits from the OS's secure
//! source, stored only as its SHA-256, bound to one ticket, expiring after
//! the shop's setting. The URL is shown once, when issued.

use chrono::{DateTime, Duration, Utc};
use pitwall_domain::messaging::{Channel, TemplateKind};
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::{CustomerId, Feature, LinkId, MessageId, Permission, TicketId, VehicleId};
use pitwall_store::customer_links::{self as store, CustomerLink};
use pitwall_store::messages::Message;
use pitwall_store::{activity, customers, tickets};
use serde_json::json;

use crate::live::LiveEvent;
use crate::outreach::{self, Outgoing};
use crate::tokens::{hash_token, new_token};
use crate::{App, Error, Result, ShopCtx};

/// The customer's page counts as open while it beat within this window.
pub const PRESENCE_WINDOW_SECS: i64 = 25;

/// The shortest and longest a shop may let its links live.
pub const MIN_TTL_HOURS: i32 = 1;
pub const MAX_TTL_HOURS: i32 = 24 * 90;

/// A link just issued: the only moment its URL exists.
#[derive(Debug, Clone)]
pub struct Issued {
    pub link: CustomerLink,
    pub url: String,
    /// The message that carries it, when sent.
    pub message: Option<Message>,
}

/// How the link goes out.
pub struct Issue<'a> {
    /// `sms` or `email`, or none to copy it by hand.
    pub send: Option<&'a str>,
    /// Revoke the ticket's other links first (a re-issue).
    pub replace: bool,
    /// The shop's template the message is written with (`link`, or
    /// `extension` for work found later).
    pub template: TemplateKind,
    /// A file sent with an e-mail (the invoice's PDF); a text has none.
    pub attachment: Option<Attachment>,
}

/// A file sent along with a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: &'static str,
    pub content: Vec<u8>,
}

pub async fn issue(
    app: &App,
    ctx: &ShopCtx,
    ticket_id: TicketId,
    how: Issue<'_>,
) -> Result<Issued> {
    app.require(ctx, Permission::CustomerLinksSend).await?;
    ctx.require_feature(Feature::CustomerLinks)?;
    ctx.require_writable()?;
    let channel = match how.send.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Channel::outbound(s)
                .ok_or_else(|| Error::invalid("send", "must be sms, email or null"))?,
        ),
    };
    let shop = ctx.shop_id();
    let now = Utc::now();
    let token = new_token("pwc_");
    let url = format!("{}/c/{token}", app.config.base_url);
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    if how.replace {
        store::revoke_all_of_ticket(&txn, shop, ticket_id, ctx.user_id, now).await?;
    }
    let ttl = Duration::hours(i64::from(
        ctx.shop.link_ttl_hours.clamp(MIN_TTL_HOURS, MAX_TTL_HOURS),
    ));
    let link = store::insert(
        &txn,
        shop,
        ticket_id,
        &hash_token(&token),
        Some(ctx.user_id),
        now,
        now + ttl,
    )
    .await?;
    let mut message = None;
    if let Some(channel) = channel {
        let customer = match ticket.customer_id {
            Some(c) => customers::get(&txn, shop, CustomerId::from_uuid(c)).await?,
            None => None,
        }
        .ok_or_else(|| Error::invalid("send", "the ticket has no customer to send to"))?;
        let vehicle = match ticket.vehicle_id {
            Some(v) => customers::vehicle(&txn, shop, VehicleId::from_uuid(v)).await?,
            None => None,
        };
        let template = outreach::template_body(&txn, shop, how.template).await?;
        // Rendered twice: whole for the customer, masked for the chat log,
        // where anyone who reads the thread could otherwise sign as them.
        let render_with = |link: &str| {
            let vars = outreach::vars_for(
                ctx.into(),
                &customer,
                Some(&ticket),
                vehicle.as_ref(),
                None,
                Some(link),
            );
            outreach::render(&template, &vars)
        };
        let sent_body = render_with(&url)?;
        let body = render_with(&masked_url(&app.config.base_url, &token))?;
        message = outreach::queue(
            &txn,
            &app.config.clock,
            ctx.into(),
            Outgoing {
                ticket: Some(ticket_id),
                customer: &customer,
                kind: how.template.message_kind(),
                channels: &[channel],
                body: &body,
                sent_body: Some(&sent_body),
                subject: Some(format!("Your {} from {}", ticket.kind, ctx.shop.name)),
                by: Some(ctx.user_id),
                requested: true,
            },
        )
        .await?
        .pop();
        // Written with the message, so the worker never sends it without.
        if let (Some(m), Some(file), Channel::Email) = (&message, how.attachment, channel) {
            pitwall_store::messages::attach(
                &txn,
                shop,
                MessageId::from_uuid(m.id),
                &file.file_name,
                file.content_type,
                file.content,
            )
            .await?;
        }
    }
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: ticket_id,
            kind: TimelineKind::LinkSent.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&ctx.user_name),
            data: json!({
                "link_id": link.id,
                "how": channel.map_or("copied", Channel::as_str),
                "message_id": message.as_ref().map(|m| m.id),
                "expires_at": link.expires_at,
                "replaced_others": how.replace,
            }),
        },
    )
    .await?;
    let announced = app.live.announce(vec![crate::timeline::timeline_live(
        shop, ticket_id, event.id,
    )]);
    txn.commit().await?;
    app.live.after_commit(announced);
    if message.is_some() {
        app.jobs.nudge();
    }
    tracing::info!(shop.id = %shop, ticket.id = %ticket_id, link.id = %link.id, "customer link issued");
    Ok(Issued { link, url, message })
}

/// A link Pitwall issued by itself for a message it sends.
#[derive(Debug, Clone)]
pub struct MessageLink {
    pub url: String,
    /// As the chat log shows it.
    pub masked: String,
}

/// Issues a link for a message Pitwall sends by itself (a reminder), in
/// the caller's transaction, with no staff member behind it; the timeline
/// shows it like any link sent.
pub(crate) async fn issue_for_message(
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    base_url: &str,
    shop: &pitwall_store::shops::Shop,
    ticket: TicketId,
) -> Result<MessageLink> {
    let shop_id = pitwall_domain::ShopId::from_uuid(shop.id);
    let now = Utc::now();
    let token = new_token("pwc_");
    let ttl = Duration::hours(i64::from(
        shop.link_ttl_hours.clamp(MIN_TTL_HOURS, MAX_TTL_HOURS),
    ));
    let link = store::insert(
        txn,
        shop_id,
        ticket,
        &hash_token(&token),
        None,
        now,
        now + ttl,
    )
    .await?;
    activity::record_event(
        txn,
        shop_id,
        activity::NewEvent {
            ticket,
            kind: TimelineKind::LinkSent.as_str(),
            actor_kind: ActorKind::System.as_str(),
            actor_id: None,
            actor_name: None,
            data: json!({
                "link_id": link.id,
                "how": "reminder",
                "expires_at": link.expires_at,
                "replaced_others": false,
            }),
        },
    )
    .await?;
    Ok(MessageLink {
        url: format!("{base_url}/c/{token}"),
        masked: masked_url(base_url, &token),
    })
}

/// The link as the chat log shows it: enough to tell links apart, not
/// enough to open one.
pub fn masked_url(base_url: &str, token: &str) -> String {
    // Tokens are ASCII (`pwc_` and URL-safe base64), so a byte offset is a
    // character boundary.
    let tail = token
        .get(token.len().saturating_sub(4)..)
        .unwrap_or_default();
    format!("{base_url}/c/pwc_…{tail}")
}

/// A link as staff see it (never the token).
#[derive(Debug, Clone)]
pub struct LinkState {
    pub link: CustomerLink,
    pub state: &'static str,
    pub viewing: bool,
}

pub fn state_of(l: &CustomerLink, now: DateTime<Utc>) -> &'static str {
    if l.revoked_at.is_some() {
        "revoked"
    } else if l.expires_at <= now {
        "expired"
    } else {
        "active"
    }
}

pub async fn list(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<Vec<LinkState>> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    tickets::get(&app.db, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let now = Utc::now();
    let since = now - Duration::seconds(PRESENCE_WINDOW_SECS);
    let presence = ctx.features.has(Feature::Timeline);
    Ok(store::of_ticket(&app.db, shop, ticket)
        .await?
        .into_iter()
        .map(|l| LinkState {
            state: state_of(&l, now),
            viewing: presence
                && l.revoked_at.is_none()
                && l.last_seen_at.is_some_and(|t| t >= since),
            link: l,
        })
        .collect())
}

pub async fn revoke(app: &App, ctx: &ShopCtx, ticket: TicketId, id: LinkId) -> Result<()> {
    app.require(ctx, Permission::CustomerLinksSend).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let link = store::get(&txn, shop, id)
        .await?
        .filter(|l| l.ticket_id == ticket.as_uuid())
        .ok_or(Error::NotFound("customer link"))?;
    if !store::revoke(&txn, shop, id, ctx.user_id, Utc::now()).await? {
        return Err(Error::Conflict {
            field: "link_id".into(),
            message: "is already revoked".into(),
        });
    }
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket,
            kind: TimelineKind::LinkRevoked.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&ctx.user_name),
            data: json!({ "link_id": link.id }),
        },
    )
    .await?;
    let announced = app.live.announce(vec![
        crate::timeline::timeline_live(shop, ticket, event.id),
        LiveEvent::new(shop, Some(ticket.as_uuid()), "presence", None),
    ]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(())
}

/// Whether the customer has the ticket's page open now, and until when that
/// holds without another beat (pages hide the mark then). Live presence is
/// part of the live timeline feature.
pub async fn viewing(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<Option<DateTime<Utc>>> {
    if !ctx.features.has(Feature::Timeline) {
        return Ok(None);
    }
    let now = Utc::now();
    let seen = store::viewing(
        &app.db,
        ctx.shop_id(),
        &[ticket.as_uuid()],
        now - Duration::seconds(PRESENCE_WINDOW_SECS),
    )
    .await?;
    Ok(seen
        .first()
        .map(|(_, t)| *t + Duration::seconds(PRESENCE_WINDOW_SECS)))
}

/// The shop's link lifetime, in hours.
pub async fn set_ttl(app: &App, ctx: &ShopCtx, hours: i32, locale: &str) -> Result<()> {
    app.require(ctx, Permission::ShopSettingsManage).await?;
    ctx.require_writable()?;
    if !(MIN_TTL_HOURS..=MAX_TTL_HOURS).contains(&hours) {
        return Err(Error::invalid(
            "link_ttl_hours",
            format!("must be from {MIN_TTL_HOURS} to {MAX_TTL_HOURS} hours"),
        ));
    }
    let locale = pitwall_domain::locale::Locale::parse(locale.trim())
        .ok_or_else(|| Error::invalid("locale", "must be en or es"))?;
    pitwall_store::shops::set_customer_page(&app.db, ctx.shop_id(), hours, locale.as_str()).await?;
    app.cache.clear();
    Ok(())
}
