//! A world's change feed, and its trash.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use service::changes::{self, ChangesPage};
use service::elements::{self, ElementDto};
use service::paging::Page;
use service::trash::{self, TrashedElementDto};
use uuid::Uuid;

use crate::extract::{Authenticated, MaybeCaller, Paged, QueryParams};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::respond::versioned;
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// `?after=&limit=` of the feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// The last `seq` the client has seen (default 0: from the start).
    #[param(minimum = 0)]
    #[serde(default, deserialize_with = "service::values::query_number")]
    pub after: Option<i64>,
    /// Changes per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "service::values::query_number")]
    pub limit: Option<u64>,
}

/// Every change to the world after `after`, in commit order, deletions included. Pass
/// `next_after` back as `after` to read on; reading from the last `seq` seen returns each
/// change exactly once.
#[utoipa::path(tag = "history", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, FeedParams), responses(
    (status = 200, body = ChangesPage),
    (status = 410, response = crate::responses::ChangesExpired),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/changes")]
pub async fn list_changes(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    QueryParams(params): QueryParams<FeedParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| {
            changes::feed(db, caller.as_ref(), *path, params.after, params.limit).await
        })
        .await
}

/// The world's deleted elements, most recently deleted first (owner, editor).
#[utoipa::path(tag = "history", security(("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<TrashedElementDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/trash")]
pub async fn list_trash(
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| trash::list(db, &actor, *path, page.clone()).await)
        .await
}

/// Brings a deleted element back with its id and a new version, with the relations deleted
/// with it whose other end still exists (owner, editor).
#[utoipa::path(tag = "history", security(("bearer" = [])), responses(
    (status = 200, body = ElementDto, headers(("ETag" = String))),
    crate::responses::WriteErrors,
))]
#[post("/worlds/{world_id}/trash/{element_id}/restore")]
pub async fn restore_element(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    let element = elements::restore(&state.db, &actor, world_id, element_id).await?;
    Ok(versioned(StatusCode::OK, element.version, &element))
}
