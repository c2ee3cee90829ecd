use pitwall_domain::messaging::MessageStatus;
use pitwall_domain::{CustomerId, MessageId, ShopId};
use pitwall_store::messages::{self};

use crate::{App, Error, Result};

pub struct Receipt<'a> {
    pub provider_id: &'a str,
    /// Twilio's `MessageStatus`.
    pub status: &'a str,
    pub error_code: Option<&'a str>,
    /// Our id, from the status callback URL we gave the provider.
    pub message_id: Option<MessageId>,
}

/// A delivery receipt. `false` when it names no message of ours (the
/// provider is told "fine" anyway: there is nothing to retry).
pub async fn receive_receipt(app: &App, r: Receipt<'_>) -> Result<bool> {
    let to = match r.status {
        "sent" => MessageStatus::Sent,
        "delivered" | "read" => MessageStatus::Delivered,
        "failed" | "undelivered" | "canceled" => MessageStatus::Failed,
        // queued, accepted, sending, scheduled: nothing new for us.
        "queued" | "accepted" | "sending" | "scheduled" | "receiving" | "received" => {
            return Ok(true);
        }
        _ => return Err(Error::invalid("MessageStatus", "is not a status we know")),
    };
    let msg = match r.message_id {
        Some(id) => messages::by_id_for_delivery(&app.db, id)
            .await?
            .filter(|m| m.provider_id.as_deref().is_none_or(|p| p == r.provider_id)),
        None => None,
    };
    let msg = match msg {
        Some(m) => Some(m),
        None => messages::by_provider_id(&app.db, r.provider_id).await?,
    };
    let Some(msg) = msg else {
        return Ok(false);
    };
    let reason = r.error_code.map(twilio_error_text);
    let txn = pitwall_store::begin_write(&app.db).await?;
    let announced = super::transition(
        &txn,
        &app.live,
        &msg,
        to,
        messages::Outcome {
            provider_id: Some(r.provider_id),
            error_code: r.error_code,
            error_message: reason.as_deref(),
            ..Default::default()
        },
    )
    .await?;
    if to == MessageStatus::Failed
        && r.error_code == Some(pitwall_jobs::sms::UNSUBSCRIBED_RECIPIENT)
        && let Some(c) = msg.customer_id
    {
        let shop = ShopId::from_uuid(msg.shop_id);
        messages::record_carrier_opt_out(&txn, shop, CustomerId::from_uuid(c)).await?;
    }
    txn.commit().await?;
    if let Some(a) = announced {
        app.live.after_commit(a);
    }
    Ok(true)
}

/// Twilio's most common delivery error codes, in words staff understand.
pub fn twilio_error_text(code: &str) -> String {
    match code {
        "30003" => "the phone is off or out of reach".into(),
        "30004" => "the recipient blocked the message".into(),
        "30005" => "the number does not exist".into(),
        "30006" => "the number is a landline or cannot receive texts".into(),
        "30007" => "the carrier filtered the message".into(),
        "30008" => "the carrier could not deliver it".into(),
        "21610" => "the customer unsubscribed (replied STOP)".into(),
        "21211" => "the number is not a valid phone number".into(),
        "21614" => "the number cannot receive texts".into(),
        other => format!("the provider reported error {other}"),
    }
}
