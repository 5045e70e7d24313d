//! Request extractors: the JSON body under the contract's limits, the caller, the client
//! address and `If-Match`.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use service::auth::{self, Actor, Caller};
use service::{Error, FieldError};

use crate::problem::ApiError;
use crate::state::AppState;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// JSON nested deeper than this is refused with 422.
pub const MAX_JSON_DEPTH: usize = 32;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Service(Error::Internal("application state missing".into())))
}

/// A JSON request body: `application/json` (415 otherwise), at most 1 MiB (413), nested
/// at most 32 levels (422), well-formed (400) and of the expected shape, with no unknown
/// fields (422).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json_content_type(req);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|len| len > MAX_BODY_BYTES) {
                return Err(ApiError::PayloadTooLarge);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::Malformed(format!("could not read the body: {e}")))?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a body, telling malformed JSON (400) from JSON of the wrong shape (422). Every
/// body is a JSON object, and no string in it may hold a NUL character (the database could
/// not store it).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if json_depth_exceeds(body, MAX_JSON_DEPTH) {
        return Err(ApiError::Service(Error::validation(
            "body",
            format!("JSON may be nested at most {MAX_JSON_DEPTH} levels deep"),
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::Service(Error::validation(
            "body",
            "must be a JSON object",
        )));
    }
    if let Some(path) = nul_path(&value, String::new()) {
        return Err(ApiError::Service(Error::validation(
            if path.is_empty() {
                "body".to_owned()
            } else {
                path
            },
            "must not contain NUL characters",
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." {
            "body".to_owned()
        } else {
            path
        };
        ApiError::Service(Error::Validation(vec![FieldError::new(
            field,
            strip_position(e.inner()),
        )]))
    })
}

/// Where a NUL character sits in a JSON value (a key or a string), if anywhere.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(at),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, child)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if key.contains('\0') {
                Some(path)
            } else {
                nul_path(child, path)
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| nul_path(child, format!("{at}[{i}]"))),
        _ => None,
    }
}

/// serde_json's message without " at line L column C", which means nothing to a client
/// that sent a one-line body.
fn strip_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// Whether brackets nest deeper than `max` outside of strings. Runs before parsing, so a
/// hostile body never reaches serde's recursion.
fn json_depth_exceeds(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn bearer_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Service(Error::Unauthorized("malformed Authorization header")))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(ApiError::Service(Error::Unauthorized(
            "expected a Bearer token",
        ))),
    }
}

/// The caller, from a valid Bearer token (a login's access token or a personal access
/// token); 401 without one. What the credential allows is the use case's to ask
/// ([`service::access`]).
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state?;
            let token = token?.ok_or(ApiError::Service(Error::Unauthorized(
                "missing Bearer token",
            )))?;
            let actor = auth::authenticate(&state.db, &state.auth, &token).await?;
            Ok(Authenticated(actor))
        })
    }
}

/// The caller if a token was sent (a login's access token must then have a valid signature
/// and claims; a personal access token is only hashed), or anonymous. Neither the session
/// nor the personal access token is looked up here: the world query of the use case does
/// it in the same round trip ([`service::access::world_access`]).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state(req).and_then(|state| match bearer_token(req)? {
            Some(token) => Ok(MaybeCaller(Some(Caller::from_token(&state.auth, &token)?))),
            None => Ok(MaybeCaller(None)),
        }))
    }
}

/// The client's address as this server saw it, the key for per-IP limits.
pub struct ClientIp(pub String);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = req
            .peer_addr()
            .map(|addr| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        std::future::ready(Ok(ClientIp(ip)))
    }
}

/// The version named by `If-Match: "<version>"`, if the header was sent. `*` matches any.
pub struct IfMatch(pub Option<i32>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_if_match(req).map(IfMatch))
    }
}

fn parse_if_match(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Malformed("malformed If-Match header".into()))?
        .trim();
    if value == "*" {
        return Ok(None);
    }
    // If-Match compares strongly (RFC 9110): a weak tag never matches, nor does a list,
    // since only one version can be current and clients send the one they last saw.
    if value.starts_with("W/") || value.contains(',') {
        return Ok(Some(-1));
    }
    value
        .trim_matches('"')
        .parse::<i32>()
        .map(Some)
        // An entity tag we never issued cannot match the current one.
        .or(Ok(Some(-1)))
}

/// Query parameters, with repeated keys (`?tag=a&tag=b`) collected into `Vec`s. A query
/// string that does not fit is 400.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        if query.to_ascii_lowercase().contains("%00") {
            return std::future::ready(Err(ApiError::Malformed(
                "query parameters must not contain NUL characters".into(),
            )));
        }
        std::future::ready(
            serde_html_form::from_str(query)
                .map(QueryParams)
                .map_err(|e| ApiError::Malformed(format!("invalid query string: {e}"))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
    }

    #[test]
    fn bodies_must_be_clean_objects() {
        assert!(parse_json::<Body>(br#"{"name": "ok"}"#).is_ok());
        assert!(matches!(
            parse_json::<Body>(b"[null]"),
            Err(ApiError::Service(Error::Validation(_)))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"name": "a\u0000b"}"#),
            Err(ApiError::Service(Error::Validation(_)))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"name": 3}"#),
            Err(ApiError::Service(Error::Validation(_)))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"other": 3}"#),
            Err(ApiError::Service(Error::Validation(_)))
        ));
        assert!(matches!(
            parse_json::<Body>(b"{"),
            Err(ApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"name": "x"} trailing"#),
            Err(ApiError::Malformed(_))
        ));
    }

    #[test]
    fn depth_counts_only_structure() {
        let deep = "[".repeat(33) + &"]".repeat(33);
        assert!(json_depth_exceeds(deep.as_bytes(), 32));
        let ok = "[".repeat(32) + &"]".repeat(32);
        assert!(!json_depth_exceeds(ok.as_bytes(), 32));
        let in_string = format!("{{\"a\": \"{}\"}}", "[".repeat(100));
        assert!(!json_depth_exceeds(in_string.as_bytes(), 32));
    }
}
