//! Spawns the real application on a random port against a fresh database, and talks to
//! it over HTTP.
use std::collections::HashMap;

use lorebase::config::Config;
use lorebase::startup::Application;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

pub const JWT_SECRET: &str = "integration-test-secret-that-is-long-enough";
pub const PASSWORD: &str = "tangerine-orbit-42";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// The PostgreSQL server tests create their databases on.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A new, empty database: a PostgreSQL database named for this test, or a SQLite file in
/// a temporary directory. Returns its URL and what keeps it alive.
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Postgres => {
            let server = server_url();
            let admin = Database::connect(&server).await.unwrap_or_else(|e| {
                panic!("PostgreSQL at {server} is required for the tests: {e}")
            });
            let name = format!("lorebase_test_{}", Uuid::now_v7().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = server
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&server);
            (format!("{base}/{name}"), None)
        }
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("lorebase.db").display()
            );
            (url, Some(dir))
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub backend: Backend,
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

/// A registered user with a live login.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts the app with extra configuration variables (e.g. tighter rate limits).
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let (database_url, dir) = fresh_database(backend).await;
    spawn_app_on(backend, database_url, dir, extra).await
}

/// Starts another server on an existing database (`dir` keeps a SQLite file alive).
pub async fn spawn_app_on(
    backend: Backend,
    database_url: String,
    dir: Option<tempfile::TempDir>,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.clone()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("LOREBASE_WORKERS".into(), "2".into()),
        ("REGISTRATIONS_PER_IP".into(), "1000".into()),
    ]);
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    let config = Config::from_map(&vars).expect("test configuration");
    let app = Application::build(config)
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        backend,
        database_url,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json error with this status and `type` slug.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(
            body["type"],
            format!("https://lorebase.dev/problems/{slug}"),
            "body: {}",
            self.text
        );
        assert_eq!(body["status"], status);
        body
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional JSON body and Bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.send_with(method, path, token, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let reply = Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("response body"),
        };
        // No answer, of any endpoint in any test, may carry a password hash.
        assert!(
            !reply.text.contains("$argon2"),
            "a response leaks a password hash: {}",
            reply.text
        );
        reply
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(&body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PUT, path, token, Some(&body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None).await
    }

    /// Registers a new user with a unique email.
    pub async fn register(&self, name: &str) -> TestUser {
        let email = format!("{name}-{}@example.com", Uuid::now_v7().simple());
        let reply = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "display_name": name}),
            )
            .await;
        reply.assert_status(201);
        let body = reply.json();
        TestUser {
            id: body["user"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("user id"),
            email,
            password: PASSWORD.to_owned(),
            access_token: body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        }
    }

    /// Brings `user` into a world the way people join: the owner invites their email (in
    /// another case, which must not matter), and they accept.
    pub async fn join(&self, owner: &TestUser, world_id: &str, user: &TestUser, role: &str) {
        let invitation = self
            .post(
                &format!("/api/v1/worlds/{world_id}/invitations"),
                Some(&owner.access_token),
                json!({"email": user.email.to_uppercase(), "role": role}),
            )
            .await;
        invitation.assert_status(201);
        let id = invitation.json()["id"]
            .as_str()
            .expect("invitation id")
            .to_owned();
        self.post(
            &format!("/api/v1/users/me/invitations/{id}/accept"),
            Some(&user.access_token),
            json!({}),
        )
        .await
        .assert_status(200);
    }

    /// Makes a personal access token for `user` with `body` and returns its secret.
    pub async fn personal_token(&self, user: &TestUser, body: Value) -> String {
        let reply = self
            .post("/api/v1/users/me/tokens", Some(&user.access_token), body)
            .await;
        reply.assert_status(201);
        reply.json()["token"]
            .as_str()
            .expect("token secret")
            .to_owned()
    }

    /// Eight concurrent merge patches of `attributes` without If-Match on the resource at
    /// `path` (now at `version`): every one answers 200, none is lost, and each bumps the
    /// version once.
    pub async fn assert_concurrent_merges_all_land(&self, path: &str, token: &str, version: i64) {
        let writers = (0..8).map(|i| {
            let body = json!({"attributes": {format!("w{i}"): i}});
            async move { self.patch(path, Some(token), body).await }
        });
        for reply in futures_util::future::join_all(writers).await {
            reply.assert_status(200);
        }
        let current = self.get(path, Some(token)).await.json();
        assert_eq!(current["version"], version + 8);
        for i in 0..8 {
            assert_eq!(current["attributes"][format!("w{i}")], i, "{current}");
        }
    }

    /// A second server on this app's database, as behind a load balancer.
    pub async fn spawn_beside(&self) -> TestApp {
        let vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), self.database_url.clone()),
            ("JWT_SECRET".into(), JWT_SECRET.into()),
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("LOREBASE_WORKERS".into(), "1".into()),
        ]);
        let config = Config::from_map(&vars).expect("test configuration");
        let app = Application::build(config)
            .await
            .expect("second server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            backend: self.backend,
            database_url: self.database_url.clone(),
            client: reqwest::Client::new(),
            _dir: None,
        }
    }

    /// A direct connection to the app's database, for checks HTTP cannot make.
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("connect to test database")
    }
}

/// Runs each named `async fn(TestApp)` once against PostgreSQL and once against SQLite.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn postgres() {
                super::$test($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
            }
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
            }
        }
    )+};
}

// Shared by the test files: paths, query strings and ids.

/// Percent-encodes a query parameter value (everything but unreserved characters).
pub fn enc(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?k=v&...`, encoded; empty for no parameters.
pub fn query(params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("?{}", pairs.join("&"))
}

pub fn elements_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/elements")
}

pub fn element_path(world: &str, element: &str) -> String {
    format!("/api/v1/worlds/{world}/elements/{element}")
}

pub fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("id").to_owned()
}

pub fn page_url(path: &str, params: &[(&str, &str)], limit: usize, cursor: Option<&str>) -> String {
    let limit = limit.to_string();
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.push(("limit", &limit));
    if let Some(cursor) = cursor {
        all.push(("cursor", cursor));
    }
    format!("{path}{}", query(&all))
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

/// Worlds, elements and lists, as most tests need them.
impl TestApp {
    /// Creates a world owned by the token's user and returns its id.
    pub async fn new_world(&self, token: &str, name: &str) -> String {
        let reply = self
            .post("/api/v1/worlds", Some(token), json!({ "name": name }))
            .await;
        reply.assert_status(201);
        reply.json()["id"].as_str().expect("world id").to_owned()
    }

    /// Creates an element and returns its body (asserting 201).
    pub async fn create_element(&self, token: &str, world: &str, body: Value) -> Value {
        let reply = self.post(&elements_path(world), Some(token), body).await;
        reply.assert_status(201);
        reply.json()
    }

    /// An element `{kind, name}` created, returning its id.
    pub async fn element_id(&self, token: &str, world: &str, kind: &str, name: &str) -> String {
        let body = self
            .create_element(token, world, json!({ "kind": kind, "name": name }))
            .await;
        id_of(&body)
    }

    /// Every item of a list, page by page with `limit`, asserting each page's size.
    pub async fn walk(
        &self,
        token: &str,
        path: &str,
        params: &[(&str, &str)],
        limit: usize,
    ) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000 {
            let reply = self
                .get(
                    &page_url(path, params, limit, cursor.as_deref()),
                    Some(token),
                )
                .await;
            reply.assert_status(200);
            let body = reply.json();
            let page = body["items"].as_array().expect("items").clone();
            assert!(
                page.len() <= limit,
                "page larger than limit: {}",
                reply.text
            );
            let next = body["next_cursor"].as_str().map(str::to_owned);
            if next.is_some() {
                assert_eq!(page.len(), limit, "a page before the last one is full");
            }
            items.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => return items,
            }
        }
        panic!("the list never ended");
    }

    /// A request with a raw body and content type, bypassing the JSON helpers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("request sent");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("response body"),
        }
    }
}
