//! A world's export: NDJSON, one JSON object per line, in the contract's order (the
//! header, kinds, elements with every parent before its children, relations), streamed
//! from the database a page at a time, so memory does not grow with the world.
//!
//! The pages are read in one repeatable-read transaction (SQLite: one read transaction),
//! so the export is one consistent snapshot however long it streams. Parents come before
//! children because elements are read in order of their stored `depth` (how many
//! ancestors each has, kept by the element write path), which the index
//! `world_elements (world_id, depth, id)` serves: SQLite pages through it by
//! `(depth, id)`; PostgreSQL reads it, and the relations, as one query each whose rows
//! it sends as it makes them (see [`Part`]).
//! A task reads the pages ahead of the response, so the database and the rendering and
//! sending of lines overlap.
use std::pin::Pin;

use chrono::{DateTime, Utc};
use entity::{element_kinds, element_relations, worlds};
use futures_util::{Stream, StreamExt};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, IsolationLevel, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait,
    Statement, TransactionOptions, TransactionTrait, prelude::DateTimeWithTimeZone,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::access::world_access;
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::values::Visibility;

/// The `format` of the header line.
pub const FORMAT: &str = "lorebase.world";
/// The `version` of the header line.
pub const FORMAT_VERSION: u32 = 1;

/// Rows per page (and per chunk of the stream): a round trip per 5,000 rows, a few MiB of
/// lines in memory at a time.
const PAGE_ROWS: u64 = 5000;

/// A piece of the export: whole lines, and how many rows they hold.
pub struct ExportChunk {
    pub text: String,
    pub rows: u64,
}

pub type ExportStream = Pin<Box<dyn Stream<Item = Result<ExportChunk>> + Send>>;

/// The world's export, for a caller who may read it.
pub async fn export(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
) -> Result<ExportStream> {
    world_access(db, caller, world_id).await?;
    open(db, world_id).await
}

/// The world's export, without asking who wants it (the command line's `export`).
/// `NotFound` when there is no such world.
pub async fn open(db: &DatabaseConnection, world_id: Uuid) -> Result<ExportStream> {
    let backend = db.get_database_backend();
    let options = TransactionOptions {
        isolation_level: (backend == DbBackend::Postgres).then_some(IsolationLevel::RepeatableRead),
        ..Default::default()
    };
    let txn = db.begin_with_options(options).await?;
    if backend == DbBackend::Postgres {
        // A pass over a big world is estimated dear enough to be JIT-compiled, which
        // costs more than it saves on a plain scan.
        txn.execute_unprepared("SET LOCAL jit = off").await?;
    }
    let world = worlds::Entity::find_by_id(world_id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound)?;
    if backend == DbBackend::Postgres {
        // Never a sort of a whole world (which spills to disk): the order is the index's.
        txn.execute_unprepared("SET LOCAL enable_sort = off")
            .await?;
    }
    let mut pages = Pages {
        txn: Some(txn),
        world,
        phase: Phase::Header,
    };
    // The pages are read (and rendered) by a task of their own, up to READ_AHEAD chunks
    // ahead of the response: the database makes the next page while this one is sent.
    // When the response goes away, the task's next send fails and it ends, dropping (and
    // so rolling back) the transaction.
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        loop {
            let next = pages.next_page().await;
            if let Ok(Some(Page::Stream(part))) = next {
                match pages.stream(part, &sender).await {
                    Ok(true) => {
                        pages.phase = part.next();
                        continue;
                    }
                    // Nobody reads the export any more.
                    Ok(false) => break,
                    Err(error) => {
                        let _ = sender.send(Err(error)).await;
                        break;
                    }
                }
            }
            let end = !matches!(next, Ok(Some(_)));
            let next = match next {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => break,
                Err(error) => Err(error),
            };
            if sender.send(next).await.is_err() || end {
                break;
            }
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move {
            let page = receiver.recv().await?;
            Some((page.and_then(Page::render), receiver))
        },
    )))
}

/// Pages read ahead of the response (each at most [`PAGE_ROWS`] rows).
const READ_AHEAD: usize = 2;

/// A PostgreSQL export's two big parts, in the order they are read, each ONE query whose
/// rows the database sends as it makes them ([`Pages::stream`]): the server parses and
/// renders rows while the database makes the next ones. Pages fetched one after the other
/// (keyset pages, then a cursor's `FETCH`es) left the database idle while the server
/// handled each page, and the server idle while the database made the next.
#[derive(Clone, Copy)]
enum Part {
    Elements,
    Relations,
}

impl Part {
    fn query(self, world_id: Uuid) -> Statement {
        let sql = match self {
            // Every element in the order of the index `(world_id, depth, id)`, no sort
            // (`enable_sort` is off for the export): ids are UUID v7s, in the order rows
            // are written (an import keeps the old ids' order), so each level reads the
            // table in about the order it is stored. One pass over the index and the
            // world's rows; reading the roots by a scan of the table and the rest through
            // the index was a pass and a fifth.
            Part::Elements => {
                "SELECT e.id AS id, e.parent_id AS parent_id, e.kind AS kind, e.name AS name, \
                 e.summary AS summary, CAST(e.attributes AS TEXT) AS attributes, \
                 CAST(e.tags AS TEXT) AS tags, e.created_at AS created_at, \
                 e.updated_at AS updated_at \
                 FROM world_elements e WHERE e.world_id = $1 ORDER BY e.depth, e.id"
            }
            Part::Relations => {
                "SELECT id, source_id, target_id, kind, CAST(attributes AS TEXT) AS attributes, \
                 created_at, updated_at FROM element_relations WHERE world_id = $1"
            }
        };
        Statement::from_sql_and_values(DbBackend::Postgres, sql, [world_id.into()])
    }

    fn page(self, rows: Vec<QueryResult>) -> Page {
        match self {
            Part::Elements => Page::Elements(rows),
            Part::Relations => Page::Relations(rows),
        }
    }

    fn next(self) -> Phase {
        match self {
            Part::Elements => Phase::Stream(Part::Relations),
            Part::Relations => Phase::Done,
        }
    }
}

fn placeholder(backend: DbBackend) -> impl Fn(usize) -> String {
    move |n| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

enum Phase {
    Header,
    Kinds {
        after: Option<String>,
    },
    /// PostgreSQL: a part read as one query ([`Pages::stream`]).
    Stream(Part),
    /// SQLite: the elements after `(depth, id)`.
    Elements {
        after: (i32, Option<Uuid>),
    },
    Relations {
        after: Option<Uuid>,
    },
    Done,
}

struct Pages {
    /// Rolled back (the cursors with it) when the export ends.
    txn: Option<DatabaseTransaction>,
    world: worlds::Model,
    phase: Phase,
}

impl Pages {
    fn txn(&self) -> Result<&DatabaseTransaction> {
        self.txn
            .as_ref()
            .ok_or_else(|| Error::Internal("export read after its end".into()))
    }

    /// The next page, or `None` at the end.
    async fn next_page(&mut self) -> Result<Option<Page>> {
        loop {
            match &self.phase {
                Phase::Header => {
                    self.phase = Phase::Kinds { after: None };
                    let mut text = line(&Header {
                        format: FORMAT,
                        version: FORMAT_VERSION,
                        exported_at: Utc::now(),
                        world: WorldLine {
                            name: &self.world.name,
                            description: self.world.description.as_deref(),
                            settings: &self.world.settings,
                            visibility: Visibility::from_db(&self.world.visibility),
                        },
                    })?;
                    text.push('\n');
                    return Ok(Some(Page::Lines(ExportChunk { text, rows: 1 })));
                }
                Phase::Kinds { after } => {
                    let rows = self.kinds_page(after.clone()).await?;
                    match rows.last() {
                        Some(last) => {
                            self.phase = Phase::Kinds {
                                after: Some(last.kind.clone()),
                            };
                            return lines(&rows, |k| {
                                line(&KindLine {
                                    kind: KindFields {
                                        kind: &k.kind,
                                        description: k.description.as_deref(),
                                        schema: &k.schema,
                                    },
                                })
                            })
                            .map(|chunk| Some(Page::Lines(chunk)));
                        }
                        None => {
                            self.phase = match self.txn()?.get_database_backend() {
                                DbBackend::Postgres => Phase::Stream(Part::Elements),
                                _ => Phase::Elements { after: (-1, None) },
                            }
                        }
                    }
                }
                Phase::Stream(part) => return Ok(Some(Page::Stream(*part))),
                Phase::Elements { after } => {
                    let rows = self.elements_page(*after).await?;
                    match rows.last() {
                        Some(last) => {
                            self.phase = Phase::Elements {
                                after: (last.try_get("", "depth")?, Some(last.try_get("", "id")?)),
                            };
                            return Ok(Some(Page::Elements(rows)));
                        }
                        None => self.phase = Phase::Relations { after: None },
                    }
                }
                Phase::Relations { after } => {
                    let rows = self.relations_page(*after).await?;
                    match rows.last() {
                        Some(last) => {
                            self.phase = Phase::Relations {
                                after: Some(last.try_get("", "id")?),
                            };
                            return Ok(Some(Page::Relations(rows)));
                        }
                        None => self.phase = Phase::Done,
                    }
                }
                Phase::Done => {
                    if let Some(txn) = self.txn.take() {
                        txn.rollback().await?;
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Sends `part`'s rows to `sender` in pages of [`PAGE_ROWS`] as the database sends
    /// them; `false` when the receiver is gone. A full channel stops the reading, and the
    /// database then waits on the connection: memory stays bounded.
    async fn stream(
        &self,
        part: Part,
        sender: &tokio::sync::mpsc::Sender<Result<Page>>,
    ) -> Result<bool> {
        use sea_orm::StreamTrait;
        let txn = self.txn()?;
        let mut rows = txn.stream_raw(part.query(self.world.id)).await?;
        let mut page = Vec::with_capacity(PAGE_ROWS as usize);
        while let Some(row) = rows.next().await {
            page.push(row?);
            if page.len() == PAGE_ROWS as usize {
                let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE_ROWS as usize));
                if sender.send(Ok(part.page(full))).await.is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(page.is_empty() || sender.send(Ok(part.page(page))).await.is_ok())
    }

    async fn kinds_page(&self, after: Option<String>) -> Result<Vec<element_kinds::Model>> {
        let mut query =
            element_kinds::Entity::find().filter(element_kinds::Column::WorldId.eq(self.world.id));
        if let Some(after) = after {
            query = query.filter(element_kinds::Column::Kind.gt(after));
        }
        Ok(query
            .order_by_asc(element_kinds::Column::Kind)
            .limit(PAGE_ROWS)
            .all(self.txn()?)
            .await?)
    }

    async fn elements_page(&self, (depth, id): (i32, Option<Uuid>)) -> Result<Vec<QueryResult>> {
        let txn = self.txn()?;
        let backend = txn.get_database_backend();
        let p = placeholder(backend);
        // The first page starts at depth -1 (before every root), with no id. A row-value
        // comparison, which the database reads from the index `(world_id, depth, id)`
        // where it stops; the same condition spelt with OR made each page scan the key
        // from its start.
        let nil = id.unwrap_or(Uuid::nil());
        let sql = format!(
            "SELECT e.depth AS depth, e.id AS id, e.parent_id AS parent_id, e.kind AS kind, \
                    e.name AS name, e.summary AS summary, \
                    CAST(e.attributes AS TEXT) AS attributes, CAST(e.tags AS TEXT) AS tags, \
                    e.created_at AS created_at, e.updated_at AS updated_at \
             FROM world_elements e \
             WHERE e.world_id = {p1} AND (e.depth, e.id) > ({p2}, {p3}) \
             ORDER BY e.depth, e.id LIMIT {p4}",
            p1 = p(1),
            p2 = p(2),
            p3 = p(3),
            p4 = p(4),
        );
        Ok(txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    self.world.id.into(),
                    depth.into(),
                    nil.into(),
                    (PAGE_ROWS as i64).into(),
                ],
            ))
            .await?)
    }

    async fn relations_page(&self, after: Option<Uuid>) -> Result<Vec<QueryResult>> {
        let as_text = |column: element_relations::Column| {
            Expr::col((element_relations::Entity, column)).cast_as("text")
        };
        let mut query = element_relations::Entity::find()
            .select_only()
            .columns([
                element_relations::Column::Id,
                element_relations::Column::SourceId,
                element_relations::Column::TargetId,
                element_relations::Column::Kind,
                element_relations::Column::CreatedAt,
                element_relations::Column::UpdatedAt,
            ])
            .column_as(as_text(element_relations::Column::Attributes), "attributes")
            .filter(element_relations::Column::WorldId.eq(self.world.id));
        if let Some(after) = after {
            query = query.filter(element_relations::Column::Id.gt(after));
        }
        let txn = self.txn()?;
        let statement = query
            .order_by_asc(element_relations::Column::Id)
            .limit(PAGE_ROWS)
            .build(txn.get_database_backend());
        Ok(txn.query_all_raw(statement).await?)
    }
}

fn line<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal("export line", e))
}

/// The rows as lines; `to_line` renders one (see [`line`]).
fn lines<R>(rows: &[R], to_line: impl Fn(&R) -> Result<String>) -> Result<ExportChunk> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&to_line(row)?);
        text.push('\n');
    }
    Ok(ExportChunk {
        text,
        rows: rows.len() as u64,
    })
}

/// What the reading task hands to the response: lines rendered already (the header,
/// kinds), or a page of rows, which the response renders, so that the database makes the
/// next page meanwhile (reading a page and rendering it one after the other left each
/// side idle half of the time).
enum Page {
    Lines(ExportChunk),
    Elements(Vec<QueryResult>),
    Relations(Vec<QueryResult>),
    /// PostgreSQL: the part to read now, by [`Pages::stream`] (never sent).
    Stream(Part),
}

impl Page {
    fn render(self) -> Result<ExportChunk> {
        match self {
            Page::Lines(chunk) => Ok(chunk),
            Page::Elements(rows) => rendered(&rows, |row, out| {
                ElementRow::from_query_result(row, "")?.write(out)
            }),
            Page::Relations(rows) => rendered(&rows, |row, out| {
                RelationRow::from_query_result(row, "")?.write(out)
            }),
            Page::Stream(_) => Err(Error::Internal("an export part sent unread".into())),
        }
    }
}

/// The rows as lines, each written by `write` straight into the chunk's buffer.
fn rendered(
    rows: &[QueryResult],
    write: impl Fn(&QueryResult, &mut Vec<u8>) -> Result<()>,
) -> Result<ExportChunk> {
    let mut out = Vec::with_capacity(rows.len() * 512);
    for row in rows {
        write(row, &mut out)?;
        out.push(b'\n');
    }
    let text = String::from_utf8(out).map_err(|e| Error::internal("export line", e))?;
    Ok(ExportChunk {
        text,
        rows: rows.len() as u64,
    })
}

/// One export line, `{"<wrapper>":{...}}`, written field by field straight into the
/// chunk's buffer, in the order of the contract.
struct Line<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Line<'o> {
    fn open(out: &'o mut Vec<u8>, wrapper: &str) -> Self {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(wrapper.as_bytes());
        out.extend_from_slice(b"\":{");
        Line { out, first: true }
    }

    fn name(&mut self, name: &str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// `"name":` and the value as JSON.
    fn field<T: Serialize + ?Sized>(mut self, name: &str, value: &T) -> Result<Self> {
        self.name(name);
        serde_json::to_writer(&mut *self.out, value)
            .map_err(|e| Error::internal("export line", e))?;
        Ok(self)
    }

    /// `"name":` and a stored JSON document's text as it is: the database keeps only
    /// documents that were valid JSON when they were written (PostgreSQL's `jsonb` renders
    /// its own), so the text is not parsed again on the way out.
    fn raw(mut self, name: &str, text: &str) -> Self {
        self.name(name);
        self.out.extend_from_slice(text.as_bytes());
        self
    }

    fn close(self) {
        self.out.extend_from_slice(b"}}");
    }
}

#[derive(Serialize)]
struct Header<'a> {
    format: &'static str,
    version: u32,
    exported_at: DateTime<Utc>,
    world: WorldLine<'a>,
}

#[derive(Serialize)]
struct WorldLine<'a> {
    name: &'a str,
    description: Option<&'a str>,
    settings: &'a Value,
    visibility: Visibility,
}

#[derive(Serialize)]
struct KindLine<'a> {
    kind: KindFields<'a>,
}

#[derive(Serialize)]
struct KindFields<'a> {
    kind: &'a str,
    description: Option<&'a str>,
    schema: &'a Value,
}

#[derive(Debug, FromQueryResult)]
struct ElementRow {
    id: Uuid,
    parent_id: Option<Uuid>,
    kind: String,
    name: String,
    summary: Option<String>,
    attributes: String,
    tags: String,
    created_at: DateTimeWithTimeZone,
    updated_at: DateTimeWithTimeZone,
}

impl ElementRow {
    fn write(&self, out: &mut Vec<u8>) -> Result<()> {
        Line::open(out, "element")
            .field("id", &self.id)?
            .field("parent_id", &self.parent_id)?
            .field("kind", &self.kind)?
            .field("name", &self.name)?
            .field("summary", &self.summary)?
            .raw("attributes", &self.attributes)
            .raw("tags", &self.tags)
            .field("created_at", &self.created_at.with_timezone(&Utc))?
            .field("updated_at", &self.updated_at.with_timezone(&Utc))?
            .close();
        Ok(())
    }
}

#[derive(Debug, FromQueryResult)]
struct RelationRow {
    id: Uuid,
    source_id: Uuid,
    target_id: Uuid,
    kind: String,
    attributes: String,
    created_at: DateTimeWithTimeZone,
    updated_at: DateTimeWithTimeZone,
}

impl RelationRow {
    fn write(&self, out: &mut Vec<u8>) -> Result<()> {
        Line::open(out, "relation")
            .field("id", &self.id)?
            .field("source_id", &self.source_id)?
            .field("target_id", &self.target_id)?
            .field("kind", &self.kind)?
            .raw("attributes", &self.attributes)
            .field("created_at", &self.created_at.with_timezone(&Utc))?
            .field("updated_at", &self.updated_at.with_timezone(&Utc))?
            .close();
        Ok(())
    }
}
