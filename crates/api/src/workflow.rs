//! The repair-order workflow (`/api/v1`, plan feature `repair_orders`): a
//! ticket's staff-only stage and the shop's workflow settings. The use
//! cases are `pitwall_core::workflow`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::domain::{ServiceId, TicketId};
use pitwall_core::workflow::{self, StageChange, StageRequest, WorkflowSettings};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Deserialize;

use crate::auth::{UserToken, shop_ctx};
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::ticket_models::TicketOut;

#[derive(Tags)]
pub enum WorkflowTags {
    /// The repair-order workflow: stages between technician, parts,
    /// advisor and customer, and the shop's targets for each hand-off.
    Workflow,
}

pub struct WorkflowApi;

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStageRequest {
    /// `inspection`, `qualification`, `awaiting_approval`, `in_work`,
    /// `completed` or `canceled`.
    pub stage: String,
    /// Why; required to cancel.
    #[serde(default)]
    #[oai(nullable)]
    pub reason: Option<String>,
    /// The ticket version your screen showed; a different one answers 409
    /// `ticket_changed`.
    #[serde(default)]
    #[oai(nullable)]
    pub ticket_version: Option<i32>,
}

/// One move of a ticket's stage.
#[derive(Debug, Clone, Object)]
pub struct StageChangeOut {
    pub id: uuid::Uuid,
    pub from: String,
    pub to: String,
    #[oai(nullable)]
    pub reason: Option<String>,
    /// `staff`, `customer` or `system`.
    pub actor_kind: String,
    /// The staff member, when staff moved it.
    #[oai(nullable)]
    pub actor_id: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub actor_name: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&StageChange> for StageChangeOut {
    fn from(c: &StageChange) -> Self {
        StageChangeOut {
            id: c.id,
            from: c.from_stage.clone(),
            to: c.to_stage.clone(),
            reason: c.reason.clone(),
            actor_kind: c.actor_kind.clone(),
            actor_id: c.changed_by,
            actor_name: c.actor_name.clone(),
            at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct SetStageResponse {
    pub change: StageChangeOut,
    pub ticket: TicketOut,
}

#[derive(Debug, Clone, Object)]
pub struct StageHistory {
    /// Oldest first.
    pub items: Vec<StageChangeOut>,
}

/// The shop's workflow settings. Minutes are targets for a hand-off
/// (null: none), from 1 to 10080.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettingsIo {
    /// How long findings may wait for parts and the advisor.
    #[serde(default)]
    #[oai(nullable)]
    pub qualification_minutes: Option<i32>,
    /// How long approved work may wait for its parts.
    #[serde(default)]
    #[oai(nullable)]
    pub parts_minutes: Option<i32>,
    /// When an unanswered approval request reminds the customer.
    #[serde(default)]
    #[oai(nullable)]
    pub approval_reminder_minutes: Option<i32>,
    /// Stage name → the vehicle status (id) a ticket gets when it enters
    /// that stage, so the customer sees progress without staff setting
    /// both. Stages left out set none.
    #[serde(default)]
    #[oai(default)]
    pub stage_statuses: BTreeMap<String, uuid::Uuid>,
    /// E-mail the staff each hand-off concerns: a ticket entering
    /// qualification to those who qualify (and to parts when a position
    /// needs parts), work approved to the assigned technician (or every
    /// technician) and to parts. The person who made the move gets none.
    #[serde(default)]
    #[oai(default)]
    pub handoff_emails: bool,
}

impl From<WorkflowSettings> for WorkflowSettingsIo {
    fn from(s: WorkflowSettings) -> Self {
        WorkflowSettingsIo {
            qualification_minutes: s.qualification_minutes,
            parts_minutes: s.parts_minutes,
            approval_reminder_minutes: s.approval_reminder_minutes,
            stage_statuses: s
                .stage_statuses
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_uuid()))
                .collect(),
            handoff_emails: s.handoff_emails,
        }
    }
}

/// A line of a position; money in minor units.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkLineIn {
    /// `labor`, `part` or `fee` (where the field allows it).
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    /// Minor units (cents).
    pub unit_price: i64,
    #[serde(default)]
    #[oai(default)]
    pub taxable: bool,
    /// Part lines: the supplier's number.
    #[serde(default)]
    #[oai(nullable)]
    pub part_number: Option<String>,
}

impl From<WorkLineIn> for workflow::WorkLine {
    fn from(l: WorkLineIn) -> Self {
        workflow::WorkLine {
            kind: l.kind,
            description: l.description,
            quantity: l.quantity,
            unit_price: l.unit_price,
            taxable: l.taxable,
            part_number: l.part_number,
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewServiceRequest {
    pub title: String,
    /// The advisor's words for the customer.
    #[serde(default)]
    #[oai(nullable)]
    pub customer_note: Option<String>,
    #[serde(default)]
    #[oai(default)]
    pub parts_needed: bool,
    #[serde(default)]
    #[oai(default)]
    pub line_items: Vec<WorkLineIn>,
}

/// A change to a position; a field left out stays as it is, an empty
/// note clears it. Each field belongs to a role: see the operation.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePatchRequest {
    #[serde(default)]
    #[oai(nullable)]
    pub title: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub customer_note: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub internal_note: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub parts_needed: Option<bool>,
    /// `needed`, `ordered` or `received`, forward only.
    #[serde(default)]
    #[oai(nullable)]
    pub parts_status: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub ready: Option<bool>,
    /// Replaces the labour and fee lines (`labor` or `fee`).
    #[serde(default)]
    #[oai(nullable)]
    pub labor_lines: Option<Vec<WorkLineIn>>,
    /// Replaces the part lines (`part`).
    #[serde(default)]
    #[oai(nullable)]
    pub part_lines: Option<Vec<WorkLineIn>>,
}

#[derive(Debug, Clone, Object)]
pub struct ServiceChangedOut {
    pub service_id: uuid::Uuid,
    pub ticket: TicketOut,
}

#[derive(ApiResponse)]
pub enum ServiceCreated {
    /// The position was added; the ticket as it is now.
    #[oai(status = 201)]
    Created(Json<ServiceChangedOut>),
}

fn changed(c: workflow::ServiceChanged) -> ServiceChangedOut {
    ServiceChangedOut {
        service_id: c.service.as_uuid(),
        ticket: TicketOut::from(&c.ticket),
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// Positions awaiting the customer's decision (`recommended` or
    /// `pending`).
    pub service_ids: Vec<uuid::Uuid>,
    /// `sms` or `email` to send the link with the shop's `extension`
    /// template; null to send nothing.
    #[serde(default)]
    #[oai(nullable)]
    pub send: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ExtensionOut {
    pub ticket: TicketOut,
    /// The customer link sent with it, shown this once.
    #[oai(nullable)]
    pub link_url: Option<String>,
    #[oai(nullable)]
    pub message_id: Option<uuid::Uuid>,
}

#[derive(ApiResponse)]
pub enum ExtensionCreated {
    /// Sent: the ticket awaits the customer's decision again.
    #[oai(status = 201)]
    Created(Json<ExtensionOut>),
}

#[OpenApi(prefix_path = "/api/v1")]
impl WorkflowApi {
    /// Send positions found after the customer decided as an order
    /// extension (`services.edit`; with `send`, `customer_links.send`):
    /// they are marked ready, the timeline says `extension_sent`, the
    /// ticket moves to `awaiting_approval` (from qualification or work),
    /// and with `send` a link goes out with the shop's `extension`
    /// template. The customer's page shows them as awaiting beside what was
    /// decided before; an approval made on the page as it was before
    /// answers 409 `ticket_changed`. Each bad id is named
    /// (`service_ids/{n}`).
    #[oai(
        path = "/tickets/:ticket_id/extensions",
        method = "post",
        tag = "WorkflowTags::Workflow",
        operation_id = "send_ticket_extension"
    )]
    async fn send_extension(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<ExtensionRequest>,
    ) -> Result<ExtensionCreated, crate::error::ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let ids: Vec<ServiceId> = body
            .0
            .service_ids
            .iter()
            .map(|i| ServiceId::from_uuid(*i))
            .collect();
        let sent = workflow::send_extension(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            &ids,
            body.0.send.as_deref(),
        )
        .await?;
        Ok(ExtensionCreated::Created(Json(ExtensionOut {
            ticket: TicketOut::from(&sent.ticket),
            link_url: sent.issued.as_ref().map(|i| i.url.clone()),
            message_id: sent
                .issued
                .as_ref()
                .and_then(|i| i.message.as_ref().map(|m| m.id)),
        })))
    }

    /// Add a position to the ticket (`services.edit`): a recommendation
    /// made in Pitwall (`source: pitwall`), priced by the same money rules
    /// as a POS push, kept by POS pushes until the POS sends it itself
    /// (external id `pitwall-{id}`), and told to the POS
    /// (`service_added`). Refused (409 naming `stage`) once the ticket is
    /// completed or canceled.
    #[oai(
        path = "/tickets/:ticket_id/services",
        method = "post",
        tag = "WorkflowTags::Workflow",
        operation_id = "add_ticket_service"
    )]
    async fn add_service(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<NewServiceRequest>,
    ) -> Result<ServiceCreated, crate::error::ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let c = workflow::add_service(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            workflow::NewService {
                title: b.title,
                customer_note: b.customer_note,
                parts_needed: b.parts_needed,
                line_items: b.line_items.into_iter().map(Into::into).collect(),
            },
        )
        .await?;
        Ok(ServiceCreated::Created(Json(changed(c))))
    }

    /// Change a position. Each field belongs to a role: `title`,
    /// `customer_note`, `ready` and `labor_lines` to `services.edit` (the
    /// advisor); `part_lines` and `parts_status` to `parts.edit`;
    /// `internal_note` to either; `parts_needed` to `services.edit` or
    /// `inspections.edit` (the technician). A field the caller's role does
    /// not own answers 403 naming the permission, and nothing changes.
    /// Lines of a position the POS sent are the POS's (409), and so is the
    /// price of a position the customer decided on (409 naming `status`).
    #[oai(
        path = "/tickets/:ticket_id/services/:service_id",
        method = "patch",
        tag = "WorkflowTags::Workflow",
        operation_id = "update_ticket_service"
    )]
    async fn edit_service(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        service_id: Path<uuid::Uuid>,
        body: JsonBody<ServicePatchRequest>,
    ) -> ApiResult<ServiceChangedOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let lines = |l: Option<Vec<WorkLineIn>>| l.map(|l| l.into_iter().map(Into::into).collect());
        let c = workflow::edit_service(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            ServiceId::from_uuid(service_id.0),
            workflow::ServicePatch {
                title: b.title,
                customer_note: b.customer_note.map(Some),
                internal_note: b.internal_note.map(Some),
                parts_needed: b.parts_needed,
                parts_status: b.parts_status,
                ready: b.ready,
                labor_lines: lines(b.labor_lines),
                part_lines: lines(b.part_lines),
                add_part: None,
                remove_line: None,
            },
        )
        .await?;
        Ok(Json(changed(c)))
    }

    /// Mark an approved position done (`services.complete`), once, after
    /// its parts were received. The last approved position done moves the
    /// ticket to `completed`.
    #[oai(
        path = "/tickets/:ticket_id/services/:service_id/done",
        method = "post",
        tag = "WorkflowTags::Workflow",
        operation_id = "complete_ticket_service"
    )]
    async fn complete_service(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        service_id: Path<uuid::Uuid>,
    ) -> ApiResult<ServiceChangedOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let c = workflow::complete_service(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            ServiceId::from_uuid(service_id.0),
        )
        .await?;
        Ok(Json(changed(c)))
    }

    /// Move the ticket's stage (`tickets.edit`). Forward one step at a
    /// time; back from `qualification` to `inspection` and from `in_work`
    /// to `qualification`; to `canceled` from any stage with a `reason`. A
    /// move the workflow forbids answers 409 `conflict` naming `stage`.
    /// The move is in the ticket's stage history and on its timeline
    /// (`stage_changed`); a status the shop mapped to the stage is set too.
    #[oai(
        path = "/tickets/:ticket_id/stage",
        method = "put",
        tag = "WorkflowTags::Workflow",
        operation_id = "set_ticket_stage"
    )]
    async fn set_stage(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<SetStageRequest>,
    ) -> ApiResult<SetStageResponse> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let moved = workflow::move_stage(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            StageRequest {
                stage: &b.stage,
                reason: b.reason.as_deref(),
                ticket_version: b.ticket_version,
            },
        )
        .await?;
        Ok(Json(SetStageResponse {
            change: StageChangeOut::from(&moved.change),
            ticket: TicketOut::from(&moved.ticket),
        }))
    }

    /// Every move of the ticket's stage, oldest first: who, when, from,
    /// to, why.
    #[oai(
        path = "/tickets/:ticket_id/stage-history",
        method = "get",
        tag = "WorkflowTags::Workflow",
        operation_id = "list_ticket_stage_history"
    )]
    async fn stage_history(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<StageHistory> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list = workflow::history(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(StageHistory {
            items: list.iter().map(StageChangeOut::from).collect(),
        }))
    }

    /// The shop's workflow settings.
    #[oai(
        path = "/workflow-settings",
        method = "get",
        tag = "WorkflowTags::Workflow",
        operation_id = "get_workflow_settings"
    )]
    async fn get_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<WorkflowSettingsIo> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        Ok(Json(workflow::settings(&app, &ctx).await?.into()))
    }

    /// Replace the shop's workflow settings (`shop.settings.manage`). Each
    /// problem is named (`qualification_minutes`,
    /// `stage_statuses/{stage}`...); nothing is saved while any remains.
    #[oai(
        path = "/workflow-settings",
        method = "put",
        tag = "WorkflowTags::Workflow",
        operation_id = "update_workflow_settings"
    )]
    async fn put_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<WorkflowSettingsIo>,
    ) -> ApiResult<WorkflowSettingsIo> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let saved = workflow::save_settings(
            &app,
            &ctx,
            workflow::WorkflowSettingsInput {
                qualification_minutes: b.qualification_minutes,
                parts_minutes: b.parts_minutes,
                approval_reminder_minutes: b.approval_reminder_minutes,
                stage_statuses: b.stage_statuses,
                handoff_emails: b.handoff_emails,
            },
        )
        .await?;
        Ok(Json(saved.into()))
    }
}
