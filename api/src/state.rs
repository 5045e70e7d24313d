//! What every handler can reach: the database pool, the authentication setup and the
//! webhook target policy.
use std::sync::Arc;

use service::DatabaseConnection;
use service::auth::Auth;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub auth: Arc<Auth>,
    /// Whether webhooks may point at non-public addresses (`WEBHOOKS_ALLOW_PRIVATE_TARGETS`).
    pub webhook_targets: service::webhooks::TargetPolicy,
    /// The largest body an import takes (`IMPORT_MAX_BYTES`).
    pub import_max_bytes: usize,
}
