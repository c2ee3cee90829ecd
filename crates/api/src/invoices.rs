//! Invoice cases (`/api/v1`, plan feature `online_payments`): made from a
//! ticket or by hand, sent, paid at the counter, delivered, booked,
//! canceled; and the PDF. The use cases are `pitwall_core::invoices`.

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::domain::{CustomerId, InvoiceId, InvoiceUploadId, TicketId};
use pitwall_core::invoices::{self, InvoiceView};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Deserialize;

use crate::auth::{UserToken, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::staff::page;

#[derive(Tags)]
pub enum InvoiceTags {
    /// Invoice cases: what the customer pays, from draft to booked.
    Invoices,
}

pub struct InvoicesApi;

/// One line as billed; money in minor units.
#[derive(Debug, Clone, Object)]
pub struct InvoiceLineOut {
    /// `labor`, `part` or `fee`.
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    pub amount: i64,
    pub taxable: bool,
}

/// One position as billed.
#[derive(Debug, Clone, Object)]
pub struct InvoicePositionOut {
    /// The ticket's position it bills; null for a line typed by hand.
    #[oai(nullable)]
    pub service_id: Option<uuid::Uuid>,
    pub title: String,
    pub subtotal: i64,
    pub line_items: Vec<InvoiceLineOut>,
}

/// A payment received online, and what was refunded of it in Stripe.
#[derive(Debug, Clone, Object)]
pub struct InvoicePaymentOut {
    pub id: uuid::Uuid,
    /// Stripe's payment intent (`pi_...`).
    pub payment_intent_id: String,
    pub amount: i64,
    /// The platform's fee taken from it.
    pub fee: i64,
    /// Refunded in Stripe so far.
    pub refunded: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// An invoice case. Positions, tax and total are frozen when the case is
/// made; `hash` is the SHA-256 they were sealed with and `intact` says
/// whether they still match it.
#[derive(Debug, Clone, Object)]
pub struct InvoiceOut {
    pub id: uuid::Uuid,
    /// `INV-00001`, per shop.
    pub number: String,
    /// `draft`, `sent`, `paid`, `delivered`, `booked`, `paid_pos` or
    /// `canceled`.
    pub status: String,
    /// What the state allows next: `send`, `pay_online`, `paid_pos`,
    /// `delivered`, `booked`, `cancel`.
    pub allowed_actions: Vec<String>,
    #[oai(nullable)]
    pub ticket_id: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub customer_id: Option<uuid::Uuid>,
    pub customer_name: String,
    pub positions: Vec<InvoicePositionOut>,
    pub subtotal: i64,
    /// The tax rate as a fraction (0.0825 for 8.25 %).
    pub tax_rate: f64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    pub hash: String,
    pub intact: bool,
    #[oai(nullable)]
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub sent_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub paid_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub booked_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Who signed for the vehicle at the counter, and when.
    #[oai(nullable)]
    pub picked_up_by: Option<String>,
    #[oai(nullable)]
    pub picked_up_at: Option<DateTime<Utc>>,
    /// Payments received online (empty in the answer to a move).
    pub payments: Vec<InvoicePaymentOut>,
    /// What was refunded of them in Stripe, in all.
    pub refunded: i64,
}

impl From<&InvoiceView> for InvoiceOut {
    fn from(v: &InvoiceView) -> Self {
        let i = &v.invoice;
        InvoiceOut {
            id: i.id,
            number: i.number.clone(),
            status: v.status.as_str().to_owned(),
            allowed_actions: v.allowed.iter().map(|a| a.as_str().to_owned()).collect(),
            ticket_id: i.ticket_id,
            customer_id: i.customer_id,
            customer_name: i.customer_name.clone(),
            positions: v
                .positions
                .iter()
                .map(|p| InvoicePositionOut {
                    service_id: p.service_id,
                    title: p.title.clone(),
                    subtotal: p.subtotal,
                    line_items: p
                        .line_items
                        .iter()
                        .map(|l| InvoiceLineOut {
                            kind: l.kind.clone(),
                            description: l.description.clone(),
                            quantity: l.quantity_milli as f64 / 1000.0,
                            unit_price: l.unit_price,
                            amount: l.amount,
                            taxable: l.taxable,
                        })
                        .collect(),
                })
                .collect(),
            subtotal: i.subtotal,
            tax_rate: i.tax_rate_ppm as f64 / 1_000_000.0,
            tax: i.tax,
            total: i.total,
            currency: i.currency.clone(),
            hash: i.hash.clone(),
            intact: v.intact,
            cancel_reason: i.cancel_reason.clone(),
            created_at: i.created_at,
            sent_at: i.sent_at,
            paid_at: i.paid_at,
            delivered_at: i.delivered_at,
            booked_at: i.booked_at,
            closed_at: i.closed_at,
            picked_up_by: i.picked_up_by.clone(),
            picked_up_at: i.picked_up_at,
            payments: v
                .payments
                .iter()
                .map(|p| InvoicePaymentOut {
                    id: p.id,
                    payment_intent_id: p.payment_intent_id.clone(),
                    amount: p.amount,
                    fee: p.fee,
                    refunded: p.refunded,
                    currency: p.currency.clone(),
                    created_at: p.created_at,
                })
                .collect(),
            refunded: v.refunded(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct InvoiceList {
    pub items: Vec<InvoiceOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A line typed by hand; money in minor units.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandLineIn {
    /// `labor`, `part` or `fee`.
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    #[serde(default)]
    #[oai(default)]
    pub taxable: bool,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvoiceRequest {
    pub customer_id: uuid::Uuid,
    /// The ticket it belongs to (the customer's); sending it by link
    /// needs one.
    #[serde(default)]
    #[oai(nullable)]
    pub ticket_id: Option<uuid::Uuid>,
    pub lines: Vec<HandLineIn>,
    /// A fraction: 0.0825 for 8.25 %. Null: no tax.
    #[serde(default)]
    #[oai(nullable)]
    pub tax_rate: Option<f64>,
    /// The invoice upload whose read fields staff confirm with this
    /// request (`POST /invoice-uploads`); it is tied to this case, once.
    #[serde(default)]
    #[oai(nullable)]
    pub upload_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendInvoiceRequest {
    /// `sms` or `email`.
    pub send: String,
}

#[derive(Debug, Clone, Object)]
pub struct SentInvoiceOut {
    pub invoice: InvoiceOut,
    /// The customer link it went out with, shown this once.
    pub link_url: String,
    #[oai(nullable)]
    pub message_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickupRequest {
    /// Who takes the vehicle.
    pub signer_name: String,
    /// A PNG data URL (`data:image/png;base64,...`) or an SVG path.
    pub signature: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelInvoiceRequest {
    /// Why; required, at most 500 characters.
    pub reason: String,
}

/// The shop's invoice settings.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceSettingsIo {
    /// Hours after sending when an unpaid invoice reminds the customer
    /// once (1 to 720); null: never.
    #[serde(default)]
    #[oai(nullable)]
    pub reminder_hours: Option<i32>,
}

#[derive(ApiResponse)]
pub enum InvoiceCreated {
    /// The case was made, as a draft.
    #[oai(status = 201)]
    Created(Json<InvoiceOut>),
}

#[derive(ApiResponse)]
pub enum InvoicePdf {
    /// The invoice as a PDF document.
    #[oai(status = 200, content_type = "application/pdf")]
    Pdf(
        Binary<Vec<u8>>,
        /// `attachment; filename="INV-00001.pdf"`
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

type Answer = Result<Json<InvoiceOut>, ApiError>;

fn out(v: InvoiceView) -> Answer {
    Ok(Json(InvoiceOut::from(&v)))
}

#[OpenApi(prefix_path = "/api/v1")]
impl InvoicesApi {
    /// Make the invoice of a ticket from its approved positions (with the
    /// repair-order workflow: the approved positions marked done) as a
    /// frozen, hashed draft (`payments.take`). Nothing to bill answers 409
    /// naming `services`; a ticket whose earlier case is not canceled
    /// answers 409 naming `ticket_id`.
    #[oai(
        path = "/tickets/:ticket_id/invoices",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "create_ticket_invoice"
    )]
    async fn create_from_ticket(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> Result<InvoiceCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let v = invoices::create_from_ticket(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(InvoiceCreated::Created(Json(InvoiceOut::from(&v))))
    }

    /// Make an invoice by hand for a customer (`payments.take`): each line
    /// a position, priced by the same money rules as the POS's lines.
    /// Every problem is named at once (`lines/{n}/quantity`). With
    /// `upload_id`, staff confirm what OCR read from an upload: the upload
    /// is tied to the case (a second confirmation answers 409 naming
    /// `upload_id`).
    #[oai(
        path = "/invoices",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "create_invoice"
    )]
    async fn create_by_hand(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<NewInvoiceRequest>,
    ) -> Result<InvoiceCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let v = invoices::create_by_hand(
            &app,
            &ctx,
            &invoices::HandInvoice {
                customer_id: CustomerId::from_uuid(b.customer_id),
                ticket_id: b.ticket_id.map(TicketId::from_uuid),
                lines: b
                    .lines
                    .into_iter()
                    .map(|l| invoices::HandLine {
                        kind: l.kind,
                        description: l.description,
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                        taxable: l.taxable,
                    })
                    .collect(),
                tax_rate: b.tax_rate,
                upload_id: b.upload_id.map(InvoiceUploadId::from_uuid),
            },
        )
        .await?;
        Ok(InvoiceCreated::Created(Json(InvoiceOut::from(&v))))
    }

    /// The shop's invoice cases, newest first (`tickets.view`).
    #[oai(
        path = "/invoices",
        method = "get",
        tag = "InvoiceTags::Invoices",
        operation_id = "list_invoices"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        /// `draft`, `sent`, `paid`, `delivered`, `booked`, `paid_pos` or
        /// `canceled`.
        status: Query<Option<String>>,
        ticket_id: Query<Option<uuid::Uuid>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<InvoiceList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = invoices::list(
            &app,
            &ctx,
            status.0.as_deref(),
            ticket_id.0.map(TicketId::from_uuid),
            page(cursor.0, limit.0)?,
        )
        .await?;
        Ok(Json(InvoiceList {
            items: p.items.iter().map(InvoiceOut::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    #[oai(
        path = "/invoices/:invoice_id",
        method = "get",
        tag = "InvoiceTags::Invoices",
        operation_id = "get_invoice"
    )]
    async fn get(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
    ) -> Answer {
        let ctx = shop_ctx(&app, req, &auth).await?;
        out(invoices::get(&app, &ctx, InvoiceId::from_uuid(invoice_id.0)).await?)
    }

    /// The invoice as a PDF (`tickets.view`).
    #[oai(
        path = "/invoices/:invoice_id/pdf",
        method = "get",
        tag = "InvoiceTags::Invoices",
        operation_id = "get_invoice_pdf"
    )]
    async fn pdf(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
    ) -> Result<InvoicePdf, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let d = invoices::pdf_of(&app, &ctx, InvoiceId::from_uuid(invoice_id.0)).await?;
        Ok(InvoicePdf::Pdf(
            Binary(d.bytes),
            format!("attachment; filename=\"{}\"", d.file_name),
        ))
    }

    /// Send the invoice to the customer (`payments.take` and
    /// `customer_links.send`): a link to the ticket's page goes out with
    /// the shop's `invoice` template, and a draft becomes `sent`. A case
    /// without a ticket answers 409 naming `ticket_id`.
    #[oai(
        path = "/invoices/:invoice_id/send",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "send_invoice"
    )]
    async fn send(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
        body: JsonBody<SendInvoiceRequest>,
    ) -> ApiResult<SentInvoiceOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let s =
            invoices::send(&app, &ctx, InvoiceId::from_uuid(invoice_id.0), &body.0.send).await?;
        Ok(Json(SentInvoiceOut {
            invoice: InvoiceOut::from(&s.invoice),
            link_url: s.issued.url.clone(),
            message_id: s.issued.message.as_ref().map(|m| m.id),
        }))
    }

    /// Paid at the counter (`payments.take`): an unpaid case closes as
    /// `paid_pos`. Any other state answers 409 naming `status`.
    #[oai(
        path = "/invoices/:invoice_id/paid-pos",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "mark_invoice_paid_pos"
    )]
    async fn paid_pos(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
    ) -> Answer {
        let ctx = shop_ctx(&app, req, &auth).await?;
        out(invoices::mark_paid_pos(&app, &ctx, InvoiceId::from_uuid(invoice_id.0)).await?)
    }

    /// The vehicle was handed over (`payments.take`): a `paid` case
    /// becomes `delivered`. Any other state answers 409 naming `status`.
    #[oai(
        path = "/invoices/:invoice_id/delivered",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "mark_invoice_delivered"
    )]
    async fn delivered(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
    ) -> Answer {
        let ctx = shop_ctx(&app, req, &auth).await?;
        out(invoices::mark_delivered(&app, &ctx, InvoiceId::from_uuid(invoice_id.0)).await?)
    }

    /// The payment is booked (`payments.take`): a `delivered` case closes
    /// as `booked`. Any other state answers 409 naming `status`.
    #[oai(
        path = "/invoices/:invoice_id/booked",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "mark_invoice_booked"
    )]
    async fn booked(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
    ) -> Answer {
        let ctx = shop_ctx(&app, req, &auth).await?;
        out(invoices::mark_booked(&app, &ctx, InvoiceId::from_uuid(invoice_id.0)).await?)
    }

    #[oai(
        path = "/invoice-settings",
        method = "get",
        tag = "InvoiceTags::Invoices",
        operation_id = "get_invoice_settings"
    )]
    async fn settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<InvoiceSettingsIo> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        Ok(Json(InvoiceSettingsIo {
            reminder_hours: invoices::reminder_hours(&app, &ctx).await?,
        }))
    }

    /// When unpaid invoices remind the customer (`shop.settings.manage`):
    /// one reminder with the shop's `invoice` template and a fresh link,
    /// held in quiet hours.
    #[oai(
        path = "/invoice-settings",
        method = "put",
        tag = "InvoiceTags::Invoices",
        operation_id = "update_invoice_settings"
    )]
    async fn set_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<InvoiceSettingsIo>,
    ) -> ApiResult<InvoiceSettingsIo> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        invoices::set_reminder_hours(&app, &ctx, body.0.reminder_hours).await?;
        Ok(Json(InvoiceSettingsIo {
            reminder_hours: invoices::reminder_hours(&app, &ctx).await?,
        }))
    }

    /// Pickup in one step at the counter (`payments.take`): the customer
    /// signs for the vehicle; an unpaid case is paid there and closes
    /// (`paid_pos`), a `paid` one becomes `delivered`. Any other state
    /// answers 409 naming `status`.
    #[oai(
        path = "/invoices/:invoice_id/pickup",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "pick_up_invoice"
    )]
    async fn pickup(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
        body: JsonBody<PickupRequest>,
    ) -> Answer {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        out(invoices::pickup(
            &app,
            &ctx,
            InvoiceId::from_uuid(invoice_id.0),
            invoices::Pickup {
                signer_name: &b.signer_name,
                signature: &b.signature,
            },
        )
        .await?)
    }

    /// Cancel an unpaid case with a reason (`payments.take`). Any other
    /// state answers 409 naming `status`.
    #[oai(
        path = "/invoices/:invoice_id/cancel",
        method = "post",
        tag = "InvoiceTags::Invoices",
        operation_id = "cancel_invoice"
    )]
    async fn cancel(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        invoice_id: Path<uuid::Uuid>,
        body: JsonBody<CancelInvoiceRequest>,
    ) -> Answer {
        let ctx = shop_ctx(&app, req, &auth).await?;
        out(invoices::cancel(
            &app,
            &ctx,
            InvoiceId::from_uuid(invoice_id.0),
            &body.0.reason,
        )
        .await?)
    }
}
