//! Elements: sorting and keyset pagination.
use super::*;

/// Elements with repeated names (so ties break by id) and a few updates (so updated_at
/// differs from created_at order).
async fn sortable_world(app: &TestApp, token: &str) -> (String, Vec<Value>) {
    let world = app.new_world(token, "Sorting").await;
    let w = app.in_world(token, &world);
    let mut elements = Vec::new();
    for name in [
        "delta", "alpha", "charlie", "bravo", "echo", "bravo", "alpha", "foxtrot", "bravo",
    ] {
        elements.push(w.create(json!({"kind": "thing", "name": name})).await);
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
    let listed = app.walk(token, &elements_path(&world), &[], 200).await;
    let creation: Vec<String> = elements.iter().map(id_of).collect();
    assert_eq!(ids(&listed), creation);

    for sort in SORTS {
        let listed = app
            .walk(token, &elements_path(&world), &[("sort", sort)], 200)
            .await;
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
    let listed = app
        .walk(
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
            let walked = app
                .walk(token, &elements_path(&world), &[("sort", sort)], limit)
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
        let walked = app
            .walk(
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
        let w = app.in_world(token, &world);
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
            w.create(json!({"kind": "thing", "name": name})).await;
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
    for (key, value, status, slug) in [
        ("limit", "0", 422, "validation-failed"),
        ("limit", "201", 422, "validation-failed"),
        ("limit", "-1", 400, "bad-request"),
        ("limit", "abc", 400, "bad-request"),
        ("cursor", "garbage!", 400, "bad-request"),
        ("cursor", "bm90IGpzb24", 400, "bad-request"),
    ] {
        get(vec![(key, value.into())])
            .await
            .assert_problem(status, slug);
    }
    get(vec![("limit", "200".into())]).await.assert_status(200);
    get(vec![("limit", "1".into())]).await.assert_status(200);

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

on_both_backends!(
    sort_orders,
    keyset_paging_returns_each_element_once,
    keyset_paging_is_stable_under_concurrent_inserts,
    paging_parameters_are_checked,
);
