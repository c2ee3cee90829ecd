use chrono::{DateTime, Utc};
use pitwall_domain::tickets::{ActorKind, NotificationKind};
use pitwall_domain::{NotificationId, TicketId};
use pitwall_store::{activity, tickets};

use super::PosCtx;
use crate::timeline::Author;
use crate::{App, Error, Result};

pub struct NotificationView {
    pub notification: activity::Notification,
    pub ticket_external_id: String,
    pub ticket_number: String,
}

/// Unprocessed first (oldest first), then processed ones. The cursor says
/// which part and where: `u.<id>` or `p.<id>`.
pub async fn notifications(
    app: &App,
    pos: &PosCtx,
    cursor: Option<&str>,
    limit: u64,
) -> Result<(Vec<NotificationView>, Option<String>)> {
    let (mut processed, mut after) = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => (false, None),
        Some(c) => {
            let (part, id) = c
                .split_once('.')
                .ok_or_else(|| Error::invalid("cursor", "is not a cursor this API returned"))?;
            let id = uuid::Uuid::parse_str(id)
                .map_err(|_| Error::invalid("cursor", "is not a cursor this API returned"))?;
            match part {
                "u" => (false, Some(id)),
                "p" => (true, Some(id)),
                _ => {
                    return Err(Error::invalid(
                        "cursor",
                        "is not a cursor this API returned",
                    ));
                }
            }
        }
    };
    let shop = pos.shop_id();
    let mut rows = activity::notifications(&app.db, shop, processed, after, limit + 1).await?;
    if !processed && (rows.len() as u64) < limit + 1 {
        // Unprocessed ones are exhausted: continue into processed ones.
        let more =
            activity::notifications(&app.db, shop, true, None, limit + 1 - rows.len() as u64)
                .await?;
        rows.extend(more);
    }
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if has_more {
        rows.last().map(|n| {
            processed = n.processed_at.is_some();
            after = Some(n.id);
            format!("{}.{}", if processed { "p" } else { "u" }, n.id)
        })
    } else {
        None
    };
    let mut out = Vec::with_capacity(rows.len());
    for n in rows {
        let t = tickets::get(&app.db, shop, TicketId::from_uuid(n.ticket_id)).await?;
        out.push(NotificationView {
            ticket_external_id: t
                .as_ref()
                .map(|t| t.external_id.clone())
                .unwrap_or_default(),
            ticket_number: t.map(|t| t.number).unwrap_or_default(),
            notification: n,
        });
    }
    Ok((out, next))
}

/// Marks a notification processed. Processing `work_approved` adds a comment
/// to the ticket naming what was approved, by whom and when; doing it twice
/// adds nothing more.
pub async fn process_notification(
    app: &App,
    pos: &PosCtx,
    id: NotificationId,
) -> Result<NotificationView> {
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let n = activity::notification(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("notification"))?;
    let first_time = activity::mark_processed(&txn, shop, id).await?;
    let tid = TicketId::from_uuid(n.ticket_id);
    let mut announced = None;
    if first_time && n.kind == NotificationKind::WorkApproved.as_str() {
        let data: serde_json::Value = serde_json::from_str(&n.data).unwrap_or_default();
        let list = |key: &str| {
            data[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        let mut body = format!(
            "Work approved by {} ({}) on {}: {}.",
            data["approved_by"].as_str().unwrap_or("the customer"),
            data["method"]
                .as_str()
                .unwrap_or("online")
                .replace('_', " "),
            data["approved_at"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| pitwall_domain::timer::local_display(
                    t.with_timezone(&Utc),
                    &pos.shop.time_zone
                ))
                .unwrap_or_default(),
            if list("approved_services").is_empty() {
                "nothing".to_owned()
            } else {
                list("approved_services")
            },
        );
        let declined = list("declined_services");
        if !declined.is_empty() {
            body.push_str(&format!(" Declined: {declined}."));
        }
        let (_, live) = crate::timeline::add_comment(
            &txn,
            shop,
            activity::NewComment {
                ticket: tid,
                source: "pitwall",
                external_id: None,
                author_user_id: None,
                author_name: "Pitwall",
                body: &body,
            },
            Author {
                kind: ActorKind::System,
                id: None,
            },
            Some(("notification_id", n.id)),
        )
        .await?;
        announced = Some(app.live.announce(vec![live]));
    }
    let n = activity::notification(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("notification"))?;
    let t = tickets::get(&txn, shop, tid).await?;
    txn.commit().await?;
    if let Some(a) = announced {
        app.live.after_commit(a);
    }
    Ok(NotificationView {
        ticket_external_id: t
            .as_ref()
            .map(|t| t.external_id.clone())
            .unwrap_or_default(),
        ticket_number: t.map(|t| t.number).unwrap_or_default(),
        notification: n,
    })
}
