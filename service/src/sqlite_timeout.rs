//! A statement timeout for SQLite, which has none of its own. PostgreSQL stops a statement
//! at `statement_timeout`; without the same on SQLite one expensive filter holds a pooled
//! connection for as long as it runs (12.5 s was measured), and a few of them take the
//! whole pool. Each connection gets:
//! - a trace callback (`SQLITE_TRACE_STMT`) that notes when a statement starts running;
//! - a progress handler, called every [`CHECK_EVERY_OPS`] virtual-machine instructions,
//!   that interrupts the statement once it has run longer than the timeout.
//!
//! The interrupted statement fails with `SQLITE_INTERRUPT`, which [`crate::Error`] turns
//! into a 503 with `Retry-After`; the connection itself stays usable.
use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libsqlite3_sys::{SQLITE_TRACE_STMT, sqlite3, sqlite3_trace_v2};
use sea_orm::sqlx::sqlite::SqliteConnection;

/// Instructions between two looks at the clock: a few microseconds of work, so a
/// statement overruns its timeout by no more than that, and reading the clock costs
/// nothing measurable.
const CHECK_EVERY_OPS: i32 = 1_000;

/// When the connection's current statement started, in nanoseconds since [`epoch`] plus
/// one (0: none yet).
#[derive(Default)]
struct StatementClock(AtomicU64);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl StatementClock {
    fn start(&self) {
        self.0
            .store(now_nanos().saturating_add(1), Ordering::Relaxed);
    }

    /// Whether the running statement is still within `limit_nanos`.
    fn within(&self, limit_nanos: u64) -> bool {
        match self.0.load(Ordering::Relaxed) {
            0 => true,
            started => now_nanos().saturating_sub(started - 1) <= limit_nanos,
        }
    }
}

/// Called by SQLite as each statement starts running (again, after a reset).
unsafe extern "C" fn statement_started(
    event: c_uint,
    context: *mut c_void,
    _statement: *mut c_void,
    _sql: *mut c_void,
) -> c_int {
    if event == SQLITE_TRACE_STMT && !context.is_null() {
        // SAFETY: `context` is the `StatementClock` of a `Tracing` that unregisters this
        // callback before it lets go of the clock (see its `Drop`).
        let clock = unsafe { &*(context as *const StatementClock) };
        clock.start();
    }
    0
}

/// Owns the trace callback's registration: the progress handler (which sqlx keeps with
/// the connection and drops while the connection is still open, before closing it) holds
/// this, so the callback is removed before its clock can be freed.
struct Tracing {
    db: *mut sqlite3,
    clock: Arc<StatementClock>,
}

// SAFETY: the pointer is only used in `Drop`, which sqlx runs on the thread that owns the
// connection, while the connection is open.
unsafe impl Send for Tracing {}

impl Drop for Tracing {
    fn drop(&mut self) {
        // SAFETY: `db` is the open connection this was registered on (see above);
        // clearing the trace callback has no other precondition.
        unsafe {
            sqlite3_trace_v2(self.db, 0, None, std::ptr::null_mut());
        }
    }
}

/// Bounds every statement on `conn` to `timeout`. For a pool's `after_connect`.
pub async fn install(
    conn: &mut SqliteConnection,
    timeout: Duration,
) -> Result<(), sea_orm::sqlx::Error> {
    let limit_nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let tracing = Tracing {
        db,
        clock: Arc::new(StatementClock::default()),
    };
    let context = Arc::as_ptr(&tracing.clock) as *mut c_void;
    // SAFETY: `db` is this open connection, locked for us. `context` points to the clock
    // kept alive by `tracing`, which moves into the progress handler below and, when
    // sqlx drops that handler, unregisters this callback first.
    unsafe {
        sqlite3_trace_v2(db, SQLITE_TRACE_STMT, Some(statement_started), context);
    }
    handle.set_progress_handler(CHECK_EVERY_OPS, move || tracing.clock.within(limit_nanos));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sqlx::{Connection, Executor};

    /// A statement that takes seconds of pure computation.
    const SLOW: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                        WHERE i < 200000000) SELECT count(*) FROM n";

    #[tokio::test]
    async fn stops_a_long_statement_and_leaves_the_connection_usable() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        install(&mut conn, Duration::from_millis(200))
            .await
            .unwrap();
        let started = Instant::now();
        let err = conn.execute(SLOW).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("9"), "{err}");
        // Each statement gets the whole timeout: many short ones in a row are fine.
        for _ in 0..5 {
            conn.execute("SELECT 1").await.unwrap();
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        let quick = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                     WHERE i < 1000) SELECT count(*) FROM n";
        conn.execute(quick).await.unwrap();
        conn.close().await.unwrap();
    }
}
