//! Personal access tokens: keys for tools, narrowed to a scope and optionally to some
//! worlds. The secret is `lb_pat_` and 256 random bits (base64url); only its SHA-256 is
//! stored, and a request finds its token by that hash (a unique index), so a token costs
//! no password hash. Whether a token still works is decided in [`admit`]; what it allows,
//! in [`crate::access::permit`].
use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use entity::personal_tokens;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Need, TokenScope, readable_among};
use crate::auth::{Actor, Grant, TokenGrant};
use crate::error::{Error, Result};
use crate::paging::{Keyset, Page, PageRequest};
use crate::tokens::sha256_hex;
use crate::values::{Checks, Name};

/// What every personal access token starts with; it tells them from a login's JWT.
pub const SECRET_PREFIX: &str = "lb_pat_";
/// How many characters of the secret a token's `prefix` shows.
const SHOWN_PREFIX_CHARS: usize = 12;
/// `last_used_at` is written at most this often per token, so no request pays a write.
const LAST_USED_RESOLUTION_SECS: i64 = 60;
const DEFAULT_EXPIRES_IN_DAYS: i64 = 90;
const MAX_EXPIRES_IN_DAYS: i64 = 365;
/// How many worlds one token may be limited to.
const MAX_WORLD_IDS: usize = 100;

/// `PersonalToken` in the contract. Never carries the secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonalTokenDto {
    pub id: Uuid,
    pub name: String,
    pub scope: TokenScope,
    /// The worlds the token may reach; `null`: every world the user can read.
    pub world_ids: Option<Vec<Uuid>>,
    /// The first 12 characters of the secret, to recognise it by.
    #[schema(example = "lb_pat_Xk3q9")]
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the token was last used, to the minute; `null` if never.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new token with its secret, shown this once only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedPersonalTokenDto {
    #[serde(flatten)]
    pub details: PersonalTokenDto,
    /// The secret: send it as `Authorization: Bearer lb_pat_...`. Shown this once only.
    pub token: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePersonalTokenRequest {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    pub scope: TokenScope,
    /// Limits the token to these worlds (each one the user can read; at most 100).
    /// Absent or `null`: every world the user can read.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub world_ids: Option<Vec<Uuid>>,
    /// 1 to 365 (default 90).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
}

impl TryFrom<personal_tokens::Model> for PersonalTokenDto {
    type Error = Error;

    fn try_from(token: personal_tokens::Model) -> Result<Self> {
        Ok(Self {
            scope: scope_of(&token)?,
            world_ids: world_ids_of(&token)?,
            id: token.id,
            name: token.name,
            prefix: token.prefix,
            created_at: token.created_at.with_timezone(&Utc),
            expires_at: token.expires_at.with_timezone(&Utc),
            last_used_at: token.last_used_at.map(|at| at.with_timezone(&Utc)),
        })
    }
}

fn scope_of(token: &personal_tokens::Model) -> Result<TokenScope> {
    TokenScope::from_db(&token.scope)
        .ok_or_else(|| Error::Internal(format!("token {} has scope {:?}", token.id, token.scope)))
}

fn world_ids_of(token: &personal_tokens::Model) -> Result<Option<Vec<Uuid>>> {
    token
        .world_ids
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::internal("a token's world_ids", e))
}

/// The hash a presented secret is stored under, if it is a personal access token at all.
pub(crate) fn hash_of_presented(bearer: &str) -> Option<String> {
    bearer
        .starts_with(SECRET_PREFIX)
        .then(|| sha256_hex(bearer))
}

/// A new secret: the prefix and 256 random bits, base64url.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Lets a token's row in: it must not have expired. Notes its use at most once a minute.
pub(crate) async fn admit<C: ConnectionTrait>(
    db: &C,
    token: personal_tokens::Model,
) -> Result<Actor> {
    let now = Utc::now();
    if token.expires_at.with_timezone(&Utc) <= now {
        return Err(Error::Unauthorized("personal access token expired"));
    }
    let stale_before = now - Duration::seconds(LAST_USED_RESOLUTION_SECS);
    if token
        .last_used_at
        .is_none_or(|at| at.with_timezone(&Utc) <= stale_before)
    {
        // Conditional, so that of several servers (or requests) only one writes a minute.
        personal_tokens::Entity::update_many()
            .col_expr(
                personal_tokens::Column::LastUsedAt,
                Expr::value(crate::versioning::now()),
            )
            .filter(personal_tokens::Column::Id.eq(token.id))
            .filter(
                Condition::any()
                    .add(personal_tokens::Column::LastUsedAt.is_null())
                    .add(personal_tokens::Column::LastUsedAt.lte(stale_before.fixed_offset())),
            )
            .exec(db)
            .await?;
    }
    Ok(Actor {
        user_id: token.user_id,
        grant: Grant::Token(TokenGrant {
            token_id: token.id,
            scope: scope_of(&token)?,
            world_ids: world_ids_of(&token)?,
        }),
    })
}

/// Finds a presented token by its hash, in a query of its own.
pub(crate) async fn authenticate<C: ConnectionTrait>(db: &C, hash: &str) -> Result<Actor> {
    let token = personal_tokens::Entity::find()
        .filter(personal_tokens::Column::TokenHash.eq(hash))
        .one(db)
        .await?
        .ok_or(Error::Unauthorized("invalid personal access token"))?;
    admit(db, token).await
}

/// Ends every token of a user (password change; account deletion cascades).
pub(crate) async fn delete_all<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<()> {
    personal_tokens::Entity::delete_many()
        .filter(personal_tokens::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes a token. Needs a login: a token cannot make tokens.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    request: CreatePersonalTokenRequest,
) -> Result<CreatedPersonalTokenDto> {
    actor.require(Need::Login)?;
    let mut checks = Checks::default();
    let name = checks.check(Name::parse("name", request.name));
    let days = request.expires_in_days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS);
    if !(1..=MAX_EXPIRES_IN_DAYS).contains(&days) {
        checks.check::<()>(Err(crate::FieldError::new(
            "expires_in_days",
            format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
        )));
    }
    let world_ids = match request.world_ids {
        None => None,
        Some(ids) => checks.check(world_ids_field(db, actor.user_id, ids).await?),
    };
    checks.finish()?;
    let Some(name) = name else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    let secret = new_secret();
    let created_at = crate::versioning::now();
    let token = personal_tokens::ActiveModel {
        user_id: Set(actor.user_id),
        name: Set(name.into_inner()),
        scope: Set(request.scope.as_str().to_owned()),
        world_ids: Set(world_ids.map(|ids| serde_json::json!(ids))),
        token_hash: Set(sha256_hex(&secret)),
        prefix: Set(secret.chars().take(SHOWN_PREFIX_CHARS).collect()),
        created_at: Set(created_at),
        expires_at: Set(created_at + Duration::days(days)),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(CreatedPersonalTokenDto {
        details: token.try_into()?,
        token: secret,
    })
}

/// `world_ids`: 1 to 100 worlds, each one the user can read (others are refused alike,
/// whether they exist or not); duplicates are dropped and the order kept.
async fn world_ids_field(
    db: &DatabaseConnection,
    user_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<std::result::Result<Vec<Uuid>, crate::FieldError>> {
    let mut seen = BTreeSet::new();
    let ids: Vec<Uuid> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
    if ids.is_empty() || ids.len() > MAX_WORLD_IDS {
        return Ok(Err(crate::FieldError::new(
            "world_ids",
            format!("must name 1 to {MAX_WORLD_IDS} worlds, or be null for every world"),
        )));
    }
    let readable: BTreeSet<Uuid> = readable_among(db, user_id, &ids)
        .await?
        .into_iter()
        .collect();
    match ids.iter().position(|id| !readable.contains(id)) {
        Some(at) => Ok(Err(crate::FieldError::new(
            format!("world_ids[{at}]"),
            "no such world",
        ))),
        None => Ok(Ok(ids)),
    }
}

const LIST_ORDERING: &str = "tokens:-created_at";

/// The caller's tokens, newest first.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<PersonalTokenDto>> {
    actor.require(Need::Login)?;
    let query =
        personal_tokens::Entity::find().filter(personal_tokens::Column::UserId.eq(actor.user_id));
    let keyset = Keyset::newest_first(
        LIST_ORDERING,
        personal_tokens::Column::CreatedAt,
        personal_tokens::Column::Id,
    );
    let rows = keyset.apply(query, &page)?.all(db).await?;
    let page = keyset.page(
        rows,
        &page,
        |token| (token.created_at.to_rfc3339(), token.id),
        PersonalTokenDto::try_from,
    );
    Ok(Page {
        items: page.items.into_iter().collect::<Result<_>>()?,
        next_cursor: page.next_cursor,
    })
}

/// Deletes one of the caller's tokens; it stops working at once. Another user's token is
/// 404, like one that does not exist.
pub async fn delete(db: &DatabaseConnection, actor: &Actor, token_id: Uuid) -> Result<()> {
    actor.require(Need::Login)?;
    let deleted = personal_tokens::Entity::delete_many()
        .filter(personal_tokens::Column::Id.eq(token_id))
        .filter(personal_tokens::Column::UserId.eq(actor.user_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}
