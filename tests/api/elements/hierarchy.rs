//! Elements: parents and cycles.
use super::*;

async fn parent_must_be_in_the_same_world(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let other = app.new_world(token, "Narnia").await;
    let foreign = app.element_id(token, &other, "place", "Cair Paravel").await;
    let local = app.element_id(token, &world, "place", "Shire").await;

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
    let w = app.in_world(token, &world);
    let hobbiton = w.child("place", "Hobbiton", &local).await;
    assert_eq!(hobbiton["parent_id"], local.as_str());
}

async fn cycles_are_refused(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let a = app.element_id(token, &world, "place", "a").await;
    let w = app.in_world(token, &world);
    let b = id_of(&w.child("place", "b", &a).await);
    let c = id_of(&w.child("place", "c", &b).await);

    // A -> B -> C; making C (or B) the parent of A would close the loop, and an element
    // cannot be its own parent.
    let set_parent = async |child: &str, parent: Value| {
        let body = json!({ "parent_id": parent });
        app.patch(&element_path(&world, child), Some(token), body)
            .await
    };
    for (child, parent) in [(&a, &c), (&a, &b), (&a, &a), (&c, &c)] {
        let problem = set_parent(child, json!(parent))
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "parent_id");
    }
    let a_now = app.get_json(&element_path(&world, &a), token).await;
    assert_eq!(a_now["parent_id"], Value::Null);
    assert_eq!(a_now["version"], 1);

    // Detach B; now C -> B is a separate tree and A may go under C.
    let detached = set_parent(&b, Value::Null).await;
    detached.assert_status(200);
    assert_eq!(detached.json()["parent_id"], Value::Null);
    let moved = set_parent(&a, json!(c)).await;
    moved.assert_status(200);
    assert_eq!(moved.json()["parent_id"], c.as_str());
    // ... and then B under A would be a cycle B -> A -> C -> B.
    set_parent(&b, json!(a))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(
        names(&app, token, &world, &[("parent_id", &c)]).await,
        ["a"]
    );
}

on_both_backends!(parent_must_be_in_the_same_world, cycles_are_refused,);
