//! `GET /metrics` in Prometheus text format, and the middleware that counts requests.
//! Everything is recorded through the `metrics` facade into one process-wide Prometheus
//! recorder (`metrics-exporter-prometheus`): requests by route template, method and
//! status with a latency histogram (here), database pool use (read at each scrape),
//! and what the service records itself (login failures, rate-limit refusals, password
//! hashing, statement timeouts, pending webhook deliveries; see `service::metrics`).
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;
use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "lorebase_http_requests_total";
pub const HTTP_DURATION: &str = "lorebase_http_request_duration_seconds";
pub const DB_POOL_CONNECTIONS: &str = "lorebase_db_pool_connections";
pub const DB_POOL_MAX: &str = "lorebase_db_pool_max_connections";

/// Latency buckets, in seconds: from a cached GET to a statement at its timeout.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder, installed on first use. One per process because the
/// `metrics` facade has one global recorder; every server in the process (tests start
/// many) reports into it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            log::warn!("another metrics recorder is installed; /metrics will be incomplete");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by route, method and status"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections by state (idle, in_use)"
    );
    describe_gauge!(DB_POOL_MAX, "The database pool's maximum size");
    service::metrics::describe();
}

/// Counts each answer under its route template (`/api/v1/worlds/{world_id}`), never the
/// raw path: ids would make every request a series of its own. Requests no route took
/// are counted under `unmatched`.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let labels = [
        ("route", route),
        ("method", method),
        ("status", response.status().as_str().to_owned()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// The bearer token `/metrics` requires (`METRICS_TOKEN`), kept as a digest so that the
/// comparison takes the same time however much of a guess is right.
#[derive(Clone)]
pub struct MetricsToken(Option<[u8; 32]>);

impl MetricsToken {
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(digest))
    }

    fn admits(&self, req: &HttpRequest) -> bool {
        let Some(expected) = &self.0 else {
            return true;
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| digest(token.trim()));
        presented.is_some_and(|presented| {
            presented
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The metrics, in Prometheus text format; 401 without the token when one is set.
pub fn render(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let admitted = req
        .app_data::<web::Data<MetricsToken>>()
        .is_none_or(|token| token.admits(req));
    if !admitted {
        return Err(ApiError::Service(service::Error::Unauthorized(
            "/metrics requires its Bearer token",
        )));
    }
    let pool = service::health::pool_stats(&state.db);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(pool.idle as f64);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!(DB_POOL_MAX).set(pool.max as f64);
    let handle = handle();
    handle.run_upkeep();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(handle.render()))
}
