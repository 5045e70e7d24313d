//! Response shapes shared by the handlers.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;

/// A versioned resource with its `ETag: "<version>"`.
pub fn versioned(status: StatusCode, version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", format!("\"{version}\"")))
        .json(body)
}

/// 201 with the new resource's `Location` and `ETag`.
pub fn created(location: String, version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", location))
        .insert_header(("ETag", format!("\"{version}\"")))
        .json(body)
}
