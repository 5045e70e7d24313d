//! Batches, idempotency keys, export and import: every rule of the contract's section
//! "Batches, idempotency, export and import", on PostgreSQL and SQLite.
use std::collections::HashMap;

use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Reply, TestApp, TestUser, spawn_app_with};
use crate::helpers::{element_path, elements_path, id_of};
use crate::helpers::{relations_path, sorted_keys, world_path};
use crate::on_both_backends;

fn batch_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/batch")
}

fn export_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/export")
}

const IMPORT_PATH: &str = "/api/v1/worlds/import";

async fn batch(app: &TestApp, token: &str, world: &str, operations: Value) -> Reply {
    app.post(
        &batch_path(world),
        Some(token),
        json!({ "operations": operations }),
    )
    .await
}

/// The world's change feed, as (type, resource_id) pairs.
async fn feed(app: &TestApp, token: &str, world: &str) -> Vec<(String, String)> {
    let reply = app
        .get_json(&format!("/api/v1/worlds/{world}/changes?limit=1000"), token)
        .await;
    reply["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            (
                c["type"].as_str().expect("type").to_owned(),
                c["resource_id"].as_str().expect("resource id").to_owned(),
            )
        })
        .collect()
}

async fn element_count(app: &TestApp, token: &str, world: &str) -> i64 {
    let reply = app.get_json(&world_path(world), token).await;
    reply["element_count"].as_i64().expect("count")
}

/// The `field`s of a problem's errors.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Batch

async fn a_batch_resolves_refs_in_order_and_answers_each_result(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let old = w.create(json!({"kind": "item", "name": "Old sword"})).await;
    let reply = batch(
        &app,
        token,
        &world,
        json!([
            {"op": "create_element", "ref": "city", "body": {"kind": "place", "name": "Varn"}},
            {"op": "create_element", "ref": "hero", "body": {"kind": "character", "name": "Ada", "parent_id": "$city", "tags": ["hero"]}},
            {"op": "create_relation", "ref": "lives", "body": {"source_id": "$hero", "target_id": "$city", "kind": "lives_in"}},
            {"op": "update_element", "id": "$hero", "if_match": 1, "body": {"summary": "A wanderer", "attributes": {"level": 3}}},
            {"op": "update_relation", "id": "$lives", "body": {"attributes": {"since": 1203}}},
            {"op": "delete_element", "id": id_of(&old), "if_match": 1},
            {"op": "delete_relation", "id": "$lives"}
        ]),
    )
    .await;
    reply.assert_status(200);
    let results = reply.json()["results"].as_array().expect("results").clone();
    let statuses: Vec<i64> = results
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 201, 200, 200, 204, 204]);
    assert_eq!(results[0]["ref"], "city");
    assert!(results[3].get("ref").is_none(), "{}", results[3]);
    let city = &results[0]["resource"];
    let hero = &results[3]["resource"];
    let relation = &results[2]["resource"];
    assert_eq!(results[1]["resource"]["parent_id"], city["id"]);
    assert_eq!(relation["source_id"], hero["id"]);
    assert_eq!(relation["target_id"], city["id"]);
    assert_eq!(hero["version"], 2);
    assert_eq!(hero["summary"], "A wanderer");
    assert_eq!(hero["attributes"], json!({"level": 3}));
    assert_eq!(results[4]["resource"]["attributes"], json!({"since": 1203}));
    assert_eq!(results[4]["resource"]["version"], 2);
    assert!(results[5]["resource"].is_null());
    // The resources are what the single endpoints return.
    let stored = app
        .get(
            &element_path(&world, hero["id"].as_str().unwrap()),
            Some(token),
        )
        .await;
    assert_eq!(stored.json(), *hero);
    // Counts and the change log are those of the same writes made one by one.
    assert_eq!(element_count(&app, token, &world).await, 2);
    let changes = feed(&app, token, &world).await;
    let types: Vec<&str> = changes.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "element.created",
            "element.created",
            "element.created",
            "relation.created",
            "element.updated",
            "relation.updated",
            "element.deleted",
            "relation.deleted",
        ]
    );
}

async fn a_failing_operation_applies_nothing_and_is_named(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let kept = w.create(json!({"kind": "place", "name": "Varn"})).await;
    let kept_id = id_of(&kept);
    let before = feed(&app, token, &world).await;

    // 422: the failing operation's field, under `operations[i].body`.
    let reply = batch(
        &app,
        token,
        &world,
        json!([
            {"op": "create_element", "ref": "a", "body": {"kind": "character", "name": "Ada"}},
            {"op": "update_element", "id": kept_id, "body": {"name": "Varn the Old"}},
            {"op": "delete_element", "id": kept_id},
            {"op": "create_element", "body": {"kind": "character", "name": ""}}
        ]),
    )
    .await;
    let problem = reply.assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["operations[3].body.name"]);
    // Nothing of the first three operations remains.
    let list = app.get_json(&elements_path(&world), token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "Varn");
    assert_eq!(list["items"][0]["version"], 1);
    assert_eq!(element_count(&app, token, &world).await, 1);
    assert_eq!(feed(&app, token, &world).await, before);

    // 404: an id that names nothing.
    let missing = "0192b1c4-0000-7000-8000-000000000000";
    let reply = batch(
        &app,
        token,
        &world,
        json!([
            {"op": "create_element", "body": {"kind": "character", "name": "Ada"}},
            {"op": "update_element", "id": missing, "body": {"name": "x"}}
        ]),
    )
    .await;
    let problem = reply.assert_problem(404, "not-found");
    assert_eq!(fields(&problem), ["operations[1].id"]);

    // 412: a stale if_match.
    let reply = batch(
        &app,
        token,
        &world,
        json!([{"op": "update_element", "id": kept_id, "if_match": 7, "body": {"name": "x"}}]),
    )
    .await;
    let problem = reply.assert_problem(412, "precondition-failed");
    assert_eq!(fields(&problem), ["operations[0].if_match"]);

    // 409: a duplicate relation, made earlier in the same batch.
    let reply = batch(
        &app,
        token,
        &world,
        json!([
            {"op": "create_element", "ref": "a", "body": {"kind": "character", "name": "Ada"}},
            {"op": "create_relation", "body": {"source_id": "$a", "target_id": kept_id, "kind": "visits"}},
            {"op": "create_relation", "body": {"source_id": "$a", "target_id": kept_id, "kind": "visits"}}
        ]),
    )
    .await;
    let problem = reply.assert_problem(409, "conflict");
    assert_eq!(fields(&problem), ["operations[2].body"]);

    // 422 from a kind's schema: the same check as the single endpoint.
    app.put(
        &format!("/api/v1/worlds/{world}/kinds/character"),
        Some(token),
        json!({"schema": {"type": "object", "required": ["race"]}}),
    )
    .await
    .assert_status(201);
    let reply = batch(
        &app,
        token,
        &world,
        json!([{"op": "create_element", "body": {"kind": "character", "name": "Ada"}}]),
    )
    .await;
    let problem = reply.assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["operations[0].body.attributes/race"]);

    assert_eq!(element_count(&app, token, &world).await, 1);
    let list = app.get_json(&elements_path(&world), token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn batch_operations_are_checked_as_the_contract_says(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let cases = [
        (json!([]), "operations"),
        (
            json!([{"op": "create_element", "body": {"kind": "place", "name": "A", "parent_id": "$nowhere"}}]),
            "operations[0].body.parent_id",
        ),
        (
            json!([{"op": "update_element", "ref": "x", "id": "$x", "body": {}}]),
            "operations[0].ref",
        ),
        (
            json!([
                {"op": "create_element", "ref": "x", "body": {"kind": "place", "name": "A"}},
                {"op": "create_element", "ref": "x", "body": {"kind": "place", "name": "B"}}
            ]),
            "operations[1].ref",
        ),
        (
            json!([{"op": "create_element", "body": {"kind": "place", "name": "A", "id": "x"}}]),
            "operations[0].body.id",
        ),
        (
            json!([{"op": "rename_world", "body": {}}]),
            "operations[0].op",
        ),
        (json!([{"op": "delete_element"}]), "operations[0].id"),
        (
            json!([{"op": "delete_element", "id": "not-a-uuid"}]),
            "operations[0].id",
        ),
        (json!([{"op": "create_element"}]), "operations[0].body"),
    ];
    for (operations, field) in cases {
        let reply = batch(&app, token, &world, operations.clone()).await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(fields(&problem), [field], "{operations}");
    }
    let many: Vec<Value> = (0..1001)
        .map(
            |i| json!({"op": "create_element", "body": {"kind": "place", "name": format!("P{i}")}}),
        )
        .collect();
    let reply = batch(&app, token, &world, Value::Array(many)).await;
    assert_eq!(
        fields(&reply.assert_problem(422, "validation-failed")),
        ["operations"]
    );
    // 1,000 is allowed.
    let thousand: Vec<Value> = (0..1000)
        .map(
            |i| json!({"op": "create_element", "body": {"kind": "place", "name": format!("P{i}")}}),
        )
        .collect();
    batch(&app, token, &world, Value::Array(thousand))
        .await
        .assert_status(200);
    assert_eq!(element_count(&app, token, &world).await, 1000);
}

async fn a_batch_is_authorized_like_the_single_endpoints(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    app.join(&ada, &world, &bob, "viewer").await;
    let create = json!([{"op": "create_element", "body": {"kind": "place", "name": "Varn"}}]);
    batch(&app, &bob.access_token, &world, create.clone())
        .await
        .assert_problem(403, "forbidden");
    batch(&app, &eve.access_token, &world, create.clone())
        .await
        .assert_problem(404, "not-found");
    app.post(
        &batch_path(&world),
        None,
        json!({"operations": create.clone()}),
    )
    .await
    .assert_problem(401, "unauthorized");
    let read = app
        .personal_token(&ada, json!({"name": "reader", "scope": "read"}))
        .await;
    batch(&app, &read, &world, create.clone())
        .await
        .assert_problem(403, "insufficient-scope");
    let write = app
        .personal_token(&ada, json!({"name": "writer", "scope": "write"}))
        .await;
    batch(&app, &write, &world, create).await.assert_status(200);
}

on_both_backends!(
    a_batch_resolves_refs_in_order_and_answers_each_result,
    a_failing_operation_applies_nothing_and_is_named,
    batch_operations_are_checked_as_the_contract_says,
    a_batch_is_authorized_like_the_single_endpoints,
);

// ---------------------------------------------------------------------------------------
// Idempotency keys

async fn post_with_key(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Reply {
    app.send_with(
        Method::POST,
        path,
        Some(token),
        Some(body),
        &[("Idempotency-Key", key)],
    )
    .await
}

async fn a_repeated_key_gets_the_first_answer_without_a_second_effect(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let token = ada.access_token.as_str();
    let world = app.new_world(token, "Eldoria").await;
    let path = elements_path(&world);
    let body = json!({"kind": "character", "name": "Ada"});
    let first = post_with_key(&app, &path, token, "create-ada-1", &body).await;
    first.assert_status(201);
    let again = post_with_key(&app, &path, token, "create-ada-1", &body).await;
    again.assert_status(201);
    assert_eq!(again.text, first.text);
    for header in ["location", "etag", "content-type"] {
        assert_eq!(again.header(header), first.header(header), "{header}");
    }
    assert_eq!(element_count(&app, token, &world).await, 1);
    // Another body with the same key: 422.
    let other = json!({"kind": "character", "name": "Bran"});
    post_with_key(&app, &path, token, "create-ada-1", &other)
        .await
        .assert_problem(422, "idempotency-key-reused");
    // The same key on another path is another request too.
    post_with_key(
        &app,
        "/api/v1/worlds",
        token,
        "create-ada-1",
        &json!({"name": "X"}),
    )
    .await
    .assert_problem(422, "idempotency-key-reused");
    // Keys are the user's own: another user's same key is a new request.
    let bobs_world = app.new_world(&bob.access_token, "Bob's").await;
    post_with_key(
        &app,
        &elements_path(&bobs_world),
        &bob.access_token,
        "create-ada-1",
        &body,
    )
    .await
    .assert_status(201);
    // Without a key, every POST creates.
    app.post(&path, Some(token), body.clone())
        .await
        .assert_status(201);
    assert_eq!(element_count(&app, token, &world).await, 2);

    // Worlds, relations, batches and errors are replayed the same way.
    let world_body = json!({"name": "Second"});
    let made = post_with_key(&app, "/api/v1/worlds", token, "world-2", &world_body).await;
    made.assert_status(201);
    let repeat = post_with_key(&app, "/api/v1/worlds", token, "world-2", &world_body).await;
    assert_eq!(repeat.json()["id"], made.json()["id"]);
    let ops = json!({"operations": [{"op": "create_element", "body": {"kind": "place", "name": "Varn"}}]});
    let first = post_with_key(&app, &batch_path(&world), token, "batch-1", &ops).await;
    first.assert_status(200);
    let again = post_with_key(&app, &batch_path(&world), token, "batch-1", &ops).await;
    assert_eq!(again.text, first.text);
    assert_eq!(element_count(&app, token, &world).await, 3);
    let invalid = json!({"kind": "character", "name": ""});
    let refused = post_with_key(&app, &path, token, "invalid-1", &invalid).await;
    refused.assert_problem(422, "validation-failed");
    let again = post_with_key(&app, &path, token, "invalid-1", &invalid).await;
    assert_eq!(again.text, refused.text);
    assert_eq!(again.status, refused.status);
    let ends = json!({"source_id": id_of(&first.json()["results"][0]["resource"]), "target_id": id_of(&first.json()["results"][0]["resource"]), "kind": "is"});
    let relation = post_with_key(&app, &relations_path(&world), token, "rel-1", &ends).await;
    relation.assert_status(201);
    let again = post_with_key(&app, &relations_path(&world), token, "rel-1", &ends).await;
    assert_eq!(again.text, relation.text);
}

/// The hash the server keys a request on: method, path and body.
fn request_hash(path: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"POST\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap());
    format!("{:x}", hasher.finalize())
}

async fn stored_key(
    app: &TestApp,
    user: &TestUser,
    key: &str,
    hash: &str,
    status: Option<i32>,
    age_hours: i64,
) {
    let db = app.db().await;
    let created_at = (chrono::Utc::now() - chrono::Duration::hours(age_hours)).fixed_offset();
    entity::idempotency_keys::ActiveModel {
        user_id: Set(user.id),
        key: Set(key.to_owned()),
        request_hash: Set(hash.to_owned()),
        status: Set(status),
        headers: Set(Some(json!([["content-type", "application/json"]]))),
        body: Set(status.map(|_| "{\"stored\":true}".to_owned())),
        created_at: Set(created_at),
    }
    .insert(&db)
    .await
    .expect("stored key");
}

async fn a_repeat_while_the_first_runs_is_409_and_keys_expire(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let path = elements_path(&world);
    let body = json!({"kind": "character", "name": "Ada"});
    // A first request still running (claimed, no answer yet), on this or another server.
    stored_key(&app, &ada, "running", &request_hash(&path, &body), None, 0).await;
    post_with_key(&app, &path, token, "running", &body)
        .await
        .assert_problem(409, "conflict");
    // A stored answer is replayed as stored (from another server, say).
    stored_key(
        &app,
        &ada,
        "answered",
        &request_hash(&path, &body),
        Some(201),
        1,
    )
    .await;
    let replay = post_with_key(&app, &path, token, "answered", &body).await;
    replay.assert_status(201);
    assert_eq!(replay.json(), json!({"stored": true}));
    // After 24 hours a key is forgotten: the request runs again.
    stored_key(
        &app,
        &ada,
        "old",
        &request_hash(&path, &body),
        Some(201),
        25,
    )
    .await;
    let fresh = post_with_key(&app, &path, token, "old", &body).await;
    fresh.assert_status(201);
    assert_eq!(fresh.json()["name"], "Ada");
    assert_eq!(element_count(&app, token, &world).await, 1);
    // The periodic job's prune removes expired keys only.
    stored_key(&app, &ada, "expired", "x", Some(201), 30).await;
    let db = app.db().await;
    assert_eq!(service::idempotency::prune(&db).await.expect("prune"), 1);
    let replay = post_with_key(&app, &path, token, "answered", &body).await;
    assert_eq!(replay.json(), json!({"stored": true}));
    // A malformed key is refused.
    for key in ["", &"k".repeat(256), "clé"] {
        let reply = app
            .client
            .post(app.url(&path))
            .bearer_auth(token)
            .header("Idempotency-Key", key.as_bytes())
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status().as_u16(), 422, "{key:?}");
    }
}

on_both_backends!(
    a_repeated_key_gets_the_first_answer_without_a_second_effect,
    a_repeat_while_the_first_runs_is_409_and_keys_expire,
);

// ---------------------------------------------------------------------------------------
// Export and import

/// A world with kinds, a hierarchy whose child is older than its parent (moved under a
/// newer one), attributes, tags and relations.
async fn sample_world(app: &TestApp, token: &str) -> String {
    let world = app
        .post(
            "/api/v1/worlds",
            Some(token),
            json!({"name": "Eldoria", "description": "A land", "settings": {"calendar": "elven"}, "visibility": "public"}),
        )
        .await;
    world.assert_status(201);
    let world = id_of(&world.json());
    app.put(
        &format!("/api/v1/worlds/{world}/kinds/character"),
        Some(token),
        json!({"description": "People", "schema": {"type": "object", "properties": {"level": {"type": "integer"}}}}),
    )
    .await
    .assert_status(201);
    let w = app.in_world(token, &world);
    let child = w.create(json!({"kind": "character", "name": "Ada", "summary": "Hero", "attributes": {"level": 3, "bag": {"gold": 12}}, "tags": ["hero", "elf"]})).await;
    let parent = w.create(json!({"kind": "place", "name": "Varn"})).await;
    let root = w.create(json!({"kind": "region", "name": "North"})).await;
    app.patch(
        &element_path(&world, &id_of(&parent)),
        Some(token),
        json!({"parent_id": id_of(&root)}),
    )
    .await
    .assert_status(200);
    app.patch(
        &element_path(&world, &id_of(&child)),
        Some(token),
        json!({"parent_id": id_of(&parent)}),
    )
    .await
    .assert_status(200);
    // An element the kind's schema no longer allows: every export can be imported.
    app.put(
        &format!("/api/v1/worlds/{world}/kinds/character"),
        Some(token),
        json!({"description": "People", "schema": {"type": "object", "properties": {"level": {"type": "string"}}}}),
    )
    .await
    .assert_status(200);
    app.post(
        &relations_path(&world),
        Some(token),
        json!({"source_id": id_of(&child), "target_id": id_of(&parent), "kind": "lives_in", "attributes": {"since": 1203}}),
    )
    .await
    .assert_status(201);
    app.post(
        &relations_path(&world),
        Some(token),
        json!({"source_id": id_of(&parent), "target_id": id_of(&root), "kind": "part_of"}),
    )
    .await
    .assert_status(201);
    world
}

fn ndjson_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn an_export_streams_the_world_in_the_contract_order(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = sample_world(&app, token).await;
    let reply = app.get(&export_path(&world), Some(token)).await;
    reply.assert_status(200);
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    let lines = ndjson_lines(&reply.text);
    assert_eq!(lines.len(), 1 + 1 + 3 + 2);
    let header = &lines[0];
    assert_eq!(
        sorted_keys(header),
        ["exported_at", "format", "version", "world"]
    );
    assert_eq!(header["format"], "lorebase.world");
    assert_eq!(header["version"], 1);
    assert_eq!(
        header["world"],
        json!({"name": "Eldoria", "description": "A land", "settings": {"calendar": "elven"}, "visibility": "public"})
    );
    assert_eq!(sorted_keys(&lines[1]), ["kind"]);
    assert_eq!(lines[1]["kind"]["kind"], "character");
    let elements: Vec<&Value> = lines[2..5].iter().map(|l| &l["element"]).collect();
    for element in &elements {
        assert_eq!(
            sorted_keys(element),
            [
                "attributes",
                "created_at",
                "id",
                "kind",
                "name",
                "parent_id",
                "summary",
                "tags",
                "updated_at"
            ]
        );
    }
    // Every parent before its children, though the child is the oldest.
    let names: Vec<&str> = elements
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["North", "Varn", "Ada"]);
    assert_eq!(
        elements[2]["attributes"],
        json!({"level": 3, "bag": {"gold": 12}})
    );
    assert_eq!(elements[2]["tags"], json!(["hero", "elf"]));
    let stored = app
        .get_json(
            &element_path(&world, elements[2]["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(elements[2]["created_at"], stored["created_at"]);
    assert_eq!(elements[2]["updated_at"], stored["updated_at"]);
    for line in &lines[5..] {
        assert_eq!(
            sorted_keys(&line["relation"]),
            [
                "attributes",
                "created_at",
                "id",
                "kind",
                "source_id",
                "target_id",
                "updated_at"
            ]
        );
    }
    // Readable by whoever can read the world: a public one by anyone.
    app.get(&export_path(&world), None).await.assert_status(200);
    let private = app.new_world(token, "Secret").await;
    app.get(&export_path(&private), None)
        .await
        .assert_problem(404, "not-found");
    let eve = app.register("eve").await;
    app.get(&export_path(&private), Some(&eve.access_token))
        .await
        .assert_problem(404, "not-found");
}

async fn import_body(app: &TestApp, token: &str, query: &str, body: String) -> Reply {
    let response = app
        .client
        .post(app.url(&format!("{IMPORT_PATH}{query}")))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("sent");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

/// An export with every id replaced by the name of what it names, and `exported_at`
/// left out: what two exports of the same world share.
fn normalized(text: &str) -> Vec<Value> {
    let mut lines = ndjson_lines(text);
    let names: HashMap<String, String> = lines
        .iter()
        .filter_map(|l| l.get("element"))
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let name_of = |v: &Value| {
        v.as_str()
            .map(|id| names.get(id).cloned().unwrap_or_else(|| "?".into()))
    };
    for line in &mut lines {
        if let Some(header) = line.as_object_mut() {
            header.remove("exported_at");
        }
        if let Some(e) = line.get_mut("element") {
            e["id"] = json!(name_of(&e["id"]));
            e["parent_id"] = json!(name_of(&e["parent_id"]));
        }
        if let Some(r) = line.get_mut("relation") {
            r["id"] = json!(null);
            r["source_id"] = json!(name_of(&r["source_id"]));
            r["target_id"] = json!(name_of(&r["target_id"]));
        }
    }
    let mut relations: Vec<Value> = lines
        .iter()
        .filter(|l| l.get("relation").is_some())
        .cloned()
        .collect();
    relations.sort_by_key(|r| r.to_string());
    lines.retain(|l| l.get("relation").is_none());
    lines.extend(relations);
    lines
}

async fn an_import_makes_a_new_world_with_new_ids_and_the_same_contents(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let world = sample_world(&app, &ada.access_token).await;
    let export = app
        .get(&export_path(&world), Some(&ada.access_token))
        .await
        .text;

    // Bob imports Ada's public world: a new world of his.
    let reply = import_body(&app, &bob.access_token, "", export.clone()).await;
    reply.assert_status(201);
    let imported = reply.json();
    let new_id = id_of(&imported);
    assert_ne!(new_id, world);
    assert_eq!(reply.header("location"), Some(world_path(&new_id).as_str()));
    assert_eq!(imported["owner_id"], bob.id.to_string());
    assert_eq!(imported["role"], "owner");
    assert_eq!(imported["name"], "Eldoria");
    assert_eq!(imported["visibility"], "public");
    assert_eq!(imported["element_count"], 3);

    let again = app
        .get(&export_path(&new_id), Some(&bob.access_token))
        .await
        .text;
    assert_eq!(normalized(&again), normalized(&export));
    // New ids, every reference mapped, timestamps kept.
    let old_ids: Vec<String> = ndjson_lines(&export)
        .iter()
        .filter_map(|l| {
            l.get("element")
                .map(|e| e["id"].as_str().unwrap().to_owned())
        })
        .collect();
    for line in ndjson_lines(&again) {
        if let Some(e) = line.get("element") {
            assert!(!old_ids.contains(&e["id"].as_str().unwrap().to_owned()));
            let id = e["id"].as_str().unwrap();
            assert_eq!(id.as_bytes()[14], b'7', "a UUID v7: {id}");
        }
    }
    // The element that breaks the imported kind's schema is there, in its violations.
    let violations = app
        .get_json(
            &format!("/api/v1/worlds/{new_id}/kinds/character/violations"),
            &bob.access_token,
        )
        .await;
    assert_eq!(violations["items"][0]["element"]["name"], "Ada");
    // The relations list of the new world works through the mapped ids.
    let list = app
        .get_json(&elements_path(&new_id), &bob.access_token)
        .await;
    let ada_el = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Ada")
        .unwrap()
        .clone();
    let relations = app
        .get_json(
            &format!("{}/relations", element_path(&new_id, &id_of(&ada_el))),
            &bob.access_token,
        )
        .await;
    assert_eq!(relations["items"][0]["other"]["name"], "Varn");
}

async fn a_dry_run_counts_and_writes_nothing(app: TestApp) {
    let ada = app.register("ada").await;
    let world = sample_world(&app, &ada.access_token).await;
    let export = app
        .get(&export_path(&world), Some(&ada.access_token))
        .await
        .text;
    let before = app.get_json("/api/v1/worlds", &ada.access_token).await;
    let reply = import_body(&app, &ada.access_token, "?dry_run=true", export).await;
    reply.assert_status(200);
    assert_eq!(
        reply.json(),
        json!({"elements": 3, "relations": 2, "kinds": 1})
    );
    let after = app.get_json("/api/v1/worlds", &ada.access_token).await;
    assert_eq!(after, before);
}

const HEADER: &str = r#"{"format":"lorebase.world","version":1,"exported_at":"2026-11-30T10:00:00Z","world":{"name":"W","description":null,"settings":{},"visibility":"private"}}"#;
const KIND: &str = r#"{"kind":{"kind":"character","description":null,"schema":{"type":"object"}}}"#;
const A: &str = r#"{"element":{"id":"0192b1c4-0000-7000-8000-00000000000a","parent_id":null,"kind":"place","name":"A","summary":null,"attributes":{},"tags":[],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}}"#;
const B_UNDER_A: &str = r#"{"element":{"id":"0192b1c4-0000-7000-8000-00000000000b","parent_id":"0192b1c4-0000-7000-8000-00000000000a","kind":"place","name":"B","summary":null,"attributes":{},"tags":[],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}}"#;
const A_TO_A: &str = r#"{"relation":{"id":"0192b1c4-0000-7000-8000-0000000000aa","source_id":"0192b1c4-0000-7000-8000-00000000000a","target_id":"0192b1c4-0000-7000-8000-00000000000a","kind":"near","attributes":{},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}}"#;
const A_TO_B: &str = r#"{"relation":{"id":"0192b1c4-0000-7000-8000-0000000000ab","source_id":"0192b1c4-0000-7000-8000-00000000000a","target_id":"0192b1c4-0000-7000-8000-00000000000b","kind":"near","attributes":{},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}}"#;

async fn a_bad_line_is_named_and_nothing_is_written(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let good = [HEADER, KIND, A, B_UNDER_A, A_TO_B].join("\n");
    let before = app.get_json("/api/v1/worlds", token).await;
    let nameless = A.replace("\"A\"", "\"\"");
    let versioned = A.replace("\"name\"", "\"version\":1,\"name\"");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![A, B_UNDER_A], "line 1"),
        (
            vec![r#"{"format":"other","version":1,"world":{"name":"W"}}"#],
            "line 1",
        ),
        (vec![HEADER, KIND, A, r#"{"place":{}}"#], "line 4"),
        (vec![HEADER, A, KIND], "line 3"),
        (vec![HEADER, A, A_TO_A, B_UNDER_A], "line 4"),
        (vec![HEADER, A, A], "line 3"),
        (vec![HEADER, B_UNDER_A, A], "line 2"),
        (vec![HEADER, A, "{not json"], "line 3"),
        (vec![HEADER, A, &nameless], "line 3"),
        (vec![HEADER, A, B_UNDER_A, A_TO_B, A_TO_B], "line 5"),
        (vec![HEADER, A, A_TO_B, B_UNDER_A], "line 3"),
        (vec![HEADER, KIND, KIND, A], "line 3"),
        (vec![HEADER, &versioned], "line 2"),
    ];
    for (lines, field) in cases {
        let body = lines.join("\n");
        let reply = import_body(&app, token, "", body.clone()).await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(fields(&problem)[0], field, "{body}\n{problem}");
    }
    assert_eq!(app.get_json("/api/v1/worlds", token).await, before);
    // The well-formed file imports, its timestamps kept.
    let reply = import_body(&app, token, "", good).await;
    reply.assert_status(201);
    let world = id_of(&reply.json());
    let list = app.get_json(&elements_path(&world), token).await;
    let a = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "A")
        .unwrap()
        .clone();
    assert_eq!(a["created_at"], "2026-01-01T00:00:00Z");
    assert_eq!(a["updated_at"], "2026-01-02T00:00:00Z");
}

async fn import_is_authorized_and_typed(app: TestApp) {
    let ada = app.register("ada").await;
    let body = [HEADER, A].join("\n");
    let response = app
        .client
        .post(app.url(IMPORT_PATH))
        .bearer_auth(&ada.access_token)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 415);
    let response = app
        .client
        .post(app.url(IMPORT_PATH))
        .header("content-type", "application/x-ndjson")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
    let read = app
        .personal_token(&ada, json!({"name": "reader", "scope": "read"}))
        .await;
    import_body(&app, &read, "", body.clone())
        .await
        .assert_problem(403, "insufficient-scope");
    let write = app
        .personal_token(&ada, json!({"name": "writer", "scope": "write"}))
        .await;
    import_body(&app, &write, "", body.clone())
        .await
        .assert_status(201);
    // Import takes an Idempotency-Key too.
    let import = |key: &'static str| {
        app.client
            .post(app.url(IMPORT_PATH))
            .bearer_auth(&ada.access_token)
            .header("content-type", "application/x-ndjson")
            .header("Idempotency-Key", key)
            .body(body.clone())
            .send()
    };
    let first = import("import-1").await.expect("sent");
    assert_eq!(first.status().as_u16(), 201);
    let first = first.text().await.expect("body");
    let again = import("import-1").await.expect("sent");
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(again.text().await.expect("body"), first);
}

on_both_backends!(
    an_export_streams_the_world_in_the_contract_order,
    an_import_makes_a_new_world_with_new_ids_and_the_same_contents,
    a_dry_run_counts_and_writes_nothing,
    a_bad_line_is_named_and_nothing_is_written,
    import_is_authorized_and_typed,
);

/// `IMPORT_MAX_BYTES` bounds an import's body; every other body keeps its 1 MiB.
async fn import_size_limit(backend: crate::helpers::Backend) {
    let app = spawn_app_with(backend, &[("IMPORT_MAX_BYTES", "4096")]).await;
    let ada = app.register("ada").await;
    let mut lines = vec![HEADER.to_owned()];
    for i in 0..40 {
        lines.push(A.replace("00000000000a", &format!("{i:012x}")));
    }
    let big = lines.join("\n");
    assert!(big.len() > 4096);
    import_body(&app, &ada.access_token, "", big)
        .await
        .assert_problem(413, "payload-too-large");
    // Also without a declared length (a chunked body).
    let status = chunked_import_status(&app, &ada.access_token, &lines).await;
    assert_eq!(status, 413);
    import_body(&app, &ada.access_token, "", [HEADER, A].join("\n"))
        .await
        .assert_status(201);
    let world = app.new_world(&ada.access_token, "W").await;
    let name = "x".repeat(1024 * 1024);
    app.post(
        &batch_path(&world),
        Some(&ada.access_token),
        json!({"operations": [{"op": "create_element", "body": {"kind": "a", "name": name}}]}),
    )
    .await
    .assert_problem(413, "payload-too-large");
}

crate::with_each_backend!(import_size_limit);

/// POSTs `lines` as an import with `Transfer-Encoding: chunked` (no length declared) and
/// returns the answer's status.
async fn chunked_import_status(app: &TestApp, token: &str, lines: &[String]) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let address = app.address.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST {IMPORT_PATH} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunks: Vec<String> = lines.iter().map(|l| format!("{l}\n")).collect();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        // The server may answer (and stop reading) before the body ends.
        let _ = stream.write_all(head.as_bytes());
        for chunk in chunks {
            let _ = write!(stream, "{:x}\r\n{chunk}\r\n", chunk.len());
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut status_line = String::new();
        BufReader::new(stream)
            .read_line(&mut status_line)
            .expect("status line");
        status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"))
    })
    .await
    .expect("chunked request")
}

/// An import longer than the changes it keeps in memory (it writes them out every 1,000
/// lines): counts, and a change log with every `seq` once, in order.
async fn a_long_import_keeps_counts_and_the_change_log_right(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let mut lines = vec![HEADER.to_owned()];
    for i in 0..1100u32 {
        lines.push(
            A.replace("00000000000a", &format!("{i:012x}"))
                .replace("\"A\"", &format!("\"E{i}\"")),
        );
    }
    let reply = import_body(&app, token, "", lines.join("\n")).await;
    reply.assert_status(201);
    let world = id_of(&reply.json());
    assert_eq!(reply.json()["element_count"], 1100);
    let mut seqs = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get_json(
                &format!("/api/v1/worlds/{world}/changes?after={after}&limit=1000"),
                token,
            )
            .await;
        for change in page["items"].as_array().expect("items") {
            assert_eq!(change["type"], "element.created");
            seqs.push(change["seq"].as_i64().expect("seq"));
        }
        after = page["next_after"].as_i64().expect("next_after");
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(seqs, (1..=1100).collect::<Vec<i64>>());
    let w = app.in_world(token, &world);
    // The next write continues the sequence.
    w.create(json!({"kind": "place", "name": "After"})).await;
    let next = app
        .get_json(&format!("/api/v1/worlds/{world}/changes?after=1100"), token)
        .await;
    assert_eq!(next["items"][0]["seq"], 1101);
    assert_eq!(element_count(&app, token, &world).await, 1101);
}

on_both_backends!(a_long_import_keeps_counts_and_the_change_log_right);

// ---------------------------------------------------------------------------------------
// Imports and batches larger than one bulk statement (2,000 rows)

const CHUNKED_ELEMENTS: usize = 4500;
const CHUNKED_RELATIONS: usize = 2500;

fn old_element_id(i: usize) -> String {
    format!("0192b1c4-0000-7000-8000-{i:012x}")
}

/// Element `i` of a chunked import: every one whose number is not a multiple of 3 hangs
/// under the one before, so parents sit in earlier chunks (2,000 and 4,000 have theirs
/// in the chunk before).
fn chunked_element(i: usize) -> Value {
    let parent = (!i.is_multiple_of(3)).then(|| old_element_id(i - 1));
    json!({"element": {
        "id": old_element_id(i), "parent_id": parent, "kind": "place", "name": format!("E{i}"),
        "summary": null, "attributes": {"n": i}, "tags": [],
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"
    }})
}

/// Relation `j` of `elements`: from element `j` to element `7j + 1` (mod the count).
fn chunked_relation(j: usize, elements: usize) -> Value {
    json!({"relation": {
        "id": format!("0192b1c4-0000-7000-9000-{j:012x}"),
        "source_id": old_element_id(j),
        "target_id": old_element_id((j * 7 + 1) % elements),
        "kind": "near", "attributes": {},
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"
    }})
}

/// The import file's lines: the header, then `elements` elements, then relations.
fn chunked_lines(elements: usize) -> Vec<String> {
    let mut lines = vec![HEADER.to_owned()];
    lines.extend((0..elements).map(|i| chunked_element(i).to_string()));
    lines.extend((0..CHUNKED_RELATIONS).map(|j| chunked_relation(j, elements).to_string()));
    lines
}

/// Every change of the world, in `seq` order.
async fn all_changes(app: &TestApp, token: &str, world: &str) -> Vec<Value> {
    let mut changes = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get_json(
                &format!("/api/v1/worlds/{world}/changes?after={after}&limit=1000"),
                token,
            )
            .await;
        changes.extend(page["items"].as_array().expect("items").iter().cloned());
        after = page["next_after"].as_i64().expect("next_after");
        if page["has_more"] != true {
            return changes;
        }
    }
}

/// Elements of the import that spans chunks: more roots and more elements with a parent
/// than an export page (5,000), too.
const MANY_ELEMENTS: usize = 16_000;

async fn an_import_of_several_chunks_keeps_every_reference_and_change(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let body = chunked_lines(MANY_ELEMENTS).join("\n");
    let dry = import_body(&app, token, "?dry_run=true", body.clone()).await;
    dry.assert_status(200);
    assert_eq!(
        dry.json(),
        json!({"elements": MANY_ELEMENTS, "relations": CHUNKED_RELATIONS, "kinds": 0})
    );
    let reply = import_body(&app, token, "", body).await;
    reply.assert_status(201);
    let world = id_of(&reply.json());
    assert_eq!(reply.json()["element_count"], MANY_ELEMENTS);
    assert_eq!(
        element_count(&app, token, &world).await,
        MANY_ELEMENTS as i64
    );

    // Every parent and every relation's ends are mapped to the new ids.
    let export = app.get(&export_path(&world), Some(token)).await.text;
    let lines = ndjson_lines(&export);
    let names: HashMap<String, String> = lines
        .iter()
        .filter_map(|l| l.get("element"))
        .map(|e| {
            (
                e["id"].as_str().unwrap().into(),
                e["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(names.len(), MANY_ELEMENTS);
    let name_of = |id: &Value| id.as_str().map(|id| names[id].clone());
    let mut seen = 0;
    for element in lines.iter().filter_map(|l| l.get("element")) {
        let i: usize = element["name"].as_str().unwrap()[1..].parse().unwrap();
        let parent = (!i.is_multiple_of(3)).then(|| format!("E{}", i - 1));
        assert_eq!(name_of(&element["parent_id"]), parent, "{element}");
        assert_eq!(element["attributes"], json!({"n": i}));
        assert_eq!(element["created_at"], "2026-01-01T00:00:00Z");
        seen += 1;
    }
    assert_eq!(seen, MANY_ELEMENTS);
    let mut ends: Vec<(String, String)> = lines
        .iter()
        .filter_map(|l| l.get("relation"))
        .map(|r| {
            (
                name_of(&r["source_id"]).unwrap(),
                name_of(&r["target_id"]).unwrap(),
            )
        })
        .collect();
    ends.sort();
    let mut expected: Vec<(String, String)> = (0..CHUNKED_RELATIONS)
        .map(|j| (format!("E{j}"), format!("E{}", (j * 7 + 1) % MANY_ELEMENTS)))
        .collect();
    expected.sort();
    assert_eq!(ends, expected);

    // One change per row, in the file's order, `seq` from 1 without a gap.
    let changes = all_changes(&app, token, &world).await;
    assert_eq!(changes.len(), MANY_ELEMENTS + CHUNKED_RELATIONS);
    for (n, change) in changes.iter().enumerate() {
        assert_eq!(change["seq"], n + 1);
        if n < MANY_ELEMENTS {
            assert_eq!(change["type"], "element.created");
            assert_eq!(change["data"]["name"], format!("E{n}"));
        } else {
            assert_eq!(change["type"], "relation.created");
            let j = n - MANY_ELEMENTS;
            assert_eq!(name_of(&change["data"]["source_id"]), Some(format!("E{j}")));
        }
    }
}

on_both_backends!(an_import_of_several_chunks_keeps_every_reference_and_change);

async fn a_bad_line_in_a_later_chunk_is_named(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let before = app.get_json("/api/v1/worlds", token).await;
    // Element i is on line i + 2, relation j on line CHUNKED_ELEMENTS + j + 2.
    let line_of_element = |i: usize| format!("line {}", i + 2);
    let bad_parent = |i: usize, parent: usize| {
        let mut element = chunked_element(i);
        element["element"]["parent_id"] = json!(old_element_id(parent));
        (i + 1, element.to_string())
    };
    let repeated_id = |i: usize, of: usize| {
        let mut element = chunked_element(i);
        element["element"]["id"] = json!(old_element_id(of));
        (i + 1, element.to_string())
    };
    let unknown_end = |j: usize| {
        let mut relation = chunked_relation(j, CHUNKED_ELEMENTS);
        relation["relation"]["target_id"] = json!("0192b1c4-0000-7000-8000-ffffffffffff");
        (CHUNKED_ELEMENTS + j + 1, relation.to_string())
    };
    let cases: Vec<(Vec<(usize, String)>, String)> = vec![
        // A parent that comes later in the same chunk, and in a later chunk.
        (vec![bad_parent(4100, 4200)], line_of_element(4100)),
        (vec![bad_parent(2100, 4200)], line_of_element(2100)),
        // An id that an earlier chunk holds, before a later error of the same chunk.
        (
            vec![repeated_id(2500, 10), bad_parent(2600, 4400)],
            line_of_element(2500),
        ),
        // The same id twice in one chunk.
        (vec![repeated_id(2500, 2400)], line_of_element(2500)),
        (
            vec![unknown_end(2100)],
            format!("line {}", CHUNKED_ELEMENTS + 2100 + 2),
        ),
    ];
    for (changes, field) in cases {
        let mut lines = chunked_lines(CHUNKED_ELEMENTS);
        for (index, line) in changes {
            lines[index] = line;
        }
        let reply = import_body(&app, token, "", lines.join("\n")).await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(fields(&problem)[0], field, "{problem}");
    }
    assert_eq!(app.get_json("/api/v1/worlds", token).await, before);
}

on_both_backends!(a_bad_line_in_a_later_chunk_is_named);

async fn consecutive_creates_in_a_batch_link_parents_and_mentions(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let varn = w.element(json!({"kind": "place", "name": "Varn"})).await;
    let nowhere = "0192b1c4-0000-7000-8000-000000000000";
    let reply = batch(
        &app,
        token,
        &world,
        json!([
            {"op": "create_element", "ref": "p", "body": {"kind": "place", "name": "P"}},
            {"op": "create_element", "body": {"kind": "place", "name": "C", "parent_id": "$p",
                "summary": format!("near [[{varn}]]")}},
            {"op": "create_element", "body": {"kind": "place", "name": "D",
                "summary": format!("[[{varn}|Varn]] and [[{nowhere}]]")}},
            {"op": "update_element", "id": varn, "body": {"name": "Varn the Old"}},
            {"op": "create_element", "body": {"kind": "place", "name": "E", "parent_id": "$p"}},
            {"op": "create_relation", "body": {"source_id": "$p", "target_id": varn, "kind": "near"}}
        ]),
    )
    .await;
    reply.assert_status(200);
    let results = reply.json()["results"].as_array().unwrap().clone();
    let statuses: Vec<i64> = results
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 201, 200, 201, 201]);
    let p = results[0]["resource"]["id"].clone();
    assert_eq!(results[1]["resource"]["parent_id"], p);
    assert_eq!(results[4]["resource"]["parent_id"], p);
    assert_eq!(results[5]["resource"]["source_id"], p);
    assert_eq!(element_count(&app, token, &world).await, 5);
    // C and D mention Varn; the id that names nothing stays text.
    let mentions = app
        .get_json(&format!("{}/mentions", element_path(&world, &varn)), token)
        .await;
    let mut names: Vec<&str> = mentions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["C", "D"]);
    // The change log in the operations' order.
    let types: Vec<String> = feed(&app, token, &world)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        types,
        [
            "element.created",
            "element.created",
            "element.created",
            "element.created",
            "element.updated",
            "element.created",
            "relation.created"
        ]
    );
}

on_both_backends!(consecutive_creates_in_a_batch_link_parents_and_mentions);

/// The names of the elements whose summaries mention `element`.
async fn mentioned_by(app: &TestApp, token: &str, world: &str, element: &str) -> Vec<String> {
    let reply = app
        .get_json(&format!("{}/mentions", element_path(world, element)), token)
        .await;
    let mut names: Vec<String> = reply["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

/// Mentions are references: an import maps their ids like the others and links them,
/// those that name an element later in the file too. A mention of something that is no
/// element of the world stays text.
async fn an_import_maps_and_links_mentions(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let other_world = app.new_world(token, "Elsewhere").await;
    let stranger = id_of(
        &app.create_element(token, &other_world, json!({"kind": "place", "name": "Far"}))
            .await,
    );
    let w = app.in_world(token, &world);
    let first = w.element(json!({"kind": "place", "name": "First"})).await;
    let second = id_of(
        &w.create(
            json!({"kind": "place", "name": "Second", "parent_id": first,
                   "summary": format!("below [[{first}|the first]]")}),
        )
        .await,
    );
    // First, exported before Second, mentions it (and an element of another world).
    app.patch(
        &element_path(&world, &first),
        Some(token),
        json!({"summary": format!("above [[{second}]], not [[{stranger}]]")}),
    )
    .await
    .assert_status(200);
    assert_eq!(mentioned_by(&app, token, &world, &second).await, ["First"]);
    let export = app.get(&export_path(&world), Some(token)).await.text;

    let dry = import_body(&app, token, "?dry_run=true", export.clone()).await;
    dry.assert_status(200);
    let reply = import_body(&app, token, "", export).await;
    reply.assert_status(201);
    let copy = id_of(&reply.json());
    let list = app
        .get_json(&format!("{}?limit=10", elements_path(&copy)), token)
        .await;
    let by_name: HashMap<String, Value> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["name"].as_str().expect("name").to_owned(), e.clone()))
        .collect();
    let new_first = by_name["First"]["id"].as_str().expect("id").to_owned();
    let new_second = by_name["Second"]["id"].as_str().expect("id").to_owned();
    assert_ne!(new_first, first);
    // The summaries name the new ids; the stranger's id names nothing in the new world
    // (the import cannot know it from an id of the file's) and stays text.
    assert_eq!(
        by_name["Second"]["summary"],
        format!("below [[{new_first}|the first]]")
    );
    let first_summary = by_name["First"]["summary"].as_str().expect("summary");
    assert!(
        first_summary.starts_with(&format!("above [[{new_second}]], not [[")),
        "{first_summary}"
    );
    // Linked both ways: the forward mention too.
    assert_eq!(
        mentioned_by(&app, token, &copy, &new_second).await,
        ["First"]
    );
    assert_eq!(
        mentioned_by(&app, token, &copy, &new_first).await,
        ["Second"]
    );
    // The original world's links are as they were; nothing in the copy links the stranger.
    assert_eq!(mentioned_by(&app, token, &world, &first).await, ["Second"]);
    assert!(
        mentioned_by(&app, token, &other_world, &stranger)
            .await
            .is_empty()
    );
}

on_both_backends!(an_import_maps_and_links_mentions);
