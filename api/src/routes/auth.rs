//! Registration, login, token refresh and logout.
use actix_web::{HttpResponse, post, web};
use service::auth::{self, AuthResponse, LoginRequest, RefreshRequest, RegisterRequest};

use crate::extract::{ClientIp, JsonBody};
use crate::problem::ApiResult;
use crate::state::AppState;

/// Creates an account and logs it in.
#[utoipa::path(tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, body = AuthResponse, headers(("Location" = String, description = "The new user"))),
    (status = 429, response = crate::responses::RateLimited),
    crate::responses::WriteErrors,
))]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    ip: ClientIp,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let response = auth::register(&state.db, &state.auth, body, &ip.0).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", "/api/v1/users/me"))
        .json(response))
}

/// Logs in with email and password.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = AuthResponse),
    (status = 429, response = crate::responses::RateLimited),
    crate::responses::WriteErrors,
))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    ip: ClientIp,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let response = auth::login(&state.db, &state.auth, body, &ip.0).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Spends a refresh token for a new token pair. Presenting a spent one ends its login.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = AuthResponse),
    crate::responses::WriteErrors,
))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let response = auth::refresh(&state.db, &state.auth, body).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Ends the login the refresh token belongs to; its access tokens stop working too.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 204, description = "Logged out"),
    crate::responses::WriteErrors,
))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    auth::logout(&state.db, body).await?;
    Ok(HttpResponse::NoContent().finish())
}
