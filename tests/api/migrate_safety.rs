//! The migration workflow past `check`: `up --to`, `down --to` and `stamp` on both
//! backends; `lock_timeout` around every revision; `lint` over the committed revisions;
//! CHECK constraints in `check`; the README's ER diagram against the live schema.
use std::time::{Duration, Instant};

use migration::workflow::{self, Command, Verdict};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use crate::helpers::{Backend, fresh_database};
use crate::workflow::{exec, migrated_on, names, single_connection, up};

async fn applied(db: &DatabaseConnection) -> Vec<String> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(
        backend,
        "SELECT version FROM seaql_migrations ORDER BY version",
    ))
    .await
    .expect("seaql_migrations")
    .iter()
    .map(|row| row.try_get::<String>("", "version").expect("version"))
    .collect()
}

async fn has_table(db: &DatabaseConnection, table: &str) -> bool {
    sea_orm_migration::SchemaManager::new(db)
        .has_table(table)
        .await
        .expect("has_table")
}

async fn run(db: &DatabaseConnection, command: Command) -> Result<Verdict, String> {
    workflow::run(db, command).await.map_err(|e| e.to_string())
}

fn up_to(revision: &str) -> Command {
    Command::Up {
        num: None,
        to: Some(revision.to_owned()),
        accept_changed: Vec::new(),
    }
}

fn down_to(revision: &str) -> Command {
    Command::Down {
        num: 1,
        to: Some(revision.to_owned()),
    }
}

#[tokio::test]
async fn up_to_and_down_to_stop_at_the_named_revision() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let (url, _dir) = fresh_database(backend).await;
        let db = single_connection(&url).await;
        let names = names();

        assert_eq!(run(&db, up_to(&names[5])).await, Ok(Verdict::Done));
        assert_eq!(applied(&db).await, names[..6], "{backend:?}");
        assert!(has_table(&db, "sessions").await);
        assert!(!has_table(&db, "refresh_tokens").await);
        // Already there: nothing to do.
        assert_eq!(run(&db, up_to(&names[3])).await, Ok(Verdict::Done));
        assert_eq!(applied(&db).await, names[..6]);

        assert_eq!(run(&db, down_to(&names[2])).await, Ok(Verdict::Done));
        assert_eq!(applied(&db).await, names[..3], "{backend:?}");
        assert!(!has_table(&db, "world_elements").await);
        let refused = run(&db, down_to(&names[4])).await.expect_err("not applied");
        assert!(refused.contains("not applied"), "{refused}");
        let unknown = run(&db, up_to("m20200101_000000_nothing"))
            .await
            .expect_err("no such revision");
        assert!(unknown.contains("no revision named"), "{unknown}");

        assert_eq!(up(&db, &[]).await, Ok(Verdict::Done));
        assert_eq!(applied(&db).await, names);
    }
}

#[tokio::test]
async fn stamp_records_revisions_as_applied_without_running_them() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        // A database that has never been migrated: stamp writes the bookkeeping only.
        let (url, _dir) = fresh_database(backend).await;
        let db = single_connection(&url).await;
        let names = names();
        let stamp = |revision: &str| Command::Stamp {
            revision: revision.to_owned(),
        };
        assert_eq!(run(&db, stamp(&names[2])).await, Ok(Verdict::Done));
        assert_eq!(applied(&db).await, names[..3], "{backend:?}");
        assert!(!has_table(&db, "users").await, "stamp ran a revision");

        // Adopting a database whose schema exists but whose bookkeeping was lost.
        let (url, _dir2, migrated) = migrated_on(backend).await;
        exec(&migrated, "DELETE FROM seaql_migrations").await;
        let newest = names.last().expect("revisions").clone();
        assert_eq!(run(&migrated, stamp(&newest)).await, Ok(Verdict::Done));
        assert_eq!(applied(&migrated).await, names);
        assert_eq!(up(&migrated, &[]).await, Ok(Verdict::Done), "{url}");
        let checksums = migrated
            .query_one_raw(Statement::from_string(
                backend_of(backend),
                "SELECT count(*) AS missing FROM seaql_migrations WHERE checksum IS NULL",
            ))
            .await
            .expect("count")
            .expect("row");
        assert_eq!(checksums.try_get::<i64>("", "missing").ok(), Some(0));

        // Stamping back: the later revisions are recorded as not applied, nothing dropped.
        assert_eq!(run(&migrated, stamp(&names[1])).await, Ok(Verdict::Done));
        assert_eq!(applied(&migrated).await, names[..2]);
        assert!(has_table(&migrated, "world_elements").await);
    }
}

fn backend_of(backend: Backend) -> DbBackend {
    match backend {
        Backend::Postgres => DbBackend::Postgres,
        Backend::Sqlite => DbBackend::Sqlite,
    }
}

/// A revision that waits for a lock gives up after `MIGRATION_LOCK_TIMEOUT_SECS` (5 s by
/// default) instead of queueing every query on the table behind itself.
#[tokio::test]
async fn a_revision_waiting_for_a_lock_gives_up_at_the_lock_timeout() {
    let (url, _, db) = migrated_on(Backend::Postgres).await;
    let names = names();
    let altering = names
        .iter()
        .position(|n| n.ends_with("_worlds_kinds_version"))
        .expect("the revision altering worlds");
    assert_eq!(
        run(&db, down_to(&names[altering - 1])).await,
        Ok(Verdict::Done)
    );

    // A long reader of `worlds`: ALTER TABLE must wait for it.
    let reader = single_connection(&url).await;
    let open = reader.begin().await.expect("begin");
    open.execute_unprepared("LOCK TABLE worlds IN ACCESS SHARE MODE")
        .await
        .expect("lock");
    let started = Instant::now();
    let refused = up(&db, &[]).await.expect_err("the lock is held");
    let waited = started.elapsed();
    assert!(refused.contains("lock timeout"), "{refused}");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(30),
        "waited {waited:?}"
    );
    assert_eq!(applied(&db).await, names[..altering]);

    open.rollback().await.expect("release");
    assert_eq!(up(&db, &[]).await, Ok(Verdict::Done));
    assert_eq!(applied(&db).await, names);
    let timeout = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('lock_timeout') AS value",
        ))
        .await
        .expect("show")
        .expect("row");
    assert_eq!(
        timeout.try_get::<String>("", "value").ok().as_deref(),
        Some("0"),
        "the session's setting is reset after the command"
    );
}

#[tokio::test]
async fn sql_sets_the_lock_timeout_before_the_revisions() {
    let script = workflow::sql(None, None, false).await.expect("sql");
    let set = script
        .find("SET lock_timeout = '5s';")
        .expect("SET lock_timeout");
    let first = script.find("BEGIN;").expect("a revision");
    assert!(set < first, "{script}");
}

/// Every committed revision passes `lint`, or its finding is in `lint-accepted.txt`;
/// the findings name their rule, revision and fix.
#[tokio::test]
async fn committed_revisions_pass_lint_or_are_accepted() {
    let findings = workflow::lint_report(&[]).await.expect("lint");
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.line())
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    for finding in &findings {
        assert!(finding.accepted, "{}", finding.line());
        assert!(!finding.fix.is_empty());
    }
    let verdict = workflow::run_offline(Command::Lint {
        revisions: Vec::new(),
        format: workflow::LintFormat::Json,
    })
    .await
    .expect("lint runs offline");
    assert!(matches!(verdict, Ok(Verdict::Done)));
}

#[tokio::test]
async fn lint_reads_each_revision_as_postgres_renders_it() {
    let revisions = workflow::postgres_revisions().await.expect("render");
    assert_eq!(revisions.len(), Migrator::migrations().len());
    let mut unsafe_revision = revisions;
    let last = unsafe_revision.last().expect("revisions").name.clone();
    unsafe_revision.push(workflow::lint::RevisionSql {
        name: "m20991231_000000_unsafe".into(),
        statements: vec![
            r#"CREATE INDEX "worlds_name_idx" ON "worlds" ("name")"#.into(),
            r#"ALTER TABLE "users" ALTER COLUMN "email" TYPE varchar(10)"#.into(),
        ],
    });
    let findings = workflow::lint::lint(
        &unsafe_revision,
        Some(&["m20991231_000000_unsafe".to_owned(), last]),
        5,
        &workflow::lint::Accepted::default(),
    );
    let rules: Vec<&str> = findings
        .iter()
        .filter(|f| f.revision == "m20991231_000000_unsafe")
        .map(|f| f.rule)
        .collect();
    // `users.email` is `varchar(320)` in the revision that made it: 10 narrows it.
    assert_eq!(
        rules,
        [
            "index-without-concurrently",
            "narrowing-type",
            "type-change-rewrites-table"
        ]
    );
}

#[tokio::test]
async fn check_compares_check_constraints() {
    let (_, _, db) = migrated_on(Backend::Postgres).await;
    exec(
        &db,
        "ALTER TABLE worlds ADD CONSTRAINT worlds_name_present CHECK (length(name) > 0)",
    )
    .await;
    assert_eq!(
        workflow::check_report(&db).await.expect("check"),
        vec![
            "worlds_name_present CHECK ((length((name)::text) > 0)) on worlds: in the database, not in the entities"
        ]
    );
}

fn readme_diagram() -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("<!-- erd:start -->")
        .expect("the README's erd:start marker");
    let end = readme.find("<!-- erd:end -->").expect("erd:end marker");
    let block = &readme[start..end];
    let body = block
        .split_once("```mermaid\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(body, _)| body)
        .expect("a mermaid block between the markers");
    body.to_owned()
}

#[tokio::test]
async fn readme_er_diagram_is_the_migrated_schema() {
    let (_, _, db) = migrated_on(Backend::Postgres).await;
    let diagram = workflow::mermaid_of_database(&db).await.expect("erd");
    assert!(diagram.starts_with("erDiagram\n"), "{diagram}");
    assert!(
        diagram.contains("    worlds }o--|| users : \"owner_id\""),
        "{diagram}"
    );
    assert!(diagram.contains("        uuid id PK"), "{diagram}");
    assert_eq!(
        readme_diagram(),
        diagram,
        "the README's diagram is stale: run scripts/regen-erd.sh"
    );
}

/// A revision set of its own for the lock tests: a table with rows, then an index built
/// `CONCURRENTLY` outside a transaction, recorded in a bookkeeping table of its own.
mod concurrent_index {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::sea_orm::ConnectionTrait;

    pub struct Migrator;

    struct CreateTable;
    struct BuildIndex;

    impl MigrationName for CreateTable {
        fn name(&self) -> &str {
            "m20990101_000001_lock_probe"
        }
    }

    impl MigrationName for BuildIndex {
        fn name(&self) -> &str {
            "m20990101_000002_lock_probe_name_idx"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CreateTable {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            let db = manager.get_connection();
            db.execute_unprepared("CREATE TABLE lock_probe (id integer PRIMARY KEY, name text)")
                .await?;
            db.execute_unprepared(
                "INSERT INTO lock_probe SELECT i, md5(i::text) FROM generate_series(1, 5000) i",
            )
            .await?;
            // Holds the lock long enough for every other migrator to be waiting for it
            // when the next revision builds its index.
            db.execute_unprepared("SELECT pg_sleep(1)").await?;
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for BuildIndex {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX CONCURRENTLY lock_probe_name_idx ON lock_probe (name)",
                )
                .await?;
            Ok(())
        }

        fn use_transaction(&self) -> Option<bool> {
            Some(false)
        }
    }

    impl MigratorTrait for Migrator {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(CreateTable), Box::new(BuildIndex)]
        }

        fn migration_table_name() -> DynIden {
            "lock_probe_migrations".into_iden()
        }
    }
}

async fn migrate_probe(url: String) -> Result<(), String> {
    let db = single_connection(&url).await;
    let outcome = workflow::with_migration_lock(&db, async || {
        <concurrent_index::Migrator as MigratorTrait>::up(&db, None)
            .await
            .map_err(workflow::WorkflowError::from)
    })
    .await;
    db.close().await.ok();
    outcome.map_err(|e| e.to_string())
}

/// Servers starting at once while the pending revisions include `CREATE INDEX
/// CONCURRENTLY`: the ones waiting for the migration lock hold no snapshot the index build
/// must wait for, so nobody deadlocks and each revision is applied once.
#[tokio::test]
async fn migrators_waiting_for_the_lock_do_not_deadlock_a_concurrent_index_build() {
    let (url, _) = fresh_database(Backend::Postgres).await;
    let migrators = (0..4).map(|_| migrate_probe(url.clone()));
    for outcome in futures_util::future::join_all(migrators).await {
        assert_eq!(outcome, Ok(()));
    }
    let db = single_connection(&url).await;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT (SELECT count(*) FROM lock_probe_migrations) AS applied, \
                    (SELECT count(DISTINCT version) FROM lock_probe_migrations) AS distinct_versions, \
                    (SELECT bool_and(indisvalid) FROM pg_index \
                      WHERE indexrelid = 'lock_probe_name_idx'::regclass) AS valid",
        ))
        .await
        .expect("count")
        .expect("row");
    assert_eq!(row.try_get::<i64>("", "applied").ok(), Some(2));
    assert_eq!(row.try_get::<i64>("", "distinct_versions").ok(), Some(2));
    assert_eq!(row.try_get::<bool>("", "valid").ok(), Some(true));
}

/// A migrator gives up waiting for another one's lock after the longest wait, with an
/// error that says what to do, and runs nothing.
#[tokio::test]
async fn waiting_for_the_migration_lock_is_bounded() {
    let (url, _) = fresh_database(Backend::Postgres).await;
    let holder = single_connection(&url).await;
    let key = workflow::MIGRATION_LOCK_KEY;
    exec(&holder, &format!("SELECT pg_advisory_lock({key})")).await;
    let db = single_connection(&url).await;
    let ran = std::sync::atomic::AtomicBool::new(false);
    let refused =
        workflow::with_migration_lock_within(&db, Duration::from_millis(600), async || {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await
        .expect_err("the lock is held");
    assert!(
        refused.to_string().contains(workflow::LOCK_WAIT_VARIABLE),
        "{refused}"
    );
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    // And once it is free, the same call goes through.
    exec(&holder, &format!("SELECT pg_advisory_unlock({key})")).await;
    workflow::with_migration_lock_within(&db, Duration::from_millis(600), async || {
        ran.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    })
    .await
    .expect("the lock is free");
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
}
