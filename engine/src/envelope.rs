//! What a transport hands the engine (the envelope, a claim submission) and
//! what it gets back.

use crate::fingerprint::Fingerprint;
use chrono::{DateTime, Utc};
use domain::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who issues a command, through what, and under which keys. Built by the
/// transport from the *authenticated* principal, never from request data.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub tenant: TenantId,
    pub actor: ActorId,
    pub channel: Option<Channel>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    /// Replaying a command with the same key returns the original result.
    pub idempotency_key: Option<String>,
    /// What identifies "the same command" for the key. Transports that put
    /// server-generated ids into commands must set it from the request they
    /// received (otherwise a replay would look like a different command);
    /// when absent, the command itself is hashed.
    pub fingerprint: Option<Fingerprint>,
    /// The version the caller saw; set, a mismatch is a `VERSION_CONFLICT`
    /// and the command is never retried automatically.
    pub expected_version: Option<u64>,
}

impl Envelope {
    pub fn new(tenant: TenantId, actor: ActorId) -> Self {
        Self {
            tenant,
            actor,
            channel: None,
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            idempotency_key: None,
            fingerprint: None,
            expected_version: None,
        }
    }

    pub fn channel(mut self, channel: Channel) -> Self {
        self.channel = Some(channel);
        self
    }

    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn expected_version(mut self, version: u64) -> Self {
        self.expected_version = Some(version);
        self
    }
}

/// What a command did. Stored with the idempotency key and returned to
/// every replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandResult {
    /// The case (or claimant) the command landed on.
    pub stream_id: Uuid,
    /// Its version after the command.
    pub version: u64,
    pub outcome: Outcome,
    pub event_ids: Vec<Uuid>,
    /// True when this is the stored result of an earlier identical command.
    #[serde(skip)]
    pub replayed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// A new case (or claimant) was opened.
    Created,
    /// The submission joined an open case of the same claimant and benefit.
    AttachedAsDuplicate,
    Updated,
    /// Nothing needed to change (e.g. assigning the current assignee).
    Unchanged,
}

/// A claim as a channel submits it: ids are assigned here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimSubmission {
    pub claimant: ClaimantId,
    pub benefit: BenefitType,
    pub contentions: Vec<Text>,
    pub channel: Channel,
    pub external_id: ExternalId,
    pub received_at: DateTime<Utc>,
    pub submitted_by: Submitter,
}
