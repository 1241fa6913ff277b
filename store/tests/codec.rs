//! The stored form of domain events (`store::codec`) is a compatibility
//! promise: it is what the log holds and what Kafka consumers receive.
//!
//! * every event type (and every optional-field shape that changes the JSON)
//!   is pinned by a named insta snapshot;
//! * every sample round-trips through `encode_*` / `decode_*`;
//! * the decoders refuse unknown types, future versions and bad payloads
//!   with an error, never a panic;
//! * claimant PII lives in exactly one field of exactly two events.
//!
//! Every value is fixed: ids from `Uuid::from_u128`, timestamps from
//! `Utc.with_ymd_and_hms`, dates from `NaiveDate::from_ymd_opt`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::case::*;
use domain::claimant::{Flags, Guardian, Representative, Restriction};
use domain::status::{Phase, RequestStatus};
use domain::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use store::codec::{
    decode_case, decode_claimant, encode_case, encode_claimant, upcast, DecodeError, EncodedEvent,
    Upcaster, CURRENT_SCHEMA_VERSION, UPCASTERS,
};
use uuid::Uuid;

// ================================================================= fixtures

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("fixed, valid timestamp")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("fixed, valid date")
}

fn text(s: &str) -> Text {
    Text::parse("fixture", s).expect("fixture text")
}

fn actor(s: &str) -> ActorId {
    ActorId::parse(s).expect("fixture actor")
}

fn channel(code: &str) -> Channel {
    Channel::parse(code).expect("fixture channel")
}

const CASE: CaseId = CaseId::from_uuid(Uuid::from_u128(0x0c45_0001));
const APPEAL_CASE: CaseId = CaseId::from_uuid(Uuid::from_u128(0x0c45_0002));
const SURVIVOR_CASE: CaseId = CaseId::from_uuid(Uuid::from_u128(0x0c45_0003));
const ORIGINAL_CASE: CaseId = CaseId::from_uuid(Uuid::from_u128(0x0c45_0004));
const CLAIMANT: ClaimantId = ClaimantId::from_uuid(Uuid::from_u128(0x0c1a_0001));
const CONTENTION_KNEE: ContentionId = ContentionId::from_uuid(Uuid::from_u128(0x0c0e_0001));
const CONTENTION_HEARING: ContentionId = ContentionId::from_uuid(Uuid::from_u128(0x0c0e_0002));
const ENTRY_WEB: EntryId = EntryId::from_uuid(Uuid::from_u128(0x0e17_0001));
const ENTRY_MAIL: EntryId = EntryId::from_uuid(Uuid::from_u128(0x0e17_0002));
const ENTRY_COUNTER: EntryId = EntryId::from_uuid(Uuid::from_u128(0x0e17_0003));
const ENTRY_PARTNER: EntryId = EntryId::from_uuid(Uuid::from_u128(0x0e17_0004));
const DOC_DD214: DocumentId = DocumentId::from_uuid(Uuid::from_u128(0x0d0c_0001));
const DOC_MEDICAL: DocumentId = DocumentId::from_uuid(Uuid::from_u128(0x0d0c_0002));
const REQUEST_RECORDS: RequestId = RequestId::from_uuid(Uuid::from_u128(0x0e0e_0001));
const REQUEST_5103: RequestId = RequestId::from_uuid(Uuid::from_u128(0x0e0e_0002));
const CONTACT_CALL: ContactId = ContactId::from_uuid(Uuid::from_u128(0x0c0c_0001));
const CONTACT_NOTE: ContactId = ContactId::from_uuid(Uuid::from_u128(0x0c0c_0002));

/// sha256 of the empty string.
const CHECKSUM: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn web_entry_by_claimant() -> ChannelEntry {
    ChannelEntry {
        id: ENTRY_WEB,
        channel: Channel::Web,
        external_id: ExternalId::parse("portal-sub-2024-000871").unwrap(),
        received_at: at(2024, 3, 4, 14, 5, 0),
        recorded_at: at(2024, 3, 4, 14, 5, 2),
        submitted_by: Submitter::Claimant,
        duplicate_of: None,
    }
}

fn mail_duplicate_by_staff() -> ChannelEntry {
    ChannelEntry {
        id: ENTRY_MAIL,
        channel: Channel::MailScan,
        external_id: ExternalId::parse("scan 42/7").unwrap(),
        received_at: at(2024, 2, 27, 0, 0, 0),
        recorded_at: at(2024, 3, 6, 9, 12, 40),
        submitted_by: Submitter::Staff(actor("staff:mailroom.e.mendoza")),
        duplicate_of: Some(ENTRY_WEB),
    }
}

fn counter_entry_by_staff() -> ChannelEntry {
    ChannelEntry {
        id: ENTRY_COUNTER,
        channel: Channel::InPerson,
        external_id: ExternalId::parse("counter-rcpt-0193").unwrap(),
        received_at: at(2024, 3, 7, 10, 30, 0),
        recorded_at: at(2024, 3, 7, 10, 31, 15),
        submitted_by: Submitter::Staff(actor("staff:r.tanaka")),
        duplicate_of: None,
    }
}

fn partner_entry_by_representative() -> ChannelEntry {
    ChannelEntry {
        id: ENTRY_PARTNER,
        channel: channel("PARTNER_API"),
        external_id: ExternalId::parse("PA-7731-0042").unwrap(),
        received_at: at(2024, 9, 16, 8, 0, 0),
        recorded_at: at(2024, 9, 16, 8, 0, 3),
        submitted_by: Submitter::Representative(actor("rep:dav-ny-042")),
        duplicate_of: None,
    }
}

/// One sample of every case event type; a variant appears more than once
/// where an optional field or an enum changes the shape of the JSON.
/// `(label, event)`; the snapshot is named `case__{type}__{label}`.
fn case_samples() -> Vec<(&'static str, CaseEvent)> {
    use CaseEvent as E;
    vec![
        (
            "web_by_claimant",
            E::ClaimSubmitted {
                case_id: CASE,
                claimant: CLAIMANT,
                benefit: BenefitType::parse("COMPENSATION").unwrap(),
                contentions: vec![
                    NewContention {
                        id: CONTENTION_KNEE,
                        description: text("Left knee strain, in service 2009"),
                    },
                    NewContention {
                        id: CONTENTION_HEARING,
                        description: text("Tinnitus"),
                    },
                ],
                entry: web_entry_by_claimant(),
                appeal_of: None,
            },
        ),
        (
            "appeal_via_integrator_by_representative",
            E::ClaimSubmitted {
                case_id: APPEAL_CASE,
                claimant: CLAIMANT,
                benefit: BenefitType::parse("COMPENSATION").unwrap(),
                contentions: vec![NewContention {
                    id: CONTENTION_HEARING,
                    description: text("Tinnitus (appeal of denial)"),
                }],
                entry: partner_entry_by_representative(),
                appeal_of: Some(AppealLink {
                    original_case: ORIGINAL_CASE,
                    contention: CONTENTION_HEARING,
                }),
            },
        ),
        (
            "mail_duplicate_by_staff",
            E::ChannelEntryAttached {
                entry: mail_duplicate_by_staff(),
            },
        ),
        (
            "in_person_not_duplicate",
            E::ChannelEntryAttached {
                entry: counter_entry_by_staff(),
            },
        ),
        (
            "earlier_receipt",
            E::ClaimDateChanged {
                from: at(2024, 3, 4, 14, 5, 0),
                to: at(2024, 2, 27, 0, 0, 0),
                reason: ClaimDateReason::EarlierReceipt(ENTRY_MAIL),
            },
        ),
        (
            "for_request_by_mail",
            E::DocumentAttached {
                document: Document {
                    id: DOC_MEDICAL,
                    document_type: DocumentType::parse("MEDICAL_RECORD").unwrap(),
                    pages: 14,
                    checksum: Checksum::parse(CHECKSUM).unwrap(),
                    storage_ref: StorageRef::parse(
                        "s3://omnicase-docs/va-east/2024/03/0d0c0002.pdf",
                    )
                    .unwrap(),
                    received_at: at(2024, 3, 20, 11, 0, 0),
                    channel: Channel::MailScan,
                },
                request: Some(REQUEST_RECORDS),
                filed_as: DocumentFiling::Evidence,
            },
        ),
        (
            "unsolicited_via_integrator",
            E::DocumentAttached {
                document: Document {
                    id: DOC_DD214,
                    document_type: DocumentType::parse("DD214").unwrap(),
                    pages: 2,
                    checksum: Checksum::parse(CHECKSUM).unwrap(),
                    storage_ref: StorageRef::parse("dms:PARTNER/2024/000042").unwrap(),
                    received_at: at(2024, 3, 5, 16, 45, 30),
                    channel: channel("PARTNER_API"),
                },
                request: None,
                filed_as: DocumentFiling::Evidence,
            },
        ),
        (
            "claim_form_with_its_claim",
            E::DocumentAttached {
                document: Document {
                    id: DOC_MEDICAL,
                    document_type: DocumentType::parse("CLAIM_FORM").unwrap(),
                    pages: 4,
                    checksum: Checksum::parse(CHECKSUM).unwrap(),
                    storage_ref: StorageRef::parse("s3://omnicase-docs/va-east/2024/03/form.pdf")
                        .unwrap(),
                    received_at: at(2024, 3, 4, 14, 5, 0),
                    channel: Channel::Web,
                },
                request: None,
                filed_as: DocumentFiling::WithSubmission,
            },
        ),
        (
            "to_request",
            E::DocumentLinked {
                document: DOC_DD214,
                request: REQUEST_RECORDS,
            },
        ),
        (
            "not_evidence",
            E::DocumentNeedsNoLink {
                document: DOC_DD214,
                reason: text("A copy of the claim form, already on file"),
            },
        ),
        (
            "in_preparation_for_decision",
            E::LateEvidenceFlagged {
                document: DOC_MEDICAL,
                phase: Phase::PreparationForDecision,
            },
        ),
        (
            "reviewed",
            E::LateEvidenceAcknowledged {
                document: DOC_MEDICAL,
            },
        ),
        (
            "standard_from_others_suppressed",
            E::EvidenceRequested {
                request: NewEvidenceRequest {
                    id: REQUEST_RECORDS,
                    kind: RequestKind::Standard,
                    description: text("Private treatment records, Dr. Osei clinic"),
                    needed_from_claimant: false,
                    suspense_date: date(2024, 4, 19),
                    suppressed: true,
                },
            },
        ),
        (
            "notice_5103_from_claimant",
            E::EvidenceRequested {
                request: NewEvidenceRequest {
                    id: REQUEST_5103,
                    kind: RequestKind::Notice5103,
                    description: text("Evidence notice: tell us about any evidence we should get"),
                    needed_from_claimant: true,
                    suspense_date: date(2024, 4, 3),
                    suppressed: false,
                },
            },
        ),
        (
            "submitted",
            E::EvidenceStatusChanged {
                request: REQUEST_RECORDS,
                from: RequestStatus::NeededFromOthers,
                to: RequestStatus::SubmittedAwaitingReview,
                reason: None,
            },
        ),
        (
            "closed",
            E::EvidenceStatusChanged {
                request: REQUEST_RECORDS,
                from: RequestStatus::NeededFromOthers,
                to: RequestStatus::NoLongerRequired,
                reason: Some(text("The claim was withdrawn.")),
            },
        ),
        (
            "received",
            E::Waiver5103Submitted {
                received_at: at(2024, 3, 8, 13, 20, 0),
            },
        ),
        (
            "past_suspense",
            E::RequestMarkedOverdue {
                request: REQUEST_RECORDS,
                suspense_date: date(2024, 4, 19),
            },
        ),
        (
            "issued",
            E::ReminderIssued {
                request: REQUEST_RECORDS,
            },
        ),
        (
            "forward_without_reason",
            E::PhaseChanged {
                from: Phase::ClaimReceived,
                to: Phase::UnderReview,
                back: false,
                reason: None,
            },
        ),
        (
            "back_with_reason",
            E::PhaseChanged {
                from: Phase::ReviewOfEvidence,
                to: Phase::GatheringOfEvidence,
                back: true,
                reason: Some(text("We need one more medical record before deciding")),
            },
        ),
        (
            "claim_received",
            E::EstimateChanged {
                estimate: Estimate {
                    earliest: date(2024, 6, 3),
                    latest: date(2024, 7, 15),
                },
                reason: EstimateReason::ClaimReceived,
            },
        ),
        (
            "phase_changed",
            E::EstimateChanged {
                estimate: Estimate {
                    earliest: date(2024, 5, 20),
                    latest: date(2024, 6, 28),
                },
                reason: EstimateReason::PhaseChanged(Phase::PreparationForDecision),
            },
        ),
        (
            "phase_moved_back",
            E::EstimateChanged {
                estimate: Estimate {
                    earliest: date(2024, 6, 10),
                    latest: date(2024, 8, 1),
                },
                reason: EstimateReason::PhaseMovedBack(Phase::GatheringOfEvidence),
            },
        ),
        (
            "first",
            E::CaseAssigned {
                assignee: actor("staff:k.whitfield"),
                previous: None,
            },
        ),
        (
            "reassigned",
            E::CaseAssigned {
                assignee: actor("staff:p.nguyen"),
                previous: Some(actor("staff:k.whitfield")),
            },
        ),
        (
            "released",
            E::CaseUnassigned {
                previous: actor("staff:p.nguyen"),
            },
        ),
        (
            "intake_team",
            E::CaseRoutedToTeam {
                team: TeamCode::parse("intake-east").unwrap(),
            },
        ),
        (
            "inbound_call_with_reason_and_follow_up",
            E::ContactRecorded {
                contact: Contact {
                    id: CONTACT_CALL,
                    kind: ContactKind::Inbound,
                    channel: Channel::CallCenter,
                    agent: actor("staff:callcenter.j.abara"),
                    reason: Some(text("Status inquiry")),
                    summary: text(
                        "Caller asked when the exam will be scheduled.\nExplained next steps.",
                    ),
                    follow_up: Some(text("Call back after exam request is sent")),
                    occurred_at: at(2024, 3, 12, 15, 42, 9),
                },
            },
        ),
        (
            "note_without_reason_or_follow_up",
            E::ContactRecorded {
                contact: Contact {
                    id: CONTACT_NOTE,
                    kind: ContactKind::Note,
                    channel: Channel::InPerson,
                    agent: actor("staff:r.tanaka"),
                    reason: None,
                    summary: text("Original discharge papers shown at the counter and returned"),
                    follow_up: None,
                    occurred_at: at(2024, 3, 7, 10, 40, 0),
                },
            },
        ),
        (
            "mixed_adjudications",
            E::DecisionProposed {
                adjudications: vec![
                    (CONTENTION_KNEE, Adjudication::Granted),
                    (CONTENTION_HEARING, Adjudication::Denied),
                ],
                proposer: actor("staff:p.nguyen"),
            },
        ),
        (
            "partial",
            E::DecisionApproved {
                approver: actor("staff:supervisor.l.brandt"),
                outcome: ClaimOutcome::Partial,
            },
        ),
        (
            "with_reason",
            E::DecisionReturned {
                approver: actor("staff:supervisor.l.brandt"),
                reason: text("Hearing exam results are not addressed in the rationale"),
            },
        ),
        (
            "mailed",
            E::DecisionLetterMailed {
                mailed_at: at(2024, 6, 21, 17, 0, 0),
            },
        ),
        (
            "with_reason",
            E::CaseWithdrawn {
                reason: Some(text("Claimant asked to withdraw by phone")),
            },
        ),
        ("without_reason", E::CaseWithdrawn { reason: None }),
        (
            "into_survivor",
            E::CaseMerged {
                survivor: SURVIVOR_CASE,
            },
        ),
        (
            "on_contention",
            E::AppealFiled {
                contention: CONTENTION_HEARING,
                appeal_case: APPEAL_CASE,
            },
        ),
        (
            "concluded",
            E::AppealConcluded {
                appeal_case: APPEAL_CASE,
            },
        ),
    ]
}

// The sample claimant's personal data; none of it may appear outside `pii`.
const FILE_NUMBER: &str = "796043215";
const IDENTITY_NUMBER: &str = "512-34-9876";
const IDENTITY_DIGITS: &str = "512349876";
const GIVEN_NAME: &str = "Adaeze";
const FAMILY_NAME: &str = "Okonkwo-Reyes";
const POSTCODE: &str = "97204-3120";
const ADDRESS_1: &str = "1120 SW Fifth Avenue";
const ADDRESS_2: &str = "Apartment 7B";
const BIRTH_DATE: &str = "1971-08-23";

fn full_pii() -> ClaimantPii {
    ClaimantPii {
        file_number: FileNumber::parse(FILE_NUMBER).unwrap(),
        identity_number: Some(IdentityNumber::parse(IDENTITY_NUMBER).unwrap()),
        given_name: text(GIVEN_NAME),
        family_name: text(FAMILY_NAME),
        birth_date: date(1971, 8, 23),
        postcode: text(POSTCODE),
        address_lines: vec![text(ADDRESS_1), text(ADDRESS_2)],
    }
}

/// The same person before the correction: no identity number, no address.
fn minimal_pii() -> ClaimantPii {
    ClaimantPii {
        file_number: FileNumber::parse(FILE_NUMBER).unwrap(),
        identity_number: None,
        given_name: text(GIVEN_NAME),
        family_name: text("Okonkwo"),
        birth_date: date(1971, 8, 23),
        postcode: text(POSTCODE),
        address_lines: Vec::new(),
    }
}

/// `(label, event)`; the snapshot is named `claimant__{type}__{label}`.
fn claimant_samples() -> Vec<(&'static str, ClaimantEvent)> {
    use ClaimantEvent as E;
    vec![
        (
            "minimal_pii",
            E::ClaimantRegistered {
                id: CLAIMANT,
                pii: minimal_pii(),
            },
        ),
        (
            "full_pii",
            E::ClaimantRegistered {
                id: CLAIMANT,
                pii: full_pii(),
            },
        ),
        ("full_pii", E::PiiCorrected { pii: full_pii() }),
        (
            "set",
            E::RepresentativeChanged {
                representative: Some(Representative {
                    actor: actor("rep:dav-ny-042"),
                    poa_code: text("083"),
                }),
            },
        ),
        (
            "cleared",
            E::RepresentativeChanged {
                representative: None,
            },
        ),
        (
            "set",
            E::GuardianChanged {
                guardian: Some(Guardian {
                    actor: actor("citizen:guardian-5521"),
                    relationship: text("Court-appointed fiduciary"),
                }),
            },
        ),
        ("cleared", E::GuardianChanged { guardian: None }),
        (
            "set",
            E::FlagsChanged {
                flags: Flags {
                    safety: vec![text("Threatened staff by phone, 2023")],
                    accessibility: vec![text("Large print"), text("Interpreter: Igbo")],
                },
            },
        ),
        (
            "cleared",
            E::FlagsChanged {
                flags: Flags::default(),
            },
        ),
        (
            "agency_employee",
            E::RestrictionChanged {
                restriction: Some(Restriction::AgencyEmployee { office: None }),
            },
        ),
        (
            "protected_address",
            E::RestrictionChanged {
                restriction: Some(Restriction::ProtectedAddress),
            },
        ),
        ("cleared", E::RestrictionChanged { restriction: None }),
    ]
}

/// Every case event type. The exhaustive match makes adding a variant a
/// compile error here until a sample (and so a snapshot) is added for it.
fn case_type(event: &CaseEvent) -> &'static str {
    use CaseEvent as E;
    match event {
        E::ClaimSubmitted { .. } => "ClaimSubmitted",
        E::ChannelEntryAttached { .. } => "ChannelEntryAttached",
        E::ClaimDateChanged { .. } => "ClaimDateChanged",
        E::DocumentAttached { .. } => "DocumentAttached",
        E::DocumentLinked { .. } => "DocumentLinked",
        E::DocumentNeedsNoLink { .. } => "DocumentNeedsNoLink",
        E::LateEvidenceFlagged { .. } => "LateEvidenceFlagged",
        E::LateEvidenceAcknowledged { .. } => "LateEvidenceAcknowledged",
        E::EvidenceRequested { .. } => "EvidenceRequested",
        E::EvidenceStatusChanged { .. } => "EvidenceStatusChanged",
        E::Waiver5103Submitted { .. } => "Waiver5103Submitted",
        E::RequestMarkedOverdue { .. } => "RequestMarkedOverdue",
        E::ReminderIssued { .. } => "ReminderIssued",
        E::PhaseChanged { .. } => "PhaseChanged",
        E::EstimateChanged { .. } => "EstimateChanged",
        E::CaseAssigned { .. } => "CaseAssigned",
        E::CaseUnassigned { .. } => "CaseUnassigned",
        E::CaseRoutedToTeam { .. } => "CaseRoutedToTeam",
        E::ContactRecorded { .. } => "ContactRecorded",
        E::DecisionProposed { .. } => "DecisionProposed",
        E::DecisionApproved { .. } => "DecisionApproved",
        E::DecisionReturned { .. } => "DecisionReturned",
        E::DecisionLetterMailed { .. } => "DecisionLetterMailed",
        E::CaseWithdrawn { .. } => "CaseWithdrawn",
        E::CaseMerged { .. } => "CaseMerged",
        E::AppealFiled { .. } => "AppealFiled",
        E::AppealConcluded { .. } => "AppealConcluded",
    }
}

const CASE_TYPES: [&str; 27] = [
    "ClaimSubmitted",
    "ChannelEntryAttached",
    "ClaimDateChanged",
    "DocumentAttached",
    "DocumentLinked",
    "DocumentNeedsNoLink",
    "LateEvidenceFlagged",
    "LateEvidenceAcknowledged",
    "EvidenceRequested",
    "EvidenceStatusChanged",
    "Waiver5103Submitted",
    "RequestMarkedOverdue",
    "ReminderIssued",
    "PhaseChanged",
    "EstimateChanged",
    "CaseAssigned",
    "CaseUnassigned",
    "CaseRoutedToTeam",
    "ContactRecorded",
    "DecisionProposed",
    "DecisionApproved",
    "DecisionReturned",
    "DecisionLetterMailed",
    "CaseWithdrawn",
    "CaseMerged",
    "AppealFiled",
    "AppealConcluded",
];

fn claimant_type(event: &ClaimantEvent) -> &'static str {
    use ClaimantEvent as E;
    match event {
        E::ClaimantRegistered { .. } => "ClaimantRegistered",
        E::PiiCorrected { .. } => "PiiCorrected",
        E::RepresentativeChanged { .. } => "RepresentativeChanged",
        E::GuardianChanged { .. } => "GuardianChanged",
        E::FlagsChanged { .. } => "FlagsChanged",
        E::RestrictionChanged { .. } => "RestrictionChanged",
    }
}

const CLAIMANT_TYPES: [&str; 6] = [
    "ClaimantRegistered",
    "PiiCorrected",
    "RepresentativeChanged",
    "GuardianChanged",
    "FlagsChanged",
    "RestrictionChanged",
];

// ================================================================== helpers

fn parse(payload: &str) -> Value {
    serde_json::from_str(payload).expect("payload is JSON")
}

fn pretty_json(payload: &str) -> String {
    serde_json::to_string_pretty(&parse(payload)).expect("a Value always serializes")
}

fn snapshot_body(enc: &EncodedEvent) -> String {
    format!(
        "{} v{}\n{}",
        enc.event_type,
        enc.schema_version,
        pretty_json(&enc.payload)
    )
}

/// Every JSON value inside `v`, with its path, for the no-panic sweep.
fn paths(v: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(PathStep::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// `Some(new)` replaces the value at `path`; `None` removes it.
fn edited(v: &Value, path: &[PathStep], new: Option<&Value>) -> Value {
    let mut out = v.clone();
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cursor = &mut out;
    for step in parents {
        cursor = match step {
            PathStep::Key(k) => cursor.get_mut(k.as_str()).expect("path exists"),
            PathStep::Index(i) => cursor.get_mut(*i).expect("path exists"),
        };
    }
    match (last, new) {
        (PathStep::Key(k), Some(n)) => cursor[k.as_str()] = n.clone(),
        (PathStep::Key(k), None) => {
            cursor.as_object_mut().expect("object").remove(k.as_str());
        }
        (PathStep::Index(i), Some(n)) => cursor[*i] = n.clone(),
        (PathStep::Index(i), None) => {
            cursor.as_array_mut().expect("array").remove(*i);
        }
    }
    out
}

/// The encoded sample of `event_type` labelled `label`, as a JSON value.
fn case_payload(event_type: &str, label: &str) -> Value {
    let (_, event) = case_samples()
        .into_iter()
        .find(|(l, e)| *l == label && e.name() == event_type)
        .expect("sample exists");
    parse(&encode_case(&event).payload)
}

fn claimant_payload(event_type: &str, label: &str) -> Value {
    let (_, event) = claimant_samples()
        .into_iter()
        .find(|(l, e)| *l == label && e.name() == event_type)
        .expect("sample exists");
    parse(&encode_claimant(&event).payload)
}

fn decode_case_value(event_type: &str, payload: &Value) -> Result<CaseEvent, DecodeError> {
    decode_case(event_type, CURRENT_SCHEMA_VERSION, &payload.to_string())
}

fn decode_claimant_value(event_type: &str, payload: &Value) -> Result<ClaimantEvent, DecodeError> {
    decode_claimant(event_type, CURRENT_SCHEMA_VERSION, &payload.to_string())
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, DecodeError>, field: &str) {
    match result {
        Err(DecodeError::Invalid(e)) => assert_eq!(e.field, field, "{e}"),
        other => panic!("expected DecodeError::Invalid({field}), got {other:?}"),
    }
}

#[track_caller]
fn assert_malformed<T: std::fmt::Debug>(result: Result<T, DecodeError>, event_type: &str) {
    match result {
        Err(DecodeError::Malformed {
            event_type: got, ..
        }) => assert_eq!(got, event_type),
        other => panic!("expected DecodeError::Malformed for {event_type}, got {other:?}"),
    }
}

// ================================================================ coverage

#[test]
fn samples_cover_every_event_type_and_names_are_stable() {
    let case: BTreeSet<_> = case_samples()
        .iter()
        .map(|(_, e)| {
            assert_eq!(e.name(), case_type(e), "CaseEvent::name changed");
            case_type(e)
        })
        .collect();
    assert_eq!(case, CASE_TYPES.into_iter().collect::<BTreeSet<_>>());

    let claimant: BTreeSet<_> = claimant_samples()
        .iter()
        .map(|(_, e)| {
            assert_eq!(e.name(), claimant_type(e), "ClaimantEvent::name changed");
            claimant_type(e)
        })
        .collect();
    assert_eq!(
        claimant,
        CLAIMANT_TYPES.into_iter().collect::<BTreeSet<_>>()
    );

    // Labels are unique per type, so snapshot names are unique.
    let mut names = BTreeSet::new();
    for (label, e) in case_samples() {
        assert!(names.insert(format!("case__{}__{label}", e.name())));
    }
    for (label, e) in claimant_samples() {
        assert!(names.insert(format!("claimant__{}__{label}", e.name())));
    }
}

/// `filedAs` came later without a version bump: a stored document event
/// without it is read as filed with its submission (not put in the
/// association queue on an upgrade), and an unknown value is refused.
#[test]
fn a_document_event_without_filed_as_is_read_as_filed_with_its_submission() {
    let mut payload = case_payload("DocumentAttached", "unsolicited_via_integrator");
    assert_eq!(payload["filedAs"], "EVIDENCE");
    payload.as_object_mut().expect("object").remove("filedAs");
    match decode_case_value("DocumentAttached", &payload) {
        Ok(CaseEvent::DocumentAttached { filed_as, .. }) => {
            assert_eq!(filed_as, DocumentFiling::WithSubmission)
        }
        other => panic!("expected a DocumentAttached, got {other:?}"),
    }
    payload["filedAs"] = "SOMETIMES".into();
    assert_invalid(decode_case_value("DocumentAttached", &payload), "filedAs");
}

#[test]
fn everything_is_written_at_the_current_schema_version_with_no_upcasters() {
    assert_eq!(CURRENT_SCHEMA_VERSION, 1);
    assert!(UPCASTERS.is_empty());
    for (_, e) in case_samples() {
        let enc = encode_case(&e);
        assert_eq!(enc.event_type, e.name());
        assert_eq!(enc.schema_version, CURRENT_SCHEMA_VERSION);
    }
    for (_, e) in claimant_samples() {
        let enc = encode_claimant(&e);
        assert_eq!(enc.event_type, e.name());
        assert_eq!(enc.schema_version, CURRENT_SCHEMA_VERSION);
    }
}

// =============================================================== snapshots

#[test]
fn case_event_wire_format() {
    for (label, event) in case_samples() {
        let enc = encode_case(&event);
        insta::assert_snapshot!(
            format!("case__{}__{label}", enc.event_type),
            snapshot_body(&enc)
        );
    }
}

#[test]
fn claimant_event_wire_format() {
    for (label, event) in claimant_samples() {
        let enc = encode_claimant(&event);
        insta::assert_snapshot!(
            format!("claimant__{}__{label}", enc.event_type),
            snapshot_body(&enc)
        );
    }
}

#[test]
fn payloads_are_compact_json_objects_without_the_type_tag() {
    let encoded = case_samples()
        .into_iter()
        .map(|(_, e)| encode_case(&e))
        .chain(
            claimant_samples()
                .into_iter()
                .map(|(_, e)| encode_claimant(&e)),
        );
    for enc in encoded {
        let value = parse(&enc.payload);
        let map = value.as_object().expect("payload is an object");
        // Only a withdrawal without a reason has nothing to say (`{}`); an
        // empty object anywhere else would mean serialization failed.
        assert_eq!(
            map.is_empty(),
            enc.event_type == "CaseWithdrawn" && !map.contains_key("reason"),
            "{} payload: {}",
            enc.event_type,
            enc.payload
        );
        assert!(
            !map.contains_key("type") && !map.contains_key("payload"),
            "{} payload still carries the envelope",
            enc.event_type
        );
        // Stored and hashed byte for byte: no whitespace, canonical form.
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            enc.payload,
            "{} payload is not compact",
            enc.event_type
        );
    }
}

// ============================================================== round trips

#[test]
fn every_case_event_round_trips() {
    for (label, event) in case_samples() {
        let enc = encode_case(&event);
        let decoded = decode_case(enc.event_type, enc.schema_version, &enc.payload)
            .unwrap_or_else(|e| panic!("{} {label}: {e}", enc.event_type));
        assert_eq!(decoded, event, "{} {label}", enc.event_type);
        // Re-encoding yields the same bytes (stable hashes).
        assert_eq!(encode_case(&decoded), enc, "{} {label}", enc.event_type);
    }
}

#[test]
fn every_claimant_event_round_trips() {
    for (label, event) in claimant_samples() {
        let enc = encode_claimant(&event);
        let decoded = decode_claimant(enc.event_type, enc.schema_version, &enc.payload)
            .unwrap_or_else(|e| panic!("{} {label}: {e}", enc.event_type));
        assert_eq!(decoded, event, "{} {label}", enc.event_type);
        assert_eq!(encode_claimant(&decoded), enc, "{} {label}", enc.event_type);
    }
}

#[test]
fn every_phase_request_status_and_code_round_trips() {
    // The samples pin one shape per event; these sweep every enum value
    // the codec maps to a code by hand.
    let mut events = Vec::new();
    for from in Phase::ALL {
        for to in Phase::ALL {
            events.push(CaseEvent::PhaseChanged {
                from,
                to,
                back: to < from,
                reason: None,
            });
        }
        events.push(CaseEvent::EstimateChanged {
            estimate: Estimate {
                earliest: date(2024, 1, 1),
                latest: date(2024, 2, 1),
            },
            reason: EstimateReason::PhaseChanged(from),
        });
        events.push(CaseEvent::EstimateChanged {
            estimate: Estimate {
                earliest: date(2024, 1, 1),
                latest: date(2024, 2, 1),
            },
            reason: EstimateReason::PhaseMovedBack(from),
        });
    }
    for from in RequestStatus::ALL {
        for to in RequestStatus::ALL {
            events.push(CaseEvent::EvidenceStatusChanged {
                request: REQUEST_RECORDS,
                from,
                to,
                reason: (to == RequestStatus::NoLongerRequired)
                    .then(|| text("A decision was made.")),
            });
        }
    }
    for a in [
        Adjudication::Granted,
        Adjudication::Denied,
        Adjudication::Pending,
    ] {
        events.push(CaseEvent::DecisionProposed {
            adjudications: vec![(CONTENTION_KNEE, a)],
            proposer: actor("staff:p.nguyen"),
        });
    }
    for outcome in [
        ClaimOutcome::Approved,
        ClaimOutcome::Partial,
        ClaimOutcome::Denied,
        ClaimOutcome::Pending,
    ] {
        events.push(CaseEvent::DecisionApproved {
            approver: actor("staff:supervisor.l.brandt"),
            outcome,
        });
    }
    for kind in [
        ContactKind::Inbound,
        ContactKind::Outbound,
        ContactKind::Note,
    ] {
        for channel in [
            Channel::Web,
            Channel::MailScan,
            Channel::InPerson,
            Channel::CallCenter,
            self::channel("PARTNER_API"),
        ] {
            events.push(CaseEvent::ContactRecorded {
                contact: Contact {
                    id: CONTACT_CALL,
                    kind,
                    channel,
                    agent: actor("staff:callcenter.j.abara"),
                    reason: None,
                    summary: text("Summary"),
                    follow_up: None,
                    occurred_at: at(2024, 3, 12, 15, 42, 9),
                },
            });
        }
    }
    // Sub-second timestamps survive.
    events.push(CaseEvent::Waiver5103Submitted {
        received_at: at(2024, 3, 8, 13, 20, 0) + chrono::Duration::nanoseconds(123_456_789),
    });
    for event in events {
        let enc = encode_case(&event);
        assert_eq!(
            decode_case(enc.event_type, enc.schema_version, &enc.payload).ok(),
            Some(event.clone()),
            "{}",
            enc.payload
        );
    }
}

// ============================================================== robustness

#[test]
fn unknown_event_types_are_refused() {
    for event_type in ["CaseExploded", "", "claimSubmitted", "CLAIM_SUBMITTED"] {
        match decode_case(event_type, 1, "{}") {
            Err(DecodeError::UnknownType(t)) => assert_eq!(t, event_type),
            other => panic!("{event_type:?}: expected UnknownType, got {other:?}"),
        }
        match decode_claimant(event_type, 1, "{}") {
            Err(DecodeError::UnknownType(t)) => assert_eq!(t, event_type),
            other => panic!("{event_type:?}: expected UnknownType, got {other:?}"),
        }
    }
    // Each aggregate's decoder knows only its own types, even with a valid payload.
    for (_, event) in claimant_samples() {
        let enc = encode_claimant(&event);
        assert!(
            matches!(
                decode_case(enc.event_type, enc.schema_version, &enc.payload),
                Err(DecodeError::UnknownType(_))
            ),
            "{} decoded as a case event",
            enc.event_type
        );
    }
    for (_, event) in case_samples() {
        let enc = encode_case(&event);
        assert!(
            matches!(
                decode_claimant(enc.event_type, enc.schema_version, &enc.payload),
                Err(DecodeError::UnknownType(_))
            ),
            "{} decoded as a claimant event",
            enc.event_type
        );
    }
}

#[test]
fn future_schema_versions_are_refused() {
    let check = |result: Result<(), DecodeError>, event_type: &str, version: i32| match result {
        Err(DecodeError::FutureVersion {
            event_type: t,
            version: v,
        }) => {
            assert_eq!((t.as_str(), v), (event_type, version));
        }
        other => panic!("{event_type} v{version}: expected FutureVersion, got {other:?}"),
    };
    for version in [CURRENT_SCHEMA_VERSION + 1, 2, 99, i32::MAX] {
        for (_, event) in case_samples() {
            let enc = encode_case(&event);
            check(
                decode_case(enc.event_type, version, &enc.payload).map(drop),
                enc.event_type,
                version,
            );
        }
        for (_, event) in claimant_samples() {
            let enc = encode_claimant(&event);
            check(
                decode_claimant(enc.event_type, version, &enc.payload).map(drop),
                enc.event_type,
                version,
            );
        }
    }
}

#[test]
fn malformed_json_is_refused() {
    for payload in [
        "",
        "not json",
        "{",
        "{\"caseId\":",
        "[1, 2]",
        "null",
        "42",
        "\"text\"",
    ] {
        for event_type in CASE_TYPES {
            assert_malformed(decode_case(event_type, 1, payload), event_type);
        }
        for event_type in CLAIMANT_TYPES {
            assert_malformed(decode_claimant(event_type, 1, payload), event_type);
        }
    }
}

#[test]
fn wrong_field_types_and_missing_fields_are_malformed() {
    let submitted = case_payload("ClaimSubmitted", "web_by_claimant");
    let cases: Vec<(&str, Value)> = vec![
        (
            "ClaimSubmitted",
            edited(&submitted, &[k("caseId")], Some(&json!("not-a-uuid"))),
        ),
        ("ClaimSubmitted", edited(&submitted, &[k("caseId")], None)),
        (
            "ClaimSubmitted",
            edited(&submitted, &[k("contentions")], Some(&json!({}))),
        ),
        (
            "ClaimSubmitted",
            edited(
                &submitted,
                &[k("entry"), k("receivedAt")],
                Some(&json!("yesterday")),
            ),
        ),
        (
            "ClaimSubmitted",
            edited(
                &submitted,
                &[k("entry"), k("submittedBy")],
                Some(&json!("CLAIMANT")),
            ),
        ),
        (
            "ClaimSubmitted",
            edited(
                &submitted,
                &[k("entry"), k("submittedBy")],
                Some(&json!({"kind": "STAFF"})),
            ),
        ),
        (
            "DocumentAttached",
            edited(
                &case_payload("DocumentAttached", "for_request_by_mail"),
                &[k("document"), k("pages")],
                Some(&json!(-1)),
            ),
        ),
        (
            "DocumentAttached",
            edited(
                &case_payload("DocumentAttached", "for_request_by_mail"),
                &[k("document"), k("pages")],
                Some(&json!("fourteen")),
            ),
        ),
        (
            "DocumentAttached",
            edited(
                &case_payload("DocumentAttached", "for_request_by_mail"),
                &[k("document"), k("pages")],
                Some(&json!(u64::from(u32::MAX) + 1)),
            ),
        ),
        (
            "PhaseChanged",
            edited(
                &case_payload("PhaseChanged", "back_with_reason"),
                &[k("back")],
                Some(&json!("yes")),
            ),
        ),
        (
            "RequestMarkedOverdue",
            edited(
                &case_payload("RequestMarkedOverdue", "past_suspense"),
                &[k("suspenseDate")],
                Some(&json!("2024-13-01")),
            ),
        ),
        (
            "DecisionProposed",
            edited(
                &case_payload("DecisionProposed", "mixed_adjudications"),
                &[k("adjudications"), PathStep::Index(0)],
                Some(&json!("GRANTED")),
            ),
        ),
        (
            "CaseAssigned",
            edited(
                &case_payload("CaseAssigned", "reassigned"),
                &[k("assignee")],
                Some(&json!(7)),
            ),
        ),
    ];
    for (event_type, payload) in cases {
        assert_malformed(decode_case_value(event_type, &payload), event_type);
    }

    let registered = claimant_payload("ClaimantRegistered", "full_pii");
    let cases: Vec<(&str, Value)> = vec![
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("birthDate")],
                Some(&json!("23/08/1971")),
            ),
        ),
        (
            "ClaimantRegistered",
            edited(&registered, &[k("pii"), k("givenName")], None),
        ),
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("fileNumber")],
                Some(&json!(796_043_215)),
            ),
        ),
        (
            "FlagsChanged",
            edited(
                &claimant_payload("FlagsChanged", "set"),
                &[k("safety")],
                Some(&json!("Threatened staff")),
            ),
        ),
        (
            "RepresentativeChanged",
            edited(
                &claimant_payload("RepresentativeChanged", "set"),
                &[k("representative"), k("poaCode")],
                None,
            ),
        ),
    ];
    for (event_type, payload) in cases {
        assert_malformed(decode_claimant_value(event_type, &payload), event_type);
    }
}

fn k(key: &str) -> PathStep {
    PathStep::Key(key.to_owned())
}

#[test]
fn invalid_values_are_refused_with_the_field_named() {
    let submitted = case_payload("ClaimSubmitted", "web_by_claimant");
    let attached = case_payload("DocumentAttached", "for_request_by_mail");
    let case_cases: Vec<(&str, Value, &str)> = vec![
        (
            "ClaimSubmitted",
            edited(
                &submitted,
                &[k("benefitType")],
                Some(&json!("compensation")),
            ),
            "benefitType",
        ),
        (
            "ClaimSubmitted",
            edited(&submitted, &[k("entry"), k("channel")], Some(&json!("web"))),
            "channel",
        ),
        (
            "ClaimSubmitted",
            edited(&submitted, &[k("entry"), k("externalId")], Some(&json!(""))),
            "externalId",
        ),
        (
            "ClaimSubmitted",
            edited(
                &submitted,
                &[k("entry"), k("submittedBy")],
                Some(&json!({"kind": "STAFF", "actor": "two words"})),
            ),
            "actor",
        ),
        (
            "ClaimSubmitted",
            edited(
                &submitted,
                &[k("contentions"), PathStep::Index(0), k("description")],
                Some(&json!("   ")),
            ),
            "description",
        ),
        (
            "DocumentAttached",
            edited(
                &attached,
                &[k("document"), k("checksum")],
                Some(&json!(
                    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
                )),
            ),
            "checksum",
        ),
        (
            "DocumentAttached",
            edited(
                &attached,
                &[k("document"), k("checksum")],
                Some(&json!("md5:d41d8cd98f00b204")),
            ),
            "checksum",
        ),
        (
            "DocumentAttached",
            edited(
                &attached,
                &[k("document"), k("documentType")],
                Some(&json!("dd-214")),
            ),
            "documentType",
        ),
        (
            "DocumentAttached",
            edited(
                &attached,
                &[k("document"), k("storageRef")],
                Some(&json!(" ")),
            ),
            "storageRef",
        ),
        (
            "ClaimDateChanged",
            edited(
                &case_payload("ClaimDateChanged", "earlier_receipt"),
                &[k("reason")],
                Some(&json!("LATER_RECEIPT")),
            ),
            "reason",
        ),
        (
            "EvidenceRequested",
            edited(
                &case_payload("EvidenceRequested", "notice_5103_from_claimant"),
                &[k("request"), k("kind")],
                Some(&json!("NOTICE_9999")),
            ),
            "kind",
        ),
        (
            "EvidenceRequested",
            edited(
                &case_payload("EvidenceRequested", "notice_5103_from_claimant"),
                &[k("request"), k("neededFrom")],
                Some(&json!("YOU")),
            ),
            "neededFrom",
        ),
        (
            "EvidenceStatusChanged",
            edited(
                &case_payload("EvidenceStatusChanged", "submitted"),
                &[k("to")],
                Some(&json!("LOST")),
            ),
            "requestStatus",
        ),
        (
            "PhaseChanged",
            edited(
                &case_payload("PhaseChanged", "forward_without_reason"),
                &[k("to")],
                Some(&json!("PHASE_9")),
            ),
            "phase",
        ),
        (
            "PhaseChanged",
            edited(
                &case_payload("PhaseChanged", "forward_without_reason"),
                &[k("from")],
                Some(&json!("claim_received")),
            ),
            "phase",
        ),
        (
            "EstimateChanged",
            edited(
                &case_payload("EstimateChanged", "phase_changed"),
                &[k("reason"), k("phase")],
                Some(&json!("DONE")),
            ),
            "phase",
        ),
        (
            "CaseRoutedToTeam",
            edited(
                &case_payload("CaseRoutedToTeam", "intake_team"),
                &[k("team")],
                Some(&json!("Intake East")),
            ),
            "team",
        ),
        (
            "ContactRecorded",
            edited(
                &case_payload("ContactRecorded", "note_without_reason_or_follow_up"),
                &[k("contact"), k("kind")],
                Some(&json!("EMAIL")),
            ),
            "kind",
        ),
        (
            "ContactRecorded",
            edited(
                &case_payload("ContactRecorded", "note_without_reason_or_follow_up"),
                &[k("contact"), k("summary")],
                Some(&json!("bell \u{0007}")),
            ),
            "summary",
        ),
        (
            "ContactRecorded",
            edited(
                &case_payload("ContactRecorded", "note_without_reason_or_follow_up"),
                &[k("contact"), k("followUp")],
                Some(&json!("")),
            ),
            "followUp",
        ),
        (
            "DecisionProposed",
            edited(
                &case_payload("DecisionProposed", "mixed_adjudications"),
                &[k("adjudications"), PathStep::Index(1), k("adjudication")],
                Some(&json!("MAYBE")),
            ),
            "adjudication",
        ),
        (
            "DecisionApproved",
            edited(
                &case_payload("DecisionApproved", "partial"),
                &[k("outcome")],
                Some(&json!("PARTIALLY")),
            ),
            "outcome",
        ),
        (
            "DecisionReturned",
            edited(
                &case_payload("DecisionReturned", "with_reason"),
                &[k("reason")],
                Some(&json!("x".repeat(Text::MAX_CHARS + 1))),
            ),
            "reason",
        ),
        (
            "CaseUnassigned",
            edited(
                &case_payload("CaseUnassigned", "released"),
                &[k("previous")],
                Some(&json!("")),
            ),
            "actor",
        ),
    ];
    for (event_type, payload, field) in case_cases {
        assert_invalid(decode_case_value(event_type, &payload), field);
    }

    let registered = claimant_payload("ClaimantRegistered", "full_pii");
    let claimant_cases: Vec<(&str, Value, &str)> = vec![
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("fileNumber")],
                Some(&json!("79604321")),
            ),
            "",
        ),
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("fileNumber")],
                Some(&json!("7960432")),
            ),
            "fileNumber",
        ),
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("fileNumber")],
                Some(&json!("79604321X")),
            ),
            "fileNumber",
        ),
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("identityNumber")],
                Some(&json!("512-34-987")),
            ),
            "identityNumber",
        ),
        (
            "ClaimantRegistered",
            edited(&registered, &[k("pii"), k("familyName")], Some(&json!(""))),
            "familyName",
        ),
        (
            "ClaimantRegistered",
            edited(
                &registered,
                &[k("pii"), k("addressLines"), PathStep::Index(1)],
                Some(&json!(" ")),
            ),
            "addressLines",
        ),
        (
            "PiiCorrected",
            edited(
                &claimant_payload("PiiCorrected", "full_pii"),
                &[k("pii"), k("postcode")],
                Some(&json!("")),
            ),
            "postcode",
        ),
        (
            "RepresentativeChanged",
            edited(
                &claimant_payload("RepresentativeChanged", "set"),
                &[k("representative"), k("actor")],
                Some(&json!("rep: dav")),
            ),
            "actor",
        ),
        (
            "GuardianChanged",
            edited(
                &claimant_payload("GuardianChanged", "set"),
                &[k("guardian"), k("relationship")],
                Some(&json!("")),
            ),
            "relationship",
        ),
        (
            "FlagsChanged",
            edited(
                &claimant_payload("FlagsChanged", "set"),
                &[k("accessibility"), PathStep::Index(0)],
                Some(&json!("\u{0000}")),
            ),
            "accessibility",
        ),
        (
            "RestrictionChanged",
            edited(
                &claimant_payload("RestrictionChanged", "agency_employee"),
                &[k("restriction")],
                Some(&json!("VIP")),
            ),
            "restriction",
        ),
    ];
    for (event_type, payload, field) in claimant_cases {
        if field.is_empty() {
            // An 8-digit file number is valid: the control case.
            assert!(decode_claimant_value(event_type, &payload).is_ok());
        } else {
            assert_invalid(decode_claimant_value(event_type, &payload), field);
        }
    }
}

/// An unknown `kind` inside a payload is a malformed payload of a *known*
/// event type, not an unknown event type: consumers skip (or park) unknown
/// types from newer producers, but must never skip a corrupt known event.
#[test]
fn unknown_nested_kind_is_malformed_not_unknown_type() {
    let submitted = edited(
        &case_payload("ClaimSubmitted", "web_by_claimant"),
        &[k("entry"), k("submittedBy"), k("kind")],
        Some(&json!("ROBOT")),
    );
    assert_malformed(
        decode_case_value("ClaimSubmitted", &submitted),
        "ClaimSubmitted",
    );

    let attached = edited(
        &case_payload("ChannelEntryAttached", "mail_duplicate_by_staff"),
        &[k("entry"), k("submittedBy"), k("kind")],
        Some(&json!("INTEGRATOR")),
    );
    assert_malformed(
        decode_case_value("ChannelEntryAttached", &attached),
        "ChannelEntryAttached",
    );

    let estimate = edited(
        &case_payload("EstimateChanged", "claim_received"),
        &[k("reason"), k("kind")],
        Some(&json!("MANUAL_OVERRIDE")),
    );
    assert_malformed(
        decode_case_value("EstimateChanged", &estimate),
        "EstimateChanged",
    );
}

/// Replaces or removes every value of every sample payload with junk and
/// decodes it under every type name: the result may be Ok or Err, but the
/// decoder must never panic.
#[test]
fn decoding_arbitrary_edits_never_panics() {
    let junk = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!(""),
        json!(" "),
        json!("\u{0007}"),
        json!("WEB"),
        json!("00000000-0000-0000-0000-000000000000"),
        json!("2024-02-30T25:61:00Z"),
        json!("ü".repeat(5000)),
        json!([]),
        json!([null]),
        json!({}),
        json!({"kind": "STAFF"}),
    ];
    let decode = |event_type: &str, case: bool, payload: &str| {
        for version in [0, CURRENT_SCHEMA_VERSION] {
            if case {
                let _ = decode_case(event_type, version, payload);
            } else {
                let _ = decode_claimant(event_type, version, payload);
            }
        }
    };
    let samples: Vec<(&str, bool, Value)> = case_samples()
        .into_iter()
        .map(|(_, e)| (e.name(), true, parse(&encode_case(&e).payload)))
        .chain(
            claimant_samples()
                .into_iter()
                .map(|(_, e)| (e.name(), false, parse(&encode_claimant(&e).payload))),
        )
        .collect();
    let mut decoded = 0usize;
    for (event_type, case, payload) in &samples {
        // The intact payload under every other type name of its aggregate.
        let types: &[&str] = if *case { &CASE_TYPES } else { &CLAIMANT_TYPES };
        for other in types {
            decode(other, *case, &payload.to_string());
        }
        // Every value removed or replaced, under its own type name.
        let mut all = Vec::new();
        paths(payload, &mut Vec::new(), &mut all);
        for path in all {
            decode(event_type, *case, &edited(payload, &path, None).to_string());
            for j in &junk {
                decode(
                    event_type,
                    *case,
                    &edited(payload, &path, Some(j)).to_string(),
                );
                decoded += 1;
            }
        }
    }
    assert!(decoded > 1000, "the sweep ran ({decoded} payloads)");
}

// ================================================================= upcasting

/// A v0 payload called the field `caseRef`; v1 calls it `caseId`.
fn rename_case_ref(mut v: Value) -> Result<Value, DecodeError> {
    let map = v
        .as_object_mut()
        .ok_or(DecodeError::Invalid(ParseError::new(
            "payload",
            "is not an object",
        )))?;
    let old = map
        .remove("caseRef")
        .ok_or(DecodeError::Invalid(ParseError::new(
            "caseRef",
            "is missing",
        )))?;
    map.insert("caseId".into(), old);
    Ok(v)
}

fn always_fails(_: Value) -> Result<Value, DecodeError> {
    Err(DecodeError::Invalid(ParseError::new("upcaster", "refused")))
}

fn must_not_run(_: Value) -> Result<Value, DecodeError> {
    panic!("an upcaster ran for a version it was not registered for")
}

#[test]
fn upcast_applies_a_registered_upcaster() {
    let v0 = json!({"caseRef": "0c450001", "note": "kept"});
    let got = upcast(&[("X", 0, rename_case_ref as Upcaster)], "X", 0, v0).unwrap();
    assert_eq!(got, json!({"caseId": "0c450001", "note": "kept"}));
}

#[test]
fn upcast_leaves_current_payloads_and_other_types_alone() {
    let table: &[(&str, i32, Upcaster)] = &[("X", 0, must_not_run)];
    let v1 = json!({"caseId": "0c450001"});
    // Already current: nothing to do.
    assert_eq!(upcast(table, "X", 1, v1.clone()).unwrap(), v1);
    // The upcaster is keyed by type: a v0 payload of another type is not touched by it.
    assert_eq!(upcast(table, "Y", 0, v1.clone()).unwrap(), v1);
}

#[test]
fn upcast_propagates_an_upcaster_error() {
    let table: &[(&str, i32, Upcaster)] = &[("X", 0, always_fails)];
    assert_invalid(upcast(table, "X", 0, json!({})), "upcaster");
    let table: &[(&str, i32, Upcaster)] = &[("X", 0, rename_case_ref)];
    assert_invalid(upcast(table, "X", 0, json!({"caseId": "x"})), "caseRef");
}

#[test]
fn upcast_refuses_versions_newer_than_current() {
    // Even with an upcaster registered for that version, a future payload
    // is refused before any upcaster runs.
    let table: &[(&str, i32, Upcaster)] = &[
        ("X", CURRENT_SCHEMA_VERSION, must_not_run),
        ("X", CURRENT_SCHEMA_VERSION + 1, must_not_run),
    ];
    for version in [
        CURRENT_SCHEMA_VERSION + 1,
        CURRENT_SCHEMA_VERSION + 7,
        i32::MAX,
    ] {
        match upcast(table, "X", version, json!({})) {
            Err(DecodeError::FutureVersion {
                event_type,
                version: v,
            }) => assert_eq!((event_type.as_str(), v), ("X", version)),
            other => panic!("v{version}: expected FutureVersion, got {other:?}"),
        }
    }
}

// ====================================================================== PII

fn pii_strings() -> [&'static str; 9] {
    [
        FILE_NUMBER,
        IDENTITY_NUMBER,
        IDENTITY_DIGITS,
        GIVEN_NAME,
        FAMILY_NAME,
        POSTCODE,
        ADDRESS_1,
        ADDRESS_2,
        BIRTH_DATE,
    ]
}

fn lowercase_json(v: &Value) -> String {
    v.to_string().to_lowercase()
}

#[test]
fn claimant_pii_lives_only_in_the_pii_field() {
    for (label, event) in claimant_samples() {
        let enc = encode_claimant(&event);
        let mut payload = parse(&enc.payload);
        let carries_pii = matches!(
            event,
            ClaimantEvent::ClaimantRegistered { .. } | ClaimantEvent::PiiCorrected { .. }
        );
        let map = payload.as_object_mut().expect("object");
        if carries_pii {
            let expected_keys: BTreeSet<&str> = match event {
                ClaimantEvent::ClaimantRegistered { .. } => ["claimantId", "pii"].into(),
                _ => ["pii"].into(),
            };
            assert_eq!(
                map.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                expected_keys,
                "{} {label}",
                enc.event_type
            );
            let pii = map.remove("pii").expect("pii field");
            // Everything personal is inside `pii`...
            let pii_text = pii.to_string();
            let (ClaimantEvent::ClaimantRegistered { pii: p, .. }
            | ClaimantEvent::PiiCorrected { pii: p }) = &event
            else {
                unreachable!()
            };
            let mut expected: Vec<String> = vec![
                p.file_number.as_str().to_owned(),
                p.given_name.to_string(),
                p.family_name.to_string(),
                p.birth_date.to_string(),
                p.postcode.to_string(),
            ];
            expected.extend(p.identity_number.iter().map(|n| n.as_str().to_owned()));
            expected.extend(p.address_lines.iter().map(|l| l.to_string()));
            for value in &expected {
                assert!(
                    pii_text.contains(&format!("\"{value}\"")),
                    "{} {label}: {value} not in pii",
                    enc.event_type
                );
                // ...exactly once in the whole stored payload.
                assert_eq!(
                    enc.payload.matches(value.as_str()).count(),
                    1,
                    "{} {label}: {value} stored more than once",
                    enc.event_type
                );
            }
        }
        // ...and nothing personal outside it.
        let rest = lowercase_json(&payload);
        for value in pii_strings() {
            assert!(
                !rest.contains(&value.to_lowercase()),
                "{} {label}: {value} outside pii: {rest}",
                enc.event_type
            );
        }
    }
}

#[test]
fn case_events_carry_no_claimant_pii() {
    // Sanity: the PII sample really is the sample claimant's.
    let enc = encode_claimant(&ClaimantEvent::ClaimantRegistered {
        id: CLAIMANT,
        pii: full_pii(),
    });
    for value in pii_strings().into_iter().filter(|v| *v != IDENTITY_NUMBER) {
        assert!(enc.payload.contains(value), "{value}");
    }

    for (label, event) in case_samples() {
        let enc = encode_case(&event);
        let payload = lowercase_json(&parse(&enc.payload));
        // Family names are double-barrelled in the sample; check each part too.
        let needles = pii_strings()
            .into_iter()
            .chain(FAMILY_NAME.split('-'))
            .map(str::to_lowercase);
        for needle in needles {
            assert!(
                !payload.contains(&needle),
                "{} {label} contains claimant PII {needle:?}: {payload}",
                enc.event_type
            );
        }
        // A case refers to its claimant by id only.
        if let CaseEvent::ClaimSubmitted { .. } = event {
            assert_eq!(
                parse(&enc.payload)["claimantId"],
                json!(CLAIMANT.as_uuid().to_string())
            );
        }
    }
}

// ================================================================ asyncapi

mod asyncapi;

/// `docs/asyncapi.yaml` is rendered from these samples: it names every
/// event type this build publishes, and a change to the wire format shows
/// in review as a change to the document.
#[test]
fn asyncapi_document_is_current() {
    let case: Vec<(String, Value)> = case_samples()
        .iter()
        .map(|(_, e)| {
            let enc = encode_case(e);
            (enc.event_type.to_owned(), parse(&enc.payload))
        })
        .collect();
    let claimant: Vec<(String, Value)> = claimant_samples()
        .iter()
        .map(|(_, e)| {
            let enc = encode_claimant(e);
            (enc.event_type.to_owned(), parse(&enc.payload))
        })
        .collect();
    let rendered = asyncapi::document(&case, &claimant);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/asyncapi.yaml");
    if std::env::var_os("OMNICASE_UPDATE_ASYNCAPI").is_some() {
        std::fs::write(path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    for t in store::codec::CASE_EVENT_TYPES {
        assert!(
            committed.contains(&format!("  case.{t}:\n")),
            "docs/asyncapi.yaml lacks case event {t}"
        );
    }
    for t in store::codec::CLAIMANT_EVENT_TYPES {
        assert!(
            committed.contains(&format!("  claimant.{t}:\n")),
            "docs/asyncapi.yaml lacks claimant event {t}"
        );
    }
    assert!(
        committed == rendered,
        "docs/asyncapi.yaml is out of date: OMNICASE_UPDATE_ASYNCAPI=1 cargo test -p store --test codec"
    );
}

/// A current payload is decoded straight from its text inside a
/// `{"type", "payload"}` envelope; text that is more than one JSON value
/// (it could close the payload and add a `type` of its own) is malformed,
/// never decoded as another event.
#[test]
fn a_payload_is_exactly_one_json_value() {
    let (_, event) = case_samples()
        .into_iter()
        .find(|(_, e)| case_type(e) == "ContactRecorded")
        .unwrap();
    let enc = encode_case(&event);
    assert_eq!(
        decode_case(enc.event_type, enc.schema_version, &enc.payload).unwrap(),
        event
    );
    let sneaky = [
        format!(r#"{}, "type": "CaseWithdrawn""#, enc.payload),
        format!("{} {}", enc.payload, enc.payload),
        format!(r#"{}}}, "payload": {{"#, enc.payload),
        String::new(),
    ];
    for payload in &sneaky {
        assert_malformed(
            decode_case("ContactRecorded", enc.schema_version, payload),
            "ContactRecorded",
        );
    }
    // Surrounding whitespace is still one value.
    let spaced = format!("  {}\n", enc.payload);
    assert_eq!(
        decode_case("ContactRecorded", enc.schema_version, &spaced).unwrap(),
        event
    );
}
