//! JSON answers written straight from the value by serde, for the large
//! lists staff screens read all day (the ticket list).
//!
//! poem-openapi's `Json<T>` first turns the value into a
//! `serde_json::Value` tree (a map, a key string and a value per field) and
//! then writes the tree: for 25 tickets with their services and lines that
//! is thousands of allocations per request, more work than the writing
//! itself. `SerdeJson<T>` publishes the same document (`T`'s schema, the
//! same media type and status) and writes `T` with its `Serialize`
//! implementation. The two encodings must agree: a test compares them
//! for every type written this way (`every_fast_type_encodes_as_the_document_says`).

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse,
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};
use serde::Serialize;

/// A 200 answer with `T` as JSON, written by serde.
pub struct SerdeJson<T>(pub T);

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder().content_type(CONTENT_TYPE).body(body),
            Err(e) => {
                tracing::error!(error = %e, "a response could not be written as JSON");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: <Self as Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Dates as poem-openapi writes them (`to_rfc3339`: `+00:00`, not `Z`), so
/// both encodings give the same text.
pub(crate) mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339())
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_str(&at.to_rfc3339()),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use poem_openapi::types::ToJSON;

    use crate::ticket_models::*;

    fn same<T: ToJSON + serde::Serialize>(value: &T) {
        let by_serde = serde_json::to_value(value).expect("serde");
        let by_document = value.to_json().expect("json");
        assert_eq!(by_serde, by_document);
    }

    fn timer(due: bool) -> TimerOut {
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 9, 13, 0, 7).unwrap();
        TimerOut {
            mode: "count_down".into(),
            started_at: at,
            due_at: due.then_some(at + chrono::Duration::minutes(90)),
            elapsed_secs: 12,
            remaining_secs: due.then_some(5388),
            level: "warning".into(),
        }
    }

    fn ticket(full: bool) -> TicketOut {
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 9, 13, 0, 7).unwrap()
            + chrono::Duration::microseconds(123_456);
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let text = |s: &str| full.then(|| s.to_owned());
        TicketOut {
            id,
            external_id: "RO-1".into(),
            kind: "workorder".into(),
            number: "1001 \"quoted\" \u{e9}".into(),
            customer: full.then(|| CustomerOut {
                id,
                external_id: text("c-1"),
                first_name: text("Ana"),
                last_name: text("L\u{f3}pez"),
                name: "Ana L\u{f3}pez".into(),
                phone: text("+15125550142"),
                email: text("ana@example.test"),
                sms: true,
                email_channel: false,
                sms_opt_out: false,
                email_opt_out: true,
                merged_into: full.then_some(id),
                locale: text("es"),
                created_at: at,
            }),
            vehicle: full.then(|| VehicleOut {
                id,
                external_id: None,
                customer_id: Some(id),
                label: "2019 Honda Civic".into(),
                vin: text("1HGCM82633A004352"),
                year: Some(2019),
                make: text("Honda"),
                model: text("Civic"),
                plate: None,
                mileage: Some(48_210),
            }),
            status: full.then(|| StatusRef {
                id,
                label: "In shop".into(),
                color: "#00897b".into(),
                retired: false,
            }),
            status_changed_at: full.then_some(at),
            services: vec![ServiceOut {
                id,
                external_id: "s1".into(),
                title: "Brakes\nfront".into(),
                status: "approved".into(),
                subtotal: 24_499,
                line_items: vec![LineItemOut {
                    kind: "part".into(),
                    description: "Pads".into(),
                    quantity: 1.5,
                    unit_price: 12_000,
                    taxable: true,
                    amount: 18_000,
                    part_number: text("BR-900"),
                }],
                source: "pos".into(),
                parts_needed: full,
                parts_status: text("ordered"),
                customer_note: text("2 mm"),
                internal_note: None,
                ready: true,
                done_at: full.then_some(at),
            }],
            tax_rate: 0.0825,
            subtotal: 24_499,
            tax: 2_021,
            total: 26_520,
            currency: "USD".into(),
            closed: false,
            promised_at: full.then_some(at),
            priority: 2,
            advisor: full.then(|| PersonOut {
                id,
                name: "Olive".into(),
            }),
            technician: None,
            timer: Some(timer(full)),
            pos_updated_at: at,
            approval_unseen: full,
            stage: "in_work".into(),
            stage_changed_at: None,
            stage_timer: full.then(|| timer(false)),
            version: 3,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn every_fast_type_encodes_as_the_document_says() {
        for full in [true, false] {
            same(&ticket(full));
            same(&TicketList {
                items: vec![ticket(full), ticket(!full)],
                next_cursor: full.then(|| "abc".to_owned()),
            });
        }
    }
}
