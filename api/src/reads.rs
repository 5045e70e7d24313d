//! Where a read is served, in one place: the [`Reads`] extractor gives a GET handler the
//! replica (`DATABASE_READ_URL`) or the primary, and [`consistency_token`] gives every
//! write answer the token that lets its client read its own writes.
//!
//! - No replica configured: every read goes to the primary.
//! - A read without `Lorebase-Consistency` may be slightly stale: the replica.
//! - A read with the token: the replica once it has replayed past the token
//!   ([`service::replica::has_replayed`], one query there), else the primary.
//! - The replica unreachable (a connection error on the check or on the read itself):
//!   the read is run again on the primary, and the replica is left alone for
//!   [`REPLICA_BACKOFF`] before it is tried again, so a stopped replica costs no errors.
//!
//! Authentication never reads the replica (extractors use the primary): a revoked token
//! or session must stop working at once, not after the replica's lag.
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use service::replica::Lsn;
use service::{DatabaseConnection, Error};

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The header carrying the consistency token, on write answers and on reads.
pub const CONSISTENCY_HEADER: &str = "lorebase-consistency";

/// How long reads stay on the primary after the replica could not be reached.
pub const REPLICA_BACKOFF: Duration = Duration::from_secs(1);

/// The replica reads may use, and when it last failed.
#[derive(Clone)]
pub struct Replica {
    db: DatabaseConnection,
    unreachable_until: Arc<Mutex<Option<Instant>>>,
}

impl Replica {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            unreachable_until: Arc::new(Mutex::new(None)),
        }
    }

    fn in_backoff(&self) -> bool {
        // A poisoned lock only means another request panicked while holding it; the
        // instant inside is still meaningful.
        let until = self
            .unreachable_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        until.is_some_and(|until| Instant::now() < until)
    }

    fn mark_unreachable(&self, cause: &Error) {
        let mut until = self
            .unreachable_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if until.is_none_or(|until| Instant::now() >= until) {
            log::warn!(
                "replica unreachable, reading from the primary for {}s: {cause}",
                REPLICA_BACKOFF.as_secs()
            );
        }
        *until = Some(Instant::now() + REPLICA_BACKOFF);
    }
}

/// `Lorebase-Consistency` on a read, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ConsistencyTokenHeader {
    /// The `Lorebase-Consistency` of an earlier write answer: this read then sees that
    /// write (it is served by a replica only once the replica has replayed past it, else
    /// by the primary). Without it, a read may be served by a replica that lags a little.
    /// A value that is not such a token is 400.
    #[param(
        rename = "Lorebase-Consistency",
        nullable = false,
        max_length = 17,
        pattern = "^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$",
        example = "0/16B3740"
    )]
    #[allow(dead_code)]
    lorebase_consistency: Option<String>,
}

/// The `Lorebase-Consistency` header of a request: absent, or a WAL position (400
/// otherwise).
fn requested_token(req: &HttpRequest) -> Result<Option<Lsn>, ApiError> {
    let Some(value) = req.headers().get(CONSISTENCY_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|raw| raw.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::Malformed(
                "Lorebase-Consistency must be a token from a write answer's Lorebase-Consistency header, such as 0/16B3740"
                    .into(),
            )
        })
}

fn count(target: &'static str, why: &'static str) {
    metrics::counter!(service::metrics::READS, "target" => target, "why" => why).increment(1);
}

/// The connection a read runs on. Handlers call [`Reads::run`] with the service call, and
/// take it as their last extractor: a missing or bad credential is 401 before a malformed
/// token is 400, and the replica is asked nothing for a request refused already.
pub struct Reads {
    primary: DatabaseConnection,
    /// Set when the read goes to the replica first.
    replica: Option<Replica>,
}

impl FromRequest for Reads {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = requested_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| {
                ApiError::Service(Error::Internal("application state missing".into()))
            })?;
            let primary = state.db.clone();
            let Some(replica) = state.replica.clone() else {
                return Ok(Reads {
                    primary,
                    replica: None,
                });
            };
            if replica.in_backoff() {
                count("primary", "replica_unreachable");
                return Ok(Reads {
                    primary,
                    replica: None,
                });
            }
            let use_replica = match token {
                None => true,
                Some(token) => match service::replica::has_replayed(&replica.db, token).await {
                    Ok(true) => true,
                    Ok(false) => {
                        count("primary", "replica_behind");
                        false
                    }
                    Err(e @ Error::Unavailable(_)) => {
                        replica.mark_unreachable(&e);
                        count("primary", "replica_unreachable");
                        false
                    }
                    Err(e) => {
                        log::warn!("replica replay check failed, reading from the primary: {e}");
                        count("primary", "replica_check_failed");
                        false
                    }
                },
            };
            Ok(Reads {
                primary,
                replica: use_replica.then_some(replica),
            })
        })
    }
}

impl Reads {
    /// Runs a read (a `service` call given the connection) on the chosen database; when
    /// that was the replica and it could not be reached, runs it again on the primary.
    /// Reads change nothing, so running one twice is safe.
    pub async fn run<T>(
        &self,
        read: impl AsyncFn(&DatabaseConnection) -> service::Result<T>,
    ) -> service::Result<T> {
        let Some(replica) = &self.replica else {
            return read(&self.primary).await;
        };
        match read(&replica.db).await {
            Err(e @ Error::Unavailable(_)) => {
                replica.mark_unreachable(&e);
                count("primary", "replica_unreachable");
                read(&self.primary).await
            }
            outcome => {
                count("replica", "replica");
                outcome
            }
        }
    }

    /// [`Reads::run`], answered as `200` with the result as JSON.
    pub async fn json<T: serde::Serialize>(
        &self,
        read: impl AsyncFn(&DatabaseConnection) -> service::Result<T>,
    ) -> ApiResult<HttpResponse> {
        let found = self.run(read).await?;
        Ok(HttpResponse::Ok().json(found))
    }
}

/// Adds `Lorebase-Consistency` to every successful write answer on PostgreSQL: the WAL
/// position after its commit ([`service::replica::commit_position`]). When that position
/// cannot be read (the write has committed, so the answer must not turn into an error)
/// the token is one no replica reaches, which sends the client's reads to the primary.
/// SQLite has no replicas and gets no header.
pub async fn consistency_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut response = next.call(req).await?;
    if !is_write || !response.status().is_success() {
        return Ok(response);
    }
    let Some(state) = state else {
        return Ok(response);
    };
    let token = match service::replica::commit_position(&state.db).await {
        Ok(None) => return Ok(response),
        Ok(Some(position)) => position,
        Err(e) => {
            log::warn!("could not read the WAL position for Lorebase-Consistency: {e}");
            Lsn::PRIMARY_ONLY
        }
    };
    if let Ok(value) = HeaderValue::from_str(&token.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(CONSISTENCY_HEADER), value);
    }
    Ok(response)
}
