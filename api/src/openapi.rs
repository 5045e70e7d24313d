//! The OpenAPI 3.1 document, generated from the handlers' annotations.
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

use crate::problem::Problem;
use crate::routes;

macro_rules! problem_responses {
    ($($name:ident => $description:literal $(, headers($($headers:tt)*))?;)+) => {$(
        #[derive(ToResponse)]
        #[response(
            description = $description,
            content_type = "application/problem+json"
            $(, headers($($headers)*))?
        )]
        pub struct $name(#[allow(dead_code)] Problem);
    )+};
}

problem_responses! {
    BadRequest => "Malformed JSON, query string, cursor or header";
    Unauthorized => "Missing, invalid, expired or revoked token, or bad credentials",
        headers(("WWW-Authenticate" = String, description = "Always `Bearer`"));
    Forbidden => "Authenticated, but not allowed: the role does not allow this (`forbidden`), \
        or the credential does not (`insufficient-scope`: a `read` personal access token \
        writing, or any personal access token doing what needs a login)";
    NotFound => "No such resource, or the caller may not see it";
    NoPath => "`not-found`: no such world or element, or the caller may not see it; `no-path`: both elements exist but no path joins them within `max_depth` relations";

    Conflict => "Conflicts with an existing resource, or a request with the same `Idempotency-Key` is still running";
    PreconditionFailed => "If-Match does not match the current version";
    PayloadTooLarge => "Request body larger than 1 MiB";
    UnsupportedMediaType => "Request body is not application/json";
    ValidationFailed => "A field is invalid, unknown, or nested too deeply (`validation-failed`), or an `Idempotency-Key` was sent again with a different request (`idempotency-key-reused`)";
    ChangesExpired => "Changes after `after` are no longer kept (older than `CHANGES_RETENTION_DAYS`): resynchronize from the lists";
    RateLimited => "Too many attempts",
        headers(("Retry-After" = u64, description = "Seconds until a new attempt may succeed"));
    InternalError => "An unexpected error; the cause is logged, never sent";
    Unavailable => "The database is unavailable, or the server could not finish the request in time (a statement ran past its timeout, or password hashing is saturated)",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"));
}

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

/// Everything under `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    paths(
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::users::get_me,
        routes::users::update_me,
        routes::users::change_password,
        routes::users::delete_me,
        routes::tokens::create_token,
        routes::tokens::list_tokens,
        routes::tokens::delete_token,
        routes::tokens::list_sessions,
        routes::tokens::end_session,
        routes::worlds::list_worlds,
        routes::worlds::create_world,
        routes::worlds::get_world,
        routes::worlds::update_world,
        routes::worlds::delete_world,
        routes::worlds::list_members,
        routes::worlds::put_member,
        routes::worlds::remove_member,
        routes::invitations::create_invitation,
        routes::invitations::list_world_invitations,
        routes::invitations::revoke_invitation,
        routes::invitations::list_my_invitations,
        routes::invitations::accept_invitation,
        routes::invitations::decline_invitation,
        routes::elements::list_elements,
        routes::elements::create_element,
        routes::elements::get_element,
        routes::elements::update_element,
        routes::elements::delete_element,
        routes::elements::list_element_relations,
        routes::relations::create_relation,
        routes::relations::get_relation,
        routes::relations::update_relation,
        routes::relations::delete_relation,
        routes::elements::element_history,
        routes::elements::revert_element,
        routes::relations::relation_history,
        routes::changes::list_changes,
        routes::changes::list_trash,
        routes::changes::restore_element,
        routes::kinds::list_kinds,
        routes::kinds::put_kind,
        routes::kinds::get_kind,
        routes::kinds::delete_kind,
        routes::kinds::list_violations,
        routes::kinds::list_relation_kinds,
        routes::kinds::put_relation_kind,
        routes::kinds::delete_relation_kind,
        routes::webhooks::create_webhook,
        routes::webhooks::list_webhooks,
        routes::webhooks::update_webhook,
        routes::webhooks::delete_webhook,
        routes::webhooks::list_deliveries,
        routes::bulk::apply_batch,
        routes::bulk::export_world,
        routes::bulk::import_world,
        routes::search::search_elements,
        routes::search::element_graph,
        routes::search::find_path,
        routes::search::element_mentions,
    ),
    modifiers(&ConsistencyTokens),
    components(responses(
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        NoPath,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        ChangesExpired,
        RateLimited,
        InternalError,
        Unavailable,
    ))
)]
struct ApiV1;

#[derive(OpenApi)]
#[openapi(
    info(title = "Lorebase", description = "A structured store for worldbuilders: worlds, their elements and the relations between them."),
    paths(routes::health::healthz, routes::health::readyz, routes::health::metrics),
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

/// The whole document, `/api/v1` paths included.
pub fn document() -> utoipa::openapi::OpenApi {
    Root::openapi().nest("/api/v1", ApiV1::openapi())
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
