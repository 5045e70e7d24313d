//! Liveness and readiness probes.
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::json;

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// 200 while the process runs, whatever the database does.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is alive", example = json!({"status": "ok"}))))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database answers, else 503.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The database answers", example = json!({"status": "ok"})),
    (status = 503, description = "The database is unavailable", body = crate::problem::Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    service::health::database_ready(&state.db)
        .await
        .map_err(|e| match e {
            service::Error::Internal(cause) => {
                ApiError::Service(service::Error::Unavailable(cause))
            }
            other => ApiError::Service(other),
        })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}

/// Prometheus metrics: requests by route template, method and status with a latency
/// histogram, database pool use, pending webhook deliveries, login failures and rate-limit
/// refusals. With `METRICS_TOKEN` set, it requires `Authorization: Bearer <token>`.
#[utoipa::path(tag = "operations", security((), ("metrics_token" = [])), responses(
    (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"),
    (status = 401, response = crate::responses::Unauthorized),
))]
#[get("/metrics")]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    crate::metrics::render(&req, &state)
}
