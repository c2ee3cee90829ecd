use pitwall_domain::CustomerId;
use pitwall_store::{activity, customers};

use super::write::{push_customer, push_vehicle};
use super::{
    CustomerInput, PosCtx, VehicleInput, external_id, require_writable, valid_customer,
    valid_vehicle,
};
use crate::{App, Error, Problems, Result};

pub async fn put_customer(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &CustomerInput,
) -> Result<customers::Customer> {
    let ext = external_id("external_id", external_id_raw)?;
    require_writable(pos)?;
    let mut p = Problems::default();
    let mut c = valid_customer(&mut p, "", input, &pos.shop.country);
    p.into_result()?;
    c.0.external_id = Some(ext.clone());
    let txn = pitwall_store::begin_write(&app.db).await?;
    let customer = push_customer(&txn, pos.shop_id(), &c.0).await?;
    activity::record_sync(
        &txn,
        pos.shop_id(),
        activity::NewSyncEvent {
            operation: "customer.put",
            external_id: Some(&ext),
            outcome: "updated",
            errors: None,
            payload: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(customer)
}

pub async fn put_vehicle(
    app: &App,
    pos: &PosCtx,
    external_id_raw: &str,
    input: &VehicleInput,
    customer_external_id: Option<&str>,
) -> Result<customers::Vehicle> {
    let ext = external_id("external_id", external_id_raw)?;
    require_writable(pos)?;
    let mut p = Problems::default();
    let mut v = valid_vehicle(&mut p, "", input);
    p.into_result()?;
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    if let Some(c) = customer_external_id {
        let c = customers::by_external_id(&txn, shop, c)
            .await?
            .ok_or_else(|| {
                Error::invalid("customer_external_id", "is not a customer of this shop")
            })?;
        v.0.customer_id = Some(CustomerId::from_uuid(c.merged_into.unwrap_or(c.id)));
    }
    v.0.external_id = Some(ext.clone());
    let vehicle = push_vehicle(&txn, shop, &v.0).await?;
    activity::record_sync(
        &txn,
        shop,
        activity::NewSyncEvent {
            operation: "vehicle.put",
            external_id: Some(&ext),
            outcome: "updated",
            errors: None,
            payload: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(vehicle)
}
