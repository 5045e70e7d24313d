//! A world's members: who they are and what role they hold.
use entity::{users, world_members};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Need, Role, world_access};
use crate::auth::Actor;
use crate::changes::{ChangeType, WorldWrite};
use crate::error::{Error, Result};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub role: Role,
}

/// The roles an owner can grant; ownership itself is not transferable here.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrantableRole {
    Editor,
    Viewer,
}

impl From<GrantableRole> for Role {
    fn from(role: GrantableRole) -> Self {
        match role {
            GrantableRole::Editor => Role::Editor,
            GrantableRole::Viewer => Role::Viewer,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMemberRequest {
    pub role: GrantableRole,
}

/// Everyone in the world, the owner first. Members only: member emails stay private, so
/// a stranger reading a public world gets 403.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
) -> Result<Vec<MemberDto>> {
    let access = world_access(db, Some(actor), world_id).await?;
    access.require(Role::Viewer)?;
    let rows = world_members::Entity::find()
        .filter(world_members::Column::WorldId.eq(world_id))
        .find_also_related(users::Entity)
        .order_by_asc(world_members::Column::CreatedAt)
        .order_by_asc(world_members::Column::UserId)
        .all(db)
        .await?;
    let mut members: Vec<MemberDto> = rows
        .into_iter()
        .filter_map(|(member, user)| {
            let user = user?;
            Some(MemberDto {
                user_id: member.user_id,
                email: user.email,
                display_name: user.display_name,
                role: Role::from_db(&member.role)?,
            })
        })
        .collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.role == Role::Owner));
    Ok(members)
}

/// Changes the role of an existing member. Owner only. A user who is not a member is 404:
/// people join through invitations, never without their consent.
pub async fn put(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    user_id: Uuid,
    request: PutMemberRequest,
) -> Result<MemberDto> {
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Owner)?;
    let (member, user) = world_members::Entity::find_by_id((world_id, user_id))
        .find_also_related(users::Entity)
        .one(db)
        .await?
        .and_then(|(member, user)| Some((member, user?)))
        .ok_or(Error::NotFound)?;
    if user_id == access.world.owner_id {
        return Err(Error::validation(
            "user_id",
            "the owner's role cannot be changed",
        ));
    }
    let role: Role = request.role.into();
    if member.role != role.as_str() {
        set_role(&mut w, member, role).await?;
    }
    w.commit().await?;
    Ok(MemberDto {
        user_id,
        email: user.email,
        display_name: user.display_name,
        role,
    })
}

/// A membership as the change log shows it: who and which role, never the email (the
/// feed of a public world is readable by anyone, member emails are not).
pub(crate) fn member_json(user_id: Uuid, role: Role) -> serde_json::Value {
    serde_json::json!({"user_id": user_id, "role": role})
}

/// Gives `member` another role, recorded in the change log.
async fn set_role(w: &mut WorldWrite, member: world_members::Model, role: Role) -> Result<()> {
    let user_id = member.user_id;
    let mut active: world_members::ActiveModel = member.into();
    active.role = Set(role.as_str().to_owned());
    active.update(w.txn()).await?;
    w.record(
        ChangeType::MemberUpdated,
        user_id,
        None,
        Some(member_json(user_id, role)),
    );
    Ok(())
}

/// Makes `user_id` a member with `role` (accepting an invitation), inside the world's
/// write. A member already keeps the higher of the two roles.
pub(crate) async fn add(w: &mut WorldWrite, user_id: Uuid, role: Role) -> Result<()> {
    let world_id = w.world_id();
    if let Some(member) = world_members::Entity::find_by_id((world_id, user_id))
        .one(w.txn())
        .await?
    {
        if Role::from_db(&member.role).is_some_and(|held| held >= role) {
            return Ok(());
        }
        return set_role(w, member, role).await;
    }
    world_members::ActiveModel {
        world_id: Set(world_id),
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(crate::versioning::now()),
    }
    .insert(w.txn())
    .await?;
    w.record(
        ChangeType::MemberAdded,
        user_id,
        None,
        Some(member_json(user_id, role)),
    );
    Ok(())
}

/// Removes a member: the owner may remove anyone but themself; a member may leave.
pub async fn remove(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    user_id: Uuid,
) -> Result<()> {
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    if actor.user_id != user_id {
        access.require(Role::Owner)?;
    } else {
        actor.require(Need::Login)?;
    }
    if user_id == access.world.owner_id {
        return Err(Error::validation(
            "user_id",
            "the owner cannot leave their own world",
        ));
    }
    let member = world_members::Entity::find_by_id((world_id, user_id))
        .one(w.txn())
        .await?
        .ok_or(Error::NotFound)?;
    let active: world_members::ActiveModel = member.into();
    active.delete(w.txn()).await?;
    w.record(ChangeType::MemberRemoved, user_id, None, None);
    w.commit().await
}
