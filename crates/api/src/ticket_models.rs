//! Bodies of the ticket, customer, status and POS endpoints.

use chrono::{DateTime, Utc};
use pitwall_core::model::{activity, customers, statuses};
use pitwall_core::pos;
use pitwall_core::tickets::{self, TicketView};
use poem_openapi::Object;
use poem_openapi::types::Example;
use serde::Deserialize;

// ---- POS requests ----------------------------------------------------------

/// A ticket as the POS sends it. Money is in integer minor units of the
/// shop's currency (cents); Pitwall computes every amount and total itself.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct PosTicketRequest {
    /// `estimate`, `workorder` or `invoice`.
    pub kind: String,
    /// The number people say ("RO 10234").
    pub number: String,
    #[serde(default)]
    #[oai(nullable)]
    pub customer: Option<PosCustomer>,
    #[serde(default)]
    #[oai(nullable)]
    pub vehicle: Option<PosVehicle>,
    #[serde(default)]
    #[oai(default)]
    pub services: Vec<PosService>,
    /// Decimal fraction: 0.0825 for 8.25 %. Applies to taxable line items.
    #[serde(default)]
    #[oai(nullable)]
    pub tax_rate: Option<f64>,
    #[serde(default)]
    #[oai(nullable)]
    pub promised_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[oai(nullable)]
    pub closed: Option<bool>,
    /// When the POS last changed the ticket. A push older than the stored
    /// one changes nothing (`409 stale_update`); an equal one is a repeat
    /// (`200`, outcome `unchanged`).
    pub pos_updated_at: DateTime<Utc>,
}

impl Example for PosTicketRequest {
    fn example() -> Self {
        PosTicketRequest {
            kind: "workorder".into(),
            number: "10234".into(),
            customer: Some(PosCustomer {
                external_id: Some("C-881".into()),
                first_name: Some("Dana".into()),
                last_name: Some("Reyes".into()),
                phone: Some("(512) 555-0123".into()),
                email: Some("dana@example.com".into()),
                locale: Some("en".into()),
            }),
            vehicle: Some(PosVehicle {
                external_id: Some("V-5521".into()),
                vin: Some("1HGCM82633A004352".into()),
                year: Some(2019),
                make: Some("Honda".into()),
                model: Some("Civic".into()),
                plate: Some("ABC-1234".into()),
                mileage: Some(48_210),
            }),
            services: vec![PosService {
                external_id: "S-1".into(),
                title: "Front brake pads and rotors".into(),
                status: "recommended".into(),
                line_items: vec![
                    PosLineItem {
                        kind: "labor".into(),
                        description: "Replace front pads and rotors".into(),
                        quantity: 1.5,
                        unit_price: 12_000,
                        taxable: false,
                    },
                    PosLineItem {
                        kind: "part".into(),
                        description: "Brake pad set".into(),
                        quantity: 1.0,
                        unit_price: 6_499,
                        taxable: true,
                    },
                ],
            }],
            tax_rate: Some(0.0825),
            promised_at: None,
            closed: Some(false),
            pos_updated_at: DateTime::parse_from_rfc3339("2026-11-23T15:04:05Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosCustomer {
    #[serde(default)]
    #[oai(nullable)]
    pub external_id: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub last_name: Option<String>,
    /// Any common format; stored in E.164 read in the shop's country. A
    /// number an existing customer has finds that customer.
    #[serde(default)]
    #[oai(nullable)]
    pub phone: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub email: Option<String>,
    /// The customer's language for their pages: `en` or `es` (`es-MX`
    /// reads as `es`). Absent keeps what is stored; the shop's applies
    /// when nothing is.
    #[serde(default)]
    #[oai(nullable)]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosVehicle {
    #[serde(default)]
    #[oai(nullable)]
    pub external_id: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub vin: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub year: Option<i32>,
    #[serde(default)]
    #[oai(nullable)]
    pub make: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub model: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub plate: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub mileage: Option<i64>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosService {
    /// Stable per ticket: Pitwall keeps the service's id (approvals name it).
    pub external_id: String,
    pub title: String,
    /// `recommended`, `pending`, `approved` or `declined`.
    pub status: String,
    #[serde(default)]
    #[oai(default)]
    pub line_items: Vec<PosLineItem>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosLineItem {
    /// `labor`, `part` or `fee`.
    pub kind: String,
    pub description: String,
    /// Up to three decimals (1.5 hours).
    pub quantity: f64,
    /// Minor units; negative for a discount.
    pub unit_price: i64,
    pub taxable: bool,
}

impl From<PosCustomer> for pos::CustomerInput {
    fn from(c: PosCustomer) -> Self {
        pos::CustomerInput {
            external_id: c.external_id,
            first_name: c.first_name,
            last_name: c.last_name,
            phone: c.phone,
            email: c.email,
            locale: c.locale,
        }
    }
}

impl From<PosVehicle> for pos::VehicleInput {
    fn from(v: PosVehicle) -> Self {
        pos::VehicleInput {
            external_id: v.external_id,
            vin: v.vin,
            year: v.year,
            make: v.make,
            model: v.model,
            plate: v.plate,
            mileage: v.mileage,
        }
    }
}

impl From<PosTicketRequest> for pos::TicketInput {
    fn from(t: PosTicketRequest) -> Self {
        pos::TicketInput {
            kind: t.kind,
            number: t.number,
            customer: t.customer.map(Into::into),
            vehicle: t.vehicle.map(Into::into),
            services: t
                .services
                .into_iter()
                .map(|s| pos::ServiceInput {
                    external_id: s.external_id,
                    title: s.title,
                    status: s.status,
                    line_items: s
                        .line_items
                        .into_iter()
                        .map(|l| pos::LineItemInput {
                            kind: l.kind,
                            description: l.description,
                            quantity: l.quantity,
                            unit_price: l.unit_price,
                            taxable: l.taxable,
                        })
                        .collect(),
                })
                .collect(),
            tax_rate: t.tax_rate.unwrap_or(0.0),
            promised_at: t.promised_at,
            closed: t.closed.unwrap_or(false),
            pos_updated_at: t.pos_updated_at,
        }
    }
}

/// One ticket of a batch: its external id plus the ticket's fields.
#[derive(Debug, Clone, Object)]
pub struct PosBatchTicket {
    pub external_id: String,
    #[oai(flatten)]
    pub ticket: PosTicketRequest,
}

/// Up to 100 tickets; each is answered on its own.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct PosBatchRequest {
    pub tickets: Vec<PosBatchTicket>,
}

impl Example for PosBatchRequest {
    fn example() -> Self {
        let first = PosTicketRequest::example();
        let mut second = PosTicketRequest::example();
        second.number = "10235".into();
        second.kind = "estimate".into();
        PosBatchRequest {
            tickets: vec![
                PosBatchTicket {
                    external_id: "RO-10234".into(),
                    ticket: first,
                },
                PosBatchTicket {
                    external_id: "EST-10235".into(),
                    ticket: second,
                },
            ],
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosVehicleRequest {
    #[serde(default)]
    #[oai(nullable)]
    pub vin: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub year: Option<i32>,
    #[serde(default)]
    #[oai(nullable)]
    pub make: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub model: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub plate: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub mileage: Option<i64>,
    /// The owner, by the POS's customer id.
    #[serde(default)]
    #[oai(nullable)]
    pub customer_external_id: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosCustomerRequest {
    #[serde(default)]
    #[oai(nullable)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub last_name: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub phone: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub email: Option<String>,
    /// `en` or `es`: the language of the customer's pages.
    #[serde(default)]
    #[oai(nullable)]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosCommentRequest {
    /// The POS's id of the comment; sending it again adds nothing.
    #[serde(default)]
    #[oai(nullable)]
    pub external_id: Option<String>,
    pub author: String,
    pub body: String,
}

// ---- responses -----------------------------------------------------------

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct PersonOut {
    pub id: uuid::Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct CustomerOut {
    pub id: uuid::Uuid,
    #[oai(nullable)]
    pub external_id: Option<String>,
    #[oai(nullable)]
    pub first_name: Option<String>,
    #[oai(nullable)]
    pub last_name: Option<String>,
    /// First and last name, or the phone number when there is no name.
    pub name: String,
    /// E.164.
    #[oai(nullable)]
    pub phone: Option<String>,
    #[oai(nullable)]
    pub email: Option<String>,
    /// Reachable by text: has a number and has not opted out.
    pub sms: bool,
    /// Reachable by e-mail: has an address and has not opted out.
    pub email_channel: bool,
    pub sms_opt_out: bool,
    pub email_opt_out: bool,
    /// Set when this customer was merged into another.
    #[oai(nullable)]
    pub merged_into: Option<uuid::Uuid>,
    /// The language of the customer's pages, if the POS gave one.
    #[oai(nullable)]
    pub locale: Option<String>,
    #[serde(with = "crate::fast_json::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl From<&customers::Customer> for CustomerOut {
    fn from(c: &customers::Customer) -> Self {
        CustomerOut {
            id: c.id,
            external_id: c.external_id.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            name: tickets::customer_name(c),
            phone: c.phone.clone(),
            email: c.email.clone(),
            sms: c.phone.is_some() && !c.sms_opt_out,
            email_channel: c.email.is_some() && !c.email_opt_out,
            sms_opt_out: c.sms_opt_out,
            email_opt_out: c.email_opt_out,
            merged_into: c.merged_into,
            locale: c.locale.clone(),
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct VehicleOut {
    pub id: uuid::Uuid,
    #[oai(nullable)]
    pub external_id: Option<String>,
    #[oai(nullable)]
    pub customer_id: Option<uuid::Uuid>,
    /// "2019 Honda Civic".
    pub label: String,
    #[oai(nullable)]
    pub vin: Option<String>,
    #[oai(nullable)]
    pub year: Option<i32>,
    #[oai(nullable)]
    pub make: Option<String>,
    #[oai(nullable)]
    pub model: Option<String>,
    #[oai(nullable)]
    pub plate: Option<String>,
    #[oai(nullable)]
    pub mileage: Option<i64>,
}

impl From<&customers::Vehicle> for VehicleOut {
    fn from(v: &customers::Vehicle) -> Self {
        VehicleOut {
            id: v.id,
            external_id: v.external_id.clone(),
            customer_id: v.customer_id,
            label: tickets::vehicle_label(v),
            vin: v.vin.clone(),
            year: v.year,
            make: v.make.clone(),
            model: v.model.clone(),
            plate: v.plate.clone(),
            mileage: v.mileage,
        }
    }
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct LineItemOut {
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    pub taxable: bool,
    /// quantity x unit_price, rounded to the minor unit.
    pub amount: i64,
    /// Part lines: the supplier's number.
    #[oai(nullable)]
    pub part_number: Option<String>,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ServiceOut {
    pub id: uuid::Uuid,
    pub external_id: String,
    pub title: String,
    pub status: String,
    pub subtotal: i64,
    pub line_items: Vec<LineItemOut>,
    /// `pos`, or `pitwall` for a position made here that the POS has not
    /// sent yet.
    pub source: String,
    /// The technician marked that the position needs parts.
    pub parts_needed: bool,
    /// `needed`, `ordered` or `received`; null without parts.
    #[oai(nullable)]
    pub parts_status: Option<String>,
    /// The advisor's words for the customer.
    #[oai(nullable)]
    pub customer_note: Option<String>,
    /// For the shop only.
    #[oai(nullable)]
    pub internal_note: Option<String>,
    /// The advisor qualified it for the customer.
    pub ready: bool,
    /// When the technician marked it done.
    #[oai(nullable)]
    #[serde(with = "crate::fast_json::rfc3339::option")]
    pub done_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct StatusRef {
    pub id: uuid::Uuid,
    pub label: String,
    pub color: String,
    pub retired: bool,
}

impl From<&pitwall_core::domain::timer::TimerState> for TimerOut {
    fn from(s: &pitwall_core::domain::timer::TimerState) -> Self {
        TimerOut {
            mode: s.mode.as_str().to_owned(),
            started_at: s.started_at,
            due_at: s.due_at,
            elapsed_secs: s.elapsed_secs,
            remaining_secs: s.remaining_secs,
            level: s.level.as_str().to_owned(),
        }
    }
}

/// Staff only: never shown to customers.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct TimerOut {
    /// `count_down` or `count_up`.
    pub mode: String,
    #[serde(with = "crate::fast_json::rfc3339")]
    pub started_at: DateTime<Utc>,
    #[oai(nullable)]
    #[serde(with = "crate::fast_json::rfc3339::option")]
    pub due_at: Option<DateTime<Utc>>,
    pub elapsed_secs: i64,
    /// Negative once overdue.
    #[oai(nullable)]
    pub remaining_secs: Option<i64>,
    /// `normal`, `warning` (orange) or `overdue` (red).
    pub level: String,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct TicketOut {
    pub id: uuid::Uuid,
    pub external_id: String,
    pub kind: String,
    pub number: String,
    #[oai(nullable)]
    pub customer: Option<CustomerOut>,
    #[oai(nullable)]
    pub vehicle: Option<VehicleOut>,
    #[oai(nullable)]
    pub status: Option<StatusRef>,
    #[oai(nullable)]
    #[serde(with = "crate::fast_json::rfc3339::option")]
    pub status_changed_at: Option<DateTime<Utc>>,
    pub services: Vec<ServiceOut>,
    /// Decimal fraction (0.0825).
    pub tax_rate: f64,
    /// Minor units; declined services do not count.
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    /// ISO 4217.
    pub currency: String,
    pub closed: bool,
    #[oai(nullable)]
    #[serde(with = "crate::fast_json::rfc3339::option")]
    pub promised_at: Option<DateTime<Utc>>,
    pub priority: i32,
    #[oai(nullable)]
    pub advisor: Option<PersonOut>,
    #[oai(nullable)]
    pub technician: Option<PersonOut>,
    #[oai(nullable)]
    pub timer: Option<TimerOut>,
    #[serde(with = "crate::fast_json::rfc3339")]
    pub pos_updated_at: DateTime<Utc>,
    /// Work was approved and no staff member has opened the ticket since
    /// (the dashboard's highlight).
    pub approval_unseen: bool,
    /// The repair-order stage (staff only): `inspection`, `qualification`,
    /// `awaiting_approval`, `in_work`, `completed` or `canceled`.
    pub stage: String,
    /// When the ticket entered its stage; null while it has never moved.
    #[oai(nullable)]
    #[serde(with = "crate::fast_json::rfc3339::option")]
    pub stage_changed_at: Option<DateTime<Utc>>,
    /// In a work queue (`GET /api/v1/me/work?queue=`) and on the
    /// dashboard: the hand-off's target from the shop's workflow settings
    /// (on the dashboard, parts not yet received, else qualification),
    /// counted down from `stage_changed_at` (`warning` orange, `overdue`
    /// red). Null elsewhere, or without a target.
    #[oai(nullable)]
    pub stage_timer: Option<TimerOut>,
    /// Grows with every change the customer could see.
    pub version: i32,
    #[serde(with = "crate::fast_json::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::fast_json::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<&TicketView> for TicketOut {
    fn from(v: &TicketView) -> Self {
        let t = &v.ticket;
        TicketOut {
            id: t.id,
            external_id: t.external_id.clone(),
            kind: t.kind.clone(),
            number: t.number.clone(),
            customer: v.customer.as_ref().map(CustomerOut::from),
            vehicle: v.vehicle.as_ref().map(VehicleOut::from),
            status: v.status.as_ref().map(|s| StatusRef {
                id: s.id,
                label: s.label.clone(),
                color: s.color.clone(),
                retired: s.retired_at.is_some(),
            }),
            status_changed_at: t.status_changed_at,
            services: v
                .services
                .iter()
                .map(|s| ServiceOut {
                    id: s.service.id,
                    external_id: s.service.external_id.clone(),
                    title: s.service.title.clone(),
                    status: s.service.status.clone(),
                    subtotal: s.service.subtotal,
                    line_items: s
                        .line_items
                        .iter()
                        .map(|l| LineItemOut {
                            kind: l.kind.clone(),
                            description: l.description.clone(),
                            quantity: l.quantity_milli as f64 / 1000.0,
                            unit_price: l.unit_price,
                            taxable: l.taxable,
                            amount: l.amount,
                            part_number: l.part_number.clone(),
                        })
                        .collect(),
                    source: s.service.source.clone(),
                    parts_needed: s.service.parts_needed,
                    parts_status: s.service.parts_status.clone(),
                    customer_note: s.service.customer_note.clone(),
                    internal_note: s.service.internal_note.clone(),
                    ready: s.service.ready,
                    done_at: s.service.done_at,
                })
                .collect(),
            tax_rate: t.tax_rate_ppm as f64 / 1_000_000.0,
            subtotal: t.subtotal,
            tax: t.tax,
            total: t.total,
            currency: t.currency.clone(),
            closed: t.closed,
            promised_at: t.promised_at,
            priority: t.priority,
            advisor: v.advisor.as_ref().map(|p| PersonOut {
                id: p.id,
                name: p.name.clone(),
            }),
            technician: v.technician.as_ref().map(|p| PersonOut {
                id: p.id,
                name: p.name.clone(),
            }),
            timer: v.timer.as_ref().map(TimerOut::from),
            stage_timer: v.stage_timer.as_ref().map(TimerOut::from),
            pos_updated_at: t.pos_updated_at,
            approval_unseen: v.approval_unseen(),
            stage: v.stage.as_str().to_owned(),
            stage_changed_at: t.stage_changed_at,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// What a push did, and the ticket as stored.
#[derive(Debug, Clone, Object)]
pub struct PosPushResult {
    /// `created`, `updated` or `unchanged`.
    pub outcome: String,
    pub ticket: TicketOut,
}

/// One ticket's answer in a batch.
#[derive(Debug, Clone, Object)]
pub struct PosBatchResult {
    pub external_id: String,
    /// `created`, `updated`, `unchanged`, `stale` or `rejected`.
    pub outcome: String,
    #[oai(nullable)]
    pub ticket: Option<TicketOut>,
    /// Why it was rejected (`code`, `message`, `field`, `errors`).
    #[oai(nullable)]
    pub error: Option<crate::error::ErrorBody>,
}

#[derive(Debug, Clone, Object)]
pub struct PosBatchResponse {
    pub results: Vec<PosBatchResult>,
}

#[derive(Debug, Clone, Object)]
pub struct CommentOut {
    pub id: uuid::Uuid,
    /// `pos`, `staff` or `pitwall` (written by Pitwall, e.g. work approved).
    pub source: String,
    #[oai(nullable)]
    pub external_id: Option<String>,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<&activity::Comment> for CommentOut {
    fn from(c: &activity::Comment) -> Self {
        CommentOut {
            id: c.id,
            source: c.source.clone(),
            external_id: c.external_id.clone(),
            author: c.author_name.clone(),
            body: c.body.clone(),
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CommentList {
    pub items: Vec<CommentOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct NotificationOut {
    pub id: uuid::Uuid,
    /// `ticket_update`, `work_approved`, `payment_received`, `comment`,
    /// `inspection_published` or `service_added`.
    pub kind: String,
    pub ticket_id: uuid::Uuid,
    pub ticket_external_id: String,
    pub ticket_number: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<&pos::NotificationView> for NotificationOut {
    fn from(n: &pos::NotificationView) -> Self {
        NotificationOut {
            id: n.notification.id,
            kind: n.notification.kind.clone(),
            ticket_id: n.notification.ticket_id,
            ticket_external_id: n.ticket_external_id.clone(),
            ticket_number: n.ticket_number.clone(),
            data: serde_json::from_str(&n.notification.data).unwrap_or_default(),
            created_at: n.notification.created_at,
            processed_at: n.notification.processed_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct NotificationList {
    pub items: Vec<NotificationOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct MessageOut {
    pub id: uuid::Uuid,
    #[oai(nullable)]
    pub ticket_id: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub customer_id: Option<uuid::Uuid>,
    /// `sms` or `email`.
    pub channel: String,
    /// `outbound` or `inbound`.
    pub direction: String,
    /// `status_update`, `reply`, `link`, `reminder`, `invoice`, `extension`,
    /// `keyword_reply` or `inbound`.
    pub kind: String,
    pub to: String,
    #[oai(nullable)]
    pub from: Option<String>,
    pub body: String,
    /// `queued`, `held`, `sending`, `sent`, `delivered`, `failed`, or
    /// `received` (inbound).
    pub status: String,
    /// Why it is held: `quiet_hours` (until `held_until`) or
    /// `quota_exceeded`.
    #[oai(nullable)]
    pub hold_reason: Option<String>,
    #[oai(nullable)]
    pub held_until: Option<DateTime<Utc>>,
    /// The provider's code (`30003`, `21610`, ...) or ours
    /// (`customer_opted_out`, `consent_required`, `no_sender`, ...).
    #[oai(nullable)]
    pub error_code: Option<String>,
    /// The reason in words.
    #[oai(nullable)]
    pub error_message: Option<String>,
    /// Tries so far.
    pub attempts: i32,
    /// SMS segments billed.
    pub segments: i32,
    /// The staff member who sent it (none for automatic messages).
    #[oai(nullable)]
    pub created_by: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub sent_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&activity::Message> for MessageOut {
    fn from(m: &activity::Message) -> Self {
        MessageOut {
            id: m.id,
            ticket_id: m.ticket_id,
            customer_id: m.customer_id,
            channel: m.channel.clone(),
            direction: m.direction.clone(),
            kind: m.kind.clone(),
            to: m.to_address.clone(),
            from: m.from_address.clone(),
            body: m.body.clone(),
            status: m.status.clone(),
            hold_reason: m.hold_reason.clone(),
            held_until: m.held_until,
            error_code: m.error_code.clone(),
            error_message: m.error_message.clone(),
            attempts: m.attempts,
            segments: m.segments,
            created_by: m.created_by,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct TicketList {
    pub items: Vec<TicketOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct StatusHistoryOut {
    #[oai(nullable)]
    pub from: Option<String>,
    pub to: String,
    #[oai(nullable)]
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct TicketSummaryOut {
    pub id: uuid::Uuid,
    pub kind: String,
    pub number: String,
    pub total: i64,
    pub closed: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct TicketDetailOut {
    pub ticket: TicketOut,
    pub status_history: Vec<StatusHistoryOut>,
    pub comments: Vec<CommentOut>,
    pub messages: Vec<MessageOut>,
    /// Earlier tickets of the same customer or vehicle (staff only).
    pub shop_history: Vec<TicketSummaryOut>,
}

impl From<&tickets::TicketDetail> for TicketDetailOut {
    fn from(d: &tickets::TicketDetail) -> Self {
        TicketDetailOut {
            ticket: TicketOut::from(&d.view),
            status_history: d
                .status_history
                .iter()
                .map(|h| StatusHistoryOut {
                    from: h.from.clone(),
                    to: h.to.clone(),
                    by: h.by.clone(),
                    at: h.at,
                })
                .collect(),
            comments: d.comments.iter().map(CommentOut::from).collect(),
            messages: d.messages.iter().map(MessageOut::from).collect(),
            shop_history: d
                .shop_history
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
}

#[derive(Debug, Clone, Object)]
pub struct TimelineEventOut {
    pub id: uuid::Uuid,
    /// `pos_push`, `status_changed`, `comment`, `assigned`, `message_queued`,
    /// `work_approved`, ... (new kinds are added, never renamed).
    pub kind: String,
    /// `staff`, `pos`, `customer` or `system`.
    pub actor_kind: String,
    #[oai(nullable)]
    pub actor_name: Option<String>,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<&activity::TimelineEvent> for TimelineEventOut {
    fn from(e: &activity::TimelineEvent) -> Self {
        TimelineEventOut {
            id: e.id,
            kind: e.kind.clone(),
            actor_kind: e.actor_kind.clone(),
            actor_name: e.actor_name.clone(),
            data: serde_json::from_str(&e.data).unwrap_or_default(),
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct TimelineList {
    pub items: Vec<TimelineEventOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStatusRequest {
    pub status_id: uuid::Uuid,
    /// For count-down statuses: minutes until due (defaults to the
    /// status's default duration).
    #[serde(default)]
    #[oai(nullable)]
    pub duration_minutes: Option<i32>,
}

#[derive(Debug, Clone, Object)]
pub struct SetStatusResponse {
    pub ticket: TicketOut,
    /// The customer updates this change queued (one per channel).
    pub messages: Vec<MessageOut>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub body: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRequest {
    /// null clears it.
    #[serde(default)]
    #[oai(nullable)]
    pub advisor_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[oai(nullable)]
    pub technician_id: Option<uuid::Uuid>,
    /// 0 normal, 1 soon, 2 high, 3 urgent.
    #[serde(default)]
    #[oai(default)]
    pub priority: i32,
    #[serde(default)]
    #[oai(nullable)]
    pub promised_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct ApprovalRequest {
    #[serde(default)]
    #[oai(default)]
    pub approved_service_ids: Vec<uuid::Uuid>,
    #[serde(default)]
    #[oai(default)]
    pub declined_service_ids: Vec<uuid::Uuid>,
    /// `in_person` or `phone`.
    pub method: String,
    /// Who approved: required in person; for a phone approval, the name
    /// the customer gave.
    #[serde(default)]
    #[oai(nullable)]
    pub signer_name: Option<String>,
    /// In person: the signature made on the staff device (PNG data URL or
    /// SVG path). Not for phone approvals.
    #[serde(default)]
    #[oai(nullable)]
    pub signature: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub note: Option<String>,
}

impl Example for ApprovalRequest {
    fn example() -> Self {
        ApprovalRequest {
            approved_service_ids: vec![uuid::Uuid::from_u128(
                0x0193_6a2e_5c1b_7f00_8000_0000_0000_0001,
            )],
            declined_service_ids: vec![uuid::Uuid::from_u128(
                0x0193_6a2e_5c1b_7f00_8000_0000_0000_0002,
            )],
            method: "phone".into(),
            signer_name: Some("Dana Reyes".into()),
            signature: None,
            note: Some("Called at 9:40; brakes yes, wipers next visit.".into()),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct VehicleStatusOut {
    pub id: uuid::Uuid,
    pub position: i32,
    pub label: String,
    /// `#rrggbb`.
    pub color: String,
    /// Setting this status texts / e-mails the customer.
    pub notify_customer: bool,
    pub message_template: String,
    /// `open`, `count_down` or `count_up`.
    pub timer_mode: String,
    #[oai(nullable)]
    pub default_minutes: Option<i32>,
    pub retired: bool,
}

impl From<&statuses::VehicleStatus> for VehicleStatusOut {
    fn from(s: &statuses::VehicleStatus) -> Self {
        VehicleStatusOut {
            id: s.id,
            position: s.position,
            label: s.label.clone(),
            color: s.color.clone(),
            notify_customer: s.notify_customer,
            message_template: s.message_template.clone(),
            timer_mode: s.timer_mode.clone(),
            default_minutes: s.default_minutes,
            retired: s.retired_at.is_some(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct VehicleStatusList {
    pub items: Vec<VehicleStatusOut>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleStatusRequest {
    pub label: String,
    pub color: String,
    pub notify_customer: bool,
    /// minijinja: `{{ first_name }}`, `{{ shop_name }}`, `{{ vehicle }}`,
    /// `{{ status }}`, `{{ ticket_number }}`, `{{ shop_phone }}`.
    #[serde(default)]
    #[oai(default)]
    pub message_template: String,
    /// `open`, `count_down` or `count_up`.
    pub timer_mode: String,
    #[serde(default)]
    #[oai(nullable)]
    pub default_minutes: Option<i32>,
    /// Where it goes (0 first); omitted keeps its place or appends.
    #[serde(default)]
    #[oai(nullable)]
    pub position: Option<i32>,
}

impl From<VehicleStatusRequest> for pitwall_core::statuses::StatusInput {
    fn from(r: VehicleStatusRequest) -> Self {
        pitwall_core::statuses::StatusInput {
            label: r.label,
            color: r.color,
            notify_customer: r.notify_customer,
            message_template: r.message_template,
            timer_mode: r.timer_mode,
            default_minutes: r.default_minutes,
            position: r.position,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CustomerList {
    pub items: Vec<CustomerOut>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    #[serde(default)]
    #[oai(nullable)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub last_name: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub phone: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerCreated {
    pub customer: CustomerOut,
    /// False when the phone number found an existing customer.
    pub created: bool,
}

#[derive(Debug, Clone, Object)]
pub struct CustomerDetailOut {
    pub customer: CustomerOut,
    pub vehicles: Vec<VehicleOut>,
    pub tickets: Vec<TicketSummaryOut>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The customer to fold into this one.
    pub duplicate_id: uuid::Uuid,
}

#[derive(Debug, Clone, Object)]
pub struct DashboardRowOut {
    pub ticket: TicketOut,
    pub sms: bool,
    pub email: bool,
    /// The customer replied and nobody has read it (orange).
    pub unread_reply: bool,
    /// The ticket's newest outgoing text or e-mail and where it stands.
    #[oai(nullable)]
    pub last_message: Option<MessageOut>,
}

#[derive(Debug, Clone, Object)]
pub struct DashboardOut {
    pub items: Vec<DashboardRowOut>,
}

#[derive(Debug, Clone, Object)]
pub struct SyncEventOut {
    pub id: uuid::Uuid,
    pub operation: String,
    #[oai(nullable)]
    pub external_id: Option<String>,
    pub outcome: String,
    #[oai(nullable)]
    pub errors: Option<serde_json::Value>,
    /// The body as sent (rejected pushes only, cut at 16 KB).
    #[oai(nullable)]
    pub payload: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct SyncHealthOut {
    #[oai(nullable)]
    pub last_push_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_accepted_at: Option<DateTime<Utc>>,
    pub accepted_24h: u64,
    pub stale_24h: u64,
    pub rejected_24h: u64,
    pub unprocessed_notifications: u64,
    pub recent_rejections: Vec<SyncEventOut>,
    pub keys: Vec<crate::models::ApiKey>,
}

impl From<&pos::SyncHealth> for SyncHealthOut {
    fn from(h: &pos::SyncHealth) -> Self {
        SyncHealthOut {
            last_push_at: h.last_push_at,
            last_accepted_at: h.last_accepted_at,
            accepted_24h: h.accepted_24h,
            stale_24h: h.stale_24h,
            rejected_24h: h.rejected_24h,
            unprocessed_notifications: h.unprocessed_notifications,
            recent_rejections: h
                .recent_rejections
                .iter()
                .map(|e| SyncEventOut {
                    id: e.id,
                    operation: e.operation.clone(),
                    external_id: e.external_id.clone(),
                    outcome: e.outcome.clone(),
                    errors: e
                        .errors
                        .as_deref()
                        .and_then(|s| serde_json::from_str(s).ok()),
                    payload: e.payload.clone(),
                    created_at: e.created_at,
                })
                .collect(),
            keys: h.keys.iter().map(crate::models::ApiKey::from).collect(),
        }
    }
}

/// A change in the shop, pushed over server-sent events. Re-read what the
/// ids name; events carry no customer data.
#[derive(Debug, Clone, Object)]
pub struct LiveEventOut {
    /// `ticket_created`, `ticket_updated`, `status_changed`, `timeline`,
    /// `work_approved`, `stage_changed`, `handoff` (work just arrived in
    /// the caller's own queues; only the person it concerns hears it), or
    /// `resync` (events were missed: re-read everything).
    pub kind: String,
    #[oai(nullable)]
    pub ticket_id: Option<uuid::Uuid>,
    #[oai(nullable)]
    pub event_id: Option<uuid::Uuid>,
    /// `handoff` only: the ticket's number.
    #[oai(nullable)]
    pub ticket_number: Option<String>,
    /// `handoff` only: the work queues the ticket entered for the caller
    /// (`qualification`, `parts`, `completion`, as in
    /// `GET /api/v1/me/work?queue=`); empty for other kinds.
    pub queues: Vec<String>,
}

impl From<pitwall_core::streams::Told> for LiveEventOut {
    fn from(told: pitwall_core::streams::Told) -> Self {
        match told {
            pitwall_core::streams::Told::Event(e) => {
                let (ticket_number, queues) = match e.handoff {
                    Some(h) => (Some(h.ticket_number), h.queues),
                    None => (None, Vec::new()),
                };
                LiveEventOut {
                    kind: e.kind,
                    ticket_id: e.ticket_id,
                    event_id: e.event_id,
                    ticket_number,
                    queues,
                }
            }
            pitwall_core::streams::Told::Resync => LiveEventOut {
                kind: "resync".into(),
                ticket_id: None,
                event_id: None,
                ticket_number: None,
                queues: Vec::new(),
            },
        }
    }
}
