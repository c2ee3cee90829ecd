//! Findings of an inspection: what a technician records on each item of
//! the sheet, the rules of each kind's measurement, and which findings
//! need a photo. Pure rules, no storage.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::access::string_enum;
use crate::inspections::{Condition, ItemKind, PhotoRule};

string_enum!(
    /// Where an inspection is in its workflow.
    InspectionStatus {
        InProgress = "in_progress",
        Submitted = "submitted",
        Returned = "returned",
        Published = "published",
    }
);

impl InspectionStatus {
    /// The technician may still change findings.
    pub fn editable(self) -> bool {
        matches!(
            self,
            InspectionStatus::InProgress | InspectionStatus::Returned
        )
    }
}

/// Tire positions a `tire` item measures.
pub const TIRE_POSITIONS: &[&str] = &["lf", "rf", "lr", "rr", "spare"];

/// The largest value a measurement may hold (any unit).
pub const MAX_MEASUREMENT: f64 = 1_000_000.0;
/// The deepest tread a tire measurement may hold, in the sheet's unit
/// (32nds of an inch or mm: both stay well below this).
pub const MAX_TREAD: f64 = 100.0;

pub const MAX_NOTE: usize = 2000;

/// A measurement as stored: a number, or tire positions to tread depths.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    Number(f64),
    Tires(BTreeMap<String, f64>),
}

impl Measurement {
    pub fn to_json(&self) -> Value {
        match self {
            Measurement::Number(n) => serde_json::json!(n),
            Measurement::Tires(m) => serde_json::json!(m),
        }
    }
}

/// Checks a measurement against the item's kind; the error names the
/// field under `measurement` (`measurement/lf`) and says what is wrong.
pub fn measurement(
    kind: ItemKind,
    raw: Option<&Value>,
) -> Result<Option<Measurement>, (String, String)> {
    let bad = |f: &str, m: &str| Err((f.to_owned(), m.to_owned()));
    let raw = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    match kind {
        ItemKind::Measurement => match raw.as_f64() {
            Some(n) if n.is_finite() && n.abs() <= MAX_MEASUREMENT => {
                Ok(Some(Measurement::Number(n)))
            }
            Some(_) => bad("measurement", "must be from -1000000 to 1000000"),
            None => bad("measurement", "must be a number"),
        },
        ItemKind::Tire => {
            let Some(obj) = raw.as_object() else {
                return bad(
                    "measurement",
                    "must be an object of tire positions (lf, rf, lr, rr, spare) to tread depths",
                );
            };
            let mut out = BTreeMap::new();
            for (k, v) in obj {
                let field = format!("measurement/{k}");
                if !TIRE_POSITIONS.contains(&k.as_str()) {
                    return bad(&field, "is not a tire position (lf, rf, lr, rr, spare)");
                }
                match v.as_f64() {
                    Some(n) if n.is_finite() && (0.0..=MAX_TREAD).contains(&n) => {
                        out.insert(k.clone(), n);
                    }
                    _ => return bad(&field, "must be a tread depth from 0 to 100"),
                }
            }
            Ok(Some(Measurement::Tires(out)))
        }
        ItemKind::Condition | ItemKind::Text => bad(
            "measurement",
            "must be null: this item takes no measurement",
        ),
    }
}

/// Whether the sheet asks for a photo of this finding before submitting.
pub fn needs_photo(rule: PhotoRule, condition: Condition) -> bool {
    match rule {
        PhotoRule::Never => false,
        PhotoRule::Always => true,
        PhotoRule::OnAttention => {
            matches!(condition, Condition::NeedsAttention | Condition::Urgent)
        }
    }
}

/// The order the customer reads findings in: urgent first, then what
/// needs attention, then good; unchecked items are not shown (`None`).
pub fn customer_rank(condition: Condition) -> Option<u8> {
    match condition {
        Condition::Urgent => Some(0),
        Condition::NeedsAttention => Some(1),
        Condition::Good => Some(2),
        Condition::NotChecked => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn measurements_follow_the_kind() {
        assert_eq!(
            measurement(ItemKind::Measurement, Some(&json!(4.5))),
            Ok(Some(Measurement::Number(4.5)))
        );
        assert_eq!(
            measurement(ItemKind::Measurement, Some(&json!("4")))
                .unwrap_err()
                .0,
            "measurement"
        );
        let tires = measurement(ItemKind::Tire, Some(&json!({"lf": 6, "spare": 8.5}))).unwrap();
        assert_eq!(
            tires.map(|m| m.to_json()),
            Some(json!({"lf": 6.0, "spare": 8.5}))
        );
        assert_eq!(
            measurement(ItemKind::Tire, Some(&json!({"lf": 6, "front": 3})))
                .unwrap_err()
                .0,
            "measurement/front"
        );
        assert_eq!(
            measurement(ItemKind::Tire, Some(&json!({"rr": -1})))
                .unwrap_err()
                .0,
            "measurement/rr"
        );
        assert_eq!(
            measurement(ItemKind::Tire, Some(&json!(5))).unwrap_err().0,
            "measurement"
        );
        assert!(measurement(ItemKind::Text, Some(&json!(1))).is_err());
        assert!(measurement(ItemKind::Condition, Some(&json!(1))).is_err());
        assert_eq!(
            measurement(ItemKind::Condition, Some(&Value::Null)),
            Ok(None)
        );
    }

    #[test]
    fn photos_follow_the_rule_and_the_condition() {
        assert!(needs_photo(PhotoRule::Always, Condition::Good));
        assert!(!needs_photo(PhotoRule::Never, Condition::Urgent));
        assert!(needs_photo(PhotoRule::OnAttention, Condition::Urgent));
        assert!(needs_photo(
            PhotoRule::OnAttention,
            Condition::NeedsAttention
        ));
        assert!(!needs_photo(PhotoRule::OnAttention, Condition::Good));
        assert!(!needs_photo(PhotoRule::OnAttention, Condition::NotChecked));
    }
}
