//! Invoice cases: what the customer is asked to pay, frozen when the case is
//! made, and the forward-only way a case goes from draft to booked. The
//! snapshot is hashed like an approval, so an edited invoice shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::string_enum;
use crate::approvals::LineSnapshot;
use crate::workflow::Forbidden;

string_enum!(
    /// Where an invoice case stands. Published: the API, the POS
    /// notifications and the webhooks carry it.
    InvoiceStatus {
        Draft = "draft",
        Sent = "sent",
        Paid = "paid",
        Delivered = "delivered",
        Booked = "booked",
        PaidPos = "paid_pos",
        Canceled = "canceled",
    }
);

string_enum!(
    /// What staff, the POS or a payment do to an invoice case.
    InvoiceAction {
        Send = "send",
        PayOnline = "pay_online",
        PaidPos = "paid_pos",
        Delivered = "delivered",
        Booked = "booked",
        Cancel = "cancel",
    }
);

impl InvoiceStatus {
    /// Nothing moves a closed case.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Booked | InvoiceStatus::PaidPos | InvoiceStatus::Canceled
        )
    }

    /// The customer still owes the total.
    pub fn is_unpaid(self) -> bool {
        matches!(self, InvoiceStatus::Draft | InvoiceStatus::Sent)
    }

    /// Where `action` takes a case in this state. Cases move forward only:
    /// draft → sent (sending again stays sent) → paid → delivered →
    /// booked; an unpaid case may instead be paid at the counter
    /// (`paid_pos`, closed) or canceled.
    pub fn after(self, action: InvoiceAction) -> Result<InvoiceStatus, Forbidden> {
        use InvoiceAction as A;
        use InvoiceStatus as S;
        let to = match (self, action) {
            (S::Draft | S::Sent, A::Send) => S::Sent,
            (S::Draft | S::Sent, A::PayOnline) => S::Paid,
            (S::Draft | S::Sent, A::PaidPos) => S::PaidPos,
            (S::Draft | S::Sent, A::Cancel) => S::Canceled,
            (S::Paid, A::Delivered) => S::Delivered,
            (S::Delivered, A::Booked) => S::Booked,
            _ => {
                return Err(Forbidden(format!(
                    "is {self}: {}",
                    match self.allowed().as_slice() {
                        [] => "the case is closed".to_owned(),
                        allowed => format!(
                            "it may only be {}",
                            allowed
                                .iter()
                                .map(|a| a.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }
                )));
            }
        };
        Ok(to)
    }

    /// The actions this state allows, in the order screens offer them.
    pub fn allowed(self) -> Vec<InvoiceAction> {
        InvoiceAction::ALL
            .iter()
            .copied()
            .filter(|a| {
                matches!(
                    (self, a),
                    (
                        InvoiceStatus::Draft | InvoiceStatus::Sent,
                        InvoiceAction::Send
                            | InvoiceAction::PayOnline
                            | InvoiceAction::PaidPos
                            | InvoiceAction::Cancel
                    ) | (InvoiceStatus::Paid, InvoiceAction::Delivered)
                        | (InvoiceStatus::Delivered, InvoiceAction::Booked)
                )
            })
            .collect()
    }
}

/// One position of an invoice as billed: a ticket's service (its id) or a
/// line typed by hand (no id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoicePosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<Uuid>,
    pub title: String,
    pub subtotal: i64,
    pub line_items: Vec<LineSnapshot>,
}

/// Everything an invoice says, in the order it is hashed. Field order is
/// part of the format: never reorder, only add a new `format` version.
#[derive(Debug, Serialize)]
pub struct Canonical<'a> {
    pub format: &'static str,
    pub id: Uuid,
    pub shop_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub number: &'a str,
    pub customer_name: &'a str,
    /// The stored JSON text of the positions, hashed as stored.
    pub positions: &'a str,
    pub subtotal: i64,
    pub tax_rate_ppm: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: &'a str,
    pub created_at: String,
}

pub const FORMAT: &str = "pitwall.invoice.v1";

impl Canonical<'_> {
    /// Hex SHA-256 of the canonical JSON.
    pub fn hash(&self) -> String {
        // Serialising a struct of strings and numbers cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// The number a shop's `seq`-th invoice carries.
pub fn number(seq: i32) -> String {
    format!("INV-{seq:05}")
}

/// The longest reason a cancellation keeps.
pub const MAX_REASON_CHARS: usize = 500;

/// The instant an invoice was made, as hashed.
pub fn canonical_time(t: DateTime<Utc>) -> String {
    crate::approvals::canonical_time(t)
}

/// An amount in minor units as a person reads it (`$1,234.50`,
/// `1,234.50 EUR`): the pages, the PDF and the messages show money this way.
pub fn format_money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let amount = format!("{grouped}.{:02}", abs % 100);
    match currency {
        "USD" | "CAD" | "AUD" | "NZD" => format!("{sign}${amount}"),
        other => format!("{sign}{amount} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InvoiceAction as A;
    use InvoiceStatus as S;

    #[test]
    fn cases_move_forward_only() {
        let allowed = [
            (S::Draft, A::Send, S::Sent),
            (S::Sent, A::Send, S::Sent),
            (S::Draft, A::PayOnline, S::Paid),
            (S::Sent, A::PayOnline, S::Paid),
            (S::Draft, A::PaidPos, S::PaidPos),
            (S::Sent, A::PaidPos, S::PaidPos),
            (S::Draft, A::Cancel, S::Canceled),
            (S::Sent, A::Cancel, S::Canceled),
            (S::Paid, A::Delivered, S::Delivered),
            (S::Delivered, A::Booked, S::Booked),
        ];
        for from in InvoiceStatus::ALL {
            for action in InvoiceAction::ALL {
                let want = allowed
                    .iter()
                    .find(|(f, a, _)| f == from && a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(from.after(*action).ok(), want, "{from} {action}");
                assert_eq!(
                    from.allowed().contains(action),
                    want.is_some(),
                    "{from} lists {action}"
                );
            }
        }
        for closed in [S::Booked, S::PaidPos, S::Canceled] {
            assert!(closed.is_closed());
            assert!(closed.allowed().is_empty());
            let Forbidden(why) = closed.after(A::Send).unwrap_err();
            assert!(why.contains("closed"), "{why}");
        }
        let Forbidden(why) = S::Paid.after(A::Cancel).unwrap_err();
        assert_eq!(why, "is paid: it may only be delivered");
    }

    fn canonical(number: &str, total: i64) -> Canonical<'_> {
        Canonical {
            format: FORMAT,
            id: Uuid::nil(),
            shop_id: Uuid::nil(),
            ticket_id: None,
            number,
            customer_name: "Dana Reyes",
            positions: "[]",
            subtotal: 100,
            tax_rate_ppm: 82_500,
            tax: 8,
            total,
            currency: "USD",
            created_at: canonical_time(DateTime::UNIX_EPOCH),
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let h = canonical("INV-00001", 108).hash();
        assert_eq!(h, canonical("INV-00001", 108).hash());
        assert_ne!(h, canonical("INV-00002", 108).hash());
        assert_ne!(h, canonical("INV-00001", 109).hash());
    }

    #[test]
    fn money_reads_like_money() {
        assert_eq!(format_money(123_450, "USD"), "$1,234.50");
        assert_eq!(format_money(24_499, "USD"), "$244.99");
        assert_eq!(format_money(5, "EUR"), "0.05 EUR");
        assert_eq!(format_money(-300, "CAD"), "-$3.00");
        assert_eq!(format_money(100_000_000, "CHF"), "1,000,000.00 CHF");
        assert_eq!(number(42), "INV-00042");
    }
}
