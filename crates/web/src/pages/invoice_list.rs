//! The shop's invoices (`/app/invoices`) and paper invoices read by OCR:
//! upload a scan or photo, watch it being read, check the fields, and
//! confirm them into an invoice. The use cases are
//! `pitwall_core::invoices`, as for the API.

use minijinja::{Value, context};
use pitwall_core::domain::invoices::InvoiceStatus;
use pitwall_core::domain::ocr::{Field, OcrStatus};
use pitwall_core::domain::{CustomerId, Feature, InvoiceUploadId, Permission};
use pitwall_core::invoices::{self, UploadView};
use pitwall_core::model::PageRequest;
use pitwall_core::{App, Error};
use poem::web::{Data, Multipart, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::{Notice, Page, finish, parse_id, refused, respond};
use crate::render::{self, OrPage, money};
use crate::session::{FormData, InShop, Signed, flash};

#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let q = req.params::<ListQuery>().unwrap_or_default();
            list_page(&app, &shop, &q, Notice::ok(flash(req))).await
        }
        .await,
    )
}

async fn list_page(app: &App, shop: &InShop, q: &ListQuery, notice: Notice) -> Page {
    let page = PageRequest::parse(q.cursor.as_deref(), None)
        .map_err(|(f, m)| Error::invalid(f, m))
        .or_page(&shop.layout)?;
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    let list = invoices::list(app, &shop.ctx, status, None, page)
        .await
        .or_page(&shop.layout)?;
    let may_upload = shop.ctx.features.has(Feature::InvoiceOcr)
        && app.may(&shop.ctx, Permission::PaymentsTake).await;
    let uploads = if shop.ctx.features.has(Feature::InvoiceOcr) {
        invoices::list_uploads(app, &shop.ctx, PageRequest::first(20))
            .await
            .or_page(&shop.layout)?
            .items
    } else {
        Vec::new()
    };
    Ok(render::page(
        notice.status,
        "invoices.html",
        context! {
            status => status.unwrap_or_default(),
            statuses => InvoiceStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            invoices => list.items.iter().map(|v| {
                let i = &v.invoice;
                context! {
                    id => i.id.to_string(),
                    number => i.number.clone(),
                    customer => i.customer_name.clone(),
                    status => v.status.as_str(),
                    status_label => v.status.as_str().replace('_', " "),
                    total => money(i.total, &i.currency),
                    refunded => (v.refunded() > 0).then(|| money(v.refunded(), &i.currency)),
                    created_at => render::day(i.created_at),
                    ticket_id => i.ticket_id.map(|t| t.to_string()),
                }
            }).collect::<Vec<_>>(),
            next => list.next_cursor,
            may_upload,
            ocr_in_plan => shop.ctx.features.has(Feature::InvoiceOcr),
            uploads => uploads.iter().map(|u| context! {
                id => u.upload.id.to_string(),
                file_name => u.upload.file_name.clone(),
                status => u.status.as_str(),
                invoice_made => u.upload.invoice_id.is_some(),
                created_at => render::minute(u.upload.created_at),
            }).collect::<Vec<_>>(),
            ..notice.with(&shop.layout)
        },
    ))
}

/// A scan or photo of a paper invoice, to be read.
#[handler]
pub(crate) async fn upload(app: Data<&App>, req: &Request, form: Multipart) -> Response {
    let limit = invoices::MAX_UPLOAD_MB * 1024 * 1024;
    let read =
        super::inspect::read_upload(req, limit, form, "is required: choose a PDF, JPEG or PNG")
            .await;
    respond(
        async {
            let csrf = read.as_ref().map(|u| u.csrf.as_str()).unwrap_or_default();
            let shop = Signed::posted_csrf(&app, req, csrf)
                .await?
                .in_shop(&app)
                .await?;
            let result = match read {
                Ok(u) => invoices::upload(&app, &shop.ctx, u.file_name.as_deref(), u.bytes).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(v) => Ok(render::redirect(&format!(
                    "/app/invoice-uploads/{}",
                    v.upload.id
                ))),
                Err(e) => {
                    refused(&e, &shop.layout, async |n| {
                        list_page(&app, &shop, &ListQuery::default(), n).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn show_upload(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: InvoiceUploadId = parse_id(&id, "invoice upload").or_page(&shop.layout)?;
            upload_page(&app, &shop, id, Notice::ok(flash(req)), None).await
        }
        .await,
    )
}

fn field(name: &'static str, label: &'static str, f: &Option<Field>) -> Value {
    context! {
        name,
        label,
        value => f.as_ref().map(|f| f.value.clone()),
        confidence => f.as_ref().map(|f| (f.confidence * 100.0).round() as i64),
        // Below this staff should look twice.
        unsure => f.as_ref().is_some_and(|f| f.confidence < 0.75),
    }
}

/// Amount in minor units from a decimal read off the paper (`248.98`).
fn minor(f: &Option<Field>) -> Option<i64> {
    pitwall_core::domain::ocr::parse_amount(&f.as_ref()?.value)
}

async fn upload_page(
    app: &App,
    shop: &InShop,
    id: InvoiceUploadId,
    notice: Notice,
    typed: Option<&FormData>,
) -> Page {
    let v: UploadView = invoices::get_upload(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let f = &v.fields;
    let customers = pitwall_core::customers::search(app, &shop.ctx, None, PageRequest::first(200))
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    // The chosen customer's tickets: an invoice tied to one can be sent
    // with a payment link.
    let chosen_customer: Option<CustomerId> = typed
        .map(|t| t.get("customer_id").to_owned())
        .or_else(|| v.upload.customer_id.map(|c| c.to_string()))
        .and_then(|c| c.parse().ok());
    let chosen_ticket = typed.map(|t| t.get("ticket_id").to_owned());
    let tickets = match chosen_customer {
        Some(c) => pitwall_core::customers::get(app, &shop.ctx, c)
            .await
            .map(|d| d.tickets)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let currency = shop.ctx.shop.currency.clone();
    // The confirmation, filled from what was read: one line for the work
    // before tax, and the rate that gives the tax read.
    let (total, tax) = (minor(&f.total), minor(&f.tax).unwrap_or(0));
    let net = total.map(|t| t - tax);
    let rate = match net {
        Some(n) if n > 0 && tax > 0 => format!("{:.3}", tax as f64 * 100.0 / n as f64),
        _ => String::new(),
    };
    let described = match (&f.invoice_number, &f.invoice_date) {
        (Some(n), Some(d)) => format!("Invoice {} of {}", n.value, d.value),
        (Some(n), None) => format!("Invoice {}", n.value),
        _ => "Invoice as read".to_owned(),
    };
    let typed_or = |name: &str, read: String| match typed {
        Some(form) => form.get(name).to_owned(),
        None => read,
    };
    Ok(render::page(
        notice.status,
        "invoice_upload.html",
        context! {
            id => v.upload.id.to_string(),
            file_name => v.upload.file_name.clone(),
            image => v.upload.content_type.starts_with("image/"),
            status => v.status.as_str(),
            queued => v.status == OcrStatus::Queued,
            error => v.upload.error.clone(),
            pages => v.upload.pages,
            text => v.upload.ocr_text.clone(),
            invoice_id => v.upload.invoice_id.map(|i| i.to_string()),
            fields => vec![
                field("invoice_number", "Invoice number", &f.invoice_number),
                field("invoice_date", "Date", &f.invoice_date),
                field("total", "Total", &f.total),
                field("tax", "Tax", &f.tax),
                field("customer_name", "Customer", &f.customer_name),
                field("phone", "Phone", &f.phone),
                field("email", "E-mail", &f.email),
                field("plate", "Plate", &f.plate),
                field("vin", "VIN", &f.vin),
            ],
            matched => v.upload.customer_id.is_some(),
            customers => customers.iter().map(|c| context! {
                id => c.id.to_string(),
                name => pitwall_core::labels::customer_name(c),
                chosen => chosen_customer.is_some_and(|x| x.as_uuid() == c.id),
            }).collect::<Vec<_>>(),
            tickets => tickets.iter().enumerate().map(|(n, t)| context! {
                id => t.id.to_string(),
                label => format!("{} {} · {}", t.kind, t.number, render::day(t.created_at)),
                // The newest is the likely one.
                chosen => match &chosen_ticket {
                    Some(c) => *c == t.id.to_string(),
                    None => n == 0,
                },
            }).collect::<Vec<_>>(),
            may_confirm => v.upload.invoice_id.is_none()
                && v.status != OcrStatus::Queued
                && app.may(&shop.ctx, Permission::PaymentsTake).await,
            form => context! {
                description => typed_or("description", described),
                amount => typed_or("amount", net.map(|n| format!("{}.{:02}", n / 100, n.rem_euclid(100))).unwrap_or_default()),
                tax_rate => typed_or("tax_rate", rate),
            },
            currency,
            ..notice.with(&shop.layout)
        },
    ))
}

/// The uploaded file itself, for the page's preview.
#[handler]
pub(crate) async fn file(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: InvoiceUploadId = parse_id(&id, "invoice upload").or_page(&shop.layout)?;
            let (bytes, content_type) = invoices::upload_file(&app, &shop.ctx, id)
                .await
                .or_page(&shop.layout)?;
            Ok(Response::builder()
                .content_type(content_type)
                .header("cache-control", "private, no-store")
                // A customer's file shown on our origin: never a document
                // that runs anything here.
                .header(
                    "content-security-policy",
                    "sandbox; default-src 'none'; img-src 'self'",
                )
                .body(bytes))
        }
        .await,
    )
}

/// Staff confirm the fields: the invoice is made by hand from them, tied to
/// the upload.
#[handler]
pub(crate) async fn confirm(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InvoiceUploadId = parse_id(&id, "invoice upload").or_page(&shop.layout)?;
            let result = async {
                let customer: CustomerId = form
                    .get("customer_id")
                    .parse()
                    .map_err(|_| Error::invalid("customer_id", "choose the customer"))?;
                let amount = pitwall_core::domain::tickets::amount_minor(form.get("amount"))
                    .map_err(|e| Error::invalid("amount", e.0))?;
                let rate = match form.get("tax_rate").trim() {
                    "" => None,
                    r => Some(
                        r.trim_end_matches('%').trim().parse::<f64>().map_err(|_| {
                            Error::invalid("tax_rate", "must be a percentage such as 8.25")
                        })? / 100.0,
                    ),
                };
                let ticket = match form.get("ticket_id").trim() {
                    "" => None,
                    t => Some(t.parse().map_err(|_| {
                        Error::invalid("ticket_id", "is not a ticket of this shop")
                    })?),
                };
                invoices::create_by_hand(
                    &app,
                    &shop.ctx,
                    &invoices::HandInvoice {
                        customer_id: customer,
                        ticket_id: ticket,
                        lines: vec![invoices::HandLine {
                            kind: "fee".into(),
                            description: form.get("description").to_owned(),
                            quantity: 1.0,
                            unit_price: amount,
                            taxable: rate.is_some(),
                        }],
                        tax_rate: rate,
                        upload_id: Some(id),
                    },
                )
                .await
            }
            .await;
            finish(
                result,
                "/app/invoices?ok=invoice_confirmed",
                &shop.layout,
                async |n| upload_page(&app, &shop, id, n, Some(&form)).await,
            )
            .await
        }
        .await,
    )
}
