//! Wiring: connect to the database, apply pending revisions, build the HTTP server.
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

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

/// Opens the connection pool with the configured limits, every statement bounded by
/// `DB_STATEMENT_TIMEOUT_SECS`. On SQLite: WAL, so readers do not block the writer, and a
/// busy timeout instead of immediate "database is locked".
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_with(config, Some(config.statement_timeout)).await
}

/// As [`connect`], without the statement timeout: for the migrator, whose revisions (an
/// index built over a large table) and whose wait for another server's migration lock
/// may take longer than any request should.
pub async fn connect_without_statement_timeout(
    config: &DatabaseConfig,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_with(config, None).await
}

/// The replica's pool (`DATABASE_READ_URL`), with the primary's limits. Lazy: the server
/// starts, and serves from the primary, while the replica is down.
pub async fn connect_replica(
    config: &DatabaseConfig,
    read_url: &str,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = pool_options(config, read_url);
    options
        .statement_timeout(config.statement_timeout)
        .connect_lazy(true);
    Database::connect(options).await
}

fn pool_options(config: &DatabaseConfig, url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .connect_timeout(config.connect_timeout)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(config.idle_timeout)
        .test_before_acquire_if_idle_for(config.test_after_idle)
        .sqlx_logging(false);
    options
}

async fn connect_with(
    config: &DatabaseConfig,
    statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = pool_options(config, &config.url);
    if config.is_postgres() {
        if let Some(timeout) = statement_timeout {
            options.statement_timeout(timeout);
        }
    } else {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10))
                .foreign_keys(true)
        });
        if let Some(timeout) = statement_timeout {
            // SQLite has no statement timeout: each connection gets one of ours.
            options.map_sqlx_sqlite_pool_opts(move |pool| {
                pool.after_connect(move |conn, _| {
                    Box::pin(service::sqlite_timeout::install(conn, timeout))
                })
            });
        }
    }
    Database::connect(options).await
}

/// A built server, bound and ready to run, with its periodic jobs.
pub struct Application {
    port: u16,
    server: Server,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let secret = match config.jwt_secret()? {
            JwtSecret::Configured(secret) => secret,
            JwtSecret::File(path) => {
                let (secret, origin) = crate::secret_file::load_or_create(&path)?;
                let how = match origin {
                    crate::secret_file::Origin::Created => "generated it into",
                    crate::secret_file::Origin::Existing => "using the one kept in",
                };
                log::warn!(
                    "JWT_SECRET is not set: {how} {} (mode 0600) beside the default SQLite file; keep it private, and set JWT_SECRET for any other setup",
                    path.display()
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
        let webhooks = service::webhooks::worker::DeliveryConfig {
            policy: if config.webhooks.allow_private_targets {
                service::webhooks::TargetPolicy::AllowPrivate
            } else {
                service::webhooks::TargetPolicy::PublicOnly
            },
            retry: service::webhooks::worker::RetrySchedule {
                scale: config.webhooks.retry_scale,
            },
        };
        let jobs = vec![
            crate::jobs::prune_rate_limits(
                db.clone(),
                auth.limits,
                config.server.rate_limit_prune_interval,
            ),
            crate::jobs::prune_changes(db.clone(), config.changes.clone()),
            crate::jobs::deliver_webhooks(db.clone(), webhooks),
        ];
        let replica = match &config.database.read_url {
            Some(read_url) => {
                log::info!("reads that may be slightly stale: from DATABASE_READ_URL");
                Some(api::reads::Replica::new(
                    connect_replica(&config.database, read_url)
                        .await
                        .map_err(StartupError::Connect)?,
                ))
            }
            None => None,
        };
        let state = api::AppState {
            db,
            replica,
            auth: Arc::new(auth),
            webhook_targets: webhooks.policy,
            import_max_bytes: config.server.import_max_bytes,
        };
        let settings = api::ServerSettings {
            workers: config.server.workers,
            shutdown_timeout: config.server.shutdown_timeout,
            trusted_proxies: config.server.trusted_proxies.clone(),
            metrics_token: config
                .server
                .metrics_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
        };
        let server = api::run(listener, state, settings).map_err(|source| StartupError::Bind {
            address: format!("port {port}"),
            source,
        })?;
        Ok(Self { port, server, jobs })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        for job in &self.jobs {
            job.abort();
        }
        outcome
    }
}
