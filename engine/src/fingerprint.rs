//! Idempotency fingerprints: what identifies "the same request" under one
//! idempotency key, across restarts and upgrades.
//!
//! A fingerprint is `v2:` + SHA-256 of a kind and an explicit canonical
//! form of the request: a JSON object with the request's fields under
//! stable names (the public contract's names where there is one), codes for
//! enums, keys sorted, and absent values (null, `[]`, `{}`) left out. So a
//! field added later never changes the fingerprint of a request that does
//! not use it, and nothing depends on `Debug` output.
//!
//! Records written by the previous form (unprefixed hashes of `Debug`
//! output) are still recognised: a transport passes the fingerprint the
//! previous form computed for the same request as the legacy one
//! ([`Fingerprint::legacy`]), and a stored record equal to either is a
//! replay.

use domain::case::{
    AttachDocument, ContactKind, DocumentFiling, NewChannelEntry, NewEvidenceRequest,
};
use domain::claimant::{ClaimantCommand, ClaimantEvent, ClaimantPii};
use domain::{CaseCommand, Submitter};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The form every new fingerprint is written with.
pub const FORM: &str = "v2";

/// What a request's fingerprint is, and what the previous form made of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Stored with a new idempotency record.
    pub current: String,
    /// Recognised in records written before [`FORM`].
    pub legacy: Option<String>,
}

impl Fingerprint {
    /// The fingerprint of `input` (any JSON: it is canonicalised) as a
    /// request of `kind` (e.g. `graphql:reviewEvidence`, `case:Assign`).
    pub fn of(kind: &str, input: &Value) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(canonical(input).as_bytes());
        Fingerprint {
            current: format!("{FORM}:{}", hex::encode(h.finalize())),
            legacy: None,
        }
    }

    /// Also recognise `legacy`, the previous form's fingerprint.
    pub fn or_legacy(mut self, legacy: String) -> Fingerprint {
        self.legacy = Some(legacy);
        self
    }

    /// Whether a stored record's fingerprint is this request's.
    pub fn matches(&self, stored: &str) -> bool {
        stored == self.current || self.legacy.as_deref() == Some(stored)
    }
}

/// The canonical text of a JSON value: object keys sorted, null, empty
/// arrays and empty objects left out (recursively), no whitespace.
pub fn canonical(value: &Value) -> String {
    prune(value).map(|v| v.to_string()).unwrap_or_default()
}

fn prune(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Array(items) => {
            let items: Vec<Value> = items
                .iter()
                .map(|v| prune(v).unwrap_or(Value::Null))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(fields) => {
            // serde_json's map is ordered by key (no `preserve_order`), so
            // the text is sorted; collected explicitly all the same.
            let mut sorted: Vec<(&String, Value)> = fields
                .iter()
                .filter_map(|(k, v)| prune(v).map(|v| (k, v)))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let map: Map<String, Value> = sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other.clone()),
    }
}

/// A submitter in its canonical form.
pub fn submitter(s: &Submitter) -> Value {
    match s {
        Submitter::Claimant => json!({"kind": "CLAIMANT"}),
        Submitter::Staff(a) => json!({"kind": "STAFF", "actor": a.as_str()}),
        Submitter::Representative(a) => json!({"kind": "REPRESENTATIVE", "actor": a.as_str()}),
    }
}

fn entry(e: &NewChannelEntry) -> Value {
    json!({
        "id": e.id.to_string(),
        "channel": e.channel.code(),
        "externalId": e.external_id.as_str(),
        "receivedAt": e.received_at.to_rfc3339(),
        "submittedBy": submitter(&e.submitted_by),
    })
}

fn document(d: &AttachDocument) -> Value {
    let mut value = json!({
        "id": d.id.to_string(),
        "documentType": d.document_type.as_str(),
        "pages": d.pages,
        "checksum": d.checksum.as_str(),
        "storageRef": d.storage_ref.as_str(),
        "receivedAt": d.received_at.to_rfc3339(),
        "channel": d.channel.code(),
        "requestId": d.request.map(|r| r.to_string()),
    });
    // Added later: written only when it is not the default, so the form of
    // every request made before it is unchanged.
    if d.filed_as != DocumentFiling::Evidence {
        value["filedAs"] = json!(d.filed_as.code());
    }
    value
}

fn request(r: &NewEvidenceRequest) -> Value {
    json!({
        "id": r.id.to_string(),
        "kind": r.kind.code(),
        "description": r.description.as_str(),
        "neededFrom": if r.needed_from_claimant { "CLAIMANT" } else { "OTHERS" },
        "dueDate": r.suspense_date.to_string(),
        "suppressed": r.suppressed,
    })
}

/// The canonical form of a case command: its kind is `case:<name>`, its
/// fields under stable camelCase names. Values the pipeline fills in from
/// configuration (estimates, the late-evidence rule) are not part of the
/// request and left out.
pub fn case_command(command: &CaseCommand) -> (String, Value) {
    use CaseCommand as C;
    let text = |t: &Option<domain::Text>| t.as_ref().map(|t| t.as_str().to_owned());
    let fields = match command {
        C::SubmitClaim(s) => json!({
            "caseId": s.case_id.to_string(),
            "claimantId": s.claimant.to_string(),
            "benefitType": s.benefit.as_str(),
            "contentions": s.contentions.iter().map(|c| json!({"id": c.id.to_string(), "description": c.description.as_str()})).collect::<Vec<_>>(),
            "entry": entry(&s.entry),
            "appealOf": s.appeal_of.map(|a| json!({"caseId": a.original_case.to_string(), "contentionId": a.contention.to_string()})),
        }),
        C::AttachChannelEntry(e) => json!({"entry": entry(e)}),
        C::AttachDocument(d) => json!({"document": document(d)}),
        C::LinkDocument { document, request } => {
            json!({"documentId": document.to_string(), "requestId": request.to_string()})
        }
        C::MarkDocumentNeedsNoLink { document, reason } => {
            json!({"documentId": document.to_string(), "reason": reason.as_str()})
        }
        C::AcknowledgeLateEvidence { document } => json!({"documentId": document.to_string()}),
        C::RequestEvidence(r) => json!({"request": request(r)}),
        C::SubmitWaiver5103 { received_at } => json!({"receivedAt": received_at.to_rfc3339()}),
        C::ReviewEvidence {
            request,
            to,
            reason,
        } => json!({
            "requestId": request.to_string(),
            "to": to.code(),
            "reason": text(reason),
        }),
        C::ChangePhase { to, reason, .. } => json!({"to": to.code(), "reason": text(reason)}),
        C::Assign { assignee, reassign } => {
            json!({"assignee": assignee.as_str(), "reassign": reassign})
        }
        C::Unassign => json!({}),
        C::RouteToTeam { team } => json!({"team": team.as_str()}),
        C::RecordContact(c) => json!({
            "id": c.id.to_string(),
            "kind": match c.kind {
                ContactKind::Inbound => "INBOUND",
                ContactKind::Outbound => "OUTBOUND",
                ContactKind::Note => "NOTE",
            },
            "channel": c.channel.code(),
            "reason": text(&c.reason),
            "summary": c.summary.as_str(),
            "followUp": text(&c.follow_up),
            "occurredAt": c.occurred_at.to_rfc3339(),
        }),
        C::ProposeDecision {
            adjudications,
            close_requests,
        } => json!({
            "adjudications": adjudications.iter().map(|(c, a)| json!({"contentionId": c.to_string(), "adjudication": a.code()})).collect::<Vec<_>>(),
            "closeRequests": close_requests.iter().map(|(r, why)| json!({"requestId": r.to_string(), "reason": why.as_str()})).collect::<Vec<_>>(),
        }),
        C::ApproveDecision => json!({}),
        C::ReturnDecision { reason } => json!({"reason": reason.as_str()}),
        C::MailDecisionLetter { mailed_at } => json!({"mailedAt": mailed_at.to_rfc3339()}),
        C::Withdraw { reason } => json!({"reason": text(reason)}),
        C::MergeInto { survivor } => json!({"survivorId": survivor.to_string()}),
        C::MarkRequestOverdue { request } => json!({"requestId": request.to_string()}),
        C::FileAppeal {
            contention,
            appeal_case,
        } => json!({
            "contentionId": contention.to_string(),
            "appealCaseId": appeal_case.to_string(),
        }),
        C::ConcludeAppeal { appeal_case } => json!({"appealCaseId": appeal_case.to_string()}),
    };
    (format!("case:{}", command.name()), fields)
}

/// The previous form's fingerprint of a case command (`Debug` output),
/// kept to recognise records it wrote. Commands that gained a field since
/// are written as they printed before, when the new field is unused.
pub fn legacy_case_command(command: &CaseCommand) -> Option<String> {
    match command {
        CaseCommand::ReviewEvidence {
            request,
            to,
            reason: None,
        } => Some(format!(
            "ReviewEvidence {{ request: {request:?}, to: {to:?} }}"
        )),
        CaseCommand::ReviewEvidence { .. } => None,
        CaseCommand::ProposeDecision {
            adjudications,
            close_requests,
        } if close_requests.is_empty() => Some(format!(
            "ProposeDecision {{ adjudications: {adjudications:?} }}"
        )),
        CaseCommand::ProposeDecision { .. } => None,
        // Gained `filed_as` (and the pipeline-filled `on_late`).
        CaseCommand::AttachDocument(d) if d.filed_as == DocumentFiling::Evidence => Some(format!(
            "AttachDocument(AttachDocument {{ id: {:?}, document_type: {:?}, pages: {:?}, checksum: {:?}, storage_ref: {:?}, received_at: {:?}, channel: {:?}, request: {:?} }})",
            d.id, d.document_type, d.pages, d.checksum, d.storage_ref, d.received_at, d.channel, d.request
        )),
        CaseCommand::AttachDocument(_) => None,
        other => Some(format!("{other:?}")),
    }
}

/// A person's data in canonical form (the fields `registerClaimant` takes).
pub fn pii(pii: &ClaimantPii) -> Value {
    json!({
        "fileNumber": pii.file_number.as_str(),
        "identityNumber": pii.identity_number.as_ref().map(|n| n.as_str().to_owned()),
        "givenName": pii.given_name.as_str(),
        "familyName": pii.family_name.as_str(),
        "birthDate": pii.birth_date.to_string(),
        "postcode": pii.postcode.as_str(),
        "addressLines": pii.address_lines.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
    })
}

/// The canonical form of a claimant command. The settings commands are
/// written as the event they record, in its stored form (the event log's
/// compatibility promise, `store::codec`).
pub fn claimant_command(command: &ClaimantCommand) -> (String, Value) {
    let stored = |event: ClaimantEvent| {
        serde_json::from_str::<Value>(&store::codec::encode_claimant(&event).payload)
            .unwrap_or(Value::Null)
    };
    let fields = match command {
        ClaimantCommand::Register { id, pii: p } => {
            json!({"id": id.to_string(), "pii": pii(p)})
        }
        ClaimantCommand::CorrectPii { pii: p } => json!({"pii": pii(p)}),
        ClaimantCommand::SetRepresentative(r) => stored(ClaimantEvent::RepresentativeChanged {
            representative: r.clone(),
        }),
        ClaimantCommand::SetGuardian(g) => stored(ClaimantEvent::GuardianChanged {
            guardian: g.clone(),
        }),
        ClaimantCommand::SetFlags(f) => stored(ClaimantEvent::FlagsChanged { flags: f.clone() }),
        ClaimantCommand::SetRestriction(r) => stored(ClaimantEvent::RestrictionChanged {
            restriction: r.clone(),
        }),
    };
    (format!("claimant:{}", command.name()), fields)
}
