//! Phases, citizen status and evidence-request statuses.

/// The eight internal phases, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    ClaimReceived,
    UnderReview,
    GatheringOfEvidence,
    ReviewOfEvidence,
    PreparationForDecision,
    PendingDecisionApproval,
    PreparationForNotification,
    Complete,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::ClaimReceived,
        Phase::UnderReview,
        Phase::GatheringOfEvidence,
        Phase::ReviewOfEvidence,
        Phase::PreparationForDecision,
        Phase::PendingDecisionApproval,
        Phase::PreparationForNotification,
        Phase::Complete,
    ];

    /// 1-based phase number, as staff know them.
    pub fn number(self) -> u8 {
        match self {
            Phase::ClaimReceived => 1,
            Phase::UnderReview => 2,
            Phase::GatheringOfEvidence => 3,
            Phase::ReviewOfEvidence => 4,
            Phase::PreparationForDecision => 5,
            Phase::PendingDecisionApproval => 6,
            Phase::PreparationForNotification => 7,
            Phase::Complete => 8,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Phase::ClaimReceived => "CLAIM_RECEIVED",
            Phase::UnderReview => "UNDER_REVIEW",
            Phase::GatheringOfEvidence => "GATHERING_OF_EVIDENCE",
            Phase::ReviewOfEvidence => "REVIEW_OF_EVIDENCE",
            Phase::PreparationForDecision => "PREPARATION_FOR_DECISION",
            Phase::PendingDecisionApproval => "PENDING_DECISION_APPROVAL",
            Phase::PreparationForNotification => "PREPARATION_FOR_NOTIFICATION",
            Phase::Complete => "COMPLETE",
        }
    }

    pub fn from_code(code: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Phases a caseworker may move a case into with a plain phase change;
    /// the last three are reached only through the decision commands.
    pub fn is_manually_reachable(self) -> bool {
        self <= Phase::PreparationForDecision
    }

    /// The unified citizen status of an open case in this phase. Phases 3–6
    /// fold into one status so internal back-and-forth never looks like
    /// regress.
    pub fn citizen_status(self) -> CitizenStatus {
        match self {
            Phase::ClaimReceived => CitizenStatus::Received,
            Phase::UnderReview => CitizenStatus::InitialReview,
            Phase::GatheringOfEvidence
            | Phase::ReviewOfEvidence
            | Phase::PreparationForDecision
            | Phase::PendingDecisionApproval => CitizenStatus::EvidenceGatheringReviewDecision,
            Phase::PreparationForNotification => CitizenStatus::PreparationForNotification,
            Phase::Complete => CitizenStatus::Complete,
        }
    }
}

/// The unified claim status citizens see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CitizenStatus {
    Received,
    InitialReview,
    EvidenceGatheringReviewDecision,
    PreparationForNotification,
    Complete,
    /// Withdrawn, or merged into another case as a duplicate.
    Closed,
}

impl CitizenStatus {
    pub const ALL: [CitizenStatus; 6] = [
        CitizenStatus::Received,
        CitizenStatus::InitialReview,
        CitizenStatus::EvidenceGatheringReviewDecision,
        CitizenStatus::PreparationForNotification,
        CitizenStatus::Complete,
        CitizenStatus::Closed,
    ];

    pub fn from_code(code: &str) -> Option<CitizenStatus> {
        CitizenStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            CitizenStatus::Received => "RECEIVED",
            CitizenStatus::InitialReview => "INITIAL_REVIEW",
            CitizenStatus::EvidenceGatheringReviewDecision => "EVIDENCE_GATHERING_REVIEW_DECISION",
            CitizenStatus::PreparationForNotification => "PREPARATION_FOR_NOTIFICATION",
            CitizenStatus::Complete => "COMPLETE",
            CitizenStatus::Closed => "CLOSED",
        }
    }
}

/// Status of an evidence request (tracked item).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestStatus {
    NeededFromYou,
    NeededFromOthers,
    SubmittedAwaitingReview,
    InitialReviewComplete,
    Accepted,
    NoLongerRequired,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 6] = [
        RequestStatus::NeededFromYou,
        RequestStatus::NeededFromOthers,
        RequestStatus::SubmittedAwaitingReview,
        RequestStatus::InitialReviewComplete,
        RequestStatus::Accepted,
        RequestStatus::NoLongerRequired,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RequestStatus::NeededFromYou => "NEEDED_FROM_YOU",
            RequestStatus::NeededFromOthers => "NEEDED_FROM_OTHERS",
            RequestStatus::SubmittedAwaitingReview => "SUBMITTED_AWAITING_REVIEW",
            RequestStatus::InitialReviewComplete => "INITIAL_REVIEW_COMPLETE",
            RequestStatus::Accepted => "ACCEPTED",
            RequestStatus::NoLongerRequired => "NO_LONGER_REQUIRED",
        }
    }

    pub fn from_code(code: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Still waiting for something to be submitted (can become overdue).
    pub fn is_awaiting_submission(self) -> bool {
        matches!(
            self,
            RequestStatus::NeededFromYou | RequestStatus::NeededFromOthers
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RequestStatus::Accepted | RequestStatus::NoLongerRequired
        )
    }

    /// The review state machine. Terminal states go nowhere; an insufficient
    /// submission can be asked for again; anything open can be dropped.
    pub fn can_move_to(self, to: RequestStatus) -> bool {
        use RequestStatus::*;
        if self == to || self.is_terminal() {
            return false;
        }
        matches!(
            (self, to),
            (_, NoLongerRequired)
                | (NeededFromYou, NeededFromOthers)
                | (NeededFromOthers, NeededFromYou)
                | (NeededFromYou | NeededFromOthers, SubmittedAwaitingReview)
                | (SubmittedAwaitingReview, InitialReviewComplete | Accepted)
                | (
                    SubmittedAwaitingReview | InitialReviewComplete,
                    NeededFromYou | NeededFromOthers
                )
                | (InitialReviewComplete, Accepted)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_fold_into_citizen_status_exactly_as_designed() {
        let got: Vec<_> = Phase::ALL
            .iter()
            .map(|p| (p.code(), p.citizen_status().code()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("CLAIM_RECEIVED", "RECEIVED"),
                ("UNDER_REVIEW", "INITIAL_REVIEW"),
                (
                    "GATHERING_OF_EVIDENCE",
                    "EVIDENCE_GATHERING_REVIEW_DECISION"
                ),
                ("REVIEW_OF_EVIDENCE", "EVIDENCE_GATHERING_REVIEW_DECISION"),
                (
                    "PREPARATION_FOR_DECISION",
                    "EVIDENCE_GATHERING_REVIEW_DECISION"
                ),
                (
                    "PENDING_DECISION_APPROVAL",
                    "EVIDENCE_GATHERING_REVIEW_DECISION"
                ),
                (
                    "PREPARATION_FOR_NOTIFICATION",
                    "PREPARATION_FOR_NOTIFICATION"
                ),
                ("COMPLETE", "COMPLETE"),
            ]
        );
    }

    #[test]
    fn codes_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_code(p.code()), Some(p));
        }
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::from_code(s.code()), Some(s));
        }
    }

    #[test]
    fn terminal_request_statuses_go_nowhere() {
        for to in RequestStatus::ALL {
            assert!(!RequestStatus::Accepted.can_move_to(to));
            assert!(!RequestStatus::NoLongerRequired.can_move_to(to));
        }
    }
}
