//! Staff messaging endpoints (`/api/v1`): the inbox (customer threads),
//! replies, re-sends, reminders, templates with preview, messaging
//! settings, consent and opt-out, SMS usage.

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::domain::{CustomerId, MessageId, TicketId, UserId};
use pitwall_core::messaging::{self, Reply, SettingsInput, TemplateView, ThreadRow};
use pitwall_core::model::messages;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Deserialize;

use crate::auth::{UserToken, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiResult, invalid};
use crate::models::Accepted;
use crate::ticket_models::{CustomerOut, MessageOut};

#[derive(Tags)]
pub enum MessagingTags {
    /// Customer threads, replies and delivery.
    Messages,
    /// Templates, sender number, quiet hours, consent rules and usage.
    MessagingSetup,
}

#[derive(Debug, Clone, Object)]
pub struct ThreadOut {
    pub customer_id: uuid::Uuid,
    pub customer_name: String,
    #[oai(nullable)]
    pub phone: Option<String>,
    /// The customer wrote and nobody has read it yet.
    pub unread: bool,
    #[oai(nullable)]
    pub unread_since: Option<DateTime<Utc>>,
    pub last_message_at: DateTime<Utc>,
    #[oai(nullable)]
    pub assigned_to: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub assigned_name: Option<String>,
    pub done: bool,
    #[oai(nullable)]
    pub last_message: Option<MessageOut>,
}

impl From<&ThreadRow> for ThreadOut {
    fn from(r: &ThreadRow) -> Self {
        ThreadOut {
            customer_id: r.customer.id,
            customer_name: CustomerOut::from(&r.customer).name,
            phone: r.customer.phone.clone(),
            unread: r.thread.unread_since.is_some(),
            unread_since: r.thread.unread_since,
            last_message_at: r.thread.last_message_at,
            assigned_to: r.thread.assigned_to,
            assigned_name: r.assigned_name.clone(),
            done: r.thread.done_at.is_some(),
            last_message: r.last.as_ref().map(MessageOut::from),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct ThreadList {
    pub items: Vec<ThreadOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ConsentOut {
    pub channel: String,
    /// `opt_out`, `opt_in` or `consent`.
    pub action: String,
    /// `keyword` (the customer texted it), `staff`, `carrier`.
    pub source: String,
    #[oai(nullable)]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&messages::ConsentEvent> for ConsentOut {
    fn from(c: &messages::ConsentEvent) -> Self {
        ConsentOut {
            channel: c.channel.clone(),
            action: c.action.clone(),
            source: c.source.clone(),
            detail: c.detail.clone(),
            at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct ThreadDetailOut {
    pub customer: CustomerOut,
    pub unread: bool,
    #[oai(nullable)]
    pub assigned_to: Option<uuid::Uuid>,
    pub done: bool,
    /// The customer's open ticket replies are filed under.
    #[oai(nullable)]
    pub open_ticket_id: Option<uuid::Uuid>,
    /// Oldest first: the last 200 messages.
    pub messages: Vec<MessageOut>,
    pub consent: Vec<ConsentOut>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// `sms` or `email`.
    pub channel: String,
    pub body: String,
    /// File the message under this ticket of the customer (default: their
    /// latest open ticket).
    #[oai(nullable)]
    pub ticket_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignThreadRequest {
    /// A member of the shop, or null to unassign.
    #[oai(nullable)]
    pub user_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadDoneRequest {
    pub done: bool,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderRequest {
    /// `sms` or `email`.
    pub channel: String,
}

#[derive(Debug, Clone, Object)]
pub struct TemplateOut {
    /// `link`, `reminder`, `invoice` or `extension`.
    pub kind: String,
    pub body: String,
    /// Pitwall's text; the shop has not written its own.
    pub is_default: bool,
}

impl From<&TemplateView> for TemplateOut {
    fn from(t: &TemplateView) -> Self {
        TemplateOut {
            kind: t.kind.as_str().to_owned(),
            body: t.body.clone(),
            is_default: t.is_default,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct TemplateVariableOut {
    pub name: String,
    pub description: String,
    pub sample: String,
}

#[derive(Debug, Clone, Object)]
pub struct TemplateList {
    pub items: Vec<TemplateOut>,
    /// What every template (and each status message) may use.
    pub variables: Vec<TemplateVariableOut>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// minijinja, for example `Hi {{ first_name }}, ...`.
    pub body: String,
}

#[derive(Debug, Clone, Object)]
pub struct PreviewOut {
    pub text: String,
    /// `GSM-7` or `UCS-2` (any character outside GSM-7, such as an emoji).
    pub encoding: String,
    pub characters: u64,
    pub segments: u64,
    /// US cents at a long-code rate: a hint, not a bill.
    pub cost_hint_cents: f64,
}

#[derive(Debug, Clone, Object)]
pub struct MessagingSettingsOut {
    /// The shop's own sender number (E.164), if it has one. Assigned by
    /// platform support (admin API `PUT /api/admin/v1/shops/{shop_id}/sms-from`).
    #[oai(nullable)]
    pub sms_from: Option<String>,
    /// The platform's number used when the shop has none.
    #[oai(nullable)]
    pub default_sms_from: Option<String>,
    /// Local time `HH:MM`; reminders wait from start to end.
    #[oai(nullable)]
    pub quiet_hours_start: Option<String>,
    #[oai(nullable)]
    pub quiet_hours_end: Option<String>,
    /// Text only customers whose consent staff recorded.
    pub require_sms_consent: bool,
}

impl From<messaging::Settings> for MessagingSettingsOut {
    fn from(s: messaging::Settings) -> Self {
        MessagingSettingsOut {
            sms_from: s.sms_from,
            default_sms_from: s.default_sms_from,
            quiet_hours_start: s.quiet_hours_start,
            quiet_hours_end: s.quiet_hours_end,
            require_sms_consent: s.require_sms_consent,
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingSettingsRequest {
    /// Read-only: leave it out or send the current number back. A different
    /// number is refused (422 on `sms_from`); platform support assigns it.
    #[oai(nullable)]
    pub sms_from: Option<String>,
    #[oai(nullable)]
    pub quiet_hours_start: Option<String>,
    #[oai(nullable)]
    pub quiet_hours_end: Option<String>,
    pub require_sms_consent: bool,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// How the customer agreed (in person, signed form, ...).
    #[oai(nullable)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    /// `sms` or `email`.
    pub channel: String,
}

#[derive(Debug, Clone, Object)]
pub struct UsageOut {
    /// The first of the month (UTC): SMS count from here.
    pub period_start: DateTime<Utc>,
    pub sms_segments: i64,
    /// The plan's monthly SMS allowance; none means unlimited.
    #[oai(nullable)]
    pub sms_quota: Option<i64>,
}

impl From<messaging::Usage> for UsageOut {
    fn from(u: messaging::Usage) -> Self {
        UsageOut {
            period_start: u.period_start,
            sms_segments: u.sms_segments,
            sms_quota: u.sms_quota,
        }
    }
}

#[derive(ApiResponse)]
pub enum MessageCreated {
    /// Queued (or held, with the reason), delivered by a worker.
    #[oai(status = 201)]
    Created(Json<MessageOut>),
}

pub struct MessagingApi;

fn offset(cursor: Option<String>) -> Result<u64, crate::error::ApiError> {
    match cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| invalid("cursor", "is not a cursor this API returned")),
    }
}

#[OpenApi(prefix_path = "/api/v1")]
impl MessagingApi {
    /// Customer threads, unread first, then by last message. `filter`:
    /// `open` (default), `unread`, `mine` (assigned to me), `done`, `all`.
    #[oai(
        path = "/threads",
        method = "get",
        tag = "MessagingTags::Messages",
        operation_id = "list_threads"
    )]
    async fn list_threads(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        filter: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<ThreadList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let filter = messaging::parse_filter(&ctx, filter.0.as_deref())?;
        let limit = match limit.0 {
            None => 50,
            Some(n @ 1..=200) => n,
            Some(_) => return Err(invalid("limit", "must be from 1 to 200")),
        };
        let list = messaging::threads(&app, &ctx, filter, offset(cursor.0)?, limit).await?;
        Ok(Json(ThreadList {
            items: list.items.iter().map(ThreadOut::from).collect(),
            next_cursor: list.next_offset.map(|o| o.to_string()),
        }))
    }

    /// One customer's conversation across tickets (last 200 messages), with
    /// their consent and opt-out history. Reading does not mark it read:
    /// `POST .../read` does.
    #[oai(
        path = "/threads/:customer_id",
        method = "get",
        tag = "MessagingTags::Messages",
        operation_id = "get_thread"
    )]
    async fn get_thread(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
    ) -> ApiResult<ThreadDetailOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let d = messaging::thread(&app, &ctx, CustomerId::from_uuid(customer_id.0)).await?;
        Ok(Json(ThreadDetailOut {
            customer: CustomerOut::from(&d.customer),
            unread: d.thread.as_ref().is_some_and(|t| t.unread_since.is_some()),
            assigned_to: d.thread.as_ref().and_then(|t| t.assigned_to),
            done: d.thread.as_ref().is_some_and(|t| t.done_at.is_some()),
            open_ticket_id: d.open_ticket.as_ref().map(|t| t.id),
            messages: d.messages.iter().map(MessageOut::from).collect(),
            consent: d.consent.iter().map(ConsentOut::from).collect(),
        }))
    }

    /// Mark the thread read: the dashboard's orange reply mark clears on
    /// every open screen.
    #[oai(
        path = "/threads/:customer_id/read",
        method = "post",
        tag = "MessagingTags::Messages",
        operation_id = "read_thread"
    )]
    async fn read_thread(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        messaging::read_thread(&app, &ctx, CustomerId::from_uuid(customer_id.0)).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Assign the thread to a staff member (or `null` to unassign).
    #[oai(
        path = "/threads/:customer_id/assignment",
        method = "put",
        tag = "MessagingTags::Messages",
        operation_id = "assign_thread"
    )]
    async fn assign_thread(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
        body: JsonBody<AssignThreadRequest>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        messaging::assign_thread(
            &app,
            &ctx,
            CustomerId::from_uuid(customer_id.0),
            body.0.user_id.map(UserId::from_uuid),
        )
        .await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Mark the thread done (and read), or reopen it.
    #[oai(
        path = "/threads/:customer_id/done",
        method = "put",
        tag = "MessagingTags::Messages",
        operation_id = "set_thread_done"
    )]
    async fn set_thread_done(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
        body: JsonBody<ThreadDoneRequest>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        messaging::set_thread_done(
            &app,
            &ctx,
            CustomerId::from_uuid(customer_id.0),
            body.0.done,
        )
        .await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Text or e-mail the customer. Refused with `customer_opted_out`,
    /// `consent_required`, `quota_exceeded` or `feature_not_in_plan` when it
    /// may not go.
    #[oai(
        path = "/threads/:customer_id/messages",
        method = "post",
        tag = "MessagingTags::Messages",
        operation_id = "send_message"
    )]
    async fn send_message(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
        body: JsonBody<ReplyRequest>,
    ) -> Result<MessageCreated, crate::error::ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let m = messaging::reply(
            &app,
            &ctx,
            CustomerId::from_uuid(customer_id.0),
            Reply {
                channel: &body.0.channel,
                body: &body.0.body,
                ticket_id: body.0.ticket_id.map(TicketId::from_uuid),
            },
        )
        .await?;
        Ok(MessageCreated::Created(Json(MessageOut::from(&m))))
    }

    /// Send a failed (or quota-held) message again, as a new message.
    #[oai(
        path = "/messages/:message_id/resend",
        method = "post",
        tag = "MessagingTags::Messages",
        operation_id = "resend_message"
    )]
    async fn resend(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        message_id: Path<uuid::Uuid>,
    ) -> Result<MessageCreated, crate::error::ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let m = messaging::resend(&app, &ctx, MessageId::from_uuid(message_id.0)).await?;
        Ok(MessageCreated::Created(Json(MessageOut::from(&m))))
    }

    /// Send the shop's reminder about a ticket. Inside quiet hours it is
    /// held until they end (`status: held`, `held_until`).
    #[oai(
        path = "/tickets/:ticket_id/reminders",
        method = "post",
        tag = "MessagingTags::Messages",
        operation_id = "send_reminder"
    )]
    async fn send_reminder(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<ReminderRequest>,
    ) -> Result<MessageCreated, crate::error::ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let m = messaging::send_reminder(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            &body.0.channel,
        )
        .await?;
        Ok(MessageCreated::Created(Json(MessageOut::from(&m))))
    }

    /// The shop's link, reminder, invoice and extension templates, and the variables
    /// they may use.
    #[oai(
        path = "/message-templates",
        method = "get",
        tag = "MessagingTags::MessagingSetup",
        operation_id = "list_message_templates"
    )]
    async fn list_templates(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<TemplateList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let items = messaging::templates(&app, &ctx).await?;
        Ok(Json(TemplateList {
            items: items.iter().map(TemplateOut::from).collect(),
            variables: pitwall_core::domain::messaging::TEMPLATE_VARIABLES
                .iter()
                .map(|(n, d, s)| TemplateVariableOut {
                    name: (*n).to_owned(),
                    description: (*d).to_owned(),
                    sample: (*s).to_owned(),
                })
                .collect(),
        }))
    }

    /// Save a template. One that does not render (syntax, endless loop,
    /// too long) is refused naming the line and the reason.
    #[oai(
        path = "/message-templates/:kind",
        method = "put",
        tag = "MessagingTags::MessagingSetup",
        operation_id = "put_message_template"
    )]
    async fn put_template(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        /// `link`, `reminder`, `invoice` or `extension`.
        kind: Path<String>,
        body: JsonBody<TemplateRequest>,
    ) -> ApiResult<TemplateOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let kind = messaging::parse_template_kind(&kind.0)?;
        let t = messaging::put_template(&app, &ctx, kind, &body.0.body).await?;
        Ok(Json(TemplateOut::from(&t)))
    }

    /// Render a template with sample data: the text, its SMS encoding,
    /// segments and a cost hint. Saves nothing.
    #[oai(
        path = "/message-templates/preview",
        method = "post",
        tag = "MessagingTags::MessagingSetup",
        operation_id = "preview_message_template"
    )]
    async fn preview(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<TemplateRequest>,
    ) -> ApiResult<PreviewOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let p = messaging::preview(&app, &ctx, &body.0.body).await?;
        Ok(Json(PreviewOut {
            text: p.text,
            encoding: p.encoding.to_owned(),
            characters: p.characters as u64,
            segments: p.segments as u64,
            cost_hint_cents: p.cost_hint_cents,
        }))
    }

    /// Sender number, quiet hours and the consent rule.
    #[oai(
        path = "/messaging-settings",
        method = "get",
        tag = "MessagingTags::MessagingSetup",
        operation_id = "get_messaging_settings"
    )]
    async fn get_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<MessagingSettingsOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        Ok(Json(messaging::settings(&app, &ctx).await?.into()))
    }

    /// Replace the shop's messaging settings. The whole object is written:
    /// an absent or null `sms_from` sends from the platform's number; absent
    /// or null quiet hours (both, or neither) mean none.
    #[oai(
        path = "/messaging-settings",
        method = "put",
        tag = "MessagingTags::MessagingSetup",
        operation_id = "put_messaging_settings"
    )]
    async fn put_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<MessagingSettingsRequest>,
    ) -> ApiResult<MessagingSettingsOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let s = messaging::put_settings(
            &app,
            &ctx,
            SettingsInput {
                sms_from: b.sms_from.as_deref(),
                quiet_hours_start: b.quiet_hours_start.as_deref(),
                quiet_hours_end: b.quiet_hours_end.as_deref(),
                require_sms_consent: b.require_sms_consent,
            },
        )
        .await?;
        Ok(Json(s.into()))
    }

    /// Record the customer's consent to texts. A customer who texted STOP
    /// must text START themselves (`customer_opted_out`).
    #[oai(
        path = "/customers/:customer_id/consent",
        method = "post",
        tag = "MessagingTags::Messages",
        operation_id = "record_consent"
    )]
    async fn record_consent(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
        body: JsonBody<ConsentRequest>,
    ) -> ApiResult<CustomerOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let c = messaging::record_consent(
            &app,
            &ctx,
            CustomerId::from_uuid(customer_id.0),
            body.0.detail.as_deref(),
        )
        .await?;
        Ok(Json(CustomerOut::from(&c)))
    }

    /// Turn a channel off for the customer (they asked in person).
    #[oai(
        path = "/customers/:customer_id/opt-out",
        method = "post",
        tag = "MessagingTags::Messages",
        operation_id = "opt_out_customer"
    )]
    async fn opt_out(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        customer_id: Path<uuid::Uuid>,
        body: JsonBody<OptOutRequest>,
    ) -> ApiResult<CustomerOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let c = messaging::opt_out(
            &app,
            &ctx,
            CustomerId::from_uuid(customer_id.0),
            &body.0.channel,
        )
        .await?;
        Ok(Json(CustomerOut::from(&c)))
    }

    /// SMS segments sent this month against the plan's allowance.
    #[oai(
        path = "/usage",
        method = "get",
        tag = "MessagingTags::MessagingSetup",
        operation_id = "get_usage"
    )]
    async fn usage(&self, app: Data<&App>, req: &Request, auth: UserToken) -> ApiResult<UsageOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        Ok(Json(messaging::usage(&app, &ctx).await?.into()))
    }
}
