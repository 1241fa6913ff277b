//! Read-model documents and the pure fold that builds them from events.
//!
//! A [`CaseView`] is everything the API shows about one case (claim status,
//! timeline, requests, decision), stored as one JSON document next to a few
//! indexed columns. Building it uses only event data, never the clock, so
//! a rebuild yields byte-identical documents.

use chrono::{DateTime, NaiveDate, Utc};
use domain::case::*;
use domain::claimant::ClaimantEvent;
use domain::status::RequestStatus;
use domain::{Channel, DocumentId, Phase, Submitter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the projector knows of an event besides its content.
#[derive(Clone, Debug)]
pub struct EventInfo {
    pub version: u64,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseStep {
    pub phase: Phase,
    pub entered_at: DateTime<Utc>,
    pub back: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimateView {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentionView {
    pub id: Uuid,
    pub description: String,
    pub adjudication: Adjudication,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionView {
    pub status: DecisionStatus,
    pub outcome: ClaimOutcome,
    /// Per contention, as proposed.
    pub adjudications: Vec<(Uuid, Adjudication)>,
    pub proposer: String,
    pub proposed_at: DateTime<Utc>,
    #[serde(default)]
    pub approver: Option<String>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub letter_mailed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    pub id: Uuid,
    pub kind: RequestKind,
    pub description: String,
    pub status: RequestStatus,
    pub suspense_date: NaiveDate,
    pub suppressed: bool,
    pub overdue: bool,
    pub requested_at: DateTime<Utc>,
    pub documents: Vec<Uuid>,
    /// The case version at which the request was last asked for again
    /// after a submission (back to NEEDED_FROM_YOU / NEEDED_FROM_OTHERS);
    /// absent if it never was. Tells the timer's overdue rounds apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopened_at: Option<u64>,
    /// Why the request was last closed without an answer, or moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RequestView {
    /// Open and waiting on the claimant: what a citizen must act on.
    pub fn needs_claimant(&self) -> bool {
        self.status == RequestStatus::NeededFromYou && !self.suppressed
    }

    /// Overdue as of `today`: marked by the timer, or past its due date and
    /// still awaiting a submission (the timer marks it on its next pass;
    /// what is shown does not wait for it).
    pub fn overdue_on(&self, today: NaiveDate) -> bool {
        self.overdue || (self.suspense_date < today && self.status.is_awaiting_submission())
    }

    pub fn is_open(&self) -> bool {
        !self.status.is_terminal()
    }

    /// Still waiting for a submission (NEEDED_FROM_YOU / NEEDED_FROM_OTHERS).
    pub fn is_awaiting_submission(&self) -> bool {
        self.status.is_awaiting_submission()
    }

    /// Waiting for a submission and not yet marked overdue: what the timer
    /// watches.
    pub fn awaits_due_date(&self) -> bool {
        self.is_awaiting_submission() && !self.overdue
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    pub id: Uuid,
    pub document_type: String,
    pub pages: u32,
    pub received_at: DateTime<Utc>,
    pub channel: String,
    #[serde(default)]
    pub request: Option<Uuid>,
    /// Evidence filed without a request, waiting in the association queue
    /// (`UNLINKED_DOCUMENTS`) until linked or marked as needing none.
    #[serde(default)]
    pub needs_link: bool,
    /// Why it needs no link, when a caseworker said so.
    #[serde(default)]
    pub no_link_reason: Option<String>,
    /// Evidence that arrived after evidence gathering, flagged for the
    /// caseworker (`LATE_EVIDENCE`) and not yet acknowledged.
    #[serde(default)]
    pub late: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub id: Uuid,
    pub channel: String,
    pub external_id: String,
    pub received_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// CLAIMANT, STAFF, REPRESENTATIVE
    pub submitted_by: String,
    #[serde(default)]
    pub submitter: Option<String>,
    #[serde(default)]
    pub duplicate_of: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    pub id: Uuid,
    pub kind: String,
    pub channel: String,
    pub agent: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub summary: String,
    #[serde(default)]
    pub follow_up: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// One line of the case timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// When it happened for the agency (receivedAt for submissions and
    /// documents, occurredAt for contacts, recordedAt otherwise).
    pub at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// CHANNEL_ENTRY, DOCUMENT, CONTACT, PHASE_CHANGE, DECISION, EVIDENCE,
    /// ASSIGNMENT, CLOSURE, APPEAL, ESTIMATE, CLAIM_DATE
    pub kind: String,
    #[serde(default)]
    pub channel: Option<String>,
    /// Plain language, for people.
    pub line: String,
    /// False for internal entries citizens never see.
    pub citizen_visible: bool,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseView {
    pub case_id: Uuid,
    pub claimant_id: Uuid,
    pub benefit_type: String,
    pub version: u64,
    pub phase: Phase,
    pub phase_entered_at: DateTime<Utc>,
    pub phase_back: bool,
    #[serde(default)]
    pub phase_back_reason: Option<String>,
    pub phase_history: Vec<PhaseStep>,
    /// The unified citizen status.
    pub status: domain::CitizenStatus,
    pub claim_date: DateTime<Utc>,
    #[serde(default)]
    pub close_date: Option<DateTime<Utc>>,
    /// WITHDRAWN or MERGED
    #[serde(default)]
    pub close_reason: Option<String>,
    #[serde(default)]
    pub merged_into: Option<Uuid>,
    #[serde(default)]
    pub estimate: Option<EstimateView>,
    pub contentions: Vec<ContentionView>,
    #[serde(default)]
    pub decision: Option<DecisionView>,
    pub requests: Vec<RequestView>,
    pub evidence_waiver_submitted_5103: bool,
    pub documents: Vec<DocumentView>,
    pub entries: Vec<EntryView>,
    pub contacts: Vec<ContactView>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub appeal_of: Option<Uuid>,
    #[serde(default)]
    pub appeals: Vec<Uuid>,
    pub timeline: Vec<TimelineEntry>,
    pub updated_at: DateTime<Utc>,
}

fn channel_phrase(channel: &Channel) -> String {
    match channel {
        Channel::Web => "online".into(),
        Channel::MailScan => "by post".into(),
        Channel::InPerson => "in person at an office".into(),
        Channel::CallCenter => "by phone".into(),
        Channel::Integrator(_) => format!("through {}", channel.code()),
    }
}

/// Plain-language names of phases, for timeline lines.
pub fn phase_phrase(phase: Phase) -> &'static str {
    match phase {
        Phase::ClaimReceived => "claim received",
        Phase::UnderReview => "initial review",
        Phase::GatheringOfEvidence => "gathering evidence",
        Phase::ReviewOfEvidence => "reviewing evidence",
        Phase::PreparationForDecision => "preparing a decision",
        Phase::PendingDecisionApproval => "decision awaiting approval",
        Phase::PreparationForNotification => "preparing the decision letter",
        Phase::Complete => "complete",
    }
}

/// Plain-language names of the citizen statuses.
pub fn citizen_phrase(status: domain::CitizenStatus) -> &'static str {
    match status {
        domain::CitizenStatus::Received => "received",
        domain::CitizenStatus::InitialReview => "initial review",
        domain::CitizenStatus::EvidenceGatheringReviewDecision => {
            "evidence gathering, review and decision"
        }
        domain::CitizenStatus::PreparationForNotification => "preparing the decision notice",
        domain::CitizenStatus::Complete => "complete",
        domain::CitizenStatus::Closed => "closed",
    }
}

fn status_phrase(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::NeededFromYou => "needed from you",
        RequestStatus::NeededFromOthers => "requested from others",
        RequestStatus::SubmittedAwaitingReview => "received, awaiting review",
        RequestStatus::InitialReviewComplete => "initial review complete",
        RequestStatus::Accepted => "accepted",
        RequestStatus::NoLongerRequired => "no longer required",
    }
}

fn date(d: DateTime<Utc>) -> String {
    d.format("%-d %B %Y").to_string()
}

fn submitter(s: &Submitter) -> (String, Option<String>) {
    match s {
        Submitter::Claimant => ("CLAIMANT".into(), None),
        Submitter::Staff(a) => ("STAFF".into(), Some(a.to_string())),
        Submitter::Representative(a) => ("REPRESENTATIVE".into(), Some(a.to_string())),
    }
}

fn entry_view(e: &ChannelEntry) -> EntryView {
    let (submitted_by, who) = submitter(&e.submitted_by);
    EntryView {
        id: e.id.as_uuid(),
        channel: e.channel.code().to_owned(),
        external_id: e.external_id.to_string(),
        received_at: e.received_at,
        recorded_at: e.recorded_at,
        submitted_by,
        submitter: who,
        duplicate_of: e.duplicate_of.map(|d| d.as_uuid()),
    }
}

impl CaseView {
    /// Starts a view from the case's first event; `None` for any other.
    pub fn open(event: &CaseEvent, info: &EventInfo) -> Option<CaseView> {
        let CaseEvent::ClaimSubmitted {
            case_id,
            claimant,
            benefit,
            contentions,
            entry,
            appeal_of,
        } = event
        else {
            return None;
        };
        let phase = Phase::ClaimReceived;
        let mut view = CaseView {
            case_id: case_id.as_uuid(),
            claimant_id: claimant.as_uuid(),
            benefit_type: benefit.to_string(),
            version: info.version,
            phase,
            phase_entered_at: info.recorded_at,
            phase_back: false,
            phase_back_reason: None,
            phase_history: vec![PhaseStep {
                phase,
                entered_at: info.recorded_at,
                back: false,
                reason: None,
            }],
            status: phase.citizen_status(),
            claim_date: entry.received_at,
            close_date: None,
            close_reason: None,
            merged_into: None,
            estimate: None,
            contentions: contentions
                .iter()
                .map(|c| ContentionView {
                    id: c.id.as_uuid(),
                    description: c.description.to_string(),
                    adjudication: Adjudication::Pending,
                })
                .collect(),
            decision: None,
            requests: Vec::new(),
            evidence_waiver_submitted_5103: false,
            documents: Vec::new(),
            entries: vec![entry_view(entry)],
            contacts: Vec::new(),
            assignee: None,
            team: None,
            appeal_of: appeal_of.map(|a| a.original_case.as_uuid()),
            appeals: Vec::new(),
            timeline: Vec::new(),
            updated_at: info.recorded_at,
        };
        let what = if appeal_of.is_some() {
            "Appeal"
        } else {
            "Claim"
        };
        view.note(
            info,
            entry.received_at,
            "CHANNEL_ENTRY",
            Some(&entry.channel),
            format!("{what} received {}", channel_phrase(&entry.channel)),
            true,
        );
        Some(view)
    }

    fn note(
        &mut self,
        info: &EventInfo,
        at: DateTime<Utc>,
        kind: &str,
        channel: Option<&Channel>,
        line: String,
        citizen_visible: bool,
    ) {
        self.timeline.push(TimelineEntry {
            at,
            recorded_at: info.recorded_at,
            kind: kind.into(),
            channel: channel.map(|c| c.code().to_owned()),
            line,
            citizen_visible,
            version: info.version,
        });
    }

    /// A change to one document's work-queue state, and the staff-only
    /// timeline line that says so (naming the document's type).
    fn document_note(
        &mut self,
        info: &EventInfo,
        id: DocumentId,
        change: impl FnOnce(&mut DocumentView),
        line: impl FnOnce(&str) -> String,
    ) {
        let kind = match self.documents.iter_mut().find(|d| d.id == id.as_uuid()) {
            Some(doc) => {
                change(doc);
                doc.document_type.clone()
            }
            None => "document".to_owned(),
        };
        self.note(info, info.recorded_at, "DOCUMENT", None, line(&kind), false);
    }

    fn request_description(&self, id: Uuid) -> String {
        self.requests
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.description.clone())
            .unwrap_or_else(|| "evidence request".into())
    }

    fn request_suppressed(&self, id: Uuid) -> bool {
        self.requests.iter().any(|r| r.id == id && r.suppressed)
    }

    /// Applies one event. Events at or below the view's version are
    /// ignored, so re-delivery is harmless.
    pub fn apply(&mut self, event: &CaseEvent, info: &EventInfo) {
        if info.version <= self.version {
            return;
        }
        self.version = info.version;
        self.updated_at = info.recorded_at;
        use CaseEvent as E;
        match event {
            E::ClaimSubmitted { .. } => {}
            E::ChannelEntryAttached { entry } => {
                self.entries.push(entry_view(entry));
                self.note(
                    info,
                    entry.received_at,
                    "CHANNEL_ENTRY",
                    Some(&entry.channel),
                    format!(
                        "The same claim was also received {}; it was added to this case",
                        channel_phrase(&entry.channel)
                    ),
                    true,
                );
            }
            E::ClaimDateChanged { from, to, .. } => {
                self.claim_date = *to;
                self.note(
                    info,
                    info.recorded_at,
                    "CLAIM_DATE",
                    None,
                    format!("Claim date moved from {} to {}: an earlier submission of this claim was received", date(*from), date(*to)),
                    true,
                );
            }
            E::DocumentAttached {
                document: d,
                request,
                filed_as,
            } => {
                self.documents.push(DocumentView {
                    id: d.id.as_uuid(),
                    document_type: d.document_type.to_string(),
                    pages: d.pages,
                    received_at: d.received_at,
                    channel: d.channel.code().to_owned(),
                    request: request.map(|r| r.as_uuid()),
                    needs_link: request.is_none() && *filed_as == DocumentFiling::Evidence,
                    no_link_reason: None,
                    late: false,
                });
                if let Some(r) =
                    request.and_then(|r| self.requests.iter_mut().find(|x| x.id == r.as_uuid()))
                {
                    r.documents.push(d.id.as_uuid());
                }
                let pages = if d.pages == 1 {
                    "1 page".to_owned()
                } else {
                    format!("{} pages", d.pages)
                };
                self.note(
                    info,
                    d.received_at,
                    "DOCUMENT",
                    Some(&d.channel),
                    format!(
                        "Document received {}: {} ({pages})",
                        channel_phrase(&d.channel),
                        d.document_type
                    ),
                    true,
                );
            }
            E::DocumentLinked { document, request } => {
                if let Some(doc) = self
                    .documents
                    .iter_mut()
                    .find(|d| d.id == document.as_uuid())
                {
                    doc.request = Some(request.as_uuid());
                    doc.needs_link = false;
                }
                if let Some(r) = self.requests.iter_mut().find(|r| r.id == request.as_uuid()) {
                    if !r.documents.contains(&document.as_uuid()) {
                        r.documents.push(document.as_uuid());
                    }
                }
                let desc = self.request_description(request.as_uuid());
                let visible = !self.request_suppressed(request.as_uuid());
                self.note(
                    info,
                    info.recorded_at,
                    "EVIDENCE",
                    None,
                    format!("A received document was matched to \"{desc}\""),
                    visible,
                );
            }
            E::DocumentNeedsNoLink { document, reason } => self.document_note(
                info,
                *document,
                |doc| {
                    doc.needs_link = false;
                    doc.no_link_reason = Some(reason.to_string());
                },
                |kind| format!("A received document ({kind}) was marked as answering no request: {reason}"),
            ),
            E::LateEvidenceFlagged { document, phase } => self.document_note(
                info,
                *document,
                |doc| doc.late = true,
                |kind| {
                    format!(
                        "New evidence ({kind}) arrived during {}: the caseworker is asked to review it",
                        phase_phrase(*phase)
                    )
                },
            ),
            E::LateEvidenceAcknowledged { document } => self.document_note(
                info,
                *document,
                |doc| doc.late = false,
                |kind| format!("The caseworker reviewed the late evidence ({kind})"),
            ),
            E::EvidenceRequested { request: r } => {
                self.requests.push(RequestView {
                    id: r.id.as_uuid(),
                    kind: r.kind,
                    description: r.description.to_string(),
                    status: if r.needed_from_claimant {
                        RequestStatus::NeededFromYou
                    } else {
                        RequestStatus::NeededFromOthers
                    },
                    suspense_date: r.suspense_date,
                    suppressed: r.suppressed,
                    overdue: false,
                    requested_at: info.recorded_at,
                    documents: Vec::new(),
                    reopened_at: None,
                    reason: None,
                });
                let whom = if r.needed_from_claimant {
                    "from you"
                } else {
                    "from others"
                };
                self.note(
                    info,
                    info.recorded_at,
                    "EVIDENCE",
                    None,
                    format!(
                        "Evidence requested {whom}: {}, due {}",
                        r.description,
                        r.suspense_date.format("%-d %B %Y")
                    ),
                    !r.suppressed,
                );
            }
            E::EvidenceStatusChanged {
                request,
                from,
                to,
                reason,
            } => {
                if let Some(r) = self.requests.iter_mut().find(|r| r.id == request.as_uuid()) {
                    r.status = *to;
                    r.reason = reason.as_ref().map(ToString::to_string);
                    if !to.is_awaiting_submission() {
                        r.overdue = false;
                    } else if !from.is_awaiting_submission() {
                        r.reopened_at = Some(info.version);
                    }
                }
                let desc = self.request_description(request.as_uuid());
                let visible = !self.request_suppressed(request.as_uuid());
                self.note(
                    info,
                    info.recorded_at,
                    "EVIDENCE",
                    None,
                    match reason {
                        Some(why) => format!("\"{desc}\" is now {}. {why}", status_phrase(*to)),
                        None => format!("\"{desc}\" is now {}", status_phrase(*to)),
                    },
                    visible,
                );
            }
            E::Waiver5103Submitted { received_at } => {
                self.evidence_waiver_submitted_5103 = true;
                self.note(
                    info,
                    *received_at,
                    "EVIDENCE",
                    None,
                    "5103 waiver received: the claim can go ahead without waiting for more evidence".into(),
                    true,
                );
            }
            E::RequestMarkedOverdue { request, .. } => {
                if let Some(r) = self.requests.iter_mut().find(|r| r.id == request.as_uuid()) {
                    r.overdue = true;
                }
                let desc = self.request_description(request.as_uuid());
                let visible = !self.request_suppressed(request.as_uuid());
                self.note(
                    info,
                    info.recorded_at,
                    "EVIDENCE",
                    None,
                    format!("\"{desc}\" is past its due date"),
                    visible,
                );
            }
            E::ReminderIssued { request } => {
                let desc = self.request_description(request.as_uuid());
                let visible = !self.request_suppressed(request.as_uuid());
                self.note(
                    info,
                    info.recorded_at,
                    "EVIDENCE",
                    None,
                    format!("Reminder sent about \"{desc}\""),
                    visible,
                );
            }
            E::PhaseChanged {
                to, back, reason, ..
            } => {
                self.phase = *to;
                self.phase_entered_at = info.recorded_at;
                if *to <= Phase::GatheringOfEvidence {
                    for doc in &mut self.documents {
                        doc.late = false;
                    }
                }
                self.phase_back = *back;
                self.phase_back_reason = if *back {
                    reason.as_ref().map(|r| r.to_string())
                } else {
                    None
                };
                self.phase_history.push(PhaseStep {
                    phase: *to,
                    entered_at: info.recorded_at,
                    back: *back,
                    reason: reason.as_ref().map(|r| r.to_string()),
                });
                if self.close_reason.is_none() {
                    self.status = to.citizen_status();
                }
                if *to == Phase::Complete {
                    self.close_date = Some(info.recorded_at);
                }
                if *back && *to < Phase::PendingDecisionApproval {
                    self.decision = None;
                    for c in &mut self.contentions {
                        c.adjudication = Adjudication::Pending;
                    }
                }
                let line = match (back, reason) {
                    (true, Some(r)) => format!("Moved back to {}: {r}", phase_phrase(*to)),
                    (true, None) => format!("Moved back to {}", phase_phrase(*to)),
                    (false, _) => format!("Moved to {}", phase_phrase(*to)),
                };
                // Staff see every move and its reason; citizens only a change
                // of their status, in their words, never the internal reason.
                let status_changed = self.phase_history.len() < 2
                    || self
                        .phase_history
                        .iter()
                        .rev()
                        .nth(1)
                        .map(|prev| prev.phase)
                        .is_none_or(|prev| prev.citizen_status() != to.citizen_status());
                self.note(info, info.recorded_at, "PHASE_CHANGE", None, line, false);
                if status_changed && self.close_reason.is_none() {
                    let citizen = format!(
                        "Your claim is now at: {}",
                        citizen_phrase(to.citizen_status())
                    );
                    self.note(info, info.recorded_at, "STATUS", None, citizen, true);
                }
            }
            E::EstimateChanged { estimate, reason } => {
                let why = match reason {
                    EstimateReason::ClaimReceived => "claim received".to_owned(),
                    // Shown to citizens: their status, not internal phases.
                    EstimateReason::PhaseChanged(p) => {
                        format!("claim moved to {}", citizen_phrase(p.citizen_status()))
                    }
                    EstimateReason::PhaseMovedBack(_) => {
                        "more work is needed on the claim".to_owned()
                    }
                };
                self.estimate = Some(EstimateView {
                    earliest: estimate.earliest,
                    latest: estimate.latest,
                    reason: why.clone(),
                    changed_at: info.recorded_at,
                });
                self.note(
                    info,
                    info.recorded_at,
                    "ESTIMATE",
                    None,
                    format!(
                        "Estimated completion {} to {} ({why})",
                        estimate.earliest.format("%-d %B %Y"),
                        estimate.latest.format("%-d %B %Y")
                    ),
                    true,
                );
            }
            E::CaseAssigned { assignee, .. } => {
                self.assignee = Some(assignee.to_string());
                self.note(
                    info,
                    info.recorded_at,
                    "ASSIGNMENT",
                    None,
                    format!("Assigned to {assignee}"),
                    false,
                );
            }
            E::CaseUnassigned { previous } => {
                self.assignee = None;
                self.note(
                    info,
                    info.recorded_at,
                    "ASSIGNMENT",
                    None,
                    format!("Unassigned from {previous}"),
                    false,
                );
            }
            E::CaseRoutedToTeam { team } => {
                self.team = Some(team.to_string());
                self.note(
                    info,
                    info.recorded_at,
                    "ASSIGNMENT",
                    None,
                    format!("Routed to team {team}"),
                    false,
                );
            }
            E::ContactRecorded { contact: c } => {
                self.contacts.push(ContactView {
                    id: c.id.as_uuid(),
                    kind: c.kind.code().into(),
                    channel: c.channel.code().into(),
                    agent: c.agent.to_string(),
                    reason: c.reason.as_ref().map(|r| r.to_string()),
                    summary: c.summary.to_string(),
                    follow_up: c.follow_up.as_ref().map(|r| r.to_string()),
                    occurred_at: c.occurred_at,
                });
                let what = match c.kind {
                    ContactKind::Inbound => format!("Contact {}", channel_phrase(&c.channel)),
                    ContactKind::Outbound => {
                        format!("We contacted the claimant {}", channel_phrase(&c.channel))
                    }
                    ContactKind::Note => "Note".to_owned(),
                };
                self.note(
                    info,
                    c.occurred_at,
                    "CONTACT",
                    Some(&c.channel),
                    format!("{what}: {}", c.summary),
                    false,
                );
            }
            E::DecisionProposed {
                adjudications,
                proposer,
            } => {
                self.decision = Some(DecisionView {
                    status: DecisionStatus::Proposed,
                    outcome: ClaimOutcome::of(adjudications.iter().map(|(_, a)| *a)),
                    adjudications: adjudications
                        .iter()
                        .map(|(c, a)| (c.as_uuid(), *a))
                        .collect(),
                    proposer: proposer.to_string(),
                    proposed_at: info.recorded_at,
                    approver: None,
                    approved_at: None,
                    letter_mailed_at: None,
                });
                self.note(
                    info,
                    info.recorded_at,
                    "DECISION",
                    None,
                    format!("Decision proposed by {proposer}"),
                    false,
                );
            }
            E::DecisionApproved { approver, outcome } => {
                if let Some(d) = self.decision.as_mut() {
                    d.status = DecisionStatus::Approved;
                    d.outcome = *outcome;
                    d.approver = Some(approver.to_string());
                    d.approved_at = Some(info.recorded_at);
                    for (id, adjudication) in &d.adjudications {
                        if let Some(c) = self.contentions.iter_mut().find(|c| c.id == *id) {
                            c.adjudication = *adjudication;
                        }
                    }
                }
                self.note(
                    info,
                    info.recorded_at,
                    "DECISION",
                    None,
                    format!("Decision approved by {approver}"),
                    false,
                );
            }
            E::DecisionReturned { approver, reason } => {
                self.decision = None;
                self.note(
                    info,
                    info.recorded_at,
                    "DECISION",
                    None,
                    format!("Decision returned by {approver}: {reason}"),
                    false,
                );
            }
            E::DecisionLetterMailed { mailed_at } => {
                if let Some(d) = self.decision.as_mut() {
                    d.status = DecisionStatus::Notified;
                    d.letter_mailed_at = Some(*mailed_at);
                }
                self.note(
                    info,
                    *mailed_at,
                    "DECISION",
                    None,
                    "Decision letter mailed".into(),
                    true,
                );
            }
            E::CaseWithdrawn { reason } => {
                self.close("WITHDRAWN", info);
                let line = match reason {
                    Some(r) => format!("Claim withdrawn: {r}"),
                    None => "Claim withdrawn".into(),
                };
                self.note(info, info.recorded_at, "CLOSURE", None, line, true);
            }
            E::CaseMerged { survivor } => {
                self.close("MERGED", info);
                self.merged_into = Some(survivor.as_uuid());
                self.note(
                    info,
                    info.recorded_at,
                    "CLOSURE",
                    None,
                    format!("Closed as a duplicate: continued in case {survivor}"),
                    true,
                );
            }
            E::AppealFiled {
                contention,
                appeal_case,
            } => {
                self.appeals.push(appeal_case.as_uuid());
                let desc = self
                    .contentions
                    .iter()
                    .find(|c| c.id == contention.as_uuid())
                    .map(|c| c.description.clone())
                    .unwrap_or_default();
                self.note(
                    info,
                    info.recorded_at,
                    "APPEAL",
                    None,
                    format!("Appeal filed on \"{desc}\""),
                    true,
                );
            }
            E::AppealConcluded { appeal_case } => {
                self.note(
                    info,
                    info.recorded_at,
                    "APPEAL",
                    None,
                    format!("Appeal {appeal_case} concluded"),
                    true,
                );
            }
        }
    }

    fn close(&mut self, reason: &str, info: &EventInfo) {
        self.close_reason = Some(reason.into());
        self.close_date = Some(info.recorded_at);
        self.status = domain::CitizenStatus::Closed;
    }

    /// Open requests not yet answered and past due.
    pub fn overdue_count(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.overdue && r.is_open())
            .count()
    }

    /// The earliest due date among the requests still awaiting a
    /// submission and not yet overdue; `None` when there is none or the
    /// case is closed or complete (the timer has nothing to do there).
    pub fn next_due(&self) -> Option<NaiveDate> {
        if self.is_closed() {
            return None;
        }
        self.requests
            .iter()
            .filter(|r| r.awaits_due_date())
            .map(|r| r.suspense_date)
            .min()
    }

    /// When the oldest evidence document still waiting for a link arrived
    /// (`None` when none waits or the case ended).
    pub fn unlinked_since(&self) -> Option<DateTime<Utc>> {
        self.waiting_since(|d| d.needs_link)
    }

    /// When the oldest late evidence still to be acknowledged arrived.
    pub fn late_since(&self) -> Option<DateTime<Utc>> {
        self.waiting_since(|d| d.late)
    }

    fn waiting_since(&self, waits: impl Fn(&DocumentView) -> bool) -> Option<DateTime<Utc>> {
        if self.is_closed() {
            return None;
        }
        self.documents
            .iter()
            .filter(|d| waits(d))
            .map(|d| d.received_at)
            .min()
    }

    pub fn is_closed(&self) -> bool {
        self.close_reason.is_some() || self.phase == Phase::Complete
    }

    pub fn awaiting_approval(&self) -> bool {
        self.decision
            .as_ref()
            .is_some_and(|d| d.status == DecisionStatus::Proposed)
    }
}

/// What agents see of a claimant (PII masked at the API, by role).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimantView {
    pub claimant_id: Uuid,
    pub version: u64,
    pub file_number: String,
    #[serde(default)]
    pub identity_number: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub postcode: String,
    pub address_lines: Vec<String>,
    #[serde(default)]
    pub representative: Option<RepresentativeView>,
    #[serde(default)]
    pub guardian: Option<GuardianView>,
    pub safety_flags: Vec<String>,
    pub accessibility_needs: Vec<String>,
    /// AGENCY_EMPLOYEE or PROTECTED_ADDRESS
    #[serde(default)]
    pub restriction: Option<String>,
    /// AGENCY_EMPLOYEE: the office whose staff must not handle the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_office: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepresentativeView {
    pub actor: String,
    pub poa_code: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardianView {
    pub actor: String,
    pub relationship: String,
}

impl ClaimantView {
    /// The look-up columns kept beside the document: the file number's
    /// hash and the identity match key (never the values themselves).
    pub fn lookup_keys(&self) -> (String, String) {
        let hash = domain::FileNumber::parse(&self.file_number)
            .map(|f| crate::file_number_hash(&f))
            .unwrap_or_default();
        (
            hash,
            crate::identity_match_key(&self.family_name, self.birth_date),
        )
    }

    pub fn open(event: &ClaimantEvent, info: &EventInfo) -> Option<ClaimantView> {
        let ClaimantEvent::ClaimantRegistered { id, pii } = event else {
            return None;
        };
        let mut view = ClaimantView {
            claimant_id: id.as_uuid(),
            version: info.version,
            file_number: String::new(),
            identity_number: None,
            given_name: String::new(),
            family_name: String::new(),
            birth_date: pii.birth_date,
            postcode: String::new(),
            address_lines: Vec::new(),
            representative: None,
            guardian: None,
            safety_flags: Vec::new(),
            accessibility_needs: Vec::new(),
            restriction: None,
            restriction_office: None,
        };
        view.set_pii(pii);
        Some(view)
    }

    fn set_pii(&mut self, pii: &domain::ClaimantPii) {
        self.file_number = pii.file_number.as_str().to_owned();
        self.identity_number = pii.identity_number.as_ref().map(|n| n.as_str().to_owned());
        self.given_name = pii.given_name.to_string();
        self.family_name = pii.family_name.to_string();
        self.birth_date = pii.birth_date;
        self.postcode = pii.postcode.to_string();
        self.address_lines = pii.address_lines.iter().map(|l| l.to_string()).collect();
    }

    pub fn apply(&mut self, event: &ClaimantEvent, info: &EventInfo) {
        if info.version <= self.version {
            return;
        }
        self.version = info.version;
        match event {
            ClaimantEvent::ClaimantRegistered { .. } => {}
            ClaimantEvent::PiiCorrected { pii } => self.set_pii(pii),
            ClaimantEvent::RepresentativeChanged { representative } => {
                self.representative = representative.as_ref().map(|r| RepresentativeView {
                    actor: r.actor.to_string(),
                    poa_code: r.poa_code.to_string(),
                })
            }
            ClaimantEvent::GuardianChanged { guardian } => {
                self.guardian = guardian.as_ref().map(|g| GuardianView {
                    actor: g.actor.to_string(),
                    relationship: g.relationship.to_string(),
                })
            }
            ClaimantEvent::FlagsChanged { flags } => {
                self.safety_flags = flags.safety.iter().map(|t| t.to_string()).collect();
                self.accessibility_needs =
                    flags.accessibility.iter().map(|t| t.to_string()).collect();
            }
            ClaimantEvent::RestrictionChanged { restriction } => {
                self.restriction = restriction.as_ref().map(|r| r.code().to_owned());
                self.restriction_office = restriction
                    .as_ref()
                    .and_then(|r| r.office())
                    .map(|o| o.to_string());
            }
        }
    }
}
