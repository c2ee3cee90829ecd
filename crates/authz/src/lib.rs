//! Who may do what in which shop: casbin RBAC with domains, the domain being
//! the shop.
//!
//! - Subjects are `user:<id>`, roles are `role:<name>`, domains `shop:<id>`.
//! - The default matrix (`Role::default_permissions`) is the `*` domain; it is
//!   not stored but added when a policy loads, so it lives in one place.
//! - A shop's changes are stored as `allow` or `deny` rules in its own domain;
//!   a deny beats an allow, which is how a shop takes a default away.
//! - Role assignments (`g` rules) are written in the same transaction as the
//!   membership they mirror.
//! - Each process keeps one small enforcer per shop it serves, loaded on
//!   first use with that shop's rules only (casbin's filtered load): a check
//!   costs the default matrix plus the shop's own rules, whatever the size of
//!   the fleet. A change bumps `authz_state.version` and stamps the shop with
//!   it; each process then drops that shop's enforcer (immediately in the
//!   process that made the change, within a second in the others) and loads
//!   it again on the shop's next request.

pub mod adapter;
pub mod rules;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer, Filter};
use pitwall_domain::{Permission, Role, ShopId, UserId};
use pitwall_store::{Db, StoreError};

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

/// The permission policy of one process. Cheap to clone.
#[derive(Clone)]
pub struct Authz {
    inner: Arc<Inner>,
}

/// How many shops' decisions one process keeps. Past it, one shop (an
/// arbitrary one) makes room and starts over on its next request.
const KNOWN_SHOPS: usize = 20_000;
/// How many shops' enforcers stay loaded at once: the bound on the
/// policy's memory. Each holds the default matrix; measured in the server
/// at about 54 KiB apiece (docs/BENCHMARKS.md), so at most about 3.4 MiB.
/// The oldest loaded goes first; its shop keeps its decisions and loads its
/// rules again (about 0.2 ms) only for a check it has not made yet.
pub const LOADED_ENFORCERS: usize = 64;
/// Decisions kept per shop, past which that shop's start over: a bound on
/// memory should a shop's users flood it with distinct checks.
const DECISIONS_PER_SHOP: usize = 10_000;

/// What this process knows of one shop's policy: the decisions made, and
/// the enforcer that made them while it is loaded. Dropped as a whole when
/// the shop's policy changes, so no decision outlives the policy that made
/// it; a request still holding it finishes on what it started with.
#[derive(Default)]
struct ShopPolicy {
    decisions: std::sync::RwLock<HashMap<(UserId, Permission), bool>>,
    enforcer: tokio::sync::Mutex<Option<Arc<Enforcer>>>,
}

struct Inner {
    db: Db,
    /// Parsed once; each shop's enforcer starts from a copy.
    model: DefaultModel,
    shops: std::sync::Mutex<HashMap<ShopId, Arc<ShopPolicy>>>,
    /// The shops whose enforcer is loaded, oldest first.
    loaded: std::sync::Mutex<VecDeque<Weak<ShopPolicy>>>,
    /// The policy version at which each shop last changed, as this process
    /// learnt it; a shop not in it has not changed since `floor`. Caches of
    /// what the policy decides ask it ([`Authz::changed_since`]).
    changed: std::sync::Mutex<HashMap<ShopId, i64>>,
    floor: AtomicI64,
    sync: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    version: AtomicI64,
    /// One catch-up at a time: a burst of callers that all saw a new version
    /// wait for one read of what changed.
    reloading: tokio::sync::Mutex<()>,
}

fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps stay consistent whatever a panicking holder did.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Authz {
    pub async fn load(db: Db) -> Result<Self, AuthzError> {
        let version = rules::version(&db).await?;
        let model = DefaultModel::from_str(MODEL).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                model,
                shops: std::sync::Mutex::default(),
                loaded: std::sync::Mutex::default(),
                changed: std::sync::Mutex::default(),
                floor: AtomicI64::new(version),
                sync: std::sync::Mutex::new(None),
                version: AtomicI64::new(version),
                reloading: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn shop(&self, shop: ShopId) -> Arc<ShopPolicy> {
        let mut shops = locked(&self.inner.shops);
        if let Some(policy) = shops.get(&shop) {
            return policy.clone();
        }
        if shops.len() >= KNOWN_SHOPS
            && let Some(other) = shops.keys().next().copied()
        {
            shops.remove(&other);
        }
        shops.entry(shop).or_default().clone()
    }

    /// The shop's enforcer, loading it (that shop's rules and the default
    /// matrix) if it is not loaded.
    async fn enforcer(
        &self,
        shop: ShopId,
        policy: &Arc<ShopPolicy>,
    ) -> Result<Arc<Enforcer>, AuthzError> {
        let mut slot = policy.enforcer.lock().await;
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let adapter = SeaOrmAdapter::filtered(self.inner.db.clone());
        let mut enforcer = Enforcer::new(self.inner.model.clone(), adapter).await?;
        // Writes go through `rules` inside the business transaction, never
        // through the enforcer.
        enforcer.enable_auto_save(false);
        let domain = shop_domain(shop);
        enforcer
            .load_filtered_policy(Filter {
                p: vec!["", &domain],
                g: vec!["", "", &domain],
            })
            .await?;
        let enforcer = Arc::new(enforcer);
        *slot = Some(enforcer.clone());
        drop(slot);
        let evicted: Vec<Arc<ShopPolicy>> = {
            let mut loaded = locked(&self.inner.loaded);
            // Shops dropped by a policy change took their enforcer along.
            loaded.retain(|w| w.strong_count() > 0);
            loaded.push_back(Arc::downgrade(policy));
            let over = loaded.len().saturating_sub(LOADED_ENFORCERS);
            loaded.drain(..over).filter_map(|w| w.upgrade()).collect()
        };
        for old in evicted {
            match old.enforcer.try_lock() {
                Ok(mut slot) => *slot = None,
                // Busy loading: it stays, and goes last in line.
                Err(_) => locked(&self.inner.loaded).push_back(Arc::downgrade(&old)),
            }
        }
        Ok(enforcer)
    }

    /// Whether `user` may do `perm` in `shop`.
    pub async fn allowed(
        &self,
        user: UserId,
        shop: ShopId,
        perm: Permission,
    ) -> Result<bool, AuthzError> {
        let policy = self.shop(shop);
        let key = (user, perm);
        if let Some(hit) = policy
            .decisions
            .read()
            .ok()
            .and_then(|d| d.get(&key).copied())
        {
            return Ok(hit);
        }
        let enforcer = self.enforcer(shop, &policy).await?;
        let decision = enforcer.enforce((user_subject(user), shop_domain(shop), perm.as_str()))?;
        if let Ok(mut d) = policy.decisions.write() {
            if d.len() >= DECISIONS_PER_SHOP {
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
        let enforcer = self.enforcer(shop, &self.shop(shop)).await?;
        let (sub, dom) = (role_subject(role), shop_domain(shop));
        let mut out = Vec::new();
        for p in Permission::ALL {
            if enforcer.enforce((sub.as_str(), dom.as_str(), p.as_str()))? {
                out.push(*p);
            }
        }
        Ok(out)
    }

    /// Whether `shop`'s policy (its roles, its members) changed after
    /// `version`, as far as this process has caught up: a cache entry made
    /// under `version` for that shop is stale when it did.
    pub fn changed_since(&self, shop: ShopId, version: i64) -> bool {
        let at = locked(&self.inner.changed)
            .get(&shop)
            .copied()
            .unwrap_or_else(|| self.inner.floor.load(Ordering::Acquire));
        at > version
    }

    /// The policy version this process has loaded. Caches of anything the
    /// policy decides compare it to know when to drop what they hold.
    pub fn version(&self) -> i64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// How many shops' enforcers this process holds loaded.
    pub fn loaded_enforcers(&self) -> usize {
        locked(&self.inner.loaded)
            .iter()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Catches up with policy changes committed by any process: drops the
    /// loaded policy of each shop that changed. Called after a change
    /// commits, and by the background sync in every process. Answers whether
    /// anything had changed.
    pub async fn refresh(&self) -> Result<bool, AuthzError> {
        let stored = rules::version(&self.inner.db).await?;
        if stored == self.inner.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        let _one = self.inner.reloading.lock().await;
        let loaded = self.inner.version.load(Ordering::Acquire);
        if loaded >= stored {
            // Another caller caught up (or further) while this waited.
            return Ok(true);
        }
        // Read after `stored`, so it holds at least every change up to it
        // (a later one may show too, and is dropped again next time).
        let changed = rules::shops_changed_since(&self.inner.db, loaded).await?;
        {
            let mut shops = locked(&self.inner.shops);
            for shop in &changed {
                shops.remove(shop);
            }
        }
        {
            // Before the version moves, so that anything cached under the
            // new version already sees these shops as changed.
            let mut at = locked(&self.inner.changed);
            if at.len() + changed.len() > KNOWN_SHOPS {
                // Forget them all, and count every shop changed now.
                at.clear();
                self.inner.floor.store(stored, Ordering::Release);
            }
            for shop in &changed {
                at.insert(*shop, stored);
            }
        }
        self.inner.version.store(stored, Ordering::Release);
        tracing::info!(
            authz.version = stored,
            authz.changed_shops = changed.len(),
            "policy changed"
        );
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
