//! What every handler can reach: the database pool and the authentication setup.
use std::sync::Arc;

use service::DatabaseConnection;
use service::auth::Auth;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub auth: Arc<Auth>,
}
