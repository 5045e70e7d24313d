use crate::helpers::TestApp;
use crate::on_both_backends;

async fn probes_answer(app: TestApp) {
    let live = app.get("/healthz", None).await;
    live.assert_status(200);
    assert_eq!(live.json(), serde_json::json!({"status": "ok"}));
    let ready = app.get("/readyz", None).await;
    ready.assert_status(200);
    assert_eq!(ready.json()["status"], "ok");
}

async fn unknown_route_is_problem_json(app: TestApp) {
    app.get("/api/v1/no-such-thing", None)
        .await
        .assert_problem(404, "not-found");
}

async fn openapi_document_and_docs_page_are_served(app: TestApp) {
    let doc = app.get("/api-docs/openapi.json", None).await;
    doc.assert_status(200);
    let doc = doc.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    // Every row of the contract, and nothing else.
    let contract = [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/users/me"),
        ("patch", "/api/v1/users/me"),
        ("delete", "/api/v1/users/me"),
        ("put", "/api/v1/users/me/password"),
        ("post", "/api/v1/users/me/tokens"),
        ("get", "/api/v1/users/me/tokens"),
        ("delete", "/api/v1/users/me/tokens/{token_id}"),
        ("get", "/api/v1/users/me/sessions"),
        ("delete", "/api/v1/users/me/sessions/{session_id}"),
        ("get", "/api/v1/users/me/invitations"),
        (
            "post",
            "/api/v1/users/me/invitations/{invitation_id}/accept",
        ),
        (
            "post",
            "/api/v1/users/me/invitations/{invitation_id}/decline",
        ),
        ("get", "/api/v1/worlds"),
        ("post", "/api/v1/worlds"),
        ("get", "/api/v1/worlds/{world_id}"),
        ("patch", "/api/v1/worlds/{world_id}"),
        ("delete", "/api/v1/worlds/{world_id}"),
        ("get", "/api/v1/worlds/{world_id}/members"),
        ("put", "/api/v1/worlds/{world_id}/members/{user_id}"),
        ("delete", "/api/v1/worlds/{world_id}/members/{user_id}"),
        ("post", "/api/v1/worlds/{world_id}/invitations"),
        ("get", "/api/v1/worlds/{world_id}/invitations"),
        (
            "delete",
            "/api/v1/worlds/{world_id}/invitations/{invitation_id}",
        ),
        ("get", "/api/v1/worlds/{world_id}/elements"),
        ("post", "/api/v1/worlds/{world_id}/elements"),
        ("get", "/api/v1/worlds/{world_id}/elements/{element_id}"),
        ("patch", "/api/v1/worlds/{world_id}/elements/{element_id}"),
        ("delete", "/api/v1/worlds/{world_id}/elements/{element_id}"),
        (
            "get",
            "/api/v1/worlds/{world_id}/elements/{element_id}/relations",
        ),
        ("post", "/api/v1/worlds/{world_id}/relations"),
        ("get", "/api/v1/worlds/{world_id}/relations/{relation_id}"),
        ("patch", "/api/v1/worlds/{world_id}/relations/{relation_id}"),
        (
            "delete",
            "/api/v1/worlds/{world_id}/relations/{relation_id}",
        ),
        (
            "get",
            "/api/v1/worlds/{world_id}/relations/{relation_id}/history",
        ),
        ("get", "/api/v1/worlds/{world_id}/changes"),
        (
            "get",
            "/api/v1/worlds/{world_id}/elements/{element_id}/history",
        ),
        (
            "post",
            "/api/v1/worlds/{world_id}/elements/{element_id}/revert",
        ),
        ("get", "/api/v1/worlds/{world_id}/trash"),
        (
            "post",
            "/api/v1/worlds/{world_id}/trash/{element_id}/restore",
        ),
        ("get", "/api/v1/worlds/{world_id}/kinds"),
        ("put", "/api/v1/worlds/{world_id}/kinds/{kind}"),
        ("get", "/api/v1/worlds/{world_id}/kinds/{kind}"),
        ("delete", "/api/v1/worlds/{world_id}/kinds/{kind}"),
        ("get", "/api/v1/worlds/{world_id}/kinds/{kind}/violations"),
        ("get", "/api/v1/worlds/{world_id}/relation-kinds"),
        ("put", "/api/v1/worlds/{world_id}/relation-kinds/{kind}"),
        ("delete", "/api/v1/worlds/{world_id}/relation-kinds/{kind}"),
        ("post", "/api/v1/worlds/{world_id}/webhooks"),
        ("get", "/api/v1/worlds/{world_id}/webhooks"),
        ("patch", "/api/v1/worlds/{world_id}/webhooks/{webhook_id}"),
        ("delete", "/api/v1/worlds/{world_id}/webhooks/{webhook_id}"),
        (
            "get",
            "/api/v1/worlds/{world_id}/webhooks/{webhook_id}/deliveries",
        ),
        ("post", "/api/v1/worlds/{world_id}/batch"),
        ("get", "/api/v1/worlds/{world_id}/export"),
        ("post", "/api/v1/worlds/import"),
        ("get", "/api/v1/worlds/{world_id}/search"),
        (
            "get",
            "/api/v1/worlds/{world_id}/elements/{element_id}/graph",
        ),
        ("get", "/api/v1/worlds/{world_id}/path"),
        (
            "get",
            "/api/v1/worlds/{world_id}/elements/{element_id}/mentions",
        ),
    ];
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.push((method.clone(), path.clone()));
            }
        }
    }
    let mut expected: Vec<(String, String)> = contract
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    documented.sort();
    assert_eq!(documented, expected);
    // A page's items refer to their schema; links name operations that exist, in
    // OpenAPI's own spelling.
    assert_eq!(
        doc["components"]["schemas"]["Page_ElementDto"]["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/ElementDto"
    );
    let link = &doc["paths"]["/api/v1/worlds/{world_id}/relations"]["post"]["responses"]["201"]["links"]
        ["GetRelation"];
    assert_eq!(link["operationId"], "get_relation");
    assert_eq!(
        doc["paths"]["/api/v1/worlds/{world_id}/relations/{relation_id}"]["get"]["operationId"],
        "get_relation"
    );
    assert_eq!(
        doc["paths"]["/api/v1/worlds/{world_id}/elements"]["get"]["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "sort"))
            .map(|p| p["schema"]["enum"].as_array().map_or(0, Vec::len)),
        Some(6)
    );
    // Every path parameter is declared (they come from the handlers' `web::Path`), and
    // every value the server parses is described: `where` as a JSON object, headers that
    // are never null, cursors by their alphabet.
    let element = &doc["paths"]["/api/v1/worlds/{world_id}/elements/{element_id}"]["get"];
    let param = |op: &serde_json::Value, name: &str| {
        op["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("parameter {name} is not documented"))
    };
    for name in ["world_id", "element_id"] {
        let p = param(element, name);
        assert_eq!(
            (p["in"].as_str(), p["schema"]["format"].as_str()),
            (Some("path"), Some("uuid"))
        );
    }
    let token = param(element, "Lorebase-Consistency");
    assert_eq!(token["schema"]["type"], "string");
    assert!(token["schema"]["pattern"].is_string());
    let list = &doc["paths"]["/api/v1/worlds/{world_id}/elements"]["get"];
    assert_eq!(
        param(list, "where")["content"]["application/json"]["schema"]["type"],
        "object"
    );
    assert_eq!(
        param(list, "cursor")["schema"]["pattern"],
        "^[A-Za-z0-9_-]*$"
    );
    let update = &doc["paths"]["/api/v1/worlds/{world_id}/elements/{element_id}"]["patch"];
    assert_eq!(param(update, "If-Match")["schema"]["type"], "string");
    // Error answers are documented as problem+json.
    let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"];
    assert_eq!(login["$ref"], "#/components/responses/Unauthorized");
    assert!(
        doc["components"]["responses"]["Unauthorized"]["content"]["application/problem+json"]
            .is_object()
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let page = app.get("/docs/", None).await;
    page.assert_status(200);
    assert!(page.text.to_lowercase().contains("swagger"));
}

async fn head_is_answered_like_get_without_a_body(app: TestApp) {
    let ada = app.register("ada").await;
    for (path, token) in [
        ("/healthz", None),
        ("/api/v1/users/me", Some(ada.access_token.as_str())),
    ] {
        let reply = app.send(reqwest::Method::HEAD, path, token, None).await;
        reply.assert_status(200);
        assert!(reply.text.is_empty());
    }
    let reply = app
        .send(reqwest::Method::HEAD, "/api/v1/users/me", None, None)
        .await;
    assert_eq!(reply.status, 401);
    assert!(reply.text.is_empty());
}

async fn wrong_method_is_405_with_allow(app: TestApp) {
    let reply = app.send(reqwest::Method::PUT, "/healthz", None, None).await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("GET"));
    let world = format!("/api/v1/worlds/{}", uuid::Uuid::now_v7());
    let reply = app
        .send(
            reqwest::Method::POST,
            &world,
            None,
            Some(&serde_json::json!({})),
        )
        .await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("GET, PATCH, DELETE"));
}

/// A number parameter given empty is 400 like any other value that is not a number, not
/// "left out" (schemathesis found `?version=` answered with the current element).
async fn empty_number_parameters_are_400(app: TestApp) {
    let ada = app.register("ada").await;
    let token = Some(ada.access_token.as_str());
    let world = app.new_world(&ada.access_token, "Arda").await;
    let element = app
        .element_id(&ada.access_token, &world, "character", "Frodo")
        .await;
    let base = format!("/api/v1/worlds/{world}");
    for query in [
        format!("{base}/elements/{element}?version="),
        format!("{base}/elements?limit="),
        format!("{base}/changes?after="),
        format!("{base}/changes?limit="),
        format!("{base}/search?q=frodo&limit="),
        format!("{base}/elements/{element}/graph?depth="),
        format!("{base}/elements/{element}/graph?max_nodes="),
        format!("{base}/path?from={element}&to={element}&max_depth="),
    ] {
        let reply = app.get(&query, token).await;
        assert_eq!(reply.status, 400, "{query}");
    }
    // Left out, each has its default.
    app.get(&format!("{base}/elements/{element}"), token)
        .await
        .assert_status(200);
}

on_both_backends!(
    empty_number_parameters_are_400,
    head_is_answered_like_get_without_a_body,
    probes_answer,
    wrong_method_is_405_with_allow,
    unknown_route_is_problem_json,
    openapi_document_and_docs_page_are_served
);

/// With its database gone, the server still lives but is not ready, and says so.
#[tokio::test]
async fn lost_database_is_503_with_retry_after() {
    use sea_orm::{ConnectionTrait, Database};
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    let user = app.register("ada").await;
    let name = app
        .database_url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_owned();
    let admin = Database::connect(crate::helpers::server_url())
        .await
        .expect("connect");
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop the app's database");

    app.get("/healthz", None).await.assert_status(200);
    for reply in [
        app.get("/readyz", None).await,
        app.get("/api/v1/users/me", Some(&user.access_token)).await,
    ] {
        let problem = reply.assert_problem(503, "service-unavailable");
        assert!(reply.header("retry-after").is_some());
        // No internal detail (database name, driver message, SQL) reaches the client.
        assert_eq!(
            problem["detail"],
            "the database is unavailable; retry shortly"
        );
        assert!(!reply.text.contains(&name), "{}", reply.text);
    }
}
