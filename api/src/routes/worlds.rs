//! Worlds and their members.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use service::members::{self, MemberDto, PutMemberRequest};
use service::paging::PageRequest;
use service::worlds::{self, CreateWorldRequest, UpdateWorldRequest, WorldDto};
use uuid::Uuid;

use crate::extract::{Authenticated, IfMatch, JsonBody, MaybeCaller, Paged};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::respond::{created, versioned};
use crate::state::AppState;

/// `?limit=&cursor=` of a paginated list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, deserialize_with = "service::values::query_number")]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (base64url; empty: the first page; a cursor the
    /// server did not issue is 400).
    #[param(pattern = "^[A-Za-z0-9_-]*$", nullable = false)]
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn into_request(self) -> Result<PageRequest, service::Error> {
        PageRequest::parse(self.limit, self.cursor)
    }
}

/// The worlds the caller owns or is a member of, newest first.
#[utoipa::path(tag = "worlds", security(("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = service::paging::Page<WorldDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds")]
pub async fn list_worlds(
    Authenticated(actor): Authenticated,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| worlds::list(db, &actor, page.clone()).await)
        .await
}

/// Creates a world owned by the caller.
#[utoipa::path(tag = "worlds", security(("bearer" = [])), request_body = CreateWorldRequest, params(crate::idempotency::IdempotencyKeyHeader), responses(
    (status = 201, body = WorldDto, headers(("Location" = String), ("ETag" = String)), links(
        ("GetWorld" = (operation_id = "get_world", parameters(("world_id" = "$response.body#/id")))),
        ("UpdateWorld" = (operation_id = "update_world", parameters(("world_id" = "$response.body#/id")))),
        ("ListElements" = (operation_id = "list_elements", parameters(("world_id" = "$response.body#/id")))),
        ("CreateElement" = (operation_id = "create_element", parameters(("world_id" = "$response.body#/id")))),
        ("CreateRelation" = (operation_id = "create_relation", parameters(("world_id" = "$response.body#/id")))),
    )),
    crate::responses::WriteErrors,
))]
#[post("/worlds")]
pub async fn create_world(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreateWorldRequest>,
) -> ApiResult<HttpResponse> {
    let world = worlds::create(&state.db, &actor, body).await?;
    Ok(created(
        format!("/api/v1/worlds/{}", world.id),
        world.version,
        &world,
    ))
}

/// A world. Public worlds are readable by anyone, also without a token.
#[utoipa::path(tag = "worlds", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader), responses(
    (status = 200, body = WorldDto, headers(("ETag" = String))),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}")]
pub async fn get_world(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let world = reads
        .run(async |db| worlds::get(db, caller.as_ref(), *path).await)
        .await?;
    Ok(versioned(StatusCode::OK, world.version, &world))
}

/// Changes a world (owner, editor; visibility: owner only). `settings` is a merge patch.
#[utoipa::path(tag = "worlds", security(("bearer" = [])), request_body = UpdateWorldRequest,
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 200, body = WorldDto, headers(("ETag" = String))),
        crate::responses::VersionedWriteErrors,
))]
#[patch("/worlds/{world_id}")]
pub async fn update_world(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<UpdateWorldRequest>,
) -> ApiResult<HttpResponse> {
    let world = worlds::update(&state.db, &actor, path.into_inner(), if_match, body).await?;
    Ok(versioned(StatusCode::OK, world.version, &world))
}

/// Deletes a world with everything in it (owner only).
#[utoipa::path(tag = "worlds", security(("bearer" = [])),
    params(crate::extract::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        crate::responses::VersionedWriteErrors,
))]
#[delete("/worlds/{world_id}")]
pub async fn delete_world(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    worlds::delete(&state.db, &actor, path.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The world's members, the owner included (members only).
#[utoipa::path(tag = "members", security(("bearer" = [])), params(crate::reads::ConsistencyTokenHeader), responses(
    (status = 200, body = Vec<MemberDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/members")]
pub async fn list_members(
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        reads
            .run(async |db| members::list(db, &actor, *path).await)
            .await?,
    ))
}

/// Grants a user a role in the world (owner only).
#[utoipa::path(tag = "members", security(("bearer" = [])), request_body = PutMemberRequest,
    responses(
        (status = 200, body = MemberDto),
        crate::responses::WriteErrors,
))]
#[put("/worlds/{world_id}/members/{user_id}")]
pub async fn put_member(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<PutMemberRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, user_id) = path.into_inner();
    Ok(HttpResponse::Ok().json(members::put(&state.db, &actor, world_id, user_id, body).await?))
}

/// Removes a member (the owner, or the member themself).
#[utoipa::path(tag = "members", security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        crate::responses::WriteErrors,
))]
#[delete("/worlds/{world_id}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (world_id, user_id) = path.into_inner();
    members::remove(&state.db, &actor, world_id, user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
