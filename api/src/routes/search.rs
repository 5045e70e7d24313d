//! Search, graph and mentions: finding elements by their words, walking the relations
//! around them, and what mentions them.
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use service::elements::ElementDto;
use service::graph::{self, Graph, GraphRequest, PathDto, PathRequest};
use service::mentions;
use service::paging::{Page, PageRequest};
use service::relations::Direction;
use service::search::{self, SearchRequest, SearchResults};
use uuid::Uuid;

use crate::extract::{MaybeCaller, QueryParams};
use crate::problem::ApiResult;
use crate::reads::Reads;
use crate::routes::worlds::PageParams;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for, 1 to 200 characters: words (all must appear; English stemming,
    /// case and accents ignored), `"quoted phrases"`, `-excluded` words, `or` between
    /// alternatives. The last word also matches as a prefix (`drag` finds `dragon`).
    #[param(min_length = 1, max_length = 200)]
    pub q: Option<String>,
    /// Only elements of this kind.
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    /// Results, 1 to 50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u64>,
}

/// Full-text search over the world's elements: name (ranked highest), tags, summary and
/// the string values inside attributes (ranked lowest), best first.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ("world_id" = Uuid, Path), SearchParams), responses(
    (status = 200, body = SearchResults),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/search")]
pub async fn search_elements(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    QueryParams(params): QueryParams<SearchParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let request = SearchRequest {
        q: params.q,
        kind: params.kind,
        limit: params.limit,
    };
    let results = reads
        .run(async |db| search::search(db, caller.as_ref(), *path, request.clone()).await)
        .await?;
    Ok(HttpResponse::Ok().json(results))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphParams {
    /// How many relations away from the element, 1 to 4 (default 1).
    #[param(minimum = 1, maximum = 4)]
    pub depth: Option<u32>,
    /// Follow relations from source to target (`out`), target to source (`in`) or both
    /// ways (`both`, the default).
    #[param(inline)]
    pub direction: Option<Direction>,
    /// Repeatable: follow only relations of these kinds (at most 32).
    #[serde(default)]
    #[param(style = Form, explode)]
    pub kind: Vec<String>,
    /// At most this many nodes, the start element included: 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub max_nodes: Option<u32>,
}

/// The element's neighbourhood: the elements within `depth` relations of it, each with
/// its shortest distance, and the relations between them.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ("world_id" = Uuid, Path), ("element_id" = Uuid, Path), GraphParams), responses(
    (status = 200, body = Graph),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}/graph")]
pub async fn element_graph(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    QueryParams(params): QueryParams<GraphParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    let request = GraphRequest {
        depth: params.depth,
        direction: params.direction,
        kinds: params.kind,
        max_nodes: params.max_nodes,
    };
    let graph = reads
        .run(async |db| {
            graph::neighbourhood(db, caller.as_ref(), world_id, element_id, request.clone()).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(graph))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathParams {
    /// Where the path starts (required).
    pub from: Option<Uuid>,
    /// Where it ends (required).
    pub to: Option<Uuid>,
    /// At most this many relations, 1 to 8 (default 6).
    #[param(minimum = 1, maximum = 8)]
    pub max_depth: Option<u32>,
    /// Repeatable: follow only relations of these kinds (at most 32).
    #[serde(default)]
    #[param(style = Form, explode)]
    pub kind: Vec<String>,
}

/// A shortest path between two elements, following relations in either direction.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ("world_id" = Uuid, Path), PathParams), responses(
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
    QueryParams(params): QueryParams<PathParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let request = PathRequest {
        from: params.from,
        to: params.to,
        max_depth: params.max_depth,
        kinds: params.kind,
    };
    let found = reads
        .run(async |db| graph::path(db, caller.as_ref(), *path, request.clone()).await)
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// The elements whose summary mentions this one (`[[<element_id>]]` or
/// `[[<element_id>|shown text]]`), by id, paginated.
#[utoipa::path(tag = "search", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader, ("world_id" = Uuid, Path), ("element_id" = Uuid, Path), PageParams), responses(
    (status = 200, body = Page<ElementDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/elements/{element_id}/mentions")]
pub async fn element_mentions(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(Uuid, Uuid)>,
    QueryParams(params): QueryParams<PageParams>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let (world_id, element_id) = path.into_inner();
    let page: PageRequest = params.into_request()?;
    let found = reads
        .run(async |db| {
            mentions::list(db, caller.as_ref(), world_id, element_id, page.clone()).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}
