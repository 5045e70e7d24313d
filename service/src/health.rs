//! Readiness: can the database answer right now?
use sea_orm::DatabaseConnection;

use crate::error::Result;

pub async fn database_ready(db: &DatabaseConnection) -> Result<()> {
    db.ping().await?;
    Ok(())
}
