//! Given/when/then tests of the Case decider: every command, every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use domain::case::*;
use domain::status::{CitizenStatus, RequestStatus};
use domain::*;
use support::*;

use CaseCommand as C;
use CaseEvent as E;
use RequestStatus::*;

// ===================================================================== submit

#[test]
fn submit_claim_records_the_entry_and_the_initial_estimate() {
    let then = given_no_case()
        .when(C::SubmitClaim(submit_claim()))
        .then(vec![
            E::ClaimSubmitted {
                case_id: the_case(),
                claimant: claimant_id(1),
                benefit: benefit(),
                contentions: contentions(),
                entry: recorded(&web_entry(), now(), None),
                appeal_of: None,
            },
            E::EstimateChanged {
                estimate: estimate(day(2024, 6, 1), day(2024, 8, 1)),
                reason: EstimateReason::ClaimReceived,
            },
        ]);
    let file = then.file();
    assert_eq!(file.id, the_case());
    assert_eq!(file.phase, Phase::ClaimReceived);
    assert_eq!(file.citizen_status(), CitizenStatus::Received);
    assert_eq!(file.claim_date, first_received());
    assert_eq!(file.entries.len(), 1);
    assert_eq!(file.entries[0].recorded_at, now());
    assert_eq!(file.entries[0].duplicate_of, None);
    assert_eq!(
        file.estimate,
        Some(estimate(day(2024, 6, 1), day(2024, 8, 1)))
    );
    assert!(file
        .contentions
        .iter()
        .all(|c| c.adjudication == Adjudication::Pending));
    assert_eq!(file.decision, None);
    assert_eq!(file.closed, None);
    assert_eq!(file.assignee, None);
}

#[test]
fn submit_claim_without_an_estimate_emits_only_the_submission() {
    let mut submit = submit_claim();
    submit.estimate = None;
    let then = given_no_case()
        .when(C::SubmitClaim(submit))
        .then(vec![E::ClaimSubmitted {
            case_id: the_case(),
            claimant: claimant_id(1),
            benefit: benefit(),
            contentions: contentions(),
            entry: recorded(&web_entry(), now(), None),
            appeal_of: None,
        }]);
    assert_eq!(then.file().estimate, None);
}

#[test]
fn an_appeal_claim_carries_its_link_to_the_original_case() {
    let link = AppealLink {
        original_case: case_id(9),
        contention: contention_id(9),
    };
    let mut submit = submit_claim();
    submit.appeal_of = Some(link);
    let then = given_no_case()
        .when(C::SubmitClaim(submit))
        .result()
        .unwrap();
    assert!(matches!(
        &then[0],
        E::ClaimSubmitted { appeal_of: Some(l), .. } if *l == link
    ));
    let state = Case::replay(&then);
    assert_eq!(state.file().unwrap().appeal_of, Some(link));
}

#[test]
fn submit_claim_needs_a_contention() {
    let mut submit = submit_claim();
    submit.contentions.clear();
    given_no_case()
        .when(C::SubmitClaim(submit))
        .then_err("NO_CONTENTIONS");
}

#[test]
fn submit_claim_refuses_a_repeated_contention() {
    let mut submit = submit_claim();
    submit.contentions.push(NewContention {
        id: c1(),
        description: text("Hearing loss again"),
    });
    given_no_case()
        .when(C::SubmitClaim(submit))
        .then_error(DomainError::DuplicateContention(c1()));
}

#[test]
fn submit_claim_on_an_existing_stream_is_refused() {
    given(received())
        .when(C::SubmitClaim(submit_claim()))
        .then_err("CLAIM_ALREADY_EXISTS");
    // Even when that case is closed: the stream id is taken.
    given(withdrawn())
        .when(C::SubmitClaim(submit_claim()))
        .then_err("CLAIM_ALREADY_EXISTS");
}

#[test]
fn every_other_command_on_a_missing_case_is_claim_not_found() {
    for command in one_of_each_command() {
        if matches!(command, C::SubmitClaim(_)) {
            continue;
        }
        let name = command.name();
        let err = given_no_case().when(command).result().unwrap_err();
        assert_eq!(err.code().as_str(), "CLAIM_NOT_FOUND", "{name}");
    }
}

// ============================================================ channel entries

#[test]
fn a_later_submission_through_another_channel_attaches_as_a_duplicate() {
    let mail = new_entry(2, Channel::MailScan, "scan-77", at(2024, 3, 4, 0, 0));
    let then = given(received())
        .when(C::AttachChannelEntry(mail.clone()))
        .then(vec![E::ChannelEntryAttached {
            entry: recorded(&mail, now(), Some(entry_id(1))),
        }]);
    let file = then.file();
    assert_eq!(file.entries.len(), 2);
    assert_eq!(file.claim_date, first_received(), "claim date unchanged");
}

#[test]
fn an_earlier_received_submission_moves_the_claim_date_back() {
    let postmarked = at(2024, 2, 20, 0, 0);
    let mail = new_entry(2, Channel::MailScan, "scan-77", postmarked);
    let then = given(received())
        .when(C::AttachChannelEntry(mail.clone()))
        .then(vec![
            E::ChannelEntryAttached {
                entry: recorded(&mail, now(), Some(entry_id(1))),
            },
            E::ClaimDateChanged {
                from: first_received(),
                to: postmarked,
                reason: ClaimDateReason::EarlierReceipt(entry_id(2)),
            },
        ]);
    assert_eq!(then.file().claim_date, postmarked);
}

#[test]
fn a_submission_received_at_the_same_instant_keeps_the_claim_date() {
    let same = new_entry(2, Channel::InPerson, "counter-5", first_received());
    given(received())
        .when(C::AttachChannelEntry(same.clone()))
        .then(vec![E::ChannelEntryAttached {
            entry: recorded(&same, now(), Some(entry_id(1))),
        }]);
}

#[test]
fn every_duplicate_points_at_the_first_entry_not_the_previous_one() {
    let second = new_entry(2, Channel::MailScan, "scan-1", at(2024, 2, 25, 0, 0));
    let history = with(
        received(),
        [
            E::ChannelEntryAttached {
                entry: recorded(&second, now(), Some(entry_id(1))),
            },
            E::ClaimDateChanged {
                from: first_received(),
                to: second.received_at,
                reason: ClaimDateReason::EarlierReceipt(entry_id(2)),
            },
        ],
    );
    let third = new_entry(3, Channel::CallCenter, "call-9", at(2024, 2, 28, 0, 0));
    // Received after the current (moved-back) claim date: no date change.
    given(history)
        .when(C::AttachChannelEntry(third.clone()))
        .then(vec![E::ChannelEntryAttached {
            entry: recorded(&third, now(), Some(entry_id(1))),
        }]);
}

#[test]
fn the_same_channel_submission_twice_is_a_duplicate_entry() {
    let again = new_entry(2, Channel::Web, "web-1", at(2024, 3, 2, 0, 0));
    given(received())
        .when(C::AttachChannelEntry(again))
        .then_err("DUPLICATE_CHANNEL_ENTRY");
}

#[test]
fn the_same_external_id_through_another_channel_is_a_new_entry() {
    let other = new_entry(2, Channel::MailScan, "web-1", at(2024, 3, 2, 0, 0));
    given(received())
        .when(C::AttachChannelEntry(other.clone()))
        .then(vec![E::ChannelEntryAttached {
            entry: recorded(&other, now(), Some(entry_id(1))),
        }]);
}

// ================================================================== documents

fn with_request(n: u128, from_claimant: bool) -> Vec<CaseEvent> {
    with(
        in_phase(Phase::GatheringOfEvidence),
        [requested(evidence_request(
            n,
            from_claimant,
            day(2024, 4, 1),
        ))],
    )
}

#[test]
fn an_unlinked_document_is_just_attached() {
    let doc = attach_document(1, None);
    let then = given(received())
        .when(C::AttachDocument(doc.clone()))
        .then(vec![E::DocumentAttached {
            document: document_of(&doc),
            request: None,
            filed_as: DocumentFiling::Evidence,
        }]);
    assert_eq!(then.file().documents, vec![document_of(&doc)]);
}

#[test]
fn a_document_answering_an_awaited_request_puts_it_up_for_review() {
    for from_claimant in [true, false] {
        let status = if from_claimant {
            NeededFromYou
        } else {
            NeededFromOthers
        };
        let doc = attach_document(1, Some(req_id(1)));
        let then = given(with_request(1, from_claimant))
            .when(C::AttachDocument(doc.clone()))
            .then(vec![
                E::DocumentAttached {
                    document: document_of(&doc),
                    request: Some(req_id(1)),
                    filed_as: DocumentFiling::Evidence,
                },
                status_changed(req_id(1), status, SubmittedAwaitingReview),
            ]);
        let request = &then.file().requests[0];
        assert_eq!(request.status, SubmittedAwaitingReview);
        assert_eq!(request.documents, vec![doc_id(1)]);
    }
}

#[test]
fn a_document_for_a_request_already_under_review_changes_no_status() {
    let history = with(
        with_request(1, true),
        [status_changed(
            req_id(1),
            NeededFromYou,
            SubmittedAwaitingReview,
        )],
    );
    let doc = attach_document(2, Some(req_id(1)));
    let then = given(history)
        .when(C::AttachDocument(doc.clone()))
        .then(vec![E::DocumentAttached {
            document: document_of(&doc),
            request: Some(req_id(1)),
            filed_as: DocumentFiling::Evidence,
        }]);
    assert_eq!(then.file().requests[0].documents, vec![doc_id(2)]);
}

#[test]
fn a_document_for_an_unknown_request_is_refused() {
    given(received())
        .when(C::AttachDocument(attach_document(1, Some(req_id(7)))))
        .then_error(DomainError::RequestNotFound(req_id(7)));
}

#[test]
fn the_same_document_twice_is_refused() {
    let doc = attach_document(1, None);
    given(with(
        received(),
        [E::DocumentAttached {
            document: document_of(&doc),
            request: None,
            filed_as: DocumentFiling::Evidence,
        }],
    ))
    .when(C::AttachDocument(doc))
    .then_error(DomainError::DuplicateDocument(doc_id(1)));
}

fn with_unlinked_document(history: Vec<CaseEvent>) -> Vec<CaseEvent> {
    with(
        history,
        [E::DocumentAttached {
            document: document_of(&attach_document(1, None)),
            request: None,
            filed_as: DocumentFiling::Evidence,
        }],
    )
}

#[test]
fn linking_a_document_to_an_awaited_request_puts_it_up_for_review() {
    let then = given(with_unlinked_document(with_request(1, true)))
        .when(C::LinkDocument {
            document: doc_id(1),
            request: req_id(1),
        })
        .then(vec![
            E::DocumentLinked {
                document: doc_id(1),
                request: req_id(1),
            },
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
        ]);
    let request = &then.file().requests[0];
    assert_eq!(request.documents, vec![doc_id(1)]);
    assert_eq!(request.status, SubmittedAwaitingReview);
}

#[test]
fn linking_to_a_request_under_review_only_links() {
    let history = with(
        with_unlinked_document(with_request(1, true)),
        [status_changed(
            req_id(1),
            NeededFromYou,
            SubmittedAwaitingReview,
        )],
    );
    given(history)
        .when(C::LinkDocument {
            document: doc_id(1),
            request: req_id(1),
        })
        .then(vec![E::DocumentLinked {
            document: doc_id(1),
            request: req_id(1),
        }]);
}

#[test]
fn linking_an_already_linked_document_changes_nothing() {
    let history = with(
        with_unlinked_document(with_request(1, true)),
        [
            E::DocumentLinked {
                document: doc_id(1),
                request: req_id(1),
            },
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
        ],
    );
    given(history)
        .when(C::LinkDocument {
            document: doc_id(1),
            request: req_id(1),
        })
        .then_nothing();
}

#[test]
fn linking_needs_a_known_document_and_request() {
    given(with_request(1, true))
        .when(C::LinkDocument {
            document: doc_id(5),
            request: req_id(1),
        })
        .then_error(DomainError::DocumentNotFound(doc_id(5)));
    given(with_unlinked_document(received()))
        .when(C::LinkDocument {
            document: doc_id(1),
            request: req_id(5),
        })
        .then_error(DomainError::RequestNotFound(req_id(5)));
}

// =========================================================== evidence requests

#[test]
fn requesting_evidence_tracks_an_item_needed_from_the_claimant_or_others() {
    for (from_claimant, status) in [(true, NeededFromYou), (false, NeededFromOthers)] {
        let request = evidence_request(1, from_claimant, day(2024, 4, 1));
        let then = given(in_phase(Phase::GatheringOfEvidence))
            .when(C::RequestEvidence(request.clone()))
            .then(vec![requested(request)]);
        let tracked = &then.file().requests[0];
        assert_eq!(tracked.id, req_id(1));
        assert_eq!(tracked.status, status);
        assert_eq!(tracked.suspense_date, day(2024, 4, 1));
        assert!(!tracked.overdue);
        assert!(!tracked.reminder_sent);
        assert!(tracked.documents.is_empty());
    }
}

#[test]
fn a_suppressed_request_stays_suppressed() {
    let mut request = evidence_request(1, false, day(2024, 4, 1));
    request.suppressed = true;
    let then = given(received())
        .when(C::RequestEvidence(request.clone()))
        .then(vec![requested(request)]);
    assert!(then.file().requests[0].suppressed);
}

#[test]
fn a_request_id_is_used_once() {
    given(with_request(1, true))
        .when(C::RequestEvidence(evidence_request(
            1,
            false,
            day(2024, 5, 1),
        )))
        .then_error(DomainError::DuplicateRequest(req_id(1)));
}

#[test]
fn the_5103_notice_is_an_evidence_request() {
    let then = given(received())
        .when(C::RequestEvidence(notice_5103(1)))
        .then(vec![requested(notice_5103(1))]);
    assert_eq!(then.file().requests[0].kind, RequestKind::Notice5103);
}

#[test]
fn a_second_open_5103_notice_is_refused() {
    given(with(received(), [requested(notice_5103(1))]))
        .when(C::RequestEvidence(notice_5103(2)))
        .then_err("DUPLICATE_5103_NOTICE");
    // Still open while under review.
    given(with(
        received(),
        [
            requested(notice_5103(1)),
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
        ],
    ))
    .when(C::RequestEvidence(notice_5103(2)))
    .then_err("DUPLICATE_5103_NOTICE");
}

#[test]
fn a_new_5103_notice_is_allowed_once_the_old_one_is_closed() {
    given(with(
        received(),
        [
            requested(notice_5103(1)),
            status_changed(req_id(1), NeededFromYou, NoLongerRequired),
        ],
    ))
    .when(C::RequestEvidence(notice_5103(2)))
    .then(vec![requested(notice_5103(2))]);
}

#[test]
fn no_5103_notice_after_the_waiver() {
    given(with(
        received(),
        [E::Waiver5103Submitted {
            received_at: at(2024, 3, 5, 0, 0),
        }],
    ))
    .when(C::RequestEvidence(notice_5103(1)))
    .then_err("WAIVER_ALREADY_SUBMITTED");
}

#[test]
fn the_5103_waiver_closes_the_open_notice_only() {
    let history = with(
        received(),
        [
            requested(evidence_request(1, true, day(2024, 4, 1))),
            requested(notice_5103(2)),
        ],
    );
    let then = given(history)
        .when(C::SubmitWaiver5103 {
            received_at: at(2024, 3, 9, 0, 0),
        })
        .then(vec![
            E::Waiver5103Submitted {
                received_at: at(2024, 3, 9, 0, 0),
            },
            closed_because(req_id(2), NeededFromYou, "The 5103 waiver was received."),
        ]);
    let file = then.file();
    assert!(file.waiver_5103);
    assert_eq!(file.requests[0].status, NeededFromYou, "standard item kept");
    assert_eq!(file.requests[1].status, NoLongerRequired);
}

#[test]
fn the_5103_waiver_leaves_closed_notices_alone() {
    let history = with(
        received(),
        [
            requested(notice_5103(1)),
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
            status_changed(req_id(1), SubmittedAwaitingReview, Accepted),
        ],
    );
    given(history)
        .when(C::SubmitWaiver5103 {
            received_at: at(2024, 3, 9, 0, 0),
        })
        .then(vec![E::Waiver5103Submitted {
            received_at: at(2024, 3, 9, 0, 0),
        }]);
}

#[test]
fn the_5103_waiver_closes_a_notice_under_review_too() {
    let history = with(
        received(),
        [
            requested(notice_5103(1)),
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
        ],
    );
    given(history)
        .when(C::SubmitWaiver5103 {
            received_at: at(2024, 3, 9, 0, 0),
        })
        .then(vec![
            E::Waiver5103Submitted {
                received_at: at(2024, 3, 9, 0, 0),
            },
            closed_because(
                req_id(1),
                SubmittedAwaitingReview,
                "The 5103 waiver was received.",
            ),
        ]);
}

#[test]
fn the_5103_waiver_without_a_notice_is_recorded() {
    let then = given(received())
        .when(C::SubmitWaiver5103 {
            received_at: at(2024, 3, 9, 0, 0),
        })
        .then(vec![E::Waiver5103Submitted {
            received_at: at(2024, 3, 9, 0, 0),
        }]);
    assert!(then.file().waiver_5103);
}

#[test]
fn the_5103_waiver_is_submitted_once() {
    given(with(
        received(),
        [E::Waiver5103Submitted {
            received_at: at(2024, 3, 5, 0, 0),
        }],
    ))
    .when(C::SubmitWaiver5103 {
        received_at: at(2024, 3, 9, 0, 0),
    })
    .then_err("WAIVER_ALREADY_SUBMITTED");
}

// ============================================================ evidence review

/// The review state machine, written out independently of `can_move_to`.
fn review_allowed(from: RequestStatus, to: RequestStatus) -> bool {
    matches!(
        (from, to),
        (
            NeededFromYou,
            NeededFromOthers | SubmittedAwaitingReview | NoLongerRequired
        ) | (
            NeededFromOthers,
            NeededFromYou | SubmittedAwaitingReview | NoLongerRequired
        ) | (
            SubmittedAwaitingReview,
            InitialReviewComplete | Accepted | NeededFromYou | NeededFromOthers | NoLongerRequired
        ) | (
            InitialReviewComplete,
            Accepted | NeededFromYou | NeededFromOthers | NoLongerRequired
        )
    )
}

fn request_in(status: RequestStatus) -> Vec<CaseEvent> {
    let mut history = with_request(1, true);
    if status != NeededFromYou {
        history.push(status_changed(req_id(1), NeededFromYou, status));
    }
    history
}

#[test]
fn every_evidence_review_transition_is_allowed_or_refused_as_designed() {
    let mut allowed = 0;
    for from in RequestStatus::ALL {
        for to in RequestStatus::ALL {
            let when = given(request_in(from)).when(C::ReviewEvidence {
                request: req_id(1),
                to,
                reason: None,
            });
            if review_allowed(from, to) {
                allowed += 1;
                let then = when.then(vec![status_changed(req_id(1), from, to)]);
                assert_eq!(then.file().requests[0].status, to);
            } else {
                when.then_error(DomainError::InvalidEvidenceTransition { from, to });
            }
        }
    }
    assert_eq!(allowed, 15, "transitions in the designed state machine");
}

#[test]
fn reviewing_an_unknown_request_is_refused() {
    given(received())
        .when(C::ReviewEvidence {
            request: req_id(3),
            to: Accepted,
            reason: None,
        })
        .then_err("REQUEST_NOT_FOUND");
}

#[test]
fn review_into_a_non_awaiting_status_clears_overdue() {
    let history = with(
        with_request(1, true),
        [
            E::RequestMarkedOverdue {
                request: req_id(1),
                suspense_date: day(2024, 4, 1),
            },
            E::ReminderIssued { request: req_id(1) },
        ],
    );
    let then = given(history.clone())
        .when(C::ReviewEvidence {
            request: req_id(1),
            to: NoLongerRequired,
            reason: None,
        })
        .then(vec![status_changed(
            req_id(1),
            NeededFromYou,
            NoLongerRequired,
        )]);
    assert!(!then.file().requests[0].overdue);
    // Between the two "needed" statuses it stays overdue.
    let then = given(history)
        .when(C::ReviewEvidence {
            request: req_id(1),
            to: NeededFromOthers,
            reason: None,
        })
        .then(vec![status_changed(
            req_id(1),
            NeededFromYou,
            NeededFromOthers,
        )]);
    assert!(then.file().requests[0].overdue);
}

// ==================================================================== overdue

fn due_request() -> Vec<CaseEvent> {
    with(
        in_phase(Phase::GatheringOfEvidence),
        [requested(evidence_request(1, true, day(2024, 3, 5)))],
    )
}

#[test]
fn a_request_past_its_due_date_becomes_overdue_with_one_reminder() {
    let then = given(due_request())
        .when(C::MarkRequestOverdue { request: req_id(1) })
        .then(vec![
            E::RequestMarkedOverdue {
                request: req_id(1),
                suspense_date: day(2024, 3, 5),
            },
            E::ReminderIssued { request: req_id(1) },
        ]);
    let request = &then.file().requests[0];
    assert!(request.overdue);
    assert!(request.reminder_sent);
}

#[test]
fn a_request_is_not_due_on_or_before_its_due_date() {
    // Due today (now is 2024-03-10): not overdue yet.
    given(with(
        received(),
        [requested(evidence_request(1, true, day(2024, 3, 10)))],
    ))
    .when(C::MarkRequestOverdue { request: req_id(1) })
    .then_err("REQUEST_NOT_DUE");
    given(with(
        received(),
        [requested(evidence_request(1, true, day(2024, 4, 1)))],
    ))
    .when(C::MarkRequestOverdue { request: req_id(1) })
    .then_err("REQUEST_NOT_DUE");
    // The day after, it is.
    given(with(
        received(),
        [requested(evidence_request(1, true, day(2024, 3, 10)))],
    ))
    .at(at(2024, 3, 11, 0, 0))
    .when(C::MarkRequestOverdue { request: req_id(1) })
    .then(vec![
        E::RequestMarkedOverdue {
            request: req_id(1),
            suspense_date: day(2024, 3, 10),
        },
        E::ReminderIssued { request: req_id(1) },
    ]);
}

#[test]
fn a_request_no_longer_awaiting_submission_cannot_become_overdue() {
    for status in [
        SubmittedAwaitingReview,
        InitialReviewComplete,
        Accepted,
        NoLongerRequired,
    ] {
        let history = with(
            due_request(),
            [status_changed(req_id(1), NeededFromYou, status)],
        );
        given(history)
            .when(C::MarkRequestOverdue { request: req_id(1) })
            .then_err("REQUEST_NOT_OPEN");
    }
}

#[test]
fn marking_an_overdue_request_again_changes_nothing() {
    let history = with(
        due_request(),
        [
            E::RequestMarkedOverdue {
                request: req_id(1),
                suspense_date: day(2024, 3, 5),
            },
            E::ReminderIssued { request: req_id(1) },
        ],
    );
    given(history)
        .at(at(2024, 4, 1, 0, 0))
        .when(C::MarkRequestOverdue { request: req_id(1) })
        .then_nothing();
}

#[test]
fn a_request_reopened_after_its_reminder_gets_no_second_reminder() {
    // Overdue and reminded; a document arrives (overdue cleared); the review
    // finds it insufficient and asks again.
    let history = with(
        due_request(),
        [
            E::RequestMarkedOverdue {
                request: req_id(1),
                suspense_date: day(2024, 3, 5),
            },
            E::ReminderIssued { request: req_id(1) },
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
            status_changed(req_id(1), SubmittedAwaitingReview, NeededFromYou),
        ],
    );
    given(history)
        .when(C::MarkRequestOverdue { request: req_id(1) })
        .then(vec![E::RequestMarkedOverdue {
            request: req_id(1),
            suspense_date: day(2024, 3, 5),
        }]);
}

#[test]
fn timer_reruns_issue_exactly_one_reminder() {
    let mut history = due_request();
    let mut state = Case::replay(&history);
    let days = [6, 7, 8, 10, 15, 20, 31];
    for d in days {
        let ctx = Ctx {
            now: at(2024, 3, d, 1, 0),
            actor: actor_id("system"),
        };
        // Before the due date the timer is refused; afterwards it is a no-op.
        if let Ok(events) = state.decide(&C::MarkRequestOverdue { request: req_id(1) }, &ctx) {
            for e in &events {
                state = state.evolve(e);
            }
            history.extend(events);
        }
    }
    let reminders = history
        .iter()
        .filter(|e| matches!(e, E::ReminderIssued { .. }))
        .count();
    assert_eq!(reminders, 1);
}

#[test]
fn marking_an_unknown_request_overdue_is_refused() {
    given(received())
        .when(C::MarkRequestOverdue { request: req_id(4) })
        .then_error(DomainError::RequestNotFound(req_id(4)));
}

// ===================================================================== phases

#[test]
fn a_phase_moves_forward_without_a_reason() {
    let then = given(received())
        .when(C::ChangePhase {
            to: Phase::UnderReview,
            reason: None,
            estimate: None,
        })
        .then(vec![E::PhaseChanged {
            from: Phase::ClaimReceived,
            to: Phase::UnderReview,
            back: false,
            reason: None,
        }]);
    assert_eq!(then.file().phase, Phase::UnderReview);
    assert_eq!(then.file().citizen_status(), CitizenStatus::InitialReview);
}

#[test]
fn a_phase_may_skip_ahead_up_to_preparation_for_decision() {
    given(received())
        .when(C::ChangePhase {
            to: Phase::PreparationForDecision,
            reason: None,
            estimate: None,
        })
        .then(vec![E::PhaseChanged {
            from: Phase::ClaimReceived,
            to: Phase::PreparationForDecision,
            back: false,
            reason: None,
        }]);
}

#[test]
fn a_phase_change_carries_a_new_estimate_with_its_reason() {
    let new = estimate(day(2024, 7, 1), day(2024, 9, 1));
    let then = given(received())
        .when(C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: None,
            estimate: Some(new),
        })
        .then(vec![
            phase_changed(Phase::ClaimReceived, Phase::GatheringOfEvidence),
            E::EstimateChanged {
                estimate: new,
                reason: EstimateReason::PhaseChanged(Phase::GatheringOfEvidence),
            },
        ]);
    assert_eq!(then.file().estimate, Some(new));
}

#[test]
fn an_unchanged_estimate_is_not_repeated() {
    let same = estimate(day(2024, 6, 1), day(2024, 8, 1));
    let history = with(
        received(),
        [E::EstimateChanged {
            estimate: same,
            reason: EstimateReason::ClaimReceived,
        }],
    );
    given(history)
        .when(C::ChangePhase {
            to: Phase::UnderReview,
            reason: None,
            estimate: Some(same),
        })
        .then(vec![phase_changed(
            Phase::ClaimReceived,
            Phase::UnderReview,
        )]);
}

#[test]
fn moving_back_needs_a_plain_language_reason() {
    given(in_phase(Phase::PreparationForDecision))
        .when(C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: None,
            estimate: None,
        })
        .then_err("PHASE_BACK_REASON_REQUIRED");
}

#[test]
fn moving_back_records_phase_back_and_the_reason() {
    let new = estimate(day(2024, 8, 1), day(2024, 10, 1));
    let then = given(in_phase(Phase::PreparationForDecision))
        .when(C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: Some(text("New medical evidence")),
            estimate: Some(new),
        })
        .then(vec![
            E::PhaseChanged {
                from: Phase::PreparationForDecision,
                to: Phase::GatheringOfEvidence,
                back: true,
                reason: Some(text("New medical evidence")),
            },
            E::EstimateChanged {
                estimate: new,
                reason: EstimateReason::PhaseMovedBack(Phase::GatheringOfEvidence),
            },
        ]);
    // Phases 3–6 fold into one citizen status: no visible regress.
    assert_eq!(
        then.before.file().unwrap().citizen_status(),
        then.file().citizen_status()
    );
    assert_eq!(
        then.file().citizen_status(),
        CitizenStatus::EvidenceGatheringReviewDecision
    );
}

#[test]
fn a_phase_change_to_the_current_phase_is_refused() {
    given(in_phase(Phase::UnderReview))
        .when(C::ChangePhase {
            to: Phase::UnderReview,
            reason: None,
            estimate: None,
        })
        .then_error(DomainError::InvalidPhaseTransition {
            from: Phase::UnderReview,
            to: Phase::UnderReview,
        });
}

#[test]
fn decision_phases_are_unreachable_by_a_phase_change() {
    for to in [
        Phase::PendingDecisionApproval,
        Phase::PreparationForNotification,
        Phase::Complete,
    ] {
        given(in_phase(Phase::PreparationForDecision))
            .when(C::ChangePhase {
                to,
                reason: Some(text("skip")),
                estimate: None,
            })
            .then_error(DomainError::InvalidPhaseTransition {
                from: Phase::PreparationForDecision,
                to,
            });
    }
    // And not by moving "back" from a later decision phase either.
    given(approved(grant_both()))
        .when(C::ChangePhase {
            to: Phase::PendingDecisionApproval,
            reason: Some(text("re-approve")),
            estimate: None,
        })
        .then_err("INVALID_PHASE_TRANSITION");
}

#[test]
fn moving_back_below_approval_clears_a_pending_decision() {
    let then = given(pending_approval(grant_both()))
        .when(C::ChangePhase {
            to: Phase::PreparationForDecision,
            reason: Some(text("Late evidence")),
            estimate: None,
        })
        .then(vec![E::PhaseChanged {
            from: Phase::PendingDecisionApproval,
            to: Phase::PreparationForDecision,
            back: true,
            reason: Some(text("Late evidence")),
        }]);
    assert_eq!(then.file().decision, None);
    // It can be proposed again.
    let state = then.after.clone();
    let events = state
        .decide(
            &C::ProposeDecision {
                adjudications: grant_both(),
                close_requests: Vec::new(),
            },
            &ctx(),
        )
        .unwrap();
    assert_eq!(events.len(), 2);
}

#[test]
fn moving_back_below_approval_clears_an_approved_decision() {
    let then = given(approved(grant_one_deny_other()))
        .when(C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: Some(text("New service records")),
            estimate: None,
        })
        .then(vec![E::PhaseChanged {
            from: Phase::PreparationForNotification,
            to: Phase::GatheringOfEvidence,
            back: true,
            reason: Some(text("New service records")),
        }]);
    assert_eq!(then.file().decision, None);
    assert_eq!(then.file().phase, Phase::GatheringOfEvidence);
    // The letter can no longer be mailed.
    let state = then.after.clone().evolve(&phase_changed(
        Phase::GatheringOfEvidence,
        Phase::PreparationForDecision,
    ));
    assert_eq!(
        state
            .decide(
                &C::ApproveDecision,
                &Ctx {
                    now: now(),
                    actor: actor_id(APPROVER)
                }
            )
            .unwrap_err()
            .code(),
        ErrorCode::NoPendingDecision
    );
}

#[test]
fn moving_back_below_approval_resets_contention_adjudications() {
    let then = given(approved(grant_one_deny_other()))
        .when(C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: Some(text("New service records")),
            estimate: None,
        })
        .then(vec![E::PhaseChanged {
            from: Phase::PreparationForNotification,
            to: Phase::GatheringOfEvidence,
            back: true,
            reason: Some(text("New service records")),
        }]);
    assert_eq!(then.file().decision, None);
    assert!(
        then.file()
            .contentions
            .iter()
            .all(|c| c.adjudication == Adjudication::Pending),
        "a voided decision must not leave adjudications behind: {:?}",
        then.file().contentions
    );
}

// ================================================================ assignment

#[test]
fn an_unassigned_case_is_assigned() {
    let then = given(received())
        .when(C::Assign {
            assignee: actor_id(CASEWORKER),
            reassign: false,
        })
        .then(vec![E::CaseAssigned {
            assignee: actor_id(CASEWORKER),
            previous: None,
        }]);
    assert_eq!(then.file().assignee, Some(actor_id(CASEWORKER)));
}

fn assigned_to(who: &str) -> Vec<CaseEvent> {
    with(
        received(),
        [E::CaseAssigned {
            assignee: actor_id(who),
            previous: None,
        }],
    )
}

#[test]
fn taking_a_case_someone_else_holds_needs_reassign() {
    given(assigned_to(OTHER_CASEWORKER))
        .when(C::Assign {
            assignee: actor_id(CASEWORKER),
            reassign: false,
        })
        .then_err("ALREADY_ASSIGNED");
}

#[test]
fn reassigning_records_the_previous_assignee() {
    let then = given(assigned_to(OTHER_CASEWORKER))
        .when(C::Assign {
            assignee: actor_id(CASEWORKER),
            reassign: true,
        })
        .then(vec![E::CaseAssigned {
            assignee: actor_id(CASEWORKER),
            previous: Some(actor_id(OTHER_CASEWORKER)),
        }]);
    assert_eq!(then.file().assignee, Some(actor_id(CASEWORKER)));
}

#[test]
fn assigning_the_current_assignee_again_changes_nothing() {
    for reassign in [false, true] {
        given(assigned_to(CASEWORKER))
            .when(C::Assign {
                assignee: actor_id(CASEWORKER),
                reassign,
            })
            .then_nothing();
    }
}

#[test]
fn unassigning_releases_the_case() {
    let then = given(assigned_to(CASEWORKER))
        .when(C::Unassign)
        .then(vec![E::CaseUnassigned {
            previous: actor_id(CASEWORKER),
        }]);
    assert_eq!(then.file().assignee, None);
}

#[test]
fn unassigning_an_unassigned_case_is_refused() {
    given(received()).when(C::Unassign).then_err("NOT_ASSIGNED");
    given(with(
        assigned_to(CASEWORKER),
        [E::CaseUnassigned {
            previous: actor_id(CASEWORKER),
        }],
    ))
    .when(C::Unassign)
    .then_err("NOT_ASSIGNED");
}

#[test]
fn routing_to_a_team_is_recorded_once() {
    let then = given(received())
        .when(C::RouteToTeam {
            team: team("intake-east"),
        })
        .then(vec![E::CaseRoutedToTeam {
            team: team("intake-east"),
        }]);
    assert_eq!(then.file().team, Some(team("intake-east")));
    given(then.history.clone())
        .when(C::RouteToTeam {
            team: team("intake-east"),
        })
        .then_nothing();
    given(then.history)
        .when(C::RouteToTeam {
            team: team("appeals-west"),
        })
        .then(vec![E::CaseRoutedToTeam {
            team: team("appeals-west"),
        }]);
}

// ================================================================== contacts

fn contact_recorded_by(actor: &str, n: u128) -> CaseEvent {
    let c = new_contact(n);
    E::ContactRecorded {
        contact: Contact {
            id: c.id,
            kind: c.kind,
            channel: c.channel,
            agent: actor_id(actor),
            reason: c.reason,
            summary: c.summary,
            follow_up: c.follow_up,
            occurred_at: c.occurred_at,
        },
    }
}

#[test]
fn a_contact_is_recorded_with_the_acting_agent() {
    given(received())
        .by("agent-7")
        .when(C::RecordContact(new_contact(1)))
        .then(vec![contact_recorded_by("agent-7", 1)]);
}

#[test]
fn contacts_are_recorded_on_closed_and_complete_cases() {
    for history in [withdrawn(), merged(), complete(grant_both())] {
        given(history)
            .by("agent-7")
            .when(C::RecordContact(new_contact(2)))
            .then(vec![contact_recorded_by("agent-7", 2)]);
    }
}

// ================================================================== decisions

/// Three requests in three open states, on a case ready for a decision.
fn ready_with_open_requests() -> Vec<CaseEvent> {
    with(
        in_phase(Phase::PreparationForDecision),
        [
            requested(evidence_request(1, true, day(2024, 4, 1))),
            requested(evidence_request(2, false, day(2024, 4, 1))),
            requested(evidence_request(3, true, day(2024, 4, 1))),
            status_changed(req_id(3), NeededFromYou, SubmittedAwaitingReview),
        ],
    )
}

#[test]
fn a_decision_is_not_proposed_over_open_requests() {
    given(ready_with_open_requests())
        .when(C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: Vec::new(),
        })
        .then_error(DomainError::OpenRequests(vec![
            req_id(1),
            req_id(2),
            req_id(3),
        ]));
    // Closing some is not enough: the rest are named.
    given(ready_with_open_requests())
        .when(C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: vec![(req_id(2), text("The records were not needed"))],
        })
        .then_error(DomainError::OpenRequests(vec![req_id(1), req_id(3)]));
}

#[test]
fn a_caseworker_closes_open_requests_with_reasons_when_proposing() {
    let then = given(ready_with_open_requests())
        .when(C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: vec![
                (req_id(3), text("Enough evidence without it")),
                (req_id(1), text("Granted on the records we hold")),
                (req_id(2), text("Granted on the records we hold")),
            ],
        })
        .then(vec![
            closed_because(
                req_id(3),
                SubmittedAwaitingReview,
                "Enough evidence without it",
            ),
            closed_because(req_id(1), NeededFromYou, "Granted on the records we hold"),
            closed_because(
                req_id(2),
                NeededFromOthers,
                "Granted on the records we hold",
            ),
            proposed(CASEWORKER, grant_both()),
            phase_changed(
                Phase::PreparationForDecision,
                Phase::PendingDecisionApproval,
            ),
        ]);
    assert!(then
        .file()
        .requests
        .iter()
        .all(|r| r.status == NoLongerRequired));
}

#[test]
fn closing_an_answered_or_unknown_request_with_a_proposal_is_refused() {
    let history = with(
        ready_with_open_requests(),
        [
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
            status_changed(req_id(1), SubmittedAwaitingReview, Accepted),
        ],
    );
    given(history.clone())
        .when(C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: vec![(req_id(1), text("x"))],
        })
        .then_err("INVALID_EVIDENCE_TRANSITION");
    given(history.clone())
        .when(C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: vec![(req_id(9), text("x"))],
        })
        .then_err("REQUEST_NOT_FOUND");
    given(history)
        .when(C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: vec![(req_id(2), text("x")), (req_id(2), text("y"))],
        })
        .then_err("DUPLICATE_REQUEST");
}

#[test]
fn ending_a_case_closes_every_open_request_with_the_reason() {
    let open = || {
        with(
            in_phase(Phase::GatheringOfEvidence),
            [
                requested(evidence_request(1, true, day(2024, 4, 1))),
                requested(evidence_request(2, false, day(2024, 4, 1))),
                requested(evidence_request(4, true, day(2024, 4, 1))),
                status_changed(req_id(4), NeededFromYou, SubmittedAwaitingReview),
                status_changed(req_id(4), SubmittedAwaitingReview, Accepted),
            ],
        )
    };
    let then = given(open()).when(C::Withdraw { reason: None }).then(vec![
        closed_because(req_id(1), NeededFromYou, "The claim was withdrawn."),
        closed_because(req_id(2), NeededFromOthers, "The claim was withdrawn."),
        E::CaseWithdrawn { reason: None },
    ]);
    assert_eq!(
        then.file().requests[2].status,
        Accepted,
        "answered ones stay"
    );
    given(open())
        .when(C::MergeInto {
            survivor: case_id(2),
        })
        .then(vec![
            closed_because(
                req_id(1),
                NeededFromYou,
                "The claim was merged with another claim of the same kind.",
            ),
            closed_because(
                req_id(2),
                NeededFromOthers,
                "The claim was merged with another claim of the same kind.",
            ),
            E::CaseMerged {
                survivor: case_id(2),
            },
        ]);
    // A request asked for after approval is closed when the letter goes.
    let then = given(with(
        approved(grant_both()),
        [requested(evidence_request(5, true, day(2024, 4, 1)))],
    ))
    .when(C::MailDecisionLetter {
        mailed_at: at(2024, 3, 9, 0, 0),
    })
    .then(vec![
        E::DecisionLetterMailed {
            mailed_at: at(2024, 3, 9, 0, 0),
        },
        closed_because(
            req_id(5),
            NeededFromYou,
            "A decision was made and the decision letter was mailed.",
        ),
        phase_changed(Phase::PreparationForNotification, Phase::Complete),
    ]);
    assert_eq!(then.file().requests[0].status, NoLongerRequired);
}

#[test]
fn the_domain_reasons_are_valid_text() {
    for end in [CaseEnd::Withdrawn, CaseEnd::Merged, CaseEnd::Decided] {
        let reason = end.reason();
        assert_eq!(Text::parse("reason", reason.as_str()).as_ref(), Ok(&reason));
    }
}

#[test]
fn proposing_a_decision_covers_every_contention_in_case_order() {
    let then = given(in_phase(Phase::PreparationForDecision))
        .when(C::ProposeDecision {
            // Given out of order: the event is canonical.
            adjudications: vec![(c2(), Adjudication::Denied), (c1(), Adjudication::Granted)],
            close_requests: Vec::new(),
        })
        .then(vec![
            proposed(CASEWORKER, grant_one_deny_other()),
            phase_changed(
                Phase::PreparationForDecision,
                Phase::PendingDecisionApproval,
            ),
        ]);
    let file = then.file();
    let decision = file.decision.as_ref().unwrap();
    assert_eq!(decision.status, DecisionStatus::Proposed);
    assert_eq!(decision.outcome, ClaimOutcome::Partial);
    assert_eq!(decision.proposer, actor_id(CASEWORKER));
    assert_eq!(decision.approver, None);
    assert_eq!(file.phase, Phase::PendingDecisionApproval);
    assert_eq!(
        file.citizen_status(),
        CitizenStatus::EvidenceGatheringReviewDecision
    );
    assert!(
        file.contentions
            .iter()
            .all(|c| c.adjudication == Adjudication::Pending),
        "adjudications apply only on approval"
    );
}

#[test]
fn a_decision_must_cover_every_contention() {
    for adjudications in [vec![], vec![(c1(), Adjudication::Granted)]] {
        given(in_phase(Phase::PreparationForDecision))
            .when(C::ProposeDecision {
                adjudications,
                close_requests: Vec::new(),
            })
            .then_err("INCOMPLETE_DECISION");
    }
}

#[test]
fn a_decision_may_not_leave_a_contention_pending() {
    given(in_phase(Phase::PreparationForDecision))
        .when(C::ProposeDecision {
            adjudications: vec![(c1(), Adjudication::Granted), (c2(), Adjudication::Pending)],
            close_requests: Vec::new(),
        })
        .then_err("INCOMPLETE_DECISION");
}

#[test]
fn a_decision_on_an_unknown_contention_is_refused() {
    given(in_phase(Phase::PreparationForDecision))
        .when(C::ProposeDecision {
            adjudications: vec![
                (c1(), Adjudication::Granted),
                (c2(), Adjudication::Granted),
                (contention_id(9), Adjudication::Denied),
            ],
            close_requests: Vec::new(),
        })
        .then_error(DomainError::ContentionNotFound(contention_id(9)));
}

#[test]
fn a_decision_naming_a_contention_twice_is_refused() {
    given(in_phase(Phase::PreparationForDecision))
        .when(C::ProposeDecision {
            adjudications: vec![
                (c1(), Adjudication::Granted),
                (c1(), Adjudication::Denied),
                (c2(), Adjudication::Granted),
            ],
            close_requests: Vec::new(),
        })
        .then_error(DomainError::DuplicateContention(c1()));
    // Even when the count matches the number of contentions.
    given(in_phase(Phase::PreparationForDecision))
        .when(C::ProposeDecision {
            adjudications: vec![(c1(), Adjudication::Granted), (c1(), Adjudication::Denied)],
            close_requests: Vec::new(),
        })
        .then_error(DomainError::DuplicateContention(c1()));
}

#[test]
fn a_decision_is_proposed_only_in_preparation_for_decision() {
    for history in [
        received(),
        in_phase(Phase::ReviewOfEvidence),
        pending_approval(grant_both()),
        approved(grant_both()),
    ] {
        let from = Case::replay(&history).file().unwrap().phase;
        given(history)
            .when(C::ProposeDecision {
                adjudications: grant_both(),
                close_requests: Vec::new(),
            })
            .then_error(DomainError::InvalidPhaseTransition {
                from,
                to: Phase::PendingDecisionApproval,
            });
    }
}

#[test]
fn another_person_approves_the_decision() {
    let then = given(pending_approval(grant_one_deny_other()))
        .by(APPROVER)
        .when(C::ApproveDecision)
        .then(vec![
            E::DecisionApproved {
                approver: actor_id(APPROVER),
                outcome: ClaimOutcome::Partial,
            },
            phase_changed(
                Phase::PendingDecisionApproval,
                Phase::PreparationForNotification,
            ),
        ]);
    let file = then.file();
    let decision = file.decision.as_ref().unwrap();
    assert_eq!(decision.status, DecisionStatus::Approved);
    assert_eq!(decision.approver, Some(actor_id(APPROVER)));
    assert_eq!(
        file.contentions
            .iter()
            .map(|c| (c.id, c.adjudication))
            .collect::<Vec<_>>(),
        grant_one_deny_other()
    );
    assert_eq!(
        file.citizen_status(),
        CitizenStatus::PreparationForNotification
    );
}

#[test]
fn the_claim_level_outcome_follows_the_adjudications() {
    for (adjudications, outcome) in [
        (grant_both(), ClaimOutcome::Approved),
        (grant_one_deny_other(), ClaimOutcome::Partial),
        (
            vec![(c1(), Adjudication::Denied), (c2(), Adjudication::Denied)],
            ClaimOutcome::Denied,
        ),
    ] {
        let events = given(pending_approval(adjudications))
            .by(APPROVER)
            .when(C::ApproveDecision)
            .result()
            .unwrap();
        assert_eq!(
            events[0],
            E::DecisionApproved {
                approver: actor_id(APPROVER),
                outcome
            }
        );
    }
}

#[test]
fn the_proposer_may_not_approve_their_own_decision() {
    given(pending_approval(grant_both()))
        .by(CASEWORKER)
        .when(C::ApproveDecision)
        .then_err("FOUR_EYES_VIOLATION");
}

#[test]
fn approving_needs_a_decision_awaiting_approval() {
    for history in [
        in_phase(Phase::PreparationForDecision),
        approved(grant_both()),
    ] {
        given(history)
            .by(APPROVER)
            .when(C::ApproveDecision)
            .then_err("NO_PENDING_DECISION");
    }
}

#[test]
fn a_returned_decision_goes_back_to_preparation_with_the_reason() {
    let then = given(pending_approval(grant_both()))
        .by(APPROVER)
        .when(C::ReturnDecision {
            reason: text("Tinnitus evidence not weighed"),
        })
        .then(vec![
            E::DecisionReturned {
                approver: actor_id(APPROVER),
                reason: text("Tinnitus evidence not weighed"),
            },
            E::PhaseChanged {
                from: Phase::PendingDecisionApproval,
                to: Phase::PreparationForDecision,
                back: true,
                reason: Some(text("Tinnitus evidence not weighed")),
            },
        ]);
    assert_eq!(then.file().decision, None);
    assert_eq!(then.file().phase, Phase::PreparationForDecision);
    // The proposer proposes again.
    given(then.history)
        .when(C::ProposeDecision {
            adjudications: grant_one_deny_other(),
            close_requests: Vec::new(),
        })
        .then(vec![
            proposed(CASEWORKER, grant_one_deny_other()),
            phase_changed(
                Phase::PreparationForDecision,
                Phase::PendingDecisionApproval,
            ),
        ]);
}

#[test]
fn returning_needs_a_decision_awaiting_approval() {
    for history in [
        in_phase(Phase::PreparationForDecision),
        approved(grant_both()),
    ] {
        given(history)
            .by(APPROVER)
            .when(C::ReturnDecision {
                reason: text("Why?"),
            })
            .then_err("NO_PENDING_DECISION");
    }
}

#[test]
fn mailing_the_decision_letter_completes_the_case() {
    let then = given(approved(grant_both()))
        .when(C::MailDecisionLetter {
            mailed_at: at(2024, 3, 10, 7, 0),
        })
        .then(vec![
            E::DecisionLetterMailed {
                mailed_at: at(2024, 3, 10, 7, 0),
            },
            phase_changed(Phase::PreparationForNotification, Phase::Complete),
        ]);
    let file = then.file();
    assert_eq!(file.phase, Phase::Complete);
    assert_eq!(file.citizen_status(), CitizenStatus::Complete);
    assert_eq!(
        file.decision.as_ref().unwrap().status,
        DecisionStatus::Notified
    );
}

#[test]
fn the_letter_is_mailed_only_for_an_approved_decision() {
    for history in [
        in_phase(Phase::PreparationForDecision),
        pending_approval(grant_both()),
    ] {
        let from = Case::replay(&history).file().unwrap().phase;
        given(history)
            .when(C::MailDecisionLetter {
                mailed_at: at(2024, 3, 10, 7, 0),
            })
            .then_error(DomainError::InvalidPhaseTransition {
                from,
                to: Phase::Complete,
            });
    }
    // A history in PREPARATION_FOR_NOTIFICATION without an approved
    // decision (decide never produces one; evolve is total) still refuses.
    given(with(
        in_phase(Phase::PreparationForDecision),
        [phase_changed(
            Phase::PreparationForDecision,
            Phase::PreparationForNotification,
        )],
    ))
    .when(C::MailDecisionLetter {
        mailed_at: at(2024, 3, 10, 7, 0),
    })
    .then_err("INVALID_PHASE_TRANSITION");
}

// ============================================================ closing a case

#[test]
fn withdrawing_closes_the_case() {
    let then = given(in_phase(Phase::GatheringOfEvidence))
        .when(C::Withdraw {
            reason: Some(text("Claimant asked to withdraw")),
        })
        .then(vec![E::CaseWithdrawn {
            reason: Some(text("Claimant asked to withdraw")),
        }]);
    let file = then.file();
    assert_eq!(file.closed, Some(CloseReason::Withdrawn));
    assert_eq!(file.closed.unwrap().code(), "WITHDRAWN");
    assert_eq!(file.citizen_status(), CitizenStatus::Closed);
    assert_eq!(file.citizen_status().code(), "CLOSED");
    assert_eq!(file.phase, Phase::GatheringOfEvidence, "phase kept");
}

#[test]
fn a_case_is_withdrawn_without_a_reason_even_mid_decision() {
    given(pending_approval(grant_both()))
        .when(C::Withdraw { reason: None })
        .then(vec![E::CaseWithdrawn { reason: None }]);
}

#[test]
fn merging_closes_the_case_and_points_to_the_survivor() {
    let then = given(received())
        .when(C::MergeInto {
            survivor: case_id(2),
        })
        .then(vec![E::CaseMerged {
            survivor: case_id(2),
        }]);
    let file = then.file();
    assert_eq!(file.closed, Some(CloseReason::Merged(case_id(2))));
    assert_eq!(file.closed.unwrap().code(), "MERGED");
    assert_eq!(file.citizen_status(), CitizenStatus::Closed);
}

#[test]
fn a_case_cannot_merge_into_itself() {
    given(received())
        .when(C::MergeInto {
            survivor: the_case(),
        })
        .then_err("SELF_MERGE");
}

// ==================================================================== appeals

#[test]
fn a_decided_contention_of_a_complete_case_is_appealed() {
    let then = given(complete(grant_one_deny_other()))
        .when(C::FileAppeal {
            contention: c2(),
            appeal_case: case_id(3),
        })
        .then(vec![E::AppealFiled {
            contention: c2(),
            appeal_case: case_id(3),
        }]);
    assert_eq!(then.file().active_appeals, vec![(c2(), case_id(3))]);
    assert_eq!(then.file().phase, Phase::Complete);
}

#[test]
fn an_undecided_contention_cannot_be_appealed() {
    for history in [
        received(),
        pending_approval(grant_both()),
        approved(grant_both()),
    ] {
        given(history)
            .when(C::FileAppeal {
                contention: c1(),
                appeal_case: case_id(3),
            })
            .then_error(DomainError::NotDecided(c1()));
    }
}

#[test]
fn an_appeal_of_an_unknown_contention_is_refused() {
    given(complete(grant_both()))
        .when(C::FileAppeal {
            contention: contention_id(9),
            appeal_case: case_id(3),
        })
        .then_error(DomainError::ContentionNotFound(contention_id(9)));
}

#[test]
fn a_second_active_appeal_of_the_same_contention_is_a_duplicate() {
    let history = with(
        complete(grant_both()),
        [E::AppealFiled {
            contention: c1(),
            appeal_case: case_id(3),
        }],
    );
    given(history.clone())
        .when(C::FileAppeal {
            contention: c1(),
            appeal_case: case_id(4),
        })
        .then_error(DomainError::DuplicateAppeal(c1()));
    // Another contention may be appealed.
    given(history.clone())
        .when(C::FileAppeal {
            contention: c2(),
            appeal_case: case_id(4),
        })
        .then(vec![E::AppealFiled {
            contention: c2(),
            appeal_case: case_id(4),
        }]);
    // Once the first appeal concludes, the contention may be appealed again.
    given(with(
        history,
        [E::AppealConcluded {
            appeal_case: case_id(3),
        }],
    ))
    .when(C::FileAppeal {
        contention: c1(),
        appeal_case: case_id(4),
    })
    .then(vec![E::AppealFiled {
        contention: c1(),
        appeal_case: case_id(4),
    }]);
}

#[test]
fn concluding_an_appeal_removes_it() {
    let then = given(with(
        complete(grant_both()),
        [
            E::AppealFiled {
                contention: c1(),
                appeal_case: case_id(3),
            },
            E::AppealFiled {
                contention: c2(),
                appeal_case: case_id(4),
            },
        ],
    ))
    .when(C::ConcludeAppeal {
        appeal_case: case_id(3),
    })
    .then(vec![E::AppealConcluded {
        appeal_case: case_id(3),
    }]);
    assert_eq!(then.file().active_appeals, vec![(c2(), case_id(4))]);
}

#[test]
fn concluding_an_unknown_appeal_is_refused() {
    given(complete(grant_both()))
        .when(C::ConcludeAppeal {
            appeal_case: case_id(3),
        })
        .then_error(DomainError::AppealNotFound(case_id(3)));
    // On a closed case the guard lets it through to the same answer.
    given(withdrawn())
        .when(C::ConcludeAppeal {
            appeal_case: case_id(3),
        })
        .then_err("APPEAL_NOT_FOUND");
}

// ===================================================================== guards

#[test]
fn a_closed_case_refuses_everything_but_contacts_and_appeal_bookkeeping() {
    for history in [withdrawn(), merged()] {
        for command in one_of_each_command() {
            let name = command.name();
            let result = given(history.clone()).by(APPROVER).when(command).result();
            match name {
                "RecordContact" => assert!(result.is_ok(), "{name}: {result:?}"),
                "ConcludeAppeal" => assert_ne!(
                    result.unwrap_err().code(),
                    ErrorCode::CaseClosed,
                    "{name} passes the guard"
                ),
                "SubmitClaim" => {
                    assert_eq!(result.unwrap_err().code().as_str(), "CLAIM_ALREADY_EXISTS")
                }
                _ => assert_eq!(
                    result.map_err(|e| e.code()),
                    Err(ErrorCode::CaseClosed),
                    "{name} on a closed case"
                ),
            }
        }
    }
}

#[test]
fn a_complete_case_takes_only_contacts_and_appeals() {
    let history = complete(grant_both());
    for command in one_of_each_command() {
        let name = command.name();
        let result = given(history.clone()).by(APPROVER).when(command).result();
        match name {
            "RecordContact" | "FileAppeal" => assert!(result.is_ok(), "{name}: {result:?}"),
            "ConcludeAppeal" => assert_eq!(result.unwrap_err().code().as_str(), "APPEAL_NOT_FOUND"),
            "SubmitClaim" => {
                assert_eq!(result.unwrap_err().code().as_str(), "CLAIM_ALREADY_EXISTS")
            }
            _ => assert_eq!(
                result.map_err(|e| e.code()),
                Err(ErrorCode::CaseComplete),
                "{name} on a complete case"
            ),
        }
    }
}

#[test]
fn a_closed_case_stays_closed_and_complete_cases_cannot_be_closed() {
    given(complete(grant_both()))
        .when(C::Withdraw { reason: None })
        .then_err("CASE_COMPLETE");
    given(complete(grant_both()))
        .when(C::MergeInto {
            survivor: case_id(2),
        })
        .then_err("CASE_COMPLETE");
    given(withdrawn())
        .when(C::Withdraw { reason: None })
        .then_err("CASE_CLOSED");
    given(withdrawn())
        .when(C::FileAppeal {
            contention: c1(),
            appeal_case: case_id(3),
        })
        .then_err("CASE_CLOSED");
}

// ================================================================ depends_on

fn assigned_event() -> CaseEvent {
    E::CaseAssigned {
        assignee: actor_id(OTHER_CASEWORKER),
        previous: None,
    }
}

fn document_event() -> CaseEvent {
    E::DocumentAttached {
        document: document_of(&attach_document(1, None)),
        request: None,
        filed_as: DocumentFiling::Evidence,
    }
}

#[test]
fn every_command_depends_on_the_case_ending() {
    let enders = [
        E::CaseWithdrawn { reason: None },
        E::CaseMerged {
            survivor: case_id(2),
        },
        phase_changed(Phase::PreparationForNotification, Phase::Complete),
    ];
    for command in one_of_each_command() {
        // Contacts and appeal bookkeeping are accepted on closed and complete
        // cases too, so they need not depend on the end (today they do, which
        // is merely conservative): not asserted either way.
        if matches!(command, C::RecordContact(_) | C::ConcludeAppeal { .. }) {
            continue;
        }
        for event in &enders {
            assert!(event.ends_case());
            assert!(
                command.depends_on(event),
                "{} must depend on {}",
                command.name(),
                event.name()
            );
        }
    }
    assert!(!phase_changed(Phase::ClaimReceived, Phase::UnderReview).ends_case());
}

#[test]
fn submit_claim_depends_on_everything() {
    let submit = C::SubmitClaim(submit_claim());
    for event in [claim_submitted(), assigned_event(), document_event()] {
        assert!(submit.depends_on(&event), "{}", event.name());
    }
}

#[test]
fn assignment_depends_only_on_assignment() {
    for command in [
        C::Assign {
            assignee: actor_id(CASEWORKER),
            reassign: false,
        },
        C::Unassign,
    ] {
        assert!(command.depends_on(&assigned_event()));
        assert!(command.depends_on(&E::CaseUnassigned {
            previous: actor_id(CASEWORKER)
        }));
        assert!(!command.depends_on(&document_event()));
        assert!(!command.depends_on(&phase_changed(Phase::ClaimReceived, Phase::UnderReview)));
        assert!(!command.depends_on(&E::CaseRoutedToTeam {
            team: team("intake-east")
        }));
    }
}

#[test]
fn a_phase_change_depends_on_phase_estimate_and_proposals() {
    let change = C::ChangePhase {
        to: Phase::UnderReview,
        reason: None,
        estimate: None,
    };
    assert!(change.depends_on(&phase_changed(Phase::ClaimReceived, Phase::UnderReview)));
    assert!(change.depends_on(&E::EstimateChanged {
        estimate: estimate(day(2024, 6, 1), day(2024, 8, 1)),
        reason: EstimateReason::ClaimReceived,
    }));
    assert!(change.depends_on(&proposed(CASEWORKER, grant_both())));
    assert!(!change.depends_on(&assigned_event()));
    assert!(!change.depends_on(&document_event()));
}

#[test]
fn decision_commands_depend_on_the_decision_flow() {
    let flow = [
        phase_changed(Phase::ClaimReceived, Phase::UnderReview),
        proposed(CASEWORKER, grant_both()),
        E::DecisionApproved {
            approver: actor_id(APPROVER),
            outcome: ClaimOutcome::Approved,
        },
        E::DecisionReturned {
            approver: actor_id(APPROVER),
            reason: text("No"),
        },
        E::DecisionLetterMailed {
            mailed_at: at(2024, 3, 10, 7, 0),
        },
    ];
    for command in [
        C::ProposeDecision {
            adjudications: grant_both(),
            close_requests: Vec::new(),
        },
        C::ApproveDecision,
        C::ReturnDecision { reason: text("No") },
        C::MailDecisionLetter {
            mailed_at: at(2024, 3, 10, 7, 0),
        },
    ] {
        for event in &flow {
            assert!(
                command.depends_on(event),
                "{} / {}",
                command.name(),
                event.name()
            );
        }
        assert!(!command.depends_on(&assigned_event()), "{}", command.name());
        assert!(!command.depends_on(&document_event()), "{}", command.name());
    }
}

#[test]
fn evidence_review_depends_only_on_its_own_request() {
    let review = C::ReviewEvidence {
        request: req_id(1),
        to: Accepted,
        reason: None,
    };
    assert!(review.depends_on(&status_changed(
        req_id(1),
        NeededFromYou,
        SubmittedAwaitingReview
    )));
    assert!(!review.depends_on(&status_changed(
        req_id(2),
        NeededFromYou,
        SubmittedAwaitingReview
    )));
    assert!(!review.depends_on(&document_event()));
    assert!(!review.depends_on(&assigned_event()));
}

#[test]
fn additive_commands_are_retried_against_any_non_ending_event() {
    let events = [
        claim_submitted(),
        assigned_event(),
        document_event(),
        phase_changed(Phase::ClaimReceived, Phase::UnderReview),
        proposed(CASEWORKER, grant_both()),
        status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
    ];
    for command in one_of_each_command() {
        let additive = matches!(
            command,
            C::AttachChannelEntry(_)
                | C::AttachDocument(_)
                | C::LinkDocument { .. }
                | C::RequestEvidence(_)
                | C::SubmitWaiver5103 { .. }
                | C::RecordContact(_)
                | C::MarkRequestOverdue { .. }
                | C::FileAppeal { .. }
                | C::ConcludeAppeal { .. }
                | C::RouteToTeam { .. }
                | C::Withdraw { .. }
                | C::MergeInto { .. }
        );
        if additive {
            for event in &events {
                assert!(
                    !command.depends_on(event),
                    "{} / {}",
                    command.name(),
                    event.name()
                );
            }
        }
    }
}

#[test]
fn command_names_are_distinct() {
    let mut names: Vec<_> = one_of_each_command().iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), 21);
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 21);
}

// ------------------------------------------------ unlinked and late evidence

fn late_reason() -> Text {
    text("New evidence arrived after evidence gathering; it is reviewed before a decision.")
}

fn attached(doc: &AttachDocument) -> CaseEvent {
    E::DocumentAttached {
        document: document_of(doc),
        request: doc.request,
        filed_as: doc.filed_as,
    }
}

#[test]
fn evidence_without_a_request_waits_for_a_link_and_leaves_when_linked_or_marked() {
    let then = given(with_request(1, true))
        .when(C::AttachDocument(attach_document(1, None)))
        .then(vec![attached(&attach_document(1, None))]);
    assert_eq!(then.file().unlinked, vec![doc_id(1)]);

    let unlinked = with_unlinked_document(with_request(1, true));
    let linked = given(unlinked.clone())
        .when(C::LinkDocument {
            document: doc_id(1),
            request: req_id(1),
        })
        .then(vec![
            E::DocumentLinked {
                document: doc_id(1),
                request: req_id(1),
            },
            status_changed(req_id(1), NeededFromYou, SubmittedAwaitingReview),
        ]);
    assert!(linked.file().unlinked.is_empty());

    let marked = given(unlinked)
        .when(C::MarkDocumentNeedsNoLink {
            document: doc_id(1),
            reason: text("A duplicate of the claim form"),
        })
        .then(vec![E::DocumentNeedsNoLink {
            document: doc_id(1),
            reason: text("A duplicate of the claim form"),
        }]);
    assert!(marked.file().unlinked.is_empty());
}

#[test]
fn marking_a_linked_or_submission_document_changes_nothing_and_an_unknown_one_is_refused() {
    let mut with_claim = attach_document(2, None);
    with_claim.filed_as = DocumentFiling::WithSubmission;
    let history = with(received(), [attached(&with_claim)]);
    let mark = |n| C::MarkDocumentNeedsNoLink {
        document: doc_id(n),
        reason: text("not evidence"),
    };
    let then = given(history.clone()).when(mark(2)).then_nothing();
    assert!(then.file().unlinked.is_empty());
    given(history)
        .when(mark(9))
        .then_error(DomainError::DocumentNotFound(doc_id(9)));
}

#[test]
fn evidence_after_gathering_moves_the_case_back_with_reason_and_estimate() {
    for phase in [Phase::ReviewOfEvidence, Phase::PreparationForDecision] {
        let mut doc = attach_document(1, None);
        let new_estimate = estimate(day(2024, 6, 1), day(2024, 8, 1));
        doc.on_late = LateEvidence::PhaseBack {
            estimate: Some(new_estimate),
        };
        let then = given(in_phase(phase))
            .when(C::AttachDocument(doc.clone()))
            .then(vec![
                attached(&doc),
                E::PhaseChanged {
                    from: phase,
                    to: Phase::GatheringOfEvidence,
                    back: true,
                    reason: Some(late_reason()),
                },
                E::EstimateChanged {
                    estimate: new_estimate,
                    reason: EstimateReason::PhaseMovedBack(Phase::GatheringOfEvidence),
                },
            ]);
        assert_eq!(then.file().phase, Phase::GatheringOfEvidence);
        assert!(then.file().late_evidence.is_empty());
    }
}

#[test]
fn evidence_during_decision_approval_voids_the_proposed_decision() {
    let doc = attach_document(1, None);
    let then = given(pending_approval(grant_both()))
        .when(C::AttachDocument(doc.clone()))
        .then(vec![
            attached(&doc),
            E::PhaseChanged {
                from: Phase::PendingDecisionApproval,
                to: Phase::GatheringOfEvidence,
                back: true,
                reason: Some(late_reason()),
            },
        ]);
    assert_eq!(then.file().decision, None);
}

#[test]
fn evidence_in_gathering_or_filed_with_a_submission_changes_no_phase() {
    let doc = attach_document(1, None);
    given(in_phase(Phase::GatheringOfEvidence))
        .when(C::AttachDocument(doc.clone()))
        .then(vec![attached(&doc)]);
    let mut waiver = attach_document(2, None);
    waiver.filed_as = DocumentFiling::WithSubmission;
    given(in_phase(Phase::PreparationForDecision))
        .when(C::AttachDocument(waiver.clone()))
        .then(vec![attached(&waiver)]);
}

#[test]
fn under_the_work_item_rule_late_evidence_is_flagged_until_acknowledged() {
    let mut doc = attach_document(1, None);
    doc.on_late = LateEvidence::WorkItem;
    let then = given(in_phase(Phase::PreparationForDecision))
        .when(C::AttachDocument(doc.clone()))
        .then(vec![
            attached(&doc),
            E::LateEvidenceFlagged {
                document: doc_id(1),
                phase: Phase::PreparationForDecision,
            },
        ]);
    assert_eq!(then.file().phase, Phase::PreparationForDecision);
    assert_eq!(then.file().late_evidence, vec![doc_id(1)]);

    let flagged = with(
        in_phase(Phase::PreparationForDecision),
        [
            attached(&doc),
            E::LateEvidenceFlagged {
                document: doc_id(1),
                phase: Phase::PreparationForDecision,
            },
        ],
    );
    let acknowledged = given(flagged.clone())
        .when(C::AcknowledgeLateEvidence {
            document: doc_id(1),
        })
        .then(vec![E::LateEvidenceAcknowledged {
            document: doc_id(1),
        }]);
    assert!(acknowledged.file().late_evidence.is_empty());
    // Acknowledged already: nothing more to do.
    given(with(
        flagged.clone(),
        [E::LateEvidenceAcknowledged {
            document: doc_id(1),
        }],
    ))
    .when(C::AcknowledgeLateEvidence {
        document: doc_id(1),
    })
    .then_nothing();
    // Moving back to gathering makes it ordinary evidence.
    let back = given(flagged)
        .when(C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: Some(text("Reviewing the new records")),
            estimate: None,
        })
        .then(vec![E::PhaseChanged {
            from: Phase::PreparationForDecision,
            to: Phase::GatheringOfEvidence,
            back: true,
            reason: Some(text("Reviewing the new records")),
        }]);
    assert!(back.file().late_evidence.is_empty());
}

#[test]
fn after_approval_late_evidence_is_always_a_work_item_and_the_decision_stands() {
    let doc = attach_document(1, None);
    let then = given(approved(grant_both()))
        .when(C::AttachDocument(doc.clone()))
        .then(vec![
            attached(&doc),
            E::LateEvidenceFlagged {
                document: doc_id(1),
                phase: Phase::PreparationForNotification,
            },
        ]);
    assert!(then.file().decision.is_some());
    assert_eq!(then.file().phase, Phase::PreparationForNotification);
}
