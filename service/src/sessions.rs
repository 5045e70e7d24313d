//! The caller's logins: list them, end one.
use chrono::{DateTime, Duration, Utc};
use entity::sessions;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use uuid::Uuid;

use crate::access::Need;
use crate::auth::{Actor, Auth, revoke_session};
use crate::error::{Error, Result};

/// One of the caller's current logins.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionDto {
    pub id: Uuid,
    /// When the login began.
    pub created_at: DateTime<Utc>,
    /// When the login last obtained tokens (sign-in or refresh). Its access tokens, which
    /// live at most 15 minutes, do not move it.
    pub last_used_at: DateTime<Utc>,
    /// Whether this is the login of the access token that made this request.
    pub current: bool,
}

/// The logins that still stand: not ended, within their maximum lifetime, and with a
/// refresh token that has not expired. Newest first.
pub async fn list(db: &DatabaseConnection, auth: &Auth, actor: &Actor) -> Result<Vec<SessionDto>> {
    actor.require(Need::Login)?;
    let now = Utc::now();
    let started_after = now - Duration::seconds(auth.tokens.session_max_lifetime_secs);
    let used_after = now - Duration::seconds(auth.tokens.refresh_ttl_secs);
    let rows = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(actor.user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::CreatedAt.gt(started_after.fixed_offset()))
        .order_by_desc(sessions::Column::CreatedAt)
        .order_by_desc(sessions::Column::Id)
        .all(db)
        .await?;
    let current = actor.session_id();
    Ok(rows
        .into_iter()
        .filter_map(|session| {
            let last_used_at = session
                .last_used_at
                .unwrap_or(session.created_at)
                .with_timezone(&Utc);
            let is_current = current == Some(session.id);
            (is_current || last_used_at > used_after).then(|| SessionDto {
                id: session.id,
                created_at: session.created_at.with_timezone(&Utc),
                last_used_at,
                current: is_current,
            })
        })
        .collect())
}

/// Ends one of the caller's logins: its refresh and access tokens stop working at once.
/// Another user's login, or one already ended, is 404.
pub async fn end(db: &DatabaseConnection, actor: &Actor, session_id: Uuid) -> Result<()> {
    actor.require(Need::Login)?;
    let session = sessions::Entity::find_by_id(session_id)
        .filter(sessions::Column::UserId.eq(actor.user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    revoke_session(db, session.id).await
}
