//! Search, graph and mentions: finding elements by their words, walking the relations
//! around them, and what mentions them.
use actix_web::{HttpResponse, get, web};
use service::elements::ElementDto;
use service::graph::{self, Graph, GraphRequest, PathDto, PathRequest};
use service::mentions;
use service::paging::Page;
use service::search::{self, SearchRequest, SearchResults};
use uuid::Uuid;

use crate::extract::{MaybeCaller, Paged, QueryParams};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::routes::worlds::PageParams;

/// Full-text search over the world's elements: name (ranked highest), tags, summary and
/// the string values inside attributes (ranked lowest), best first.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, SearchRequest), responses(
    (status = 200, body = SearchResults),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/search")]
pub async fn search_elements(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    QueryParams(request): QueryParams<SearchRequest>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| search::search(db, caller.as_ref(), *path, request.clone()).await)
        .await
}

/// The element's neighbourhood: the elements within `depth` relations of it, each with
/// its shortest distance, and the relations between them.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, GraphRequest), responses(
    (status = 200, body = Graph),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}/graph")]
pub async fn element_graph(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    QueryParams(request): QueryParams<GraphRequest>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    reads
        .json(async |db| {
            graph::neighbourhood(db, caller.as_ref(), world_id, element_id, request.clone()).await
        })
        .await
}

/// A shortest path between two elements, following relations in either direction.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PathRequest), responses(
    (status = 200, body = PathDto),
    (status = 400, response = crate::responses::BadRequest),
    (status = 401, response = crate::responses::Unauthorized),
    (status = 404, response = crate::responses::NoPath),
    (status = 422, response = crate::responses::ValidationFailed),
    (status = 500, response = crate::responses::InternalError),
    (status = 503, response = crate::responses::Unavailable),
))]
#[get("/worlds/{world_id}/path")]
pub async fn find_path(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    QueryParams(request): QueryParams<PathRequest>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    reads
        .json(async |db| graph::path(db, caller.as_ref(), *path, request.clone()).await)
        .await
}

/// The elements whose summary mentions this one (`[[<element_id>]]` or
/// `[[<element_id>|shown text]]`), by id, paginated.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, PageParams), responses(
    (status = 200, body = Page<ElementDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}/mentions")]
pub async fn element_mentions(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    Paged(page): Paged,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    reads
        .json(async |db| {
            mentions::list(db, caller.as_ref(), world_id, element_id, page.clone()).await
        })
        .await
}
