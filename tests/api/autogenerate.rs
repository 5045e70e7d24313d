//! The revision workflow as a developer runs it, in a copy of this repository and through
//! `cargo run -p migration`: generated revisions compile, apply, roll back and leave
//! `check` clean, and an edited revision is refused by `up`.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use migration::{Migrator, MigratorTrait};

use crate::helpers::{Backend, fresh_database};

/// The checkouts share one build directory (a cold one costs minutes), where a build of
/// one checkout's `migration` replaces the other's binary: one test with a checkout at a
/// time.
static ONE_CHECKOUT_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Checkout {
    root: tempfile::TempDir,
    target: PathBuf,
    database_url: String,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn expect_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{what}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The build directory the test binary sits in: `<target>/debug/deps/api-…`.
fn outer_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("target directory")
}

impl Checkout {
    /// Tracked and new (not ignored) files of this repository, copied to a temporary
    /// directory; builds go to a directory of their own beside this build's, because
    /// `cargo test` holds the lock on its own.
    fn new(database_url: String) -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let listed = Command::new("git")
            .args([
                "ls-files",
                "--cached",
                "--others",
                "--exclude-standard",
                "-z",
            ])
            .current_dir(repo)
            .output()
            .expect("git ls-files");
        assert!(listed.status.success(), "git ls-files failed");
        let root = tempfile::tempdir().expect("temporary directory");
        for path in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
            let relative = Path::new(std::str::from_utf8(path).expect("utf-8 path"));
            let from = repo.join(relative);
            if !from.is_file() {
                continue; // deleted in the working tree
            }
            let to = root.path().join(relative);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(&from, &to).expect("copy");
        }
        Self {
            root,
            target: outer_target_dir().join("autogenerate-checkout"),
            database_url,
        }
    }

    fn migration(&self, args: &[&str]) -> Run {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args(["run", "--quiet", "--locked", "-p", "migration", "--"])
            .args(args)
            .current_dir(self.root.path())
            .env("CARGO_TARGET_DIR", &self.target)
            .env("DATABASE_URL", &self.database_url)
            .env_remove("DATABASE_SCHEMA")
            .output()
            .expect("cargo run");
        Run::from(output)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn edit(&self, relative: &str, from: &str, to: &str) {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{relative} has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }

    /// The newest file in `migration/src` whose name ends in `_<name>.rs`.
    fn revision_file(&self, name: &str) -> String {
        let suffix = format!("_{name}.rs");
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.path("migration/src"))
            .expect("read migration/src")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(&suffix))
            .collect();
        found.sort();
        let file = found
            .pop()
            .unwrap_or_else(|| panic!("no revision *{suffix}"));
        std::fs::read_to_string(file).expect("read revision")
    }

    /// Takes the newest `count` revisions out of the code, as squashing them would.
    fn remove_newest_revisions(&self, count: usize) -> Vec<String> {
        let lib_path = self.path("migration/src/lib.rs");
        let lib = std::fs::read_to_string(&lib_path).expect("lib.rs");
        let mut names: Vec<String> = lib
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mod m"))
            .map(|rest| format!("m{}", rest.trim_end_matches(';')))
            .collect();
        let removed = names.split_off(names.len() - count);
        let kept: Vec<&str> = lib
            .lines()
            .filter(|line| !removed.iter().any(|name| line.contains(name.as_str())))
            .collect();
        std::fs::write(&lib_path, kept.join("\n") + "\n").expect("write lib.rs");
        for name in &removed {
            std::fs::remove_file(self.path(&format!("migration/src/{name}.rs"))).expect("rm");
        }
        removed
    }
}

#[tokio::test]
async fn autogenerated_revisions_compile_apply_roll_back_and_leave_check_clean() {
    let _one_at_a_time = ONE_CHECKOUT_AT_A_TIME.lock().await;
    let (url, _) = fresh_database(Backend::Postgres).await;
    let checkout = Checkout::new(url);
    checkout.migration(&["up"]).expect_code(0, "up");
    checkout
        .migration(&["check"])
        .expect_code(0, "check after up");

    // The revisions from the one creating `rate_limit_events` on rolled back and taken out
    // of the code: autogenerate writes one revision that puts back what they made and
    // `check` sees (the table; index settings and statistics targets are not compared).
    let newest = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name().ends_with("_create_rate_limit_events"))
        .expect("the revision creating rate_limit_events")
        + 1;
    let newest_text = newest.to_string();
    checkout
        .migration(&["down", "-n", &newest_text])
        .expect_code(0, "down to before rate_limit_events");
    let removed = checkout.remove_newest_revisions(newest);
    let drift = checkout.migration(&["check"]);
    drift.expect_code(1, "check sees the missing tables");
    assert!(
        drift
            .stdout
            .contains("table rate_limit_events: in the entities, missing")
    );
    checkout
        .migration(&["autogenerate", "recreate_auth_tables"])
        .expect_code(0, "autogenerate");
    let revision = checkout.revision_file("recreate_auth_tables");
    assert!(revision.contains(".create_table("), "{revision}");
    assert!(revision.contains(".drop_table("), "{revision}");
    checkout
        .migration(&["up"])
        .expect_code(0, "the generated revision compiles and applies");
    let clean = checkout.migration(&["check"]);
    clean.expect_code(0, "check after the generated revision");
    assert!(clean.stdout.contains("no differences"), "{}", clean.stdout);
    checkout
        .migration(&["down"])
        .expect_code(0, "the generated revision rolls back");
    checkout
        .migration(&["check"])
        .expect_code(1, "rolled back, the tables are missing again");
    checkout.migration(&["up"]).expect_code(0, "up again");
    assert_eq!(removed.len(), newest);

    // A column added to an entity: check names it, autogenerate adds it.
    checkout.edit(
        "entity/src/generated/world_elements.rs",
        "    pub updated_at: DateTimeWithTimeZone,\n",
        "    pub updated_at: DateTimeWithTimeZone,\n    pub lore_rank: Option<i32>,\n",
    );
    let drift = checkout.migration(&["check"]);
    drift.expect_code(1, "check sees the new field");
    assert_eq!(
        drift.stdout.trim(),
        "column world_elements.lore_rank: in the entities (integer NULL), missing from the database"
    );
    checkout
        .migration(&["autogenerate", "add_lore_rank"])
        .expect_code(0, "autogenerate");
    let revision = checkout.revision_file("add_lore_rank");
    assert!(
        revision.contains(r#".add_column(ColumnDef::new("lore_rank").integer().null())"#),
        "{revision}"
    );
    assert!(
        revision.contains(r#".drop_column("lore_rank")"#),
        "{revision}"
    );
    checkout
        .migration(&["up"])
        .expect_code(0, "apply add_lore_rank");
    checkout
        .migration(&["check"])
        .expect_code(0, "check after add_lore_rank");
    checkout
        .migration(&["down"])
        .expect_code(0, "roll back add_lore_rank");
    checkout.migration(&["up"]).expect_code(0, "apply it again");

    // An applied revision edited afterwards: up refuses it by name until accepted.
    let first = "m20261124_020001_create_users";
    checkout.edit(
        &format!("migration/src/{first}.rs"),
        "string_len(200)",
        "string_len(201)",
    );
    let refused = checkout.migration(&["up"]);
    refused.expect_code(2, "up refuses the edited revision");
    assert!(
        refused.stderr.contains(first) && refused.stderr.contains("changed"),
        "{}",
        refused.stderr
    );
    checkout
        .migration(&["up", "--accept-changed", first])
        .expect_code(0, "accepted");
}

/// Lock-safe revisions as a developer meets them: an index declared on an existing table
/// is autogenerated as `CREATE INDEX CONCURRENTLY` in a revision that runs outside a
/// transaction; `lint` rejects the same index built the blocking way; and `squash`
/// replaces the oldest revisions by one that fresh databases apply and migrated ones
/// (PostgreSQL and SQLite) take as applied.
#[tokio::test]
async fn concurrent_index_revisions_lint_and_squash() {
    let _one_at_a_time = ONE_CHECKOUT_AT_A_TIME.lock().await;
    let (url, _) = fresh_database(Backend::Postgres).await;
    let (sqlite_url, _sqlite_dir) = fresh_database(Backend::Sqlite).await;
    let checkout = Checkout::new(url);
    checkout.migration(&["up"]).expect_code(0, "up");
    checkout
        .migration(&["-u", &sqlite_url, "up"])
        .expect_code(0, "up on SQLite");
    let newest = Migrator::migrations()
        .last()
        .expect("revisions")
        .name()
        .to_owned();

    // A new index on `worlds`, which has rows in production.
    checkout.edit(
        "entity/src/schema.rs",
        "pub const DECLARED_INDEXES: &[DeclaredIndex] = &[\n",
        "pub const DECLARED_INDEXES: &[DeclaredIndex] = &[\n    btree(\"worlds\", \"worlds_name_idx\", &[\"name\"]),\n",
    );
    let drift = checkout.migration(&["check"]);
    drift.expect_code(1, "check sees the new index");
    assert!(
        drift.stdout.contains("index worlds_name_idx"),
        "{}",
        drift.stdout
    );
    let generated = checkout.migration(&["autogenerate", "worlds_name_idx"]);
    generated.expect_code(0, "autogenerate");
    assert!(!generated.stdout.contains("lint:"), "{}", generated.stdout);
    let revision = checkout.revision_file("worlds_name_idx");
    assert!(revision.contains("Some(false)"), "{revision}");
    assert!(revision.contains("CONCURRENTLY"), "{revision}");

    let sql = checkout.migration(&["sql", "--from", &newest]);
    sql.expect_code(0, "sql");
    // The script runs as `psql -f` runs it, one statement at a time, on a database at
    // `newest`: the index revision outside a transaction, recorded like `up` records it.
    let (script_url, _) = fresh_database(Backend::Postgres).await;
    let by_script = crate::workflow::single_connection(&script_url).await;
    Migrator::up(&by_script, None).await.expect("up to newest");
    crate::workflow::run_script(&by_script, &sql.stdout).await;
    by_script.close().await.ok();
    checkout
        .migration(&["-u", &script_url, "check"])
        .expect_code(0, "check after running the sql script");
    assert!(
        sql.stdout.contains(", outside a transaction)\nCREATE INDEX CONCURRENTLY \"worlds_name_idx\" ON \"worlds\" (\"name\");\nINSERT INTO"),
        "{}",
        sql.stdout
    );
    assert!(!sql.stdout.contains("BEGIN;"), "{}", sql.stdout);
    checkout
        .migration(&["lint"])
        .expect_code(0, "the safe revision passes lint");

    // The same index built the blocking way: lint names the rule, the revision and a fix.
    let file = std::fs::read_dir(checkout.path("migration/src"))
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("_worlds_name_idx.rs"))
        .expect("the generated file");
    let safe = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, safe.replace("{concurrently}", "")).expect("write");
    let flagged = checkout.migration(&["lint"]);
    flagged.expect_code(1, "lint rejects a blocking index build");
    assert!(
        flagged
            .stdout
            .contains("error[index-without-concurrently] m")
            && flagged
                .stdout
                .contains("_worlds_name_idx: builds an index on table worlds")
            && flagged.stdout.contains("fix: CREATE INDEX CONCURRENTLY"),
        "{}",
        flagged.stdout
    );
    let json = checkout.migration(&["lint", "--format", "json"]);
    json.expect_code(1, "lint --format json");
    let findings: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert!(
        findings
            .as_array()
            .expect("a list")
            .iter()
            .any(|f| f["rule"] == "index-without-concurrently"
                && f["severity"] == "error"
                && f["accepted"] == false),
        "{findings}"
    );
    std::fs::write(&file, &safe).expect("restore");

    checkout
        .migration(&["up"])
        .expect_code(0, "CREATE INDEX CONCURRENTLY runs outside a transaction");
    checkout
        .migration(&["check"])
        .expect_code(0, "check after the index revision");
    checkout
        .migration(&["down"])
        .expect_code(0, "DROP INDEX CONCURRENTLY on the way down");
    checkout.migration(&["up"]).expect_code(0, "up again");
    checkout
        .migration(&["-u", &sqlite_url, "up"])
        .expect_code(0, "the index revision on SQLite");

    // Squash the first eight revisions: migrated databases keep working...
    let to = Migrator::migrations()[7].name().to_owned();
    let squashed = checkout.migration(&["squash", "--to", &to, "base"]);
    squashed.expect_code(0, "squash");
    let base = format!("{}base", &to[..17]);
    let base_text = checkout.revision_file("base");
    assert!(base_text.contains("pub const REPLACES"), "{base_text}");
    let adopted = checkout.migration(&["up"]);
    adopted.expect_code(0, "up after the squash on the migrated database");
    assert!(
        adopted
            .stdout
            .contains(&format!("{base} replaces 8 applied revisions")),
        "{}",
        adopted.stdout
    );
    checkout
        .migration(&["check"])
        .expect_code(0, "check after the squash");
    checkout
        .migration(&["-u", &sqlite_url, "up"])
        .expect_code(0, "up after the squash on SQLite");
    checkout
        .migration(&["-u", &sqlite_url, "status"])
        .expect_code(0, "status after the squash on SQLite");

    // ... and fresh ones apply the squashed revision.
    let (fresh_url, _) = fresh_database(Backend::Postgres).await;
    checkout
        .migration(&["-u", &fresh_url, "up"])
        .expect_code(0, "a fresh PostgreSQL database applies the squash");
    checkout
        .migration(&["-u", &fresh_url, "check"])
        .expect_code(0, "and matches the entities");
    let (fresh_sqlite, _fresh_dir) = fresh_database(Backend::Sqlite).await;
    checkout
        .migration(&["-u", &fresh_sqlite, "up"])
        .expect_code(0, "a fresh SQLite database applies the squash");
    checkout
        .migration(&["-u", &fresh_sqlite, "down", "-n", "100"])
        .expect_code(0, "and rolls everything back");
}

/// Batch mode on SQLite: a NOT NULL change, a dropped column and a new CHECK, which
/// SQLite's `ALTER TABLE` cannot make, are autogenerated as table rebuilds that keep the
/// rows (and the rows of child tables, which a DROP TABLE with foreign keys on would
/// delete), leave `check` clean, and roll back.
#[tokio::test]
async fn autogenerate_on_sqlite_rebuilds_the_tables_it_cannot_alter() {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    let _one_at_a_time = ONE_CHECKOUT_AT_A_TIME.lock().await;
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let checkout = Checkout::new(url.clone());
    checkout.migration(&["up"]).expect_code(0, "up on SQLite");
    checkout
        .migration(&["check"])
        .expect_code(0, "check on SQLite after up");

    let db = Database::connect(url.as_str()).await.expect("connect");
    for sql in [
        "INSERT INTO users (id, email, password_hash) VALUES ('u1', 'a@example.com', 'x')",
        "INSERT INTO worlds (id, owner_id, name, description) VALUES ('w1', 'u1', 'Arda', 'old')",
        "INSERT INTO webhooks (id, world_id, url, events, description, secret, active, \
         created_at, updated_at) VALUES ('h1', 'w1', 'http://x', '[]', 'd', 's', 1, \
         '2026-01-01', '2026-01-01')",
        "INSERT INTO webhook_deliveries (id, world_id, webhook_id, seq, attempt, duration_ms, \
         at) VALUES ('d1', 'w1', 'h1', 1, 1, 5, '2026-01-01')",
    ] {
        db.execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let count = async |table: &str| -> i64 {
        db.query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get("", "n")
        .expect("n")
    };

    checkout.edit(
        "entity/src/generated/worlds.rs",
        "    #[sea_orm(column_type = \"Text\", nullable)]\n    pub description: Option<String>,",
        "    #[sea_orm(column_type = \"Text\")]\n    pub description: String,",
    );
    checkout.edit(
        "entity/src/generated/webhooks.rs",
        "    #[sea_orm(column_type = \"Text\", nullable)]\n    pub description: Option<String>,\n",
        "",
    );
    checkout.edit(
        "entity/src/schema.rs",
        "pub const DECLARED_CHECKS: &[DeclaredCheck] = &[];",
        "pub const DECLARED_CHECKS: &[DeclaredCheck] = &[DeclaredCheck {\n    table: \"worlds\",\n    name: \"worlds_name_present\",\n    expression: \"length(name) > 0\",\n}];",
    );
    let expected_drift = "column webhooks.description: in the database (text NULL), not in the entities\n\
         column worlds.description: NULL in the database, NOT NULL in the entities\n\
         CHECK (length(name) > 0) on worlds: in the entities, missing from the database";
    let drift = checkout.migration(&["check"]);
    drift.expect_code(1, "check on SQLite sees the three changes");
    assert_eq!(drift.stdout.trim(), expected_drift);

    checkout
        .migration(&["autogenerate", "sqlite_rebuilds"])
        .expect_code(0, "autogenerate on SQLite");
    let revision = checkout.revision_file("sqlite_rebuilds");
    for expected in [
        "crate::schema_util::rebuild_sqlite_table(",
        "CREATE TABLE \\\"_new_worlds\\\"",
        "CREATE TABLE \\\"_new_webhooks\\\"",
        "CONSTRAINT \\\"worlds_name_present\\\" CHECK (length(name) > 0)",
        // PostgreSQL alters in place.
        ".drop_column(\"description\")",
        "ADD CONSTRAINT \\\"worlds_name_present\\\" CHECK (length(name) > 0) NOT VALID",
    ] {
        assert!(
            revision.contains(expected),
            "no `{expected}` in\n{revision}"
        );
    }
    checkout
        .migration(&["up"])
        .expect_code(0, "the rebuilds apply on SQLite");
    let clean = checkout.migration(&["check"]);
    clean.expect_code(0, "check after the rebuilds");
    assert!(clean.stdout.contains("no differences"), "{}", clean.stdout);
    for table in ["worlds", "webhooks", "webhook_deliveries"] {
        assert_eq!(count(table).await, 1, "rows of {table} after the rebuild");
    }
    let refused = db
        .execute_unprepared(
            "INSERT INTO worlds (id, owner_id, name, description) VALUES ('w2', 'u1', '', 'x')",
        )
        .await
        .expect_err("the new CHECK holds");
    assert!(refused.to_string().contains("CHECK"), "{refused}");
    let orphan = db
        .execute_unprepared(
            "INSERT INTO webhooks (id, world_id, url, events, secret, active, created_at, \
             updated_at) VALUES ('h2', 'nowhere', 'http://x', '[]', 's', 1, 'a', 'a')",
        )
        .await
        .expect_err("the rebuilt table keeps its foreign key");
    assert!(orphan.to_string().contains("FOREIGN KEY"), "{orphan}");

    checkout
        .migration(&["down"])
        .expect_code(0, "the rebuilds roll back");
    let drift = checkout.migration(&["check"]);
    drift.expect_code(1, "rolled back, the differences are back");
    let pending = drift.stdout.lines().next().unwrap_or_default();
    assert!(
        pending.starts_with("revision m")
            && pending.ends_with("_sqlite_rebuilds: in the code, not applied (pending)"),
        "{}",
        drift.stdout
    );
    assert_eq!(
        drift.stdout.trim().split_once('\n').map(|(_, rest)| rest),
        Some(expected_drift)
    );
    for table in ["worlds", "webhooks", "webhook_deliveries"] {
        assert_eq!(count(table).await, 1, "rows of {table} after the rollback");
    }
    checkout.migration(&["up"]).expect_code(0, "up again");
    db.close().await.ok();
}
