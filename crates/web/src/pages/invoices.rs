//! Invoice cases on the ticket page: make one from the approved work, send
//! it, mark it paid at the counter, delivered, booked, cancel it, and the
//! PDF. The use cases are `pitwall_core::invoices`, as for the API.

use minijinja::{Value, context};
use pitwall_core::domain::invoices::InvoiceAction;
use pitwall_core::domain::{Feature, InvoiceId, Permission, TicketId};
use pitwall_core::invoices::{self, InvoiceView};
use pitwall_core::model::PageRequest;
use pitwall_core::{App, Error};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::tickets::{back_to, posted_ticket, ticket_page};
use super::{finish, parse_id, respond};
use crate::render::{OrPage, money};
use crate::session::{FormData, InShop, Signed};

/// The ticket page's invoices, when the plan has them: each case with what
/// it allows, and whether one is live (then no new one is offered).
pub(super) async fn of_ticket(app: &App, shop: &InShop, ticket: TicketId) -> Value {
    if !shop.ctx.features.has(Feature::OnlinePayments) {
        return Value::from(());
    }
    let page =
        match invoices::list(app, &shop.ctx, None, Some(ticket), PageRequest::first(20)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(ticket.id = %ticket, error = %e, "ticket page without its invoices");
                return Value::from(());
            }
        };
    use pitwall_core::domain::invoices::InvoiceStatus;
    let open = page
        .items
        .iter()
        .any(|i| i.status != InvoiceStatus::Canceled);
    // The case a customer signs for at the counter: unpaid or paid online.
    let pickup = page
        .items
        .iter()
        .find(|i| i.status.is_unpaid() || i.status == InvoiceStatus::Paid)
        .map(|i| {
            context! {
                id => i.invoice.id.to_string(),
                number => i.invoice.number.clone(),
                total => money(i.invoice.total, &i.invoice.currency),
            }
        });
    context! {
        items => page.items.iter().map(invoice_value).collect::<Vec<_>>(),
        open,
        pickup,
        may_take => app.may(&shop.ctx, Permission::PaymentsTake).await,
    }
}

fn invoice_value(v: &InvoiceView) -> Value {
    let i = &v.invoice;
    let buttons: Vec<Value> = v
        .allowed
        .iter()
        .filter_map(|a| match a {
            InvoiceAction::PaidPos => Some(("paid-pos", "Paid at the counter")),
            InvoiceAction::Delivered => Some(("delivered", "Vehicle delivered")),
            InvoiceAction::Booked => Some(("booked", "Payment booked")),
            // Sending and canceling have forms of their own; an online
            // payment is the customer's.
            InvoiceAction::Send | InvoiceAction::Cancel | InvoiceAction::PayOnline => None,
        })
        .map(|(path, label)| context! { path, label })
        .collect();
    context! {
        id => i.id.to_string(),
        number => i.number.clone(),
        status => v.status.as_str(),
        status_label => v.status.as_str().replace('_', " "),
        total => money(i.total, &i.currency),
        refunded => (v.refunded() > 0).then(|| money(v.refunded(), &i.currency)),
        intact => v.intact,
        cancel_reason => i.cancel_reason.clone(),
        allowed => v.allowed.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        buttons,
    }
}

#[handler]
pub(crate) async fn create(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let result = invoices::create_from_ticket(&app, &shop.ctx, id).await;
            finish(
                result,
                &back_to(&form, id, "invoice_created"),
                &shop.layout,
                async |n| ticket_page(&app, &shop, id, n, false).await,
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn act(
    app: Data<&App>,
    req: &Request,
    Path((id, invoice, action)): Path<(String, String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let (shop, id) = posted_ticket(&app, req, &form, &id).await?;
            let invoice: InvoiceId = parse_id(&invoice, "invoice").or_page(&shop.layout)?;
            let ctx = &shop.ctx;
            let (result, code) = match action.as_str() {
                "send" => (
                    invoices::send(&app, ctx, invoice, form.get("send"))
                        .await
                        .map(|_| ()),
                    "invoice_sent",
                ),
                "paid-pos" => (
                    invoices::mark_paid_pos(&app, ctx, invoice)
                        .await
                        .map(|_| ()),
                    "invoice_paid_pos",
                ),
                "delivered" => (
                    invoices::mark_delivered(&app, ctx, invoice)
                        .await
                        .map(|_| ()),
                    "invoice_delivered",
                ),
                "booked" => (
                    invoices::mark_booked(&app, ctx, invoice).await.map(|_| ()),
                    "invoice_booked",
                ),
                "pickup" => (
                    invoices::pickup(
                        &app,
                        ctx,
                        invoice,
                        invoices::Pickup {
                            signer_name: form.get("signer_name"),
                            signature: form.get("signature"),
                        },
                    )
                    .await
                    .map(|_| ()),
                    "invoice_picked_up",
                ),
                "cancel" => (
                    invoices::cancel(&app, ctx, invoice, form.get("reason"))
                        .await
                        .map(|_| ()),
                    "invoice_canceled",
                ),
                _ => (Err(Error::NotFound("page")), ""),
            };
            finish(result, &back_to(&form, id, code), &shop.layout, async |n| {
                ticket_page(&app, &shop, id, n, false).await
            })
            .await
        }
        .await,
    )
}

/// The invoice's PDF, for staff signed in.
#[handler]
pub(crate) async fn pdf(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: InvoiceId = parse_id(&id, "invoice").or_page(&shop.layout)?;
            let d = invoices::pdf_of(&app, &shop.ctx, id)
                .await
                .or_page(&shop.layout)?;
            Ok(Response::builder()
                .content_type("application/pdf")
                .header(
                    "content-disposition",
                    format!("attachment; filename=\"{}\"", d.file_name),
                )
                .header("cache-control", "private, no-store")
                .body(d.bytes))
        }
        .await,
    )
}
