//! Secrets handed out once and stored only as hashes.
//!
//! Agent secrets are hashed with Argon2id, as a password would be. API keys and
//! refresh tokens are 256-bit random values, where a slow hash adds nothing:
//! they are stored as SHA-256, so checking one costs microseconds per request.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::CommandError;

/// 32 random bytes as 64 hex characters.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    agentledger_store::to_hex(&bytes)
}

pub fn sha256_hex(text: &str) -> String {
    agentledger_store::to_hex(&Sha256::digest(text.as_bytes()))
}

/// Equal-length comparison that takes the same time wherever the first
/// difference is.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Argon2id PHC string of `secret`. Runs off the async threads: it takes
/// tens of milliseconds on purpose.
pub async fn hash_password(secret: String) -> Result<String, CommandError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| CommandError::Crypto(e.to_string()))
    })
    .await
    .map_err(|e| CommandError::Crypto(e.to_string()))?
}

pub async fn verify_password(secret: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(&phc) else {
            return false;
        };
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2_hashes_verify_only_their_secret() {
        let hash = hash_password("s3cret".into()).await.unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret".into(), hash.clone()).await);
        assert!(!verify_password("s3cret!".into(), hash).await);
        assert!(!verify_password("s3cret".into(), "not a hash".into()).await);
    }

    #[test]
    fn random_secrets_are_long_and_distinct() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq("ab", "abc"));
    }
}
