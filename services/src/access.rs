//! The access layer in front of `/graphql`, `/graphql/ws` and `/intake/*`:
//! the Authorization header is verified once (the verdict goes to the
//! transports in the request's extensions), then the request is counted
//! against its principal's rate, or, without a valid token, against its
//! client address's. Over the rate: 429 `RATE_LIMITED` with `Retry-After`,
//! before any body is read.

use app::auth::Authenticated;
use app::App;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ErrorCode;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub async fn admit(State(api): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let verdict = Authenticated::of(req.extensions(), req.headers(), &api.auth);
    let counted = match &verdict {
        Some(Ok(p)) => api.rates.check_principal(p),
        _ => match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => api.rates.check_address(peer.ip()),
            // Called without a socket (in-process tests): no address.
            None => Ok(()),
        },
    };
    if let Err(wait) = counted {
        let who = if matches!(verdict, Some(Ok(_))) {
            "principal"
        } else {
            "address"
        };
        metrics::counter!("omnicase_rate_limited_total", "by" => who).increment(1);
        let secs = app::rate::retry_after_secs(wait);
        return too_many(req.uri().path().starts_with("/graphql"), secs);
    }
    req.extensions_mut().insert(Authenticated(verdict));
    next.run(req).await
}

fn too_many(graphql: bool, secs: u64) -> Response {
    let code = ErrorCode::RateLimited;
    let message = format!("too many requests; try again in {secs} s");
    let body = if graphql {
        json!({"errors": [{"message": message, "extensions": {"code": code.as_str(), "retriable": code.is_retriable(), "retryAfterSeconds": secs}}]})
    } else {
        json!({"error": {"code": code.as_str(), "message": message}})
    };
    let mut response = (crate::errors::status(code), axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}
