//! Telling the staff a hand-off concerns: a live `handoff` event for each
//! of them (their open screens show it at once, nobody else's do), and,
//! for shops that ask for them (`handoff_emails` in the workflow
//! settings), an e-mail, so that someone not looking at their work queue
//! still learns that a job waits for them.
//!
//! - A ticket entering `qualification` concerns those who qualify
//!   (`services.edit`), and parts (`parts.edit`) when a position waits on
//!   parts.
//! - A ticket entering `in_work` concerns its technician (or, with none
//!   assigned, everyone who completes work: `services.complete`), and
//!   parts when a position waits on parts.
//!
//! Who may do what is the shop's policy (roles as the shop customised
//! them). The person whose action moved the ticket gets nothing. Each
//! person gets one event and one e-mail per hand-off, naming what waits
//! for them. The e-mails are written in the transaction that moved the
//! ticket, and the events announced once it committed, so both exist
//! exactly when the move does.

use pitwall_domain::workflow::Stage;
use pitwall_domain::{ShopId, TicketId, UserId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::workflow::MovedBy;
use pitwall_store::{PageRequest, members, shops, tickets, workflow as store};

use super::Queue;
use crate::live::{Handoff, LiveEvent};
use crate::mail::{self, LinkMail};
use crate::{App, Result};

/// What waits in a queue, in the words of the e-mail.
fn waiting(q: Queue) -> &'static str {
    match q {
        Queue::Qualification => "findings to qualify",
        Queue::Parts => "parts to price, order or receive",
        Queue::Completion => "approved work to do",
    }
}

/// Writes the hand-off e-mails of a move into `txn` (when the shop asks
/// for them) and answers the live events to announce after commit.
pub(crate) async fn hand_off(
    app: &App,
    txn: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
    to: Stage,
    by: MovedBy<'_>,
) -> Result<Vec<LiveEvent>> {
    let mut events = Vec::new();
    if !matches!(to, Stage::Qualification | Stage::InWork) {
        return Ok(events);
    }
    let emails = store::settings(txn, shop).await?.handoff_emails;
    let Some(row) = tickets::get(txn, shop, ticket).await? else {
        return Ok(events);
    };
    // The work queues the ticket now stands in, each the hand-off of one
    // role (the queues' own rules: `Queue`).
    let mut queues = vec![match to {
        Stage::Qualification => Queue::Qualification,
        _ => Queue::Completion,
    }];
    if tickets::waits_on_parts(txn, shop, ticket).await? {
        queues.push(Queue::Parts);
    }
    let shop_name = shops::get(txn, shop)
        .await?
        .map(|s| s.name)
        .unwrap_or_default();
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let members = members::list_members(txn, shop, page).await?;
        for m in &members.items {
            let user = UserId::from_uuid(m.user.id);
            if by.user == Some(m.user.id) {
                continue;
            }
            let mut theirs = Vec::new();
            for q in &queues {
                if q.is_for(row.technician_id, m.user.id)
                    && app.authz.allowed(user, shop, q.permission()).await?
                {
                    theirs.push(*q);
                }
            }
            if theirs.is_empty() {
                continue;
            }
            let mut event = LiveEvent::new(shop, Some(ticket.as_uuid()), "handoff", None);
            event.handoff = Some(Handoff {
                user_id: m.user.id,
                ticket_number: row.number.clone(),
                queues: theirs.iter().map(|q| q.as_str().to_owned()).collect(),
            });
            events.push(event);
            if !emails {
                continue;
            }
            let what: Vec<&str> = theirs.iter().map(|q| waiting(*q)).collect();
            let subject = format!("{shop_name}: ticket {} waits for you", row.number);
            let intro = format!("Ticket {} has {} for you.", row.number, what.join(", and "));
            let link = format!("{}/app/tickets/{ticket}", app.config.base_url);
            mail::queue_link_mail(
                txn,
                LinkMail {
                    shop: Some(shop),
                    kind: "handoff",
                    to: &m.user.email,
                    subject: &subject,
                    intro: &intro,
                    action: "Open the ticket",
                    link: &link,
                    outro: "You get these because your shop e-mails hand-offs; a manager \
                            can turn them off in the workflow settings \
                            (handoff_emails).",
                },
            )
            .await?;
        }
        match members.items.last() {
            Some(last) if members.next_cursor.is_some() => {
                page.after = Some(last.membership.id);
            }
            _ => break,
        }
    }
    Ok(events)
}
