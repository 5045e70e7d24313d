//! `Idempotency-Key`, written once for every route that takes it: a middleware that
//! claims the key before the handler runs, stores the answer after, and replays it to a
//! repeat (see [`service::idempotency`]). The body is read here to hash it, then handed
//! to the handler unchanged: kept in memory up to 1 MiB, beyond (an import) spooled to an
//! anonymous temporary file, so memory stays flat whatever the size.
use std::io::{Read, Seek, Write};

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, ResponseError};
use futures_util::StreamExt;
use service::idempotency::{self, Claim, IdempotencyKey, StoredAnswer};
use sha2::{Digest, Sha256};

use crate::extract::MAX_BODY_BYTES;
use crate::problem::ApiError;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// The answer headers a replay repeats (with the status and the body).
const REPLAYED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// Bodies larger than this are spooled to a temporary file while they are hashed.
const IN_MEMORY_BYTES: usize = MAX_BODY_BYTES;

/// Read size when a spooled body is handed to the handler.
const SPOOL_CHUNK_BYTES: usize = 64 * 1024;

/// `Idempotency-Key` as the OpenAPI document lists it on every route that takes it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// 1 to 255 printable ASCII characters. Within 24 hours, the same user sending the same
    /// key on the same path with the same body gets the first answer again (status,
    /// headers and body) without a second effect; with another body or path it is 422
    /// `idempotency-key-reused`; while the first request still runs, 409.
    #[param(rename = "Idempotency-Key", max_length = 255, nullable = false)]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
}

/// Whether `POST path` takes `Idempotency-Key`: every create, batch and import.
fn takes_key(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/worlds") else {
        return false;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return false;
    }
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    matches!(
        segments.as_slice(),
        [] | ["import"] | [_, "elements" | "relations" | "batch"]
    )
}

/// The most a route's body may hold.
fn body_limit(path: &str, state: &AppState) -> usize {
    if path.ends_with("/worlds/import") {
        state.import_max_bytes
    } else {
        MAX_BODY_BYTES
    }
}

fn error(req: ServiceRequest, error: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(error.error_response())
}

pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(raw_key) = req.headers().get(HEADER).cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() != Method::POST || !takes_key(req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let key = match IdempotencyKey::parse(raw_key.as_bytes()) {
        Ok(key) => key,
        Err(e) => return Ok(error(req, e.into())),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(error(
            req,
            ApiError::Service(service::Error::Internal("application state missing".into())),
        ));
    };
    // Without a caller there is nothing to key on: the handler answers 401 as usual.
    let token = match crate::extract::bearer_token(req.request()) {
        Ok(Some(token)) => token,
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let actor = match service::auth::authenticate(&state.db, &state.auth, &token).await {
        Ok(actor) => actor,
        Err(_) => return Ok(next.call(req).await?.map_into_boxed_body()),
    };

    let limit = body_limit(req.path(), &state);
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(req.uri().to_string().as_bytes());
    hasher.update(b"\n");
    let body = match Spooled::read(req.take_payload(), limit, &mut hasher).await {
        Ok(body) => body,
        Err(e) => return Ok(error(req, e)),
    };
    let request_hash = format!("{:x}", hasher.finalize());

    match idempotency::claim(&state.db, actor.user_id, &key, &request_hash).await {
        Err(e) => Ok(error(req, e.into())),
        Ok(Claim::Replay(answer)) => Ok(req.into_response(replay(answer))),
        Ok(Claim::Run) => {
            req.set_payload(body.into_payload());
            let response = match next.call(req).await {
                Ok(response) => response,
                Err(e) => {
                    release(&state, actor.user_id, &key).await;
                    return Err(e);
                }
            };
            let status = response.status();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                // Worth retrying: the key must not pin this answer.
                release(&state, actor.user_id, &key).await;
                return Ok(response.map_into_boxed_body());
            }
            let (request, response) = response.into_parts();
            let headers: Vec<(String, String)> = REPLAYED_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = response.headers().get(name)?.to_str().ok()?;
                    Some((name.as_str().to_owned(), value.to_owned()))
                })
                .collect();
            let (response, body) = response.into_parts();
            let bytes = match actix_web::body::to_bytes(body).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    release(&state, actor.user_id, &key).await;
                    let failure = ApiError::Service(service::Error::Internal(
                        "could not read the answer to store it".into(),
                    ));
                    return Ok(ServiceResponse::new(request, failure.error_response()));
                }
            };
            let answer = StoredAnswer {
                status: status.as_u16(),
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            };
            if let Err(e) = idempotency::complete(&state.db, actor.user_id, &key, answer).await {
                log::warn!("storing the answer for an Idempotency-Key failed: {e}");
            }
            Ok(ServiceResponse::new(
                request,
                response.set_body(BoxBody::new(bytes)),
            ))
        }
    }
}

async fn release(state: &AppState, user_id: uuid::Uuid, key: &IdempotencyKey) {
    if let Err(e) = idempotency::release(&state.db, user_id, key).await {
        log::warn!("releasing an Idempotency-Key failed: {e}");
    }
}

fn replay(answer: StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.insert_header((name, value));
        }
    }
    response.insert_header(("Idempotent-Replayed", "true"));
    response.body(answer.body)
}

/// A request body read whole: in memory, or in a temporary file when it is large.
enum Spooled {
    Memory(Bytes),
    File(std::fs::File),
}

impl Spooled {
    async fn read(
        mut payload: Payload,
        limit: usize,
        hasher: &mut Sha256,
    ) -> Result<Self, ApiError> {
        let mut memory = web::BytesMut::new();
        let mut file: Option<std::fs::File> = None;
        let mut total = 0usize;
        let spool_failed = |e: std::io::Error| {
            ApiError::Service(service::Error::internal("spooling a request body", e))
        };
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::Malformed(format!("could not read the body: {e}")))?;
            total += chunk.len();
            if total > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            hasher.update(&chunk);
            match &mut file {
                Some(file) => file.write_all(&chunk).map_err(spool_failed)?,
                None if memory.len() + chunk.len() > IN_MEMORY_BYTES => {
                    let mut spool = tempfile::tempfile().map_err(spool_failed)?;
                    spool.write_all(&memory).map_err(spool_failed)?;
                    spool.write_all(&chunk).map_err(spool_failed)?;
                    memory.clear();
                    file = Some(spool);
                }
                None => memory.extend_from_slice(&chunk),
            }
        }
        Ok(match file {
            Some(mut file) => {
                file.rewind().map_err(spool_failed)?;
                Spooled::File(file)
            }
            None => Spooled::Memory(memory.freeze()),
        })
    }

    fn into_payload(self) -> Payload {
        match self {
            Spooled::Memory(bytes) => Payload::from(bytes),
            Spooled::File(file) => {
                let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
                    let mut buffer = vec![0u8; SPOOL_CHUNK_BYTES];
                    let read = file
                        .read(&mut buffer)
                        .map_err(actix_web::error::PayloadError::Io)?;
                    if read == 0 {
                        return Ok(None);
                    }
                    buffer.truncate(read);
                    Ok(Some((Bytes::from(buffer), file)))
                });
                Payload::Stream {
                    payload: Box::pin(chunks),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::takes_key;

    #[test]
    fn creates_batch_and_import_take_a_key() {
        let world = "/api/v1/worlds/0192b1c4-0000-7000-8000-000000000000";
        assert!(takes_key("/api/v1/worlds"));
        assert!(takes_key("/api/v1/worlds/import"));
        assert!(takes_key(&format!("{world}/elements")));
        assert!(takes_key(&format!("{world}/relations")));
        assert!(takes_key(&format!("{world}/batch")));
        assert!(!takes_key(world));
        assert!(!takes_key(&format!("{world}/kinds")));
        assert!(!takes_key(&format!("{world}/elements/x/revert")));
        assert!(!takes_key("/api/v1/users/me/tokens"));
        assert!(!takes_key("/api/v1/worldsx"));
    }
}
