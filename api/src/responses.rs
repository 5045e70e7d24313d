//! The problem+json answers the document names, and the few sets of them that handlers
//! declare (`responses((status = 200, body = …), ReadErrors)`), so that each error answer is
//! described once and a handler says only which kind of operation it is.
use utoipa::{IntoResponses, ToResponse};

use crate::problem::Problem;

macro_rules! problem_responses {
    ($($name:ident => $description:literal $(, headers($($headers:tt)*))?;)+) => {$(
        #[derive(ToResponse)]
        #[response(
            description = $description,
            content_type = "application/problem+json"
            $(, headers($($headers)*))?
        )]
        pub struct $name(#[allow(dead_code)] Problem);
    )+};
}

problem_responses! {
    BadRequest => "Malformed JSON, query string, cursor or header";
    Unauthorized => "Missing, invalid, expired or revoked token, or bad credentials",
        headers(("WWW-Authenticate" = String, description = "Always `Bearer`"));
    Forbidden => "Authenticated, but not allowed: the role does not allow this (`forbidden`), \
        or the credential does not (`insufficient-scope`: a `read` personal access token \
        writing, or any personal access token doing what needs a login)";
    NotFound => "No such resource, or the caller may not see it";
    NoPath => "`not-found`: no such world or element, or the caller may not see it; `no-path`: both elements exist but no path joins them within `max_depth` relations";

    Conflict => "Conflicts with an existing resource, or a request with the same `Idempotency-Key` is still running";
    PreconditionFailed => "If-Match does not match the current version";
    PayloadTooLarge => "Request body larger than 1 MiB";
    UnsupportedMediaType => "Request body is not application/json";
    ValidationFailed => "A field is invalid, unknown, or nested too deeply (`validation-failed`), or an `Idempotency-Key` was sent again with a different request (`idempotency-key-reused`)";
    ChangesExpired => "Changes after `after` are no longer kept (older than `CHANGES_RETENTION_DAYS`): resynchronize from the lists";
    RateLimited => "Too many attempts",
        headers(("Retry-After" = u64, description = "Seconds until a new attempt may succeed"));
    InternalError => "An unexpected error; the cause is logged, never sent";
    Unavailable => "The database is unavailable, or the server could not finish the request in time (a statement ran past its timeout, or password hashing is saturated)",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"));
}

/// Declares a set of error answers: each variant refers to the reusable response of the
/// same name under `#/components/responses`.
macro_rules! error_set {
    ($(#[$doc:meta])* $set:ident { $($status:literal => $name:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(IntoResponses)]
        #[allow(dead_code)]
        pub enum $set {
            $(
                #[response(status = $status)]
                $name(#[ref_response] $name),
            )+
        }
    };
}

error_set! {
    /// What any read can answer: a malformed or invalid query (400, 422), no or a stale
    /// login (401), a credential that does not reach (403), nothing visible (404), and the
    /// server's own trouble (500, 503).
    ReadErrors {
        400 => BadRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        422 => ValidationFailed,
        500 => InternalError,
        503 => Unavailable,
    }
}

error_set! {
    /// What any write can answer: a read's answers, plus a conflict with what exists (or
    /// an `Idempotency-Key` still running, 409), a body too large (413) or not JSON (415).
    WriteErrors {
        400 => BadRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        409 => Conflict,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        422 => ValidationFailed,
        500 => InternalError,
        503 => Unavailable,
    }
}

error_set! {
    /// A write to a versioned resource: a write's answers, plus 412 when `If-Match` names a
    /// version that is no longer current.
    VersionedWriteErrors {
        400 => BadRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        409 => Conflict,
        412 => PreconditionFailed,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        422 => ValidationFailed,
        500 => InternalError,
        503 => Unavailable,
    }
}
