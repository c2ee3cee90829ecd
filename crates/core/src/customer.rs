//! The customer's side of a ticket, reached by a capability link (no
//! account): see the ticket, approve or decline work and sign, write to the
//! shop, and be "viewing" for staff while the page is open.
//!
//! The token is the only credential: it is looked up by its hash, must not
//! be revoked or expired, and names exactly one ticket. Lookups are
//! rate-limited per client address. Nothing here takes a ticket id from
//! the customer.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Duration, Utc};
use pitwall_domain::locale::Locale;
use pitwall_domain::messaging::{Channel, Direction, MessageKind, MessageStatus};
use pitwall_domain::net::ClientAddr;
use pitwall_domain::tickets::{ActorKind, NotificationKind, TimelineKind};
use pitwall_domain::{CustomerId, Feature, Permission, ShopId, TicketId};
use pitwall_store::customer_links::{self as store, CustomerLink};
use pitwall_store::{activity, approvals as approval_store, customers, messages, shops, tickets};
use serde_json::json;

use crate::approvals::{self, ApprovalView, By, Decision};
use crate::features::FeatureSet;
use crate::live::LiveEvent;
use crate::presence::{beat, is_recent, presence_event};
use crate::tickets::TicketView;
use crate::tokens::hash_token;
use crate::{App, Error, Result, ShopCtx};

/// A later open counts as a new visit after this long without one.
pub const VISIT_GAP_MINUTES: i64 = 30;
/// The longest message a customer may write on the page.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// Who is at the other end of the request.
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    /// The client's address, as the HTTP stack worked it out (behind
    /// trusted proxies, the address they forwarded).
    pub address: ClientAddr,
    pub user_agent: Option<&'a str>,
}

/// Link lookups per client address and minute: shared by every node on
/// PostgreSQL, in this process on SQLite.
#[derive(Default)]
pub struct LookupLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
    /// The last minute whose old windows were swept from the database.
    swept: std::sync::atomic::AtomicI64,
}

impl LookupLimiter {
    /// On PostgreSQL the count is the fleet's, in the database (every API
    /// node sees every lookup); on the embedded SQLite there is one node,
    /// and the count stays in memory.
    async fn check(&self, db: &pitwall_store::Db, host: &str, per_minute: u32) -> Result<()> {
        let minute = Utc::now().timestamp() / 60;
        let count = if db.get_database_backend() == pitwall_store::sea_orm::DbBackend::Postgres {
            let n = pitwall_store::rate::hit(db, &format!("link:{host}"), minute).await?;
            let last = self
                .swept
                .swap(minute, std::sync::atomic::Ordering::Relaxed);
            if last != minute
                && let Err(e) = pitwall_store::rate::sweep(db, minute - 1).await
            {
                tracing::warn!(error = %e, "old rate windows not swept; trying again next minute");
            }
            u32::try_from(n).unwrap_or(u32::MAX)
        } else {
            let mut w = self
                .windows
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if w.len() > 50_000 {
                w.retain(|_, (m, _)| *m == minute);
            }
            let entry = w.entry(host.to_owned()).or_insert((minute, 0));
            if entry.0 != minute {
                *entry = (minute, 0);
            }
            entry.1 += 1;
            entry.1
        };
        if count > per_minute {
            return Err(Error::RateLimited(
                "too many link lookups from your address; wait a minute and try again",
            ));
        }
        Ok(())
    }
}

/// Everything the customer's page shows.
#[derive(Debug, Clone)]
pub struct CustomerPage {
    /// `None` in the advisor's preview.
    pub link: Option<CustomerLink>,
    pub shop: shops::Shop,
    pub locale: Locale,
    pub view: TicketView,
    /// The ticket's approvals, oldest first (the confirmation shows them).
    pub approvals: Vec<ApprovalView>,
    /// The shop's plan lets customers approve and sign.
    pub may_approve: bool,
    /// The shop's logo and colours (custom branding is in the plan).
    pub branded: bool,
    /// The latest published inspection, when the plan has inspections.
    pub inspection: Option<crate::inspections::published::CustomerInspection>,
    /// The ticket's invoice once the shop sent it (never a draft or a
    /// canceled case), when the plan has online payments.
    pub invoice: Option<crate::invoices::InvoiceView>,
    /// The customer can pay the invoice online here now.
    pub may_pay: bool,
}

impl CustomerPage {
    pub fn ticket_version(&self) -> i32 {
        self.view.ticket.version
    }
}

pub(crate) struct Resolved {
    pub link: CustomerLink,
    pub shop: shops::Shop,
    pub features: FeatureSet,
}

/// Finds the link a token names, or says why it does not work.
pub(crate) async fn resolve(app: &App, token: &str, visitor: Visitor<'_>) -> Result<Resolved> {
    app.link_limiter
        .check(
            &app.db,
            &visitor.address.limiter_key(),
            app.config.link_lookups_per_minute,
        )
        .await?;
    find(app, token).await
}

async fn find(app: &App, token: &str) -> Result<Resolved> {
    // Tokens we issue have this form; anything else is not looked up.
    if !token.starts_with("pwc_")
        || token.len() > 80
        || !token[4..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::NotFound("link"));
    }
    let link = store::by_token_hash(&app.db, &hash_token(token))
        .await?
        .ok_or(Error::NotFound("link"))?;
    let shop = shops::get(&app.db, ShopId::from_uuid(link.shop_id))
        .await?
        .ok_or(Error::NotFound("link"))?;
    let gone = |reason| Error::LinkGone {
        reason,
        shop_name: shop.name.clone(),
        shop_phone: shop.phone.clone(),
    };
    if link.revoked_at.is_some() {
        return Err(gone("was withdrawn by the shop"));
    }
    if link.expires_at <= Utc::now() {
        return Err(gone("has expired"));
    }
    let features = FeatureSet::load(&app.db, &shop).await?;
    if !features.has(Feature::CustomerLinks)
        || shops::lifecycle_of(&shop)? == pitwall_domain::ShopLifecycle::Closed
    {
        return Err(gone("is no longer available"));
    }
    Ok(Resolved {
        link,
        shop,
        features,
    })
}

async fn page(
    app: &App,
    shop: shops::Shop,
    features: &FeatureSet,
    link: Option<CustomerLink>,
    ticket: TicketId,
) -> Result<CustomerPage> {
    let shop_id = ShopId::from_uuid(shop.id);
    let t = tickets::get(&app.db, shop_id, ticket)
        .await?
        .ok_or(Error::NotFound("link"))?;
    let view = crate::tickets::view(&app.db, shop_id, t, app.config.clock.now()).await?;
    let approvals = approval_store::of_ticket(&app.db, shop_id, ticket)
        .await?
        .into_iter()
        .map(ApprovalView::of)
        .collect::<Result<Vec<_>>>()?;
    let locale = Locale::choose(
        view.customer.as_ref().and_then(|c| c.locale.as_deref()),
        &shop.locale,
    );
    let inspection = if features.has(Feature::Inspections) {
        crate::inspections::published::for_customer(&app.db, shop_id, ticket).await?
    } else {
        None
    };
    let invoice = if features.has(Feature::OnlinePayments) {
        crate::invoices::of_ticket(app, shop_id, ticket)
            .await?
            .into_iter()
            .find(|i| i.shown_to_customer())
    } else {
        None
    };
    let may_pay = match &invoice {
        Some(i) if i.status.is_unpaid() => {
            crate::payments::can_take_payments(app, shop_id, features).await?
        }
        _ => false,
    };
    Ok(CustomerPage {
        inspection,
        invoice,
        may_pay,
        link,
        locale,
        view,
        approvals,
        may_approve: features.has(Feature::Approvals),
        branded: features.has(Feature::CustomBranding),
        shop,
    })
}

/// The customer opens the page (or its JSON). A new visit is recorded on
/// the timeline (first open and each later visit) and tells the POS; any
/// open makes the customer "viewing" for staff.
pub async fn open(app: &App, token: &str, visitor: Visitor<'_>) -> Result<CustomerPage> {
    let r = resolve(app, token, visitor).await?;
    let now = Utc::now();
    let was_viewing = is_recent(&r.link, now);
    let shop = ShopId::from_uuid(r.shop.id);
    let ticket = TicketId::from_uuid(r.link.ticket_id);
    let txn = pitwall_store::begin_write(&app.db).await?;
    let new_visit =
        store::record_open(&txn, &r.link, now, Duration::minutes(VISIT_GAP_MINUTES)).await?;
    let mut live = Vec::new();
    if new_visit {
        let first = r.link.first_opened_at.is_none();
        let event = activity::record_event(
            &txn,
            shop,
            activity::NewEvent {
                ticket,
                kind: TimelineKind::LinkOpened.as_str(),
                actor_kind: ActorKind::Customer.as_str(),
                actor_id: None,
                actor_name: None,
                data: json!({
                    "link_id": r.link.id,
                    "first_open": first,
                    "visit": r.link.open_count + 1,
                }),
            },
        )
        .await?;
        activity::notify_pos(
            &txn,
            shop,
            ticket,
            NotificationKind::TicketUpdate.as_str(),
            json!({ "activity": "link_opened", "first_open": first, "at": now }),
        )
        .await?;
        live.push(crate::timeline::timeline_live(shop, ticket, event.id));
    }
    if new_visit || !was_viewing {
        live.push(presence_event(shop, ticket));
    }
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    let mut link = r.link;
    link.last_seen_at = Some(now);
    page(app, r.shop, &r.features, Some(link), ticket).await
}

/// A photo or video of the ticket's published inspection, for the holder
/// of the link. A page loads many of these at once, so only failed lookups
/// count against the address's link lookups.
pub async fn media(
    app: &App,
    token: &str,
    visitor: Visitor<'_>,
    id: pitwall_domain::MediaId,
    variant: crate::media::Variant,
    range: Option<&str>,
) -> Result<crate::inspections::media::MediaFile> {
    let r = match find(app, token).await {
        Ok(r) => r,
        Err(Error::NotFound(what)) => {
            app.link_limiter
                .check(
                    &app.db,
                    &visitor.address.limiter_key(),
                    app.config.link_lookups_per_minute,
                )
                .await?;
            return Err(Error::NotFound(what));
        }
        Err(e) => return Err(e),
    };
    if !r.features.has(Feature::Inspections) {
        return Err(Error::NotFound("media"));
    }
    crate::inspections::media::for_customer(
        app,
        ShopId::from_uuid(r.shop.id),
        TicketId::from_uuid(r.link.ticket_id),
        id,
        variant,
        range,
    )
    .await
}

/// The page's own re-read after a live change: nothing is recorded.
pub async fn reread(app: &App, token: &str, visitor: Visitor<'_>) -> Result<CustomerPage> {
    let r = resolve(app, token, visitor).await?;
    let ticket = TicketId::from_uuid(r.link.ticket_id);
    page(app, r.shop, &r.features, Some(r.link), ticket).await
}

/// The customer's page subscribes to its ticket's changes (a status change
/// shows without reload) and beats while open.
/// Opens the customer's live stream of their ticket: the link must work,
/// and the link may hold only a few streams from one address.
pub async fn watch(
    app: &App,
    token: &str,
    visitor: Visitor<'_>,
) -> Result<crate::streams::CustomerStream> {
    let r = resolve(app, token, visitor).await?;
    let subscription = app.live.subscribe(ShopId::from_uuid(r.shop.id));
    let stream =
        crate::streams::open_customer(app, r.link, subscription, &visitor.address.limiter_key())?;
    beat(app, &stream.link, true).await?;
    Ok(stream)
}

/// The customer approves and declines, signs, and submits.
pub async fn approve(
    app: &App,
    token: &str,
    visitor: Visitor<'_>,
    decision: Decision,
) -> Result<(CustomerPage, approval_store::Approval, bool)> {
    let r = resolve(app, token, visitor).await?;
    r.features.require(Feature::Approvals)?;
    let lifecycle = crate::billing::effective_lifecycle(app, &r.shop).await?;
    if !lifecycle.allows_writes() {
        return Err(Error::ShopRestricted(lifecycle));
    }
    let ticket = TicketId::from_uuid(r.link.ticket_id);
    let address = visitor.address.to_string();
    let recorded = approvals::record(
        app,
        &r.shop,
        &r.features,
        ticket,
        By::Customer {
            link: &r.link,
            ip: Some(&address),
            user_agent: visitor.user_agent,
        },
        decision,
    )
    .await?;
    if let Some(stage) = recorded.stage {
        crate::workflow::status_for_customer_stage(
            app,
            &r.shop,
            &r.features,
            ticket,
            stage,
            &recorded.approval.signer_name,
        )
        .await;
    }
    let page = page(app, r.shop, &r.features, Some(r.link), ticket).await?;
    Ok((page, recorded.approval, recorded.new))
}

/// The customer writes to the shop from the page: it joins the customer's
/// thread like a text would, marks the ticket for staff, and tells the POS.
pub async fn send_message(app: &App, token: &str, visitor: Visitor<'_>, body: &str) -> Result<()> {
    let r = resolve(app, token, visitor).await?;
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::invalid(
            "body",
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let shop = ShopId::from_uuid(r.shop.id);
    let ticket_id = TicketId::from_uuid(r.link.ticket_id);
    let now = Utc::now();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("link"))?;
    let customer = match ticket.customer_id {
        Some(c) => customers::get(&txn, shop, CustomerId::from_uuid(c)).await?,
        None => None,
    }
    .ok_or_else(|| {
        Error::invalid(
            "body",
            "cannot be sent: the ticket has no customer; call the shop",
        )
    })?;
    let customer_id = CustomerId::from_uuid(customer.id);
    let m = messages::insert(
        &txn,
        shop,
        messages::NewMessage {
            ticket: Some(ticket_id),
            customer: Some(customer_id),
            channel: Channel::Web,
            direction: Direction::Inbound,
            kind: MessageKind::Inbound,
            to_address: &r.shop.name,
            from_address: None,
            subject: None,
            body,
            outgoing_body: None,
            segments: 0,
            created_by: None,
            status: MessageStatus::Received,
            held_until: None,
            hold_reason: None,
            provider_id: None,
            error: None,
        },
    )
    .await?;
    messages::touch_thread(&txn, shop, customer_id, now, true).await?;
    tickets::set_customer_replied(&txn, shop, ticket_id, now).await?;
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: ticket_id,
            kind: TimelineKind::CustomerMessage.as_str(),
            actor_kind: ActorKind::Customer.as_str(),
            actor_id: None,
            actor_name: None,
            data: json!({ "message_id": m.id, "channel": "web" }),
        },
    )
    .await?;
    activity::notify_pos(
        &txn,
        shop,
        ticket_id,
        NotificationKind::TicketUpdate.as_str(),
        json!({ "activity": "customer_message", "message_id": m.id, "at": now }),
    )
    .await?;
    let announced = app.live.announce(vec![
        crate::timeline::timeline_live(shop, ticket_id, event.id),
        LiveEvent::new(
            shop,
            Some(ticket_id.as_uuid()),
            "customer_reply",
            Some(event.id),
        ),
    ]);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, message.id = %m.id, "customer wrote from the page");
    Ok(())
}

/// The advisor's preview: exactly the customer's page, before sending.
pub async fn preview(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<CustomerPage> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::CustomerLinks)?;
    page(app, ctx.shop.clone(), &ctx.features, None, ticket).await
}
