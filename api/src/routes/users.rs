//! The caller's own account.
use actix_web::{HttpResponse, delete, get, patch, put, web};
use service::users::{self, ChangePasswordRequest, DeleteMeRequest, UpdateMeRequest, UserDto};

use crate::extract::{Authenticated, ClientIp, JsonBody};
use crate::problem::ApiResult;
use crate::state::AppState;

/// The caller's account.
#[utoipa::path(tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = UserDto),
    crate::responses::ReadErrors,
))]
#[get("/users/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(users::get_me(&state.db, &actor).await?))
}

/// Changes the display name and merges a patch into the preferences (RFC 7396).
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = UpdateMeRequest, responses(
    (status = 200, body = UserDto),
    crate::responses::WriteErrors,
))]
#[patch("/users/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<UpdateMeRequest>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(users::update_me(&state.db, &actor, body).await?))
}

/// Sets a new password; every token issued before stops working.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = ChangePasswordRequest, responses(
    (status = 204, description = "Password changed"),
    (status = 429, response = crate::responses::RateLimited),
    crate::responses::WriteErrors,
))]
#[put("/users/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ip: ClientIp,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    users::change_password(&state.db, &state.auth, &actor, body, &ip.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes the account with its worlds and everything in them.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = DeleteMeRequest, responses(
    (status = 204, description = "Account deleted"),
    (status = 429, response = crate::responses::RateLimited),
    crate::responses::WriteErrors,
))]
#[delete("/users/me")]
pub async fn delete_me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ip: ClientIp,
    JsonBody(body): JsonBody<DeleteMeRequest>,
) -> ApiResult<HttpResponse> {
    users::delete_me(&state.db, &state.auth, &actor, body, &ip.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
