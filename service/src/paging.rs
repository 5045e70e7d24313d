//! Keyset pagination: a cursor is the last item's sort key and id, opaque to clients and
//! checked on the way back in. No OFFSET, so pages stay stable while others insert.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Where a cursor points: after the row with this sort key and id, in this ordering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Which list and ordering the cursor belongs to.
    #[serde(rename = "o")]
    pub ordering: String,
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        // Serializing a struct of strings and a UUID cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor and checks it was made for `ordering`.
    pub fn decode(raw: &str, ordering: &str) -> Result<Self> {
        let bad =
            || Error::BadRequest("invalid cursor; use next_cursor from the previous page".into());
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim_end_matches('='))
            .map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        // A client can forge a cursor; its key is bound as a query parameter, and
        // PostgreSQL cannot take NUL in text.
        if cursor.ordering != ordering || cursor.key.contains('\0') || cursor.key.len() > 1024 {
            return Err(bad());
        }
        Ok(cursor)
    }
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u64,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn parse(limit: Option<u64>, cursor: Option<String>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::validation(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(Self {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        })
    }
}

/// Cuts the `limit + 1` rows fetched down to a page, with a cursor when more follow.
pub fn into_page<R, T>(
    mut rows: Vec<R>,
    limit: u64,
    ordering: &str,
    key_of: impl Fn(&R) -> (String, Uuid),
    to_item: impl FnMut(R) -> T,
) -> Page<T> {
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|last| {
            let (key, id) = key_of(last);
            Cursor {
                ordering: ordering.to_owned(),
                key,
                id,
            }
            .encode()
        })
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(to_item).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            ordering: "elements:name".into(),
            key: "Zed".into(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode(), "elements:name").unwrap(), c);
        assert!(Cursor::decode(&c.encode(), "elements:-name").is_err());
        let forged = Cursor {
            key: "a\0b".into(),
            ..c.clone()
        };
        assert!(Cursor::decode(&forged.encode(), "elements:name").is_err());
        assert!(Cursor::decode("not a cursor", "elements:name").is_err());
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(201), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
    }
}
