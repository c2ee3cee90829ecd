use std::collections::HashMap;

use pitwall_domain::{CustomerId, ShopId, TicketId, VehicleId};
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
/// values. Runs in the caller's transaction, after the change is written.
pub(crate) async fn reindex_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    customer: &customers::Customer,
) -> Result<()> {
    let filter = tickets::TicketFilter {
        customer_id: Some(customer.id),
        ..Default::default()
    };
    let mut known = Known::default();
    known.customers.insert(customer.id, Some(customer.clone()));
    reindex(db, shop, &filter, known).await
}

/// Re-indexes the tickets of a vehicle whose plate, VIN, make or model
/// changed, as [`reindex_customer`] does for customers.
pub(crate) async fn reindex_vehicle(
    db: &impl ConnectionTrait,
    shop: ShopId,
    vehicle: &customers::Vehicle,
) -> Result<()> {
    let filter = tickets::TicketFilter {
        vehicle_id: Some(vehicle.id),
        ..Default::default()
    };
    let mut known = Known::default();
    known.vehicles.insert(vehicle.id, Some(vehicle.clone()));
    reindex(db, shop, &filter, known).await
}

/// Customers and vehicles already read, by id (`None`: not in the shop).
#[derive(Default)]
struct Known {
    customers: HashMap<uuid::Uuid, Option<customers::Customer>>,
    vehicles: HashMap<uuid::Uuid, Option<customers::Vehicle>>,
}

/// Writes the search text of every ticket the filter finds, as its customer
/// and vehicle are now. Each customer and vehicle is read once, and not at
/// all when `known` holds it.
async fn reindex(
    db: &impl ConnectionTrait,
    shop: ShopId,
    filter: &tickets::TicketFilter,
    known: Known,
) -> Result<()> {
    let Known {
        customers: mut people,
        mut vehicles,
    } = known;
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let batch = tickets::list(db, shop, filter, page).await?;
        for t in &batch.items {
            if let Some(id) = t.customer_id
                && !people.contains_key(&id)
            {
                let c = customers::get(db, shop, CustomerId::from_uuid(id)).await?;
                people.insert(id, c);
            }
            if let Some(id) = t.vehicle_id
                && !vehicles.contains_key(&id)
            {
                let v = customers::vehicle(db, shop, VehicleId::from_uuid(id)).await?;
                vehicles.insert(id, v);
            }
            let customer = t.customer_id.and_then(|id| people.get(&id)?.as_ref());
            let vehicle = t.vehicle_id.and_then(|id| vehicles.get(&id)?.as_ref());
            let text = search_text(&t.number, customer, vehicle);
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
