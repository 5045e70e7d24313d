//! Issue 12: every input bounded, no cheap lockouts, client addresses behind proxies,
//! statements bounded in time, metrics. Each test would fail without its fix.
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::auth::{LOGIN, ME};
use crate::helpers::{Backend, JWT_SECRET, Reply, TestApp, TestUser, fresh_database};
use crate::helpers::{element_path, elements_path, enc, id_of};
use crate::helpers::{relations_path, world_path};
use crate::{on_both_backends, on_both_backends_with};

/// `{"a": {"a": ... 1}}` with `levels` objects.
fn nested_object(levels: usize) -> String {
    "{\"a\":".repeat(levels) + "1" + &"}".repeat(levels)
}

fn field_of(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

on_both_backends!(
    where_and_q_are_bounded,
    missing_and_wrong_typed_fields_are_named,
    stored_documents_stay_bounded,
    moves_check_cycles_in_one_bounded_query_and_creates_skip_it,
);

async fn where_and_q_are_bounded(app: TestApp) {
    let app = &app;
    let (user, world) = app.user_with_world("bounds", "Bounds").await;
    let token = user.access_token.as_str();
    let w = app.in_world(token, &world);
    w.create(json!({"kind": "thing", "name": "x", "attributes": {"a": 1}}))
        .await;
    let list = |params: String| {
        let path = format!("{}?{params}", elements_path(&world));
        async move { app.get(&path, Some(token)).await }
    };
    let where_ = |raw: &str| format!("where={}", enc(raw));

    // Nesting: 32 levels are read, 33 are refused like a body's.
    list(where_(&nested_object(32))).await.assert_status(200);
    let problem = list(where_(&nested_object(33)))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "where", "{problem}");
    let deep_array = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    list(where_(&deep_array))
        .await
        .assert_problem(422, "validation-failed");

    // Array items, all arrays together: 32 at most.
    let items = |n: usize| {
        let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("{{\"a\": [{}]}}", values.join(","))
    };
    list(where_(&items(32))).await.assert_status(200);
    let problem = list(where_(&items(33)))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "where");
    let split = format!(
        "{{\"a\": [{}], \"b\": [{}]}}",
        "1,".repeat(16) + "1",
        "2,".repeat(15) + "2"
    );
    list(where_(&split))
        .await
        .assert_problem(422, "validation-failed");

    // Values: 128 at most.
    let keys: Vec<String> = (0..128).map(|i| format!("\"k{i}\": {i}")).collect();
    let problem = list(where_(&format!("{{{}}}", keys.join(","))))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "where");

    // Size: 4 KiB at most.
    let long = format!("{{\"a\": \"{}\"}}", "x".repeat(4096));
    let problem = list(where_(&long))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "where");

    // q: 200 characters at most (counted as characters, not bytes).
    list(format!("q={}", enc(&"é".repeat(200))))
        .await
        .assert_status(200);
    let problem = list(format!("q={}", "q".repeat(201)))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "q");
}

async fn missing_and_wrong_typed_fields_are_named(app: TestApp) {
    let user = app.register("fields").await;
    let token = Some(user.access_token.as_str());
    let world = app.new_world(&user.access_token, "Fields").await;
    let cases = [
        (
            "/api/v1/worlds".to_owned(),
            json!({"description": "no name"}),
            "name",
        ),
        ("/api/v1/worlds".to_owned(), json!({"name": 3}), "name"),
        (elements_path(&world), json!({"name": "no kind"}), "kind"),
        (elements_path(&world), json!({"kind": "thing"}), "name"),
        (
            elements_path(&world),
            json!({"kind": "thing", "name": ["x"]}),
            "name",
        ),
        (
            elements_path(&world),
            json!({"kind": "thing", "name": "x", "tags": "t"}),
            "tags",
        ),
        (
            "/api/v1/auth/register".to_owned(),
            json!({"email": "missing-password@example.com"}),
            "password",
        ),
    ];
    for (path, body, field) in cases {
        let problem = app
            .post(&path, token, body.clone())
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(field_of(&problem), field, "{body}: {problem}");
    }
}

/// A string of `bytes` characters, as a JSON document's value.
fn blob(bytes: usize) -> String {
    "x".repeat(bytes)
}

async fn stored_documents_stay_bounded(app: TestApp) {
    let (user, world) = app.user_with_world("documents", "Documents").await;
    let token = user.access_token.as_str();

    // Created too large: refused, whatever the body's 1 MiB allows.
    let problem = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "thing", "name": "big", "attributes": {"a": blob(300 * 1024)}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "attributes");

    // Grown by merge patches, each fine on its own: the one that passes 256 KiB is refused
    // and changes nothing.
    let w = app.in_world(token, &world);
    let element = w
        .create(json!({"kind": "thing", "name": "grows", "attributes": {"a": blob(200 * 1024)}}))
        .await;
    let path = element_path(&world, &id_of(&element));
    let problem = app
        .patch(
            &path,
            Some(token),
            json!({"attributes": {"b": blob(100 * 1024)}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "attributes");
    let current = app.get_json(&path, token).await;
    assert_eq!(current["version"], 1);
    assert!(current["attributes"].get("b").is_none());
    // Replacing a key keeps the document small enough.
    app.patch(
        &path,
        Some(token),
        json!({"attributes": {"a": blob(250 * 1024)}}),
    )
    .await
    .assert_status(200);

    // The same for a relation's attributes, a world's settings and the preferences.
    let other = w.create(json!({"kind": "thing", "name": "o"})).await;
    let relation = app
        .post(
            &relations_path(&world),
            Some(token),
            json!({"source_id": id_of(&element), "target_id": id_of(&other), "kind": "knows",
                   "attributes": {"a": blob(200 * 1024)}}),
        )
        .await;
    relation.assert_status(201);
    let relation_path = format!(
        "/api/v1/worlds/{world}/relations/{}",
        id_of(&relation.json())
    );
    let world_path = world_path(&world);
    for (path, field) in [
        (relation_path.as_str(), "attributes"),
        (world_path.as_str(), "settings"),
        (ME, "preferences"),
    ] {
        app.patch(path, Some(token), json!({field: {"a": blob(200 * 1024)}}))
            .await
            .assert_status(200);
        let problem = app
            .patch(path, Some(token), json!({field: {"b": blob(100 * 1024)}}))
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(field_of(&problem), field, "{path}");
    }
    let problem = app
        .post(
            "/api/v1/worlds",
            Some(token),
            json!({"name": "big", "settings": {"a": blob(300 * 1024)}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "settings");
}

/// Inserts a chain of `length` elements straight into the database, each the parent of
/// the next, and returns their ids from the root down.
async fn chain(app: &TestApp, world: &str, owner: uuid::Uuid, length: usize) -> Vec<uuid::Uuid> {
    use entity::world_elements;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
    let db = app.db().await;
    let txn = db.begin().await.expect("begin");
    let world: uuid::Uuid = world.parse().expect("world id");
    let mut ids = Vec::with_capacity(length);
    let mut parent = None;
    for i in 0..length {
        let element = world_elements::ActiveModel {
            world_id: Set(world),
            parent_id: Set(parent),
            kind: Set("level".into()),
            name: Set(format!("level {i}")),
            summary: Set(None),
            attributes: Set(json!({})),
            tags: Set(json!([])),
            version: Set(1),
            created_by: Set(Some(owner)),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .expect("insert");
        parent = Some(element.id);
        ids.push(element.id);
    }
    txn.commit().await.expect("commit");
    db.close().await.ok();
    ids
}

async fn moves_check_cycles_in_one_bounded_query_and_creates_skip_it(app: TestApp) {
    let (user, world) = app.user_with_world("chains", "Chains").await;
    let token = user.access_token.as_str();
    let ids = chain(&app, &world, user.id, 1_001).await;
    let (root, leaf) = (ids[0], ids[1_000]);

    // A create never closes a cycle: no walk up the 1,001 ancestors, so no depth cap.
    let w = app.in_world(token, &world);
    let child = w.child("level", "below the leaf", &leaf.to_string()).await;
    assert_eq!(child["parent_id"], leaf.to_string());

    // A move is checked: the root under its deepest descendant closes a cycle found
    // 1,000 levels up.
    let problem = app
        .patch(
            &element_path(&world, &root.to_string()),
            Some(token),
            json!({"parent_id": leaf}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "parent_id");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ancestor")),
        "{problem}"
    );

    // Moving an unrelated element under the 1,001st level goes past the depth cap.
    let loose = w.create(json!({"kind": "x", "name": "loose"})).await;
    let problem = app
        .patch(
            &element_path(&world, &id_of(&loose)),
            Some(token),
            json!({"parent_id": leaf}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("levels deep")),
        "{problem}"
    );
    // Within the cap it moves.
    app.patch(
        &element_path(&world, &id_of(&loose)),
        Some(token),
        json!({"parent_id": ids[500]}),
    )
    .await
    .assert_status(200);
    // A parent of another world is no parent.
    let elsewhere = app.new_world(token, "Elsewhere").await;
    let stranger = app
        .create_element(token, &elsewhere, json!({"kind": "x", "name": "s"}))
        .await;
    let problem = app
        .patch(
            &element_path(&world, &id_of(&loose)),
            Some(token),
            json!({"parent_id": id_of(&stranger)}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("same world")),
        "{problem}"
    );
}

// ---------------------------------------------------------------------------------------
// Statements bounded in time
// ---------------------------------------------------------------------------------------

on_both_backends_with!(&[("DB_STATEMENT_TIMEOUT_SECS", "1")]; a_slow_statement_is_stopped_while_others_are_served);

/// Elements whose attributes hold long arrays, and a `where` within every bound whose
/// items sit at their ends: on SQLite each item is a scan of each array, about 4 s
/// in all without the timeout.
async fn slow_where_world(app: &TestApp, token: &str) -> (String, String) {
    let world = app.new_world(token, "Slow").await;
    const ITEMS: usize = 30_000;
    let array: Vec<usize> = (0..ITEMS).collect();
    for i in 0..40 {
        let reply = app
            .post(
                &elements_path(&world),
                Some(token),
                json!({"kind": "thing", "name": format!("big {i}"), "attributes": {"a": array}}),
            )
            .await;
        reply.assert_status(201);
    }
    let wanted: Vec<usize> = (ITEMS - 32..ITEMS).collect();
    let filter = json!({"a": wanted}).to_string();
    let path = format!("{}?where={}&limit=200", elements_path(&world), enc(&filter));
    (world, path)
}

async fn a_slow_statement_is_stopped_while_others_are_served(app: TestApp) {
    let (user, world) = app.user_with_world("slow", "Quick").await;
    let token = user.access_token.as_str();
    let quick = world_path(&world);
    let (slow_path, _holder) = match app.backend {
        Backend::Sqlite => (slow_where_world(&app, token).await.1, None),
        // PostgreSQL answers the same filter from its GIN index in milliseconds; a
        // statement made to wait on a lock runs into the same timeout.
        Backend::Postgres => {
            let holder = hold_table_lock(&app, "world_elements", Duration::from_secs(4)).await;
            (
                format!("{}?where={}", elements_path(&world), enc(r#"{"a": 1}"#)),
                Some(holder),
            )
        }
    };

    let started = Instant::now();
    let slow = {
        let app = &app;
        let path = slow_path.clone();
        async move {
            let reply = app.get(&path, Some(token)).await;
            (reply, started.elapsed())
        }
    };
    let others = async {
        // While the slow statement runs, other requests are answered.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut answered = Vec::new();
        for _ in 0..3 {
            let reply = app.get(&quick, Some(token)).await;
            answered.push((reply.status.as_u16(), started.elapsed()));
            let me = app.get(ME, Some(token)).await;
            answered.push((me.status.as_u16(), started.elapsed()));
        }
        answered
    };
    let ((slow, slow_took), answered) = tokio::join!(slow, others);
    let problem = slow.assert_problem(503, "overloaded");
    assert!(slow.header("retry-after").is_some(), "{problem}");
    assert!(
        slow_took < Duration::from_secs(8),
        "the statement ran {slow_took:?}, far past its 1 s timeout"
    );
    for (status, at) in &answered {
        assert_eq!(*status, 200, "{answered:?}");
        // Answered while the slow one was still running (it ends at about 1 s).
        let _ = at;
    }
    assert!(
        answered.iter().any(|(_, at)| *at < slow_took),
        "no other request was answered while the slow one ran: {answered:?} vs {slow_took:?}"
    );
    // The connection that ran it serves again.
    for _ in 0..3 {
        app.get(&quick, Some(token)).await.assert_status(200);
    }
}

/// Holds an exclusive lock on `table` from a connection of its own for `how_long`.
async fn hold_table_lock(
    app: &TestApp,
    table: &str,
    how_long: Duration,
) -> tokio::task::JoinHandle<()> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let db = app.db().await;
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let sql = format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE");
    let handle = tokio::spawn(async move {
        let txn = db.begin().await.expect("begin");
        txn.execute_unprepared(&sql).await.expect("lock");
        let _ = locked.send(());
        tokio::time::sleep(how_long).await;
        txn.rollback().await.ok();
        db.close().await.ok();
    });
    is_locked.await.expect("lock taken");
    handle
}

// ---------------------------------------------------------------------------------------
// Password hashing
// ---------------------------------------------------------------------------------------

/// One hashing thread, one waiting job, and hashes slow enough (half a second each) for
/// a burst to fill the queue.
const SLOW_HASHING: &[(&str, &str)] = &[
    ("PASSWORD_HASH_THREADS", "1"),
    ("PASSWORD_HASH_QUEUE", "1"),
    ("ARGON2_MEMORY_KIB", "65536"),
    ("ARGON2_ITERATIONS", "16"),
    // Probing counts failures; the limit is not what this test is about.
    ("LOGIN_FAILURES_PER_ACCOUNT", "100"),
];

on_both_backends_with!(crate::hardening::SLOW_HASHING; a_full_hashing_queue_is_503_and_long_passwords_are_not_hashed);

async fn login(app: &TestApp, email: &str, password: &str, from: Option<&str>) -> Reply {
    let body = json!({"email": email, "password": password});
    let headers: Vec<(&str, &str)> = from.map(|ip| ("x-forwarded-for", ip)).into_iter().collect();
    app.send_with(Method::POST, LOGIN, None, Some(&body), &headers)
        .await
}

async fn a_full_hashing_queue_is_503_and_long_passwords_are_not_hashed(app: TestApp) {
    let user = app.register("hashing").await;
    let wrong = "definitely-not-the-password";
    // One hashing thread and a queue of one: two wrong logins in flight fill both, and
    // the next login is refused at once. Timing on a loaded machine varies, so the pair
    // is sent again until a probe finds the queue full.
    let mut found = None;
    for _ in 0..20 {
        let pair =
            futures_util::future::join_all((0..2).map(|_| login(&app, &user.email, wrong, None)));
        let probe = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let before = login(&app, &user.email, wrong, None).await;
            if before.status != 503 {
                return None;
            }
            // ...passwords no account can have are refused at once, unhashed, while
            // the queue is still full.
            let long = login(&app, &user.email, &"p".repeat(257), None).await;
            let huge = login(&app, &user.email, &"p".repeat(100_000), None).await;
            let after = login(&app, &user.email, wrong, None).await;
            Some((before, long, huge, after))
        };
        let (pair, probed) = tokio::join!(pair, probe);
        for reply in &pair {
            assert!([401, 503].contains(&reply.status.as_u16()), "{reply:?}");
        }
        if probed.is_some() {
            found = probed;
            break;
        }
    }
    let (before, long, huge, after) = found.expect("the queue never filled up");
    before.assert_problem(503, "overloaded");
    assert_eq!(before.header("retry-after"), Some("1"));
    long.assert_problem(401, "invalid-credentials");
    huge.assert_problem(401, "invalid-credentials");
    after.assert_problem(503, "overloaded");
    // Once the queue drains, the right password works: refused attempts were not
    // counted against the account.
    login(&app, &user.email, &user.password, None)
        .await
        .assert_status(200);
}

// ---------------------------------------------------------------------------------------
// Lockouts and client addresses
// ---------------------------------------------------------------------------------------

const BEHIND_PROXY: &[(&str, &str)] = &[
    ("TRUSTED_PROXIES", "127.0.0.1/32, ::1"),
    ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
];

on_both_backends_with!(crate::hardening::BEHIND_PROXY;
    failures_lock_out_one_address_not_the_owner,
    the_client_is_the_rightmost_untrusted_forwarded_address,
    ipv6_clients_are_limited_per_64,
);

async fn fail_until_limited(app: &TestApp, user: &TestUser, from: &str) {
    for _ in 0..3 {
        login(app, &user.email, "wrong-password-000", Some(from))
            .await
            .assert_problem(401, "invalid-credentials");
    }
    let limited = login(app, &user.email, "wrong-password-000", Some(from)).await;
    limited.assert_problem(429, "rate-limited");
    assert!(limited.header("retry-after").is_some());
}

async fn failures_lock_out_one_address_not_the_owner(app: TestApp) {
    let user = app.register("owner").await;
    let attacker = "203.0.113.66";
    fail_until_limited(&app, &user, attacker).await;
    // The attacker's address is limited, even with the right password...
    login(&app, &user.email, &user.password, Some(attacker))
        .await
        .assert_problem(429, "rate-limited");
    // ...while the owner, elsewhere, logs in, changes the password and can delete the
    // account.
    let home = [("x-forwarded-for", "198.51.100.7")];
    let reply = login(&app, &user.email, &user.password, Some(home[0].1)).await;
    reply.assert_status(200);
    let token = reply.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let new_password = "a-brand-new-passphrase-77";
    app.send_with(
        Method::PUT,
        "/api/v1/users/me/password",
        Some(&token),
        Some(&json!({"current_password": user.password, "new_password": new_password})),
        &home,
    )
    .await
    .assert_status(204);
    let reply = login(&app, &user.email, new_password, Some(home[0].1)).await;
    reply.assert_status(200);
    let token = reply.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    app.send_with(
        Method::DELETE,
        ME,
        Some(&token),
        Some(&json!({"password": new_password})),
        &home,
    )
    .await
    .assert_status(204);
}

async fn the_client_is_the_rightmost_untrusted_forwarded_address(app: TestApp) {
    let user = app.register("forwarded").await;
    fail_until_limited(&app, &user, "203.0.113.10").await;
    // What a client writes to the left of the proxy's entry is ignored: this is still
    // 203.0.113.10.
    login(
        &app,
        &user.email,
        &user.password,
        Some("198.51.100.99, 203.0.113.10"),
    )
    .await
    .assert_problem(429, "rate-limited");
    // A trusted proxy's own entry is skipped over.
    login(
        &app,
        &user.email,
        &user.password,
        Some("203.0.113.10, 127.0.0.1"),
    )
    .await
    .assert_problem(429, "rate-limited");
    login(
        &app,
        &user.email,
        &user.password,
        Some("203.0.113.10, 198.51.100.5"),
    )
    .await
    .assert_status(200);
}

async fn ipv6_clients_are_limited_per_64(app: TestApp) {
    let user = app.register("six").await;
    fail_until_limited(&app, &user, "2001:db8:1:2::1").await;
    // Another address of the same /64 is the same client.
    login(
        &app,
        &user.email,
        &user.password,
        Some("2001:db8:1:2:ffff::9"),
    )
    .await
    .assert_problem(429, "rate-limited");
    login(&app, &user.email, &user.password, Some("2001:db8:1:3::1"))
        .await
        .assert_status(200);
}

on_both_backends_with!(&[("LOGIN_FAILURES_PER_ACCOUNT", "3")]; forwarded_for_is_ignored_from_untrusted_peers);

async fn forwarded_for_is_ignored_from_untrusted_peers(app: TestApp) {
    let user = app.register("untrusted").await;
    fail_until_limited(&app, &user, "203.0.113.10").await;
    // No proxy is trusted: the header is anyone's to write, and the peer is what counts.
    login(&app, &user.email, &user.password, Some("198.51.100.5"))
        .await
        .assert_problem(429, "rate-limited");
}

on_both_backends_with!(&[
    ("TRUSTED_PROXIES", "127.0.0.1/32"),
    ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
    ("LOGIN_FAILURES_PER_ACCOUNT_TOTAL", "5"),
]; an_account_wide_backstop_stops_guessing_from_many_addresses);

async fn an_account_wide_backstop_stops_guessing_from_many_addresses(app: TestApp) {
    let user = app.register("backstop").await;
    for ip in [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.5",
    ] {
        login(&app, &user.email, "wrong-password-000", Some(ip))
            .await
            .assert_problem(401, "invalid-credentials");
    }
    login(&app, &user.email, &user.password, Some("192.0.2.6"))
        .await
        .assert_problem(429, "rate-limited");
}

// ---------------------------------------------------------------------------------------
// Password strength, pruning, headers, metrics
// ---------------------------------------------------------------------------------------

on_both_backends!(
    password_strength_counts_the_accounts_own_words,
    security_headers_on_every_answer
);

async fn password_strength_counts_the_accounts_own_words(app: TestApp) {
    let app = &app;
    let register = |email: String, password: &str, name: Option<&str>| {
        let mut body = json!({"email": email, "password": password});
        if let Some(name) = name {
            body["display_name"] = json!(name);
        }
        async move { app.post("/api/v1/auth/register", None, body).await }
    };
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let problem = register(
        format!("zanzibarquixote.{unique}@example.com"),
        "zanzibarquixote",
        None,
    )
    .await
    .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "password");
    let problem = register(
        format!("ada.{unique}@example.com"),
        "fennimoremarmaduke",
        Some("Marmaduke Fennimore"),
    )
    .await
    .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "password");
    // The same passwords are fine for someone else.
    register(
        format!("bob.{unique}@example.com"),
        "fennimoremarmaduke",
        Some("Bob"),
    )
    .await
    .assert_status(201);
    register(format!("eve.{unique}@example.com"), "zanzibarquixote", None)
        .await
        .assert_status(201);
}

async fn security_headers_on_every_answer(app: TestApp) {
    let user = app.register("headers").await;
    let token = Some(user.access_token.as_str());
    let world = app.new_world(&user.access_token, "Headers").await;
    let replies = [
        app.get("/healthz", None).await,
        app.get(ME, token).await,
        app.get(&world_path(&world), token).await,
        app.get("/api/v1/nothing-here", None).await,
        app.post("/api/v1/worlds", token, json!({})).await,
        app.get("/api-docs/openapi.json", None).await,
        app.get("/metrics", None).await,
        app.send(Method::HEAD, "/healthz", None, None).await,
    ];
    for reply in &replies {
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{reply:?}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{reply:?}"
        );
    }
    let docs = app.get("/docs/", None).await;
    docs.assert_status(200);
    let csp = docs.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(docs.header("x-content-type-options"), Some("nosniff"));
}

on_both_backends_with!(&[("RATE_LIMIT_PRUNE_INTERVAL_SECS", "1")]; expired_rate_limit_rows_are_pruned);

async fn expired_rate_limit_rows_are_pruned(app: TestApp) {
    use entity::rate_limit_events;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let db = app.db().await;
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(25)).fixed_offset();
    let insert = |subject: String, at: Option<chrono::DateTime<chrono::FixedOffset>>| {
        let db = &db;
        async move {
            let mut event = rate_limit_events::ActiveModel {
                scope: Set("login_failure_account".into()),
                subject: Set(subject),
                ..Default::default()
            };
            if let Some(at) = at {
                event.created_at = Set(at);
            }
            event.insert(db).await.expect("insert").id
        }
    };
    // Rows a random-email login leaves behind, long out of every window, and one that
    // still counts.
    for i in 0..20 {
        insert(format!("random-{i}@example.com"), Some(day_ago)).await;
    }
    let fresh = insert("fresh@example.com".into(), None).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left: Vec<uuid::Uuid> = rate_limit_events::Entity::find()
            .all(&db)
            .await
            .expect("rows")
            .into_iter()
            .map(|row| row.id)
            .collect();
        if left.len() == 1 {
            assert_eq!(left, vec![fresh]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} rows: {left:?}",
            left.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of the sample `name{labels}` (labels as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

on_both_backends!(metrics_in_prometheus_text_format);

async fn metrics_in_prometheus_text_format(app: TestApp) {
    let user = app.register("metrics").await;
    let token = Some(user.access_token.as_str());
    let world = app.new_world(&user.access_token, "Metrics").await;
    app.get(&world_path(&world), token).await.assert_status(200);
    let before = app.get("/metrics", None).await;
    before.assert_status(200);
    assert!(
        before
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{before:?}"
    );
    let failures = |text: &str| sample(text, "lorebase_login_failures_total").unwrap_or(0.0);
    login(&app, &user.email, "not-the-password-123", None)
        .await
        .assert_problem(401, "invalid-credentials");
    let after = app.get("/metrics", None).await;
    let text = after.text.as_str();
    assert!(failures(text) >= failures(&before.text) + 1.0, "{text}");

    // Requests by route template (never the raw path), method and status.
    let route = r#"route="/api/v1/worlds/{world_id}""#;
    assert!(
        text.lines()
            .any(|l| l.starts_with("lorebase_http_requests_total{")
                && l.contains(route)
                && l.contains(r#"method="GET""#)
                && l.contains(r#"status="200""#)),
        "{text}"
    );
    assert!(!text.contains(&world), "a raw path leaked into the labels");
    assert!(
        text.lines().any(
            |l| l.starts_with("lorebase_http_request_duration_seconds_bucket{")
                && l.contains(route)
                && l.contains("le=")
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"lorebase_db_pool_connections{state="idle"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"lorebase_db_pool_connections{state="in_use"}"#),
        "{text}"
    );
    assert!(text.contains("lorebase_db_pool_max_connections "), "{text}");
    assert!(
        text.contains("lorebase_webhook_deliveries_pending "),
        "{text}"
    );
    assert!(
        text.contains("# TYPE lorebase_login_failures_total counter"),
        "{text}"
    );
}

on_both_backends_with!(&[("METRICS_TOKEN", "scrape-token-0123456789"), ("LOGIN_FAILURES_PER_ACCOUNT", "1")];
    metrics_require_their_token_when_one_is_set);

async fn metrics_require_their_token_when_one_is_set(app: TestApp) {
    app.get("/metrics", None)
        .await
        .assert_problem(401, "unauthorized");
    app.get("/metrics", Some("wrong-token"))
        .await
        .assert_problem(401, "unauthorized");
    let user = app.register("scraped").await;
    // A user's access token is no metrics token.
    app.get("/metrics", Some(&user.access_token))
        .await
        .assert_problem(401, "unauthorized");
    // One refusal by the limit of one failure per account and address.
    login(&app, &user.email, "not-the-password-123", None).await;
    login(&app, &user.email, "not-the-password-123", None)
        .await
        .assert_problem(429, "rate-limited");
    let reply = app.get("/metrics", Some("scrape-token-0123456789")).await;
    reply.assert_status(200);
    assert!(
        sample(
            &reply.text,
            r#"lorebase_rate_limit_refusals_total{scope="login_failure_account_ip"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{}",
        reply.text
    );
}

// ---------------------------------------------------------------------------------------
// The migrator and the statement timeout
// ---------------------------------------------------------------------------------------

fn config_for(url: &str, extra: &[(&str, &str)]) -> lorebase::config::Config {
    let mut vars: std::collections::HashMap<String, String> = [
        ("DATABASE_URL", url),
        ("JWT_SECRET", JWT_SECRET),
        ("DB_STATEMENT_TIMEOUT_SECS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    lorebase::config::Config::from_map(&vars).expect("configuration")
}

/// A statement that runs for a few seconds: longer than the 1 s timeout.
fn slow_statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "SELECT pg_sleep(2)",
        Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000000) \
             SELECT count(*) FROM n"
        }
    }
}

/// What a revision runs goes through the migrator's connection, which has no statement
/// timeout, while the server's pool stops the very same statement.
#[tokio::test]
async fn a_revision_may_run_longer_than_the_statement_timeout() {
    use sea_orm::ConnectionTrait;
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let (url, _dir) = fresh_database(backend).await;
        let config = config_for(&url, &[]);
        let pool = lorebase::startup::connect(&config.database)
            .await
            .expect("pool");
        let stopped = pool
            .execute_unprepared(slow_statement(backend))
            .await
            .expect_err("the server's pool bounds statements");
        assert!(
            matches!(
                service::Error::from(stopped),
                service::Error::Overloaded { .. }
            ),
            "{backend:?}"
        );
        pool.close().await.ok();
        let migrator = lorebase::migrate::connect(&config.database)
            .await
            .expect("migrator connection");
        migrator
            .execute_unprepared(slow_statement(backend))
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: the migrator's statement was stopped: {e}"));
        migrator.close().await.ok();
    }
}

/// Migrate-on-start waits for another server's migration lock for as long as that
/// server migrates, beyond the statement timeout, then applies the revisions.
#[tokio::test]
async fn waiting_for_the_migration_lock_outlasts_the_statement_timeout() {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let mut options = ConnectOptions::new(url.clone());
    options.max_connections(1);
    let other = Database::connect(options).await.expect("connect");
    let key = migration::workflow::MIGRATION_LOCK_KEY;
    other
        .execute_unprepared(&format!("SELECT pg_advisory_lock({key})"))
        .await
        .expect("lock");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        other
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({key})"))
            .await
            .expect("unlock");
        other.close().await.ok();
    });
    let started = Instant::now();
    let app = lorebase::startup::Application::build(config_for(&url, &[("PORT", "0")]))
        .await
        .expect("the server starts once the lock is free");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the server did not wait for the lock"
    );
    release.await.expect("released");
    drop(app);
    // Every revision was applied.
    let config = config_for(&url, &[]);
    let db = lorebase::migrate::connect(&config.database)
        .await
        .expect("connect");
    use migration::MigratorTrait;
    assert!(
        migration::Migrator::get_pending_migrations(&db)
            .await
            .expect("status")
            .is_empty()
    );
    // And `lorebase migrate` waits the same way.
    let other = Database::connect(url.as_str()).await.expect("connect");
    let txn_key = key;
    let holder = tokio::spawn(async move {
        use sea_orm::TransactionTrait;
        let txn = other.begin().await.expect("begin");
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({txn_key})"))
            .await
            .expect("lock");
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        txn.commit().await.expect("commit");
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    lorebase::migrate::run(&config.database, lorebase::migrate::up_all())
        .await
        .expect("migrate up waits for the lock");
    assert!(started.elapsed() >= Duration::from_secs(1), "did not wait");
    holder.await.expect("holder");
}

// ---------------------------------------------------------------------------------------
// The zero-setup default: the secret file, and security events in the log
// ---------------------------------------------------------------------------------------

struct Server {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    /// `lorebase` with no configuration at all in `dir`, logging at info.
    fn start(dir: &std::path::Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lorebase"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .current_dir(dir)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start lorebase");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self {
            child,
            port: 0,
            lines,
            seen: Vec::new(),
        };
        let line = server.wait_for("listening on http://");
        server.port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("port");
        server
    }

    /// The next log line containing `needle` (within 30 s).
    fn wait_for(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
        panic!(
            "no log line with {needle:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stop(mut self) -> Vec<String> {
        self.child.kill().ok();
        self.child.wait().ok();
        self.seen.extend(self.lines.try_iter());
        self.seen
    }
}

#[tokio::test]
async fn zero_setup_keeps_its_secret_in_a_private_file_and_logs_security_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("lorebase.jwt-secret");
    let client = reqwest::Client::new();

    let mut first = Server::start(dir.path());
    let line = first.wait_for("JWT_SECRET is not set");
    assert!(
        line.contains("lorebase.jwt-secret") && line.contains("generated"),
        "{line}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let email = "zero-setup@example.com";
    let password = "a long and unusual passphrase 42";
    let registered: Value = client
        .post(first.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let token = registered["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let user_id = registered["user"]["id"].as_str().expect("id").to_owned();
    let wrong = "wrong-password-that-must-never-be-logged";
    let reply = client
        .post(first.url(LOGIN))
        .json(&json!({"email": email, "password": wrong}))
        .send()
        .await
        .expect("login");
    assert_eq!(reply.status(), 401);
    first.wait_for(&format!("failed login: user {user_id}"));
    let first_log = first.stop();

    // Restarted: the same secret, so the token issued before still works.
    let mut second = Server::start(dir.path());
    let line = second.wait_for("JWT_SECRET is not set");
    assert!(
        line.contains("lorebase.jwt-secret") && line.contains("kept in"),
        "{line}"
    );
    let me = client
        .get(second.url(ME))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let new_password = "another long and unusual passphrase 43";
    let changed = client
        .put(second.url("/api/v1/users/me/password"))
        .bearer_auth(&token)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .expect("change");
    assert_eq!(changed.status(), 204);
    second.wait_for(&format!("password changed: user {user_id}"));
    let login: Value = client
        .post(second.url(LOGIN))
        .json(&json!({"email": email, "password": new_password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token");
    let deleted = client
        .delete(second.url(ME))
        .bearer_auth(token)
        .json(&json!({"password": new_password}))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    second.wait_for(&format!("account deleted: user {user_id}"));
    let log = [first_log, second.stop()].concat().join("\n");
    for secret in [wrong, password, new_password, token] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
    let key = std::fs::read_to_string(&secret_file).expect("secret");
    assert!(!log.contains(key.trim()), "the JWT secret reached the log");
}
