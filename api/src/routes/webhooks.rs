//! A world's webhooks and their delivery logs (owner only).
use actix_web::{HttpResponse, delete, get, patch, post, web};
use service::paging::Page;
use service::webhooks::{
    self, CreateWebhookRequest, CreatedWebhookDto, DeliveryDto, UpdateWebhookRequest, WebhookDto,
};
use uuid::Uuid;

use crate::extract::{Authenticated, JsonBody, Paged};
use crate::problem::ApiResult;
use crate::routes::worlds::PageParams;
use crate::state::AppState;

/// Subscribes a URL to the world's changes (owner only). The answer holds the signing
/// secret, shown this once. Each matching change is POSTed, signed as Standard Webhooks
/// says (`webhook-id` is `<world_id>:<seq>`), in `seq` order, at least once; failures are
/// retried for 24 hours, then the webhook is deactivated.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = CreateWebhookRequest,
    responses(
        (status = 201, body = CreatedWebhookDto, headers(("Location" = String))),
        crate::responses::WriteErrors,
))]
#[post("/worlds/{world_id}/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    JsonBody(body): JsonBody<CreateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    let world_id = path.into_inner();
    let created =
        webhooks::create(&state.db, &actor, world_id, body, state.webhook_targets).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/worlds/{world_id}/webhooks/{}", created.webhook.id),
        ))
        .json(created))
}

/// The world's webhooks, oldest first (owner only; at most 20, so one page).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), responses(
    (status = 200, body = Vec<WebhookDto>),
    crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(webhooks::list(&state.db, &actor, path.into_inner()).await?))
}

/// Changes a webhook (owner only). `active: true` reactivates a deactivated one;
/// `active: false` pauses it and drops what it was still owed.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = UpdateWebhookRequest,
    responses(
        (status = 200, body = WebhookDto),
        crate::responses::WriteErrors,
))]
#[patch("/worlds/{world_id}/webhooks/{webhook_id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<UpdateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    let (world_id, webhook_id) = path.into_inner();
    let updated = webhooks::update(
        &state.db,
        &actor,
        world_id,
        webhook_id,
        body,
        state.webhook_targets,
    )
    .await?;
    Ok(HttpResponse::Ok().json(updated))
}

/// Deletes a webhook, with its pending deliveries and its log (owner only).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        crate::responses::WriteErrors,
))]
#[delete("/worlds/{world_id}/webhooks/{webhook_id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (world_id, webhook_id) = path.into_inner();
    webhooks::delete(&state.db, &actor, world_id, webhook_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The webhook's recent delivery attempts, newest first (owner only). Kept as long as
/// the change log (`CHANGES_RETENTION_DAYS`).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Page<DeliveryDto>),
        crate::responses::ReadErrors,
))]
#[get("/worlds/{world_id}/webhooks/{webhook_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    Paged(page): Paged,
) -> ApiResult<HttpResponse> {
    let (world_id, webhook_id) = path.into_inner();
    let page = webhooks::deliveries(&state.db, &actor, world_id, webhook_id, page).await?;
    Ok(HttpResponse::Ok().json(page))
}
