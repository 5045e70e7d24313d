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
    app.get("/api/v1/no-such-thing", None).await.assert_problem(404, "not-found");
}

async fn openapi_document_and_docs_page_are_served(app: TestApp) {
    let doc = app.get("/api-docs/openapi.json", None).await;
    doc.assert_status(200);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    for path in ["/healthz", "/readyz", "/api/v1/auth/register", "/api/v1/users/me"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the document");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let page = app.get("/docs/", None).await;
    page.assert_status(200);
    assert!(page.text.to_lowercase().contains("swagger"));
}

async fn wrong_method_is_405_with_allow(app: TestApp) {
    let reply = app.send(reqwest::Method::PUT, "/healthz", None, None).await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("GET"));
    let world = format!("/api/v1/worlds/{}", uuid::Uuid::now_v7());
    let reply = app.send(reqwest::Method::POST, &world, None, Some(&serde_json::json!({}))).await;
    reply.assert_problem(405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("GET, PATCH, DELETE"));
}

on_both_backends!(probes_answer, wrong_method_is_405_with_allow, unknown_route_is_problem_json, openapi_document_and_docs_page_are_served);
