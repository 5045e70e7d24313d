//! Invitations: sent by a world's owner, seen and answered only by the invited account.
//! Each needs a login.
use actix_web::{HttpResponse, delete, get, post, web};
use service::invitations::{self, CreateInvitationRequest, InvitationDto, ReceivedInvitationDto};
use service::worlds::WorldDto;
use uuid::Uuid;

use crate::extract::{Authenticated, JsonBody, Paged};
use crate::problem::ApiResult;
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// Invites an email address to the world with a role (owner only). The answer is the same
/// whether or not the address has an account; it expires after 7 days. 409 when the address
/// is a member already or has a pending invitation to this world.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), request_body = CreateInvitationRequest,
    responses(
        (status = 201, body = InvitationDto, headers(("Location" = String, description = "The new invitation"))),
        crate::responses::WriteErrors,
))]
#[post("/worlds/{world_id}/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    JsonBody(body): JsonBody<CreateInvitationRequest>,
) -> ApiResult<HttpResponse> {
    let world_id = path.into_inner();
    let invitation = invitations::create(&state.db, &actor, world_id, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/worlds/{world_id}/invitations/{}", invitation.id),
        ))
        .json(invitation))
}

/// The world's pending invitations, newest first (owner only).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = service::paging::Page<InvitationDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/invitations")]
pub async fn list_world_invitations(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    Paged(page): Paged,
) -> ApiResult<HttpResponse> {
    let page = invitations::list_for_world(&state.db, &actor, path.into_inner(), page).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Revokes a pending invitation (owner only); 409 when it is no longer pending.
#[utoipa::path(tag = "invitations", security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        crate::responses::WriteErrors,
))]
#[delete("/worlds/{world_id}/invitations/{invitation_id}")]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (world_id, invitation_id) = path.into_inner();
    invitations::revoke(&state.db, &actor, world_id, invitation_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The pending invitations addressed to the caller's email, newest first, each with its
/// world and who sent it.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = service::paging::Page<ReceivedInvitationDto>),
    crate::responses::ReadErrors,
))]
#[get("/users/me/invitations")]
pub async fn list_my_invitations(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    Paged(page): Paged,
) -> ApiResult<HttpResponse> {
    let page = invitations::list_mine(&state.db, &actor, page).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Accepts an invitation addressed to the caller: the caller becomes a member with the
/// invited role. Anyone else's invitation is 404; one no longer pending (accepted,
/// declined, revoked or expired) is 409.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), responses(
    (status = 200, body = WorldDto),
    crate::responses::WriteErrors,
))]
#[post("/users/me/invitations/{invitation_id}/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(invitations::accept(&state.db, &actor, path.into_inner()).await?))
}

/// Declines an invitation addressed to the caller. Anyone else's invitation is 404; one no
/// longer pending is 409.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), responses(
    (status = 204, description = "Declined"),
    crate::responses::WriteErrors,
))]
#[post("/users/me/invitations/{invitation_id}/decline")]
pub async fn decline_invitation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    invitations::decline(&state.db, &actor, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
