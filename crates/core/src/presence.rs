//! Whether the customer has their page open: the beats of their live
//! stream, and the announcement staff screens hear when that changes.

use chrono::{Duration, Utc};
use pitwall_domain::{LinkId, ShopId, TicketId};
use pitwall_store::customer_links::{self as store, CustomerLink};

use crate::live::LiveEvent;
use crate::{App, Result};

pub(crate) fn is_recent(link: &CustomerLink, now: chrono::DateTime<Utc>) -> bool {
    link.last_seen_at
        .is_some_and(|t| now - t < Duration::seconds(crate::links::PRESENCE_WINDOW_SECS))
}

pub(crate) fn presence_event(shop: ShopId, ticket: TicketId) -> LiveEvent {
    LiveEvent::new(shop, Some(ticket.as_uuid()), "presence", None)
}

/// The page is still open (`true`) or was just closed (`false`). Staff
/// screens hear about it when the customer's presence changes.
pub async fn beat(app: &App, link: &CustomerLink, open: bool) -> Result<()> {
    let shop = ShopId::from_uuid(link.shop_id);
    let ticket = TicketId::from_uuid(link.ticket_id);
    let now = Utc::now();
    let current = store::get(&app.db, shop, LinkId::from_uuid(link.id)).await?;
    let was = current.as_ref().is_some_and(|l| is_recent(l, now));
    store::set_seen(
        &app.db,
        shop,
        LinkId::from_uuid(link.id),
        open.then_some(now),
    )
    .await?;
    if was != open {
        let announced = app.live.announce(vec![presence_event(shop, ticket)]);
        app.live.after_commit(announced);
    }
    Ok(())
}
