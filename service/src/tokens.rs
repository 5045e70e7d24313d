//! Access tokens (HS256 JWTs) and refresh tokens (opaque random strings stored hashed).
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The `typ` claim of access tokens: nothing else is accepted as a Bearer token.
const ACCESS_TOKEN_TYPE: &str = "access";
/// Clock skew tolerated between servers, in seconds.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    pub typ: String,
    /// The user's token version when issued: bumping it ends every earlier token.
    pub ver: i32,
    /// The login (session) this token belongs to.
    pub sid: Uuid,
}

pub struct TokenConfig {
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub session_max_lifetime_secs: i64,
}

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// A login ends this long after it began, however often it refreshes.
    pub session_max_lifetime_secs: i64,
}

impl Tokens {
    pub fn new(config: TokenConfig) -> Self {
        // An allowlist of exactly one algorithm: `alg: none` and RS/HS confusion fail.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(&config.secret),
            decoding: DecodingKey::from_secret(&config.secret),
            validation,
            issuer: config.issuer,
            audience: config.audience,
            access_ttl_secs: config.access_ttl_secs,
            refresh_ttl_secs: config.refresh_ttl_secs,
            session_max_lifetime_secs: config.session_max_lifetime_secs,
        }
    }

    pub fn issue_access(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        token_version: i32,
    ) -> Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id,
            exp: now + self.access_ttl_secs,
            iat: now,
            nbf: now,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::now_v7(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
            ver: token_version,
            sid: session_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal("signing access token", e))
    }

    /// Checks signature, algorithm, time claims, issuer, audience and token type. Whether
    /// the session and token version are still current is the database's to say.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthorized("invalid or expired access token"))?;
        if data.claims.typ != ACCESS_TOKEN_TYPE {
            return Err(Error::Unauthorized("not an access token"));
        }
        Ok(data.claims)
    }
}

/// A new refresh token: 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores instead of the refresh token itself.
pub fn refresh_token_hash(token: &str) -> String {
    sha256_hex(token)
}

/// The SHA-256 digest of `text`, as lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
