//! Elements: input limits.
use super::*;

/// An object nested `levels` deep: `{"a": {"a": ... 1}}`.
fn nested(levels: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..levels {
        value = json!({ "a": value });
    }
    value
}

async fn input_limits(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Limits").await;
    let token = ada.access_token.as_str();
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
    let w = app.in_world(token, &world);
    let existing = w.create(json!({"kind": "thing", "name": "target"})).await;
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
    assert_eq!(app.get_json(&element, token).await["version"], 1);

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
    for malformed in [
        r#"{"kind": "thing","#,
        r#"{"kind": "thing", "name": "x"} trailing"#,
    ] {
        let raw = malformed.as_bytes().to_vec();
        app.raw(Method::POST, &path, token, Some("application/json"), raw)
            .await
            .assert_problem(400, "bad-request");
    }
    let body = br#"{"kind": "thing", "name": "plain"}"#.to_vec();
    let rename = br#"{"name": "y"}"#.to_vec();
    for (method, target, content_type, raw) in [
        (Method::POST, &path, Some("text/plain"), &body),
        (Method::POST, &path, None, &body),
        (Method::PATCH, &element, Some("text/plain"), &rename),
    ] {
        app.raw(method, target, token, content_type, raw.clone())
            .await
            .assert_problem(415, "unsupported-media-type");
    }
    app.raw(
        Method::POST,
        &path,
        token,
        Some("application/json; charset=utf-8"),
        body,
    )
    .await
    .assert_status(201);
}

on_both_backends!(input_limits,);
