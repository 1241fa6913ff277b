//! SQLite event log (embedded default: one file, nothing else to install).
//!
//! Writes go through a single-connection pool, so writers are serialized
//! in-process and commit order equals position order; reads use a separate
//! pool (WAL mode lets them run beside the writer).

use crate::log::*;
use crate::pg::{chain, lock_order, outcome, recorded_at, to_hash, Prepared};
use crate::GENESIS_HASH;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::TenantId;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

const EVENT_COLUMNS: &str = "position, tx, tenant_id, stream_id, kind, version, event_id, \
     event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash";

#[derive(Clone, Debug)]
pub struct SqliteLog {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteLog {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged command survives power loss, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Self { writer, reader })
    }

    /// The write pool (one connection): every write to this file goes
    /// through it, read models included.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

fn row_to_event(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
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

impl SqliteLog {
    async fn write_stream<'a>(
        tx: &mut Transaction<'_, Sqlite>,
        tenant: &TenantId,
        write: &'a StreamWrite,
        at: DateTime<Utc>,
    ) -> Result<Vec<Prepared<'a>>, StoreError> {
        let head = sqlx::query(
            "SELECT version, head_hash, kind FROM streams WHERE tenant_id = ? AND stream_id = ?",
        )
        .bind(tenant.as_str())
        .bind(write.stream_id)
        .fetch_optional(&mut **tx)
        .await?;
        let (current, head_hash, kind) = match &head {
            None => (0, GENESIS_HASH, write.kind.as_str().to_owned()),
            Some(row) => (
                row.try_get::<i64, _>("version")?,
                to_hash(row.try_get::<&[u8], _>("head_hash")?)?,
                row.try_get::<String, _>("kind")?,
            ),
        };
        if current as u64 != write.expected_version || kind != write.kind.as_str() {
            return Err(StoreError::VersionConflict {
                stream_id: write.stream_id,
                expected: write.expected_version,
                current: current as u64,
            });
        }
        let prepared = chain(tenant, write, head_hash, at);
        if let Some(last) = prepared.last() {
            sqlx::query(
                "INSERT INTO streams (tenant_id, stream_id, kind, version, head_hash) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (tenant_id, stream_id) DO UPDATE SET version = excluded.version, head_hash = excluded.head_hash",
            )
            .bind(tenant.as_str())
            .bind(write.stream_id)
            .bind(write.kind.as_str())
            .bind(last.version)
            .bind(&last.hash[..])
            .execute(&mut **tx)
            .await?;
        }
        Ok(prepared)
    }

    async fn append_tx(
        tx: &mut Transaction<'_, Sqlite>,
        tenant: &TenantId,
        batch: &AppendBatch,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(idem) = &batch.idempotency {
            let res = sqlx::query(
                "INSERT INTO idempotency (tenant_id, key, fingerprint, result, created_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(tenant.as_str())
            .bind(&idem.key)
            .bind(&idem.fingerprint)
            .bind(&idem.result)
            .bind(at)
            .execute(&mut **tx)
            .await;
            match res {
                Err(e) if is_unique_violation(&e) => return Err(StoreError::IdempotencyKeyTaken),
                other => {
                    other?;
                }
            }
        }
        for (key, stream) in &batch.release_keys {
            sqlx::query("DELETE FROM stream_keys WHERE tenant_id = ? AND scope = ? AND key = ? AND stream_id = ?")
                .bind(tenant.as_str())
                .bind(&key.scope)
                .bind(&key.key)
                .bind(stream)
                .execute(&mut **tx)
                .await?;
        }
        for (key, stream) in &batch.claim_keys {
            let holder: Option<Uuid> = sqlx::query_scalar(
                "SELECT stream_id FROM stream_keys WHERE tenant_id = ? AND scope = ? AND key = ?",
            )
            .bind(tenant.as_str())
            .bind(&key.scope)
            .bind(&key.key)
            .fetch_optional(&mut **tx)
            .await?;
            match holder {
                Some(h) if h == *stream => {}
                Some(holder) => {
                    return Err(StoreError::KeyTaken {
                        key: key.clone(),
                        holder,
                    })
                }
                None => {
                    sqlx::query("INSERT INTO stream_keys (tenant_id, scope, key, stream_id) VALUES (?, ?, ?, ?)")
                        .bind(tenant.as_str())
                        .bind(&key.scope)
                        .bind(&key.key)
                        .bind(stream)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        let mut prepared = Vec::new();
        for write in lock_order(batch) {
            prepared.extend(Self::write_stream(tx, tenant, write, at).await?);
        }
        let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM events")
            .fetch_one(&mut **tx)
            .await?;
        // SQLite caps bound parameters per statement; 13 columns x 500 rows fits.
        for (i, chunk) in prepared.chunks(500).enumerate() {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (position, tx, tenant_id, stream_id, kind, version, event_id, event_type, \
                 schema_version, payload, metadata, recorded_at, prev_hash, hash) ",
            );
            let base = first + (i * 500) as i64;
            qb.push_values(chunk.iter().enumerate(), |mut b, (j, p)| {
                b.push_bind(base + j as i64)
                    .push_bind(first)
                    .push_bind(tenant.as_str())
                    .push_bind(p.stream_id)
                    .push_bind(p.kind.as_str())
                    .push_bind(p.version)
                    .push_bind(p.event.event_id)
                    .push_bind(&p.event.event_type)
                    .push_bind(p.event.schema_version)
                    .push_bind(&p.event.payload)
                    .push_bind(&p.event.metadata)
                    .push_bind(at)
                    .push_bind(&p.prev_hash[..])
                    .push_bind(&p.hash[..]);
            });
            qb.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl EventLog for SqliteLog {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.writer)
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
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = ? AND stream_id = ? AND version > ? ORDER BY version"
        ))
        .bind(tenant.as_str())
        .bind(stream_id)
        .bind(after_version as i64)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    async fn append(
        &self,
        tenant: &TenantId,
        batch: &AppendBatch,
    ) -> Result<AppendOutcome, StoreError> {
        let at = recorded_at(batch);
        let mut tx = self.writer.begin().await?;
        match Self::append_tx(&mut tx, tenant, batch, at).await {
            Ok(()) => {
                tx.commit().await?;
                Ok(outcome(batch))
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    async fn idempotency_record(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT key, fingerprint, result FROM idempotency WHERE tenant_id = ? AND key = ?",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.reader)
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
            "SELECT stream_id FROM stream_keys WHERE tenant_id = ? AND scope = ? AND key = ?",
        )
        .bind(tenant.as_str())
        .bind(&key.scope)
        .bind(&key.key)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn read_feed(
        &self,
        after: FeedCursor,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE (tx, position) > (?, ?) ORDER BY tx, position LIMIT ?"
        ))
        .bind(after.tx)
        .bind(after.position)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(row_to_event).collect()
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut verifier = Verifier::default();
        let mut last: Option<(String, Uuid, i64)> = None;
        loop {
            let (t, s, v) = last.clone().unwrap_or((String::new(), Uuid::nil(), 0));
            let rows = sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE (tenant_id, stream_id, version) > (?, ?, ?) \
                 ORDER BY tenant_id, stream_id, version LIMIT 5000"
            ))
            .bind(t)
            .bind(s)
            .bind(v)
            .fetch_all(&self.reader)
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
            .fetch_all(&self.reader)
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
