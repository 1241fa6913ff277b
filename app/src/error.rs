//! The refusals and failures of the access rules, whatever the transport:
//! a stable code and a safe message, never internals. Each transport
//! renders them its own way (GraphQL `extensions.code`, an HTTP status).

use domain::ErrorCode;
use engine::EngineError;
use projections::ReadError;

/// The one error type of the access rules (no `Display`: a transport
/// renders it with [`Error::code`] and [`Error::message`], so it cannot be
/// turned into text that loses its code by accident).
#[derive(Debug)]
pub enum Error {
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

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthenticated => ErrorCode::Unauthenticated,
            Error::Forbidden => ErrorCode::Forbidden,
            Error::NotFound => ErrorCode::NotFound,
            Error::BadInput(_) => ErrorCode::BadUserInput,
            Error::Restricted => ErrorCode::RestrictedRecord,
            Error::Refused { code, .. } | Error::RefusedNaming { code, .. } => *code,
            Error::Unavailable => ErrorCode::ServiceUnavailable,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Internal => ErrorCode::Internal,
        }
    }

    /// The safe message for the caller.
    pub fn message(&self) -> String {
        match self {
            Error::Unauthenticated => "authentication required".into(),
            Error::Forbidden => "not allowed for your role".into(),
            Error::NotFound => "not found".into(),
            Error::BadInput(m) => m.clone(),
            Error::Restricted => {
                "this record is restricted: only staff with access to it may handle it; offer a transfer".into()
            }
            Error::Refused { message, .. } | Error::RefusedNaming { message, .. } => {
                message.clone()
            }
            Error::Unavailable => "temporarily unavailable, try again".into(),
            Error::RateLimited { retry_after_secs } => {
                format!("too many requests of this kind; try again in {retry_after_secs} s")
            }
            Error::Internal => "internal error".into(),
        }
    }
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::Store(store::StoreError::Unavailable(_)) => Error::Unavailable,
            EngineError::Store(_) | EngineError::Decode(_) | EngineError::Encode(_) => {
                tracing::error!(code = %e.code(), error = %e, "command failed");
                Error::Internal
            }
            // A missing or foreign claimant looks exactly like a missing case.
            EngineError::Domain(
                domain::DomainError::ClaimNotFound | domain::DomainError::ClaimantNotFound,
            ) => Error::NotFound,
            EngineError::Invalid(p) => Error::BadInput(p.to_string()),
            EngineError::Domain(d) if !d.details().is_empty() => Error::RefusedNaming {
                code: e.code(),
                message: e.to_string(),
                details: d.details(),
            },
            _ => Error::Refused {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Self {
        if e.code() == ErrorCode::StoreUnavailable {
            return Error::Unavailable;
        }
        // A document or column this build cannot read is never answered
        // with a guess: logged, counted, and the caller gets INTERNAL.
        let what = match &e {
            ReadError::Json(_) => "document",
            ReadError::UnknownCode { .. } => "unknown_code",
            _ => "database",
        };
        metrics::counter!("omnicase_read_failures_total", "what" => what).increment(1);
        tracing::error!(code = %e.code(), error = %e, what, "read failed");
        Error::Internal
    }
}

impl From<domain::ParseError> for Error {
    fn from(e: domain::ParseError) -> Self {
        Error::BadInput(e.to_string())
    }
}

/// A request whose token is refused: a tenant this instance does not
/// serve says so (`UNKNOWN_TENANT`); anything else is `UNAUTHENTICATED`,
/// never which check failed.
impl From<crate::AuthError> for Error {
    fn from(e: crate::AuthError) -> Self {
        match e {
            crate::AuthError::UnknownTenant => Error::Refused {
                code: e.code(),
                message: e.to_string(),
            },
            _ => Error::Unauthenticated,
        }
    }
}

/// Intake refusals as access errors: anything about a claimant or case the
/// caller cannot see is NOT_FOUND.
impl From<intake::IntakeError> for Error {
    fn from(e: intake::IntakeError) -> Self {
        match e.code {
            domain::ErrorCode::NotFound
            | domain::ErrorCode::ClaimNotFound
            | domain::ErrorCode::ClaimantNotFound
            | domain::ErrorCode::UnknownClaimant
            | domain::ErrorCode::ClaimantMismatch => Error::NotFound,
            domain::ErrorCode::StoreUnavailable => Error::Unavailable,
            domain::ErrorCode::Internal => Error::Internal,
            domain::ErrorCode::ChannelNotAllowed | domain::ErrorCode::KindNotAllowed => {
                Error::Forbidden
            }
            code => Error::RefusedNaming {
                code,
                message: e.message,
                details: e.details,
            },
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
