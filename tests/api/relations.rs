//! Relations: create, read, merge-patch with If-Match, delete, duplicates, cross-world
//! ends, and an element's relations by direction and kind with the other end embedded.
use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::{
    element_path, error_fields, id_of, ids, page_url, query, relation_path, relations_path,
};
use crate::on_both_backends;

fn element_relations_path(world: &str, element: &str) -> String {
    format!("{}/relations", element_path(world, element))
}

async fn create_get_patch_delete(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let gandalf = app.element_id(token, &world, "character", "Gandalf").await;
    let frodo = app.element_id(token, &world, "character", "Frodo").await;

    let reply = app
        .post(
            &relations_path(&world),
            Some(token),
            json!({"source_id": gandalf, "target_id": frodo, "kind": "mentors", "attributes": {"since": 2941, "meta": {"a": 1, "b": 2}}}),
        )
        .await;
    reply.assert_status(201);
    let relation = reply.json();
    let id = id_of(&relation);
    let path = relation_path(&world, &id);
    assert_eq!(reply.header("location"), Some(path.as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(relation["world_id"], world.as_str());
    assert_eq!(relation["source_id"], gandalf.as_str());
    assert_eq!(relation["target_id"], frodo.as_str());
    assert_eq!(relation["kind"], "mentors");
    assert_eq!(
        relation["attributes"],
        json!({"since": 2941, "meta": {"a": 1, "b": 2}})
    );
    assert_eq!(relation["version"], 1);
    assert!(relation["created_at"].is_string() && relation["updated_at"].is_string());

    let fetched = app.get(&path, Some(token)).await;
    fetched.assert_status(200);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.json(), relation);
    app.get(
        &relation_path(&world, &uuid::Uuid::now_v7().to_string()),
        Some(token),
    )
    .await
    .assert_problem(404, "not-found");
    let other_world = app.new_world(token, "Narnia").await;
    app.get(&relation_path(&other_world, &id), Some(token))
        .await
        .assert_problem(404, "not-found");

    // Defaults.
    let plain = app.relate(token, &world, &frodo, &gandalf, "trusts").await;
    assert_eq!(plain["attributes"], json!({}));

    // PATCH: kind replaces, attributes merge; If-Match guards it.
    let reply = app
        .if_match(Method::PATCH, &path, token, Some(&json!({"kind": "guides", "attributes": {"since": null, "meta": {"b": 3}, "until": 3019}})), "\"1\"")
        .await;
    reply.assert_status(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let patched = reply.json();
    assert_eq!(patched["kind"], "guides");
    assert_eq!(
        patched["attributes"],
        json!({"meta": {"a": 1, "b": 3}, "until": 3019})
    );
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["source_id"], gandalf.as_str());

    app.if_match(
        Method::PATCH,
        &path,
        token,
        Some(&json!({"kind": "lost"})),
        "\"1\"",
    )
    .await
    .assert_problem(412, "precondition-failed");
    app.if_match(Method::DELETE, &path, token, None, "\"1\"")
        .await
        .assert_problem(412, "precondition-failed");
    let current = app.get(&path, Some(token)).await;
    assert_eq!(current.header("etag"), Some("\"2\""));
    assert_eq!(current.json(), patched);

    // Without If-Match a patch applies; invalid ones are refused.
    let reply = app
        .patch(&path, Some(token), json!({"attributes": {"meta": null}}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["attributes"], json!({"until": 3019}));
    assert_eq!(reply.json()["version"], 3);
    for body in [
        json!({"kind": "Guides"}),
        json!({"attributes": [1]}),
        json!({"source_id": frodo}),
        json!({"version": 1}),
    ] {
        app.patch(&path, Some(token), body)
            .await
            .assert_problem(422, "validation-failed");
    }

    app.if_match(Method::DELETE, &path, token, None, "\"3\"")
        .await
        .assert_status(204);
    app.assert_gone(&path, token).await;
    // The elements stay.
    app.get(&element_path(&world, &gandalf), Some(token))
        .await
        .assert_status(200);
}

async fn duplicate_relation_is_conflict(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let sam = app.element_id(token, &world, "character", "Sam").await;
    let frodo = app.element_id(token, &world, "character", "Frodo").await;

    app.relate(token, &world, &sam, &frodo, "serves").await;
    app.post(
        &relations_path(&world),
        Some(token),
        json!({"source_id": sam, "target_id": frodo, "kind": "serves", "attributes": {"x": 1}}),
    )
    .await
    .assert_problem(409, "conflict");
    // Other direction or another kind is a different relation.
    app.relate(token, &world, &frodo, &sam, "serves").await;
    let friends = app.relate(token, &world, &sam, &frodo, "befriends").await;

    // Changing a kind into an existing triple is a conflict too, and changes nothing.
    app.patch(
        &relation_path(&world, &id_of(&friends)),
        Some(token),
        json!({"kind": "serves"}),
    )
    .await
    .assert_problem(409, "conflict");
    let current = app
        .get_json(&relation_path(&world, &id_of(&friends)), token)
        .await;
    assert_eq!(current["kind"], "befriends");
    assert_eq!(current["version"], 1);

    let listed = app
        .get_json(&element_relations_path(&world, &sam), token)
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));

    // Racing creators of the same relation: one wins, the others are told it exists.
    let body = json!({"source_id": frodo, "target_id": sam, "kind": "thanks"});
    let path = relations_path(&world);
    let replies = join_all((0..6).map(|_| app.post(&path, Some(token), body.clone()))).await;
    assert_eq!(
        replies.iter().filter(|r| r.status.as_u16() == 201).count(),
        1,
        "{replies:#?}"
    );
    for reply in replies.iter().filter(|r| r.status.as_u16() != 201) {
        reply.assert_problem(409, "conflict");
    }
}

async fn relating_to_an_element_being_deleted(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Churn").await;
    let token = ada.access_token.as_str();
    let anchor = app.element_id(token, &world, "place", "anchor").await;
    let path = relations_path(&world);
    for round in 0..10 {
        let doomed = app
            .element_id(token, &world, "place", &format!("doomed{round}"))
            .await;
        let doomed_path = element_path(&world, &doomed);
        let creates = (0..4).map(|i| {
            let body = json!({"source_id": anchor, "target_id": doomed, "kind": format!("k{i}")});
            let app = &app;
            let path = path.clone();
            async move { app.post(&path, Some(token), body).await }
        });
        let (deleted, created) =
            futures_util::join!(app.delete(&doomed_path, Some(token)), join_all(creates));
        deleted.assert_status(204);
        for reply in created {
            match reply.status.as_u16() {
                201 => {}
                _ => {
                    let problem = reply.assert_problem(422, "validation-failed");
                    assert_eq!(problem["errors"][0]["field"], "target_id");
                }
            }
        }
    }
    // Whatever was created went with the deleted elements.
    let listed = app
        .get(&element_relations_path(&world, &anchor), Some(token))
        .await;
    assert_eq!(listed.json()["items"], json!([]));
}

async fn concurrent_relation_writers_exactly_one_wins(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Race").await;
    let token = ada.access_token.as_str();
    let a = app.element_id(token, &world, "character", "a").await;
    let b = app.element_id(token, &world, "character", "b").await;
    let relation = app.relate(token, &world, &a, &b, "knows").await;
    let path = relation_path(&world, &id_of(&relation));

    app.assert_one_of_eight_wins(
        &path,
        token,
        |i| json!({"attributes": {format!("k{i}"): i}}),
    )
    .await;
    let current = app.get_json(&path, token).await;
    assert_eq!(current["version"], 2);
    assert_eq!(current["attributes"].as_object().map(|o| o.len()), Some(1));

    // Without If-Match, every merge lands.
    app.assert_concurrent_merges_all_land(&path, token, 2).await;
}

async fn ends_must_be_elements_of_the_world(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let other = app.new_world(token, "Narnia").await;
    let local = app.element_id(token, &world, "character", "Frodo").await;
    let foreign = app.element_id(token, &other, "character", "Aslan").await;
    let missing = uuid::Uuid::now_v7().to_string();

    for (source, target, field) in [
        (&local, &foreign, "target_id"),
        (&foreign, &local, "source_id"),
        (&local, &missing, "target_id"),
        (&missing, &local, "source_id"),
    ] {
        let problem = app
            .post(
                &relations_path(&world),
                Some(token),
                json!({"source_id": source, "target_id": target, "kind": "knows"}),
            )
            .await
            .assert_problem(422, "validation-failed");
        let fields = error_fields(&problem);
        assert_eq!(fields, [field], "{problem}");
    }
    // Both ends in the other world: still not this world's.
    let aslan2 = app.element_id(token, &other, "character", "Tumnus").await;
    app.post(
        &relations_path(&world),
        Some(token),
        json!({"source_id": foreign, "target_id": aslan2, "kind": "knows"}),
    )
    .await
    .assert_problem(422, "validation-failed");

    // Other invalid bodies.
    for body in [
        json!({"source_id": local, "target_id": local, "kind": "Knows"}),
        json!({"source_id": local, "target_id": local, "kind": "a".repeat(65)}),
        json!({"source_id": local, "target_id": local, "kind": "knows", "attributes": "x"}),
        json!({"source_id": local, "target_id": local, "kind": "knows", "version": 2}),
        json!({"source_id": local, "target_id": local, "kind": "knows", "world_id": other}),
        json!({"source_id": "nope", "target_id": local, "kind": "knows"}),
        json!({"target_id": local, "kind": "knows"}),
    ] {
        app.post(&relations_path(&world), Some(token), body)
            .await
            .assert_problem(422, "validation-failed");
    }
    let listed = app
        .get(&element_relations_path(&world, &local), Some(token))
        .await;
    assert_eq!(listed.json()["items"], json!([]));
}

async fn element_relations_by_direction_and_kind(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let aragorn = app.element_id(token, &world, "character", "Aragorn").await;
    let arwen = app.element_id(token, &world, "character", "Arwen").await;
    let gondor = app.element_id(token, &world, "realm", "Gondor").await;
    let boromir = app.element_id(token, &world, "character", "Boromir").await;

    let loves = app.relate(token, &world, &aragorn, &arwen, "loves").await;
    let rules = app.relate(token, &world, &aragorn, &gondor, "rules").await;
    let serves = app
        .relate(token, &world, &boromir, &aragorn, "serves")
        .await;
    let loved = app.relate(token, &world, &arwen, &aragorn, "loves").await;
    // Not Aragorn's.
    app.relate(token, &world, &boromir, &gondor, "serves").await;

    let path = element_relations_path(&world, &aragorn);
    let list = |params: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let path = path.clone();
        async move {
            app.get_json(&format!("{path}{}", query(&params)), token)
                .await
        }
    };

    let both = list(vec![]).await;
    assert!(both["next_cursor"].is_null());
    let items = both["items"].as_array().expect("items").clone();
    assert_eq!(
        ids(&items),
        ids(&[loves.clone(), rules.clone(), serves.clone(), loved.clone()])
    );
    // Each item is the relation with its other end embedded.
    let other_of = |item: &Value| item["other"].clone();
    assert_eq!(
        other_of(&items[0]),
        json!({"id": arwen, "kind": "character", "name": "Arwen"})
    );
    assert_eq!(
        other_of(&items[1]),
        json!({"id": gondor, "kind": "realm", "name": "Gondor"})
    );
    assert_eq!(
        other_of(&items[2]),
        json!({"id": boromir, "kind": "character", "name": "Boromir"})
    );
    assert_eq!(
        other_of(&items[3]),
        json!({"id": arwen, "kind": "character", "name": "Arwen"})
    );
    for (item, relation) in items.iter().zip([&loves, &rules, &serves, &loved]) {
        for field in [
            "id",
            "world_id",
            "source_id",
            "target_id",
            "kind",
            "attributes",
            "version",
            "created_at",
            "updated_at",
        ] {
            assert_eq!(item[field], relation[field], "{field} of {item}");
        }
    }
    assert_eq!(list(vec![("direction", "both")]).await, both);

    let out = list(vec![("direction", "out")]).await;
    assert_eq!(
        ids(out["items"].as_array().expect("items")),
        ids(&[loves.clone(), rules.clone()])
    );
    let incoming = list(vec![("direction", "in")]).await;
    assert_eq!(
        ids(incoming["items"].as_array().expect("items")),
        ids(&[serves.clone(), loved.clone()])
    );
    assert_eq!(incoming["items"][0]["other"]["name"], "Boromir");

    let by_kind = list(vec![("kind", "loves")]).await;
    assert_eq!(
        ids(by_kind["items"].as_array().expect("items")),
        ids(&[loves.clone(), loved.clone()])
    );
    let out_loves = list(vec![("kind", "loves"), ("direction", "out")]).await;
    assert_eq!(
        ids(out_loves["items"].as_array().expect("items")),
        [id_of(&loves)]
    );
    let in_rules = list(vec![("kind", "rules"), ("direction", "in")]).await;
    assert_eq!(in_rules["items"], json!([]));
    assert_eq!(list(vec![("kind", "hates")]).await["items"], json!([]));

    // From the other side, Gondor's one relation points back at Aragorn and Boromir.
    let gondor_in = app
        .get_json(
            &format!("{}?direction=in", element_relations_path(&world, &gondor)),
            token,
        )
        .await;
    let names: Vec<&str> = gondor_in["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["other"]["name"].as_str())
        .collect();
    assert_eq!(names, ["Aragorn", "Boromir"]);
    let gondor_out = app
        .get_json(
            &format!("{}?direction=out", element_relations_path(&world, &gondor)),
            token,
        )
        .await;
    assert_eq!(gondor_out["items"], json!([]));

    // Paged.
    for limit in [1, 2, 3, 4] {
        let walked = app.walk(token, &path, &[], limit).await;
        assert_eq!(ids(&walked), ids(&items), "limit={limit}");
        let walked = app.walk(token, &path, &[("direction", "in")], limit).await;
        assert_eq!(
            ids(&walked),
            ids(&[serves.clone(), loved.clone()]),
            "in, limit={limit}"
        );
    }

    // Invalid parameters.
    let bad = |q: &'static str| {
        let app = &app;
        let path = path.clone();
        async move { app.get(&format!("{path}?{q}"), Some(token)).await }
    };
    bad("direction=sideways")
        .await
        .assert_problem(400, "bad-request");
    bad("kind=Loves")
        .await
        .assert_problem(422, "validation-failed");
    bad("limit=0")
        .await
        .assert_problem(422, "validation-failed");
    bad("limit=201")
        .await
        .assert_problem(422, "validation-failed");
    bad("limit=abc").await.assert_problem(400, "bad-request");
    bad("cursor=garbage")
        .await
        .assert_problem(400, "bad-request");
    // A cursor from the element list does not fit here.
    let element_cursor = app
        .get_json(
            &page_url(&crate::helpers::elements_path(&world), &[], 1, None),
            token,
        )
        .await["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    app.get(&page_url(&path, &[], 1, Some(&element_cursor)), Some(token))
        .await
        .assert_problem(400, "bad-request");

    // An element of another world, or none, has no relations to list here.
    let other = app.new_world(token, "Narnia").await;
    let foreign = app.element_id(token, &other, "character", "Aslan").await;
    app.get(&element_relations_path(&world, &foreign), Some(token))
        .await
        .assert_problem(404, "not-found");
    app.get(
        &element_relations_path(&world, &uuid::Uuid::now_v7().to_string()),
        Some(token),
    )
    .await
    .assert_problem(404, "not-found");
}

async fn relation_paging_is_stable_under_inserts(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Crowd").await;
    let token = ada.access_token.as_str();
    let hub = app.element_id(token, &world, "place", "hub").await;
    let mut initial = Vec::new();
    for i in 0..7 {
        let spoke = app
            .element_id(token, &world, "place", &format!("spoke{i}"))
            .await;
        let relation = if i % 2 == 0 {
            app.relate(token, &world, &hub, &spoke, "road").await
        } else {
            app.relate(token, &world, &spoke, &hub, "road").await
        };
        initial.push(id_of(&relation));
    }

    let path = element_relations_path(&world, &hub);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        // Someone adds relations between the pages.
        let spoke = app
            .element_id(token, &world, "place", &format!("late{round}"))
            .await;
        app.relate(token, &world, &spoke, &hub, "road").await;
        round += 1;
        let body = app
            .get_json(&page_url(&path, &[], 2, cursor.as_deref()), token)
            .await;
        seen.extend(ids(body["items"].as_array().expect("items")));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(round < 100, "the walk never ends");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no relation repeated");
    assert_eq!(
        seen[..initial.len()],
        initial[..],
        "the initial relations come first, in order, once each"
    );
}

on_both_backends!(
    create_get_patch_delete,
    duplicate_relation_is_conflict,
    concurrent_relation_writers_exactly_one_wins,
    relating_to_an_element_being_deleted,
    ends_must_be_elements_of_the_world,
    element_relations_by_direction_and_kind,
    relation_paging_is_stable_under_inserts,
);
