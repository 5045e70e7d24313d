//! Lorebase's use cases: authorization, validation, invariants and every query. Knows
//! nothing of HTTP; the `api` crate calls one function here per request.
pub mod auth;
pub mod error;
pub mod hash_pool;
pub mod health;
pub mod invitations;
pub mod json_limits;
pub mod metrics;
pub mod passwords;
pub mod patch;
pub mod rate_limit;
pub mod tokens;
pub mod users;
pub mod values;

pub use error::{Error, FieldError, Result};
pub use sea_orm::DatabaseConnection;
pub mod access;
pub mod changes;
pub mod element_write;
pub mod elements;
pub mod graph;
pub mod json_filters;
pub mod kinds;
pub mod members;
pub mod mentions;
pub mod paging;
pub mod personal_tokens;
pub mod relations;
pub mod search;
pub mod seed;
pub mod sessions;
pub mod sqlite_timeout;
pub mod trash;
pub mod versioning;
pub mod webhooks;
pub mod worlds;
