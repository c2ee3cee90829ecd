use chrono::{DateTime, Utc};
use pitwall_domain::phone::Phone;
use pitwall_domain::tickets::{self as rules, LineItemKind, ServiceStatus, TicketKind};
use pitwall_domain::{Email, values};
use pitwall_store::customers;

use crate::{Error, Problems, Result};

#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `en` or `es` (a tag such as `es-MX` is read as `es`).
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct VehicleInput {
    pub external_id: Option<String>,
    pub vin: Option<String>,
    pub year: Option<i32>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub plate: Option<String>,
    pub mileage: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct LineItemInput {
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    pub taxable: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceInput {
    pub external_id: String,
    pub title: String,
    pub status: String,
    pub line_items: Vec<LineItemInput>,
}

#[derive(Debug, Clone)]
pub struct TicketInput {
    pub kind: String,
    pub number: String,
    pub customer: Option<CustomerInput>,
    pub vehicle: Option<VehicleInput>,
    pub services: Vec<ServiceInput>,
    pub tax_rate: f64,
    pub promised_at: Option<DateTime<Utc>>,
    pub closed: bool,
    pub pos_updated_at: DateTime<Utc>,
}

/// Checks an external id from the path.
pub fn external_id(field: &str, raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must be 1 to 100 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}

pub(super) struct ValidCustomer(pub(super) customers::CustomerFields);
pub(super) struct ValidVehicle(pub(super) customers::VehicleFields);

pub(super) struct ValidService {
    pub(super) external_id: String,
    pub(super) title: String,
    pub(super) status: ServiceStatus,
    pub(super) items: Vec<ValidLine>,
    pub(super) subtotal: i64,
    pub(super) taxable: i64,
}

pub(super) struct ValidTicket {
    pub(super) kind: TicketKind,
    pub(super) number: String,
    pub(super) customer: Option<ValidCustomer>,
    pub(super) vehicle: Option<ValidVehicle>,
    pub(super) services: Vec<ValidService>,
    pub(super) tax_rate_ppm: i64,
    pub(super) promised_at: Option<DateTime<Utc>>,
    pub(super) closed: bool,
    pub(super) pos_updated_at: DateTime<Utc>,
}

pub(super) fn opt_text(
    p: &mut Problems,
    field: &str,
    raw: &Option<String>,
    max: usize,
) -> Option<String> {
    p.check(field, values::optional_text(raw.as_deref(), max))
        .flatten()
}

pub(super) fn valid_customer(
    p: &mut Problems,
    at: &str,
    c: &CustomerInput,
    country: &str,
) -> ValidCustomer {
    let f = |name: &str| format!("{at}{name}");
    let phone = c
        .phone
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|raw| p.check(&f("phone"), Phone::parse(raw, country)))
        .map(|ph| ph.as_str().to_owned());
    let email = c
        .email
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|raw| p.check(&f("email"), Email::parse(raw)))
        .map(|e| e.as_str().to_owned());
    ValidCustomer(customers::CustomerFields {
        external_id: opt_text(p, &f("external_id"), &c.external_id, 100),
        first_name: opt_text(p, &f("first_name"), &c.first_name, 100),
        last_name: opt_text(p, &f("last_name"), &c.last_name, 100),
        phone,
        email,
        locale: c
            .locale
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|raw| {
                p.check(
                    &f("locale"),
                    pitwall_domain::locale::Locale::from_tag(raw).ok_or_else(|| {
                        pitwall_domain::Invalid("must be en or es (or a tag such as es-MX)".into())
                    }),
                )
            })
            .map(|l| l.as_str().to_owned()),
    })
}

pub(super) fn valid_vehicle(p: &mut Problems, at: &str, v: &VehicleInput) -> ValidVehicle {
    let f = |name: &str| format!("{at}{name}");
    let vin = v
        .vin
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|raw| p.check(&f("vin"), rules::parse_vin(raw)));
    let this_year = Utc::now()
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap_or(2100);
    if let Some(y) = v.year
        && !(1886..=this_year + 2).contains(&y)
    {
        p.add(f("year"), format!("must be from 1886 to {}", this_year + 2));
    }
    if let Some(m) = v.mileage
        && !(0..=10_000_000).contains(&m)
    {
        p.add(f("mileage"), "must be from 0 to 10000000");
    }
    let plate = opt_text(p, &f("plate"), &v.plate, 20).map(|pl| rules::normalise_plate(&pl));
    ValidVehicle(customers::VehicleFields {
        external_id: opt_text(p, &f("external_id"), &v.external_id, 100),
        customer_id: None,
        vin,
        year: v.year,
        make: opt_text(p, &f("make"), &v.make, 60),
        model: opt_text(p, &f("model"), &v.model, 60),
        plate: plate.filter(|s| !s.is_empty()),
        mileage: v.mileage,
    })
}

/// A line item checked and priced: kind, description, quantity in
/// thousandths, unit price and amount in minor units, taxable.
pub(crate) type ValidLine = (LineItemKind, String, i64, i64, bool, i64);

/// The money rules of one line item, wherever a service comes from (a POS
/// push, an inspection finding); problems are named through `at`.
pub(crate) fn valid_line(
    p: &mut Problems,
    at: &dyn Fn(&str) -> String,
    kind: &str,
    description: &str,
    quantity: f64,
    unit_price: i64,
    taxable: bool,
) -> Option<ValidLine> {
    let kind_ok = LineItemKind::parse(kind.trim());
    if kind_ok.is_none() {
        p.add(at("kind"), "must be labor, part or fee");
    }
    let desc = p.check(&at("description"), values::required_text(description, 300));
    let qty = p.check(&at("quantity"), rules::quantity_milli(quantity));
    if unit_price.abs() > 10_000_000_000 {
        p.add(
            at("unit_price"),
            "must be at most 10000000000 minor units either way",
        );
    }
    let (kind, desc, qty) = (kind_ok?, desc?, qty?);
    let amount = rules::line_amount(qty, unit_price);
    Some((kind, desc, qty, unit_price, taxable, amount))
}

pub(super) fn validate(input: &TicketInput, country: &str) -> Result<ValidTicket> {
    let mut p = Problems::default();
    let kind = TicketKind::parse(input.kind.trim());
    if kind.is_none() {
        p.add("kind", "must be estimate, workorder or invoice");
    }
    let number = p.check("number", values::required_text(&input.number, 40));
    let tax_rate_ppm = p.check("tax_rate", rules::tax_rate_ppm(input.tax_rate));
    let customer = input
        .customer
        .as_ref()
        .map(|c| valid_customer(&mut p, "customer/", c, country));
    let vehicle = input
        .vehicle
        .as_ref()
        .map(|v| valid_vehicle(&mut p, "vehicle/", v));
    if input.services.len() > 200 {
        p.add("services", "must have at most 200 services");
    }
    let mut services = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, s) in input.services.iter().enumerate() {
        let at = |name: &str| format!("services/{i}/{name}");
        let ext = match external_id(&at("external_id"), &s.external_id) {
            Ok(e) => Some(e),
            Err(Error::Invalid { field, message }) => {
                p.add(field, message);
                None
            }
            Err(_) => None,
        };
        if let Some(e) = &ext
            && !seen.insert(e.clone())
        {
            p.add(
                at("external_id"),
                "is used by another service of this ticket",
            );
        }
        let title = p.check(&at("title"), values::required_text(&s.title, 200));
        let status = ServiceStatus::parse(s.status.trim());
        if status.is_none() {
            p.add(
                at("status"),
                "must be recommended, pending, approved or declined",
            );
        }
        if s.line_items.len() > 200 {
            p.add(at("line_items"), "must have at most 200 line items");
        }
        let mut items = Vec::new();
        for (j, li) in s.line_items.iter().enumerate() {
            let at = |name: &str| format!("services/{i}/line_items/{j}/{name}");
            if let Some(l) = valid_line(
                &mut p,
                &at,
                &li.kind,
                &li.description,
                li.quantity,
                li.unit_price,
                li.taxable,
            ) {
                items.push(l);
            }
        }
        if let (Some(external_id), Some(title), Some(status)) = (ext, title, status) {
            let subtotal = items.iter().map(|i| i.5).sum();
            let taxable = items.iter().filter(|i| i.4).map(|i| i.5).sum();
            services.push(ValidService {
                external_id,
                title,
                status,
                items,
                subtotal,
                taxable,
            });
        }
    }
    p.into_result()?;
    Ok(ValidTicket {
        kind: kind.ok_or_else(|| Error::invalid("kind", "is required"))?,
        number: number.ok_or_else(|| Error::invalid("number", "is required"))?,
        customer,
        vehicle,
        services,
        tax_rate_ppm: tax_rate_ppm.unwrap_or(0),
        promised_at: input.promised_at,
        closed: input.closed,
        pos_updated_at: input.pos_updated_at,
    })
}
