//! Elements of a world, and the relations of one element.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use service::changes::{self, Resource, RevisionDto};
use service::elements::{
    self, CreateElementRequest, ElementDto, ElementListQuery, RevertRequest, UpdateElementRequest,
};
use service::paging::{Page, PageRequest};
use service::relations::{self, Direction, ElementRelationDto};
use uuid::Uuid;

use crate::extract::{Authenticated, IfMatch, JsonBody, MaybeCaller, Paged, QueryParams};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::respond::{created, versioned};
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// Filters of the element list; all combine with AND.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ElementListParams {
    /// Exact kind.
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    /// Repeatable: the element must carry every given tag.
    #[serde(default)]
    #[param(style = Form, explode, value_type = Vec<service::elements::TagSchema>, inline)]
    pub tag: Vec<String>,
    /// Direct children of this element.
    pub parent_id: Option<Uuid>,
    /// Case-insensitive text in name or summary; `%` and `_` are literal. At most 200
    /// characters, no NUL (a NUL anywhere in the query string is 400).
    #[param(max_length = 200, pattern = "^[^\\u0000]*$")]
    pub q: Option<String>,
    /// A JSON object the attributes must contain (`attributes @> where`): at most 4 KiB,
    /// 128 JSON values, 32 array items in all, nested at most 32 levels.
    #[serde(rename = "where")]
    #[param(rename = "where", max_length = 4096)]
    pub where_: Option<String>,
    /// `created_at` (default), `-created_at`, `name`, `-name`, `updated_at`, `-updated_at`.
    #[param(value_type = Option<ElementSort>, inline)]
    pub sort: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, deserialize_with = "service::values::query_number")]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (base64url; empty: the first page; a cursor the
    /// server did not issue is 400).
    #[param(pattern = "^[A-Za-z0-9_-]*$", nullable = false)]
    pub cursor: Option<String>,
}

/// The orders `sort` takes, for the document; the service parses the text itself.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
enum ElementSort {
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDescending,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDescending,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDescending,
}

/// The world's elements, filtered and sorted, paginated.
#[utoipa::path(tag = "elements", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ElementListParams), responses(
    (status = 200, body = Page<ElementDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements")]
pub async fn list_elements(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    QueryParams(params): QueryParams<ElementListParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let query = ElementListQuery {
        kind: params.kind,
        tags: params.tag,
        parent_id: params.parent_id,
        text: params.q,
        where_json: params.where_,
        sort: params.sort,
        limit: params.limit,
        cursor: params.cursor,
    };
    reads
        .json(async |db| elements::list(db, caller.as_ref(), *path, query.clone()).await)
        .await
}

/// Adds an element to the world (owner, editor).
#[utoipa::path(tag = "elements", security(("bearer" = [])), request_body = CreateElementRequest, params(crate::idempotency::IdempotencyKeyHeader), responses(
    (status = 201, body = ElementDto, headers(("Location" = String), ("ETag" = String)), links(
        ("GetElement" = (operation_id = "get_element", parameters(("world_id" = "$request.path.world_id"), ("element_id" = "$response.body#/id")))),
        ("UpdateElement" = (operation_id = "update_element", parameters(("world_id" = "$request.path.world_id"), ("element_id" = "$response.body#/id")))),
        ("DeleteElement" = (operation_id = "delete_element", parameters(("world_id" = "$request.path.world_id"), ("element_id" = "$response.body#/id")))),
        ("ListElementRelations" = (operation_id = "list_element_relations", parameters(("world_id" = "$request.path.world_id"), ("element_id" = "$response.body#/id")))),
    )),
    crate::responses::WriteErrors,
))]
#[post("/worlds/{world_id}/elements")]
pub async fn create_element(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    JsonBody(body): JsonBody<CreateElementRequest>,
) -> ApiResult<HttpResponse> {
    let world_id = path.into_inner();
    let element = elements::create(&state.db, &actor, world_id, body).await?;
    let location = format!("/api/v1/worlds/{world_id}/elements/{}", element.id);
    Ok(created(location, element.version, &element))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ElementVersionParams {
    /// An earlier version: the element as it was then, from its history (no `ETag`).
    #[param(minimum = 1)]
    #[serde(default, deserialize_with = "service::values::query_number")]
    pub version: Option<i32>,
}

/// One element, as it is or (with `version`) as it was.
#[utoipa::path(tag = "elements", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ElementVersionParams), responses(
    (status = 200, body = ElementDto, headers(("ETag" = String, description = "Only without `version`"))),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}")]
pub async fn get_element(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    QueryParams(params): QueryParams<ElementVersionParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    if let Some(version) = params.version {
        return reads
            .json(async |db| {
                elements::get_version(db, caller.as_ref(), world_id, element_id, version).await
            })
            .await;
    }
    let element = reads
        .run(async |db| elements::get(db, caller.as_ref(), world_id, element_id).await)
        .await?;
    Ok(versioned(StatusCode::OK, element.version, &element))
}

/// The element's revisions, newest first, each with the JSON Patch that made it.
#[utoipa::path(tag = "history", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<RevisionDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}/history")]
pub async fn element_history(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    reads
        .json(async |db| {
            changes::history(
                db,
                caller.as_ref(),
                world_id,
                Resource::Element(element_id),
                page.clone(),
            )
            .await
        })
        .await
}

/// Makes the element's fields those of an earlier version, as a new version (owner, editor).
#[utoipa::path(tag = "history", security(("bearer" = [])), request_body = RevertRequest,
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 200, body = ElementDto, headers(("ETag" = String))),
        crate::responses::VersionedWriteErrors,
))]
#[post("/worlds/{world_id}/elements/{element_id}/revert")]
pub async fn revert_element(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<RevertRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    let element = elements::revert(&state.db, &actor, world_id, element_id, if_match, body).await?;
    Ok(versioned(StatusCode::OK, element.version, &element))
}

/// Changes an element (owner, editor). `attributes` is a merge patch; `tags` replaces.
#[utoipa::path(tag = "elements", security(("bearer" = [])), request_body = UpdateElementRequest,
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 200, body = ElementDto, headers(("ETag" = String))),
        crate::responses::VersionedWriteErrors,
))]
#[patch("/worlds/{world_id}/elements/{element_id}")]
pub async fn update_element(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<UpdateElementRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    let element = elements::update(&state.db, &actor, world_id, element_id, if_match, body).await?;
    Ok(versioned(StatusCode::OK, element.version, &element))
}

/// Deletes an element: its relations go with it, its children become roots.
#[utoipa::path(tag = "elements", security(("bearer" = [])),
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        crate::responses::VersionedWriteErrors,
))]
#[delete("/worlds/{world_id}/elements/{element_id}")]
pub async fn delete_element(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    elements::delete(&state.db, &actor, world_id, element_id, if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ElementRelationsParams {
    /// `out` (the element is the source), `in` (the target) or `both` (default).
    #[param(inline)]
    pub direction: Option<Direction>,
    /// Exact relation kind.
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, deserialize_with = "service::values::query_number")]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (base64url; empty: the first page; a cursor the
    /// server did not issue is 400).
    #[param(pattern = "^[A-Za-z0-9_-]*$", nullable = false)]
    pub cursor: Option<String>,
}

/// The element's relations, each with its other end embedded.
#[utoipa::path(tag = "relations", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ElementRelationsParams), responses(
    (status = 200, body = Page<ElementRelationDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}/relations")]
pub async fn list_element_relations(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    QueryParams(params): QueryParams<ElementRelationsParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    let page = PageRequest::parse(params.limit, params.cursor)?;
    let direction = params.direction.unwrap_or_default();
    reads
        .json(async |db| {
            relations::list_for_element(
                db,
                caller.as_ref(),
                world_id,
                element_id,
                direction,
                params.kind.clone(),
                page.clone(),
            )
            .await
        })
        .await
}
