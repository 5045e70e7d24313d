//! The `lorebase` binary itself: configuration errors, `migrate`, and a zero-setup serve.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Backend, fresh_database};

fn lorebase() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lorebase"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (variable, value) in [("PORT", "eighty"), ("DATABASE_URL", "mysql://localhost/x")] {
        let output = lorebase()
            .current_dir(dir.path())
            .env(variable, value)
            .output()
            .expect("run lorebase");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
    }
}

#[test]
fn postgres_without_a_jwt_secret_refuses_to_start() {
    let output = lorebase()
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .output()
        .expect("run lorebase");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET"));
}

#[tokio::test]
async fn migrate_subcommands_work_on_both_backends() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let (url, _dir) = fresh_database(backend).await;
        let run = |args: &[&str]| {
            let output = lorebase()
                .env("DATABASE_URL", &url)
                .args(args)
                .output()
                .expect("run lorebase");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "lorebase {args:?} failed: {text}");
            text
        };
        run(&["migrate", "up"]);
        assert!(!run(&["migrate", "status"]).contains("Pending"));
        run(&["migrate", "down", "-n", "1"]);
        assert!(run(&["migrate", "status"]).contains("Pending"));
        run(&["migrate", "fresh"]);
        run(&["migrate", "refresh"]);
        run(&["migrate", "reset"]);
        run(&["migrate"]);
        assert!(!run(&["migrate", "status"]).contains("Pending"));
    }
}

#[tokio::test]
async fn serves_on_the_default_sqlite_file_with_no_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = lorebase()
        .current_dir(dir.path())
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lorebase");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut port = None;
    let mut warned = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        warned |= line.contains("JWT_SECRET is not set");
        if let Some(address) = line.split("listening on http://").nth(1) {
            port = address
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse::<u16>().ok());
            break;
        }
    }
    let port = port.expect("server reported its address");
    assert!(warned, "no warning about the generated JWT secret");
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let response = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
    }
    assert!(
        dir.path().join("lorebase.db").exists(),
        "the default SQLite file was not created"
    );
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test]
async fn migrate_check_exits_one_on_drift_and_sql_needs_no_database() {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let run = |args: &[&str]| {
        lorebase()
            .env("DATABASE_URL", &url)
            .env("JWT_SECRET", crate::helpers::JWT_SECRET)
            .args(args)
            .output()
            .expect("run lorebase")
    };
    assert!(run(&["migrate", "up"]).status.success());
    let clean = run(&["migrate", "check"]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("no differences"));

    let db = sea_orm::Database::connect(&url).await.expect("connect");
    sea_orm::ConnectionTrait::execute_unprepared(&db, "ALTER TABLE worlds ADD COLUMN motto text")
        .await
        .expect("alter");
    let drift = run(&["migrate", "check"]);
    assert_eq!(drift.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&drift.stdout).trim(),
        "column worlds.motto: in the database (text NULL), not in the entities"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let offline = lorebase()
        .current_dir(dir.path())
        .args(["migrate", "sql"])
        .output()
        .expect("run lorebase");
    assert!(offline.status.success());
    let script = String::from_utf8_lossy(&offline.stdout);
    assert!(script.contains("CREATE TABLE \"users\""), "{script}");
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "sql touched no database file"
    );
}
