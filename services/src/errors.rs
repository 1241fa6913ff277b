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
use serde_json::json;

/// The codes of refusals made by the HTTP layers themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpCode {
    BadRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    RateLimited,
    Unavailable,
    Internal,
}

impl HttpCode {
    pub fn code(self) -> &'static str {
        match self {
            HttpCode::BadRequest => "BAD_REQUEST",
            HttpCode::Unauthenticated => "UNAUTHENTICATED",
            HttpCode::Forbidden => "FORBIDDEN",
            HttpCode::NotFound => "NOT_FOUND",
            HttpCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            HttpCode::RequestTimeout => "REQUEST_TIMEOUT",
            HttpCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            HttpCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            HttpCode::Unprocessable => "BAD_USER_INPUT",
            HttpCode::RateLimited => "RATE_LIMITED",
            HttpCode::Unavailable => "SERVICE_UNAVAILABLE",
            HttpCode::Internal => "INTERNAL",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            HttpCode::BadRequest => StatusCode::BAD_REQUEST,
            HttpCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            HttpCode::Forbidden => StatusCode::FORBIDDEN,
            HttpCode::NotFound => StatusCode::NOT_FOUND,
            HttpCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            HttpCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            HttpCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            HttpCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            HttpCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            HttpCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            HttpCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn of_status(status: StatusCode) -> HttpCode {
        match status {
            StatusCode::UNAUTHORIZED => HttpCode::Unauthenticated,
            StatusCode::FORBIDDEN => HttpCode::Forbidden,
            StatusCode::NOT_FOUND => HttpCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => HttpCode::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => HttpCode::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => HttpCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => HttpCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => HttpCode::Unprocessable,
            StatusCode::TOO_MANY_REQUESTS => HttpCode::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => HttpCode::Unavailable,
            s if s.is_server_error() => HttpCode::Internal,
            _ => HttpCode::BadRequest,
        }
    }

    fn default_message(self) -> &'static str {
        match self {
            HttpCode::BadRequest => "the request could not be read",
            HttpCode::Unauthenticated => "authentication required",
            HttpCode::Forbidden => "not allowed for your role",
            HttpCode::NotFound => "not found",
            HttpCode::MethodNotAllowed => "this method is not allowed here",
            HttpCode::RequestTimeout => "the request took too long",
            HttpCode::PayloadTooLarge => "the request body is too large",
            HttpCode::UnsupportedMediaType => "unsupported content type",
            HttpCode::Unprocessable => "the request is not valid",
            HttpCode::RateLimited => "too many requests, try again later",
            HttpCode::Unavailable => "temporarily unavailable, try again",
            HttpCode::Internal => "internal error",
        }
    }

    /// `{"error": {"code", "message"}}` with this code's status.
    pub fn response(self, message: &str) -> Response {
        (
            self.status(),
            axum::Json(json!({"error": {"code": self.code(), "message": message}})),
        )
            .into_response()
    }
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
    let code = HttpCode::of_status(status);
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
    let message = text.as_deref().unwrap_or(code.default_message());
    let body = if graphql {
        json!({"errors": [{"message": message, "extensions": {"code": code.code()}}]})
    } else {
        json!({"error": {"code": code.code(), "message": message}})
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}
