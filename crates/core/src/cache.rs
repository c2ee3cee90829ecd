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
//! - A shop context remembers the policy version it was made under; once
//!   the policy of its shop (roles, memberships) changed after that, it is
//!   dropped, so such changes apply within the policy's own sync interval
//!   everywhere, and a change in one shop leaves other shops' entries be.
//!   Sessions say who someone is, not what they may do: the policy does
//!   not touch them.

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
    /// When expired entries were last dropped.
    swept: Option<Instant>,
    sessions: HashMap<(String, &'static str), (Actor, Instant)>,
    /// By user and the shop asked for (`None`: the user's default shop),
    /// with the policy version each was made under.
    contexts: HashMap<(UserId, Option<ShopId>), (ShopCtx, Instant, i64)>,
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
            .retain(|_, (_, at, _)| now.duration_since(*at) < TTL);
        self.swept = Some(now);
    }
}

impl AuthCache {
    pub fn session(&self, token_hash: &str, kind: &'static str) -> Option<Actor> {
        let mut g = self.inner.lock().ok()?;
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

    pub fn put_session(&self, token_hash: &str, kind: &'static str, actor: &Actor) {
        if let Ok(mut g) = self.inner.lock() {
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

    /// The context, unless it expired or `changed_since(shop, version)`
    /// says its shop's policy moved on after it was made.
    pub fn context(
        &self,
        user: UserId,
        shop: Option<ShopId>,
        changed_since: impl Fn(ShopId, i64) -> bool,
    ) -> Option<ShopCtx> {
        let mut g = self.inner.lock().ok()?;
        match g.contexts.get(&(user, shop)) {
            Some((c, at, version))
                if at.elapsed() < TTL && !changed_since(c.shop_id(), *version) =>
            {
                Some(c.clone())
            }
            Some(_) => {
                g.contexts.remove(&(user, shop));
                None
            }
            None => None,
        }
    }

    /// Keeps `ctx`, made under policy `version` (read before it was loaded).
    pub fn put_context(&self, asked: Option<ShopId>, version: i64, ctx: &ShopCtx) {
        if let Ok(mut g) = self.inner.lock() {
            g.sweep(Instant::now());
            if g.contexts.len() >= MAX_ENTRIES {
                g.contexts.clear();
            }
            g.contexts
                .insert((ctx.user_id, asked), (ctx.clone(), Instant::now(), version));
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
    fn a_clear_drops_sessions_and_kinds_do_not_mix() {
        let c = AuthCache::default();
        let a = actor();
        c.put_session("h", "api", &a);
        assert_eq!(c.session("h", "api").map(|x| x.user_id), Some(a.user_id));
        assert!(c.session("h", "web").is_none(), "kinds do not mix");
        c.clear();
        assert!(c.session("h", "api").is_none());
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
        c.put_session("new", "api", &a);
        let g = c.inner.lock().expect("lock");
        assert_eq!(g.sessions.len(), 1, "only the live one is held");
        assert!(g.sessions.contains_key(&("new".to_owned(), "api")));
    }
}
