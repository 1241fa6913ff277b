//! What someone asks of a case.

use super::types::*;
use super::CaseEvent;
use crate::ids::*;
use crate::status::{Phase, RequestStatus};
use crate::text::Text;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitClaim {
    pub case_id: CaseId,
    pub claimant: ClaimantId,
    pub benefit: BenefitType,
    pub contentions: Vec<NewContention>,
    pub entry: NewChannelEntry,
    pub appeal_of: Option<AppealLink>,
    /// From the tenant's configuration for (benefit, CLAIM_RECEIVED).
    pub estimate: Option<Estimate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachDocument {
    pub id: DocumentId,
    pub document_type: DocumentType,
    pub pages: u32,
    pub checksum: Checksum,
    pub storage_ref: StorageRef,
    pub received_at: DateTime<Utc>,
    pub channel: crate::Channel,
    /// The evidence request it answers, when known on arrival.
    pub request: Option<RequestId>,
    /// Evidence on its own, or part of the submission it came with.
    pub filed_as: DocumentFiling,
    /// The tenant's late-evidence rule (filled in by the pipeline).
    pub on_late: LateEvidence,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseCommand {
    SubmitClaim(SubmitClaim),
    /// Attach a further submission (another channel, or the same claim
    /// again) to an open case as a duplicate entry.
    AttachChannelEntry(NewChannelEntry),
    AttachDocument(AttachDocument),
    LinkDocument {
        document: DocumentId,
        request: RequestId,
    },
    /// An unlinked evidence document answers no request (it leaves the
    /// association queue).
    MarkDocumentNeedsNoLink {
        document: DocumentId,
        reason: Text,
    },
    /// The assigned caseworker has looked at evidence that arrived late
    /// (it leaves the `LATE_EVIDENCE` queue).
    AcknowledgeLateEvidence {
        document: DocumentId,
    },
    RequestEvidence(NewEvidenceRequest),
    SubmitWaiver5103 {
        received_at: DateTime<Utc>,
    },
    ReviewEvidence {
        request: RequestId,
        to: RequestStatus,
        /// Why (shown on the request), e.g. when it is no longer required.
        reason: Option<Text>,
    },
    ChangePhase {
        to: Phase,
        reason: Option<Text>,
        /// From the tenant's configuration for (benefit, `to`).
        estimate: Option<Estimate>,
    },
    Assign {
        assignee: ActorId,
        /// Must be true to take a case someone else holds.
        reassign: bool,
    },
    Unassign,
    RouteToTeam {
        team: TeamCode,
    },
    RecordContact(NewContact),
    ProposeDecision {
        adjudications: Vec<(ContentionId, Adjudication)>,
        /// Open evidence requests the caseworker closes with the proposal
        /// (`NO_LONGER_REQUIRED`), each with a reason. A request left open
        /// and not named here refuses the proposal (`OPEN_REQUESTS`).
        close_requests: Vec<(RequestId, Text)>,
    },
    ApproveDecision,
    ReturnDecision {
        reason: Text,
    },
    MailDecisionLetter {
        mailed_at: DateTime<Utc>,
    },
    Withdraw {
        reason: Option<Text>,
    },
    MergeInto {
        survivor: CaseId,
    },
    MarkRequestOverdue {
        request: RequestId,
    },
    /// On the original case: record that `appeal_case` appeals `contention`.
    FileAppeal {
        contention: ContentionId,
        appeal_case: CaseId,
    },
    /// On the original case: the appeal case has closed or completed.
    ConcludeAppeal {
        appeal_case: CaseId,
    },
}

impl CaseCommand {
    /// The command's name, for metrics and logs.
    pub fn name(&self) -> &'static str {
        use CaseCommand::*;
        match self {
            SubmitClaim(_) => "SubmitClaim",
            AttachChannelEntry(_) => "AttachChannelEntry",
            AttachDocument(_) => "AttachDocument",
            LinkDocument { .. } => "LinkDocument",
            MarkDocumentNeedsNoLink { .. } => "MarkDocumentNeedsNoLink",
            AcknowledgeLateEvidence { .. } => "AcknowledgeLateEvidence",
            RequestEvidence(_) => "RequestEvidence",
            SubmitWaiver5103 { .. } => "SubmitWaiver5103",
            ReviewEvidence { .. } => "ReviewEvidence",
            ChangePhase { .. } => "ChangePhase",
            Assign { .. } => "Assign",
            Unassign => "Unassign",
            RouteToTeam { .. } => "RouteToTeam",
            RecordContact(_) => "RecordContact",
            ProposeDecision { .. } => "ProposeDecision",
            ApproveDecision => "ApproveDecision",
            ReturnDecision { .. } => "ReturnDecision",
            MailDecisionLetter { .. } => "MailDecisionLetter",
            Withdraw { .. } => "Withdraw",
            MergeInto { .. } => "MergeInto",
            MarkRequestOverdue { .. } => "MarkRequestOverdue",
            FileAppeal { .. } => "FileAppeal",
            ConcludeAppeal { .. } => "ConcludeAppeal",
        }
    }

    /// Whether this command's decision depends on `event` having happened
    /// or not. On a `VERSION_CONFLICT` the pipeline re-decides the command
    /// against the new state only when it depends on none of the events
    /// that came in between; otherwise the caller must look again.
    pub fn depends_on(&self, event: &CaseEvent) -> bool {
        use CaseCommand::*;
        use CaseEvent as E;
        // Contacts and appeal bookkeeping are accepted on closed cases too.
        if event.ends_case() && !matches!(self, RecordContact(_) | ConcludeAppeal { .. }) {
            return true;
        }
        match self {
            SubmitClaim(_) => true,
            Assign { .. } | Unassign => {
                matches!(event, E::CaseAssigned { .. } | E::CaseUnassigned { .. })
            }
            ChangePhase { .. } => matches!(
                event,
                E::PhaseChanged { .. } | E::EstimateChanged { .. } | E::DecisionProposed { .. }
            ),
            // Proposing looks at every request (none may be left open).
            ProposeDecision { .. }
                if matches!(
                    event,
                    E::EvidenceRequested { .. } | E::EvidenceStatusChanged { .. }
                ) =>
            {
                true
            }
            ProposeDecision { .. }
            | ApproveDecision
            | ReturnDecision { .. }
            | MailDecisionLetter { .. } => matches!(
                event,
                E::PhaseChanged { .. }
                    | E::DecisionProposed { .. }
                    | E::DecisionApproved { .. }
                    | E::DecisionReturned { .. }
                    | E::DecisionLetterMailed { .. }
            ),
            ReviewEvidence { request, .. } => {
                matches!(event, E::EvidenceStatusChanged { request: r, .. } if r == request)
            }
            // Additive commands: re-deciding against the newer state applies
            // every rule again (duplicates, closed case, due dates).
            AttachChannelEntry(_)
            | AttachDocument(_)
            | LinkDocument { .. }
            | MarkDocumentNeedsNoLink { .. }
            | AcknowledgeLateEvidence { .. }
            | RequestEvidence(_)
            | SubmitWaiver5103 { .. }
            | RecordContact(_)
            | MarkRequestOverdue { .. }
            | FileAppeal { .. }
            | ConcludeAppeal { .. }
            | RouteToTeam { .. }
            | Withdraw { .. }
            | MergeInto { .. } => false,
        }
    }
}
