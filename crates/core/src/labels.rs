//! How customers and vehicles are named to people: on screens, in
//! messages, in search results. Used by tickets, outreach and the pages alike.

use pitwall_store::customers;

/// The customer's name as staff read it.
pub fn customer_name(c: &customers::Customer) -> String {
    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        c.phone.clone().unwrap_or_else(|| "Customer".to_owned())
    } else {
        name
    }
}

/// `2019 Honda Civic`, or the plate, or nothing.
pub fn vehicle_label(v: &customers::Vehicle) -> String {
    let yr = v.year.map(|y| y.to_string());
    let parts: Vec<&str> = [yr.as_deref(), v.make.as_deref(), v.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        v.plate.clone().unwrap_or_else(|| "vehicle".to_owned())
    } else {
        parts.join(" ")
    }
}
