//! Wiring: connect to the database, apply pending revisions, build the HTTP server.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use service::auth::Auth;
use service::passwords::Passwords;
use service::tokens::{TokenConfig, Tokens};

use crate::config::{Config, DatabaseConfig, JwtSecret};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot connect to the database: {0}")]
    Connect(sea_orm::DbErr),
    #[error("cannot apply migrations: {0}")]
    Migrate(migration::workflow::WorkflowError),
    #[error("cannot set up authentication: {0}")]
    Auth(service::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// Opens the connection pool with the configured limits. On SQLite: WAL, so readers do
/// not block the writer, and a busy timeout instead of immediate "database is locked".
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .connect_timeout(config.connect_timeout)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(config.idle_timeout)
        .test_before_acquire_if_idle_for(config.test_after_idle)
        .sqlx_logging(false);
    if config.is_postgres() {
        options.statement_timeout(config.statement_timeout);
    } else {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    Database::connect(options).await
}

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let secret = match config.jwt_secret()? {
            JwtSecret::Configured(secret) => secret,
            JwtSecret::Ephemeral(secret) => {
                log::warn!(
                    "JWT_SECRET is not set: using a random secret for this run only; tokens will not survive a restart"
                );
                secret
            }
        };
        let db = connect(&config.database)
            .await
            .map_err(StartupError::Connect)?;
        log::info!(
            "database: {}",
            if config.database.is_postgres() {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        );
        if config.server.auto_migrate {
            crate::migrate::run(&config.database, crate::migrate::up_all())
                .await
                .map_err(StartupError::Migrate)?;
        }

        let auth = Auth {
            tokens: Tokens::new(TokenConfig {
                secret,
                issuer: config.auth.issuer.clone(),
                audience: config.auth.audience.clone(),
                access_ttl_secs: config.auth.access_ttl_secs,
                refresh_ttl_secs: config.auth.refresh_ttl_secs,
                session_max_lifetime_secs: config.auth.session_max_lifetime_secs,
            }),
            passwords: Passwords::new(config.auth.password_params).map_err(StartupError::Auth)?,
            limits: config.auth.limits,
        };

        let address = format!("{}:{}", config.server.host, config.server.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?
            .port();
        crate::retention::spawn(db.clone(), config.changes.clone());
        let state = api::AppState {
            db,
            auth: Arc::new(auth),
        };
        let settings = api::ServerSettings {
            workers: config.server.workers,
            shutdown_timeout: config.server.shutdown_timeout,
        };
        let server = api::run(listener, state, settings).map_err(|source| StartupError::Bind {
            address: format!("port {port}"),
            source,
        })?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
