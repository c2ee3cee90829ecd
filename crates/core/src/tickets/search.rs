use pitwall_domain::{ShopId, TicketId};
use pitwall_store::sea_orm::ConnectionTrait;
use pitwall_store::{PageRequest, customers, tickets};

use crate::Result;

/// Lower-case tokens of everything a ticket is searched by, each stripped to
/// letters and digits so that `ABC-123` and `abc 123` both find `ABC123`.
pub fn search_text(
    number: &str,
    customer: Option<&customers::Customer>,
    vehicle: Option<&customers::Vehicle>,
) -> String {
    let mut parts: Vec<String> = vec![number.to_owned()];
    if let Some(c) = customer {
        parts.extend(c.first_name.clone());
        parts.extend(c.last_name.clone());
        parts.extend(c.phone.clone());
        parts.extend(c.email.clone());
    }
    if let Some(v) = vehicle {
        parts.extend(v.plate.clone());
        parts.extend(v.vin.clone());
        parts.extend(v.make.clone());
        parts.extend(v.model.clone());
    }
    parts
        .iter()
        .flat_map(|p| p.split_whitespace())
        .map(normalise_term)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn normalise_term(t: &str) -> String {
    t.chars()
        .filter(|c| c.is_alphanumeric() || *c == '@' || *c == '.')
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .trim_matches('.')
        .to_owned()
}

/// What someone typed into the search box, as terms that each must match.
pub fn search_terms(q: &str) -> Vec<String> {
    q.split_whitespace()
        .take(6)
        .map(|t| {
            let digits = pitwall_domain::phone::search_digits(t);
            let phone_like = t
                .chars()
                .all(|c| c.is_ascii_digit() || "()+-. ".contains(c));
            if phone_like && !digits.is_empty() {
                digits
            } else {
                normalise_term(t)
            }
        })
        .filter(|t| !t.is_empty())
        .map(|t| t.replace(['%', '_'], ""))
        .collect()
}

/// Re-indexes the tickets of a customer whose name, phone or e-mail changed
/// (an edit from the POS, a merge), so that search finds them by the new
/// values. Runs in the caller's transaction.
pub(crate) async fn reindex_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: &customers::Customer,
) -> Result<()> {
    let filter = tickets::TicketFilter {
        customer_id: Some(customer.id),
        ..Default::default()
    };
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let batch = tickets::list(db, shop, &filter, page).await?;
        for t in &batch.items {
            let vehicle = match t.vehicle_id {
                Some(v) => {
                    customers::vehicle(db, shop, pitwall_domain::VehicleId::from_uuid(v)).await?
                }
                None => None,
            };
            let text = search_text(&t.number, Some(customer), vehicle.as_ref());
            if text != t.search_text {
                tickets::set_search_text(db, shop, TicketId::from_uuid(t.id), &text).await?;
            }
        }
        match batch.next_cursor.and_then(|c| c.parse().ok()) {
            Some(after) => page.after = Some(after),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_read_phones_plates_and_names() {
        assert_eq!(search_terms("(512) 555-0123"), vec!["512", "5550123"]);
        assert_eq!(search_terms("ABC-123"), vec!["abc123"]);
        assert_eq!(search_terms(" O'Brien  "), vec!["obrien"]);
        assert_eq!(search_terms("100%_"), vec!["100"]);
    }
}
