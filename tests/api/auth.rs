//! Registration, login, refresh, logout, access-token validation and the abuse limits,
//! through HTTP on both backends.
use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{refresh_tokens, users};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lorebase::config::Config;
use lorebase::startup::Application;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, PASSWORD, Reply, TestApp, TestUser};
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

// ---------------------------------------------------------------------------------------
// Helpers shared with users.rs
// ---------------------------------------------------------------------------------------

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
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
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
    let mut keys: Vec<&str> = user
        .as_object()
        .expect("user object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
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
        access_token: body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        refresh_token: body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
        ..user.clone()
    }
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
fn tokens_of(reply: &Reply) -> (String, String) {
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

fn decode_segment(segment: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url segment");
    serde_json::from_slice(&bytes).expect("JSON segment")
}

/// The claims of a JWT, read without checking anything.
pub fn claims_of(token: &str) -> Value {
    decode_segment(token.split('.').nth(1).expect("payload segment"))
}

fn sign_with(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

/// Signs claims the way the server does (HS256, the server's secret).
fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, JWT_SECRET.as_bytes(), claims)
}

fn unsigned(claims: &Value, signature: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims"));
    format!("{header}.{payload}.{signature}")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (key, value) in changes.as_object().expect("object") {
        claims[key] = value.clone();
    }
    claims
}

fn without(claims: &Value, key: &str) -> Value {
    let mut claims = claims.clone();
    claims.as_object_mut().expect("object").remove(key);
    claims
}

/// Asserts that each named token is refused with a problem+json 401, after checking that
/// a re-signed copy of the genuine claims is accepted (so each case fails for its one
/// alteration only).
async fn assert_all_rejected(app: &TestApp, genuine: &Value, cases: Vec<(&str, String)>) {
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

// ---------------------------------------------------------------------------------------
// Register
// ---------------------------------------------------------------------------------------

async fn register_creates_the_account_and_logs_it_in(app: TestApp) {
    let raw_email = format!("  Ada.Lovelace-{}@Example.COM ", Uuid::now_v7().simple());
    let reply = app
        .post(
            REGISTER,
            None,
            json!({"email": raw_email, "password": PASSWORD, "display_name": "Ada"}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.header("location"), Some("/api/v1/users/me"));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_no_secrets(&reply, PASSWORD);
    let body = reply.json();
    assert_token_pair(&body);
    let user = &body["user"];
    assert_eq!(
        user["email"],
        raw_email.trim().to_lowercase(),
        "stored trimmed and lower-cased"
    );
    assert_eq!(user["display_name"], "Ada");
    assert_eq!(user["preferences"], json!({}));

    // The access token is what the contract says it is.
    let token = body["access_token"].as_str().unwrap();
    let header = decode_segment(token.split('.').next().unwrap());
    assert_eq!(header["alg"], "HS256");
    let claims = claims_of(token);
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["iss"], "lorebase");
    assert_eq!(claims["aud"], "lorebase-api");
    assert!(
        claims["jti"]
            .as_str()
            .is_some_and(|j| j.parse::<Uuid>().is_ok())
    );
    assert!(
        claims["sid"]
            .as_str()
            .is_some_and(|s| s.parse::<Uuid>().is_ok())
    );
    assert!(claims["ver"].is_i64());
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(nbf <= now() + 1 && iat <= now() + 1);
    assert_eq!(exp - iat, body["expires_in"].as_i64().unwrap());
    assert!(exp - iat <= 15 * 60);

    // The refresh token is opaque: 256 random bits, base64url, not a JWT.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert!(!refresh_token.contains('.'));
    assert!(
        URL_SAFE_NO_PAD
            .decode(refresh_token)
            .is_ok_and(|b| b.len() >= 32)
    );

    // Location names the new user.
    let me = app.get(ME, Some(token)).await;
    me.assert_status(200);
    assert_eq!(me.json()["id"], user["id"]);
    assert_no_secrets(&me, PASSWORD);

    // Stored: argon2id with the OWASP parameters; the refresh token only as a hash.
    let db = app.db().await;
    let stored = users::Entity::find()
        .filter(users::Column::Email.eq(raw_email.trim().to_lowercase()))
        .one(&db)
        .await
        .unwrap()
        .expect("user row");
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        stored.password_hash
    );
    let tokens = refresh_tokens::Entity::find().all(&db).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_ne!(tokens[0].token_hash, refresh_token);
    assert!(!tokens[0].token_hash.contains(refresh_token));
}

async fn register_without_display_name_leaves_it_null(app: TestApp) {
    let email = unique_email("anon");
    let reply = app
        .post(
            REGISTER,
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.json()["user"]["display_name"], Value::Null);
    let reply = app
        .post(
            REGISTER,
            None,
            json!({"email": unique_email("anon"), "password": PASSWORD, "display_name": null}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.json()["user"]["display_name"], Value::Null);
}

async fn register_with_a_taken_email_is_409(app: TestApp) {
    let user = app.register("taken").await;
    let other_password = strong_password(20, 7);
    let local = user.email.split('@').next().unwrap().to_owned();
    for email in [
        user.email.clone(),
        user.email.to_uppercase(),
        format!("  {}  ", user.email),
        format!("\t{}@EXAMPLE.com\n", local.to_uppercase()),
    ] {
        let reply = app
            .post(
                REGISTER,
                None,
                json!({"email": email, "password": other_password}),
            )
            .await;
        reply.assert_problem(409, "conflict");
        assert_no_secrets(&reply, &other_password);
    }
    // The original account is untouched.
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    login(&app, &user.email, &other_password)
        .await
        .assert_problem(401, "invalid-credentials");
}

async fn register_rejects_invalid_input_with_422(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (json!({"email": "a@b", "password": PASSWORD}), "email"),
        (
            json!({"email": "@example.com", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a b@example.com", "password": PASSWORD}),
            "email",
        ),
        (json!({"email": "", "password": PASSWORD}), "email"),
        (json!({"email": 42, "password": PASSWORD}), "email"),
        (json!({"password": PASSWORD}), "body"),
        (json!({"email": unique_email("x")}), "body"),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "display_name": ""}),
            "display_name",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "display_name": "   "}),
            "display_name",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "display_name": "n".repeat(201)}),
            "display_name",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "is_admin": true}),
            "body",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "token_version": 7}),
            "body",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post(REGISTER, None, body.clone()).await;
        let problem = reply.assert_problem(422, "validation-failed");
        let errors = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors for {body}"));
        assert!(!errors.is_empty(), "{body}");
        if field != "body" {
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field
                        && e["message"].as_str().is_some_and(|m| !m.is_empty())),
                "{body}: expected an error on {field}: {problem}"
            );
        }
    }
    // Every invalid field is reported at once.
    let reply = app
        .post(
            REGISTER,
            None,
            json!({"email": "nope", "password": "short", "display_name": ""}),
        )
        .await;
    let problem = reply.assert_problem(422, "validation-failed");
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["display_name", "email", "password"]);

    // Not JSON at all: 400 / 415, still problem+json.
    let malformed = app
        .send_with(
            Method::POST,
            REGISTER,
            None,
            None,
            &[("content-type", "application/json")],
        )
        .await;
    malformed.assert_problem(400, "bad-request");
    let reply = app
        .client
        .post(app.url(REGISTER))
        .header("content-type", "text/plain")
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 415);

    // None of these created an account.
    let db = app.db().await;
    assert!(users::Entity::find().all(&db).await.unwrap().is_empty());
}

async fn password_length_is_12_to_256_characters_never_truncated(app: TestApp) {
    let register = |password: String| {
        let app = &app;
        async move {
            let email = unique_email("len");
            let reply = app
                .post(
                    REGISTER,
                    None,
                    json!({"email": email, "password": password}),
                )
                .await;
            (email, reply)
        }
    };

    // 11 characters: too short, also when they are 22 bytes.
    for short in [strong_password(11, 1), "ßñøæ€ŧ¶ŋđħĸ".to_owned()] {
        assert_eq!(short.chars().count(), 11);
        let (_, reply) = register(short).await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "password");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("12"),
            "{problem}"
        );
    }

    // 12 characters: accepted.
    let twelve = strong_password(12, 2);
    let (email, reply) = register(twelve.clone()).await;
    reply.assert_status(201);
    assert_no_secrets(&reply, &twelve);
    login(&app, &email, &twelve).await.assert_status(200);

    // 256 characters: accepted, and every character counts.
    let long = strong_password(256, 3);
    let (email, reply) = register(long.clone()).await;
    reply.assert_status(201);
    assert_no_secrets(&reply, &long);
    login(&app, &email, &long).await.assert_status(200);
    let truncated: String = long.chars().take(255).collect();
    login(&app, &email, &truncated)
        .await
        .assert_problem(401, "invalid-credentials");
    let mut extended = long.clone();
    extended.push('x');
    login(&app, &email, &extended)
        .await
        .assert_problem(401, "invalid-credentials");
    let mut last_changed: String = long.chars().take(255).collect();
    last_changed.push(if long.ends_with('A') { 'B' } else { 'A' });
    login(&app, &email, &last_changed)
        .await
        .assert_problem(401, "invalid-credentials");

    // 257 characters: too long.
    let (_, reply) = register(strong_password(257, 4)).await;
    let problem = reply.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "password");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("256"),
        "{problem}"
    );

    // Never trimmed or case-folded.
    let padded = format!("  {}  ", strong_password(14, 5));
    let (email, reply) = register(padded.clone()).await;
    reply.assert_status(201);
    login(&app, &email, padded.trim())
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &email, &padded.to_uppercase())
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &email, &padded).await.assert_status(200);
}

async fn common_passwords_are_rejected_with_a_reason(app: TestApp) {
    for common in [
        "password1234",
        "passwordpassword",
        "qwertyuiopasdf",
        "123456789012",
        "iloveyou1234",
    ] {
        let reply = app
            .post(
                REGISTER,
                None,
                json!({"email": unique_email("common"), "password": common}),
            )
            .await;
        let problem = reply.assert_problem(422, "validation-failed");
        let error = &problem["errors"][0];
        assert_eq!(error["field"], "password", "{common}: {problem}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("common") || message.contains("guess"),
            "{common}: {message}"
        );
        assert_no_secrets(&reply, common);
    }
}

// ---------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------

async fn login_returns_a_new_token_pair(app: TestApp) {
    let user = app.register("login").await;
    let reply = login(&app, &user.email, &user.password).await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &user.password);
    let body = reply.json();
    assert_token_pair(&body);
    assert_eq!(body["user"]["id"], user.id.to_string());
    assert_eq!(body["user"]["email"], user.email);
    let (access, refresh_token) = tokens_of(&reply);
    assert_ne!(access, user.access_token);
    assert_ne!(refresh_token, user.refresh_token);
    // A new login is a new session.
    assert_ne!(
        claims_of(&access)["sid"],
        claims_of(&user.access_token)["sid"]
    );
    assert_eq!(me_status(&app, &access).await, 200);
    assert_eq!(me_status(&app, &user.access_token).await, 200);
}

async fn login_email_is_case_and_space_insensitive(app: TestApp) {
    let email = format!("Grace.Hopper-{}@Example.org", Uuid::now_v7().simple());
    app.post(
        REGISTER,
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .assert_status(201);
    for variant in [
        email.clone(),
        email.to_lowercase(),
        email.to_uppercase(),
        format!(" {email}\t"),
    ] {
        let reply = login(&app, &variant, PASSWORD).await;
        reply.assert_status(200);
        assert_eq!(reply.json()["user"]["email"], email.to_lowercase());
    }
}

async fn login_failures_are_indistinguishable(app: TestApp) {
    let user = app.register("victim").await;
    let wrong_password = login(&app, &user.email, &strong_password(16, 11)).await;
    let unknown_email = login(&app, &unique_email("nobody"), &strong_password(16, 11)).await;
    let malformed_email = login(&app, "not an email", &strong_password(16, 11)).await;
    let empty_password = login(&app, &user.email, "").await;
    for reply in [
        &wrong_password,
        &unknown_email,
        &malformed_email,
        &empty_password,
    ] {
        let problem = reply.assert_problem(401, "invalid-credentials");
        assert_eq!(problem["title"], "Invalid credentials");
        assert_no_secrets(reply, &user.password);
    }
    assert_eq!(
        wrong_password.text, unknown_email.text,
        "the bodies tell the cases apart"
    );
    assert_eq!(wrong_password.text, malformed_email.text);
    assert_eq!(wrong_password.text, empty_password.text);
    let header_names = |reply: &Reply| {
        let mut names: Vec<String> = reply
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k != "date")
            .collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&wrong_password), header_names(&unknown_email));
    for (name, value) in wrong_password.headers.iter() {
        if name != "date" {
            assert_eq!(
                unknown_email.headers.get(name),
                Some(value),
                "header {name} differs"
            );
        }
    }
    // A wrong-case password is a wrong password.
    login(&app, &user.email, &user.password.to_uppercase())
        .await
        .assert_problem(401, "invalid-credentials");
    // The shape of the request is still checked.
    app.post(LOGIN, None, json!({"email": user.email}))
        .await
        .assert_problem(422, "validation-failed");
    app.post(
        LOGIN,
        None,
        json!({"email": user.email, "password": user.password, "remember": true}),
    )
    .await
    .assert_problem(422, "validation-failed");
}

async fn concurrent_logins_all_succeed(app: TestApp) {
    let user = app.register("crowd").await;
    // Fewer than the per-account limit (10) at once: attempts in flight count against it.
    let replies =
        futures_util::future::join_all((0..8).map(|_| login(&app, &user.email, &user.password)))
            .await;
    let mut sessions = Vec::new();
    for reply in &replies {
        reply.assert_status(200);
        let (access, _) = tokens_of(reply);
        sessions.push(claims_of(&access)["sid"].clone());
        assert_eq!(me_status(&app, &access).await, 200);
    }
    sessions.sort_by_key(|s| s.to_string());
    sessions.dedup();
    assert_eq!(
        sessions.len(),
        replies.len(),
        "each login is its own session"
    );
}

// ---------------------------------------------------------------------------------------
// Refresh
// ---------------------------------------------------------------------------------------

async fn refresh_rotates_the_token_pair(app: TestApp) {
    let user = app.register("rotate").await;
    let first = refresh(&app, &user.refresh_token).await;
    first.assert_status(200);
    assert_no_secrets(&first, &user.password);
    let body = first.json();
    assert_token_pair(&body);
    assert_eq!(body["user"]["id"], user.id.to_string());
    let (access2, refresh2) = tokens_of(&first);
    assert_ne!(refresh2, user.refresh_token);
    assert_ne!(access2, user.access_token);
    // Same login: the session carries over.
    assert_eq!(
        claims_of(&access2)["sid"],
        claims_of(&user.access_token)["sid"]
    );
    assert_eq!(me_status(&app, &access2).await, 200);

    // The new refresh token rotates again, and again.
    let second = refresh(&app, &refresh2).await;
    second.assert_status(200);
    let (access3, refresh3) = tokens_of(&second);
    assert_ne!(refresh3, refresh2);
    assert_eq!(me_status(&app, &access3).await, 200);
    let third = refresh(&app, &refresh3).await;
    third.assert_status(200);
    let (access4, _) = tokens_of(&third);
    assert_eq!(me_status(&app, &access4).await, 200);
}

async fn refresh_token_reuse_revokes_the_family(app: TestApp) {
    let user = app.register("reuse").await;
    let other_login = second_login(&app, &user).await;

    let rotated = refresh(&app, &user.refresh_token).await;
    rotated.assert_status(200);
    let (access2, refresh2) = tokens_of(&rotated);
    assert_eq!(me_status(&app, &access2).await, 200);

    // The spent token again: 401, and the whole login ends.
    let replay = refresh(&app, &user.refresh_token).await;
    assert_unauthorized(&replay);
    assert_unauthorized(&refresh(&app, &refresh2).await);
    assert_unauthorized(&app.get(ME, Some(&access2)).await);
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
    // Replaying once more changes nothing.
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);

    // The user's other login is untouched.
    assert_eq!(me_status(&app, &other_login.access_token).await, 200);
    let reply = refresh(&app, &other_login.refresh_token).await;
    reply.assert_status(200);
    let (access, _) = tokens_of(&reply);
    assert_eq!(me_status(&app, &access).await, 200);
}

async fn concurrent_refreshes_with_one_token_let_at_most_one_through(app: TestApp) {
    let user = app.register("race").await;
    let replies =
        futures_util::future::join_all((0..6).map(|_| refresh(&app, &user.refresh_token))).await;
    let mut ok = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            200 => ok += 1,
            401 => assert_unauthorized(reply),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert!(ok <= 1, "{ok} refreshes with the same token succeeded");
    // Whoever lost the race presented a spent token: the family is revoked.
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
}

async fn refresh_rejects_unknown_and_malformed_tokens(app: TestApp) {
    let user = app.register("unknown").await;
    for token in [
        "".to_owned(),
        "not-a-token".to_owned(),
        URL_SAFE_NO_PAD.encode([0u8; 32]),
        user.access_token.clone(),
        format!("{}x", user.refresh_token),
    ] {
        assert_unauthorized(&refresh(&app, &token).await);
    }
    app.post(REFRESH, None, json!({}))
        .await
        .assert_problem(422, "validation-failed");
    app.post(REFRESH, None, json!({"refresh_token": 12}))
        .await
        .assert_problem(422, "validation-failed");
    // None of that touched the real login.
    refresh(&app, &user.refresh_token).await.assert_status(200);
}

async fn expired_refresh_tokens_are_rejected(app: TestApp) {
    let user = app.register("stale").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);
    // A fresh login gets a fresh refresh token, good until it too expires.
    let again = second_login(&app, &user).await;
    refresh(&app, &again.refresh_token).await.assert_status(200);
}

// ---------------------------------------------------------------------------------------
// Logout
// ---------------------------------------------------------------------------------------

async fn logout_ends_that_login_only(app: TestApp) {
    let user = app.register("logout").await;
    let other = second_login(&app, &user).await;

    let reply = app
        .post(LOGOUT, None, json!({"refresh_token": user.refresh_token}))
        .await;
    reply.assert_status(204);
    assert!(reply.text.is_empty());

    // Both tokens of that login stop working at once.
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);

    // The other login goes on.
    assert_eq!(me_status(&app, &other.access_token).await, 200);
    let reply = refresh(&app, &other.refresh_token).await;
    reply.assert_status(200);
    let (access, _) = tokens_of(&reply);
    assert_eq!(me_status(&app, &access).await, 200);

    // Logging in again works.
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);

    // Unknown tokens are refused.
    assert_unauthorized(
        &app.post(LOGOUT, None, json!({"refresh_token": "nope"}))
            .await,
    );
    app.post(LOGOUT, None, json!({}))
        .await
        .assert_problem(422, "validation-failed");
}

async fn logout_with_a_spent_refresh_token_ends_the_login(app: TestApp) {
    let user = app.register("spent").await;
    let rotated = refresh(&app, &user.refresh_token).await;
    rotated.assert_status(200);
    let (access2, refresh2) = tokens_of(&rotated);
    app.post(LOGOUT, None, json!({"refresh_token": user.refresh_token}))
        .await
        .assert_status(204);
    assert_unauthorized(&app.get(ME, Some(&access2)).await);
    assert_unauthorized(&refresh(&app, &refresh2).await);
}

// ---------------------------------------------------------------------------------------
// Bearer tokens
// ---------------------------------------------------------------------------------------

async fn requests_without_a_usable_authorization_header_are_401(app: TestApp) {
    let user = app.register("header").await;
    assert_unauthorized(&app.get(ME, None).await);
    for value in [
        format!(
            "Basic {}",
            URL_SAFE_NO_PAD.encode(format!("{}:{}", user.email, user.password))
        ),
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        user.access_token.clone(),
        format!("Token {}", user.access_token),
        "Bearer not.a.jwt".to_owned(),
        "Bearer garbage".to_owned(),
    ] {
        let reply = app
            .send_with(
                Method::GET,
                ME,
                None,
                None,
                &[("authorization", value.as_str())],
            )
            .await;
        assert_unauthorized(&reply);
    }
    // The scheme is case-insensitive.
    let reply = app
        .send_with(
            Method::GET,
            ME,
            None,
            None,
            &[("authorization", &format!("bearer {}", user.access_token))],
        )
        .await;
    reply.assert_status(200);
}

async fn forged_access_tokens_are_rejected(app: TestApp) {
    let user = app.register("forged").await;
    let victim = app.register("victim").await;
    let genuine = claims_of(&user.access_token);
    let signed = sign(&genuine);
    let (head, rest) = signed.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    // Flip one character of the signature.
    let mut bad_signature: Vec<char> = signature.chars().collect();
    bad_signature[0] = if bad_signature[0] == 'A' { 'B' } else { 'A' };
    let bad_signature: String = bad_signature.into_iter().collect();
    // Swap the payload for another user's claims, keeping the signature.
    let other_payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&with(&genuine, json!({"sub": victim.id.to_string()}))).unwrap(),
    );
    let longer_life = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&with(&genuine, json!({"exp": now() + 365 * 24 * 3600}))).unwrap(),
    );

    let cases = vec![
        (
            "tampered signature",
            format!("{head}.{payload}.{bad_signature}"),
        ),
        ("signature removed", format!("{head}.{payload}.")),
        (
            "payload swapped, signature kept",
            format!("{head}.{other_payload}.{signature}"),
        ),
        (
            "lifetime extended, signature kept",
            format!("{head}.{longer_life}.{signature}"),
        ),
        ("alg none, no signature", unsigned(&genuine, "")),
        ("alg none, genuine signature", unsigned(&genuine, signature)),
        (
            "wrong key",
            sign_with(
                Algorithm::HS256,
                b"some-other-secret-that-is-long-enough!!",
                &genuine,
            ),
        ),
        ("empty key", sign_with(Algorithm::HS256, b"", &genuine)),
        (
            "HS384 with the right key",
            sign_with(Algorithm::HS384, JWT_SECRET.as_bytes(), &genuine),
        ),
        (
            "HS512 with the right key",
            sign_with(Algorithm::HS512, JWT_SECRET.as_bytes(), &genuine),
        ),
        ("two segments", format!("{head}.{payload}")),
        ("four segments", format!("{signed}.{signature}")),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
    // And the real tokens still work.
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    assert_eq!(me_status(&app, &victim.access_token).await, 200);
}

async fn expired_and_not_yet_valid_access_tokens_are_rejected(app: TestApp) {
    let user = app.register("clock").await;
    let genuine = claims_of(&user.access_token);
    let t = now();
    let cases = vec![
        (
            "expired a minute ago",
            sign(&with(
                &genuine,
                json!({"iat": t - 960, "nbf": t - 960, "exp": t - 60}),
            )),
        ),
        (
            "expired a day ago",
            sign(&with(
                &genuine,
                json!({"iat": t - 90_000, "nbf": t - 90_000, "exp": t - 86_400}),
            )),
        ),
        (
            "not valid for another minute",
            sign(&with(&genuine, json!({"nbf": t + 60}))),
        ),
        (
            "not valid for a day",
            sign(&with(
                &genuine,
                json!({"iat": t + 86_400, "nbf": t + 86_400, "exp": t + 87_000}),
            )),
        ),
        (
            "exp as a string",
            sign(&with(&genuine, json!({"exp": (t + 600).to_string()}))),
        ),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

async fn access_tokens_missing_a_claim_are_rejected(app: TestApp) {
    let user = app.register("claims").await;
    let genuine = claims_of(&user.access_token);
    let cases = [
        "sub", "exp", "iat", "nbf", "iss", "aud", "jti", "typ", "ver", "sid",
    ]
    .into_iter()
    .map(|claim| (claim, sign(&without(&genuine, claim))))
    .collect();
    assert_all_rejected(&app, &genuine, cases).await;
    let nulls = ["sub", "exp", "nbf", "aud", "ver", "sid", "typ"]
        .into_iter()
        .map(|claim| (claim, sign(&with(&genuine, json!({claim: null})))))
        .collect();
    assert_all_rejected(&app, &genuine, nulls).await;
}

async fn access_tokens_for_another_audience_or_issuer_are_rejected(app: TestApp) {
    let user = app.register("aud").await;
    let genuine = claims_of(&user.access_token);
    let cases = vec![
        (
            "wrong aud",
            sign(&with(&genuine, json!({"aud": "some-other-api"}))),
        ),
        ("aud empty", sign(&with(&genuine, json!({"aud": ""})))),
        (
            "aud list without ours",
            sign(&with(&genuine, json!({"aud": ["a", "b"]}))),
        ),
        (
            "wrong iss",
            sign(&with(&genuine, json!({"iss": "https://evil.example"}))),
        ),
        (
            "iss differs in case",
            sign(&with(&genuine, json!({"iss": "Lorebase"}))),
        ),
        ("iss empty", sign(&with(&genuine, json!({"iss": ""})))),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

async fn non_access_tokens_are_rejected_as_bearer(app: TestApp) {
    let user = app.register("typ").await;
    let genuine = claims_of(&user.access_token);
    // The refresh token itself.
    assert_unauthorized(&app.get(ME, Some(&user.refresh_token)).await);
    let cases = vec![
        (
            "typ refresh",
            sign(&with(&genuine, json!({"typ": "refresh"}))),
        ),
        ("typ id", sign(&with(&genuine, json!({"typ": "id"})))),
        (
            "typ Access",
            sign(&with(&genuine, json!({"typ": "Access"}))),
        ),
        ("typ empty", sign(&with(&genuine, json!({"typ": ""})))),
        (
            "refresh token as typ",
            sign(&with(&genuine, json!({"typ": user.refresh_token}))),
        ),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

async fn access_tokens_must_match_a_live_session_and_token_version(app: TestApp) {
    let user = app.register("session").await;
    let victim = app.register("victim").await;
    let genuine = claims_of(&user.access_token);
    let victim_claims = claims_of(&victim.access_token);
    let ver = genuine["ver"].as_i64().unwrap();
    let cases = vec![
        (
            "next token version",
            sign(&with(&genuine, json!({"ver": ver + 1}))),
        ),
        (
            "previous token version",
            sign(&with(&genuine, json!({"ver": ver - 1}))),
        ),
        (
            "unknown session",
            sign(&with(&genuine, json!({"sid": Uuid::now_v7().to_string()}))),
        ),
        (
            "another user's session",
            sign(&with(&genuine, json!({"sid": victim_claims["sid"]}))),
        ),
        (
            "another user's id on this session",
            sign(&with(&genuine, json!({"sub": victim.id.to_string()}))),
        ),
        (
            "unknown user",
            sign(&with(&genuine, json!({"sub": Uuid::now_v7().to_string()}))),
        ),
        (
            "sub not a uuid",
            sign(&with(&genuine, json!({"sub": "admin"}))),
        ),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

/// The public world reads check the session inside their world query, not in a query of
/// their own: every way a token can go stale is still a 401 there, on a public world
/// (where no token at all would be fine), on a private one, and on a world that does not
/// exist (401, not 404: a bad token learns nothing about worlds).
async fn world_reads_refuse_stale_tokens_in_the_same_query(app: TestApp) {
    use crate::elements::{element_id, element_path, elements_path};
    let owner = app.register("reads").await;
    let victim = app.register("reads-victim").await;
    let token = owner.access_token.as_str();
    let public = app
        .post(
            "/api/v1/worlds",
            Some(token),
            json!({"name": "Open", "visibility": "public"}),
        )
        .await
        .json()["id"]
        .as_str()
        .expect("world id")
        .to_owned();
    let private = crate::elements::new_world(&app, token, "Closed").await;
    let hero = element_id(&app, token, &public, "character", "Hero").await;
    let place = element_id(&app, token, &public, "place", "Keep").await;
    let secret = element_id(&app, token, &private, "item", "Key").await;
    let relation = app
        .post(
            &format!("/api/v1/worlds/{public}/relations"),
            Some(token),
            json!({"source_id": hero, "target_id": place, "kind": "lives_in"}),
        )
        .await
        .json()["id"]
        .as_str()
        .expect("relation id")
        .to_owned();
    let missing = Uuid::now_v7().to_string();
    let readable = [
        format!("/api/v1/worlds/{public}"),
        element_path(&public, &hero),
        elements_path(&public),
        format!("{}?where=%7B%22a%22%3A1%7D&limit=5", elements_path(&public)),
        format!("/api/v1/worlds/{public}/relations/{relation}"),
        format!("{}/relations", element_path(&public, &hero)),
        format!("/api/v1/worlds/{private}"),
        element_path(&private, &secret),
        elements_path(&private),
    ];
    let absent = [
        format!("/api/v1/worlds/{missing}"),
        element_path(&missing, &hero),
        element_path(&public, &missing),
        elements_path(&missing),
        format!("/api/v1/worlds/{public}/relations/{missing}"),
    ];
    // The genuine token reads everything and gets 404 for what is not there.
    for path in &readable {
        app.get(path, Some(token)).await.assert_status(200);
    }
    for path in &absent {
        app.get(path, Some(token))
            .await
            .assert_problem(404, "not-found");
    }

    let genuine = claims_of(token);
    let victim_claims = claims_of(&victim.access_token);
    let ver = genuine["ver"].as_i64().expect("ver");
    let stale = [
        (
            "next token version",
            with(&genuine, json!({"ver": ver + 1})),
        ),
        (
            "unknown session",
            with(&genuine, json!({"sid": Uuid::now_v7().to_string()})),
        ),
        (
            "another user's session",
            with(&genuine, json!({"sid": victim_claims["sid"]})),
        ),
        (
            "another user's id",
            with(&genuine, json!({"sub": victim.id.to_string()})),
        ),
    ];
    let mut cases: Vec<(&str, String)> = stale.iter().map(|(n, c)| (*n, sign(c))).collect();
    // A second login of the owner, logged out: its own token must stop at once.
    let ended = second_login(&app, &owner).await;
    app.post(LOGOUT, None, json!({"refresh_token": ended.refresh_token}))
        .await
        .assert_status(204);
    cases.push(("logged out", ended.access_token.clone()));
    for (name, bad) in &cases {
        for path in readable.iter().chain(absent.iter()) {
            let reply = app.get(path, Some(bad)).await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{name}: GET {path} on {:?}: {}",
                app.backend,
                reply.text
            );
            assert_unauthorized(&reply);
        }
    }
    // The owner's own token was untouched by all of that.
    app.get(&element_path(&private, &secret), Some(token))
        .await
        .assert_status(200);
}

// ---------------------------------------------------------------------------------------
// Abuse limits
// ---------------------------------------------------------------------------------------

/// A 429 problem with a sensible `Retry-After`.
#[track_caller]
fn assert_rate_limited(reply: &Reply, window_secs: u64) -> u64 {
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

async fn failed_logins_are_limited_per_account(app: TestApp) {
    let user = app.register("limited").await;
    let bystander = app.register("bystander").await;
    let wrong = strong_password(16, 21);
    for _ in 0..3 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    assert_rate_limited(&login(&app, &user.email, &wrong).await, 900);
    // Locked for everyone, even with the right password and another spelling of the email.
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
    assert_rate_limited(
        &login(&app, &user.email.to_uppercase(), &user.password).await,
        900,
    );
    // Existing logins and other accounts are unaffected.
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    login(&app, &bystander.email, &bystander.password)
        .await
        .assert_status(200);

    // An unknown email is limited the same way, so the limit reveals nothing.
    let ghost = unique_email("ghost");
    for _ in 0..3 {
        login(&app, &ghost, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    let known = login(&app, &user.email, &wrong).await;
    let unknown = login(&app, &ghost, &wrong).await;
    assert_rate_limited(&unknown, 900);
    assert_eq!(known.status, unknown.status);
}

async fn concurrent_guesses_cannot_exceed_the_account_limit(app: TestApp) {
    let user = app.register("parallel").await;
    let guesses: Vec<String> = (0..16).map(|i| strong_password(16, 300 + i)).collect();
    let replies =
        futures_util::future::join_all(guesses.iter().map(|guess| login(&app, &user.email, guess)))
            .await;
    let mut attempted = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            401 => attempted += 1,
            429 => {
                assert_rate_limited(reply, 900);
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert!(
        attempted <= 3,
        "{attempted} passwords were tried against a limit of 3"
    );
    // Whatever the burst left over can be used up, and then the account is closed.
    let mut guess = 0;
    while attempted < 3 {
        login(&app, &user.email, &strong_password(16, 400 + guess))
            .await
            .assert_problem(401, "invalid-credentials");
        attempted += 1;
        guess += 1;
    }
    assert_rate_limited(
        &login(&app, &user.email, &strong_password(16, 500)).await,
        900,
    );
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
}

async fn concurrent_registrations_cannot_exceed_the_ip_limit(app: TestApp) {
    let bodies: Vec<Value> = (0..10)
        .map(|i| json!({"email": unique_email(&format!("rush{i}")), "password": PASSWORD}))
        .collect();
    let replies = futures_util::future::join_all(
        bodies
            .into_iter()
            .map(|body| app.post(REGISTER, None, body)),
    )
    .await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    for reply in replies.iter().filter(|r| r.status.as_u16() != 201) {
        assert_rate_limited(reply, 3600);
    }
    assert!(created <= 2, "{created} registrations against a limit of 2");
    let db = app.db().await;
    assert_eq!(users::Entity::find().all(&db).await.unwrap().len(), created);
}

async fn successful_login_clears_earlier_failures(app: TestApp) {
    let user = app.register("clears").await;
    let wrong = strong_password(16, 22);
    for _ in 0..2 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    for _ in 0..2 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
}

async fn account_limit_window_slides(app: TestApp) {
    let user = app.register("window").await;
    let wrong = strong_password(16, 23);
    for _ in 0..2 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    let retry_after = assert_rate_limited(&login(&app, &user.email, &user.password).await, 2);
    // Retry-After is a promise: waiting exactly that long (plus a little) must do.
    tokio::time::sleep(std::time::Duration::from_millis(retry_after * 1000 + 150)).await;
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
}

async fn failed_logins_are_limited_per_ip(app: TestApp) {
    let user = app.register("ip").await;
    let wrong = strong_password(16, 24);
    for _ in 0..3 {
        login(&app, &unique_email("spray"), &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    assert_rate_limited(&login(&app, &unique_email("spray"), &wrong).await, 900);
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
}

async fn registrations_are_limited_per_ip(app: TestApp) {
    app.register("one").await;
    app.register("two").await;
    let reply = app
        .post(
            REGISTER,
            None,
            json!({"email": unique_email("three"), "password": PASSWORD}),
        )
        .await;
    assert_rate_limited(&reply, 3600);
    let db = app.db().await;
    assert_eq!(users::Entity::find().all(&db).await.unwrap().len(), 2);
}

async fn wrong_current_passwords_count_against_the_account_limit(app: TestApp) {
    let user = app.register("confirm").await;
    let wrong = strong_password(16, 25);
    for _ in 0..3 {
        app.put(
            "/api/v1/users/me/password",
            Some(&user.access_token),
            json!({"current_password": wrong, "new_password": strong_password(18, 26)}),
        )
        .await
        .assert_problem(401, "invalid-credentials");
    }
    let reply = app
        .put(
            "/api/v1/users/me/password",
            Some(&user.access_token),
            json!({"current_password": user.password, "new_password": strong_password(18, 26)}),
        )
        .await;
    assert_rate_limited(&reply, 900);
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
    let reply = app
        .send(
            Method::DELETE,
            ME,
            Some(&user.access_token),
            Some(&json!({"password": user.password})),
        )
        .await;
    assert_rate_limited(&reply, 900);
}

// ---------------------------------------------------------------------------------------
// Several server processes sharing one database
// ---------------------------------------------------------------------------------------

/// Starts another server on `app`'s database; returns its base URL.
async fn second_server(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("LOREBASE_WORKERS", "1"),
        ("REGISTRATIONS_PER_IP", "1000"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert("LOREBASE_AUTO_MIGRATE".into(), "false".into());
    let config = Config::from_map(&vars).expect("configuration");
    let server = Application::build(config)
        .await
        .expect("second server starts");
    let address = format!("http://127.0.0.1:{}", server.port());
    tokio::spawn(server.run_until_stopped());
    address
}

async fn call(
    app: &TestApp,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{base}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

async fn limits_and_revocations_hold_across_servers(app: TestApp) {
    let other = second_server(&app, &[("LOGIN_FAILURES_PER_ACCOUNT", "3")]).await;
    let user = app.register("cluster").await;
    let wrong = strong_password(16, 31);
    let credentials = |password: &str| json!({"email": user.email, "password": password});

    // Tokens from one server work on the other.
    call(
        &app,
        &other,
        Method::GET,
        ME,
        Some(&user.access_token),
        json!({}),
    )
    .await
    .assert_status(200);

    // Failures on both servers add up.
    login(&app, &user.email, &wrong)
        .await
        .assert_problem(401, "invalid-credentials");
    call(&app, &other, Method::POST, LOGIN, None, credentials(&wrong))
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &user.email, &wrong)
        .await
        .assert_problem(401, "invalid-credentials");
    assert_rate_limited(
        &call(
            &app,
            &other,
            Method::POST,
            LOGIN,
            None,
            credentials(&user.password),
        )
        .await,
        900,
    );
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);

    // Logout on one server ends the login on the other at once.
    let second = app.register("cluster2").await;
    call(
        &app,
        &other,
        Method::POST,
        LOGOUT,
        None,
        json!({"refresh_token": second.refresh_token}),
    )
    .await
    .assert_status(204);
    assert_unauthorized(&app.get(ME, Some(&second.access_token)).await);

    // A refresh-token replay on one server revokes the family everywhere.
    let third = app.register("cluster3").await;
    let rotated = refresh(&app, &third.refresh_token).await;
    rotated.assert_status(200);
    let (access2, _) = tokens_of(&rotated);
    assert_unauthorized(
        &call(
            &app,
            &other,
            Method::POST,
            REFRESH,
            None,
            json!({"refresh_token": third.refresh_token}),
        )
        .await,
    );
    assert_unauthorized(&app.get(ME, Some(&access2)).await);

    // A password change on one server ends every token on the other.
    let fourth = app.register("cluster4").await;
    call(
        &app,
        &other,
        Method::PUT,
        "/api/v1/users/me/password",
        Some(&fourth.access_token),
        json!({"current_password": fourth.password, "new_password": strong_password(20, 32)}),
    )
    .await
    .assert_status(204);
    assert_unauthorized(&app.get(ME, Some(&fourth.access_token)).await);
    assert_unauthorized(&refresh(&app, &fourth.refresh_token).await);
}

async fn hashes_with_old_parameters_are_upgraded_at_login(app: TestApp) {
    let user = app.register("rehash").await;
    let db = app.db().await;
    let stored = async |db: &sea_orm::DatabaseConnection| {
        users::Entity::find_by_id(user.id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .password_hash
    };
    let before = stored(&db).await;
    assert!(
        before.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"),
        "{before}"
    );
    let me_before = app.get(ME, Some(&user.access_token)).await.json();

    // A server with the default (OWASP) parameters re-hashes on the next good login.
    let upgraded = second_server(&app, &[]).await;
    call(
        &app,
        &upgraded,
        Method::POST,
        LOGIN,
        None,
        json!({"email": user.email, "password": strong_password(16, 41)}),
    )
    .await
    .assert_problem(401, "invalid-credentials");
    assert_eq!(stored(&db).await, before, "a failed login must not re-hash");
    let reply = call(
        &app,
        &upgraded,
        Method::POST,
        LOGIN,
        None,
        json!({"email": user.email, "password": user.password}),
    )
    .await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &user.password);
    let after = stored(&db).await;
    assert!(
        after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{after}"
    );
    // Re-hashing is not a change the user made.
    assert_eq!(
        app.get(ME, Some(&user.access_token)).await.json(),
        me_before
    );
    // Still the same password, on both servers.
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    call(
        &app,
        &upgraded,
        Method::POST,
        LOGIN,
        None,
        json!({"email": user.email, "password": user.password}),
    )
    .await
    .assert_status(200);
}

on_both_backends!(
    register_creates_the_account_and_logs_it_in,
    register_without_display_name_leaves_it_null,
    register_with_a_taken_email_is_409,
    register_rejects_invalid_input_with_422,
    password_length_is_12_to_256_characters_never_truncated,
    common_passwords_are_rejected_with_a_reason,
    login_returns_a_new_token_pair,
    login_email_is_case_and_space_insensitive,
    login_failures_are_indistinguishable,
    concurrent_logins_all_succeed,
    refresh_rotates_the_token_pair,
    refresh_token_reuse_revokes_the_family,
    concurrent_refreshes_with_one_token_let_at_most_one_through,
    refresh_rejects_unknown_and_malformed_tokens,
    logout_ends_that_login_only,
    logout_with_a_spent_refresh_token_ends_the_login,
    requests_without_a_usable_authorization_header_are_401,
    forged_access_tokens_are_rejected,
    expired_and_not_yet_valid_access_tokens_are_rejected,
    access_tokens_missing_a_claim_are_rejected,
    access_tokens_for_another_audience_or_issuer_are_rejected,
    non_access_tokens_are_rejected_as_bearer,
    access_tokens_must_match_a_live_session_and_token_version,
    world_reads_refuse_stale_tokens_in_the_same_query,
);

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_ACCOUNT", "3")];
    failed_logins_are_limited_per_account,
    concurrent_guesses_cannot_exceed_the_account_limit,
    successful_login_clears_earlier_failures,
    wrong_current_passwords_count_against_the_account_limit,
    limits_and_revocations_hold_across_servers,
);

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_ACCOUNT", "2"), ("LOGIN_FAILURES_WINDOW_SECS", "2")];
    account_limit_window_slides,
);

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_IP", "3"), ("LOGIN_FAILURES_PER_ACCOUNT", "100")];
    failed_logins_are_limited_per_ip,
);

crate::on_both_backends_with!(
    &[("REGISTRATIONS_PER_IP", "2")];
    registrations_are_limited_per_ip,
    concurrent_registrations_cannot_exceed_the_ip_limit,
);

crate::on_both_backends_with!(&[("REFRESH_TOKEN_TTL_SECS", "1")]; expired_refresh_tokens_are_rejected);

/// However often it refreshes, a login ends `SESSION_MAX_LIFETIME_SECS` after it began.
async fn a_login_has_an_absolute_lifetime(app: TestApp) {
    let user = app.register("forever").await;
    let started = std::time::Instant::now();
    let mut refresh_token = user.refresh_token.clone();
    let mut refreshed = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let reply = refresh(&app, &refresh_token).await;
        if reply.status == 200 {
            refreshed += 1;
            refresh_token = reply.json()["refresh_token"]
                .as_str()
                .expect("token")
                .to_owned();
            assert!(
                started.elapsed().as_secs_f64() < 3.5,
                "refresh succeeded past the lifetime"
            );
        } else {
            reply.assert_problem(401, "unauthorized");
            // Ended by the absolute lifetime (3 s), not by the 2 s sliding TTL.
            assert!(started.elapsed().as_secs_f64() >= 2.9, "ended too early");
            break;
        }
        assert!(started.elapsed().as_secs() < 10, "the login never ended");
    }
    assert!(refreshed >= 3, "only {refreshed} refreshes before the end");
}

crate::on_both_backends_with!(
    &[("REFRESH_TOKEN_TTL_SECS", "2"), ("SESSION_MAX_LIFETIME_SECS", "3")];
    a_login_has_an_absolute_lifetime,
);

/// Any email, however long or odd, is answered like a wrong password.
async fn absurd_emails_at_login_are_invalid_credentials(app: TestApp) {
    for email in [
        "x".repeat(1000) + "@example.com",
        "a".repeat(5000),
        "not an email".into(),
    ] {
        login(&app, &email, "whatever password 123")
            .await
            .assert_problem(401, "invalid-credentials");
    }
}

on_both_backends!(absurd_emails_at_login_are_invalid_credentials);

crate::on_both_backends_with!(
    &[("ARGON2_MEMORY_KIB", "8192"), ("ARGON2_ITERATIONS", "1")];
    hashes_with_old_parameters_are_upgraded_at_login,
);
