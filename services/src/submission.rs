//! The channel-submission document (version 1), as the CLI reads it from a
//! file: a claimant identification and a new claim. Parsing turns outside
//! JSON into typed values or a coded error naming the field.

use chrono::{DateTime, NaiveDate, Utc};
use domain::claimant::ClaimantPii;
use domain::{BenefitType, Channel, ExternalId, FileNumber, ParseError, Submitter, Text};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSubmission {
    schema_version: Option<u32>,
    channel: String,
    external_id: String,
    received_at: DateTime<Utc>,
    submitted_by: RawSubmitter,
    claimant: RawClaimant,
    kind: String,
    benefit_type: String,
    #[serde(default)]
    contentions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
enum RawSubmitter {
    Claimant,
    Staff { actor: String },
    Representative { actor: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawClaimant {
    file_number: String,
    given_name: String,
    family_name: String,
    birth_date: NaiveDate,
    postcode: String,
    #[serde(default)]
    address_lines: Vec<String>,
}

/// A parsed new-claim submission.
#[derive(Clone, Debug)]
pub struct NewClaimSubmission {
    pub channel: Channel,
    pub external_id: ExternalId,
    pub received_at: DateTime<Utc>,
    pub submitted_by: Submitter,
    pub claimant: ClaimantPii,
    pub benefit: BenefitType,
    pub contentions: Vec<Text>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    #[error("not a valid submission document: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("unsupported schemaVersion {0}; this build reads version 1")]
    Version(u32),
    #[error("kind {0} is not supported here; only NEW_CLAIM")]
    Kind(String),
    #[error(transparent)]
    Field(#[from] ParseError),
}

impl SubmissionError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            SubmissionError::Malformed(_) => domain::ErrorCode::MalformedSubmission,
            SubmissionError::Version(_) => domain::ErrorCode::UnsupportedSchemaVersion,
            SubmissionError::Kind(_) => domain::ErrorCode::UnsupportedKind,
            SubmissionError::Field(_) => ParseError::CODE,
        }
    }
}

fn text(field: &'static str, raw: &str) -> Result<Text, ParseError> {
    Text::parse(field, raw)
}

impl NewClaimSubmission {
    pub fn parse(bytes: &[u8]) -> Result<Self, SubmissionError> {
        let raw: RawSubmission = serde_json::from_slice(bytes)?;
        match raw.schema_version {
            None | Some(1) => {}
            Some(v) => return Err(SubmissionError::Version(v)),
        }
        if raw.kind != "NEW_CLAIM" {
            return Err(SubmissionError::Kind(raw.kind));
        }
        let submitted_by = match raw.submitted_by {
            RawSubmitter::Claimant => Submitter::Claimant,
            RawSubmitter::Staff { actor } => Submitter::Staff(domain::ActorId::parse(&actor)?),
            RawSubmitter::Representative { actor } => {
                Submitter::Representative(domain::ActorId::parse(&actor)?)
            }
        };
        let c = raw.claimant;
        Ok(Self {
            channel: Channel::parse(&raw.channel)?,
            external_id: ExternalId::parse(&raw.external_id)?,
            received_at: raw.received_at,
            submitted_by,
            claimant: ClaimantPii {
                file_number: FileNumber::parse(&c.file_number)?,
                identity_number: None,
                given_name: text("claimant.givenName", &c.given_name)?,
                family_name: text("claimant.familyName", &c.family_name)?,
                birth_date: c.birth_date,
                postcode: text("claimant.postcode", &c.postcode)?,
                address_lines: c
                    .address_lines
                    .iter()
                    .map(|l| text("claimant.addressLines", l))
                    .collect::<Result<_, _>>()?,
            },
            benefit: BenefitType::parse(&raw.benefit_type)?,
            contentions: raw
                .contentions
                .iter()
                .map(|c| text("contentions", c))
                .collect::<Result<_, _>>()?,
        })
    }
}
