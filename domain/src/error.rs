//! Typed, coded domain errors.

use crate::ids::{CaseId, ContentionId, DocumentId, RequestId};
use crate::status::{Phase, RequestStatus};

/// A value from outside did not parse into a domain type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct ParseError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl ParseError {
    pub const CODE: &'static str = "BAD_USER_INPUT";

    pub fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
}

/// Why a command was refused. Every variant has a stable [`code`](Self::code)
/// that reaches API clients as `extensions.code`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("claim not found")]
    ClaimNotFound,
    #[error("a claim already exists under this id")]
    ClaimAlreadyExists,
    #[error("claimant not found")]
    ClaimantNotFound,
    #[error("claimant is already registered")]
    ClaimantAlreadyRegistered,
    #[error("the case is closed")]
    CaseClosed,
    #[error("the case is complete; only contacts and appeals are accepted")]
    CaseComplete,
    #[error("a claim needs at least one contention")]
    NoContentions,
    #[error("a claim has at most {} contentions", crate::case::MAX_CONTENTIONS)]
    TooManyContentions,
    #[error("contention {0} not found")]
    ContentionNotFound(ContentionId),
    #[error("contention {0} appears twice")]
    DuplicateContention(ContentionId),
    #[error("a channel entry with this channel and external id is already on the case")]
    DuplicateChannelEntry,
    #[error("document {0} is already on the case")]
    DuplicateDocument(DocumentId),
    #[error("document {0} not found")]
    DocumentNotFound(DocumentId),
    #[error("evidence request {0} already exists")]
    DuplicateRequest(RequestId),
    #[error("evidence request {0} not found")]
    RequestNotFound(RequestId),
    #[error("an open 5103 notice already exists")]
    Duplicate5103Notice,
    #[error("evidence request cannot move from {from:?} to {to:?}")]
    InvalidEvidenceTransition {
        from: RequestStatus,
        to: RequestStatus,
    },
    #[error("evidence request is not awaiting submission")]
    RequestNotOpen,
    #[error("evidence request is not yet due")]
    RequestNotDue,
    #[error("the 5103 waiver was already submitted")]
    WaiverAlreadySubmitted,
    #[error("the case cannot move from {from:?} to {to:?} this way")]
    InvalidPhaseTransition { from: Phase, to: Phase },
    #[error("moving a case back a phase needs a plain-language reason")]
    PhaseBackReasonRequired,
    #[error("the case is assigned to someone else; reassign explicitly")]
    AlreadyAssigned,
    #[error("the case is not assigned")]
    NotAssigned,
    #[error("every contention needs a GRANTED or DENIED adjudication")]
    IncompleteDecision,
    #[error("no decision is awaiting approval")]
    NoPendingDecision,
    #[error("the approver must not be the caseworker who proposed the decision")]
    FourEyesViolation,
    #[error("contention {0} has no decision to appeal")]
    NotDecided(ContentionId),
    #[error("contention {0} already has an active appeal")]
    DuplicateAppeal(ContentionId),
    #[error("appeal {0} is not active on this case")]
    AppealNotFound(CaseId),
    #[error("a case cannot be merged into itself")]
    SelfMerge,
    /// Proposing a decision while evidence requests are open: each must be
    /// answered or closed with a reason first (the ids are in the error's
    /// details, not its message).
    #[error("evidence requests are still open: answer them, or close each with a reason (closeRequests)")]
    OpenRequests(Vec<RequestId>),
}

impl DomainError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        use DomainError::*;
        match self {
            ClaimNotFound => "CLAIM_NOT_FOUND",
            ClaimAlreadyExists => "CLAIM_ALREADY_EXISTS",
            ClaimantNotFound => "CLAIMANT_NOT_FOUND",
            ClaimantAlreadyRegistered => "CLAIMANT_ALREADY_REGISTERED",
            CaseClosed => "CASE_CLOSED",
            CaseComplete => "CASE_COMPLETE",
            NoContentions => "NO_CONTENTIONS",
            TooManyContentions => "TOO_MANY_CONTENTIONS",
            ContentionNotFound(_) => "CONTENTION_NOT_FOUND",
            DuplicateContention(_) => "DUPLICATE_CONTENTION",
            DuplicateChannelEntry => "DUPLICATE_CHANNEL_ENTRY",
            DuplicateDocument(_) => "DUPLICATE_DOCUMENT",
            DocumentNotFound(_) => "DOCUMENT_NOT_FOUND",
            DuplicateRequest(_) => "DUPLICATE_REQUEST",
            RequestNotFound(_) => "REQUEST_NOT_FOUND",
            Duplicate5103Notice => "DUPLICATE_5103_NOTICE",
            InvalidEvidenceTransition { .. } => "INVALID_EVIDENCE_TRANSITION",
            RequestNotOpen => "REQUEST_NOT_OPEN",
            RequestNotDue => "REQUEST_NOT_DUE",
            WaiverAlreadySubmitted => "WAIVER_ALREADY_SUBMITTED",
            InvalidPhaseTransition { .. } => "INVALID_PHASE_TRANSITION",
            PhaseBackReasonRequired => "PHASE_BACK_REASON_REQUIRED",
            AlreadyAssigned => "ALREADY_ASSIGNED",
            NotAssigned => "NOT_ASSIGNED",
            IncompleteDecision => "INCOMPLETE_DECISION",
            NoPendingDecision => "NO_PENDING_DECISION",
            FourEyesViolation => "FOUR_EYES_VIOLATION",
            NotDecided(_) => "NOT_DECIDED",
            DuplicateAppeal(_) => "DUPLICATE_APPEAL",
            AppealNotFound(_) => "APPEAL_NOT_FOUND",
            SelfMerge => "SELF_MERGE",
            OpenRequests(_) => "OPEN_REQUESTS",
        }
    }
}
