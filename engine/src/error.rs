use domain::{DomainError, ParseError};
use store::codec::DecodeError;
use store::StoreError;

/// Why a command did not go through. Transports map [`code`](Self::code)
/// to their error shape (GraphQL `extensions.code`, intake DLQ headers).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Invalid(#[from] ParseError),
    #[error("the case changed meanwhile; it is now at version {current}")]
    VersionConflict { current: u64 },
    #[error("this idempotency key was already used for a different command")]
    IdempotencyKeyReused,
    #[error("unknown tenant")]
    UnknownTenant,
    #[error("benefit type {0} is not configured for this agency")]
    UnknownBenefitType(String),
    #[error("a claimant with this file number is already registered")]
    ClaimantAlreadyRegistered { existing: domain::ClaimantId },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("could not encode a result: {0}")]
    Encode(#[from] serde_json::Error),
}

impl EngineError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            EngineError::Domain(e) => e.code(),
            EngineError::Invalid(_) => ParseError::CODE,
            EngineError::VersionConflict { .. } => domain::ErrorCode::VersionConflict,
            EngineError::IdempotencyKeyReused => domain::ErrorCode::IdempotencyKeyReused,
            EngineError::UnknownTenant => domain::ErrorCode::UnknownTenant,
            EngineError::UnknownBenefitType(_) => domain::ErrorCode::UnknownBenefitType,
            EngineError::ClaimantAlreadyRegistered { .. } => {
                domain::ErrorCode::ClaimantAlreadyRegistered
            }
            EngineError::Store(e) => e.code(),
            EngineError::Decode(e) => e.code(),
            EngineError::Encode(_) => domain::ErrorCode::Internal,
        }
    }
}
