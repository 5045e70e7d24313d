//! The entity crate's navigation, in code, on both backends: generated `Related` impls in
//! both directions and the hand-written `Linked` ones.
use entity::links::{
    ElementChildren, ElementParent, IncomingRelations, MemberWorlds, OutgoingRelations,
    OwnedWorlds, RelationSource, RelationTarget, WorldMembers, WorldOwner,
};
use entity::{element_relations, users, world_elements, world_members, worlds};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, Database, DatabaseConnection, ModelTrait};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, element_row, fresh_database};

async fn user(db: &DatabaseConnection, email: &str) -> users::Model {
    users::ActiveModel {
        email: Set(email.to_owned()),
        password_hash: Set("not a real hash".to_owned()),
        preferences: Set(json!({})),
        token_version: Set(1),
        display_name: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user")
}

async fn element(
    db: &DatabaseConnection,
    world: Uuid,
    parent: Option<Uuid>,
    name: &str,
) -> world_elements::Model {
    world_elements::ActiveModel {
        parent_id: Set(parent),
        attributes: Set(json!({"n": name})),
        ..element_row(world, "character", name)
    }
    .insert(db)
    .await
    .expect("insert element")
}

async fn navigation(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");

    let ada = user(&db, "ada@example.com").await;
    let bob = user(&db, "bob@example.com").await;
    let world = worlds::ActiveModel {
        owner_id: Set(ada.id),
        name: Set("Eldoria".to_owned()),
        description: Set(None),
        settings: Set(json!({})),
        visibility: Set("private".to_owned()),
        element_count: Set(0),
        version: Set(1),
        ..Default::default()
    }
    .insert(&db)
    .await
    .expect("insert world");
    assert_eq!(world.id.get_version_num(), 7, "ids are UUID v7");
    world_members::ActiveModel {
        world_id: Set(world.id),
        user_id: Set(bob.id),
        role: Set("viewer".to_owned()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .expect("insert member");

    let root = element(&db, world.id, None, "root").await;
    let child = element(&db, world.id, Some(root.id), "child").await;
    let relation = element_relations::ActiveModel {
        world_id: Set(world.id),
        source_id: Set(root.id),
        target_id: Set(child.id),
        kind: Set("parent_of".to_owned()),
        attributes: Set(json!({})),
        version: Set(1),
        ..Default::default()
    }
    .insert(&db)
    .await
    .expect("insert relation");

    // World ↔ elements, both ways.
    let elements = world
        .find_related(world_elements::Entity)
        .all(&db)
        .await
        .expect("elements");
    assert_eq!(elements.len(), 2);
    let back = child
        .find_related(worlds::Entity)
        .one(&db)
        .await
        .expect("world");
    assert_eq!(back.map(|w| w.id), Some(world.id));

    // User ↔ world through memberships; the owner through a link.
    let bobs = bob
        .find_linked(MemberWorlds)
        .all(&db)
        .await
        .expect("bob's worlds");
    assert_eq!(bobs.iter().map(|w| w.id).collect::<Vec<_>>(), [world.id]);
    let members = world
        .find_linked(WorldMembers)
        .all(&db)
        .await
        .expect("members");
    assert_eq!(members.iter().map(|u| u.id).collect::<Vec<_>>(), [bob.id]);
    let owner = world.find_linked(WorldOwner).one(&db).await.expect("owner");
    assert_eq!(owner.map(|u| u.id), Some(ada.id));
    let owned = ada.find_linked(OwnedWorlds).all(&db).await.expect("owned");
    assert_eq!(owned.iter().map(|w| w.id).collect::<Vec<_>>(), [world.id]);

    // The element hierarchy.
    let parent = child
        .find_linked(ElementParent)
        .one(&db)
        .await
        .expect("parent");
    assert_eq!(parent.map(|p| p.id), Some(root.id));
    let children = root
        .find_linked(ElementChildren)
        .all(&db)
        .await
        .expect("children");
    assert_eq!(
        children.iter().map(|c| c.id).collect::<Vec<_>>(),
        [child.id]
    );

    // Relations by end.
    let out = root
        .find_linked(OutgoingRelations)
        .all(&db)
        .await
        .expect("outgoing");
    assert_eq!(out.iter().map(|r| r.id).collect::<Vec<_>>(), [relation.id]);
    assert!(
        child
            .find_linked(OutgoingRelations)
            .all(&db)
            .await
            .expect("none")
            .is_empty()
    );
    let incoming = child
        .find_linked(IncomingRelations)
        .all(&db)
        .await
        .expect("incoming");
    assert_eq!(
        incoming.iter().map(|r| r.id).collect::<Vec<_>>(),
        [relation.id]
    );
    let source = relation
        .find_linked(RelationSource)
        .one(&db)
        .await
        .expect("source");
    let target = relation
        .find_linked(RelationTarget)
        .one(&db)
        .await
        .expect("target");
    assert_eq!(
        (source.map(|e| e.id), target.map(|e| e.id)),
        (Some(root.id), Some(child.id))
    );
    let in_world = world
        .find_related(element_relations::Entity)
        .all(&db)
        .await
        .expect("relations");
    assert_eq!(in_world.len(), 1);

    // Server-side defaults fill JSON columns for rows written without them.
    use sea_orm::{ConnectionTrait, Statement};
    let id = Uuid::now_v7();
    let insert = match backend {
        Backend::Postgres => format!(
            "INSERT INTO world_elements (id, world_id, kind, name) VALUES ('{id}', '{}', 'item', 'raw')",
            world.id
        ),
        // SQLite stores UUIDs as sqlx binds them; the defaults are checked on PostgreSQL,
        // where other clients write rows by hand.
        Backend::Sqlite => String::new(),
    };
    if !insert.is_empty() {
        db.execute_raw(Statement::from_string(db.get_database_backend(), insert))
            .await
            .expect("raw insert");
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let raw = world_elements::Entity::find()
            .filter(world_elements::Column::Id.eq(id))
            .one(&db)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(
            (raw.attributes, raw.tags, raw.version),
            (json!({}), json!([]), 1)
        );
    }
}

crate::backend_tests!(navigation: navigation_on_postgres, navigation_on_sqlite);
