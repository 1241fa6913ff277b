//! The documents a plan files, typed: channel submissions (v1) and mail-scan
//! batch manifests (v1), serialised to exactly what the contract in
//! `schemas/` takes. Absent optional fields are left out, never `null`.

use super::{Gen, Person, Via};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// Timestamps as the channels send them: RFC 3339, whole seconds, `Z`.
fn seconds<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// A channel submission (`schemas/channel-submission.v1.json`) of a new
/// claim through the portal, the counter or the phone.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    pub schema_version: u32,
    pub channel: Via,
    pub external_id: String,
    #[serde(serialize_with = "seconds")]
    pub received_at: DateTime<Utc>,
    pub submitted_by: SubmittedBy,
    pub claimant: ClaimantRef,
    pub kind: Kind,
    pub benefit_type: String,
    pub contentions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<Upload>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    NewClaim,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubmittedBy {
    Claimant,
    Staff { actor: String },
}

/// How a submission or a letter names the claimant (what OCR read, for a
/// letter).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimantRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub address_lines: Vec<String>,
}

impl ClaimantRef {
    pub fn by_file_number(p: &Person) -> ClaimantRef {
        ClaimantRef {
            file_number: Some(p.file_number.clone()),
            ..ClaimantRef::default()
        }
    }

    /// Name, birth date and postcode: matched where exactly one person
    /// has them.
    pub fn by_identity(p: &Person) -> ClaimantRef {
        ClaimantRef {
            given_name: Some(p.given_name.clone()),
            family_name: Some(p.family_name.clone()),
            birth_date: Some(p.birth_date),
            postcode: Some(p.postcode.clone()),
            ..ClaimantRef::default()
        }
    }

    /// Everything a counter clerk takes down (enough to register the person).
    pub fn full_identity(p: &Person) -> ClaimantRef {
        ClaimantRef {
            file_number: Some(p.file_number.clone()),
            address_lines: p.address_lines.clone(),
            ..ClaimantRef::by_identity(p)
        }
    }
}

/// A document uploaded with a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub document_id: String,
    pub document_type: &'static str,
    pub page_count: i64,
    pub checksum: String,
    pub storage_ref: String,
}

impl Upload {
    pub(super) fn new(g: &mut Gen, document_id: String, bucket: &str) -> Upload {
        let (document_type, page_count) = match g.below(3) {
            0 => ("DD214", g.between(1, 2)),
            1 => ("MEDICAL_RECORD", g.between(2, 40)),
            _ => ("SERVICE_RECORD", g.between(3, 25)),
        };
        Upload {
            storage_ref: format!("s3://{bucket}/{document_id}.pdf"),
            document_id,
            document_type,
            page_count,
            checksum: g.sha256(),
        }
    }
}

/// A mail-scan batch manifest (`schemas/mail-batch.v1.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailBatch {
    pub schema_version: u32,
    pub batch_id: String,
    pub scanned_by: &'static str,
    pub documents: Vec<MailDocument>,
}

/// One scanned letter of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailDocument {
    pub document_id: String,
    #[serde(serialize_with = "seconds")]
    pub received_at: DateTime<Utc>,
    #[serde(serialize_with = "seconds")]
    pub scanned_at: DateTime<Utc>,
    pub document_type: String,
    pub page_count: i64,
    pub checksum: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benefit_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contentions: Vec<String>,
    pub ocr: ClaimantRef,
}
