//! Customers for staff: search, add by hand (phone finds an existing
//! customer instead of making a twin), read with channels, merge.

use pitwall_domain::phone::Phone;
use pitwall_domain::{CustomerId, Email, Permission, values};
use pitwall_store::{Page, PageRequest, customers, tickets};
use serde_json::json;

use crate::{App, Error, Problems, Result, ShopCtx};

pub async fn search(
    app: &App,
    ctx: &ShopCtx,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<customers::Customer>> {
    app.require(ctx, Permission::CustomersView).await?;
    Ok(customers::search(&app.db, ctx.shop_id(), q, page).await?)
}

pub struct CustomerDetail {
    pub customer: customers::Customer,
    pub vehicles: Vec<customers::Vehicle>,
    pub tickets: Vec<tickets::Ticket>,
}

pub async fn get(app: &App, ctx: &ShopCtx, id: CustomerId) -> Result<CustomerDetail> {
    app.require(ctx, Permission::CustomersView).await?;
    let shop = ctx.shop_id();
    let customer = customers::get(&app.db, shop, id)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let filter = tickets::TicketFilter {
        customer_id: Some(customer.id),
        ..Default::default()
    };
    Ok(CustomerDetail {
        vehicles: customers::vehicles_of(&app.db, shop, id).await?,
        tickets: tickets::list(&app.db, shop, &filter, PageRequest::first(50))
            .await?
            .items,
        customer,
    })
}

pub struct NewCustomer {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Adds a customer, or finds the one who already has this phone number.
/// Returns whether it was created.
pub async fn create(
    app: &App,
    ctx: &ShopCtx,
    input: NewCustomer,
) -> Result<(customers::Customer, bool)> {
    app.require(ctx, Permission::CustomersEdit).await?;
    ctx.require_writable()?;
    let mut p = Problems::default();
    let first_name = p
        .check(
            "first_name",
            values::optional_text(input.first_name.as_deref(), 100),
        )
        .flatten();
    let last_name = p
        .check(
            "last_name",
            values::optional_text(input.last_name.as_deref(), 100),
        )
        .flatten();
    let phone = match input.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => p.check("phone", Phone::parse(raw, &ctx.shop.country)),
        None => None,
    };
    let email = match input.email.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => p.check("email", Email::parse(raw)),
        None => None,
    };
    if p.0.is_empty() && phone.is_none() && email.is_none() {
        p.add("phone", "is required (or an e-mail address)");
    }
    if p.0.is_empty() && first_name.is_none() && last_name.is_none() && phone.is_none() {
        p.add("last_name", "is required when there is no phone number");
    }
    p.into_result()?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if let Some(ph) = &phone
        && let Some(existing) = customers::by_phone(&txn, shop, ph.as_str()).await?
    {
        txn.commit().await?;
        return Ok((existing, false));
    }
    let c = customers::insert(
        &txn,
        shop,
        customers::CustomerFields {
            external_id: None,
            first_name,
            last_name,
            phone: phone.map(|p| p.as_str().to_owned()),
            email: email.map(|e| e.as_str().to_owned()),
            locale: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok((c, true))
}

/// Merges `duplicate` into `keep`: tickets, vehicles and messages move; the
/// duplicate stays as a pointer so that the POS's old id still resolves.
pub async fn merge(
    app: &App,
    ctx: &ShopCtx,
    keep: CustomerId,
    duplicate: CustomerId,
) -> Result<customers::Customer> {
    app.require(ctx, Permission::CustomersEdit).await?;
    ctx.require_writable()?;
    if keep == duplicate {
        return Err(Error::invalid("duplicate_id", "must be another customer"));
    }
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let kept = customers::get(&txn, shop, keep)
        .await?
        .filter(|c| c.merged_into.is_none())
        .ok_or(Error::NotFound("customer"))?;
    let dup = customers::get(&txn, shop, duplicate)
        .await?
        .filter(|c| c.merged_into.is_none())
        .ok_or_else(|| Error::invalid("duplicate_id", "is not a customer of this shop"))?;
    customers::merge(&txn, shop, duplicate, keep).await?;
    // The kept customer inherits what it lacked.
    let fields = customers::CustomerFields {
        external_id: None,
        first_name: kept.first_name.clone().or(dup.first_name.clone()),
        last_name: kept.last_name.clone().or(dup.last_name.clone()),
        phone: kept.phone.clone().or(dup.phone.clone()),
        email: kept.email.clone().or(dup.email.clone()),
        locale: kept.locale.clone().or(dup.locale.clone()),
    };
    let kept = customers::update(&txn, kept, fields).await?;
    // The duplicate's tickets are the kept customer's now: index them so.
    crate::tickets::reindex_customer(&txn, shop, &kept).await?;
    pitwall_store::audit::record(
        &txn,
        pitwall_store::audit::NewAudit {
            shop: Some(shop),
            actor: Some(ctx.user_id),
            action: "customer.merge",
            target: Some(keep.to_string()),
            details: json!({ "duplicate": duplicate }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(kept)
}
