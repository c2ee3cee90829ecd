//! The live announcement of a new timeline entry, one shape for every
//! writer of the timeline (tickets, POS, links, approvals, inspections).

use pitwall_domain::{ShopId, TicketId};

use crate::live::LiveEvent;

pub(crate) fn timeline_live(shop: ShopId, ticket: TicketId, event: uuid::Uuid) -> LiveEvent {
    LiveEvent {
        shop_id: shop.as_uuid(),
        ticket_id: Some(ticket.as_uuid()),
        kind: "timeline".into(),
        event_id: Some(event),
    }
}
