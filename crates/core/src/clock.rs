//! The time the rules read: billing's grace periods and trials, quiet
//! hours, status timers. Production reads the system clock; tests move it
//! forward (`advance`) to cross a past-due grace period, the end of quiet
//! hours or a timer's due time without waiting. Nothing in a request can
//! move it: it is only reachable from code that holds the `App` (the test
//! kit does).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// The instant the system clock reads when this clock reads `t`. The
    /// job queue runs jobs by the database's clock, so a job due at `t` by
    /// the rules is scheduled at this instant.
    pub fn on_system_clock(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t - Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward. For tests.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}
