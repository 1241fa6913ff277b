//! Typed, coded domain errors.

use crate::code::ErrorCode;
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
    pub const CODE: ErrorCode = ErrorCode::BadUserInput;

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
    #[error("a contention named in contentionId is not on the case")]
    ContentionNotFound(ContentionId),
    #[error("a contention appears twice (contentionId)")]
    DuplicateContention(ContentionId),
    #[error("a channel entry with this channel and external id is already on the case")]
    DuplicateChannelEntry,
    #[error("a document with this id (documentId) is already on the case")]
    DuplicateDocument(DocumentId),
    #[error("the document named in documentId is not on the case")]
    DocumentNotFound(DocumentId),
    #[error("an evidence request with this id (requestId) is already on the case, or named twice")]
    DuplicateRequest(RequestId),
    #[error("the evidence request named in requestId is not on the case")]
    RequestNotFound(RequestId),
    #[error("an open 5103 notice already exists")]
    Duplicate5103Notice,
    #[error("the evidence request cannot move from its status to the one asked for (from, to)")]
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
    #[error("the case cannot move from its phase to the one asked for this way (from, to)")]
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
    #[error("the contention named in contentionId has no decision to appeal")]
    NotDecided(ContentionId),
    #[error("the contention named in contentionId already has an active appeal")]
    DuplicateAppeal(ContentionId),
    #[error("the appeal named in appealCaseId is not active on this case")]
    AppealNotFound(CaseId),
    #[error("a case cannot be merged into itself")]
    SelfMerge,
    /// Proposing a decision while evidence requests are open: each must be
    /// answered or closed with a reason first (the ids are in the error's
    /// details, not its message).
    #[error("evidence requests are still open (requestIds): answer them, or close each with a reason (closeRequests)")]
    OpenRequests(Vec<RequestId>),
}

/// A value an error is about. Messages name fields, never values: the
/// values travel beside the message (GraphQL `extensions`, intake `details`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    /// An id or a code.
    One(String),
    Many(Vec<String>),
}

impl DomainError {
    /// What the error is about, by field name (`contentionId`, `requestIds`,
    /// `from`/`to`, …); empty when the code says it all.
    pub fn details(&self) -> Vec<(&'static str, Detail)> {
        use DomainError::*;
        let one = |field, value: String| vec![(field, Detail::One(value))];
        match self {
            ContentionNotFound(id)
            | DuplicateContention(id)
            | NotDecided(id)
            | DuplicateAppeal(id) => one("contentionId", id.to_string()),
            DuplicateDocument(id) | DocumentNotFound(id) => one("documentId", id.to_string()),
            DuplicateRequest(id) | RequestNotFound(id) => one("requestId", id.to_string()),
            AppealNotFound(id) => one("appealCaseId", id.to_string()),
            InvalidEvidenceTransition { from, to } => vec![
                ("from", Detail::One(from.code().to_owned())),
                ("to", Detail::One(to.code().to_owned())),
            ],
            InvalidPhaseTransition { from, to } => vec![
                ("from", Detail::One(from.code().to_owned())),
                ("to", Detail::One(to.code().to_owned())),
            ],
            OpenRequests(ids) => vec![(
                "requestIds",
                Detail::Many(ids.iter().map(ToString::to_string).collect()),
            )],
            _ => Vec::new(),
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        use DomainError::*;
        match self {
            ClaimNotFound => ErrorCode::ClaimNotFound,
            ClaimAlreadyExists => ErrorCode::ClaimAlreadyExists,
            ClaimantNotFound => ErrorCode::ClaimantNotFound,
            ClaimantAlreadyRegistered => ErrorCode::ClaimantAlreadyRegistered,
            CaseClosed => ErrorCode::CaseClosed,
            CaseComplete => ErrorCode::CaseComplete,
            NoContentions => ErrorCode::NoContentions,
            TooManyContentions => ErrorCode::TooManyContentions,
            ContentionNotFound(_) => ErrorCode::ContentionNotFound,
            DuplicateContention(_) => ErrorCode::DuplicateContention,
            DuplicateChannelEntry => ErrorCode::DuplicateChannelEntry,
            DuplicateDocument(_) => ErrorCode::DuplicateDocument,
            DocumentNotFound(_) => ErrorCode::DocumentNotFound,
            DuplicateRequest(_) => ErrorCode::DuplicateRequest,
            RequestNotFound(_) => ErrorCode::RequestNotFound,
            Duplicate5103Notice => ErrorCode::Duplicate5103Notice,
            InvalidEvidenceTransition { .. } => ErrorCode::InvalidEvidenceTransition,
            RequestNotOpen => ErrorCode::RequestNotOpen,
            RequestNotDue => ErrorCode::RequestNotDue,
            WaiverAlreadySubmitted => ErrorCode::WaiverAlreadySubmitted,
            InvalidPhaseTransition { .. } => ErrorCode::InvalidPhaseTransition,
            PhaseBackReasonRequired => ErrorCode::PhaseBackReasonRequired,
            AlreadyAssigned => ErrorCode::AlreadyAssigned,
            NotAssigned => ErrorCode::NotAssigned,
            IncompleteDecision => ErrorCode::IncompleteDecision,
            NoPendingDecision => ErrorCode::NoPendingDecision,
            FourEyesViolation => ErrorCode::FourEyesViolation,
            NotDecided(_) => ErrorCode::NotDecided,
            DuplicateAppeal(_) => ErrorCode::DuplicateAppeal,
            AppealNotFound(_) => ErrorCode::AppealNotFound,
            SelfMerge => ErrorCode::SelfMerge,
            OpenRequests(_) => ErrorCode::OpenRequests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::*;

    fn every_error() -> Vec<DomainError> {
        use DomainError::*;
        let id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        vec![
            ClaimNotFound,
            ClaimAlreadyExists,
            ClaimantNotFound,
            ClaimantAlreadyRegistered,
            CaseClosed,
            CaseComplete,
            NoContentions,
            TooManyContentions,
            ContentionNotFound(ContentionId::from_uuid(id)),
            DuplicateContention(ContentionId::from_uuid(id)),
            DuplicateChannelEntry,
            DuplicateDocument(DocumentId::from_uuid(id)),
            DocumentNotFound(DocumentId::from_uuid(id)),
            DuplicateRequest(RequestId::from_uuid(id)),
            RequestNotFound(RequestId::from_uuid(id)),
            Duplicate5103Notice,
            InvalidEvidenceTransition {
                from: RequestStatus::Accepted,
                to: RequestStatus::NeededFromYou,
            },
            RequestNotOpen,
            RequestNotDue,
            WaiverAlreadySubmitted,
            InvalidPhaseTransition {
                from: Phase::Complete,
                to: Phase::UnderReview,
            },
            PhaseBackReasonRequired,
            AlreadyAssigned,
            NotAssigned,
            IncompleteDecision,
            NoPendingDecision,
            FourEyesViolation,
            NotDecided(ContentionId::from_uuid(id)),
            DuplicateAppeal(ContentionId::from_uuid(id)),
            AppealNotFound(CaseId::from_uuid(id)),
            SelfMerge,
            OpenRequests(vec![RequestId::from_uuid(id)]),
        ]
    }

    /// Messages name fields, never values: no id, no status or phase in
    /// any message; the values are in `details`, under a field name.
    #[test]
    fn messages_name_fields_never_values() {
        for e in every_error() {
            let message = e.to_string();
            assert!(!message.contains("1234"), "{message}");
            for value in [
                "Accepted",
                "ACCEPTED",
                "NeededFromYou",
                "NEEDED_FROM_YOU",
                "Complete",
                "COMPLETE",
                "UnderReview",
                "UNDER_REVIEW",
            ] {
                assert!(!message.contains(value), "{message}");
            }
            let named = e.details();
            let message_has_id = matches!(
                e,
                DomainError::ContentionNotFound(_)
                    | DomainError::DuplicateContention(_)
                    | DomainError::DuplicateDocument(_)
                    | DomainError::DocumentNotFound(_)
                    | DomainError::DuplicateRequest(_)
                    | DomainError::RequestNotFound(_)
                    | DomainError::NotDecided(_)
                    | DomainError::DuplicateAppeal(_)
                    | DomainError::AppealNotFound(_)
                    | DomainError::OpenRequests(_)
            );
            if message_has_id {
                let (field, _) = &named[0];
                assert!(message.contains(field), "{message} names {field}");
                assert!(format!("{named:?}").contains("12345678-9abc"), "{named:?}");
            }
        }
    }
}
