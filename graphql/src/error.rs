//! GraphQL errors: a stable `extensions.code`, a safe message, never
//! internals.

use async_graphql::ErrorExtensions;
use domain::ErrorCode;
use engine::EngineError;
use projections::ReadError;

/// The one error type resolvers return.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Forbidden,
    /// Missing, another person's, another tenant's or restricted: one shape.
    NotFound,
    BadInput(String),
    /// Staff asking for a record they may not handle (restricted, or a
    /// colleague's): that it is restricted, and nothing else, so the
    /// caller can be offered a transfer. Citizens get `NotFound` instead.
    Restricted,
    /// A coded refusal from the domain or the pipeline.
    Refused {
        code: ErrorCode,
        message: String,
    },
    /// A coded refusal with what it is about in the error's `extensions`
    /// (by field name), never in its message.
    RefusedNaming {
        code: ErrorCode,
        message: String,
        details: Vec<(&'static str, domain::Detail)>,
    },
    /// Retriable (database down, conflict storm).
    Unavailable,
    /// Too many requests of this kind: try again after the wait.
    RateLimited {
        retry_after_secs: u64,
    },
    Internal,
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated => ErrorCode::Unauthenticated,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::BadInput(_) => ErrorCode::BadUserInput,
            ApiError::Restricted => ErrorCode::RestrictedRecord,
            ApiError::Refused { code, .. } | ApiError::RefusedNaming { code, .. } => *code,
            ApiError::Unavailable => ErrorCode::ServiceUnavailable,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Internal => ErrorCode::Internal,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "authentication required".into(),
            ApiError::Forbidden => "not allowed for your role".into(),
            ApiError::NotFound => "not found".into(),
            ApiError::BadInput(m) => m.clone(),
            ApiError::Restricted => {
                "this record is restricted: only staff with access to it may handle it; offer a transfer".into()
            }
            ApiError::Refused { message, .. } | ApiError::RefusedNaming { message, .. } => {
                message.clone()
            }
            ApiError::Unavailable => "temporarily unavailable, try again".into(),
            ApiError::RateLimited { retry_after_secs } => {
                format!("too many requests of this kind; try again in {retry_after_secs} s")
            }
            ApiError::Internal => "internal error".into(),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code();
        let retriable = code.is_retriable();
        let retry_after = match e {
            ApiError::RateLimited { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        let details = match &e {
            ApiError::RefusedNaming { details, .. } => details.clone(),
            _ => Vec::new(),
        };
        async_graphql::Error::new(e.message()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            for (field, detail) in &details {
                match detail {
                    domain::Detail::One(value) => ext.set(*field, value.clone()),
                    domain::Detail::Many(values) => ext.set(*field, values.clone()),
                }
            }
            if retriable {
                ext.set("retriable", true);
            }
            if let Some(secs) = retry_after {
                ext.set("retryAfterSeconds", secs);
            }
        })
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::Store(store::StoreError::Unavailable(_)) => ApiError::Unavailable,
            EngineError::Store(_) | EngineError::Decode(_) | EngineError::Encode(_) => {
                tracing::error!(code = %e.code(), error = %e, "command failed");
                ApiError::Internal
            }
            // A missing or foreign claimant looks exactly like a missing case.
            EngineError::Domain(
                domain::DomainError::ClaimNotFound | domain::DomainError::ClaimantNotFound,
            ) => ApiError::NotFound,
            EngineError::Invalid(p) => ApiError::BadInput(p.to_string()),
            EngineError::Domain(d) if !d.details().is_empty() => ApiError::RefusedNaming {
                code: e.code(),
                message: e.to_string(),
                details: d.details(),
            },
            _ => ApiError::Refused {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        if e.code() == ErrorCode::StoreUnavailable {
            return ApiError::Unavailable;
        }
        tracing::error!(code = %e.code(), error = %e, "read failed");
        ApiError::Internal
    }
}

impl From<domain::ParseError> for ApiError {
    fn from(e: domain::ParseError) -> Self {
        ApiError::BadInput(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
