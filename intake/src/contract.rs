//! The channel-submission document, version 1 (`schemas/`), from bytes to
//! typed values. Every intake path goes through [`Contract::submission`]:
//! JSON Schema first (the published promise), then domain parsing.

use crate::IntakeError;
use chrono::{DateTime, NaiveDate, Utc};
use domain::{BenefitType, Channel, ErrorCode, ExternalId, FileNumber, Submitter, Text};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

pub const SUBMISSION_SCHEMA: &str = include_str!("../../schemas/channel-submission.v1.json");
pub const BATCH_SCHEMA: &str = include_str!("../../schemas/mail-batch.v1.json");

/// What a submission asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    NewClaim,
    AdditionalEvidence,
    #[serde(rename = "WAIVER_5103")]
    Waiver5103,
    Withdrawal,
    Appeal,
    Contact,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::NewClaim => "NEW_CLAIM",
            Kind::AdditionalEvidence => "ADDITIONAL_EVIDENCE",
            Kind::Waiver5103 => "WAIVER_5103",
            Kind::Withdrawal => "WITHDRAWAL",
            Kind::Appeal => "APPEAL",
            Kind::Contact => "CONTACT",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        [
            Kind::NewClaim,
            Kind::AdditionalEvidence,
            Kind::Waiver5103,
            Kind::Withdrawal,
            Kind::Appeal,
            Kind::Contact,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// How the submission names the claimant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimantRef {
    pub file_number: Option<FileNumber>,
    pub given_name: Option<Text>,
    pub family_name: Option<Text>,
    pub birth_date: Option<NaiveDate>,
    pub postcode: Option<Text>,
    pub address_lines: Vec<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRef {
    pub document_id: String,
    pub document_type: domain::DocumentType,
    pub pages: u32,
    pub checksum: domain::Checksum,
    pub storage_ref: domain::StorageRef,
}

/// A validated, typed submission.
#[derive(Clone, Debug)]
pub struct Submission {
    pub channel: Channel,
    pub external_id: ExternalId,
    pub received_at: DateTime<Utc>,
    pub submitted_by: Submitter,
    pub claimant: ClaimantRef,
    pub kind: Kind,
    pub benefit: Option<BenefitType>,
    pub case_id: Option<Uuid>,
    pub contentions: Vec<Text>,
    pub contention_id: Option<Uuid>,
    pub request_id: Option<Uuid>,
    pub reason: Option<Text>,
    pub summary: Option<Text>,
    pub documents: Vec<DocumentRef>,
}

impl Submission {
    /// The submission in canonical form, under the contract's field names
    /// (`schemas/channel-submission.v1.json`): what identifies it for its
    /// idempotency key (`engine::fingerprint`).
    pub fn canonical(&self) -> serde_json::Value {
        let text = |t: &Option<Text>| t.as_ref().map(|t| t.as_str().to_owned());
        serde_json::json!({
            "channel": self.channel.code(),
            "externalId": self.external_id.as_str(),
            "receivedAt": self.received_at.to_rfc3339(),
            "submittedBy": engine::fingerprint::submitter(&self.submitted_by),
            "claimant": {
                "fileNumber": self.claimant.file_number.as_ref().map(|f| f.as_str().to_owned()),
                "givenName": text(&self.claimant.given_name),
                "familyName": text(&self.claimant.family_name),
                "birthDate": self.claimant.birth_date.map(|d| d.to_string()),
                "postcode": text(&self.claimant.postcode),
                "addressLines": self.claimant.address_lines.iter().map(Text::as_str).collect::<Vec<_>>(),
            },
            "kind": self.kind.code(),
            "benefitType": self.benefit.as_ref().map(|b| b.as_str().to_owned()),
            "caseId": self.case_id.map(|c| c.to_string()),
            "contentions": self.contentions.iter().map(Text::as_str).collect::<Vec<_>>(),
            "contentionId": self.contention_id.map(|c| c.to_string()),
            "requestId": self.request_id.map(|r| r.to_string()),
            "reason": text(&self.reason),
            "summary": text(&self.summary),
            "documents": self.documents.iter().map(|d| serde_json::json!({
                "documentId": d.document_id,
                "documentType": d.document_type.as_str(),
                "pageCount": d.pages,
                "checksum": d.checksum.as_str(),
                "storageRef": d.storage_ref.as_str(),
            })).collect::<Vec<_>>(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubmitter {
    kind: String,
    actor: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawClaimant {
    pub file_number: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub postcode: Option<String>,
    #[serde(default)]
    pub address_lines: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawDocument {
    pub document_id: String,
    pub document_type: String,
    pub page_count: u32,
    pub checksum: String,
    pub storage_ref: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubmission {
    channel: String,
    external_id: String,
    received_at: DateTime<Utc>,
    submitted_by: RawSubmitter,
    claimant: RawClaimant,
    kind: Kind,
    benefit_type: Option<String>,
    case_id: Option<Uuid>,
    #[serde(default)]
    contentions: Vec<String>,
    contention_id: Option<Uuid>,
    request_id: Option<Uuid>,
    reason: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    documents: Vec<RawDocument>,
}

/// The compiled schemas.
pub struct Contract {
    submission: jsonschema::Validator,
    batch: jsonschema::Validator,
    entry: jsonschema::Validator,
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// The first schema violation, as `field: what` (no values: they may be PII).
fn violation(validator: &jsonschema::Validator, doc: &Value) -> Option<String> {
    validator.iter_errors(doc).next().map(|e| {
        let path = e.instance_path().to_string();
        let field = if path.is_empty() {
            "document".to_owned()
        } else {
            path
        };
        let what = match e.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                format!("missing required field {property}")
            }
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                format!("unknown field(s) {}", unexpected.join(", "))
            }
            jsonschema::error::ValidationErrorKind::Enum { .. }
            | jsonschema::error::ValidationErrorKind::Constant { .. } => {
                "value not allowed".to_owned()
            }
            jsonschema::error::ValidationErrorKind::Format { format } => {
                format!("not a valid {format}")
            }
            jsonschema::error::ValidationErrorKind::Pattern { .. } => "wrong format".to_owned(),
            jsonschema::error::ValidationErrorKind::Type { .. } => "wrong type".to_owned(),
            _ => "invalid".to_owned(),
        };
        format!("{field}: {what}")
    })
}

fn text(field: &'static str, raw: Option<&str>) -> Result<Option<Text>, IntakeError> {
    raw.map(|r| Text::parse(field, r))
        .transpose()
        .map_err(IntakeError::from)
}

impl ClaimantRef {
    pub(crate) fn parse(raw: &RawClaimant) -> Result<ClaimantRef, IntakeError> {
        Ok(ClaimantRef {
            file_number: raw
                .file_number
                .as_deref()
                .map(FileNumber::parse)
                .transpose()?,
            given_name: text("claimant.givenName", raw.given_name.as_deref())?,
            family_name: text("claimant.familyName", raw.family_name.as_deref())?,
            birth_date: raw.birth_date,
            postcode: text("claimant.postcode", raw.postcode.as_deref())?,
            address_lines: raw
                .address_lines
                .iter()
                .map(|l| Text::parse("claimant.addressLines", l))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Everything needed to register the person.
    pub fn full_identity(&self) -> Option<domain::ClaimantPii> {
        Some(domain::ClaimantPii {
            file_number: self.file_number.clone()?,
            identity_number: None,
            given_name: self.given_name.clone()?,
            family_name: self.family_name.clone()?,
            birth_date: self.birth_date?,
            postcode: self.postcode.clone()?,
            address_lines: self.address_lines.clone(),
        })
    }
}

impl DocumentRef {
    pub(crate) fn parse(raw: &RawDocument) -> Result<DocumentRef, IntakeError> {
        if raw.page_count == 0 {
            return Err(IntakeError::new(
                ErrorCode::EmptyFile,
                "the document has no pages",
            ));
        }
        Ok(DocumentRef {
            document_id: raw.document_id.clone(),
            document_type: domain::DocumentType::parse(&raw.document_type)?,
            pages: raw.page_count,
            checksum: domain::Checksum::parse(&raw.checksum).map_err(|_| {
                IntakeError::new(
                    ErrorCode::BadChecksum,
                    "checksum must be sha256: and 64 lowercase hex digits",
                )
            })?,
            storage_ref: domain::StorageRef::parse(&raw.storage_ref)?,
        })
    }
}

impl Contract {
    pub fn new() -> Result<Contract, String> {
        let submission: Value =
            serde_json::from_str(SUBMISSION_SCHEMA).map_err(|e| e.to_string())?;
        let batch: Value = serde_json::from_str(BATCH_SCHEMA).map_err(|e| e.to_string())?;
        let mut entry = batch["$defs"]["entry"].clone();
        if let Value::Object(map) = &mut entry {
            map.insert("$schema".into(), batch["$schema"].clone());
        }
        Ok(Contract {
            submission: compile(&submission)?,
            batch: compile(&batch)?,
            entry: compile(&entry)?,
        })
    }

    /// Bytes → a validated submission, or a coded refusal.
    pub fn submission(&self, bytes: &[u8]) -> Result<Submission, IntakeError> {
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|_| IntakeError::new(ErrorCode::MalformedJson, "the body is not JSON"))?;
        self.submission_value(&doc)
    }

    pub fn submission_value(&self, doc: &Value) -> Result<Submission, IntakeError> {
        if let Some(v) = violation(&self.submission, doc) {
            return Err(IntakeError::new(schema_code(&v), v));
        }
        let raw: RawSubmission = serde_json::from_value(doc.clone()).map_err(|_| {
            IntakeError::new(
                ErrorCode::SchemaViolation,
                "the document does not match the schema",
            )
        })?;
        let actor = |a: &Option<String>| -> Result<domain::ActorId, IntakeError> {
            Ok(domain::ActorId::parse(a.as_deref().unwrap_or_default())?)
        };
        Ok(Submission {
            channel: Channel::parse(&raw.channel)?,
            external_id: ExternalId::parse(&raw.external_id)?,
            received_at: raw.received_at,
            submitted_by: match raw.submitted_by.kind.as_str() {
                "STAFF" => Submitter::Staff(actor(&raw.submitted_by.actor)?),
                "REPRESENTATIVE" => Submitter::Representative(actor(&raw.submitted_by.actor)?),
                _ => Submitter::Claimant,
            },
            claimant: ClaimantRef::parse(&raw.claimant)?,
            kind: raw.kind,
            benefit: raw
                .benefit_type
                .as_deref()
                .map(BenefitType::parse)
                .transpose()?,
            case_id: raw.case_id,
            contentions: raw
                .contentions
                .iter()
                .map(|c| Text::parse("contentions", c))
                .collect::<Result<_, _>>()?,
            contention_id: raw.contention_id,
            request_id: raw.request_id,
            reason: text("reason", raw.reason.as_deref())?,
            summary: text("summary", raw.summary.as_deref())?,
            documents: raw
                .documents
                .iter()
                .map(DocumentRef::parse)
                .collect::<Result<_, _>>()?,
        })
    }

    pub(crate) fn batch_violation(&self, doc: &Value) -> Option<String> {
        violation(&self.batch, doc)
    }

    pub(crate) fn entry_violation(&self, doc: &Value) -> Option<String> {
        violation(&self.entry, doc)
    }
}

/// Missing fields get their own code; everything else is a schema violation.
pub(crate) fn schema_code(violation: &str) -> ErrorCode {
    if violation.contains("missing required field") {
        ErrorCode::MissingField
    } else {
        ErrorCode::SchemaViolation
    }
}
