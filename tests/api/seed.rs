//! `lorebase seed` and `service::seed`: the data it writes keeps every invariant the API
//! keeps, on both backends, and the owner can log in with the password it reports.
use std::collections::{HashMap, HashSet};
use std::process::Command;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, Statement};
use service::seed::{SeedPlan, seed};
use uuid::Uuid;

use crate::helpers::text_at;
use crate::helpers::{Backend, PASSWORD, TestApp, fresh_database};

const WORLDS: u32 = 2;
const ELEMENTS: u64 = 500;
const RELATIONS: u64 = 300;

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("one row");
    row.try_get::<i64>("", "n").expect("count")
}

async fn seeded_data_keeps_every_invariant(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");

    let report = seed(&db, SeedPlan::new(WORLDS, ELEMENTS, RELATIONS))
        .await
        .expect("seed");
    assert!(
        report.owner_password.is_some(),
        "a new owner gets a password"
    );
    let rows = |table: &str| report.table(table).expect(table).rows;
    assert_eq!(rows("users"), 1);
    assert_eq!(rows("worlds"), u64::from(WORLDS));
    assert_eq!(rows("world_members"), u64::from(WORLDS));
    assert_eq!(rows("world_elements"), ELEMENTS);
    assert_eq!(rows("element_relations"), RELATIONS);
    assert_eq!(report.total_rows(), 1 + 2 * 2 + ELEMENTS + RELATIONS);
    assert!(report.rows_per_second() > 0.0);

    for (table, expected) in [
        ("users", 1),
        ("worlds", i64::from(WORLDS)),
        ("world_members", i64::from(WORLDS)),
        ("world_elements", ELEMENTS as i64),
        ("element_relations", RELATIONS as i64),
    ] {
        let n = count(&db, &format!("SELECT count(*) AS n FROM {table}")).await;
        assert_eq!(n, expected, "{table}");
    }
    let invariants = [
        (
            "element_count differs from the elements",
            "SELECT count(*) AS n FROM worlds w WHERE w.element_count <> \
             (SELECT count(*) FROM world_elements e WHERE e.world_id = w.id)",
        ),
        (
            "world without its owner's membership",
            "SELECT count(*) AS n FROM worlds w WHERE NOT EXISTS (SELECT 1 FROM world_members m \
             WHERE m.world_id = w.id AND m.user_id = w.owner_id AND m.role = 'owner')",
        ),
        (
            "parent in another world",
            "SELECT count(*) AS n FROM world_elements c JOIN world_elements p \
             ON p.id = c.parent_id WHERE p.world_id <> c.world_id",
        ),
        (
            "relation end in another world",
            "SELECT count(*) AS n FROM element_relations r \
             JOIN world_elements s ON s.id = r.source_id \
             JOIN world_elements t ON t.id = r.target_id \
             WHERE s.world_id <> r.world_id OR t.world_id <> r.world_id",
        ),
        (
            "duplicate (source, target, kind)",
            "SELECT count(*) AS n FROM (SELECT source_id, target_id, kind FROM element_relations \
             GROUP BY source_id, target_id, kind HAVING count(*) > 1) d",
        ),
        (
            "world not owned by the seed user",
            "SELECT count(*) AS n FROM worlds w JOIN users u ON u.id = w.owner_id \
             WHERE u.email <> 'seed@lorebase.local'",
        ),
    ];
    for (what, sql) in invariants {
        assert_eq!(count(&db, sql).await, 0, "{what}");
    }
    let each_world = count(
        &db,
        "SELECT count(*) AS n FROM worlds w WHERE (SELECT count(*) FROM element_relations r \
         WHERE r.world_id = w.id) = 150 AND w.element_count = 250",
    )
    .await;
    assert_eq!(each_world, 2, "totals are spread evenly across worlds");

    let elements = entity::world_elements::Entity::find()
        .all(&db)
        .await
        .expect("elements");
    let by_id: HashMap<Uuid, &entity::world_elements::Model> =
        elements.iter().map(|e| (e.id, e)).collect();
    let mut kinds = HashSet::new();
    let mut with_parent = 0;
    for element in &elements {
        let kind = element.kind.as_bytes();
        assert!(
            (1..=64).contains(&kind.len())
                && kind[0].is_ascii_lowercase()
                && kind
                    .iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_'),
            "kind {:?}",
            element.kind
        );
        kinds.insert(element.kind.clone());
        assert!((1..=200).contains(&element.name.chars().count()));
        assert!(element.attributes.is_object(), "{}", element.attributes);
        assert!(element.created_at <= element.updated_at);
        assert_eq!(element.version, 1);
        let tags = element.tags.as_array().expect("tags are an array");
        assert!(tags.len() <= 64);
        let distinct: HashSet<&str> = tags
            .iter()
            .map(|t| t.as_str().expect("tag is a string"))
            .inspect(|t| assert!((1..=64).contains(&t.chars().count()), "tag {t:?}"))
            .collect();
        assert_eq!(distinct.len(), tags.len(), "tags repeat: {tags:?}");
        // Walking up the parents ends, within the world.
        let mut seen = HashSet::from([element.id]);
        let mut current = element;
        if current.parent_id.is_some() {
            with_parent += 1;
        }
        while let Some(parent_id) = current.parent_id {
            let parent = by_id.get(&parent_id).expect("parent exists");
            assert_eq!(parent.world_id, element.world_id);
            assert!(seen.insert(parent_id), "cycle through {parent_id}");
            current = parent;
        }
    }
    assert!(kinds.len() >= 5, "kinds: {kinds:?}");
    assert!(
        (50..=150).contains(&with_parent),
        "about a fifth have a parent: {with_parent}"
    );
    let characters: Vec<_> = elements.iter().filter(|e| e.kind == "character").collect();
    assert!(
        characters
            .iter()
            .all(|e| e.attributes["stats"]["level"].is_i64() && e.attributes["race"].is_string())
    );

    // Seeding again reuses the owner and adds more worlds.
    let again = seed(&db, SeedPlan::new(1, 10, 5))
        .await
        .expect("seed again");
    assert_eq!(again.owner_id, report.owner_id);
    assert!(again.owner_password.is_none());
    assert_eq!(count(&db, "SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM world_elements").await,
        ELEMENTS as i64 + 10
    );
}

crate::backend_tests!(seeded_data_keeps_every_invariant: seeded_data_keeps_every_invariant_on_postgres, seeded_data_keeps_every_invariant_on_sqlite);

/// The seeded owner logs in through the API and reads its seeded elements.
async fn the_owner_can_log_in_and_read_the_seeded_world(app: TestApp) {
    let db = app.db().await;
    let mut plan = SeedPlan::new(1, 40, 20);
    plan.owner_password = Some(PASSWORD.to_owned());
    let report = seed(&db, plan).await.expect("seed");
    assert_eq!(report.owner_password.as_deref(), Some(PASSWORD));
    let reply = crate::auth::login(&app, &report.owner_email, PASSWORD).await;
    reply.assert_status(200);
    let token = text_at(&reply.json(), "access_token");
    let world = entity::worlds::Entity::find()
        .one(&db)
        .await
        .expect("query")
        .expect("a world");
    let reply = app
        .get(
            &format!("/api/v1/worlds/{}/elements?limit=50", world.id),
            Some(&token),
        )
        .await;
    reply.assert_status(200);
    assert!(reply.text.contains(&world.id.to_string()), "{}", reply.text);
}

crate::on_both_backends!(the_owner_can_log_in_and_read_the_seeded_world);

#[tokio::test]
async fn the_seed_subcommand_migrates_seeds_and_reports() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let output = Command::new(env!("CARGO_BIN_EXE_lorebase"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &url)
        .args([
            "seed",
            "--worlds",
            "3",
            "--elements",
            "300",
            "--relations",
            "90",
        ])
        .output()
        .expect("run lorebase seed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (table, rows) in [
        ("users", 1),
        ("worlds", 3),
        ("world_members", 3),
        ("world_elements", 300),
        ("element_relations", 90),
        ("total", 397),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no line for {table}: {stdout}"));
        assert!(line.contains(&format!(" {rows} rows")), "{line}");
        assert!(line.contains("rows/s"), "{line}");
    }
    assert!(
        stdout.contains("seed@lorebase.local (password: "),
        "{stdout}"
    );
    let db = Database::connect(&url).await.expect("connect");
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM world_elements").await,
        300
    );
    assert_eq!(
        count(&db, "SELECT sum(element_count) AS n FROM worlds").await,
        300
    );
}
