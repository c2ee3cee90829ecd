//! A casbin adapter over sea-orm (none exists for sea-orm 2). It stores rules
//! in `casbin_rules` and adds the built-in default matrix when loading.

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};
use pitwall_domain::Role;
use pitwall_store::entities::casbin_rule;
use pitwall_store::sea_orm::sea_query::ExprTrait;
use pitwall_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use pitwall_store::{Db, StoreError};

use crate::{role_subject, rules};

pub struct SeaOrmAdapter {
    db: Db,
    filtered: bool,
}

impl SeaOrmAdapter {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            filtered: false,
        }
    }

    /// An adapter for an enforcer that will hold one shop's rules: marked
    /// filtered from the start, so that `Enforcer::new` does not load every
    /// shop's rules before `load_filtered_policy` narrows them down.
    pub fn filtered(db: Db) -> Self {
        Self { db, filtered: true }
    }
}

fn adapter_err(e: impl Into<StoreError>) -> casbin::Error {
    casbin::Error::AdapterError(AdapterError(Box::new(e.into())))
}

/// The rule's fields, without the empty tail the table pads them with.
fn fields(r: &casbin_rule::Model) -> Vec<String> {
    let arity = if r.ptype.starts_with('g') { 3 } else { 4 };
    [&r.v0, &r.v1, &r.v2, &r.v3, &r.v4, &r.v5]
        .into_iter()
        .take(arity)
        .cloned()
        .collect()
}

fn add_defaults(m: &mut dyn Model) {
    for role in Role::ALL {
        for p in role.default_permissions() {
            m.add_policy(
                "p",
                "p",
                vec![
                    role_subject(*role),
                    "*".into(),
                    p.as_str().into(),
                    "allow".into(),
                ],
            );
        }
    }
}

fn sec_of(ptype: &str) -> &'static str {
    if ptype.starts_with('g') { "g" } else { "p" }
}

#[async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        add_defaults(m);
        let rows = casbin_rule::Entity::find()
            .all(&self.db)
            .await
            .map_err(adapter_err)?;
        for r in &rows {
            m.add_policy(sec_of(&r.ptype), &r.ptype, fields(r));
        }
        self.filtered = false;
        Ok(())
    }

    /// Loads one or more domains: `f.p[1]` is the `p` domain, `f.g[2]` the `g`
    /// domain, as in casbin's own adapters.
    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> casbin::Result<()> {
        add_defaults(m);
        let p_dom = f.p.get(1).copied().filter(|d| !d.is_empty());
        let g_dom = f.g.get(2).copied().filter(|d| !d.is_empty());
        let mut q = casbin_rule::Entity::find();
        if let Some(d) = p_dom.or(g_dom) {
            q = q.filter(
                casbin_rule::Column::V1
                    .eq(d)
                    .and(casbin_rule::Column::Ptype.eq("p"))
                    .or(casbin_rule::Column::V2
                        .eq(g_dom.unwrap_or(d))
                        .and(casbin_rule::Column::Ptype.eq("g"))),
            );
        }
        let rows = q.all(&self.db).await.map_err(adapter_err)?;
        for r in &rows {
            m.add_policy(sec_of(&r.ptype), &r.ptype, fields(r));
        }
        self.filtered = true;
        Ok(())
    }

    async fn save_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let txn = pitwall_store::begin_write(&self.db)
            .await
            .map_err(adapter_err)?;
        casbin_rule::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(adapter_err)?;
        for sec in ["p", "g"] {
            let Some(map) = m.get_model().get(sec) else {
                continue;
            };
            for (ptype, ast) in map {
                for rule in ast.get_policy() {
                    // Defaults are code, not data.
                    if sec == "p" && rule.get(1).map(String::as_str) == Some("*") {
                        continue;
                    }
                    rules::insert_rule(&txn, ptype, rule)
                        .await
                        .map_err(adapter_err)?;
                }
            }
        }
        rules::bump_version(&txn, None).await.map_err(adapter_err)?;
        txn.commit().await.map_err(adapter_err)?;
        Ok(())
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        casbin_rule::Entity::delete_many()
            .exec(&self.db)
            .await
            .map_err(adapter_err)?;
        rules::bump_version(&self.db, None)
            .await
            .map_err(adapter_err)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        rules::insert_rule(&self.db, ptype, &rule)
            .await
            .map_err(adapter_err)?;
        rules::bump_version(&self.db, None)
            .await
            .map_err(adapter_err)?;
        Ok(true)
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules_: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let txn = pitwall_store::begin_write(&self.db)
            .await
            .map_err(adapter_err)?;
        for rule in &rules_ {
            rules::insert_rule(&txn, ptype, rule)
                .await
                .map_err(adapter_err)?;
        }
        rules::bump_version(&txn, None).await.map_err(adapter_err)?;
        txn.commit().await.map_err(adapter_err)?;
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let n = rules::delete_rules(&self.db, ptype, 0, &rule)
            .await
            .map_err(adapter_err)?;
        rules::bump_version(&self.db, None)
            .await
            .map_err(adapter_err)?;
        Ok(n > 0)
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules_: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let txn = pitwall_store::begin_write(&self.db)
            .await
            .map_err(adapter_err)?;
        let mut n = 0;
        for rule in &rules_ {
            n += rules::delete_rules(&txn, ptype, 0, rule)
                .await
                .map_err(adapter_err)?;
        }
        rules::bump_version(&txn, None).await.map_err(adapter_err)?;
        txn.commit().await.map_err(adapter_err)?;
        Ok(n > 0)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        let n = rules::delete_rules(&self.db, ptype, field_index, &field_values)
            .await
            .map_err(adapter_err)?;
        rules::bump_version(&self.db, None)
            .await
            .map_err(adapter_err)?;
        Ok(n > 0)
    }
}
