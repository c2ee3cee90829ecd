//! Long-lived live streams (server-sent events): how many one user or one
//! customer link may hold open, and what each keeps checking while open.
//!
//! A stream outlives the request that opened it, so what was true when it
//! opened (a live session, a membership, a working link) is asked again on
//! every beat; the stream ends as soon as it no longer holds. The caps keep
//! one account or one leaked link from holding a worker's connections.
//! Counts are per process: behind a load balancer each replica enforces its
//! own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use pitwall_domain::{LinkId, Permission, ShopId, TicketId};
use pitwall_store::customer_links::{self as link_store, CustomerLink};
use pitwall_store::{identity, members, tickets};

use crate::live::{Heard, LiveEvent, Subscription};
use crate::{Actor, App, Error, Result, ShopCtx};

/// Streams one staff member may hold open at once (a dashboard and a few
/// ticket pages in tabs, on a phone and a desk).
pub const STAFF_STREAMS_PER_USER: usize = 8;
/// Streams one customer link may hold open from one address.
pub const CUSTOMER_STREAMS_PER_LINK: usize = 4;

/// How often an idle stream writes a comment. A closed client is noticed
/// only when a write fails, so this bounds how long a closed tab keeps its
/// place.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);

/// Open streams by key, in this process, and whether the process is
/// draining (stopping): then every stream ends, so its reader reconnects
/// to another node instead of holding this one's shutdown.
pub struct StreamSlots {
    open: Mutex<HashMap<String, usize>>,
    draining: tokio::sync::watch::Sender<bool>,
}

impl Default for StreamSlots {
    fn default() -> Self {
        StreamSlots {
            open: Mutex::default(),
            draining: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl StreamSlots {
    pub(crate) fn drain(&self) {
        self.draining.send_replace(true);
    }

    pub(crate) fn draining(&self) -> bool {
        *self.draining.borrow()
    }

    fn drained(&self) -> Drained {
        Drained(self.draining.subscribe())
    }

    fn take(self: &Arc<Self>, key: String, max: usize) -> Result<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= max {
            return Err(Error::RateLimited(
                "too many live views are open; close a tab or window and try again",
            ));
        }
        *n += 1;
        Ok(Slot {
            slots: self.clone(),
            key,
        })
    }

    /// Streams open under `key` now (for tests and metrics).
    pub fn count(&self, key: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(key).copied().unwrap_or(0)
    }
}

/// One open stream's place; given back when the stream ends.
pub struct Slot {
    slots: Arc<StreamSlots>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Resolves once the process starts draining (at once if it already is).
struct Drained(tokio::sync::watch::Receiver<bool>);

impl Drained {
    async fn wait(&mut self) {
        // An error means the sender is gone with the process: end as well.
        let _ = self.0.wait_for(|d| *d).await;
    }
}

/// What a stream tells its reader next.
pub enum Told {
    Event(LiveEvent),
    /// Events were dropped: re-read the whole view.
    Resync,
}

fn beat_every(period: std::time::Duration) -> tokio::time::Interval {
    let mut beat = tokio::time::interval(period);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The checks just ran when the stream opened; the first tick is
    // otherwise immediate.
    beat.reset();
    beat
}

/// A staff member's stream of the shop (the dashboard) or of one ticket.
pub struct StaffStream {
    subscription: Subscription,
    ticket: Option<TicketId>,
    session_id: uuid::Uuid,
    ctx: ShopCtx,
    beat: tokio::time::Interval,
    drained: Drained,
    _slot: Slot,
}

pub fn staff_key(ctx: &ShopCtx) -> String {
    format!("staff:{}", ctx.user_id)
}

/// Opens a staff stream: the same checks as reading the dashboard or the
/// ticket, and a free slot for the user.
pub async fn open_staff(
    app: &App,
    actor: &Actor,
    ctx: &ShopCtx,
    ticket: Option<TicketId>,
) -> Result<StaffStream> {
    let subscription = crate::tickets::subscribe(app, ctx, ticket).await?;
    let slot = app.streams.take(staff_key(ctx), STAFF_STREAMS_PER_USER)?;
    Ok(StaffStream {
        subscription,
        ticket,
        session_id: actor.session_id,
        ctx: ctx.clone(),
        beat: beat_every(app.config.stream_recheck),
        drained: app.streams.drained(),
        _slot: slot,
    })
}

impl StaffStream {
    /// The next change to tell the reader (only the ticket's, for a ticket
    /// stream, and the reader's own hand-offs wherever they are); `None`
    /// ends the stream: the live feed closed, a beat found
    /// the stream no longer allowed, or the process is stopping.
    pub async fn next(&mut self, app: &App) -> Option<Told> {
        let only = self.ticket.map(|t| t.as_uuid());
        loop {
            tokio::select! {
                heard = self.subscription.recv() => match heard {
                    Heard::Event(e) if only.is_none() || e.ticket_id == only || e.handoff.is_some() => {
                        return Some(Told::Event(e));
                    }
                    Heard::Event(_) => {}
                    Heard::Lagged => return Some(Told::Resync),
                    Heard::Closed => return None,
                },
                _ = self.drained.wait() => return None,
                _ = self.beat.tick() => match self.still_allowed(app).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(user.id = %self.ctx.user_id, "staff stream ended: no longer allowed");
                        return None;
                    }
                    // A database hiccup is not a reason to drop a screen;
                    // the next beat asks again.
                    Err(e) => tracing::warn!(error = %e, "staff stream re-check failed"),
                },
            }
        }
    }

    /// Whether the stream may go on: the session is live (not signed out,
    /// revoked or expired), the user is still a member of the shop, may
    /// still see what the stream shows, and the ticket still exists. Asked
    /// of the database, not a cache, so a sign-out in another process ends
    /// the stream too.
    pub async fn still_allowed(&self, app: &App) -> Result<bool> {
        if !identity::session_is_live(&app.db, self.session_id).await? {
            return Ok(false);
        }
        let shop = self.ctx.shop_id();
        if members::membership(&app.db, shop, self.ctx.user_id)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let perm = match self.ticket {
            Some(_) => Permission::TicketsView,
            None => Permission::DashboardView,
        };
        if !app.may(&self.ctx, perm).await {
            return Ok(false);
        }
        if let Some(t) = self.ticket
            && tickets::get(&app.db, shop, t).await?.is_none()
        {
            return Ok(false);
        }
        Ok(true)
    }
}

/// A customer's stream of their ticket, through their link.
pub struct CustomerStream {
    subscription: Subscription,
    pub link: CustomerLink,
    beat: tokio::time::Interval,
    drained: Drained,
    _slot: Slot,
}

/// The customer page beats this often at most, so staff see "viewing"
/// within [`crate::links::PRESENCE_WINDOW_SECS`].
const CUSTOMER_BEAT_MAX: std::time::Duration = std::time::Duration::from_secs(10);

impl CustomerStream {
    /// The next change of the link's ticket whose kind is in `forwarded`;
    /// `None` ends the stream (the link was revoked or expired, the feed
    /// closed, or the process is stopping). Each beat tells staff the customer is still looking.
    pub async fn next(&mut self, app: &App, forwarded: &[&str]) -> Option<Told> {
        let ticket = Some(self.link.ticket_id);
        loop {
            tokio::select! {
                heard = self.subscription.recv() => match heard {
                    Heard::Event(e) if e.ticket_id == ticket && forwarded.contains(&e.kind.as_str()) => {
                        return Some(Told::Event(e));
                    }
                    Heard::Event(_) => {}
                    Heard::Lagged => return Some(Told::Resync),
                    Heard::Closed => return None,
                },
                _ = self.drained.wait() => return None,
                _ = self.beat.tick() => match keep_watching(app, &self.link).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(link.id = %self.link.id, "customer stream ended: the link no longer works");
                        return None;
                    }
                    Err(e) => tracing::warn!(error = %e, "customer page beat failed"),
                },
            }
        }
    }
}

pub(crate) fn open_customer(
    app: &App,
    link: CustomerLink,
    subscription: Subscription,
    host: &str,
) -> Result<CustomerStream> {
    let slot = app.streams.take(
        format!("link:{}:{host}", link.id),
        CUSTOMER_STREAMS_PER_LINK,
    )?;
    Ok(CustomerStream {
        subscription,
        link,
        beat: beat_every(app.config.stream_recheck.min(CUSTOMER_BEAT_MAX)),
        drained: app.streams.drained(),
        _slot: slot,
    })
}

/// Whether a link still works now: not revoked, not expired, not gone.
pub(crate) async fn link_works(app: &App, link: &CustomerLink) -> Result<bool> {
    let current = link_store::get(
        &app.db,
        ShopId::from_uuid(link.shop_id),
        LinkId::from_uuid(link.id),
    )
    .await?;
    Ok(current.is_some_and(|l| l.revoked_at.is_none() && l.expires_at > Utc::now()))
}

/// A beat of an open stream: `false` when the link no longer works
/// (revoked, expired) and the stream must end; else the customer is still
/// looking, which staff see.
pub async fn keep_watching(app: &App, link: &CustomerLink) -> Result<bool> {
    if !link_works(app, link).await? {
        return Ok(false);
    }
    crate::presence::beat(app, link, true).await?;
    Ok(true)
}
