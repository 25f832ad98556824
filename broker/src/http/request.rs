//! What every API handler needs from a request and for its answer: the peer address, the
//! JSON body read under a size cap and a deadline, the query string, and errors in the shape
//! the Iggy HTTP API answers them (`{"id", "code", "reason", "field"}` with a 4xx/5xx status).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use whippet_wire::native::status::Status;

use crate::connections::RequestBudget;
use crate::context::BrokerContext;
use crate::core::users::UserError;
use crate::limits;

/// The client address of the connection a request came on, put into the request's extensions
/// by the connection loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// The peer of `request` (a loopback placeholder if the connection loop did not record one,
/// as in unit tests that call the router directly).
pub(crate) fn peer(request: &Request) -> SocketAddr {
    request
        .extensions()
        .get::<Peer>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |peer| peer.0)
}

/// An error answer: an HTTP status and the Iggy error body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    id: u32,
    code: String,
    reason: String,
}

impl ApiError {
    /// An error with its own status, Iggy code number and name.
    pub fn new(status: StatusCode, id: u32, code: &str, reason: impl Into<String>) -> Self {
        Self {
            status,
            id,
            code: code.to_owned(),
            reason: reason.into(),
        }
    }

    /// A malformed request (body, query or path): `400`, Iggy's InvalidFormat / InvalidCommand.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 4, "invalid_format", reason)
    }

    /// A failure of the broker's own making: `500` with `reason`.
    pub fn status_text(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 1, "error", reason)
    }

    /// A missing resource: `404`.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 20, "resource_not_found", reason)
    }

    /// The error a native status becomes (401 unauthenticated, 403 unauthorized, 404 for the
    /// not-found codes, 500 for an unclassified failure, 400 for the rest).
    pub fn status(status: Status) -> Self {
        let http = match status {
            Status::Unauthenticated
            | Status::InvalidCredentials
            | Status::UserInactive
            | Status::InvalidPersonalAccessToken
            | Status::PersonalAccessTokenExpired => StatusCode::UNAUTHORIZED,
            Status::Unauthorized => StatusCode::FORBIDDEN,
            Status::ResourceNotFound
            | Status::ClientNotFound
            | Status::StreamIdNotFound
            | Status::StreamNameNotFound
            | Status::TopicIdNotFound
            | Status::TopicNameNotFound
            | Status::PartitionNotFound
            | Status::ConsumerOffsetNotFound
            | Status::ConsumerGroupIdNotFound
            | Status::ConsumerGroupNameNotFound
            | Status::ConsumerGroupMemberNotFound => StatusCode::NOT_FOUND,
            Status::Error => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let name = snake_case(&format!("{status:?}"));
        let reason = name.replace('_', " ");
        Self::new(http, status.code(), &name, reason)
    }

    /// The HTTP status of this error.
    #[cfg(test)]
    pub fn http_status(&self) -> StatusCode {
        self.status
    }
}

/// The HTTP adapter's mapping of the core's user errors (logins, session checks,
/// authorization) to Iggy's codes and an HTTP status.
pub(crate) fn user_error(error: &UserError) -> ApiError {
    let status = match error {
        UserError::InvalidUsername => Status::InvalidUsername,
        UserError::InvalidPassword => Status::InvalidPassword,
        UserError::InvalidCredentials => Status::InvalidCredentials,
        UserError::InvalidToken => Status::InvalidPersonalAccessToken,
        UserError::TokenExpired => Status::PersonalAccessTokenExpired,
        UserError::Inactive => Status::UserInactive,
        UserError::Unauthenticated => Status::Unauthenticated,
        UserError::Unauthorized => Status::Unauthorized,
        UserError::NotFound => Status::ResourceNotFound,
        _ => return ApiError::status_text(error.to_string()),
    };
    ApiError::status(status)
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        Self::status(status)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "id": self.id,
            "code": self.code,
            "reason": self.reason,
            "field": serde_json::Value::Null,
        });
        (self.status, json_body(&body)).into_response()
    }
}

/// `CamelCase` → `snake_case` (status names as the Iggy error codes spell them).
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a handler returns.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON body with its content type.
pub(crate) fn json_body(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `200` with `value` as JSON.
pub(crate) fn ok_json(value: &impl Serialize) -> ApiResult {
    Ok(json_body(value))
}

/// `201` with `value` as JSON (creations).
pub(crate) fn created_json(value: &impl Serialize) -> ApiResult {
    let mut response = json_body(value);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `204`, no body (changes and deletions).
pub(crate) fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads the whole body, at most [`limits::HTTP_BODY_BYTES_MAX`] bytes (a declared or actual
/// larger one is `413`, before more than the cap is read) within [`limits::HTTP_BODY_MS_MAX`]
/// (`408` otherwise). A large body holds a reservation of the request budget while it is read
/// and parsed.
pub(crate) async fn read_body(ctx: &BrokerContext, request: Request) -> Result<Vec<u8>, ApiError> {
    let declared = declared_length(request.headers())?;
    let peer = peer(&request);
    let _reservation = match declared {
        Some(size) if RequestBudget::applies(size) => {
            Some(ctx.connections.budget.reserve(size, peer).await)
        }
        _ => None,
    };
    let body: Body = request.into_body();
    let deadline = Duration::from_millis(limits::HTTP_BODY_MS_MAX);
    let read = tokio::time::timeout(
        deadline,
        axum::body::to_bytes(body, limits::HTTP_BODY_BYTES_MAX),
    )
    .await;
    match read {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            4,
            "invalid_format",
            "request body not received in time",
        )),
        Ok(Err(error)) if is_length_limit(&error) => Err(too_large()),
        Ok(Err(error)) => Err(ApiError::bad_request(format!(
            "request body unreadable: {error}"
        ))),
        Ok(Ok(bytes)) => Ok(bytes.to_vec()),
    }
}

/// The declared `Content-Length`, refused with `413` above the cap.
fn declared_length(headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let length = value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| ApiError::bad_request("invalid Content-Length"))?;
    match usize::try_from(length) {
        Ok(length) if length <= limits::HTTP_BODY_BYTES_MAX => Ok(Some(length)),
        _ => Err(too_large()),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        4,
        "invalid_format",
        format!("request body exceeds {} bytes", limits::HTTP_BODY_BYTES_MAX),
    )
}

/// Whether a body read failed on the length limit (`to_bytes` wraps http-body-util's error).
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

/// Reads and parses a JSON body as `T`; a body that does not parse is `400` naming why.
pub(crate) async fn read_json<T: DeserializeOwned>(
    ctx: &BrokerContext,
    request: Request,
) -> Result<T, ApiError> {
    let bytes = read_body(ctx, request).await?;
    serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::bad_request(format!("invalid JSON body: {error}")))
}

/// The query string as key → value (percent-decoded, `+` as space; the last of a repeated key
/// wins). Bounded by the request head cap.
pub(crate) fn query(request: &Request) -> BTreeMap<String, String> {
    let Some(query) = request.uri().query() else {
        return BTreeMap::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+`; an invalid escape is kept as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hex digit.
fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// A query parameter parsed as `T`; absent → `None`, unparsable → `400`.
pub(crate) fn query_param<T: std::str::FromStr>(
    query: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid query parameter {name}={text}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_escapes() {
        assert_eq!(snake_case("StreamIdNotFound"), "stream_id_not_found");
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("x%2F"), "x/");
    }

    #[test]
    fn statuses_map_to_http() {
        let cases = [
            (Status::Unauthenticated, StatusCode::UNAUTHORIZED),
            (Status::Unauthorized, StatusCode::FORBIDDEN),
            (Status::TopicNameNotFound, StatusCode::NOT_FOUND),
            (Status::InvalidTopicName, StatusCode::BAD_REQUEST),
        ];
        for (status, http) in cases {
            assert_eq!(ApiError::status(status).http_status(), http, "{status:?}");
        }
    }
}
