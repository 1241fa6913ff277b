//! The event-log contract shared by both backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::TenantId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What kind of aggregate a stream holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamKind {
    Case,
    Claimant,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Case => "case",
            StreamKind::Claimant => "claimant",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "case" => Ok(StreamKind::Case),
            "claimant" => Ok(StreamKind::Claimant),
            other => Err(StoreError::Corrupt(format!("unknown stream kind {other}"))),
        }
    }
}

/// Who, through what, and why: stored with every event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata {
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub command: String,
    pub correlation_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// One event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    /// Compact JSON, stored and hashed byte for byte.
    pub payload: String,
    /// Compact JSON of [`EventMetadata`].
    pub metadata: String,
}

/// Events for one stream, valid only if the stream is at `expected_version`
/// (0 = the stream must not exist yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamWrite {
    pub stream_id: Uuid,
    pub kind: StreamKind,
    pub expected_version: u64,
    pub events: Vec<NewEvent>,
}

/// A unique key (per tenant and scope) held by one stream, e.g. the open
/// claim of a claimant for a benefit type, or a file number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueKey {
    pub scope: String,
    pub key: String,
}

/// The record that makes a command idempotent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    /// Hash of the command, to tell a replay from a reused key.
    pub fingerprint: String,
    /// The original result, returned to every replay.
    pub result: String,
}

/// Everything one command writes, atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendBatch {
    pub streams: Vec<StreamWrite>,
    pub claim_keys: Vec<(UniqueKey, Uuid)>,
    pub release_keys: Vec<(UniqueKey, Uuid)>,
    pub idempotency: Option<IdempotencyRecord>,
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// New version of each written stream, in the order of the batch.
    pub versions: Vec<(Uuid, u64)>,
}

/// An event as read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position (unique, increasing within a transaction).
    pub position: i64,
    /// Transaction order key; the feed is ordered by `(tx, position)`.
    pub tx: i64,
    pub tenant: String,
    pub stream_id: Uuid,
    pub kind: StreamKind,
    pub version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: String,
    pub metadata: String,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl RecordedEvent {
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor {
            tx: self.tx,
            position: self.position,
        }
    }

    pub fn recompute_hash(&self) -> [u8; 32] {
        crate::event_hash(
            &self.prev_hash,
            &self.tenant,
            self.stream_id,
            self.version as i64,
            self.event_id,
            &self.event_type,
            self.schema_version,
            &self.payload,
            &self.metadata,
            self.recorded_at,
        )
    }
}

/// Where a feed reader is. Feed order is `(tx, position)`: on PostgreSQL
/// `tx` is the writing transaction's id and only transactions below the
/// oldest one still running are read, so an event that commits late can
/// never be skipped; on SQLite (one writer at a time) it is commit order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor {
    pub tx: i64,
    pub position: i64,
}

/// A finding of [`EventLog::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tamper {
    pub tenant: String,
    pub stream_id: Uuid,
    pub version: u64,
    pub problem: TamperKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TamperKind {
    /// The event's content no longer matches its hash.
    Modified,
    /// An event is missing (gap in versions or broken link to predecessor).
    Missing,
    /// The stream head records more events (or another last hash) than the log holds.
    TailMissing,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub streams: u64,
    pub events: u64,
    pub findings: Vec<Tamper>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream_id} is at version {current}, not {expected}")]
    VersionConflict {
        stream_id: Uuid,
        expected: u64,
        current: u64,
    },
    #[error("the idempotency key was recorded by a concurrent request")]
    IdempotencyKeyTaken,
    #[error("key {key:?} is held by stream {holder}")]
    KeyTaken { key: UniqueKey, holder: Uuid },
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the log holds data this build cannot read: {0}")]
    Corrupt(String),
    #[error("DATABASE_URL must start with postgres:// or sqlite:")]
    UnsupportedUrl,
}

impl StoreError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            StoreError::VersionConflict { .. } => domain::ErrorCode::VersionConflict,
            StoreError::IdempotencyKeyTaken => domain::ErrorCode::IdempotencyKeyTaken,
            StoreError::KeyTaken { .. } => domain::ErrorCode::KeyTaken,
            StoreError::Unavailable(_) => domain::ErrorCode::StoreUnavailable,
            StoreError::Database(_) | StoreError::Migrate(_) => domain::ErrorCode::Internal,
            StoreError::Corrupt(_) => domain::ErrorCode::Internal,
            StoreError::UnsupportedUrl => domain::ErrorCode::BadConfiguration,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Database(e)
        }
    }
}

/// The database could not be reached (worth retrying later).
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
    )
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The constraint a database error names, if any.
pub(crate) fn violated(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// The append-only event log.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Applies the schema migrations of this backend.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Events of one stream with version greater than `after_version`, in
    /// version order. A stream of another tenant reads as empty.
    async fn read_stream(
        &self,
        tenant: &TenantId,
        stream_id: Uuid,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Appends atomically: every stream write at its expected version, the
    /// key claims and releases, and the idempotency record. Nothing is
    /// written if any part fails.
    async fn append(
        &self,
        tenant: &TenantId,
        batch: &AppendBatch,
    ) -> Result<AppendOutcome, StoreError>;

    async fn idempotency_record(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// The stream holding a unique key, if any.
    async fn key_holder(
        &self,
        tenant: &TenantId,
        key: &UniqueKey,
    ) -> Result<Option<Uuid>, StoreError>;

    /// Up to `limit` events after `after`, in feed order, across tenants
    /// (projectors and the publisher are system components; every event
    /// names its tenant).
    async fn read_feed(
        &self,
        after: FeedCursor,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Recomputes every stream's hash chain.
    async fn verify(&self) -> Result<VerifyReport, StoreError>;
}

/// Shared by both backends' `verify`: walks events ordered by
/// (tenant, stream, version) and compares with the stream heads.
#[derive(Default)]
pub(crate) struct Verifier {
    report: VerifyReport,
    /// Last (version, hash) seen per stream.
    tails: std::collections::HashMap<(String, Uuid), (u64, Vec<u8>)>,
}

pub(crate) struct Head {
    pub tenant: String,
    pub stream_id: Uuid,
    pub version: u64,
    pub hash: Vec<u8>,
}

impl Verifier {
    pub fn event(&mut self, e: &RecordedEvent) {
        self.report.events += 1;
        let genesis = (0, crate::GENESIS_HASH.to_vec());
        let (last_version, last_hash) = self
            .tails
            .get(&(e.tenant.clone(), e.stream_id))
            .unwrap_or(&genesis);
        let finding = |problem| Tamper {
            tenant: e.tenant.clone(),
            stream_id: e.stream_id,
            version: e.version,
            problem,
        };
        if e.version != last_version + 1 || e.prev_hash != *last_hash {
            self.report.findings.push(finding(TamperKind::Missing));
        }
        if e.recompute_hash().as_slice() != e.hash.as_slice() {
            self.report.findings.push(finding(TamperKind::Modified));
        }
        self.tails
            .insert((e.tenant.clone(), e.stream_id), (e.version, e.hash.clone()));
    }

    /// Compares stream heads with the last event of each stream; call after
    /// all events.
    pub fn finish(mut self, heads: Vec<Head>) -> VerifyReport {
        for head in heads {
            self.report.streams += 1;
            let tail = self.tails.get(&(head.tenant.clone(), head.stream_id));
            let ok = tail.is_some_and(|(v, h)| *v == head.version && *h == head.hash);
            if !ok {
                self.report.findings.push(Tamper {
                    tenant: head.tenant,
                    stream_id: head.stream_id,
                    version: head.version,
                    problem: TamperKind::TailMissing,
                });
            }
        }
        self.report
    }
}
