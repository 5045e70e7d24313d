//! Worlds: create, read, list, change, delete.
use chrono::{DateTime, Utc};
use entity::{world_members, worlds};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, JoinType,
    QueryFilter, QuerySelect, RelationTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::{Need, Role, reachable_worlds, world_access};
use crate::auth::{Actor, Caller};
use crate::changes::{ChangeType, WorldWrite};
use crate::error::{Error, Result};
use crate::paging::{Keyset, Page, PageRequest};
use crate::patch::{double_option, merge_document, reject_null};
use crate::values::{Checks, Name, Visibility, parse_document, parse_object, parse_text};
use crate::versioning::{self, changed_to, check_if_match, update_versioned};

/// `World` in the contract, as the caller sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorldDto {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub settings: Value,
    pub visibility: Visibility,
    /// The caller's role; `null` for a stranger reading a public world.
    pub role: Option<Role>,
    pub element_count: i64,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WorldDto {
    pub(crate) fn new(world: worlds::Model, role: Option<Role>) -> Self {
        Self {
            id: world.id,
            owner_id: world.owner_id,
            name: world.name,
            description: world.description,
            settings: world.settings,
            visibility: Visibility::from_db(&world.visibility),
            role,
            element_count: world.element_count,
            version: world.version,
            created_at: world.created_at.with_timezone(&Utc),
            updated_at: world.updated_at.with_timezone(&Utc),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorldRequest {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false)]
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorldRequest {
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// A new description, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Option<Option<String>>,
    /// A JSON Merge Patch (RFC 7396) applied to the stored settings.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
    /// Only the owner may change the visibility.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false)]
    pub visibility: Option<Visibility>,
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    request: CreateWorldRequest,
) -> Result<WorldDto> {
    actor.require(Need::Write)?;
    let txn = db.begin().await?;
    let world = create_in(&txn, actor, request).await?;
    txn.commit().await?;
    Ok(WorldDto::new(world, Some(Role::Owner)))
}

/// Validates a create request and makes the world, owned by the caller, inside `txn`:
/// what the endpoint and an import share.
pub async fn create_in<C: sea_orm::ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    request: CreateWorldRequest,
) -> Result<worlds::Model> {
    let mut checks = Checks::default();
    let name = checks.check(Name::parse("name", request.name));
    let description = checks.optional(request.description, |d| parse_text("description", d));
    let settings = checks.check(parse_document(
        "settings",
        request.settings.unwrap_or_else(|| serde_json::json!({})),
    ));
    checks.finish()?;
    let (Some(name), Some(description), Some(settings)) = (name, description, settings) else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    let world = worlds::ActiveModel {
        owner_id: Set(actor.user_id),
        name: Set(name.into_inner()),
        description: Set(description),
        settings: Set(settings),
        visibility: Set(request
            .visibility
            .unwrap_or(Visibility::Private)
            .as_str()
            .to_owned()),
        element_count: Set(0),
        version: Set(1),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    world_members::ActiveModel {
        world_id: Set(world.id),
        user_id: Set(actor.user_id),
        role: Set(Role::Owner.as_str().to_owned()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(world)
}

pub async fn get(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
) -> Result<WorldDto> {
    let access = world_access(db, caller, world_id).await?;
    Ok(WorldDto::new(access.world, access.role))
}

const LIST_ORDERING: &str = "worlds:-created_at";

/// The worlds the caller owns or is a member of, newest first.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<WorldDto>> {
    let query = worlds::Entity::find()
        .join(JoinType::InnerJoin, worlds::Relation::WorldMembers.def())
        .filter(world_members::Column::UserId.eq(actor.user_id))
        .filter(reachable_worlds(actor))
        .select_also(world_members::Entity);
    let keyset = Keyset::newest_first(LIST_ORDERING, worlds::Column::CreatedAt, worlds::Column::Id);
    let rows = keyset.apply(query, &page)?.all(db).await?;
    Ok(keyset.page(
        rows,
        &page,
        |(world, _)| (world.created_at.to_rfc3339(), world.id),
        |(world, member)| {
            let role = member.and_then(|m| Role::from_db(&m.role));
            WorldDto::new(world, role)
        },
    ))
}

pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    if_match: Option<i32>,
    request: UpdateWorldRequest,
) -> Result<WorldDto> {
    // Authorize before validating: a stranger learns nothing from 422s.
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    let mut checks = Checks::default();
    let name = request
        .name
        .and_then(|n| checks.check(Name::parse("name", n)));
    let description = match request.description {
        Some(Some(d)) => checks.check(parse_text("description", d)).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let settings_patch = request
        .settings
        .and_then(|s| checks.check(parse_object("settings", s)));
    checks.finish()?;

    if request.visibility.is_some() {
        access.require(Role::Owner)?;
    }
    let mut world = w.world().clone();
    check_if_match(if_match, world.version)?;
    let mut changes = <worlds::ActiveModel as Default>::default();
    let settings = settings_patch
        .map(|patch| merge_document("settings", world.settings.clone(), &patch))
        .transpose()?;
    let visibility = request.visibility.map(|v| v.as_str().to_owned());
    let mut changed = changed_to(
        name.map(Name::into_inner),
        &mut world.name,
        &mut changes.name,
    );
    changed |= changed_to(
        description,
        &mut world.description,
        &mut changes.description,
    );
    changed |= changed_to(settings, &mut world.settings, &mut changes.settings);
    changed |= changed_to(visibility, &mut world.visibility, &mut changes.visibility);
    if !changed {
        w.commit().await?;
        return Ok(WorldDto::new(world, access.role));
    }
    let updated =
        update_versioned::<worlds::Entity, _>(w.txn(), world_id, world.version, changes).await?;
    // The log shows the world as anyone who may read it sees it: without a caller's role.
    let data = serde_json::to_value(WorldDto::new(updated.clone(), None))
        .map_err(|e| Error::internal("world JSON", e))?;
    w.record(
        ChangeType::WorldUpdated,
        world_id,
        Some(updated.version),
        Some(data),
    );
    w.commit().await?;
    Ok(WorldDto::new(updated, access.role))
}

/// Deletes a world; the database cascades to its members, elements and relations.
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    if_match: Option<i32>,
) -> Result<()> {
    let access = world_access(db, Some(actor), world_id).await?;
    access.require(Role::Owner)?;
    check_if_match(if_match, access.world.version)?;
    versioning::delete_if_version::<worlds::Entity, _>(db, world_id, if_match).await?;
    Ok(())
}
