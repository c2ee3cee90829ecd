use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shop_id: Uuid,
    pub file_name: Option<String>,
    pub content_type: String,
    pub bytes: i64,
    /// `queued`, `done`, `failed`, `unavailable` (`domain::ocr::OcrStatus`).
    pub ocr_status: String,
    pub pages: Option<i32>,
    pub ocr_text: Option<String>,
    /// JSON `domain::ocr::InvoiceFields`.
    pub fields: Option<String>,
    pub error: Option<String>,
    pub ocr_ms: Option<i64>,
    pub customer_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    /// Tries of the reader so far.
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
