//! The POS API, `/api/pos/v1`, authenticated by a shop's API key: ticket,
//! customer and vehicle pushes, comments both ways, notifications.
//! A published contract: names here do not change.

use pitwall_core::App;
use pitwall_core::domain::NotificationId;
use pitwall_core::pos::{self, PosCtx};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};

use crate::auth::PosKey;
use crate::body::{JsonBody, RawJson, parse_text};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::models::PosWhoAmI;
use crate::staff::page;
use crate::ticket_models::*;

#[derive(Tags)]
pub enum PosTags {
    /// POS integration.
    Pos,
}

pub struct PosApi;

async fn pos_ctx(app: &App, key: &PosKey) -> Result<PosCtx, ApiError> {
    Ok(pos::authenticate(app, &key.0.token).await?)
}

#[derive(ApiResponse)]
pub enum PutTicketResponse {
    /// The ticket was created.
    #[oai(status = 201)]
    Created(Json<PosPushResult>),
    /// The ticket was updated, or this was a repeat of the stored push
    /// (`outcome: unchanged`).
    #[oai(status = 200)]
    Ok(Json<PosPushResult>),
}

fn stale_body(view: &pitwall_core::tickets::TicketView) -> ErrorBody {
    ErrorBody::new(
        "stale_update",
        format!(
            "pos_updated_at is older than the stored ticket's ({}); nothing changed",
            view.ticket.pos_updated_at.to_rfc3339()
        ),
        Some("pos_updated_at".into()),
    )
}

/// The error envelope of any API error, for answers inside a 200 body.
fn body_of(e: ApiError) -> ErrorBody {
    match e {
        ApiError::BadRequest(b)
        | ApiError::Unauthenticated(b)
        | ApiError::Forbidden(b)
        | ApiError::NotFound(b)
        | ApiError::Conflict(b)
        | ApiError::Invalid(b)
        | ApiError::RateLimited(b)
        | ApiError::Gone(b)
        | ApiError::TooLarge(b)
        | ApiError::Internal(b)
        | ApiError::Unavailable(b) => b.0,
    }
}

fn prefixed(i: usize, mut f: pitwall_core::FieldError) -> pitwall_core::FieldError {
    f.field = if f.field.is_empty() {
        format!("tickets/{i}")
    } else {
        format!("tickets/{i}/{}", f.field)
    };
    f
}

#[OpenApi(prefix_path = "/api/pos/v1")]
impl PosApi {
    /// Which shop and key this request authenticates as.
    #[oai(
        path = "/whoami",
        method = "get",
        tag = "PosTags::Pos",
        operation_id = "pos_whoami"
    )]
    async fn whoami(&self, app: Data<&App>, key: PosKey) -> ApiResult<PosWhoAmI> {
        let pos = pos_ctx(&app, &key).await?;
        Ok(Json(PosWhoAmI {
            shop_id: pos.shop.id,
            shop_name: pos.shop.name,
            key_name: pos.key.name,
            scopes: pos.key.scopes,
        }))
    }

    /// Create or update a ticket by the POS's id. Idempotent: the same body
    /// twice makes one ticket. Ordered by `pos_updated_at`: an older push
    /// answers 409 `stale_update` and changes nothing. Bad bodies answer 422
    /// with every bad field in `errors` (JSON pointers) and change nothing.
    #[oai(
        path = "/tickets/:external_id",
        method = "put",
        tag = "PosTags::Pos",
        operation_id = "pos_put_ticket"
    )]
    async fn put_ticket(
        &self,
        app: Data<&App>,
        key: PosKey,
        external_id: Path<String>,
        body: RawJson<PosTicketRequest>,
    ) -> Result<PutTicketResponse, ApiError> {
        let pos = pos_ctx(&app, &key).await?;
        let input: PosTicketRequest = match parse_text(&body.text) {
            Ok(v) => v,
            Err(f) => {
                let errors = vec![f];
                pos::record_rejected(
                    &app,
                    &pos,
                    "ticket.put",
                    Some(&external_id.0),
                    &errors,
                    Some(&body.text),
                )
                .await?;
                return Err(pitwall_core::Error::InvalidFields(errors).into());
            }
        };
        let pushed =
            pos::put_ticket(&app, &pos, &external_id.0, &input.into(), Some(&body.text)).await?;
        let result = PosPushResult {
            outcome: pushed.outcome.as_str().to_owned(),
            ticket: TicketOut::from(&pushed.ticket),
        };
        // A stale push is a 409 like every other conflict: declaring it
        // here as well gave the document two `409` keys, which strict
        // parsers refuse.
        match pushed.outcome {
            pos::Outcome::Created => Ok(PutTicketResponse::Created(Json(result))),
            pos::Outcome::Stale => Err(ApiError::Conflict(Json(stale_body(&pushed.ticket)))),
            _ => Ok(PutTicketResponse::Ok(Json(result))),
        }
    }

    /// The shop booked the invoice's payment in its own accounts: a
    /// `delivered` case closes as `booked` (plan feature
    /// `online_payments`). Any other state answers 409 naming `status`.
    #[oai(
        path = "/invoices/:invoice_id/booked",
        method = "post",
        tag = "PosTags::Pos",
        operation_id = "pos_mark_invoice_booked"
    )]
    async fn invoice_booked(
        &self,
        app: Data<&App>,
        key: PosKey,
        invoice_id: Path<uuid::Uuid>,
    ) -> ApiResult<crate::invoices::InvoiceOut> {
        let pos = pos_ctx(&app, &key).await?;
        let v = pitwall_core::invoices::pos_mark_booked(
            &app,
            &pos,
            pitwall_core::domain::InvoiceId::from_uuid(invoice_id.0),
        )
        .await?;
        Ok(Json(crate::invoices::InvoiceOut::from(&v)))
    }

    /// A ticket by the POS's id.
    #[oai(
        path = "/tickets/:external_id",
        method = "get",
        tag = "PosTags::Pos",
        operation_id = "pos_get_ticket"
    )]
    async fn get_ticket(
        &self,
        app: Data<&App>,
        key: PosKey,
        external_id: Path<String>,
    ) -> ApiResult<TicketOut> {
        let pos = pos_ctx(&app, &key).await?;
        let v = pos::get_ticket(&app, &pos, &external_id.0).await?;
        Ok(Json(TicketOut::from(&v)))
    }

    /// Up to 100 tickets in one request, each answered on its own in
    /// `results` (same order): one bad ticket does not sink the batch.
    #[oai(
        path = "/tickets/batch",
        method = "post",
        tag = "PosTags::Pos",
        operation_id = "pos_batch_tickets"
    )]
    async fn batch(
        &self,
        app: Data<&App>,
        key: PosKey,
        body: RawJson<PosBatchRequest>,
    ) -> ApiResult<PosBatchResponse> {
        let pos = pos_ctx(&app, &key).await?;
        let value: serde_json::Value = serde_json::from_str(&body.text).unwrap_or_default();
        let Some(obj) = value.as_object() else {
            return Err(crate::error::invalid("tickets", "is required"));
        };
        if let Some(k) = obj.keys().find(|k| *k != "tickets") {
            return Err(crate::error::invalid(k, "is not a field of this request"));
        }
        let Some(list) = obj.get("tickets").and_then(|t| t.as_array()) else {
            return Err(crate::error::invalid(
                "tickets",
                "must be an array of tickets",
            ));
        };
        if list.len() > pos::MAX_BATCH {
            return Err(crate::error::invalid(
                "tickets",
                format!("must have at most {} tickets", pos::MAX_BATCH),
            ));
        }
        let raws: Vec<String> = list.iter().map(|t| t.to_string()).collect();
        let mut items = Vec::with_capacity(list.len());
        for (i, t) in list.iter().enumerate() {
            let mut t = t.clone();
            let external_id = t
                .as_object_mut()
                .and_then(|o| o.remove("external_id"))
                .and_then(|v| v.as_str().map(str::to_owned));
            let input = match &external_id {
                None => Err(vec![prefixed(
                    i,
                    pitwall_core::FieldError {
                        field: "external_id".into(),
                        message: "is required (a string)".into(),
                    },
                )]),
                Some(_) => parse_text::<PosTicketRequest>(&t.to_string())
                    .map(Into::into)
                    .map_err(|f| vec![prefixed(i, f)]),
            };
            items.push(pos::BatchItem {
                external_id: external_id.unwrap_or_default(),
                input,
                raw: Some(&raws[i]),
            });
        }
        let ids: Vec<String> = items.iter().map(|i| i.external_id.clone()).collect();
        let results = pos::put_batch(&app, &pos, items).await?;
        let results = results
            .into_iter()
            .zip(ids)
            .enumerate()
            .map(|(i, (r, external_id))| match r {
                pos::BatchResult::Pushed(p) if p.outcome == pos::Outcome::Stale => PosBatchResult {
                    external_id,
                    outcome: "stale".into(),
                    error: Some(stale_body(&p.ticket)),
                    ticket: Some(TicketOut::from(&p.ticket)),
                },
                pos::BatchResult::Pushed(p) => PosBatchResult {
                    external_id,
                    outcome: p.outcome.as_str().into(),
                    ticket: Some(TicketOut::from(&p.ticket)),
                    error: None,
                },
                pos::BatchResult::Failed(e) => {
                    // Fields of a single ticket are named within the batch.
                    let e = match e {
                        pitwall_core::Error::InvalidFields(list) => {
                            pitwall_core::Error::InvalidFields(
                                list.into_iter()
                                    .map(|f| {
                                        if f.field.starts_with("tickets/") {
                                            f
                                        } else {
                                            prefixed(i, f)
                                        }
                                    })
                                    .collect(),
                            )
                        }
                        pitwall_core::Error::Invalid { field, message } => {
                            pitwall_core::Error::InvalidFields(vec![prefixed(
                                i,
                                pitwall_core::FieldError { field, message },
                            )])
                        }
                        other => other,
                    };
                    PosBatchResult {
                        external_id,
                        outcome: "rejected".into(),
                        ticket: None,
                        error: Some(body_of(ApiError::from(e))),
                    }
                }
            })
            .collect();
        Ok(Json(PosBatchResponse { results }))
    }

    /// Create or update a customer by the POS's id. A phone number an
    /// existing customer has (in any format) finds that customer.
    #[oai(
        path = "/customers/:external_id",
        method = "put",
        tag = "PosTags::Pos",
        operation_id = "pos_put_customer"
    )]
    async fn put_customer(
        &self,
        app: Data<&App>,
        key: PosKey,
        external_id: Path<String>,
        body: JsonBody<PosCustomerRequest>,
    ) -> ApiResult<CustomerOut> {
        let pos = pos_ctx(&app, &key).await?;
        let b = body.0;
        let c = pos::put_customer(
            &app,
            &pos,
            &external_id.0,
            &pos::CustomerInput {
                external_id: None,
                first_name: b.first_name,
                last_name: b.last_name,
                phone: b.phone,
                email: b.email,
                locale: b.locale,
            },
        )
        .await?;
        Ok(Json(CustomerOut::from(&c)))
    }

    /// Create or update a vehicle by the POS's id.
    #[oai(
        path = "/vehicles/:external_id",
        method = "put",
        tag = "PosTags::Pos",
        operation_id = "pos_put_vehicle"
    )]
    async fn put_vehicle(
        &self,
        app: Data<&App>,
        key: PosKey,
        external_id: Path<String>,
        body: JsonBody<PosVehicleRequest>,
    ) -> ApiResult<VehicleOut> {
        let pos = pos_ctx(&app, &key).await?;
        let b = body.0;
        let v = pos::put_vehicle(
            &app,
            &pos,
            &external_id.0,
            &pos::VehicleInput {
                external_id: None,
                vin: b.vin,
                year: b.year,
                make: b.make,
                model: b.model,
                plate: b.plate,
                mileage: b.mileage,
            },
            b.customer_external_id.as_deref(),
        )
        .await?;
        Ok(Json(VehicleOut::from(&v)))
    }

    /// Add an internal comment from the POS. With `external_id`, sending it
    /// again adds nothing.
    #[oai(
        path = "/tickets/:external_id/comments",
        method = "post",
        tag = "PosTags::Pos",
        operation_id = "pos_add_comment"
    )]
    async fn add_comment(
        &self,
        app: Data<&App>,
        key: PosKey,
        external_id: Path<String>,
        body: JsonBody<PosCommentRequest>,
    ) -> ApiResult<CommentOut> {
        let pos = pos_ctx(&app, &key).await?;
        let b = body.0;
        let c = pos::add_comment(
            &app,
            &pos,
            &external_id.0,
            &pos::CommentInput {
                external_id: b.external_id,
                author: b.author,
                body: b.body,
            },
        )
        .await?;
        Ok(Json(CommentOut::from(&c)))
    }

    /// Every internal comment of the ticket, oldest first: the POS's own,
    /// staff's from Pitwall, and Pitwall's (work approved).
    #[oai(
        path = "/tickets/:external_id/comments",
        method = "get",
        tag = "PosTags::Pos",
        operation_id = "pos_list_comments"
    )]
    async fn list_comments(
        &self,
        app: Data<&App>,
        key: PosKey,
        external_id: Path<String>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<CommentList> {
        let pos = pos_ctx(&app, &key).await?;
        let p = pos::comments(&app, &pos, &external_id.0, page(cursor.0, limit.0)?).await?;
        Ok(Json(CommentList {
            items: p.items.iter().map(CommentOut::from).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    /// Notifications for the POS: unprocessed first (oldest first), then
    /// processed ones; follow `next_cursor`.
    #[oai(
        path = "/notifications",
        method = "get",
        tag = "PosTags::Pos",
        operation_id = "pos_list_notifications"
    )]
    async fn notifications(
        &self,
        app: Data<&App>,
        key: PosKey,
        cursor: Query<Option<String>>,
        limit: Query<Option<u64>>,
    ) -> ApiResult<NotificationList> {
        let pos = pos_ctx(&app, &key).await?;
        let limit = page(None, limit.0)?.limit;
        let (items, next_cursor) =
            pos::notifications(&app, &pos, cursor.0.as_deref(), limit).await?;
        Ok(Json(NotificationList {
            items: items.iter().map(NotificationOut::from).collect(),
            next_cursor,
        }))
    }

    /// Mark a notification processed. For `work_approved` this adds a
    /// comment to the ticket naming what was approved, by whom and when
    /// (once, however often it is called).
    #[oai(
        path = "/notifications/:notification_id/processed",
        method = "post",
        tag = "PosTags::Pos",
        operation_id = "pos_process_notification"
    )]
    async fn process(
        &self,
        app: Data<&App>,
        key: PosKey,
        notification_id: Path<uuid::Uuid>,
    ) -> ApiResult<NotificationOut> {
        let pos = pos_ctx(&app, &key).await?;
        let n = pos::process_notification(&app, &pos, NotificationId::from_uuid(notification_id.0))
            .await?;
        Ok(Json(NotificationOut::from(&n)))
    }
}
