//! Staff endpoints for the shop's daily work (`/api/v1`): tickets, vehicle
//! statuses (message setup), customers, the dashboard, the technician's
//! queue, sync health and the live event stream.

use futures::StreamExt;
use pitwall_core::domain::{CustomerId, ServiceId, StatusId, TicketId, UserId};
use pitwall_core::{App, approvals, customers, pos, statuses, tickets};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, OpenApi, Tags};

use crate::auth::{UserToken, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::staff::page;
use crate::ticket_models::*;

#[derive(Tags)]
pub enum TicketTags {
    /// Tickets, their status, comments, assignment and timeline.
    Tickets,
    /// The shop's vehicle statuses and what each tells the customer.
    MessageSetup,
    /// Customers and their vehicles.
    Customers,
    /// The active-customers dashboard and live updates.
    Dashboard,
}

pub struct TicketsApi;

#[derive(ApiResponse)]
pub enum CreateCustomerResponse {
    /// A new customer.
    #[oai(status = 201)]
    Created(Json<CustomerCreated>),
    /// The phone number found an existing customer; nothing was added.
    #[oai(status = 200)]
    Existing(Json<CustomerCreated>),
}

#[derive(ApiResponse)]
pub enum CreatedStatus {
    #[oai(status = 201)]
    Created(Json<VehicleStatusOut>),
}

#[OpenApi(prefix_path = "/api/v1")]
impl TicketsApi {
    /// Search and list tickets, newest first. `q` matches ticket number,
    /// customer name, phone (any format), plate and VIN; every word must match.
    #[oai(
        path = "/tickets",
        method = "get",
        tag = "TicketTags::Tickets",
        operation_id = "list_tickets"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_tickets(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        q: Query<Option<String>>,
        /// `estimate`, `workorder` or `invoice`.
        kind: Query<Option<String>>,
        /// `open`, `closed` or `all` (default).
        state: Query<Option<String>>,
        status_id: Query<Option<uuid::Uuid>>,
        advisor_id: Query<Option<uuid::Uuid>>,
        technician_id: Query<Option<uuid::Uuid>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> Result<crate::fast_json::SerdeJson<TicketList>, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = tickets::list(
            &app,
            &ctx,
            tickets::ListQuery {
                q: q.0.as_deref(),
                kind: kind.0.as_deref(),
                state: state.0.as_deref(),
                status_id: status_id.0.map(StatusId::from_uuid),
                advisor_id: advisor_id.0.map(UserId::from_uuid),
                technician_id: technician_id.0.map(UserId::from_uuid),
            },
            page(cursor.0, limit.0)?,
        )
        .await?;
        // The busiest list staff read: written by serde, not through a
        // JSON tree (crate::fast_json).
        Ok(crate::fast_json::SerdeJson(TicketList {
            items: p.items.iter().map(TicketOut::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// A ticket with its status history, comments, messages and the shop
    /// history of its customer and vehicle.
    #[oai(
        path = "/tickets/:ticket_id",
        method = "get",
        tag = "TicketTags::Tickets",
        operation_id = "get_ticket"
    )]
    async fn get_ticket(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<TicketDetailOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let d = tickets::get(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(TicketDetailOut::from(&d)))
    }

    /// Set the vehicle status. Records history and a timeline event and,
    /// when the status notifies the customer, queues the message(s), all in
    /// one transaction.
    #[oai(
        path = "/tickets/:ticket_id/status",
        method = "put",
        tag = "TicketTags::Tickets",
        operation_id = "set_ticket_status"
    )]
    async fn set_status(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<SetStatusRequest>,
    ) -> ApiResult<SetStatusResponse> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let r = tickets::set_status(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            StatusId::from_uuid(body.0.status_id),
            body.0.duration_minutes,
        )
        .await?;
        Ok(Json(SetStatusResponse {
            ticket: TicketOut::from(&r.view),
            messages: r.messages.iter().map(MessageOut::from).collect(),
        }))
    }

    /// Add an internal comment (the POS lists it too).
    #[oai(
        path = "/tickets/:ticket_id/comments",
        method = "post",
        tag = "TicketTags::Tickets",
        operation_id = "add_ticket_comment"
    )]
    async fn add_comment(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<CommentRequest>,
    ) -> ApiResult<CommentOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let c = tickets::add_comment(&app, &ctx, TicketId::from_uuid(ticket_id.0), &body.0.body)
            .await?;
        Ok(Json(CommentOut::from(&c)))
    }

    /// Set advisor, technician, priority and promised time (null clears).
    #[oai(
        path = "/tickets/:ticket_id/assignment",
        method = "put",
        tag = "TicketTags::Tickets",
        operation_id = "assign_ticket"
    )]
    async fn assign(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<AssignmentRequest>,
    ) -> ApiResult<TicketOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let v = tickets::assign(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            tickets::Assignment {
                advisor_id: b.advisor_id.map(UserId::from_uuid),
                technician_id: b.technician_id.map(UserId::from_uuid),
                priority: b.priority,
                promised_at: b.promised_at,
            },
        )
        .await?;
        Ok(Json(TicketOut::from(&v)))
    }

    /// Record an approval the customer gave in person or by phone. The POS
    /// gets a `work_approved` notification.
    #[oai(
        path = "/tickets/:ticket_id/approvals",
        method = "post",
        tag = "TicketTags::Tickets",
        operation_id = "record_ticket_approval"
    )]
    async fn record_approval(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<ApprovalRequest>,
    ) -> ApiResult<TicketOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let id = TicketId::from_uuid(ticket_id.0);
        let recorded = approvals::record_by_staff(
            &app,
            &ctx,
            id,
            &b.method,
            approvals::Decision {
                approved: b
                    .approved_service_ids
                    .into_iter()
                    .map(ServiceId::from_uuid)
                    .collect(),
                declined: b
                    .declined_service_ids
                    .into_iter()
                    .map(ServiceId::from_uuid)
                    .collect(),
                signer_name: b.signer_name,
                signature: b.signature,
                note: b.note,
                ticket_version: None,
            },
        )
        .await?;
        Ok(Json(TicketOut::from(&recorded.ticket)))
    }

    // Listed here, beside the POST on the same path: poem-openapi keeps
    // one API group per path.
    /// The ticket's approvals (evidence records), oldest first.
    #[oai(
        path = "/tickets/:ticket_id/approvals",
        method = "get",
        tag = "TicketTags::Tickets",
        operation_id = "list_ticket_approvals"
    )]
    async fn list_approvals(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<crate::customer::ApprovalList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list =
            pitwall_core::approvals::list(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(crate::customer::ApprovalList {
            items: list
                .iter()
                .map(crate::customer::ApprovalOut::from)
                .collect(),
        }))
    }

    /// The ticket's timeline, oldest first.
    #[oai(
        path = "/tickets/:ticket_id/timeline",
        method = "get",
        tag = "TicketTags::Tickets",
        operation_id = "get_ticket_timeline"
    )]
    async fn timeline(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<TimelineList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = tickets::timeline(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            page(cursor.0, limit.0)?,
        )
        .await?;
        Ok(Json(TimelineList {
            items: p.items.iter().map(TimelineEventOut::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// Live changes of the shop as server-sent events (the dashboard's
    /// feed); with `ticket_id`, only that ticket's (the ticket page's).
    #[oai(
        path = "/events",
        method = "get",
        tag = "TicketTags::Dashboard",
        operation_id = "stream_events"
    )]
    async fn events(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Query<Option<uuid::Uuid>>,
    ) -> Result<EventStream<futures::stream::BoxStream<'static, LiveEventOut>>, ApiError> {
        let actor = crate::auth::actor(&app, &auth).await?;
        let ctx = app
            .shop_ctx(&actor, crate::auth::requested_shop(req)?)
            .await?;
        let stream = live_stream(&app, &actor, &ctx, ticket_id.0.map(TicketId::from_uuid)).await?;
        Ok(EventStream::new(stream.boxed()).keep_alive(pitwall_core::streams::KEEP_ALIVE))
    }

    /// The active-customers dashboard: every open ticket, overdue and urgent
    /// first.
    #[oai(
        path = "/dashboard",
        method = "get",
        tag = "TicketTags::Dashboard",
        operation_id = "get_dashboard"
    )]
    async fn dashboard(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        advisor_id: Query<Option<uuid::Uuid>>,
        status_id: Query<Option<uuid::Uuid>>,
    ) -> ApiResult<DashboardOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let rows = tickets::dashboard(
            &app,
            &ctx,
            tickets::DashboardFilter {
                advisor_id: advisor_id.0.map(UserId::from_uuid),
                status_id: status_id.0.map(StatusId::from_uuid),
            },
        )
        .await?;
        Ok(Json(DashboardOut {
            items: rows
                .iter()
                .map(|r| DashboardRowOut {
                    ticket: TicketOut::from(&r.view),
                    sms: r.sms,
                    email: r.email,
                    unread_reply: r.unread_reply,
                    last_message: r.last_message.as_ref().map(MessageOut::from),
                })
                .collect(),
        }))
    }

    /// The signed-in technician's open work, by priority. With `queue`
    /// (plan feature `repair_orders`), what waits for the caller's part of
    /// the repair-order workflow, newest hand-off first (`stage_changed_at`):
    /// `qualification` (`services.edit`: tickets in qualification), `parts`
    /// (`parts.edit`: tickets in qualification or in work with parts not
    /// yet received), `completion` (`services.complete`: tickets in work
    /// assigned to the caller or to nobody).
    #[oai(
        path = "/me/work",
        method = "get",
        tag = "TicketTags::Tickets",
        operation_id = "my_work"
    )]
    async fn my_work(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        /// `qualification`, `parts` or `completion`.
        queue: Query<Option<String>>,
    ) -> ApiResult<TicketList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let items = match queue.0.as_deref() {
            Some(q) => pitwall_core::workflow::queue(&app, &ctx, q).await?,
            None => tickets::my_work(&app, &ctx).await?,
        };
        Ok(Json(TicketList {
            items: items.iter().map(TicketOut::from).collect(),
            next_cursor: None,
        }))
    }

    /// POS sync health: last push, counts, rejected payloads with errors.
    #[oai(
        path = "/sync-health",
        method = "get",
        tag = "TicketTags::Dashboard",
        operation_id = "get_sync_health"
    )]
    async fn sync_health(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<SyncHealthOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let h = pos::sync_health(&app, &ctx).await?;
        Ok(Json(SyncHealthOut::from(&h)))
    }

    /// The shop's vehicle statuses in order.
    #[oai(
        path = "/vehicle-statuses",
        method = "get",
        tag = "TicketTags::MessageSetup",
        operation_id = "list_vehicle_statuses"
    )]
    async fn list_statuses(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        include_retired: Query<Option<bool>>,
    ) -> ApiResult<VehicleStatusList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list = statuses::list(&app, &ctx, include_retired.0.unwrap_or(false)).await?;
        Ok(Json(VehicleStatusList {
            items: list.iter().map(VehicleStatusOut::from).collect(),
        }))
    }

    /// Add a status.
    #[oai(
        path = "/vehicle-statuses",
        method = "post",
        tag = "TicketTags::MessageSetup",
        operation_id = "create_vehicle_status"
    )]
    async fn create_status(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<VehicleStatusRequest>,
    ) -> Result<CreatedStatus, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let s = statuses::create(&app, &ctx, body.0.into()).await?;
        Ok(CreatedStatus::Created(Json(VehicleStatusOut::from(&s))))
    }

    /// Edit a status; `position` moves it.
    #[oai(
        path = "/vehicle-statuses/:status_id",
        method = "put",
        tag = "TicketTags::MessageSetup",
        operation_id = "update_vehicle_status"
    )]
    async fn update_status(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        status_id: Path<uuid::Uuid>,
        body: JsonBody<VehicleStatusRequest>,
    ) -> ApiResult<VehicleStatusOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let s =
            statuses::update(&app, &ctx, StatusId::from_uuid(status_id.0), body.0.into()).await?;
        Ok(Json(VehicleStatusOut::from(&s)))
    }

    /// Retire a status: no longer offered, still shown on tickets that have it.
    #[oai(
        path = "/vehicle-statuses/:status_id",
        method = "delete",
        tag = "TicketTags::MessageSetup",
        operation_id = "retire_vehicle_status"
    )]
    async fn retire_status(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        status_id: Path<uuid::Uuid>,
    ) -> ApiResult<VehicleStatusOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let s = statuses::retire(&app, &ctx, StatusId::from_uuid(status_id.0)).await?;
        Ok(Json(VehicleStatusOut::from(&s)))
    }

    /// Search customers by name, e-mail or phone (any format).
    #[oai(
        path = "/customers",
        method = "get",
        tag = "TicketTags::Customers",
        operation_id = "list_customers"
    )]
    async fn list_customers(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        q: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<CustomerList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = customers::search(&app, &ctx, q.0.as_deref(), page(cursor.0, limit.0)?).await?;
        Ok(Json(CustomerList {
            items: p.items.iter().map(CustomerOut::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// Add a customer by hand (first name optional). A phone number an
    /// existing customer has answers that customer (200) instead.
    #[oai(
        path = "/customers",
        method = "post",
        tag = "TicketTags::Customers",
        operation_id = "create_customer"
    )]
    async fn create_customer(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<CustomerRequest>,
    ) -> Result<CreateCustomerResponse, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let (c, created) = customers::create(
            &app,
            &ctx,
            customers::NewCustomer {
                first_name: b.first_name,
                last_name: b.last_name,
                phone: b.phone,
                email: b.email,
            },
        )
        .await?;
        let out = CustomerCreated {
            customer: CustomerOut::from(&c),
            created,
        };
        Ok(if created {
            CreateCustomerResponse::Created(Json(out))
        } else {
            CreateCustomerResponse::Existing(Json(out))
        })
    }

    /// A customer with vehicles and tickets.
    #[oai(
        path = "/customers/:customer_id",
        method = "get",
        tag = "TicketTags::Customers",
        operation_id = "get_customer"
    )]
    async fn get_customer(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
    ) -> ApiResult<CustomerDetailOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let d = customers::get(&app, &ctx, CustomerId::from_uuid(customer_id.0)).await?;
        Ok(Json(customer_detail(&d)))
    }

    /// Fold a duplicate into this customer: its tickets, vehicles and
    /// messages move here.
    #[oai(
        path = "/customers/:customer_id/merge",
        method = "post",
        tag = "TicketTags::Customers",
        operation_id = "merge_customer"
    )]
    async fn merge_customer(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
        body: JsonBody<MergeRequest>,
    ) -> ApiResult<CustomerDetailOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let keep = CustomerId::from_uuid(customer_id.0);
        customers::merge(&app, &ctx, keep, CustomerId::from_uuid(body.0.duplicate_id)).await?;
        let d = customers::get(&app, &ctx, keep).await?;
        Ok(Json(customer_detail(&d)))
    }
}

fn customer_detail(d: &customers::CustomerDetail) -> CustomerDetailOut {
    CustomerDetailOut {
        customer: CustomerOut::from(&d.customer),
        vehicles: d.vehicles.iter().map(VehicleOut::from).collect(),
        tickets: d
            .tickets
            .iter()
            .map(|t| TicketSummaryOut {
                id: t.id,
                kind: t.kind.clone(),
                number: t.number.clone(),
                total: t.total,
                closed: t.closed,
                created_at: t.created_at,
            })
            .collect(),
    }
}

/// The shop's live changes (one ticket's, if given) as a stream; a
/// subscriber that fell behind gets `resync`. It ends when the session,
/// the membership or the permission no longer holds (`pitwall_core::streams`).
pub async fn live_stream(
    app: &App,
    actor: &pitwall_core::Actor,
    ctx: &pitwall_core::ShopCtx,
    ticket: Option<TicketId>,
) -> Result<impl futures::Stream<Item = LiveEventOut> + Send + 'static, ApiError> {
    let stream = pitwall_core::streams::open_staff(app, actor, ctx, ticket).await?;
    let app = app.clone();
    Ok(futures::stream::unfold(
        (stream, app),
        |(mut stream, app)| async move {
            let out = LiveEventOut::from(stream.next(&app).await?);
            Some((out, (stream, app)))
        },
    ))
}
