//! An order extension: positions found after the customer decided go to
//! the customer for a new decision. The customer's page shows them as
//! awaiting beside what was decided before (frozen in the earlier
//! approval records); an approval made on the page as it was before
//! answers `ticket_changed`, because adding the positions changed the
//! ticket's version.

use pitwall_domain::messaging::{Channel, TemplateKind};
use pitwall_domain::tickets::{ActorKind, TimelineKind};
use pitwall_domain::workflow::{Stage, Trigger};
use pitwall_domain::{Feature, Permission, ServiceId, TicketId};
use pitwall_store::{activity, tickets};
use serde_json::json;

use crate::links::{self, Issued};
use crate::tickets::TicketView;
use crate::{App, Error, FieldError, Result, ShopCtx};

pub struct ExtensionSent {
    pub ticket: TicketView,
    /// The link that carries it, when one was sent.
    pub issued: Option<Issued>,
}

/// Sends positions awaiting the customer's decision as an extension
/// (`services.edit`; with `send`, `customer_links.send` too): each is
/// marked ready, the timeline says `extension_sent`, the ticket waits for
/// approval again, and with `send` (`sms` or `email`) a link goes out
/// with the shop's `extension` template. A link that cannot go out (no
/// customer, opted out) refuses the whole step.
pub async fn send_extension(
    app: &App,
    ctx: &ShopCtx,
    ticket_id: TicketId,
    service_ids: &[ServiceId],
    send: Option<&str>,
) -> Result<ExtensionSent> {
    app.require(ctx, Permission::ServicesEdit).await?;
    ctx.require_feature(Feature::RepairOrders)?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let ticket = tickets::get(&app.db, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let send = send.map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = send
        && Channel::outbound(s).is_none()
    {
        return Err(Error::invalid("send", "must be sms, email or null"));
    }
    if service_ids.is_empty() {
        return Err(Error::invalid(
            "service_ids",
            "name at least one position to send",
        ));
    }
    let services = tickets::services(&app.db, shop, ticket_id).await?;
    let mut problems = Vec::new();
    let mut chosen = Vec::new();
    for (n, id) in service_ids.iter().enumerate() {
        let field = format!("service_ids/{n}");
        match services.iter().find(|s| s.id == id.as_uuid() && !s.removed) {
            None => problems.push(FieldError {
                field,
                message: "is not a position of this ticket".into(),
            }),
            Some(s) if !crate::approvals::awaits_decision(&s.status) => problems.push(FieldError {
                field,
                message: format!("is {}: the customer already decided on it", s.status),
            }),
            Some(s) if chosen.iter().any(|c: &&tickets::Service| c.id == s.id) => {
                problems.push(FieldError {
                    field,
                    message: "is named twice".into(),
                })
            }
            Some(s) => chosen.push(s),
        }
    }
    if !problems.is_empty() {
        return Err(Error::InvalidFields(problems));
    }
    let stage = ticket.stage_value()?;
    if matches!(stage, Stage::Completed | Stage::Canceled) {
        return Err(Error::Conflict {
            field: "stage".into(),
            message: format!("is {stage}: the work on this ticket is closed"),
        });
    }
    let issued = match send {
        Some(s) => Some(
            links::issue(
                app,
                ctx,
                ticket_id,
                links::Issue {
                    send: Some(s),
                    replace: false,
                    template: TemplateKind::Extension,
                    attachment: None,
                },
            )
            .await?,
        ),
        None => None,
    };
    let txn = pitwall_store::begin_write(&app.db).await?;
    for s in &chosen {
        tickets::set_service_work(
            &txn,
            shop,
            ServiceId::from_uuid(s.id),
            tickets::ServiceWork {
                title: s.title.clone(),
                parts_needed: s.parts_needed,
                parts_status: s.parts_status.clone(),
                customer_note: s.customer_note.clone(),
                internal_note: s.internal_note.clone(),
                ready: true,
            },
        )
        .await?;
    }
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: ticket_id,
            kind: TimelineKind::ExtensionSent.as_str(),
            actor_kind: ActorKind::Staff.as_str(),
            actor_id: Some(ctx.user_id.as_uuid()),
            actor_name: Some(&ctx.user_name),
            data: json!({
                "services": chosen.iter().map(|s| json!({"id": s.id, "title": s.title, "amount": s.subtotal})).collect::<Vec<_>>(),
                "how": send.unwrap_or("none"),
                "link_id": issued.as_ref().map(|i| i.link.id),
            }),
        },
    )
    .await?;
    let mut live = vec![crate::timeline::timeline_live(shop, ticket_id, event.id)];
    let moved = super::advance(
        app,
        &txn,
        shop,
        &ctx.features,
        ticket_id,
        Trigger::RecommendationsSent,
        super::staff(ctx),
    )
    .await?;
    if let Some((_, more)) = &moved {
        live.extend(more.iter().cloned());
    }
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    tracing::info!(shop.id = %shop, ticket.id = %ticket_id, positions = chosen.len(), "extension sent");
    if let Some((stage, _)) = moved {
        super::status_for_stage(app, ctx, ticket_id, stage).await;
    }
    Ok(ExtensionSent {
        ticket: crate::tickets::view_after_change(app, ctx, ticket_id).await?,
        issued,
    })
}
