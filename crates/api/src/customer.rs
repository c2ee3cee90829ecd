//! The customer's JSON (`/api/customer/v1`, authenticated by the link's
//! token alone) and the staff side of links, approvals and outgoing
//! webhooks (`/api/v1`). The pages at `/c/{token}` call the same use cases.

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::approvals::{self, ApprovalView, Decision};
use pitwall_core::customer::{self, CustomerPage, Visitor};
use pitwall_core::domain::approvals::{Link, ServiceSnapshot};
use pitwall_core::domain::{ApprovalId, LinkId, ServiceId, TicketId, WebhookId};
use pitwall_core::{links, webhooks};
use pitwall_domain::net::ClientAddr;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Deserialize;

use crate::auth::{UserToken, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::models::Accepted;

#[derive(Tags)]
pub enum CustomerTags {
    /// The customer's view of a ticket through a link: no account, the
    /// token in the path is the credential.
    Customer,
    /// Customer links, approvals and their chain check (staff).
    Approvals,
    /// Outgoing webhooks to the shop's own systems (staff).
    Webhooks,
}

/// The client's address (limits and evidence are per address), and its
/// user agent.
fn visitor(req: &Request) -> (ClientAddr, Option<String>) {
    (
        crate::client_addr(req),
        req.header("user-agent").map(str::to_owned),
    )
}

// ---- models -----------------------------------------------------------------

#[derive(Debug, Clone, Object)]
pub struct CustomerShopOut {
    pub name: String,
    #[oai(nullable)]
    pub phone: Option<String>,
    #[oai(nullable)]
    pub email: Option<String>,
    #[oai(nullable)]
    pub address: Option<String>,
    #[oai(nullable)]
    pub hours: Option<String>,
    /// Only with custom branding in the shop's plan.
    #[oai(nullable)]
    pub logo_url: Option<String>,
    #[oai(nullable)]
    pub primary_color: Option<String>,
    #[oai(nullable)]
    pub accent_color: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerLineOut {
    /// `labor`, `part` or `fee`.
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    /// Minor units.
    pub unit_price: i64,
    pub amount: i64,
    pub taxable: bool,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerServiceOut {
    /// Name it in `approved_service_ids` / `declined_service_ids`.
    pub id: uuid::Uuid,
    pub title: String,
    /// `recommended`, `pending`, `approved` or `declined`.
    pub status: String,
    /// The customer decides on it now (recommended or pending).
    pub awaiting_decision: bool,
    /// The shop's words about it (why it is recommended).
    #[oai(nullable)]
    pub note: Option<String>,
    pub subtotal: i64,
    pub line_items: Vec<CustomerLineOut>,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerStatusOut {
    pub label: String,
    /// `#rrggbb`.
    pub color: String,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerVehicleOut {
    pub label: String,
    #[oai(nullable)]
    pub plate: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ApprovedServiceOut {
    pub id: uuid::Uuid,
    pub title: String,
    pub subtotal: i64,
    /// The inspection finding this service came from, as it stood when
    /// the customer decided; null for other services.
    #[oai(nullable)]
    pub finding: Option<ApprovedFindingOut>,
}

#[derive(Debug, Clone, Object)]
pub struct ApprovedFindingOut {
    pub inspection_id: uuid::Uuid,
    pub item_key: String,
    /// `good`, `needs_attention`, `urgent` (or `not_checked`).
    pub condition: String,
    /// The photos and videos shown with the finding.
    pub media_ids: Vec<uuid::Uuid>,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerApprovalOut {
    pub id: uuid::Uuid,
    /// `customer_link`, `in_person` or `phone`.
    pub method: String,
    pub signer_name: String,
    pub approved: Vec<ApprovedServiceOut>,
    pub declined: Vec<ApprovedServiceOut>,
    /// Sum of the approved services, minor units.
    pub approved_total: i64,
    /// The ticket's totals right after this approval.
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub created_at: DateTime<Utc>,
}

fn brief(v: &[ServiceSnapshot]) -> Vec<ApprovedServiceOut> {
    v.iter()
        .map(|s| ApprovedServiceOut {
            id: s.id,
            title: s.title.clone(),
            subtotal: s.subtotal,
            finding: s.finding.as_ref().map(|f| ApprovedFindingOut {
                inspection_id: f.inspection_id,
                item_key: f.item_key.clone(),
                condition: f.condition.clone(),
                media_ids: f.media_ids.clone(),
            }),
        })
        .collect()
}

impl From<&ApprovalView> for CustomerApprovalOut {
    fn from(a: &ApprovalView) -> Self {
        let r = &a.record;
        CustomerApprovalOut {
            id: r.id,
            method: r.method.clone(),
            signer_name: r.signer_name.clone(),
            approved: brief(&a.approved),
            declined: brief(&a.declined),
            approved_total: r.approved_total,
            subtotal: r.subtotal,
            tax: r.tax,
            total: r.total,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CustomerViewOut {
    pub shop: CustomerShopOut,
    /// `en` or `es`: the customer's language, else the shop's.
    pub locale: String,
    pub ticket_number: String,
    /// `estimate`, `workorder` or `invoice`.
    pub ticket_kind: String,
    /// Send it back with the approval: a changed ticket refuses an
    /// approval made on an older version (`ticket_changed`).
    pub ticket_version: i32,
    #[oai(nullable)]
    pub vehicle: Option<CustomerVehicleOut>,
    #[oai(nullable)]
    pub status: Option<CustomerStatusOut>,
    pub services: Vec<CustomerServiceOut>,
    /// Minor units; declined services do not count.
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// ISO 4217.
    pub currency: String,
    #[oai(nullable)]
    pub promised_at: Option<DateTime<Utc>>,
    /// The shop's plan lets the customer approve and sign here.
    pub may_approve: bool,
    /// Earlier approvals of this ticket, oldest first.
    pub approvals: Vec<CustomerApprovalOut>,
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The ticket's published inspection; null until one is published.
    #[oai(nullable)]
    pub inspection: Option<crate::inspections::CustomerInspectionOut>,
    /// The invoice the shop sent; null until one is sent.
    #[oai(nullable)]
    pub invoice: Option<CustomerInvoiceOut>,
}

/// Where the customer pays.
#[derive(Debug, Clone, Object)]
pub struct PaymentUrlOut {
    /// Stripe's hosted payment page.
    pub url: String,
}

#[derive(poem_openapi::ApiResponse)]
pub enum PaymentStarted {
    /// The payment page to send the customer to.
    #[oai(status = 201)]
    Created(Json<PaymentUrlOut>),
}

/// The invoice as the customer sees it: what they pay and for what.
#[derive(Debug, Clone, Object)]
pub struct CustomerInvoiceOut {
    pub number: String,
    /// `sent`, `paid`, `delivered`, `booked` or `paid_pos`.
    pub status: String,
    pub positions: Vec<crate::invoices::InvoicePositionOut>,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: String,
    #[oai(nullable)]
    pub paid_at: Option<DateTime<Utc>>,
    /// Refunded to the customer so far.
    pub refunded: i64,
}

impl CustomerViewOut {
    /// `token`: the link the page is read through (its media are served
    /// under it); `None` for the staff preview.
    pub fn of(p: &CustomerPage, token: Option<&str>) -> Self {
        let t = &p.view.ticket;
        let s = &p.shop;
        CustomerViewOut {
            shop: CustomerShopOut {
                name: s.name.clone(),
                phone: s.phone.clone(),
                email: s.email.clone(),
                address: s.address.clone(),
                hours: s.hours.clone(),
                logo_url: s.logo_url.clone().filter(|_| p.branded),
                primary_color: s.primary_color.clone().filter(|_| p.branded),
                accent_color: s.accent_color.clone().filter(|_| p.branded),
            },
            locale: p.locale.as_str().to_owned(),
            ticket_number: t.number.clone(),
            ticket_kind: t.kind.clone(),
            ticket_version: t.version,
            vehicle: p.view.vehicle.as_ref().map(|v| CustomerVehicleOut {
                label: pitwall_core::tickets::vehicle_label(v),
                plate: v.plate.clone(),
            }),
            status: p.view.status.as_ref().map(|st| CustomerStatusOut {
                label: st.label.clone(),
                color: st.color.clone(),
            }),
            services: p
                .view
                .services
                .iter()
                .map(|sv| CustomerServiceOut {
                    id: sv.service.id,
                    title: sv.service.title.clone(),
                    status: sv.service.status.clone(),
                    awaiting_decision: approvals::awaits_decision(&sv.service.status),
                    note: sv.service.customer_note.clone(),
                    subtotal: sv.service.subtotal,
                    line_items: sv
                        .line_items
                        .iter()
                        .map(|l| CustomerLineOut {
                            kind: l.kind.clone(),
                            description: l.description.clone(),
                            quantity: l.quantity_milli as f64 / 1000.0,
                            unit_price: l.unit_price,
                            amount: l.amount,
                            taxable: l.taxable,
                        })
                        .collect(),
                })
                .collect(),
            subtotal: t.subtotal,
            tax: t.tax,
            total: t.total,
            currency: t.currency.clone(),
            promised_at: t.promised_at,
            may_approve: p.may_approve,
            approvals: p.approvals.iter().map(CustomerApprovalOut::from).collect(),
            expires_at: p.link.as_ref().map(|l| l.expires_at),
            inspection: p
                .inspection
                .as_ref()
                .map(|i| crate::inspections::customer_inspection_out(i, token)),
            invoice: p.invoice.as_ref().map(|v| {
                let full = crate::invoices::InvoiceOut::from(v);
                CustomerInvoiceOut {
                    number: full.number,
                    status: full.status,
                    positions: full.positions,
                    subtotal: full.subtotal,
                    tax: full.tax,
                    total: full.total,
                    currency: full.currency,
                    paid_at: full.paid_at,
                    refunded: full.refunded,
                }
            }),
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct CustomerApprovalRequest {
    #[serde(default)]
    #[oai(default)]
    pub approved_service_ids: Vec<uuid::Uuid>,
    /// Every service awaiting a decision must be in one of the two lists.
    #[serde(default)]
    #[oai(default)]
    pub declined_service_ids: Vec<uuid::Uuid>,
    pub signer_name: String,
    /// A PNG data URL (`data:image/png;base64,...`) or an SVG path
    /// (`M 10 10 L 20 20 ...`).
    pub signature: String,
    /// The `ticket_version` the customer was shown.
    pub ticket_version: i32,
}

impl poem_openapi::types::Example for CustomerApprovalRequest {
    fn example() -> Self {
        CustomerApprovalRequest {
            approved_service_ids: vec![uuid::Uuid::from_u128(
                0x0193_6a2e_5c1b_7f00_8000_0000_0000_0001,
            )],
            declined_service_ids: vec![uuid::Uuid::from_u128(
                0x0193_6a2e_5c1b_7f00_8000_0000_0000_0002,
            )],
            signer_name: "Dana Reyes".into(),
            signature: "M 10 40 L 30 10 L 50 40 L 70 12".into(),
            ticket_version: 3,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CustomerApprovalResult {
    pub approval: CustomerApprovalOut,
    /// The ticket as it is now.
    pub ticket: CustomerViewOut,
}

#[derive(ApiResponse)]
pub enum ApprovalRecorded {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<CustomerApprovalResult>),
    /// The same decision on the same version was already recorded: this
    /// is that record.
    #[oai(status = 200)]
    AlreadyRecorded(Json<CustomerApprovalResult>),
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerMessageRequest {
    /// At most 2000 characters.
    pub body: String,
}

fn ids(v: Vec<uuid::Uuid>) -> Vec<ServiceId> {
    v.into_iter().map(ServiceId::from_uuid).collect()
}

// ---- the customer's API -------------------------------------------------------

pub struct CustomerApi;

#[OpenApi(prefix_path = "/api/customer/v1")]
impl CustomerApi {
    /// The ticket the link names, as the customer sees it. Opening it is
    /// recorded (the shop sees "customer viewing"). 404 for an unknown
    /// token, 410 (`link_gone`) for an expired or revoked one, 429 when an
    /// address looks up too many links.
    #[oai(
        path = "/links/:token",
        method = "get",
        tag = "CustomerTags::Customer",
        operation_id = "get_customer_link"
    )]
    async fn get_link(
        &self,
        app: Data<&App>,
        req: &Request,
        token: Path<String>,
    ) -> ApiResult<CustomerViewOut> {
        let (address, ua) = visitor(req);
        let v = Visitor {
            address,
            user_agent: ua.as_deref(),
        };
        let page = customer::open(&app, &token.0, v).await?;
        Ok(Json(CustomerViewOut::of(&page, Some(&token.0))))
    }

    /// Pay the invoice the link shows: answers the URL of a Stripe Checkout
    /// page on the shop's account for what is due (the same page while it
    /// is open). Nothing due answers 409 naming `invoice`; a shop that
    /// cannot take payments, 409 naming `payments`.
    #[oai(
        path = "/links/:token/payments",
        method = "post",
        tag = "CustomerTags::Customer",
        operation_id = "pay_customer_link"
    )]
    async fn pay(
        &self,
        app: Data<&App>,
        req: &Request,
        token: Path<String>,
    ) -> Result<PaymentStarted, ApiError> {
        let (address, ua) = visitor(req);
        let v = Visitor {
            address,
            user_agent: ua.as_deref(),
        };
        let url = pitwall_core::payments::pay_by_link(&app, &token.0, v).await?;
        Ok(PaymentStarted::Created(Json(PaymentUrlOut { url })))
    }

    /// Approve and decline the services awaiting a decision, with the
    /// signer's name and signature. Refused with 409 `ticket_changed` when
    /// the ticket changed since `ticket_version`; the same decision sent
    /// twice answers the first record.
    #[oai(
        path = "/links/:token/approval",
        method = "post",
        tag = "CustomerTags::Customer",
        operation_id = "approve_customer_link"
    )]
    async fn approve(
        &self,
        app: Data<&App>,
        req: &Request,
        token: Path<String>,
        body: JsonBody<CustomerApprovalRequest>,
    ) -> Result<ApprovalRecorded, ApiError> {
        let (address, ua) = visitor(req);
        let v = Visitor {
            address,
            user_agent: ua.as_deref(),
        };
        let b = body.0;
        let (page, approval, new) = customer::approve(
            &app,
            &token.0,
            v,
            Decision {
                approved: ids(b.approved_service_ids),
                declined: ids(b.declined_service_ids),
                signer_name: Some(b.signer_name),
                signature: Some(b.signature),
                note: None,
                ticket_version: Some(b.ticket_version),
            },
        )
        .await?;
        let out = CustomerApprovalResult {
            approval: CustomerApprovalOut::from(&ApprovalView::of(approval)?),
            ticket: CustomerViewOut::of(&page, Some(&token.0)),
        };
        Ok(if new {
            ApprovalRecorded::Created(Json(out))
        } else {
            ApprovalRecorded::AlreadyRecorded(Json(out))
        })
    }

    /// Write to the shop: the message joins the customer's conversation
    /// and marks the ticket for staff.
    #[oai(
        path = "/links/:token/messages",
        method = "post",
        tag = "CustomerTags::Customer",
        operation_id = "message_from_customer_link"
    )]
    async fn message(
        &self,
        app: Data<&App>,
        req: &Request,
        token: Path<String>,
        body: JsonBody<CustomerMessageRequest>,
    ) -> ApiResult<Accepted> {
        let (address, ua) = visitor(req);
        let v = Visitor {
            address,
            user_agent: ua.as_deref(),
        };
        customer::send_message(&app, &token.0, v, &body.0.body).await?;
        Ok(Json(Accepted { ok: true }))
    }
}

// ---- staff: links, approvals, webhooks -----------------------------------------

#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// `sms` or `email` to send it with the shop's link template; null to
    /// copy it by hand.
    #[serde(default)]
    #[oai(nullable)]
    pub send: Option<String>,
    /// Revoke the ticket's other links (re-issue).
    #[serde(default)]
    #[oai(default)]
    pub replace: bool,
}

#[derive(Debug, Clone, Object)]
pub struct CreatedLinkOut {
    pub id: uuid::Uuid,
    /// `{base}/c/{token}`: shown once, never stored.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// The text or e-mail carrying it, when sent.
    #[oai(nullable)]
    pub message_id: Option<uuid::Uuid>,
}

#[derive(ApiResponse)]
pub enum LinkCreated {
    #[oai(status = 201)]
    Created(Json<CreatedLinkOut>),
}

#[derive(Debug, Clone, Object)]
pub struct LinkOut {
    pub id: uuid::Uuid,
    /// `active`, `expired` or `revoked`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub first_opened_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_opened_at: Option<DateTime<Utc>>,
    /// Visits (an open after 30 minutes without one is a new visit).
    pub visits: i32,
    /// The customer has the page open now (live timeline plans).
    pub viewing: bool,
}

#[derive(Debug, Clone, Object)]
pub struct LinkList {
    pub items: Vec<LinkOut>,
}

#[derive(Debug, Clone, Object)]
pub struct ApprovalOut {
    #[oai(flatten)]
    pub summary: CustomerApprovalOut,
    pub ticket_id: uuid::Uuid,
    /// Place in the ticket's chain, from 1.
    pub seq: i32,
    #[oai(nullable)]
    pub staff_name: Option<String>,
    /// PNG data URL or SVG path; none for a phone approval.
    #[oai(nullable)]
    pub signature: Option<String>,
    #[oai(nullable)]
    pub note: Option<String>,
    #[oai(nullable)]
    pub ip: Option<String>,
    #[oai(nullable)]
    pub user_agent: Option<String>,
    pub ticket_version: i32,
    pub currency: String,
    /// SHA-256 (hex) over the record's canonical form, including `prev_hash`.
    pub hash: String,
    #[oai(nullable)]
    pub prev_hash: Option<String>,
}

impl From<&ApprovalView> for ApprovalOut {
    fn from(a: &ApprovalView) -> Self {
        let r = &a.record;
        ApprovalOut {
            summary: CustomerApprovalOut::from(a),
            ticket_id: r.ticket_id,
            seq: r.seq,
            staff_name: r.staff_name.clone(),
            signature: r.signature.clone(),
            note: r.note.clone(),
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            ticket_version: r.ticket_version,
            currency: r.currency.clone(),
            hash: r.hash.clone(),
            prev_hash: r.prev_hash.clone(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct ApprovalList {
    pub items: Vec<ApprovalOut>,
}

#[derive(Debug, Clone, Object)]
pub struct ChainEntryOut {
    pub approval_id: uuid::Uuid,
    pub seq: i32,
    pub hash: String,
    /// `intact`, `altered` (the record changed after it was stored) or
    /// `broken` (it does not follow the approval before it).
    pub result: String,
}

#[derive(Debug, Clone, Object)]
pub struct ChainOut {
    /// Every approval of the ticket is intact and in order.
    pub intact: bool,
    pub approvals: Vec<ChainEntryOut>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPageSettings {
    /// How long a new customer link works, in hours (1 to 2160).
    pub link_ttl_hours: i32,
    /// The customer pages' language when the customer has none: `en` or `es`.
    pub locale: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://...`; receives `work_approved`, `work_declined` and `test`.
    pub url: String,
}

#[derive(Debug, Clone, Object)]
pub struct DeliveryOut {
    pub id: uuid::Uuid,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    #[oai(nullable)]
    pub response_status: Option<i32>,
    #[oai(nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct WebhookOut {
    pub id: uuid::Uuid,
    pub url: String,
    /// Verify `Pitwall-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`
    /// with it (docs/API.md#outgoing-webhooks).
    pub secret: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<DeliveryOut>,
}

impl From<&webhooks::WebhookView> for WebhookOut {
    fn from(v: &webhooks::WebhookView) -> Self {
        let w = &v.webhook;
        WebhookOut {
            id: w.id,
            url: w.url.clone(),
            secret: w.secret.clone(),
            active: w.active,
            created_at: w.created_at,
            deliveries: v
                .deliveries
                .iter()
                .map(|d| DeliveryOut {
                    id: d.id,
                    event: d.event.clone(),
                    status: d.status.clone(),
                    attempts: d.attempts,
                    response_status: d.response_status,
                    last_error: d.last_error.clone(),
                    created_at: d.created_at,
                    delivered_at: d.delivered_at,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct WebhookList {
    pub items: Vec<WebhookOut>,
}

#[derive(ApiResponse)]
pub enum WebhookCreated {
    #[oai(status = 201)]
    Created(Json<WebhookOut>),
}

pub struct ApprovalsApi;

#[OpenApi(prefix_path = "/api/v1")]
impl ApprovalsApi {
    /// Issue a customer link for the ticket (`{"url", "expires_at"}`), and
    /// send it by text or e-mail if asked. The timeline records who, how
    /// and when. The URL is in this answer only.
    #[oai(
        path = "/tickets/:ticket_id/customer-links",
        method = "post",
        tag = "CustomerTags::Approvals",
        operation_id = "create_customer_link"
    )]
    async fn create_link(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<CreateLinkRequest>,
    ) -> Result<LinkCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let issued = links::issue(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            links::Issue {
                send: b.send.as_deref(),
                replace: b.replace,
                template: pitwall_core::domain::messaging::TemplateKind::Link,
                attachment: None,
            },
        )
        .await?;
        Ok(LinkCreated::Created(Json(CreatedLinkOut {
            id: issued.link.id,
            url: issued.url,
            expires_at: issued.link.expires_at,
            message_id: issued.message.map(|m| m.id),
        })))
    }

    /// The ticket's links (never their tokens), newest first.
    #[oai(
        path = "/tickets/:ticket_id/customer-links",
        method = "get",
        tag = "CustomerTags::Approvals",
        operation_id = "list_customer_links"
    )]
    async fn list_links(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<LinkList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list = links::list(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(LinkList {
            items: list
                .iter()
                .map(|l| LinkOut {
                    id: l.link.id,
                    state: l.state.to_owned(),
                    created_at: l.link.created_at,
                    expires_at: l.link.expires_at,
                    revoked_at: l.link.revoked_at,
                    first_opened_at: l.link.first_opened_at,
                    last_opened_at: l.link.last_opened_at,
                    visits: l.link.open_count,
                    viewing: l.viewing,
                })
                .collect(),
        }))
    }

    /// Revoke a link: it answers 410 from now on.
    #[oai(
        path = "/tickets/:ticket_id/customer-links/:link_id/revoke",
        method = "post",
        tag = "CustomerTags::Approvals",
        operation_id = "revoke_customer_link"
    )]
    async fn revoke_link(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        link_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        links::revoke(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            LinkId::from_uuid(link_id.0),
        )
        .await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Exactly what the customer sees, before sending the link.
    #[oai(
        path = "/tickets/:ticket_id/customer-view",
        method = "get",
        tag = "CustomerTags::Approvals",
        operation_id = "preview_customer_view"
    )]
    async fn preview(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<CustomerViewOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let page = customer::preview(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(CustomerViewOut::of(&page, None)))
    }

    /// Recompute every approval's hash of the ticket and follow the chain.
    #[oai(
        path = "/tickets/:ticket_id/approvals/verification",
        method = "get",
        tag = "CustomerTags::Approvals",
        operation_id = "verify_ticket_approvals"
    )]
    async fn verify(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<ChainOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list = approvals::verify(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(ChainOut {
            intact: list.iter().all(|v| v.link == Link::Intact),
            approvals: list
                .iter()
                .map(|v| ChainEntryOut {
                    approval_id: v.approval_id,
                    seq: v.seq,
                    hash: v.hash.clone(),
                    result: match v.link {
                        Link::Intact => "intact",
                        Link::Altered => "altered",
                        Link::Broken => "broken",
                    }
                    .to_owned(),
                })
                .collect(),
        }))
    }

    /// One approval with its signature (a Work Approved event opens it).
    #[oai(
        path = "/approvals/:approval_id",
        method = "get",
        tag = "CustomerTags::Approvals",
        operation_id = "get_approval"
    )]
    async fn get_approval(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        approval_id: Path<uuid::Uuid>,
    ) -> ApiResult<ApprovalOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let a = approvals::get(&app, &ctx, ApprovalId::from_uuid(approval_id.0)).await?;
        Ok(Json(ApprovalOut::from(&a)))
    }

    /// The shop's customer-page settings: link lifetime and language.
    #[oai(
        path = "/customer-page-settings",
        method = "put",
        tag = "CustomerTags::Approvals",
        operation_id = "set_customer_page_settings"
    )]
    async fn set_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<CustomerPageSettings>,
    ) -> ApiResult<CustomerPageSettings> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        links::set_ttl(&app, &ctx, body.0.link_ttl_hours, &body.0.locale).await?;
        Ok(Json(CustomerPageSettings {
            link_ttl_hours: body.0.link_ttl_hours,
            locale: body.0.locale.trim().to_owned(),
        }))
    }

    /// The shop's outgoing webhooks with their latest deliveries.
    #[oai(
        path = "/webhooks",
        method = "get",
        tag = "CustomerTags::Webhooks",
        operation_id = "list_webhooks"
    )]
    async fn list_webhooks(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<WebhookList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let list = webhooks::list(&app, &ctx).await?;
        Ok(Json(WebhookList {
            items: list.iter().map(WebhookOut::from).collect(),
        }))
    }

    /// Register a webhook URL; the answer carries its signing secret.
    #[oai(
        path = "/webhooks",
        method = "post",
        tag = "CustomerTags::Webhooks",
        operation_id = "create_webhook"
    )]
    async fn create_webhook(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<CreateWebhookRequest>,
    ) -> Result<WebhookCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let w = webhooks::create(&app, &ctx, &body.0.url).await?;
        Ok(WebhookCreated::Created(Json(WebhookOut::from(
            &webhooks::WebhookView {
                webhook: w,
                deliveries: vec![],
            },
        ))))
    }

    /// Remove a webhook and its delivery log.
    #[oai(
        path = "/webhooks/:webhook_id",
        method = "delete",
        tag = "CustomerTags::Webhooks",
        operation_id = "delete_webhook"
    )]
    async fn delete_webhook(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        webhook_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        webhooks::delete(&app, &ctx, WebhookId::from_uuid(webhook_id.0)).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// Send a `test` event to the webhook.
    #[oai(
        path = "/webhooks/:webhook_id/test",
        method = "post",
        tag = "CustomerTags::Webhooks",
        operation_id = "test_webhook"
    )]
    async fn test_webhook(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        webhook_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        webhooks::send_test(&app, &ctx, WebhookId::from_uuid(webhook_id.0)).await?;
        Ok(Json(Accepted { ok: true }))
    }
}
