//! Live updates for dashboards and ticket pages (server-sent events).
//!
//! A use case names its changes with [`Live::announce`] while it writes and
//! hands them to [`Live::after_commit`] once committed, so nobody hears of a
//! change that rolled back.
//!
//! On PostgreSQL the announcement is `pg_notify`, delivered to every process
//! listening; each process runs one listener ([`Live::start`]) that feeds its
//! local subscribers. So a status set through one API process shows on a
//! dashboard served by another. The NOTIFY is sent after the change's
//! commit, not inside it: PostgreSQL serialises the commits of all
//! transactions that notify (a database-wide lock held through the commit's
//! WAL flush), which made every write path that announced wait in line for
//! every other (see docs/BENCHMARKS.md). One notifier task per process sends
//! whatever has gathered in one statement, committed asynchronously (it
//! writes nothing worth a flush). The price: a process that dies between a
//! commit and its notification loses that notification; open pages catch up
//! on their next event or reconnect, as after any outage.
//!
//! On SQLite (one process by design) the announcement goes straight to the
//! local subscribers after commit.

use std::time::Duration;

use pitwall_domain::{ShopId, UserId};
use sea_orm::DbBackend;

use crate::Db;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// The PostgreSQL channel every process listens on.
pub const CHANNEL: &str = "pitwall_live";

/// One change, small enough for a NOTIFY payload: subscribers re-read what
/// they show, so the event carries ids, never customer data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveEvent {
    pub shop_id: uuid::Uuid,
    pub ticket_id: Option<uuid::Uuid>,
    /// `ticket_created`, `ticket_updated`, `status_changed`, `timeline`, ...
    pub kind: String,
    /// The timeline event this change recorded, if any.
    pub event_id: Option<uuid::Uuid>,
    /// A hand-off is heard by the one staff member it concerns, nobody
    /// else (absent in every other event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
}

impl LiveEvent {
    /// A change of the shop or of one of its tickets, for everyone who
    /// follows it.
    pub fn new(
        shop: ShopId,
        ticket: Option<uuid::Uuid>,
        kind: impl Into<String>,
        event_id: Option<uuid::Uuid>,
    ) -> Self {
        LiveEvent {
            shop_id: shop.as_uuid(),
            ticket_id: ticket,
            kind: kind.into(),
            event_id,
            handoff: None,
        }
    }
}

/// Work that just arrived in one person's queues (kind `handoff`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Handoff {
    /// The staff member it is for.
    pub user_id: uuid::Uuid,
    /// The ticket's number, to name it without a read.
    pub ticket_number: String,
    /// The work queues it entered for them: `qualification`, `parts`,
    /// `completion`.
    pub queues: Vec<String>,
}

#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
    /// PostgreSQL: the notifier's queue.
    notifier: Option<mpsc::Sender<LiveEvent>>,
}

/// Changes announced by a use case, to hand to [`Live::after_commit`] once
/// its transaction committed.
#[must_use = "call Live::after_commit once the transaction committed"]
pub struct Announced(Vec<LiveEvent>);

impl Live {
    /// Subscribers that fall this far behind lose the oldest events and
    /// re-read everything (see `Subscription::recv`).
    const BUFFER: usize = 1024;
    /// Events waiting for the notifier beyond this are dropped (the database
    /// is down or far behind; pages re-read when they reconnect).
    const BACKLOG: usize = 10_000;

    /// Makes the hub; on PostgreSQL also starts this process's listener and
    /// notifier.
    pub fn start(db: &Db) -> Self {
        let (tx, _) = broadcast::channel(Self::BUFFER);
        let mut live = Live { tx, notifier: None };
        if db.get_database_backend() == DbBackend::Postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let (ntx, nrx) = mpsc::channel(Self::BACKLOG);
            live.notifier = Some(ntx);
            tokio::spawn(listen(pool.clone(), live.tx.clone()));
            tokio::spawn(notify(pool, nrx, live.tx.clone()));
        }
        live
    }

    /// Names changes a use case is writing; nothing is heard until
    /// [`Live::after_commit`].
    pub fn announce(&self, events: Vec<LiveEvent>) -> Announced {
        Announced(events)
    }

    pub fn after_commit(&self, announced: Announced) {
        for e in announced.0 {
            match &self.notifier {
                Some(n) => {
                    if n.try_send(e).is_err() {
                        tracing::warn!("live notifier backlog full; an update was dropped");
                    }
                }
                // No subscriber is not an error.
                None => {
                    let _ = self.tx.send(e);
                }
            }
        }
    }

    /// Every change of one shop from now on, but no one's hand-offs (a
    /// customer's page).
    pub fn subscribe(&self, shop: ShopId) -> Subscription {
        Subscription {
            shop: shop.as_uuid(),
            user: None,
            rx: self.tx.subscribe(),
        }
    }

    /// Every change of one shop from now on, and the hand-offs meant for
    /// `user` (a staff member's screens).
    pub fn subscribe_as(&self, shop: ShopId, user: UserId) -> Subscription {
        Subscription {
            user: Some(user.as_uuid()),
            ..self.subscribe(shop)
        }
    }
}

pub struct Subscription {
    shop: uuid::Uuid,
    user: Option<uuid::Uuid>,
    rx: broadcast::Receiver<LiveEvent>,
}

/// What a subscriber hears next.
pub enum Heard {
    Event(LiveEvent),
    /// Events were dropped; re-read the whole view.
    Lagged,
    Closed,
}

impl Subscription {
    fn hears(&self, e: &LiveEvent) -> bool {
        match &e.handoff {
            None => true,
            Some(h) => self.user == Some(h.user_id),
        }
    }

    pub async fn recv(&mut self) -> Heard {
        loop {
            match self.rx.recv().await {
                Ok(e) if e.shop_id == self.shop && self.hears(&e) => return Heard::Event(e),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => return Heard::Lagged,
                Err(broadcast::error::RecvError::Closed) => return Heard::Closed,
            }
        }
    }
}

/// Forwards NOTIFYs to local subscribers, reconnecting after a database
/// outage. Events during the outage are lost: subscribers get `Lagged` so
/// that they re-read.
async fn listen(pool: sea_orm::sqlx::PgPool, tx: broadcast::Sender<LiveEvent>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        if pool.is_closed() {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "live listener cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match parse_payload(n.payload()) {
                    Ok(events) => {
                        for e in events {
                            let _ = tx.send(e);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable live event"),
                },
                // The connection dropped and sqlx reconnected: whatever was
                // sent meanwhile is lost.
                Ok(None) => {
                    tracing::warn!("live listener reconnected; events may have been missed")
                }
                // The app shut its pool: this process is stopping.
                Err(_) if pool.is_closed() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "live listener failed; reconnecting");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A NOTIFY payload: the events the notifier gathered (a JSON array), or
/// one event (what processes of the previous release send during a rolling
/// upgrade).
fn parse_payload(payload: &str) -> Result<Vec<LiveEvent>, serde_json::Error> {
    if payload.trim_start().starts_with('[') {
        serde_json::from_str(payload)
    } else {
        serde_json::from_str(payload).map(|e| vec![e])
    }
}

/// PostgreSQL's NOTIFY payload limit is 8,000 bytes.
const MAX_PAYLOAD: usize = 7_500;

/// Splits events into NOTIFY payloads under the size limit.
fn payloads(events: &[LiveEvent]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for e in events {
        let Ok(one) = serde_json::to_string(e) else {
            continue;
        };
        if current.len() > 1 && current.len() + one.len() + 2 > MAX_PAYLOAD {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&one);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    out
}

/// Sends committed changes as NOTIFYs: whatever gathered while the previous
/// send was under way goes in the next statement. When the database cannot
/// be reached the events still reach this process's own subscribers.
async fn notify(
    pool: sea_orm::sqlx::PgPool,
    mut rx: mpsc::Receiver<LiveEvent>,
    local: broadcast::Sender<LiveEvent>,
) {
    const GATHER: usize = 256;
    let mut gathered = Vec::with_capacity(GATHER);
    while rx.recv_many(&mut gathered, GATHER).await > 0 {
        let mut sql = String::from("SELECT set_config('synchronous_commit', 'off', true)");
        let sends = payloads(&gathered);
        for i in 0..sends.len() {
            sql.push_str(&format!(", pg_notify($1, ${})", i + 2));
        }
        // Only fixed text and numbered placeholders: the payloads are bound.
        let mut q = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql)).bind(CHANNEL);
        for p in &sends {
            q = q.bind(p);
        }
        if let Err(e) = q.execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "live notify failed; only this process hears these updates");
            for e in gathered.drain(..) {
                let _ = local.send(e);
            }
        }
        gathered.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u32) -> LiveEvent {
        LiveEvent {
            shop_id: uuid::Uuid::from_u128(u128::from(i)),
            ticket_id: Some(uuid::Uuid::from_u128(u128::from(i) + 1)),
            kind: "status_changed".into(),
            event_id: None,
            handoff: i.is_multiple_of(2).then(|| Handoff {
                user_id: uuid::Uuid::from_u128(u128::from(i) + 2),
                ticket_number: format!("T-{i}"),
                queues: vec!["qualification".into(), "parts".into()],
            }),
        }
    }

    #[test]
    fn gathered_events_split_under_the_notify_limit_and_read_back() {
        let events: Vec<LiveEvent> = (0..200).map(event).collect();
        let sent = payloads(&events);
        assert!(sent.len() > 1, "200 events do not fit one payload");
        assert!(sent.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: Vec<LiveEvent> = sent
            .iter()
            .flat_map(|p| parse_payload(p).expect("readable"))
            .collect();
        assert_eq!(back, events);
    }

    #[tokio::test]
    async fn a_hand_off_is_heard_by_its_person_alone() {
        let (tx, _) = broadcast::channel(16);
        let live = Live { tx, notifier: None };
        let shop = ShopId::from_uuid(uuid::Uuid::from_u128(1));
        let for_them = UserId::from_uuid(uuid::Uuid::from_u128(9));
        let someone_else = UserId::from_uuid(uuid::Uuid::from_u128(8));
        let mut theirs = live.subscribe_as(shop, for_them);
        let mut other = live.subscribe_as(shop, someone_else);
        let mut customer = live.subscribe(shop);
        let mut handoff = LiveEvent::new(shop, None, "handoff", None);
        handoff.handoff = Some(Handoff {
            user_id: for_them.as_uuid(),
            ticket_number: "T-1".into(),
            queues: vec!["completion".into()],
        });
        let everyone = LiveEvent::new(shop, None, "ticket_updated", None);
        live.after_commit(live.announce(vec![handoff.clone(), everyone.clone()]));
        let heard = |h: Heard| match h {
            Heard::Event(e) => e,
            _ => panic!("an event"),
        };
        assert_eq!(heard(theirs.recv().await), handoff);
        assert_eq!(heard(theirs.recv().await), everyone);
        assert_eq!(heard(other.recv().await), everyone);
        assert_eq!(heard(customer.recv().await), everyone);
    }

    #[test]
    fn a_single_event_payload_is_still_understood() {
        let one = serde_json::to_string(&event(7)).expect("json");
        assert_eq!(parse_payload(&one).expect("readable"), vec![event(7)]);
        assert!(parse_payload("nonsense").is_err());
    }
}
