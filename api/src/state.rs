//! What every handler can reach: the database pools, the authentication setup and the
//! webhook target policy.
use std::sync::Arc;

use service::DatabaseConnection;
use service::auth::Auth;

#[derive(Clone)]
pub struct AppState {
    /// The primary: every write, and every read when there is no replica.
    pub db: DatabaseConnection,
    /// The streaming replica GETs of world data may use (`DATABASE_READ_URL`); reads
    /// reach it only through [`crate::reads::Reads`].
    pub replica: Option<crate::reads::Replica>,
    pub auth: Arc<Auth>,
    /// Whether webhooks may point at non-public addresses (`WEBHOOKS_ALLOW_PRIVATE_TARGETS`).
    pub webhook_targets: service::webhooks::TargetPolicy,
    /// The largest body an import takes (`IMPORT_MAX_BYTES`).
    pub import_max_bytes: usize,
}
