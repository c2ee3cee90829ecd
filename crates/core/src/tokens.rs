//! Secrets: random tokens (stored as SHA-256) and passwords (argon2id).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

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

pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
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
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// Verifies a password. With no stored hash (unknown user, or a user who has
/// not set one) it still spends the same time, so timing does not tell
/// whether an account exists.
pub async fn verify_password(password: &str, stored: Option<&str>) -> Result<bool> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let password = password.to_owned();
    let (stored, real) = match stored {
        Some(s) => (s.to_owned(), true),
        None => match DUMMY.get() {
            Some(d) => (d.clone(), false),
            None => {
                let d = hash_password("pitwall timing equaliser").await?;
                (DUMMY.get_or_init(|| d).clone(), false)
            }
        },
    };
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && real)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
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
        let h = hash_password("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery", Some(&h))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse battery", Some(&h))
                .await
                .unwrap()
        );
        assert!(!verify_password("anything at all", None).await.unwrap());
    }
}
