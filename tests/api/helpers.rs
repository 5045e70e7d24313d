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

    /// Asserts a 201 whose `Location` is `{collection}/{id}`, and returns the body.
    #[track_caller]
    pub fn assert_created(&self, collection: &str) -> Value {
        self.assert_status(201);
        let body = self.json();
        let location = format!("{collection}/{}", id_of(&body));
        assert_eq!(self.header("location"), Some(location.as_str()));
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
            access_token: text_at(&body, "access_token"),
            refresh_token: text_at(&body, "refresh_token"),
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
        let id = id_of(&invitation.json());
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

    /// Eight concurrent merge patches `body(i)` with `If-Match: "1"` on the resource at
    /// `path`: exactly one answers 200, the others 412. Returns the winner's body.
    pub async fn assert_one_of_eight_wins(
        &self,
        path: &str,
        token: &str,
        body: impl Fn(usize) -> Value,
    ) -> Value {
        let writers = (0..8).map(|i| {
            let body = body(i);
            async move {
                self.if_match(Method::PATCH, path, token, Some(&body), "\"1\"")
                    .await
            }
        });
        let replies = futures_util::future::join_all(writers).await;
        let winners: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status.as_u16() == 200)
            .collect();
        assert_eq!(winners.len(), 1, "exactly one writer wins: {replies:#?}");
        for reply in replies.iter().filter(|r| r.status.as_u16() != 200) {
            reply.assert_problem(412, "precondition-failed");
        }
        winners[0].json()
    }

    /// A second server on this app's database, as behind a load balancer.
    pub async fn spawn_beside(&self) -> TestApp {
        self.spawn_beside_with(&[]).await
    }

    /// A second server on this app's database, with extra configuration variables.
    pub async fn spawn_beside_with(&self, extra: &[(&str, &str)]) -> TestApp {
        let mut vars = vec![("LOREBASE_WORKERS", "1")];
        vars.extend_from_slice(extra);
        spawn_app_on(self.backend, self.database_url.clone(), None, &vars).await
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

/// Runs each named `async fn(Backend)` once on each backend, as the tests
/// `<name>::postgres` and `<name>::sqlite`: for tests that start their own servers or
/// databases.
#[macro_export]
macro_rules! with_each_backend {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn postgres() {
                super::$test($crate::helpers::Backend::Postgres).await
            }
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::helpers::Backend::Sqlite).await
            }
        }
    )+};
}

/// Like `with_each_backend!`, with the tests named `$on_postgres` and `$on_sqlite`.
#[macro_export]
macro_rules! backend_tests {
    ($test:ident: $on_postgres:ident, $on_sqlite:ident) => {
        #[tokio::test]
        async fn $on_postgres() {
            $test($crate::helpers::Backend::Postgres).await
        }
        #[tokio::test]
        async fn $on_sqlite() {
            $test($crate::helpers::Backend::Sqlite).await
        }
    };
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

pub fn world_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}")
}

pub fn elements_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/elements")
}

pub fn element_path(world: &str, element: &str) -> String {
    format!("/api/v1/worlds/{world}/elements/{element}")
}

pub fn relations_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/relations")
}

pub fn relation_path(world: &str, relation: &str) -> String {
    format!("/api/v1/worlds/{world}/relations/{relation}")
}

pub fn id_of(body: &Value) -> String {
    text_at(body, "id")
}

/// The string at `key` of a body.
#[track_caller]
pub fn text_at(body: &Value, key: &str) -> String {
    match body[key].as_str() {
        Some(text) => text.to_owned(),
        None => panic!("no string {key} in {body}"),
    }
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

/// A root element row `{kind, name}` with empty attributes and tags, for tests that write
/// to the database directly; override what a test needs with `..element_row(...)`.
pub fn element_row(world: Uuid, kind: &str, name: &str) -> entity::world_elements::ActiveModel {
    use sea_orm::ActiveValue::Set;
    entity::world_elements::ActiveModel {
        world_id: Set(world),
        parent_id: Set(None),
        kind: Set(kind.to_owned()),
        name: Set(name.to_owned()),
        summary: Set(None),
        attributes: Set(json!({})),
        tags: Set(json!([])),
        version: Set(1),
        created_by: Set(None),
        ..Default::default()
    }
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

/// The ids of a list page's items.
pub fn ids_in(page: &Value) -> Vec<String> {
    ids(page["items"].as_array().expect("items"))
}

/// The keys of a JSON object, sorted.
pub fn sorted_keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The `field` of each error of a validation problem, in the problem's order.
pub fn error_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect()
}

/// An RFC 3339 time of a body.
pub fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .expect("RFC 3339 time")
        .with_timezone(&chrono::Utc)
}

/// Worlds, elements and lists, as most tests need them.
impl TestApp {
    /// Creates a world owned by the token's user and returns its body (asserting 201).
    pub async fn create_world(&self, token: &str, body: Value) -> Value {
        let reply = self.post("/api/v1/worlds", Some(token), body).await;
        reply.assert_status(201);
        reply.json()
    }

    /// Creates a world owned by the token's user and returns its id.
    pub async fn new_world(&self, token: &str, name: &str) -> String {
        id_of(&self.create_world(token, json!({ "name": name })).await)
    }

    /// A registered user and a world they own: how most tests begin.
    pub async fn user_with_world(&self, user: &str, world: &str) -> (TestUser, String) {
        let user = self.register(user).await;
        let world = self.new_world(&user.access_token, world).await;
        (user, world)
    }

    /// GETs `path`, asserting 200, and returns the body.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let reply = self.get(path, Some(token)).await;
        reply.assert_status(200);
        reply.json()
    }

    /// The resource at `path` is gone: reading and deleting it are 404.
    pub async fn assert_gone(&self, path: &str, token: &str) {
        for method in [Method::GET, Method::DELETE] {
            self.send(method, path, Some(token), None)
                .await
                .assert_problem(404, "not-found");
        }
    }

    /// Reverts the element at `path` to the fields of `version`.
    pub async fn revert(&self, path: &str, token: &str, version: i64) -> Reply {
        let body = json!({ "version": version });
        self.post(&format!("{path}/revert"), Some(token), body)
            .await
    }

    /// A write with `If-Match: etag`.
    pub async fn if_match(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        etag: &str,
    ) -> Reply {
        self.send_with(method, path, Some(token), body, &[("If-Match", etag)])
            .await
    }

    /// Relates `source` to `target` with `kind` and returns the relation (asserting 201).
    pub async fn relate(
        &self,
        token: &str,
        world: &str,
        source: &str,
        target: &str,
        kind: &str,
    ) -> Value {
        let body = json!({"source_id": source, "target_id": target, "kind": kind});
        let reply = self.post(&relations_path(world), Some(token), body).await;
        reply.assert_status(201);
        reply.json()
    }

    /// Makes `user` a member of the world with `role`, in the database: for tests where
    /// how someone joins is another feature's business.
    pub async fn add_member(&self, world: &str, user: &TestUser, role: &str) {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        entity::world_members::ActiveModel {
            world_id: Set(world.parse().expect("world id")),
            user_id: Set(user.id),
            role: Set(role.to_owned()),
            ..Default::default()
        }
        .insert(&self.db().await)
        .await
        .expect("member added");
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

    /// One user's view of one world, for tests that write much in it.
    pub fn in_world<'a>(&'a self, token: &'a str, world: &'a str) -> InWorld<'a> {
        InWorld {
            app: self,
            token,
            world,
        }
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

/// Writes in one world with one token, so that a test's setup reads one line a write.
pub struct InWorld<'a> {
    pub app: &'a TestApp,
    pub token: &'a str,
    pub world: &'a str,
}

impl InWorld<'_> {
    /// Creates an element from `body` and returns its body (asserting 201).
    pub async fn create(&self, body: Value) -> Value {
        self.app.create_element(self.token, self.world, body).await
    }

    /// Creates an element from `body` and returns its id.
    pub async fn element(&self, body: Value) -> String {
        id_of(&self.create(body).await)
    }

    /// An element `{kind, name}` under `parent`, returning its body.
    pub async fn child(&self, kind: &str, name: &str, parent: &str) -> Value {
        let body = json!({"kind": kind, "name": name, "parent_id": parent});
        self.create(body).await
    }

    /// Relates `source` to `target` with `kind` and returns the relation's id.
    pub async fn relate(&self, source: &str, target: &str, kind: &str) -> String {
        let relation = self
            .app
            .relate(self.token, self.world, source, target, kind);
        id_of(&relation.await)
    }
}
