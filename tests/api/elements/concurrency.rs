//! Elements: if-Match and concurrent writers.
use super::*;

async fn if_match_guards_updates_and_deletes(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Versions").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let element = w
        .create(json!({"kind": "thing", "name": "v1", "attributes": {"a": 1}}))
        .await;
    let path = element_path(&world, &id_of(&element));

    let reply = app
        .if_match(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"name": "v2"})),
            "\"1\"",
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.json()["version"], 2);

    // The same If-Match again is stale now: 412 and nothing changes.
    for stale in ["\"1\"", "\"3\"", "\"abc\"", "W/\"1\""] {
        app.if_match(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"name": "lost", "attributes": {"a": null}})),
            stale,
        )
        .await
        .assert_problem(412, "precondition-failed");
        app.if_match(Method::DELETE, &path, token, None, stale)
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
        app.if_match(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"name": "never"})),
            never,
        )
        .await
        .assert_problem(412, "precondition-failed");
    }
    // The current ETag works, and so does `*`.
    let reply = app
        .if_match(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"name": "v3"})),
            "\"2\"",
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["version"], 3);
    let reply = app
        .if_match(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"name": "v4"})),
            "*",
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"4\""));
    // Without If-Match the change simply applies.
    let reply = app.patch(&path, Some(token), json!({"name": "v5"})).await;
    reply.assert_status(200);
    assert_eq!(reply.json()["version"], 5);

    app.if_match(Method::DELETE, &path, token, None, "\"5\"")
        .await
        .assert_status(204);
    app.get(&path, Some(token))
        .await
        .assert_problem(404, "not-found");
}

async fn eight_concurrent_writers_exactly_one_wins(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Race").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let element = w
        .create(json!({"kind": "thing", "name": "contested"}))
        .await;
    let path = element_path(&world, &id_of(&element));

    let winner = app
        .assert_one_of_eight_wins(
            &path,
            token,
            |i| json!({"name": format!("writer-{i}"), "attributes": {format!("k{i}"): i}}),
        )
        .await;
    let current = app.get_json(&path, token).await;
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
    let world = app.new_world(&ada.access_token, "Order").await;
    let w = app.in_world(&ada.access_token, &world);
    let element = w.create(json!({"kind": "item", "name": "Lamp"})).await;
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
    let (ada, world) = app.user_with_world("ada", "Churn").await;
    let token = ada.access_token.as_str();
    let keep = app.element_id(token, &world, "thing", "keep").await;
    let w = app.in_world(token, &world);
    for round in 0..3 {
        let victim = w
            .create(json!({"kind": "thing", "name": format!("victim{round}")}))
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
                        app.if_match(Method::DELETE, &path, token, None, "\"1\"")
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
    let (ada, world) = app.user_with_world("ada", "Moves").await;
    let token = ada.access_token.as_str();
    for round in 0..4 {
        let a = app
            .element_id(token, &world, "place", &format!("a{round}"))
            .await;
        let b = app
            .element_id(token, &world, "place", &format!("b{round}"))
            .await;
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
    let (user, world) = app.user_with_world("raw-json", "Raw").await;
    let token = user.access_token.as_str();
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
    let w = app.in_world(token, &world);
    let created = w
        .create(json!({"kind": "item", "name": "Codex", "attributes": attributes, "tags": tags}))
        .await;
    let id = created["id"].as_str().expect("id");
    let fetched = app.get_json(&element_path(&world, id), token).await;
    let listed = app.get_json(&elements_path(&world), token).await;
    let listed = listed["items"][0].clone();
    for (read, body) in [("create", &created), ("get", &fetched), ("list", &listed)] {
        assert_eq!(
            body["attributes"], attributes,
            "{read} on {:?}",
            app.backend
        );
        assert_eq!(body["tags"], tags, "{read} on {:?}", app.backend);
    }
    assert_eq!(
        listed, fetched,
        "list and GET disagree on {:?}",
        app.backend
    );
}

on_both_backends!(
    if_match_guards_updates_and_deletes,
    eight_concurrent_writers_exactly_one_wins,
    patch_answers_role_before_element_before_body,
    concurrent_deletes_and_updates_stay_consistent,
    concurrent_moves_cannot_close_a_cycle,
    attributes_come_back_as_written_from_every_read,
);
