//! Read-your-writes from a streaming replica: the consistency token a write answer
//! carries (the primary's WAL position after the commit) and the replica's check that it
//! has replayed past one.
//!
//! Which position covers a commit: `pg_current_wal_insert_lsn()` read *after* COMMIT
//! returned. The insert position is the whole cluster's and only grows, and the commit
//! record was inserted before COMMIT returned, so any connection that reads it afterwards
//! reads a position at or past the commit record's end; the pool's next free connection
//! (or, behind pgbouncer, any server connection) is as good as the writer's own. Read
//! *inside* the transaction it would stop short of the commit record, which is written
//! only at COMMIT: a replica at that position would not yet show the write. And
//! `pg_current_wal_lsn()` (the write position) covers the commit only when
//! `synchronous_commit` flushed it, which a server may turn off.
use std::fmt;
use std::str::FromStr;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::{Error, Result};

/// A WAL position, as PostgreSQL's `pg_lsn` prints it: two hexadecimal numbers of at most
/// eight digits joined by `/` (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl Lsn {
    /// A position no replica reaches: the token of a write whose position could not be
    /// read, so reads that present it are served by the primary.
    pub const PRIMARY_ONLY: Lsn = Lsn(u64::MAX);
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The token was not a WAL position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedLsn;

impl FromStr for Lsn {
    type Err = MalformedLsn;

    fn from_str(raw: &str) -> std::result::Result<Self, MalformedLsn> {
        let (high, low) = raw.split_once('/').ok_or(MalformedLsn)?;
        let half = |part: &str| {
            if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(MalformedLsn);
            }
            u32::from_str_radix(part, 16).map_err(|_| MalformedLsn)
        };
        Ok(Lsn((u64::from(half(high)?) << 32) | u64::from(half(low)?)))
    }
}

/// The token for a write that has committed: the primary's WAL insert position now (see
/// the module's note on why that covers the commit). `None` on SQLite, which has no
/// replicas and so no token.
pub async fn commit_position(primary: &DatabaseConnection) -> Result<Option<Lsn>> {
    if primary.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(None);
    }
    position(primary, "SELECT pg_current_wal_insert_lsn()::text AS lsn").await
}

/// Whether the replica has replayed the WAL up to `token`, so a read there sees every
/// write the token stands for. False on a server that is not in recovery (no replay
/// position): a primary configured as the replica answers nothing about replay.
pub async fn has_replayed(replica: &DatabaseConnection, token: Lsn) -> Result<bool> {
    let replayed = position(replica, "SELECT pg_last_wal_replay_lsn()::text AS lsn").await?;
    Ok(replayed.is_some_and(|replayed| replayed >= token))
}

async fn position(db: &DatabaseConnection, sql: &str) -> Result<Option<Lsn>> {
    let row = db
        .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await?
        .ok_or_else(|| Error::Internal("no row for a WAL position".into()))?;
    let text: Option<String> = row.try_get("", "lsn")?;
    text.map(|text| {
        text.parse()
            .map_err(|_| Error::Internal(format!("the server's WAL position {text:?}")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_and_print_as_postgres_does() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn, Lsn((0x16 << 32) | 0xB374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
        assert_eq!(Lsn::PRIMARY_ONLY.to_string(), "FFFFFFFF/FFFFFFFF");
        assert!("0/3000060".parse::<Lsn>().unwrap() < "1/0".parse().unwrap());
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "12",
            "1/2/3",
            "G/0",
            "123456789/0",
            " 1/0",
            "-1/0",
        ] {
            assert_eq!(bad.parse::<Lsn>(), Err(MalformedLsn), "{bad:?}");
        }
    }
}
