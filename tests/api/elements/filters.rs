//! Elements: filters.
use super::*;

async fn every_filter_alone_and_combined(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Middle-earth").await;
    let token = ada.access_token.as_str();
    let other_world = app.new_world(token, "Narnia").await;
    app.create_element(token, &other_world, json!({"kind": "character", "name": "Aslan", "tags": ["hero"], "attributes": {"race": "elf"}})).await;

    let create = |body: Value| {
        let app = &app;
        let world = world.clone();
        async move { app.create_element(token, &world, body).await }
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
    for (key, value, status, slug) in [
        ("kind", "Character".to_owned(), 422, "validation-failed"),
        ("tag", "x".repeat(65), 422, "validation-failed"),
        ("where", "[1]".into(), 422, "validation-failed"),
        ("where", "1".into(), 422, "validation-failed"),
        ("where", "{not json".into(), 400, "bad-request"),
        ("parent_id", "not-a-uuid".into(), 400, "bad-request"),
        ("sort", "kind".into(), 422, "validation-failed"),
    ] {
        bad(vec![(key, value)]).await.assert_problem(status, slug);
    }
    let problem = bad(vec![("where", r#"{"a'b":1}"#.into())]).await;
    problem.assert_problem(422, "validation-failed");
    assert!(
        !problem.text.to_lowercase().contains("select"),
        "no SQL in errors: {}",
        problem.text
    );
}

on_both_backends!(every_filter_alone_and_combined,);
