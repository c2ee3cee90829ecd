//! Stripe Connect webhooks (`POST /webhooks/stripe/connect`): verified
//! with `STRIPE_CONNECT_WEBHOOK_SECRET`, stored once by event id, applied
//! by a job. Applying never trusts the event's body: it re-reads the
//! session from the account the event names, and pays the invoice only
//! when that account is the invoice shop's and the amount is what is due.
//! The payment is recorded once per shop and payment intent, so however
//! Stripe orders or repeats its events the invoice is paid exactly once.

use chrono::Utc;
use pitwall_domain::billing::{self as rules, SignatureError};
use pitwall_domain::invoices::InvoiceAction;
use pitwall_domain::messaging::TemplateKind;
use pitwall_domain::tickets::TimelineKind;
use pitwall_domain::{Feature, InvoiceId, ShopId, TicketId};
use pitwall_jobs::billing::{BillingFailure, BillingJob};
use pitwall_store::payments::{self as store, Payment};
use pitwall_store::{invoices, shops, tickets};
use serde_json::{Value, json};

use super::{PaymentsMode, platform_fee};
use crate::billing::Received;
use crate::invoices::ActedBy;
use crate::outreach::{self, Sender};
use crate::{App, Error, Result};

/// The Connect events Pitwall acts on; others are stored and ignored.
pub const HANDLED_CONNECT_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "account.updated",
    "charge.refunded",
];

/// Checks a delivery's `Stripe-Signature` against the Connect secrets
/// before anything of the body is read. Without a secret every delivery
/// is refused.
pub fn verify_connect_webhook(
    app: &App,
    payload: &[u8],
    header: Option<&str>,
) -> std::result::Result<(), SignatureError> {
    let secrets: Vec<String> = app
        .config
        .payments
        .connect_webhook_secrets
        .iter()
        .map(|s| s.expose().to_owned())
        .collect();
    if secrets.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    rules::verify_signature(payload, header, &secrets, Utc::now())
}

/// Stores a verified event once by id and queues its processing in the
/// same transaction.
pub async fn receive_connect_event(app: &App, payload: &[u8]) -> Result<Received> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| Error::invalid("body", format!("is not JSON: {e}")))?;
    let id = v["id"]
        .as_str()
        .filter(|id| id.starts_with("evt_") && id.len() <= 255)
        .ok_or_else(|| Error::invalid("id", "must be a Stripe event id (evt_...)"))?;
    let event_type = v["type"]
        .as_str()
        .filter(|t| !t.is_empty() && t.len() <= 100)
        .ok_or_else(|| Error::invalid("type", "is missing"))?;
    let account = match &v["account"] {
        Value::Null => None,
        Value::String(a) if a.starts_with("acct_") && a.len() <= 255 => Some(a.as_str()),
        _ => return Err(Error::invalid("account", "must be a Stripe account id")),
    };
    let handled = HANDLED_CONNECT_EVENTS.contains(&event_type);
    let text = String::from_utf8_lossy(payload);
    let txn = pitwall_store::begin_write(&app.db).await?;
    let outcome = if handled { "queued" } else { "ignored" };
    if !store::insert_event(&txn, id, event_type, account, &text, outcome).await? {
        return Ok(Received::Duplicate);
    }
    if handled {
        pitwall_jobs::billing::enqueue(
            &txn,
            None,
            &BillingJob::ConnectEvent {
                event_id: id.to_owned(),
            },
        )
        .await?;
    }
    txn.commit().await?;
    tracing::info!(stripe.event_id = %id, stripe.event_type = %event_type, handled, "Stripe Connect event received");
    app.jobs.nudge();
    Ok(if handled {
        Received::Queued
    } else {
        Received::Ignored
    })
}

fn retry(e: impl std::fmt::Display) -> BillingFailure {
    BillingFailure::Retry(e.to_string())
}

/// A read of what an event names, from the account it names, failed: a
/// 4xx (other than 429) means Stripe shows no such object there, so the
/// event is refused; anything else is worth trying again.
fn refused_or_retry(
    e: stripe::StripeError,
    what: &str,
) -> std::result::Result<Outcome, BillingFailure> {
    match e {
        stripe::StripeError::Stripe(_, status) if (400..500).contains(&status) && status != 429 => {
            Ok(Outcome::Refused(format!(
                "Stripe answered {status} for {what} on that account"
            )))
        }
        e => Err(retry(format!("reading {what}: {e}"))),
    }
}

/// How applying an event ended.
enum Outcome {
    Applied(&'static str),
    Refused(String),
    Ignored(&'static str),
}

/// Applies one stored Connect event (the job). Running it again changes
/// nothing.
pub async fn process_connect_event(
    app: &App,
    event_id: &str,
) -> std::result::Result<(), BillingFailure> {
    let Some(event) = store::event(&app.db, event_id).await.map_err(retry)? else {
        return Err(BillingFailure::Permanent(format!(
            "event {event_id} is not stored"
        )));
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let s = app
        .config
        .stripe
        .as_ref()
        .ok_or_else(|| BillingFailure::Retry("Stripe is not configured".into()))?;
    store::count_event_attempt(&app.db, event_id)
        .await
        .map_err(retry)?;
    let body: Value = serde_json::from_str(&event.payload)
        .map_err(|e| BillingFailure::Permanent(format!("stored event is not JSON: {e}")))?;
    let object = &body["data"]["object"];
    let outcome = match event.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            match object["id"].as_str() {
                Some(session) => settle(app, s, event.account_id.as_deref(), session).await?,
                None => Outcome::Refused("the event names no session".into()),
            }
        }
        "charge.refunded" => match object["id"].as_str() {
            Some(charge) => refund(app, s, event.account_id.as_deref(), charge).await?,
            None => Outcome::Refused("the event names no charge".into()),
        },
        "account.updated" => match event.account_id.as_deref() {
            Some(acct) => match store::account_by_stripe_id(&app.db, acct)
                .await
                .map_err(retry)?
            {
                Some(row) => {
                    super::account::refresh(app, s, ShopId::from_uuid(row.shop_id), acct)
                        .await
                        .map_err(retry)?;
                    Outcome::Applied("account state read again")
                }
                None => Outcome::Ignored("not a shop's account"),
            },
            None => Outcome::Ignored("names no account"),
        },
        _ => Outcome::Ignored("not an event Pitwall acts on"),
    };
    let (result, note) = match &outcome {
        Outcome::Applied(n) => ("applied", n.to_string()),
        Outcome::Refused(n) => ("refused", n.clone()),
        Outcome::Ignored(n) => ("ignored", n.to_string()),
    };
    if result == "refused" {
        tracing::warn!(stripe.event_id = %event_id, why = %note, "Stripe Connect event refused");
    }
    store::finish_event(&app.db, event_id, result, Some(&note))
        .await
        .map_err(retry)?;
    Ok(())
}

/// Pays the invoice a completed session was made for, after checking the
/// session as Stripe has it on the account the event names.
async fn settle(
    app: &App,
    s: &crate::billing::StripeSettings,
    event_account: Option<&str>,
    session_id: &str,
) -> std::result::Result<Outcome, BillingFailure> {
    let Some(row) = store::session_by_stripe_id(&app.db, session_id)
        .await
        .map_err(retry)?
    else {
        return Ok(Outcome::Refused("not a session Pitwall made".into()));
    };
    if row.stripe_account_id.as_deref() != event_account {
        return Ok(Outcome::Refused(
            "the event names another account than the session's".into(),
        ));
    }
    let shop = ShopId::from_uuid(row.shop_id);
    if app.config.payments.mode == PaymentsMode::Connect {
        let own = store::account(&app.db, shop).await.map_err(retry)?;
        if own.map(|a| a.stripe_account_id) != row.stripe_account_id {
            return Ok(Outcome::Refused(
                "the account is not the invoice shop's".into(),
            ));
        }
    }
    // The session as Stripe has it on that account: a forged or
    // misdirected event names a session Stripe does not show there.
    use stripe::StripeRequest;
    let mut call =
        stripe_checkout::checkout_session::RetrieveCheckoutSession::new(session_id).customize();
    if let Some(acct) = event_account {
        call = call.account_id(stripe_shared::AccountId::from(acct));
    }
    let session = match call.send(&s.client).await {
        Ok(x) => x,
        Err(e) => return refused_or_retry(e, "the session"),
    };
    let meta = session.metadata.clone().unwrap_or_default();
    if meta.get("invoice_id").map(String::as_str) != Some(row.invoice_id.to_string().as_str())
        || meta.get("shop_id").map(String::as_str) != Some(shop.to_string().as_str())
    {
        return Ok(Outcome::Refused(
            "the session's metadata names another invoice".into(),
        ));
    }
    if session.payment_status != stripe_shared::CheckoutSessionPaymentStatus::Paid {
        return Ok(Outcome::Ignored("the session is not paid (yet)"));
    }
    let Some(intent) = session
        .payment_intent
        .as_ref()
        .map(|p| p.id().as_str().to_owned())
    else {
        return Ok(Outcome::Refused("the paid session names no payment".into()));
    };
    let invoice_id = InvoiceId::from_uuid(row.invoice_id);
    let Some(invoice) = invoices::get(&app.db, shop, invoice_id)
        .await
        .map_err(retry)?
    else {
        return Ok(Outcome::Refused("the invoice is gone".into()));
    };
    let amount = session.amount_total.unwrap_or(-1);
    let currency = session
        .currency
        .as_ref()
        .map(|c| c.to_string().to_uppercase())
        .unwrap_or_default();
    if amount != invoice.total || currency != invoice.currency {
        return Ok(Outcome::Refused(format!(
            "{amount} {currency} paid, {} {} due",
            invoice.total, invoice.currency
        )));
    }
    let already = store::payments_of_invoice(&app.db, shop, invoice_id)
        .await
        .map_err(retry)?;
    if already.iter().any(|p| p.payment_intent_id == intent) {
        return Ok(Outcome::Applied("already recorded"));
    }
    let status = invoice.status_value().map_err(retry)?;
    if !status.is_unpaid() {
        return Ok(Outcome::Refused(format!(
            "the invoice is {status}: nothing is due (refund it in Stripe)"
        )));
    }
    let Some(shop_row) = shops::get(&app.db, shop).await.map_err(retry)? else {
        return Ok(Outcome::Refused("the shop is gone".into()));
    };
    let features = crate::features::FeatureSet::load(&app.db, &shop_row)
        .await
        .map_err(retry)?;
    let now = Utc::now();
    let fee = if row.stripe_account_id.is_some() {
        platform_fee(amount, app.config.payments.fee_bps)
    } else {
        0
    };
    let txn = pitwall_store::begin_write(&app.db).await.map_err(retry)?;
    let inserted = store::insert_payment(
        &txn,
        shop,
        Payment {
            id: uuid::Uuid::now_v7(),
            shop_id: shop.as_uuid(),
            invoice_id: invoice.id,
            payment_intent_id: intent.clone(),
            stripe_account_id: row.stripe_account_id.clone(),
            stripe_session_id: session_id.to_owned(),
            amount,
            fee,
            currency: invoice.currency.clone(),
            refunded: 0,
            created_at: now,
            updated_at: now,
        },
    )
    .await
    .map_err(retry)?;
    if !inserted {
        return Ok(Outcome::Applied("already recorded"));
    }
    let paid_by = if invoice.customer_name.is_empty() {
        "Customer".to_owned()
    } else {
        invoice.customer_name.clone()
    };
    let moved = crate::invoices::move_in(
        &txn,
        ActedBy::Customer(shop, &paid_by),
        &invoice,
        InvoiceAction::PayOnline,
        None,
        json!({"payment_intent": intent, "amount": amount, "how": "online"}),
    )
    .await;
    let (paid, live) = match moved {
        Ok(m) => m,
        // Moved meanwhile (canceled, paid at the counter): nothing is
        // written, and the payment waits for a person.
        Err(Error::Conflict { message, .. }) => {
            return Ok(Outcome::Refused(format!("the invoice {message}")));
        }
        Err(e) => return Err(retry(e)),
    };
    store::set_session_status(&txn, shop, session_id, "complete")
        .await
        .map_err(retry)?;
    if let Some(ticket_id) = paid.ticket_id {
        let ticket = tickets::get(&txn, shop, TicketId::from_uuid(ticket_id))
            .await
            .map_err(retry)?;
        if let Some(ticket) = ticket {
            if features.has(Feature::Webhooks) {
                let kind = TimelineKind::PaymentReceived.as_str();
                pitwall_jobs::webhooks::enqueue(
                    &txn,
                    shop,
                    kind,
                    json!({
                        "event": kind, "created_at": now, "shop_id": shop,
                        "ticket_id": ticket.id, "ticket_number": ticket.number,
                        "ticket_external_id": ticket.external_id,
                        "data": {"invoice_id": paid.id, "number": paid.number,
                                 "amount": amount, "currency": paid.currency},
                    }),
                )
                .await
                .map_err(retry)?;
            }
            let number = paid.number.clone();
            let currency = paid.currency.clone();
            let receipt = outreach::queue_automatic(
                &txn,
                &app.config.clock,
                Sender {
                    shop: &shop_row,
                    features: &features,
                },
                &ticket,
                outreach::Automatic {
                    template: TemplateKind::Receipt,
                    extra: &|customer| {
                        let locale = pitwall_domain::locale::Locale::choose(
                            customer.locale.as_deref(),
                            &shop_row.locale,
                        );
                        vec![
                            ("invoice_number", number.clone()),
                            ("amount_paid", locale.money(amount, &currency)),
                        ]
                    },
                    subject: format!("Your payment to {}", shop_row.name),
                    by: None,
                    link_base: None,
                },
            )
            .await;
            // A receipt that cannot be written must not lose the payment.
            if let Err(e) = receipt {
                tracing::warn!(shop.id = %shop, error = %e, "payment receipt not queued");
            }
        }
    }
    let announced = app.live.announce(live);
    txn.commit().await.map_err(retry)?;
    app.live.after_commit(announced);
    app.jobs.nudge();
    tracing::info!(shop.id = %shop, invoice.id = %paid.id, "invoice paid online");
    Ok(Outcome::Applied("paid"))
}

/// Records a refund made in Stripe on the payment it belongs to, after
/// reading the charge as Stripe has it on the account the event names.
/// What is refunded only grows, so repeated and reordered events agree.
async fn refund(
    app: &App,
    s: &crate::billing::StripeSettings,
    event_account: Option<&str>,
    charge_id: &str,
) -> std::result::Result<Outcome, BillingFailure> {
    use stripe::StripeRequest;
    let mut call = stripe_core::charge::RetrieveCharge::new(charge_id).customize();
    if let Some(acct) = event_account {
        call = call.account_id(stripe_shared::AccountId::from(acct));
    }
    let charge = match call.send(&s.client).await {
        Ok(c) => c,
        Err(e) => return refused_or_retry(e, "the charge"),
    };
    let Some(intent) = charge
        .payment_intent
        .as_ref()
        .map(|p| p.id().as_str().to_owned())
    else {
        return Ok(Outcome::Ignored("the charge names no payment intent"));
    };
    let Some(payment) = store::payment_by_intent(&app.db, &intent)
        .await
        .map_err(retry)?
    else {
        return Ok(Outcome::Ignored("not a payment Pitwall recorded"));
    };
    if payment.stripe_account_id.as_deref() != event_account {
        return Ok(Outcome::Refused(
            "the event names another account than the payment's".into(),
        ));
    }
    let shop = ShopId::from_uuid(payment.shop_id);
    let refunded = charge.amount_refunded.clamp(0, payment.amount);
    let txn = pitwall_store::begin_write(&app.db).await.map_err(retry)?;
    if !store::set_refunded(&txn, shop, payment.id, refunded)
        .await
        .map_err(retry)?
    {
        return Ok(Outcome::Applied("already recorded"));
    }
    let invoice = invoices::get(&txn, shop, InvoiceId::from_uuid(payment.invoice_id))
        .await
        .map_err(retry)?;
    let mut live = Vec::new();
    if let Some(invoice) = &invoice
        && let Some(ticket) = invoice.ticket_id
    {
        live = crate::invoices::record_on_ticket(
            &txn,
            shop,
            TicketId::from_uuid(ticket),
            TimelineKind::PaymentRefunded,
            ActedBy::Stripe(shop),
            invoice,
            json!({"payment_intent": intent, "amount": payment.amount, "refunded": refunded}),
        )
        .await
        .map_err(retry)?;
    }
    let announced = app.live.announce(live);
    txn.commit().await.map_err(retry)?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, payment.intent = %intent, refunded, "refund recorded");
    Ok(Outcome::Applied("refund recorded"))
}
