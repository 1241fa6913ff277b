//! Idempotency fingerprints are computed from an explicit, versioned
//! canonical form of each request, never from `Debug` output. Each command
//! kind's fingerprint input is pinned here: a change to one of these
//! snapshots changes what "the same request" means for clients retrying
//! across an upgrade, and must come with a legacy form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::case::*;
use domain::claimant::{
    ClaimantCommand, ClaimantPii, Flags, Guardian, Representative, Restriction,
};
use domain::status::{Phase, RequestStatus};
use domain::*;
use engine::fingerprint::{self, Fingerprint};
use serde_json::{json, Map, Value};
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
fn text(s: &str) -> Text {
    Text::parse("t", s).unwrap()
}
fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()
}
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()
}
fn actor(s: &str) -> ActorId {
    ActorId::parse(s).unwrap()
}
fn entry() -> NewChannelEntry {
    NewChannelEntry {
        id: EntryId::from_uuid(id(11)),
        channel: Channel::Web,
        external_id: ExternalId::parse("web-1").unwrap(),
        received_at: at(),
        submitted_by: Submitter::Claimant,
    }
}
fn pii() -> ClaimantPii {
    ClaimantPii {
        file_number: FileNumber::parse("123456789").unwrap(),
        identity_number: None,
        given_name: text("Alex"),
        family_name: text("Rivera"),
        birth_date: NaiveDate::from_ymd_opt(1980, 4, 2).unwrap(),
        postcode: text("20420"),
        address_lines: vec![text("1 Main St")],
    }
}

fn case_commands() -> Vec<CaseCommand> {
    use CaseCommand as C;
    vec![
        C::SubmitClaim(SubmitClaim {
            case_id: CaseId::from_uuid(id(1)),
            claimant: ClaimantId::from_uuid(id(2)),
            benefit: BenefitType::parse("COMPENSATION").unwrap(),
            contentions: vec![NewContention {
                id: ContentionId::from_uuid(id(3)),
                description: text("Hearing loss"),
            }],
            entry: entry(),
            appeal_of: None,
            estimate: None,
        }),
        C::AttachChannelEntry(entry()),
        C::AttachDocument(AttachDocument {
            id: DocumentId::from_uuid(id(4)),
            document_type: DocumentType::parse("MEDICAL_RECORD").unwrap(),
            pages: 3,
            checksum: Checksum::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
            storage_ref: StorageRef::parse("s3://bucket/doc-4").unwrap(),
            received_at: at(),
            channel: Channel::MailScan,
            request: Some(RequestId::from_uuid(id(5))),
            filed_as: DocumentFiling::Evidence,
            on_late: LateEvidence::default(),
        }),
        C::LinkDocument {
            document: DocumentId::from_uuid(id(4)),
            request: RequestId::from_uuid(id(5)),
        },
        C::MarkDocumentNeedsNoLink {
            document: DocumentId::from_uuid(id(4)),
            reason: text("A copy of the claim form"),
        },
        C::AcknowledgeLateEvidence {
            document: DocumentId::from_uuid(id(4)),
        },
        C::RequestEvidence(NewEvidenceRequest {
            id: RequestId::from_uuid(id(5)),
            kind: RequestKind::Standard,
            description: text("Audiology exam results"),
            needed_from_claimant: true,
            suspense_date: day(),
            suppressed: false,
        }),
        C::SubmitWaiver5103 { received_at: at() },
        C::ReviewEvidence {
            request: RequestId::from_uuid(id(5)),
            to: RequestStatus::NoLongerRequired,
            reason: Some(text("Not needed")),
        },
        C::ChangePhase {
            to: Phase::GatheringOfEvidence,
            reason: None,
            estimate: None,
        },
        C::Assign {
            assignee: actor("cw-1"),
            reassign: false,
        },
        C::Unassign,
        C::RouteToTeam {
            team: TeamCode::parse("intake-east").unwrap(),
        },
        C::RecordContact(NewContact {
            id: ContactId::from_uuid(id(6)),
            kind: ContactKind::Inbound,
            channel: Channel::CallCenter,
            reason: Some(text("Status question")),
            summary: text("Asked about the exam"),
            follow_up: None,
            occurred_at: at(),
        }),
        C::ProposeDecision {
            adjudications: vec![(ContentionId::from_uuid(id(3)), Adjudication::Granted)],
            close_requests: vec![(RequestId::from_uuid(id(5)), text("Decided on records"))],
        },
        C::ApproveDecision,
        C::ReturnDecision {
            reason: text("Needs a fresh exam"),
        },
        C::MailDecisionLetter { mailed_at: at() },
        C::Withdraw { reason: None },
        C::MergeInto {
            survivor: CaseId::from_uuid(id(7)),
        },
        C::MarkRequestOverdue {
            request: RequestId::from_uuid(id(5)),
        },
        C::FileAppeal {
            contention: ContentionId::from_uuid(id(3)),
            appeal_case: CaseId::from_uuid(id(8)),
        },
        C::ConcludeAppeal {
            appeal_case: CaseId::from_uuid(id(8)),
        },
    ]
}

fn claimant_commands() -> Vec<ClaimantCommand> {
    vec![
        ClaimantCommand::Register {
            id: ClaimantId::from_uuid(id(2)),
            pii: pii(),
        },
        ClaimantCommand::CorrectPii { pii: pii() },
        ClaimantCommand::SetRepresentative(Some(Representative {
            actor: actor("rep-0451"),
            poa_code: text("0451"),
        })),
        ClaimantCommand::SetGuardian(Some(Guardian {
            actor: actor("guardian-1"),
            relationship: text("parent"),
        })),
        ClaimantCommand::SetFlags(Flags {
            safety: vec![text("Threatened staff in 2024")],
            accessibility: vec![],
        }),
        ClaimantCommand::SetRestriction(Some(Restriction::ProtectedAddress)),
    ]
}

/// Every case and claimant command kind's fingerprint input, in canonical
/// text: pinned.
#[test]
fn each_command_kinds_fingerprint_input_is_pinned() {
    let mut pinned = Map::new();
    for command in case_commands() {
        let (kind, fields) = fingerprint::case_command(&command);
        pinned.insert(kind, Value::String(fingerprint::canonical(&fields)));
    }
    for command in claimant_commands() {
        let (kind, fields) = fingerprint::claimant_command(&command);
        pinned.insert(kind, Value::String(fingerprint::canonical(&fields)));
    }
    assert_eq!(pinned.len(), 23 + 6, "every kind once");
    insta::assert_json_snapshot!("fingerprint_inputs", pinned);
}

/// The canonical form ignores key order and absent values, so a field
/// added later does not change the fingerprint of a request without it.
#[test]
fn absent_values_and_key_order_do_not_change_a_fingerprint() {
    let a = Fingerprint::of("k", &json!({"b": 1, "a": "x"}));
    let b = Fingerprint::of(
        "k",
        &json!({"a": "x", "b": 1, "added": null, "list": [], "map": {}}),
    );
    assert_eq!(a, b);
    assert!(a.current.starts_with("v2:"));
    assert_ne!(a, Fingerprint::of("other", &json!({"b": 1, "a": "x"})));
    assert_ne!(a, Fingerprint::of("k", &json!({"b": 2, "a": "x"})));
    let review = |reason: Option<Text>| {
        let (kind, fields) = fingerprint::case_command(&CaseCommand::ReviewEvidence {
            request: RequestId::from_uuid(id(5)),
            to: RequestStatus::Accepted,
            reason,
        });
        Fingerprint::of(&kind, &fields)
    };
    assert_ne!(review(None), review(Some(text("why"))));
}

/// A record written by the previous form (a hash of `Debug` output) is
/// still recognised, as the previous build printed the command: the two
/// commands that gained a field print as they did before when it is unused.
#[test]
fn the_previous_forms_text_is_kept_for_recognising_old_records() {
    let review = CaseCommand::ReviewEvidence {
        request: RequestId::from_uuid(id(5)),
        to: RequestStatus::Accepted,
        reason: None,
    };
    assert_eq!(
        fingerprint::legacy_case_command(&review).as_deref(),
        Some("ReviewEvidence { request: RequestId(00000000-0000-0000-0000-000000000005), to: Accepted }")
    );
    let with_reason = CaseCommand::ReviewEvidence {
        request: RequestId::from_uuid(id(5)),
        to: RequestStatus::Accepted,
        reason: Some(text("why")),
    };
    assert_eq!(fingerprint::legacy_case_command(&with_reason), None);
    let assign = CaseCommand::Assign {
        assignee: actor("cw-1"),
        reassign: false,
    };
    assert_eq!(
        fingerprint::legacy_case_command(&assign).as_deref(),
        Some("Assign { assignee: ActorId(\"cw-1\"), reassign: false }")
    );
    // A document as the previous build printed it (before `filed_as`).
    let document = |filed_as| {
        CaseCommand::AttachDocument(AttachDocument {
            id: DocumentId::from_uuid(id(4)),
            document_type: DocumentType::parse("MEDICAL_RECORD").unwrap(),
            pages: 3,
            checksum: Checksum::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
            storage_ref: StorageRef::parse("s3://bucket/doc-4").unwrap(),
            received_at: at(),
            channel: Channel::MailScan,
            request: None,
            filed_as,
            on_late: LateEvidence::WorkItem,
        })
    };
    assert_eq!(
        fingerprint::legacy_case_command(&document(DocumentFiling::Evidence)).as_deref(),
        Some(format!("AttachDocument(AttachDocument {{ id: DocumentId(00000000-0000-0000-0000-000000000004), document_type: DocumentType(\"MEDICAL_RECORD\"), pages: 3, checksum: Checksum(\"sha256:{}\"), storage_ref: StorageRef(\"s3://bucket/doc-4\"), received_at: {:?}, channel: MailScan, request: None }})", "a".repeat(64), at())).as_deref()
    );
    assert_eq!(
        fingerprint::legacy_case_command(&document(DocumentFiling::WithSubmission)),
        None
    );
    // The pipeline-filled rule is not part of the request.
    let (kind, fields) = fingerprint::case_command(&document(DocumentFiling::Evidence));
    let CaseCommand::AttachDocument(mut phase_back) = document(DocumentFiling::Evidence) else {
        unreachable!()
    };
    phase_back.on_late = LateEvidence::default();
    assert_eq!(
        (kind, fields),
        fingerprint::case_command(&CaseCommand::AttachDocument(phase_back))
    );
    let f = Fingerprint::of("k", &json!({})).or_legacy("old".into());
    assert!(f.matches("old") && f.matches(&f.current) && !f.matches("other"));
}
