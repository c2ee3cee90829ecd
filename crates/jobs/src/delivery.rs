//! One place where a message changes state: the row, its timeline event
//! and the live announcement, in the caller's transaction. The delivery job
//! and the provider's receipts (webhooks) both go through here.

use pitwall_domain::ShopId;
use pitwall_domain::messaging::MessageStatus;
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_store::live::{Announced, Live, LiveEvent};
use pitwall_store::messages::{self, Message, Outcome};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{StoreError, activity};
use serde_json::json;

/// Moves `msg` to `to` (unless it already stands later) and records it.
/// `None` when nothing changed.
pub async fn transition(
    txn: &impl ConnectionTrait,
    live: &Live,
    msg: &Message,
    to: MessageStatus,
    o: Outcome<'_>,
) -> Result<Option<Announced>, StoreError> {
    if !messages::advance(txn, msg, to, o.clone()).await? {
        return Ok(None);
    }
    let shop = ShopId::from_uuid(msg.shop_id);
    let kind = match to {
        MessageStatus::Queued => Some(TimelineKind::MessageQueued),
        MessageStatus::Held => Some(TimelineKind::MessageHeld),
        MessageStatus::Sent => Some(TimelineKind::MessageSent),
        MessageStatus::Delivered => Some(TimelineKind::MessageDelivered),
        MessageStatus::Failed => Some(TimelineKind::MessageFailed),
        MessageStatus::Sending | MessageStatus::Received => None,
    };
    let mut event_id = None;
    if let (Some(kind), Some(ticket)) = (kind, msg.ticket_id) {
        let e = activity::record_event(
            txn,
            shop,
            activity::NewEvent {
                ticket: pitwall_domain::TicketId::from_uuid(ticket),
                kind: kind.as_str(),
                actor_kind: ActorKind::System.as_str(),
                actor_id: None,
                actor_name: None,
                data: json!({
                    "message_id": msg.id,
                    "channel": msg.channel,
                    "kind": msg.kind,
                    "error_code": o.error_code,
                    "error_message": o.error_message,
                    "held_until": o.held_until,
                    "hold_reason": o.hold_reason,
                }),
            },
        )
        .await?;
        event_id = Some(e.id);
    }
    let announced = live.announce(vec![LiveEvent {
        shop_id: msg.shop_id,
        ticket_id: msg.ticket_id,
        kind: "message".into(),
        event_id,
    }]);
    Ok(Some(announced))
}
