//! Background jobs on apalis, in the same database as the data.
//!
//! How a job is born: a use case writes an outbox row in its own transaction
//! ([`enqueue_email`]); after commit the [`relay`] moves committed rows to the
//! apalis queue, with the outbox id as idempotency key, so a row pushed twice
//! (a crash between push and mark) is still one job. Workers ([`runtime`])
//! run the jobs; every job is safe to run twice.

pub mod admin;
pub mod billing;
pub mod documents;
pub mod mailer;
pub mod relay;
pub mod runtime;
pub mod send_email;
pub mod send_message;
pub mod sms;
pub mod webhooks;

use std::sync::Arc;

use pitwall_domain::{EmailId, MessageId, ShopId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{StoreError, outbox};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// Queue names are explicit and published (the admin console shows them).
pub const EMAIL_QUEUE: &str = "pitwall.email";
/// Customer messages (SMS and e-mail).
pub const MESSAGE_QUEUE: &str = "pitwall.message";
/// Stripe events and SMS overage reports.
pub const BILLING_QUEUE: &str = "pitwall.billing";
/// Uploaded invoices read by OCR.
pub const DOCUMENT_QUEUE: &str = "pitwall.documents";

/// Send one recorded e-mail. Carries the id, never a copy of the message.
/// How a piece of work that core runs for a queue ended, when it did not
/// succeed. Every queue whose rules live in core (messages, billing,
/// documents) answers with this, through its trait.
#[derive(Debug)]
pub enum WorkFailure {
    /// Worth trying again (a provider or the database unreachable).
    Retry(String),
    /// Will never succeed; recorded, not retried.
    Permanent(String),
}

impl From<StoreError> for WorkFailure {
    fn from(e: StoreError) -> Self {
        WorkFailure::Retry(e.to_string())
    }
}

impl From<pitwall_store::sea_orm::DbErr> for WorkFailure {
    fn from(e: pitwall_store::sea_orm::DbErr) -> Self {
        WorkFailure::Retry(e.to_string())
    }
}

impl From<WorkFailure> for apalis::prelude::BoxDynError {
    fn from(f: WorkFailure) -> Self {
        match f {
            WorkFailure::Retry(e) => e.into(),
            WorkFailure::Permanent(e) => apalis::prelude::AbortError::new(e).into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEmail {
    pub email_id: EmailId,
}

/// Deliver one customer message. Carries the id, never the text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMessage {
    pub message_id: MessageId,
    /// Not before this instant, in seconds since the epoch (a message held
    /// for quiet hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

/// Writes the delivery job of a customer message into the outbox, inside the
/// caller's transaction.
pub async fn enqueue_message(
    db: &impl ConnectionTrait,
    shop: ShopId,
    message_id: MessageId,
    not_before: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), StoreError> {
    enqueue_messages(db, shop, &[(message_id, not_before)]).await
}

/// The delivery jobs of several messages of one shop, in one statement.
pub async fn enqueue_messages(
    db: &impl ConnectionTrait,
    shop: ShopId,
    jobs: &[(MessageId, Option<chrono::DateTime<chrono::Utc>>)],
) -> Result<(), StoreError> {
    outbox::insert_many(db, Some(shop), MESSAGE_QUEUE, &message_payloads(jobs)?).await
}

/// The outbox rows of those jobs, for a `pitwall_store::batch::Batch`.
pub fn message_job_rows(
    shop: ShopId,
    jobs: &[(MessageId, Option<chrono::DateTime<chrono::Utc>>)],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<pitwall_store::entities::outbox::ActiveModel>, StoreError> {
    Ok(message_payloads(jobs)?
        .iter()
        .map(|p| outbox::row(Some(shop), MESSAGE_QUEUE, p, at))
        .collect())
}

fn message_payloads(
    jobs: &[(MessageId, Option<chrono::DateTime<chrono::Utc>>)],
) -> Result<Vec<serde_json::Value>, StoreError> {
    jobs.iter()
        .map(|(message_id, not_before)| {
            serde_json::to_value(SendMessage {
                message_id: *message_id,
                not_before: not_before.map(|t| t.timestamp()),
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// Writes the job for an e-mail into the outbox, inside the caller's
/// transaction.
pub async fn enqueue_email(
    db: &impl ConnectionTrait,
    shop: Option<ShopId>,
    email_id: EmailId,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(SendEmail { email_id })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    outbox::insert(db, shop, EMAIL_QUEUE, &payload).await?;
    Ok(())
}

/// Lets a use case wake the relay right after its commit instead of waiting
/// for the next poll.
#[derive(Clone, Default)]
pub struct JobsHandle {
    nudge: Arc<Notify>,
    pushed: Arc<Notify>,
}

impl JobsHandle {
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.nudge.notified()
    }
    /// The relay pushed jobs: idle workers of this process look now.
    pub(crate) fn pushed(&self) {
        self.pushed.notify_waiters();
    }
    pub(crate) async fn pushed_notified(&self) {
        self.pushed.notified().await
    }
}
