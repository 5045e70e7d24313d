//! The OpenAPI 3.1 document, generated from the handlers' annotations as `crate::endpoints`
//! registers them; this module adds what no handler says (title, tags, security schemes).
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or lb_pat_…")
                    .description(Some(
                        "Either a login's access token (a JWT from `/auth/register`, \
                         `/auth/login` or `/auth/refresh`, living at most 15 minutes) or a \
                         personal access token (`lb_pat_…`, from `POST /users/me/tokens`). A \
                         personal access token acts as its user, narrowed: `read` allows only \
                         GET and HEAD; `write` also creates worlds and changes their contents, \
                         name, description and settings; with `world_ids`, every other world \
                         is 404. Whatever its scope, it cannot manage the account, tokens, \
                         sessions, members or invitations, delete a world or change its \
                         visibility: those answer 403 `insufficient-scope`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `Lorebase-Consistency` on every successful write answer.
struct ConsistencyTokens;

impl Modify for ConsistencyTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let header = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "On PostgreSQL: the primary's WAL position after this write committed (such \
                 as `0/16B3740`). Send it back as `Lorebase-Consistency` on later reads to \
                 read this write even where reads are served by a streaming replica. Absent \
                 on SQLite, which has no replicas.",
            ))
            .build();
        for item in openapi.paths.paths.values_mut() {
            let writes = [
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in writes.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                        response
                            .headers
                            .insert("Lorebase-Consistency".to_owned(), header.clone());
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Lorebase", description = "A structured store for worldbuilders: worlds, their elements and the relations between them."),
    components(responses(
        crate::responses::BadRequest,
        crate::responses::Unauthorized,
        crate::responses::Forbidden,
        crate::responses::NotFound,
        crate::responses::NoPath,
        crate::responses::Conflict,
        crate::responses::PreconditionFailed,
        crate::responses::PayloadTooLarge,
        crate::responses::UnsupportedMediaType,
        crate::responses::ValidationFailed,
        crate::responses::ChangesExpired,
        crate::responses::RateLimited,
        crate::responses::InternalError,
        crate::responses::Unavailable,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "users", description = "The caller's own account"),
        (name = "worlds", description = "Worlds"),
        (name = "members", description = "Who may read or edit a world"),
        (name = "invitations", description = "How people join a world: by accepting an owner's invitation"),
        (name = "tokens", description = "Personal access tokens for tools, and the caller's logins"),
        (name = "elements", description = "Characters, places, factions, items, lore"),
        (name = "relations", description = "Typed links between two elements"),
        (name = "kinds", description = "JSON Schemas for element kinds, allowed ends for relation kinds"),
        (name = "history", description = "The change feed, revisions, revert and the trash"),
        (name = "webhooks", description = "Signed deliveries of a world's changes to a URL"),
        (name = "bulk", description = "Batches of writes applied all or nothing, and a world's export and import"),
        (name = "search", description = "Full-text search, the neighbourhood of an element, paths between elements, and mentions"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
struct Root;

/// The whole document: what the handlers' annotations say, collected from the one place
/// that registers them (`crate::endpoints`), under the title, tags and security schemes here.
pub fn document() -> utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let (_, document) = actix_web::App::new()
                .into_utoipa_app()
                .openapi(Root::openapi())
                .configure(crate::endpoints)
                .split_for_parts();
            // After the paths are in: it walks them.
            let mut document = document;
            ConsistencyTokens.modify(&mut document);
            document
        })
        .clone()
}

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api-docs/openapi.json";

/// The document as JSON, as served. Two corrections to what utoipa 5 writes:
/// - a response link's fields are camelCase in OpenAPI (`operationId`, `operationRef`,
///   `requestBody`), which utoipa's `Link` writes in snake case;
/// - a page's items refer to their component schema (`Page_ElementDto` items are
///   `$ref: ElementDto`) instead of the copy utoipa inlines for a generic argument
///   (juhaku/utoipa#1586).
pub fn json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let mut document = serde_json::to_value(document()).unwrap_or_default();
        correct_links(&mut document);
        refer_page_items(&mut document);
        where_as_json(&mut document);
        document.to_string()
    })
}

/// The element list's `where` is a JSON object sent as text: OpenAPI says so with
/// `content: application/json` on the parameter (a `schema` of `type: string` would call
/// any text valid), which utoipa's `IntoParams` cannot write.
fn where_as_json(document: &mut serde_json::Value) {
    let parameters =
        document["paths"]["/api/v1/worlds/{world_id}/elements"]["get"]["parameters"].as_array_mut();
    for parameter in parameters.into_iter().flatten() {
        if parameter["name"] != "where" || parameter["in"] != "query" {
            continue;
        }
        if let Some(parameter) = parameter.as_object_mut() {
            parameter.remove("schema");
            parameter.insert(
                "content".into(),
                serde_json::json!({"application/json": {"schema": {"type": "object"}}}),
            );
        }
    }
}

fn correct_links(document: &mut serde_json::Value) {
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let Some(responses) = operation["responses"].as_object_mut() else {
            continue;
        };
        for response in responses.values_mut() {
            let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else {
                continue;
            };
            for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_owned(), value);
                    }
                }
            }
        }
    }
}

fn refer_page_items(document: &mut serde_json::Value) {
    let Some(schemas) = document["components"]["schemas"].as_object_mut() else {
        return;
    };
    let named: std::collections::HashSet<String> = schemas.keys().cloned().collect();
    for (name, schema) in schemas.iter_mut() {
        let Some(item) = name.strip_prefix("Page_") else {
            continue;
        };
        if named.contains(item) {
            schema["properties"]["items"]["items"] =
                serde_json::json!({ "$ref": format!("#/components/schemas/{item}") });
        }
    }
}

/// The methods the document lists for the path template matching `path`, as an `Allow`
/// header value; `None` when no template matches.
pub fn allowed_methods(path: &str) -> Option<String> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .iter()
                .filter(|(_, present)| *present)
                .map(|(method, _)| *method)
                .collect::<Vec<_>>()
                .join(", ");
                (segments, methods)
            })
            .collect()
    });
    let segments: Vec<&str> = path.split('/').collect();
    routes
        .iter()
        .find(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .map(|(_, methods)| methods.clone())
}
