//! Secrets: random tokens (stored as SHA-256) and passwords (argon2id).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::{Error, Result};

/// A fresh token: 256 bits from the OS's secure source, URL-safe, with a
/// prefix that says what it is (so a leaked one is recognisable in scans).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .unwrap_or_else(|_| {
            // The OS source failing is not something to limp on with.
            panic!("the operating system's random source is unavailable")
        });
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What is stored for a token: its SHA-256, hex. Tokens carry 256 bits of
/// entropy, so a fast hash is enough; no salt is needed to stop guessing.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A short, non-reversible label for personal data in rate-limit keys.
pub fn fingerprint(value: &str) -> String {
    hash_token(value)[..16].to_owned()
}

/// Password hashing and checking (argon2id), the costliest work anybody
/// can ask of us before signing in. It runs on the blocking pool under a
/// limit of one hash per core, so a burst of sign-ins queues instead of
/// taking every core (and the blocking pool's 512 threads) at once.
pub struct Passwords {
    permits: tokio::sync::Semaphore,
    size: usize,
    /// Hashes made (not checks): tests read it to see work was skipped.
    hashed: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// A stored-looking hash to check against when there is none, so an
    /// unknown account costs the same as a known one.
    dummy: tokio::sync::OnceCell<String>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }
}

impl Passwords {
    /// At most `concurrent` hashes or checks at a time (at least one).
    pub fn new(concurrent: usize) -> Self {
        let size = concurrent.max(1);
        Self {
            permits: tokio::sync::Semaphore::new(size),
            size,
            hashed: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            dummy: tokio::sync::OnceCell::new(),
        }
    }

    /// How many hashes or checks may run at once.
    pub fn limit(&self) -> usize {
        self.size
    }

    /// New hashes made so far.
    pub fn hashes_made(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// The most hashes and checks that ever ran at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Internal(format!("password work: {e}")))?;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let out = tokio::task::spawn_blocking(work).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out.map_err(|e| Error::Internal(e.to_string()))?
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.hashed.fetch_add(1, Ordering::Relaxed);
        self.run(move || {
            let mut salt_bytes = [0u8; 16];
            rand::rngs::OsRng
                .try_fill_bytes(&mut salt_bytes)
                .map_err(|e| Error::Internal(format!("random source: {e}")))?;
            let salt = SaltString::encode_b64(&salt_bytes)
                .map_err(|e| Error::Internal(format!("salt: {e}")))?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("hashing password: {e}")))
        })
        .await
    }

    /// Verifies a password. With no stored hash (unknown user, or a user
    /// who has not set one) it still spends the same time, so timing does
    /// not tell whether an account exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let (stored, real) = match stored {
            Some(s) => (s.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_owned();
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Ok(false);
            };
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(ok && real)
        })
        .await
    }

    /// Does the work of a hash without keeping it (a request that must
    /// cost the same whatever it finds).
    pub async fn dummy_hash(&self) -> Result<String> {
        self.dummy
            .get_or_try_init(|| self.hash("pitwall timing equaliser"))
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = new_token("pt_");
        let b = new_token("pt_");
        assert!(a.starts_with("pt_") && a.len() >= 3 + 43);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[tokio::test]
    async fn passwords_verify() {
        let p = Passwords::new(2);
        let h = p.hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("anything at all", None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn password_work_never_exceeds_its_limit() {
        let p = std::sync::Arc::new(Passwords::new(2));
        let work: Vec<_> = (0..8)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move { p.hash(&format!("password {i}")).await })
            })
            .collect();
        for w in work {
            assert!(w.await.unwrap().is_ok());
        }
        assert_eq!(p.hashes_made(), 8);
        assert!(p.max_in_flight() >= 1);
        assert!(p.max_in_flight() <= 2, "{} at once", p.max_in_flight());
    }
}
