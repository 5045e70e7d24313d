//! Argon2id hashing, always off the async worker threads (on [`HashPool`]): a hash costs
//! tens of milliseconds of CPU and would otherwise stall every request sharing the thread.
use std::cell::RefCell;
use std::sync::Arc;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{Error, Result};
use crate::hash_pool::HashPool;

/// Argon2id cost parameters; the defaults are OWASP's (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Threads that hash at once, each keeping `memory_kib` of working memory. The
    /// default, half the cores, leaves the other half to requests during a login burst.
    pub hash_threads: usize,
    /// Hashing jobs that may wait for a thread; more are refused with 503.
    pub hash_queue: usize,
}

impl Default for PasswordParams {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            hash_threads: (cores / 2).max(1),
            // About a second of waiting at the default costs on a small machine: a client
            // refused at once can retry, one queued for longer has likely given up.
            hash_queue: 32,
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
        let (threads, queue) = (params.hash_threads, params.hash_queue);
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| Error::internal("argon2 parameters", e))?;
        let pool = HashPool::new(threads, queue)?;
        // On a pool thread, like every hash: its working memory stays there for reuse.
        let dummy_params = params.clone();
        let dummy_hash = pool.run_blocking(move || {
            hash_blocking(&dummy_params, "lorebase dummy password for timing")
        })??;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                pool,
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
                let matches = verify_blocking(&parsed, &password)?;
                let needs_rehash = !uses_params(&parsed, &params);
                Ok(Verification {
                    matches: matches && known,
                    needs_rehash,
                })
            })
            .await?
    }
}

thread_local! {
    /// Argon2's working memory, kept by each hashing thread from one hash to the next:
    /// reused, it is neither faulted in afresh nor left to the allocator on every login,
    /// so the process holds exactly one buffer per hashing thread.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` and `salt` into `out` (whose length is the tag length).
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<()> {
    metrics::counter!(crate::metrics::PASSWORD_HASHES).increment(1);
    let hasher = Argon2::new(algorithm, version, params.clone());
    WORKING_MEMORY
        .with(|memory| {
            let mut memory = memory.borrow_mut();
            let blocks = params.block_count();
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            hasher.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        })
        .map_err(|e| Error::internal("argon2 hash", e))
}

fn hash_blocking(params: &Params, password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| Error::internal("argon2 salt", e))?;
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password.as_bytes(),
        &salt_bytes,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| Error::internal("argon2 hash", e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| Error::internal("argon2 hash", e))?),
    };
    Ok(phc.to_string())
}

/// Recomputes the hash with the stored algorithm, version, costs and salt, and compares
/// in constant time (`Output`'s equality).
fn verify_blocking(stored: &PasswordHash<'_>, password: &str) -> Result<bool> {
    let unusable = |what: &str| Error::Internal(format!("stored password hash: {what}"));
    let algorithm = Algorithm::try_from(stored.algorithm).map_err(|_| unusable("algorithm"))?;
    let version = match stored.version {
        Some(raw) => Version::try_from(raw).map_err(|_| unusable("version"))?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).map_err(|_| unusable("parameters"))?;
    let expected = stored.hash.ok_or_else(|| unusable("no hash"))?;
    let mut salt_buffer = [0u8; 64];
    let salt = stored
        .salt
        .ok_or_else(|| unusable("no salt"))?
        .decode_b64(&mut salt_buffer)
        .map_err(|_| unusable("salt"))?;
    let mut out = vec![0u8; expected.len()];
    compute(
        algorithm,
        version,
        &params,
        password.as_bytes(),
        salt,
        &mut out,
    )?;
    let computed = Output::new(&out).map_err(|_| unusable("length"))?;
    Ok(computed == expected)
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
            hash_threads: 1,
            hash_queue: 4,
        }
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_api() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let passwords = Passwords::new(cheap()).unwrap();
        let params = Params::new(1024, 1, 1, None).unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let theirs = reference
            .hash_password(b"tangerine-orbit-42", &salt)
            .unwrap()
            .to_string();
        let v = passwords
            .verify("tangerine-orbit-42", Some(&theirs))
            .await
            .unwrap();
        assert!(v.matches && !v.needs_rehash);
        assert!(
            !passwords
                .verify("tangerine-orbit-43", Some(&theirs))
                .await
                .unwrap()
                .matches
        );

        let ours = passwords.hash("tangerine-orbit-42").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            reference
                .verify_password(b"tangerine-orbit-42", &parsed)
                .is_ok()
        );
        assert!(
            reference
                .verify_password(b"tangerine-orbit-4", &parsed)
                .is_err()
        );
        // A larger buffer left by an earlier, costlier hash on the same thread is fine.
        let costly = Passwords::new(PasswordParams {
            memory_kib: 4096,
            ..cheap()
        })
        .unwrap();
        let big = costly.hash("tangerine-orbit-42").await.unwrap();
        assert!(
            passwords
                .verify("tangerine-orbit-42", Some(&big))
                .await
                .unwrap()
                .matches
        );
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
