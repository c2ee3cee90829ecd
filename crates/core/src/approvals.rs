//! Approvals: the one routine that records a customer's decision on a
//! ticket's work, whoever hands it in (the customer through the link, staff
//! for an in-person or phone approval), and the staff views of the record
//! with its chain check.
//!
//! One approval, one transaction: the services' statuses, the totals, the
//! evidence record (hash-chained to the ticket's previous approval), the
//! version bump that makes any page showing the old prices stale, the
//! timeline event, the POS notification, the shop's webhook deliveries and
//! the live announcement. Any failure leaves none of them.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use pitwall_domain::approvals::{
    self as rules, ApprovalMethod, Canonical, FindingSnapshot, LineSnapshot, ServiceSnapshot,
};
use pitwall_domain::tickets::{ActorKind, NotificationKind, ServiceStatus, TimelineKind};
use pitwall_domain::workflow::Trigger;
use pitwall_domain::{
    ApprovalId, Feature, Permission, ServiceId, ShopId, TicketId, UserId, values,
};
use pitwall_store::approvals::{self as store, Approval};
use pitwall_store::customer_links::CustomerLink;
use pitwall_store::sea_orm::Set;
use pitwall_store::workflow::MovedBy;
use pitwall_store::{activity, tickets};
use serde_json::json;

use crate::features::FeatureSet;
use crate::live::LiveEvent;
use crate::outreach::{self, Sender};
use crate::{App, Error, Result, ShopCtx};

/// Who hands the decision in, and how.
pub(crate) enum By<'a> {
    Customer {
        link: &'a CustomerLink,
        ip: Option<&'a str>,
        user_agent: Option<&'a str>,
    },
    Staff {
        user: UserId,
        name: &'a str,
        method: ApprovalMethod,
    },
}

/// What the customer decided.
pub struct Decision {
    pub approved: Vec<ServiceId>,
    pub declined: Vec<ServiceId>,
    pub signer_name: Option<String>,
    pub signature: Option<String>,
    pub note: Option<String>,
    /// The ticket version the customer was shown; required through the
    /// link, optional for staff (who look at the current ticket).
    pub ticket_version: Option<i32>,
}

/// Services a customer still decides on.
pub fn awaits_decision(status: &str) -> bool {
    matches!(
        ServiceStatus::parse(status),
        Some(ServiceStatus::Recommended | ServiceStatus::Pending)
    )
}

fn unique(ids: &[ServiceId]) -> HashSet<uuid::Uuid> {
    ids.iter().map(|s| s.as_uuid()).collect()
}

/// Records a decision. Returns the approval and whether it is new (`false`:
/// the same decision on the same version was handed in twice, and the
/// first record is the answer).
pub(crate) async fn record(
    app: &App,
    shop_row: &pitwall_store::shops::Shop,
    features: &FeatureSet,
    ticket_id: TicketId,
    by: By<'_>,
    d: Decision,
) -> Result<Recorded> {
    let shop = ShopId::from_uuid(shop_row.id);
    let (method, is_customer) = match &by {
        By::Customer { .. } => (ApprovalMethod::CustomerLink, true),
        By::Staff { method, .. } => (*method, false),
    };
    // Form first: nothing is read or written for a malformed decision.
    let signer_name = values::optional_text(d.signer_name.as_deref(), 100)
        .map_err(Error::field("signer_name"))?;
    let signature = match d.signature.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(rules::parse_signature(raw).map_err(Error::field("signature"))?),
    };
    let note = values::optional_text(d.note.as_deref(), 1000).map_err(Error::field("note"))?;
    if method != ApprovalMethod::Phone && signer_name.is_none() {
        return Err(Error::invalid("signer_name", "is required: type your name"));
    }
    if method != ApprovalMethod::Phone && signature.is_none() {
        return Err(Error::invalid("signature", "is required: sign in the box"));
    }
    if is_customer && d.ticket_version.is_none() {
        return Err(Error::invalid(
            "ticket_version",
            "is required: send the ticket_version you showed",
        ));
    }
    let approved_ids = unique(&d.approved);
    let declined_ids = unique(&d.declined);
    if approved_ids.is_empty() && declined_ids.is_empty() {
        return Err(Error::invalid(
            "approved_service_ids",
            "name at least one service to approve or decline",
        ));
    }
    if approved_ids.intersection(&declined_ids).next().is_some() {
        return Err(Error::invalid(
            "declined_service_ids",
            "cannot also be approved",
        ));
    }

    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::get(&txn, shop, ticket_id)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    if let Some(shown) = d.ticket_version
        && shown != ticket.version
    {
        // The same decision sent twice (a double tap, a retried request)
        // finds the record the first one made.
        if let Some(prev) = store::of_ticket(&txn, shop, ticket_id)
            .await?
            .into_iter()
            .rev()
            .find(|a| a.ticket_version == shown)
            && same_decision(&prev, &approved_ids, &declined_ids)
        {
            return Ok(Recorded {
                approval: prev,
                new: false,
                stage: None,
            });
        }
        return Err(Error::TicketChanged {
            shown,
            current: ticket.version,
        });
    }
    if ticket.closed && is_customer {
        return Err(Error::Conflict {
            field: "ticket".into(),
            message: "is closed; call the shop to change the work".into(),
        });
    }
    let services: Vec<tickets::Service> = tickets::services(&txn, shop, ticket_id)
        .await?
        .into_iter()
        .filter(|s| !s.removed)
        .collect();
    for (field, ids) in [
        ("approved_service_ids", &approved_ids),
        ("declined_service_ids", &declined_ids),
    ] {
        for id in ids {
            let Some(s) = services.iter().find(|s| s.id == *id) else {
                return Err(Error::invalid(
                    field,
                    format!("{id} is not a service of this ticket"),
                ));
            };
            if is_customer && !awaits_decision(&s.status) {
                return Err(Error::invalid(
                    field,
                    format!("{:?} is already {}", s.title, s.status),
                ));
            }
        }
    }
    if is_customer {
        let open: Vec<&tickets::Service> = services
            .iter()
            .filter(|s| awaits_decision(&s.status))
            .filter(|s| !approved_ids.contains(&s.id) && !declined_ids.contains(&s.id))
            .collect();
        if let Some(s) = open.first() {
            return Err(Error::invalid(
                "declined_service_ids",
                format!(
                    "must name every service not approved; {:?} is in neither list",
                    s.title
                ),
            ));
        }
    }

    let now = rules::stored_instant(Utc::now());
    let approved: Vec<&tickets::Service> = services
        .iter()
        .filter(|s| approved_ids.contains(&s.id))
        .collect();
    let declined: Vec<&tickets::Service> = services
        .iter()
        .filter(|s| declined_ids.contains(&s.id))
        .collect();
    let ids = |v: &[&tickets::Service]| v.iter().map(|s| s.id).collect::<Vec<_>>();
    tickets::set_service_status(
        &txn,
        shop,
        &ids(&approved),
        ServiceStatus::Approved.as_str(),
    )
    .await?;
    tickets::set_service_status(
        &txn,
        shop,
        &ids(&declined),
        ServiceStatus::Declined.as_str(),
    )
    .await?;
    let totals = crate::tickets::recompute_totals(&txn, shop, &ticket).await?;
    let items = tickets::line_items(&txn, shop, ticket_id).await?;
    let decided: Vec<uuid::Uuid> = approved.iter().chain(&declined).map(|s| s.id).collect();
    let findings = finding_snapshots(&txn, shop, &decided).await?;
    let snapshot = |v: &[&tickets::Service]| -> Vec<ServiceSnapshot> {
        v.iter()
            .map(|s| ServiceSnapshot {
                id: s.id,
                title: s.title.clone(),
                subtotal: s.subtotal,
                line_items: items
                    .iter()
                    .filter(|l| l.service_id == s.id)
                    .map(|l| LineSnapshot {
                        kind: l.kind.clone(),
                        description: l.description.clone(),
                        quantity_milli: l.quantity_milli,
                        unit_price: l.unit_price,
                        amount: l.amount,
                        taxable: l.taxable,
                    })
                    .collect(),
                finding: findings.get(&s.id).cloned(),
            })
            .collect()
    };
    let approved_json =
        serde_json::to_string(&snapshot(&approved)).map_err(|e| Error::Internal(e.to_string()))?;
    let declined_json =
        serde_json::to_string(&snapshot(&declined)).map_err(|e| Error::Internal(e.to_string()))?;
    let approved_total: i64 = approved.iter().map(|s| s.subtotal).sum();

    let prev = store::last_of_ticket(&txn, shop, ticket_id).await?;
    let seq = prev.as_ref().map_or(1, |p| p.seq + 1);
    let prev_hash = prev.map(|p| p.hash);
    let id = ApprovalId::new().as_uuid();
    let (link_id, ip, user_agent, staff_id, staff_name) = match &by {
        By::Customer {
            link,
            ip,
            user_agent,
        } => (
            Some(link.id),
            ip.map(|s| truncate(s, 64)),
            user_agent.map(|s| truncate(s, 500)),
            None,
            None,
        ),
        By::Staff { user, name, .. } => (
            None,
            None,
            None,
            Some(user.as_uuid()),
            Some(name.to_string()),
        ),
    };
    let signer = signer_name.clone().unwrap_or_default();
    let hash = Canonical {
        format: rules::FORMAT,
        id,
        shop_id: shop.as_uuid(),
        ticket_id: ticket_id.as_uuid(),
        seq,
        method: method.as_str(),
        link_id,
        staff_id,
        staff_name: staff_name.as_deref(),
        signer_name: &signer,
        signature: signature.as_deref(),
        approved: &approved_json,
        declined: &declined_json,
        approved_total,
        subtotal: totals.subtotal,
        tax: totals.tax,
        total: totals.total,
        currency: &ticket.currency,
        ticket_version: ticket.version,
        ip: ip.as_deref(),
        user_agent: user_agent.as_deref(),
        note: note.as_deref(),
        created_at: rules::canonical_time(now),
        prev_hash: prev_hash.as_deref(),
    }
    .hash();
    let approval = store::insert(
        &txn,
        store::NewApproval {
            id: Set(id),
            shop_id: Set(shop.as_uuid()),
            ticket_id: Set(ticket_id.as_uuid()),
            seq: Set(seq),
            method: Set(method.as_str().to_owned()),
            link_id: Set(link_id),
            staff_id: Set(staff_id),
            staff_name: Set(staff_name.clone()),
            signer_name: Set(signer.clone()),
            signature: Set(signature),
            approved: Set(approved_json),
            declined: Set(declined_json),
            approved_total: Set(approved_total),
            subtotal: Set(totals.subtotal),
            tax: Set(totals.tax),
            total: Set(totals.total),
            currency: Set(ticket.currency.clone()),
            ticket_version: Set(ticket.version),
            ip: Set(ip),
            user_agent: Set(user_agent),
            note: Set(note.clone()),
            created_at: Set(now),
            prev_hash: Set(prev_hash),
            hash: Set(hash),
        },
    )
    .await?;
    tickets::bump_version_approved(&txn, shop, ticket_id, now).await?;

    let titles = |v: &[&tickets::Service]| v.iter().map(|s| s.title.clone()).collect::<Vec<_>>();
    let summary = |v: &[&tickets::Service]| {
        v.iter()
            .map(|s| json!({"id": s.id, "title": s.title, "amount": s.subtotal}))
            .collect::<Vec<_>>()
    };
    let (actor_kind, actor_id, actor_name) = match &by {
        By::Customer { .. } => (ActorKind::Customer, None, Some(signer.clone())),
        By::Staff { user, name, .. } => (
            ActorKind::Staff,
            Some(user.as_uuid()),
            Some(name.to_string()),
        ),
    };
    let kind = if approved.is_empty() {
        TimelineKind::WorkDeclined
    } else {
        TimelineKind::WorkApproved
    };
    let event = activity::record_event(
        &txn,
        shop,
        activity::NewEvent {
            ticket: ticket_id,
            kind: kind.as_str(),
            actor_kind: actor_kind.as_str(),
            actor_id,
            actor_name: actor_name.as_deref(),
            data: json!({
                "approval_id": approval.id,
                "method": method,
                "signer_name": signer,
                "approved": summary(&approved),
                "declined": summary(&declined),
                "approved_total": approved_total,
                "total": totals.total,
                "note": note,
            }),
        },
    )
    .await?;
    let by_whom = match &by {
        By::Customer { .. } => signer.clone(),
        By::Staff { name, .. } => name.to_string(),
    };
    let pos_payload = json!({
        "approval_id": approval.id,
        "approved_services": titles(&approved),
        "declined_services": titles(&declined),
        "approved_service_ids": ids(&approved),
        "declined_service_ids": ids(&declined),
        "approved_by": by_whom,
        "signer_name": signer,
        "method": method,
        "approved_at": now,
        "approved_total": approved_total,
        "timeline_event_id": event.id,
    });
    let pos_kind = if approved.is_empty() {
        NotificationKind::TicketUpdate
    } else {
        NotificationKind::WorkApproved
    };
    activity::notify_pos(
        &txn,
        shop,
        ticket_id,
        pos_kind.as_str(),
        pos_payload.clone(),
    )
    .await?;
    if !approved.is_empty() && features.has(Feature::RepairOrders) {
        confirm(
            &txn,
            app,
            Sender {
                shop: shop_row,
                features,
            },
            &ticket,
            &approved,
            approved_total,
            by_user(&by),
        )
        .await?;
    }
    if features.has(Feature::Webhooks) {
        pitwall_jobs::webhooks::enqueue(
            &txn,
            shop,
            kind.as_str(),
            json!({
                "event": kind.as_str(),
                "created_at": now,
                "shop_id": shop,
                "ticket_id": ticket_id,
                "ticket_number": ticket.number,
                "ticket_external_id": ticket.external_id,
                "data": pos_payload,
            }),
        )
        .await?;
    }
    let mut live = vec![
        crate::timeline::timeline_live(shop, ticket_id, event.id),
        LiveEvent::new(
            shop,
            Some(ticket_id.as_uuid()),
            kind.as_str(),
            Some(event.id),
        ),
    ];
    // Approved work goes to the workshop; a decline alone moves nothing.
    let stage = if approved.is_empty() {
        None
    } else {
        let by = match &by {
            By::Customer { .. } => MovedBy {
                kind: ActorKind::Customer.as_str(),
                user: None,
                name: Some(&signer),
            },
            By::Staff { user, name, .. } => MovedBy {
                kind: ActorKind::Staff.as_str(),
                user: Some(user.as_uuid()),
                name: Some(name),
            },
        };
        match crate::workflow::advance(
            app,
            &txn,
            shop,
            features,
            ticket_id,
            Trigger::WorkApproved,
            by,
        )
        .await?
        {
            Some((stage, more)) => {
                live.extend(more);
                Some(stage)
            }
            None => None,
        }
    };
    let announced = app.live.announce(live);
    txn.commit().await?;
    app.live.after_commit(announced);
    app.jobs.nudge();
    tracing::info!(shop.id = %shop, ticket.id = %ticket_id, approval.id = %approval.id, method = %method, "approval recorded");
    Ok(Recorded {
        approval,
        new: true,
        stage,
    })
}

/// What [`record`] did: the evidence record, whether it is new (not the
/// same decision handed in again), and the stage the work moved to.
pub(crate) struct Recorded {
    pub approval: Approval,
    pub new: bool,
    pub stage: Option<pitwall_domain::workflow::Stage>,
}

fn by_user(by: &By<'_>) -> Option<UserId> {
    match by {
        By::Customer { .. } => None,
        By::Staff { user, .. } => Some(*user),
    }
}

/// The customer's confirmation of what they approved (repair-order
/// workflow), written in the approval's transaction from the shop's
/// `confirmation` template, as every message Pitwall sends by itself.
async fn confirm(
    txn: &impl pitwall_store::sea_orm::ConnectionTrait,
    app: &App,
    sender: Sender<'_>,
    ticket: &tickets::Ticket,
    approved: &[&tickets::Service],
    approved_total: i64,
    by: Option<UserId>,
) -> Result<()> {
    let work = approved
        .iter()
        .map(|s| s.title.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    outreach::queue_automatic(
        txn,
        &app.config.clock,
        sender,
        ticket,
        outreach::Automatic {
            template: pitwall_domain::messaging::TemplateKind::Confirmation,
            extra: &|customer| {
                let locale = pitwall_domain::locale::Locale::choose(
                    customer.locale.as_deref(),
                    &sender.shop.locale,
                );
                vec![
                    ("approved_work", work.clone()),
                    (
                        "approved_total",
                        locale.money(approved_total, &ticket.currency),
                    ),
                ]
            },
            subject: format!("{}: work approved", sender.shop.name),
            by,
            link_base: None,
        },
    )
    .await?;
    Ok(())
}

fn same_decision(
    a: &Approval,
    approved: &HashSet<uuid::Uuid>,
    declined: &HashSet<uuid::Uuid>,
) -> bool {
    let ids = |raw: &str| -> HashSet<uuid::Uuid> {
        serde_json::from_str::<Vec<ServiceSnapshot>>(raw)
            .map(|v| v.into_iter().map(|s| s.id).collect())
            .unwrap_or_default()
    };
    ids(&a.approved) == *approved && ids(&a.declined) == *declined
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// For each decided service that came from an inspection finding: the
/// finding's condition and media as they are now, which is what the
/// customer saw (findings of a published inspection no longer change).
async fn finding_snapshots(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    services: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, FindingSnapshot>> {
    let findings = pitwall_store::inspections::findings_of_services(db, shop, services).await?;
    let ids: Vec<uuid::Uuid> = findings.iter().map(|f| f.id).collect();
    let media = pitwall_store::media::of_findings(db, shop, &ids).await?;
    let mut out = HashMap::new();
    for f in findings {
        let Some(service) = f.service_id else {
            continue;
        };
        // Newest first: a service linked from two findings keeps the latest.
        out.entry(service).or_insert_with(|| FindingSnapshot {
            inspection_id: f.inspection_id,
            item_key: f.item_key.clone(),
            condition: f.condition.clone(),
            media_ids: media
                .iter()
                .filter(|m| m.finding_id == f.id)
                .map(|m| m.id)
                .collect(),
        });
    }
    Ok(out)
}

/// An approval as staff read it, with the snapshots parsed.
#[derive(Debug, Clone)]
pub struct ApprovalView {
    pub record: Approval,
    pub approved: Vec<ServiceSnapshot>,
    pub declined: Vec<ServiceSnapshot>,
}

impl ApprovalView {
    pub fn of(record: Approval) -> Result<Self> {
        let parse = |raw: &str| {
            serde_json::from_str::<Vec<ServiceSnapshot>>(raw)
                .map_err(|e| Error::Internal(format!("approval {} snapshot: {e}", record.id)))
        };
        Ok(Self {
            approved: parse(&record.approved)?,
            declined: parse(&record.declined)?,
            record,
        })
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
}

/// A ticket's approvals, oldest first.
pub async fn list(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<Vec<ApprovalView>> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    tickets::get(&app.db, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    store::of_ticket(&app.db, shop, ticket)
        .await?
        .into_iter()
        .map(ApprovalView::of)
        .collect()
}

/// One approval (the "Work approved" event opens it).
pub async fn get(app: &App, ctx: &ShopCtx, id: ApprovalId) -> Result<ApprovalView> {
    app.require(ctx, Permission::TicketsView).await?;
    let a = store::get(&app.db, ctx.shop_id(), id.as_uuid())
        .await?
        .ok_or(Error::NotFound("approval"))?;
    ApprovalView::of(a)
}

/// The chain check of one approval.
#[derive(Debug, Clone)]
pub struct Verified {
    pub approval_id: uuid::Uuid,
    pub seq: i32,
    pub hash: String,
    pub link: rules::Link,
}

/// Recomputes every approval's hash of a ticket and follows the chain.
pub async fn verify(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<Vec<Verified>> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    tickets::get(&app.db, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let all = store::of_ticket(&app.db, shop, ticket).await?;
    let rows: Vec<(String, String, Option<String>, i32)> = all
        .iter()
        .map(|a| (recompute(a), a.hash.clone(), a.prev_hash.clone(), a.seq))
        .collect();
    Ok(rules::check_chain(&rows)
        .into_iter()
        .zip(&all)
        .map(|(link, a)| Verified {
            approval_id: a.id,
            seq: a.seq,
            hash: a.hash.clone(),
            link,
        })
        .collect())
}

/// The hash of what is stored now.
fn recompute(a: &Approval) -> String {
    Canonical {
        format: rules::FORMAT,
        id: a.id,
        shop_id: a.shop_id,
        ticket_id: a.ticket_id,
        seq: a.seq,
        method: &a.method,
        link_id: a.link_id,
        staff_id: a.staff_id,
        staff_name: a.staff_name.as_deref(),
        signer_name: &a.signer_name,
        signature: a.signature.as_deref(),
        approved: &a.approved,
        declined: &a.declined,
        approved_total: a.approved_total,
        subtotal: a.subtotal,
        tax: a.tax,
        total: a.total,
        currency: &a.currency,
        ticket_version: a.ticket_version,
        ip: a.ip.as_deref(),
        user_agent: a.user_agent.as_deref(),
        note: a.note.as_deref(),
        created_at: rules::canonical_time(a.created_at),
        prev_hash: a.prev_hash.as_deref(),
    }
    .hash()
}

/// What recording an approval answers: the record (the pages open it) and
/// the ticket as it is now (the API answers it).
pub struct StaffApproval {
    pub approval: Approval,
    pub ticket: crate::tickets::TicketView,
}

/// Staff record an approval the customer gave in person (signed on the
/// staff device) or by phone.
pub async fn record_by_staff(
    app: &App,
    ctx: &ShopCtx,
    ticket: TicketId,
    method: &str,
    d: Decision,
) -> Result<StaffApproval> {
    app.require(ctx, Permission::ApprovalsRecord).await?;
    ctx.require_feature(Feature::Approvals)?;
    ctx.require_writable()?;
    // Another shop's ticket is not found, whatever else is wrong.
    tickets::get(&app.db, ctx.shop_id(), ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let method = match ApprovalMethod::parse(method) {
        Some(m @ (ApprovalMethod::InPerson | ApprovalMethod::Phone)) => m,
        _ => return Err(Error::invalid("method", "must be in_person or phone")),
    };
    let recorded = record(
        app,
        &ctx.shop,
        &ctx.features,
        ticket,
        By::Staff {
            user: ctx.user_id,
            name: &ctx.user_name,
            method,
        },
        d,
    )
    .await?;
    if let Some(stage) = recorded.stage {
        crate::workflow::status_for_stage(app, ctx, ticket, stage).await;
    }
    let view = crate::tickets::view_after_change(app, ctx, ticket).await?;
    Ok(StaffApproval {
        approval: recorded.approval,
        ticket: view,
    })
}

/// Staff saw the approval: the dashboard highlight goes.
pub async fn acknowledge(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<()> {
    app.require(ctx, Permission::TicketsView).await?;
    let shop = ctx.shop_id();
    if tickets::mark_approval_seen(&app.db, shop, ticket).await? {
        let announced = app.live.announce(vec![LiveEvent::new(
            shop,
            Some(ticket.as_uuid()),
            "approval_seen",
            None,
        )]);
        app.live.after_commit(announced);
    }
    Ok(())
}
