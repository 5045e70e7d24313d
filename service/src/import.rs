//! Importing an export as a new world owned by the caller. The body is parsed a line at
//! a time as it arrives, and written in ONE transaction as it is read, [`CHUNK_ROWS`]
//! lines at a time (each line checked as it is read, the chunk with the bulk forms of
//! the write functions, which check and write it as the lines one by one would): a bad line (or
//! anything else failing) rolls everything back and is answered 422 with `errors[].field`
//! = `line <n>`; nothing is written. A dry run does the same work and rolls back at the
//! end, so it finds exactly what a real import would refuse.
//!
//! Every write goes through the same write functions as the endpoints (element, relation,
//! kind), so the change log, counts and checks are those of any other write. Three things
//! are import's own:
//! - New ids are derived from the old ones (a keyed hash, unique to this import, in a
//!   UUID v7 of the import's time), so every reference maps without a table of the ids
//!   seen: memory stays flat however many elements come.
//! - Kind lines are applied after the elements and relations, so an element that breaks
//!   a schema carried in the same file is still imported (it shows in the violations).
//! - Mentions (`[[id]]` in summaries) are mapped like every other reference, and linked
//!   once all elements are written ([`mentions::link_all`]): a summary may mention an
//!   element that comes later in the file.
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use sea_orm::EntityTrait;

use crate::access::{Need, Role};
use crate::auth::Actor;
use crate::changes::{WorldWrite, begin_write};
use crate::element_write::{self, BulkError, NewElement};
use crate::elements::{self, CreateElementRequest};
use crate::error::{Error, FieldError, Result};
use crate::export::{FORMAT, FORMAT_VERSION};
use crate::json_body;
use crate::json_limits::{MAX_JSON_DEPTH, depth_exceeds};
use crate::kinds::{self, PutKindRequest};
use crate::mentions;
use crate::relations::{self, CreateRelationRequest, NewRelation};
use crate::values::Kind;
use crate::versioning::Preserved;
use crate::worlds::{self, CreateWorldRequest, WorldDto};

/// The longest line accepted (an element's documents are at most 256 KiB each).
pub const MAX_LINE_BYTES: usize = 2 * 1024 * 1024;
/// Element and relation lines read before they are written together
/// ([`element_write::create_many`], [`relations::write::create_many`]), and their changes
/// with them ([`WorldWrite::flush`]): memory stays flat, and the rows go in multi-row
/// statements.
const CHUNK_ROWS: usize = 2000;
/// Kind lines are held until the end: at most this many, of at most this size in all.
const MAX_KINDS: usize = 10_000;
const MAX_KINDS_BYTES: usize = 16 * 1024 * 1024;

/// What an import holds (or a dry run would write).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportCounts {
    pub elements: u64,
    pub relations: u64,
    pub kinds: u64,
}

impl ImportCounts {
    pub fn rows(&self) -> u64 {
        self.elements + self.relations + self.kinds
    }
}

pub enum ImportOutcome {
    Imported(WorldDto, ImportCounts),
    DryRun(ImportCounts),
}

/// Imports the NDJSON export `body` as a new world owned by `actor`. `progress` is called
/// with the counts so far now and then (every [`CHUNK_ROWS`] rows).
pub async fn import<S, B>(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    body: S,
    dry_run: bool,
    mut progress: impl FnMut(&ImportCounts),
) -> Result<ImportOutcome>
where
    S: Stream<Item = Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    actor.require(Need::Write)?;
    let mut importer = Importer::new(actor);
    let mut lines = Lines::new(body);
    loop {
        let (number, line) = match lines.next().await {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(error) => {
                // The lines read before would have failed first.
                importer.write_pending().await?;
                return Err(error);
            }
        };
        if let Err(error) = importer.line(db, number, &line).await {
            // The lines read before this one would have failed first.
            importer.write_pending().await?;
            return Err(at_line(number, error));
        }
        if importer.pending() >= CHUNK_ROWS {
            importer.write_pending().await?;
            progress(&importer.counts);
        }
    }
    importer.write_pending().await?;
    let Some(mut w) = importer.write.take() else {
        return Err(at_line(1, Error::validation("body", "the file is empty")));
    };
    if importer.mentions {
        // Mentions of elements that came later in the file than the summary.
        mentions::link_all(w.txn(), w.world_id()).await?;
    }
    let kinds = std::mem::take(&mut importer.kinds);
    for (number, kind) in kinds {
        let request = PutKindRequest {
            description: kind.description,
            schema: kind.schema,
        };
        kinds::put_kind_in(&mut w, kind.kind, None, request)
            .await
            .map_err(|e| at_line(number, e))?;
        importer.counts.kinds += 1;
    }
    progress(&importer.counts);
    if dry_run {
        // Dropping the write rolls it back.
        return Ok(ImportOutcome::DryRun(importer.counts));
    }
    let world_id = w.world_id();
    w.commit().await?;
    let world = entity::worlds::Entity::find_by_id(world_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal("an imported world vanished".into()))?;
    Ok(ImportOutcome::Imported(
        WorldDto::new(world, Some(Role::Owner)),
        importer.counts,
    ))
}

/// A line's failure as the client sees it: `line <n>`, with the field in the message.
fn at_line(number: u64, error: Error) -> Error {
    let field = format!("line {number}");
    let describe = |e: &FieldError| format!("{}: {}", e.field, e.message);
    match error {
        Error::Validation(errors) => Error::Validation(
            errors
                .iter()
                .map(|e| FieldError::new(field.clone(), describe(e)))
                .collect(),
        ),
        Error::Conflict(why) => Error::Validation(vec![FieldError::new(field, why)]),
        Error::NotFound => Error::Validation(vec![FieldError::new(
            field,
            "names something that is not in the file before this line",
        )]),
        Error::PreconditionFailed => Error::Validation(vec![FieldError::new(
            field,
            "conflicts with an earlier line",
        )]),
        other => other,
    }
}

/// Which part of the file a line is in; the parts come in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Kinds,
    Elements,
    Relations,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Kinds => "kind",
            Section::Elements => "element",
            Section::Relations => "relation",
        }
    }
}

struct Importer<'a> {
    actor: &'a Actor,
    /// `None` until the header made the world.
    write: Option<WorldWrite>,
    section: Section,
    ids: IdMap,
    kinds: Vec<(u64, KindFields)>,
    kinds_bytes: usize,
    /// Lines read and checked on their own, not written yet, with their line numbers.
    elements: Vec<(u64, (Uuid, NewElement))>,
    relations: Vec<(u64, (Uuid, NewRelation))>,
    counts: ImportCounts,
    /// Whether a summary may mention an element (so the mentions are linked at the end).
    mentions: bool,
}

impl<'a> Importer<'a> {
    fn new(actor: &'a Actor) -> Self {
        Self {
            actor,
            write: None,
            section: Section::Kinds,
            ids: IdMap::new(),
            kinds: Vec::new(),
            kinds_bytes: 0,
            elements: Vec::new(),
            relations: Vec::new(),
            counts: ImportCounts::default(),
            mentions: false,
        }
    }

    async fn line(
        &mut self,
        db: &sea_orm::DatabaseConnection,
        number: u64,
        text: &[u8],
    ) -> Result<()> {
        let value = parse_line(text)?;
        if self.write.is_none() {
            let header: Header = json_body::from_value(value).map_err(one)?;
            if header.format != FORMAT || header.version != FORMAT_VERSION {
                return Err(Error::validation(
                    "format",
                    format!("must be \"{FORMAT}\" version {FORMAT_VERSION}"),
                ));
            }
            let txn = begin_write(db).await?;
            let world = worlds::create_in(&txn, self.actor, header.world).await?;
            self.write = Some(WorldWrite::within(txn, world.id, self.actor.user_id).await?);
            return Ok(());
        }
        let line: Line = json_body::from_value(value).map_err(one)?;
        let section = line.section();
        if section < self.section {
            return Err(Error::validation(
                section.name(),
                format!(
                    "{} lines must come before {} lines",
                    section.name(),
                    self.section.name()
                ),
            ));
        }
        self.section = section;
        match line {
            Line::Kind(kind) => {
                Kind::parse("kind", kind.kind.clone()).map_err(|e| Error::Validation(vec![e]))?;
                if self.kinds.iter().any(|(_, k)| k.kind == kind.kind) {
                    return Err(Error::validation("kind", "repeats an earlier kind line"));
                }
                self.kinds_bytes += text.len();
                if self.kinds.len() >= MAX_KINDS || self.kinds_bytes > MAX_KINDS_BYTES {
                    return Err(Error::validation(
                        "kind",
                        format!(
                            "an import takes at most {MAX_KINDS} kinds of {} MiB in all",
                            MAX_KINDS_BYTES / (1024 * 1024)
                        ),
                    ));
                }
                // Applied after the elements (see the module's notes), its line number
                // kept for an error then.
                self.kinds.push((number, kind));
            }
            Line::Element(element) => {
                // A mention is a reference like the others: `[[old id]]` becomes
                // `[[new id]]`. Ids the file has no element for map to ids that name
                // nothing, so they stay text, as they were.
                let summary = element.summary.map(|text| {
                    self.mentions |= text.contains("[[");
                    mentions::map_mentions(&text, |id| self.ids.map(id))
                });
                let request = CreateElementRequest {
                    kind: element.kind,
                    name: element.name,
                    summary,
                    attributes: Some(element.attributes),
                    tags: Some(element.tags),
                    parent_id: element.parent_id.map(|id| self.ids.map(id)),
                };
                let mut new = elements::parse_create(request)?;
                new.preserved = Some(Preserved {
                    id: self.ids.map(element.id),
                    created_at: element.created_at,
                    updated_at: element.updated_at,
                });
                self.elements
                    .push((number, (element_write::new_id(&new), new)));
            }
            Line::Relation(relation) => {
                let request = CreateRelationRequest {
                    source_id: self.ids.map(relation.source_id),
                    target_id: self.ids.map(relation.target_id),
                    kind: relation.kind,
                    attributes: Some(relation.attributes),
                };
                let mut new = relations::parse_create(request)?;
                new.preserved = Some(Preserved {
                    id: self.ids.map(relation.id),
                    created_at: relation.created_at,
                    updated_at: relation.updated_at,
                });
                self.relations
                    .push((number, (relations::write::new_id(&new), new)));
            }
        }
        Ok(())
    }
}

impl Importer<'_> {
    fn write_mut(&mut self) -> Result<&mut WorldWrite> {
        self.write
            .as_mut()
            .ok_or_else(|| Error::Internal("import line before its header".into()))
    }

    /// Element and relation lines read and not yet written.
    fn pending(&self) -> usize {
        self.elements.len() + self.relations.len()
    }

    /// Writes the lines read so far (elements first: they come first in the file) and
    /// their changes. A failure names the line of the first row that failed.
    async fn write_pending(&mut self) -> Result<()> {
        if self.pending() == 0 {
            return Ok(());
        }
        let (numbers, rows): (Vec<u64>, Vec<_>) =
            std::mem::take(&mut self.elements).into_iter().unzip();
        let w = self.write_mut()?;
        let written = element_write::create_many(w, rows)
            .await
            .map_err(|e| bulk_at_line(&numbers, e))?;
        self.counts.elements += written.len() as u64;
        let (numbers, rows): (Vec<u64>, Vec<_>) =
            std::mem::take(&mut self.relations).into_iter().unzip();
        let w = self.write_mut()?;
        let written = relations::write::create_many(w, rows)
            .await
            .map_err(|e| bulk_at_line(&numbers, e))?;
        self.counts.relations += written.len() as u64;
        self.write_mut()?.flush().await
    }
}

/// A bulk write's failure, at the line of the row that failed (`numbers[i]` is row i's).
fn bulk_at_line(numbers: &[u64], failure: BulkError) -> Error {
    match failure.index.and_then(|i| numbers.get(i)) {
        Some(&number) => at_line(number, failure.error),
        None => failure.error,
    }
}

fn one(error: FieldError) -> Error {
    Error::Validation(vec![error])
}

/// A line as JSON, under the limits every request body has (depth, no NUL characters).
fn parse_line(text: &[u8]) -> Result<Value> {
    if depth_exceeds(text, MAX_JSON_DEPTH) {
        return Err(Error::validation(
            "line",
            format!("JSON may be nested at most {MAX_JSON_DEPTH} levels deep"),
        ));
    }
    let value: Value = serde_json::from_slice(text)
        .map_err(|e| Error::validation("line", format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::validation("line", "must be a JSON object"));
    }
    if let Some(path) = json_body::nul_path(&value) {
        return Err(Error::validation(path, "must not contain NUL characters"));
    }
    Ok(value)
}

/// New ids for old: a keyed hash of the old id (a random key per import) as the random
/// bits of a UUID v7 of the old id's time (of the import's time when the old id is no
/// UUID v7). The same old id always maps to the same new one, so references map without
/// remembering the ids seen; and the new ids sort as the old ones did, so the rows,
/// written in the file's order, are stored in the order of their ids (as rows made one
/// by one are), which keeps reading a world in id order (an export) a sequential read
/// and appends new ids to the indexes instead of scattering them.
struct IdMap {
    key: [u8; 32],
    millis: u64,
}

impl IdMap {
    fn new() -> Self {
        let millis = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        Self {
            key: rand::random(),
            millis,
        }
    }

    fn map(&self, old: Uuid) -> Uuid {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(old.as_bytes())
            .finalize();
        let mut random = [0u8; 10];
        random.copy_from_slice(&digest[..10]);
        let millis = match old.get_version() {
            Some(uuid::Version::SortRand) => old.get_timestamp().map(|at| {
                let (seconds, nanos) = at.to_unix();
                seconds * 1000 + u64::from(nanos / 1_000_000)
            }),
            _ => None,
        };
        uuid::Builder::from_unix_timestamp_millis(millis.unwrap_or(self.millis), &random)
            .into_uuid()
    }
}

/// The first line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    #[allow(dead_code)]
    exported_at: Option<chrono::DateTime<chrono::Utc>>,
    world: CreateWorldRequest,
}

/// Every other line: one key, the line's type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum Line {
    Kind(KindFields),
    Element(ElementFields),
    Relation(RelationFields),
}

impl Line {
    fn section(&self) -> Section {
        match self {
            Line::Kind(_) => Section::Kinds,
            Line::Element(_) => Section::Elements,
            Line::Relation(_) => Section::Relations,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindFields {
    kind: String,
    #[serde(default)]
    description: Option<String>,
    schema: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ElementFields {
    id: Uuid,
    #[serde(default)]
    parent_id: Option<Uuid>,
    kind: String,
    name: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default = "empty_object")]
    attributes: Value,
    #[serde(default)]
    tags: Vec<String>,
    created_at: sea_orm::prelude::DateTimeWithTimeZone,
    updated_at: sea_orm::prelude::DateTimeWithTimeZone,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationFields {
    id: Uuid,
    source_id: Uuid,
    target_id: Uuid,
    kind: String,
    #[serde(default = "empty_object")]
    attributes: Value,
    created_at: sea_orm::prelude::DateTimeWithTimeZone,
    updated_at: sea_orm::prelude::DateTimeWithTimeZone,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// The body's lines, as they arrive, with their numbers (from 1). Blank lines are
/// skipped (but counted). A line longer than [`MAX_LINE_BYTES`] is refused before it is
/// read whole.
struct Lines<S> {
    body: S,
    buffer: Vec<u8>,
    /// Where the next line starts in `buffer`: the lines before it are handed out, and
    /// dropped from the buffer only when more of the body comes (one move per chunk of
    /// the body, not one per line).
    start: usize,
    /// Where the search for the next newline resumes in `buffer`.
    scanned: usize,
    number: u64,
    ended: bool,
}

impl<S, B> Lines<S>
where
    S: Stream<Item = Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    fn new(body: S) -> Self {
        Self {
            body,
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            number: 0,
            ended: false,
        }
    }

    async fn next(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        loop {
            if let Some(at) = self.buffer[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + at;
                let line = &self.buffer[self.start..end];
                self.start = end + 1;
                self.scanned = self.start;
                self.number += 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some((self.number, line.to_vec())));
            }
            self.scanned = self.buffer.len();
            if self.buffer.len() - self.start > MAX_LINE_BYTES {
                return Err(at_line(
                    self.number + 1,
                    Error::validation(
                        "line",
                        format!("is longer than {} MiB", MAX_LINE_BYTES / (1024 * 1024)),
                    ),
                ));
            }
            if self.ended {
                let rest = self.buffer.split_off(self.start);
                self.start = 0;
                self.scanned = 0;
                self.buffer.clear();
                if rest.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                self.number += 1;
                return Ok(Some((self.number, rest)));
            }
            match self.body.next().await {
                Some(chunk) => {
                    self.buffer.drain(..self.start);
                    self.scanned -= self.start;
                    self.start = 0;
                    self.buffer.extend_from_slice(chunk?.as_ref());
                }
                None => self.ended = true,
            }
        }
    }
}

/// The account the command line's import makes the new world for: it acts as that
/// user's own login would. `NotFound` when no account has the email.
pub async fn owner_by_email(db: &sea_orm::DatabaseConnection, email: &str) -> Result<Actor> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let email = crate::values::Email::parse(email).map_err(one)?;
    let user = entity::users::Entity::find()
        .filter(entity::users::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Actor {
        user_id: user.id,
        grant: crate::auth::Grant::Login {
            session_id: Uuid::nil(),
        },
    })
}
