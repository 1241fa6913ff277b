//! Channel intake over HTTP, for integrators and scanning systems:
//! `POST /intake/submissions` (one channel-submission document) and
//! `POST /intake/mail-batches` (a mail-scan manifest); `GET
//! /intake/mail-batches/{batchId}` returns the recorded per-document results.
//! Refusals are `{"error": {"code", "message"}}` with a 4xx status.
//!
//! Every route authenticates from the headers before a byte of the body is
//! read: an anonymous upload is refused at once, whatever it declares.
//! Mail batches are large: at most [`BATCHES_IN_FLIGHT_PER_PRINCIPAL`] per
//! principal and [`BATCHES_IN_FLIGHT`] in all are read at once; more are
//! answered 429 with `Retry-After`.

use app::auth::Principal;
use app::App;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use domain::ErrorCode;
use intake::{Filed, IntakeError};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// `200`: the submission is on a case.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FiledResponse {
    /// Always `FILED`.
    #[schema(pattern = "^FILED$")]
    status: &'static str,
    case_id: Uuid,
    /// The case's version after the command.
    #[schema(minimum = 1)]
    version: u64,
    /// CREATED, ATTACHED_AS_DUPLICATE, UPDATED or UNCHANGED.
    #[schema(value_type = String, pattern = "^(CREATED|ATTACHED_AS_DUPLICATE|UPDATED|UNCHANGED)$")]
    outcome: engine::Outcome,
    /// True when this idempotency key was seen before: nothing was appended.
    replayed: bool,
}

/// `202`: no claimant (or no open case) matched; waiting for an agent.
#[derive(Serialize, ToSchema)]
pub struct UnidentifiedResponse {
    /// Always `UNIDENTIFIED`.
    #[schema(pattern = "^UNIDENTIFIED$")]
    status: &'static str,
    reason: &'static str,
}

/// Every refusal: a stable code and a message that names fields, never
/// values.
#[derive(Serialize, ToSchema)]
pub struct ErrorResponse {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(pattern = "^[A-Z][A-Z_]*$")]
    code: String,
    /// Names fields, never values.
    message: String,
    /// What the refusal is about, by field name (ids, statuses).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    details: std::collections::BTreeMap<&'static str, serde_json::Value>,
}

/// The recorded per-document outcomes of a batch.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResults {
    batch_id: String,
    documents: Vec<intake::mail::DocumentResult>,
}

/// A batch of 100,000 documents is about 40 MB of JSON.
pub const MAX_BATCH_BYTES: usize = 128 * 1024 * 1024;
pub const MAX_SUBMISSION_BYTES: usize = 1024 * 1024;

/// Mail batches being read and filed at once, per principal and in all.
pub const BATCHES_IN_FLIGHT_PER_PRINCIPAL: usize = 1;
pub const BATCHES_IN_FLIGHT: usize = 4;

pub fn routes(api: Arc<App>) -> Router {
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
        .route("/intake/document-types", get(document_types))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .route_layer(axum::middleware::from_fn_with_state(
            api.clone(),
            authenticate,
        ))
        .with_state(api)
}

/// The principal from the Authorization header, before the body is read.
async fn authenticate(State(api): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let verdict = app::Authenticated::of(req.extensions(), req.headers(), &api.auth)
        .unwrap_or(Err(app::AuthError::MissingToken));
    match verdict {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => {
            let refusal = app::Error::from(e);
            refuse(
                StatusCode::UNAUTHORIZED,
                &IntakeError::new(refusal.code(), refusal.message()),
            )
        }
    }
}

/// Batches in flight, per principal and in all.
struct InFlight {
    total: usize,
    by_principal: std::collections::HashMap<(String, String), usize>,
}

struct BatchSlot(String, String);

fn in_flight() -> &'static std::sync::Mutex<InFlight> {
    static IN_FLIGHT: std::sync::OnceLock<std::sync::Mutex<InFlight>> = std::sync::OnceLock::new();
    IN_FLIGHT.get_or_init(|| {
        std::sync::Mutex::new(InFlight {
            total: 0,
            by_principal: Default::default(),
        })
    })
}

impl BatchSlot {
    fn take(p: &Principal) -> Option<BatchSlot> {
        let mut f = in_flight().lock().unwrap_or_else(|e| e.into_inner());
        let key = (p.tenant.as_str().to_owned(), p.subject.as_str().to_owned());
        let mine = f.by_principal.get(&key).copied().unwrap_or(0);
        if f.total >= BATCHES_IN_FLIGHT || mine >= BATCHES_IN_FLIGHT_PER_PRINCIPAL {
            return None;
        }
        f.total += 1;
        f.by_principal.insert(key.clone(), mine + 1);
        Some(BatchSlot(key.0, key.1))
    }
}

impl Drop for BatchSlot {
    fn drop(&mut self) {
        let mut f = in_flight().lock().unwrap_or_else(|e| e.into_inner());
        f.total = f.total.saturating_sub(1);
        let key = (std::mem::take(&mut self.0), std::mem::take(&mut self.1));
        if let Some(n) = f.by_principal.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                f.by_principal.remove(&key);
            }
        }
    }
}

/// Takes a batch slot before the body is read (the body extractor runs
/// after this one).
struct Slot(#[allow(dead_code)] BatchSlot);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Slot {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let Some(p) = parts.extensions.get::<Principal>() else {
            return Err(unauthenticated());
        };
        match BatchSlot::take(p) {
            Some(slot) => Ok(Slot(slot)),
            None => {
                let mut r = refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    &IntakeError::new(
                        ErrorCode::RateLimited,
                        "another mail batch is being filed; send this one when it is done",
                    ),
                );
                r.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("5"),
                );
                Err(r)
            }
        }
    }
}

fn refuse(status: StatusCode, e: &IntakeError) -> Response {
    let body = ErrorResponse {
        error: ErrorDetail {
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
            details: e
                .details
                .iter()
                .map(|(field, detail)| {
                    let value = match detail {
                        domain::Detail::One(v) => serde_json::Value::from(v.clone()),
                        domain::Detail::Many(vs) => serde_json::Value::from(vs.clone()),
                    };
                    (*field, value)
                })
                .collect(),
        },
    };
    (status, Json(body)).into_response()
}

fn status_of(e: &IntakeError) -> StatusCode {
    crate::errors::status(e.code)
}

fn unauthenticated() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        &IntakeError::new(ErrorCode::Unauthenticated, "authentication required"),
    )
}

/// File one channel-submission document (`schemas/channel-submission.v1.json`).
#[utoipa::path(post, path = "/intake/submissions", tag = "intake",
    request_body(content = inline(Object), content_type = "application/json",
        description = "A channel submission (schemas/channel-submission.v1.json)"),
    responses(
        (status = 200, description = "Filed on a case", body = FiledResponse),
        (status = 202, description = "No claimant matched: queued for an agent", body = UnidentifiedResponse),
        (status = 400, description = "Not readable", body = ErrorResponse),
        (status = 401, description = "No valid token (UNAUTHENTICATED, UNKNOWN_TENANT)", body = ErrorResponse),
        (status = 403, description = "Channel or kind not allowed for this caller", body = ErrorResponse),
        (status = 404, description = "Claimant or case not found", body = ErrorResponse),
        (status = 408, description = "The body stalled or the request took too long", body = ErrorResponse),
        (status = 409, description = "VERSION_CONFLICT", body = ErrorResponse),
        (status = 413, description = "Over 1 MiB", body = ErrorResponse),
        (status = 422, description = "Refused by the contract or the domain (coded)", body = ErrorResponse),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = ErrorResponse),
        (status = 503, description = "STORE_UNAVAILABLE: try again", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
async fn submission(
    State(api): State<Arc<App>>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Response {
    match api.intake.submit(&App::caller(&p), &body).await {
        Ok(Filed::Case {
            case_id,
            version,
            outcome,
            replayed,
        }) => {
            api.projector.wake();
            let filed = FiledResponse {
                status: "FILED",
                case_id,
                version,
                outcome,
                replayed,
            };
            (StatusCode::OK, Json(filed)).into_response()
        }
        Ok(Filed::Unidentified { reason }) => (
            StatusCode::ACCEPTED,
            Json(UnidentifiedResponse {
                status: "UNIDENTIFIED",
                reason: reason.as_str(),
            }),
        )
            .into_response(),
        Err(e) => refuse(status_of(&e), &e),
    }
}

/// File a mail-scan batch manifest (`schemas/mail-batch.v1.json`); per
/// document: attached, unidentified or rejected. Re-sending adds nothing.
#[utoipa::path(post, path = "/intake/mail-batches", tag = "intake",
    request_body(content = inline(Object), content_type = "application/json",
        description = "A mail-scan batch manifest (schemas/mail-batch.v1.json)"),
    responses(
        (status = 200, description = "Every document's outcome", body = intake::mail::BatchReport),
        (status = 400, description = "Not readable", body = ErrorResponse),
        (status = 401, description = "No valid token (UNAUTHENTICATED, UNKNOWN_TENANT)", body = ErrorResponse),
        (status = 403, description = "Not a mail scanner or staff of the tenant", body = ErrorResponse),
        (status = 408, description = "The body stalled or the request took too long", body = ErrorResponse),
        (status = 413, description = "Over 128 MiB", body = ErrorResponse),
        (status = 422, description = "The manifest is refused as a whole (coded)", body = ErrorResponse),
        (status = 429, description = "RATE_LIMITED: another batch of yours is being filed, or too many requests (Retry-After)", body = ErrorResponse),
        (status = 503, description = "STORE_UNAVAILABLE: try again", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
async fn batch(
    State(api): State<Arc<App>>,
    Extension(p): Extension<Principal>,
    _slot: Slot,
    body: Bytes,
) -> Response {
    match api
        .intake
        .ingest_batch(&App::caller(&p), &body, |_, _| {})
        .await
    {
        Ok(report) => {
            api.projector.wake();
            (StatusCode::OK, Json(report)).into_response()
        }
        Err(e) => refuse(status_of(&e), &e),
    }
}

/// The document types the caller's agency accepts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentTypes {
    /// Sorted; anything else is refused `UNKNOWN_DOCUMENT_TYPE`.
    document_types: Vec<String>,
}

/// The document types the caller's agency accepts (any authenticated
/// principal): anything else is refused `UNKNOWN_DOCUMENT_TYPE`.
#[utoipa::path(get, path = "/intake/document-types", tag = "intake",
    responses(
        (status = 200, description = "The accepted document types", body = DocumentTypes),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 408, description = "The request took too long", body = ErrorResponse),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
async fn document_types(
    State(api): State<Arc<App>>,
    Extension(p): Extension<Principal>,
) -> Response {
    let document_types = api.intake.registry().document_types(&p.tenant);
    (StatusCode::OK, Json(DocumentTypes { document_types })).into_response()
}

/// The recorded outcome of each document of a batch (staff).
#[utoipa::path(get, path = "/intake/mail-batches/{batchId}", tag = "intake",
    params(("batchId" = String, Path, description = "The manifest's batchId")),
    responses(
        (status = 200, description = "The batch's documents", body = BatchResults),
        (status = 400, description = "The path does not decode", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Staff only", body = ErrorResponse),
        (status = 404, description = "No such batch", body = ErrorResponse),
        (status = 408, description = "The request took too long", body = ErrorResponse),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = ErrorResponse),
        (status = 503, description = "STORE_UNAVAILABLE: try again", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
async fn batch_results(
    State(api): State<Arc<App>>,
    Extension(p): Extension<Principal>,
    Path(batch_id): Path<String>,
) -> Response {
    if !p.is_staff() {
        return refuse(
            StatusCode::FORBIDDEN,
            &IntakeError::new(ErrorCode::Forbidden, "not allowed for your role"),
        );
    }
    match api.intake.batch(&p.tenant, &batch_id).await {
        Ok(docs) if docs.is_empty() => refuse(
            StatusCode::NOT_FOUND,
            &IntakeError::new(ErrorCode::NotFound, "not found"),
        ),
        Ok(documents) => (
            StatusCode::OK,
            Json(BatchResults {
                batch_id,
                documents,
            }),
        )
            .into_response(),
        Err(e) => refuse(status_of(&e), &e),
    }
}
