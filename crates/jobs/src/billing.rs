//! The billing queue: Stripe events stored by the webhook are processed
//! here, and SMS overage is reported to Stripe, both off the request path.
//!
//! The work itself is a use case (it re-reads the subscription from
//! Stripe, writes plan, lifecycle and audit, clears caches), so it lives in
//! `pitwall-core`; this crate only runs it through [`BillingWork`], which
//! the binary plugs in. Dependencies keep pointing one way.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use pitwall_domain::{MessageId, ShopId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{StoreError, outbox};
use serde::{Deserialize, Serialize};

use crate::BILLING_QUEUE;

/// One unit of billing work. Carries ids, never copies of rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillingJob {
    /// Apply a stored Stripe event (by its Stripe id).
    StripeEvent { event_id: String },
    /// Apply a stored Stripe Connect event (an invoice paid online).
    ConnectEvent { event_id: String },
    /// Report one message's overage segments to Stripe.
    SmsOverage {
        shop_id: ShopId,
        message_id: MessageId,
    },
}

/// How a piece of billing work ended when it did not succeed.
pub type BillingFailure = crate::WorkFailure;

/// The billing use cases, as the worker calls them.
pub trait BillingWork: Send + Sync + 'static {
    fn run(&self, job: BillingJob) -> futures::future::BoxFuture<'_, Result<(), BillingFailure>>;
}

/// What the billing worker runs with; `None` when Stripe is not configured
/// (jobs then wait in the queue instead of failing).
#[derive(Clone)]
pub struct BillingDeps {
    pub work: Option<Arc<dyn BillingWork>>,
}

pub async fn run(job: BillingJob, deps: Data<BillingDeps>) -> Result<(), BoxDynError> {
    let Some(work) = &deps.work else {
        return Err("billing is not configured in this worker (STRIPE_SECRET_KEY)".into());
    };
    Ok(work.run(job).await?)
}

/// Writes a billing job into the outbox, inside the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    shop: Option<ShopId>,
    job: &BillingJob,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    outbox::insert(db, shop, BILLING_QUEUE, &payload).await?;
    Ok(())
}

/// Records a message's overage and writes the job that reports it, in one
/// transaction; a second call for the same message does nothing.
pub async fn record_overage(
    db: &pitwall_store::Db,
    shop: ShopId,
    message: MessageId,
    segments: i64,
) -> Result<(), StoreError> {
    let txn = pitwall_store::begin_write(db).await?;
    if pitwall_store::billing::record_overage(&txn, shop, message, segments).await? {
        enqueue(
            &txn,
            Some(shop),
            &BillingJob::SmsOverage {
                shop_id: shop,
                message_id: message,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
