//! Webhooks: owner-only management, the SSRF guard on save and at delivery, signed
//! deliveries in `seq` order, retries, no redirects, the timeout, deactivation after the
//! failure window, the delivery log, and two servers delivering each change once.
//!
//! A tiny HTTP receiver on 127.0.0.1 records what it gets and answers as scripted, so
//! these tests run the server with `WEBHOOKS_ALLOW_PRIVATE_TARGETS=true` and a retry
//! schedule scaled down (`WEBHOOK_RETRY_SCALE`): 5 s becomes 0.5 ms, 24 h about 8.6 s.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, TestUser, spawn_app_on};
use crate::helpers::{element_path, id_of};
use crate::helpers::{relations_path, world_path};
use crate::{on_both_backends, on_both_backends_with};

/// For the timeout: a 10 s attempt must fit well inside the scaled 24 hours (86 s).
const SLOWER: &[(&str, &str)] = &[
    ("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
    ("WEBHOOK_RETRY_SCALE", "0.001"),
];
const FAST: &[(&str, &str)] = &[
    ("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
    ("WEBHOOK_RETRY_SCALE", "0.0001"),
];

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// 307 to another path on the receiver, which must not be followed.
    Redirect,
    /// Never answers.
    Hang,
}

#[derive(Debug, Clone)]
struct Captured {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Captured {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("delivery body is JSON")
    }

    fn seq(&self) -> i64 {
        let id = &self.headers["webhook-id"];
        id.rsplit_once(':')
            .and_then(|(_, seq)| seq.parse().ok())
            .expect("webhook-id is <world_id>:<seq>")
    }
}

#[derive(Default)]
struct ReceiverState {
    script: VecDeque<Answer>,
    default: Option<Answer>,
    seen: Vec<Captured>,
}

/// An HTTP/1.1 receiver: records every request, answers from its script, then with its
/// default (204).
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start(script: &[Answer], default: Option<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let state = Arc::new(Mutex::new(ReceiverState {
            script: script.iter().copied().collect(),
            default,
            seen: Vec::new(),
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
        }
    }

    fn seen(&self) -> Vec<Captured> {
        self.state.lock().expect("receiver state").seen.clone()
    }

    /// Waits until at least `n` requests arrived (panics after `within`).
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "receiver got {} requests, expected {n}: {:?}",
                seen.len(),
                seen.iter()
                    .map(|c| c.headers.get("webhook-id"))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn serve(mut stream: tokio::net::TcpStream, state: Arc<Mutex<ReceiverState>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + length].to_vec();
    let answer = {
        let mut state = state.lock().expect("receiver state");
        state.seen.push(Captured {
            path,
            headers,
            body,
        });
        let default = state.default.unwrap_or(Answer::Status(204));
        state.script.pop_front().unwrap_or(default)
    };
    let response = match answer {
        Answer::Status(code) => {
            format!("HTTP/1.1 {code} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        }
        Answer::Redirect => "HTTP/1.1 307 Temporary Redirect\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn webhooks_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/webhooks")
}

/// Creates a webhook and returns its body (with the secret).
async fn create_webhook(app: &TestApp, owner: &TestUser, world: &str, body: Value) -> Value {
    let reply = app
        .post(&webhooks_path(world), Some(&owner.access_token), body)
        .await;
    reply.assert_status(201);
    reply.json()
}

/// Checks a delivery's Standard Webhooks signature the way a receiver would.
fn assert_signed(delivery: &Captured, secret: &str) {
    let id = &delivery.headers["webhook-id"];
    let timestamp = &delivery.headers["webhook-timestamp"];
    let ts: i64 = timestamp.parse().expect("timestamp is Unix seconds");
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 300,
        "stale timestamp {ts}"
    );
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&delivery.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let header = &delivery.headers["webhook-signature"];
    assert!(
        header.split(' ').any(|s| s == expected),
        "signature {header} does not verify (expected {expected})"
    );
}

async fn deliveries(app: &TestApp, owner: &TestUser, world: &str, hook: &str) -> Vec<Value> {
    let reply = app
        .get_json(
            &format!("{}/{hook}/deliveries?limit=200", webhooks_path(world)),
            &owner.access_token,
        )
        .await;
    reply["items"].as_array().expect("items").clone()
}

async fn management_is_the_owners_alone(app: TestApp) {
    let owner = app.register("owner").await;
    let editor = app.register("editor").await;
    let stranger = app.register("stranger").await;
    let world = app.new_world(&owner.access_token, "Hooked").await;
    app.add_member(&world, &editor, "editor").await;

    let reply = app
        .post(
            &webhooks_path(&world),
            Some(&owner.access_token),
            json!({"url": "https://93.184.216.34/hook", "events": ["element.*", "relation.created", "element.*"], "description": "sync"}),
        )
        .await;
    let created = reply.assert_created(&webhooks_path(&world));
    let id = id_of(&created);
    let secret = created["secret"].as_str().expect("secret shown once");
    let raw = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64");
    assert_eq!(raw.len(), 32);
    assert_eq!(created["events"], json!(["element.*", "relation.created"]));
    assert_eq!(created["active"], true);
    assert_eq!(created["disabled_reason"], Value::Null);
    assert_eq!(created["world_id"], world.as_str());
    assert_eq!(created["description"], "sync");
    for key in ["created_at", "updated_at", "url"] {
        assert!(created[key].is_string(), "{key}: {created}");
    }

    let listed = app
        .get_json(&webhooks_path(&world), &owner.access_token)
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(
        listed[0].get("secret").is_none(),
        "secret shown again: {listed}"
    );

    let hook = format!("{}/{id}", webhooks_path(&world));
    let deliveries_path = format!("{hook}/deliveries");
    // An editor can see the world but not its webhooks; a stranger cannot see it at all.
    for (user, status) in [(&editor, 403), (&stranger, 404)] {
        let token = Some(user.access_token.as_str());
        let slug = if status == 403 {
            "forbidden"
        } else {
            "not-found"
        };
        app.get(&webhooks_path(&world), token)
            .await
            .assert_problem(status, slug);
        app.post(
            &webhooks_path(&world),
            token,
            json!({"url": "https://93.184.216.34/", "events": ["*"]}),
        )
        .await
        .assert_problem(status, slug);
        app.patch(&hook, token, json!({"active": false}))
            .await
            .assert_problem(status, slug);
        app.delete(&hook, token).await.assert_problem(status, slug);
        app.get(&deliveries_path, token)
            .await
            .assert_problem(status, slug);
    }
    app.get(&webhooks_path(&world), None)
        .await
        .assert_problem(401, "unauthorized");
    // Not even the owner's personal access token, write scope or not: managing webhooks
    // needs a login.
    let pat = app
        .post(
            "/api/v1/users/me/tokens",
            Some(&owner.access_token),
            json!({"name": "tool", "scope": "write"}),
        )
        .await;
    pat.assert_status(201);
    let pat = pat.json()["token"].as_str().expect("token").to_owned();
    let token = Some(pat.as_str());
    app.get(&webhooks_path(&world), token)
        .await
        .assert_problem(403, "insufficient-scope");
    app.post(
        &webhooks_path(&world),
        token,
        json!({"url": "https://93.184.216.34/", "events": ["*"]}),
    )
    .await
    .assert_problem(403, "insufficient-scope");
    app.patch(&hook, token, json!({"active": false}))
        .await
        .assert_problem(403, "insufficient-scope");
    app.delete(&hook, token)
        .await
        .assert_problem(403, "insufficient-scope");
    app.get(&deliveries_path, token)
        .await
        .assert_problem(403, "insufficient-scope");

    // PATCH: each field, null removes the description, unknown fields are refused.
    let reply = app
        .patch(
            &hook,
            Some(&owner.access_token),
            json!({"events": ["member.*"], "description": null, "active": false}),
        )
        .await;
    reply.assert_status(200);
    let patched = reply.json();
    assert_eq!(patched["events"], json!(["member.*"]));
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["active"], false);
    assert!(patched.get("secret").is_none());
    // A PATCH that changes nothing keeps the webhook as it is.
    let same = app
        .patch(
            &hook,
            Some(&owner.access_token),
            json!({"events": ["member.*"], "active": false}),
        )
        .await;
    same.assert_status(200);
    assert_eq!(same.json()["updated_at"], patched["updated_at"]);
    let empty = app.patch(&hook, Some(&owner.access_token), json!({})).await;
    assert_eq!(empty.json(), patched);
    let body = app
        .patch(&hook, Some(&owner.access_token), json!({"secret": "mine"}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(body["errors"][0]["field"], "secret");

    // Validation: the URL's scheme and shape, the patterns.
    for (body, field) in [
        (
            json!({"url": "ftp://93.184.216.34/", "events": ["*"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (
            json!({"url": "https://user:pw@93.184.216.34/", "events": ["*"]}),
            "url",
        ),
        (
            json!({"url": "https://93.184.216.34/", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://93.184.216.34/", "events": ["element"]}),
            "events[0]",
        ),
        (
            json!({"url": "https://93.184.216.34/", "events": ["nothing.*"]}),
            "events[0]",
        ),
        (json!({"events": ["*"]}), "url"),
    ] {
        let reply = app
            .post(
                &webhooks_path(&world),
                Some(&owner.access_token),
                body.clone(),
            )
            .await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }

    app.delete(&hook, Some(&owner.access_token))
        .await
        .assert_status(204);
    app.get(&deliveries_path, Some(&owner.access_token))
        .await
        .assert_problem(404, "not-found");
    app.delete(&hook, Some(&owner.access_token))
        .await
        .assert_problem(404, "not-found");
}

/// The guard is on by default: a URL whose host is loopback, private, link-local or
/// otherwise not public is refused on save, and again at delivery.
async fn non_public_targets_are_refused(app: TestApp) {
    let owner = app.register("owner").await;
    let world = app.new_world(&owner.access_token, "Guarded").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://224.0.0.1/",
    ] {
        let reply = app
            .post(
                &webhooks_path(&world),
                Some(&owner.access_token),
                json!({"url": url, "events": ["*"]}),
            )
            .await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    // A public address is accepted (no request is made on save).
    let created = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": "http://93.184.216.34/hook", "events": ["*"]}),
    )
    .await;
    let hook = id_of(&created);
    let path = format!("{}/{hook}", webhooks_path(&world));
    let reply = app
        .patch(
            &path,
            Some(&owner.access_token),
            json!({"url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(
        reply.assert_problem(422, "validation-failed")["errors"][0]["field"],
        "url"
    );

    // At delivery: a webhook whose stored URL now points at loopback (as after a DNS
    // change) is refused before any connection, and the refusal is logged.
    let receiver = Receiver::start(&[], None).await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        entity::webhooks::Entity::update_many()
            .col_expr(
                entity::webhooks::Column::Url,
                Expr::value(receiver.url.clone()),
            )
            .filter(entity::webhooks::Column::Id.eq(hook.parse::<uuid::Uuid>().expect("id")))
            .exec(&app.db().await)
            .await
            .expect("point the webhook at loopback");
    }
    let w = app.in_world(&owner.access_token, &world);
    w.create(json!({"kind": "place", "name": "Gate"})).await;
    let log = wait_for_log(&app, &owner, &world, &hook, 1).await;
    let refused = &log[0];
    assert_eq!(refused["status_code"], Value::Null, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or("")
            .contains("not a public address"),
        "{refused}"
    );
    assert!(
        receiver.seen().is_empty(),
        "the guard let a request through"
    );
}

async fn wait_for_log(
    app: &TestApp,
    owner: &TestUser,
    world: &str,
    hook: &str,
    n: usize,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log = deliveries(app, owner, world, hook).await;
        if log.len() >= n {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery log has {} entries, expected {n}: {log:?}",
            log.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each matching change is POSTed as its feed JSON, signed, in `seq` order; patterns
/// select the types; an inactive webhook gets nothing.
async fn deliveries_are_signed_filtered_and_in_order(app: TestApp) {
    let owner = app.register("owner").await;
    let world = app.new_world(&owner.access_token, "Delivered").await;
    let receiver = Receiver::start(&[], None).await;
    let everything = Receiver::start(&[], None).await;
    let paused = Receiver::start(&[], None).await;
    let elements_hook = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": receiver.url, "events": ["element.*"]}),
    )
    .await;
    let all_hook = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": everything.url, "events": ["*"]}),
    )
    .await;
    let paused_hook = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": paused.url, "events": ["*"]}),
    )
    .await;
    app.patch(
        &format!("{}/{}", webhooks_path(&world), id_of(&paused_hook)),
        Some(&owner.access_token),
        json!({"active": false}),
    )
    .await
    .assert_status(200);

    let w = app.in_world(&owner.access_token, &world);
    let a = w.element(json!({"kind": "person", "name": "Ada"})).await;
    let b = w.element(json!({"kind": "person", "name": "Bo"})).await;
    app.post(
        &relations_path(&world),
        Some(&owner.access_token),
        json!({"source_id": a, "target_id": b, "kind": "knows"}),
    )
    .await
    .assert_status(201);
    app.patch(
        &element_path(&world, &a),
        Some(&owner.access_token),
        json!({"name": "Ada L."}),
    )
    .await
    .assert_status(200);
    app.patch(
        &world_path(&world),
        Some(&owner.access_token),
        json!({"name": "Delivered!"}),
    )
    .await
    .assert_status(200);
    app.delete(&element_path(&world, &b), Some(&owner.access_token))
        .await
        .assert_status(204);

    let feed = app
        .get_json(
            &format!("/api/v1/worlds/{world}/changes?limit=1000"),
            &owner.access_token,
        )
        .await["items"]
        .as_array()
        .expect("feed")
        .clone();
    let element_changes: Vec<&Value> = feed
        .iter()
        .filter(|c| c["type"].as_str().unwrap_or("").starts_with("element."))
        .collect();
    assert!(element_changes.len() >= 4, "{feed:?}");

    let got = receiver
        .wait_for(element_changes.len(), Duration::from_secs(20))
        .await;
    let all = everything
        .wait_for(feed.len(), Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.seen().len(),
        element_changes.len(),
        "delivered twice"
    );
    assert_eq!(everything.seen().len(), feed.len(), "delivered twice");
    assert!(
        paused.seen().is_empty(),
        "an inactive webhook got deliveries"
    );

    let secret = elements_hook["secret"].as_str().expect("secret");
    for (delivery, change) in got.iter().zip(&element_changes) {
        assert_eq!(delivery.path, "/hook");
        assert_eq!(delivery.headers["content-type"], "application/json");
        assert_eq!(
            delivery.headers["webhook-id"],
            format!("{world}:{}", change["seq"])
        );
        assert_eq!(&delivery.json(), *change, "the body is the feed's Change");
        assert_signed(delivery, secret);
    }
    let all_secret = all_hook["secret"].as_str().expect("secret");
    let seqs: Vec<i64> = all.iter().map(Captured::seq).collect();
    let feed_seqs: Vec<i64> = feed
        .iter()
        .map(|c| c["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, feed_seqs, "in seq order, every change once");
    for delivery in &all {
        assert_signed(delivery, all_secret);
    }
    let log = deliveries(&app, &owner, &world, &id_of(&all_hook)).await;
    assert_eq!(log.len(), feed.len());
    assert_eq!(
        log[0]["seq"],
        *feed_seqs.last().expect("a change"),
        "newest first"
    );
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["status_code"], 204);
    assert_eq!(log[0]["error"], Value::Null);
    assert!(
        log[0]["duration_ms"].is_i64() && log[0]["at"].is_string(),
        "{}",
        log[0]
    );
}

/// A receiver failing (500, then a redirect, which is not followed) gets the change
/// again with growing delays, and the changes after it only once it succeeded.
async fn failures_are_retried_in_order(app: TestApp) {
    let owner = app.register("owner").await;
    let world = app.new_world(&owner.access_token, "Retried").await;
    let receiver = Receiver::start(
        &[Answer::Status(500), Answer::Redirect, Answer::Status(503)],
        None,
    )
    .await;
    let hook = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": receiver.url, "events": ["element.created"]}),
    )
    .await;
    let w = app.in_world(&owner.access_token, &world);
    for name in ["One", "Two", "Three"] {
        w.create(json!({"kind": "place", "name": name})).await;
    }
    let got = receiver.wait_for(6, Duration::from_secs(20)).await;
    let seqs: Vec<i64> = got.iter().map(Captured::seq).collect();
    assert_eq!(
        seqs,
        [1, 1, 1, 1, 2, 3],
        "the first change until it lands, then the rest"
    );
    assert!(
        got.iter().all(|c| c.path == "/hook"),
        "a redirect was followed"
    );
    // The same change keeps its id and body on every attempt.
    assert!(got[..4].iter().all(|c| c.body == got[0].body));

    let log = wait_for_log(&app, &owner, &world, &id_of(&hook), 6).await;
    let attempts: Vec<(i64, i64, Value)> = log
        .iter()
        .rev()
        .map(|d| {
            (
                d["seq"].as_i64().unwrap_or(0),
                d["attempt"].as_i64().unwrap_or(0),
                d["status_code"].clone(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (1, 1, json!(500)),
            (1, 2, json!(307)),
            (1, 3, json!(503)),
            (1, 4, json!(204)),
            (2, 1, json!(204)),
            (3, 1, json!(204)),
        ]
    );
    assert!(
        log[3]["error"].as_str().unwrap_or("").contains("503"),
        "{}",
        log[3]
    );

    // The log pages, newest first, with a cursor.
    let path = format!("{}/{}/deliveries", webhooks_path(&world), id_of(&hook));
    let first = app
        .get_json(&format!("{path}?limit=4"), &owner.access_token)
        .await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(4));
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get_json(
            &format!("{path}?limit=4&cursor={cursor}"),
            &owner.access_token,
        )
        .await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(second["items"][1]["attempt"], 1);
    app.get(&format!("{path}?cursor=garbage"), Some(&owner.access_token))
        .await
        .assert_problem(400, "bad-request");
}

/// Failing for the whole (scaled) 24-hour window deactivates the webhook with a reason;
/// reactivating it delivers new changes again.
async fn failing_for_24_hours_deactivates(app: TestApp) {
    let owner = app.register("owner").await;
    let world = app.new_world(&owner.access_token, "Failing").await;
    let receiver = Receiver::start(&[], Some(Answer::Status(500))).await;
    let hook = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": receiver.url, "events": ["*"]}),
    )
    .await;
    let w = app.in_world(&owner.access_token, &world);
    let hook_id = id_of(&hook);
    w.create(json!({"kind": "place", "name": "Doom"})).await;
    let path = format!("{}/{hook_id}", webhooks_path(&world));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let listed = loop {
        let listed = app
            .get_json(&webhooks_path(&world), &owner.access_token)
            .await;
        if listed[0]["active"] == false {
            break listed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never deactivated: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reason = listed[0]["disabled_reason"].as_str().expect("a reason");
    assert!(reason.contains("24 hours"), "{reason}");
    let attempts = receiver.seen().len();
    assert!(attempts >= 6, "only {attempts} attempts before giving up");
    let log = deliveries(&app, &owner, &world, &hook_id).await;
    assert_eq!(log.len(), attempts);
    assert_eq!(log[0]["attempt"].as_i64(), Some(attempts as i64));

    // Nothing more is attempted while it is inactive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.seen().len(), attempts);

    receiver.state.lock().expect("state").default = Some(Answer::Status(200));
    let reply = app
        .patch(&path, Some(&owner.access_token), json!({"active": true}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["disabled_reason"], Value::Null);
    let next = w.create(json!({"kind": "place", "name": "Hope"})).await;
    let got = receiver
        .wait_for(attempts + 1, Duration::from_secs(20))
        .await;
    assert_eq!(got[attempts].json()["resource_id"], next["id"]);
}

/// No answer within 10 s is a failed attempt.
async fn a_silent_receiver_times_out(app: TestApp) {
    let owner = app.register("owner").await;
    let world = app.new_world(&owner.access_token, "Silent").await;
    let receiver = Receiver::start(&[Answer::Hang], None).await;
    let hook = create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": receiver.url, "events": ["*"]}),
    )
    .await;
    let w = app.in_world(&owner.access_token, &world);
    w.create(json!({"kind": "place", "name": "Quiet"})).await;
    let log = wait_for_log(&app, &owner, &world, &id_of(&hook), 1).await;
    let first = &log[log.len() - 1];
    assert_eq!(first["status_code"], Value::Null);
    assert!(
        first["error"]
            .as_str()
            .unwrap_or("")
            .contains("within 10 s"),
        "{first}"
    );
    let ms = first["duration_ms"].as_i64().unwrap_or(0);
    assert!((9_500..20_000).contains(&ms), "took {ms} ms");
    // The retry lands.
    receiver.wait_for(2, Duration::from_secs(20)).await;
}

/// Two servers on one database: each change is delivered once, in order.
async fn two_servers_deliver_each_change_once(app: TestApp) {
    let second = spawn_app_on(app.backend, app.database_url.clone(), None, FAST).await;
    let owner = app.register("owner").await;
    let world = app.new_world(&owner.access_token, "Shared").await;
    let receiver = Receiver::start(&[], None).await;
    create_webhook(
        &app,
        &owner,
        &world,
        json!({"url": receiver.url, "events": ["*"]}),
    )
    .await;
    let n = 30;
    for i in 0..n {
        let server = if i % 2 == 0 { &app } else { &second };
        server
            .create_element(
                &owner.access_token,
                &world,
                json!({"kind": "place", "name": format!("P{i}")}),
            )
            .await;
    }
    receiver.wait_for(n, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seqs: Vec<i64> = receiver.seen().iter().map(Captured::seq).collect();
    assert_eq!(
        seqs,
        (1..=n as i64).collect::<Vec<_>>(),
        "once each, in order"
    );
}

/// The pending-deliveries gauge is exported.
async fn pending_deliveries_are_a_metric(app: TestApp) {
    let reply = app.get("/metrics", None).await;
    reply.assert_status(200);
    assert!(
        reply.text.contains("lorebase_webhook_deliveries_pending"),
        "{}",
        reply.text
    );
}

on_both_backends!(
    management_is_the_owners_alone,
    non_public_targets_are_refused
);
on_both_backends_with!(super::FAST;
    deliveries_are_signed_filtered_and_in_order,
    failures_are_retried_in_order,
    failing_for_24_hours_deactivates,
    two_servers_deliver_each_change_once,
    pending_deliveries_are_a_metric,
);

on_both_backends_with!(super::SLOWER; a_silent_receiver_times_out);
