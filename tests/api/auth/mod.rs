//! Registration, login, refresh, logout, access-token validation and the abuse limits,
//! through HTTP on both backends; a file per concern, with the helpers they (and
//! `users.rs`) share here.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{refresh_tokens, users};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, PASSWORD, Reply, TestApp, TestUser};
use crate::helpers::{error_fields, id_of, relation_path, sorted_keys, text_at, world_path};
use crate::on_both_backends;

pub const REGISTER: &str = "/api/v1/auth/register";
pub const LOGIN: &str = "/api/v1/auth/login";
pub const REFRESH: &str = "/api/v1/auth/refresh";
pub const LOGOUT: &str = "/api/v1/auth/logout";
pub const ME: &str = "/api/v1/users/me";

/// Like `on_both_backends!`, but the app starts with extra configuration variables.
#[macro_export]
macro_rules! on_both_backends_with {
    ($vars:expr; $($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn postgres() {
                let app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $vars).await;
                super::$test(app).await
            }
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $vars).await;
                super::$test(app).await
            }
        }
    )+};
}

pub fn unique_email(name: &str) -> String {
    format!("{name}-{}@example.com", Uuid::now_v7().simple())
}

/// A random-looking password of `len` characters (deterministic for a given seed), strong
/// enough for zxcvbn.
pub fn strong_password(len: usize, seed: u64) -> String {
    const CHARSET: &[u8] =
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%&*+-=?@^_~";
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len)
        .map(|_| CHARSET[rng.random_range(0..CHARSET.len())] as char)
        .collect()
}

/// No response may ever carry a password hash (or the password itself).
#[track_caller]
pub fn assert_no_secrets(reply: &Reply, password: &str) {
    assert!(
        !reply.text.contains("$argon2"),
        "a password hash leaked: {}",
        reply.text
    );
    assert!(
        !reply.text.contains("password_hash"),
        "a password hash field leaked: {}",
        reply.text
    );
    assert!(
        !reply.text.contains(password),
        "the password leaked: {}",
        reply.text
    );
}

/// A 401 for a missing, invalid or revoked Bearer token: problem+json and a challenge.
#[track_caller]
pub fn assert_unauthorized(reply: &Reply) {
    reply.assert_problem(401, "unauthorized");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer"),
        "body: {}",
        reply.text
    );
}

/// Checks the `{user, access_token, refresh_token, token_type, expires_in}` shape.
#[track_caller]
pub fn assert_token_pair(body: &Value) {
    let keys = sorted_keys(body);
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "token_type",
            "user"
        ],
        "{body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"]
        .as_i64()
        .expect("expires_in is an integer");
    assert!(
        (1..=900).contains(&expires_in),
        "expires_in {expires_in} is over 15 minutes"
    );
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_user_shape(&body["user"]);
}

/// `User`: exactly `{id, email, display_name, preferences, created_at, updated_at}`.
#[track_caller]
pub fn assert_user_shape(user: &Value) {
    let keys = sorted_keys(user);
    assert_eq!(
        keys,
        [
            "created_at",
            "display_name",
            "email",
            "id",
            "preferences",
            "updated_at"
        ],
        "{user}"
    );
    assert!(
        user["id"]
            .as_str()
            .is_some_and(|id| id.parse::<Uuid>().is_ok())
    );
    assert!(user["preferences"].is_object());
    for stamp in ["created_at", "updated_at"] {
        assert!(
            user[stamp]
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            "{stamp} is not RFC 3339: {user}"
        );
    }
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    app.post(LOGIN, None, json!({"email": email, "password": password}))
        .await
}

/// Logs `user` in once more: a second, independent login (session).
pub async fn second_login(app: &TestApp, user: &TestUser) -> TestUser {
    let reply = login(app, &user.email, &user.password).await;
    reply.assert_status(200);
    let body = reply.json();
    TestUser {
        access_token: text_at(&body, "access_token"),
        refresh_token: text_at(&body, "refresh_token"),
        ..user.clone()
    }
}

/// `user`'s login still works: its access token reads, and its refresh token refreshes
/// into an access token that reads.
pub async fn assert_login_lives(app: &TestApp, user: &TestUser) {
    assert_eq!(me_status(app, &user.access_token).await, 200);
    let reply = refresh(app, &user.refresh_token).await;
    reply.assert_status(200);
    let (access, _) = tokens_of(&reply);
    assert_eq!(me_status(app, &access).await, 200);
}

pub async fn logout(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(LOGOUT, None, json!({ "refresh_token": refresh_token }))
        .await
}

/// A registration attempt with `body`.
pub async fn register_with(app: &TestApp, body: Value) -> Reply {
    app.post(REGISTER, None, body).await
}

pub async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(REFRESH, None, json!({"refresh_token": refresh_token}))
        .await
}

/// The status `GET /users/me` answers with this token.
pub async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.get(ME, Some(token)).await.status.as_u16()
}

#[track_caller]
pub(super) fn tokens_of(reply: &Reply) -> (String, String) {
    let body = reply.json();
    (
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    )
}

pub(super) fn decode_segment(segment: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url segment");
    serde_json::from_slice(&bytes).expect("JSON segment")
}

/// The claims of a JWT, read without checking anything.
pub fn claims_of(token: &str) -> Value {
    decode_segment(token.split('.').nth(1).expect("payload segment"))
}

pub(super) fn sign_with(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

/// Signs claims the way the server does (HS256, the server's secret).
pub(super) fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, JWT_SECRET.as_bytes(), claims)
}

pub(super) fn unsigned(claims: &Value, signature: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims"));
    format!("{header}.{payload}.{signature}")
}

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (key, value) in changes.as_object().expect("object") {
        claims[key] = value.clone();
    }
    claims
}

pub(super) fn without(claims: &Value, key: &str) -> Value {
    let mut claims = claims.clone();
    claims.as_object_mut().expect("object").remove(key);
    claims
}

/// Asserts that each named token is refused with a problem+json 401, after checking that
/// a re-signed copy of the genuine claims is accepted (so each case fails for its one
/// alteration only).
pub(super) async fn assert_all_rejected(
    app: &TestApp,
    genuine: &Value,
    cases: Vec<(&str, String)>,
) {
    assert_eq!(
        me_status(app, &sign(genuine)).await,
        200,
        "the control token must work"
    );
    for (name, token) in cases {
        let reply = app.get(ME, Some(&token)).await;
        assert_eq!(
            reply.status.as_u16(),
            401,
            "case {name:?} was not rejected on {:?}: {}",
            app.backend,
            reply.text
        );
        assert_unauthorized(&reply);
    }
}

/// A 429 problem with a sensible `Retry-After`.
#[track_caller]
pub(super) fn assert_rate_limited(reply: &Reply, window_secs: u64) -> u64 {
    reply.assert_problem(429, "rate-limited");
    let retry_after: u64 = reply
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=window_secs).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    retry_after
}

mod bearer;
mod limits;
mod login;
mod logout;
mod refresh;
mod register;
mod servers;
