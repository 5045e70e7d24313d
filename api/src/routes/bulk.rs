//! Bulk work: batches of writes, and a world's export and import.
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use serde::Deserialize;
use service::batch::{self, BatchRequest, BatchResponse};
use service::export;
use service::import::{self, ImportCounts, ImportOutcome};
use service::worlds::WorldDto;
use uuid::Uuid;

use crate::extract::{Authenticated, JsonBody, MaybeCaller, QueryParams};
use crate::problem::{ApiError, ApiResult};
use crate::reads::Reads;
use crate::respond::created;
use crate::state::AppState;

/// Applies up to 1,000 element and relation writes in order, all or nothing (owner,
/// editor). A create may carry `ref`; later operations write `"$<ref>"` wherever an id is
/// expected. If any operation fails, nothing is applied and the answer is that
/// operation's status (404, 409, 412 or 422) with `errors[].field` naming it, e.g.
/// `operations[3].body.name`. Accepts `Idempotency-Key`.
#[utoipa::path(tag = "bulk", security(("bearer" = [])), request_body = BatchRequest,
    params(crate::idempotency::IdempotencyKeyHeader),
    responses(
        (status = 200, body = BatchResponse),
        crate::responses::VersionedWriteErrors,
))]
#[post("/worlds/{world_id}/batch")]
pub async fn apply_batch(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    JsonBody(body): JsonBody<BatchRequest>,
) -> ApiResult<HttpResponse> {
    let response = batch::apply(&state.db, &actor, path.into_inner(), body).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// The whole world as NDJSON (`application/x-ndjson`), streamed: a header line
/// `{"format": "lorebase.world", "version": 1, "exported_at", "world": {name, description,
/// settings, visibility}}`, then one `{"kind": {kind, description, schema}}` line per
/// element kind schema, one `{"element": {id, parent_id, kind, name, summary,
/// attributes, tags, created_at, updated_at}}` per element with every parent before its
/// children, and one `{"relation": {id, source_id, target_id, kind, attributes,
/// created_at, updated_at}}` per relation. One consistent snapshot, however long it
/// streams. Readable by whoever can read the world.
#[utoipa::path(tag = "bulk", security((), ("bearer" = [])), params(crate::reads::ConsistencyTokenHeader), responses(
    (status = 200, description = "The export, one JSON object per line", content_type = "application/x-ndjson", body = String),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/export")]
pub async fn export_world(
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<Uuid>,
    reads: Reads,
) -> ApiResult<HttpResponse> {
    let world_id = path.into_inner();
    let chunks = reads
        .run(async |db| export::export(db, caller.as_ref(), world_id).await)
        .await?;
    let body = chunks.map(move |chunk| {
        chunk
            .map(|chunk| web::Bytes::from(chunk.text))
            .map_err(|e| {
                log::error!("export of world {world_id} stopped: {e}");
                ApiError::from(e)
            })
    });
    Ok(HttpResponse::Ok()
        .content_type(NDJSON)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"world-{world_id}.ndjson\""),
        ))
        .streaming(body))
}

const NDJSON: &str = "application/x-ndjson";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `true`: check the whole file and answer the counts, writing nothing.
    pub dry_run: Option<bool>,
}

/// Creates a new world owned by the caller from an export (the body, as
/// `application/x-ndjson`, at most `IMPORT_MAX_BYTES`, 256 MiB by default). New ids are
/// made and every reference mapped through them; timestamps are kept. The body is read a
/// line at a time and written as it is read, in ONE transaction: a bad line (an unknown
/// type, lines out of order, a repeated id, a parent after its child, a field the single
/// endpoint would refuse) is 422 with `errors[].field` = `line <n>` and nothing is
/// written.
/// Elements that break a kind schema carried in the same file are imported (the kinds
/// are applied last; such elements show up in the kind's violations). With
/// `?dry_run=true`: the same checks, 200 with the counts, nothing written. Accepts
/// `Idempotency-Key`. Needs a login or a `write` personal access token.
#[utoipa::path(tag = "bulk", security(("bearer" = [])),
    params(ImportParams, crate::idempotency::IdempotencyKeyHeader),
    request_body(content = String, content_type = "application/x-ndjson", description = "An export"),
    responses(
        (status = 201, body = WorldDto, headers(("Location" = String), ("ETag" = String))),
        (status = 200, description = "`dry_run=true`: what the import would hold", body = ImportCounts),
        // After the set: these two say more than the set's 413 and 415.
        crate::responses::WriteErrors,
        (status = 413, description = "Body larger than `IMPORT_MAX_BYTES`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/x-ndjson", body = crate::problem::Problem, content_type = "application/problem+json"),
))]
#[post("/worlds/import")]
pub async fn import_world(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    request: HttpRequest,
    QueryParams(params): QueryParams<ImportParams>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let ndjson = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(NDJSON));
    if !ndjson {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = state.import_max_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    // The limit also holds for a body of undeclared length: past it the stream fails,
    // and the failure is answered 413.
    let too_large = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = too_large.clone();
    let mut read = 0usize;
    let body = payload.map(move |chunk| {
        let chunk = chunk
            .map_err(|e| service::Error::BadRequest(format!("could not read the body: {e}")))?;
        read += chunk.len();
        if read > limit {
            flag.set(true);
            return Err(service::Error::BadRequest("body too large".into()));
        }
        Ok(chunk)
    });
    let dry_run = params.dry_run.unwrap_or(false);
    let outcome = match import::import(&state.db, &actor, body, dry_run, |_| {}).await {
        Ok(outcome) => outcome,
        Err(_) if too_large.get() => return Err(ApiError::PayloadTooLarge),
        Err(e) => return Err(e.into()),
    };
    Ok(match outcome {
        ImportOutcome::DryRun(counts) => HttpResponse::Ok().json(counts),
        ImportOutcome::Imported(world, _) => created(
            format!("/api/v1/worlds/{}", world.id),
            world.version,
            &world,
        ),
    })
}
