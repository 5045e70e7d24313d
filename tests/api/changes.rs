//! The change log: the feed (deletions included, in commit order, exactly once under
//! concurrent writers), element and relation history, `?version=N`, revert, the trash and
//! restore, and retention.
use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::{element_path, id_of};
use crate::helpers::{elements_path, world_path};
use crate::{on_both_backends, on_both_backends_with};

fn changes_path(world: &str) -> String {
    format!("/api/v1/worlds/{world}/changes")
}

/// The whole feed after `after`, page by page.
async fn read_feed(app: &TestApp, token: Option<&str>, world: &str, after: i64) -> Vec<Value> {
    let mut after = after;
    let mut all = Vec::new();
    loop {
        let reply = app
            .get(
                &format!("{}?after={after}&limit=7", changes_path(world)),
                token,
            )
            .await;
        reply.assert_status(200);
        let page = reply.json();
        let items = page["items"].as_array().expect("items").clone();
        after = page["next_after"].as_i64().expect("next_after");
        all.extend(items);
        if !page["has_more"].as_bool().expect("has_more") {
            return all;
        }
    }
}

fn summary(changes: &[Value]) -> Vec<(String, String)> {
    changes
        .iter()
        .map(|c| {
            (
                c["type"].as_str().expect("type").to_owned(),
                c["resource_id"].as_str().expect("resource_id").to_owned(),
            )
        })
        .collect()
}

async fn feed_records_every_change_with_deletions(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    let w = app.in_world(&ada.access_token, &world);
    let parent = w
        .create(json!({"kind": "place", "name": "Keep", "attributes": {"size": 3}}))
        .await;
    let parent_id = id_of(&parent);
    let child = w.child("place", "Tower", &parent_id).await;
    let child_id = id_of(&child);
    let relation_id = w.relate(&child_id, &parent_id, "part_of").await;
    let patched = app
        .patch(
            &element_path(&world, &parent_id),
            token,
            json!({"attributes": {"size": 4}}),
        )
        .await;
    patched.assert_status(200);
    app.patch(&world_path(&world), token, json!({"name": "Eldoria Prime"}))
        .await
        .assert_status(200);

    // Changing nothing records nothing and keeps the version.
    for body in [
        json!({}),
        json!({"name": "Keep", "attributes": {"size": 4}}),
    ] {
        let same = app
            .patch(&element_path(&world, &parent_id), token, body)
            .await;
        same.assert_status(200);
        assert_eq!(same.json()["version"], 2);
        assert_eq!(same.header("etag"), Some("\"2\""));
    }
    let world_same = app
        .patch(&world_path(&world), token, json!({"name": "Eldoria Prime"}))
        .await;
    world_same.assert_status(200);
    assert_eq!(world_same.json()["version"], 2);

    app.delete(&element_path(&world, &parent_id), token)
        .await
        .assert_status(204);

    let changes = read_feed(&app, token, &world, 0).await;
    let expected = vec![
        ("element.created".to_owned(), parent_id.clone()),
        ("element.created".to_owned(), child_id.clone()),
        ("relation.created".to_owned(), relation_id.clone()),
        ("element.updated".to_owned(), parent_id.clone()),
        ("world.updated".to_owned(), world.clone()),
        // The delete: the child's parent cleared, the relation, then the element.
        ("element.updated".to_owned(), child_id.clone()),
        ("relation.deleted".to_owned(), relation_id.clone()),
        ("element.deleted".to_owned(), parent_id.clone()),
    ];
    assert_eq!(summary(&changes), expected);
    let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    for change in &changes {
        assert_eq!(change["actor_id"], ada.id.to_string());
        assert!(change["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    }
    // `data` is the resource as its GET showed it after the change.
    assert_eq!(changes[0]["data"], parent);
    assert_eq!(changes[0]["version"], 1);
    assert_eq!(changes[3]["data"], patched.json());
    assert_eq!(changes[3]["version"], 2);
    assert_eq!(changes[4]["data"]["name"], "Eldoria Prime");
    assert_eq!(changes[4]["version"], 2);
    assert_eq!(changes[5]["data"]["parent_id"], Value::Null);
    assert_eq!(changes[5]["version"], 2);
    assert_eq!(changes[6]["data"], Value::Null);
    assert_eq!(changes[7]["data"], Value::Null);
    assert_eq!(changes[7]["version"], 2);
    // The child's GET agrees with the log.
    let child_now = app
        .get(&element_path(&world, &child_id), token)
        .await
        .json();
    assert_eq!(changes[5]["data"], child_now);

    // Paging: `next_after` and `has_more`.
    let page = app
        .get(&format!("{}?after=2&limit=3", changes_path(&world)), token)
        .await
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["items"][0]["seq"], 3);
    assert_eq!(page["next_after"], 5);
    assert_eq!(page["has_more"], true);
    let end = app
        .get(&format!("{}?after=8", changes_path(&world)), token)
        .await
        .json();
    assert_eq!(
        end,
        json!({"items": [], "next_after": 8, "has_more": false})
    );
}

async fn feed_parameters_and_access(app: TestApp) {
    let ada = app.register("ada").await;
    let eve = app.register("eve").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Private").await;
    let path = changes_path(&world);
    for bad in ["limit=0", "limit=1001", "after=-1"] {
        app.get(&format!("{path}?{bad}"), token)
            .await
            .assert_problem(422, "validation-failed");
    }
    for bad in ["limit=x", "after=x", "after=1.5"] {
        app.get(&format!("{path}?{bad}"), token)
            .await
            .assert_problem(400, "bad-request");
    }
    app.get(&format!("{path}?limit=1000"), token)
        .await
        .assert_status(200);
    // A private world's feed is as invisible as the world.
    app.get(&path, Some(&eve.access_token))
        .await
        .assert_problem(404, "not-found");
    app.get(&path, None).await.assert_problem(404, "not-found");
    // A public one is readable by anyone, as the world is.
    app.patch(&world_path(&world), token, json!({"visibility": "public"}))
        .await
        .assert_status(200);
    let anonymous = read_feed(&app, None, &world, 0).await;
    assert_eq!(
        summary(&anonymous),
        vec![("world.updated".into(), world.clone())]
    );
    // The log shows the world as a stranger sees it: no caller's role in it.
    assert_eq!(anonymous[0]["data"]["role"], Value::Null);
    let viewer = app.register("viewer").await;
    app.add_member(&world, &viewer, "viewer").await;
    assert_eq!(
        read_feed(&app, Some(&viewer.access_token), &world, 0)
            .await
            .len(),
        1
    );
}

async fn history_versions_and_revert(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    let w = app.in_world(&ada.access_token, &world);
    let v1 = w
        .create(
            json!({"kind": "character", "name": "Ada", "summary": "An elf",
               "attributes": {"stats": {"level": 1}}, "tags": ["hero"]}),
        )
        .await;
    let id = id_of(&v1);
    let path = element_path(&world, &id);
    app.patch(&path, token, json!({"attributes": {"stats": {"level": 2}}}))
        .await
        .assert_status(200);
    app.patch(&path, token, json!({"name": "Ada Lovelace", "tags": []}))
        .await
        .assert_status(200);
    let v4 = app.patch(&path, token, json!({"summary": null})).await;
    v4.assert_status(200);

    let history = app.get(&format!("{path}/history"), token).await;
    history.assert_status(200);
    let history = history.json();
    let items = history["items"].as_array().expect("items");
    let versions: Vec<i64> = items
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![4, 3, 2, 1]);
    assert_eq!(items[3]["type"], "element.created");
    assert_eq!(items[3]["patch"], Value::Null);
    assert_eq!(items[0]["type"], "element.updated");
    assert_eq!(items[0]["actor_id"], ada.id.to_string());
    // Each patch turns the previous version's JSON into this one's.
    let mut doc = v1.clone();
    for revision in items.iter().rev().skip(1) {
        let patch: json_patch::Patch =
            serde_json::from_value(revision["patch"].clone()).expect("RFC 6902 patch");
        json_patch::patch(&mut doc, &patch).expect("patch applies");
    }
    assert_eq!(doc, v4.json());
    let ops: HashSet<String> = items[1]["patch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            format!(
                "{} {}",
                op["op"].as_str().unwrap(),
                op["path"].as_str().unwrap()
            )
        })
        .collect();
    assert!(ops.contains("replace /name"), "{ops:?}");
    assert!(ops.contains("remove /tags/0"), "{ops:?}");

    // Paged: the second page's first patch still starts from the right version.
    let first = app
        .get(&format!("{path}/history?limit=2"), token)
        .await
        .json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("next_cursor");
    let second = app
        .get(&format!("{path}/history?limit=2&cursor={cursor}"), token)
        .await
        .json();
    assert_eq!(second["items"][0], items[2]);
    assert_eq!(second["items"][1], items[3]);
    assert_eq!(second["next_cursor"], Value::Null);

    // `?version=N`: the element as it was, without an ETag.
    let old = app.get(&format!("{path}?version=1"), token).await;
    old.assert_status(200);
    assert_eq!(old.json(), v1);
    assert_eq!(old.header("etag"), None);
    app.get(&format!("{path}?version=9"), token)
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("{path}?version=x"), token)
        .await
        .assert_problem(400, "bad-request");
    app.get(&format!("{path}?version=0"), token)
        .await
        .assert_problem(422, "validation-failed");

    // Revert: the fields of version 1, as version 5; If-Match is honoured.
    let revert = format!("{path}/revert");
    app.if_match(
        Method::POST,
        &revert,
        &ada.access_token,
        Some(&json!({"version": 1})),
        "\"3\"",
    )
    .await
    .assert_problem(412, "precondition-failed");
    let reverted = app
        .if_match(
            Method::POST,
            &revert,
            &ada.access_token,
            Some(&json!({"version": 1})),
            "\"4\"",
        )
        .await;
    reverted.assert_status(200);
    assert_eq!(reverted.header("etag"), Some("\"5\""));
    let reverted = reverted.json();
    for field in [
        "kind",
        "name",
        "summary",
        "attributes",
        "tags",
        "parent_id",
        "id",
    ] {
        assert_eq!(reverted[field], v1[field], "{field}");
    }
    assert_eq!(reverted["version"], 5);
    // Reverting to what is current changes nothing.
    let again = app.post(&revert, token, json!({"version": 1})).await;
    again.assert_status(200);
    assert_eq!(again.json()["version"], 5);
    app.post(&revert, token, json!({"version": 42}))
        .await
        .assert_problem(422, "validation-failed");
    app.post(&revert, token, json!({"version": 1, "extra": true}))
        .await
        .assert_problem(422, "validation-failed");
    let viewer = app.register("viewer").await;
    app.add_member(&world, &viewer, "viewer").await;
    app.post(&revert, Some(&viewer.access_token), json!({"version": 2}))
        .await
        .assert_problem(403, "forbidden");
    // Readers see history; strangers see nothing.
    app.get(&format!("{path}/history"), Some(&viewer.access_token))
        .await
        .assert_status(200);
    let eve = app.register("eve").await;
    app.get(&format!("{path}/history"), Some(&eve.access_token))
        .await
        .assert_problem(404, "not-found");
    app.get(
        &format!(
            "/api/v1/worlds/{world}/elements/{}/history",
            uuid::Uuid::now_v7()
        ),
        token,
    )
    .await
    .assert_problem(404, "not-found");
}

async fn relation_history(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    let w = app.in_world(&ada.access_token, &world);
    let a = w.element(json!({"kind": "c", "name": "A"})).await;
    let b = w.element(json!({"kind": "c", "name": "B"})).await;
    let relation = app.relate(&ada.access_token, &world, &a, &b, "knows").await;
    let path = format!("/api/v1/worlds/{world}/relations/{}", id_of(&relation));
    app.patch(&path, token, json!({"attributes": {"since": 1200}}))
        .await
        .assert_status(200);
    app.patch(&path, token, json!({"kind": "loves"}))
        .await
        .assert_status(200);
    let history = app.get(&format!("{path}/history"), token).await.json();
    let items = history["items"].as_array().unwrap();
    let versions: Vec<i64> = items
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![3, 2, 1]);
    assert_eq!(items[2]["type"], "relation.created");
    let ops: Vec<(String, String)> = items[0]["patch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            (
                op["op"].as_str().unwrap().into(),
                op["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(ops.contains(&("replace".into(), "/kind".into())), "{ops:?}");
    app.delete(&path, token).await.assert_status(204);
    // A deleted relation's history is still there, ending in its deletion.
    let history = app.get(&format!("{path}/history"), token).await.json();
    assert_eq!(history["items"][0]["type"], "relation.deleted");
    assert_eq!(
        history["items"][0]["patch"],
        json!([{"op": "replace", "path": "", "value": null}])
    );
    // An element id is not a relation.
    app.get(
        &format!("/api/v1/worlds/{world}/relations/{a}/history"),
        token,
    )
    .await
    .assert_problem(404, "not-found");
}

async fn trash_and_restore(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    let w = app.in_world(&ada.access_token, &world);
    let keep = w.element(json!({"kind": "place", "name": "Keep"})).await;
    let ada_el = w
        .create(
            json!({"kind": "character", "name": "Ada", "parent_id": keep, "attributes": {"hp": 9}}),
        )
        .await;
    let ada_id = id_of(&ada_el);
    let bran = w
        .element(json!({"kind": "character", "name": "Bran"}))
        .await;
    let cy = w.element(json!({"kind": "character", "name": "Cy"})).await;
    let relate = async |source: &str, target: &str| {
        app.relate(&ada.access_token, &world, source, target, "knows")
            .await
    };
    let to_bran = relate(&ada_id, &bran).await;
    let from_cy = relate(&cy, &ada_id).await;

    app.delete(&element_path(&world, &ada_id), token)
        .await
        .assert_status(204);
    app.delete(&element_path(&world, &cy), token)
        .await
        .assert_status(204);
    app.delete(&element_path(&world, &keep), token)
        .await
        .assert_status(204);
    let trash = app
        .get(&format!("/api/v1/worlds/{world}/trash"), token)
        .await;
    trash.assert_status(200);
    let trash = trash.json();
    let listed: Vec<&str> = trash["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![keep.as_str(), cy.as_str(), ada_id.as_str()]);
    assert_eq!(trash["items"][2]["name"], "Ada");
    assert_eq!(trash["items"][2]["kind"], "character");
    assert_eq!(trash["items"][2]["deleted_by"], ada.id.to_string());
    // Paged, most recently deleted first.
    let first = app
        .get(&format!("/api/v1/worlds/{world}/trash?limit=2"), token)
        .await
        .json();
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/worlds/{world}/trash?limit=2&cursor={cursor}"),
            token,
        )
        .await
        .json();
    assert_eq!(rest["items"][0]["id"], ada_id);

    let before = read_feed(&app, token, &world, 0).await.len();
    let restore = format!("/api/v1/worlds/{world}/trash/{ada_id}/restore");
    let restored = app.send(Method::POST, &restore, token, None).await;
    restored.assert_status(200);
    assert_eq!(restored.header("etag"), Some("\"2\""));
    let restored = restored.json();
    assert_eq!(restored["id"], ada_id);
    assert_eq!(restored["version"], 2);
    assert_eq!(restored["attributes"], json!({"hp": 9}));
    assert_eq!(restored["created_at"], ada_el["created_at"]);
    // Its parent is in the trash too: it comes back as a root.
    assert_eq!(restored["parent_id"], Value::Null);
    assert_eq!(
        app.get(&element_path(&world, &ada_id), token).await.json(),
        restored
    );
    // The relation to Bran is back (Bran exists); the one from Cy is not (Cy is gone).
    let relations = app
        .get(
            &format!("{}/relations", element_path(&world, &ada_id)),
            token,
        )
        .await
        .json();
    let back: Vec<&str> = relations["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(back, vec![to_bran["id"].as_str().unwrap()]);
    assert_eq!(relations["items"][0]["version"], 2);
    assert_ne!(from_cy["id"], to_bran["id"]);
    let world_now = app.get(&world_path(&world), token).await.json();
    assert_eq!(world_now["element_count"], 2);
    let after = read_feed(&app, token, &world, before as i64).await;
    assert_eq!(
        summary(&after),
        vec![
            ("element.restored".into(), ada_id.clone()),
            (
                "relation.created".into(),
                to_bran["id"].as_str().unwrap().to_owned()
            ),
        ]
    );
    assert_eq!(after[0]["data"], restored);

    // Not in the trash (any more, or ever): 409.
    app.send(Method::POST, &restore, token, None)
        .await
        .assert_problem(409, "conflict");
    app.send(
        Method::POST,
        &format!("/api/v1/worlds/{world}/trash/{bran}/restore"),
        token,
        None,
    )
    .await
    .assert_problem(409, "conflict");
    // Restoring the parent now keeps it a root's parent-less child: nothing re-parents.
    app.send(
        Method::POST,
        &format!("/api/v1/worlds/{world}/trash/{keep}/restore"),
        token,
        None,
    )
    .await
    .assert_status(200);
    // The trash is for editors.
    let viewer = app.register("viewer").await;
    app.add_member(&world, &viewer, "viewer").await;
    app.get(
        &format!("/api/v1/worlds/{world}/trash"),
        Some(&viewer.access_token),
    )
    .await
    .assert_problem(403, "forbidden");
    app.send(
        Method::POST,
        &format!("/api/v1/worlds/{world}/trash/{cy}/restore"),
        Some(&viewer.access_token),
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    let eve = app.register("eve").await;
    app.get(
        &format!("/api/v1/worlds/{world}/trash"),
        Some(&eve.access_token),
    )
    .await
    .assert_problem(404, "not-found");
    // A deleted element's history and old versions stay readable.
    let history = app
        .get(&format!("{}/history", element_path(&world, &cy)), token)
        .await
        .json();
    assert_eq!(history["items"][0]["type"], "element.deleted");
    app.get(&format!("{}?version=1", element_path(&world, &cy)), token)
        .await
        .assert_status(200);
}

/// Several writers and a reader that polls the feed while they write: the reader sees
/// every change exactly once, in `seq` order, with no gap, deletions included.
async fn feed_under_concurrent_writers(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.clone();
    let world = app.new_world(&token, "Busy").await;
    const WRITERS: usize = 4;
    const ROUNDS: usize = 6;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (app, token, world, done) = (&app, &token, &world, done.clone());
        async move {
            let mut seen: Vec<Value> = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = app
                    .get_json(
                        &format!("{}?after={after}&limit=5", changes_path(world)),
                        token,
                    )
                    .await;
                after = page["next_after"].as_i64().unwrap();
                seen.extend(page["items"].as_array().unwrap().iter().cloned());
                if finished && !page["has_more"].as_bool().unwrap() {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
    };
    let writers = async {
        let writer = async |w: usize| {
            let mut made = 0;
            for round in 0..ROUNDS {
                let created = app
                    .post(
                        &elements_path(&world),
                        Some(&token),
                        json!({"kind": "item", "name": format!("w{w}-{round}")}),
                    )
                    .await;
                created.assert_status(201);
                let id = id_of(&created.json());
                app.patch(
                    &element_path(&world, &id),
                    Some(&token),
                    json!({"attributes": {"round": round}}),
                )
                .await
                .assert_status(200);
                made += 2;
                if round % 2 == 1 {
                    app.delete(&element_path(&world, &id), Some(&token))
                        .await
                        .assert_status(204);
                    made += 1;
                }
            }
            made
        };
        let made: Vec<usize> = futures_util::future::join_all((0..WRITERS).map(writer)).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        made.into_iter().sum::<usize>()
    };
    let (seen, made) = tokio::join!(reader, writers);
    let seqs: Vec<i64> = seen.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=made as i64).collect::<Vec<_>>(),
        "every change once, in order"
    );
    let deletions = seen
        .iter()
        .filter(|c| c["type"] == "element.deleted")
        .count();
    assert_eq!(deletions, WRITERS * ROUNDS / 2);
    // What the reader saw is what the log holds.
    assert_eq!(read_feed(&app, Some(&token), &world, 0).await, seen);
}

const RETENTION: &[(&str, &str)] = &[
    ("CHANGES_RETENTION_DAYS", "1"),
    ("CHANGES_PRUNE_INTERVAL_SECS", "1"),
];

/// Changes and trashed elements older than the retention period go; a feed read from
/// below what is kept is 410 `changes-expired`.
async fn retention_prunes_and_expires_old_positions(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Old").await;
    let mut ids = Vec::new();
    let w = app.in_world(&ada.access_token, &world);
    for name in ["a", "b", "c"] {
        ids.push(w.element(json!({"kind": "x", "name": name})).await);
    }
    app.delete(&element_path(&world, &ids[0]), token)
        .await
        .assert_status(204);
    // Age the trash entry and then the first three changes past the retention period: in
    // that order, a pruning run that sees the old changes sees the old trash entry too.
    let db = app.db().await;
    let two_days_ago = "'2000-01-01T00:00:00Z'";
    db.execute_unprepared(&format!(
        "UPDATE element_trash SET deleted_at = {two_days_ago}"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE world_changes SET at = {two_days_ago} WHERE seq <= 3"
    ))
    .await
    .unwrap();
    let expired = async || {
        for _ in 0..100 {
            let reply = app
                .get(&format!("{}?after=0", changes_path(&world)), token)
                .await;
            if reply.status.as_u16() == 410 {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the retention job did not run");
    };
    let problem = expired().await.assert_problem(410, "changes-expired");
    assert!(problem["detail"].as_str().is_some());
    app.get(&format!("{}?after=2", changes_path(&world)), token)
        .await
        .assert_problem(410, "changes-expired");
    // From the last removed seq on, nothing is missing.
    let kept = read_feed(&app, token, &world, 3).await;
    assert_eq!(
        summary(&kept),
        vec![("element.deleted".into(), ids[0].clone())]
    );
    let trash = app
        .get(&format!("/api/v1/worlds/{world}/trash"), token)
        .await
        .json();
    assert_eq!(trash["items"], json!([]));
    app.send(
        Method::POST,
        &format!("/api/v1/worlds/{world}/trash/{}/restore", ids[0]),
        token,
        None,
    )
    .await
    .assert_problem(409, "conflict");
}

/// Joining, role changes and leaving are in the feed, showing who and which role, never
/// an email.
async fn member_changes_are_recorded(app: TestApp) {
    let ada = app.register("ada").await;
    let bran = app.register("bran").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    app.join(&ada, &world, &bran, "viewer").await;
    let member = format!("/api/v1/worlds/{world}/members/{}", bran.id);
    app.put(&member, token, json!({"role": "editor"}))
        .await
        .assert_status(200);
    // The same role again changes nothing.
    app.put(&member, token, json!({"role": "editor"}))
        .await
        .assert_status(200);
    app.delete(&member, Some(&bran.access_token))
        .await
        .assert_status(204);
    let changes = read_feed(&app, token, &world, 0).await;
    let bran_id = bran.id.to_string();
    assert_eq!(
        summary(&changes),
        vec![
            ("member.added".into(), bran_id.clone()),
            ("member.updated".into(), bran_id.clone()),
            ("member.removed".into(), bran_id.clone()),
        ]
    );
    assert_eq!(
        changes[0]["data"],
        json!({"user_id": bran_id, "role": "viewer"})
    );
    assert_eq!(changes[0]["actor_id"], bran_id);
    assert_eq!(
        changes[1]["data"],
        json!({"user_id": bran_id, "role": "editor"})
    );
    assert_eq!(changes[1]["version"], Value::Null);
    assert_eq!(changes[2]["data"], Value::Null);
    assert_eq!(changes[2]["actor_id"], bran_id);
    assert!(
        !serde_json::to_string(&changes)
            .unwrap()
            .contains(&bran.email)
    );
}

/// Personal access tokens: a read token reads the feed, history and trash but cannot
/// revert or restore; a write token can.
async fn tokens_follow_their_scope(app: TestApp) {
    let ada = app.register("ada").await;
    let world = app.new_world(&ada.access_token, "Eldoria").await;
    let w = app.in_world(&ada.access_token, &world);
    let element = w.element(json!({"kind": "c", "name": "A"})).await;
    let gone = w.element(json!({"kind": "c", "name": "B"})).await;
    app.delete(&element_path(&world, &gone), Some(&ada.access_token))
        .await
        .assert_status(204);
    let read = app
        .personal_token(
            &ada,
            json!({"name": "reader", "scope": "read", "world_ids": [world]}),
        )
        .await;
    let write = app
        .personal_token(&ada, json!({"name": "writer", "scope": "write"}))
        .await;
    let read = Some(read.as_str());
    assert_eq!(read_feed(&app, read, &world, 0).await.len(), 3);
    app.get(&format!("{}/history", element_path(&world, &element)), read)
        .await
        .assert_status(200);
    app.get(&format!("/api/v1/worlds/{world}/trash"), read)
        .await
        .assert_status(200);
    let revert = format!("{}/revert", element_path(&world, &element));
    let restore = format!("/api/v1/worlds/{world}/trash/{gone}/restore");
    app.post(&revert, read, json!({"version": 1}))
        .await
        .assert_problem(403, "insufficient-scope");
    app.send(Method::POST, &restore, read, None)
        .await
        .assert_problem(403, "insufficient-scope");
    app.post(&revert, Some(&write), json!({"version": 1}))
        .await
        .assert_status(200);
    app.send(Method::POST, &restore, Some(&write), None)
        .await
        .assert_status(200);
}

on_both_backends!(
    member_changes_are_recorded,
    tokens_follow_their_scope,
    feed_records_every_change_with_deletions,
    feed_parameters_and_access,
    history_versions_and_revert,
    relation_history,
    trash_and_restore,
    feed_under_concurrent_writers,
);

on_both_backends_with!(super::RETENTION; retention_prunes_and_expires_old_positions);
