//! Tickets as the POS sends them, and the money rules: every amount is an
//! integer in the currency's minor units, computed by Pitwall, never trusted
//! from the sender.

use crate::access::string_enum;
use crate::values::Invalid;

string_enum!(
    /// What the POS calls the ticket.
    TicketKind {
        Estimate = "estimate",
        Workorder = "workorder",
        Invoice = "invoice",
    }
);

string_enum!(
    /// Where a service stands with the customer.
    ServiceStatus {
        Recommended = "recommended",
        Pending = "pending",
        Approved = "approved",
        Declined = "declined",
    }
);

string_enum!(
    LineItemKind {
        Labor = "labor",
        Part = "part",
        Fee = "fee",
    }
);

string_enum!(
    /// How the dashboard tracks time in a status (never shown to customers).
    TimerMode {
        Open = "open",
        CountDown = "count_down",
        CountUp = "count_up",
    }
);

string_enum!(
    /// Who did something on a ticket.
    ActorKind {
        Staff = "staff",
        Pos = "pos",
        Customer = "customer",
        System = "system",
    }
);

string_enum!(
    /// One kind of timeline event. Later capabilities add kinds; the event
    /// model (kind, actor, time, data) does not change.
    TimelineKind {
        PosPush = "pos_push",
        StatusChanged = "status_changed",
        Comment = "comment",
        Assigned = "assigned",
        Updated = "updated",
        MessageQueued = "message_queued",
        MessageHeld = "message_held",
        MessageSent = "message_sent",
        MessageDelivered = "message_delivered",
        MessageFailed = "message_failed",
        CustomerReply = "customer_reply",
        LinkSent = "link_sent",
        LinkOpened = "link_opened",
        LinkRevoked = "link_revoked",
        CustomerViewing = "customer_viewing",
        CustomerMessage = "customer_message",
        WorkApproved = "work_approved",
        WorkDeclined = "work_declined",
        PaymentReceived = "payment_received",
        PaymentRefunded = "payment_refunded",
        InspectionSubmitted = "inspection_submitted",
        InspectionReturned = "inspection_returned",
        InspectionPublished = "inspection_published",
        StageChanged = "stage_changed",
        ServiceAdded = "service_added",
        ServiceDone = "service_done",
        ExtensionSent = "extension_sent",
        InvoiceCreated = "invoice_created",
        InvoiceSent = "invoice_sent",
        InvoicePaidPos = "invoice_paid_pos",
        VehicleDelivered = "vehicle_delivered",
        InvoiceBooked = "invoice_booked",
        InvoiceCanceled = "invoice_canceled",
    }
);

string_enum!(
    /// What the POS is told about.
    NotificationKind {
        TicketUpdate = "ticket_update",
        WorkApproved = "work_approved",
        PaymentReceived = "payment_received",
        Comment = "comment",
        InspectionPublished = "inspection_published",
        ServiceAdded = "service_added",
        InvoiceUpdate = "invoice_update",
    }
);

impl ServiceStatus {
    /// Declined work is not part of what the customer will pay.
    pub fn counts_toward_total(self) -> bool {
        self != ServiceStatus::Declined
    }
}

/// A tax rate in parts per million (8.25 % is 82,500), from the API's
/// decimal fraction (`0.0825`).
pub fn tax_rate_ppm(fraction: f64) -> Result<i64, Invalid> {
    if !fraction.is_finite() || !(0.0..1.0).contains(&fraction) {
        return Err(Invalid(
            "must be a fraction from 0 up to 1, for example 0.0825 for 8.25 %".into(),
        ));
    }
    Ok((fraction * 1_000_000.0).round() as i64)
}

/// An amount typed by a person (`120`, `120.5`, `$1,200.00`) in minor
/// units, for currencies with cents. Negative amounts are refused: a
/// discount is a line of its own.
pub fn amount_minor(typed: &str) -> Result<i64, Invalid> {
    let bad = || Invalid("must be an amount such as 120 or 120.50".into());
    let t: String = typed
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let (whole, cents) = match t.split_once('.') {
        Some((w, c)) => (w, c),
        None => (t.as_str(), ""),
    };
    if whole.is_empty() && cents.is_empty()
        || cents.len() > 2
        || !whole
            .chars()
            .chain(cents.chars())
            .all(|c| c.is_ascii_digit())
        || whole.len() > 10
    {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let cents: i64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<i64>().map_err(|_| bad())? * 10,
        _ => cents.parse().map_err(|_| bad())?,
    };
    Ok(whole * 100 + cents)
}

/// A quantity in thousandths (1.5 hours is 1,500).
pub fn quantity_milli(quantity: f64) -> Result<i64, Invalid> {
    if !quantity.is_finite() || quantity <= 0.0 || quantity > 1_000_000.0 {
        return Err(Invalid("must be a number above 0".into()));
    }
    let milli = (quantity * 1000.0).round();
    if milli < 1.0 {
        return Err(Invalid("must be at least 0.001".into()));
    }
    Ok(milli as i64)
}

/// Rounds `num / den` half away from zero.
fn div_round(num: i128, den: i128) -> i128 {
    let q = num / den;
    let r = num % den;
    if r.abs() * 2 >= den.abs() {
        q + num.signum() * den.signum()
    } else {
        q
    }
}

/// A line's amount: quantity × unit price, rounded to the minor unit.
pub fn line_amount(quantity_milli: i64, unit_price: i64) -> i64 {
    div_round(quantity_milli as i128 * unit_price as i128, 1000) as i64
}

/// Tax on a taxable amount at a rate in ppm, rounded once per ticket.
pub fn tax_on(taxable: i64, rate_ppm: i64) -> i64 {
    div_round(taxable as i128 * rate_ppm as i128, 1_000_000) as i64
}

/// Totals of a ticket from its services' subtotals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: i64,
    pub taxable: i64,
    pub tax: i64,
    pub total: i64,
}

impl Totals {
    /// `services` yields (status, subtotal, taxable subtotal).
    pub fn of(
        services: impl IntoIterator<Item = (ServiceStatus, i64, i64)>,
        rate_ppm: i64,
    ) -> Self {
        let (subtotal, taxable) = services
            .into_iter()
            .filter(|(s, _, _)| s.counts_toward_total())
            .fold((0i64, 0i64), |(a, t), (_, sub, tax)| {
                (a.saturating_add(sub), t.saturating_add(tax))
            });
        let tax = tax_on(taxable, rate_ppm);
        Totals {
            subtotal,
            taxable,
            tax,
            total: subtotal.saturating_add(tax),
        }
    }
}

/// A VIN: 17 characters, no I, O or Q; stored upper-case.
pub fn parse_vin(raw: &str) -> Result<String, Invalid> {
    let vin: String = raw.trim().to_ascii_uppercase();
    if vin.len() != 17 || !vin.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Invalid("must be 17 letters and digits".into()));
    }
    if vin.contains(['I', 'O', 'Q']) {
        return Err(Invalid("cannot contain I, O or Q".into()));
    }
    Ok(vin)
}

/// A plate as people search it: upper-case, no spaces or dashes.
pub fn normalise_plate(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A status colour: `#rrggbb`.
pub fn parse_color(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim().to_ascii_lowercase();
    if s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(Invalid("must be a colour like #1e88e5".into()))
    }
}

/// A status as a new shop gets it.
pub struct DefaultStatus {
    pub label: &'static str,
    pub color: &'static str,
    pub notify_customer: bool,
    pub message_template: &'static str,
    pub timer_mode: TimerMode,
    pub default_minutes: Option<i32>,
}

/// The statuses every shop starts with, in workflow order. Templates may use
/// `{{ first_name }}`, `{{ shop_name }}`, `{{ vehicle }}`, `{{ status }}`,
/// `{{ ticket_number }}` and `{{ shop_phone }}`.
pub const DEFAULT_STATUSES: &[DefaultStatus] = &[
    DefaultStatus {
        label: "Not started",
        color: "#9e9e9e",
        notify_customer: false,
        message_template: "",
        timer_mode: TimerMode::Open,
        default_minutes: None,
    },
    DefaultStatus {
        label: "Checked in",
        color: "#1e88e5",
        notify_customer: true,
        message_template: "Hi {{ first_name }}, {{ shop_name }} has checked in your {{ vehicle }}. We will keep you posted.",
        timer_mode: TimerMode::CountUp,
        default_minutes: None,
    },
    DefaultStatus {
        label: "On lot",
        color: "#5e35b1",
        notify_customer: false,
        message_template: "",
        timer_mode: TimerMode::CountUp,
        default_minutes: None,
    },
    DefaultStatus {
        label: "In shop",
        color: "#00897b",
        notify_customer: true,
        message_template: "Hi {{ first_name }}, your {{ vehicle }} is in the shop now at {{ shop_name }}.",
        timer_mode: TimerMode::CountDown,
        default_minutes: Some(120),
    },
    DefaultStatus {
        label: "Inspection complete",
        color: "#f9a825",
        notify_customer: true,
        message_template: "Hi {{ first_name }}, the inspection of your {{ vehicle }} is complete. Your advisor will be in touch shortly.",
        timer_mode: TimerMode::CountDown,
        default_minutes: Some(30),
    },
    DefaultStatus {
        label: "Awaiting callback",
        color: "#fb8c00",
        notify_customer: false,
        message_template: "",
        timer_mode: TimerMode::CountUp,
        default_minutes: None,
    },
    DefaultStatus {
        label: "Waiting for parts",
        color: "#8d6e63",
        notify_customer: true,
        message_template: "Hi {{ first_name }}, we are waiting for parts for your {{ vehicle }}. We will let you know as soon as they arrive.",
        timer_mode: TimerMode::CountDown,
        default_minutes: Some(240),
    },
    DefaultStatus {
        label: "Ready for pickup",
        color: "#43a047",
        notify_customer: true,
        message_template: "Hi {{ first_name }}, your {{ vehicle }} is ready for pickup at {{ shop_name }}. Call {{ shop_phone }} with any questions.",
        timer_mode: TimerMode::Open,
        default_minutes: None,
    },
];

#[cfg(test)]
mod tests {

    #[test]
    fn typed_amounts_become_minor_units() {
        assert_eq!(amount_minor("120"), Ok(12_000));
        assert_eq!(amount_minor("120.5"), Ok(12_050));
        assert_eq!(amount_minor(" $1,200.05 "), Ok(120_005));
        assert_eq!(amount_minor(".99"), Ok(99));
        for bad in [
            "",
            ".",
            "12.345",
            "-5",
            "1e3",
            "12,00.0.0",
            "abc",
            "99999999999",
        ] {
            assert!(amount_minor(bad).is_err(), "{bad}");
        }
    }
    use super::*;

    #[test]
    fn line_amounts_round_half_away_from_zero() {
        assert_eq!(line_amount(1500, 12_000), 18_000);
        assert_eq!(line_amount(1000, 1999), 1999);
        assert_eq!(line_amount(333, 1), 0);
        assert_eq!(line_amount(500, 1), 1);
        assert_eq!(line_amount(500, -1), -1);
        assert_eq!(line_amount(2500, 333), 833);
    }

    #[test]
    fn totals_skip_declined_work_and_tax_only_taxable_amounts() {
        let t = Totals::of(
            [
                (ServiceStatus::Approved, 10_000, 4_000),
                (ServiceStatus::Recommended, 5_000, 5_000),
                (ServiceStatus::Declined, 99_999, 99_999),
            ],
            82_500,
        );
        assert_eq!(t.subtotal, 15_000);
        assert_eq!(t.taxable, 9_000);
        assert_eq!(t.tax, 743); // 742.5 rounds up
        assert_eq!(t.total, 15_743);
    }

    #[test]
    fn rates_quantities_and_vins_are_checked() {
        assert_eq!(tax_rate_ppm(0.0825).unwrap(), 82_500);
        assert!(tax_rate_ppm(8.25).is_err());
        assert!(tax_rate_ppm(-0.1).is_err());
        assert_eq!(quantity_milli(1.5).unwrap(), 1500);
        assert!(quantity_milli(0.0).is_err());
        assert_eq!(
            parse_vin(" 1hgcm82633a004352 ").unwrap(),
            "1HGCM82633A004352"
        );
        assert!(parse_vin("1HGCM82633A00435").is_err());
        assert!(parse_vin("1HGCM82633A00435O").is_err());
        assert_eq!(normalise_plate("abc-12 3"), "ABC123");
    }
}
