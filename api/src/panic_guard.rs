//! A handler that panics answers 500 problem+json instead of dropping the connection, and
//! the worker keeps serving.
use std::panic::AssertUnwindSafe;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::problem::ApiError;

pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // Only owned copies: a clone of the request itself would stop the router from
    // matching it.
    let method = req.method().clone();
    let path = req.path().to_owned();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            // An error returned from middleware becomes its own response (problem+json);
            // no request is needed to build it.
            Err(ApiError::Service(service::Error::Internal(format!(
                "handler panicked on {method} {path}: {message}"
            )))
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, HttpResponse, test, web};

    use super::catch_panics;

    async fn boom() -> HttpResponse {
        panic!("boom")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_and_the_app_keeps_serving() {
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(catch_panics))
                .route("/boom/{id}", web::get().to(boom))
                .route(
                    "/ok",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        // The dispatcher answers an error from the service with its error_response().
        let request = test::TestRequest::get().uri("/boom/1").to_request();
        let error = match test::try_call_service(&app, request).await {
            Err(error) => error,
            Ok(response) => panic!("expected the panic as an error, got {}", response.status()),
        };
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        // Outside every middleware, and still with the security headers.
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("internal-error") && !text.contains("boom"),
            "{text}"
        );
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(response.status(), 200);
    }
}
