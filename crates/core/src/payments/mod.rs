//! Online payment of invoices (plan feature `online_payments`), paid into
//! the shop's own Stripe account (Stripe Connect, Standard accounts,
//! direct charges) or, for a self-hosted single shop, the platform's own.
//!
//! - [`account`]: the shop connects its account (onboarding link, state).
//! - [`checkout`]: the customer pays on the link page: a Checkout session
//!   on the shop's account, one per invoice and amount, reused while open.
//! - [`events`]: Connect webhooks stored once and applied by a job that
//!   re-reads what the event names from the account it names; the invoice
//!   is paid exactly once, or the event refused.

mod account;
mod checkout;
mod events;

pub use account::*;
pub use checkout::*;
pub use events::*;

use crate::{Error, Result, Secret};

/// Where online payments go (`PITWALL_PAYMENTS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaymentsMode {
    /// No online payments: invoices are paid at the counter.
    #[default]
    Off,
    /// Each shop's own connected Stripe account.
    Connect,
    /// The platform's own Stripe account (a self-hosted single shop).
    Platform,
}

impl PaymentsMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(PaymentsMode::Off),
            "connect" => Some(PaymentsMode::Connect),
            "platform" => Some(PaymentsMode::Platform),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentsMode::Off => "off",
            PaymentsMode::Connect => "connect",
            PaymentsMode::Platform => "platform",
        }
    }
}

/// Settings the binary reads from the environment.
#[derive(Debug, Clone, Default)]
pub struct PaymentSettings {
    pub mode: PaymentsMode,
    /// The platform's fee on each connected payment, in basis points
    /// (`PITWALL_PAYMENT_FEE_BPS`).
    pub fee_bps: u32,
    /// `STRIPE_CONNECT_WEBHOOK_SECRET` (several during a rotation).
    pub connect_webhook_secrets: Vec<Secret>,
}

/// The platform's fee on an amount, rounded down to the minor unit.
pub fn platform_fee(amount: i64, fee_bps: u32) -> i64 {
    (i128::from(amount) * i128::from(fee_bps) / 10_000) as i64
}

/// The shop can take an online payment now: the plan has it, payments
/// are on, and in `connect` mode its account may charge.
pub async fn can_take_payments(
    app: &crate::App,
    shop: pitwall_domain::ShopId,
    features: &crate::features::FeatureSet,
) -> Result<bool> {
    if !features.has(pitwall_domain::Feature::OnlinePayments) || app.config.stripe.is_none() {
        return Ok(false);
    }
    Ok(match app.config.payments.mode {
        PaymentsMode::Off => false,
        PaymentsMode::Platform => true,
        PaymentsMode::Connect => pitwall_store::payments::account(&app.db, shop)
            .await?
            .is_some_and(|a| a.charges_enabled),
    })
}

/// Where the customer is sent to pay (the page's `form-action` must allow
/// it): Stripe's hosted Checkout, or the local fake's pages in tests.
pub fn checkout_origins(app: &crate::App) -> Vec<String> {
    app.config
        .stripe
        .as_ref()
        .map(|s| s.page_origins())
        .unwrap_or_default()
}

/// Payments need the mode on and Stripe configured.
fn stripe(app: &crate::App) -> Result<&crate::billing::StripeSettings> {
    if app.config.payments.mode == PaymentsMode::Off {
        return Err(Error::Conflict {
            field: "payments".into(),
            message: "are off on this Pitwall (PITWALL_PAYMENTS): invoices are paid at the counter"
                .into(),
        });
    }
    app.config.stripe.as_ref().ok_or_else(|| Error::Conflict {
        field: "payments".into(),
        message: "need Stripe configured on this Pitwall (STRIPE_SECRET_KEY)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_rounds_down_and_zero_is_free() {
        assert_eq!(platform_fee(16_738, 0), 0);
        assert_eq!(platform_fee(16_738, 250), 418);
        assert_eq!(platform_fee(10_000, 10_000), 10_000);
        assert_eq!(PaymentsMode::parse("connect"), Some(PaymentsMode::Connect));
        assert_eq!(PaymentsMode::parse("on"), None);
    }
}
