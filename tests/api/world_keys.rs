//! Ready for sharding by world (issue 19): every key between the tables of a world carries
//! `world_id`, so that a parent, a relation or a mention across worlds is refused by the
//! database itself, not only by the service.
use crate::helpers::element_path;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use chrono::Utc;
use entity::{element_mentions, element_relations, world_elements};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, Statement, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).expect("a uuid")
}

async fn set_parent(db: &DatabaseConnection, child: Uuid, parent: Uuid) -> Result<(), String> {
    world_elements::Entity::update_many()
        .col_expr(world_elements::Column::ParentId, Expr::value(parent))
        .filter(world_elements::Column::Id.eq(child))
        .exec(db)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn relate(
    db: &DatabaseConnection,
    world: Uuid,
    source: Uuid,
    target: Uuid,
) -> Result<(), String> {
    let now = Utc::now().fixed_offset();
    element_relations::ActiveModel {
        id: Set(Uuid::now_v7()),
        world_id: Set(world),
        source_id: Set(source),
        target_id: Set(target),
        kind: Set("knows".to_owned()),
        attributes: Set(json!({})),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

async fn mention(
    db: &DatabaseConnection,
    world: Uuid,
    source: Uuid,
    target: Uuid,
) -> Result<(), String> {
    element_mentions::Entity::insert(element_mentions::ActiveModel {
        source_id: Set(source),
        target_id: Set(target),
        world_id: Set(world),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

async fn keys_across_worlds_are_refused_by_the_database(app: TestApp) {
    let owner = app.register("keys").await;
    let token = owner.access_token.as_str();
    let arda = app.new_world(token, "Arda").await;
    let earthsea = app.new_world(token, "Earthsea").await;
    let frodo = uuid(&app.element_id(token, &arda, "character", "Frodo").await);
    let shire = uuid(&app.element_id(token, &arda, "place", "Shire").await);
    let ged = uuid(&app.element_id(token, &earthsea, "character", "Ged").await);
    let (arda, earthsea) = (uuid(&arda), uuid(&earthsea));
    let db = app.db().await;

    // The same statements within one world go through: the refusals below are the keys'.
    set_parent(&db, frodo, shire)
        .await
        .expect("a parent in the same world");
    relate(&db, arda, frodo, shire)
        .await
        .expect("a relation in the same world");
    mention(&db, arda, frodo, shire)
        .await
        .expect("a mention in the same world");

    let parent = set_parent(&db, frodo, ged).await;
    assert!(parent.is_err(), "a parent in another world was stored");
    // The relation's world is the source's, and the target lives elsewhere; then the
    // world is the target's, and the source lives elsewhere.
    let relation = relate(&db, arda, frodo, ged).await;
    assert!(relation.is_err(), "a relation to another world was stored");
    let relation = relate(&db, earthsea, frodo, ged).await;
    assert!(
        relation.is_err(),
        "a relation from another world was stored"
    );
    let mentioned = mention(&db, earthsea, frodo, ged).await;
    assert!(
        mentioned.is_err(),
        "a mention filed under another world was stored"
    );

    let path = element_path(&arda.to_string(), &frodo.to_string());
    let reply = app.get_json(&path, token).await;
    assert_eq!(reply["parent_id"], json!(shire.to_string()));
}

/// On PostgreSQL, from the catalog: every table with a `world_id` has it in each of its
/// foreign keys to another such table and in each of its unique keys, primary keys
/// included, as distributing the tables by `world_id` requires.
async fn every_key_between_world_tables_carries_world_id(app: TestApp) {
    if app.backend != Backend::Postgres {
        return;
    }
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "WITH world_tables AS ( \
                 SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'world_id' \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' \
             ) \
             SELECT k.conname::text AS name, k.contype::text AS kind, \
                    (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a \
                      WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)) AS columns \
             FROM pg_constraint k \
             WHERE k.conrelid IN (SELECT oid FROM world_tables) \
               AND (k.contype IN ('p', 'u') \
                    OR (k.contype = 'f' AND k.confrelid IN (SELECT oid FROM world_tables))) \
             UNION ALL \
             SELECT i.indexrelid::regclass::text, 'i', \
                    (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a \
                      WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) \
             FROM pg_index i \
             WHERE i.indisunique AND NOT i.indisprimary \
               AND i.indrelid IN (SELECT oid FROM world_tables) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        ))
        .await
        .expect("read the catalog");
    assert!(rows.len() > 10, "the catalog query found too little");
    let mut missing = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name").expect("name");
        let kind: String = row.try_get("", "kind").expect("kind");
        let columns: Vec<String> = row.try_get("", "columns").expect("columns");
        if !columns.iter().any(|c| c == "world_id") {
            missing.push(format!("{name} ({kind}) on {columns:?}"));
        }
    }
    assert!(missing.is_empty(), "keys without world_id: {missing:?}");
}

on_both_backends!(
    keys_across_worlds_are_refused_by_the_database,
    every_key_between_world_tables_carries_world_id
);
