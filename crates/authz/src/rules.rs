//! Writing policy rules inside a business transaction.

use pitwall_domain::{Permission, Role, ShopId, UserId};
use pitwall_store::StoreError;
use pitwall_store::entities::casbin_rule;
use pitwall_store::sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use pitwall_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, Set,
    Statement,
};

use crate::{role_subject, shop_domain, user_subject};

pub(crate) async fn version(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM authz_state WHERE id = 1",
        ))
        .await?;
    match row {
        Some(r) => Ok(r.try_get::<i64>("", "version")?),
        None => Ok(0),
    }
}

/// Marks `shop`'s policy changed (every shop's with `None`): the version
/// every process polls goes up, and the shop carries the new version, so a
/// process drops what it loaded for that shop alone.
pub async fn bump_version(
    db: &impl ConnectionTrait,
    shop: Option<ShopId>,
) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "UPDATE authz_state SET version = version + 1 WHERE id = 1",
    ))
    .await?;
    let mut stamp = Query::update()
        .table(Alias::new("shops"))
        .value(
            Alias::new("policy_version"),
            Expr::cust("(SELECT version FROM authz_state WHERE id = 1)"),
        )
        .to_owned();
    if let Some(shop) = shop {
        stamp.and_where(Expr::col(Alias::new("id")).eq(shop.as_uuid()));
    }
    db.execute_raw(db.get_database_backend().build(&stamp))
        .await?;
    Ok(())
}

/// The shops whose policy changed after `version`.
pub(crate) async fn shops_changed_since(
    db: &impl ConnectionTrait,
    version: i64,
) -> Result<Vec<ShopId>, StoreError> {
    let q = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("shops"))
        .and_where(Expr::col(Alias::new("policy_version")).gt(version))
        .to_owned();
    let rows = db
        .query_all_raw(db.get_database_backend().build(&q))
        .await?;
    rows.iter()
        .map(|r| {
            r.try_get_by_index::<pitwall_store::sea_orm::prelude::Uuid>(0)
                .map(ShopId::from_uuid)
                .map_err(|e| StoreError::Corrupt(format!("a changed shop's id: {e:?}")))
        })
        .collect()
}

pub(crate) async fn insert_rule(
    db: &impl ConnectionTrait,
    ptype: &str,
    rule: &[String],
) -> Result<(), StoreError> {
    let v = |i: usize| rule.get(i).cloned().unwrap_or_default();
    casbin_rule::ActiveModel {
        id: NotSet,
        ptype: Set(ptype.to_owned()),
        v0: Set(v(0)),
        v1: Set(v(1)),
        v2: Set(v(2)),
        v3: Set(v(3)),
        v4: Set(v(4)),
        v5: Set(v(5)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Deletes rules of `ptype` whose fields from `first` on equal `values`
/// (empty values match anything). Returns how many went.
pub(crate) async fn delete_rules(
    db: &impl ConnectionTrait,
    ptype: &str,
    first: usize,
    values: &[String],
) -> Result<u64, StoreError> {
    use casbin_rule::Column as C;
    let cols = [C::V0, C::V1, C::V2, C::V3, C::V4, C::V5];
    let mut q = casbin_rule::Entity::delete_many().filter(C::Ptype.eq(ptype));
    for (i, value) in values.iter().enumerate() {
        let Some(col) = cols.get(first + i) else {
            break;
        };
        if !value.is_empty() {
            q = q.filter(col.eq(value.as_str()));
        }
    }
    Ok(q.exec(db).await?.rows_affected)
}

/// Gives `user` `role` in `shop`, replacing any role it had there.
pub async fn assign_role(
    db: &impl ConnectionTrait,
    shop: ShopId,
    user: UserId,
    role: Role,
) -> Result<(), StoreError> {
    remove_user(db, shop, user).await?;
    insert_rule(
        db,
        "g",
        &[user_subject(user), role_subject(role), shop_domain(shop)],
    )
    .await?;
    bump_version(db, Some(shop)).await
}

/// Takes every role of `user` in `shop` away.
pub async fn remove_user(
    db: &impl ConnectionTrait,
    shop: ShopId,
    user: UserId,
) -> Result<(), StoreError> {
    delete_rules(
        db,
        "g",
        0,
        &[user_subject(user), String::new(), shop_domain(shop)],
    )
    .await?;
    bump_version(db, Some(shop)).await
}

/// Makes `role` in `shop` able to do exactly `wanted`: stores the difference
/// from the default matrix as allow and deny rules.
pub async fn set_role_permissions(
    db: &impl ConnectionTrait,
    shop: ShopId,
    role: Role,
    wanted: &[Permission],
) -> Result<(), StoreError> {
    let (sub, dom) = (role_subject(role), shop_domain(shop));
    delete_rules(db, "p", 0, &[sub.clone(), dom.clone()]).await?;
    let defaults = role.default_permissions();
    for p in Permission::ALL {
        let eft = match (defaults.contains(p), wanted.contains(p)) {
            (false, true) => "allow",
            (true, false) => "deny",
            _ => continue,
        };
        insert_rule(
            db,
            "p",
            &[
                sub.clone(),
                dom.clone(),
                p.as_str().to_owned(),
                eft.to_owned(),
            ],
        )
        .await?;
    }
    bump_version(db, Some(shop)).await
}

/// Whether the shop changed anything for this role (for the editor's
/// "customised" mark).
pub async fn role_is_customised(
    db: &impl ConnectionTrait,
    shop: ShopId,
    role: Role,
) -> Result<bool, StoreError> {
    use casbin_rule::Column as C;
    Ok(casbin_rule::Entity::find()
        .filter(C::Ptype.eq("p"))
        .filter(C::V0.eq(role_subject(role)))
        .filter(C::V1.eq(shop_domain(shop)))
        .one(db)
        .await?
        .is_some())
}
