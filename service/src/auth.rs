//! Registration, login, token refresh and logout, and turning a Bearer token (a login's
//! access token or a personal access token) into an [`Actor`]. Everything that decides
//! whether a credential is good lives here; what it allows, in [`crate::access`].
use chrono::Utc;
use entity::{refresh_tokens, sessions, users};
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::TokenScope;
use crate::error::{Error, Result, is_unique_violation};
use crate::passwords::Passwords;
use crate::rate_limit::{self, Limit, Scope};
use crate::tokens::{Tokens, new_refresh_token, refresh_token_hash, sha256_hex};
use crate::users::UserDto;
use crate::values::{Checks, Email, Name, PASSWORD_MAX_CHARS, Password, password_user_inputs};

/// The log target of security events (failed logins, limits reached, password changes,
/// account deletions, refresh-token reuse), so they can be routed apart. Never with a
/// secret: no password, token or hash.
pub const SECURITY: &str = "lorebase::security";

/// The authenticated caller of a request: a user, and the credential they came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub grant: Grant,
}

/// The credential behind a request, as far as authorization cares
/// ([`crate::access::permit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A login's access token: whatever the user may do.
    Login { session_id: Uuid },
    /// A personal access token: narrowed to its scope and worlds.
    Token(TokenGrant),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub token_id: Uuid,
    pub scope: TokenScope,
    /// `None`: every world the user can read.
    pub world_ids: Option<Vec<Uuid>>,
}

impl Actor {
    /// The login this request came with, if it came with one.
    pub fn session_id(&self) -> Option<Uuid> {
        match self.grant {
            Grant::Login { session_id } => Some(session_id),
            Grant::Token(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    /// Failed logins of one account from one client address. Counted per pair, so that
    /// someone who knows an email cannot keep its owner out from elsewhere.
    pub login_failures_per_account: Limit,
    /// Failed logins of one account from all addresses together: a backstop against
    /// guessing spread over many addresses, far above what one address may try.
    pub login_failures_per_account_total: Limit,
    pub login_failures_per_ip: Limit,
    pub registrations_per_ip: Limit,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            login_failures_per_account: Limit {
                max: 10,
                window_secs: 15 * 60,
            },
            login_failures_per_account_total: Limit {
                max: 500,
                window_secs: 15 * 60,
            },
            login_failures_per_ip: Limit {
                max: 100,
                window_secs: 15 * 60,
            },
            registrations_per_ip: Limit {
                max: 20,
                window_secs: 60 * 60,
            },
        }
    }
}

/// Everything authentication needs, built once at start.
pub struct Auth {
    pub tokens: Tokens,
    pub passwords: Passwords,
    pub limits: AuthLimits,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Compared case-insensitively; stored trimmed and lower-cased.
    #[schema(format = Email, max_length = 320)]
    pub email: String,
    /// 12 to 256 characters, not among the most common passwords.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A user and a fresh token pair.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthResponse {
    pub user: UserDto,
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

pub async fn register(
    db: &DatabaseConnection,
    auth: &Auth,
    request: RegisterRequest,
    client_ip: &str,
) -> Result<AuthResponse> {
    let limit = auth.limits.registrations_per_ip;
    rate_limit::check(db, Scope::RegistrationIp, client_ip, limit).await?;

    let mut checks = Checks::default();
    let email = checks.check(Email::parse(&request.email));
    let user_inputs = password_user_inputs(
        email.as_ref().map_or(request.email.as_str(), Email::as_str),
        request.display_name.as_deref(),
    );
    let password = checks.check(Password::parse("password", request.password, &user_inputs));
    let display_name = match request.display_name {
        Some(name) => checks
            .check(Name::parse("display_name", name))
            .map(Name::into_inner),
        None => None,
    };
    checks.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    // The authoritative count: taken before the account exists, so concurrent
    // registrations cannot overrun the limit. Every registration counts, even a refused one.
    let _counted = rate_limit::acquire(db, Scope::RegistrationIp, client_ip, limit).await?;
    let password_hash = auth.passwords.hash(password.expose()).await?;
    let inserted = users::ActiveModel {
        email: Set(email.as_str().to_owned()),
        display_name: Set(display_name),
        password_hash: Set(password_hash),
        preferences: Set(serde_json::json!({})),
        token_version: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    start_session(db, auth, user).await
}

pub async fn login(
    db: &DatabaseConnection,
    auth: &Auth,
    request: LoginRequest,
    client_ip: &str,
) -> Result<AuthResponse> {
    // Unknown and malformed emails are counted and answered like wrong passwords.
    // The limiter's key: the normalized email, or for input that is no email at all (of
    // any length) a fixed-size digest of it.
    let account = match Email::parse(&request.email) {
        Ok(email) => email.as_str().to_owned(),
        Err(_) => format!("invalid:{}", sha256_hex(request.email.trim())),
    };
    let attempts = FailedLogin::acquire(db, auth, &account, client_ip, true).await?;
    // No password is longer: refused unhashed, so a huge one costs no hashing time.
    if too_long(&request.password) {
        login_failed(None, client_ip);
        return Err(Error::InvalidCredentials);
    }
    let user = match Email::parse(&request.email) {
        Ok(email) => {
            users::Entity::find()
                .filter(users::Column::Email.eq(email.as_str()))
                .one(db)
                .await?
        }
        Err(_) => None,
    };
    let verification = auth
        .passwords
        .verify(
            &request.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await;
    let verification = match verification {
        Ok(verification) => verification,
        Err(e) => {
            // Not a failure of the password (the hashing queue was full, say).
            attempts.release(db).await?;
            return Err(e);
        }
    };
    let user = match user {
        Some(user) if verification.matches => user,
        // The attempts stay counted as failures.
        other => {
            login_failed(other.map(|u| u.id), client_ip);
            return Err(Error::InvalidCredentials);
        }
    };
    // A successful login forgets this address's failures for the account; the
    // account-wide backstop only takes this attempt back.
    attempts.succeeded(db).await?;

    if verification.needs_rehash {
        let password_hash = auth.passwords.hash(&request.password).await?;
        // Only over the hash just verified: a password change that landed meanwhile must
        // not be undone by writing the old password back. Not a change the user made, so
        // `updated_at` stays.
        users::Entity::update_many()
            .col_expr(
                users::Column::PasswordHash,
                sea_orm::sea_query::Expr::value(password_hash),
            )
            .filter(users::Column::Id.eq(user.id))
            .filter(users::Column::PasswordHash.eq(user.password_hash.as_str()))
            .exec(db)
            .await?;
    }
    start_session(db, auth, user).await
}

/// More characters than any password may have (the contract's 256).
fn too_long(password: &str) -> bool {
    // Bytes first: no need to count the characters of a megabyte.
    password.len() > 4 * PASSWORD_MAX_CHARS || password.chars().count() > PASSWORD_MAX_CHARS
}

fn login_failed(user_id: Option<Uuid>, client_ip: &str) {
    metrics::counter!(crate::metrics::LOGIN_FAILURES).increment(1);
    match user_id {
        Some(id) => log::warn!(target: SECURITY, "failed login: user {id} from {client_ip}"),
        None => log::warn!(target: SECURITY, "failed login: unknown account from {client_ip}"),
    }
}

/// A password attempt counted as a failure *before* the password is checked, so that
/// parallel guesses cannot overrun the limits: per client address, per (account, address),
/// and per account from all addresses (the backstop). A right password takes them back.
struct FailedLogin {
    ip: Option<rate_limit::Attempt>,
    pair: rate_limit::Attempt,
    pair_subject: String,
    account: rate_limit::Attempt,
}

impl FailedLogin {
    /// `per_ip`: whether the address's own limit applies (a login); a password
    /// confirmation by a logged-in user is counted per account only.
    async fn acquire(
        db: &DatabaseConnection,
        auth: &Auth,
        account: &str,
        client_ip: &str,
        per_ip: bool,
    ) -> Result<Self> {
        let limits = auth.limits;
        let ip = if per_ip {
            Some(
                rate_limit::acquire(
                    db,
                    Scope::LoginFailureIp,
                    client_ip,
                    limits.login_failures_per_ip,
                )
                .await?,
            )
        } else {
            None
        };
        let pair_subject = format!("{account} {client_ip}");
        let pair = rate_limit::acquire(
            db,
            Scope::LoginFailureAccountIp,
            &pair_subject,
            limits.login_failures_per_account,
        )
        .await;
        let pair = match pair {
            Ok(pair) => pair,
            Err(e) => {
                // Refused before any password was tried: not a failure for this address.
                if let Some(ip) = ip {
                    rate_limit::release(db, ip).await?;
                }
                return Err(e);
            }
        };
        let total = rate_limit::acquire(
            db,
            Scope::LoginFailureAccount,
            account,
            limits.login_failures_per_account_total,
        )
        .await;
        match total {
            Ok(account) => Ok(Self {
                ip,
                pair,
                pair_subject,
                account,
            }),
            Err(e) => {
                if let Some(ip) = ip {
                    rate_limit::release(db, ip).await?;
                }
                rate_limit::release(db, pair).await?;
                Err(e)
            }
        }
    }

    /// The attempt was no password failure after all: every count is taken back.
    async fn release(self, db: &DatabaseConnection) -> Result<()> {
        if let Some(ip) = self.ip {
            rate_limit::release(db, ip).await?;
        }
        rate_limit::release(db, self.pair).await?;
        rate_limit::release(db, self.account).await
    }

    /// The right password: this address's failures for the account are forgotten.
    async fn succeeded(self, db: &DatabaseConnection) -> Result<()> {
        if let Some(ip) = self.ip {
            rate_limit::release(db, ip).await?;
        }
        rate_limit::release(db, self.account).await?;
        // Clearing the pair's events takes this attempt's (`self.pair`) with them.
        rate_limit::clear(db, Scope::LoginFailureAccountIp, &self.pair_subject).await
    }
}

/// Begins a login: a new session (refresh-token family) and its first token pair.
async fn start_session(
    db: &DatabaseConnection,
    auth: &Auth,
    user: users::Model,
) -> Result<AuthResponse> {
    let started = crate::versioning::now();
    let session = sessions::ActiveModel {
        user_id: Set(user.id),
        revoked_at: Set(None),
        created_at: Set(started),
        last_used_at: Set(Some(started)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    issue_pair(db, auth, user, &session).await
}

async fn issue_pair<C: ConnectionTrait>(
    db: &C,
    auth: &Auth,
    user: users::Model,
    session: &sessions::Model,
) -> Result<AuthResponse> {
    let session_id = session.id;
    let refresh_token = new_refresh_token();
    // Each refresh token lives `refresh_ttl`, but never past the login's absolute end.
    let sliding = Utc::now() + chrono::Duration::seconds(auth.tokens.refresh_ttl_secs);
    let absolute = session.created_at.with_timezone(&Utc)
        + chrono::Duration::seconds(auth.tokens.session_max_lifetime_secs);
    refresh_tokens::ActiveModel {
        session_id: Set(session_id),
        token_hash: Set(refresh_token_hash(&refresh_token)),
        expires_at: Set(sliding.min(absolute).fixed_offset()),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let access_token = auth
        .tokens
        .issue_access(user.id, session_id, user.token_version)?;
    Ok(AuthResponse {
        user: UserDto::from(user),
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: auth.tokens.access_ttl_secs,
    })
}

/// Ends a session: its refresh tokens and access tokens stop working at once.
pub(crate) async fn revoke_session<C: ConnectionTrait>(db: &C, session_id: Uuid) -> Result<()> {
    sessions::Entity::update_many()
        .col_expr(
            sessions::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(crate::versioning::now()),
        )
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every login and every personal access token of a user (password change).
pub(crate) async fn end_every_credential<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<()> {
    revoke_all_sessions(db, user_id).await?;
    crate::personal_tokens::delete_all(db, user_id).await
}

/// Ends every session of a user.
async fn revoke_all_sessions<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<()> {
    sessions::Entity::update_many()
        .col_expr(
            sessions::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(crate::versioning::now()),
        )
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Spends a refresh token for a new pair. A token presented a second time means it was
/// stolen or replayed: the whole session is revoked.
pub async fn refresh(
    db: &DatabaseConnection,
    auth: &Auth,
    request: RefreshRequest,
) -> Result<AuthResponse> {
    let rejected = Error::Unauthorized("invalid refresh token");
    let token_hash = refresh_token_hash(&request.refresh_token);
    let txn = db.begin().await?;
    // Claim the token first, atomically: of two concurrent refreshes only one can succeed,
    // and the other counts as reuse. Starting with the write also makes SQLite take its
    // write lock at once (waiting out the busy timeout) instead of failing to upgrade a
    // read snapshot that a concurrent refresh has made stale. Every early return below
    // drops the transaction, which rolls the claim back.
    let claimed = refresh_tokens::Entity::update_many()
        .col_expr(
            refresh_tokens::Column::UsedAt,
            sea_orm::sea_query::Expr::value(crate::versioning::now()),
        )
        .filter(refresh_tokens::Column::TokenHash.eq(token_hash.as_str()))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let Some(token) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token_hash.as_str()))
        .one(&txn)
        .await?
    else {
        return Err(rejected);
    };
    let session = sessions::Entity::find_by_id(token.session_id)
        .one(&txn)
        .await?;
    let Some(session) = session.filter(|s| s.revoked_at.is_none()) else {
        return Err(rejected);
    };
    if claimed.rows_affected != 1 {
        // Already spent: a replay, or the loser of a race. Either way the login ends.
        revoke_session(&txn, session.id).await?;
        txn.commit().await?;
        log::warn!(
            target: SECURITY,
            "refresh token reuse: session {} of user {} revoked",
            session.id,
            session.user_id
        );
        return Err(rejected);
    }
    if token.expires_at.with_timezone(&Utc) <= Utc::now() {
        return Err(rejected);
    }
    let Some(user) = users::Entity::find_by_id(session.user_id).one(&txn).await? else {
        return Err(rejected);
    };
    sessions::Entity::update_many()
        .col_expr(
            sessions::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(crate::versioning::now()),
        )
        .filter(sessions::Column::Id.eq(session.id))
        .exec(&txn)
        .await?;
    let response = issue_pair(&txn, auth, user, &session).await?;
    txn.commit().await?;
    Ok(response)
}

/// Ends the login that `refresh_token` belongs to (spent or not).
pub async fn logout(db: &DatabaseConnection, request: RefreshRequest) -> Result<()> {
    let Some(token) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(refresh_token_hash(&request.refresh_token)))
        .one(db)
        .await?
    else {
        return Err(Error::Unauthorized("invalid refresh token"));
    };
    revoke_session(db, token.session_id).await
}

/// A caller as their Bearer token says, before the database has said whether it still
/// works: a login's access token (signature, algorithm, expiry, issuer and audience
/// checked) or a personal access token (only its hash known). [`Caller::check`] makes it
/// an [`Actor`]; a world query can instead check it in its own round trip
/// ([`crate::access::world_access`]), which saves one query on every such request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Login(LoginCaller),
    Token(TokenCaller),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginCaller {
    pub user_id: Uuid,
    pub session_id: Uuid,
    token_version: i32,
}

/// A personal access token as presented: what the database finds it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    hash: String,
}

impl TokenCaller {
    pub(crate) fn hash(&self) -> &str {
        &self.hash
    }
}

impl Caller {
    /// Tells the two kinds of token apart by their prefix. A personal access token is
    /// hashed (SHA-256, no password-hash cost) to be found by its hash.
    pub fn from_token(auth: &Auth, bearer: &str) -> Result<Self> {
        if let Some(hash) = crate::personal_tokens::hash_of_presented(bearer) {
            return Ok(Caller::Token(TokenCaller { hash }));
        }
        let claims = auth.tokens.verify_access(bearer)?;
        Ok(Caller::Login(LoginCaller {
            user_id: claims.sub,
            session_id: claims.sid,
            token_version: claims.ver,
        }))
    }

    /// Checks the credential in a query of its own.
    pub async fn check<C: ConnectionTrait>(&self, db: &C) -> Result<Actor> {
        match self {
            Caller::Login(login) => login.check(db).await,
            Caller::Token(token) => crate::personal_tokens::authenticate(db, token.hash()).await,
        }
    }
}

impl LoginCaller {
    /// The rule that keeps a token working, as an SQL expression so that it can ride
    /// along in another query: its session exists for this user and is not revoked, and
    /// the user's token version is the one the token was issued with.
    pub(crate) fn session_is_current(&self) -> SimpleExpr {
        // In here only: its `min`/`max` would shadow `Ord`'s on the times below.
        use sea_orm::sea_query::ExprTrait;
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(sessions::Entity)
                .inner_join(
                    users::Entity,
                    Expr::col((users::Entity, users::Column::Id))
                        .equals((sessions::Entity, sessions::Column::UserId)),
                )
                .and_where(Expr::col((sessions::Entity, sessions::Column::Id)).eq(self.session_id))
                .and_where(Expr::col((sessions::Entity, sessions::Column::UserId)).eq(self.user_id))
                .and_where(Expr::col((sessions::Entity, sessions::Column::RevokedAt)).is_null())
                .and_where(
                    Expr::col((users::Entity, users::Column::TokenVersion)).eq(self.token_version),
                )
                .to_owned(),
        )
    }

    /// The caller, once the database says the session is current.
    pub(crate) fn verified(&self, session_is_current: bool) -> Result<Actor> {
        if session_is_current {
            Ok(Actor {
                user_id: self.user_id,
                grant: Grant::Login {
                    session_id: self.session_id,
                },
            })
        } else {
            Err(Error::Unauthorized("token revoked"))
        }
    }

    async fn check<C: ConnectionTrait>(&self, db: &C) -> Result<Actor> {
        let query = Query::select()
            .expr_as(self.session_is_current(), SESSION_IS_CURRENT)
            .to_owned();
        let row = db
            .query_one(&query)
            .await?
            .ok_or_else(|| Error::Internal("a SELECT without FROM returned no row".into()))?;
        self.verified(row.try_get("", SESSION_IS_CURRENT)?)
    }
}

/// The column that carries [`LoginCaller::session_is_current`] in a query's result.
pub(crate) const SESSION_IS_CURRENT: &str = "session_is_current";

/// Turns a Bearer token into the caller: a login's token must be valid, its session not
/// revoked and the user's token version unchanged since issue; a personal access token
/// must exist and not have expired.
pub async fn authenticate(db: &DatabaseConnection, auth: &Auth, bearer: &str) -> Result<Actor> {
    Caller::from_token(auth, bearer)?.check(db).await
}

/// Checks the caller's own password before a sensitive change, under the same failure
/// limits as login for the account and this client address.
pub(crate) async fn confirm_password(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
    password: &str,
    client_ip: &str,
) -> Result<()> {
    let attempts = FailedLogin::acquire(db, auth, &user.email, client_ip, false).await?;
    if too_long(password) {
        login_failed(Some(user.id), client_ip);
        return Err(Error::InvalidCredentials);
    }
    let verification = auth
        .passwords
        .verify(password, Some(&user.password_hash))
        .await;
    match verification {
        Ok(v) if v.matches => attempts.succeeded(db).await,
        Ok(_) => {
            login_failed(Some(user.id), client_ip);
            Err(Error::InvalidCredentials)
        }
        Err(e) => {
            attempts.release(db).await?;
            Err(e)
        }
    }
}
