//! One answer format for every refusal of the HTTP surface: whatever layer
//! refuses (a size limit, a timeout, an unknown route or method, a path
//! parameter that does not decode, an upgrade that is not one), the client
//! gets JSON with a code — `{"error": {"code", "message"}}`, or on
//! `/graphql` the GraphQL shape `{"errors": [{"message", "extensions":
//! {"code"}}]}` — never a plain-text or empty body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ErrorCode;
use serde_json::json;

/// The code of a refusal made by an HTTP layer itself, from its status.
fn of_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::BadUserInput,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

/// The HTTP status of `code` (its [`ErrorCode::http_status`]).
pub fn status(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `{"error": {"code", "message"}}` with the code's status.
pub fn response(code: ErrorCode, message: &str) -> Response {
    (
        status(code),
        axum::Json(json!({"error": {"code": code.as_str(), "message": message}})),
    )
        .into_response()
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"))
}

/// Turns every error response that is not JSON into the coded shape,
/// keeping its status and headers (`Allow`, `Retry-After`, …).
pub async fn coded(req: Request, next: Next) -> Response {
    let graphql = req.uri().path().starts_with("/graphql");
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let code = of_status(status);
    let (mut parts, body) = response.into_parts();
    // The layers' own texts ("length limit exceeded", "Failed to buffer the
    // request body", "Invalid URL") carry no caller data; internals (5xx)
    // are never shown.
    let text = match axum::body::to_bytes(body, 1024).await {
        Ok(b) if !status.is_server_error() => String::from_utf8(b.to_vec())
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
        _ => None,
    };
    let message = text.as_deref().unwrap_or(code.meaning());
    let body = if graphql {
        json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]})
    } else {
        json!({"error": {"code": code.as_str(), "message": message}})
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}
