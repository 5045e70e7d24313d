//! Who may do what: the single place that answers it, for logins and personal access
//! tokens alike. Every use case about a world or its contents starts with
//! [`world_access`] and then asks [`Access::require`]; every other use case asks
//! [`Actor::require`] what its credential allows.
use entity::{personal_tokens, world_elements, world_members, worlds};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, IntoCondition, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    JoinType, QueryFilter, QueryResult, QuerySelect, QueryTrait, RelationDef, RelationTrait,
    Select, SelectA, SelectB, SelectC,
};
use uuid::Uuid;

use crate::auth::{Actor, Caller, Grant, SESSION_IS_CURRENT};
use crate::error::{Error, Result};
use crate::personal_tokens as pats;
use crate::values::Visibility;

/// A member's role; the order is the order of power.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    pub fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// What a personal access token allows: `read` only reads; `write` also creates worlds,
/// changes their contents and their name, description and settings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }

    pub fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "read" => Some(TokenScope::Read),
            "write" => Some(TokenScope::Write),
            _ => None,
        }
    }
}

/// What a use case needs its credential to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading (what GET and HEAD do): any credential.
    Read,
    /// Creating worlds and changing what an editor may change: a login or a `write` token.
    Write,
    /// Managing the account, its tokens, sessions and invitations, and what only a world's
    /// owner may do (delete it, change its visibility, members, invitations): a login.
    Login,
}

impl Need {
    /// What acting with `role`'s powers in a world needs: a viewer's is a read, an
    /// editor's a write, and what only the owner may do needs a login.
    fn for_role(role: Role) -> Self {
        match role {
            Role::Viewer => Need::Read,
            Role::Editor => Need::Write,
            Role::Owner => Need::Login,
        }
    }
}

/// The rule for credentials, the one place it is written: a login may do whatever the
/// user may; a personal access token is narrowed to its scope and never manages anything.
pub fn permit(grant: &Grant, need: Need) -> Result<()> {
    match grant {
        Grant::Login { .. } => Ok(()),
        Grant::Token(token) => token_permits(token.scope, need),
    }
}

fn token_permits(scope: TokenScope, need: Need) -> Result<()> {
    match (scope, need) {
        (_, Need::Read) | (TokenScope::Write, Need::Write) => Ok(()),
        (TokenScope::Read, Need::Write) => Err(Error::InsufficientScope(
            "this token may only read; writing needs a write token or a login",
        )),
        (_, Need::Login) => Err(Error::InsufficientScope(
            "a personal access token cannot do this; it needs a login",
        )),
    }
}

impl Actor {
    /// Whether the caller's credential allows what a use case is about to do.
    pub fn require(&self, need: Need) -> Result<()> {
        permit(&self.grant, need)
    }

    /// The worlds a token restricts its caller to (`None`: no restriction).
    pub fn world_ids(&self) -> Option<&[Uuid]> {
        match &self.grant {
            Grant::Token(token) => token.world_ids.as_deref(),
            Grant::Login { .. } => None,
        }
    }
}

/// Narrows a query over `worlds` to the worlds the caller's credential may reach: a
/// token limited to some worlds sees no other, also in lists.
pub fn reachable_worlds(actor: &Actor) -> sea_orm::Condition {
    match actor.world_ids() {
        Some(ids) => sea_orm::Condition::all().add(worlds::Column::Id.is_in(ids.iter().copied())),
        None => sea_orm::Condition::all(),
    }
}

/// The world as the caller may see it, with the caller's role (`None`: a stranger
/// reading a public world) and what the caller's credential allows.
#[derive(Debug)]
pub struct Access {
    pub world: worlds::Model,
    pub role: Option<Role>,
    /// The token's scope when the caller came with a personal access token.
    scope: Option<TokenScope>,
}

impl Access {
    /// Requires at least `minimum`, and a credential that allows acting with it. The
    /// caller can already see the world, so a missing role is 403, not 404.
    pub fn require(&self, minimum: Role) -> Result<()> {
        if let Some(scope) = self.scope {
            token_permits(scope, Need::for_role(minimum))?;
        }
        self.require_role(minimum)
    }

    /// A read that only some roles may make (the trash: editors). Any credential that may
    /// read may make it for a user with that role: a `read` token narrows writes, not
    /// which GETs its user may send.
    pub fn require_to_read(&self, minimum: Role) -> Result<()> {
        if let Some(scope) = self.scope {
            token_permits(scope, Need::Read)?;
        }
        self.require_role(minimum)
    }

    fn require_role(&self, minimum: Role) -> Result<()> {
        match self.role {
            Some(role) if role >= minimum => Ok(()),
            _ => Err(Error::Forbidden(match minimum {
                Role::Owner => "only the world's owner may do this",
                Role::Editor => "only the world's owner and editors may do this",
                Role::Viewer => "only the world's members may do this",
            })),
        }
    }
}

/// Who asks, as [`world_access`] takes it: an [`Actor`] whose credential was checked
/// already, or a [`Caller`] whose credential is checked in the same query as the world.
pub trait Requester {
    fn requester(&self) -> Who<'_>;
}

#[derive(Clone, Copy)]
pub enum Who<'a> {
    Actor(&'a Actor),
    Caller(&'a Caller),
}

impl Requester for Actor {
    fn requester(&self) -> Who<'_> {
        Who::Actor(self)
    }
}

impl Requester for Caller {
    fn requester(&self) -> Who<'_> {
        Who::Caller(self)
    }
}

/// Resolves the caller's access to a world. A private world the caller is no member of,
/// or a world outside the caller's token's worlds, is `NotFound`, exactly like a world
/// that does not exist. One round trip: the world, the caller's membership and, for a
/// [`Caller`], its session or token come from one query.
pub async fn world_access<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
) -> Result<Access> {
    access_query(db, requester, world_id).await
}

/// [`world_access`] for a write: the same query also locks the world's row until the
/// transaction `db` ends (`FOR NO KEY UPDATE OF worlds`; SQLite's write transaction holds
/// the database already), so the world in [`Access`] is the current row. It also tells
/// whether the world has an active webhook, so that a write to a world without one never
/// asks (creating or activating a webhook takes the same lock, so the answer holds until
/// the write commits).
pub async fn world_access_locked<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
) -> Result<LockedWorld> {
    let who = requester.map(Requester::requester);
    let mut query = joined(worlds::Entity::find_by_id(world_id), who)
        .select_also(world_members::Entity)
        .expr_as(crate::webhooks::outbox::has_active_webhooks(), HAS_WEBHOOKS);
    QueryTrait::query(&mut query).lock_with_tables(
        sea_orm::sea_query::LockType::NoKeyUpdate,
        [sea_orm::EntityName::table_ref(&worlds::Entity)],
    );
    let statement = with_credential(query, who).build(db.get_database_backend());
    let found = LockedWorldRow::find_by_statement(statement).one(db).await?;
    let Some(LockedWorldRow { row, has_webhooks }) = found else {
        return Err(not_found_for(db, who).await);
    };
    let grant = resolve(db, who, row.credential).await?;
    Ok(LockedWorld {
        access: decide(row.world, row.member, grant.as_ref())?,
        has_webhooks,
    })
}

/// [`world_access_locked`] for a write to one element: the same query also reads the
/// element and locks its row with the world's (`FOR NO KEY UPDATE OF worlds,
/// world_elements`). Locking both makes PostgreSQL re-read the element after waiting for
/// the world, so the element is current, and a PATCH needs no second read. `None` when
/// the query finds no row (no such world or element, or one the caller may not see): the
/// caller then takes the plain path, whose answers tell those cases apart.
pub async fn world_access_locked_with_element<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<Option<(LockedWorld, world_elements::Model)>> {
    let who = requester.map(Requester::requester);
    // An inner join: PostgreSQL locks no row on the nullable side of an outer join.
    let mut query = joined(worlds::Entity::find_by_id(world_id), who)
        .inner_join(world_elements::Entity)
        .filter(world_elements::Column::Id.eq(element_id))
        .select_also(world_members::Entity)
        .expr_as(crate::webhooks::outbox::has_active_webhooks(), HAS_WEBHOOKS);
    for column in world_elements::Column::iter() {
        let value = column.select_as(Expr::col((world_elements::Entity, column)));
        query = query.expr_as(value, format!("{}{}", SelectC.as_str(), column.as_str()));
    }
    QueryTrait::query(&mut query).lock_with_tables(
        sea_orm::sea_query::LockType::NoKeyUpdate,
        [
            sea_orm::EntityName::table_ref(&worlds::Entity),
            sea_orm::EntityName::table_ref(&world_elements::Entity),
        ],
    );
    let statement = with_credential(query, who).build(db.get_database_backend());
    let Some(found) = LockedWorldElementRow::find_by_statement(statement)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let LockedWorldElementRow {
        world: LockedWorldRow { row, has_webhooks },
        element,
    } = found;
    let grant = resolve(db, who, row.credential).await?;
    let locked = LockedWorld {
        access: decide(row.world, row.member, grant.as_ref())?,
        has_webhooks,
    };
    Ok(Some((locked, element)))
}

/// What [`world_access_locked`] tells a write.
pub struct LockedWorld {
    pub access: Access,
    pub has_webhooks: bool,
}

async fn access_query<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
) -> Result<Access> {
    let who = requester.map(Requester::requester);
    let query =
        joined(worlds::Entity::find_by_id(world_id), who).select_also(world_members::Entity);
    let statement = with_credential(query, who).build(db.get_database_backend());
    let found = WorldRow::find_by_statement(statement).one(db).await?;
    let Some(row) = found else {
        return Err(not_found_for(db, who).await);
    };
    let grant = resolve(db, who, row.credential).await?;
    decide(row.world, row.member, grant.as_ref())
}

/// The caller's access to a world and one of its elements, in one round trip. A missing
/// element is `NotFound`, like a world the caller may not see.
pub async fn world_access_with_element<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<(Access, world_elements::Model)> {
    let who = requester.map(Requester::requester);
    let query = joined(worlds::Entity::find_by_id(world_id), who)
        .select_also(world_members::Entity)
        .find_also_related(world_elements::Entity)
        .filter(world_elements::Column::Id.eq(element_id));
    let statement = with_credential(query, who).build(db.get_database_backend());
    let found = WorldElementRow::find_by_statement(statement)
        .one(db)
        .await?;
    let Some(row) = found else {
        return Err(not_found_for(db, who).await);
    };
    let grant = resolve(db, who, row.world.credential).await?;
    let access = decide(row.world.world, row.world.member, grant.as_ref())?;
    Ok((access, row.element.ok_or(Error::NotFound)?))
}

/// The alias of the personal token row a world query joins for a token's caller.
fn token_alias() -> Alias {
    Alias::new("pat")
}

/// The prefix of the token row's columns in a world query's result.
const TOKEN_COLUMNS: &str = "pat_";

/// The joins every world query makes: the caller's token (for a token's caller, whose
/// user the query learns from it) and the caller's own membership row.
fn joined(mut query: Select<worlds::Entity>, who: Option<Who<'_>>) -> Select<worlds::Entity> {
    if let Some(Who::Caller(Caller::Token(token))) = who {
        QueryTrait::query(&mut query).join_as(
            JoinType::LeftJoin,
            personal_tokens::Entity,
            token_alias(),
            Expr::col((token_alias(), personal_tokens::Column::TokenHash)).eq(token.hash()),
        );
    }
    query.join(JoinType::LeftJoin, membership_of(who))
}

/// Adds what checks the [`Caller`]'s credential to a world query, as columns of its own:
/// whether a login's session stands, or the token's row.
fn with_credential<Q: QuerySelect>(mut query: Q, who: Option<Who<'_>>) -> Q {
    match who {
        Some(Who::Caller(Caller::Login(login))) => {
            query.expr_as(login.session_is_current(), SESSION_IS_CURRENT)
        }
        Some(Who::Caller(Caller::Token(_))) => {
            for column in personal_tokens::Column::iter() {
                query = query.expr_as(
                    Expr::col((token_alias(), column)),
                    format!("{TOKEN_COLUMNS}{}", column.as_str()),
                );
            }
            query
        }
        _ => query,
    }
}

/// The credential part of a world query's row.
struct CredentialColumns {
    session_is_current: Option<bool>,
    token: Option<personal_tokens::Model>,
}

impl CredentialColumns {
    fn from_row(row: &QueryResult) -> std::result::Result<Self, DbErr> {
        // The token's columns are there only for a token's caller, and NULL when no token
        // has the presented hash.
        let token_id: Option<Option<Uuid>> = row
            .try_get(
                "",
                &format!("{TOKEN_COLUMNS}{}", personal_tokens::Column::Id.as_str()),
            )
            .ok();
        Ok(Self {
            session_is_current: row.try_get("", SESSION_IS_CURRENT).ok(),
            token: match token_id {
                Some(Some(_)) => Some(personal_tokens::Model::from_query_result(
                    row,
                    TOKEN_COLUMNS,
                )?),
                _ => None,
            },
        })
    }
}

/// The caller's grant, once the query's columns say its credential still works
/// (`None`: anonymous).
async fn resolve<C: ConnectionTrait>(
    db: &C,
    who: Option<Who<'_>>,
    columns: CredentialColumns,
) -> Result<Option<Grant>> {
    match who {
        None => Ok(None),
        Some(Who::Actor(actor)) => Ok(Some(actor.grant.clone())),
        Some(Who::Caller(Caller::Login(login))) => login
            .verified(columns.session_is_current.unwrap_or(false))
            .map(|actor| Some(actor.grant)),
        Some(Who::Caller(Caller::Token(_))) => {
            let token = columns
                .token
                .ok_or(Error::Unauthorized("invalid personal access token"))?;
            pats::admit(db, token).await.map(|actor| Some(actor.grant))
        }
    }
}

/// No row: the world (or element) is not there for this caller, unless the caller's
/// credential is no good, which must say 401 whatever the world. Only this path pays a
/// second query.
async fn not_found_for<C: ConnectionTrait>(db: &C, who: Option<Who<'_>>) -> Error {
    match who {
        Some(Who::Caller(caller)) => match caller.check(db).await {
            Ok(_) => Error::NotFound,
            Err(e) => e,
        },
        _ => Error::NotFound,
    }
}

/// A world, the caller's membership and the credential check, as [`world_access`] reads
/// them.
struct WorldRow {
    world: worlds::Model,
    member: Option<world_members::Model>,
    credential: CredentialColumns,
}

impl FromQueryResult for WorldRow {
    fn from_query_result(row: &QueryResult, _: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            world: worlds::Model::from_query_result(row, SelectA.as_str())?,
            member: world_members::Model::from_query_result_optional(row, SelectB.as_str())?,
            credential: CredentialColumns::from_row(row)?,
        })
    }
}

/// The column of [`world_access_locked`]'s query that says whether the world has an active
/// webhook.
const HAS_WEBHOOKS: &str = "has_active_webhooks";

struct LockedWorldRow {
    row: WorldRow,
    has_webhooks: bool,
}

impl FromQueryResult for LockedWorldRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            row: WorldRow::from_query_result(row, pre)?,
            has_webhooks: row.try_get("", HAS_WEBHOOKS)?,
        })
    }
}

struct LockedWorldElementRow {
    world: LockedWorldRow,
    element: world_elements::Model,
}

impl FromQueryResult for LockedWorldElementRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            world: LockedWorldRow::from_query_result(row, pre)?,
            element: world_elements::Model::from_query_result(row, SelectC.as_str())?,
        })
    }
}

struct WorldElementRow {
    world: WorldRow,
    element: Option<world_elements::Model>,
}

impl FromQueryResult for WorldElementRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            world: WorldRow::from_query_result(row, pre)?,
            element: world_elements::Model::from_query_result_optional(row, SelectC.as_str())?,
        })
    }
}

/// The caller's user as the world query knows it: a value, or the joined token's user.
fn user_of(who: Option<Who<'_>>) -> Option<SimpleExpr> {
    match who? {
        Who::Actor(actor) => Some(Expr::val(actor.user_id)),
        Who::Caller(Caller::Login(login)) => Some(Expr::val(login.user_id)),
        Who::Caller(Caller::Token(_)) => {
            Some(Expr::col((token_alias(), personal_tokens::Column::UserId)))
        }
    }
}

/// The join to the caller's own membership row (none for an anonymous caller).
fn membership_of(who: Option<Who<'_>>) -> RelationDef {
    let user = user_of(who);
    worlds::Relation::WorldMembers
        .def()
        .on_condition(move |_, member| match &user {
            Some(user) => Expr::col((member, world_members::Column::UserId))
                .eq(user.clone())
                .into_condition(),
            None => Expr::val(false).into_condition(),
        })
}

/// The rule itself: members see the world with their role, strangers only a public one,
/// and a token limited to some worlds nothing else.
fn decide(
    world: worlds::Model,
    member: Option<world_members::Model>,
    grant: Option<&Grant>,
) -> Result<Access> {
    let scope = match grant {
        Some(Grant::Token(token)) => {
            if token
                .world_ids
                .as_ref()
                .is_some_and(|ids| !ids.contains(&world.id))
            {
                return Err(Error::NotFound);
            }
            Some(token.scope)
        }
        _ => None,
    };
    let role = member.and_then(|member| Role::from_db(&member.role));
    if role.is_none() && Visibility::from_db(&world.visibility) != Visibility::Public {
        return Err(Error::NotFound);
    }
    Ok(Access { world, role, scope })
}

/// Which of `world_ids` the user may read (a member's, or a public world), for a token
/// limited to them.
pub(crate) async fn readable_among<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    world_ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    let readable: Vec<Uuid> = worlds::Entity::find()
        .select_only()
        .column(worlds::Column::Id)
        .join(
            JoinType::LeftJoin,
            worlds::Relation::WorldMembers
                .def()
                .on_condition(move |_, member| {
                    Expr::col((member, world_members::Column::UserId))
                        .eq(user_id)
                        .into_condition()
                }),
        )
        .filter(worlds::Column::Id.is_in(world_ids.iter().copied()))
        .filter(
            sea_orm::Condition::any()
                .add(world_members::Column::UserId.is_not_null())
                .add(worlds::Column::Visibility.eq(Visibility::Public.as_str())),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(readable)
}
