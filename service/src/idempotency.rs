//! Stored first answers for requests sent with `Idempotency-Key`. A row per (user, key)
//! lives in the database, so a repeat is recognized by any server; it is claimed before
//! the request runs (a row without `status`), filled with the answer after, and pruned 24
//! hours after it was made.
use std::time::Duration;

use entity::idempotency_keys::{self, Column};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TryInsertResult,
};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::versioning::now;

/// How long a key is remembered.
pub const KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A claim whose request has not answered after this long belongs to a server that died
/// while running it (no request runs this long: statements time out far sooner, and an
/// import of the largest body takes minutes); a repeat may take it over.
const ABANDONED_AFTER: Duration = Duration::from_secs(60 * 60);

/// The longest key the contract allows.
pub const MAX_KEY_CHARS: usize = 255;

/// A checked `Idempotency-Key`: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > MAX_KEY_CHARS || !printable {
            return Err(Error::validation(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_CHARS} printable ASCII characters"),
            ));
        }
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first answer, as it is replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is new (or expired): run the request, then [`complete`] or [`release`].
    Run,
    /// The same request was answered before: send this again.
    Replay(StoredAnswer),
}

/// Claims `key` for this request (`request_hash`: its method, path and body, hashed).
/// 409 while the first request with the key runs; 422 `idempotency-key-reused` when the
/// key was used for another request.
pub async fn claim(
    db: &DatabaseConnection,
    user_id: Uuid,
    key: &IdempotencyKey,
    request_hash: &str,
) -> Result<Claim> {
    // Twice at most: a second pass follows removing an expired or abandoned claim.
    for _ in 0..2 {
        let claimed = idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
            user_id: Set(user_id),
            key: Set(key.as_str().to_owned()),
            request_hash: Set(request_hash.to_owned()),
            status: Set(None),
            headers: Set(None),
            body: Set(None),
            created_at: Set(now()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
        if matches!(claimed, TryInsertResult::Inserted(1)) {
            return Ok(Claim::Run);
        }
        let Some(existing) =
            idempotency_keys::Entity::find_by_id((user_id, key.as_str().to_owned()))
                .one(db)
                .await?
        else {
            continue;
        };
        let age = (now() - existing.created_at).to_std().unwrap_or_default();
        if age >= KEY_TTL || (existing.status.is_none() && age >= ABANDONED_AFTER) {
            idempotency_keys::Entity::delete_many()
                .filter(Column::UserId.eq(user_id))
                .filter(Column::Key.eq(key.as_str()))
                .filter(Column::CreatedAt.eq(existing.created_at))
                .exec(db)
                .await?;
            continue;
        }
        if existing.request_hash != request_hash {
            return Err(Error::IdempotencyKeyReused);
        }
        return match (existing.status, existing.body) {
            (Some(status), Some(body)) => Ok(Claim::Replay(StoredAnswer {
                status: u16::try_from(status)
                    .map_err(|e| Error::internal("stored answer status", e))?,
                headers: headers_from_json(existing.headers),
                body,
            })),
            _ => Err(Error::Conflict(
                "a request with this Idempotency-Key is still running; retry when it has answered"
                    .into(),
            )),
        };
    }
    Err(Error::Conflict(
        "a request with this Idempotency-Key is being replaced; retry".into(),
    ))
}

/// Stores the answer of the request that claimed `key`.
pub async fn complete(
    db: &DatabaseConnection,
    user_id: Uuid,
    key: &IdempotencyKey,
    answer: StoredAnswer,
) -> Result<()> {
    let headers = Value::Array(
        answer
            .headers
            .into_iter()
            .map(|(name, value)| Value::Array(vec![Value::String(name), Value::String(value)]))
            .collect(),
    );
    idempotency_keys::Entity::update_many()
        .col_expr(Column::Status, i32::from(answer.status).into())
        .col_expr(Column::Headers, sea_orm::sea_query::Expr::value(headers))
        .col_expr(Column::Body, answer.body.into())
        .filter(unanswered(user_id, key))
        .exec(db)
        .await?;
    Ok(())
}

/// The caller's key, taken by a request that has not answered yet.
fn unanswered(user_id: Uuid, key: &IdempotencyKey) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::UserId.eq(user_id))
        .add(Column::Key.eq(key.as_str()))
        .add(Column::Status.is_null())
}

/// Gives the key up without an answer (the request failed in a way worth retrying), so
/// that a repeat runs again.
pub async fn release(db: &DatabaseConnection, user_id: Uuid, key: &IdempotencyKey) -> Result<()> {
    idempotency_keys::Entity::delete_many()
        .filter(unanswered(user_id, key))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the keys older than [`KEY_TTL`]; returns how many.
pub async fn prune(db: &DatabaseConnection) -> Result<u64> {
    let ttl = chrono::Duration::from_std(KEY_TTL)
        .map_err(|e| Error::internal("idempotency TTL out of range", e))?;
    Ok(idempotency_keys::Entity::delete_many()
        .filter(Column::CreatedAt.lt(now() - ttl))
        .exec(db)
        .await?
        .rows_affected)
}

fn headers_from_json(headers: Option<Value>) -> Vec<(String, String)> {
    let Some(Value::Array(pairs)) = headers else {
        return Vec::new();
    };
    pairs
        .into_iter()
        .filter_map(|pair| match pair {
            Value::Array(mut kv) if kv.len() == 2 => {
                let value = kv.pop()?;
                let name = kv.pop()?;
                Some((name.as_str()?.to_owned(), value.as_str()?.to_owned()))
            }
            _ => None,
        })
        .collect()
}
