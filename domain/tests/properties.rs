//! Properties of the Case decider over random command sequences.
//!
//! Commands are drawn against a small pool of ids (four requests, four
//! documents, two real contentions and one unknown, three actors, a few
//! instants) so that sequences collide often: duplicates, refusals, the
//! decision flow with and without four eyes, closing, appeals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use domain::case::*;
use domain::status::{CitizenStatus, RequestStatus};
use domain::*;
use proptest::prelude::*;
use std::collections::HashMap;
use support::*;

use CaseCommand as C;
use CaseEvent as E;

// ================================================================= generator

const ACTORS: [&str; 3] = [CASEWORKER, OTHER_CASEWORKER, APPROVER];

fn instants() -> [chrono::DateTime<chrono::Utc>; 3] {
    [
        at(2024, 3, 10, 12, 0),
        at(2024, 3, 25, 12, 0),
        at(2024, 5, 1, 8, 0),
    ]
}

fn received_times() -> [chrono::DateTime<chrono::Utc>; 4] {
    [
        at(2024, 2, 20, 0, 0),
        first_received(),
        at(2024, 3, 5, 16, 0),
        at(2024, 2, 28, 23, 59),
    ]
}

fn due_dates() -> [chrono::NaiveDate; 3] {
    [day(2024, 3, 5), day(2024, 3, 20), day(2024, 4, 15)]
}

fn channel(i: u8) -> Channel {
    match i % 4 {
        0 => Channel::Web,
        1 => Channel::MailScan,
        2 => Channel::InPerson,
        _ => Channel::CallCenter,
    }
}

fn adjudication(bit: bool) -> Adjudication {
    if bit {
        Adjudication::Granted
    } else {
        Adjudication::Denied
    }
}

/// True for one value in `n` (a deterministic coin with odds 1/n).
fn one_in(x: u8, n: u8) -> bool {
    x % n < 1
}

/// Builds one command from a weighted kind (0..100) and four parameters.
fn command(kind: u8, a: u8, b: u8, c: u8, d: u8) -> CaseCommand {
    let req = |x: u8| req_id(u128::from(x % 4) + 1);
    let doc = |x: u8| doc_id(u128::from(x % 4) + 1);
    match kind {
        0..=1 => {
            let mut submit = submit_claim();
            match a % 8 {
                0 => submit.contentions.clear(),
                1 => submit.contentions.push(contentions()[0].clone()),
                _ => {}
            }
            if one_in(b, 2) {
                submit.estimate = None;
            }
            submit.entry.received_at = received_times()[usize::from(c % 4)];
            C::SubmitClaim(submit)
        }
        2..=6 => C::AttachChannelEntry(new_entry(
            u128::from(a % 6) + 2,
            channel(b),
            ["web-1", "x-2", "x-3"][usize::from(c % 3)],
            received_times()[usize::from(d % 4)],
        )),
        7..=11 => {
            let mut document =
                attach_document(u128::from(a % 4) + 1, (!one_in(b, 5)).then(|| req(b)));
            if one_in(c, 4) {
                document.filed_as = DocumentFiling::WithSubmission;
            }
            document.on_late = match d % 3 {
                0 => LateEvidence::WorkItem,
                1 => LateEvidence::PhaseBack { estimate: None },
                _ => LateEvidence::PhaseBack {
                    estimate: Some(estimate(day(2024, 7, 1), day(2024, 9, 1))),
                },
            };
            C::AttachDocument(document)
        }
        12..=13 => C::LinkDocument {
            document: doc(a),
            request: req(b),
        },
        14 => C::MarkDocumentNeedsNoLink {
            document: doc(a),
            reason: text("Not evidence for this claim"),
        },
        15 => C::AcknowledgeLateEvidence { document: doc(a) },
        16..=22 => {
            let mut request = evidence_request(
                u128::from(a % 4) + 1,
                one_in(c, 2),
                due_dates()[usize::from(d % 3)],
            );
            if one_in(b, 3) {
                request.kind = RequestKind::Notice5103;
            }
            C::RequestEvidence(request)
        }
        23..=24 => C::SubmitWaiver5103 {
            received_at: at(2024, 3, 9, 0, 0),
        },
        25..=30 => C::ReviewEvidence {
            request: req(a),
            to: RequestStatus::ALL[usize::from(b % 6)],
            reason: one_in(c, 3).then(|| text("Not needed for this decision")),
        },
        31..=37 => C::MarkRequestOverdue { request: req(a) },
        38..=47 => C::ChangePhase {
            to: if one_in(b, 2) {
                Phase::PreparationForDecision
            } else {
                Phase::ALL[usize::from(a % 8)]
            },
            reason: one_in(c, 2).then(|| text("New evidence")),
            estimate: match d % 3 {
                0 => None,
                1 => Some(estimate(day(2024, 6, 1), day(2024, 8, 1))),
                _ => Some(estimate(day(2024, 7, 1), day(2024, 9, 1))),
            },
        },
        48..=50 => C::Assign {
            assignee: actor_id(ACTORS[usize::from(a % 3)]),
            reassign: one_in(b, 2),
        },
        51..=52 => C::Unassign,
        53..=54 => C::RouteToTeam {
            team: team(["intake-east", "appeals-west"][usize::from(a % 2)]),
        },
        55..=57 => C::RecordContact(new_contact(u128::from(a % 4))),
        58..=66 => {
            let mut adjudications = vec![
                (c1(), adjudication(b & 1 == 0)),
                (c2(), adjudication(b & 2 == 0)),
            ];
            if one_in(c, 2) {
                adjudications.reverse();
            }
            match a % 10 {
                7 => {
                    adjudications.pop();
                }
                8 => adjudications[0].1 = Adjudication::Pending,
                9 if one_in(d, 2) => adjudications.push((contention_id(3), Adjudication::Denied)),
                9 => adjudications.push(adjudications[0]),
                _ => {}
            }
            // An empty list; `simulate` fills it with the open requests
            // when the step says so (a caseworker closing what is open).
            C::ProposeDecision {
                adjudications,
                close_requests: if one_in(d, 4) {
                    vec![(req(c), text("Not needed for this decision"))]
                } else {
                    Vec::new()
                },
            }
        }
        67..=75 => C::ApproveDecision,
        76..=77 => C::ReturnDecision {
            reason: text("Needs another look"),
        },
        78..=86 => C::MailDecisionLetter {
            mailed_at: at(2024, 3, 9, 0, 0),
        },
        87 => C::Withdraw {
            reason: one_in(a, 2).then(|| text("No longer needed")),
        },
        88 => C::MergeInto {
            survivor: case_id(u128::from(a % 2) + 1),
        },
        89..=96 => C::FileAppeal {
            contention: contention_id(u128::from(a % 3) + 1),
            appeal_case: case_id(u128::from(b % 2) + 3),
        },
        _ => C::ConcludeAppeal {
            appeal_case: case_id(u128::from(a % 2) + 3),
        },
    }
}

#[derive(Clone, Debug)]
struct Step {
    command: CaseCommand,
    ctx: Ctx,
    /// A proposal closes every request open at the time, with a reason.
    close_open: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..100,
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        0usize..3,
        0usize..3,
        proptest::bool::weighted(0.6),
    )
        .prop_map(|(kind, a, b, c, d, actor, now, close_open)| Step {
            command: command(kind, a, b, c, d),
            ctx: Ctx {
                now: instants()[now],
                actor: actor_id(ACTORS[actor]),
            },
            close_open,
        })
}

/// Mostly starts with a valid submission; sometimes does not, so commands
/// also meet a case that does not exist.
fn sequence() -> impl Strategy<Value = Vec<Step>> {
    (
        proptest::bool::weighted(0.9),
        0usize..3,
        prop::collection::vec(step(), 0..64),
    )
        .prop_map(|(submit_first, actor, mut steps)| {
            if submit_first {
                steps.insert(
                    0,
                    Step {
                        command: C::SubmitClaim(submit_claim()),
                        ctx: Ctx {
                            now: now(),
                            actor: actor_id(ACTORS[actor]),
                        },
                        close_open: false,
                    },
                );
            }
            steps
        })
}

// ================================================================= simulator

/// One decided step.
struct Decided {
    before: Case,
    command: CaseCommand,
    result: Result<Vec<CaseEvent>, DomainError>,
    after: Case,
}

/// An in-memory stream that appends with an expected version, as the store
/// does, and numbers events from 1.
#[derive(Default)]
struct Stream {
    events: Vec<(u64, CaseEvent)>,
}

impl Stream {
    fn version(&self) -> u64 {
        self.events.len() as u64
    }

    fn append(&mut self, expected: u64, events: &[CaseEvent]) -> Result<u64, String> {
        if expected != self.version() {
            return Err(format!(
                "VERSION_CONFLICT: expected {expected}, at {}",
                self.version()
            ));
        }
        for e in events {
            let next = self.version() + 1;
            self.events.push((next, e.clone()));
        }
        Ok(self.version())
    }

    fn history(&self) -> Vec<CaseEvent> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }
}

struct Run {
    steps: Vec<Decided>,
    stream: Stream,
    /// The state evolved one event at a time, as a live aggregate is.
    state: Case,
}

fn simulate(steps: &[Step]) -> Run {
    let mut state = Case::Nonexistent;
    let mut stream = Stream::default();
    let mut decided = Vec::new();
    for step in steps {
        let before = state.clone();
        let mut command = step.command.clone();
        if let (C::ProposeDecision { close_requests, .. }, true, Some(file)) =
            (&mut command, step.close_open, before.file())
        {
            *close_requests = file
                .requests
                .iter()
                .filter(|r| !r.status.is_terminal())
                .map(|r| (r.id, text("Not needed for this decision")))
                .collect();
        }
        let result = before.decide(&command, &step.ctx);
        if let Ok(events) = &result {
            let expected = stream.version();
            stream.append(expected, events).unwrap();
            for e in events {
                state = state.evolve(e);
            }
        }
        decided.push(Decided {
            before,
            command,
            result,
            after: state.clone(),
        });
    }
    Run {
        steps: decided,
        stream,
        state,
    }
}

fn is_closed(case: &Case) -> bool {
    case.file().is_some_and(|f| f.closed.is_some())
}

/// The citizen status table, written out independently of `Phase`.
fn expected_citizen_status(file: &CaseFile) -> CitizenStatus {
    if file.closed.is_some() {
        return CitizenStatus::Closed;
    }
    match file.phase.number() {
        1 => CitizenStatus::Received,
        2 => CitizenStatus::InitialReview,
        3..=6 => CitizenStatus::EvidenceGatheringReviewDecision,
        7 => CitizenStatus::PreparationForNotification,
        _ => CitizenStatus::Complete,
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ================================================================ properties

proptest! {
    #![proptest_config(config())]

    /// (a) The fold is deterministic, and so is `decide`.
    #[test]
    fn the_fold_is_deterministic(steps in sequence()) {
        let run = simulate(&steps);
        let history = run.stream.history();
        prop_assert_eq!(Case::replay(&history), Case::replay(&history));
        for (i, step) in steps.iter().enumerate() {
            let d = &run.steps[i];
            prop_assert_eq!(&d.before.decide(&d.command, &step.ctx), &d.result);
        }
    }

    /// (b) Replaying the whole history from scratch gives the state that was
    /// evolved incrementally, after every step (so snapshots + tail agree).
    #[test]
    fn replay_equals_incremental_evolution(steps in sequence()) {
        let run = simulate(&steps);
        let history = run.stream.history();
        prop_assert_eq!(&Case::replay(&history), &run.state);
        let mut at = 0;
        for d in &run.steps {
            if let Ok(events) = &d.result {
                at += events.len();
            }
            // A snapshot after any prefix, plus the tail, is the full state.
            let snapshot = Case::replay(&history[..at]);
            prop_assert_eq!(&snapshot, &d.after);
            let resumed = history[at..].iter().fold(snapshot, Case::evolve);
            prop_assert_eq!(&resumed, &run.state);
        }
    }

    /// (c) Stream versions are gapless: the events stored are exactly those
    /// the accepted commands produced, numbered 1..=n, and nothing but a
    /// SubmitClaim is accepted on a case that does not exist.
    #[test]
    fn stream_versions_are_gapless(steps in sequence()) {
        let run = simulate(&steps);
        let produced: usize = run
            .steps
            .iter()
            .filter_map(|d| d.result.as_ref().ok())
            .map(Vec::len)
            .sum();
        prop_assert_eq!(run.stream.events.len(), produced);
        for (i, (version, _)) in run.stream.events.iter().enumerate() {
            prop_assert_eq!(*version, i as u64 + 1);
        }
        for d in &run.steps {
            if d.before == Case::Nonexistent {
                match (&d.command, &d.result) {
                    (C::SubmitClaim(_), Ok(events)) => {
                        let first = events.first();
                        prop_assert!(
                            matches!(first, Some(E::ClaimSubmitted { .. })),
                            "first event {:?}",
                            first
                        );
                        prop_assert!(d.after.file().is_some());
                    }
                    (C::SubmitClaim(_), Err(_)) => {}
                    (other, result) => prop_assert_eq!(
                        result.as_ref().map_err(|e| e.code().as_str()),
                        Err("CLAIM_NOT_FOUND"),
                        "{} on a missing case", other.name()
                    ),
                }
            } else {
                let first = d.result.as_ref().map(|e| e.first());
                prop_assert!(
                    !matches!(first, Ok(Some(E::ClaimSubmitted { .. }))),
                    "second submission {:?}",
                    first
                );
            }
        }
    }

    /// (d) Once closed (withdrawn or merged), a case stays closed and refuses
    /// every command with CASE_CLOSED except RecordContact and
    /// ConcludeAppeal (and SubmitClaim, which meets an existing stream).
    #[test]
    fn a_closed_case_refuses_all_but_contacts(steps in sequence()) {
        let run = simulate(&steps);
        let mut was_closed = false;
        for d in &run.steps {
            if was_closed {
                prop_assert!(is_closed(&d.after), "a closed case reopened");
            }
            was_closed = is_closed(&d.after);
            if !is_closed(&d.before) {
                continue;
            }
            let code = d.result.as_ref().map_err(|e| e.code().as_str());
            match &d.command {
                C::RecordContact(_) => prop_assert!(code.is_ok()),
                C::ConcludeAppeal { .. } => prop_assert_ne!(code, Err("CASE_CLOSED")),
                C::SubmitClaim(_) => prop_assert_eq!(code, Err("CLAIM_ALREADY_EXISTS")),
                other => prop_assert_eq!(code, Err("CASE_CLOSED"), "{}", other.name()),
            }
        }
    }

    /// (d2) No ended case (complete, withdrawn, merged) has an open
    /// evidence request, and no decision is proposed over one: ending
    /// closes each as NO_LONGER_REQUIRED with the end as its reason.
    #[test]
    fn no_ended_case_has_an_open_request(steps in sequence()) {
        let run = simulate(&steps);
        for d in &run.steps {
            let Some(file) = d.after.file() else { continue };
            let ended = file.closed.is_some() || file.phase == Phase::Complete;
            if ended {
                for r in &file.requests {
                    prop_assert!(r.status.is_terminal(), "{:?} open on an ended case", r.status);
                }
            }
            if let (C::ProposeDecision { .. }, Ok(_)) = (&d.command, &d.result) {
                prop_assert!(file.requests.iter().all(|r| r.status.is_terminal()));
            }
            // Every request the end closed says why.
            if let Ok(events) = &d.result {
                if events.iter().any(CaseEvent::ends_case) {
                    for e in events {
                        if let E::EvidenceStatusChanged { to, reason, .. } = e {
                            prop_assert_eq!(*to, RequestStatus::NoLongerRequired);
                            prop_assert!(reason.is_some());
                        }
                    }
                }
            }
        }
    }

    /// (e) The claim date is always the earliest receivedAt of the entries.
    #[test]
    fn the_claim_date_is_the_earliest_receipt(steps in sequence()) {
        let run = simulate(&steps);
        for d in &run.steps {
            if let Some(file) = d.after.file() {
                let earliest = file.entries.iter().map(|e| e.received_at).min();
                prop_assert_eq!(Some(file.claim_date), earliest);
                // Every later entry is a duplicate of the first.
                let first = file.entries[0].id;
                prop_assert_eq!(file.entries[0].duplicate_of, None);
                for e in &file.entries[1..] {
                    prop_assert_eq!(e.duplicate_of, Some(first));
                }
            }
        }
    }

    /// (f) The citizen status is the phase's, folded, unless the case is
    /// closed: then CLOSED.
    #[test]
    fn citizen_status_follows_phase_unless_closed(steps in sequence()) {
        let run = simulate(&steps);
        for d in &run.steps {
            if let Some(file) = d.after.file() {
                prop_assert_eq!(file.citizen_status(), expected_citizen_status(file));
                if file.closed.is_none() {
                    prop_assert_eq!(file.citizen_status(), file.phase.citizen_status());
                }
            }
        }
    }

    /// Every event `decide` produces fits the state it is applied to.
    #[test]
    fn produced_events_fit_the_state(steps in sequence()) {
        let run = simulate(&steps);
        for d in &run.steps {
            let Ok(events) = &d.result else { continue };
            let mut state = d.before.clone();
            for e in events {
                if let Some(file) = state.file() {
                    match e {
                        E::PhaseChanged { from, to, back, reason } => {
                            prop_assert_eq!(*from, file.phase);
                            prop_assert_ne!(from, to);
                            prop_assert_eq!(*back, to < from);
                            if *back {
                                prop_assert!(reason.is_some(), "moving back needs a reason");
                            }
                        }
                        E::EvidenceStatusChanged { request, from, to, .. } => {
                            let r = file.requests.iter().find(|r| r.id == *request);
                            prop_assert_eq!(r.map(|r| r.status), Some(*from));
                            prop_assert!(from.can_move_to(*to), "{:?} -> {:?}", from, to);
                        }
                        E::ClaimDateChanged { from, to, .. } => {
                            prop_assert_eq!(*from, file.claim_date);
                            prop_assert!(to < from);
                        }
                        E::DecisionApproved { approver, .. } => {
                            let proposer = &file.decision.as_ref().unwrap().proposer;
                            prop_assert_ne!(approver, proposer, "four eyes");
                        }
                        _ => {}
                    }
                }
                state = state.evolve(e);
            }
            prop_assert_eq!(&state, &d.after);
        }
    }

    /// Invariants of every reachable state.
    #[test]
    fn reachable_states_are_consistent(steps in sequence()) {
        let run = simulate(&steps);
        let history = run.stream.history();
        // Exactly one reminder per request, ever.
        let mut reminders: HashMap<RequestId, usize> = HashMap::new();
        for e in &history {
            if let E::ReminderIssued { request } = e {
                *reminders.entry(*request).or_default() += 1;
            }
        }
        prop_assert!(reminders.values().all(|n| *n == 1), "{:?}", reminders);

        for d in &run.steps {
            let Some(file) = d.after.file() else { continue };
            // A decision exists exactly in the decision phases, in step.
            let expected = match file.phase {
                Phase::PendingDecisionApproval => Some(DecisionStatus::Proposed),
                Phase::PreparationForNotification => Some(DecisionStatus::Approved),
                Phase::Complete => Some(DecisionStatus::Notified),
                _ => None,
            };
            prop_assert_eq!(file.decision.as_ref().map(|d| d.status), expected);
            if let Some(decision) = &file.decision {
                prop_assert_eq!(decision.adjudications.len(), file.contentions.len());
                prop_assert!(decision
                    .adjudications
                    .iter()
                    .all(|(_, a)| *a != Adjudication::Pending));
                prop_assert_ne!(Some(&decision.proposer), decision.approver.as_ref());
            }
            // At most one open 5103 notice; none once waived.
            let open_notices = file
                .requests
                .iter()
                .filter(|r| r.kind == RequestKind::Notice5103 && !r.status.is_terminal())
                .count();
            prop_assert!(open_notices <= 1);
            if file.waiver_5103 {
                prop_assert_eq!(open_notices, 0);
            }
            // Only requests awaiting submission are overdue.
            for r in &file.requests {
                if r.overdue {
                    prop_assert!(r.status.is_awaiting_submission(), "{:?}", r);
                    prop_assert!(r.reminder_sent);
                }
            }
            // Appeals: on complete cases, decided contentions, one each.
            for (i, (c, _)) in file.active_appeals.iter().enumerate() {
                prop_assert_eq!(file.phase, Phase::Complete);
                prop_assert!(file
                    .contentions
                    .iter()
                    .any(|x| x.id == *c && x.adjudication != Adjudication::Pending));
                prop_assert!(!file.active_appeals[..i].iter().any(|(o, _)| o == c));
            }
            // A document waits for a link only while no request has it, and
            // late evidence waits only past evidence gathering.
            for id in &file.unlinked {
                prop_assert!(file.documents.iter().any(|x| x.id == *id));
                prop_assert!(!file.requests.iter().any(|r| r.documents.contains(id)));
            }
            for id in &file.late_evidence {
                prop_assert!(file.documents.iter().any(|x| x.id == *id));
                prop_assert!(file.phase > Phase::GatheringOfEvidence, "{:?}", file.phase);
            }
            // Ids are unique.
            let mut docs: Vec<_> = file.documents.iter().map(|x| x.id).collect();
            docs.sort_unstable();
            docs.dedup();
            prop_assert_eq!(docs.len(), file.documents.len());
            let mut reqs: Vec<_> = file.requests.iter().map(|x| x.id).collect();
            reqs.sort_unstable();
            reqs.dedup();
            prop_assert_eq!(reqs.len(), file.requests.len());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Contentions carry an adjudication only while an approved (or
    /// notified) decision stands.
    #[test]
    fn adjudications_stand_only_with_an_approved_decision(steps in sequence()) {
        let run = simulate(&steps);
        for d in &run.steps {
            let Some(file) = d.after.file() else { continue };
            let approved = file
                .decision
                .as_ref()
                .is_some_and(|x| x.status != DecisionStatus::Proposed);
            if !approved {
                prop_assert!(
                    file.contentions.iter().all(|c| c.adjudication == Adjudication::Pending),
                    "after {}: {:?}", d.command.name(), file.contentions
                );
            }
        }
    }
}

/// The generator reaches the interesting states (a guard against properties
/// that pass only because nothing happens).
#[test]
fn the_generator_reaches_deep_states() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = sequence();
    let (mut approved, mut complete, mut closed, mut appealed, mut reminded) = (0, 0, 0, 0, 0);
    for _ in 0..256 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        let run = simulate(&steps);
        let history = run.stream.history();
        let has = |f: &dyn Fn(&CaseEvent) -> bool| history.iter().any(f);
        approved += usize::from(has(&|e| matches!(e, E::DecisionApproved { .. })));
        complete += usize::from(has(&|e| matches!(e, E::DecisionLetterMailed { .. })));
        closed += usize::from(is_closed(&run.state));
        appealed += usize::from(has(&|e| matches!(e, E::AppealFiled { .. })));
        reminded += usize::from(has(&|e| matches!(e, E::ReminderIssued { .. })));
    }
    assert!(approved >= 10, "approved in {approved} runs");
    assert!(complete >= 5, "complete in {complete} runs");
    assert!(closed >= 10, "closed in {closed} runs");
    assert!(appealed >= 1, "appealed in {appealed} runs");
    assert!(reminded >= 10, "reminded in {reminded} runs");
}

/// The generator reaches what (d2) is about: cases that end while requests
/// are open (so the end closes them) and proposals that close requests.
#[test]
fn the_generator_ends_cases_with_open_requests() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let (mut closed_by_end, mut closed_by_proposal) = (0, 0);
    for _ in 0..512 {
        let steps = sequence().new_tree(&mut runner).unwrap().current();
        for d in simulate(&steps).steps {
            let Ok(events) = &d.result else { continue };
            let closes = events
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        E::EvidenceStatusChanged {
                            to: RequestStatus::NoLongerRequired,
                            ..
                        }
                    )
                })
                .count();
            if events.iter().any(CaseEvent::ends_case) {
                closed_by_end += closes;
            } else if matches!(d.command, C::ProposeDecision { .. }) {
                closed_by_proposal += closes;
            }
        }
    }
    assert!(
        closed_by_end >= 10,
        "only {closed_by_end} requests closed by a case ending"
    );
    assert!(
        closed_by_proposal >= 10,
        "only {closed_by_proposal} requests closed by a proposal"
    );
}
