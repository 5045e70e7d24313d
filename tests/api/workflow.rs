//! The migration workflow against real PostgreSQL: `check` finds exactly what drifted,
//! `sql` renders what `up` runs, and `up` refuses changed or out-of-order revisions.
use migration::workflow::{self, Command, Verdict};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use crate::helpers::{Backend, fresh_database};

/// One connection, as the migrate commands use: the advisory lock is per session.
/// The names of every revision, oldest first.
pub fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

pub async fn single_connection(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options).await.expect("connect")
}

async fn migrated() -> (String, DatabaseConnection) {
    let (url, _, db) = migrated_on(Backend::Postgres).await;
    (url, db)
}

pub async fn migrated_on(
    backend: Backend,
) -> (String, Option<tempfile::TempDir>, DatabaseConnection) {
    let (url, dir) = fresh_database(backend).await;
    let db = single_connection(&url).await;
    up(&db, &[]).await.expect("up");
    (url, dir, db)
}

pub async fn up(db: &DatabaseConnection, accept: &[&str]) -> Result<Verdict, String> {
    let command = Command::Up {
        num: None,
        to: None,
        accept_changed: accept.iter().map(|s| s.to_string()).collect(),
    };
    workflow::run(db, command).await.map_err(|e| e.to_string())
}

pub async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn newest_revision() -> String {
    let revisions = Migrator::migrations();
    revisions.last().expect("revisions").name().to_owned()
}

#[tokio::test]
async fn check_is_clean_on_a_freshly_migrated_database() {
    let (_, db) = migrated().await;
    let report = workflow::check_report(&db).await.expect("check");
    assert_eq!(report, Vec::<String>::new());
    assert_eq!(
        workflow::run(&db, Command::Check).await.expect("check"),
        Verdict::Done
    );
}

#[tokio::test]
async fn check_reports_exactly_an_added_column_and_a_dropped_index() {
    let (_, db) = migrated().await;
    exec(&db, "ALTER TABLE worlds ADD COLUMN motto text").await;
    exec(&db, "DROP INDEX world_elements_attributes_idx").await;
    exec(
        &db,
        "ALTER TABLE world_elements ALTER COLUMN summary SET DEFAULT 'none'",
    )
    .await;
    let report = workflow::check_report(&db).await.expect("check");
    assert_eq!(
        report,
        vec![
            "column world_elements.summary: default is 'none'::text in the database, no default in the entities",
            "index world_elements_attributes_idx on world_elements USING gin (attributes jsonb_path_ops) WITH (fastupdate=off): declared, missing from the database",
            "column worlds.motto: in the database (text NULL), not in the entities",
        ]
    );
    assert_eq!(
        workflow::run(&db, Command::Check).await.expect("check"),
        Verdict::Drift
    );
}

/// Index storage parameters are part of the declared schema: a GIN index put back with a
/// pending list (`fastupdate` reset) is reported, and `autogenerate` would restore it.
#[tokio::test]
async fn check_reports_changed_index_storage_parameters() {
    let (_, db) = migrated().await;
    exec(
        &db,
        "ALTER INDEX world_elements_tags_idx RESET (fastupdate)",
    )
    .await;
    let report = workflow::check_report(&db).await.expect("check");
    assert_eq!(
        report,
        vec![
            "index world_elements_tags_idx on world_elements: USING gin (tags) in the database, USING gin (tags) WITH (fastupdate=off) declared",
        ]
    );
    exec(
        &db,
        "ALTER INDEX world_elements_tags_idx SET (fastupdate = off)",
    )
    .await;
    assert_eq!(
        workflow::check_report(&db).await.expect("check"),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn check_reports_types_nullability_and_foreign_key_actions() {
    let (_, db) = migrated().await;
    exec(
        &db,
        "ALTER TABLE users ALTER COLUMN display_name SET NOT NULL",
    )
    .await;
    exec(
        &db,
        "ALTER TABLE users ALTER COLUMN password_hash TYPE varchar(200)",
    )
    .await;
    exec(
        &db,
        "ALTER TABLE worlds DROP CONSTRAINT worlds_owner_id_fkey",
    )
    .await;
    exec(
        &db,
        "ALTER TABLE worlds ADD CONSTRAINT worlds_owner_id_fkey FOREIGN KEY (owner_id) \
         REFERENCES users (id) ON DELETE RESTRICT",
    )
    .await;
    let report = workflow::check_report(&db).await.expect("check");
    assert_eq!(
        report,
        vec![
            "column users.display_name: NOT NULL in the database, NULL in the entities",
            "column users.password_hash: type is character varying(200) in the database, text in the entities",
            "foreign key worlds(owner_id) -> users(id) ON DELETE CASCADE: in the entities, missing from the database",
            "foreign key worlds_owner_id_fkey worlds(owner_id) -> users(id) ON DELETE RESTRICT: in the database, not in the entities",
        ]
    );
}

#[tokio::test]
async fn check_reports_pending_and_unknown_revisions() {
    let (_, db) = migrated().await;
    // Down to before the revision that creates `rate_limit_events`.
    let names = names();
    let creating = names
        .iter()
        .position(|n| n.ends_with("_create_rate_limit_events"))
        .expect("the revision creating rate_limit_events");
    let pending = &names[creating..];
    workflow::run(
        &db,
        Command::Down {
            num: pending.len() as u32,
            to: None,
        },
    )
    .await
    .expect("down");
    exec(
        &db,
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20200101_000000_lost', 0)",
    )
    .await;
    let report = workflow::check_report(&db).await.expect("check");
    let mut expected: Vec<String> = pending
        .iter()
        .map(|name| format!("revision {name}: in the code, not applied (pending)"))
        .collect();
    expected.push("revision m20200101_000000_lost: applied, not in the code (unknown)".to_owned());
    assert_eq!(report[..expected.len()], expected[..], "{report:#?}");
    assert!(
        report[expected.len()..]
            .iter()
            .any(|l| l.starts_with("table rate_limit_events: in the entities, missing")),
        "{report:#?}"
    );
}

#[tokio::test]
async fn up_refuses_an_applied_revision_whose_sql_changed_unless_accepted() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        changed_revision_is_refused(backend).await;
    }
}

async fn changed_revision_is_refused(backend: Backend) {
    let (_, _dir, db) = migrated_on(backend).await;
    let first = Migrator::migrations()[0].name().to_owned();
    // What `up` compares: the checksum recorded when it was applied, against the SQL the
    // revision renders now. An edited revision renders something else.
    exec(
        &db,
        &format!("UPDATE seaql_migrations SET checksum = 'edited' WHERE version = '{first}'"),
    )
    .await;
    let refused = up(&db, &[])
        .await
        .expect_err("an edited revision is refused");
    assert!(refused.contains(&first), "{refused}");
    assert!(refused.contains("--accept-changed"), "{refused}");

    assert_eq!(up(&db, &[&first]).await, Ok(Verdict::Done));
    assert_eq!(up(&db, &[]).await, Ok(Verdict::Done), "accepted for good");
}

#[tokio::test]
async fn up_refuses_a_pending_revision_older_than_the_newest_applied() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        out_of_order_revision_is_refused(backend).await;
    }
}

async fn out_of_order_revision_is_refused(backend: Backend) {
    let (_, _dir, db) = migrated_on(backend).await;
    let older = Migrator::migrations()[3].name().to_owned();
    exec(
        &db,
        &format!("DELETE FROM seaql_migrations WHERE version = '{older}'"),
    )
    .await;
    let refused = up(&db, &[]).await.expect_err("out of order");
    assert!(refused.contains(&older), "{refused}");
    assert!(refused.contains(&newest_revision()), "{refused}");
}

#[tokio::test]
async fn concurrent_migrators_apply_each_revision_once() {
    let (url, _) = fresh_database(Backend::Postgres).await;
    let migrators = (0..3).map(|_| {
        let url = url.clone();
        async move {
            let db = single_connection(&url).await;
            up(&db, &[]).await
        }
    });
    for outcome in futures_util::future::join_all(migrators).await {
        assert_eq!(outcome, Ok(Verdict::Done));
    }
    let db = single_connection(&url).await;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS applied, count(DISTINCT version) AS distinct_versions \
             FROM seaql_migrations",
        ))
        .await
        .expect("count")
        .expect("row");
    let applied: i64 = row.try_get("", "applied").expect("applied");
    assert_eq!(applied as usize, Migrator::migrations().len());
    assert_eq!(
        row.try_get::<i64>("", "distinct_versions").ok(),
        Some(applied)
    );
}

/// Every table, column, index and constraint, including the bookkeeping tables.
async fn schema_dump(db: &DatabaseConnection) -> Vec<String> {
    let sql = "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
                      || is_nullable || ' ' || coalesce(column_default, '') AS line
                 FROM information_schema.columns WHERE table_schema = 'public'
               UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
               UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
                      || pg_get_constraintdef(oid)
                 FROM pg_constraint WHERE connamespace = 'public'::regnamespace
               UNION ALL SELECT 'revision ' || version || ' ' || checksum FROM seaql_migrations
               ORDER BY 1";
    db.query_all_raw(sea_orm::Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("dump")
        .iter()
        .map(|row| row.try_get::<String>("", "line").expect("line"))
        .collect()
}

/// Runs a script one statement at a time, as `psql -f` does: a revision outside a
/// transaction (`CREATE INDEX CONCURRENTLY`) cannot be sent as one multi-statement query.
pub async fn run_script(db: &DatabaseConnection, script: &str) {
    let statements = workflow::split_script(script);
    assert!(!statements.is_empty(), "an empty script");
    for statement in statements {
        exec(db, &statement).await;
    }
}

#[tokio::test]
async fn sql_renders_what_up_and_down_execute() {
    let (_, by_up) = migrated().await;
    let (url, _) = fresh_database(Backend::Postgres).await;
    let by_script = single_connection(&url).await;
    let script = workflow::sql(None, None, false).await.expect("sql");
    run_script(&by_script, &script).await;
    assert_eq!(schema_dump(&by_script).await, schema_dump(&by_up).await);
    assert_eq!(
        workflow::check_report(&by_script).await.expect("check"),
        Vec::<String>::new()
    );

    // Down, from the newest revision to just after the third: the same as `down -n`.
    let third = Migrator::migrations()[2].name().to_owned();
    let rollback = workflow::sql(None, Some(&third), true)
        .await
        .expect("sql --down");
    run_script(&by_script, &rollback).await;
    let remaining = Migrator::migrations().len() as u32 - 3;
    workflow::run(
        &by_up,
        Command::Down {
            num: remaining,
            to: None,
        },
    )
    .await
    .expect("down");
    assert_eq!(schema_dump(&by_script).await, schema_dump(&by_up).await);
}

#[tokio::test]
async fn check_is_clean_on_a_freshly_migrated_sqlite_database() {
    let (_, _dir, db) = migrated_on(Backend::Sqlite).await;
    assert_eq!(
        workflow::check_report(&db).await.expect("check"),
        Vec::<String>::new()
    );
    assert_eq!(
        workflow::run(&db, Command::Check).await.expect("check"),
        Verdict::Done
    );
}

/// SQLite keeps CHECK constraints, defaults and index predicates as written: `check`
/// reads them from `sqlite_master` and compares them as normalized text.
#[tokio::test]
async fn check_on_sqlite_reports_columns_nullability_indexes_and_checks() {
    let (_, _dir, db) = migrated_on(Backend::Sqlite).await;
    exec(&db, "ALTER TABLE worlds ADD COLUMN motto text").await;
    // `rate_limit_events` made again by hand: `subject` nullable, `created_at` left out,
    // a CHECK the entities do not declare, and without its index.
    exec(
        &db,
        "CREATE TABLE rate_limit_events_by_hand ( \
             id uuid_text NOT NULL PRIMARY KEY, scope varchar(32) NOT NULL, \
             subject varchar(320) NULL, \
             CONSTRAINT scope_present CHECK (length(\"scope\") > 0))",
    )
    .await;
    exec(&db, "DROP TABLE rate_limit_events").await;
    exec(
        &db,
        "ALTER TABLE rate_limit_events_by_hand RENAME TO rate_limit_events",
    )
    .await;
    assert_eq!(
        workflow::check_report(&db).await.expect("check"),
        vec![
            "column rate_limit_events.subject: NULL in the database, NOT NULL in the entities",
            "column rate_limit_events.created_at: in the entities (timestamp_with_timezone_text NOT NULL), missing from the database",
            "scope_present CHECK (length(scope) > 0) on rate_limit_events: in the database, not in the entities",
            "index rate_limit_events_scope_subject_created_idx on rate_limit_events USING btree (scope, subject, created_at): declared, missing from the database",
            "column worlds.motto: in the database (text NULL), not in the entities",
        ]
    );
    assert_eq!(
        workflow::run(&db, Command::Check).await.expect("check"),
        Verdict::Drift
    );
}
