//! The audit log: who read or was refused what, when, from which office
//! and why. Append-only; never rebuilt (it is not derived from events).

use crate::db::{on_db, ReadDb, ReadError};
use crate::projector::placeholders;
use chrono::{DateTime, Utc};
use domain::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

/// One audit record: who read or was refused what, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: Uuid,
    pub tenant: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub roles: String,
    /// e.g. READ_CASE_CONTEXT, READ_CLAIM, LOOKUP_CLAIMANT
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub purpose: String,
    /// ALLOWED or DENIED
    pub outcome: String,
    /// The reader's office (the token's `office` claim), when known.
    pub office: Option<String>,
}

/// An [`AuditRecord`] from a row of either backend.
macro_rules! audit_row {
    ($r:expr) => {
        AuditRecord {
            id: $r.try_get("id")?,
            tenant: $r.try_get("tenant_id")?,
            at: $r.try_get("at")?,
            actor: $r.try_get("actor")?,
            roles: $r.try_get("roles")?,
            action: $r.try_get("action")?,
            subject_type: $r.try_get("subject_type")?,
            subject_id: $r.try_get("subject_id")?,
            purpose: $r.try_get("purpose")?,
            outcome: $r.try_get("outcome")?,
            office: $r.try_get("office")?,
        }
    };
}

impl ReadDb {
    pub async fn record_audit(&self, r: &AuditRecord) -> Result<(), ReadError> {
        self.record_audits(std::slice::from_ref(r)).await
    }

    /// Several audit records (a page of a work queue: one per case shown),
    /// durable when this returns; written together with those of concurrent
    /// requests (`audit_group`).
    pub async fn record_audits(&self, records: &[AuditRecord]) -> Result<(), ReadError> {
        self.audits.record(self, records.to_vec()).await
    }

    /// Writes audit records, one statement per 200.
    pub(crate) async fn write_audits(&self, records: &[AuditRecord]) -> Result<(), ReadError> {
        for chunk in records.chunks(200) {
            let rows = placeholders(chunk.len(), 11);
            let text = format!(
                "INSERT INTO audit_log (id, tenant_id, at, actor, roles, action, subject_type, subject_id, purpose, outcome, office) VALUES {rows}"
            );
            on_db!(self, write, pool, sql => {
                let text = sql(&text);
                let mut q = sqlx::query(&text);
                for r in chunk {
                    q = q
                        .bind(r.id)
                        .bind(&r.tenant)
                        .bind(r.at)
                        .bind(&r.actor)
                        .bind(&r.roles)
                        .bind(&r.action)
                        .bind(&r.subject_type)
                        .bind(&r.subject_id)
                        .bind(&r.purpose)
                        .bind(&r.outcome)
                        .bind(&r.office);
                }
                q.execute(pool).await?;
            });
        }
        Ok(())
    }

    /// How many audit records there are (all tenants).
    pub async fn audit_count(&self) -> Result<i64, ReadError> {
        Ok(on_db!(self, read, pool, _sql => {
            sqlx::query_scalar("SELECT count(*) FROM audit_log")
                .fetch_one(pool)
                .await?
        }))
    }

    /// A tenant's audit records, newest first; `before` is an id cursor.
    pub async fn audit(
        &self,
        tenant: &TenantId,
        first: i64,
        before: Option<Uuid>,
    ) -> Result<Vec<AuditRecord>, ReadError> {
        on_db!(self, read, pool, sql => {
            let rows = sqlx::query(&sql(
                "SELECT id, tenant_id, at, actor, roles, action, subject_type, subject_id, purpose, outcome, office \
                 FROM audit_log WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
            ))
            .bind(tenant.as_str())
            .bind(before)
            .bind(first)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| Ok(audit_row!(r))).collect::<Result<Vec<_>, ReadError>>()
        })
    }

    /// The entries about one person (their claimant record and their
    /// cases), newest first; `before` is an id cursor.
    pub async fn audit_of_person(
        &self,
        tenant: &TenantId,
        claimant: Uuid,
        cases: &[Uuid],
        first: i64,
        before: Option<Uuid>,
    ) -> Result<Vec<AuditRecord>, ReadError> {
        // $1 tenant, $2 claimant, $3 cursor, $4 limit; case ids follow.
        let case_ids: Vec<String> = (5..5 + cases.len()).map(|n| format!("${n}")).collect();
        let cases_clause = if cases.is_empty() {
            String::new()
        } else {
            format!(
                " OR (subject_type = 'CASE' AND subject_id IN ({}))",
                case_ids.join(", ")
            )
        };
        let text = format!(
            "SELECT id, tenant_id, at, actor, roles, action, subject_type, subject_id, purpose, outcome, office \
             FROM audit_log WHERE tenant_id = $1 \
             AND ((subject_type = 'CLAIMANT' AND subject_id = $2){cases_clause}) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        on_db!(self, read, pool, sql => {
            let text = sql(&text);
            let mut query = sqlx::query(&text)
                .bind(tenant.as_str())
                .bind(claimant.to_string())
                .bind(before)
                .bind(first);
            for case in cases {
                query = query.bind(case.to_string());
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(|r| Ok(audit_row!(r))).collect::<Result<Vec<_>, ReadError>>()
        })
    }
}
