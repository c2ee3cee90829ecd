//! Features and the default plan catalogue. The catalogue is seeded into the
//! database by migration and editable there by platform admins; these are
//! only the defaults.

use crate::access::string_enum;

string_enum!(
    /// A capability a plan may include. Published names: API errors carry them.
    Feature {
        PosSync = "pos_sync",
        Dashboard = "dashboard",
        StatusTimers = "status_timers",
        Sms = "sms",
        Email = "email",
        CustomerLinks = "customer_links",
        Timeline = "timeline",
        Approvals = "approvals",
        CustomBranding = "custom_branding",
        TechnicianView = "technician_view",
        SyncHealth = "sync_health",
        Inspections = "inspections",
        OnlinePayments = "online_payments",
        MultiLocation = "multi_location",
        Webhooks = "webhooks",
        RepairOrders = "repair_orders",
        InvoiceOcr = "invoice_ocr",
    }
);

string_enum!(
    /// A counted limit of a plan.
    Quota {
        Users = "users",
        SmsPerMonth = "sms_per_month",
        Locations = "locations",
        MediaMb = "media_mb",
    }
);

/// A plan as seeded. `None` for a quota means unlimited.
#[derive(Debug, Clone)]
pub struct PlanDefaults {
    pub code: &'static str,
    pub name: &'static str,
    pub monthly_price_cents: i64,
    pub features: &'static [Feature],
    pub max_users: Option<i32>,
    pub sms_per_month: Option<i32>,
    pub max_locations: Option<i32>,
}

use Feature::*;

const STARTER: &[Feature] = &[
    PosSync,
    Dashboard,
    StatusTimers,
    Sms,
    Email,
    CustomerLinks,
    Approvals,
];
const PRO: &[Feature] = &[
    PosSync,
    Dashboard,
    StatusTimers,
    Sms,
    Email,
    CustomerLinks,
    Timeline,
    Approvals,
    CustomBranding,
    TechnicianView,
    RepairOrders,
];

/// The catalogue, cheapest first.
pub const DEFAULT_PLANS: &[PlanDefaults] = &[
    PlanDefaults {
        code: "starter",
        name: "Starter",
        monthly_price_cents: 4900,
        features: STARTER,
        max_users: Some(5),
        sms_per_month: Some(500),
        max_locations: Some(1),
    },
    PlanDefaults {
        code: "pro",
        name: "Pro",
        monthly_price_cents: 9900,
        features: PRO,
        max_users: Some(15),
        sms_per_month: Some(2000),
        max_locations: Some(1),
    },
    PlanDefaults {
        code: "premium",
        name: "Premium",
        monthly_price_cents: 19900,
        features: Feature::ALL,
        max_users: None,
        sms_per_month: Some(10000),
        max_locations: Some(5),
    },
];

impl Feature {
    pub const fn describe(self) -> &'static str {
        match self {
            PosSync => "POS ticket sync and API keys",
            Dashboard => "Active-customers dashboard",
            StatusTimers => "Count-down and count-up status timers",
            Sms => "Text messages to customers",
            Email => "E-mail to customers",
            CustomerLinks => "Customer view links",
            Timeline => "Live ticket timeline",
            Approvals => "Digital approvals with signature",
            CustomBranding => "Your logo and colours on customer pages",
            TechnicianView => "Technician work queue",
            SyncHealth => "POS sync health",
            Inspections => "Digital vehicle inspections",
            OnlinePayments => "Online invoice payment",
            MultiLocation => "Several locations",
            Webhooks => "Outgoing webhooks to your own systems",
            RepairOrders => "Repair-order workflow: qualification, extensions, completion",
            InvoiceOcr => "Read uploaded invoices (OCR)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_grow_monotonically() {
        for pair in DEFAULT_PLANS.windows(2) {
            assert!(pair[0].monthly_price_cents < pair[1].monthly_price_cents);
            for f in pair[0].features {
                assert!(pair[1].features.contains(f), "{f} lost in {}", pair[1].code);
            }
        }
    }
}
