//! The change log: one append-only record of every change to a world and its contents,
//! written in the transaction that makes the change ([`WorldWrite`]). It is the single
//! source of the feed ([`feed`]), of each resource's history ([`history`]) and of what an
//! element was at an earlier version ([`element_at_version`]).
//!
//! Why a reader of the feed sees every change once, in commit order: every write to a
//! world starts by locking the world's row and keeps the lock until it commits. `seq` is
//! taken from `worlds.change_seq` under that lock, so a transaction that holds seq 10
//! commits (or rolls back, handing 10 out again) before any other can take 11. A reader
//! that has seen `seq` N therefore never sees a later commit with a `seq` of N or less.
//! On SQLite a write transaction holds the database's write lock from its first
//! statement (`BEGIN IMMEDIATE`), which serializes the same way.
use chrono::{DateTime, Utc};
use entity::{world_changes, world_elements, worlds};
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    prelude::DateTimeWithTimeZone,
};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::access::{
    Access, LockedWorld, Role, world_access, world_access_locked, world_access_locked_with_element,
};
use crate::auth::{Actor, Caller};
use crate::error::{Error, Result};
use crate::paging::{Page, PageRequest};
use crate::versioning::now;

/// What a change did, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum ChangeType {
    #[serde(rename = "world.updated")]
    WorldUpdated,
    #[serde(rename = "element.created")]
    ElementCreated,
    #[serde(rename = "element.updated")]
    ElementUpdated,
    #[serde(rename = "element.deleted")]
    ElementDeleted,
    #[serde(rename = "element.restored")]
    ElementRestored,
    #[serde(rename = "relation.created")]
    RelationCreated,
    #[serde(rename = "relation.updated")]
    RelationUpdated,
    #[serde(rename = "relation.deleted")]
    RelationDeleted,
    #[serde(rename = "kind.updated")]
    KindUpdated,
    #[serde(rename = "kind.deleted")]
    KindDeleted,
    #[serde(rename = "member.added")]
    MemberAdded,
    #[serde(rename = "member.updated")]
    MemberUpdated,
    #[serde(rename = "member.removed")]
    MemberRemoved,
}

impl ChangeType {
    pub const ALL: [ChangeType; 13] = [
        ChangeType::WorldUpdated,
        ChangeType::ElementCreated,
        ChangeType::ElementUpdated,
        ChangeType::ElementDeleted,
        ChangeType::ElementRestored,
        ChangeType::RelationCreated,
        ChangeType::RelationUpdated,
        ChangeType::RelationDeleted,
        ChangeType::KindUpdated,
        ChangeType::KindDeleted,
        ChangeType::MemberAdded,
        ChangeType::MemberUpdated,
        ChangeType::MemberRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::WorldUpdated => "world.updated",
            ChangeType::ElementCreated => "element.created",
            ChangeType::ElementUpdated => "element.updated",
            ChangeType::ElementDeleted => "element.deleted",
            ChangeType::ElementRestored => "element.restored",
            ChangeType::RelationCreated => "relation.created",
            ChangeType::RelationUpdated => "relation.updated",
            ChangeType::RelationDeleted => "relation.deleted",
            ChangeType::KindUpdated => "kind.updated",
            ChangeType::KindDeleted => "kind.deleted",
            ChangeType::MemberAdded => "member.added",
            ChangeType::MemberUpdated => "member.updated",
            ChangeType::MemberRemoved => "member.removed",
        }
    }

    pub fn from_db(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// A transaction that writes to one world. It holds the world row's lock from
/// [`WorldWrite::begin`] to [`WorldWrite::commit`], so every writer of a world queues on
/// one lock taken first (no deadlocks between rows taken in different orders), and the
/// changes it records get their `seq` in commit order.
pub struct WorldWrite {
    txn: DatabaseTransaction,
    world: worlds::Model,
    actor_id: Uuid,
    at: DateTimeWithTimeZone,
    changes: Vec<world_changes::ActiveModel>,
    element_delta: i64,
    /// Whether the world may have a webhook to queue deliveries for (`true` when unknown).
    has_webhooks: bool,
    /// Statements sent with the commit's statement (PostgreSQL): see [`WorldWrite::execute_with_commit`].
    pending: Vec<Statement>,
    /// Whether statements may wait for the commit (see [`WorldWrite::defer_final_write`]).
    defer: bool,
    /// What [`WorldWrite::flush`] wrote already: changes (so commit still moves the
    /// world's `change_seq`), whether one was a kind's, and whether webhooks were queued.
    flushed: Flushed,
}

#[derive(Default)]
struct Flushed {
    changes: bool,
    kinds: bool,
    queued: bool,
}

impl WorldWrite {
    /// Starts the transaction and locks the world's row. `NotFound` when the world is
    /// gone (deleted since the caller's access was checked).
    pub async fn begin(db: &DatabaseConnection, world_id: Uuid, actor_id: Uuid) -> Result<Self> {
        Self::within(begin_write(db).await?, world_id, actor_id).await
    }

    /// A write by an editor or the owner: the caller is authorized before anything else
    /// (a stranger learns nothing from 422s), then `write` runs, then the commit.
    pub async fn edit<T>(
        db: &DatabaseConnection,
        actor: &Actor,
        world_id: Uuid,
        write: impl AsyncFnOnce(&mut WorldWrite) -> Result<T>,
    ) -> Result<T> {
        let (mut w, access) = Self::begin_as(db, actor, world_id).await?;
        access.require(Role::Editor)?;
        let out = write(&mut w).await?;
        w.commit().await?;
        Ok(out)
    }

    /// Starts the transaction and resolves the caller's access to the world in the same
    /// query that locks its row: one round trip for both. Check the role on the
    /// [`Access`] before writing.
    pub async fn begin_as(
        db: &DatabaseConnection,
        actor: &Actor,
        world_id: Uuid,
    ) -> Result<(Self, Access)> {
        let txn = begin_write(db).await?;
        let locked = world_access_locked(&txn, Some(actor), world_id).await?;
        Ok(Self::locked(txn, actor, locked))
    }

    /// [`Self::begin_as`] for a write to one element, which the same query reads and locks
    /// (the element is current: nobody can change it before this transaction ends). `None`
    /// when the element is not there or the caller may not see the world: the world was
    /// then locked and authorized as [`Self::begin_as`] does, and reading the element
    /// again tells the caller which.
    pub async fn begin_as_with_element(
        db: &DatabaseConnection,
        actor: &Actor,
        world_id: Uuid,
        element_id: Uuid,
    ) -> Result<(Self, Access, Option<world_elements::Model>)> {
        let txn = begin_write(db).await?;
        let found =
            world_access_locked_with_element(&txn, Some(actor), world_id, element_id).await?;
        let (locked, element) = match found {
            Some((locked, element)) => (locked, Some(element)),
            None => (
                world_access_locked(&txn, Some(actor), world_id).await?,
                None,
            ),
        };
        let (write, access) = Self::locked(txn, actor, locked);
        Ok((write, access, element))
    }

    fn locked(txn: DatabaseTransaction, actor: &Actor, locked: LockedWorld) -> (Self, Access) {
        let access = locked.access;
        let write = Self::new(
            txn,
            access.world.clone(),
            actor.user_id,
            locked.has_webhooks,
        );
        (write, access)
    }

    /// Continues `txn` (begun with [`begin_write`]) as a write to `world_id`, locking its
    /// row: for a use case that made the world in the same transaction (an import).
    pub async fn within(txn: DatabaseTransaction, world_id: Uuid, actor_id: Uuid) -> Result<Self> {
        let world = lock_world(&txn, world_id).await?;
        Ok(Self::new(txn, world, actor_id, true))
    }

    fn new(
        txn: DatabaseTransaction,
        world: worlds::Model,
        actor_id: Uuid,
        has_webhooks: bool,
    ) -> Self {
        Self {
            txn,
            world,
            actor_id,
            at: now(),
            changes: Vec::new(),
            element_delta: 0,
            has_webhooks,
            pending: Vec::new(),
            defer: false,
            flushed: Flushed::default(),
        }
    }

    /// Writes the changes recorded so far without committing, so that a long write (an
    /// import) holds a bounded number of them in memory. [`WorldWrite::commit`] writes the
    /// rest and the world's counters.
    pub async fn flush(&mut self) -> Result<()> {
        self.send_pending().await?;
        if self.changes.is_empty() {
            return Ok(());
        }
        if self.has_webhooks {
            self.flushed.queued |=
                crate::webhooks::outbox::enqueue(&self.txn, self.world.id, &self.changes, self.at)
                    .await?;
        }
        self.flushed.kinds |= self.kinds_changed();
        let changes = std::mem::take(&mut self.changes);
        self.world.change_seq += changes.len() as i64;
        self.flushed.changes = true;
        for statement in change_inserts(self.txn.get_database_backend(), changes)? {
            self.txn.execute_raw(statement).await?;
        }
        Ok(())
    }

    /// The transaction, for the statements of the write itself; not once a statement waits
    /// for the commit ([`WorldWrite::defer_final_write`]): what is sent now would not see
    /// its effect.
    #[track_caller]
    pub fn txn(&self) -> &DatabaseTransaction {
        debug_assert!(
            self.pending.is_empty(),
            "flush the statements waiting for the commit before using the transaction"
        );
        &self.txn
    }

    /// Declares that this use case ends with the write it is about to make: the statement
    /// of that write may then wait for the commit ([`WorldWrite::execute_with_commit`]).
    /// A use case that goes on using the transaction (a batch, an import) does not.
    pub fn defer_final_write(&mut self) {
        self.defer = true;
    }

    /// Runs `statement` as part of this write, whose result nobody reads: after
    /// [`WorldWrite::defer_final_write`], on PostgreSQL, it is sent with the commit's own
    /// statement (one round trip fewer while the world's lock is held), otherwise now. The
    /// caller knows the row it writes without `RETURNING`. Its errors surface at
    /// [`WorldWrite::commit`] (or [`WorldWrite::flush`]).
    pub async fn execute_with_commit(
        &mut self,
        statement: Statement,
    ) -> std::result::Result<(), sea_orm::DbErr> {
        if self.defer && statement.db_backend == DbBackend::Postgres {
            self.pending.push(statement);
        } else {
            self.txn.execute_raw(statement).await?;
        }
        Ok(())
    }

    /// Sends the statements waiting for the commit now, for a step that must see them.
    pub async fn send_pending(&mut self) -> Result<()> {
        for statement in std::mem::take(&mut self.pending) {
            self.txn.execute_raw(statement).await?;
        }
        Ok(())
    }

    /// The world's row as it was locked.
    pub fn world(&self) -> &worlds::Model {
        &self.world
    }

    pub fn backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    pub fn world_id(&self) -> Uuid {
        self.world.id
    }

    pub fn actor_id(&self) -> Uuid {
        self.actor_id
    }

    /// Records one change. `data` is the resource's JSON after the change (`None` for a
    /// deletion); `version` its version (`None` for members, which have none).
    pub fn record(
        &mut self,
        change: ChangeType,
        resource_id: Uuid,
        version: Option<i32>,
        data: Option<Value>,
    ) {
        let seq = self.world.change_seq + self.changes.len() as i64 + 1;
        self.changes.push(world_changes::ActiveModel {
            world_id: Set(self.world.id),
            seq: Set(seq),
            r#type: Set(change.as_str().to_owned()),
            resource_id: Set(resource_id),
            version: Set(version),
            actor_id: Set(Some(self.actor_id)),
            at: Set(self.at),
            data: Set(data),
        });
    }

    /// Whether this write changed a kind (which bumps the world's `kinds_version`).
    fn kinds_changed(&self) -> bool {
        if self.flushed.kinds {
            return true;
        }
        let kind_types = [ChangeType::KindUpdated, ChangeType::KindDeleted].map(ChangeType::as_str);
        self.changes.iter().any(|c| match &c.r#type {
            sea_orm::ActiveValue::Set(t) => kind_types.contains(&t.as_str()),
            _ => false,
        })
    }

    /// The world's `kinds_version` as this write sees it: what the kinds were when the
    /// world was locked, or `None` once this write changed one (nothing known of the
    /// kinds may then be trusted).
    pub fn kinds_version(&self) -> Option<i64> {
        (!self.kinds_changed()).then_some(self.world.kinds_version)
    }

    /// Elements added (positive) or removed (negative), for the world's `element_count`.
    pub fn count_elements(&mut self, delta: i64) {
        self.element_delta += delta;
    }

    /// Writes the recorded changes and the world's counters, then commits. A write that
    /// recorded nothing changed nothing and touches no counter. The changes' webhook
    /// deliveries are queued in the same transaction (the outbox).
    pub async fn commit(mut self) -> Result<()> {
        let mut queued = self.flushed.queued;
        if !self.changes.is_empty() && self.has_webhooks {
            queued |=
                crate::webhooks::outbox::enqueue(&self.txn, self.world.id, &self.changes, self.at)
                    .await?;
        }
        if !self.changes.is_empty() || self.flushed.changes || self.element_delta != 0 {
            let last_seq = self.world.change_seq + self.changes.len() as i64;
            let mut bump = worlds::Entity::update_many()
                .col_expr(worlds::Column::ChangeSeq, Expr::value(last_seq))
                .col_expr(
                    worlds::Column::ElementCount,
                    Expr::col(worlds::Column::ElementCount).add(self.element_delta),
                )
                .filter(worlds::Column::Id.eq(self.world.id));
            if self.kinds_changed() {
                bump = bump.col_expr(
                    worlds::Column::KindsVersion,
                    Expr::col(worlds::Column::KindsVersion).add(1),
                );
            }
            let backend = self.txn.get_database_backend();
            let mut chunks =
                change_inserts(backend, std::mem::take(&mut self.changes))?.into_iter();
            match (backend, chunks.next()) {
                // Fewer round trips while the world's lock is held: the write's own
                // statements and the counters ride along with the first insert, as
                // data-modifying WITHs.
                (DbBackend::Postgres, Some(first)) => {
                    let mut ahead = std::mem::take(&mut self.pending);
                    ahead.push(bump.build(backend));
                    let statement = with_statements(ahead, first)?;
                    self.txn.execute_raw(statement).await?;
                }
                (_, first) => {
                    self.send_pending().await?;
                    bump.exec(&self.txn).await?;
                    if let Some(first) = first {
                        self.txn.execute_raw(first).await?;
                    }
                }
            }
            for chunk in chunks {
                self.txn.execute_raw(chunk).await?;
            }
        }
        self.send_pending().await?;
        self.txn.commit().await?;
        if queued {
            crate::webhooks::worker::wake();
        }
        Ok(())
    }
}

/// The inserts of `changes`: on PostgreSQL one statement with the rows as one parameter
/// ([`crate::bulk_insert`]); elsewhere multi-row inserts of at most 500 rows (SQLite takes
/// at most 32,766 bound values a statement).
fn change_inserts(
    backend: DbBackend,
    changes: Vec<world_changes::ActiveModel>,
) -> Result<Vec<Statement>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    if backend == DbBackend::Postgres {
        let rows = changes
            .into_iter()
            .map(sea_orm::TryIntoModel::try_into_model)
            .collect::<std::result::Result<Vec<world_changes::Model>, _>>()?;
        return Ok(vec![crate::bulk_insert::changes(&rows)?]);
    }
    let mut statements = Vec::new();
    let mut changes = changes.into_iter().peekable();
    while changes.peek().is_some() {
        statements.push(
            world_changes::Entity::insert_many(changes.by_ref().take(500).collect::<Vec<_>>())
                .build(backend),
        );
    }
    Ok(statements)
}

/// `WITH s1 AS (<ahead[0]>), s2 AS (...) <main>` (PostgreSQL): several data-modifying
/// statements in one, their placeholders renumbered after `main`'s. They run on one
/// snapshot and do not see each other's rows, so none may read what another writes.
fn with_statements(ahead: Vec<Statement>, main: Statement) -> Result<Statement> {
    let mut values = main.values.map(|v| v.0).unwrap_or_default();
    let mut parts = Vec::with_capacity(ahead.len());
    for (index, statement) in ahead.into_iter().enumerate() {
        let offset = values.len();
        let own_values = statement.values.map(|v| v.0).unwrap_or_default();
        let mut sql = statement.sql;
        if sql.contains('\'') {
            // The builder binds every value; a literal here would make renumbering unsafe.
            return Err(Error::Internal(format!("unexpected literal in {sql}")));
        }
        // Highest first, so `$1` does not rewrite the front of `$10`.
        for n in (1..=own_values.len()).rev() {
            sql = sql.replace(&format!("${n}"), &format!("$__{}", n + offset));
        }
        parts.push(format!("s{index} AS ({})", sql.replace("$__", "$")));
        values.extend(own_values);
    }
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("WITH {} {}", parts.join(", "), main.sql),
        values,
    ))
}

/// A transaction that is going to write. On SQLite it starts as a write transaction
/// (`BEGIN IMMEDIATE`): a deferred one that reads first cannot wait for the busy timeout
/// when it later needs the write lock, and fails with "database is locked" as soon as a
/// concurrent writer holds it. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Locks a world's row until the transaction ends (`FOR NO KEY UPDATE`: inserts that
/// only check a foreign key to the world are not blocked by it). SQLite's write
/// transaction holds the whole database already.
pub async fn lock_world<C: ConnectionTrait>(db: &C, world_id: Uuid) -> Result<worlds::Model> {
    worlds::Entity::find_by_id(world_id)
        .lock(LockType::NoKeyUpdate)
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

/// `Change` in the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeDto {
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "element.updated")]
    pub change_type: String,
    pub resource_id: Uuid,
    /// The resource's version after the change; `null` for member changes.
    pub version: Option<i32>,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    /// The resource as its GET shows it after the change; `null` for a deletion.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Box<RawValue>>,
}

/// A page of the feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangesPage {
    pub items: Vec<ChangeDto>,
    /// Pass as `after` to read on: the last `seq` on this page, or `after` itself.
    pub next_after: i64,
    pub has_more: bool,
}

pub const DEFAULT_FEED_LIMIT: u64 = 100;
pub const MAX_FEED_LIMIT: u64 = 1000;

/// A change as the feed reads it: `data` as the database's text, passed through.
#[derive(Debug, FromQueryResult)]
struct ChangeText {
    seq: i64,
    r#type: String,
    resource_id: Uuid,
    version: Option<i32>,
    actor_id: Option<Uuid>,
    at: DateTimeWithTimeZone,
    data: Option<String>,
}

impl TryFrom<ChangeText> for ChangeDto {
    type Error = Error;

    fn try_from(c: ChangeText) -> Result<Self> {
        let data = c
            .data
            .map(RawValue::from_string)
            .transpose()
            .map_err(|e| Error::internal("stored change data is not JSON", e))?;
        Ok(Self {
            seq: c.seq,
            change_type: c.r#type,
            resource_id: c.resource_id,
            version: c.version,
            actor_id: c.actor_id,
            at: c.at.with_timezone(&Utc),
            data,
        })
    }
}

/// The world's changes as the feed shows them, `data` as the database's text.
fn changes_of(world_id: Uuid) -> Select<world_changes::Entity> {
    world_changes::Entity::find()
        .select_only()
        .columns([
            world_changes::Column::Seq,
            world_changes::Column::Type,
            world_changes::Column::ResourceId,
            world_changes::Column::Version,
            world_changes::Column::ActorId,
            world_changes::Column::At,
        ])
        .column_as(
            Expr::col(world_changes::Column::Data).cast_as("text"),
            "data",
        )
        .filter(world_changes::Column::WorldId.eq(world_id))
}

/// One change, exactly as the feed shows it; `None` when retention removed it.
pub(crate) async fn one_change<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    seq: i64,
) -> Result<Option<ChangeDto>> {
    changes_of(world_id)
        .filter(world_changes::Column::Seq.eq(seq))
        .into_model::<ChangeText>()
        .one(db)
        .await?
        .map(ChangeDto::try_from)
        .transpose()
}

/// The world's changes after `after`, in `seq` (= commit) order. 410 when changes after
/// `after` have been removed by retention.
pub async fn feed(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    after: Option<i64>,
    limit: Option<u64>,
) -> Result<ChangesPage> {
    let access = world_access(db, caller, world_id).await?;
    let after = after.unwrap_or(0);
    if after < 0 {
        return Err(Error::validation("after", "must be 0 or more"));
    }
    let limit = limit.unwrap_or(DEFAULT_FEED_LIMIT);
    if !(1..=MAX_FEED_LIMIT).contains(&limit) {
        return Err(Error::validation(
            "limit",
            format!("must be between 1 and {MAX_FEED_LIMIT}"),
        ));
    }
    if after < access.world.change_floor {
        return Err(Error::Gone(
            "changes after this seq are no longer kept; resynchronize from the lists".into(),
        ));
    }
    let mut rows = changes_of(world_id)
        .filter(world_changes::Column::Seq.gt(after))
        .order_by_asc(world_changes::Column::Seq)
        .limit(limit + 1)
        .into_model::<ChangeText>()
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let items = rows
        .into_iter()
        .map(ChangeDto::try_from)
        .collect::<Result<Vec<_>>>()?;
    let next_after = items.last().map_or(after, |c| c.seq);
    Ok(ChangesPage {
        items,
        next_after,
        has_more,
    })
}

/// One revision of a resource in its history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevisionDto {
    pub version: Option<i32>,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "element.updated")]
    pub change_type: String,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    /// RFC 6902 JSON Patch from the previous revision's JSON to this one's; `null` for
    /// the first revision kept.
    #[schema(value_type = Option<Vec<Object>>)]
    pub patch: Option<json_patch::Patch>,
}

const HISTORY_ORDERING: &str = "history:-seq";

/// A resource that has a history.
#[derive(Debug, Clone, Copy)]
pub enum Resource {
    Element(Uuid),
    Relation(Uuid),
}

impl Resource {
    fn id(self) -> Uuid {
        match self {
            Resource::Element(id) | Resource::Relation(id) => id,
        }
    }

    fn change_types(self) -> Vec<&'static str> {
        let prefix = match self {
            Resource::Element(_) => "element.",
            Resource::Relation(_) => "relation.",
        };
        ChangeType::ALL
            .into_iter()
            .map(ChangeType::as_str)
            .filter(|t| t.starts_with(prefix))
            .collect()
    }

    /// Whether the resource is in the world now (or, for an element, in its trash).
    async fn exists<C: ConnectionTrait>(self, db: &C, world_id: Uuid) -> Result<bool> {
        use entity::{element_relations, element_trash, world_elements};
        use sea_orm::PaginatorTrait;
        Ok(match self {
            Resource::Element(id) => {
                world_elements::Entity::find_by_id((id, world_id))
                    .filter(world_elements::Column::WorldId.eq(world_id))
                    .count(db)
                    .await?
                    + element_trash::Entity::find_by_id((world_id, id))
                        .count(db)
                        .await?
                    > 0
            }
            Resource::Relation(id) => {
                element_relations::Entity::find_by_id((id, world_id))
                    .filter(element_relations::Column::WorldId.eq(world_id))
                    .count(db)
                    .await?
                    > 0
            }
        })
    }
}

/// A resource's revisions, newest first. Each page reads one row more than it shows: the
/// revision before its last, which that revision's patch starts from.
pub async fn history(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    resource: Resource,
    page: PageRequest,
) -> Result<Page<RevisionDto>> {
    world_access(db, caller, world_id).await?;
    let resource_id = resource.id();
    let query = world_changes::Entity::find()
        .filter(world_changes::Column::WorldId.eq(world_id))
        .filter(world_changes::Column::ResourceId.eq(resource_id))
        .filter(world_changes::Column::Type.is_in(resource.change_types()));
    let keyset = crate::paging::Keyset::by_key(
        HISTORY_ORDERING,
        world_changes::Column::Seq,
        crate::paging::KeyType::Integer,
        true,
    );
    let mut rows = keyset.apply(query, &page)?.all(db).await?;
    // No change kept: an element made before the log existed has an empty history; one
    // that never was is 404.
    if rows.is_empty() && page.cursor.is_none() && !resource.exists(db, world_id).await? {
        return Err(Error::NotFound);
    }
    let has_more = rows.len() as u64 > page.limit;
    let before_page = if has_more { rows.pop() } else { None };
    let next_cursor = if has_more {
        rows.last().map(|last| {
            crate::paging::Cursor {
                ordering: HISTORY_ORDERING.to_owned(),
                key: last.seq.to_string(),
                id: last.resource_id,
            }
            .encode()
        })
    } else {
        None
    };
    // Newest first: each row's previous revision is the row after it.
    let mut items = Vec::with_capacity(rows.len());
    let mut older = before_page;
    for row in rows.into_iter().rev() {
        let patch = older.as_ref().map(|prev| {
            let from = prev.data.clone().unwrap_or(Value::Null);
            let to = row.data.clone().unwrap_or(Value::Null);
            json_patch::diff(&from, &to)
        });
        items.push(RevisionDto {
            version: row.version,
            change_type: row.r#type.clone(),
            actor_id: row.actor_id,
            at: row.at.with_timezone(&Utc),
            patch,
        });
        older = Some(row);
    }
    items.reverse();
    Ok(Page { items, next_cursor })
}

/// The JSON a resource had at `version`, from the change that made that version.
pub async fn data_at_version<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    resource: Resource,
    version: i32,
) -> Result<Value> {
    world_changes::Entity::find()
        .filter(world_changes::Column::WorldId.eq(world_id))
        .filter(world_changes::Column::ResourceId.eq(resource.id()))
        .filter(world_changes::Column::Type.is_in(resource.change_types()))
        .filter(world_changes::Column::Version.eq(version))
        .filter(world_changes::Column::Data.is_not_null())
        .order_by_desc(world_changes::Column::Seq)
        .one(db)
        .await?
        .and_then(|c| c.data)
        .ok_or(Error::NotFound)
}

/// What [`prune`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub changes: u64,
    pub trashed_elements: u64,
}

/// Removes changes and trashed elements older than `keep`. Each world's `change_floor`
/// is raised to the highest `seq` removed from it first, in the same transaction, so a
/// feed read from below it is 410 rather than silently missing changes.
pub async fn prune(db: &DatabaseConnection, keep: std::time::Duration) -> Result<Pruned> {
    let keep = chrono::Duration::from_std(keep)
        .map_err(|e| Error::internal("retention period out of range", e))?;
    let cutoff = now() - keep;
    let worlds_with_old: Vec<(Uuid, Option<i64>)> = world_changes::Entity::find()
        .select_only()
        .column(world_changes::Column::WorldId)
        .column_as(world_changes::Column::Seq.max(), "max_seq")
        .filter(world_changes::Column::At.lt(cutoff))
        .group_by(world_changes::Column::WorldId)
        .into_tuple()
        .all(db)
        .await?;
    // The trash first: once a world's feed answers 410, what was deleted as long ago is
    // gone from its trash too.
    let mut pruned = Pruned {
        trashed_elements: entity::element_trash::Entity::delete_many()
            .filter(entity::element_trash::Column::DeletedAt.lt(cutoff))
            .exec(db)
            .await?
            .rows_affected,
        ..Default::default()
    };
    for (world_id, max_seq) in worlds_with_old {
        let Some(max_seq) = max_seq else { continue };
        let txn = begin_write(db).await?;
        worlds::Entity::update_many()
            .col_expr(worlds::Column::ChangeFloor, Expr::value(max_seq))
            .filter(worlds::Column::Id.eq(world_id))
            .filter(worlds::Column::ChangeFloor.lt(max_seq))
            .exec(&txn)
            .await?;
        pruned.changes += world_changes::Entity::delete_many()
            .filter(world_changes::Column::WorldId.eq(world_id))
            .filter(world_changes::Column::Seq.lte(max_seq))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
    }
    Ok(pruned)
}
