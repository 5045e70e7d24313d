//! The names of the metrics the service records (through the `metrics` facade; the `api`
//! crate installs the Prometheus recorder and serves `/metrics`), and the hooks other
//! parts of the server call to set a gauge.

/// Failed logins and failed password confirmations.
pub const LOGIN_FAILURES: &str = "lorebase_login_failures_total";
/// Requests refused by a rate limit, by `scope`.
pub const RATE_LIMIT_REFUSALS: &str = "lorebase_rate_limit_refusals_total";
/// Argon2 computations run (hashes and verifications).
pub const PASSWORD_HASHES: &str = "lorebase_password_hashes_total";
/// Password hashing jobs refused because the queue was full (answered 503).
pub const PASSWORD_HASH_QUEUE_FULL: &str = "lorebase_password_hash_queue_full_total";
/// Statements cut off at `DB_STATEMENT_TIMEOUT_SECS` (answered 503).
pub const STATEMENT_TIMEOUTS: &str = "lorebase_db_statement_timeouts_total";
/// Reads (GETs of world data) by where they were served: `target` is `replica` or
/// `primary`, `why` says what decided it (see `api`'s `reads` module).
pub const READS: &str = "lorebase_reads_total";
/// Webhook deliveries waiting to be attempted; see [`set_pending_webhook_deliveries`].
pub const PENDING_WEBHOOK_DELIVERIES: &str = "lorebase_webhook_deliveries_pending";

/// Sets the number of webhook deliveries waiting to be attempted. The delivery job calls
/// it after each pass over the outbox; until then the gauge reads 0.
pub fn set_pending_webhook_deliveries(pending: u64) {
    metrics::gauge!(PENDING_WEBHOOK_DELIVERIES).set(pending as f64);
}

/// Describes every metric above, so `/metrics` lists each with its help text (and the
/// gauges with a value) before the first event.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(LOGIN_FAILURES, "Failed logins and password confirmations");
    describe_counter!(
        RATE_LIMIT_REFUSALS,
        "Requests refused by a rate limit, by scope"
    );
    describe_counter!(PASSWORD_HASHES, "Argon2 hashes and verifications computed");
    describe_counter!(
        PASSWORD_HASH_QUEUE_FULL,
        "Password hashing jobs refused with 503 because the queue was full"
    );
    describe_counter!(
        STATEMENT_TIMEOUTS,
        "Database statements stopped at DB_STATEMENT_TIMEOUT_SECS"
    );
    describe_counter!(
        READS,
        "Reads of world data by where they were served (target) and why"
    );
    describe_gauge!(
        PENDING_WEBHOOK_DELIVERIES,
        Unit::Count,
        "Webhook deliveries waiting to be attempted"
    );
    metrics::counter!(LOGIN_FAILURES).increment(0);
    metrics::counter!(PASSWORD_HASHES).increment(0);
    metrics::counter!(STATEMENT_TIMEOUTS).increment(0);
    metrics::gauge!(PENDING_WEBHOOK_DELIVERIES).increment(0.0);
}
