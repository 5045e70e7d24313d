//! Elements: create, read, update, delete.
use super::*;

async fn create_returns_location_and_etag(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    assert_eq!(element_count(&app, token, &world).await, 0);

    let reply = app
        .post(
            &elements_path(&world),
            Some(token),
            json!({"kind": "character", "name": "Aragorn", "summary": "Ranger", "attributes": {"race": "human"}, "tags": ["hero", "human"]}),
        )
        .await;
    let element = reply.assert_created(&elements_path(&world));
    let id = id_of(&element);
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
    let w = app.in_world(token, &world);
    let minimal = w.create(json!({"kind": "place", "name": "Bree"})).await;
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
    let other_world = app.new_world(token, "Narnia").await;
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
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let element = w.create(json!({
            "kind": "character",
            "name": "Strider",
            "summary": "A ranger",
            "attributes": {"race": "human", "title": "ranger", "stats": {"level": 3, "hp": 10}, "langs": ["common"]},
            "tags": ["hero", "ranger"]
        })).await;
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
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let gondor = app.element_id(token, &world, "realm", "Gondor").await;
    let w = app.in_world(token, &world);
    let minas = w.child("city", "Minas Tirith", &gondor).await;
    let osgiliath = w.child("city", "Osgiliath", &gondor).await;
    let rohan = app.element_id(token, &world, "realm", "Rohan").await;
    assert_eq!(minas["parent_id"], gondor.as_str());
    assert_eq!(element_count(&app, token, &world).await, 4);

    let relations = relations_path(&world);
    let allies = app.relate(token, &world, &gondor, &rohan, "ally").await;
    let back = app.relate(token, &world, &rohan, &gondor, "ally").await;
    let kept = app
        .relate(token, &world, &rohan, &id_of(&minas), "guards")
        .await;

    // A stale If-Match deletes nothing.
    app.if_match(
        Method::DELETE,
        &element_path(&world, &gondor),
        token,
        None,
        "\"7\"",
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
        app.get(&format!("{relations}/{}", id_of(gone)), Some(token))
            .await
            .assert_problem(404, "not-found");
    }
    app.get(&format!("{relations}/{}", id_of(&kept)), Some(token))
        .await
        .assert_status(200);
    let rohan_relations = app
        .get_json(
            &format!("{}/relations", element_path(&world, &rohan)),
            token,
        )
        .await;
    assert_eq!(rohan_relations["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(element_count(&app, token, &world).await, 3);
    let listed = names(&app, token, &world, &[]).await;
    assert_eq!(listed, ["Minas Tirith", "Osgiliath", "Rohan"]);
}

on_both_backends!(
    create_returns_location_and_etag,
    patch_merges_attributes_and_replaces_the_rest,
    delete_takes_relations_and_orphans_children,
);
