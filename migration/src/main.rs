use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectOptions, Database};

#[tokio::main]
async fn main() {
    // One connection: `fresh` turns SQLite's foreign-key checks off with a PRAGMA, which
    // holds only for the connection that ran it.
    cli::run_cli_with_connection(
        migration::Migrator,
        |mut options: ConnectOptions| async move {
            options.max_connections(1);
            Database::connect(options).await
        },
    )
    .await;
}
