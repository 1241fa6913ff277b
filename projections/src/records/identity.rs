//! Identity verifications agents record for callers (the gate for
//! agents' reads). Not derived from events; never rebuilt.

use crate::db::{on_db, ReadDb, ReadError};
use chrono::{DateTime, Utc};
use domain::TenantId;
use uuid::Uuid;

impl ReadDb {
    /// Records that `agent` verified the caller as `claimant`.
    pub async fn record_verification(
        &self,
        tenant: &TenantId,
        agent: &str,
        claimant: Uuid,
        method: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), ReadError> {
        on_db!(self, write, pool, sql => {
            sqlx::query(&sql(
                "INSERT INTO identity_verifications (tenant_id, agent, claimant_id, method, verified_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, agent, claimant_id) DO UPDATE SET \
                 method = excluded.method, verified_at = excluded.verified_at, expires_at = excluded.expires_at",
            ))
            .bind(tenant.as_str())
            .bind(agent)
            .bind(claimant)
            .bind(method)
            .bind(at)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Whether `agent` has a current identity verification for `claimant`.
    pub async fn is_verified(
        &self,
        tenant: &TenantId,
        agent: &str,
        claimant: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, ReadError> {
        let expires: Option<DateTime<Utc>> = on_db!(self, read, pool, sql => {
            sqlx::query_scalar(&sql(
                "SELECT expires_at FROM identity_verifications WHERE tenant_id = $1 AND agent = $2 AND claimant_id = $3",
            ))
            .bind(tenant.as_str())
            .bind(agent)
            .bind(claimant)
            .fetch_optional(pool)
            .await?
        });
        Ok(expires.is_some_and(|e| e > now))
    }
}
