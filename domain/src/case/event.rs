//! What happened to a case. No serde here: the stored, versioned form is in
//! the `store` crate.

use super::types::*;
use crate::ids::*;
use crate::status::{Phase, RequestStatus};
use crate::text::Text;
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseEvent {
    ClaimSubmitted {
        case_id: CaseId,
        claimant: ClaimantId,
        benefit: BenefitType,
        contentions: Vec<NewContention>,
        entry: ChannelEntry,
        appeal_of: Option<AppealLink>,
    },
    ChannelEntryAttached {
        entry: ChannelEntry,
    },
    ClaimDateChanged {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        reason: ClaimDateReason,
    },
    DocumentAttached {
        document: Document,
        request: Option<RequestId>,
        /// Evidence filed without a request waits in the association queue.
        filed_as: DocumentFiling,
    },
    DocumentLinked {
        document: DocumentId,
        request: RequestId,
    },
    /// An unlinked evidence document was marked as answering no request.
    DocumentNeedsNoLink {
        document: DocumentId,
        reason: Text,
    },
    /// Evidence arrived after evidence gathering and the tenant's rule is a
    /// work item: the assigned caseworker looks at it.
    LateEvidenceFlagged {
        document: DocumentId,
        /// The phase the case was in when it arrived.
        phase: Phase,
    },
    LateEvidenceAcknowledged {
        document: DocumentId,
    },
    EvidenceRequested {
        request: NewEvidenceRequest,
    },
    EvidenceStatusChanged {
        request: RequestId,
        from: RequestStatus,
        to: RequestStatus,
        /// Why, when a request is closed without an answer
        /// (`NO_LONGER_REQUIRED`): the caseworker's words, or the case
        /// ending ([`CaseEnded`](crate::case::RequestClosure)).
        reason: Option<Text>,
    },
    Waiver5103Submitted {
        received_at: DateTime<Utc>,
    },
    RequestMarkedOverdue {
        request: RequestId,
        suspense_date: NaiveDate,
    },
    ReminderIssued {
        request: RequestId,
    },
    PhaseChanged {
        from: Phase,
        to: Phase,
        back: bool,
        reason: Option<Text>,
    },
    EstimateChanged {
        estimate: Estimate,
        reason: EstimateReason,
    },
    CaseAssigned {
        assignee: ActorId,
        previous: Option<ActorId>,
    },
    CaseUnassigned {
        previous: ActorId,
    },
    CaseRoutedToTeam {
        team: TeamCode,
    },
    ContactRecorded {
        contact: Contact,
    },
    DecisionProposed {
        adjudications: Vec<(ContentionId, Adjudication)>,
        proposer: ActorId,
    },
    DecisionApproved {
        approver: ActorId,
        outcome: ClaimOutcome,
    },
    DecisionReturned {
        approver: ActorId,
        reason: Text,
    },
    DecisionLetterMailed {
        mailed_at: DateTime<Utc>,
    },
    CaseWithdrawn {
        reason: Option<Text>,
    },
    CaseMerged {
        survivor: CaseId,
    },
    AppealFiled {
        contention: ContentionId,
        appeal_case: CaseId,
    },
    AppealConcluded {
        appeal_case: CaseId,
    },
}

impl CaseEvent {
    /// The stable event type name (also the stored `event_type`).
    pub fn name(&self) -> &'static str {
        use CaseEvent::*;
        match self {
            ClaimSubmitted { .. } => "ClaimSubmitted",
            ChannelEntryAttached { .. } => "ChannelEntryAttached",
            ClaimDateChanged { .. } => "ClaimDateChanged",
            DocumentAttached { .. } => "DocumentAttached",
            DocumentLinked { .. } => "DocumentLinked",
            DocumentNeedsNoLink { .. } => "DocumentNeedsNoLink",
            LateEvidenceFlagged { .. } => "LateEvidenceFlagged",
            LateEvidenceAcknowledged { .. } => "LateEvidenceAcknowledged",
            EvidenceRequested { .. } => "EvidenceRequested",
            EvidenceStatusChanged { .. } => "EvidenceStatusChanged",
            Waiver5103Submitted { .. } => "Waiver5103Submitted",
            RequestMarkedOverdue { .. } => "RequestMarkedOverdue",
            ReminderIssued { .. } => "ReminderIssued",
            PhaseChanged { .. } => "PhaseChanged",
            EstimateChanged { .. } => "EstimateChanged",
            CaseAssigned { .. } => "CaseAssigned",
            CaseUnassigned { .. } => "CaseUnassigned",
            CaseRoutedToTeam { .. } => "CaseRoutedToTeam",
            ContactRecorded { .. } => "ContactRecorded",
            DecisionProposed { .. } => "DecisionProposed",
            DecisionApproved { .. } => "DecisionApproved",
            DecisionReturned { .. } => "DecisionReturned",
            DecisionLetterMailed { .. } => "DecisionLetterMailed",
            CaseWithdrawn { .. } => "CaseWithdrawn",
            CaseMerged { .. } => "CaseMerged",
            AppealFiled { .. } => "AppealFiled",
            AppealConcluded { .. } => "AppealConcluded",
        }
    }
}
