//! A short-lived cache of who a request is: the session behind a token and
//! the shop context (membership, role, plan, features) of a user in a shop.
//! Without it every request pays five or six queries before its handler
//! runs (see docs/BENCHMARKS.md).
//!
//! Correctness rules:
//! - Entries live at most [`TTL`]; another process's change (a logout, a
//!   plan edit) shows here within that time. Expired ones are dropped on
//!   the next insert (at most one sweep per TTL), so memory follows the
//!   tokens and shops of the last seconds, not every one ever seen.
//! - Every use case that changes what an entry holds calls
//!   [`AuthCache::clear`] after committing, so the process that made the
//!   change sees it at once.
//! - Policy changes (roles, memberships) bump the policy version; an entry
//!   made under an older version is dropped, so they apply within the
//!   policy's own sync interval everywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pitwall_domain::{ShopId, UserId};

use crate::{Actor, ShopCtx};

pub const TTL: Duration = Duration::from_secs(2);
/// A bound on memory: past it the cache starts over.
const MAX_ENTRIES: usize = 20_000;

#[derive(Default)]
pub struct AuthCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    version: i64,
    /// When expired entries were last dropped.
    swept: Option<Instant>,
    sessions: HashMap<(String, &'static str), (Actor, Instant)>,
    /// By user and the shop asked for (`None`: the user's default shop).
    contexts: HashMap<(UserId, Option<ShopId>), (ShopCtx, Instant)>,
}

impl Inner {
    /// Drops expired entries, at most once per [`TTL`]: otherwise each
    /// token and shop seen once would hold its memory until the bound.
    fn sweep(&mut self, now: Instant) {
        if self.swept.is_some_and(|at| now.duration_since(at) < TTL) {
            return;
        }
        self.sessions
            .retain(|_, (_, at)| now.duration_since(*at) < TTL);
        self.contexts
            .retain(|_, (_, at)| now.duration_since(*at) < TTL);
        self.swept = Some(now);
    }

    fn sync(&mut self, version: i64) {
        if self.version != version {
            self.sessions.clear();
            self.contexts.clear();
            self.version = version;
        }
    }
}

impl AuthCache {
    pub fn session(&self, token_hash: &str, kind: &'static str, version: i64) -> Option<Actor> {
        let mut g = self.inner.lock().ok()?;
        g.sync(version);
        let key = (token_hash.to_owned(), kind);
        match g.sessions.get(&key) {
            Some((a, at)) if at.elapsed() < TTL => Some(a.clone()),
            Some(_) => {
                g.sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn put_session(&self, token_hash: &str, kind: &'static str, version: i64, actor: &Actor) {
        if let Ok(mut g) = self.inner.lock() {
            g.sync(version);
            g.sweep(Instant::now());
            if g.sessions.len() >= MAX_ENTRIES {
                g.sessions.clear();
            }
            g.sessions.insert(
                (token_hash.to_owned(), kind),
                (actor.clone(), Instant::now()),
            );
        }
    }

    pub fn context(&self, user: UserId, shop: Option<ShopId>, version: i64) -> Option<ShopCtx> {
        let mut g = self.inner.lock().ok()?;
        g.sync(version);
        match g.contexts.get(&(user, shop)) {
            Some((c, at)) if at.elapsed() < TTL => Some(c.clone()),
            Some(_) => {
                g.contexts.remove(&(user, shop));
                None
            }
            None => None,
        }
    }

    pub fn put_context(&self, asked: Option<ShopId>, version: i64, ctx: &ShopCtx) {
        if let Ok(mut g) = self.inner.lock() {
            g.sync(version);
            g.sweep(Instant::now());
            if g.contexts.len() >= MAX_ENTRIES {
                g.contexts.clear();
            }
            g.contexts
                .insert((ctx.user_id, asked), (ctx.clone(), Instant::now()));
        }
    }

    /// Drops everything: called after any change to sessions, memberships,
    /// shops, plans or features.
    pub fn clear(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.sessions.clear();
            g.contexts.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> Actor {
        Actor {
            user_id: UserId::new(),
            name: "Olive".into(),
            email: "o@x.test".into(),
            platform_role: None,
            session_id: uuid::Uuid::now_v7(),
            session_shop: None,
        }
    }

    #[test]
    fn a_policy_change_or_a_clear_drops_sessions() {
        let c = AuthCache::default();
        let a = actor();
        c.put_session("h", "api", 1, &a);
        assert_eq!(c.session("h", "api", 1).map(|x| x.user_id), Some(a.user_id));
        assert!(c.session("h", "web", 1).is_none(), "kinds do not mix");
        assert!(
            c.session("h", "api", 2).is_none(),
            "a new policy version drops it"
        );
        c.put_session("h", "api", 2, &a);
        c.clear();
        assert!(c.session("h", "api", 2).is_none());
    }

    #[test]
    fn expired_entries_go_when_the_next_one_comes() {
        let c = AuthCache::default();
        let a = actor();
        let long_ago = Instant::now()
            .checked_sub(TTL * 2)
            .expect("the clock is past two TTLs");
        {
            let mut g = c.inner.lock().expect("lock");
            for i in 0..100 {
                g.sessions
                    .insert((format!("old{i}"), "api"), (a.clone(), long_ago));
            }
        }
        c.put_session("new", "api", 0, &a);
        let g = c.inner.lock().expect("lock");
        assert_eq!(g.sessions.len(), 1, "only the live one is held");
        assert!(g.sessions.contains_key(&("new".to_owned(), "api")));
    }
}
