//! The ticket's timeline: the live announcement of a new entry (one shape
//! for every writer: tickets, POS, links, approvals, inspections), and
//! comments, which are written with their entry.

use pitwall_domain::{ShopId, TicketId};

use crate::live::LiveEvent;

pub(crate) fn timeline_live(shop: ShopId, ticket: TicketId, event: uuid::Uuid) -> LiveEvent {
    LiveEvent::new(shop, Some(ticket.as_uuid()), "timeline", Some(event))
}

/// Who wrote a comment, as its timeline entry names them.
pub(crate) struct Author {
    pub kind: pitwall_domain::tickets::ActorKind,
    pub id: Option<uuid::Uuid>,
}

/// Writes a comment and its timeline entry together, in the caller's
/// transaction: a comment never exists without its entry. `extra` adds
/// fields to the entry's data (the POS notification it came from). Answers
/// the comment and the live event to announce after commit.
pub(crate) async fn add_comment(
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    comment: pitwall_store::activity::NewComment<'_>,
    by: Author,
    extra: Option<(&str, uuid::Uuid)>,
) -> crate::Result<(pitwall_store::activity::Comment, LiveEvent)> {
    use pitwall_store::activity;
    let ticket = comment.ticket;
    let name = comment.author_name;
    let written = activity::add_comment(txn, shop, comment).await?;
    let mut data = serde_json::json!({ "comment_id": written.id });
    if let Some((key, id)) = extra {
        data[key] = serde_json::json!(id);
    }
    let event = activity::record_event(
        txn,
        shop,
        activity::NewEvent {
            ticket,
            kind: pitwall_domain::tickets::TimelineKind::Comment.as_str(),
            actor_kind: by.kind.as_str(),
            actor_id: by.id,
            actor_name: Some(name),
            data,
        },
    )
    .await?;
    Ok((written, timeline_live(shop, ticket, event.id)))
}
