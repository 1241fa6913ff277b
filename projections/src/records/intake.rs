//! Intake records next to the read models: per-document outcomes of
//! mail-scan batches (and the unidentified-mail queue), and claimant
//! matching by identity.

use crate::db::{on_db, ReadDb, ReadError, ACTIVE};
use crate::projector::placeholders;
use crate::view::ClaimantView;
use chrono::{DateTime, NaiveDate, Utc};
use domain::TenantId;
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

/// One recorded intake document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntakeDocument {
    pub tenant: String,
    pub channel: String,
    pub batch_id: String,
    pub document_id: String,
    pub checksum: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub case_id: Option<Uuid>,
    pub received_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub entry: String,
}

/// The look-up key for family name + birth date: normalized and hashed,
/// so the index holds no personal data in clear.
pub fn identity_match_key(family_name: &str, birth_date: NaiveDate) -> String {
    let family: String = family_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    hex::encode(Sha256::digest(format!("{family}|{birth_date}").as_bytes()))
}

/// Postcodes compare without spaces and case.
pub fn same_postcode(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase()
    };
    norm(a) == norm(b)
}

/// Rows per statement when documents are looked up or recorded together.
const RECORD_CHUNK: usize = 500;

const COLUMNS: &str =
    "tenant_id, channel, batch_id, document_id, checksum, status, error_code, error_message, \
                       case_id, received_at, recorded_at, entry";

/// Decodes a row of either backend (the column types differ by driver).
macro_rules! doc_from_row {
    ($r:expr) => {
        (|| -> Result<IntakeDocument, ReadError> {
            let r = $r;
            Ok(IntakeDocument {
                tenant: r.try_get("tenant_id")?,
                channel: r.try_get("channel")?,
                batch_id: r.try_get("batch_id")?,
                document_id: r.try_get("document_id")?,
                checksum: r.try_get("checksum")?,
                status: r.try_get("status")?,
                error_code: r.try_get("error_code")?,
                error_message: r.try_get("error_message")?,
                case_id: r.try_get("case_id")?,
                received_at: r.try_get("received_at")?,
                recorded_at: r.try_get("recorded_at")?,
                entry: r.try_get("entry")?,
            })
        })()
    };
}

impl ReadDb {
    pub async fn intake_document(
        &self,
        tenant: &TenantId,
        channel: &str,
        document_id: &str,
    ) -> Result<Option<IntakeDocument>, ReadError> {
        on_db!(self, read, pool, sql => {
            let row = sqlx::query(&sql(&format!(
                "SELECT {COLUMNS} FROM intake_documents WHERE tenant_id = $1 AND channel = $2 AND document_id = $3"
            )))
            .bind(tenant.as_str())
            .bind(channel)
            .bind(document_id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(|r| doc_from_row!(r)).transpose()
        })
    }

    /// The records of these document ids (those that have one), looked up
    /// a few hundred at a time.
    pub async fn intake_documents(
        &self,
        tenant: &TenantId,
        channel: &str,
        document_ids: &[&str],
    ) -> Result<Vec<IntakeDocument>, ReadError> {
        let mut found = Vec::new();
        for chunk in document_ids.chunks(RECORD_CHUNK) {
            // $1 and $2 are tenant and channel; the ids follow.
            let ids = (3..3 + chunk.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            on_db!(self, read, pool, sql => {
                let query = sql(&format!(
                    "SELECT {COLUMNS} FROM intake_documents WHERE tenant_id = $1 AND channel = $2 \
                     AND document_id IN ({ids})"
                ));
                let mut q = sqlx::query(&query).bind(tenant.as_str()).bind(channel);
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(pool).await? {
                    found.push(doc_from_row!(&r)?);
                }
            });
        }
        Ok(found)
    }

    /// Refreshes the planner's statistics of the intake records (PostgreSQL;
    /// SQLite's planner finds the primary key without them).
    pub async fn refresh_intake_statistics(&self) -> Result<(), ReadError> {
        if let store::Database::Postgres(pg) = &self.db {
            sqlx::query("ANALYZE intake_documents")
                .execute(pg.pool())
                .await?;
        }
        Ok(())
    }

    /// Records a document's outcome; a record already there wins (the
    /// first outcome is the answer every re-send gets), except a
    /// rejection, which a different entry under the same id replaces (a
    /// corrected re-send is a new attempt: nothing was filed before).
    pub async fn record_intake_document(&self, d: &IntakeDocument) -> Result<(), ReadError> {
        self.record_intake_documents(std::slice::from_ref(d)).await
    }

    /// [`record_intake_document`](Self::record_intake_document) for many,
    /// a few hundred rows per statement.
    pub async fn record_intake_documents(&self, docs: &[IntakeDocument]) -> Result<(), ReadError> {
        for chunk in docs.chunks(RECORD_CHUNK) {
            let rows = placeholders(chunk.len(), 12);
            on_db!(self, write, pool, sql => {
                let query = sql(&format!(
                    "INSERT INTO intake_documents ({COLUMNS}) VALUES {rows} \
                     ON CONFLICT (tenant_id, channel, document_id) DO UPDATE SET \
                     batch_id = excluded.batch_id, checksum = excluded.checksum, \
                     status = excluded.status, error_code = excluded.error_code, \
                     error_message = excluded.error_message, case_id = excluded.case_id, \
                     received_at = excluded.received_at, recorded_at = excluded.recorded_at, \
                     entry = excluded.entry \
                     WHERE intake_documents.status = 'REJECTED' AND intake_documents.entry <> excluded.entry"
                ));
                let mut q = sqlx::query(&query);
                for d in chunk {
                    q = q
                        .bind(&d.tenant)
                        .bind(&d.channel)
                        .bind(&d.batch_id)
                        .bind(&d.document_id)
                        .bind(&d.checksum)
                        .bind(&d.status)
                        .bind(&d.error_code)
                        .bind(&d.error_message)
                        .bind(d.case_id)
                        .bind(d.received_at)
                        .bind(d.recorded_at)
                        .bind(&d.entry);
                }
                q.execute(pool).await?;
            });
        }
        Ok(())
    }

    pub async fn resolve_intake_document(
        &self,
        tenant: &TenantId,
        channel: &str,
        document_id: &str,
        case_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), ReadError> {
        on_db!(self, write, pool, sql => {
            sqlx::query(&sql(
                "UPDATE intake_documents SET status = 'RESOLVED', case_id = $4, recorded_at = $5, error_code = NULL \
                 WHERE tenant_id = $1 AND channel = $2 AND document_id = $3 AND status = 'UNIDENTIFIED'",
            ))
            .bind(tenant.as_str())
            .bind(channel)
            .bind(document_id)
            .bind(case_id)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The unidentified-mail queue, oldest received first; `after` is the
    /// last (receivedAt, document id) seen.
    pub async fn unidentified_documents(
        &self,
        tenant: &TenantId,
        first: i64,
        after: Option<(DateTime<Utc>, &str)>,
    ) -> Result<Vec<IntakeDocument>, ReadError> {
        let (after_at, after_id) = after.unzip();
        on_db!(self, read, pool, sql => {
            let rows = sqlx::query(&sql(&format!(
                "SELECT {COLUMNS} FROM intake_documents WHERE tenant_id = $1 AND status = 'UNIDENTIFIED' \
                 AND ($2 IS NULL OR received_at > $2 OR (received_at = $2 AND document_id > $4)) \
                 ORDER BY received_at, document_id LIMIT $3"
            )))
            .bind(tenant.as_str())
            .bind(after_at)
            .bind(first)
            .bind(after_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| doc_from_row!(r)).collect()
        })
    }

    pub async fn intake_batch(
        &self,
        tenant: &TenantId,
        channel: &str,
        batch_id: &str,
    ) -> Result<Vec<IntakeDocument>, ReadError> {
        on_db!(self, read, pool, sql => {
            let rows = sqlx::query(&sql(&format!(
                "SELECT {COLUMNS} FROM intake_documents WHERE tenant_id = $1 AND channel = $2 AND batch_id = $3 ORDER BY document_id"
            )))
            .bind(tenant.as_str())
            .bind(channel)
            .bind(batch_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| doc_from_row!(r)).collect()
        })
    }

    /// Claimants with this family name and birth date (at most 20).
    pub async fn claimants_matching(
        &self,
        tenant: &TenantId,
        family_name: &str,
        birth_date: NaiveDate,
    ) -> Result<Vec<ClaimantView>, ReadError> {
        let key = identity_match_key(family_name, birth_date);
        let docs: Vec<String> = on_db!(self, read, pool, sql => {
            sqlx::query_scalar(&sql(&format!(
                "SELECT view FROM rm_claimants WHERE generation = {ACTIVE} AND tenant_id = $1 AND match_key = $2 LIMIT 20"
            )))
            .bind(tenant.as_str())
            .bind(key)
            .fetch_all(pool)
            .await?
        });
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(ReadError::from))
            .collect()
    }
}
