use chrono::Utc;
use pitwall_domain::messaging::Channel;
use pitwall_domain::{CustomerId, Permission};
use pitwall_store::customers;
use pitwall_store::messages::{self};

use crate::{App, Error, Result, ShopCtx};

/// Staff recorded that the customer agreed to texts (in person, on a
/// form). A customer who texted STOP must text START themselves.
pub async fn record_consent(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    detail: Option<&str>,
) -> Result<customers::Customer> {
    app.require(ctx, Permission::CustomersEdit).await?;
    ctx.require_writable()?;
    let shop = ctx.shop_id();
    let detail = detail.map(str::trim).filter(|d| !d.is_empty());
    if detail.is_some_and(|d| d.chars().count() > 500) {
        return Err(Error::invalid("detail", "must be at most 500 characters"));
    }
    let txn = pitwall_store::begin_write(&app.db).await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    if c.sms_opt_out {
        return Err(Error::CustomerOptedOut {
            channel: Channel::Sms,
        });
    }
    customers::set_sms_consent(&txn, shop, customer, Some(Utc::now())).await?;
    messages::record_consent(
        &txn,
        shop,
        messages::NewConsent {
            customer,
            channel: Channel::Sms,
            action: "consent",
            source: "staff",
            actor: Some(ctx.user_id),
            detail,
        },
    )
    .await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    txn.commit().await?;
    Ok(c)
}

/// Staff turn a channel off for the customer (they asked in person).
pub async fn opt_out(
    app: &App,
    ctx: &ShopCtx,
    customer: CustomerId,
    channel: &str,
) -> Result<customers::Customer> {
    app.require(ctx, Permission::CustomersEdit).await?;
    ctx.require_writable()?;
    let channel = Channel::outbound(channel)
        .ok_or_else(|| Error::invalid("channel", "must be sms or email"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let (sms, email) = match channel {
        Channel::Sms => (Some(true), None),
        Channel::Email | Channel::Web => (None, Some(true)),
    };
    customers::set_opt_out(&txn, shop, customer, sms, email).await?;
    messages::record_consent(
        &txn,
        shop,
        messages::NewConsent {
            customer,
            channel,
            action: "opt_out",
            source: "staff",
            actor: Some(ctx.user_id),
            detail: None,
        },
    )
    .await?;
    let c = customers::get(&txn, shop, customer)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    txn.commit().await?;
    Ok(c)
}
