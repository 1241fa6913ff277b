//! Channel intake over HTTP, for integrators and scanning systems:
//! `POST /intake/submissions` (one channel-submission document) and
//! `POST /intake/mail-batches` (a mail-scan manifest); `GET
//! /intake/mail-batches/{batchId}` returns the recorded per-document results.
//! Refusals are `{"error": {"code", "message"}}` with a 4xx status.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use graphql::auth::Principal;
use graphql::Api;
use intake::{Filed, IntakeError};
use serde_json::json;
use std::sync::Arc;

/// A batch of 100,000 documents is about 40 MB of JSON.
pub const MAX_BATCH_BYTES: usize = 128 * 1024 * 1024;
pub const MAX_SUBMISSION_BYTES: usize = 1024 * 1024;

pub fn routes(api: Arc<Api>) -> Router {
    Router::new()
        .route(
            "/intake/submissions",
            post(submission).layer(tower_http::limit::RequestBodyLimitLayer::new(
                MAX_SUBMISSION_BYTES,
            )),
        )
        .route(
            "/intake/mail-batches",
            post(batch).layer(tower_http::limit::RequestBodyLimitLayer::new(
                MAX_BATCH_BYTES,
            )),
        )
        .route("/intake/mail-batches/{batch_id}", get(batch_results))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(api)
}

fn refuse(status: StatusCode, e: &IntakeError) -> Response {
    (
        status,
        Json(json!({"error": {"code": e.code, "message": e.message}})),
    )
        .into_response()
}

fn status_of(e: &IntakeError) -> StatusCode {
    match e.code {
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "CHANNEL_NOT_ALLOWED" | "KIND_NOT_ALLOWED" | "FORBIDDEN" => StatusCode::FORBIDDEN,
        "NOT_FOUND" | "CLAIM_NOT_FOUND" | "CLAIMANT_NOT_FOUND" => StatusCode::NOT_FOUND,
        "VERSION_CONFLICT" => StatusCode::CONFLICT,
        "STORE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn principal(api: &Api, headers: &HeaderMap) -> Option<Principal> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    api.auth.authenticate_header(header).ok()
}

fn unauthenticated() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        &IntakeError::new("UNAUTHENTICATED", "authentication required"),
    )
}

async fn submission(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(p) = principal(&api, &headers) else {
        return unauthenticated();
    };
    match api.intake.submit(&Api::caller(&p), &body).await {
        Ok(Filed::Case {
            case_id,
            version,
            outcome,
            replayed,
        }) => {
            api.projector.wake();
            (StatusCode::OK, Json(json!({"status": "FILED", "caseId": case_id, "version": version, "outcome": outcome, "replayed": replayed}))).into_response()
        }
        Ok(Filed::Unidentified { reason }) => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "UNIDENTIFIED", "reason": reason})),
        )
            .into_response(),
        Err(e) => refuse(status_of(&e), &e),
    }
}

async fn batch(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(p) = principal(&api, &headers) else {
        return unauthenticated();
    };
    match api
        .intake
        .ingest_batch(&Api::caller(&p), &body, |_, _| {})
        .await
    {
        Ok(report) => {
            api.projector.wake();
            (StatusCode::OK, Json(report)).into_response()
        }
        Err(e) => refuse(status_of(&e), &e),
    }
}

async fn batch_results(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(batch_id): Path<String>,
) -> Response {
    let Some(p) = principal(&api, &headers) else {
        return unauthenticated();
    };
    if !p.is_staff() {
        return refuse(
            StatusCode::FORBIDDEN,
            &IntakeError::new("FORBIDDEN", "not allowed for your role"),
        );
    }
    match api.intake.batch(&p.tenant, &batch_id).await {
        Ok(docs) if docs.is_empty() => refuse(
            StatusCode::NOT_FOUND,
            &IntakeError::new("NOT_FOUND", "not found"),
        ),
        Ok(docs) => (
            StatusCode::OK,
            Json(json!({"batchId": batch_id, "documents": docs})),
        )
            .into_response(),
        Err(e) => refuse(status_of(&e), &e),
    }
}
