//! Every revision applies, rolls back and applies again, leaving the same schema, on both
//! backends; on PostgreSQL a failing revision leaves nothing behind.
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::helpers::{Backend, fresh_database};

/// A textual description of every table, column, index and constraint.
async fn schema_snapshot(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
               FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'
             UNION ALL
             SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'
             UNION ALL
             SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'seaql_migrations'
             ORDER BY 1"
        }
        _ => {
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS line FROM sqlite_master
              WHERE name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("schema query");
    rows.iter()
        .map(|row| row.try_get::<String>("", "line").expect("line"))
        .collect()
}

async fn round_trip(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");
    let before = schema_snapshot(&db).await;
    assert!(
        before.iter().any(|l| l.contains("world_elements")),
        "{before:#?}"
    );
    assert!(before.len() > 20, "schema looks too small: {before:#?}");

    Migrator::down(&db, None)
        .await
        .expect("down every revision");
    assert!(
        schema_snapshot(&db).await.is_empty(),
        "down left tables behind"
    );
    assert!(
        Migrator::get_applied_migrations(&db)
            .await
            .expect("status")
            .is_empty()
    );

    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(schema_snapshot(&db).await, before);
}

crate::backend_tests!(round_trip: revisions_round_trip_on_postgres, revisions_round_trip_on_sqlite);

#[tokio::test]
async fn postgres_has_gin_indexes_for_json_filters() {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");
    let schema = schema_snapshot(&db).await.join("\n");
    assert!(
        schema.contains("USING gin (attributes jsonb_path_ops)"),
        "{schema}"
    );
    assert!(schema.contains("USING gin (tags)"), "{schema}");
    assert!(schema.contains("'{}'::jsonb"), "{schema}");
    assert!(schema.contains("'[]'::jsonb"), "{schema}");
}

/// How many revisions `down` must roll back to undo `name` and every revision after it.
fn steps_to_undo(name: &str) -> u32 {
    let names = crate::workflow::names();
    let at = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no revision {name}"));
    u32::try_from(names.len() - at).expect("a small number")
}

/// `attributes` keeps a 500-document statistics sample, so that `where` filters of a few
/// percent are not planned as rare ones; `down` gives the column back its default.
#[tokio::test]
async fn attributes_keep_a_finer_statistics_sample_on_postgres() {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    let target = || async {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                // PostgreSQL 17 and later keep the default target as NULL, not -1.
                "SELECT COALESCE(attstattarget::int, -1) AS target FROM pg_attribute \
                 WHERE attrelid = 'world_elements'::regclass AND attname = 'attributes'",
            ))
            .await
            .expect("query")
            .expect("the column");
        row.try_get::<i32>("", "target").expect("target")
    };
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(target().await, 500);
    Migrator::down(
        &db,
        Some(steps_to_undo("m20261124_071539_attributes_statistics")),
    )
    .await
    .expect("down to before the statistics revision");
    assert_eq!(target().await, -1, "down must restore the default target");
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(target().await, 500);
}

/// The GIN indexes take writes at once (`fastupdate = off`): no pending list for every
/// search to read. `down` gives them PostgreSQL's default back.
#[tokio::test]
async fn gin_indexes_keep_no_pending_list_on_postgres() {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    let options = || async {
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT relname || ' ' || coalesce(array_to_string(reloptions, ','), '-') AS line \
                 FROM pg_class WHERE relname IN \
                 ('world_elements_attributes_idx', 'world_elements_tags_idx') ORDER BY relname",
            ))
            .await
            .expect("query");
        rows.iter()
            .map(|row| row.try_get::<String>("", "line").expect("line"))
            .collect::<Vec<_>>()
    };
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(
        options().await,
        [
            "world_elements_attributes_idx fastupdate=off",
            "world_elements_tags_idx fastupdate=off"
        ]
    );
    Migrator::down(
        &db,
        Some(steps_to_undo("m20261124_073327_gin_without_pending_list")),
    )
    .await
    .expect("down to before the revision");
    assert_eq!(
        options().await,
        [
            "world_elements_attributes_idx -",
            "world_elements_tags_idx -"
        ]
    );
}

mod failing {
    use sea_orm_migration::prelude::*;

    /// Creates a table, then fails: on PostgreSQL the table must not survive.
    #[derive(DeriveMigrationName)]
    pub struct Migration;

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table("half_done")
                        .col(ColumnDef::new("id").integer().not_null().primary_key())
                        .to_owned(),
                )
                .await?;
            manager
                .get_connection()
                .execute_unprepared("SELECT * FROM no_such_table")
                .await?;
            Ok(())
        }
    }

    pub struct Failing;

    #[async_trait::async_trait]
    impl MigratorTrait for Failing {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            let mut all = crate::migrations::Migrator::migrations();
            all.push(Box::new(Migration));
            all
        }
    }
}

#[tokio::test]
async fn failing_revision_leaves_postgres_schema_unchanged() {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");
    let before = schema_snapshot(&db).await;
    assert!(failing::Failing::up(&db, None).await.is_err());
    assert_eq!(schema_snapshot(&db).await, before);
    let applied = failing::Failing::get_applied_migrations(&db)
        .await
        .expect("status");
    assert_eq!(applied.len(), Migrator::migrations().len());
}

/// Several servers starting at once on one new database: each revision is applied once
/// (they queue on an advisory lock) and every server starts.
#[tokio::test]
async fn concurrent_starts_apply_each_revision_once() {
    use lorebase::config::Config;
    use lorebase::startup::Application;
    use sea_orm::{EntityTrait, PaginatorTrait};
    use std::collections::HashMap;

    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let start = |url: String| async move {
        let vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), url),
            ("JWT_SECRET".into(), crate::helpers::JWT_SECRET.into()),
            ("PORT".into(), "0".into()),
            ("LOREBASE_WORKERS".into(), "1".into()),
        ]);
        Application::build(Config::from_map(&vars).expect("config")).await
    };
    let started = futures_util::future::join_all((0..4).map(|_| start(url.clone()))).await;
    for app in &started {
        assert!(
            app.is_ok(),
            "a server failed to start: {:?}",
            app.as_ref().err()
        );
    }
    let db = Database::connect(&url).await.expect("connect");
    let applied = sea_orm_migration::seaql_migrations::Entity::find()
        .count(&db)
        .await
        .expect("count");
    assert_eq!(applied as usize, Migrator::migrations().len());
}
