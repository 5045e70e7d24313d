//! Worlds, members, and the authorization matrix (role × endpoint × visibility).
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser};
use crate::helpers::{
    element_path, elements_path, error_fields, id_of, relation_path, relations_path, world_path,
};
use crate::on_both_backends;

async fn create_world(app: &TestApp, owner: &TestUser, body: Value) -> Value {
    let reply = app
        .post("/api/v1/worlds", Some(&owner.access_token), body)
        .await;
    reply.assert_status(201);
    reply.json()
}

async fn create_element(app: &TestApp, user: &TestUser, world_id: &str, name: &str) -> Value {
    let reply = app
        .post(
            &elements_path(world_id),
            Some(&user.access_token),
            json!({"kind": "character", "name": name}),
        )
        .await;
    reply.assert_status(201);
    reply.json()
}

/// Gives `user` a role in the world: a member's role changes; anyone else joins the way
/// people join, by accepting an invitation.
async fn grant(app: &TestApp, owner: &TestUser, world_id: &str, user: &TestUser, role: &str) {
    let reply = app
        .put(
            &format!("/api/v1/worlds/{world_id}/members/{}", user.id),
            Some(&owner.access_token),
            json!({"role": role}),
        )
        .await;
    if reply.status == 404 {
        app.join(owner, world_id, user, role).await;
    } else {
        reply.assert_status(200);
    }
}

async fn create_and_read_a_world(app: TestApp) {
    let ada = app.register("ada").await;
    let reply = app
        .post(
            "/api/v1/worlds",
            Some(&ada.access_token),
            json!({"name": "Eldoria"}),
        )
        .await;
    reply.assert_status(201);
    let world = reply.json();
    let id = world["id"].as_str().expect("id");
    assert_eq!(reply.header("location"), Some(world_path(id).as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(world["owner_id"], ada.id.to_string());
    assert_eq!(world["visibility"], "private");
    assert_eq!(world["settings"], json!({}));
    assert_eq!(world["role"], "owner");
    assert_eq!(world["element_count"], 0);
    assert_eq!(world["version"], 1);
    assert!(
        world["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let read = app.get(&world_path(id), Some(&ada.access_token)).await;
    read.assert_status(200);
    assert_eq!(read.header("etag"), Some("\"1\""));
    assert_eq!(read.json()["name"], "Eldoria");

    create_element(&app, &ada, id, "Ada").await;
    let read = app.get(&world_path(id), Some(&ada.access_token)).await;
    assert_eq!(read.json()["element_count"], 1);
}

async fn world_input_is_validated(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    for body in [
        json!({"name": ""}),
        json!({"name": "x".repeat(201)}),
        json!({"name": "ok", "visibility": "secret"}),
        json!({"name": "ok", "settings": [1, 2]}),
        json!({"name": "ok", "owner_id": ada.id}),
        json!({"name": "ok", "version": 7}),
        json!({}),
    ] {
        app.post("/api/v1/worlds", token, body.clone())
            .await
            .assert_problem(422, "validation-failed");
    }
    let reply = app
        .post("/api/v1/worlds", token, json!({"name": "", "settings": 3}))
        .await;
    let problem = reply.assert_problem(422, "validation-failed");
    let fields = error_fields(&problem);
    assert_eq!(fields, ["name", "settings"]);
    assert_eq!(
        app.post("/api/v1/worlds", None, json!({"name": "x"}))
            .await
            .status,
        401
    );
}

async fn list_worlds_shows_only_mine_newest_first(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let mut ada_worlds = Vec::new();
    for i in 0..5 {
        ada_worlds
            .push(create_world(&app, &ada, json!({"name": format!("A{i}")})).await["id"].clone());
    }
    let bob_world = create_world(&app, &bob, json!({"name": "B", "visibility": "public"})).await;
    let shared = create_world(&app, &bob, json!({"name": "Shared"})).await;
    grant(
        &app,
        &bob,
        shared["id"].as_str().expect("id"),
        &ada,
        "viewer",
    )
    .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/worlds?limit=2&cursor={c}"),
            None => "/api/v1/worlds?limit=2".to_owned(),
        };
        let page = app.get_json(&path, &ada.access_token).await;
        for world in page["items"].as_array().expect("items") {
            seen.push((world["id"].clone(), world["role"].clone()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let ids: Vec<Value> = seen.iter().map(|(id, _)| id.clone()).collect();
    let mut expected = vec![shared["id"].clone()];
    expected.extend(ada_worlds.iter().rev().cloned());
    assert_eq!(
        ids, expected,
        "newest first, each once, no stranger's world"
    );
    assert!(!ids.contains(&bob_world["id"]));
    assert_eq!(seen[0].1, "viewer");
    assert!(seen[1..].iter().all(|(_, role)| role == "owner"));

    app.get("/api/v1/worlds?cursor=bogus", Some(&ada.access_token))
        .await
        .assert_problem(400, "bad-request");
    app.get("/api/v1/worlds?limit=0", Some(&ada.access_token))
        .await
        .assert_problem(422, "validation-failed");
    app.get("/api/v1/worlds?limit=201", Some(&ada.access_token))
        .await
        .assert_problem(422, "validation-failed");
    app.get("/api/v1/worlds?limit=ten", Some(&ada.access_token))
        .await
        .assert_problem(400, "bad-request");
}

async fn patch_world_merges_settings_and_checks_versions(app: TestApp) {
    let ada = app.register("ada").await;
    let world = create_world(
        &app,
        &ada,
        json!({"name": "Eldoria", "description": "old", "settings": {"calendar": {"months": 12, "moons": 2}, "theme": "dark"}}),
    )
    .await;
    let path = format!("/api/v1/worlds/{}", world["id"].as_str().expect("id"));
    let ada_token = ada.access_token.as_str();
    let token = Some(ada_token);

    let patch = json!({"description": null, "settings": {"calendar": {"moons": null, "era": "third"}, "theme": "light"}});
    let reply = app
        .if_match(
            Method::PATCH,
            &path,
            &ada.access_token,
            Some(&patch),
            "\"1\"",
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let updated = reply.json();
    assert_eq!(
        updated["settings"],
        json!({"calendar": {"months": 12, "era": "third"}, "theme": "light"})
    );
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["version"], 2);

    let stale = app
        .if_match(
            Method::PATCH,
            &path,
            &ada.access_token,
            Some(&json!({"name": "Lost"})),
            "\"1\"",
        )
        .await;
    stale.assert_problem(412, "precondition-failed");
    assert_eq!(app.get(&path, token).await.json()["name"], "Eldoria");

    let stale_delete = app
        .if_match(Method::DELETE, &path, &ada.access_token, None, "\"1\"")
        .await;
    stale_delete.assert_problem(412, "precondition-failed");
    app.get(&path, token).await.assert_status(200);

    // Eight writers holding the same version: exactly one wins.
    let attempts = (0..8).map(|i| {
        let body = json!({"name": format!("Writer {i}")});
        let app = &app;
        let path = &path;
        async move {
            app.if_match(Method::PATCH, path, ada_token, Some(&body), "\"2\"")
                .await
                .status
                .as_u16()
        }
    });
    let mut statuses = join_all(attempts).await;
    statuses.sort();
    assert_eq!(statuses, [200, 412, 412, 412, 412, 412, 412, 412]);
    assert_eq!(app.get(&path, token).await.json()["version"], 3);

    // Without If-Match, concurrent writers all succeed and nothing is lost.
    let attempts = (0..6).map(|i| {
        let body = json!({"settings": {format!("key{i}"): i}});
        let app = &app;
        let path = &path;
        async move { app.patch(path, token, body).await.status.as_u16() }
    });
    assert!(join_all(attempts).await.iter().all(|s| *s == 200));
    let settings = app.get(&path, token).await.json()["settings"].clone();
    for i in 0..6 {
        assert_eq!(settings[format!("key{i}")], i, "{settings}");
    }

    app.if_match(Method::DELETE, &path, &ada.access_token, None, "\"9\"")
        .await
        .assert_status(204);
    app.get(&path, token).await.assert_problem(404, "not-found");
}

async fn deleting_a_world_removes_everything_in_it(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let world = create_world(&app, &ada, json!({"name": "Doomed"})).await;
    let world_id = world["id"].as_str().expect("id");
    grant(&app, &ada, world_id, &bob, "editor").await;
    let a = create_element(&app, &ada, world_id, "A").await;
    let b = create_element(&app, &bob, world_id, "B").await;
    let relation = app
        .post(
            &relations_path(world_id),
            Some(&ada.access_token),
            json!({"source_id": a["id"], "target_id": b["id"], "kind": "knows"}),
        )
        .await;
    relation.assert_status(201);

    app.delete(&world_path(world_id), Some(&bob.access_token))
        .await
        .assert_problem(403, "forbidden");
    app.delete(&world_path(world_id), Some(&ada.access_token))
        .await
        .assert_status(204);
    app.get(&world_path(world_id), Some(&ada.access_token))
        .await
        .assert_problem(404, "not-found");

    let db = app.db().await;
    assert_eq!(rows::<entity::world_elements::Entity>(&db).await, 0);
    assert_eq!(rows::<entity::element_relations::Entity>(&db).await, 0);
    assert_eq!(rows::<entity::world_members::Entity>(&db).await, 0);
    assert_eq!(rows::<entity::users::Entity>(&db).await, 2);
}

/// How many rows the table of `E` holds.
async fn rows<E: sea_orm::EntityTrait>(db: &sea_orm::DatabaseConnection) -> u64
where
    E::Model: Sync,
{
    use sea_orm::PaginatorTrait;
    E::find().count(db).await.expect("count")
}

async fn members_are_managed_by_the_owner(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let cy = app.register("cy").await;
    let world = create_world(&app, &ada, json!({"name": "Eldoria"})).await;
    let world_id = world["id"].as_str().expect("id");
    let members_path = format!("/api/v1/worlds/{world_id}/members");

    // Nobody is added without their consent: a user who is not a member is 404, and
    // the answer shows nothing of them.
    let reply = app
        .put(
            &format!("{members_path}/{}", bob.id),
            Some(&ada.access_token),
            json!({"role": "editor"}),
        )
        .await;
    reply.assert_problem(404, "not-found");
    assert!(!reply.text.contains(&bob.email));
    app.join(&ada, world_id, &bob, "viewer").await;
    let reply = app
        .put(
            &format!("{members_path}/{}", bob.id),
            Some(&ada.access_token),
            json!({"role": "editor"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(
        reply.json(),
        json!({"user_id": bob.id, "email": bob.email, "display_name": "bob", "role": "editor"})
    );
    grant(&app, &ada, world_id, &cy, "viewer").await;
    // Changing a role is the same call.
    grant(&app, &ada, world_id, &cy, "editor").await;
    grant(&app, &ada, world_id, &cy, "viewer").await;

    let list = app.get_json(&members_path, &cy.access_token).await;
    let roles: Vec<(String, String)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().to_owned(),
                m["role"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            (ada.email.clone(), "owner".into()),
            (bob.email.clone(), "editor".into()),
            (cy.email.clone(), "viewer".into())
        ]
    );

    let token = Some(ada.access_token.as_str());
    // Refused role changes: a second owner, the owner's own role, someone who is no
    // member, and anyone but the owner.
    for (by, member, role, status, slug) in [
        (&ada, bob.id, "owner", 422, "validation-failed"),
        (&ada, ada.id, "viewer", 422, "validation-failed"),
        (&ada, uuid::Uuid::now_v7(), "viewer", 404, "not-found"),
        (&bob, cy.id, "editor", 403, "forbidden"),
    ] {
        let path = format!("{members_path}/{member}");
        app.put(&path, Some(&by.access_token), json!({ "role": role }))
            .await
            .assert_problem(status, slug);
    }

    // Only the owner removes others; anyone may leave; the owner cannot.
    app.delete(
        &format!("{members_path}/{}", bob.id),
        Some(&cy.access_token),
    )
    .await
    .assert_problem(403, "forbidden");
    app.delete(&format!("{members_path}/{}", cy.id), Some(&cy.access_token))
        .await
        .assert_status(204);
    app.get(&world_path(world_id), Some(&cy.access_token))
        .await
        .assert_problem(404, "not-found");
    app.delete(&format!("{members_path}/{}", ada.id), token)
        .await
        .assert_problem(422, "validation-failed");
    app.delete(&format!("{members_path}/{}", bob.id), token)
        .await
        .assert_status(204);
    app.delete(&format!("{members_path}/{}", bob.id), token)
        .await
        .assert_problem(404, "not-found");
    let remaining = app.get(&members_path, token).await.json();
    assert_eq!(remaining.as_array().map(Vec::len), Some(1));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Editor,
    Viewer,
    Stranger,
    Anonymous,
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Anyone who can see the world (public worlds: everyone).
    Read,
    /// A member (member emails stay private).
    Member,
    Edit,
    Own,
}

/// The contract's answer for `who` on a `public` or private world.
fn expected(who: Who, public: bool, need: Need, success: u16) -> u16 {
    let member_ok = match need {
        Need::Read | Need::Member => true,
        Need::Edit => matches!(who, Who::Owner | Who::Editor),
        Need::Own => who == Who::Owner,
    };
    match who {
        Who::Owner | Who::Editor | Who::Viewer => {
            if member_ok {
                success
            } else {
                403
            }
        }
        Who::Stranger => match (public, need) {
            (false, _) => 404,
            (true, Need::Read) => success,
            (true, _) => 403,
        },
        Who::Anonymous => match (public, need) {
            (_, Need::Read) if public => success,
            (false, Need::Read) => 404,
            _ => 401,
        },
    }
}

async fn authorization_matrix(app: TestApp) {
    let owner = app.register("owner").await;
    let editor = app.register("editor").await;
    let viewer = app.register("viewer").await;
    let stranger = app.register("stranger").await;
    let outsider = app.register("outsider").await;

    for public in [false, true] {
        let visibility = if public { "public" } else { "private" };
        let world = create_world(
            &app,
            &owner,
            json!({"name": "Matrix", "visibility": visibility}),
        )
        .await;
        let w = world["id"].as_str().expect("id").to_owned();
        grant(&app, &owner, &w, &editor, "editor").await;
        grant(&app, &owner, &w, &viewer, "viewer").await;
        let a = create_element(&app, &owner, &w, "A").await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let b = create_element(&app, &owner, &w, "B").await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let rel = id_of(&app.relate(&owner.access_token, &w, &a, &b, "knows").await);

        for (who, user) in [
            (Who::Owner, Some(&owner)),
            (Who::Editor, Some(&editor)),
            (Who::Viewer, Some(&viewer)),
            (Who::Stranger, Some(&stranger)),
            (Who::Anonymous, None),
        ] {
            let token = user.map(|u| u.access_token.as_str());
            // A member whose role the owner changes, then removes.
            grant(&app, &owner, &w, &outsider, "viewer").await;
            // Something to delete that only this round touches.
            let victim = create_element(&app, &owner, &w, "victim").await["id"]
                .as_str()
                .expect("id")
                .to_owned();
            let victim_rel = id_of(
                &app.relate(&owner.access_token, &w, &a, &victim, "doomed")
                    .await,
            );
            let throwaway = create_world(
                &app,
                &owner,
                json!({"name": "Throwaway", "visibility": visibility}),
            )
            .await["id"]
                .as_str()
                .expect("id")
                .to_owned();
            grant(&app, &owner, &throwaway, &editor, "editor").await;
            grant(&app, &owner, &throwaway, &viewer, "viewer").await;

            let rel_kind = format!("rel_{}", format!("{who:?}").to_lowercase());
            let checks: Vec<(Method, String, Option<Value>, Need, u16)> = vec![
                (Method::GET, world_path(&w), None, Need::Read, 200),
                (Method::GET, elements_path(&w), None, Need::Read, 200),
                (Method::GET, element_path(&w, &a), None, Need::Read, 200),
                (
                    Method::GET,
                    format!("/api/v1/worlds/{w}/elements/{a}/relations"),
                    None,
                    Need::Read,
                    200,
                ),
                (Method::GET, relation_path(&w, &rel), None, Need::Read, 200),
                (
                    Method::GET,
                    format!("/api/v1/worlds/{w}/members"),
                    None,
                    Need::Member,
                    200,
                ),
                (
                    Method::PATCH,
                    world_path(&w),
                    Some(json!({"name": "Renamed"})),
                    Need::Edit,
                    200,
                ),
                (
                    Method::PATCH,
                    world_path(&w),
                    Some(json!({"visibility": visibility})),
                    Need::Own,
                    200,
                ),
                (
                    Method::POST,
                    elements_path(&w),
                    Some(json!({"kind": "place", "name": "P"})),
                    Need::Edit,
                    201,
                ),
                (
                    Method::PATCH,
                    element_path(&w, &a),
                    Some(json!({"summary": "s"})),
                    Need::Edit,
                    200,
                ),
                (
                    Method::POST,
                    relations_path(&w),
                    Some(json!({"source_id": a, "target_id": b, "kind": rel_kind})),
                    Need::Edit,
                    201,
                ),
                (
                    Method::PATCH,
                    relation_path(&w, &rel),
                    Some(json!({"attributes": {"x": 1}})),
                    Need::Edit,
                    200,
                ),
                (
                    Method::DELETE,
                    relation_path(&w, &victim_rel),
                    None,
                    Need::Edit,
                    204,
                ),
                (
                    Method::DELETE,
                    element_path(&w, &victim),
                    None,
                    Need::Edit,
                    204,
                ),
                (
                    Method::PUT,
                    format!("/api/v1/worlds/{w}/members/{}", outsider.id),
                    Some(json!({"role": "viewer"})),
                    Need::Own,
                    200,
                ),
                (
                    Method::DELETE,
                    format!("/api/v1/worlds/{w}/members/{}", outsider.id),
                    None,
                    Need::Own,
                    204,
                ),
                (Method::DELETE, world_path(&throwaway), None, Need::Own, 204),
            ];
            for (method, path, body, need, success) in checks {
                let reply = app.send(method.clone(), &path, token, body.as_ref()).await;
                let want = expected(who, public, need, success);
                assert_eq!(
                    reply.status.as_u16(),
                    want,
                    "{who:?} on a {visibility} world: {method} {path} answered {}",
                    reply.text
                );
                if want >= 400 {
                    assert_eq!(
                        reply.header("content-type"),
                        Some("application/problem+json")
                    );
                }
            }
            // The owner's view of the world is unchanged by whatever was refused.
            let role = app.get(&world_path(&w), token).await;
            if role.status == 200 {
                let expected_role = match who {
                    Who::Owner => json!("owner"),
                    Who::Editor => json!("editor"),
                    Who::Viewer => json!("viewer"),
                    _ => Value::Null,
                };
                assert_eq!(role.json()["role"], expected_role);
            }
        }
    }
}

async fn extreme_json_values_round_trip_and_nul_is_refused(app: TestApp) {
    let ada = app.register("ada").await;
    let settings = json!({
        "huge": -1.797_693_134_862_315_7e308,
        "tiny": 5e-324,
        "big_int": 9_007_199_254_740_993_i64,
        "text": "tab\t, bell\u{7}, emoji 🐉, accents é",
        "nested": {"list": [[], {}, [true, null]]}
    });
    let world = create_world(&app, &ada, json!({"name": "Edge", "settings": settings})).await;
    assert_eq!(world["settings"], settings);
    let path = format!("/api/v1/worlds/{}", world["id"].as_str().expect("id"));
    assert_eq!(
        app.get_json(&path, &ada.access_token).await["settings"],
        settings
    );

    let token = Some(ada.access_token.as_str());
    let reply = app
        .post("/api/v1/worlds", token, json!({"name": "a\u{0}b"}))
        .await;
    assert_eq!(
        reply.assert_problem(422, "validation-failed")["errors"][0]["field"],
        "name"
    );
    let reply = app
        .patch(&path, token, json!({"settings": {"k": ["ok", "nul\u{0}"]}}))
        .await;
    assert_eq!(
        reply.assert_problem(422, "validation-failed")["errors"][0]["field"],
        "settings.k[1]"
    );
    app.patch(&path, token, json!([null, null]))
        .await
        .assert_problem(422, "validation-failed");
    app.post("/api/v1/worlds", token, json!("Eldoria"))
        .await
        .assert_problem(422, "validation-failed");
}

async fn strangers_get_404_before_any_validation(app: TestApp) {
    let owner = app.register("owner").await;
    let stranger = app.register("stranger").await;
    let world = create_world(&app, &owner, json!({"name": "Hidden"})).await;
    let w = world["id"].as_str().expect("id");
    let a = create_element(&app, &owner, w, "A").await;
    let a = a["id"].as_str().expect("id");
    let token = Some(stranger.access_token.as_str());
    let invalid: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/v1/worlds/{w}/elements?limit=0&kind=BAD"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/worlds/{w}/elements?where=[1]"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/worlds/{w}/elements/{a}/relations?kind=BAD"),
            None,
        ),
        (
            Method::POST,
            elements_path(w),
            Some(json!({"kind": "BAD", "name": ""})),
        ),
        (Method::PATCH, element_path(w, a), Some(json!({"name": ""}))),
        (Method::PATCH, world_path(w), Some(json!({"name": ""}))),
        (
            Method::POST,
            relations_path(w),
            Some(json!({"source_id": a, "target_id": a, "kind": "BAD"})),
        ),
    ];
    for (method, path, body) in invalid {
        app.send(method, &path, token, body.as_ref())
            .await
            .assert_problem(404, "not-found");
    }
}

on_both_backends!(
    strangers_get_404_before_any_validation,
    extreme_json_values_round_trip_and_nul_is_refused,
    create_and_read_a_world,
    world_input_is_validated,
    list_worlds_shows_only_mine_newest_first,
    patch_world_merges_settings_and_checks_versions,
    deleting_a_world_removes_everything_in_it,
    members_are_managed_by_the_owner,
    authorization_matrix,
);
