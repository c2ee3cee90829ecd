//! Invoices uploaded to be read by OCR. The file itself is in the media
//! store; the row says where its reading stands and what was read.

use chrono::{DateTime, Utc};
use pitwall_domain::ocr::OcrStatus;
use pitwall_domain::{CustomerId, InvoiceId, InvoiceUploadId, ShopId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::invoice_upload;
use crate::{InShop, Page, PageRequest, StoreError};

pub use invoice_upload::Model as InvoiceUpload;

pub async fn insert(db: &impl ConnectionTrait, row: InvoiceUpload) -> Result<(), StoreError> {
    row.into_active_model().insert(db).await?;
    Ok(())
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceUploadId,
) -> Result<Option<InvoiceUpload>, StoreError> {
    Ok(invoice_upload::Entity::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// Newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    shop: ShopId,
    page: PageRequest,
) -> Result<Page<InvoiceUpload>, StoreError> {
    let mut q = invoice_upload::Entity::find().in_shop(shop);
    if let Some(after) = page.after {
        q = q.filter(invoice_upload::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(invoice_upload::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    Ok(page.finish(rows, |r| r.id))
}

/// Counts a try of the reader.
pub async fn count_attempt(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceUploadId,
) -> Result<(), StoreError> {
    use invoice_upload::Column as C;
    invoice_upload::Entity::update_many()
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .exec(db)
        .await?;
    Ok(())
}

/// What a reading ended with.
pub struct Outcome {
    pub status: OcrStatus,
    pub pages: Option<i32>,
    pub text: Option<String>,
    pub fields: Option<String>,
    pub error: Option<String>,
    pub ms: Option<i64>,
    pub customer_id: Option<CustomerId>,
    pub at: DateTime<Utc>,
}

/// Records the outcome of a reading, once: `false` when the upload is no
/// longer queued (a job run twice after the first finished).
pub async fn finish(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceUploadId,
    o: Outcome,
) -> Result<bool, StoreError> {
    use invoice_upload::Column as C;
    let done = invoice_upload::Entity::update_many()
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .filter(C::OcrStatus.eq(OcrStatus::Queued.as_str()))
        .col_expr(C::OcrStatus, Expr::value(o.status.as_str()))
        .col_expr(C::Pages, Expr::value(o.pages))
        .col_expr(C::OcrText, Expr::value(o.text))
        .col_expr(C::Fields, Expr::value(o.fields))
        .col_expr(C::Error, Expr::value(o.error))
        .col_expr(C::OcrMs, Expr::value(o.ms))
        .col_expr(
            C::CustomerId,
            Expr::value(o.customer_id.map(|c| c.as_uuid())),
        )
        .col_expr(C::ReadAt, Expr::value(o.at))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Ties the upload to the invoice made from it: `false` when it already
/// has one (a second confirmation of the same upload).
pub async fn link_invoice(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InvoiceUploadId,
    invoice: InvoiceId,
) -> Result<bool, StoreError> {
    use invoice_upload::Column as C;
    let done = invoice_upload::Entity::update_many()
        .in_shop(shop)
        .filter(C::Id.eq(id.as_uuid()))
        .filter(C::InvoiceId.is_null())
        .col_expr(C::InvoiceId, Expr::value(invoice.as_uuid()))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}
