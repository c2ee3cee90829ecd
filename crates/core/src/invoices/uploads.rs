//! Invoices uploaded to be read by OCR (plan feature `invoice_ocr`): the
//! upload is kept and queued; a worker reads it with Tesseract and stores
//! the text and the fields with their confidence; nothing is created until
//! staff confirm the fields by making an invoice with `upload_id`
//! ([`super::create_by_hand`]).

use chrono::Utc;
use pitwall_domain::approvals::stored_instant;
use pitwall_domain::ocr::{DocumentType, InvoiceFields, OcrStatus, read_fields};
use pitwall_domain::{CustomerId, Feature, InvoiceUploadId, Permission, ShopId};
use pitwall_jobs::documents::{DocumentFailure, DocumentJob, DocumentWork};
use pitwall_store::invoice_uploads::{self as store, InvoiceUpload, Outcome};
use pitwall_store::{Page, PageRequest};

use crate::ocr::OcrError;
use crate::{App, Error, Result, ShopCtx};

/// The largest file accepted: a phone photo or a scanned PDF.
pub const MAX_UPLOAD_MB: u64 = 10;

/// An upload as staff see it.
#[derive(Debug, Clone)]
pub struct UploadView {
    pub upload: InvoiceUpload,
    pub status: OcrStatus,
    pub fields: InvoiceFields,
}

impl UploadView {
    fn of(upload: InvoiceUpload) -> Result<Self> {
        let status = OcrStatus::parse(&upload.ocr_status).ok_or_else(|| {
            Error::Internal(format!(
                "invoice upload {} has status {:?}",
                upload.id, upload.ocr_status
            ))
        })?;
        let fields = match &upload.fields {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                Error::Internal(format!("invoice upload {} fields: {e}", upload.id))
            })?,
            None => InvoiceFields::default(),
        };
        Ok(Self {
            upload,
            status,
            fields,
        })
    }
}

async fn require_upload(app: &App, ctx: &ShopCtx) -> Result<()> {
    app.require(ctx, Permission::PaymentsTake).await?;
    ctx.require_feature(Feature::InvoiceOcr)?;
    ctx.require_writable()
}

async fn require_read(app: &App, ctx: &ShopCtx) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    ctx.require_feature(Feature::InvoiceOcr)
}

/// Keeps an uploaded invoice (PDF, JPEG or PNG, known by its bytes) and
/// queues its reading (`payments.take`). Where Tesseract is not installed
/// the upload is kept as `unavailable` at once: the invoice is then typed
/// by hand.
pub async fn upload(
    app: &App,
    ctx: &ShopCtx,
    file_name: Option<&str>,
    bytes: Vec<u8>,
) -> Result<UploadView> {
    require_upload(app, ctx).await?;
    if bytes.len() as u64 > MAX_UPLOAD_MB * 1024 * 1024 {
        return Err(Error::TooLarge {
            field: "file",
            limit_mb: MAX_UPLOAD_MB,
        });
    }
    let Some(kind) = DocumentType::sniff(&bytes) else {
        return Err(Error::invalid("file", "is not a PDF, JPEG or PNG file"));
    };
    let shop = ctx.shop_id();
    let id = InvoiceUploadId::new();
    let status = if app.ocr.available().await {
        OcrStatus::Queued
    } else {
        OcrStatus::Unavailable
    };
    let now = stored_instant(Utc::now());
    let row = InvoiceUpload {
        id: id.as_uuid(),
        shop_id: shop.as_uuid(),
        file_name: file_name
            .map(|n| n.trim().chars().take(255).collect::<String>())
            .filter(|n| !n.is_empty()),
        content_type: kind.content_type().to_owned(),
        bytes: bytes.len() as i64,
        ocr_status: status.as_str().to_owned(),
        pages: None,
        ocr_text: None,
        fields: None,
        error: (status == OcrStatus::Unavailable)
            .then(|| "Tesseract is not installed on this server; enter the invoice by hand".into()),
        ocr_ms: None,
        customer_id: None,
        invoice_id: None,
        created_by: Some(ctx.user_id.as_uuid()),
        created_at: now,
        read_at: None,
        attempts: 0,
    };
    app.media.put_invoice_upload(shop, id, bytes).await?;
    let written = async {
        let txn = pitwall_store::begin_write(&app.db).await?;
        store::insert(&txn, row.clone()).await?;
        if status == OcrStatus::Queued {
            pitwall_jobs::documents::enqueue(
                &txn,
                shop,
                &DocumentJob::ReadInvoice {
                    shop_id: shop,
                    upload_id: id,
                },
            )
            .await?;
        }
        txn.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = written {
        if let Err(cleanup) = app.media.remove_invoice_upload(shop, id).await {
            tracing::warn!(upload = %id, error = %cleanup, "upload failed and its file stays");
        }
        return Err(e);
    }
    app.jobs.nudge();
    UploadView::of(row)
}

/// One upload with what was read (`tickets.view`).
pub async fn get_upload(app: &App, ctx: &ShopCtx, id: InvoiceUploadId) -> Result<UploadView> {
    require_read(app, ctx).await?;
    let row = store::get(&app.db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("invoice upload"))?;
    UploadView::of(row)
}

/// The shop's uploads, newest first (`tickets.view`).
pub async fn list_uploads(app: &App, ctx: &ShopCtx, page: PageRequest) -> Result<Page<UploadView>> {
    require_read(app, ctx).await?;
    let rows = store::list(&app.db, ctx.shop_id(), page).await?;
    Ok(Page {
        items: rows
            .items
            .into_iter()
            .map(UploadView::of)
            .collect::<Result<_>>()?,
        next_cursor: rows.next_cursor,
    })
}

/// The uploaded file as it came, with its content type (`tickets.view`).
pub async fn upload_file(
    app: &App,
    ctx: &ShopCtx,
    id: InvoiceUploadId,
) -> Result<(bytes::Bytes, String)> {
    let view = get_upload(app, ctx, id).await?;
    let bytes = app.media.get_invoice_upload(ctx.shop_id(), id).await?;
    Ok((bytes, view.upload.content_type))
}

/// Reads one queued upload (the documents worker). Safe to run twice: an
/// upload that is no longer queued is left alone, and the outcome is
/// written only while it still is.
pub async fn read_upload(
    app: &App,
    shop: ShopId,
    id: InvoiceUploadId,
) -> std::result::Result<(), DocumentFailure> {
    let retry = |e: Error| DocumentFailure::Retry(e.to_string());
    let Some(row) = store::get(&app.db, shop, id)
        .await
        .map_err(|e| retry(e.into()))?
    else {
        return Err(DocumentFailure::Permanent(format!(
            "invoice upload {id} is gone"
        )));
    };
    if row.ocr_status != OcrStatus::Queued.as_str() {
        return Ok(());
    }
    store::count_attempt(&app.db, shop, id)
        .await
        .map_err(|e| retry(e.into()))?;
    let attempt = row.attempts as usize + 1;
    // The queue tries a job at most `MAX_ATTEMPTS` times: after the last
    // try the upload is recorded as failed (staff then type it by hand)
    // instead of showing "queued" for ever. Staff see what happened; the
    // cause (a storage or database error, which may name buckets and
    // paths) goes to the log.
    let given_up = |shown: String, cause: String| async move {
        let outcome = Outcome {
            error: Some(shown),
            ..failed_now()
        };
        store::finish(&app.db, shop, id, outcome)
            .await
            .map_err(|e| retry(e.into()))?;
        tracing::warn!(upload = %id, attempt, %cause, "invoice upload not read: recorded as failed");
        Ok(())
    };
    match read_stored(app, shop, id).await {
        Err(DocumentFailure::Retry(cause)) if attempt >= pitwall_jobs::relay::MAX_ATTEMPTS => {
            let shown = format!(
                "could not be read: gave up after {attempt} tries (the file store or the \
                 database did not answer); enter the invoice by hand"
            );
            given_up(shown, cause).await
        }
        Err(DocumentFailure::Permanent(why)) => {
            given_up(format!("could not be read: {why}"), why).await
        }
        done => done,
    }
}

/// A reading that failed, as of now; the caller says why.
fn failed_now() -> Outcome {
    Outcome {
        status: OcrStatus::Failed,
        pages: None,
        text: None,
        fields: None,
        error: None,
        ms: None,
        customer_id: None,
        at: stored_instant(Utc::now()),
    }
}

/// Reads the stored file of a queued upload and records what was read.
async fn read_stored(
    app: &App,
    shop: ShopId,
    id: InvoiceUploadId,
) -> std::result::Result<(), DocumentFailure> {
    let retry = |e: Error| DocumentFailure::Retry(e.to_string());
    let country = pitwall_store::shops::get(&app.db, shop)
        .await
        .map_err(|e| retry(e.into()))?
        .map(|s| s.country)
        .unwrap_or_else(|| "US".into());
    let bytes = match app.media.get_invoice_upload(shop, id).await {
        Ok(bytes) => bytes,
        // Nothing will bring it back: the store answered, without it.
        Err(Error::NotFound(_)) => {
            return Err(DocumentFailure::Permanent(
                "the uploaded file is no longer stored".into(),
            ));
        }
        Err(e) => return Err(retry(e)),
    };
    let mut outcome = failed_now();
    let read = match DocumentType::sniff(&bytes) {
        Some(kind) => app.ocr.read(kind, &bytes).await,
        None => Err(OcrError::Failed("is not a PDF, JPEG or PNG file".into())),
    };
    match read {
        Ok(read) => {
            let fields = read_fields(&read.reading, &country);
            outcome.customer_id = customer_of(app, shop, &fields).await.map_err(retry)?;
            outcome.status = OcrStatus::Done;
            outcome.pages = Some(read.pages as i32);
            outcome.text = Some(read.reading.text());
            outcome.fields = Some(
                serde_json::to_string(&fields)
                    .map_err(|e| DocumentFailure::Permanent(e.to_string()))?,
            );
            outcome.error = read
                .truncated
                .then(|| format!("only the first {} pages were read", crate::ocr::MAX_PAGES));
            outcome.ms = Some(read.took.as_millis() as i64);
        }
        Err(OcrError::Unavailable(why)) => {
            outcome.status = OcrStatus::Unavailable;
            outcome.error = Some(why);
        }
        Err(OcrError::Failed(why)) => outcome.error = Some(why),
    }
    outcome.at = stored_instant(Utc::now());
    let status = outcome.status;
    store::finish(&app.db, shop, id, outcome)
        .await
        .map_err(|e| retry(e.into()))?;
    tracing::info!(upload = %id, status = %status, "invoice upload read");
    Ok(())
}

/// The shop's customer with the phone (or else the e-mail address) read.
async fn customer_of(
    app: &App,
    shop: ShopId,
    fields: &InvoiceFields,
) -> Result<Option<CustomerId>> {
    if let Some(phone) = &fields.phone
        && let Some(c) = pitwall_store::customers::by_phone(&app.db, shop, &phone.value).await?
    {
        return Ok(Some(CustomerId::from_uuid(c.id)));
    }
    if let Some(email) = &fields.email
        && let Some(c) = pitwall_store::customers::by_email(&app.db, shop, &email.value).await?
    {
        return Ok(Some(CustomerId::from_uuid(c.id)));
    }
    Ok(None)
}

/// Runs document jobs for the worker.
pub struct DocumentWorker(pub App);

impl DocumentWork for DocumentWorker {
    fn run(
        &self,
        job: DocumentJob,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<(), DocumentFailure>> + Send + '_>,
    > {
        Box::pin(async move {
            match job {
                DocumentJob::ReadInvoice { shop_id, upload_id } => {
                    read_upload(&self.0, shop_id, upload_id).await
                }
            }
        })
    }
}
