//! Value types of a case, shared by commands, events and state.

use crate::channel::{Channel, Submitter};
use crate::ids::*;
use crate::status::{Phase, RequestStatus};
use crate::text::Text;
use chrono::{DateTime, NaiveDate, Utc};

/// One submission through one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelEntry {
    pub id: EntryId,
    pub channel: Channel,
    pub external_id: ExternalId,
    /// When the agency received it (postmark, mailroom stamp, portal submit).
    pub received_at: DateTime<Utc>,
    /// When omnicase learned of it.
    pub recorded_at: DateTime<Utc>,
    pub submitted_by: Submitter,
    /// The case's first entry, when this one is a cross-channel duplicate.
    pub duplicate_of: Option<EntryId>,
}

/// A channel entry as a command carries it (recordedAt comes from the clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChannelEntry {
    pub id: EntryId,
    pub channel: Channel,
    pub external_id: ExternalId,
    pub received_at: DateTime<Utc>,
    pub submitted_by: Submitter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Adjudication {
    Granted,
    Denied,
    Pending,
}

impl Adjudication {
    pub const ALL: [Adjudication; 3] = [
        Adjudication::Granted,
        Adjudication::Denied,
        Adjudication::Pending,
    ];

    pub fn from_code(code: &str) -> Option<Adjudication> {
        Adjudication::ALL.into_iter().find(|a| a.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            Adjudication::Granted => "GRANTED",
            Adjudication::Denied => "DENIED",
            Adjudication::Pending => "PENDING",
        }
    }
}

/// Claim-level outcome, derived from the contentions' adjudications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClaimOutcome {
    Approved,
    Partial,
    Denied,
    Pending,
}

impl ClaimOutcome {
    pub const ALL: [ClaimOutcome; 4] = [
        ClaimOutcome::Approved,
        ClaimOutcome::Partial,
        ClaimOutcome::Denied,
        ClaimOutcome::Pending,
    ];

    pub fn from_code(code: &str) -> Option<ClaimOutcome> {
        ClaimOutcome::ALL.into_iter().find(|o| o.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            ClaimOutcome::Approved => "APPROVED",
            ClaimOutcome::Partial => "PARTIAL",
            ClaimOutcome::Denied => "DENIED",
            ClaimOutcome::Pending => "PENDING",
        }
    }

    pub fn of(adjudications: impl IntoIterator<Item = Adjudication>) -> ClaimOutcome {
        let (mut granted, mut denied, mut pending) = (0, 0, 0);
        for a in adjudications {
            match a {
                Adjudication::Granted => granted += 1,
                Adjudication::Denied => denied += 1,
                Adjudication::Pending => pending += 1,
            }
        }
        match (granted, denied, pending) {
            (_, _, p) if p > 0 => ClaimOutcome::Pending,
            (g, 0, _) if g > 0 => ClaimOutcome::Approved,
            (0, d, _) if d > 0 => ClaimOutcome::Denied,
            (g, d, _) if g > 0 && d > 0 => ClaimOutcome::Partial,
            _ => ClaimOutcome::Pending,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contention {
    pub id: ContentionId,
    pub description: Text,
    pub adjudication: Adjudication,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewContention {
    pub id: ContentionId,
    pub description: Text,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub id: DocumentId,
    pub document_type: DocumentType,
    pub pages: u32,
    pub checksum: Checksum,
    pub storage_ref: StorageRef,
    pub received_at: DateTime<Utc>,
    pub channel: Channel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// An ordinary tracked item.
    Standard,
    /// The statutory evidence notice; a 5103 waiver closes it.
    Notice5103,
}

impl RequestKind {
    pub const ALL: [RequestKind; 2] = [RequestKind::Standard, RequestKind::Notice5103];

    pub fn code(self) -> &'static str {
        match self {
            RequestKind::Standard => "STANDARD",
            RequestKind::Notice5103 => "NOTICE_5103",
        }
    }

    pub fn from_code(code: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvidenceRequest {
    pub id: RequestId,
    pub kind: RequestKind,
    pub description: Text,
    /// `NeededFromYou` or `NeededFromOthers`.
    pub needed_from_claimant: bool,
    pub suspense_date: NaiveDate,
    /// Internal item, never shown to citizens.
    pub suppressed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceRequest {
    pub id: RequestId,
    pub kind: RequestKind,
    pub description: Text,
    pub status: RequestStatus,
    pub suspense_date: NaiveDate,
    pub suppressed: bool,
    pub overdue: bool,
    pub reminder_sent: bool,
    pub documents: Vec<DocumentId>,
}

/// Why a document was filed: as evidence on its own (it should answer an
/// evidence request, and waits in the association queue until it is linked
/// to one or marked as needing none), or as part of the submission it came
/// with (the claim form of a new claim, a waiver, a withdrawal letter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DocumentFiling {
    #[default]
    Evidence,
    WithSubmission,
}

impl DocumentFiling {
    pub fn code(self) -> &'static str {
        match self {
            DocumentFiling::Evidence => "EVIDENCE",
            DocumentFiling::WithSubmission => "WITH_SUBMISSION",
        }
    }

    pub fn from_code(code: &str) -> Option<DocumentFiling> {
        match code {
            "EVIDENCE" => Some(DocumentFiling::Evidence),
            "WITH_SUBMISSION" => Some(DocumentFiling::WithSubmission),
            _ => None,
        }
    }
}

/// The tenant's rule for evidence that arrives after evidence gathering
/// (in review of evidence, preparation for decision or decision approval).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LateEvidence {
    /// Back to `GATHERING_OF_EVIDENCE`, with the reason and the estimate
    /// for that phase (from the tenant's configuration, filled in by the
    /// pipeline). A proposed decision is voided: it is proposed again on
    /// the new evidence.
    PhaseBack { estimate: Option<Estimate> },
    /// The phase stays; a work item asks the assigned caseworker to look
    /// at the document (`LATE_EVIDENCE` queue) until they acknowledge it.
    WorkItem,
}

impl Default for LateEvidence {
    fn default() -> Self {
        LateEvidence::PhaseBack { estimate: None }
    }
}

/// Estimated completion range (inclusive dates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

/// Why the estimate changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EstimateReason {
    ClaimReceived,
    PhaseChanged(Phase),
    PhaseMovedBack(Phase),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimDateReason {
    /// An entry received earlier than the current claim date was attached
    /// (e.g. mail with an older postmark than the web submission).
    EarlierReceipt(EntryId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactKind {
    Inbound,
    Outbound,
    Note,
}

impl ContactKind {
    pub fn code(self) -> &'static str {
        match self {
            ContactKind::Inbound => "INBOUND",
            ContactKind::Outbound => "OUTBOUND",
            ContactKind::Note => "NOTE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub kind: ContactKind,
    pub channel: Channel,
    pub agent: ActorId,
    pub reason: Option<Text>,
    pub summary: Text,
    pub follow_up: Option<Text>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewContact {
    pub id: ContactId,
    pub kind: ContactKind,
    pub channel: Channel,
    pub reason: Option<Text>,
    pub summary: Text,
    pub follow_up: Option<Text>,
    pub occurred_at: DateTime<Utc>,
}

/// Decision record status (FHIR keeps status and outcome on separate axes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionStatus {
    Proposed,
    Approved,
    Notified,
}

impl DecisionStatus {
    pub const ALL: [DecisionStatus; 3] = [
        DecisionStatus::Proposed,
        DecisionStatus::Approved,
        DecisionStatus::Notified,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DecisionStatus::Proposed => "PROPOSED",
            DecisionStatus::Approved => "APPROVED",
            DecisionStatus::Notified => "NOTIFIED",
        }
    }

    pub fn from_code(code: &str) -> Option<DecisionStatus> {
        DecisionStatus::ALL.into_iter().find(|s| s.code() == code)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub status: DecisionStatus,
    pub adjudications: Vec<(ContentionId, Adjudication)>,
    pub outcome: ClaimOutcome,
    pub proposer: ActorId,
    pub approver: Option<ActorId>,
}

/// An appeal case points at the decided contention of its original case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppealLink {
    pub original_case: CaseId,
    pub contention: ContentionId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    Withdrawn,
    /// Merged as a duplicate; points to the surviving case.
    Merged(CaseId),
}

impl CloseReason {
    pub fn code(self) -> &'static str {
        match self {
            CloseReason::Withdrawn => "WITHDRAWN",
            CloseReason::Merged(_) => "MERGED",
        }
    }
}
