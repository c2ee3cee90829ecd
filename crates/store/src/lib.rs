//! Storage: sea-orm entities and the queries Pitwall runs.
//!
//! Invariant: every function that reads or writes tenant-owned rows takes a
//! [`ShopId`](pitwall_domain::ShopId) and filters by it. There is no way to ask
//! for "the invitation with this id" without saying whose.

pub mod activity;
pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod batch;
pub mod billing;
pub mod by_position;
pub mod columns;
pub mod customer_links;
pub mod customers;
pub mod db;
pub mod entities;
pub mod error;
pub mod identity;
pub mod inspection_templates;
pub mod inspections;
pub mod invoice_uploads;
pub mod invoices;
pub mod live;
pub mod media;
pub mod members;
pub mod messages;
pub mod outbox;
pub mod payments;
pub mod plans;
pub mod rate;
pub mod shops;
pub mod statuses;
pub mod tenant;
pub mod tickets;
pub mod webhooks;
pub mod workflow;

pub use db::{Backend, Db, begin_read, begin_write, connect, migrate_up};
pub use error::StoreError;
pub use sea_orm;
pub use tenant::InShop;

/// One page of a list, with the cursor of the next page if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Seek pagination by time-ordered UUID: the cursor is the last id seen.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<uuid::Uuid>,
    pub limit: u64,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 200;

    /// Parses the API's `cursor` and `limit`; names the bad one.
    pub fn parse(cursor: Option<&str>, limit: Option<u64>) -> Result<Self, (&'static str, String)> {
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                uuid::Uuid::parse_str(c)
                    .map_err(|_| ("cursor", "is not a cursor this API returned".to_owned()))?,
            ),
        };
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(0) => return Err(("limit", "must be at least 1".to_owned())),
            Some(n) if n > Self::MAX_LIMIT => {
                return Err(("limit", format!("must be at most {}", Self::MAX_LIMIT)));
            }
            Some(n) => n,
        };
        Ok(Self { after, limit })
    }

    pub fn first(limit: u64) -> Self {
        Self { after: None, limit }
    }

    /// Builds the page from `limit + 1` fetched rows.
    pub(crate) fn finish<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> uuid::Uuid) -> Page<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| id(r).to_string())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// The time written into rows' `created_at` and `updated_at`.
/// Microseconds, as PostgreSQL keeps them, so that a row written and the
/// same row read back are equal on both databases.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
