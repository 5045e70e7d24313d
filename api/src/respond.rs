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

/// A PUT's answer: 201 with `location` when it made the resource, 200 when it replaced
/// it; `ETag` either way.
pub fn put_answer(
    created_it: bool,
    location: String,
    version: i32,
    body: &impl Serialize,
) -> HttpResponse {
    if created_it {
        created(location, version, body)
    } else {
        versioned(StatusCode::OK, version, body)
    }
}

/// 201 with the new resource's `Location` and `ETag`.
pub fn created(location: String, version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", location))
        .insert_header(("ETag", format!("\"{version}\"")))
        .json(body)
}
