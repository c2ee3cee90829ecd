use pitwall_domain::billing::{self as rules, PriceMap, SubscriptionStatus};
use pitwall_domain::{ShopId, ShopLifecycle};
use pitwall_store::{billing, shops};

use crate::{App, Error, Result, Secret};

/// The meter Pitwall reports SMS overage to (create a meter with this event
/// name in Stripe; docs/STRIPE.md).
pub const SMS_METER_EVENT: &str = "pitwall_sms_segments";

/// Stripe settings; made by the binary from `STRIPE_*`.
#[derive(Clone)]
pub struct StripeSettings {
    pub client: stripe::Client,
    /// Every secret accepted for webhook signatures (several during a
    /// rotation).
    pub webhook_secrets: Vec<Secret>,
    /// `PITWALL_STRIPE_PRICES`; admin edits in the database win over it.
    pub prices: PriceMap,
    /// `STRIPE_API_BASE` without a trailing slash.
    pub api_base: String,
}

impl StripeSettings {
    /// Where the billing page's forms may lead (its CSP `form-action`):
    /// Stripe's hosted Checkout, portal and Connect onboarding, or the local fake's pages when
    /// the API is pointed elsewhere.
    pub fn page_origins(&self) -> Vec<String> {
        let mut out = vec![
            "https://checkout.stripe.com".to_owned(),
            "https://billing.stripe.com".to_owned(),
            "https://connect.stripe.com".to_owned(),
        ];
        if !self.api_base.starts_with("https://api.stripe.com") {
            out.push(self.api_base.clone());
        }
        out
    }
}

impl StripeSettings {
    /// A client for `api_base` (Stripe's own, or a local fake in tests).
    pub fn new(
        secret_key: &str,
        api_base: &str,
        webhook_secrets: Vec<Secret>,
        prices: PriceMap,
    ) -> std::result::Result<Self, String> {
        let client = stripe::ClientBuilder::new(secret_key)
            .url(format!("{}/", api_base.trim_end_matches('/')))
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| format!("building the Stripe client: {e}"))?;
        Ok(Self {
            client,
            webhook_secrets,
            prices,
            api_base: api_base.trim_end_matches('/').to_owned(),
        })
    }
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

pub(super) fn stripe(app: &App) -> Result<&StripeSettings> {
    app.config.stripe.as_ref().ok_or(Error::invalid(
        "billing",
        "billing is not configured on this Pitwall (STRIPE_SECRET_KEY)",
    ))
}

/// The lifecycle a request sees (see [`rules::effective_lifecycle`]): reads
/// the billing row only for a past-due shop or a shop whose trial's end
/// has passed.
pub(crate) async fn effective_lifecycle(app: &App, shop: &shops::Shop) -> Result<ShopLifecycle> {
    let stored = shops::lifecycle_of(shop)?;
    let now = app.config.clock.now();
    let trial_passed =
        stored == ShopLifecycle::Trial && shop.trial_ends_at.is_some_and(|e| now >= e);
    if stored != ShopLifecycle::PastDue && !trial_passed {
        return Ok(stored);
    }
    let row = billing::get(&app.db, ShopId::from_uuid(shop.id)).await?;
    let facts = rules::BillingFacts {
        past_due_since: row.as_ref().and_then(|b| b.past_due_since),
        trial_ends_at: shop.trial_ends_at,
        subscription: row
            .as_ref()
            .and_then(|b| b.status.as_deref())
            .and_then(SubscriptionStatus::parse),
        comp: row.as_ref().is_some_and(|b| b.comp),
    };
    Ok(rules::effective_lifecycle(
        stored,
        &facts,
        app.config.past_due_grace,
        now,
    ))
}

/// The price map in force: configuration with admin edits over it.
pub async fn price_map(app: &App) -> Result<PriceMap> {
    let configured = app
        .config
        .stripe
        .as_ref()
        .map(|s| s.prices.clone())
        .unwrap_or_default();
    Ok(configured.merged(&billing::price_overrides(&app.db).await?))
}
