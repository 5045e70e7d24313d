//! Who may do what in a world: the single place that answers it. Every use case about a
//! world or its contents starts with [`world_access`] and then asks [`Access::require`].
use entity::{world_elements, world_members, worlds};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef,
    RelationTrait,
};
use uuid::Uuid;

use crate::auth::Actor;
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

/// Resolves the caller's access to a world. A private world the caller is no member of
/// is `NotFound`, exactly like a world that does not exist. One round trip: the world and
/// the caller's membership come from one query.
pub async fn world_access<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    world_id: Uuid,
) -> Result<Access> {
    let (world, member) = worlds::Entity::find_by_id(world_id)
        .join(JoinType::LeftJoin, membership_of(actor))
        .select_also(world_members::Entity)
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    decide(world, member)
}

/// The caller's access to a world and one of its elements, in one round trip. A missing
/// element is `NotFound`, like a world the caller may not see.
pub async fn world_access_with_element<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<(Access, world_elements::Model)> {
    let (world, member, element) = worlds::Entity::find_by_id(world_id)
        .join(JoinType::LeftJoin, membership_of(actor))
        .select_also(world_members::Entity)
        .find_also_related(world_elements::Entity)
        .filter(world_elements::Column::Id.eq(element_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    let access = decide(world, member)?;
    Ok((access, element.ok_or(Error::NotFound)?))
}

/// The join to the caller's own membership row (none for an anonymous caller).
fn membership_of(actor: Option<&Actor>) -> RelationDef {
    let user_id = actor.map(|actor| actor.user_id);
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
