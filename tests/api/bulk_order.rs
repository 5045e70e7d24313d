//! What keeps an export's "every parent before its children" cheap: each element's stored
//! `depth`, kept right by every write that changes the hierarchy (create, move, delete,
//! restore, batch, import) and by the revision that added it; and the export reading the
//! elements in that order. On PostgreSQL and SQLite.
use std::collections::HashMap;

use entity::world_elements;
use migration::MigratorTrait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    Statement, Value as DbValue,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, fresh_database};
use crate::helpers::{element_path, id_of};
use crate::on_both_backends;

fn export_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/export")
}

/// Every element of the world as (id, parent_id, depth).
async fn stored(db: &DatabaseConnection, world: Uuid) -> Vec<(Uuid, Option<Uuid>, i32)> {
    world_elements::Entity::find()
        .select_only()
        .column(world_elements::Column::Id)
        .column(world_elements::Column::ParentId)
        .column(world_elements::Column::Depth)
        .filter(world_elements::Column::WorldId.eq(world))
        .into_tuple()
        .all(db)
        .await
        .expect("elements")
}

/// Each element's depth as its ancestors make it: 0 for a root, its parent's plus one.
fn walked(rows: &[(Uuid, Option<Uuid>, i32)]) -> HashMap<Uuid, i32> {
    let parents: HashMap<Uuid, Option<Uuid>> = rows.iter().map(|(id, p, _)| (*id, *p)).collect();
    rows.iter()
        .map(|(id, _, _)| {
            let mut depth: i32 = 0;
            let mut at = parents[id];
            while let Some(parent) = at {
                depth += 1;
                assert!(depth as usize <= rows.len(), "a cycle through {id}");
                at = parents[&parent];
            }
            (*id, depth)
        })
        .collect()
}

/// Fails unless every element's stored depth is its real one; returns the depths by id.
async fn assert_depths(app: &TestApp, world: &str) -> HashMap<Uuid, i32> {
    let db = app.db().await;
    let rows = stored(&db, world.parse().expect("world id")).await;
    let real = walked(&rows);
    for (id, _, depth) in &rows {
        assert_eq!(*depth, real[id], "stored depth of {id}");
    }
    real
}

/// Fails unless the export names every parent before its children; returns the
/// elements' names in export order.
async fn assert_export_order(app: &TestApp, token: &str, world: &str) -> Vec<String> {
    let reply = app.get(&export_path(world), Some(token)).await;
    reply.assert_status(200);
    let mut seen = std::collections::HashSet::new();
    let mut names = Vec::new();
    for line in reply.text.lines() {
        let line: Value = serde_json::from_str(line).expect("a JSON line");
        if let Some(element) = line.get("element") {
            if let Some(parent) = element["parent_id"].as_str() {
                assert!(
                    seen.contains(parent),
                    "{} comes before its parent",
                    element["name"]
                );
            }
            seen.insert(element["id"].as_str().expect("id").to_owned());
            names.push(element["name"].as_str().expect("name").to_owned());
        }
    }
    names
}

async fn child(app: &TestApp, token: &str, world: &str, name: &str, parent: &str) -> String {
    id_of(
        &app.create_element(
            token,
            world,
            json!({"kind": "place", "name": name, "parent_id": parent}),
        )
        .await,
    )
}

async fn root(app: &TestApp, token: &str, world: &str, name: &str) -> String {
    id_of(
        &app.create_element(token, world, json!({"kind": "place", "name": name}))
            .await,
    )
}

async fn move_to(app: &TestApp, token: &str, world: &str, element: &str, parent: Option<&str>) {
    app.patch(
        &element_path(world, element),
        Some(token),
        json!({ "parent_id": parent }),
    )
    .await
    .assert_status(200);
}

async fn depth_follows_every_hierarchy_change(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Deep").await;
    let token = ada.access_token.as_str();
    // a > b > c > d, and x > y.
    let a = root(&app, token, &world, "a").await;
    let b = child(&app, token, &world, "b", &a).await;
    let c = child(&app, token, &world, "c", &b).await;
    let d = child(&app, token, &world, "d", &c).await;
    let x = root(&app, token, &world, "x").await;
    let y = child(&app, token, &world, "y", &x).await;
    let depths = assert_depths(&app, &world).await;
    assert_eq!(depths[&d.parse().unwrap()], 3);

    // b's subtree under y: b 2, c 3, d 4.
    move_to(&app, token, &world, &b, Some(&y)).await;
    let depths = assert_depths(&app, &world).await;
    assert_eq!(depths[&d.parse().unwrap()], 4);
    // x, with everything below it, under d: the subtree moves down five levels at once.
    move_to(&app, token, &world, &x, Some(&a)).await;
    let depths = assert_depths(&app, &world).await;
    assert_eq!(depths[&d.parse().unwrap()], 5);
    // y becomes a root, taking b, c and d up with it.
    move_to(&app, token, &world, &y, None).await;
    let depths = assert_depths(&app, &world).await;
    assert_eq!(depths[&d.parse().unwrap()], 3);
    assert_export_order(&app, token, &world).await;

    // Deleting b makes c a root, and d its child.
    app.delete(&element_path(&world, &b), Some(token))
        .await
        .assert_status(204);
    let depths = assert_depths(&app, &world).await;
    assert_eq!(depths[&c.parse().unwrap()], 0);
    assert_eq!(depths[&d.parse().unwrap()], 1);
    // b comes back under y (still there), with no children.
    app.post(
        &format!("/api/v1/worlds/{world}/trash/{b}/restore"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200);
    let depths = assert_depths(&app, &world).await;
    assert_eq!(depths[&b.parse().unwrap()], 1);

    // A batch: a new element under d, then d (with it) moved under b.
    let reply = app
        .post(
            &format!("/api/v1/worlds/{world}/batch"),
            Some(token),
            json!({"operations": [
                {"op": "create_element", "ref": "e", "body": {"kind": "place", "name": "e", "parent_id": d}},
                {"op": "create_element", "body": {"kind": "place", "name": "f", "parent_id": "$e"}},
                {"op": "update_element", "id": d, "body": {"parent_id": b}},
            ]}),
        )
        .await;
    reply.assert_status(200);
    let f: Uuid = reply.json()["results"][1]["resource"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let depths = assert_depths(&app, &world).await;
    // y 0, b 1, d 2, e 3, f 4.
    assert_eq!(depths[&f], 4);
    let names = assert_export_order(&app, token, &world).await;
    assert_eq!(names.len(), 8);

    // An import keeps the hierarchy, and so the depths.
    let export = app.get(&export_path(&world), Some(token)).await.text;
    let reply = app
        .client
        .post(app.url("/api/v1/worlds/import"))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(export)
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 201);
    let imported: Value = reply.json().await.expect("world");
    let imported = id_of(&imported);
    let depths = assert_depths(&app, &imported).await;
    assert_eq!(depths.values().copied().max(), Some(4));
    assert_eq!(
        assert_export_order(&app, token, &imported).await.len(),
        names.len()
    );
}

on_both_backends!(depth_follows_every_hierarchy_change);

/// The revision that adds `depth` gives existing elements theirs.
async fn the_revision_backfills_depth(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let db = sea_orm::Database::connect(&url).await.expect("connect");
    let revisions = migration::Migrator::migrations();
    let before = revisions
        .iter()
        .position(|m| m.name() == "m20261130_190016_element_depth")
        .expect("the revision");
    migration::Migrator::up(&db, Some(u32::try_from(before).expect("small")))
        .await
        .expect("up to before depth");
    let owner = Uuid::now_v7();
    let world = Uuid::now_v7();
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    let at = chrono::Utc::now().fixed_offset();
    let run = |sql: &str, values: Vec<DbValue>| {
        let sql = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => sql.to_owned(),
            _ => (1..=values.len()).fold(sql.to_owned(), |s, n| s.replace(&format!("${n}"), "?")),
        };
        let db = &db;
        async move {
            db.execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                &sql,
                values,
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    };
    run(
        "INSERT INTO users (id, email, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            owner.into(),
            "o@example.com".into(),
            "x".into(),
            at.into(),
            at.into(),
        ],
    )
    .await;
    run(
        "INSERT INTO worlds (id, owner_id, name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![world.into(), owner.into(), "W".into(), at.into(), at.into()],
    )
    .await;
    // 0 > 1 > 2 > 3, and 4 a root; the children written first, as moves leave rows.
    for (i, id) in ids.iter().enumerate().rev() {
        run(
            "INSERT INTO world_elements (id, world_id, kind, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                (*id).into(),
                world.into(),
                "place".into(),
                format!("e{i}").into(),
                at.into(),
                at.into(),
            ],
        )
        .await;
    }
    for i in 1..4 {
        run(
            "UPDATE world_elements SET parent_id = $1 WHERE id = $2",
            vec![ids[i - 1].into(), ids[i].into()],
        )
        .await;
    }
    migration::Migrator::up(&db, None).await.expect("up");
    let rows = stored(&db, world).await;
    let depth: HashMap<Uuid, i32> = rows.iter().map(|(id, _, d)| (*id, *d)).collect();
    assert_eq!(
        ids.iter().map(|id| depth[id]).collect::<Vec<_>>(),
        [0, 1, 2, 3, 0]
    );
    // `down` takes the column away again.
    migration::Migrator::down(&db, Some(3)).await.expect("down");
    migration::Migrator::up(&db, None).await.expect("up again");
    assert_eq!(stored(&db, world).await.len(), 5);
}

crate::with_each_backend!(the_revision_backfills_depth);
