//! Who may do what in a world: the single place that answers it. Every use case about a
//! world or its contents starts with [`world_access`] and then asks [`Access::require`].
use entity::{world_elements, world_members, worlds};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, JoinType,
    QueryFilter, QueryResult, QuerySelect, QueryTrait, RelationDef, RelationTrait, SelectA,
    SelectB, SelectC,
};
use uuid::Uuid;

use crate::auth::{Actor, Caller, SESSION_IS_CURRENT};
use crate::error::{Error, Result};
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

/// The world as the caller may see it, with the caller's role (`None`: a stranger
/// reading a public world).
#[derive(Debug)]
pub struct Access {
    pub world: worlds::Model,
    pub role: Option<Role>,
}

impl Access {
    /// Requires at least `minimum`. The caller can already see the world, so a missing
    /// role is 403, not 404.
    pub fn require(&self, minimum: Role) -> Result<()> {
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

/// Who asks, as [`world_access`] takes it: an [`Actor`] whose session was checked already,
/// or a [`Caller`] whose session is checked in the same query as the world.
pub trait Requester {
    fn user_id(&self) -> Uuid;
    /// Whether the session still stands, when that is still to be checked.
    fn pending_session_check(&self) -> Option<&Caller>;
}

impl Requester for Actor {
    fn user_id(&self) -> Uuid {
        self.user_id
    }

    fn pending_session_check(&self) -> Option<&Caller> {
        None
    }
}

impl Requester for Caller {
    fn user_id(&self) -> Uuid {
        self.user_id
    }

    fn pending_session_check(&self) -> Option<&Caller> {
        Some(self)
    }
}

/// Resolves the caller's access to a world. A private world the caller is no member of
/// is `NotFound`, exactly like a world that does not exist. One round trip: the world, the
/// caller's membership and, for a [`Caller`], its session come from one query.
pub async fn world_access<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
) -> Result<Access> {
    let query = worlds::Entity::find_by_id(world_id)
        .join(JoinType::LeftJoin, membership_of(requester))
        .select_also(world_members::Entity);
    let statement = with_session_check(query, requester).build(db.get_database_backend());
    let found = WorldRow::find_by_statement(statement).one(db).await?;
    let Some(row) = found else {
        return Err(not_found_for(db, requester).await);
    };
    check_session(requester, row.session_is_current)?;
    decide(row.world, row.member)
}

/// The caller's access to a world and one of its elements, in one round trip. A missing
/// element is `NotFound`, like a world the caller may not see.
pub async fn world_access_with_element<C: ConnectionTrait, R: Requester>(
    db: &C,
    requester: Option<&R>,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<(Access, world_elements::Model)> {
    let query = worlds::Entity::find_by_id(world_id)
        .join(JoinType::LeftJoin, membership_of(requester))
        .select_also(world_members::Entity)
        .find_also_related(world_elements::Entity)
        .filter(world_elements::Column::Id.eq(element_id));
    let statement = with_session_check(query, requester).build(db.get_database_backend());
    let found = WorldElementRow::find_by_statement(statement)
        .one(db)
        .await?;
    let Some(row) = found else {
        return Err(not_found_for(db, requester).await);
    };
    check_session(requester, row.world.session_is_current)?;
    let access = decide(row.world.world, row.world.member)?;
    Ok((access, row.element.ok_or(Error::NotFound)?))
}

/// Adds the [`Caller`]'s session check to a world query as a column of its own.
fn with_session_check<Q: QuerySelect, R: Requester>(query: Q, requester: Option<&R>) -> Q {
    match requester.and_then(Requester::pending_session_check) {
        Some(caller) => query.expr_as(caller.session_is_current(), SESSION_IS_CURRENT),
        None => query,
    }
}

fn check_session<R: Requester>(requester: Option<&R>, is_current: Option<bool>) -> Result<()> {
    match requester.and_then(Requester::pending_session_check) {
        Some(caller) => caller.verified(is_current.unwrap_or(false)).map(|_| ()),
        None => Ok(()),
    }
}

/// No row: the world (or element) is not there for this caller, unless the caller's
/// token is no good, which must say 401 whatever the world. Only this path pays a second
/// query.
async fn not_found_for<C: ConnectionTrait, R: Requester>(db: &C, requester: Option<&R>) -> Error {
    match requester.and_then(Requester::pending_session_check) {
        Some(caller) => match caller.check(db).await {
            Ok(_) => Error::NotFound,
            Err(e) => e,
        },
        None => Error::NotFound,
    }
}

/// A world, the caller's membership and the session check, as [`world_access`] reads them.
struct WorldRow {
    world: worlds::Model,
    member: Option<world_members::Model>,
    session_is_current: Option<bool>,
}

impl FromQueryResult for WorldRow {
    fn from_query_result(row: &QueryResult, _: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            world: worlds::Model::from_query_result(row, SelectA.as_str())?,
            member: world_members::Model::from_query_result_optional(row, SelectB.as_str())?,
            session_is_current: row.try_get("", SESSION_IS_CURRENT).ok(),
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

/// The join to the caller's own membership row (none for an anonymous caller).
fn membership_of<R: Requester>(requester: Option<&R>) -> RelationDef {
    let user_id = requester.map(Requester::user_id);
    worlds::Relation::WorldMembers
        .def()
        .on_condition(move |_, member| match user_id {
            Some(user_id) => Expr::col((member, world_members::Column::UserId))
                .eq(user_id)
                .into_condition(),
            None => Expr::val(false).into_condition(),
        })
}

/// The rule itself: members see the world with their role, strangers only a public one.
fn decide(world: worlds::Model, member: Option<world_members::Model>) -> Result<Access> {
    let role = member.and_then(|member| Role::from_db(&member.role));
    if role.is_none() && Visibility::from_db(&world.visibility) != Visibility::Public {
        return Err(Error::NotFound);
    }
    Ok(Access { world, role })
}
