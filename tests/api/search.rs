//! Search, graph and mentions: ranking, stemming, prefix, phrases, exclusions, accents,
//! escaped highlights and an index that follows every write; neighbourhoods by depth,
//! direction, kind and `max_nodes`; shortest paths; mentions kept from summaries; and
//! private worlds hidden from strangers.
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::world_path;
use crate::helpers::{TestApp, element_row};
use crate::helpers::{element_path, id_of, ids, query};
use crate::on_both_backends;

fn search_url(world: &str, params: &[(&str, &str)]) -> String {
    format!("/api/v1/worlds/{world}/search{}", query(params))
}

async fn search(app: &TestApp, token: Option<&str>, world: &str, q: &str) -> Vec<Value> {
    let reply = app.get(&search_url(world, &[("q", q)]), token).await;
    reply.assert_status(200);
    reply.json()["items"].as_array().expect("items").clone()
}

fn hit_ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|hit| hit["element"]["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A world with a few elements that do not mention dragons, so that a word in some
/// elements is rare enough to rank on every engine.
async fn world_with_filler(app: &TestApp, token: &str) -> String {
    let world = app.new_world(token, "Arda").await;
    for name in ["Shire", "Bree", "Rivendell", "Moria", "Lorien", "Isengard"] {
        app.element_id(token, &world, "place", name).await;
    }
    world
}

async fn ranking_and_highlights(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = world_with_filler(&app, token).await;
    let w = app.in_world(token, &world);
    let by_attributes = w.element(json!({"kind": "place", "name": "Lonely Mountain", "attributes": {"guardian": "dragon", "height": 3}})).await;
    let by_summary = w
        .element(json!({"kind": "character", "name": "Smaug", "summary": "dragon"}))
        .await;
    let by_tags = w
        .element(json!({"kind": "item", "name": "Hoard", "tags": ["dragon"]}))
        .await;
    let by_name = app.element_id(token, &world, "character", "Dragon").await;

    let items = search(&app, Some(token), &world, "dragon").await;
    assert_eq!(
        hit_ids(&items),
        vec![
            by_name.clone(),
            by_tags.clone(),
            by_summary.clone(),
            by_attributes.clone()
        ],
        "name beats tags beats summary beats attributes: {items:#?}"
    );
    let scores: Vec<f64> = items
        .iter()
        .map(|hit| hit["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] > w[1]), "{scores:?}");
    let highlight_fields = |hit: &Value| -> Vec<String> {
        hit["highlights"]
            .as_object()
            .expect("highlights")
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(highlight_fields(&items[0]), vec!["name"]);
    assert_eq!(items[0]["highlights"]["name"], "<mark>Dragon</mark>");
    assert_eq!(highlight_fields(&items[1]), vec!["tags"]);
    assert_eq!(items[1]["highlights"]["tags"], "<mark>dragon</mark>");
    assert_eq!(highlight_fields(&items[2]), vec!["summary"]);
    assert_eq!(highlight_fields(&items[3]), vec!["attributes"]);
    assert_eq!(items[3]["highlights"]["attributes"], "<mark>dragon</mark>");
    assert_eq!(
        items[0]["element"],
        json!({"id": by_name, "kind": "character", "name": "Dragon", "summary": null, "tags": []})
    );
    assert_eq!(items[1]["element"]["tags"], json!(["dragon"]));

    // Escaped highlights: the text around the marks is HTML-escaped.
    let escaped = w.element(json!({"kind": "lore", "name": "<script>alert(1)</script> Wyrm", "summary": "Fire & <b>wyrm</b> \"quoted\""})).await;
    let items = search(&app, Some(token), &world, "wyrm").await;
    assert_eq!(hit_ids(&items), vec![escaped]);
    for field in ["name", "summary"] {
        let text = items[0]["highlights"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} highlighted: {items:#?}"));
        assert!(text.contains("<mark>wyrm</mark>") || text.contains("<mark>Wyrm</mark>"));
        let unmarked = text.replace("<mark>", "").replace("</mark>", "");
        assert!(
            !unmarked.contains('<') && !unmarked.contains('>') && !unmarked.contains('"'),
            "{text}"
        );
    }
    let name = items[0]["highlights"]["name"].as_str().unwrap_or_default();
    assert!(name.contains("script&gt;alert(1)&lt;/script&gt;"), "{name}");
    let summary = items[0]["highlights"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.contains("&amp;") && summary.contains("&lt;b&gt;") && summary.contains("&quot;"),
        "{summary}"
    );
}

async fn words_stems_prefixes_phrases_and_exclusions(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = world_with_filler(&app, token).await;
    let w = app.in_world(token, &world);
    let red = w.element(json!({"kind": "lore", "name": "Tale one", "summary": "The red dragon sleeps under the hill"})).await;
    let wine = w
        .element(
            json!({"kind": "lore", "name": "Tale two", "summary": "Red wine, and a dragon flying"}),
        )
        .await;
    let find = |q: &'static str| {
        let app = &app;
        let world = world.clone();
        async move {
            let mut found = hit_ids(&search(app, Some(token), &world, q).await);
            found.sort();
            found
        }
    };
    let mut both = vec![red.clone(), wine.clone()];
    both.sort();

    // Stemming, both ways: "dragons" finds "dragon", "sleeping" finds "sleeps".
    assert_eq!(find("dragons").await, both);
    assert_eq!(find("sleeping").await, vec![red.clone()]);
    // The last word is also a prefix; the others are words.
    assert_eq!(find("drag").await, both);
    assert_eq!(find("red dra").await, both);
    assert_eq!(find("drag red").await, Vec::<String>::new());
    assert_eq!(find("slee").await, vec![red.clone()]);
    // Phrases keep their words together and in order.
    assert_eq!(find("red dragon").await, both);
    assert_eq!(find("\"red dragon\"").await, vec![red.clone()]);
    assert_eq!(find("\"dragon red\"").await, Vec::<String>::new());
    // Exclusions and alternatives.
    assert_eq!(find("dragon -wine").await, vec![red.clone()]);
    assert_eq!(find("dragon -\"red wine\"").await, vec![red.clone()]);
    assert_eq!(find("hill or wine").await, both);
    assert_eq!(find("-dragon").await, Vec::<String>::new());
    // Punctuation is no syntax.
    assert_eq!(find("(red) & wine:*").await, vec![wine.clone()]);
}

async fn accents_and_case_fold(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = world_with_filler(&app, token).await;
    let eowyn = app
        .element_id(token, &world, "character", "Éowyn of Rohan")
        .await;
    let cafe = app.element_id(token, &world, "place", "Cafe Gondor").await;
    for q in ["eowyn", "ÉOWYN", "Eowyn", "éow", "EOW"] {
        assert_eq!(
            hit_ids(&search(&app, Some(token), &world, q).await),
            vec![eowyn.clone()],
            "{q}"
        );
    }
    for q in ["café", "CAFÉ", "cafe"] {
        assert_eq!(
            hit_ids(&search(&app, Some(token), &world, q).await),
            vec![cafe.clone()],
            "{q}"
        );
    }
    let items = search(&app, Some(token), &world, "eowyn").await;
    assert_eq!(
        items[0]["highlights"]["name"], "<mark>Éowyn</mark> of Rohan",
        "the original text is shown"
    );
}

async fn kind_limit_and_bounds(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = world_with_filler(&app, token).await;
    let mut characters = Vec::new();
    for i in 0..3 {
        characters.push(
            app.element_id(token, &world, "character", &format!("Ranger {i}"))
                .await,
        );
    }
    let place = app
        .element_id(token, &world, "place", "Ranger station")
        .await;
    let get = |params: Vec<(&'static str, String)>| {
        let app = &app;
        let world = world.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.get(&search_url(&world, &params), Some(token)).await
        }
    };
    let reply = get(vec![("q", "ranger".into()), ("kind", "place".into())]).await;
    reply.assert_status(200);
    assert_eq!(
        hit_ids(reply.json()["items"].as_array().unwrap()),
        vec![place]
    );
    let reply = get(vec![("q", "ranger".into()), ("kind", "character".into())]).await;
    let mut found = hit_ids(reply.json()["items"].as_array().unwrap());
    found.sort();
    characters.sort();
    assert_eq!(found, characters);
    let reply = get(vec![("q", "ranger".into()), ("limit", "2".into())]).await;
    assert_eq!(reply.json()["items"].as_array().unwrap().len(), 2);
    let reply = get(vec![("q", "ranger".into()), ("limit", "50".into())]).await;
    assert_eq!(reply.json()["items"].as_array().unwrap().len(), 4);
    // The default limit is 20.
    for i in 3..25 {
        app.element_id(token, &world, "character", &format!("Ranger {i}"))
            .await;
    }
    let reply = get(vec![("q", "ranger".into())]).await;
    assert_eq!(reply.json()["items"].as_array().unwrap().len(), 20);
    let reply = get(vec![("q", "ranger".into()), ("limit", "50".into())]).await;
    assert_eq!(reply.json()["items"].as_array().unwrap().len(), 26);

    for (params, field) in [
        (
            vec![("q", "ranger".to_owned()), ("limit", "0".into())],
            "limit",
        ),
        (
            vec![("q", "ranger".into()), ("limit", "51".into())],
            "limit",
        ),
        (vec![], "q"),
        (vec![("q", "".into())], "q"),
        (vec![("q", "   ".into())], "q"),
        (vec![("q", "x".repeat(201))], "q"),
        (
            vec![("q", "ranger".into()), ("kind", "Not A Kind".into())],
            "kind",
        ),
    ] {
        let body = get(params).await.assert_problem(422, "validation-failed");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    get(vec![("q", "é".repeat(200))]).await.assert_status(200);
}

async fn index_follows_every_write(app: TestApp) {
    let ada = app.register("ada").await;
    let token = ada.access_token.as_str();
    let world = world_with_filler(&app, token).await;
    let w = app.in_world(token, &world);
    let found = |q: &'static str| {
        let app = &app;
        let world = world.clone();
        async move { hit_ids(&search(app, Some(token), &world, q).await) }
    };
    let id = w
        .element(json!({"kind": "item", "name": "Palantir", "attributes": {"maker": "Feanor"}}))
        .await;
    assert_eq!(found("palantir").await, vec![id.clone()]);
    assert_eq!(found("feanor").await, vec![id.clone()]);

    let path = element_path(&world, &id);
    app.patch(
        &path,
        Some(token),
        json!({"name": "Seeing stone", "attributes": {"maker": null, "keeper": "Denethor"}, "tags": ["orthanc"]}),
    )
    .await
    .assert_status(200);
    assert_eq!(found("palantir").await, Vec::<String>::new());
    assert_eq!(found("feanor").await, Vec::<String>::new());
    assert_eq!(found("seeing stone").await, vec![id.clone()]);
    assert_eq!(found("denethor").await, vec![id.clone()]);
    assert_eq!(found("orthanc").await, vec![id.clone()]);

    app.delete(&path, Some(token)).await.assert_status(204);
    assert_eq!(found("stone").await, Vec::<String>::new());
    app.post(
        &format!("/api/v1/worlds/{world}/trash/{id}/restore"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(found("stone").await, vec![id.clone()]);

    // Revert to version 1: the old words come back.
    app.revert(&path, token, 1).await.assert_status(200);
    assert_eq!(found("palantir").await, vec![id.clone()]);
    assert_eq!(found("stone").await, Vec::<String>::new());

    // The index is written in the transaction of the write: a write rolled back leaves
    // nothing in it.
    use sea_orm::{ActiveModelTrait, TransactionTrait};
    let db = app.db().await;
    let txn = db.begin().await.expect("begin");
    let world_id = Uuid::parse_str(&world).expect("world id");
    element_row(world_id, "item", "Silmaril")
        .insert(&txn)
        .await
        .expect("insert");
    txn.rollback().await.expect("rollback");
    assert_eq!(found("silmaril").await, Vec::<String>::new());

    // A world's deletion takes its index with it.
    app.delete(&world_path(&world), Some(token))
        .await
        .assert_status(204);
}

fn graph_url(world: &str, element: &str, params: &[(&str, &str)]) -> String {
    format!("{}/graph{}", element_path(world, element), query(params))
}

/// `(id, depth)` of each node, sorted.
fn node_depths(graph: &Value) -> Vec<(String, u64)> {
    let mut nodes: Vec<(String, u64)> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (id_of(n), n["depth"].as_u64().expect("depth")))
        .collect();
    nodes.sort();
    nodes
}

fn edge_ids(graph: &Value) -> Vec<String> {
    let mut edges = ids(graph["edges"].as_array().expect("edges"));
    edges.sort();
    edges
}

fn sorted<const N: usize>(items: [(&String, u64); N]) -> Vec<(String, u64)> {
    let mut items: Vec<(String, u64)> = items.iter().map(|(s, d)| ((*s).clone(), *d)).collect();
    items.sort();
    items
}

async fn graph_by_depth_direction_and_kind(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Arda").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let mut e = Vec::new();
    for name in ["a", "b", "c", "d", "e", "f", "g"] {
        e.push(app.element_id(token, &world, "character", name).await);
    }
    let (a, b, c, d, ee, f, g) = (&e[0], &e[1], &e[2], &e[3], &e[4], &e[5], &e[6]);
    // a -knows-> b -knows-> c -knows-> d; a -enemy_of-> e; f -knows-> a; g elsewhere.
    let ab = w.relate(a, b, "knows").await;
    let bc = w.relate(b, c, "knows").await;
    let cd = w.relate(c, d, "knows").await;
    let ae = w.relate(a, ee, "enemy_of").await;
    let fa = w.relate(f, a, "knows").await;
    let get = |params: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let url = graph_url(&world, a, &params);
        async move { app.get_json(&url, token).await }
    };

    let graph = get(vec![]).await;
    assert_eq!(
        node_depths(&graph),
        sorted([(a, 0), (b, 1), (ee, 1), (f, 1)])
    );
    let mut expected = vec![ab.clone(), ae.clone(), fa.clone()];
    expected.sort();
    assert_eq!(edge_ids(&graph), expected);
    assert_eq!(graph["truncated"], false);
    let start = &graph["nodes"][0];
    assert_eq!(
        start,
        &json!({"id": a, "kind": "character", "name": "a", "depth": 0})
    );
    let edge = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["id"] == ab.as_str())
        .expect("a-b");
    assert_eq!(
        edge,
        &json!({"id": ab, "source_id": a, "target_id": b, "kind": "knows"})
    );

    let graph = get(vec![("depth", "2"), ("direction", "out")]).await;
    assert_eq!(
        node_depths(&graph),
        sorted([(a, 0), (b, 1), (ee, 1), (c, 2)])
    );
    let mut expected = vec![ab.clone(), ae.clone(), bc.clone()];
    expected.sort();
    assert_eq!(edge_ids(&graph), expected);

    let graph = get(vec![("depth", "4"), ("direction", "in")]).await;
    assert_eq!(node_depths(&graph), sorted([(a, 0), (f, 1)]));

    let graph = get(vec![("depth", "4"), ("kind", "knows")]).await;
    assert_eq!(
        node_depths(&graph),
        sorted([(a, 0), (b, 1), (f, 1), (c, 2), (d, 3)])
    );
    assert!(!edge_ids(&graph).contains(&ae));
    assert!(edge_ids(&graph).contains(&cd));
    let graph = get(vec![
        ("kind", "knows"),
        ("kind", "enemy_of"),
        ("direction", "out"),
    ])
    .await;
    assert_eq!(node_depths(&graph), sorted([(a, 0), (b, 1), (ee, 1)]));
    let graph = get(vec![("kind", "allied_with")]).await;
    assert_eq!(node_depths(&graph), sorted([(a, 0)]));
    assert!(
        node_depths(&get(vec![("depth", "4")]).await)
            .iter()
            .all(|(id, _)| id != g)
    );

    // A shortcut: each node's depth is its shortest distance.
    w.relate(a, c, "knows").await;
    let graph = get(vec![("depth", "4"), ("direction", "out")]).await;
    assert_eq!(
        node_depths(&graph),
        sorted([(a, 0), (b, 1), (ee, 1), (c, 1), (d, 2)])
    );

    // max_nodes counts the start element; truncated says whether it cut anything.
    let graph = get(vec![("max_nodes", "2")]).await;
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(graph["truncated"], true);
    for edge in graph["edges"].as_array().unwrap() {
        let kept: Vec<String> = node_depths(&graph).into_iter().map(|(id, _)| id).collect();
        assert!(kept.contains(&edge["source_id"].as_str().unwrap().to_owned()));
        assert!(kept.contains(&edge["target_id"].as_str().unwrap().to_owned()));
    }
    // a's neighbours: b, c, e, f: exactly 5 nodes fit.
    let graph = get(vec![("max_nodes", "5")]).await;
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(graph["truncated"], false);
    let graph = get(vec![("max_nodes", "5"), ("depth", "2")]).await;
    assert_eq!(graph["truncated"], true, "d is within depth 2 and was cut");
    let graph = get(vec![("max_nodes", "1")]).await;
    assert_eq!(node_depths(&graph), sorted([(a, 0)]));
    assert_eq!(graph["truncated"], true);

    for (params, field) in [
        (vec![("depth", "0")], "depth"),
        (vec![("depth", "5")], "depth"),
        (vec![("max_nodes", "0")], "max_nodes"),
        (vec![("max_nodes", "1001")], "max_nodes"),
        (vec![("kind", "Bad Kind")], "kind"),
    ] {
        let body = app
            .get(&graph_url(&world, a, &params), Some(token))
            .await
            .assert_problem(422, "validation-failed");
        assert_eq!(body["errors"][0]["field"], field);
    }
    app.get(
        &graph_url(&world, a, &[("direction", "sideways")]),
        Some(token),
    )
    .await
    .assert_problem(400, "bad-request");
    app.get(
        &graph_url(&world, &Uuid::now_v7().to_string(), &[]),
        Some(token),
    )
    .await
    .assert_problem(404, "not-found");
}

fn path_url(world: &str, params: &[(&str, &str)]) -> String {
    format!("/api/v1/worlds/{world}/path{}", query(params))
}

async fn shortest_paths(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Arda").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let mut e = Vec::new();
    for name in ["a", "b", "c", "d", "e", "x", "y", "z"] {
        e.push(app.element_id(token, &world, "character", name).await);
    }
    let (a, b, c, d, ee) = (&e[0], &e[1], &e[2], &e[3], &e[4]);
    let (x, y, z) = (&e[5], &e[6], &e[7]);
    // a -> b -> c <- d, and a longer way round: a <- x <- y <- z -> d.
    let ab = w.relate(a, b, "knows").await;
    let bc = w.relate(b, c, "knows").await;
    let dc = w.relate(d, c, "serves").await;
    w.relate(x, a, "knows").await;
    w.relate(y, x, "knows").await;
    w.relate(z, y, "knows").await;
    w.relate(z, d, "knows").await;
    let get = |params: Vec<(&'static str, String)>| {
        let app = &app;
        let world = world.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.get(&path_url(&world, &params), Some(token)).await
        }
    };

    let reply = get(vec![("from", a.clone()), ("to", d.clone())]).await;
    reply.assert_status(200);
    assert_eq!(
        reply.json(),
        json!({"elements": [a, b, c, d], "relations": [ab, bc, dc]})
    );
    // Either direction, from either end.
    let reply = get(vec![("from", d.clone()), ("to", a.clone())]).await;
    assert_eq!(
        reply.json(),
        json!({"elements": [d, c, b, a], "relations": [dc, bc, ab]})
    );
    // Kinds: without `serves` only the long way round is left (5 relations).
    let reply = get(vec![
        ("from", a.clone()),
        ("to", d.clone()),
        ("kind", "knows".into()),
    ])
    .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["elements"], json!([a, x, y, z, d]));
    assert_eq!(reply.json()["relations"].as_array().unwrap().len(), 4);
    get(vec![
        ("from", a.clone()),
        ("to", d.clone()),
        ("kind", "knows".into()),
        ("max_depth", "3".into()),
    ])
    .await
    .assert_problem(404, "no-path");
    get(vec![
        ("from", a.clone()),
        ("to", d.clone()),
        ("max_depth", "3".into()),
    ])
    .await
    .assert_status(200);
    get(vec![
        ("from", a.clone()),
        ("to", d.clone()),
        ("max_depth", "2".into()),
    ])
    .await
    .assert_problem(404, "no-path");
    get(vec![("from", a.clone()), ("to", ee.clone())])
        .await
        .assert_problem(404, "no-path");
    let reply = get(vec![("from", a.clone()), ("to", a.clone())]).await;
    assert_eq!(reply.json(), json!({"elements": [a], "relations": []}));
    // A shortcut wins.
    let ad = w.relate(a, d, "knows").await;
    let reply = get(vec![("from", a.clone()), ("to", d.clone())]).await;
    assert_eq!(reply.json(), json!({"elements": [a, d], "relations": [ad]}));

    // max_depth defaults to 6: a chain of 7 relations needs it raised.
    let mut chain = vec![a.clone()];
    for i in 0..7 {
        let next = app
            .element_id(token, &world, "lore", &format!("link {i}"))
            .await;
        w.relate(chain.last().expect("link"), &next, "leads_to")
            .await;
        chain.push(next);
    }
    let end = chain.last().expect("end").clone();
    get(vec![("from", a.clone()), ("to", end.clone())])
        .await
        .assert_problem(404, "no-path");
    let reply = get(vec![
        ("from", a.clone()),
        ("to", end.clone()),
        ("max_depth", "7".into()),
    ])
    .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["elements"], json!(chain));
    let reply = get(vec![
        ("from", chain[1].clone()),
        ("to", end),
        ("max_depth", "6".into()),
    ])
    .await;
    assert_eq!(reply.json()["elements"], json!(chain[1..]));

    get(vec![
        ("from", a.clone()),
        ("to", Uuid::now_v7().to_string()),
    ])
    .await
    .assert_problem(404, "not-found");
    for (params, field) in [
        (vec![("to", a.clone())], "from"),
        (vec![("from", a.clone())], "to"),
        (
            vec![
                ("from", a.clone()),
                ("to", d.clone()),
                ("max_depth", "0".into()),
            ],
            "max_depth",
        ),
        (
            vec![
                ("from", a.clone()),
                ("to", d.clone()),
                ("max_depth", "9".into()),
            ],
            "max_depth",
        ),
    ] {
        let body = get(params).await.assert_problem(422, "validation-failed");
        assert_eq!(body["errors"][0]["field"], field);
    }
}

fn mentions_url(world: &str, element: &str) -> String {
    format!("{}/mentions", element_path(world, element))
}

async fn mentions(app: &TestApp, token: &str, world: &str, element: &str) -> Vec<String> {
    ids(&app.walk(token, &mentions_url(world, element), &[], 2).await)
}

async fn mentions_follow_summaries(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Arda").await;
    let token = ada.access_token.as_str();
    let w = app.in_world(token, &world);
    let other_world = app.new_world(token, "Elsewhere").await;
    let a = app.element_id(token, &world, "character", "a").await;
    let b = app.element_id(token, &world, "character", "b").await;
    let stranger = app.element_id(token, &other_world, "character", "s").await;
    let summary = format!(
        "Friend of [[{a}]] and [[{b}|Bee]], not of [[{stranger}]] nor [[{}]]; [[{a}|again]].",
        Uuid::now_v7()
    );
    let c = w
        .create(json!({"kind": "character", "name": "c", "summary": summary}))
        .await;
    assert_eq!(
        c["summary"],
        summary.as_str(),
        "the summary is kept as written"
    );
    let c = id_of(&c);
    assert_eq!(mentions(&app, token, &world, &a).await, vec![c.clone()]);
    assert_eq!(mentions(&app, token, &world, &b).await, vec![c.clone()]);
    assert!(
        mentions(&app, token, &other_world, &stranger)
            .await
            .is_empty()
    );
    let page = app.get_json(&mentions_url(&world, &a), token).await;
    assert_eq!(page["items"][0]["name"], "c");
    assert_eq!(page["items"][0]["summary"], summary.as_str());

    let c_path = element_path(&world, &c);
    app.patch(
        &c_path,
        Some(token),
        json!({"summary": format!("Only [[{b}]]")}),
    )
    .await
    .assert_status(200);
    assert!(mentions(&app, token, &world, &a).await.is_empty());
    assert_eq!(mentions(&app, token, &world, &b).await, vec![c.clone()]);
    app.patch(&c_path, Some(token), json!({"name": "c2"}))
        .await
        .assert_status(200);
    assert_eq!(mentions(&app, token, &world, &b).await, vec![c.clone()]);

    app.delete(&c_path, Some(token)).await.assert_status(204);
    assert!(mentions(&app, token, &world, &b).await.is_empty());
    app.post(
        &format!("/api/v1/worlds/{world}/trash/{c}/restore"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(mentions(&app, token, &world, &b).await, vec![c.clone()]);
    app.revert(&c_path, token, 1).await.assert_status(200);
    assert_eq!(mentions(&app, token, &world, &a).await, vec![c.clone()]);
    app.patch(&c_path, Some(token), json!({"summary": null}))
        .await
        .assert_status(200);
    assert!(mentions(&app, token, &world, &a).await.is_empty());

    // Paginated, by id; a deleted and restored mentioned element keeps its mentions.
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(
            w.element(json!({"kind": "lore", "name": format!("note {i}"), "summary": format!("about [[{a}]]")})).await,
        );
    }
    expected.sort();
    assert_eq!(mentions(&app, token, &world, &a).await, expected);
    let a_path = element_path(&world, &a);
    app.delete(&a_path, Some(token)).await.assert_status(204);
    app.get(&mentions_url(&world, &a), Some(token))
        .await
        .assert_problem(404, "not-found");
    app.post(
        &format!("/api/v1/worlds/{world}/trash/{a}/restore"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(mentions(&app, token, &world, &a).await, expected);
    app.get(
        &format!("{}?limit=0", mentions_url(&world, &a)),
        Some(token),
    )
    .await
    .assert_problem(422, "validation-failed");
}

async fn private_worlds_stay_hidden(app: TestApp) {
    let ada = app.register("ada").await;
    let eve = app.register("eve").await;
    let token = ada.access_token.as_str();
    let world = app.new_world(token, "Secret").await;
    let w = app.in_world(token, &world);
    let a = app
        .element_id(token, &world, "character", "Hidden dragon")
        .await;
    let b = app.element_id(token, &world, "character", "b").await;
    w.relate(&a, &b, "knows").await;
    let urls = [
        search_url(&world, &[("q", "dragon")]),
        search_url(&world, &[("q", "")]),
        graph_url(&world, &a, &[]),
        graph_url(&world, &a, &[("depth", "99")]),
        path_url(&world, &[("from", a.as_str()), ("to", b.as_str())]),
        path_url(&world, &[]),
        mentions_url(&world, &a),
    ];
    for url in &urls {
        app.get(url, Some(&eve.access_token))
            .await
            .assert_problem(404, "not-found");
        app.get(url, None).await.assert_problem(404, "not-found");
    }
    // A public world is read by anyone, also without a token.
    app.patch(
        &world_path(&world),
        Some(token),
        json!({"visibility": "public"}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        hit_ids(&search(&app, None, &world, "dragon").await),
        vec![a.clone()]
    );
    app.get(&graph_url(&world, &a, &[]), None)
        .await
        .assert_status(200);
    app.get(
        &path_url(&world, &[("from", a.as_str()), ("to", b.as_str())]),
        Some(&eve.access_token),
    )
    .await
    .assert_status(200);
    app.get(&mentions_url(&world, &a), None)
        .await
        .assert_status(200);
}

on_both_backends!(
    ranking_and_highlights,
    words_stems_prefixes_phrases_and_exclusions,
    accents_and_case_fold,
    kind_limit_and_bounds,
    index_follows_every_write,
    graph_by_depth_direction_and_kind,
    shortest_paths,
    mentions_follow_summaries,
    private_worlds_stay_hidden,
);
