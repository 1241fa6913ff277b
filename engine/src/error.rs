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
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Domain(e) => e.code(),
            EngineError::Invalid(_) => ParseError::CODE,
            EngineError::VersionConflict { .. } => "VERSION_CONFLICT",
            EngineError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            EngineError::UnknownTenant => "UNKNOWN_TENANT",
            EngineError::UnknownBenefitType(_) => "UNKNOWN_BENEFIT_TYPE",
            EngineError::ClaimantAlreadyRegistered { .. } => "CLAIMANT_ALREADY_REGISTERED",
            EngineError::Store(e) => e.code(),
            EngineError::Decode(e) => e.code(),
            EngineError::Encode(_) => "INTERNAL",
        }
    }

    /// Whether the same request may succeed if simply sent again later.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            EngineError::VersionConflict { .. } | EngineError::Store(StoreError::Unavailable(_))
        )
    }
}
