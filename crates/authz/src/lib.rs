//! Who may do what in which shop: casbin RBAC with domains, the domain being
//! the shop.
//!
//! - Subjects are `user:<id>`, roles are `role:<name>`, domains `shop:<id>`.
//! - The default matrix (`Role::default_permissions`) is the `*` domain; it is
//!   not stored but added when the policy loads, so it lives in one place.
//! - A shop's changes are stored as `allow` or `deny` rules in its own domain;
//!   a deny beats an allow, which is how a shop takes a default away.
//! - Role assignments (`g` rules) are written in the same transaction as the
//!   membership they mirror, and every change bumps `authz_state.version`;
//!   each process reloads when it sees a new version (immediately in the
//!   process that made the change, within a second in the others).

pub mod adapter;
pub mod rules;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer};
use pitwall_domain::{Permission, Role, ShopId, UserId};
use pitwall_store::{Db, StoreError};
use tokio::sync::RwLock;

pub use adapter::SeaOrmAdapter;

pub const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, dom, obj, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.obj == p.obj && (p.dom == r.dom || p.dom == "*") && g(r.sub, p.sub, r.dom)
"#;

#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("policy engine: {0}")]
    Casbin(#[from] casbin::Error),
}

pub fn user_subject(user: UserId) -> String {
    format!("user:{user}")
}
pub fn role_subject(role: Role) -> String {
    format!("role:{role}")
}
pub fn shop_domain(shop: ShopId) -> String {
    format!("shop:{shop}")
}

/// The shared enforcer of one process. Cheap to clone.
#[derive(Clone)]
pub struct Authz {
    inner: Arc<Inner>,
}

/// Decisions already made under the current policy. Cleared on every
/// reload, so a changed policy is never answered from stale entries.
type DecisionCache =
    std::sync::RwLock<std::collections::HashMap<(UserId, ShopId, Permission), bool>>;

struct Inner {
    db: Db,
    decisions: DecisionCache,
    sync: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    enforcer: RwLock<Enforcer>,
    version: AtomicI64,
    /// One reload at a time: a burst of callers that all saw a new version
    /// wait for one load instead of each building the policy.
    reloading: tokio::sync::Mutex<()>,
}

async fn build_enforcer(db: &Db) -> Result<Enforcer, AuthzError> {
    let model = DefaultModel::from_str(MODEL).await?;
    let mut e = Enforcer::new(model, SeaOrmAdapter::new(db.clone())).await?;
    // Writes go through `rules` inside the business transaction, never
    // through the enforcer.
    e.enable_auto_save(false);
    Ok(e)
}

impl Authz {
    pub async fn load(db: Db) -> Result<Self, AuthzError> {
        let version = rules::version(&db).await?;
        let enforcer = build_enforcer(&db).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                enforcer: RwLock::new(enforcer),
                decisions: DecisionCache::default(),
                sync: std::sync::Mutex::new(None),
                version: AtomicI64::new(version),
                reloading: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Whether `user` may do `perm` in `shop`.
    pub async fn allowed(
        &self,
        user: UserId,
        shop: ShopId,
        perm: Permission,
    ) -> Result<bool, AuthzError> {
        let key = (user, shop, perm);
        if let Some(hit) = self
            .inner
            .decisions
            .read()
            .ok()
            .and_then(|d| d.get(&key).copied())
        {
            return Ok(hit);
        }
        let e = self.inner.enforcer.read().await;
        let decision = e.enforce((user_subject(user), shop_domain(shop), perm.as_str()))?;
        // Cached while still holding the enforcer's read lock: a reload
        // (which takes the write lock, then clears) cannot slip between
        // deciding and caching.
        if let Ok(mut d) = self.inner.decisions.write() {
            // Bounded, so a flood of distinct users cannot grow it forever.
            if d.len() >= 100_000 {
                d.clear();
            }
            d.insert(key, decision);
        }
        Ok(decision)
    }

    /// What `role` may do in `shop`, after the shop's changes.
    pub async fn role_permissions(
        &self,
        shop: ShopId,
        role: Role,
    ) -> Result<Vec<Permission>, AuthzError> {
        let e = self.inner.enforcer.read().await;
        let (sub, dom) = (role_subject(role), shop_domain(shop));
        let mut out = Vec::new();
        for p in Permission::ALL {
            if e.enforce((sub.as_str(), dom.as_str(), p.as_str()))? {
                out.push(*p);
            }
        }
        Ok(out)
    }

    /// The policy version this process has loaded. Caches of anything the
    /// policy decides compare it to know when to drop what they hold.
    pub fn version(&self) -> i64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// Reloads the policy if another transaction changed it. Called after a
    /// change commits, and by the background sync in every process.
    pub async fn refresh(&self) -> Result<bool, AuthzError> {
        let stored = rules::version(&self.inner.db).await?;
        if stored == self.inner.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        let _one = self.inner.reloading.lock().await;
        if self.inner.version.load(Ordering::Acquire) >= stored {
            // Another caller loaded it (or a newer one) while this waited.
            return Ok(true);
        }
        // Build the new policy without holding the lock, then swap, so that
        // requests keep being answered while it loads.
        let fresh = build_enforcer(&self.inner.db).await?;
        let mut enforcer = self.inner.enforcer.write().await;
        *enforcer = fresh;
        if let Ok(mut d) = self.inner.decisions.write() {
            d.clear();
        }
        drop(enforcer);
        self.inner.version.store(stored, Ordering::Release);
        tracing::info!(authz.version = stored, "policy reloaded");
        Ok(true)
    }

    /// Keeps this process in step with policy changes made by others, until
    /// [`Authz::stop_sync`].
    pub fn spawn_sync(&self, every: Duration) {
        let this = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = this.refresh().await {
                    tracing::warn!(error = %err, "policy sync failed");
                }
            }
        });
        if let Ok(mut slot) = self.inner.sync.lock()
            && let Some(old) = slot.replace(task)
        {
            old.abort();
        }
    }

    pub fn stop_sync(&self) {
        if let Ok(mut slot) = self.inner.sync.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
    }
}
