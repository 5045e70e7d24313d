//! Who may do what in a world: the single place that answers it. Every use case about a
//! world or its contents starts with [`world_access`] and then asks [`Access::require`].
use entity::{world_members, worlds};
use sea_orm::{ConnectionTrait, EntityTrait};
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
/// is `NotFound`, exactly like a world that does not exist.
pub async fn world_access<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    world_id: Uuid,
) -> Result<Access> {
    let world = worlds::Entity::find_by_id(world_id)
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    let role = match actor {
        Some(actor) => world_members::Entity::find_by_id((world_id, actor.user_id))
            .one(db)
            .await?
            .and_then(|member| Role::from_db(&member.role)),
        None => None,
    };
    if role.is_none() && Visibility::from_db(&world.visibility) != Visibility::Public {
        return Err(Error::NotFound);
    }
    Ok(Access { world, role })
}
