//! The Case aggregate: state, `evolve` and `decide`.

mod command;
mod event;
mod types;

pub use command::{AttachDocument, CaseCommand, SubmitClaim};
pub use event::CaseEvent;
pub use types::*;

use crate::error::DomainError;
use crate::ids::*;
use crate::status::{CitizenStatus, Phase, RequestStatus};
use crate::text::Text;
use crate::Ctx;
use chrono::{DateTime, Utc};

/// The state of a case stream: nothing yet, or a case file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Case {
    #[default]
    Nonexistent,
    Existing(Box<CaseFile>),
}

/// Everything the decider needs to know about an existing case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFile {
    pub id: CaseId,
    pub claimant: ClaimantId,
    pub benefit: BenefitType,
    pub phase: Phase,
    pub contentions: Vec<Contention>,
    pub entries: Vec<ChannelEntry>,
    /// Earliest `receivedAt` of the entries.
    pub claim_date: DateTime<Utc>,
    pub documents: Vec<Document>,
    /// Evidence documents answering no request yet and not marked as
    /// needing none (the association queue), in arrival order.
    pub unlinked: Vec<DocumentId>,
    /// Late evidence flagged for the caseworker and not yet acknowledged.
    pub late_evidence: Vec<DocumentId>,
    pub requests: Vec<EvidenceRequest>,
    pub waiver_5103: bool,
    pub assignee: Option<ActorId>,
    pub team: Option<TeamCode>,
    pub decision: Option<Decision>,
    pub closed: Option<CloseReason>,
    pub appeal_of: Option<AppealLink>,
    /// Active appeals of this case's contentions: (contention, appeal case).
    pub active_appeals: Vec<(ContentionId, CaseId)>,
    pub estimate: Option<Estimate>,
}

impl CaseFile {
    pub fn citizen_status(&self) -> CitizenStatus {
        if self.closed.is_some() {
            CitizenStatus::Closed
        } else {
            self.phase.citizen_status()
        }
    }

    fn request(&self, id: RequestId) -> Result<&EvidenceRequest, DomainError> {
        self.requests
            .iter()
            .find(|r| r.id == id)
            .ok_or(DomainError::RequestNotFound(id))
    }

    fn request_mut(&mut self, id: RequestId) -> Option<&mut EvidenceRequest> {
        self.requests.iter_mut().find(|r| r.id == id)
    }

    fn first_entry(&self) -> Option<EntryId> {
        self.entries.first().map(|e| e.id)
    }
}

impl CaseEvent {
    /// Whether this event ends the case as an open claim (so the claimant
    /// may file the same benefit again as a new case).
    pub fn ends_case(&self) -> bool {
        matches!(
            self,
            CaseEvent::CaseWithdrawn { .. }
                | CaseEvent::CaseMerged { .. }
                | CaseEvent::PhaseChanged {
                    to: Phase::Complete,
                    ..
                }
        )
    }
}

impl Case {
    pub fn file(&self) -> Option<&CaseFile> {
        match self {
            Case::Nonexistent => None,
            Case::Existing(file) => Some(file),
        }
    }

    /// Folds a whole history.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> Case {
        events.into_iter().fold(Case::Nonexistent, Case::evolve)
    }

    /// Applies one event. Total: an event that does not fit the state (which
    /// `decide` never produces) leaves the state unchanged rather than
    /// panicking, because history is immutable and must always load.
    pub fn evolve(self, event: &CaseEvent) -> Case {
        let mut file = match (self, event) {
            (
                Case::Nonexistent,
                CaseEvent::ClaimSubmitted {
                    case_id,
                    claimant,
                    benefit,
                    contentions,
                    entry,
                    appeal_of,
                },
            ) => {
                return Case::Existing(Box::new(CaseFile {
                    id: *case_id,
                    claimant: *claimant,
                    benefit: benefit.clone(),
                    phase: Phase::ClaimReceived,
                    contentions: contentions
                        .iter()
                        .map(|c| Contention {
                            id: c.id,
                            description: c.description.clone(),
                            adjudication: Adjudication::Pending,
                        })
                        .collect(),
                    entries: vec![entry.clone()],
                    claim_date: entry.received_at,
                    documents: Vec::new(),
                    unlinked: Vec::new(),
                    late_evidence: Vec::new(),
                    requests: Vec::new(),
                    waiver_5103: false,
                    assignee: None,
                    team: None,
                    decision: None,
                    closed: None,
                    appeal_of: *appeal_of,
                    active_appeals: Vec::new(),
                    estimate: None,
                }))
            }
            (Case::Nonexistent, _) => return Case::Nonexistent,
            (Case::Existing(file), _) => file,
        };
        use CaseEvent::*;
        match event {
            ClaimSubmitted { .. } => {}
            ChannelEntryAttached { entry } => file.entries.push(entry.clone()),
            ClaimDateChanged { to, .. } => file.claim_date = *to,
            DocumentAttached {
                document,
                request,
                filed_as,
            } => {
                file.documents.push(document.clone());
                match request.and_then(|id| file.request_mut(id)) {
                    Some(r) => r.documents.push(document.id),
                    None if *filed_as == DocumentFiling::Evidence => {
                        file.unlinked.push(document.id)
                    }
                    None => {}
                }
            }
            DocumentNeedsNoLink { document, .. } => file.unlinked.retain(|d| d != document),
            LateEvidenceFlagged { document, .. } => file.late_evidence.push(*document),
            LateEvidenceAcknowledged { document } => file.late_evidence.retain(|d| d != document),
            DocumentLinked { document, request } => {
                file.unlinked.retain(|d| d != document);
                if let Some(r) = file.request_mut(*request) {
                    if !r.documents.contains(document) {
                        r.documents.push(*document);
                    }
                }
            }
            EvidenceRequested { request } => file.requests.push(EvidenceRequest {
                id: request.id,
                kind: request.kind,
                description: request.description.clone(),
                status: if request.needed_from_claimant {
                    RequestStatus::NeededFromYou
                } else {
                    RequestStatus::NeededFromOthers
                },
                suspense_date: request.suspense_date,
                suppressed: request.suppressed,
                overdue: false,
                reminder_sent: false,
                documents: Vec::new(),
            }),
            EvidenceStatusChanged { request, to, .. } => {
                if let Some(r) = file.request_mut(*request) {
                    r.status = *to;
                    if !to.is_awaiting_submission() {
                        r.overdue = false;
                    }
                }
            }
            Waiver5103Submitted { .. } => file.waiver_5103 = true,
            RequestMarkedOverdue { request, .. } => {
                if let Some(r) = file.request_mut(*request) {
                    r.overdue = true;
                }
            }
            ReminderIssued { request } => {
                if let Some(r) = file.request_mut(*request) {
                    r.reminder_sent = true;
                }
            }
            PhaseChanged { to, back, .. } => {
                file.phase = *to;
                // Back in evidence gathering, late evidence is simply
                // evidence: it is reviewed with the rest.
                if *to <= Phase::GatheringOfEvidence {
                    file.late_evidence.clear();
                }
                // Moving back below approval voids a proposed or approved
                // decision: it must be proposed again on the new evidence.
                if *back && *to < Phase::PendingDecisionApproval {
                    file.decision = None;
                    for c in &mut file.contentions {
                        c.adjudication = Adjudication::Pending;
                    }
                }
            }
            EstimateChanged { estimate, .. } => file.estimate = Some(*estimate),
            CaseAssigned { assignee, .. } => file.assignee = Some(assignee.clone()),
            CaseUnassigned { .. } => file.assignee = None,
            CaseRoutedToTeam { team } => file.team = Some(team.clone()),
            ContactRecorded { .. } => {}
            DecisionProposed {
                adjudications,
                proposer,
            } => {
                file.decision = Some(Decision {
                    status: DecisionStatus::Proposed,
                    adjudications: adjudications.clone(),
                    outcome: ClaimOutcome::of(adjudications.iter().map(|(_, a)| *a)),
                    proposer: proposer.clone(),
                    approver: None,
                })
            }
            DecisionApproved { approver, outcome } => {
                if let Some(d) = file.decision.as_mut() {
                    d.status = DecisionStatus::Approved;
                    d.approver = Some(approver.clone());
                    d.outcome = *outcome;
                    for (cid, adj) in &d.adjudications {
                        if let Some(c) = file.contentions.iter_mut().find(|c| c.id == *cid) {
                            c.adjudication = *adj;
                        }
                    }
                }
            }
            DecisionReturned { .. } => file.decision = None,
            DecisionLetterMailed { .. } => {
                if let Some(d) = file.decision.as_mut() {
                    d.status = DecisionStatus::Notified;
                }
            }
            CaseWithdrawn { .. } => file.closed = Some(CloseReason::Withdrawn),
            CaseMerged { survivor } => file.closed = Some(CloseReason::Merged(*survivor)),
            AppealFiled {
                contention,
                appeal_case,
            } => file.active_appeals.push((*contention, *appeal_case)),
            AppealConcluded { appeal_case } => {
                file.active_appeals.retain(|(_, a)| a != appeal_case)
            }
        }
        Case::Existing(file)
    }

    /// Decides what happens when `command` meets this state.
    pub fn decide(&self, command: &CaseCommand, ctx: &Ctx) -> Result<Vec<CaseEvent>, DomainError> {
        let file = match (self, command) {
            (Case::Nonexistent, CaseCommand::SubmitClaim(submit)) => {
                return submit_claim(submit, ctx)
            }
            (Case::Existing(_), CaseCommand::SubmitClaim(_)) => {
                return Err(DomainError::ClaimAlreadyExists)
            }
            (Case::Nonexistent, _) => return Err(DomainError::ClaimNotFound),
            (Case::Existing(file), _) => file,
        };
        guard_open(file, command)?;
        decide_existing(file, command, ctx)
    }
}

/// Closed cases take only contacts; complete ones also take appeal
/// bookkeeping.
fn guard_open(file: &CaseFile, command: &CaseCommand) -> Result<(), DomainError> {
    use CaseCommand::*;
    let always = matches!(command, RecordContact(_) | ConcludeAppeal { .. });
    if file.closed.is_some() && !always {
        return Err(DomainError::CaseClosed);
    }
    if file.phase == Phase::Complete && !always && !matches!(command, FileAppeal { .. }) {
        return Err(DomainError::CaseComplete);
    }
    Ok(())
}

/// Most contentions on one claim (the channel contract's `maxItems`).
pub const MAX_CONTENTIONS: usize = 100;

fn submit_claim(submit: &SubmitClaim, ctx: &Ctx) -> Result<Vec<CaseEvent>, DomainError> {
    if submit.contentions.is_empty() {
        return Err(DomainError::NoContentions);
    }
    if submit.contentions.len() > MAX_CONTENTIONS {
        return Err(DomainError::TooManyContentions);
    }
    for (i, c) in submit.contentions.iter().enumerate() {
        if submit.contentions[..i].iter().any(|o| o.id == c.id) {
            return Err(DomainError::DuplicateContention(c.id));
        }
    }
    let mut events = vec![CaseEvent::ClaimSubmitted {
        case_id: submit.case_id,
        claimant: submit.claimant,
        benefit: submit.benefit.clone(),
        contentions: submit.contentions.clone(),
        entry: recorded(&submit.entry, ctx, None),
        appeal_of: submit.appeal_of,
    }];
    if let Some(estimate) = submit.estimate {
        events.push(CaseEvent::EstimateChanged {
            estimate,
            reason: EstimateReason::ClaimReceived,
        });
    }
    Ok(events)
}

fn recorded(entry: &NewChannelEntry, ctx: &Ctx, duplicate_of: Option<EntryId>) -> ChannelEntry {
    ChannelEntry {
        id: entry.id,
        channel: entry.channel.clone(),
        external_id: entry.external_id.clone(),
        received_at: entry.received_at,
        recorded_at: ctx.now,
        submitted_by: entry.submitted_by.clone(),
        duplicate_of,
    }
}

fn status_change(req: &EvidenceRequest, to: RequestStatus, reason: Option<Text>) -> CaseEvent {
    CaseEvent::EvidenceStatusChanged {
        request: req.id,
        from: req.status,
        to,
        reason,
    }
}

/// Why a case's open requests were closed when it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseEnd {
    Withdrawn,
    Merged,
    Decided,
}

impl CaseEnd {
    /// The reason recorded on each request closed by the end (citizens see it).
    pub fn reason(self) -> Text {
        Text::fixed(match self {
            CaseEnd::Withdrawn => "The claim was withdrawn.",
            CaseEnd::Merged => "The claim was merged with another claim of the same kind.",
            CaseEnd::Decided => "A decision was made and the decision letter was mailed.",
        })
    }
}

/// An ended case has no open request: the end closes every one that is
/// not answered, as `NO_LONGER_REQUIRED`, with the end as the reason.
fn close_open_requests(file: &CaseFile, end: CaseEnd) -> impl Iterator<Item = CaseEvent> + '_ {
    file.requests
        .iter()
        .filter(|r| !r.status.is_terminal())
        .map(move |r| status_change(r, RequestStatus::NoLongerRequired, Some(end.reason())))
}

/// Whether `document` (which must be on the case) is in the queue `list`.
fn waiting(
    file: &CaseFile,
    document: DocumentId,
    list: &[DocumentId],
) -> Result<bool, DomainError> {
    if !file.documents.iter().any(|d| d.id == document) {
        return Err(DomainError::DocumentNotFound(document));
    }
    Ok(list.contains(&document))
}

/// What evidence arriving after evidence gathering does, by the tenant's
/// rule: the case goes back to gathering (reason and estimate recorded), or
/// the caseworker gets a work item. After the decision was approved the
/// decision stands and it is always a work item.
fn late_evidence(file: &CaseFile, doc: &AttachDocument) -> Vec<CaseEvent> {
    let late = doc.filed_as == DocumentFiling::Evidence
        && file.phase > Phase::GatheringOfEvidence
        && file.phase < Phase::Complete;
    if !late {
        return Vec::new();
    }
    match doc.on_late {
        LateEvidence::PhaseBack { estimate } if file.phase < Phase::PreparationForNotification => {
            let to = Phase::GatheringOfEvidence;
            let mut events = vec![phase_change(
                file.phase,
                to,
                Some(Text::fixed(
                    "New evidence arrived after evidence gathering; it is reviewed before a decision.",
                )),
            )];
            if let Some(estimate) = estimate.filter(|e| Some(*e) != file.estimate) {
                events.push(CaseEvent::EstimateChanged {
                    estimate,
                    reason: EstimateReason::PhaseMovedBack(to),
                });
            }
            events
        }
        _ => vec![CaseEvent::LateEvidenceFlagged {
            document: doc.id,
            phase: file.phase,
        }],
    }
}

fn phase_change(from: Phase, to: Phase, reason: Option<Text>) -> CaseEvent {
    CaseEvent::PhaseChanged {
        from,
        to,
        back: to < from,
        reason,
    }
}

fn decide_existing(
    file: &CaseFile,
    command: &CaseCommand,
    ctx: &Ctx,
) -> Result<Vec<CaseEvent>, DomainError> {
    use CaseCommand::*;
    use CaseEvent as E;
    Ok(match command {
        SubmitClaim(_) => return Err(DomainError::ClaimAlreadyExists),
        AttachChannelEntry(entry) => {
            if file
                .entries
                .iter()
                .any(|e| e.channel == entry.channel && e.external_id == entry.external_id)
            {
                return Err(DomainError::DuplicateChannelEntry);
            }
            let mut events = vec![E::ChannelEntryAttached {
                entry: recorded(entry, ctx, file.first_entry()),
            }];
            if entry.received_at < file.claim_date {
                events.push(E::ClaimDateChanged {
                    from: file.claim_date,
                    to: entry.received_at,
                    reason: ClaimDateReason::EarlierReceipt(entry.id),
                });
            }
            events
        }
        AttachDocument(doc) => {
            if file.documents.iter().any(|d| d.id == doc.id) {
                return Err(DomainError::DuplicateDocument(doc.id));
            }
            let request = doc.request.map(|id| file.request(id)).transpose()?;
            let mut events = vec![E::DocumentAttached {
                document: Document {
                    id: doc.id,
                    document_type: doc.document_type.clone(),
                    pages: doc.pages,
                    checksum: doc.checksum.clone(),
                    storage_ref: doc.storage_ref.clone(),
                    received_at: doc.received_at,
                    channel: doc.channel.clone(),
                },
                request: doc.request,
                filed_as: doc.filed_as,
            }];
            if let Some(req) = request.filter(|r| r.status.is_awaiting_submission()) {
                events.push(status_change(
                    req,
                    RequestStatus::SubmittedAwaitingReview,
                    None,
                ));
            }
            events.extend(late_evidence(file, doc));
            events
        }
        // Nothing to do for a document no longer waiting (linked already,
        // filed with its submission, marked, or acknowledged).
        MarkDocumentNeedsNoLink { document, reason } => waiting(file, *document, &file.unlinked)?
            .then(|| E::DocumentNeedsNoLink {
                document: *document,
                reason: reason.clone(),
            })
            .into_iter()
            .collect(),
        AcknowledgeLateEvidence { document } => waiting(file, *document, &file.late_evidence)?
            .then_some(E::LateEvidenceAcknowledged {
                document: *document,
            })
            .into_iter()
            .collect(),
        LinkDocument { document, request } => {
            if !file.documents.iter().any(|d| d.id == *document) {
                return Err(DomainError::DocumentNotFound(*document));
            }
            let req = file.request(*request)?;
            if req.documents.contains(document) {
                return Ok(Vec::new());
            }
            let mut events = vec![E::DocumentLinked {
                document: *document,
                request: *request,
            }];
            if req.status.is_awaiting_submission() {
                events.push(status_change(
                    req,
                    RequestStatus::SubmittedAwaitingReview,
                    None,
                ));
            }
            events
        }
        RequestEvidence(req) => {
            if file.requests.iter().any(|r| r.id == req.id) {
                return Err(DomainError::DuplicateRequest(req.id));
            }
            if req.kind == RequestKind::Notice5103 {
                if file.waiver_5103 {
                    return Err(DomainError::WaiverAlreadySubmitted);
                }
                if file
                    .requests
                    .iter()
                    .any(|r| r.kind == RequestKind::Notice5103 && !r.status.is_terminal())
                {
                    return Err(DomainError::Duplicate5103Notice);
                }
            }
            vec![E::EvidenceRequested {
                request: req.clone(),
            }]
        }
        SubmitWaiver5103 { received_at } => {
            if file.waiver_5103 {
                return Err(DomainError::WaiverAlreadySubmitted);
            }
            let mut events = vec![E::Waiver5103Submitted {
                received_at: *received_at,
            }];
            events.extend(
                file.requests
                    .iter()
                    .filter(|r| r.kind == RequestKind::Notice5103 && !r.status.is_terminal())
                    .map(|r| {
                        status_change(
                            r,
                            RequestStatus::NoLongerRequired,
                            Some(Text::fixed("The 5103 waiver was received.")),
                        )
                    }),
            );
            events
        }
        ReviewEvidence {
            request,
            to,
            reason,
        } => {
            let req = file.request(*request)?;
            if !req.status.can_move_to(*to) {
                return Err(DomainError::InvalidEvidenceTransition {
                    from: req.status,
                    to: *to,
                });
            }
            vec![status_change(req, *to, reason.clone())]
        }
        MarkRequestOverdue { request } => {
            let req = file.request(*request)?;
            if req.overdue {
                // Timers re-run; the request is already overdue and reminded.
                return Ok(Vec::new());
            }
            if !req.status.is_awaiting_submission() {
                return Err(DomainError::RequestNotOpen);
            }
            if req.suspense_date >= ctx.now.date_naive() {
                return Err(DomainError::RequestNotDue);
            }
            let mut events = vec![E::RequestMarkedOverdue {
                request: req.id,
                suspense_date: req.suspense_date,
            }];
            if !req.reminder_sent {
                events.push(E::ReminderIssued { request: req.id });
            }
            events
        }
        ChangePhase {
            to,
            reason,
            estimate,
        } => {
            let from = file.phase;
            if !to.is_manually_reachable() || *to == from {
                return Err(DomainError::InvalidPhaseTransition { from, to: *to });
            }
            let back = *to < from;
            if back && reason.is_none() {
                return Err(DomainError::PhaseBackReasonRequired);
            }
            let mut events = vec![phase_change(from, *to, reason.clone())];
            if let Some(estimate) = estimate.filter(|e| Some(*e) != file.estimate) {
                events.push(E::EstimateChanged {
                    estimate,
                    reason: if back {
                        EstimateReason::PhaseMovedBack(*to)
                    } else {
                        EstimateReason::PhaseChanged(*to)
                    },
                });
            }
            events
        }
        Assign { assignee, reassign } => match &file.assignee {
            Some(current) if current == assignee => Vec::new(),
            Some(_) if !reassign => return Err(DomainError::AlreadyAssigned),
            previous => vec![E::CaseAssigned {
                assignee: assignee.clone(),
                previous: previous.clone(),
            }],
        },
        Unassign => match &file.assignee {
            None => return Err(DomainError::NotAssigned),
            Some(previous) => vec![E::CaseUnassigned {
                previous: previous.clone(),
            }],
        },
        RouteToTeam { team } => {
            if file.team.as_ref() == Some(team) {
                Vec::new()
            } else {
                vec![E::CaseRoutedToTeam { team: team.clone() }]
            }
        }
        RecordContact(c) => vec![E::ContactRecorded {
            contact: Contact {
                id: c.id,
                kind: c.kind,
                channel: c.channel.clone(),
                agent: ctx.actor.clone(),
                reason: c.reason.clone(),
                summary: c.summary.clone(),
                follow_up: c.follow_up.clone(),
                occurred_at: c.occurred_at,
            },
        }],
        ProposeDecision {
            adjudications,
            close_requests,
        } => {
            if file.phase != Phase::PreparationForDecision {
                return Err(DomainError::InvalidPhaseTransition {
                    from: file.phase,
                    to: Phase::PendingDecisionApproval,
                });
            }
            for (i, (cid, adj)) in adjudications.iter().enumerate() {
                if !file.contentions.iter().any(|c| c.id == *cid) {
                    return Err(DomainError::ContentionNotFound(*cid));
                }
                if adjudications[..i].iter().any(|(o, _)| o == cid) {
                    return Err(DomainError::DuplicateContention(*cid));
                }
                if *adj == Adjudication::Pending {
                    return Err(DomainError::IncompleteDecision);
                }
            }
            if adjudications.len() != file.contentions.len() {
                return Err(DomainError::IncompleteDecision);
            }
            // No decision is proposed over an open request: each is
            // answered first, or closed here with the caseworker's reason.
            let mut closes = Vec::new();
            for (i, (id, reason)) in close_requests.iter().enumerate() {
                if close_requests[..i].iter().any(|(o, _)| o == id) {
                    return Err(DomainError::DuplicateRequest(*id));
                }
                let req = file.request(*id)?;
                if !req.status.can_move_to(RequestStatus::NoLongerRequired) {
                    return Err(DomainError::InvalidEvidenceTransition {
                        from: req.status,
                        to: RequestStatus::NoLongerRequired,
                    });
                }
                closes.push(status_change(
                    req,
                    RequestStatus::NoLongerRequired,
                    Some(reason.clone()),
                ));
            }
            let still_open: Vec<RequestId> = file
                .requests
                .iter()
                .filter(|r| !r.status.is_terminal())
                .filter(|r| !close_requests.iter().any(|(id, _)| *id == r.id))
                .map(|r| r.id)
                .collect();
            if !still_open.is_empty() {
                return Err(DomainError::OpenRequests(still_open));
            }
            // Keep the case's contention order so the event is canonical.
            let ordered = file
                .contentions
                .iter()
                .filter_map(|c| adjudications.iter().find(|(id, _)| *id == c.id).copied())
                .collect();
            closes.push(E::DecisionProposed {
                adjudications: ordered,
                proposer: ctx.actor.clone(),
            });
            closes.push(phase_change(
                file.phase,
                Phase::PendingDecisionApproval,
                None,
            ));
            closes
        }
        ApproveDecision => {
            let decision = pending_decision(file)?;
            if decision.proposer == ctx.actor {
                return Err(DomainError::FourEyesViolation);
            }
            vec![
                E::DecisionApproved {
                    approver: ctx.actor.clone(),
                    outcome: decision.outcome,
                },
                phase_change(file.phase, Phase::PreparationForNotification, None),
            ]
        }
        ReturnDecision { reason } => {
            pending_decision(file)?;
            vec![
                E::DecisionReturned {
                    approver: ctx.actor.clone(),
                    reason: reason.clone(),
                },
                phase_change(
                    file.phase,
                    Phase::PreparationForDecision,
                    Some(reason.clone()),
                ),
            ]
        }
        MailDecisionLetter { mailed_at } => {
            let approved = file
                .decision
                .as_ref()
                .is_some_and(|d| d.status == DecisionStatus::Approved);
            if file.phase != Phase::PreparationForNotification || !approved {
                return Err(DomainError::InvalidPhaseTransition {
                    from: file.phase,
                    to: Phase::Complete,
                });
            }
            let mut events = vec![E::DecisionLetterMailed {
                mailed_at: *mailed_at,
            }];
            events.extend(close_open_requests(file, CaseEnd::Decided));
            events.push(phase_change(file.phase, Phase::Complete, None));
            events
        }
        Withdraw { reason } => {
            let mut events: Vec<_> = close_open_requests(file, CaseEnd::Withdrawn).collect();
            events.push(E::CaseWithdrawn {
                reason: reason.clone(),
            });
            events
        }
        MergeInto { survivor } => {
            if *survivor == file.id {
                return Err(DomainError::SelfMerge);
            }
            let mut events: Vec<_> = close_open_requests(file, CaseEnd::Merged).collect();
            events.push(E::CaseMerged {
                survivor: *survivor,
            });
            events
        }
        FileAppeal {
            contention,
            appeal_case,
        } => {
            let c = file
                .contentions
                .iter()
                .find(|c| c.id == *contention)
                .ok_or(DomainError::ContentionNotFound(*contention))?;
            if file.phase != Phase::Complete || c.adjudication == Adjudication::Pending {
                return Err(DomainError::NotDecided(*contention));
            }
            if file.active_appeals.iter().any(|(c, _)| c == contention) {
                return Err(DomainError::DuplicateAppeal(*contention));
            }
            vec![E::AppealFiled {
                contention: *contention,
                appeal_case: *appeal_case,
            }]
        }
        ConcludeAppeal { appeal_case } => {
            if !file.active_appeals.iter().any(|(_, a)| a == appeal_case) {
                return Err(DomainError::AppealNotFound(*appeal_case));
            }
            vec![E::AppealConcluded {
                appeal_case: *appeal_case,
            }]
        }
    })
}

fn pending_decision(file: &CaseFile) -> Result<&Decision, DomainError> {
    match &file.decision {
        Some(d)
            if d.status == DecisionStatus::Proposed
                && file.phase == Phase::PendingDecisionApproval =>
        {
            Ok(d)
        }
        _ => Err(DomainError::NoPendingDecision),
    }
}
