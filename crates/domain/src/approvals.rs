//! Approvals as evidence. An approval is written once; its SHA-256 is taken
//! over a canonical form of everything it says, including the hash of the
//! ticket's previous approval, so that changing any stored approval (or
//! removing one from the middle) breaks the chain where it happened.

use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::string_enum;
use crate::values::Invalid;

string_enum!(
    /// How the customer gave the approval.
    ApprovalMethod {
        CustomerLink = "customer_link",
        InPerson = "in_person",
        Phone = "phone",
    }
);

/// One line item as the customer saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSnapshot {
    pub kind: String,
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price: i64,
    pub amount: i64,
    pub taxable: bool,
}

/// One service as the customer saw it when approving or declining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    pub id: Uuid,
    pub title: String,
    pub subtotal: i64,
    pub line_items: Vec<LineSnapshot>,
    /// The inspection finding the service came from. Absent from records
    /// of services that came from no finding (and from every record made
    /// before inspections), so their stored text and hash are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<FindingSnapshot>,
}

/// The finding behind a service as the customer saw it: its condition and
/// the photos and videos shown with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingSnapshot {
    pub inspection_id: Uuid,
    pub item_key: String,
    pub condition: String,
    pub media_ids: Vec<Uuid>,
}

/// Everything an approval says, in the order it is hashed. Field order is
/// part of the format: never reorder, only add a new `format` version.
#[derive(Debug, Serialize)]
pub struct Canonical<'a> {
    pub format: &'static str,
    pub id: Uuid,
    pub shop_id: Uuid,
    pub ticket_id: Uuid,
    pub seq: i32,
    pub method: &'a str,
    pub link_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
    pub staff_name: Option<&'a str>,
    pub signer_name: &'a str,
    pub signature: Option<&'a str>,
    /// The stored JSON text of the snapshots, hashed as stored.
    pub approved: &'a str,
    pub declined: &'a str,
    pub approved_total: i64,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: &'a str,
    pub ticket_version: i32,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub note: Option<&'a str>,
    pub created_at: String,
    pub prev_hash: Option<&'a str>,
}

pub const FORMAT: &str = "pitwall.approval.v1";

impl Canonical<'_> {
    /// Hex SHA-256 of the canonical JSON.
    pub fn hash(&self) -> String {
        // Serialising a struct of strings and numbers cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// The instant as stored: both databases keep microseconds, so the hash is
/// taken over a time they give back unchanged.
pub fn stored_instant(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub fn canonical_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// What the chain check found for one approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Intact,
    /// The stored hash is not the hash of what is stored: edited.
    Altered,
    /// It does not point at the approval before it: one was removed,
    /// reordered or replaced.
    Broken,
}

/// Checks a ticket's approvals in `seq` order: `(recomputed, stored hash,
/// stored prev_hash, seq)` each.
pub fn check_chain(records: &[(String, String, Option<String>, i32)]) -> Vec<Link> {
    let mut prev: Option<&str> = None;
    records
        .iter()
        .enumerate()
        .map(|(i, (recomputed, stored, prev_hash, seq))| {
            let link = if recomputed != stored {
                Link::Altered
            } else if prev_hash.as_deref() != prev || *seq != i as i32 + 1 {
                Link::Broken
            } else {
                Link::Intact
            };
            prev = Some(stored.as_str());
            link
        })
        .collect()
}

/// The largest signature accepted, encoded.
pub const MAX_SIGNATURE_BYTES: usize = 300_000;
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A signature as sent: a PNG data URL (what a canvas gives) or an SVG path
/// (`M x y L x y ...`). Checked for form, not for looks.
pub fn parse_signature(raw: &str) -> Result<String, Invalid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Invalid("is required: sign in the box".into()));
    }
    if raw.len() > MAX_SIGNATURE_BYTES {
        return Err(Invalid(format!(
            "must be at most {MAX_SIGNATURE_BYTES} bytes"
        )));
    }
    if let Some(b64) = raw.strip_prefix("data:image/png;base64,") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| Invalid("is not valid base64 PNG data".into()))?;
        if !bytes.starts_with(PNG_MAGIC) {
            return Err(Invalid("is not a PNG image".into()));
        }
        return Ok(raw.to_owned());
    }
    if raw.starts_with('M') || raw.starts_with('m') {
        let ok = raw.chars().all(|c| "MLQCZmlqcz0123456789 .,-".contains(c));
        let strokes = raw.matches(['L', 'l', 'Q', 'q', 'C', 'c']).count();
        if ok && strokes > 0 {
            return Ok(raw.to_owned());
        }
        return Err(Invalid(
            "must be an SVG path of moves and lines (M, L, Q, C, Z and numbers)".into(),
        ));
    }
    Err(Invalid(
        "must be a PNG data URL (data:image/png;base64,...) or an SVG path".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical<'a>(prev: Option<&'a str>, signer: &'a str) -> Canonical<'a> {
        Canonical {
            format: FORMAT,
            id: Uuid::nil(),
            shop_id: Uuid::nil(),
            ticket_id: Uuid::nil(),
            seq: 1,
            method: "customer_link",
            link_id: None,
            staff_id: None,
            staff_name: None,
            signer_name: signer,
            signature: Some("M 1 1 L 2 2"),
            approved: "[]",
            declined: "[]",
            approved_total: 100,
            subtotal: 100,
            tax: 8,
            total: 108,
            currency: "USD",
            ticket_version: 3,
            ip: Some("127.0.0.1"),
            user_agent: None,
            note: None,
            created_at: canonical_time(DateTime::UNIX_EPOCH),
            prev_hash: prev,
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let a = canonical(None, "Dana").hash();
        assert_eq!(a, canonical(None, "Dana").hash(), "deterministic");
        assert_ne!(a, canonical(None, "Dan").hash());
        assert_ne!(a, canonical(Some("00"), "Dana").hash());
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn the_chain_names_what_was_altered_and_what_was_removed() {
        let h1 = canonical(None, "a").hash();
        let h2 = canonical(Some(&h1), "b").hash();
        let h3 = canonical(Some(&h2), "c").hash();
        let good = vec![
            (h1.clone(), h1.clone(), None, 1),
            (h2.clone(), h2.clone(), Some(h1.clone()), 2),
            (h3.clone(), h3.clone(), Some(h2.clone()), 3),
        ];
        assert!(check_chain(&good).iter().all(|l| *l == Link::Intact));
        let mut edited = good.clone();
        edited[1].0 = "ff".repeat(32);
        assert_eq!(
            check_chain(&edited),
            vec![Link::Intact, Link::Altered, Link::Intact]
        );
        let removed = vec![good[0].clone(), good[2].clone()];
        assert_eq!(check_chain(&removed), vec![Link::Intact, Link::Broken]);
    }

    #[test]
    fn signatures_are_png_data_urls_or_svg_paths() {
        let png = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nrest")
        );
        assert!(parse_signature(&png).is_ok());
        assert!(parse_signature("M 10 10 L 20 20").is_ok());
        assert!(parse_signature("").is_err());
        assert!(parse_signature("M 10 10").is_err(), "a dot is not a stroke");
        assert!(parse_signature("data:image/png;base64,bm90IGEgcG5n").is_err());
        assert!(parse_signature("<svg onload=alert(1)>").is_err());
        assert!(parse_signature("M 1 1 L 2 2 <script>").is_err());
    }
}
