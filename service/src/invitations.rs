//! Invitations: the only way into someone else's world. An owner invites an email address;
//! the account with that address accepts or declines. Nobody else can see an invitation,
//! and the answer to the owner is the same whether or not the address has an account.
use chrono::{DateTime, Duration, Utc};
use entity::{invitations, users, world_members, worlds};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
    RelationTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Need, Role, world_access};
use crate::auth::Actor;
use crate::changes::WorldWrite;
use crate::error::{Error, Result, is_unique_violation};
use crate::members::{self, GrantableRole};
use crate::paging::{Keyset, Page, PageRequest};
use crate::values::{Checks, Email};
use crate::worlds::WorldDto;

/// An invitation expires this long after it was made.
pub const VALID_FOR_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl InvitationStatus {
    fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Expired => "expired",
        }
    }

    /// The status as of now: a pending invitation past its expiry is expired.
    fn of(invitation: &invitations::Model) -> Result<Self> {
        let stored = match invitation.status.as_str() {
            "pending" => InvitationStatus::Pending,
            "accepted" => InvitationStatus::Accepted,
            "declined" => InvitationStatus::Declined,
            "revoked" => InvitationStatus::Revoked,
            "expired" => InvitationStatus::Expired,
            other => {
                return Err(Error::Internal(format!(
                    "invitation {} has status {other:?}",
                    invitation.id
                )));
            }
        };
        Ok(
            if stored == InvitationStatus::Pending
                && invitation.expires_at.with_timezone(&Utc) <= Utc::now()
            {
                InvitationStatus::Expired
            } else {
                stored
            },
        )
    }
}

/// `Invitation` in the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationDto {
    pub id: Uuid,
    pub world_id: Uuid,
    pub email: String,
    pub role: Role,
    pub status: InvitationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl TryFrom<invitations::Model> for InvitationDto {
    type Error = Error;

    fn try_from(invitation: invitations::Model) -> Result<Self> {
        Ok(Self {
            status: InvitationStatus::of(&invitation)?,
            role: Role::from_db(&invitation.role).ok_or_else(|| {
                Error::Internal(format!("invitation {} has a bad role", invitation.id))
            })?,
            id: invitation.id,
            world_id: invitation.world_id,
            email: invitation.email,
            created_at: invitation.created_at.with_timezone(&Utc),
            expires_at: invitation.expires_at.with_timezone(&Utc),
        })
    }
}

/// The world an invitation is to, as its invitee sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitedWorldDto {
    pub id: Uuid,
    pub name: String,
}

/// Who sent an invitation, as its invitee sees them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviterDto {
    pub display_name: Option<String>,
}

/// An invitation addressed to the caller, with the world and who sent it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceivedInvitationDto {
    #[serde(flatten)]
    pub invitation: InvitationDto,
    pub world: InvitedWorldDto,
    pub invited_by: InviterDto,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// Compared case-insensitively; stored trimmed and lower-cased.
    #[schema(format = Email, max_length = 320)]
    pub email: String,
    /// Read after authorization, like every field: a stranger learns nothing from a 422.
    #[schema(value_type = GrantableRole)]
    pub role: String,
}

/// Invites an email address to the world (owner only). 409 when that address is a member
/// already or has a pending invitation; otherwise the same answer whether or not it has an
/// account.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    request: CreateInvitationRequest,
) -> Result<InvitationDto> {
    world_access(db, Some(actor), world_id)
        .await?
        .require(Role::Owner)?;
    let mut checks = Checks::default();
    let email = checks.check(Email::parse(&request.email));
    let role = checks.check(match request.role.as_str() {
        "editor" => Ok(Role::Editor),
        "viewer" => Ok(Role::Viewer),
        _ => Err(crate::FieldError::new(
            "role",
            "must be `editor` or `viewer`",
        )),
    });
    checks.finish()?;
    let (Some(email), Some(role)) = (email, role) else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    let txn = db.begin().await?;
    // Mark this address's lapsed invitations expired first: the rule of one pending
    // invitation per world and address (a unique index) counts only live ones.
    invitations::Entity::update_many()
        .col_expr(
            invitations::Column::Status,
            Expr::value(InvitationStatus::Expired.as_str()),
        )
        .filter(invitations::Column::WorldId.eq(world_id))
        .filter(invitations::Column::Email.eq(email.as_str()))
        .filter(invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitations::Column::ExpiresAt.lte(Utc::now().fixed_offset()))
        .exec(&txn)
        .await?;
    if is_member(&txn, world_id, email.as_str()).await? {
        return Err(Error::Conflict(
            "this email already belongs to a member of the world".into(),
        ));
    }
    let created_at = crate::versioning::now();
    let inserted = invitations::ActiveModel {
        world_id: Set(world_id),
        email: Set(email.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        status: Set(InvitationStatus::Pending.as_str().to_owned()),
        invited_by: Set(actor.user_id),
        created_at: Set(created_at),
        expires_at: Set(created_at + Duration::days(VALID_FOR_DAYS)),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let invitation = match inserted {
        Ok(invitation) => invitation,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(
                "this email already has a pending invitation to the world".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    invitation.try_into()
}

async fn is_member<C: ConnectionTrait>(db: &C, world_id: Uuid, email: &str) -> Result<bool> {
    let count = world_members::Entity::find()
        .join(JoinType::InnerJoin, world_members::Relation::Users.def())
        .filter(world_members::Column::WorldId.eq(world_id))
        .filter(users::Column::Email.eq(email))
        .count(db)
        .await?;
    Ok(count > 0)
}

/// Pending and not yet expired.
fn pending() -> Condition {
    Condition::all()
        .add(invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
        .add(invitations::Column::ExpiresAt.gt(Utc::now().fixed_offset()))
}

/// Invitations newest first: the order of both lists, each with a cursor of its own.
fn newest_first(ordering: &'static str) -> Keyset<invitations::Column> {
    Keyset::newest_first(
        ordering,
        invitations::Column::CreatedAt,
        invitations::Column::Id,
    )
}

const WORLD_ORDERING: &str = "world-invitations:-created_at";

/// The world's pending invitations, newest first (owner only).
pub async fn list_for_world(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    page: PageRequest,
) -> Result<Page<InvitationDto>> {
    world_access(db, Some(actor), world_id)
        .await?
        .require(Role::Owner)?;
    let query = invitations::Entity::find()
        .filter(invitations::Column::WorldId.eq(world_id))
        .filter(pending());
    let keyset = newest_first(WORLD_ORDERING);
    let rows = keyset.apply(query, &page)?.all(db).await?;
    let page = keyset.page(
        rows,
        &page,
        |invitation| (invitation.created_at.to_rfc3339(), invitation.id),
        InvitationDto::try_from,
    );
    Ok(Page {
        items: page.items.into_iter().collect::<Result<_>>()?,
        next_cursor: page.next_cursor,
    })
}

/// Revokes a pending invitation (owner only). One of another world is 404; one no longer
/// pending is 409.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    invitation_id: Uuid,
) -> Result<()> {
    world_access(db, Some(actor), world_id)
        .await?
        .require(Role::Owner)?;
    let invitation = invitations::Entity::find_by_id((invitation_id, world_id))
        .filter(invitations::Column::WorldId.eq(world_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    settle(db, &invitation, InvitationStatus::Revoked).await
}

/// Moves a pending invitation to `status`, atomically: of two concurrent answers only one
/// lands; the other, like an answer to one no longer pending, is 409.
async fn settle<C: ConnectionTrait>(
    db: &C,
    invitation: &invitations::Model,
    status: InvitationStatus,
) -> Result<()> {
    let settled = invitations::Entity::update_many()
        .col_expr(invitations::Column::Status, Expr::value(status.as_str()))
        .filter(invitations::Column::Id.eq(invitation.id))
        .filter(pending())
        .exec(db)
        .await?;
    if settled.rows_affected == 1 {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "the invitation is no longer pending (it is {})",
            InvitationStatus::of(invitation)?.as_str()
        )))
    }
}

const MINE_ORDERING: &str = "my-invitations:-created_at";

/// The pending invitations addressed to the caller's email, newest first.
pub async fn list_mine(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<ReceivedInvitationDto>> {
    actor.require(Need::Login)?;
    let email = email_of(db, actor).await?;
    let query = invitations::Entity::find()
        .filter(invitations::Column::Email.eq(email))
        .filter(pending());
    let keyset = newest_first(MINE_ORDERING);
    let rows = keyset
        .apply(query, &page)?
        .find_also_related(worlds::Entity)
        .find_also_related(users::Entity)
        .all(db)
        .await?;
    let page = keyset.page(
        rows,
        &page,
        |(invitation, _, _)| (invitation.created_at.to_rfc3339(), invitation.id),
        |(invitation, world, inviter)| -> Result<ReceivedInvitationDto> {
            let world = world.ok_or_else(|| Error::Internal("invitation without world".into()))?;
            Ok(ReceivedInvitationDto {
                invitation: invitation.try_into()?,
                world: InvitedWorldDto {
                    id: world.id,
                    name: world.name,
                },
                invited_by: InviterDto {
                    display_name: inviter.and_then(|user| user.display_name),
                },
            })
        },
    );
    Ok(Page {
        items: page.items.into_iter().collect::<Result<_>>()?,
        next_cursor: page.next_cursor,
    })
}

async fn email_of(db: &DatabaseConnection, actor: &Actor) -> Result<String> {
    users::Entity::find_by_id(actor.user_id)
        .one(db)
        .await?
        .map(|user| user.email)
        .ok_or(Error::Unauthorized("account no longer exists"))
}

/// An invitation addressed to the caller, whatever its status; anyone else's is 404.
async fn addressed_to_caller(
    db: &DatabaseConnection,
    actor: &Actor,
    invitation_id: Uuid,
) -> Result<invitations::Model> {
    actor.require(Need::Login)?;
    let email = email_of(db, actor).await?;
    invitations::Entity::find()
        .filter(invitations::Column::Id.eq(invitation_id))
        .filter(invitations::Column::Email.eq(email))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

/// Accepts an invitation: the caller becomes a member with the invited role.
pub async fn accept(
    db: &DatabaseConnection,
    actor: &Actor,
    invitation_id: Uuid,
) -> Result<WorldDto> {
    let invitation = addressed_to_caller(db, actor, invitation_id).await?;
    let role = Role::from_db(&invitation.role)
        .ok_or_else(|| Error::Internal(format!("invitation {} has a bad role", invitation.id)))?;
    let mut w = WorldWrite::begin(db, invitation.world_id, actor.user_id).await?;
    settle(w.txn(), &invitation, InvitationStatus::Accepted).await?;
    members::add(&mut w, actor.user_id, role).await?;
    w.commit().await?;
    let access = world_access(db, Some(actor), invitation.world_id).await?;
    Ok(WorldDto::new(access.world, access.role))
}

/// Declines an invitation.
pub async fn decline(db: &DatabaseConnection, actor: &Actor, invitation_id: Uuid) -> Result<()> {
    let invitation = addressed_to_caller(db, actor, invitation_id).await?;
    settle(db, &invitation, InvitationStatus::Declined).await
}
