//! The caller's personal access tokens and logins. Each needs a login: a personal access
//! token can manage neither.
use actix_web::{HttpResponse, delete, get, post, web};
use service::personal_tokens::{
    self, CreatePersonalTokenRequest, CreatedPersonalTokenDto, PersonalTokenDto,
};
use service::sessions::{self, SessionDto};
use uuid::Uuid;

use crate::extract::{Authenticated, JsonBody, Paged};
use crate::problem::ApiResult;
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// Makes a personal access token for a tool. The secret (`token`) is shown this once only.
/// Needs a login: a personal access token cannot make tokens.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), request_body = CreatePersonalTokenRequest, responses(
    (status = 201, body = CreatedPersonalTokenDto, headers(("Location" = String, description = "The new token"))),
    crate::responses::WriteErrors,
))]
#[post("/users/me/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreatePersonalTokenRequest>,
) -> ApiResult<HttpResponse> {
    let created = personal_tokens::create(&state.db, &actor, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/users/me/tokens/{}", created.details.id),
        ))
        .json(created))
}

/// The caller's personal access tokens (never their secrets), newest first. Needs a login.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = service::paging::Page<PersonalTokenDto>),
    crate::responses::ReadErrors,
))]
#[get("/users/me/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    Paged(page): Paged,
) -> ApiResult<HttpResponse> {
    let page = personal_tokens::list(&state.db, &actor, page).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Deletes one of the caller's personal access tokens; it stops working at once. Needs a
/// login.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    crate::responses::WriteErrors,
))]
#[delete("/users/me/tokens/{token_id}")]
pub async fn delete_token(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    personal_tokens::delete(&state.db, &actor, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's current logins, newest first; `current` marks this request's. Needs a
/// login.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), responses(
    (status = 200, body = Vec<SessionDto>),
    crate::responses::ReadErrors,
))]
#[get("/users/me/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(sessions::list(&state.db, &state.auth, &actor).await?))
}

/// Ends one of the caller's logins: its refresh and access tokens stop working at once.
/// Needs a login.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), responses(
    (status = 204, description = "Ended"),
    crate::responses::WriteErrors,
))]
#[delete("/users/me/sessions/{session_id}")]
pub async fn end_session(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    sessions::end(&state.db, &actor, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
