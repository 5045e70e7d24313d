//! Typed kinds: element kind schemas (PUT/GET/list/DELETE, If-Match, 201 vs 200, refused
//! schemas), validation on every element write path (create, PATCH after the merge patch,
//! revert, restore), the violations list, relation kinds (allowed ends on create and on a
//! change of kind, `inverse_kind` on incoming relations), the change feed, and who may do
//! what.
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::{element_path, elements_path, id_of};
use crate::helpers::{error_fields, relations_path};
use crate::on_both_backends;

fn kinds_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/kinds")
}

fn kind_path(world: &str, kind: &str) -> String {
    format!("/api/v1/worlds/{world}/kinds/{kind}")
}

fn relation_kind_path(world: &str, kind: &str) -> String {
    format!("/api/v1/worlds/{world}/relation-kinds/{kind}")
}

/// A typical character schema: a race from a known list and a positive level.
fn character_schema() -> Value {
    json!({
        "type": "object",
        "required": ["race"],
        "properties": {
            "race": {"enum": ["elf", "dwarf", "human"]},
            "stats": {
                "type": "object",
                "properties": {"level": {"type": "integer", "minimum": 1}}
            }
        }
    })
}

async fn put_schema(app: &TestApp, token: &str, world: &str, kind: &str, schema: Value) -> Value {
    let reply = app
        .put(
            &kind_path(world, kind),
            Some(token),
            json!({"schema": schema}),
        )
        .await;
    assert!(
        reply.status == 201 || reply.status == 200,
        "PUT kind: {} {}",
        reply.status,
        reply.text
    );
    reply.json()
}

/// The `field`s of a 422's errors, sorted.
fn fields(problem: &Value) -> Vec<&str> {
    let mut fields = error_fields(problem);
    fields.sort();
    fields
}

async fn kind_put_get_list_delete(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    w.create(json!({"kind": "character", "name": "Aria", "attributes": {"race": "elf"}}))
        .await;
    let path = kind_path(&world, "character");

    let reply = app
        .put(
            &path,
            Some(token),
            json!({"description": "People", "schema": character_schema()}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.header("location"), Some(path.as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let kind = reply.json();
    assert_eq!(kind["kind"], "character");
    assert_eq!(kind["description"], "People");
    assert_eq!(kind["schema"], character_schema());
    assert_eq!(kind["version"], 1);
    assert_eq!(kind["element_count"], 1);
    assert!(kind["created_at"].is_string() && kind["updated_at"].is_string());

    // The same PUT again changes nothing: 200, same version.
    let again = app
        .put(
            &path,
            Some(token),
            json!({"description": "People", "schema": character_schema()}),
        )
        .await;
    again.assert_status(200);
    assert_eq!(again.json()["version"], 1);

    // If-Match: a stale version is 412 and changes nothing; the current one goes through.
    let stricter = json!({"type": "object", "required": ["race", "stats"]});
    app.if_match(
        Method::PUT,
        &path,
        token,
        Some(&json!({"schema": stricter})),
        "\"7\"",
    )
    .await
    .assert_problem(412, "precondition-failed");
    let replaced = app
        .if_match(
            Method::PUT,
            &path,
            token,
            Some(&json!({"schema": stricter})),
            "\"1\"",
        )
        .await;
    replaced.assert_status(200);
    assert_eq!(replaced.header("etag"), Some("\"2\""));
    let replaced = replaced.json();
    assert_eq!(replaced["version"], 2);
    // A PUT replaces the whole kind: the description left out is gone.
    assert_eq!(replaced["description"], Value::Null);
    // If-Match on a kind that does not exist yet fails the precondition.
    app.if_match(
        Method::PUT,
        &kind_path(&world, "place"),
        token,
        Some(&json!({"schema": {}})),
        "\"1\"",
    )
    .await
    .assert_problem(412, "precondition-failed");

    let fetched = app.get(&path, Some(token)).await;
    fetched.assert_status(200);
    assert_eq!(fetched.header("etag"), Some("\"2\""));
    assert_eq!(fetched.json(), replaced);

    // The list: by name, paginated.
    put_schema(&app, token, &world, "place", json!({"type": "object"})).await;
    put_schema(&app, token, &world, "artifact", json!(true)).await;
    let first = app
        .get_json(&format!("{}?limit=2", kinds_path(&world)), token)
        .await;
    let names: Vec<&str> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| k["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(names, ["artifact", "character"]);
    assert_eq!(first["items"][1]["element_count"], 1);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get_json(
            &format!("{}?limit=2&cursor={cursor}", kinds_path(&world)),
            token,
        )
        .await;
    assert_eq!(second["items"][0]["kind"], "place");
    assert_eq!(second["items"][0]["element_count"], 0);
    assert_eq!(second["next_cursor"], Value::Null);

    // DELETE: stale If-Match is 412; then 204, and the elements keep their kind,
    // unvalidated.
    app.if_match(Method::DELETE, &path, token, None, "\"1\"")
        .await
        .assert_problem(412, "precondition-failed");
    app.delete(&path, Some(token)).await.assert_status(204);
    app.assert_gone(&path, token).await;
    let elements = app
        .get_json(&format!("{}?kind=character", elements_path(&world)), token)
        .await;
    assert_eq!(elements["items"][0]["name"], "Aria");
    w.create(json!({"kind": "character", "name": "Anything goes", "attributes": {"race": 3}}))
        .await;

    // A kind that cannot exist is 404.
    app.get(&kind_path(&world, "Not-A-Kind"), Some(token))
        .await
        .assert_problem(404, "not-found");
}

async fn refused_schemas(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let path = kind_path(&world, "character");
    let refuse = |schema: Value| {
        let app = &app;
        let path = path.clone();
        async move {
            let reply = app.put(&path, Some(token), json!({"schema": schema})).await;
            reply.assert_problem(422, "validation-failed")
        }
    };
    // Not valid against the draft 2020-12 meta-schema.
    let problem = refuse(json!({"properties": {"level": {"type": "nonsense"}}})).await;
    assert!(
        fields(&problem)[0].starts_with("schema/properties/level"),
        "{problem}"
    );
    refuse(json!({"minimum": "three"})).await;
    refuse(json!([1, 2])).await;
    refuse(json!({"pattern": "("})).await;
    // Refers outside itself.
    let problem = refuse(json!({"$ref": "https://example.com/person.json"})).await;
    assert_eq!(fields(&problem), ["schema/$ref"]);
    let problem = refuse(json!({"properties": {"home": {"$ref": "place.json#/x"}}})).await;
    assert_eq!(fields(&problem), ["schema/properties/home/$ref"]);
    refuse(json!({"$dynamicRef": "http://localhost:1/x"})).await;
    refuse(json!({"$schema": "http://json-schema.org/draft-07/schema#"})).await;
    // Larger than 64 KiB.
    let big: serde_json::Map<String, Value> = (0..3000)
        .map(|i| (format!("property_{i:05}"), json!({"type": "string"})))
        .collect();
    let problem = refuse(json!({"properties": big})).await;
    assert_eq!(fields(&problem), ["schema"]);
    // The body's shape: a schema is required, unknown fields are refused.
    app.put(&path, Some(token), json!({"description": "x"}))
        .await
        .assert_status(422);
    app.put(&path, Some(token), json!({"schema": {}, "version": 3}))
        .await
        .assert_status(422);
    // Nothing was stored.
    app.get(&path, Some(token))
        .await
        .assert_problem(404, "not-found");
    // Local references are fine.
    let local = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"level": {"type": "integer", "minimum": 1}},
        "properties": {"level": {"$ref": "#/$defs/level"}}
    });
    put_schema(&app, token, &world, "character", local).await;
    let problem = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "character", "name": "Aria", "attributes": {"level": 0}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/level"]);
    // `format` is asserted, not only annotated.
    put_schema(
        &app,
        token,
        &world,
        "event",
        json!({"properties": {"on": {"type": "string", "format": "date"}}}),
    )
    .await;
    let problem = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "event", "name": "Feast", "attributes": {"on": "soon"}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    let w = app.in_world(token, &world);
    assert_eq!(fields(&problem), ["attributes/on"]);
    w.create(json!({"kind": "event", "name": "Feast", "attributes": {"on": "2026-12-21"}}))
        .await;
    // A schema that cannot be compiled is refused where it breaks.
    let problem = refuse(json!({"properties": {"motto": {"pattern": "("}}})).await;
    assert!(
        fields(&problem)[0].starts_with("schema/properties/motto"),
        "{problem}"
    );
}

async fn element_writes_are_validated(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    put_schema(&app, token, &world, "character", character_schema()).await;

    // Create: one entry per violation, at the offending value's pointer.
    let reply = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "character", "name": "Aria", "attributes": {"stats": {"level": 0}}}),
        )
        .await;
    let problem = reply.assert_problem(422, "validation-failed");
    assert_eq!(
        fields(&problem),
        ["attributes/race", "attributes/stats/level"]
    );
    for error in problem["errors"].as_array().expect("errors") {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let problem = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "character", "name": "Aria", "attributes": {"race": "orc", "stats": {"level": "high"}}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(
        fields(&problem),
        ["attributes/race", "attributes/stats/level"]
    );
    let w = app.in_world(token, &world);
    // Other kinds are free.
    w.create(json!({"kind": "place", "name": "Vale", "attributes": {"race": 1}}))
        .await;

    let aria = w.create(json!({"kind": "character", "name": "Aria", "attributes": {"race": "elf", "stats": {"level": 3}}})).await;
    let path = element_path(&world, &id_of(&aria));

    // PATCH: checked after the merge patch is applied.
    let problem = app
        .patch(&path, Some(token), json!({"attributes": {"race": null}}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/race"]);
    let problem = app
        .patch(
            &path,
            Some(token),
            json!({"attributes": {"stats": {"level": -1}}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/stats/level"]);
    // A partial patch that leaves the whole valid goes through.
    let patched = app
        .patch(
            &path,
            Some(token),
            json!({"attributes": {"stats": {"level": 4}}}),
        )
        .await;
    patched.assert_status(200);
    assert_eq!(
        patched.json()["attributes"],
        json!({"race": "elf", "stats": {"level": 4}})
    );
    // Changing the kind checks the attributes against the new kind's schema.
    let vale = app.element_id(token, &world, "place", "Hill").await;
    let problem = app
        .patch(
            &element_path(&world, &vale),
            Some(token),
            json!({"kind": "character"}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/race"]);

    // A stricter schema never rejects or changes existing elements...
    put_schema(
        &app,
        token,
        &world,
        "character",
        json!({"type": "object", "required": ["race", "title"]}),
    )
    .await;
    let stored = app.get_json(&path, token).await;
    assert_eq!(stored["version"], 2);
    // ...but their next change must satisfy it, also one that leaves attributes alone.
    let problem = app
        .patch(&path, Some(token), json!({"name": "Aria the Bold"}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/title"]);
    // A PATCH that changes nothing is no write: 200, unchecked, version kept.
    let noop = app.patch(&path, Some(token), json!({})).await;
    noop.assert_status(200);
    assert_eq!(noop.json()["version"], 2);
    app.patch(
        &path,
        Some(token),
        json!({"name": "Aria the Bold", "attributes": {"title": "Bold"}}),
    )
    .await
    .assert_status(200);
}

async fn revert_and_restore_are_validated(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    // Version 1 has no race; version 2 has one.
    let w = app.in_world(token, &world);
    let aria = w.create(json!({"kind": "character", "name": "Aria"})).await;
    let path = element_path(&world, &id_of(&aria));
    app.patch(&path, Some(token), json!({"attributes": {"race": "elf"}}))
        .await
        .assert_status(200);
    // Bran breaks the schema to come, and goes to the trash.
    let bran = app.element_id(token, &world, "character", "Bran").await;
    app.delete(&element_path(&world, &bran), Some(token))
        .await
        .assert_status(204);

    put_schema(&app, token, &world, "character", character_schema()).await;

    let problem = app
        .revert(&path, token, 1)
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/race"]);
    assert_eq!(app.get_json(&path, token).await["version"], 2);

    let restore = format!("/api/v1/worlds/{world}/trash/{bran}/restore");
    let problem = app
        .post(&restore, Some(token), json!({}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/race"]);
    // Still in the trash.
    let trash = app
        .get_json(&format!("/api/v1/worlds/{world}/trash"), token)
        .await;
    assert_eq!(trash["items"][0]["id"], bran.as_str());

    // Without the schema both go through.
    app.delete(&kind_path(&world, "character"), Some(token))
        .await
        .assert_status(204);
    app.revert(&path, token, 1).await.assert_status(200);
    app.post(&restore, Some(token), json!({}))
        .await
        .assert_status(200);
}

async fn violations_are_listed_and_paged(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let mut broken = Vec::new();
    for (name, attributes) in [
        ("A", json!({"race": "elf"})),
        ("B", json!({})),
        ("C", json!({"race": "dwarf", "stats": {"level": 2}})),
        ("D", json!({"race": "orc", "stats": {"level": 0}})),
        ("E", json!({"race": "human"})),
        ("F", json!({"race": 7})),
    ] {
        let element = w
            .create(json!({"kind": "character", "name": name, "attributes": attributes}))
            .await;
        if ["B", "D", "F"].contains(&name) {
            broken.push(id_of(&element));
        }
    }
    app.element_id(token, &world, "place", "Not a character")
        .await;
    let path = format!("{}/violations", kind_path(&world, "character"));
    app.get(&path, Some(token))
        .await
        .assert_problem(404, "not-found");
    put_schema(&app, token, &world, "character", character_schema()).await;

    let first = app.get_json(&format!("{path}?limit=2"), token).await;
    let items = first["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["element"], json!({"id": broken[0], "name": "B"}));
    assert_eq!(fields(&items[0]), ["attributes/race"]);
    assert_eq!(items[1]["element"]["name"], "D");
    assert_eq!(
        fields(&items[1]),
        ["attributes/race", "attributes/stats/level"]
    );
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get_json(&format!("{path}?limit=2&cursor={cursor}"), token)
        .await;
    let items = second["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["element"]["id"], broken[2].as_str());
    assert_eq!(second["next_cursor"], Value::Null);
    // Exactly `limit` violations: the page says there is no more.
    let all = app.get_json(&format!("{path}?limit=3"), token).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(all["next_cursor"], Value::Null);

    app.get(&format!("{path}?cursor=garbage"), Some(token))
        .await
        .assert_status(400);
    app.get(&format!("{path}?limit=0"), Some(token))
        .await
        .assert_status(422);
    // An empty limit is not "no limit" (schemathesis found `?limit=` accepted).
    app.get(&format!("{path}?limit="), Some(token))
        .await
        .assert_status(400);
    // Fixing an element takes it off the list.
    app.patch(
        &element_path(&world, &broken[0]),
        Some(token),
        json!({"attributes": {"race": "elf"}}),
    )
    .await
    .assert_status(200);
    let after_fix = app.get_json(&path, token).await;
    assert_eq!(after_fix["items"].as_array().map(Vec::len), Some(2));
}

async fn relation_kinds_enforce_ends(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let gandalf = app.element_id(token, &world, "character", "Gandalf").await;
    let frodo = app.element_id(token, &world, "character", "Frodo").await;
    let shire = app.element_id(token, &world, "place", "Shire").await;
    let path = relation_kind_path(&world, "mentors");

    let reply = app
        .put(
            &path,
            Some(token),
            json!({"description": "teaches", "source_kinds": ["character"], "target_kinds": ["character"], "inverse": "mentored_by"}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("location"), Some(path.as_str()));
    let kind = reply.json();
    assert_eq!(kind["kind"], "mentors");
    assert_eq!(kind["source_kinds"], json!(["character"]));
    assert_eq!(kind["target_kinds"], json!(["character"]));
    assert_eq!(kind["inverse"], "mentored_by");
    assert_eq!(kind["version"], 1);
    let same = app
        .put(
            &path,
            Some(token),
            json!({"description": "teaches", "source_kinds": ["character"], "target_kinds": ["character"], "inverse": "mentored_by"}),
        )
        .await;
    same.assert_status(200);
    assert_eq!(same.json()["version"], 1);
    app.put(&path, Some(token), json!({"source_kinds": ["Bad Kind"]}))
        .await
        .assert_problem(422, "validation-failed");
    app.put(&path, Some(token), json!({"target_kinds": []}))
        .await
        .assert_problem(422, "validation-failed");
    app.put(&path, Some(token), json!({"inverse": "Nope"}))
        .await
        .assert_problem(422, "validation-failed");

    let relations = relations_path(&world);
    // An end of a kind the relation kind does not allow: 422 naming that end.
    let problem = app
        .post(
            &relations,
            Some(token),
            json!({"source_id": gandalf, "target_id": shire, "kind": "mentors"}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["target_id"]);
    let problem = app
        .post(
            &relations,
            Some(token),
            json!({"source_id": shire, "target_id": shire, "kind": "mentors"}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["source_id", "target_id"]);
    app.relate(token, &world, &gandalf, &frodo, "mentors").await;
    // Unregistered kinds are free.
    let near = app.relate(token, &world, &frodo, &shire, "lives_in").await;
    let near_path = format!("{relations}/{}", id_of(&near));
    // Changing a relation's kind checks its ends against the new kind.
    let problem = app
        .patch(&near_path, Some(token), json!({"kind": "mentors"}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["target_id"]);
    app.patch(&near_path, Some(token), json!({"attributes": {"since": 1}}))
        .await
        .assert_status(200);
    // A rule registered later leaves existing relations alone, but their next change
    // must satisfy it.
    app.put(
        &relation_kind_path(&world, "lives_in"),
        Some(token),
        json!({"target_kinds": ["castle"]}),
    )
    .await
    .assert_status(201);
    let existing = app.get_json(&near_path, token).await;
    assert_eq!(existing["version"], 2);
    let problem = app
        .patch(&near_path, Some(token), json!({"attributes": {"since": 2}}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["target_id"]);

    // Incoming relations carry the inverse name; outgoing ones do not.
    let incoming = app
        .get_json(
            &format!("{}/relations?direction=in", element_path(&world, &frodo)),
            token,
        )
        .await;
    let items = incoming["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "mentors");
    assert_eq!(items[0]["inverse_kind"], "mentored_by");
    let to_shire = app
        .get_json(
            &format!("{}/relations?direction=in", element_path(&world, &shire)),
            token,
        )
        .await;
    assert_eq!(to_shire["items"][0]["inverse_kind"], Value::Null);
    assert!(
        to_shire["items"][0]
            .as_object()
            .expect("item")
            .contains_key("inverse_kind")
    );
    let outgoing = app
        .get_json(
            &format!("{}/relations?direction=out", element_path(&world, &gandalf)),
            token,
        )
        .await;
    assert!(
        !outgoing["items"][0]
            .as_object()
            .expect("item")
            .contains_key("inverse_kind")
    );

    // The list; then DELETE lifts the rule.
    let list = app
        .get_json(&format!("/api/v1/worlds/{world}/relation-kinds"), token)
        .await;
    let listed: Vec<Value> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| k["kind"].clone())
        .collect();
    assert_eq!(listed, [json!("lives_in"), json!("mentors")]);
    app.if_match(Method::DELETE, &path, token, None, "\"9\"")
        .await
        .assert_problem(412, "precondition-failed");
    app.delete(&path, Some(token)).await.assert_status(204);
    app.delete(&path, Some(token))
        .await
        .assert_problem(404, "not-found");
    app.patch(&near_path, Some(token), json!({"kind": "mentors"}))
        .await
        .assert_status(200);
}

async fn kind_changes_are_in_the_feed(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let feed = format!("/api/v1/worlds/{world}/changes");
    put_schema(&app, token, &world, "character", json!({"type": "object"})).await;
    put_schema(&app, token, &world, "character", json!({"type": "object"})).await;
    put_schema(&app, token, &world, "character", character_schema()).await;
    app.put(
        &relation_kind_path(&world, "mentors"),
        Some(token),
        json!({"inverse": "mentored_by"}),
    )
    .await
    .assert_status(201);
    app.delete(&kind_path(&world, "character"), Some(token))
        .await
        .assert_status(204);
    let changes = app.get_json(&feed, token).await;
    let items = changes["items"].as_array().expect("items");
    let types: Vec<&str> = items
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect();
    // The repeated PUT changed nothing and recorded nothing.
    assert_eq!(
        types,
        [
            "kind.updated",
            "kind.updated",
            "kind.updated",
            "kind.deleted"
        ]
    );
    assert_eq!(items[0]["version"], 1);
    assert_eq!(items[0]["data"]["kind"], "character");
    assert_eq!(items[0]["data"]["schema"], json!({"type": "object"}));
    assert_eq!(items[0]["actor_id"], ada.id.to_string());
    assert_eq!(items[1]["version"], 2);
    assert_eq!(items[1]["data"]["schema"], character_schema());
    // Every change of one kind has one resource id.
    assert_eq!(items[0]["resource_id"], items[1]["resource_id"]);
    assert_eq!(items[2]["data"]["inverse"], "mentored_by");
    assert_ne!(items[2]["resource_id"], items[0]["resource_id"]);
    assert_eq!(items[3]["resource_id"], items[0]["resource_id"]);
    assert_eq!(items[3]["version"], 2);
    assert_eq!(items[3]["data"], Value::Null);
}

async fn who_may_do_what(app: TestApp) {
    let ada = app.register("ada").await;
    let vic = app.register("vic").await;
    let ed = app.register("ed").await;
    let stranger = app.register("stranger").await;
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    app.add_member(&world, &vic, "viewer").await;
    app.add_member(&world, &ed, "editor").await;
    let path = kind_path(&world, "character");
    let rpath = relation_kind_path(&world, "mentors");
    let body = json!({"schema": character_schema()});

    // An editor may.
    app.put(&path, Some(&ed.access_token), body.clone())
        .await
        .assert_status(201);
    app.put(&rpath, Some(&ed.access_token), json!({}))
        .await
        .assert_status(201);
    // A viewer reads, and may not write.
    for read in [
        path.clone(),
        kinds_path(&world),
        format!("{path}/violations"),
        format!("/api/v1/worlds/{world}/relation-kinds"),
    ] {
        app.get(&read, Some(&vic.access_token))
            .await
            .assert_status(200);
        app.get(&read, Some(&stranger.access_token))
            .await
            .assert_problem(404, "not-found");
    }
    app.put(&path, Some(&vic.access_token), body.clone())
        .await
        .assert_problem(403, "forbidden");
    app.delete(&path, Some(&vic.access_token))
        .await
        .assert_problem(403, "forbidden");
    app.put(&rpath, Some(&vic.access_token), json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.delete(&rpath, Some(&vic.access_token))
        .await
        .assert_problem(403, "forbidden");
    // A stranger learns nothing, not even from a 422.
    app.put(
        &path,
        Some(&stranger.access_token),
        json!({"schema": {"type": 5}}),
    )
    .await
    .assert_problem(404, "not-found");
    app.delete(&path, Some(&stranger.access_token))
        .await
        .assert_problem(404, "not-found");
    app.put(&rpath, Some(&stranger.access_token), json!({}))
        .await
        .assert_problem(404, "not-found");
    app.delete(&rpath, Some(&stranger.access_token))
        .await
        .assert_problem(404, "not-found");
    app.put(&path, None, body.clone()).await.assert_status(401);
    app.delete(&path, Some(&ed.access_token))
        .await
        .assert_status(204);
}

async fn a_change_through_another_server_is_seen_at_once(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Eldoria").await;
    let token = ada.access_token.as_str();
    let other = app.spawn_beside().await;
    put_schema(&app, token, &world, "character", json!({"type": "object"})).await;
    let w = app.in_world(token, &world);
    // This server compiles and caches version 1.
    w.create(json!({"kind": "character", "name": "A", "attributes": {}}))
        .await;
    // The other server makes it stricter; this one refuses at once.
    put_schema(&other, token, &world, "character", character_schema()).await;
    let problem = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "character", "name": "B", "attributes": {}}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(fields(&problem), ["attributes/race"]);
    // Deleted and made again elsewhere (a new kind that starts at version 1 again).
    other
        .delete(&kind_path(&world, "character"), Some(token))
        .await
        .assert_status(204);
    put_schema(
        &other,
        token,
        &world,
        "character",
        json!({"type": "object"}),
    )
    .await;
    w.create(json!({"kind": "character", "name": "C", "attributes": {}}))
        .await;
}

on_both_backends!(
    kind_put_get_list_delete,
    refused_schemas,
    element_writes_are_validated,
    revert_and_restore_are_validated,
    violations_are_listed_and_paged,
    relation_kinds_enforce_ends,
    kind_changes_are_in_the_feed,
    who_may_do_what,
    a_change_through_another_server_is_seen_at_once,
);
