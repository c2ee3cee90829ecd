//! Live updates for dashboards and ticket pages (server-sent events).
//!
//! A use case announces a change *inside* its transaction with
//! [`Live::announce`] and calls [`Live::after_commit`] once committed, so
//! nobody hears of a change that rolled back.
//!
//! On PostgreSQL the announcement is `pg_notify`, which PostgreSQL delivers
//! only on commit and to every process listening; each process runs one
//! listener ([`Live::start`]) that feeds its local subscribers. So a status
//! set through one API process shows on a dashboard served by another. On
//! SQLite (one process by design) the announcement goes straight to the
//! local subscribers after commit.

use std::time::Duration;

use pitwall_domain::ShopId;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Db, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

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
}

#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
    backend: DbBackend,
}

/// What was announced in a transaction and still has to reach the local
/// subscribers after commit (SQLite only; PostgreSQL delivers by itself).
#[must_use = "call Live::after_commit once the transaction committed"]
pub struct Announced(Vec<LiveEvent>);

impl Live {
    /// Subscribers that fall this far behind lose the oldest events and
    /// re-read everything (see `Subscription::recv`).
    const BUFFER: usize = 1024;

    /// Makes the hub; on PostgreSQL also starts this process's listener.
    pub fn start(db: &Db) -> Self {
        let (tx, _) = broadcast::channel(Self::BUFFER);
        let live = Live {
            tx,
            backend: db.get_database_backend(),
        };
        if live.backend == DbBackend::Postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let tx = live.tx.clone();
            tokio::spawn(listen(pool, tx));
        }
        live
    }

    pub async fn announce(
        &self,
        txn: &impl ConnectionTrait,
        events: Vec<LiveEvent>,
    ) -> Result<Announced, StoreError> {
        if self.backend == DbBackend::Postgres {
            for e in &events {
                let payload =
                    serde_json::to_string(e).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await?;
            }
            return Ok(Announced(Vec::new()));
        }
        Ok(Announced(events))
    }

    pub fn after_commit(&self, announced: Announced) {
        for e in announced.0 {
            // No subscriber is not an error.
            let _ = self.tx.send(e);
        }
    }

    /// Every change of one shop from now on.
    pub fn subscribe(&self, shop: ShopId) -> Subscription {
        Subscription {
            shop: shop.as_uuid(),
            rx: self.tx.subscribe(),
        }
    }
}

pub struct Subscription {
    shop: uuid::Uuid,
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
    pub async fn recv(&mut self) -> Heard {
        loop {
            match self.rx.recv().await {
                Ok(e) if e.shop_id == self.shop => return Heard::Event(e),
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
                Ok(Some(n)) => match serde_json::from_str::<LiveEvent>(n.payload()) {
                    Ok(e) => {
                        let _ = tx.send(e);
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
