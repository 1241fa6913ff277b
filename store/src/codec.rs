//! The stored form of domain events: `(event_type, schema_version, payload)`.
//!
//! Domain events carry no serde; this module owns the wire format, which is
//! a compatibility promise (it is what the log holds and what Kafka
//! consumers receive). Changing a payload shape means bumping its schema
//! version and adding an upcaster from the old version to [`UPCASTERS`].

use chrono::{DateTime, NaiveDate, Utc};
use domain::case::*;
use domain::claimant::{ClaimantEvent, ClaimantPii, Flags, Guardian, Representative, Restriction};
use domain::status::{Phase, RequestStatus};
use domain::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The schema version every event type is written with today.
pub const CURRENT_SCHEMA_VERSION: i32 = 1;

/// Converts one stored payload from `from_version` to `from_version + 1`.
pub type Upcaster = fn(Value) -> Result<Value, DecodeError>;

/// `(event_type, from_version, upcaster)`. Empty while every type is at v1.
pub const UPCASTERS: &[(&str, i32, Upcaster)] = &[];

/// A domain event in its stored form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    pub event_type: &'static str,
    pub schema_version: i32,
    /// Compact JSON; hashed and stored byte for byte.
    pub payload: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0}")]
    UnknownType(String),
    #[error("event {event_type} has schema version {version}, newer than this build understands")]
    FutureVersion { event_type: String, version: i32 },
    #[error("malformed payload for {event_type}: {source}")]
    Malformed {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid value in stored event: {0}")]
    Invalid(#[from] ParseError),
}

impl DecodeError {
    pub fn code(&self) -> domain::ErrorCode {
        domain::ErrorCode::EventDecodeFailed
    }
}

// ---------------------------------------------------------------- shared parts

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
enum SubmitterV1 {
    Claimant,
    Staff { actor: String },
    Representative { actor: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct EntryV1 {
    id: Uuid,
    channel: String,
    external_id: String,
    received_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    submitted_by: SubmitterV1,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<Uuid>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ContentionV1 {
    id: Uuid,
    description: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct AppealLinkV1 {
    original_case: Uuid,
    contention: Uuid,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct DocumentV1 {
    id: Uuid,
    document_type: String,
    pages: u32,
    checksum: String,
    storage_ref: String,
    received_at: DateTime<Utc>,
    channel: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct RequestV1 {
    id: Uuid,
    kind: String,
    description: String,
    needed_from: String,
    suspense_date: NaiveDate,
    suppressed: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct EstimateV1 {
    earliest: NaiveDate,
    latest: NaiveDate,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
enum EstimateReasonV1 {
    ClaimReceived,
    PhaseChanged { phase: String },
    PhaseMovedBack { phase: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct AdjudicationV1 {
    contention: Uuid,
    adjudication: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ContactV1 {
    id: Uuid,
    kind: String,
    channel: String,
    agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    follow_up: Option<String>,
    occurred_at: DateTime<Utc>,
}

// ------------------------------------------------------------------ case events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", content = "payload", rename_all_fields = "camelCase")]
enum CaseEventV1 {
    ClaimSubmitted {
        case_id: Uuid,
        claimant_id: Uuid,
        benefit_type: String,
        contentions: Vec<ContentionV1>,
        entry: EntryV1,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appeal_of: Option<AppealLinkV1>,
    },
    ChannelEntryAttached {
        entry: EntryV1,
    },
    ClaimDateChanged {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        /// `EARLIER_RECEIPT`
        reason: String,
        entry_id: Uuid,
    },
    DocumentAttached {
        document: DocumentV1,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Uuid>,
        /// `EVIDENCE` or `WITH_SUBMISSION`. Added without a version bump:
        /// absent in older payloads, which are read as `WITH_SUBMISSION`
        /// (documents filed before the association queue existed are not
        /// put in it on an upgrade).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filed_as: Option<String>,
    },
    DocumentLinked {
        document_id: Uuid,
        request_id: Uuid,
    },
    DocumentNeedsNoLink {
        document_id: Uuid,
        reason: String,
    },
    LateEvidenceFlagged {
        document_id: Uuid,
        phase: String,
    },
    LateEvidenceAcknowledged {
        document_id: Uuid,
    },
    EvidenceRequested {
        request: RequestV1,
    },
    EvidenceStatusChanged {
        request_id: Uuid,
        from: String,
        to: String,
        /// Added without a version bump: absent in older payloads.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Waiver5103Submitted {
        received_at: DateTime<Utc>,
    },
    RequestMarkedOverdue {
        request_id: Uuid,
        suspense_date: NaiveDate,
    },
    ReminderIssued {
        request_id: Uuid,
    },
    PhaseChanged {
        from: String,
        to: String,
        back: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    EstimateChanged {
        estimate: EstimateV1,
        reason: EstimateReasonV1,
    },
    CaseAssigned {
        assignee: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
    },
    CaseUnassigned {
        previous: String,
    },
    CaseRoutedToTeam {
        team: String,
    },
    ContactRecorded {
        contact: ContactV1,
    },
    DecisionProposed {
        adjudications: Vec<AdjudicationV1>,
        proposer: String,
    },
    DecisionApproved {
        approver: String,
        outcome: String,
    },
    DecisionReturned {
        approver: String,
        reason: String,
    },
    DecisionLetterMailed {
        mailed_at: DateTime<Utc>,
    },
    CaseWithdrawn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    CaseMerged {
        survivor_case_id: Uuid,
    },
    AppealFiled {
        contention_id: Uuid,
        appeal_case_id: Uuid,
    },
    AppealConcluded {
        appeal_case_id: Uuid,
    },
}

// ------------------------------------------------------------- claimant events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct PiiV1 {
    file_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity_number: Option<String>,
    given_name: String,
    family_name: String,
    birth_date: NaiveDate,
    postcode: String,
    #[serde(default)]
    address_lines: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct RepresentativeV1 {
    actor: String,
    poa_code: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct GuardianV1 {
    actor: String,
    relationship: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", content = "payload", rename_all_fields = "camelCase")]
enum ClaimantEventV1 {
    /// `pii` is the one field that holds personal data.
    ClaimantRegistered {
        claimant_id: Uuid,
        pii: PiiV1,
    },
    PiiCorrected {
        pii: PiiV1,
    },
    RepresentativeChanged {
        representative: Option<RepresentativeV1>,
    },
    GuardianChanged {
        guardian: Option<GuardianV1>,
    },
    FlagsChanged {
        safety: Vec<String>,
        accessibility: Vec<String>,
    },
    RestrictionChanged {
        restriction: Option<String>,
        /// AGENCY_EMPLOYEE: the office whose staff must not handle it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        office: Option<String>,
    },
}

// ------------------------------------------------------------------- encoding

fn split(value: Value) -> (String, String) {
    // Adjacently tagged: {"type": "...", "payload": {...}}.
    let mut map = match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let event_type = match map.remove("type") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let payload = map
        .remove("payload")
        .unwrap_or(Value::Object(Default::default()));
    (event_type, payload.to_string())
}

fn encoded(name: &'static str, value: Result<Value, serde_json::Error>) -> EncodedEvent {
    // Serializing these plain structs cannot fail (no maps with non-string
    // keys, no failing Serialize impls); an empty object would be caught by
    // the round-trip snapshot tests.
    let (_, payload) = split(value.unwrap_or(Value::Null));
    EncodedEvent {
        event_type: name,
        schema_version: CURRENT_SCHEMA_VERSION,
        payload,
    }
}

pub fn encode_case(event: &CaseEvent) -> EncodedEvent {
    encoded(event.name(), serde_json::to_value(case_to_v1(event)))
}

pub fn encode_claimant(event: &ClaimantEvent) -> EncodedEvent {
    encoded(event.name(), serde_json::to_value(claimant_to_v1(event)))
}

/// Brings a stored payload to the current schema version.
pub fn upcast(
    upcasters: &[(&str, i32, Upcaster)],
    event_type: &str,
    mut version: i32,
    mut payload: Value,
) -> Result<Value, DecodeError> {
    if version > CURRENT_SCHEMA_VERSION {
        return Err(DecodeError::FutureVersion {
            event_type: event_type.to_owned(),
            version,
        });
    }
    while version < CURRENT_SCHEMA_VERSION {
        if let Some((_, _, up)) = upcasters
            .iter()
            .find(|(t, v, _)| *t == event_type && *v == version)
        {
            payload = up(payload)?;
        }
        version += 1;
    }
    Ok(payload)
}

/// Every case event type this build reads.
pub const CASE_EVENT_TYPES: &[&str] = &[
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

/// Every claimant event type this build reads.
pub const CLAIMANT_EVENT_TYPES: &[&str] = &[
    "ClaimantRegistered",
    "PiiCorrected",
    "RepresentativeChanged",
    "GuardianChanged",
    "FlagsChanged",
    "RestrictionChanged",
];

fn typed<T: serde::de::DeserializeOwned>(
    known: &[&str],
    event_type: &str,
    schema_version: i32,
    payload: &str,
) -> Result<T, DecodeError> {
    // Decided by name, so a corrupt nested tag of a known type is reported
    // as malformed, never as a type a consumer might skip.
    if !known.contains(&event_type) {
        return Err(DecodeError::UnknownType(event_type.to_owned()));
    }
    let malformed = |source| DecodeError::Malformed {
        event_type: event_type.to_owned(),
        source,
    };
    if schema_version == CURRENT_SCHEMA_VERSION {
        // Current payloads decode straight from the text, tag first (no
        // JSON tree, no buffering of the payload to find the tag). The
        // payload is checked to be exactly one JSON value before it is
        // placed inside the envelope, so it cannot add keys of its own.
        let raw: &serde_json::value::RawValue = serde_json::from_str(payload).map_err(malformed)?;
        let text = format!(r#"{{"type":"{event_type}","payload":{}}}"#, raw.get());
        return serde_json::from_str(&text).map_err(malformed);
    }
    let body: Value = serde_json::from_str(payload).map_err(malformed)?;
    let body = upcast(UPCASTERS, event_type, schema_version, body)?;
    let mut wrapper = serde_json::Map::new();
    wrapper.insert("type".into(), Value::String(event_type.to_owned()));
    wrapper.insert("payload".into(), body);
    serde_json::from_value(Value::Object(wrapper)).map_err(malformed)
}

pub fn decode_case(
    event_type: &str,
    schema_version: i32,
    payload: &str,
) -> Result<CaseEvent, DecodeError> {
    case_from_v1(typed(
        CASE_EVENT_TYPES,
        event_type,
        schema_version,
        payload,
    )?)
}

pub fn decode_claimant(
    event_type: &str,
    schema_version: i32,
    payload: &str,
) -> Result<ClaimantEvent, DecodeError> {
    claimant_from_v1(typed(
        CLAIMANT_EVENT_TYPES,
        event_type,
        schema_version,
        payload,
    )?)
}

// ----------------------------------------------------------- domain -> stored

fn submitter_v1(s: &Submitter) -> SubmitterV1 {
    match s {
        Submitter::Claimant => SubmitterV1::Claimant,
        Submitter::Staff(a) => SubmitterV1::Staff {
            actor: a.to_string(),
        },
        Submitter::Representative(a) => SubmitterV1::Representative {
            actor: a.to_string(),
        },
    }
}

fn entry_v1(e: &ChannelEntry) -> EntryV1 {
    EntryV1 {
        id: e.id.as_uuid(),
        channel: e.channel.code().to_owned(),
        external_id: e.external_id.to_string(),
        received_at: e.received_at,
        recorded_at: e.recorded_at,
        submitted_by: submitter_v1(&e.submitted_by),
        duplicate_of: e.duplicate_of.map(|d| d.as_uuid()),
    }
}

fn case_to_v1(event: &CaseEvent) -> CaseEventV1 {
    use CaseEvent as E;
    use CaseEventV1 as V;
    match event {
        E::ClaimSubmitted {
            case_id,
            claimant,
            benefit,
            contentions,
            entry,
            appeal_of,
        } => V::ClaimSubmitted {
            case_id: case_id.as_uuid(),
            claimant_id: claimant.as_uuid(),
            benefit_type: benefit.to_string(),
            contentions: contentions
                .iter()
                .map(|c| ContentionV1 {
                    id: c.id.as_uuid(),
                    description: c.description.to_string(),
                })
                .collect(),
            entry: entry_v1(entry),
            appeal_of: appeal_of.map(|a| AppealLinkV1 {
                original_case: a.original_case.as_uuid(),
                contention: a.contention.as_uuid(),
            }),
        },
        E::ChannelEntryAttached { entry } => V::ChannelEntryAttached {
            entry: entry_v1(entry),
        },
        E::ClaimDateChanged { from, to, reason } => match reason {
            ClaimDateReason::EarlierReceipt(entry) => V::ClaimDateChanged {
                from: *from,
                to: *to,
                reason: "EARLIER_RECEIPT".into(),
                entry_id: entry.as_uuid(),
            },
        },
        E::DocumentAttached {
            document: d,
            request,
            filed_as,
        } => V::DocumentAttached {
            document: DocumentV1 {
                id: d.id.as_uuid(),
                document_type: d.document_type.to_string(),
                pages: d.pages,
                checksum: d.checksum.as_str().to_owned(),
                storage_ref: d.storage_ref.to_string(),
                received_at: d.received_at,
                channel: d.channel.code().to_owned(),
            },
            request_id: request.map(|r| r.as_uuid()),
            filed_as: Some(filed_as.code().to_owned()),
        },
        E::DocumentLinked { document, request } => V::DocumentLinked {
            document_id: document.as_uuid(),
            request_id: request.as_uuid(),
        },
        E::DocumentNeedsNoLink { document, reason } => V::DocumentNeedsNoLink {
            document_id: document.as_uuid(),
            reason: reason.to_string(),
        },
        E::LateEvidenceFlagged { document, phase } => V::LateEvidenceFlagged {
            document_id: document.as_uuid(),
            phase: phase.code().into(),
        },
        E::LateEvidenceAcknowledged { document } => V::LateEvidenceAcknowledged {
            document_id: document.as_uuid(),
        },
        E::EvidenceRequested { request: r } => V::EvidenceRequested {
            request: RequestV1 {
                id: r.id.as_uuid(),
                kind: r.kind.code().into(),
                description: r.description.to_string(),
                needed_from: if r.needed_from_claimant {
                    "CLAIMANT"
                } else {
                    "OTHERS"
                }
                .into(),
                suspense_date: r.suspense_date,
                suppressed: r.suppressed,
            },
        },
        E::EvidenceStatusChanged {
            request,
            from,
            to,
            reason,
        } => V::EvidenceStatusChanged {
            request_id: request.as_uuid(),
            from: from.code().into(),
            to: to.code().into(),
            reason: reason.as_ref().map(|r| r.to_string()),
        },
        E::Waiver5103Submitted { received_at } => V::Waiver5103Submitted {
            received_at: *received_at,
        },
        E::RequestMarkedOverdue {
            request,
            suspense_date,
        } => V::RequestMarkedOverdue {
            request_id: request.as_uuid(),
            suspense_date: *suspense_date,
        },
        E::ReminderIssued { request } => V::ReminderIssued {
            request_id: request.as_uuid(),
        },
        E::PhaseChanged {
            from,
            to,
            back,
            reason,
        } => V::PhaseChanged {
            from: from.code().into(),
            to: to.code().into(),
            back: *back,
            reason: reason.as_ref().map(|r| r.to_string()),
        },
        E::EstimateChanged { estimate, reason } => V::EstimateChanged {
            estimate: EstimateV1 {
                earliest: estimate.earliest,
                latest: estimate.latest,
            },
            reason: match reason {
                EstimateReason::ClaimReceived => EstimateReasonV1::ClaimReceived,
                EstimateReason::PhaseChanged(p) => EstimateReasonV1::PhaseChanged {
                    phase: p.code().into(),
                },
                EstimateReason::PhaseMovedBack(p) => EstimateReasonV1::PhaseMovedBack {
                    phase: p.code().into(),
                },
            },
        },
        E::CaseAssigned { assignee, previous } => V::CaseAssigned {
            assignee: assignee.to_string(),
            previous: previous.as_ref().map(|p| p.to_string()),
        },
        E::CaseUnassigned { previous } => V::CaseUnassigned {
            previous: previous.to_string(),
        },
        E::CaseRoutedToTeam { team } => V::CaseRoutedToTeam {
            team: team.to_string(),
        },
        E::ContactRecorded { contact: c } => V::ContactRecorded {
            contact: ContactV1 {
                id: c.id.as_uuid(),
                kind: c.kind.code().into(),
                channel: c.channel.code().into(),
                agent: c.agent.to_string(),
                reason: c.reason.as_ref().map(|r| r.to_string()),
                summary: c.summary.to_string(),
                follow_up: c.follow_up.as_ref().map(|r| r.to_string()),
                occurred_at: c.occurred_at,
            },
        },
        E::DecisionProposed {
            adjudications,
            proposer,
        } => V::DecisionProposed {
            adjudications: adjudications
                .iter()
                .map(|(c, a)| AdjudicationV1 {
                    contention: c.as_uuid(),
                    adjudication: a.code().into(),
                })
                .collect(),
            proposer: proposer.to_string(),
        },
        E::DecisionApproved { approver, outcome } => V::DecisionApproved {
            approver: approver.to_string(),
            outcome: outcome.code().into(),
        },
        E::DecisionReturned { approver, reason } => V::DecisionReturned {
            approver: approver.to_string(),
            reason: reason.to_string(),
        },
        E::DecisionLetterMailed { mailed_at } => V::DecisionLetterMailed {
            mailed_at: *mailed_at,
        },
        E::CaseWithdrawn { reason } => V::CaseWithdrawn {
            reason: reason.as_ref().map(|r| r.to_string()),
        },
        E::CaseMerged { survivor } => V::CaseMerged {
            survivor_case_id: survivor.as_uuid(),
        },
        E::AppealFiled {
            contention,
            appeal_case,
        } => V::AppealFiled {
            contention_id: contention.as_uuid(),
            appeal_case_id: appeal_case.as_uuid(),
        },
        E::AppealConcluded { appeal_case } => V::AppealConcluded {
            appeal_case_id: appeal_case.as_uuid(),
        },
    }
}

fn pii_v1(p: &ClaimantPii) -> PiiV1 {
    PiiV1 {
        file_number: p.file_number.as_str().to_owned(),
        identity_number: p.identity_number.as_ref().map(|n| n.as_str().to_owned()),
        given_name: p.given_name.to_string(),
        family_name: p.family_name.to_string(),
        birth_date: p.birth_date,
        postcode: p.postcode.to_string(),
        address_lines: p.address_lines.iter().map(|l| l.to_string()).collect(),
    }
}

fn claimant_to_v1(event: &ClaimantEvent) -> ClaimantEventV1 {
    use ClaimantEvent as E;
    use ClaimantEventV1 as V;
    match event {
        E::ClaimantRegistered { id, pii } => V::ClaimantRegistered {
            claimant_id: id.as_uuid(),
            pii: pii_v1(pii),
        },
        E::PiiCorrected { pii } => V::PiiCorrected { pii: pii_v1(pii) },
        E::RepresentativeChanged { representative } => V::RepresentativeChanged {
            representative: representative.as_ref().map(|r| RepresentativeV1 {
                actor: r.actor.to_string(),
                poa_code: r.poa_code.to_string(),
            }),
        },
        E::GuardianChanged { guardian } => V::GuardianChanged {
            guardian: guardian.as_ref().map(|g| GuardianV1 {
                actor: g.actor.to_string(),
                relationship: g.relationship.to_string(),
            }),
        },
        E::FlagsChanged { flags } => V::FlagsChanged {
            safety: flags.safety.iter().map(|t| t.to_string()).collect(),
            accessibility: flags.accessibility.iter().map(|t| t.to_string()).collect(),
        },
        E::RestrictionChanged { restriction } => V::RestrictionChanged {
            restriction: restriction.as_ref().map(|r| r.code().to_owned()),
            office: restriction
                .as_ref()
                .and_then(|r| r.office())
                .map(|o| o.to_string()),
        },
    }
}

// ----------------------------------------------------------- stored -> domain

fn bad(field: &'static str) -> DecodeError {
    DecodeError::Invalid(ParseError::new(field, "has an unknown value"))
}

fn text(field: &'static str, s: &str) -> Result<Text, DecodeError> {
    Ok(Text::parse(field, s)?)
}

fn opt_text(field: &'static str, s: Option<&str>) -> Result<Option<Text>, DecodeError> {
    s.map(|s| text(field, s)).transpose()
}

fn phase(s: &str) -> Result<Phase, DecodeError> {
    Phase::from_code(s).ok_or_else(|| bad("phase"))
}

fn req_status(s: &str) -> Result<RequestStatus, DecodeError> {
    RequestStatus::from_code(s).ok_or_else(|| bad("requestStatus"))
}

fn actor(s: &str) -> Result<ActorId, DecodeError> {
    Ok(ActorId::parse(s)?)
}

fn adjudication(s: &str) -> Result<Adjudication, DecodeError> {
    Adjudication::from_code(s).ok_or_else(|| bad("adjudication"))
}

fn entry_from(e: EntryV1) -> Result<ChannelEntry, DecodeError> {
    Ok(ChannelEntry {
        id: EntryId::from_uuid(e.id),
        channel: Channel::parse(&e.channel)?,
        external_id: ExternalId::parse(&e.external_id)?,
        received_at: e.received_at,
        recorded_at: e.recorded_at,
        submitted_by: match e.submitted_by {
            SubmitterV1::Claimant => Submitter::Claimant,
            SubmitterV1::Staff { actor: a } => Submitter::Staff(actor(&a)?),
            SubmitterV1::Representative { actor: a } => Submitter::Representative(actor(&a)?),
        },
        duplicate_of: e.duplicate_of.map(EntryId::from_uuid),
    })
}

fn case_from_v1(v: CaseEventV1) -> Result<CaseEvent, DecodeError> {
    use CaseEvent as E;
    use CaseEventV1 as V;
    Ok(match v {
        V::ClaimSubmitted {
            case_id,
            claimant_id,
            benefit_type,
            contentions,
            entry,
            appeal_of,
        } => E::ClaimSubmitted {
            case_id: CaseId::from_uuid(case_id),
            claimant: ClaimantId::from_uuid(claimant_id),
            benefit: BenefitType::parse(&benefit_type)?,
            contentions: contentions
                .into_iter()
                .map(|c| {
                    Ok(NewContention {
                        id: ContentionId::from_uuid(c.id),
                        description: text("description", &c.description)?,
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
            entry: entry_from(entry)?,
            appeal_of: appeal_of.map(|a| AppealLink {
                original_case: CaseId::from_uuid(a.original_case),
                contention: ContentionId::from_uuid(a.contention),
            }),
        },
        V::ChannelEntryAttached { entry } => E::ChannelEntryAttached {
            entry: entry_from(entry)?,
        },
        V::ClaimDateChanged {
            from,
            to,
            reason,
            entry_id,
        } => {
            if reason != "EARLIER_RECEIPT" {
                return Err(bad("reason"));
            }
            E::ClaimDateChanged {
                from,
                to,
                reason: ClaimDateReason::EarlierReceipt(EntryId::from_uuid(entry_id)),
            }
        }
        V::DocumentAttached {
            document: d,
            request_id,
            filed_as,
        } => E::DocumentAttached {
            document: Document {
                id: DocumentId::from_uuid(d.id),
                document_type: DocumentType::parse(&d.document_type)?,
                pages: d.pages,
                checksum: Checksum::parse(&d.checksum)?,
                storage_ref: StorageRef::parse(&d.storage_ref)?,
                received_at: d.received_at,
                channel: Channel::parse(&d.channel)?,
            },
            request: request_id.map(RequestId::from_uuid),
            filed_as: match filed_as.as_deref() {
                None => DocumentFiling::WithSubmission,
                Some(code) => DocumentFiling::from_code(code).ok_or_else(|| bad("filedAs"))?,
            },
        },
        V::DocumentLinked {
            document_id,
            request_id,
        } => E::DocumentLinked {
            document: DocumentId::from_uuid(document_id),
            request: RequestId::from_uuid(request_id),
        },
        V::DocumentNeedsNoLink {
            document_id,
            reason,
        } => E::DocumentNeedsNoLink {
            document: DocumentId::from_uuid(document_id),
            reason: text("reason", &reason)?,
        },
        V::LateEvidenceFlagged {
            document_id,
            phase: p,
        } => E::LateEvidenceFlagged {
            document: DocumentId::from_uuid(document_id),
            phase: phase(&p)?,
        },
        V::LateEvidenceAcknowledged { document_id } => E::LateEvidenceAcknowledged {
            document: DocumentId::from_uuid(document_id),
        },
        V::EvidenceRequested { request: r } => E::EvidenceRequested {
            request: NewEvidenceRequest {
                id: RequestId::from_uuid(r.id),
                kind: RequestKind::from_code(&r.kind).ok_or_else(|| bad("kind"))?,
                description: text("description", &r.description)?,
                needed_from_claimant: match r.needed_from.as_str() {
                    "CLAIMANT" => true,
                    "OTHERS" => false,
                    _ => return Err(bad("neededFrom")),
                },
                suspense_date: r.suspense_date,
                suppressed: r.suppressed,
            },
        },
        V::EvidenceStatusChanged {
            request_id,
            from,
            to,
            reason,
        } => E::EvidenceStatusChanged {
            request: RequestId::from_uuid(request_id),
            from: req_status(&from)?,
            to: req_status(&to)?,
            reason: reason.map(|r| text("reason", &r)).transpose()?,
        },
        V::Waiver5103Submitted { received_at } => E::Waiver5103Submitted { received_at },
        V::RequestMarkedOverdue {
            request_id,
            suspense_date,
        } => E::RequestMarkedOverdue {
            request: RequestId::from_uuid(request_id),
            suspense_date,
        },
        V::ReminderIssued { request_id } => E::ReminderIssued {
            request: RequestId::from_uuid(request_id),
        },
        V::PhaseChanged {
            from,
            to,
            back,
            reason,
        } => E::PhaseChanged {
            from: phase(&from)?,
            to: phase(&to)?,
            back,
            reason: opt_text("reason", reason.as_deref())?,
        },
        V::EstimateChanged { estimate, reason } => E::EstimateChanged {
            estimate: Estimate {
                earliest: estimate.earliest,
                latest: estimate.latest,
            },
            reason: match reason {
                EstimateReasonV1::ClaimReceived => EstimateReason::ClaimReceived,
                EstimateReasonV1::PhaseChanged { phase: p } => {
                    EstimateReason::PhaseChanged(phase(&p)?)
                }
                EstimateReasonV1::PhaseMovedBack { phase: p } => {
                    EstimateReason::PhaseMovedBack(phase(&p)?)
                }
            },
        },
        V::CaseAssigned { assignee, previous } => E::CaseAssigned {
            assignee: actor(&assignee)?,
            previous: previous.as_deref().map(actor).transpose()?,
        },
        V::CaseUnassigned { previous } => E::CaseUnassigned {
            previous: actor(&previous)?,
        },
        V::CaseRoutedToTeam { team } => E::CaseRoutedToTeam {
            team: TeamCode::parse(&team)?,
        },
        V::ContactRecorded { contact: c } => E::ContactRecorded {
            contact: Contact {
                id: ContactId::from_uuid(c.id),
                kind: match c.kind.as_str() {
                    "INBOUND" => ContactKind::Inbound,
                    "OUTBOUND" => ContactKind::Outbound,
                    "NOTE" => ContactKind::Note,
                    _ => return Err(bad("kind")),
                },
                channel: Channel::parse(&c.channel)?,
                agent: actor(&c.agent)?,
                reason: opt_text("reason", c.reason.as_deref())?,
                summary: text("summary", &c.summary)?,
                follow_up: opt_text("followUp", c.follow_up.as_deref())?,
                occurred_at: c.occurred_at,
            },
        },
        V::DecisionProposed {
            adjudications,
            proposer,
        } => E::DecisionProposed {
            adjudications: adjudications
                .iter()
                .map(|a| {
                    Ok((
                        ContentionId::from_uuid(a.contention),
                        adjudication(&a.adjudication)?,
                    ))
                })
                .collect::<Result<_, DecodeError>>()?,
            proposer: actor(&proposer)?,
        },
        V::DecisionApproved { approver, outcome } => E::DecisionApproved {
            approver: actor(&approver)?,
            outcome: ClaimOutcome::from_code(&outcome).ok_or_else(|| bad("outcome"))?,
        },
        V::DecisionReturned { approver, reason } => E::DecisionReturned {
            approver: actor(&approver)?,
            reason: text("reason", &reason)?,
        },
        V::DecisionLetterMailed { mailed_at } => E::DecisionLetterMailed { mailed_at },
        V::CaseWithdrawn { reason } => E::CaseWithdrawn {
            reason: opt_text("reason", reason.as_deref())?,
        },
        V::CaseMerged { survivor_case_id } => E::CaseMerged {
            survivor: CaseId::from_uuid(survivor_case_id),
        },
        V::AppealFiled {
            contention_id,
            appeal_case_id,
        } => E::AppealFiled {
            contention: ContentionId::from_uuid(contention_id),
            appeal_case: CaseId::from_uuid(appeal_case_id),
        },
        V::AppealConcluded { appeal_case_id } => E::AppealConcluded {
            appeal_case: CaseId::from_uuid(appeal_case_id),
        },
    })
}

fn pii_from(p: PiiV1) -> Result<ClaimantPii, DecodeError> {
    Ok(ClaimantPii {
        file_number: FileNumber::parse(&p.file_number)?,
        identity_number: p
            .identity_number
            .as_deref()
            .map(IdentityNumber::parse)
            .transpose()?,
        given_name: text("givenName", &p.given_name)?,
        family_name: text("familyName", &p.family_name)?,
        birth_date: p.birth_date,
        postcode: text("postcode", &p.postcode)?,
        address_lines: p
            .address_lines
            .iter()
            .map(|l| text("addressLines", l))
            .collect::<Result<_, _>>()?,
    })
}

fn texts(field: &'static str, v: &[String]) -> Result<Vec<Text>, DecodeError> {
    v.iter().map(|s| text(field, s)).collect()
}

fn claimant_from_v1(v: ClaimantEventV1) -> Result<ClaimantEvent, DecodeError> {
    use ClaimantEvent as E;
    use ClaimantEventV1 as V;
    Ok(match v {
        V::ClaimantRegistered { claimant_id, pii } => E::ClaimantRegistered {
            id: ClaimantId::from_uuid(claimant_id),
            pii: pii_from(pii)?,
        },
        V::PiiCorrected { pii } => E::PiiCorrected {
            pii: pii_from(pii)?,
        },
        V::RepresentativeChanged { representative } => E::RepresentativeChanged {
            representative: representative
                .map(|r| {
                    Ok::<_, DecodeError>(Representative {
                        actor: actor(&r.actor)?,
                        poa_code: text("poaCode", &r.poa_code)?,
                    })
                })
                .transpose()?,
        },
        V::GuardianChanged { guardian } => E::GuardianChanged {
            guardian: guardian
                .map(|g| {
                    Ok::<_, DecodeError>(Guardian {
                        actor: actor(&g.actor)?,
                        relationship: text("relationship", &g.relationship)?,
                    })
                })
                .transpose()?,
        },
        V::FlagsChanged {
            safety,
            accessibility,
        } => E::FlagsChanged {
            flags: Flags {
                safety: texts("safety", &safety)?,
                accessibility: texts("accessibility", &accessibility)?,
            },
        },
        V::RestrictionChanged {
            restriction,
            office,
        } => E::RestrictionChanged {
            restriction: match restriction.as_deref() {
                None => None,
                Some("AGENCY_EMPLOYEE") => Some(Restriction::AgencyEmployee {
                    office: opt_text("office", office.as_deref())?,
                }),
                Some("PROTECTED_ADDRESS") => Some(Restriction::ProtectedAddress),
                Some(_) => return Err(bad("restriction")),
            },
        },
    })
}
