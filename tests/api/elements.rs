//! Elements: create, read, merge-patch, delete, parents and cycles, every list filter and
//! sort order, keyset paging (also under concurrent inserts), input limits and If-Match.
use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp};
use crate::on_both_backends;

// ---------------------------------------------------------------------------------------
// Helpers, shared with `relations.rs`.
// ---------------------------------------------------------------------------------------

/// Percent-encodes a query parameter value (everything but unreserved characters).
pub(crate) fn enc(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?k=v&...`, encoded; empty for no parameters.
pub(crate) fn query(params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("?{}", pairs.join("&"))
}

/// Creates a world owned by the token's user and returns its id.
pub(crate) async fn new_world(app: &TestApp, token: &str, name: &str) -> String {
    let reply = app
        .post("/api/v1/worlds", Some(token), json!({ "name": name }))
        .await;
    reply.assert_status(201);
    reply.json()["id"].as_str().expect("world id").to_owned()
}

pub(crate) fn elements_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/elements")
}

pub(crate) fn element_path(world: &str, element: &str) -> String {
    format!("/api/v1/worlds/{world}/elements/{element}")
}

/// Creates an element and returns its body (asserting 201).
pub(crate) async fn create_element(app: &TestApp, token: &str, world: &str, body: Value) -> Value {
    let reply = app.post(&elements_path(world), Some(token), body).await;
    reply.assert_status(201);
    reply.json()
}

/// An element `{kind, name}` created, returning its id.
pub(crate) async fn element_id(
    app: &TestApp,
    token: &str,
    world: &str,
    kind: &str,
    name: &str,
) -> String {
    let body = create_element(app, token, world, json!({ "kind": kind, "name": name })).await;
    id_of(&body)
}

pub(crate) fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("id").to_owned()
}

/// Every item of a list, page by page with `limit`, asserting each page's size.
pub(crate) async fn walk(
    app: &TestApp,
    token: &str,
    path: &str,
    params: &[(&str, &str)],
    limit: usize,
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let reply = app
            .get(
                &page_url(path, params, limit, cursor.as_deref()),
                Some(token),
            )
            .await;
        reply.assert_status(200);
        let body = reply.json();
        let page = body["items"].as_array().expect("items").clone();
        assert!(
            page.len() <= limit,
            "page larger than limit: {}",
            reply.text
        );
        let next = body["next_cursor"].as_str().map(str::to_owned);
        if next.is_some() {
            assert_eq!(page.len(), limit, "a page before the last one is full");
        }
        items.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
    panic!("the list never ended");
}

pub(crate) fn page_url(
    path: &str,
    params: &[(&str, &str)],
    limit: usize,
    cursor: Option<&str>,
) -> String {
    let limit = limit.to_string();
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.push(("limit", &limit));
    if let Some(cursor) = cursor {
        all.push(("cursor", cursor));
    }
    format!("{path}{}", query(&all))
}

pub(crate) fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

/// A request with a raw body and content type, bypassing the JSON helpers.
pub(crate) async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("request sent");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("response body"),
    }
}

fn ts(value: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(value.as_str().expect("timestamp")).expect("RFC 3339 timestamp")
}

async fn element_count(app: &TestApp, token: &str, world: &str) -> i64 {
    let reply = app
        .get(&format!("/api/v1/worlds/{world}"), Some(token))
        .await;
    reply.assert_status(200);
    reply.json()["element_count"]
        .as_i64()
        .expect("element_count")
}

/// The names a list query returns (one page of up to 200).
async fn names(app: &TestApp, token: &str, world: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut all = params.to_vec();
    all.push(("limit", "200"));
    let reply = app
        .get(
            &format!("{}{}", elements_path(world), query(&all)),
            Some(token),
        )
        .await;
    reply.assert_status(200);
    let body = reply.json();
    assert!(body["next_cursor"].is_null(), "one page: {}", reply.text);
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The expected order of `items` for a sort parameter, computed here from their fields.
fn sorted_ids(items: &[Value], sort: &str) -> Vec<String> {
    let descending = sort.starts_with('-');
    let key = sort.trim_start_matches('-');
    let mut items: Vec<&Value> = items.iter().collect();
    items.sort_by(|a, b| {
        let by_key = match key {
            "name" => a["name"].as_str().cmp(&b["name"].as_str()),
            "created_at" | "updated_at" => ts(&a[key]).cmp(&ts(&b[key])),
            other => panic!("unknown sort {other}"),
        };
        by_key.then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
    });
    if descending {
        items.reverse();
    }
    items.into_iter().map(id_of).collect()
}

/// Query parameters of one list request.
type Params<'a> = Vec<(&'a str, &'a str)>;

const SORTS: [&str; 6] = [
    "created_at",
    "-created_at",
    "name",
    "-name",
    "updated_at",
    "-updated_at",
];

// ---------------------------------------------------------------------------------------
// Create, read, update, delete.
// ---------------------------------------------------------------------------------------

async fn create_returns_location_and_etag(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Middle-earth").await;
    assert_eq!(element_count(&app, token, &world).await, 0);

    let reply = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "character", "name": "Aragorn", "summary": "Ranger", "attributes": {"race": "human"}, "tags": ["hero", "human"]}),
        )
        .await;
    reply.assert_status(201);
    let element = reply.json();
    let id = id_of(&element);
    assert_eq!(
        reply.header("location"),
        Some(element_path(&world, &id).as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(element["world_id"], world.as_str());
    assert_eq!(element["parent_id"], Value::Null);
    assert_eq!(element["kind"], "character");
    assert_eq!(element["name"], "Aragorn");
    assert_eq!(element["summary"], "Ranger");
    assert_eq!(element["attributes"], json!({"race": "human"}));
    assert_eq!(element["tags"], json!(["hero", "human"]));
    assert_eq!(element["version"], 1);
    assert_eq!(element["created_by"], ada.id.to_string());
    assert_eq!(ts(&element["created_at"]), ts(&element["updated_at"]));

    let fetched = app.get(&element_path(&world, &id), Some(token)).await;
    fetched.assert_status(200);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.json(), element);

    // Defaults: no summary, empty attributes and tags.
    let minimal = create_element(
        &app,
        token,
        &world,
        json!({"kind": "place", "name": "Bree"}),
    )
    .await;
    assert_eq!(minimal["summary"], Value::Null);
    assert_eq!(minimal["attributes"], json!({}));
    assert_eq!(minimal["tags"], json!([]));
    assert_eq!(element_count(&app, token, &world).await, 2);

    app.get(
        &element_path(&world, &uuid::Uuid::now_v7().to_string()),
        Some(token),
    )
    .await
    .assert_problem(404, "not-found");
    // An element is only found under its own world.
    let other_world = new_world(&app, token, "Narnia").await;
    app.get(&element_path(&other_world, &id), Some(token))
        .await
        .assert_problem(404, "not-found");
    // Writing needs a token.
    app.post(
        &elements_path(&world),
        None,
        json!({"kind": "place", "name": "Moria"}),
    )
    .await
    .assert_problem(401, "unauthorized");
}

async fn patch_merges_attributes_and_replaces_the_rest(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Middle-earth").await;
    let element = create_element(
        &app,
        token,
        &world,
        json!({
            "kind": "character",
            "name": "Strider",
            "summary": "A ranger",
            "attributes": {"race": "human", "title": "ranger", "stats": {"level": 3, "hp": 10}, "langs": ["common"]},
            "tags": ["hero", "ranger"]
        }),
    )
    .await;
    let path = element_path(&world, &id_of(&element));

    let reply = app
        .patch(
            &path,
            Some(token),
            json!({
                "name": "Aragorn",
                "kind": "king",
                "summary": null,
                "attributes": {"title": null, "stats": {"level": 4, "mp": 2}, "langs": ["elvish"], "crowned": true},
                "tags": ["king"]
            }),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let patched = reply.json();
    assert_eq!(patched["name"], "Aragorn");
    assert_eq!(patched["kind"], "king");
    assert_eq!(patched["summary"], Value::Null);
    assert_eq!(
        patched["attributes"],
        json!({"race": "human", "stats": {"level": 4, "hp": 10, "mp": 2}, "langs": ["elvish"], "crowned": true})
    );
    assert_eq!(patched["tags"], json!(["king"]));
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["created_at"], element["created_at"]);
    assert!(ts(&patched["updated_at"]) > ts(&element["updated_at"]));

    // Fields left out stay as they are; a nested null removes a nested key.
    let reply = app
        .patch(
            &path,
            Some(token),
            json!({"summary": "King of Gondor", "attributes": {"stats": {"hp": null}}}),
        )
        .await;
    reply.assert_status(200);
    let patched = reply.json();
    assert_eq!(patched["name"], "Aragorn");
    assert_eq!(patched["summary"], "King of Gondor");
    assert_eq!(patched["tags"], json!(["king"]));
    assert_eq!(
        patched["attributes"],
        json!({"race": "human", "stats": {"level": 4, "mp": 2}, "langs": ["elvish"], "crowned": true})
    );
    assert_eq!(patched["version"], 3);

    // Empty tags clear them; the stored state is what GET returns.
    app.patch(&path, Some(token), json!({"tags": []}))
        .await
        .assert_status(200);
    let fetched = app.get(&path, Some(token)).await;
    fetched.assert_status(200);
    assert_eq!(fetched.header("etag"), Some("\"4\""));
    assert_eq!(fetched.json()["tags"], json!([]));
    assert_eq!(
        fetched.json()["attributes"]["stats"],
        json!({"level": 4, "mp": 2})
    );

    // attributes must stay an object.
    let problem = app
        .patch(&path, Some(token), json!({"attributes": [1, 2]}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "attributes");
    app.patch(
        &element_path(&world, &uuid::Uuid::now_v7().to_string()),
        Some(token),
        json!({"name": "x"}),
    )
    .await
    .assert_problem(404, "not-found");
}

async fn delete_takes_relations_and_orphans_children(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Middle-earth").await;
    let gondor = element_id(&app, token, &world, "realm", "Gondor").await;
    let minas = create_element(
        &app,
        token,
        &world,
        json!({"kind": "city", "name": "Minas Tirith", "parent_id": gondor}),
    )
    .await;
    let osgiliath = create_element(
        &app,
        token,
        &world,
        json!({"kind": "city", "name": "Osgiliath", "parent_id": gondor}),
    )
    .await;
    let rohan = element_id(&app, token, &world, "realm", "Rohan").await;
    assert_eq!(minas["parent_id"], gondor.as_str());
    assert_eq!(element_count(&app, token, &world).await, 4);

    let relations = format!("/api/v1/worlds/{world}/relations");
    let allies = app
        .post(
            &relations,
            Some(token),
            json!({"source_id": gondor, "target_id": rohan, "kind": "ally"}),
        )
        .await;
    allies.assert_status(201);
    let back = app
        .post(
            &relations,
            Some(token),
            json!({"source_id": rohan, "target_id": gondor, "kind": "ally"}),
        )
        .await;
    back.assert_status(201);
    let kept = app
        .post(
            &relations,
            Some(token),
            json!({"source_id": rohan, "target_id": id_of(&minas), "kind": "guards"}),
        )
        .await;
    kept.assert_status(201);

    // A stale If-Match deletes nothing.
    app.send_with(
        Method::DELETE,
        &element_path(&world, &gondor),
        Some(token),
        None,
        &[("If-Match", "\"7\"")],
    )
    .await
    .assert_problem(412, "precondition-failed");
    app.get(&element_path(&world, &gondor), Some(token))
        .await
        .assert_status(200);

    let reply = app
        .delete(&element_path(&world, &gondor), Some(token))
        .await;
    reply.assert_status(204);
    assert!(reply.text.is_empty());
    app.get(&element_path(&world, &gondor), Some(token))
        .await
        .assert_problem(404, "not-found");
    app.delete(&element_path(&world, &gondor), Some(token))
        .await
        .assert_problem(404, "not-found");

    for child in [&minas, &osgiliath] {
        let fetched = app
            .get(&element_path(&world, &id_of(child)), Some(token))
            .await;
        fetched.assert_status(200);
        assert_eq!(
            fetched.json()["parent_id"],
            Value::Null,
            "a child of a deleted element becomes a root"
        );
        // That is a change: a new version, so a new ETag.
        assert_eq!(fetched.json()["version"], 2);
        assert_eq!(fetched.header("etag"), Some("\"2\""));
        assert!(ts(&fetched.json()["updated_at"]) > ts(&child["updated_at"]));
    }
    for gone in [&allies, &back] {
        app.get(&format!("{relations}/{}", id_of(&gone.json())), Some(token))
            .await
            .assert_problem(404, "not-found");
    }
    app.get(&format!("{relations}/{}", id_of(&kept.json())), Some(token))
        .await
        .assert_status(200);
    let rohan_relations = app
        .get(
            &format!("{}/relations", element_path(&world, &rohan)),
            Some(token),
        )
        .await;
    rohan_relations.assert_status(200);
    assert_eq!(
        rohan_relations.json()["items"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(element_count(&app, token, &world).await, 3);
    let listed = names(&app, token, &world, &[]).await;
    assert_eq!(listed, ["Minas Tirith", "Osgiliath", "Rohan"]);
}

// ---------------------------------------------------------------------------------------
// Parents and cycles.
// ---------------------------------------------------------------------------------------

async fn parent_must_be_in_the_same_world(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Middle-earth").await;
    let other = new_world(&app, token, "Narnia").await;
    let foreign = element_id(&app, token, &other, "place", "Cair Paravel").await;
    let local = element_id(&app, token, &world, "place", "Shire").await;

    for parent in [foreign.clone(), uuid::Uuid::now_v7().to_string()] {
        let problem = app
            .post(
                &elements_path(&world),
                Some(token),
                json!({"kind": "place", "name": "Hobbiton", "parent_id": parent}),
            )
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "parent_id");
        let problem = app
            .patch(
                &element_path(&world, &local),
                Some(token),
                json!({"parent_id": parent}),
            )
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "parent_id");
    }
    // Nothing was created or changed by the refused requests.
    assert_eq!(element_count(&app, token, &world).await, 1);
    assert_eq!(names(&app, token, &world, &[]).await, ["Shire"]);
    let shire = app.get(&element_path(&world, &local), Some(token)).await;
    assert_eq!(shire.json()["version"], 1);
    assert_eq!(shire.json()["parent_id"], Value::Null);

    app.post(
        &elements_path(&world),
        Some(token),
        json!({"kind": "place", "name": "Hobbiton", "parent_id": "nope"}),
    )
    .await
    .assert_problem(422, "validation-failed");
    let hobbiton = create_element(
        &app,
        token,
        &world,
        json!({"kind": "place", "name": "Hobbiton", "parent_id": local}),
    )
    .await;
    assert_eq!(hobbiton["parent_id"], local.as_str());
}

async fn cycles_are_refused(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Middle-earth").await;
    let a = element_id(&app, token, &world, "place", "a").await;
    let b = create_element(
        &app,
        token,
        &world,
        json!({"kind": "place", "name": "b", "parent_id": a}),
    )
    .await;
    let b = id_of(&b);
    let c = create_element(
        &app,
        token,
        &world,
        json!({"kind": "place", "name": "c", "parent_id": b}),
    )
    .await;
    let c = id_of(&c);

    // A -> B -> C; making C the parent of A would close the loop.
    let problem = app
        .patch(
            &element_path(&world, &a),
            Some(token),
            json!({"parent_id": c}),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "parent_id");
    app.patch(
        &element_path(&world, &a),
        Some(token),
        json!({"parent_id": b}),
    )
    .await
    .assert_problem(422, "validation-failed");
    // An element cannot be its own parent.
    app.patch(
        &element_path(&world, &a),
        Some(token),
        json!({"parent_id": a}),
    )
    .await
    .assert_problem(422, "validation-failed");
    app.patch(
        &element_path(&world, &c),
        Some(token),
        json!({"parent_id": c}),
    )
    .await
    .assert_problem(422, "validation-failed");
    let a_now = app.get(&element_path(&world, &a), Some(token)).await.json();
    assert_eq!(a_now["parent_id"], Value::Null);
    assert_eq!(a_now["version"], 1);

    // Detach B; now C -> B is a separate tree and A may go under C.
    let detached = app
        .patch(
            &element_path(&world, &b),
            Some(token),
            json!({"parent_id": null}),
        )
        .await;
    detached.assert_status(200);
    assert_eq!(detached.json()["parent_id"], Value::Null);
    let moved = app
        .patch(
            &element_path(&world, &a),
            Some(token),
            json!({"parent_id": c}),
        )
        .await;
    moved.assert_status(200);
    assert_eq!(moved.json()["parent_id"], c.as_str());
    // ... and then B under A would be a cycle B -> A -> C -> B.
    app.patch(
        &element_path(&world, &b),
        Some(token),
        json!({"parent_id": a}),
    )
    .await
    .assert_problem(422, "validation-failed");
    assert_eq!(
        names(&app, token, &world, &[("parent_id", &c)]).await,
        ["a"]
    );
}

// ---------------------------------------------------------------------------------------
// Filters.
// ---------------------------------------------------------------------------------------

async fn every_filter_alone_and_combined(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Middle-earth").await;
    let other_world = new_world(&app, token, "Narnia").await;
    create_element(&app, token, &other_world, json!({"kind": "character", "name": "Aslan", "tags": ["hero"], "attributes": {"race": "elf"}})).await;

    let create = |body: Value| {
        let app = &app;
        let world = world.clone();
        async move { create_element(app, token, &world, body).await }
    };
    create(json!({
        "kind": "character", "name": "Aragorn", "summary": "Ranger of the North",
        "tags": ["hero", "human"],
        "attributes": {"race": "human", "stats": {"level": 20, "str": 18}, "langs": ["common", "elvish"], "alive": true}
    }))
    .await;
    create(json!({
        "kind": "character", "name": "Legolas", "summary": "Elf prince of Mirkwood",
        "tags": ["hero", "elf"],
        "attributes": {"race": "elf", "stats": {"level": 18}, "langs": ["elvish", "common"], "alive": true}
    }))
    .await;
    let gollum = create(json!({
        "kind": "character", "name": "Gollum", "summary": "Was a hobbit, 50% mad",
        "tags": ["villain"],
        "attributes": {"race": "hobbit", "stats": {"level": 3}, "alive": false}
    }))
    .await;
    let rivendell = create(json!({
        "kind": "place", "name": "Rivendell", "summary": "Refuge with 500 beds",
        "tags": ["elf"],
        "attributes": {"region": "eriador", "langs": ["elvish"], "inns": [{"name": "none", "beds": 0}]}
    }))
    .await;
    create(json!({
        "kind": "item", "name": "The_Ring", "parent_id": id_of(&gollum),
        "tags": ["artifact", "villain"],
        "attributes": {"power": 100, "weight": 0.01, "alive": null}
    }))
    .await;
    create(json!({
        "kind": "place", "name": "Last Homely House", "summary": "ELROND's house", "parent_id": id_of(&rivendell),
        "tags": ["elf", "house"],
        "attributes": {"region": "eriador", "inns": [{"name": "hall", "beds": 40}]}
    }))
    .await;
    create(json!({
        "kind": "item", "name": "Bearing", "summary": "a compass of 50 marks",
        "attributes": {"power": "100", "alive": 1}
    }))
    .await;
    create(json!({"kind": "person", "name": "Éowyn", "summary": "Shieldmaiden of Rohan"})).await;
    let gollum = id_of(&gollum);
    let rivendell = id_of(&rivendell);

    let all = [
        "Aragorn",
        "Legolas",
        "Gollum",
        "Rivendell",
        "The_Ring",
        "Last Homely House",
        "Bearing",
        "Éowyn",
    ];
    let cases: Vec<(Params, Vec<&str>)> = vec![
        (vec![], all.to_vec()),
        // kind
        (
            vec![("kind", "character")],
            vec!["Aragorn", "Legolas", "Gollum"],
        ),
        (
            vec![("kind", "place")],
            vec!["Rivendell", "Last Homely House"],
        ),
        (vec![("kind", "ghost")], vec![]),
        // tag, repeatable: every tag must be present
        (vec![("tag", "hero")], vec!["Aragorn", "Legolas"]),
        (
            vec![("tag", "elf")],
            vec!["Legolas", "Rivendell", "Last Homely House"],
        ),
        (vec![("tag", "hero"), ("tag", "elf")], vec!["Legolas"]),
        (
            vec![("tag", "villain"), ("tag", "artifact")],
            vec!["The_Ring"],
        ),
        (vec![("tag", "hero"), ("tag", "villain")], vec![]),
        (vec![("tag", "Hero")], vec![]),
        // parent_id: direct children
        (vec![("parent_id", &gollum)], vec!["The_Ring"]),
        (vec![("parent_id", &rivendell)], vec!["Last Homely House"]),
        // q: case-insensitive in name and summary, % and _ literal
        (vec![("q", "ARAG")], vec!["Aragorn"]),
        (vec![("q", "elf")], vec!["Legolas"]),
        (vec![("q", "elrond")], vec!["Last Homely House"]),
        (vec![("q", "north")], vec!["Aragorn"]),
        (vec![("q", "50%")], vec!["Gollum"]),
        (vec![("q", "50")], vec!["Gollum", "Rivendell", "Bearing"]),
        (vec![("q", "%")], vec!["Gollum"]),
        (vec![("q", "_ring")], vec!["The_Ring"]),
        (vec![("q", "a_r")], vec![]),
        (vec![("q", "ring")], vec!["The_Ring", "Bearing"]),
        (vec![("q", "\\")], vec![]),
        (vec![("q", "Éowyn")], vec!["Éowyn"]),
        (vec![("q", "ÉOWYN")], vec!["Éowyn"]),
        (vec![("q", "shieldMAIDEN")], vec!["Éowyn"]),
        // where: JSON containment
        (vec![("where", r#"{"race":"elf"}"#)], vec!["Legolas"]),
        (vec![("where", r#"{"race":"Elf"}"#)], vec![]),
        (vec![("where", r#"{"stats":{"level":3}}"#)], vec!["Gollum"]),
        (
            vec![("where", r#"{"race":"elf","stats":{"level":18}}"#)],
            vec!["Legolas"],
        ),
        (
            vec![("where", r#"{"stats":{"level":18,"str":18}}"#)],
            vec![],
        ),
        (
            vec![("where", r#"{"stats":{}}"#)],
            vec!["Aragorn", "Legolas", "Gollum"],
        ),
        (
            vec![("where", r#"{"langs":["elvish"]}"#)],
            vec!["Aragorn", "Legolas", "Rivendell"],
        ),
        (
            vec![("where", r#"{"langs":["elvish","common"]}"#)],
            vec!["Aragorn", "Legolas"],
        ),
        (
            vec![("where", r#"{"langs":[]}"#)],
            vec!["Aragorn", "Legolas", "Rivendell"],
        ),
        (vec![("where", r#"{"langs":"elvish"}"#)], vec![]),
        (
            vec![("where", r#"{"inns":[{"beds":40}]}"#)],
            vec!["Last Homely House"],
        ),
        (
            vec![("where", r#"{"inns":[{}]}"#)],
            vec!["Rivendell", "Last Homely House"],
        ),
        (vec![("where", r#"{"power":100}"#)], vec!["The_Ring"]),
        (vec![("where", r#"{"power":100.0}"#)], vec!["The_Ring"]),
        (vec![("where", r#"{"power":"100"}"#)], vec!["Bearing"]),
        (vec![("where", r#"{"weight":0.01}"#)], vec!["The_Ring"]),
        (
            vec![("where", r#"{"alive":true}"#)],
            vec!["Aragorn", "Legolas"],
        ),
        (vec![("where", r#"{"alive":false}"#)], vec!["Gollum"]),
        (vec![("where", r#"{"alive":null}"#)], vec!["The_Ring"]),
        (vec![("where", r#"{"alive":1}"#)], vec!["Bearing"]),
        (vec![("where", "{}")], all.to_vec()),
        // combined (AND)
        (
            vec![
                ("kind", "character"),
                ("tag", "hero"),
                ("where", r#"{"langs":["elvish"]}"#),
                ("q", "ranger"),
            ],
            vec!["Aragorn"],
        ),
        (
            vec![
                ("kind", "character"),
                ("where", r#"{"alive":true}"#),
                ("q", "ELF"),
            ],
            vec!["Legolas"],
        ),
        (
            vec![("kind", "place"), ("tag", "elf"), ("parent_id", &rivendell)],
            vec!["Last Homely House"],
        ),
        (
            vec![
                ("kind", "item"),
                ("parent_id", &gollum),
                ("tag", "artifact"),
                ("q", "ring"),
                ("where", r#"{"power":100}"#),
            ],
            vec!["The_Ring"],
        ),
        (
            vec![("kind", "item"), ("where", r#"{"alive":true}"#)],
            vec![],
        ),
        (
            vec![
                ("tag", "elf"),
                ("where", r#"{"region":"eriador"}"#),
                ("q", "house"),
            ],
            vec!["Last Homely House"],
        ),
        (
            vec![("tag", "elf"), ("sort", "-name")],
            vec!["Rivendell", "Legolas", "Last Homely House"],
        ),
    ];
    for (params, expected) in cases {
        assert_eq!(
            names(&app, token, &world, &params).await,
            expected,
            "filter {params:?}"
        );
    }
    // PostgreSQL's lower() folds all of Unicode, SQLite's built-in one only ASCII (see
    // service::elements::escape_like), so this one holds on PostgreSQL only.
    if app.backend == Backend::Postgres {
        assert_eq!(
            names(&app, token, &world, &[("q", "éOWYN")]).await,
            ["Éowyn"]
        );
    }

    // Invalid filters.
    let bad = |params: Vec<(&'static str, String)>| {
        let app = &app;
        let world = world.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.get(
                &format!("{}{}", elements_path(&world), query(&params)),
                Some(token),
            )
            .await
        }
    };
    bad(vec![("kind", "Character".into())])
        .await
        .assert_problem(422, "validation-failed");
    bad(vec![("tag", "x".repeat(65))])
        .await
        .assert_problem(422, "validation-failed");
    bad(vec![("where", "[1]".into())])
        .await
        .assert_problem(422, "validation-failed");
    bad(vec![("where", "1".into())])
        .await
        .assert_problem(422, "validation-failed");
    bad(vec![("where", "{not json".into())])
        .await
        .assert_problem(400, "bad-request");
    bad(vec![("parent_id", "not-a-uuid".into())])
        .await
        .assert_problem(400, "bad-request");
    bad(vec![("sort", "kind".into())])
        .await
        .assert_problem(422, "validation-failed");
    let problem = bad(vec![("where", r#"{"a'b":1}"#.into())]).await;
    problem.assert_problem(422, "validation-failed");
    assert!(
        !problem.text.to_lowercase().contains("select"),
        "no SQL in errors: {}",
        problem.text
    );
}

// ---------------------------------------------------------------------------------------
// Sorting and keyset pagination.
// ---------------------------------------------------------------------------------------

/// Elements with repeated names (so ties break by id) and a few updates (so updated_at
/// differs from created_at order).
async fn sortable_world(app: &TestApp, token: &str) -> (String, Vec<Value>) {
    let world = new_world(app, token, "Sorting").await;
    let mut elements = Vec::new();
    for name in [
        "delta", "alpha", "charlie", "bravo", "echo", "bravo", "alpha", "foxtrot", "bravo",
    ] {
        elements
            .push(create_element(app, token, &world, json!({"kind": "thing", "name": name})).await);
    }
    for index in [2, 0, 6] {
        let reply = app
            .patch(
                &element_path(&world, &id_of(&elements[index])),
                Some(token),
                json!({"summary": "touched"}),
            )
            .await;
        reply.assert_status(200);
        elements[index] = reply.json();
    }
    (world, elements)
}

async fn sort_orders(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let (world, elements) = sortable_world(&app, token).await;

    // Default order is created_at ascending, i.e. creation order.
    let listed = walk(&app, token, &elements_path(&world), &[], 200).await;
    let creation: Vec<String> = elements.iter().map(id_of).collect();
    assert_eq!(ids(&listed), creation);

    for sort in SORTS {
        let listed = walk(&app, token, &elements_path(&world), &[("sort", sort)], 200).await;
        assert_eq!(ids(&listed), sorted_ids(&elements, sort), "sort={sort}");
    }
    // Spot checks that do not rely on the helper.
    assert_eq!(
        names(&app, token, &world, &[("sort", "name")]).await,
        [
            "alpha", "alpha", "bravo", "bravo", "bravo", "charlie", "delta", "echo", "foxtrot"
        ]
    );
    let by_update = names(&app, token, &world, &[("sort", "-updated_at")]).await;
    assert_eq!(by_update[..3], ["alpha", "delta", "charlie"]);
    let reversed: Vec<String> = creation.iter().rev().cloned().collect();
    let listed = walk(
        &app,
        token,
        &elements_path(&world),
        &[("sort", "-created_at")],
        200,
    )
    .await;
    assert_eq!(ids(&listed), reversed);
}

async fn keyset_paging_returns_each_element_once(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let (world, elements) = sortable_world(&app, token).await;

    for sort in SORTS {
        for limit in [1, 2, 4, 9, 10] {
            let walked = walk(
                &app,
                token,
                &elements_path(&world),
                &[("sort", sort)],
                limit,
            )
            .await;
            assert_eq!(
                ids(&walked),
                sorted_ids(&elements, sort),
                "sort={sort} limit={limit}"
            );
        }
    }
    // Paging combines with filters.
    let bravos: Vec<Value> = elements
        .iter()
        .filter(|e| e["name"] == "bravo")
        .cloned()
        .collect();
    for sort in SORTS {
        let walked = walk(
            &app,
            token,
            &elements_path(&world),
            &[("sort", sort), ("q", "bravo")],
            2,
        )
        .await;
        assert_eq!(
            ids(&walked),
            sorted_ids(&bravos, sort),
            "sort={sort} with q"
        );
    }
    // A page exactly at the end has no next cursor.
    let reply = app
        .get(&page_url(&elements_path(&world), &[], 9, None), Some(token))
        .await;
    assert!(reply.json()["next_cursor"].is_null());
}

/// Inserts `count` elements in the background, with names all over the name order.
fn background_inserts(
    app: &TestApp,
    token: &str,
    world: &str,
    count: usize,
) -> tokio::task::JoinHandle<usize> {
    let client = app.client.clone();
    let url = app.url(&elements_path(world));
    let token = token.to_owned();
    tokio::spawn(async move {
        let names = [
            "aaa", "bz", "cat", "dog", "e", "zulu", "alpha", "bravo", "delta",
        ];
        for i in 0..count {
            let name = format!("{}{i}", names[i % names.len()]);
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"kind": "thing", "name": name}))
                .send()
                .await
                .expect("insert sent");
            assert_eq!(
                response.status().as_u16(),
                201,
                "{}",
                response.text().await.unwrap_or_default()
            );
            tokio::task::yield_now().await;
        }
        count
    })
}

async fn keyset_paging_is_stable_under_concurrent_inserts(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();

    for sort in SORTS {
        let (world, elements) = sortable_world(&app, token).await;
        let initial: HashSet<String> = elements.iter().map(id_of).collect();
        // Another task inserts while the list is walked ...
        let writer = background_inserts(&app, token, &world, 12);
        let mut seen: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0.. {
            let reply = app
                .get(
                    &page_url(
                        &elements_path(&world),
                        &[("sort", sort)],
                        2,
                        cursor.as_deref(),
                    ),
                    Some(token),
                )
                .await;
            reply.assert_status(200);
            let body = reply.json();
            seen.extend(body["items"].as_array().expect("items").iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            // ... and some inserts certainly fall between two pages, before and after
            // the cursor.
            let name = ["abc", "mmm", "zzz"][page % 3];
            create_element(&app, token, &world, json!({"kind": "thing", "name": name})).await;
            assert!(page < 500, "the walk never ends");
        }
        writer.await.expect("writer task");

        let seen_ids = ids(&seen);
        let unique: HashSet<&String> = seen_ids.iter().collect();
        assert_eq!(
            unique.len(),
            seen_ids.len(),
            "no item repeated (sort={sort})"
        );
        for id in &initial {
            assert!(
                unique.contains(id),
                "element {id} that existed at the start was skipped (sort={sort})"
            );
        }
        // The walk is in order, elements inserted meanwhile included.
        assert_eq!(
            seen_ids,
            sorted_ids(&seen, sort),
            "the walk is ordered (sort={sort})"
        );
    }
}

async fn paging_parameters_are_checked(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let (world, _) = sortable_world(&app, token).await;
    let path = elements_path(&world);
    let get = |params: Vec<(&'static str, String)>| {
        let app = &app;
        let path = path.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.get(&format!("{path}{}", query(&params)), Some(token))
                .await
        }
    };
    get(vec![("limit", "0".into())])
        .await
        .assert_problem(422, "validation-failed");
    get(vec![("limit", "201".into())])
        .await
        .assert_problem(422, "validation-failed");
    get(vec![("limit", "-1".into())])
        .await
        .assert_problem(400, "bad-request");
    get(vec![("limit", "abc".into())])
        .await
        .assert_problem(400, "bad-request");
    get(vec![("limit", "200".into())]).await.assert_status(200);
    get(vec![("limit", "1".into())]).await.assert_status(200);
    get(vec![("cursor", "garbage!".into())])
        .await
        .assert_problem(400, "bad-request");
    get(vec![("cursor", "bm90IGpzb24".into())])
        .await
        .assert_problem(400, "bad-request");

    // A cursor is tied to its sort order.
    let first = get(vec![("limit", "2".into()), ("sort", "name".into())])
        .await
        .json();
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    get(vec![("cursor", cursor.clone()), ("sort", "name".into())])
        .await
        .assert_status(200);
    get(vec![("cursor", cursor.clone()), ("sort", "-name".into())])
        .await
        .assert_problem(400, "bad-request");
    get(vec![("cursor", cursor), ("sort", "created_at".into())])
        .await
        .assert_problem(400, "bad-request");
    // A well-formed cursor with a key that is not a timestamp.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"o": "elements:created_at", "k": "yesterday", "i": uuid::Uuid::now_v7()})
            .to_string(),
    );
    get(vec![("cursor", forged)])
        .await
        .assert_problem(400, "bad-request");
}

// ---------------------------------------------------------------------------------------
// Input limits.
// ---------------------------------------------------------------------------------------

/// An object nested `levels` deep: `{"a": {"a": ... 1}}`.
fn nested(levels: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..levels {
        value = json!({ "a": value });
    }
    value
}

async fn input_limits(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Limits").await;
    let path = elements_path(&world);
    let post = |body: Value| {
        let app = &app;
        let path = path.clone();
        async move { app.post(&path, Some(token), body).await }
    };
    let field_of = |problem: &Value| {
        problem["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // Names: 1..=200 characters (characters, not bytes).
    post(json!({"kind": "thing", "name": "n".repeat(200)}))
        .await
        .assert_status(201);
    post(json!({"kind": "thing", "name": "é".repeat(200)}))
        .await
        .assert_status(201);
    let problem = post(json!({"kind": "thing", "name": "n".repeat(201)}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "name");
    post(json!({"kind": "thing", "name": ""}))
        .await
        .assert_problem(422, "validation-failed");

    // Kinds: ^[a-z][a-z0-9_]{0,63}$.
    for kind in ["a", "npc_2", &format!("k{}", "a".repeat(63))] {
        post(json!({"kind": kind, "name": "ok"}))
            .await
            .assert_status(201);
    }
    for kind in [
        "",
        "Character",
        "2npc",
        "_npc",
        "a-b",
        "a b",
        "é",
        &format!("k{}", "a".repeat(64)),
    ] {
        let problem = post(json!({"kind": kind, "name": "x"}))
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(field_of(&problem), "kind", "kind {kind:?}");
    }

    // Tags: at most 64, each 1..=64 characters.
    let tags = |n: usize| (0..n).map(|i| format!("t{i}")).collect::<Vec<_>>();
    post(json!({"kind": "thing", "name": "ok", "tags": tags(64)}))
        .await
        .assert_status(201);
    let problem = post(json!({"kind": "thing", "name": "x", "tags": tags(65)}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(field_of(&problem), "tags");
    post(json!({"kind": "thing", "name": "ok", "tags": ["t".repeat(64)]}))
        .await
        .assert_status(201);
    post(json!({"kind": "thing", "name": "x", "tags": ["t".repeat(65)]}))
        .await
        .assert_problem(422, "validation-failed");
    post(json!({"kind": "thing", "name": "x", "tags": [""]}))
        .await
        .assert_problem(422, "validation-failed");

    // Several invalid fields are reported together.
    let problem = post(json!({"kind": "Bad", "name": "", "tags": tags(65)}))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(
        problem["errors"].as_array().map(Vec::len),
        Some(3),
        "{problem}"
    );

    // Shape: attributes must be an object; wrong types are 422.
    post(json!({"kind": "thing", "name": "x", "attributes": [1]}))
        .await
        .assert_problem(422, "validation-failed");
    post(json!({"kind": "thing", "name": 5}))
        .await
        .assert_problem(422, "validation-failed");
    post(json!({"name": "no kind"}))
        .await
        .assert_problem(422, "validation-failed");

    // Unknown fields, in particular server-owned ones, are refused.
    for field in [
        "version",
        "id",
        "world_id",
        "created_by",
        "created_at",
        "colour",
    ] {
        let mut body = json!({"kind": "thing", "name": "x"});
        body[field] = json!(if field == "version" {
            json!(7)
        } else {
            json!("x")
        });
        post(body).await.assert_problem(422, "validation-failed");
    }
    let existing = create_element(
        &app,
        token,
        &world,
        json!({"kind": "thing", "name": "target"}),
    )
    .await;
    let element = element_path(&world, &id_of(&existing));
    for body in [
        json!({"version": 9}),
        json!({"id": uuid::Uuid::now_v7()}),
        json!({"name": "n".repeat(201)}),
        json!({"kind": "Nope"}),
        json!({"tags": tags(65)}),
    ] {
        app.patch(&element, Some(token), body)
            .await
            .assert_problem(422, "validation-failed");
    }
    assert_eq!(app.get(&element, Some(token)).await.json()["version"], 1);

    // Nesting: the body may nest 32 levels, not 33.
    let deep =
        |levels: usize| json!({"kind": "thing", "name": "deep", "attributes": nested(levels)});
    post(deep(31)).await.assert_status(201);
    post(deep(32))
        .await
        .assert_problem(422, "validation-failed");
    app.patch(&element, Some(token), json!({"attributes": nested(32)}))
        .await
        .assert_problem(422, "validation-failed");

    // Body size: 1 MiB at most.
    let big =
        json!({"kind": "thing", "name": "big", "attributes": {"blob": "x".repeat(1024 * 1024)}});
    post(big).await.assert_problem(413, "payload-too-large");
    // A body under 1 MiB is read; its attributes are then held to the 256 KiB a stored
    // document may have.
    let fits =
        json!({"kind": "thing", "name": "fits", "attributes": {"blob": "x".repeat(1000 * 1000)}});
    let problem = post(fits).await.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "attributes");
    let stored =
        json!({"kind": "thing", "name": "fits", "attributes": {"blob": "x".repeat(250 * 1024)}});
    post(stored).await.assert_status(201);

    // Malformed JSON, wrong or missing content type.
    raw(
        &app,
        Method::POST,
        &path,
        token,
        Some("application/json"),
        b"{\"kind\": \"thing\",".to_vec(),
    )
    .await
    .assert_problem(400, "bad-request");
    raw(
        &app,
        Method::POST,
        &path,
        token,
        Some("application/json"),
        b"{\"kind\": \"thing\", \"name\": \"x\"} trailing".to_vec(),
    )
    .await
    .assert_problem(400, "bad-request");
    let body = br#"{"kind": "thing", "name": "plain"}"#.to_vec();
    raw(
        &app,
        Method::POST,
        &path,
        token,
        Some("text/plain"),
        body.clone(),
    )
    .await
    .assert_problem(415, "unsupported-media-type");
    raw(&app, Method::POST, &path, token, None, body.clone())
        .await
        .assert_problem(415, "unsupported-media-type");
    raw(
        &app,
        Method::PATCH,
        &element,
        token,
        Some("text/plain"),
        br#"{"name": "y"}"#.to_vec(),
    )
    .await
    .assert_problem(415, "unsupported-media-type");
    raw(
        &app,
        Method::POST,
        &path,
        token,
        Some("application/json; charset=utf-8"),
        body,
    )
    .await
    .assert_status(201);
}

// ---------------------------------------------------------------------------------------
// If-Match and concurrent writers.
// ---------------------------------------------------------------------------------------

async fn if_match_guards_updates_and_deletes(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Versions").await;
    let element = create_element(
        &app,
        token,
        &world,
        json!({"kind": "thing", "name": "v1", "attributes": {"a": 1}}),
    )
    .await;
    let path = element_path(&world, &id_of(&element));

    let reply = app
        .send_with(
            Method::PATCH,
            &path,
            Some(token),
            Some(&json!({"name": "v2"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.json()["version"], 2);

    // The same If-Match again is stale now: 412 and nothing changes.
    for stale in ["\"1\"", "\"3\"", "\"abc\"", "W/\"1\""] {
        app.send_with(
            Method::PATCH,
            &path,
            Some(token),
            Some(&json!({"name": "lost", "attributes": {"a": null}})),
            &[("If-Match", stale)],
        )
        .await
        .assert_problem(412, "precondition-failed");
        app.send_with(
            Method::DELETE,
            &path,
            Some(token),
            None,
            &[("If-Match", stale)],
        )
        .await
        .assert_problem(412, "precondition-failed");
    }
    let current = app.get(&path, Some(token)).await;
    assert_eq!(current.header("etag"), Some("\"2\""));
    let current = current.json();
    assert_eq!(current["name"], "v2");
    assert_eq!(current["attributes"], json!({"a": 1}));
    assert_eq!(current["version"], 2);

    // A weak tag never matches (If-Match compares strongly), nor does a list.
    for never in ["W/\"2\"", "\"1\", \"2\""] {
        app.send_with(
            Method::PATCH,
            &path,
            Some(token),
            Some(&json!({"name": "never"})),
            &[("If-Match", never)],
        )
        .await
        .assert_problem(412, "precondition-failed");
    }
    // The current ETag works, and so does `*`.
    let reply = app
        .send_with(
            Method::PATCH,
            &path,
            Some(token),
            Some(&json!({"name": "v3"})),
            &[("If-Match", "\"2\"")],
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["version"], 3);
    let reply = app
        .send_with(
            Method::PATCH,
            &path,
            Some(token),
            Some(&json!({"name": "v4"})),
            &[("If-Match", "*")],
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"4\""));
    // Without If-Match the change simply applies.
    let reply = app.patch(&path, Some(token), json!({"name": "v5"})).await;
    reply.assert_status(200);
    assert_eq!(reply.json()["version"], 5);

    app.send_with(
        Method::DELETE,
        &path,
        Some(token),
        None,
        &[("If-Match", "\"5\"")],
    )
    .await
    .assert_status(204);
    app.get(&path, Some(token))
        .await
        .assert_problem(404, "not-found");
}

async fn eight_concurrent_writers_exactly_one_wins(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Race").await;
    let element = create_element(
        &app,
        token,
        &world,
        json!({"kind": "thing", "name": "contested"}),
    )
    .await;
    let path = element_path(&world, &id_of(&element));

    let writers = (0..8).map(|i| {
        let body = json!({"name": format!("writer-{i}"), "attributes": {format!("k{i}"): i}});
        let app = &app;
        let path = path.clone();
        async move {
            app.send_with(
                Method::PATCH,
                &path,
                Some(token),
                Some(&body),
                &[("If-Match", "\"1\"")],
            )
            .await
        }
    });
    let replies = join_all(writers).await;
    let winners: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status.as_u16() == 200)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one writer wins: {replies:#?}");
    for reply in replies.iter().filter(|r| r.status.as_u16() != 200) {
        reply.assert_problem(412, "precondition-failed");
    }
    let winner = winners[0].json();
    let current = app.get(&path, Some(token)).await.json();
    assert_eq!(current["version"], 2);
    assert_eq!(current["name"], winner["name"]);
    assert_eq!(current["attributes"], winner["attributes"]);
    assert_eq!(current["attributes"].as_object().map(|o| o.len()), Some(1));

    // Without If-Match every writer's merge patch lands; none is lost.
    app.assert_concurrent_merges_all_land(&path, token, 2).await;
}

/// A PATCH reads its element in the query that authorizes and locks the world; a missing
/// element still answers as before: the role first, then the element, then the body.
async fn patch_answers_role_before_element_before_body(app: TestApp) {
    let ada = app.register("ada").await;
    let bran = app.register("bran").await;
    let cara = app.register("cara").await;
    let world = new_world(&app, &ada.access_token, "Order").await;
    let element = create_element(
        &app,
        &ada.access_token,
        &world,
        json!({"kind": "item", "name": "Lamp"}),
    )
    .await;
    let element = element["id"].as_str().expect("element id").to_owned();
    app.join(&ada, &world, &bran, "viewer").await;
    let missing = element_path(&world, "0190a5c4-0000-7000-8000-000000000000");
    let present = element_path(&world, &element);
    let good = json!({"name": "Lantern"});
    let bad = json!({"name": ""});

    // A viewer is refused whether or not the element exists.
    for path in [&present, &missing] {
        app.patch(path, Some(&bran.access_token), good.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    // A stranger learns nothing about the private world.
    for path in [&present, &missing] {
        app.patch(path, Some(&cara.access_token), good.clone())
            .await
            .assert_problem(404, "not-found");
    }
    // The owner: a bad body is 422 before a missing element is 404.
    app.patch(&missing, Some(&ada.access_token), bad.clone())
        .await
        .assert_problem(422, "validation-failed");
    app.patch(&missing, Some(&ada.access_token), good.clone())
        .await
        .assert_problem(404, "not-found");
    let reply = app.patch(&present, Some(&ada.access_token), good).await;
    reply.assert_status(200);
    assert_eq!(reply.json()["name"], "Lantern");
    assert_eq!(reply.json()["version"], 2);
}

async fn concurrent_deletes_and_updates_stay_consistent(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Churn").await;
    let keep = element_id(&app, token, &world, "thing", "keep").await;
    for round in 0..3 {
        let victim = create_element(
            &app,
            token,
            &world,
            json!({"kind": "thing", "name": format!("victim{round}")}),
        )
        .await;
        let path = element_path(&world, &id_of(&victim));
        let requests = (0..8).map(|i| {
            let app = &app;
            let path = path.clone();
            async move {
                match i % 3 {
                    0 => app.delete(&path, Some(token)).await,
                    1 => {
                        app.patch(
                            &path,
                            Some(token),
                            json!({"attributes": {format!("k{i}"): i}}),
                        )
                        .await
                    }
                    _ => {
                        app.send_with(
                            Method::DELETE,
                            &path,
                            Some(token),
                            None,
                            &[("If-Match", "\"1\"")],
                        )
                        .await
                    }
                }
            }
        });
        let replies = join_all(requests).await;
        let deleted = replies.iter().filter(|r| r.status.as_u16() == 204).count();
        assert_eq!(deleted, 1, "exactly one delete wins: {replies:#?}");
        for reply in &replies {
            assert!(
                [200, 204, 404, 412].contains(&reply.status.as_u16()),
                "no request fails otherwise: {reply:?}"
            );
        }
        app.get(&path, Some(token))
            .await
            .assert_problem(404, "not-found");
    }
    assert_eq!(element_count(&app, token, &world).await, 1);
    assert_eq!(names(&app, token, &world, &[]).await, ["keep"]);
    app.get(&element_path(&world, &keep), Some(token))
        .await
        .assert_status(200);
}

async fn concurrent_moves_cannot_close_a_cycle(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = new_world(&app, token, "Moves").await;
    for round in 0..4 {
        let a = element_id(&app, token, &world, "place", &format!("a{round}")).await;
        let b = element_id(&app, token, &world, "place", &format!("b{round}")).await;
        let (path_a, path_b) = (element_path(&world, &a), element_path(&world, &b));
        let (first, second) = futures_util::join!(
            app.patch(&path_a, Some(token), json!({"parent_id": b})),
            app.patch(&path_b, Some(token), json!({"parent_id": a})),
        );
        let statuses = [first.status.as_u16(), second.status.as_u16()];
        assert!(
            statuses.contains(&200),
            "one move succeeds: {first:?} {second:?}"
        );
        assert!(
            statuses.contains(&422),
            "the other would close a cycle: {first:?} {second:?}"
        );
    }
}

/// Lists copy the stored JSON text of `attributes` into the response instead of
/// re-encoding it: whatever was written comes back equal from create, GET and list.
async fn attributes_come_back_as_written_from_every_read(app: TestApp) {
    let user = app.register("raw-json").await;
    let token = user.access_token.as_str();
    let world = new_world(&app, token, "Raw").await;
    let attributes = json!({
        "quote": "she said \"run\"\\ now\n\ttab",
        "unicode": "Zoë · 龍 · 🐉",
        "control": "\u{1}\u{1f}",
        "numbers": [0, -7, 1.5, -0.000_000_15, 9_007_199_254_740_993_u64, 18_446_744_073_709_551_615_u64],
        "flags": [true, false, null],
        "empty": {"list": [], "map": {}},
        "deep": {"a": {"b": {"c": [{"d": "e"}]}}},
        "b": 1, "a": 2, "aa": 3,
    });
    let tags = json!(["zeta", "alpha", "Ünïcode"]);
    let created = create_element(
        &app,
        token,
        &world,
        json!({"kind": "item", "name": "Codex", "attributes": attributes, "tags": tags}),
    )
    .await;
    let id = created["id"].as_str().expect("id");
    let fetched = app.get(&element_path(&world, id), Some(token)).await;
    fetched.assert_status(200);
    let listed = app.get(&elements_path(&world), Some(token)).await;
    listed.assert_status(200);
    let listed = listed.json()["items"][0].clone();
    for (read, body) in [
        ("create", &created),
        ("get", &fetched.json()),
        ("list", &listed),
    ] {
        assert_eq!(
            body["attributes"], attributes,
            "{read} on {:?}",
            app.backend
        );
        assert_eq!(body["tags"], tags, "{read} on {:?}", app.backend);
    }
    assert_eq!(
        listed,
        fetched.json(),
        "list and GET disagree on {:?}",
        app.backend
    );
}

on_both_backends!(
    attributes_come_back_as_written_from_every_read,
    create_returns_location_and_etag,
    patch_merges_attributes_and_replaces_the_rest,
    delete_takes_relations_and_orphans_children,
    parent_must_be_in_the_same_world,
    cycles_are_refused,
    every_filter_alone_and_combined,
    sort_orders,
    keyset_paging_returns_each_element_once,
    keyset_paging_is_stable_under_concurrent_inserts,
    paging_parameters_are_checked,
    input_limits,
    if_match_guards_updates_and_deletes,
    eight_concurrent_writers_exactly_one_wins,
    concurrent_deletes_and_updates_stay_consistent,
    patch_answers_role_before_element_before_body,
    concurrent_moves_cannot_close_a_cycle,
);
