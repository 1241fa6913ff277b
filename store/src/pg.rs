//! PostgreSQL event log (production).

use crate::group::{self, GroupCommit, Pending, PendingEvent, Verdict};
use crate::log::*;
use crate::{event_hash, GENESIS_HASH};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use domain::TenantId;
use quick_cache::sync::Cache;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const EVENT_COLUMNS: &str = "position, tx, tenant_id, stream_id, kind, version, event_id, \
     event_type, schema_version, payload::text AS payload, metadata::text AS metadata, \
     recorded_at, prev_hash, hash";

/// Stream heads this process has seen: (version, hash of that version's
/// event). A version's hash never changes, so an entry is never wrong, only
/// possibly behind; the one-statement append checks it against the row.
type Heads = Cache<(String, Uuid), (u64, [u8; 32])>;
const HEADS_CAPACITY: usize = 50_000;

#[derive(Clone)]
pub struct PgLog {
    pool: PgPool,
    heads: Arc<Heads>,
    /// `None` when made outside a tokio runtime: one statement per append.
    group: Option<GroupCommit>,
}

impl std::fmt::Debug for PgLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLog").field("pool", &self.pool).finish()
    }
}

impl PgLog {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("omnicase");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // With the database away, a request gets its retriable
            // STORE_UNAVAILABLE within this, rather than hanging.
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            group: GroupCommit::start(pool.clone()),
            pool,
            heads: Arc::new(Cache::new(HEADS_CAPACITY)),
        }
    }

    /// How appends were grouped so far (zeros when they are not).
    pub fn group_commit_stats(&self) -> (u64, u64, u64) {
        self.group
            .as_ref()
            .map(|g| g.stats.read())
            .unwrap_or_default()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

pub(crate) fn row_to_event(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let version: i64 = row.try_get("version")?;
    Ok(RecordedEvent {
        position: row.try_get("position")?,
        tx: row.try_get("tx")?,
        tenant: row.try_get("tenant_id")?,
        stream_id: row.try_get("stream_id")?,
        kind: StreamKind::parse(row.try_get("kind")?)?,
        version: version as u64,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Events ready to insert, with versions and chain computed.
pub(crate) struct Prepared<'a> {
    pub stream_id: Uuid,
    pub kind: StreamKind,
    pub version: i64,
    pub event: &'a NewEvent,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Computes versions and the hash chain of one stream write.
pub(crate) fn chain<'a>(
    tenant: &TenantId,
    write: &'a StreamWrite,
    head_hash: [u8; 32],
    recorded_at: DateTime<Utc>,
) -> Vec<Prepared<'a>> {
    let mut prev = head_hash;
    let mut version = write.expected_version as i64;
    write
        .events
        .iter()
        .map(|event| {
            version += 1;
            let hash = event_hash(
                &prev,
                tenant.as_str(),
                write.stream_id,
                version,
                event.event_id,
                &event.event_type,
                event.schema_version,
                &event.payload,
                &event.metadata,
                recorded_at,
            );
            let p = Prepared {
                stream_id: write.stream_id,
                kind: write.kind,
                version,
                event,
                prev_hash: prev,
                hash,
            };
            prev = hash;
            p
        })
        .collect()
}

pub(crate) fn to_hash(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stream head hash is not 32 bytes".into()))
}

/// Stored timestamps have microsecond precision on both backends; truncate
/// before hashing so the hash survives the round trip.
pub(crate) fn recorded_at(batch: &AppendBatch) -> DateTime<Utc> {
    batch.recorded_at.unwrap_or_else(Utc::now).trunc_subsecs(6)
}

/// Stream writes in lock order (by id) to rule out deadlocks between
/// multi-stream appends.
pub(crate) fn lock_order(batch: &AppendBatch) -> Vec<&StreamWrite> {
    let mut writes: Vec<&StreamWrite> = batch
        .streams
        .iter()
        .filter(|w| !w.events.is_empty())
        .collect();
    writes.sort_by_key(|w| w.stream_id);
    writes
}

pub(crate) fn outcome(batch: &AppendBatch) -> AppendOutcome {
    AppendOutcome {
        versions: batch
            .streams
            .iter()
            .map(|w| (w.stream_id, w.expected_version + w.events.len() as u64))
            .collect(),
    }
}

impl PgLog {
    fn remember_head(&self, tenant: &TenantId, stream_id: Uuid, version: u64, hash: [u8; 32]) {
        let key = (tenant.as_str().to_owned(), stream_id);
        // Never move an entry backwards (a slow reader after a writer).
        if self.heads.get(&key).is_none_or(|(v, _)| v < version) {
            self.heads.insert(key, (version, hash));
        }
    }

    /// The one-statement append (grouped with concurrent ones) of a batch
    /// that writes one existing stream whose head this process knows, and
    /// holds no unique keys. `None`: not such a batch, or the head moved
    /// (the full append then tells why).
    async fn append_one(
        &self,
        tenant: &TenantId,
        batch: &AppendBatch,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        let ([write], true, true) = (
            batch.streams.as_slice(),
            batch.claim_keys.is_empty(),
            batch.release_keys.is_empty(),
        ) else {
            return Ok(None);
        };
        if write.expected_version == 0 || write.events.is_empty() {
            return Ok(None);
        }
        let key = (tenant.as_str().to_owned(), write.stream_id);
        let head_hash = match self.heads.get(&key) {
            Some((version, hash)) if version == write.expected_version => hash,
            _ => return Ok(None),
        };
        let at = recorded_at(batch);
        let prepared = chain(tenant, write, head_hash, at);
        let Some(&Prepared { version, hash, .. }) = prepared.last() else {
            return Ok(None);
        };
        let pending = Pending {
            tenant: tenant.as_str().to_owned(),
            stream_id: write.stream_id,
            kind: write.kind.as_str(),
            expected: write.expected_version as i64,
            expected_hash: head_hash,
            version,
            hash,
            at,
            events: prepared
                .iter()
                .map(|p| PendingEvent {
                    version: p.version,
                    event_id: p.event.event_id,
                    event_type: p.event.event_type.clone(),
                    schema_version: p.event.schema_version,
                    payload: p.event.payload.clone(),
                    metadata: p.event.metadata.clone(),
                    prev_hash: p.prev_hash,
                    hash: p.hash,
                })
                .collect(),
            idempotency: batch
                .idempotency
                .as_ref()
                .map(|i| (i.key.clone(), i.fingerprint.clone(), i.result.clone())),
        };
        let verdict = match &self.group {
            Some(group) => group.append(&self.pool, pending).await?,
            None => group::one(&self.pool, &pending).await?,
        };
        match verdict {
            Verdict::HeadMoved => Ok(None),
            Verdict::Appended => {
                self.remember_head(tenant, write.stream_id, version as u64, hash);
                Ok(Some(outcome(batch)))
            }
        }
    }

    async fn write_stream<'a>(
        tx: &mut Transaction<'_, Postgres>,
        tenant: &TenantId,
        write: &'a StreamWrite,
        at: DateTime<Utc>,
    ) -> Result<Vec<Prepared<'a>>, StoreError> {
        let conflict = |current: i64| StoreError::VersionConflict {
            stream_id: write.stream_id,
            expected: write.expected_version,
            current: current as u64,
        };
        if write.expected_version == 0 {
            let prepared = chain(tenant, write, GENESIS_HASH, at);
            let (version, hash) = prepared
                .last()
                .map(|p| (p.version, p.hash))
                .unwrap_or((0, GENESIS_HASH));
            let inserted = sqlx::query(
                "INSERT INTO streams (tenant_id, stream_id, kind, version, head_hash) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(write.stream_id)
            .bind(write.kind.as_str())
            .bind(version)
            .bind(&hash[..])
            .execute(&mut **tx)
            .await?;
            if inserted.rows_affected() == 0 {
                let current: i64 = sqlx::query_scalar(
                    "SELECT version FROM streams WHERE tenant_id = $1 AND stream_id = $2",
                )
                .bind(tenant.as_str())
                .bind(write.stream_id)
                .fetch_optional(&mut **tx)
                .await?
                .unwrap_or(0);
                return Err(conflict(current));
            }
            return Ok(prepared);
        }
        let head = sqlx::query(
            "SELECT version, head_hash, kind FROM streams \
             WHERE tenant_id = $1 AND stream_id = $2 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(write.stream_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(head) = head else {
            return Err(conflict(0));
        };
        let current: i64 = head.try_get("version")?;
        let kind: String = head.try_get("kind")?;
        if current as u64 != write.expected_version || kind != write.kind.as_str() {
            return Err(conflict(current));
        }
        let head_hash = to_hash(head.try_get::<&[u8], _>("head_hash")?)?;
        let prepared = chain(tenant, write, head_hash, at);
        if let Some(last) = prepared.last() {
            sqlx::query(
                "UPDATE streams SET version = $3, head_hash = $4 \
                 WHERE tenant_id = $1 AND stream_id = $2",
            )
            .bind(tenant.as_str())
            .bind(write.stream_id)
            .bind(last.version)
            .bind(&last.hash[..])
            .execute(&mut **tx)
            .await?;
        }
        Ok(prepared)
    }
}

#[async_trait]
impl EventLog for PgLog {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("../migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn read_stream(
        &self,
        tenant: &TenantId,
        stream_id: Uuid,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE tenant_id = $1 AND stream_id = $2 AND version > $3 ORDER BY version"
        ))
        .bind(tenant.as_str())
        .bind(stream_id)
        .bind(after_version as i64)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(row_to_event)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(last) = events.last() {
            if let Ok(hash) = to_hash(&last.hash) {
                self.remember_head(tenant, stream_id, last.version, hash);
            }
        }
        Ok(events)
    }

    async fn append(
        &self,
        tenant: &TenantId,
        batch: &AppendBatch,
    ) -> Result<AppendOutcome, StoreError> {
        if let Some(done) = self.append_one(tenant, batch).await? {
            return Ok(done);
        }
        let at = recorded_at(batch);
        let mut tx = self.pool.begin().await?;
        // The idempotency record goes first: a concurrent replay of the same
        // key blocks here until this transaction ends, then fails cleanly.
        if let Some(idem) = &batch.idempotency {
            let res = sqlx::query(
                "INSERT INTO idempotency (tenant_id, key, fingerprint, result, created_at) \
                 VALUES ($1, $2, $3, $4::json, $5)",
            )
            .bind(tenant.as_str())
            .bind(&idem.key)
            .bind(&idem.fingerprint)
            .bind(&idem.result)
            .bind(at)
            .execute(&mut *tx)
            .await;
            match res {
                Err(e) if is_unique_violation(&e) => return Err(StoreError::IdempotencyKeyTaken),
                other => {
                    other?;
                }
            }
        }
        for (key, stream) in &batch.release_keys {
            sqlx::query(
                "DELETE FROM stream_keys \
                 WHERE tenant_id = $1 AND scope = $2 AND key = $3 AND stream_id = $4",
            )
            .bind(tenant.as_str())
            .bind(&key.scope)
            .bind(&key.key)
            .bind(stream)
            .execute(&mut *tx)
            .await?;
        }
        let mut claims: Vec<_> = batch.claim_keys.iter().collect();
        claims.sort();
        for (key, stream) in claims {
            let inserted = sqlx::query(
                "INSERT INTO stream_keys (tenant_id, scope, key, stream_id) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(&key.scope)
            .bind(&key.key)
            .bind(stream)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                let holder: Option<Uuid> = sqlx::query_scalar(
                    "SELECT stream_id FROM stream_keys WHERE tenant_id = $1 AND scope = $2 AND key = $3",
                )
                .bind(tenant.as_str())
                .bind(&key.scope)
                .bind(&key.key)
                .fetch_optional(&mut *tx)
                .await?;
                match holder {
                    Some(h) if h == *stream => {}
                    Some(holder) => {
                        return Err(StoreError::KeyTaken {
                            key: key.clone(),
                            holder,
                        })
                    }
                    // Released between our insert and select: let the caller retry.
                    None => {
                        return Err(StoreError::KeyTaken {
                            key: key.clone(),
                            holder: Uuid::nil(),
                        })
                    }
                }
            }
        }
        let mut prepared = Vec::new();
        for write in lock_order(batch) {
            prepared.extend(Self::write_stream(&mut tx, tenant, write, at).await?);
        }
        for chunk in prepared.chunks(1000) {
            let mut qb = QueryBuilder::<Postgres>::new(
                "INSERT INTO events (tenant_id, stream_id, kind, version, event_id, event_type, \
                 schema_version, payload, metadata, recorded_at, prev_hash, hash) ",
            );
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(tenant.as_str())
                    .push_bind(p.stream_id)
                    .push_bind(p.kind.as_str())
                    .push_bind(p.version)
                    .push_bind(p.event.event_id)
                    .push_bind(&p.event.event_type)
                    .push_bind(p.event.schema_version)
                    .push_bind(&p.event.payload)
                    .push_unseparated("::json")
                    .push_bind(&p.event.metadata)
                    .push_unseparated("::json")
                    .push_bind(at)
                    .push_bind(&p.prev_hash[..])
                    .push_bind(&p.hash[..]);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        for write in lock_order(batch) {
            if let Some(last) = prepared
                .iter()
                .rev()
                .find(|p| p.stream_id == write.stream_id)
            {
                self.remember_head(tenant, write.stream_id, last.version as u64, last.hash);
            }
        }
        Ok(outcome(batch))
    }

    async fn idempotency_record(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT key, fingerprint, result::text AS result FROM idempotency \
             WHERE tenant_id = $1 AND key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                key: r.try_get("key")?,
                fingerprint: r.try_get("fingerprint")?,
                result: r.try_get("result")?,
            })
        })
        .transpose()
    }

    async fn key_holder(
        &self,
        tenant: &TenantId,
        key: &UniqueKey,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT stream_id FROM stream_keys WHERE tenant_id = $1 AND scope = $2 AND key = $3",
        )
        .bind(tenant.as_str())
        .bind(&key.scope)
        .bind(&key.key)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn read_feed(
        &self,
        after: FeedCursor,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE (tx, position) > ($1, $2) \
               AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
             ORDER BY tx, position LIMIT $3"
        ))
        .bind(after.tx)
        .bind(after.position)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut verifier = Verifier::default();
        let mut last: Option<(String, Uuid, i64)> = None;
        loop {
            let (t, s, v) = last.clone().unwrap_or((String::new(), Uuid::nil(), 0));
            let rows = sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE (tenant_id, stream_id, version) > ($1, $2, $3) \
                 ORDER BY tenant_id, stream_id, version LIMIT 5000"
            ))
            .bind(t)
            .bind(s)
            .bind(v)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let e = row_to_event(row)?;
                verifier.event(&e);
                last = Some((e.tenant.clone(), e.stream_id, e.version as i64));
            }
        }
        let heads = sqlx::query("SELECT tenant_id, stream_id, version, head_hash FROM streams")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Head {
                    tenant: r.try_get("tenant_id")?,
                    stream_id: r.try_get("stream_id")?,
                    version: r.try_get::<i64, _>("version")? as u64,
                    hash: r.try_get("head_hash")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(verifier.finish(heads))
    }
}
