use std::collections::HashMap;

use pitwall_store::{activity, tickets};
use serde_json::json;

use super::write::{FirstStatus, Pending, write};
use super::{MAX_BATCH, PosCtx, TicketInput, external_id, require_writable, validate};
use crate::tickets::{TicketView, view};
use crate::{App, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    /// The same `pos_updated_at` as stored: a repeat, nothing changed.
    Unchanged,
    /// Older than what is stored: nothing changed.
    Stale,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Stale => "stale",
        }
    }
}

pub struct Pushed {
    pub outcome: Outcome,
    pub ticket: TicketView,
}

/// Records a push the API refused before it reached a use case (a body
/// that is not the documented shape), so that sync health shows it.
pub async fn record_rejected(
    app: &App,
    pos: &PosCtx,
    operation: &str,
    external_id: Option<&str>,
    errors: &[crate::FieldError],
    payload: Option<&str>,
) -> Result<()> {
    // Kept for support to read; large bodies are cut.
    let payload = payload.map(|p| p.chars().take(16_384).collect::<String>());
    activity::record_sync(
        &app.db,
        pos.shop_id(),
        activity::NewSyncEvent {
            operation,
            external_id,
            outcome: "rejected",
            errors: Some(json!(errors)),
            payload,
        },
    )
    .await?;
    Ok(())
}

/// Creates or updates one ticket. `raw` is the body as sent, kept only if it
/// is rejected.
pub async fn put_ticket(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &TicketInput,
    raw: Option<&str>,
) -> Result<Pushed> {
    let pending = checked(app, pos, external_id_raw, input, raw).await?;
    let mut written = write(app, pos, &[pending], &mut FirstStatus::default()).await?;
    let (outcome, ticket) = written.pop().ok_or(Error::NotFound("ticket"))?;
    let ticket = view(&app.db, pos.shop_id(), ticket, app.config.clock.now()).await?;
    Ok(Pushed { outcome, ticket })
}

/// Checks one pushed ticket; a rejected one is kept in the sync log.
async fn checked(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &TicketInput,
    raw: Option<&str>,
) -> Result<Pending> {
    let ext = external_id("external_id", external_id_raw)?;
    require_writable(pos)?;
    match validate(input, &pos.shop.country) {
        Ok(ticket) => Ok(Pending { ext, ticket }),
        Err(Error::InvalidFields(errors)) => {
            record_rejected(app, pos, "ticket.put", Some(&ext), &errors, raw).await?;
            Err(Error::InvalidFields(errors))
        }
        Err(e) => Err(e),
    }
}

pub async fn get_ticket(app: &App, pos: &PosCtx, external_id_raw: &str) -> Result<TicketView> {
    let ext = external_id("external_id", external_id_raw)?;
    let t = tickets::by_external_id(&app.db, pos.shop_id(), &ext)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    view(&app.db, pos.shop_id(), t, app.config.clock.now()).await
}

/// One ticket of a batch, answered on its own.
pub enum BatchResult {
    Pushed(Box<Pushed>),
    Failed(Error),
}

pub struct BatchItem<'a> {
    pub external_id: String,
    /// The ticket, or the problems found while reading it.
    pub input: std::result::Result<TicketInput, Vec<crate::FieldError>>,
    pub raw: Option<&'a str>,
}

pub async fn put_batch(
    app: &App,
    pos: &PosCtx,
    items: Vec<BatchItem<'_>>,
) -> Result<Vec<BatchResult>> {
    if items.len() > MAX_BATCH {
        return Err(Error::invalid(
            "tickets",
            format!("must have at most {MAX_BATCH} tickets"),
        ));
    }
    require_writable(pos)?;
    // Each ticket is checked on its own, and a bad one is answered on its
    // own; the good ones are written together.
    let mut checked_items: Vec<std::result::Result<Pending, Error>> =
        Vec::with_capacity(items.len());
    for item in items {
        let res = match item.input {
            Ok(input) => checked(app, pos, &item.external_id, &input, item.raw).await,
            Err(errors) => {
                record_rejected(
                    app,
                    pos,
                    "ticket.put",
                    Some(&item.external_id),
                    &errors,
                    item.raw,
                )
                .await?;
                Err(Error::InvalidFields(errors))
            }
        };
        if let Err(Error::Unavailable) = res {
            return Err(Error::Unavailable);
        }
        checked_items.push(res);
    }
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(checked_items.len());
    let mut pending = Vec::new();
    for res in checked_items {
        match res {
            Ok(p) => {
                pending.push(p);
                results.push(None);
            }
            Err(e) => results.push(Some(BatchResult::Failed(e))),
        }
    }
    let written = write(app, pos, &pending, &mut FirstStatus::default()).await?;
    // Every stored ticket's view in one go: a fixed number of queries for
    // the batch, not five per ticket. A ticket the batch names twice is
    // answered twice as it is stored at the end (the last write of it).
    let mut stored: HashMap<uuid::Uuid, tickets::Ticket> = HashMap::new();
    for (_, t) in &written {
        stored.insert(t.id, t.clone());
    }
    let views: HashMap<uuid::Uuid, TicketView> = crate::tickets::views(
        &app.db,
        pos.shop_id(),
        stored.into_values().collect(),
        app.config.clock.now(),
    )
    .await?
    .into_iter()
    .map(|v| (v.ticket.id, v))
    .collect();
    let mut answers = written
        .into_iter()
        .map(|(outcome, t)| match views.get(&t.id) {
            Some(ticket) => BatchResult::Pushed(Box::new(Pushed {
                outcome,
                ticket: ticket.clone(),
            })),
            None => BatchResult::Failed(Error::NotFound("ticket")),
        });
    Ok(results
        .into_iter()
        .map(|r| {
            r.or_else(|| answers.next())
                .unwrap_or(BatchResult::Failed(Error::NotFound("ticket")))
        })
        .collect())
}
