//! Request extractors: the JSON body under the contract's limits, the caller, the client
//! address and `If-Match`.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use service::Error;
use service::auth::{self, Actor, Caller};

use crate::client_ip::{ClientKey, TrustedProxies, client_address};
use crate::problem::ApiError;
use crate::state::AppState;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// JSON nested deeper than this is refused with 422 (the same bound as for `where`).
pub use service::json_limits::MAX_JSON_DEPTH;

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
    if service::json_limits::depth_exceeds(body, MAX_JSON_DEPTH) {
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
    if let Some(path) = service::json_body::nul_path(&value) {
        return Err(ApiError::Service(Error::validation(
            if path.is_empty() {
                "body".to_owned()
            } else {
                path
            },
            "must not contain NUL characters",
        )));
    }
    service::json_body::from_value(value).map_err(|e| ApiError::Service(Error::Validation(vec![e])))
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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

/// The client's address, the key for per-address limits: the TCP peer, or behind a
/// trusted proxy the address it forwarded; an IPv6 client as its /64 (see
/// [`crate::client_ip`]).
pub struct ClientIp(pub String);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let no_proxies = TrustedProxies::default();
        let trusted = req
            .app_data::<web::Data<TrustedProxies>>()
            .map_or(&no_proxies, |data| data.get_ref());
        let ip = match req.peer_addr() {
            Some(peer) => {
                let forwarded = req
                    .headers()
                    .get_all("x-forwarded-for")
                    .filter_map(|value| value.to_str().ok());
                ClientKey::new(client_address(peer.ip(), forwarded, trusted)).to_string()
            }
            None => "unknown".to_owned(),
        };
        std::future::ready(Ok(ClientIp(ip)))
    }
}

/// The version named by `If-Match: "<version>"`, if the header was sent. `*` matches any.
pub struct IfMatch(pub Option<i32>);

/// `If-Match` on a versioned write, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The `ETag` last seen (`"<version>"`, or `*` for any): the write happens only if
    /// the resource is still at that version, else 412.
    #[param(rename = "If-Match", nullable = false)]
    #[allow(dead_code)]
    if_match: Option<String>,
}

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

/// The page a list request asks for: its `limit` and `cursor` (declared in the document as
/// [`crate::routes::worlds::PageParams`]); a bad one is 400.
pub struct Paged(pub service::paging::PageRequest);

impl FromRequest for Paged {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = QueryParams::<crate::routes::worlds::PageParams>::from_request(req, payload)
            .into_inner()
            .and_then(|QueryParams(params)| Ok(params.into_request()?));
        std::future::ready(parsed.map(Paged))
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

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Required {
        name: String,
        kind: String,
        #[serde(default, deserialize_with = "service::patch::reject_null")]
        tags: Option<Vec<String>>,
    }

    fn field_of(body: &[u8]) -> String {
        match parse_json::<Required>(body) {
            Err(ApiError::Service(Error::Validation(errors))) => errors[0].field.clone(),
            other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn errors_name_the_field_they_are_about() {
        assert_eq!(field_of(br#"{"kind": "k"}"#), "name");
        assert_eq!(field_of(br#"{"name": "n"}"#), "kind");
        assert_eq!(field_of(br#"{"name": 3, "kind": "k"}"#), "name");
        assert_eq!(field_of(br#"{"name": "n", "kind": []}"#), "kind");
        assert_eq!(
            field_of(br#"{"name": "n", "kind": "k", "tags": "x"}"#),
            "tags"
        );
        assert_eq!(
            field_of(br#"{"name": "n", "kind": "k", "tags": null}"#),
            "tags"
        );
        assert_eq!(field_of(br#"{"name": "n", "kind": "k", "id": 1}"#), "id");
    }
}
