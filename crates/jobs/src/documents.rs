//! The documents queue: uploaded invoices read by OCR, one at a time per
//! worker process (reading is CPU-bound; the API keeps the other core).
//!
//! The reading is a use case (it stores the text and fields, matches the
//! customer), so it lives in `pitwall-core`; this crate runs it through
//! [`DocumentWork`], which the binary plugs in.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use pitwall_domain::{InvoiceUploadId, ShopId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{StoreError, outbox};
use serde::{Deserialize, Serialize};

use crate::DOCUMENT_QUEUE;

/// One document to read. Carries ids, never the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocumentJob {
    ReadInvoice {
        shop_id: ShopId,
        upload_id: InvoiceUploadId,
    },
}

/// How a reading ended when it did not succeed.
pub type DocumentFailure = crate::WorkFailure;

/// The document use cases, as the worker calls them.
pub trait DocumentWork: Send + Sync + 'static {
    fn run(&self, job: DocumentJob) -> futures::future::BoxFuture<'_, Result<(), DocumentFailure>>;
}

#[derive(Clone)]
pub struct DocumentDeps {
    pub work: Arc<dyn DocumentWork>,
}

pub async fn run(job: DocumentJob, deps: Data<DocumentDeps>) -> Result<(), BoxDynError> {
    Ok(deps.work.run(job).await?)
}

/// Writes a document job into the outbox, inside the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    shop: ShopId,
    job: &DocumentJob,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    outbox::insert(db, Some(shop), DOCUMENT_QUEUE, &payload).await?;
    Ok(())
}
