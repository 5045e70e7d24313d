//! Readiness: can the database answer right now?
use sea_orm::DatabaseConnection;

use crate::error::Result;

pub async fn database_ready(db: &DatabaseConnection) -> Result<()> {
    db.ping().await?;
    Ok(())
}

/// How the connection pool is used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub idle: u64,
    pub in_use: u64,
    pub max: u64,
}

pub fn pool_stats(db: &DatabaseConnection) -> PoolStats {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStats {
        let size = u64::from(pool.size());
        let idle = pool.num_idle() as u64;
        PoolStats {
            idle,
            in_use: size.saturating_sub(idle),
            max: u64::from(pool.options().get_max_connections()),
        }
    }
    // Branching on the backend first: the pool getters panic for the other backend.
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => of(db.get_postgres_connection_pool()),
        sea_orm::DatabaseBackend::Sqlite => of(db.get_sqlite_connection_pool()),
        _ => PoolStats {
            idle: 0,
            in_use: 0,
            max: 0,
        },
    }
}
