//! Tenant tables and the one way to narrow a query to one shop's rows:
//! `ticket::Entity::find().in_shop(shop)`. A query on a tenant table without
//! `in_shop` stands out in review; a table that is not a tenant's has no
//! `in_shop` at all.

use pitwall_domain::ShopId;
use sea_orm::{ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany};

use crate::entities;

/// A table whose rows belong to one shop, by its `shop_id` column.
pub trait Tenant: EntityTrait {
    fn shop_column() -> Self::Column;
}

/// Narrows a select, update or delete to one shop's rows.
pub trait InShop: Sized {
    fn in_shop(self, shop: ShopId) -> Self;
}

impl<E: Tenant> InShop for Select<E> {
    fn in_shop(self, shop: ShopId) -> Self {
        self.filter(E::shop_column().eq(shop.as_uuid()))
    }
}

impl<E: Tenant> InShop for UpdateMany<E> {
    fn in_shop(self, shop: ShopId) -> Self {
        self.filter(E::shop_column().eq(shop.as_uuid()))
    }
}

impl<E: Tenant> InShop for DeleteMany<E> {
    fn in_shop(self, shop: ShopId) -> Self {
        self.filter(E::shop_column().eq(shop.as_uuid()))
    }
}

macro_rules! tenant_tables {
    ($($table:ident),* $(,)?) => {
        $(impl Tenant for entities::$table::Entity {
            fn shop_column() -> Self::Column {
                entities::$table::Column::ShopId
            }
        })*
    };
}

// Every table with a non-null `shop_id` (a test keeps this list complete).
tenant_tables!(
    api_key,
    approval,
    consent_event,
    customer,
    customer_link,
    feature_override,
    inspection,
    inspection_finding,
    inspection_medium,
    inspection_setting,
    inspection_template,
    invitation,
    invoice,
    invoice_setting,
    invoice_upload,
    line_item,
    membership,
    message,
    message_attachment,
    message_template,
    message_thread,
    payment,
    payment_account,
    payment_session,
    pos_notification,
    pos_sync_event,
    shop_billing,
    shop_webhook,
    sms_overage_report,
    stage_change,
    status_change,
    ticket,
    ticket_comment,
    ticket_service,
    timeline_event,
    vehicle,
    vehicle_status,
    webhook_delivery,
    workflow_setting,
);

#[cfg(test)]
mod tests {
    /// Every entity whose model has `shop_id: Uuid` is listed above, so a
    /// new tenant table cannot be queried without `in_shop` being there.
    #[test]
    fn every_tenant_table_is_listed() {
        let listed = include_str!("tenant.rs");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/entities");
        for entry in std::fs::read_dir(dir).expect("entities folder") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("entity file");
            if text.contains("pub shop_id: Uuid,") {
                let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
                assert!(
                    listed.contains(&format!("    {name},\n")),
                    "{name} has a shop_id: add it to tenant_tables!"
                );
            }
        }
    }
}
