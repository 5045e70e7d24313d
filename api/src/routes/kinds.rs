//! Typed kinds: JSON Schemas for element kinds, allowed ends for relation kinds.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, put, web};
use service::kinds::{
    self, KindDto, PutKindRequest, PutRelationKindRequest, RelationKindDto, ViolationDto,
};
use service::paging::Page;
use uuid::Uuid;

use crate::extract::{Authenticated, IfMatch, JsonBody, MaybeCaller, Paged};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::respond::{put_answer, versioned};
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// Gives an element kind a JSON Schema (draft 2020-12) for its `attributes`, or replaces
/// it (owner, editor). 201 when the kind had none, 200 when it is replaced; a PUT equal to
/// the current kind keeps its version. Existing elements are neither checked nor changed
/// (see `violations`). `If-Match` on a kind that does not exist is 412. A schema that is
/// not valid draft 2020-12, refers outside itself (a `$ref` or `$dynamicRef` not starting
/// with `#`), names another `$schema`, or is larger than 64 KiB as compact JSON is 422;
/// `format` is asserted. The server never fetches anything a schema names.
#[utoipa::path(tag = "kinds", security(("bearer" = [])), request_body = PutKindRequest,
    params(("kind" = String, Path, pattern = "^[a-z][a-z0-9_]{0,63}$"), crate::extract::IfMatchHeader),
    responses(
        (status = 200, body = KindDto, headers(("ETag" = String))),
        (status = 201, body = KindDto, headers(("Location" = String), ("ETag" = String))),
        crate::responses::VersionedWriteErrors,
))]
#[put("/worlds/{world_id}/kinds/{kind}")]
pub async fn put_kind(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, String)>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<PutKindRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, kind) = path.into_inner();
    let put = kinds::put_kind(&state.db, &actor, world_id, kind, if_match, body).await?;
    let kind = put.resource;
    let location = format!("/api/v1/worlds/{world_id}/kinds/{}", kind.kind);
    Ok(put_answer(put.created, location, kind.version, &kind))
}

/// The world's element kinds that have a schema, by name.
#[utoipa::path(tag = "kinds", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<KindDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/kinds")]
pub async fn list_kinds(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| kinds::list_kinds(db, caller.as_ref(), *path, page.clone()).await)
        .await
}

/// One element kind with its schema.
#[utoipa::path(tag = "kinds", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader), responses(
    (status = 200, body = KindDto, headers(("ETag" = String))),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/kinds/{kind}")]
pub async fn get_kind(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, String)>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, kind) = path.into_inner();
    let kind = reads
        .run(async |db| kinds::get_kind(db, caller.as_ref(), world_id, kind.clone()).await)
        .await?;
    Ok(versioned(StatusCode::OK, kind.version, &kind))
}

/// Removes an element kind's schema (owner, editor): its elements keep their kind,
/// unvalidated.
#[utoipa::path(tag = "kinds", security(("bearer" = [])),
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        crate::responses::VersionedWriteErrors,
))]
#[delete("/worlds/{world_id}/kinds/{kind}")]
pub async fn delete_kind(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, String)>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let (world_id, kind) = path.into_inner();
    kinds::delete_kind(&state.db, &actor, world_id, kind, if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The elements of the kind whose attributes do not satisfy its schema, in id order, each
/// with one error per violation. A page looks at up to 10,000 elements: it may hold fewer
/// than `limit` items (even none) and still carry a `next_cursor`; the list ends when
/// `next_cursor` is null.
#[utoipa::path(tag = "kinds", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<ViolationDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/kinds/{kind}/violations")]
pub async fn list_violations(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, String)>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, kind) = path.into_inner();
    reads
        .json(async |db| {
            kinds::violations_page(db, caller.as_ref(), world_id, kind.clone(), page.clone()).await
        })
        .await
}

/// Registers a relation kind, or replaces it (owner, editor): the element kinds its source
/// and target must have (left out: any) and its `inverse` name. Creating a relation of
/// this kind, or changing a relation to it, with an end of another kind is 422; existing
/// relations are not checked. 201 when new, 200 when replaced.
#[utoipa::path(tag = "kinds", security(("bearer" = [])), request_body = PutRelationKindRequest,
    params(("kind" = String, Path, pattern = "^[a-z][a-z0-9_]{0,63}$"), crate::extract::IfMatchHeader),
    responses(
        (status = 200, body = RelationKindDto, headers(("ETag" = String))),
        (status = 201, body = RelationKindDto, headers(("Location" = String), ("ETag" = String))),
        crate::responses::VersionedWriteErrors,
))]
#[put("/worlds/{world_id}/relation-kinds/{kind}")]
pub async fn put_relation_kind(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, String)>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<PutRelationKindRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, kind) = path.into_inner();
    let put = kinds::put_relation_kind(&state.db, &actor, world_id, kind, if_match, body).await?;
    let kind = put.resource;
    // The resource's own URI: the contract gives it PUT and DELETE (no GET of one).
    let location = format!("/api/v1/worlds/{world_id}/relation-kinds/{}", kind.kind);
    Ok(put_answer(put.created, location, kind.version, &kind))
}

/// The world's relation kinds, by name.
#[utoipa::path(tag = "kinds", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<RelationKindDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/relation-kinds")]
pub async fn list_relation_kinds(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| kinds::list_relation_kinds(db, caller.as_ref(), *path, page.clone()).await)
        .await
}

/// Removes a relation kind (owner, editor): its relations stay, unchecked.
#[utoipa::path(tag = "kinds", security(("bearer" = [])),
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        crate::responses::VersionedWriteErrors,
))]
#[delete("/worlds/{world_id}/relation-kinds/{kind}")]
pub async fn delete_relation_kind(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, String)>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let (world_id, kind) = path.into_inner();
    kinds::delete_relation_kind(&state.db, &actor, world_id, kind, if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}
