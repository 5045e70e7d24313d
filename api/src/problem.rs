//! RFC 9457 problem+json responses: the only place a `service::Error` becomes HTTP.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use service::{Error, FieldError};

const PROBLEM_BASE: &str = "https://lorebase.dev/problems/";

/// The problem+json body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://lorebase.dev/problems/<slug>`, stable per kind of failure. Slugs:
    /// `bad-request`, `unauthorized`, `invalid-credentials`, `forbidden`,
    /// `insufficient-scope` (403: a personal access token's scope does not allow the
    /// action, or the action needs a login), `not-found`, `no-path` (404: no path joins
    /// two elements within `max_depth`), `method-not-allowed`, `conflict`,
    /// `precondition-failed`, `payload-too-large`, `idempotency-key-reused` (422: an
    /// `Idempotency-Key` sent again with a different request), `unsupported-media-type`,
    /// `validation-failed`, `rate-limited`, `internal-error`, `service-unavailable`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Only on validation failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// An error on its way to the client: a use case's error, or one the HTTP layer found
/// while reading the request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] Error),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Carries the `Allow` header value.
    #[error("method not allowed")]
    MethodNotAllowed(String),
}

struct Shape {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
}

const fn shape(status: StatusCode, slug: &'static str, title: &'static str) -> Shape {
    Shape {
        status,
        slug,
        title,
    }
}

impl ApiError {
    fn shape(&self) -> Shape {
        match self {
            ApiError::Service(e) => service_shape(e),
            ApiError::Malformed(_) => shape(StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::PayloadTooLarge => shape(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType => shape(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::MethodNotAllowed(_) => shape(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
        }
    }

    /// What the client may read. Causes of internal failures are logged, never sent.
    fn detail(&self) -> String {
        match self {
            ApiError::Service(e) => service_detail(e),
            ApiError::Malformed(why) => why.clone(),
            ApiError::PayloadTooLarge => {
                "request bodies are limited to 1 MiB (an import's to IMPORT_MAX_BYTES)".into()
            }
            ApiError::UnsupportedMediaType => "request bodies must be application/json".into(),
            ApiError::MethodNotAllowed(_) => "this method is not allowed on this resource".into(),
        }
    }
}

fn service_shape(e: &Error) -> Shape {
    match e {
        Error::NotFound => shape(StatusCode::NOT_FOUND, "not-found", "Not found"),
        Error::NoPath => shape(StatusCode::NOT_FOUND, "no-path", "No path"),
        Error::Forbidden(_) => shape(StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
        Error::InsufficientScope(_) => shape(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Insufficient scope",
        ),
        Error::Unauthorized(_) => shape(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
        Error::InvalidCredentials => shape(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "Invalid credentials",
        ),
        Error::Conflict(_) => shape(StatusCode::CONFLICT, "conflict", "Conflict"),
        Error::IdempotencyKeyReused => shape(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
        ),
        Error::PreconditionFailed => shape(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
        ),
        Error::BadRequest(_) => shape(StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
        Error::Validation(_) => shape(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
            "Validation failed",
        ),
        Error::Gone(_) => shape(StatusCode::GONE, "changes-expired", "Changes expired"),
        Error::RateLimited { .. } => shape(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        ),
        Error::Unavailable(_) => shape(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
        ),
        Error::Overloaded { .. } => shape(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Service overloaded",
        ),
        Error::Internal(_) => shape(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
        ),
        Error::InOperation { cause, .. } => service_shape(cause),
    }
}

fn service_detail(e: &Error) -> String {
    match e {
                Error::NotFound => "no such resource".into(),
                Error::NoPath => "no path joins these elements within max_depth relations".into(),
                Error::Forbidden(why) => format!("your role does not allow this: {why}"),
                Error::InsufficientScope(why) => (*why).to_owned(),
                Error::Unauthorized(why) => format!("authentication required: {why}"),
                Error::InvalidCredentials => "email or password is incorrect".into(),
                Error::Conflict(why) => why.clone(),
                Error::IdempotencyKeyReused => "this Idempotency-Key was used for a different request (another body or path) in the last 24 hours; use a new key".into(),
                Error::PreconditionFailed => {
                    "If-Match does not match the current version; fetch the resource and retry"
                        .into()
                }
                Error::BadRequest(why) => why.clone(),
                Error::Validation(_) => "one or more fields are invalid".into(),
                Error::Gone(why) => why.clone(),
                Error::RateLimited { retry_after_secs } => {
                    format!("too many attempts; retry in {retry_after_secs} seconds")
                }
                Error::Unavailable(_) => "the database is unavailable; retry shortly".into(),
                Error::Overloaded {
                    retry_after_secs, ..
                } => format!(
                    "the server could not finish this request in time; retry in {retry_after_secs} seconds"
                ),
                Error::Internal(_) => "an unexpected error occurred".into(),
                Error::InOperation { cause, .. } => {
                    format!("an operation of the batch failed, so none was applied: {}", service_detail(cause))
                }
    }
}

/// Seconds a client should wait before retrying when the database is unavailable.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.shape().status
    }

    fn error_response(&self) -> HttpResponse {
        let shape = self.shape();
        // Causes are logged with their request by `log_server_errors` in lib.rs.
        let errors = match self {
            ApiError::Service(Error::Validation(errors) | Error::InOperation { errors, .. }) => {
                Some(errors.clone())
            }
            _ => None,
        };
        let body = Problem {
            kind: format!("{PROBLEM_BASE}{}", shape.slug),
            title: shape.title,
            status: shape.status.as_u16(),
            detail: self.detail(),
            errors,
        };
        let mut response = HttpResponse::build(shape.status);
        response.content_type("application/problem+json");
        // As `security_headers` in lib.rs adds to every answer: also here, for an error
        // that never passes it (a panic caught by `panic_guard` becomes its response
        // outside every middleware).
        response.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        response.insert_header((header::REFERRER_POLICY, "no-referrer"));
        match self {
            ApiError::Service(
                Error::RateLimited { retry_after_secs }
                | Error::Overloaded {
                    retry_after_secs, ..
                },
            ) => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Service(Error::Unavailable(_)) => {
                response.insert_header((
                    header::RETRY_AFTER,
                    UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
                ));
            }
            ApiError::MethodNotAllowed(allowed) => {
                response.insert_header((header::ALLOW, allowed.clone()));
            }
            ApiError::Service(Error::Unauthorized(_) | Error::InvalidCredentials) => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        response.json(body)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
