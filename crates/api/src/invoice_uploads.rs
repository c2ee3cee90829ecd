//! Invoices uploaded to be read by OCR (`/api/v1/invoice-uploads`, plan
//! feature `invoice_ocr`). Staff confirm what was read by making the
//! invoice with `POST /api/v1/invoices` and `upload_id`. The use cases are
//! `pitwall_core::invoices` (uploads).

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::domain::InvoiceUploadId;
use pitwall_core::domain::ocr::Field;
use pitwall_core::invoices::{self, UploadView};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::auth::{UserToken, shop_ctx};
use crate::error::{ApiError, ErrorBody};
use crate::invoices::InvoiceTags;
use crate::staff::page;
use crate::upload::{FileUpload, InvoiceDocument};

/// One value read off the document, and how sure the reading is.
#[derive(Debug, Clone, Object)]
pub struct ReadFieldOut {
    pub value: String,
    /// 0 to 1: Tesseract's confidence in the words it was read from,
    /// lowered when it was found by its shape rather than its label.
    pub confidence: f64,
}

fn read(f: &Option<Field>) -> Option<ReadFieldOut> {
    f.as_ref().map(|f| ReadFieldOut {
        value: f.value.clone(),
        confidence: f.confidence,
    })
}

/// What was read; null where nothing was found. Dates `YYYY-MM-DD`,
/// amounts decimal in major units (`248.98`), phones E.164, plates and
/// VINs in capitals.
#[derive(Debug, Clone, Object)]
pub struct ReadFieldsOut {
    #[oai(nullable)]
    pub invoice_number: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub invoice_date: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub total: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub tax: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub customer_name: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub phone: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub email: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub plate: Option<ReadFieldOut>,
    #[oai(nullable)]
    pub vin: Option<ReadFieldOut>,
}

/// An uploaded invoice and its reading.
#[derive(Debug, Clone, Object)]
pub struct InvoiceUploadOut {
    pub id: uuid::Uuid,
    /// `queued`, `done`, `failed` or `unavailable` (Tesseract is not
    /// installed on the server: type the invoice by hand).
    pub ocr_status: String,
    #[oai(nullable)]
    pub file_name: Option<String>,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    pub bytes: i64,
    /// Pages read.
    #[oai(nullable)]
    pub pages: Option<i32>,
    /// Everything read, one printed line per line.
    #[oai(nullable)]
    pub text: Option<String>,
    pub fields: ReadFieldsOut,
    /// Why it was not read (or a note, such as pages left unread).
    #[oai(nullable)]
    pub error: Option<String>,
    /// The shop's customer with the phone (or e-mail) read.
    #[oai(nullable)]
    pub customer_id: Option<uuid::Uuid>,
    /// The invoice made from it once staff confirmed the fields.
    #[oai(nullable)]
    pub invoice_id: Option<uuid::Uuid>,
    /// How long the reading took, in milliseconds.
    #[oai(nullable)]
    pub ocr_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&UploadView> for InvoiceUploadOut {
    fn from(v: &UploadView) -> Self {
        let u = &v.upload;
        let f = &v.fields;
        InvoiceUploadOut {
            id: u.id,
            ocr_status: v.status.as_str().to_owned(),
            file_name: u.file_name.clone(),
            content_type: u.content_type.clone(),
            bytes: u.bytes,
            pages: u.pages,
            text: u.ocr_text.clone(),
            fields: ReadFieldsOut {
                invoice_number: read(&f.invoice_number),
                invoice_date: read(&f.invoice_date),
                total: read(&f.total),
                tax: read(&f.tax),
                customer_name: read(&f.customer_name),
                phone: read(&f.phone),
                email: read(&f.email),
                plate: read(&f.plate),
                vin: read(&f.vin),
            },
            error: u.error.clone(),
            customer_id: u.customer_id,
            invoice_id: u.invoice_id,
            ocr_ms: u.ocr_ms,
            created_at: u.created_at,
            read_at: u.read_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct InvoiceUploadList {
    pub items: Vec<InvoiceUploadOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

// One answer per request: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
pub enum InvoiceUploadCreated {
    /// Kept; `ocr_status` is `queued` (a worker reads it) or `unavailable`.
    #[oai(status = 201)]
    Created(Json<InvoiceUploadOut>),
    /// The file is over 10 MB (`payload_too_large`, `field`).
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
}

pub struct InvoiceUploadsApi;

#[OpenApi(prefix_path = "/api/v1")]
impl InvoiceUploadsApi {
    /// Upload an invoice to be read by OCR (`payments.take`, plan feature
    /// `invoice_ocr`): multipart, field `file`, a PDF, JPEG or PNG of at
    /// most 10 MB (anything else answers 422 naming `file`). A worker reads
    /// it with Tesseract; poll `GET /invoice-uploads/{upload_id}`. Nothing
    /// is created until staff confirm the fields with `POST /invoices` and
    /// `upload_id`.
    #[oai(
        path = "/invoice-uploads",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "upload_invoice"
    )]
    async fn upload(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        file: FileUpload<InvoiceDocument>,
    ) -> Result<InvoiceUploadCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        match invoices::upload(&app, &ctx, file.file_name.as_deref(), file.bytes).await {
            Ok(v) => Ok(InvoiceUploadCreated::Created(Json(InvoiceUploadOut::from(
                &v,
            )))),
            Err(e @ pitwall_core::Error::TooLarge { .. }) => {
                Ok(InvoiceUploadCreated::TooLarge(Json(ErrorBody::new(
                    e.code(),
                    e.to_string(),
                    Some("file".to_owned()),
                ))))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The shop's invoice uploads, newest first (`tickets.view`).
    #[oai(
        path = "/invoice-uploads",
        method = "get",
        tag = "InvoiceTags::Invoices",
        operation_id = "list_invoice_uploads"
    )]
    async fn list(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> Result<Json<InvoiceUploadList>, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = invoices::list_uploads(&app, &ctx, page(cursor.0, limit.0)?).await?;
        Ok(Json(InvoiceUploadList {
            items: p.items.iter().map(InvoiceUploadOut::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// One upload: where its reading stands, the text and the fields read
    /// (`tickets.view`).
    #[oai(
        path = "/invoice-uploads/:upload_id",
        method = "get",
        tag = "InvoiceTags::Invoices",
        operation_id = "get_invoice_upload"
    )]
    async fn get(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        upload_id: Path<uuid::Uuid>,
    ) -> Result<Json<InvoiceUploadOut>, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let v = invoices::get_upload(&app, &ctx, InvoiceUploadId::from_uuid(upload_id.0)).await?;
        Ok(Json(InvoiceUploadOut::from(&v)))
    }
}
