//! The caller's own account: read it, change it, change its password, delete it.
use chrono::{DateTime, Utc};
use entity::users;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Need;
use crate::auth::{Actor, Auth, SECURITY, confirm_password, end_every_credential};
use crate::error::{Error, Result};
use crate::patch::{double_option, merge_document, reject_null};
use crate::values::{Checks, Name, Password, parse_object, password_user_inputs};

/// `User` in the contract. Never carries the password hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    #[schema(value_type = Object)]
    pub preferences: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<users::Model> for UserDto {
    fn from(user: users::Model) -> Self {
        Self {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            preferences: user.preferences,
            created_at: user.created_at.with_timezone(&Utc),
            updated_at: user.updated_at.with_timezone(&Utc),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// A new display name, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "\\S")]
    pub display_name: Option<Option<String>>,
    /// A JSON Merge Patch (RFC 7396) applied to the stored preferences.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub preferences: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 12 to 256 characters, not among the most common passwords.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    pub password: String,
}

async fn load(db: &DatabaseConnection, actor: &Actor) -> Result<users::Model> {
    users::Entity::find_by_id(actor.user_id)
        .one(db)
        .await?
        .ok_or(Error::Unauthorized("account no longer exists"))
}

pub async fn get_me(db: &DatabaseConnection, actor: &Actor) -> Result<UserDto> {
    load(db, actor).await.map(UserDto::from)
}

pub async fn update_me(
    db: &DatabaseConnection,
    actor: &Actor,
    request: UpdateMeRequest,
) -> Result<UserDto> {
    actor.require(Need::Login)?;
    let mut checks = Checks::default();
    let display_name = match request.display_name {
        Some(Some(name)) => checks
            .check(Name::parse("display_name", name))
            .map(|n| Some(n.into_inner())),
        Some(None) => Some(None),
        None => None,
    };
    let preferences_patch = match request.preferences {
        Some(patch) => checks.check(parse_object("preferences", patch)),
        None => None,
    };
    checks.finish()?;

    let txn = db.begin().await?;
    // Write before reading: on PostgreSQL the row lock makes concurrent patches of one
    // account queue up, so no merge is computed from a stale read (lost update); on SQLite
    // the transaction takes the write lock at once (waiting out the busy timeout) instead
    // of failing to upgrade a read snapshot another writer has made stale. Always stamp, so
    // the response's updated_at moves even for an empty patch.
    let updated_at = crate::versioning::now();
    let stamped = users::Entity::update_many()
        .col_expr(users::Column::UpdatedAt, Expr::value(updated_at))
        .filter(users::Column::Id.eq(actor.user_id))
        .exec(&txn)
        .await?;
    if stamped.rows_affected == 0 {
        return Err(Error::Unauthorized("account no longer exists"));
    }
    let user = users::Entity::find_by_id(actor.user_id)
        .one(&txn)
        .await?
        .ok_or(Error::Unauthorized("account no longer exists"))?;
    let mut active: users::ActiveModel = user.clone().into();
    if let Some(display_name) = display_name {
        active.display_name = Set(display_name);
    }
    if let Some(patch) = preferences_patch {
        active.preferences = Set(merge_document("preferences", user.preferences, &patch)?);
    }
    active.updated_at = Set(updated_at);
    let user = active.update(&txn).await?;
    txn.commit().await?;
    Ok(user.into())
}

/// Sets a new password and ends every earlier login (access tokens through the token
/// version, refresh tokens through their revoked sessions) and every personal access token.
pub async fn change_password(
    db: &DatabaseConnection,
    auth: &Auth,
    actor: &Actor,
    request: ChangePasswordRequest,
    client_ip: &str,
) -> Result<()> {
    actor.require(Need::Login)?;
    let user = load(db, actor).await?;
    confirm_password(db, auth, &user, &request.current_password, client_ip).await?;
    let user_inputs = password_user_inputs(&user.email, user.display_name.as_deref());
    let new_password = Password::parse("new_password", request.new_password, &user_inputs)
        .map_err(|e| Error::Validation(vec![e]))?;
    let password_hash = auth.passwords.hash(new_password.expose()).await?;

    let txn = db.begin().await?;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(
            users::Column::TokenVersion,
            Expr::col(users::Column::TokenVersion).add(1),
        )
        .col_expr(
            users::Column::UpdatedAt,
            Expr::value(crate::versioning::now()),
        )
        .filter(users::Column::Id.eq(user.id))
        .exec(&txn)
        .await?;
    end_every_credential(&txn, user.id).await?;
    txn.commit().await?;
    log::info!(target: SECURITY, "password changed: user {} from {client_ip}", user.id);
    Ok(())
}

/// Deletes the account; the database cascades to its sessions, personal access tokens,
/// worlds and all in them.
pub async fn delete_me(
    db: &DatabaseConnection,
    auth: &Auth,
    actor: &Actor,
    request: DeleteMeRequest,
    client_ip: &str,
) -> Result<()> {
    actor.require(Need::Login)?;
    let user = load(db, actor).await?;
    confirm_password(db, auth, &user, &request.password, client_ip).await?;
    users::Entity::delete_by_id(user.id).exec(db).await?;
    log::info!(target: SECURITY, "account deleted: user {} from {client_ip}", user.id);
    Ok(())
}
