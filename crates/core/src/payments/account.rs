//! The shop's payment account: in `connect` mode its own Stripe account
//! (Standard), connected through Stripe's hosted onboarding; in `platform`
//! mode the platform's account, nothing to connect.

use std::collections::HashMap;

use pitwall_domain::{Feature, Permission};
use pitwall_store::payments as store;

use super::{PaymentsMode, stripe};
use crate::billing::stripe_failure;
use crate::{App, Error, Result, ShopCtx};

/// Where the shop's online payments stand.
#[derive(Debug, Clone)]
pub struct PaymentAccountView {
    pub mode: PaymentsMode,
    /// The connected account (`acct_...`); none before onboarding starts
    /// and in `platform` mode.
    pub account_id: Option<String>,
    /// Customers can pay online now.
    pub charges_enabled: bool,
    pub details_submitted: bool,
}

async fn require(app: &App, ctx: &ShopCtx) -> Result<()> {
    app.require(ctx, Permission::BillingManage).await?;
    ctx.require_feature(Feature::OnlinePayments)
}

/// The shop's payment account (`billing.manage`). An account still being
/// onboarded is read again from Stripe, so the page shows it ready as soon
/// as Stripe says so.
pub async fn payment_account(app: &App, ctx: &ShopCtx) -> Result<PaymentAccountView> {
    require(app, ctx).await?;
    let mode = app.config.payments.mode;
    match mode {
        PaymentsMode::Off => Ok(PaymentAccountView {
            mode,
            account_id: None,
            charges_enabled: false,
            details_submitted: false,
        }),
        PaymentsMode::Platform => Ok(PaymentAccountView {
            mode,
            account_id: None,
            charges_enabled: app.config.stripe.is_some(),
            details_submitted: app.config.stripe.is_some(),
        }),
        PaymentsMode::Connect => {
            let mut row = store::account(&app.db, ctx.shop_id()).await?;
            if let (Some(r), Some(s)) = (&row, &app.config.stripe)
                && !r.charges_enabled
            {
                match refresh(app, s, ctx.shop_id(), &r.stripe_account_id).await {
                    Ok(()) => row = store::account(&app.db, ctx.shop_id()).await?,
                    // The stored state still answers; the log says why it
                    // may be behind.
                    Err(e) => {
                        tracing::warn!(shop.id = %ctx.shop_id(), error = %e, "payment account not re-read")
                    }
                }
            }
            Ok(PaymentAccountView {
                mode,
                account_id: row.as_ref().map(|r| r.stripe_account_id.clone()),
                charges_enabled: row.as_ref().is_some_and(|r| r.charges_enabled),
                details_submitted: row.as_ref().is_some_and(|r| r.details_submitted),
            })
        }
    }
}

/// Reads the account from Stripe and stores what it says.
pub(super) async fn refresh(
    app: &App,
    s: &crate::billing::StripeSettings,
    shop: pitwall_domain::ShopId,
    account_id: &str,
) -> Result<()> {
    let account = stripe_connect::account::RetrieveAccount::new(account_id)
        .send(&s.client)
        .await
        .map_err(|e| stripe_failure("reading the payment account", e))?;
    store::save_account(
        &app.db,
        shop,
        account_id,
        account.charges_enabled.unwrap_or(false),
        account.details_submitted.unwrap_or(false),
    )
    .await?;
    Ok(())
}

/// A link to Stripe's hosted onboarding for the shop's account
/// (`billing.manage`, `connect` mode), making the account the first time.
/// Stripe's links are single-use and short-lived: each call makes one.
pub async fn onboarding_link(app: &App, ctx: &ShopCtx) -> Result<String> {
    require(app, ctx).await?;
    ctx.require_writable()?;
    let s = stripe(app)?;
    if app.config.payments.mode != PaymentsMode::Connect {
        return Err(Error::Conflict {
            field: "payments".into(),
            message: "go to the platform's own Stripe account here: there is nothing to connect"
                .into(),
        });
    }
    let shop = ctx.shop_id();
    let account_id = match store::account(&app.db, shop).await? {
        Some(r) => r.stripe_account_id,
        None => {
            let mut metadata = HashMap::new();
            metadata.insert("shop_id".to_owned(), shop.to_string());
            let mut req = stripe_connect::account::CreateAccount::new()
                .type_(stripe_connect::account::CreateAccountType::Standard)
                .metadata(metadata);
            if let Some(email) = &ctx.shop.email {
                req = req.email(email.clone());
            }
            // Two owners clicking at once get one account from Stripe.
            let key = stripe::IdempotencyKey::new(format!("pitwall-account-{shop}"))
                .map_err(|e| Error::Internal(format!("idempotency key: {e}")))?;
            use stripe::StripeRequest;
            let account = req
                .customize()
                .request_strategy(stripe::RequestStrategy::Idempotent(key))
                .send(&s.client)
                .await
                .map_err(|e| stripe_failure("creating the payment account", e))?;
            let id = account.id.as_str().to_owned();
            store::save_account(
                &app.db,
                shop,
                &id,
                account.charges_enabled.unwrap_or(false),
                account.details_submitted.unwrap_or(false),
            )
            .await?;
            tracing::info!(shop.id = %shop, "payment account created");
            id
        }
    };
    let base = &app.config.base_url;
    let link = stripe_connect::account_link::CreateAccountLink::new(
        account_id,
        stripe_connect::account_link::CreateAccountLinkType::AccountOnboarding,
    )
    .refresh_url(format!("{base}/app/billing?payments=refresh"))
    .return_url(format!("{base}/app/billing?payments=connected"))
    .send(&s.client)
    .await
    .map_err(|e| stripe_failure("making the onboarding link", e))?;
    Ok(link.url)
}
