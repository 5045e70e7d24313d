//! Keyset pagination: a cursor is the last item's sort key and id, opaque to clients and
//! checked on the way back in. No OFFSET, so pages stay stable while others insert.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use sea_orm::sea_query::{ExprTrait, IntoCondition};
use sea_orm::{ColumnTrait, Condition, Order, QueryFilter, QueryOrder, QuerySelect, Value};
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

/// How a keyset's sort key is kept in a cursor, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RFC 3339, as `to_rfc3339` writes it.
    Time,
    Text,
    Integer,
}

impl KeyType {
    fn parse(self, key: &str) -> Result<Value> {
        let bad =
            || Error::BadRequest("invalid cursor; use next_cursor from the previous page".into());
        Ok(match self {
            KeyType::Time => DateTime::parse_from_rfc3339(key).map_err(|_| bad())?.into(),
            KeyType::Text => key.to_owned().into(),
            KeyType::Integer => key.parse::<i64>().map_err(|_| bad())?.into(),
        })
    }
}

/// The order of one list: a sort key, the id that breaks its ties, or both, all in one
/// direction. Every list pages through this: the cursor is checked against `ordering`,
/// the rows after it are `key > k OR (key = k AND id > i)` (or `<` going down), and one
/// row more than the page is read to know whether another page follows.
#[derive(Debug, Clone, Copy)]
pub struct Keyset<C> {
    /// Names the list and its order in each cursor, so that another list refuses it.
    pub ordering: &'static str,
    pub key: Option<(C, KeyType)>,
    pub id: Option<C>,
    pub descending: bool,
}

impl<C: ColumnTrait + Copy> Keyset<C> {
    /// Newest first by `key` (a time), ties broken by `id`.
    pub fn newest_first(ordering: &'static str, key: C, id: C) -> Self {
        Self {
            ordering,
            key: Some((key, KeyType::Time)),
            id: Some(id),
            descending: true,
        }
    }

    /// Oldest first by `key` (a time), ties broken by `id`.
    pub fn oldest_first(ordering: &'static str, key: C, id: C) -> Self {
        Self {
            ordering,
            key: Some((key, KeyType::Time)),
            id: Some(id),
            descending: false,
        }
    }

    /// By a unique key alone.
    pub fn by_key(ordering: &'static str, key: C, key_type: KeyType, descending: bool) -> Self {
        Self {
            ordering,
            key: Some((key, key_type)),
            id: None,
            descending,
        }
    }

    /// By id alone (UUID v7: the order they were made in).
    pub fn by_id(ordering: &'static str, id: C, descending: bool) -> Self {
        Self {
            ordering,
            key: None,
            id: Some(id),
            descending,
        }
    }

    /// The rows after `page`'s cursor, if it has one.
    pub fn after(&self, page: &PageRequest) -> Result<Option<Condition>> {
        let Some(raw) = &page.cursor else {
            return Ok(None);
        };
        self.after_cursor(&Cursor::decode(raw, self.ordering)?)
            .map(Some)
    }

    /// The rows after `cursor`, which was decoded for this keyset.
    pub fn after_cursor(&self, cursor: &Cursor) -> Result<Condition> {
        let beyond = |column: C, value: Value| {
            if self.descending {
                column.lt(value)
            } else {
                column.gt(value)
            }
        };
        Ok(match (self.key, self.id) {
            (Some((key, key_type)), Some(id)) => {
                let value = key_type.parse(&cursor.key)?;
                Condition::any()
                    .add(beyond(key, value.clone()))
                    .add(key.eq(value).and(beyond(id, cursor.id.into())))
            }
            (Some((key, key_type)), None) => {
                beyond(key, key_type.parse(&cursor.key)?).into_condition()
            }
            (None, Some(id)) => beyond(id, cursor.id.into()).into_condition(),
            (None, None) => Condition::all(),
        })
    }

    /// `query` in this order.
    pub fn order<Q: QueryOrder>(&self, query: Q) -> Q {
        let mut query = query;
        let order = if self.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        if let Some((key, _)) = self.key {
            query = query.order_by(key, order.clone());
        }
        if let Some(id) = self.id {
            query = query.order_by(id, order);
        }
        query
    }

    /// `query` filtered to the rows after the cursor, in this order, one row more than a page.
    pub fn apply<Q: QueryFilter + QueryOrder + QuerySelect>(
        &self,
        query: Q,
        page: &PageRequest,
    ) -> Result<Q> {
        let mut query = query;
        if let Some(after) = self.after(page)? {
            query = query.filter(after);
        }
        Ok(self.order(query).limit(page.limit + 1))
    }

    /// The rows read by a query from `apply`, cut to a page, with the next cursor.
    pub fn page<R, T>(
        &self,
        rows: Vec<R>,
        page: &PageRequest,
        key_of: impl Fn(&R) -> (String, Uuid),
        to_item: impl FnMut(R) -> T,
    ) -> Page<T> {
        into_page(rows, page.limit, self.ordering, key_of, to_item)
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
