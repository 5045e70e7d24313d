//! Argon2id hashing, always off the async worker threads (on [`HashPool`]): a hash costs
//! tens of milliseconds of CPU and would otherwise stall every request sharing the thread.
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};
use crate::hash_pool::HashPool;

/// Argon2id cost parameters; the defaults are OWASP's (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The result of checking a password against a stored hash.
pub struct Verification {
    pub matches: bool,
    /// The stored hash used other parameters than the current ones.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    pool: HashPool,
    /// Verified against when the email is unknown, so that answer takes as long as a
    /// wrong password does.
    dummy_hash: String,
}

impl Passwords {
    /// Builds the hasher and its dummy hash (one hash's worth of CPU, once at start).
    pub fn new(params: PasswordParams) -> Result<Self> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| Error::internal("argon2 parameters", e))?;
        let dummy_hash = hash_blocking(&params, "lorebase dummy password for timing")?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                pool: HashPool::per_core()?,
                dummy_hash,
            }),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let inner = self.inner.clone();
        let password = password.to_owned();
        let params = inner.params.clone();
        inner
            .pool
            .run(move || hash_blocking(&params, &password))
            .await?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no
    /// stored hash (unknown account); the latter never matches.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verification> {
        let inner = self.inner.clone();
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.inner.dummy_hash).to_owned();
        let params = inner.params.clone();
        inner
            .pool
            .run(move || {
                let parsed = PasswordHash::new(&stored)
                    .map_err(|e| Error::internal("stored password hash", e))?;
                let matches = argon2(&params)
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok();
                let needs_rehash = !uses_params(&parsed, &params);
                Ok(Verification {
                    matches: matches && known,
                    needs_rehash,
                })
            })
            .await?
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| Error::internal("argon2 salt", e))?;
    argon2(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal("argon2 hash", e))
}

/// Whether a PHC hash was made with Argon2id and exactly these costs.
fn uses_params(hash: &PasswordHash<'_>, params: &Params) -> bool {
    let Ok(stored) = Params::try_from(hash) else {
        return false;
    };
    hash.algorithm == Algorithm::Argon2id.ident()
        && stored.m_cost() == params.m_cost()
        && stored.t_cost() == params.t_cost()
        && stored.p_cost() == params.p_cost()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordParams {
        PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn hash_verifies_and_detects_old_params() {
        let old = Passwords::new(cheap()).unwrap();
        let hash = old.hash("tangerine-orbit-42").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let v = old.verify("tangerine-orbit-42", Some(&hash)).await.unwrap();
        assert!(v.matches && !v.needs_rehash);
        assert!(!old.verify("wrong", Some(&hash)).await.unwrap().matches);
        assert!(!old.verify("anything", None).await.unwrap().matches);

        let new = Passwords::new(PasswordParams {
            iterations: 2,
            ..cheap()
        })
        .unwrap();
        let v = new.verify("tangerine-orbit-42", Some(&hash)).await.unwrap();
        assert!(v.matches && v.needs_rehash);
    }
}
