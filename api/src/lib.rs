//! Lorebase's HTTP edge: routes, extractors and problem+json errors. Handlers extract,
//! call one `service` function and map its result; nothing else happens here.
use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, Logger};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use utoipa_swagger_ui::SwaggerUi;

pub mod client_ip;
mod extract;
mod head_as_get;
mod idempotency;
pub mod metrics;
pub mod openapi;
mod panic_guard;
mod problem;
pub mod reads;
mod respond;
mod responses;
mod routes;
mod state;

pub use problem::{ApiError, Problem};
pub use state::AppState;

use problem::ApiError as E;

/// Registers every route on an actix `App`: the endpoints, then the document's pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::PathConfig::default()
            // A path segment that is not even a UUID names nothing that exists.
            .error_handler(|_, _| E::Service(service::Error::NotFound).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|err, _| E::Malformed(format!("invalid query string: {err}")).into()),
    );
    endpoints(&mut utoipa_actix_web::service_config::ServiceConfig::new(
        cfg,
    ));
    // The page reads the document from the route below, which serves it as `openapi::json`
    // writes it (utoipa's own serialization misspells link fields).
    cfg.service(
        SwaggerUi::new("/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::from(openapi::DOCUMENT_PATH)),
    )
    .route(openapi::DOCUMENT_PATH, web::get().to(openapi_document))
    .route("/docs", web::get().to(docs_redirect));
}

/// Every endpoint, registered once: this gives actix its service and the OpenAPI document
/// its path (`openapi::document` collects them from here). A new endpoint is its handler,
/// annotated with `#[utoipa::path]` and its method, and one line here.
fn endpoints(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(routes::health::healthz)
        .service(routes::health::readyz)
        .service(routes::health::metrics)
        .service(
            utoipa_actix_web::scope("/api/v1")
                // Answers carry tokens and private data: no cache may keep them.
                .wrap(actix_web::middleware::from_fn(idempotency::idempotent))
                // Outside the idempotency layer, so a replayed answer gets a token too.
                .wrap(actix_web::middleware::from_fn(reads::consistency_token))
                .wrap(
                    actix_web::middleware::DefaultHeaders::new().add(("Cache-Control", "no-store")),
                )
                .service(routes::auth::register)
                .service(routes::auth::login)
                .service(routes::auth::refresh)
                .service(routes::auth::logout)
                .service(routes::users::get_me)
                .service(routes::users::update_me)
                .service(routes::users::change_password)
                .service(routes::users::delete_me)
                .service(routes::tokens::create_token)
                .service(routes::tokens::list_tokens)
                .service(routes::tokens::delete_token)
                .service(routes::tokens::list_sessions)
                .service(routes::tokens::end_session)
                .service(routes::invitations::list_my_invitations)
                .service(routes::invitations::accept_invitation)
                .service(routes::invitations::decline_invitation)
                // Before `/worlds/{world_id}`, which would take "import" for an id.
                .service(routes::bulk::import_world)
                .service(routes::worlds::list_worlds)
                .service(routes::worlds::create_world)
                .service(routes::worlds::get_world)
                .service(routes::worlds::update_world)
                .service(routes::worlds::delete_world)
                .service(routes::worlds::list_members)
                .service(routes::worlds::put_member)
                .service(routes::worlds::remove_member)
                .service(routes::invitations::create_invitation)
                .service(routes::invitations::list_world_invitations)
                .service(routes::invitations::revoke_invitation)
                .service(routes::elements::list_elements)
                .service(routes::elements::create_element)
                .service(routes::elements::get_element)
                .service(routes::elements::update_element)
                .service(routes::elements::delete_element)
                .service(routes::elements::list_element_relations)
                .service(routes::elements::element_history)
                .service(routes::elements::revert_element)
                .service(routes::changes::list_changes)
                .service(routes::changes::list_trash)
                .service(routes::changes::restore_element)
                .service(routes::relations::relation_history)
                .service(routes::relations::create_relation)
                .service(routes::relations::get_relation)
                .service(routes::relations::update_relation)
                .service(routes::relations::delete_relation)
                .service(routes::kinds::list_kinds)
                .service(routes::kinds::put_kind)
                .service(routes::kinds::get_kind)
                .service(routes::kinds::delete_kind)
                .service(routes::kinds::list_violations)
                .service(routes::kinds::list_relation_kinds)
                .service(routes::kinds::put_relation_kind)
                .service(routes::kinds::delete_relation_kind)
                .service(routes::webhooks::create_webhook)
                .service(routes::webhooks::list_webhooks)
                .service(routes::webhooks::update_webhook)
                .service(routes::webhooks::delete_webhook)
                .service(routes::webhooks::list_deliveries)
                .service(routes::bulk::apply_batch)
                .service(routes::bulk::export_world)
                .service(routes::search::search_elements)
                .service(routes::search::element_graph)
                .service(routes::search::find_path)
                .service(routes::search::element_mentions),
        );
}

async fn openapi_document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi::json())
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// Requests no route took: 405 with `Allow` when the path exists under other methods
/// (the OpenAPI document knows every path), otherwise 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match openapi::allowed_methods(req.path()) {
        Some(allowed) => Err(E::MethodNotAllowed(allowed)),
        None => Err(E::Service(service::Error::NotFound)),
    }
}

/// Logs every 5xx with the request it answered and the cause, which the client never
/// sees (problem bodies stay generic).
async fn log_server_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    let response = next.call(req).await?;
    if response.status().is_server_error() {
        let cause = response
            .response()
            .error()
            .map(ToString::to_string)
            .unwrap_or_else(|| "no error recorded".to_owned());
        log::error!("{method} {path} answered {}: {cause}", response.status());
    }
    Ok(response)
}

/// `X-Content-Type-Options` and `Referrer-Policy` on every answer; on the documentation
/// page also a Content-Security-Policy that keeps it out of frames (clickjacking) and
/// its scripts to its own (the UI is served from the binary, inline setup included).
async fn security_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{self, HeaderValue};
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'unsafe-inline'; \
                 style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        );
    }
    Ok(response)
}

/// Server settings that are HTTP's business.
pub struct ServerSettings {
    pub workers: Option<usize>,
    pub shutdown_timeout: Duration,
    /// Peers whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: client_ip::TrustedProxies,
    /// The Bearer token `/metrics` requires (`METRICS_TOKEN`), if any.
    pub metrics_token: Option<String>,
}

/// Builds the server on an already bound listener (so tests can bind port 0).
pub fn run(
    listener: TcpListener,
    state: AppState,
    settings: ServerSettings,
) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let trusted_proxies = web::Data::new(settings.trusted_proxies);
    let metrics_token = web::Data::new(metrics::MetricsToken::new(
        settings.metrics_token.as_deref(),
    ));
    // Installed before the first request, so the first scrape already lists everything.
    metrics::handle();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(trusted_proxies.clone())
            .app_data(metrics_token.clone())
            .wrap(actix_web::middleware::from_fn(panic_guard::catch_panics))
            .wrap(actix_web::middleware::from_fn(log_server_errors))
            .wrap(actix_web::middleware::from_fn(metrics::record))
            .wrap(actix_web::middleware::from_fn(head_as_get::head_as_get))
            .wrap(actix_web::middleware::from_fn(security_headers))
            // Only when its lines would be written: it renders parts of every request up
            // front, whatever the log level.
            .wrap(Condition::new(
                log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info),
                Logger::new("%a \"%r\" %s %b %Dms"),
            ))
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
