//! The invoice as a PDF: what staff download and what the customer keeps
//! (attached to the invoice's e-mail). Laid out from the frozen case only,
//! so the document says exactly what the hash covers, and is the same
//! file whenever it is made: no status, which changes.

use chrono_tz::Tz;
use pitwall_domain::InvoiceId;
use pitwall_domain::invoices::format_money;
use pitwall_domain::pdf::{self, Line, Style};
use pitwall_store::shops::Shop;

use super::InvoiceView;
use crate::{App, Result, ShopCtx};

/// A document to download: its file name and bytes.
pub struct Document {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The PDF of one case (`tickets.view`).
pub async fn pdf_of(app: &App, ctx: &ShopCtx, id: InvoiceId) -> Result<Document> {
    let view = super::get(app, ctx, id).await?;
    Ok(Document {
        file_name: format!("{}.pdf", view.invoice.number),
        bytes: render(&ctx.shop, &view),
    })
}

/// Lays the case out on A4.
pub fn render(shop: &Shop, v: &InvoiceView) -> Vec<u8> {
    let i = &v.invoice;
    let money = |m: i64| format_money(m, &i.currency);
    let tz: Tz = shop.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut lines = vec![Line::new(Style::Title, shop.name.clone())];
    for contact in [&shop.address, &shop.phone, &shop.email]
        .into_iter()
        .flatten()
    {
        lines.push(Line::new(Style::Small, contact.clone()));
    }
    lines.push(Line::gap());
    lines.push(
        Line::new(Style::Heading, format!("Invoice {}", i.number)).with_right(
            i.created_at
                .with_timezone(&tz)
                .format("%Y-%m-%d")
                .to_string(),
        ),
    );
    let customer = if i.customer_name.is_empty() {
        "—"
    } else {
        &i.customer_name
    };
    lines.push(Line::new(Style::Body, format!("Customer: {customer}")));
    lines.push(Line::rule());
    for p in &v.positions {
        lines.push(Line::new(Style::Heading, p.title.clone()).with_right(money(p.subtotal)));
        for l in &p.line_items {
            let qty = l.quantity_milli as f64 / 1000.0;
            lines.push(
                Line::new(
                    Style::Body,
                    format!(
                        "{} · {qty} × {}{}",
                        l.description,
                        money(l.unit_price),
                        if l.taxable { "" } else { " (no tax)" }
                    ),
                )
                .with_right(money(l.amount)),
            );
        }
        lines.push(Line::gap());
    }
    lines.push(Line::rule());
    lines.push(Line::new(Style::Body, "Subtotal").with_right(money(i.subtotal)));
    lines.push(
        Line::new(
            Style::Body,
            format!("Tax ({:.3} %)", i.tax_rate_ppm as f64 / 10_000.0),
        )
        .with_right(money(i.tax)),
    );
    lines.push(Line::new(Style::Heading, "Total").with_right(money(i.total)));
    lines.push(Line::gap());
    lines.push(Line::new(
        Style::Small,
        format!("Fingerprint (SHA-256): {}", i.hash),
    ));
    pdf::render(&format!("Invoice {} — {}", i.number, shop.name), &lines)
}
