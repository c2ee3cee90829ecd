//! The audit log: who did what, where it matters.

use pitwall_domain::{AuditId, ShopId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::audit_entry;
use crate::{Page, PageRequest, StoreError, now};

pub use audit_entry::Model as AuditEntry;

pub struct NewAudit<'a> {
    pub shop: Option<ShopId>,
    pub actor: Option<UserId>,
    pub action: &'a str,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

pub async fn record(db: &impl ConnectionTrait, a: NewAudit<'_>) -> Result<(), StoreError> {
    audit_entry::ActiveModel {
        id: Set(AuditId::new().as_uuid()),
        shop_id: Set(a.shop.map(|s| s.as_uuid())),
        actor_user_id: Set(a.actor.map(|u| u.as_uuid())),
        action: Set(a.action.to_owned()),
        target: Set(a.target),
        details: Set(a.details.to_string()),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Newest first. `shop` narrows to one shop (a shop's own log); `None` is the
/// platform-wide log for the admin console.
pub async fn list(
    db: &impl ConnectionTrait,
    shop: Option<ShopId>,
    page: PageRequest,
) -> Result<Page<AuditEntry>, StoreError> {
    let mut q = audit_entry::Entity::find().order_by_desc(audit_entry::Column::Id);
    if let Some(shop) = shop {
        q = q.filter(audit_entry::Column::ShopId.eq(shop.as_uuid()));
    }
    if let Some(after) = page.after {
        q = q.filter(audit_entry::Column::Id.lt(after));
    }
    let rows = q.limit(page.limit + 1).all(db).await?;
    Ok(page.finish(rows, |a| a.id))
}
