//! What can go wrong in a use case, independent of HTTP. The `api` crate maps each
//! variant to a problem+json response; causes of `Internal` are logged there, never shown.
use std::fmt;

use sea_orm::{DbErr, RuntimeErr};

/// One invalid input field, as reported to the client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such resource, or the caller may not know it exists.
    #[error("not found")]
    NotFound,
    /// The elements exist, but no path joins them within the asked depth.
    #[error("no path")]
    NoPath,
    /// The caller can see the resource but their role does not allow the action.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A personal access token whose scope does not allow the action, or an action that
    /// needs a login.
    #[error("insufficient scope: {0}")]
    InsufficientScope(&'static str),
    /// Missing, invalid, expired or revoked credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// Wrong email or password (deliberately one case for both).
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("conflict: {0}")]
    Conflict(String),
    /// An `Idempotency-Key` already used for a different request (another body or path).
    #[error("idempotency key reused for a different request")]
    IdempotencyKeyReused,
    /// `If-Match` named a version that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A malformed request that is not a field validation problem (a bad cursor, say).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// What was asked for is no longer kept (changes older than the retention period).
    #[error("gone: {0}")]
    Gone(String),
    #[error("rate limited, retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// The database cannot be reached right now.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The server cannot finish this request now: a bounded queue is full, or a statement
    /// ran past `DB_STATEMENT_TIMEOUT_SECS` and was stopped. `cause` is logged, never shown.
    #[error("overloaded: {cause}")]
    Overloaded {
        cause: String,
        retry_after_secs: u64,
    },
    #[error("internal error: {0}")]
    Internal(String),
    /// One operation of a batch failed: answered with `cause`'s status, `errors` naming
    /// the operation (`operations[3].body.name`).
    #[error("operation failed: {cause}")]
    InOperation {
        cause: Box<Error>,
        errors: Vec<FieldError>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(context: &str, cause: impl fmt::Display) -> Self {
        Self::Internal(format!("{context}: {cause}"))
    }
}

/// True when the error means "could not talk to the database" rather than "the database
/// refused this statement".
fn is_connectivity(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            use sea_orm::sqlx::Error as Sqlx;
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::WorkerCrashed => true,
                // The server going away under a pooled connection: connection exceptions
                // (class 08) and shutdown or crash recovery (57P01, 57P02, 57P03).
                Sqlx::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Seconds a client should wait after a statement was stopped for running too long.
const STATEMENT_TIMEOUT_RETRY_AFTER_SECS: u64 = 5;

/// True when the database stopped the statement for running too long: PostgreSQL's
/// `statement_timeout` (query_canceled, 57014), or SQLite interrupted by the progress
/// handler that enforces the same bound there (SQLITE_INTERRUPT, 9).
fn is_statement_timeout(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sea_orm::sqlx::Error::Database(db) => {
                    matches!(db.code().as_deref(), Some("57014") | Some("9"))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_connectivity(&err) {
            Error::Unavailable(err.to_string())
        } else if is_statement_timeout(&err) {
            metrics::counter!(crate::metrics::STATEMENT_TIMEOUTS).increment(1);
            Error::Overloaded {
                cause: format!("statement stopped at the statement timeout: {err}"),
                retry_after_secs: STATEMENT_TIMEOUT_RETRY_AFTER_SECS,
            }
        } else {
            Error::Internal(format!("database: {err}"))
        }
    }
}

impl<E> From<sea_orm::TransactionError<E>> for Error
where
    E: std::error::Error + Into<Error>,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}

/// True when the database rejected a write for breaking a unique constraint.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
