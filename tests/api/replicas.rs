//! Reads from a streaming replica (`DATABASE_READ_URL`) and the `Lorebase-Consistency`
//! token: a client that sends the token back always reads its own writes.
//!
//! The PostgreSQL test runs a real primary and a real streaming replica made with
//! `pg_basebackup` (`scripts/pg-replica-pair.sh`), and makes the replica lag by pausing
//! its replay. If the pair cannot be started the test fails: it never passes by skipping.
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

use crate::helpers::elements_path;
use crate::helpers::{Backend, Reply, TestApp, spawn_app_on};
use crate::on_both_backends;

const WORLDS: &str = "/api/v1/worlds";

const CONSISTENCY: &str = "lorebase-consistency";

/// A primary and its replica on loopback; stopped (data removed) when dropped.
struct ReplicaPair {
    ports: (u16, u16),
    primary_url: String,
    replica_url: String,
}

fn script() -> String {
    format!("{}/scripts/pg-replica-pair.sh", env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

impl ReplicaPair {
    fn start() -> Self {
        let ports = (free_port(), free_port());
        let output = Command::new("timeout")
            .args(["180", &script(), "start"])
            .args([ports.0.to_string(), ports.1.to_string()])
            .output()
            .expect("scripts/pg-replica-pair.sh runs");
        assert!(
            output.status.success(),
            "the primary and replica could not be started (this test needs PostgreSQL's server \
             binaries with pg_basebackup, see scripts/pg-replica-pair.sh): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let urls: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("postgres"))
            .collect();
        assert_eq!(urls.len(), 2, "two URLs expected: {stdout}");
        ReplicaPair {
            ports,
            primary_url: urls[0].to_owned(),
            replica_url: urls[1].to_owned(),
        }
    }

    fn stop_replica(&self) {
        let status = Command::new("timeout")
            .args(["60", &script(), "stop-replica", &self.ports.1.to_string()])
            .status()
            .expect("scripts/pg-replica-pair.sh runs");
        assert!(status.success(), "the replica did not stop");
    }
}

impl Drop for ReplicaPair {
    fn drop(&mut self) {
        let _ = Command::new("timeout")
            .args(["60", &script(), "stop"])
            .args([self.ports.0.to_string(), self.ports.1.to_string()])
            .status();
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    consistency: Option<&str>,
) -> Reply {
    let headers: Vec<(&str, &str)> = consistency.map(|c| (CONSISTENCY, c)).into_iter().collect();
    app.send_with(method, path, Some(token), None, &headers)
        .await
}

async fn position(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            sql,
        ))
        .await
        .expect("query runs")
        .expect("one row");
    row.try_get("", "lsn").expect("an LSN")
}

/// Waits until the replica has replayed up to `token` (compared by PostgreSQL).
async fn wait_for_replay(replica: &DatabaseConnection, token: &str) {
    let started = Instant::now();
    loop {
        let caught_up = position(
            replica,
            &format!("SELECT (pg_last_wal_replay_lsn() >= '{token}'::pg_lsn)::text AS lsn"),
        )
        .await;
        if caught_up == "true" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica did not replay up to {token} in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_the_token_back_always_reads_its_own_writes() {
    let pair = ReplicaPair::start();
    let app = spawn_app_on(
        Backend::Postgres,
        pair.primary_url.clone(),
        None,
        &[("DATABASE_READ_URL", pair.replica_url.as_str())],
    )
    .await;
    let replica = Database::connect(&pair.replica_url)
        .await
        .expect("connect to the replica");

    let owner = app.register("reader").await;
    let token = owner.access_token.as_str();
    let world = app
        .post(WORLDS, Some(token), json!({"name": "Replicated"}))
        .await;
    world.assert_status(201);
    let world_id = world.json()["id"].as_str().expect("world id").to_owned();
    let world_token = world
        .header(CONSISTENCY)
        .expect("a write answer carries Lorebase-Consistency")
        .to_owned();
    wait_for_replay(&replica, &world_token).await;

    // The replica lags: it receives WAL but replays none of it.
    replica
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let created = app
        .post(
            &elements_path(&world_id),
            Some(token),
            json!({"kind": "character", "name": "Ada"}),
        )
        .await;
    created.assert_status(201);
    let written = created.header(CONSISTENCY).expect("token").to_owned();
    let element_path = format!(
        "/api/v1/worlds/{world_id}/elements/{}",
        created.json()["id"].as_str().expect("element id")
    );
    let list_path = elements_path(&world_id);

    // Without the token a stale read is allowed: the replica has not seen the element.
    send(&app, Method::GET, &element_path, token, None)
        .await
        .assert_problem(404, "not-found");
    let stale_list = send(&app, Method::GET, &list_path, token, None).await;
    assert_eq!(stale_list.assert_status(200).json_items(), 0);

    // With it, the read sees the write: the replica is behind, so the primary serves it.
    let own = send(&app, Method::GET, &element_path, token, Some(&written)).await;
    assert_eq!(own.assert_status(200).json()["name"], "Ada");
    let own_list = send(&app, Method::GET, &list_path, token, Some(&written)).await;
    assert_eq!(own_list.assert_status(200).json_items(), 1);

    // Each write's own token covers it, a change as much as a creation.
    let changed = app
        .if_match(
            Method::PATCH,
            &element_path,
            token,
            Some(&json!({"name": "Ada Lovelace"})),
            own.header("etag").expect("ETag"),
        )
        .await;
    changed.assert_status(200);
    let rewritten = changed.header(CONSISTENCY).expect("token").to_owned();
    assert!(
        lsn(&rewritten) > lsn(&written),
        "{rewritten} follows {written}"
    );
    let own = send(&app, Method::GET, &element_path, token, Some(&rewritten)).await;
    assert_eq!(own.assert_status(200).json()["name"], "Ada Lovelace");
    send(&app, Method::GET, &element_path, token, None)
        .await
        .assert_problem(404, "not-found");

    // Once replay goes on, the replica serves the token's reads and stale reads catch up.
    replica
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    wait_for_replay(&replica, &rewritten).await;
    let caught_up = send(&app, Method::GET, &element_path, token, None).await;
    assert_eq!(caught_up.assert_status(200).json()["name"], "Ada Lovelace");
    let before = replica_reads(&app).await;
    send(&app, Method::GET, &element_path, token, Some(&rewritten))
        .await
        .assert_status(200);
    assert_eq!(
        replica_reads(&app).await,
        before + 1.0,
        "a token the replica has replayed past is served by the replica"
    );

    // A stopped replica: reads fall back to the primary, without an error.
    drop(replica);
    pair.stop_replica();
    for consistency in [None, Some(rewritten.as_str())] {
        for _ in 0..5 {
            let read = send(&app, Method::GET, &element_path, token, consistency).await;
            assert_eq!(read.assert_status(200).json()["name"], "Ada Lovelace");
        }
    }
}

/// `lorebase_reads_total{target="replica"}`, summed over `why`: only this test's server
/// has a replica, and the recorder is the process's.
async fn replica_reads(app: &TestApp) -> f64 {
    let text = app.get("/metrics", None).await.text;
    text.lines()
        .filter(|line| {
            line.starts_with("lorebase_reads_total{") && line.contains("target=\"replica\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn lsn(token: &str) -> u64 {
    let (high, low) = token.split_once('/').expect("an LSN");
    (u64::from_str_radix(high, 16).expect("hex") << 32) | u64::from_str_radix(low, 16).expect("hex")
}

trait Items {
    fn json_items(&self) -> usize;
}

impl Items for Reply {
    fn json_items(&self) -> usize {
        self.json()["items"].as_array().map_or(0, Vec::len)
    }
}

/// Without a replica: on PostgreSQL write answers carry the token and reads accept it; on
/// SQLite (no replicas) there is no token. Everywhere a malformed one is 400.
async fn the_token_without_a_replica(app: TestApp) {
    let owner = app.register("single").await;
    let token = owner.access_token.as_str();
    let world = app
        .post(WORLDS, Some(token), json!({"name": "Alone"}))
        .await;
    world.assert_status(201);
    let consistency = world.header(CONSISTENCY).map(str::to_owned);
    match app.backend {
        Backend::Postgres => {
            let value = consistency.clone().expect("a token on PostgreSQL");
            assert!(lsn(&value) > 0, "{value}");
        }
        Backend::Sqlite => assert_eq!(consistency, None),
    }
    let world_path = format!(
        "/api/v1/worlds/{}",
        world.json()["id"].as_str().expect("id")
    );
    // Failed writes carry none.
    let refused = app
        .post("/api/v1/worlds", Some(token), json!({"name": ""}))
        .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(refused.header(CONSISTENCY), None);

    let read = send(&app, Method::GET, &world_path, token, Some("0/16B3740")).await;
    assert_eq!(read.assert_status(200).json()["name"], "Alone");
    if let Some(own) = &consistency {
        send(&app, Method::GET, &world_path, token, Some(own))
            .await
            .assert_status(200);
    }
    // A missing credential is reported before a malformed token.
    app.send_with(
        Method::GET,
        "/api/v1/worlds",
        None,
        None,
        &[(CONSISTENCY, "null")],
    )
    .await
    .assert_problem(401, "unauthorized");
    for malformed in ["yesterday", "0/", "1/2/3", "123456789/0", "0/xyz", "null"] {
        let reply = send(&app, Method::GET, &world_path, token, Some(malformed)).await;
        let problem: Value = reply.assert_problem(400, "bad-request");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Lorebase-Consistency")),
            "{problem}"
        );
    }
}

on_both_backends!(the_token_without_a_replica);
