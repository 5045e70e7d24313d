//! The one typed configuration, read once from the environment (and `.env`).
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use api::client_ip::TrustedProxies;
use service::auth::AuthLimits;
use service::passwords::PasswordParams;
use service::rate_limit::Limit;

/// The SQLite file used when `DATABASE_URL` is not set: a zero-setup start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lorebase.db?mode=rwc";
/// Beside the default SQLite file: the JWT secret generated for it on the first start,
/// so logins survive a restart.
pub const DEFAULT_JWT_SECRET_FILE: &str = "lorebase.jwt-secret";
/// The longest an access token may live, whatever the configuration says.
const MAX_ACCESS_TTL_SECS: i64 = 15 * 60;
const MIN_JWT_SECRET_BYTES: usize = 32;
/// `IMPORT_MAX_BYTES` unless configured: 256 MiB.
pub const DEFAULT_IMPORT_MAX_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    /// True when `DATABASE_URL` was not set and the default SQLite file is used.
    pub is_default: bool,
    /// `DATABASE_READ_URL`: a streaming replica of the PostgreSQL primary, for reads
    /// that may be slightly stale (see `api::reads`). Same pool limits as the primary.
    pub read_url: Option<String>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    /// A pooled connection idle this long is pinged before it is handed out, so one
    /// broken while idle (a database restart) is replaced instead of failing a request;
    /// connections in steady use skip the round trip.
    pub test_after_idle: Duration,
    /// Statements running longer are stopped (503): PostgreSQL's `statement_timeout`, and
    /// on SQLite a progress handler. Not for the migrator, whose revisions may run longer.
    pub statement_timeout: Duration,
}

impl DatabaseConfig {
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub workers: Option<usize>,
    pub shutdown_timeout: Duration,
    pub auto_migrate: bool,
    /// Peers whose `X-Forwarded-For` is believed; none by default.
    pub trusted_proxies: TrustedProxies,
    /// The Bearer token `/metrics` requires; open without one.
    pub metrics_token: Option<Secret>,
    /// How often rate-limit events older than every window (and idempotency keys older
    /// than a day) are deleted.
    pub rate_limit_prune_interval: Duration,
    /// `IMPORT_MAX_BYTES`: the largest body `POST /worlds/import` takes.
    pub import_max_bytes: usize,
}

/// A configured secret: never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone)]
pub struct AuthConfig {
    /// `None` until resolved by [`Config::jwt_secret`]; never logged.
    jwt_secret: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// However often a login refreshes, it ends this long after it began.
    pub session_max_lifetime_secs: i64,
    pub password_params: PasswordParams,
    pub limits: AuthLimits,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "***"))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .finish_non_exhaustive()
    }
}

/// How long the change log and the trash keep what they hold.
#[derive(Debug, Clone)]
pub struct ChangesConfig {
    /// Changes and trashed elements older than this are removed.
    pub retention: Duration,
    /// How often the retention job runs.
    pub prune_interval: Duration,
}

/// Webhook deliveries.
#[derive(Debug, Clone, Copy)]
pub struct WebhooksConfig {
    /// `WEBHOOKS_ALLOW_PRIVATE_TARGETS`: lets webhooks point at loopback, private and
    /// other non-public addresses (tests, closed networks).
    pub allow_private_targets: bool,
    /// `WEBHOOK_RETRY_SCALE`: multiplies the retry delays and the 24-hour window, so
    /// tests and drills can run the schedule in seconds.
    pub retry_scale: f64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub changes: ChangesConfig,
    pub webhooks: WebhooksConfig,
}

/// How the JWT secret is obtained.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtSecret {
    Configured(Vec<u8>),
    /// Default SQLite, no secret set: the secret kept in this file beside the database,
    /// generated on the first start (see [`crate::secret_file`]).
    File(PathBuf),
}

struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    fn parse<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| invalid(name, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    fn secs(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default).map(Duration::from_secs)
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(invalid(name, format!("expected true or false, got {v:?}"))),
        }
    }

    fn limit(
        &self,
        max_name: &'static str,
        window_name: &'static str,
        default: Limit,
    ) -> Result<Limit, ConfigError> {
        let limit = Limit {
            max: self.parse(max_name, default.max)?,
            window_secs: self.parse(window_name, default.window_secs)?,
        };
        if limit.max < 1 {
            return Err(invalid(max_name, "must be at least 1"));
        }
        if limit.window_secs < 1 {
            return Err(invalid(window_name, "must be at least 1"));
        }
        Ok(limit)
    }
}

impl Config {
    /// Reads the process environment (after loading `.env`, if any).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads variables from a map, as tests do.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let url = vars.get("DATABASE_URL");
        let is_default = url.is_none();
        let url = url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        if !["postgres", "postgresql", "sqlite"].contains(&scheme) {
            return Err(invalid(
                "DATABASE_URL",
                format!("unsupported scheme {scheme:?}; use postgres://... or sqlite://..."),
            ));
        }
        let read_url = vars.get("DATABASE_READ_URL");
        if let Some(read_url) = &read_url {
            let is_postgres =
                |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
            if !is_postgres(read_url) {
                return Err(invalid(
                    "DATABASE_READ_URL",
                    "must be a postgres://... URL (a streaming replica)",
                ));
            }
            if !is_postgres(&url) {
                return Err(invalid(
                    "DATABASE_READ_URL",
                    "needs a PostgreSQL DATABASE_URL: SQLite has no replicas",
                ));
            }
        }
        let database = DatabaseConfig {
            url,
            is_default,
            read_url,
            max_connections: vars.parse("DB_MAX_CONNECTIONS", 10)?,
            min_connections: vars.parse("DB_MIN_CONNECTIONS", 0)?,
            connect_timeout: vars.secs("DB_CONNECT_TIMEOUT_SECS", 5)?,
            acquire_timeout: vars.secs("DB_ACQUIRE_TIMEOUT_SECS", 3)?,
            idle_timeout: vars.secs("DB_IDLE_TIMEOUT_SECS", 300)?,
            test_after_idle: vars.secs("DB_TEST_AFTER_IDLE_SECS", 1)?,
            statement_timeout: vars.secs("DB_STATEMENT_TIMEOUT_SECS", 30)?,
        };
        if database.max_connections == 0 {
            return Err(invalid("DB_MAX_CONNECTIONS", "must be at least 1"));
        }
        if database.statement_timeout.is_zero() {
            return Err(invalid("DB_STATEMENT_TIMEOUT_SECS", "must be at least 1"));
        }

        let workers: usize = vars.parse("LOREBASE_WORKERS", 0)?;
        let server = ServerConfig {
            host: vars.string("HOST", "127.0.0.1"),
            port: vars.parse("PORT", 8080)?,
            workers: (workers > 0).then_some(workers),
            shutdown_timeout: vars.secs("LOREBASE_SHUTDOWN_TIMEOUT_SECS", 30)?,
            auto_migrate: vars.flag("LOREBASE_AUTO_MIGRATE", true)?,
            trusted_proxies: match vars.get("TRUSTED_PROXIES") {
                Some(raw) => raw
                    .parse()
                    .map_err(|message: String| invalid("TRUSTED_PROXIES", message))?,
                None => TrustedProxies::default(),
            },
            metrics_token: vars.get("METRICS_TOKEN").map(Secret),
            rate_limit_prune_interval: vars.secs("RATE_LIMIT_PRUNE_INTERVAL_SECS", 600)?,
            import_max_bytes: vars.parse("IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES)?,
        };
        if server.import_max_bytes < 1024 {
            return Err(invalid("IMPORT_MAX_BYTES", "must be at least 1024"));
        }
        if server.rate_limit_prune_interval.is_zero() {
            return Err(invalid(
                "RATE_LIMIT_PRUNE_INTERVAL_SECS",
                "must be at least 1",
            ));
        }

        let access_ttl_secs: i64 = vars.parse("ACCESS_TOKEN_TTL_SECS", MAX_ACCESS_TTL_SECS)?;
        if !(1..=MAX_ACCESS_TTL_SECS).contains(&access_ttl_secs) {
            return Err(invalid(
                "ACCESS_TOKEN_TTL_SECS",
                format!("must be between 1 and {MAX_ACCESS_TTL_SECS}"),
            ));
        }
        let refresh_ttl_secs: i64 = vars.parse("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?;
        if refresh_ttl_secs < 1 {
            return Err(invalid("REFRESH_TOKEN_TTL_SECS", "must be positive"));
        }
        let default_params = PasswordParams::default();
        let defaults = AuthLimits::default();
        let password_params = PasswordParams {
            memory_kib: vars.parse("ARGON2_MEMORY_KIB", default_params.memory_kib)?,
            iterations: vars.parse("ARGON2_ITERATIONS", default_params.iterations)?,
            parallelism: vars.parse("ARGON2_PARALLELISM", default_params.parallelism)?,
            hash_threads: vars.parse("PASSWORD_HASH_THREADS", default_params.hash_threads)?,
            hash_queue: vars.parse("PASSWORD_HASH_QUEUE", default_params.hash_queue)?,
        };
        if password_params.hash_threads < 1 {
            return Err(invalid("PASSWORD_HASH_THREADS", "must be at least 1"));
        }
        if password_params.hash_queue < 1 {
            return Err(invalid("PASSWORD_HASH_QUEUE", "must be at least 1"));
        }
        // Argon2's own bounds, checked here so the error names the variable.
        if !(1..=255).contains(&password_params.parallelism) {
            return Err(invalid("ARGON2_PARALLELISM", "must be between 1 and 255"));
        }
        if password_params.iterations < 1 {
            return Err(invalid("ARGON2_ITERATIONS", "must be at least 1"));
        }
        if password_params.memory_kib < 8 * password_params.parallelism
            || password_params.memory_kib > 4 * 1024 * 1024
        {
            return Err(invalid(
                "ARGON2_MEMORY_KIB",
                "must be at least 8 × ARGON2_PARALLELISM and at most 4194304 (4 GiB)",
            ));
        }
        let session_max_lifetime_secs: i64 =
            vars.parse("SESSION_MAX_LIFETIME_SECS", 90 * 24 * 3600)?;
        if session_max_lifetime_secs < refresh_ttl_secs {
            return Err(invalid(
                "SESSION_MAX_LIFETIME_SECS",
                "must be at least REFRESH_TOKEN_TTL_SECS",
            ));
        }
        let auth = AuthConfig {
            jwt_secret: vars.get("JWT_SECRET"),
            issuer: vars.string("JWT_ISSUER", "lorebase"),
            audience: vars.string("JWT_AUDIENCE", "lorebase-api"),
            access_ttl_secs,
            refresh_ttl_secs,
            session_max_lifetime_secs,
            password_params,
            limits: AuthLimits {
                login_failures_per_account: vars.limit(
                    "LOGIN_FAILURES_PER_ACCOUNT",
                    "LOGIN_FAILURES_WINDOW_SECS",
                    defaults.login_failures_per_account,
                )?,
                login_failures_per_account_total: vars.limit(
                    "LOGIN_FAILURES_PER_ACCOUNT_TOTAL",
                    "LOGIN_FAILURES_WINDOW_SECS",
                    defaults.login_failures_per_account_total,
                )?,
                login_failures_per_ip: vars.limit(
                    "LOGIN_FAILURES_PER_IP",
                    "LOGIN_FAILURES_WINDOW_SECS",
                    defaults.login_failures_per_ip,
                )?,
                registrations_per_ip: vars.limit(
                    "REGISTRATIONS_PER_IP",
                    "REGISTRATIONS_WINDOW_SECS",
                    defaults.registrations_per_ip,
                )?,
            },
        };
        let retention_days: u64 = vars.parse("CHANGES_RETENTION_DAYS", 30)?;
        if !(1..=36_500).contains(&retention_days) {
            return Err(invalid(
                "CHANGES_RETENTION_DAYS",
                "must be between 1 and 36500",
            ));
        }
        let changes = ChangesConfig {
            retention: Duration::from_secs(retention_days * 24 * 3600),
            prune_interval: vars.secs("CHANGES_PRUNE_INTERVAL_SECS", 3600)?,
        };
        if changes.prune_interval.is_zero() {
            return Err(invalid("CHANGES_PRUNE_INTERVAL_SECS", "must be at least 1"));
        }
        let webhooks = WebhooksConfig {
            allow_private_targets: vars.flag("WEBHOOKS_ALLOW_PRIVATE_TARGETS", false)?,
            retry_scale: vars.parse("WEBHOOK_RETRY_SCALE", 1.0)?,
        };
        if !(webhooks.retry_scale > 0.0 && webhooks.retry_scale <= 1.0) {
            return Err(invalid(
                "WEBHOOK_RETRY_SCALE",
                "must be greater than 0 and at most 1",
            ));
        }
        Ok(Self {
            database,
            server,
            auth,
            changes,
            webhooks,
        })
    }

    /// The signing secret: configured (at least 32 bytes), or, only on the default SQLite
    /// file with none set, the one kept in a file beside it.
    pub fn jwt_secret(&self) -> Result<JwtSecret, ConfigError> {
        match &self.auth.jwt_secret {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => {
                Ok(JwtSecret::Configured(secret.as_bytes().to_vec()))
            }
            Some(_) => Err(invalid(
                "JWT_SECRET",
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            )),
            None if self.database.is_default => {
                Ok(JwtSecret::File(PathBuf::from(DEFAULT_JWT_SECRET_FILE)))
            }
            None => Err(invalid(
                "JWT_SECRET",
                format!(
                    "is required (at least {MIN_JWT_SECRET_BYTES} bytes) unless running on the default SQLite file"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults_are_zero_setup() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database.url, DEFAULT_DATABASE_URL);
        assert_eq!((c.server.host.as_str(), c.server.port), ("127.0.0.1", 8080));
        assert!(c.server.auto_migrate);
        assert_eq!(
            c.jwt_secret().unwrap(),
            JwtSecret::File(PathBuf::from("lorebase.jwt-secret"))
        );
        assert!(c.server.trusted_proxies.is_empty());
        assert!(c.server.metrics_token.is_none());
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(config(&[("PORT", "eighty")]).unwrap_err().variable, "PORT");
        assert_eq!(
            config(&[("DATABASE_URL", "mysql://x")])
                .unwrap_err()
                .variable,
            "DATABASE_URL"
        );
        for (variable, value) in [
            ("ARGON2_MEMORY_KIB", "1"),
            ("ARGON2_ITERATIONS", "0"),
            ("ARGON2_PARALLELISM", "0"),
            ("PASSWORD_HASH_THREADS", "0"),
            ("PASSWORD_HASH_QUEUE", "0"),
            ("TRUSTED_PROXIES", "10.0.0.0/40"),
            ("TRUSTED_PROXIES", "proxy.local"),
            ("DB_STATEMENT_TIMEOUT_SECS", "0"),
            ("RATE_LIMIT_PRUNE_INTERVAL_SECS", "0"),
            ("LOGIN_FAILURES_PER_ACCOUNT_TOTAL", "0"),
            ("LOGIN_FAILURES_PER_ACCOUNT", "0"),
            ("REGISTRATIONS_WINDOW_SECS", "0"),
            ("SESSION_MAX_LIFETIME_SECS", "60"),
            ("DATABASE_READ_URL", "sqlite://replica.db"),
            ("DATABASE_READ_URL", "postgres://replica/x"),
        ] {
            assert_eq!(config(&[(variable, value)]).unwrap_err().variable, variable);
        }
        assert_eq!(
            config(&[("LOREBASE_AUTO_MIGRATE", "maybe")])
                .unwrap_err()
                .variable,
            "LOREBASE_AUTO_MIGRATE"
        );
    }

    #[test]
    fn the_metrics_token_is_never_shown() {
        let c = config(&[
            ("METRICS_TOKEN", "scrape-me-please"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
        ])
        .unwrap();
        assert_eq!(
            c.server.metrics_token.as_ref().map(Secret::expose),
            Some("scrape-me-please")
        );
        assert!(!format!("{c:?}").contains("scrape-me-please"));
        assert!(!c.server.trusted_proxies.is_empty());
    }

    #[test]
    fn secret_required_off_the_default_database() {
        let pg = config(&[("DATABASE_URL", "postgres://localhost/x")]).unwrap();
        assert_eq!(
            pg.jwt_secret().err().map(|e| e.variable),
            Some("JWT_SECRET")
        );
        let short = config(&[("JWT_SECRET", "short")]).unwrap();
        assert!(short.jwt_secret().is_err());
        let ok = config(&[
            ("DATABASE_URL", "sqlite://x.db"),
            ("JWT_SECRET", &"k".repeat(32)),
        ])
        .unwrap();
        assert!(matches!(ok.jwt_secret(), Ok(JwtSecret::Configured(_))));
        let replicated = config(&[
            ("DATABASE_URL", "postgres://primary/x"),
            ("DATABASE_READ_URL", "postgres://replica/x"),
        ])
        .unwrap();
        assert_eq!(
            replicated.database.read_url.as_deref(),
            Some("postgres://replica/x")
        );
        let explicit_sqlite = config(&[("DATABASE_URL", "sqlite://x.db")]).unwrap();
        assert!(explicit_sqlite.jwt_secret().is_err());
    }
}
