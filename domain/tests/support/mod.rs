//! Shared fixtures and a tiny given/when/then harness (in the style of the
//! cqrs-es `TestFramework`) for the Case and Claimant deciders.
//!
//! Every value is fixed: timestamps come from `Utc.with_ymd_and_hms`, ids
//! from `Uuid::from_u128`. Nothing here reads a clock or a random source.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::case::*;
use domain::claimant::*;
use domain::status::RequestStatus;
use domain::*;
use std::fmt::Debug;
use uuid::Uuid;

// ---------------------------------------------------------------- deciders

/// A decider as the harness sees it.
pub trait Decider: Clone + Debug + PartialEq + Default {
    type Command: Debug;
    type Event: Clone + Debug + PartialEq;
    fn decide_(&self, command: &Self::Command, ctx: &Ctx) -> Result<Vec<Self::Event>, DomainError>;
    fn evolve_(self, event: &Self::Event) -> Self;
}

impl Decider for Case {
    type Command = CaseCommand;
    type Event = CaseEvent;
    fn decide_(&self, command: &CaseCommand, ctx: &Ctx) -> Result<Vec<CaseEvent>, DomainError> {
        self.decide(command, ctx)
    }
    fn evolve_(self, event: &CaseEvent) -> Self {
        self.evolve(event)
    }
}

impl Decider for Claimant {
    type Command = ClaimantCommand;
    type Event = ClaimantEvent;
    fn decide_(
        &self,
        command: &ClaimantCommand,
        ctx: &Ctx,
    ) -> Result<Vec<ClaimantEvent>, DomainError> {
        self.decide(command, ctx)
    }
    fn evolve_(self, event: &ClaimantEvent) -> Self {
        self.evolve(event)
    }
}

/// Folds a history into a state.
pub fn fold<D: Decider>(events: &[D::Event]) -> D {
    events.iter().fold(D::default(), |s, e| s.evolve_(e))
}

// ---------------------------------------------------------------- harness

pub struct Given<D: Decider> {
    history: Vec<D::Event>,
    ctx: Ctx,
}

/// Starts a Case scenario from a history of case events.
pub fn given(events: impl IntoIterator<Item = CaseEvent>) -> Given<Case> {
    Given {
        history: events.into_iter().collect(),
        ctx: ctx(),
    }
}

/// Starts a Case scenario on a stream that has no events yet.
pub fn given_no_case() -> Given<Case> {
    given(Vec::new())
}

/// Starts a Claimant scenario from a history of claimant events.
pub fn given_claimant(events: impl IntoIterator<Item = ClaimantEvent>) -> Given<Claimant> {
    Given {
        history: events.into_iter().collect(),
        ctx: ctx(),
    }
}

impl<D: Decider> Given<D> {
    /// The command is issued by `actor` instead of the default caseworker.
    pub fn by(mut self, actor: &str) -> Self {
        self.ctx.actor = actor_id(actor);
        self
    }

    /// The command is decided at `now` instead of the default instant.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.ctx.now = now;
        self
    }

    pub fn when(self, command: D::Command) -> When<D> {
        let state: D = fold(&self.history);
        let result = state.decide_(&command, &self.ctx);
        When {
            history: self.history,
            state,
            command,
            result,
        }
    }
}

pub struct When<D: Decider> {
    history: Vec<D::Event>,
    state: D,
    command: D::Command,
    result: Result<Vec<D::Event>, DomainError>,
}

impl<D: Decider> When<D> {
    /// The command is accepted and produces exactly `expected`.
    #[track_caller]
    pub fn then(self, expected: Vec<D::Event>) -> Then<D> {
        match &self.result {
            Ok(events) => assert_eq!(
                events, &expected,
                "unexpected events for {:?}",
                self.command
            ),
            Err(e) => panic!(
                "expected events {expected:?}, but {:?} was refused with {} ({e})",
                self.command,
                e.code()
            ),
        }
        self.into_then()
    }

    /// The command is accepted and produces no events (an idempotent no-op).
    #[track_caller]
    pub fn then_nothing(self) -> Then<D> {
        self.then(Vec::new())
    }

    /// The command is refused with the error code `code`.
    #[track_caller]
    pub fn then_err(self, code: &str) -> DomainError {
        match self.result {
            Ok(events) => panic!(
                "expected {code}, but {:?} was accepted with {events:?}",
                self.command
            ),
            Err(e) => {
                assert_eq!(e.code().as_str(), code, "wrong refusal: {e:?}");
                e
            }
        }
    }

    /// The command is refused with exactly `expected`.
    #[track_caller]
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Ok(events) => panic!(
                "expected {expected:?}, but {:?} was accepted with {events:?}",
                self.command
            ),
            Err(e) => assert_eq!(e, expected),
        }
    }

    /// The raw result, for assertions the helpers do not cover.
    pub fn result(self) -> Result<Vec<D::Event>, DomainError> {
        self.result
    }

    fn into_then(self) -> Then<D> {
        let events = self.result.unwrap_or_default();
        let after = events.iter().fold(self.state.clone(), |s, e| s.evolve_(e));
        let mut history = self.history;
        history.extend(events.iter().cloned());
        Then {
            before: self.state,
            after,
            history,
            events,
        }
    }
}

/// What a successful scenario leaves behind, to check the evolved state.
pub struct Then<D: Decider> {
    pub before: D,
    pub after: D,
    /// The given history followed by the new events.
    pub history: Vec<D::Event>,
    pub events: Vec<D::Event>,
}

impl Then<Case> {
    /// The evolved case file (panics when the case does not exist).
    #[track_caller]
    pub fn file(&self) -> &CaseFile {
        self.after
            .file()
            .expect("the case exists after the command")
    }
}

impl Then<Claimant> {
    #[track_caller]
    pub fn record(&self) -> &ClaimantRecord {
        self.after
            .record()
            .expect("the claimant exists after the command")
    }
}

// ---------------------------------------------------------------- values

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn day(y: i32, mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, mo, d).unwrap()
}

/// The default instant commands are decided at.
pub fn now() -> DateTime<Utc> {
    at(2024, 3, 10, 12, 0)
}

pub const CASEWORKER: &str = "caseworker-1";
pub const APPROVER: &str = "approver-1";
pub const OTHER_CASEWORKER: &str = "caseworker-2";

pub fn actor_id(raw: &str) -> ActorId {
    ActorId::parse(raw).unwrap()
}

pub fn ctx() -> Ctx {
    Ctx {
        now: now(),
        actor: actor_id(CASEWORKER),
    }
}

pub fn text(raw: &str) -> Text {
    Text::parse("text", raw).unwrap()
}

pub fn ext(raw: &str) -> ExternalId {
    ExternalId::parse(raw).unwrap()
}

pub fn team(raw: &str) -> TeamCode {
    TeamCode::parse(raw).unwrap()
}

pub fn benefit() -> BenefitType {
    BenefitType::parse("COMPENSATION").unwrap()
}

pub fn case_id(n: u128) -> CaseId {
    CaseId::from_uuid(Uuid::from_u128(0xCA5E_0000 + n))
}
pub fn claimant_id(n: u128) -> ClaimantId {
    ClaimantId::from_uuid(Uuid::from_u128(0xC1A1_0000 + n))
}
pub fn entry_id(n: u128) -> EntryId {
    EntryId::from_uuid(Uuid::from_u128(0xE000_0000 + n))
}
pub fn doc_id(n: u128) -> DocumentId {
    DocumentId::from_uuid(Uuid::from_u128(0xD0C0_0000 + n))
}
pub fn req_id(n: u128) -> RequestId {
    RequestId::from_uuid(Uuid::from_u128(0x5E90_0000 + n))
}
pub fn contention_id(n: u128) -> ContentionId {
    ContentionId::from_uuid(Uuid::from_u128(0xC0E7_0000 + n))
}
pub fn contact_id(n: u128) -> ContactId {
    ContactId::from_uuid(Uuid::from_u128(0xC07A_0000 + n))
}

/// The case every scenario is about.
pub fn the_case() -> CaseId {
    case_id(1)
}

/// The two contentions of the standard claim.
pub fn c1() -> ContentionId {
    contention_id(1)
}
pub fn c2() -> ContentionId {
    contention_id(2)
}

pub fn contentions() -> Vec<NewContention> {
    vec![
        NewContention {
            id: c1(),
            description: text("Hearing loss"),
        },
        NewContention {
            id: c2(),
            description: text("Tinnitus"),
        },
    ]
}

/// When the first (web) submission was received.
pub fn first_received() -> DateTime<Utc> {
    at(2024, 3, 1, 9, 0)
}

pub fn new_entry(
    n: u128,
    channel: Channel,
    external: &str,
    received: DateTime<Utc>,
) -> NewChannelEntry {
    NewChannelEntry {
        id: entry_id(n),
        channel,
        external_id: ext(external),
        received_at: received,
        submitted_by: Submitter::Claimant,
    }
}

/// The first submission: through the web portal.
pub fn web_entry() -> NewChannelEntry {
    new_entry(1, Channel::Web, "web-1", first_received())
}

/// `entry` as the case records it.
pub fn recorded(
    entry: &NewChannelEntry,
    recorded_at: DateTime<Utc>,
    duplicate_of: Option<EntryId>,
) -> ChannelEntry {
    ChannelEntry {
        id: entry.id,
        channel: entry.channel.clone(),
        external_id: entry.external_id.clone(),
        received_at: entry.received_at,
        recorded_at,
        submitted_by: entry.submitted_by.clone(),
        duplicate_of,
    }
}

pub fn estimate(earliest: NaiveDate, latest: NaiveDate) -> Estimate {
    Estimate { earliest, latest }
}

pub fn submit_claim() -> domain::case::SubmitClaim {
    domain::case::SubmitClaim {
        case_id: the_case(),
        claimant: claimant_id(1),
        benefit: benefit(),
        contentions: contentions(),
        entry: web_entry(),
        appeal_of: None,
        estimate: Some(estimate(day(2024, 6, 1), day(2024, 8, 1))),
    }
}

pub fn checksum(n: u8) -> Checksum {
    Checksum::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

pub fn attach_document(n: u128, request: Option<RequestId>) -> domain::case::AttachDocument {
    domain::case::AttachDocument {
        id: doc_id(n),
        document_type: DocumentType::parse("MEDICAL_RECORD").unwrap(),
        pages: 3,
        checksum: checksum(n as u8),
        storage_ref: StorageRef::parse(&format!("s3://docs/{n}")).unwrap(),
        received_at: at(2024, 3, 5, 10, 0),
        channel: Channel::MailScan,
        request,
        filed_as: domain::case::DocumentFiling::Evidence,
        on_late: domain::case::LateEvidence::default(),
    }
}

pub fn document_of(cmd: &domain::case::AttachDocument) -> Document {
    Document {
        id: cmd.id,
        document_type: cmd.document_type.clone(),
        pages: cmd.pages,
        checksum: cmd.checksum.clone(),
        storage_ref: cmd.storage_ref.clone(),
        received_at: cmd.received_at,
        channel: cmd.channel.clone(),
    }
}

/// An ordinary evidence request due on `due`.
pub fn evidence_request(n: u128, from_claimant: bool, due: NaiveDate) -> NewEvidenceRequest {
    NewEvidenceRequest {
        id: req_id(n),
        kind: RequestKind::Standard,
        description: text("Service treatment records"),
        needed_from_claimant: from_claimant,
        suspense_date: due,
        suppressed: false,
    }
}

pub fn notice_5103(n: u128) -> NewEvidenceRequest {
    NewEvidenceRequest {
        id: req_id(n),
        kind: RequestKind::Notice5103,
        description: text("Evidence notice (5103)"),
        needed_from_claimant: true,
        suspense_date: day(2024, 4, 30),
        suppressed: false,
    }
}

pub fn new_contact(n: u128) -> NewContact {
    NewContact {
        id: contact_id(n),
        kind: ContactKind::Inbound,
        channel: Channel::CallCenter,
        reason: Some(text("Status enquiry")),
        summary: text("Caller asked how long the claim will take"),
        follow_up: None,
        occurred_at: at(2024, 3, 9, 15, 30),
    }
}

// ---------------------------------------------------------------- events

/// The standard claim as submitted (without its estimate event).
pub fn claim_submitted() -> CaseEvent {
    CaseEvent::ClaimSubmitted {
        case_id: the_case(),
        claimant: claimant_id(1),
        benefit: benefit(),
        contentions: contentions(),
        entry: recorded(&web_entry(), at(2024, 3, 1, 9, 5), None),
        appeal_of: None,
    }
}

pub fn phase_changed(from: Phase, to: Phase) -> CaseEvent {
    CaseEvent::PhaseChanged {
        from,
        to,
        back: to < from,
        reason: (to < from).then(|| text("New evidence arrived")),
    }
}

pub fn requested(request: NewEvidenceRequest) -> CaseEvent {
    CaseEvent::EvidenceRequested { request }
}

pub fn status_changed(request: RequestId, from: RequestStatus, to: RequestStatus) -> CaseEvent {
    CaseEvent::EvidenceStatusChanged {
        request,
        from,
        to,
        reason: None,
    }
}

/// A request closed without an answer, with the reason.
pub fn closed_because(request: RequestId, from: RequestStatus, reason: &str) -> CaseEvent {
    CaseEvent::EvidenceStatusChanged {
        request,
        from,
        to: RequestStatus::NoLongerRequired,
        reason: Some(text(reason)),
    }
}

pub fn proposed(by: &str, adjudications: Vec<(ContentionId, Adjudication)>) -> CaseEvent {
    CaseEvent::DecisionProposed {
        adjudications,
        proposer: actor_id(by),
    }
}

pub fn grant_both() -> Vec<(ContentionId, Adjudication)> {
    vec![(c1(), Adjudication::Granted), (c2(), Adjudication::Granted)]
}

pub fn grant_one_deny_other() -> Vec<(ContentionId, Adjudication)> {
    vec![(c1(), Adjudication::Granted), (c2(), Adjudication::Denied)]
}

// ---------------------------------------------------------------- histories

/// A submitted claim in `CLAIM_RECEIVED`.
pub fn received() -> Vec<CaseEvent> {
    vec![claim_submitted()]
}

/// A submitted claim moved forward (one phase at a time) to `phase`, which
/// must be manually reachable.
pub fn in_phase(phase: Phase) -> Vec<CaseEvent> {
    let mut events = received();
    let mut from = Phase::ClaimReceived;
    for to in Phase::ALL {
        if to > from && to <= phase {
            events.push(phase_changed(from, to));
            from = to;
        }
    }
    events
}

/// A decision proposed by `CASEWORKER`, awaiting approval.
pub fn pending_approval(adjudications: Vec<(ContentionId, Adjudication)>) -> Vec<CaseEvent> {
    let mut events = in_phase(Phase::PreparationForDecision);
    events.push(proposed(CASEWORKER, adjudications));
    events.push(phase_changed(
        Phase::PreparationForDecision,
        Phase::PendingDecisionApproval,
    ));
    events
}

/// A decision proposed by `CASEWORKER` and approved by `APPROVER`.
pub fn approved(adjudications: Vec<(ContentionId, Adjudication)>) -> Vec<CaseEvent> {
    let outcome = ClaimOutcome::of(adjudications.iter().map(|(_, a)| *a));
    let mut events = pending_approval(adjudications);
    events.push(CaseEvent::DecisionApproved {
        approver: actor_id(APPROVER),
        outcome,
    });
    events.push(phase_changed(
        Phase::PendingDecisionApproval,
        Phase::PreparationForNotification,
    ));
    events
}

/// A decided case whose letter was mailed: `COMPLETE`.
pub fn complete(adjudications: Vec<(ContentionId, Adjudication)>) -> Vec<CaseEvent> {
    let mut events = approved(adjudications);
    events.push(CaseEvent::DecisionLetterMailed {
        mailed_at: at(2024, 3, 8, 8, 0),
    });
    events.push(phase_changed(
        Phase::PreparationForNotification,
        Phase::Complete,
    ));
    events
}

pub fn withdrawn() -> Vec<CaseEvent> {
    let mut events = in_phase(Phase::GatheringOfEvidence);
    events.push(CaseEvent::CaseWithdrawn {
        reason: Some(text("Claimant withdrew by phone")),
    });
    events
}

pub fn merged() -> Vec<CaseEvent> {
    let mut events = received();
    events.push(CaseEvent::CaseMerged {
        survivor: case_id(2),
    });
    events
}

/// Appends `more` to `events`.
pub fn with(
    mut events: Vec<CaseEvent>,
    more: impl IntoIterator<Item = CaseEvent>,
) -> Vec<CaseEvent> {
    events.extend(more);
    events
}

/// One command of every `CaseCommand` variant (21), with plausible values.
pub fn one_of_each_command() -> Vec<CaseCommand> {
    use CaseCommand as C;
    vec![
        C::SubmitClaim(submit_claim()),
        C::AttachChannelEntry(new_entry(
            2,
            Channel::MailScan,
            "scan-2",
            at(2024, 3, 2, 0, 0),
        )),
        C::AttachDocument(attach_document(1, None)),
        C::LinkDocument {
            document: doc_id(1),
            request: req_id(1),
        },
        C::RequestEvidence(evidence_request(1, true, day(2024, 4, 1))),
        C::SubmitWaiver5103 {
            received_at: at(2024, 3, 9, 0, 0),
        },
        C::ReviewEvidence {
            request: req_id(1),
            to: RequestStatus::Accepted,
            reason: None,
        },
        C::ChangePhase {
            to: Phase::UnderReview,
            reason: None,
            estimate: None,
        },
        C::Assign {
            assignee: actor_id(CASEWORKER),
            reassign: false,
        },
        C::Unassign,
        C::RouteToTeam {
            team: team("intake-east"),
        },
        C::RecordContact(new_contact(1)),
        C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: Vec::new(),
        },
        C::ApproveDecision,
        C::ReturnDecision {
            reason: text("Needs a fresh exam"),
        },
        C::MailDecisionLetter {
            mailed_at: at(2024, 3, 9, 0, 0),
        },
        C::Withdraw { reason: None },
        C::MergeInto {
            survivor: case_id(2),
        },
        C::MarkRequestOverdue { request: req_id(1) },
        C::FileAppeal {
            contention: c1(),
            appeal_case: case_id(3),
        },
        C::ConcludeAppeal {
            appeal_case: case_id(3),
        },
    ]
}
