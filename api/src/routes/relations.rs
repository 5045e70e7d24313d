//! Relations between elements of a world.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use service::changes::RevisionDto;
use service::paging::Page;
use service::relations::{self, CreateRelationRequest, RelationDto, UpdateRelationRequest};
use uuid::Uuid;

use crate::extract::{Authenticated, IfMatch, JsonBody, MaybeCaller, Paged};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::respond::{created, versioned};
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// Relates two elements of the world (owner, editor).
#[utoipa::path(tag = "relations", security(("bearer" = [])), request_body = CreateRelationRequest, params(crate::idempotency::IdempotencyKeyHeader), responses(
    (status = 201, body = RelationDto, headers(("Location" = String), ("ETag" = String)), links(
        ("GetRelation" = (operation_id = "get_relation", parameters(("world_id" = "$request.path.world_id"), ("relation_id" = "$response.body#/id")))),
        ("UpdateRelation" = (operation_id = "update_relation", parameters(("world_id" = "$request.path.world_id"), ("relation_id" = "$response.body#/id")))),
        ("DeleteRelation" = (operation_id = "delete_relation", parameters(("world_id" = "$request.path.world_id"), ("relation_id" = "$response.body#/id")))),
    )),
    crate::responses::WriteErrors,
))]
#[post("/worlds/{world_id}/relations")]
pub async fn create_relation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    JsonBody(body): JsonBody<CreateRelationRequest>,
) -> ApiResult<HttpResponse> {
    let world_id = path.into_inner();
    let relation = relations::create(&state.db, &actor, world_id, body).await?;
    let location = format!("/api/v1/worlds/{world_id}/relations/{}", relation.id);
    Ok(created(location, relation.version, &relation))
}

/// One relation.
#[utoipa::path(tag = "relations", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader), responses(
    (status = 200, body = RelationDto, headers(("ETag" = String))),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/relations/{relation_id}")]
pub async fn get_relation(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, relation_id) = path.into_inner();
    let relation = reads
        .run(async |db| relations::get(db, caller.as_ref(), world_id, relation_id).await)
        .await?;
    Ok(versioned(StatusCode::OK, relation.version, &relation))
}

/// Changes a relation's kind or attributes (merge patch).
#[utoipa::path(tag = "relations", security(("bearer" = [])), request_body = UpdateRelationRequest,
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 200, body = RelationDto, headers(("ETag" = String))),
        crate::responses::VersionedWriteErrors,
))]
#[patch("/worlds/{world_id}/relations/{relation_id}")]
pub async fn update_relation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<UpdateRelationRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, relation_id) = path.into_inner();
    let relation =
        relations::update(&state.db, &actor, world_id, relation_id, if_match, body).await?;
    Ok(versioned(StatusCode::OK, relation.version, &relation))
}

/// Deletes a relation.
#[utoipa::path(tag = "relations", security(("bearer" = [])),
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        crate::responses::VersionedWriteErrors,
))]
#[delete("/worlds/{world_id}/relations/{relation_id}")]
pub async fn delete_relation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let (world_id, relation_id) = path.into_inner();
    relations::delete(&state.db, &actor, world_id, relation_id, if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The relation's revisions, newest first, each with the JSON Patch that made it.
#[utoipa::path(tag = "history", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<RevisionDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/relations/{relation_id}/history")]
pub async fn relation_history(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, relation_id) = path.into_inner();
    reads
        .json(async |db| {
            relations::history(db, caller.as_ref(), world_id, relation_id, page.clone()).await
        })
        .await
}
