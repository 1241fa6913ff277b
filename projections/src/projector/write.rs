//! The projector's writes: checkpoints, a live batch's rows, a rebuild's
//! flushes, and the rows read back for the next batches.

use super::*;
use crate::copy;
use crate::db::{on_db, ReadDb, ReadError};
use crate::view::{CaseView, ClaimantView};
use store::{FeedCursor, RecordedEvent, StreamKind};
use uuid::Uuid;

impl ReadDb {
    pub async fn checkpoint(&self, generation: i64) -> Result<FeedCursor, ReadError> {
        on_db!(self, write, pool, sql => {
            sqlx::query(&sql(
                "INSERT INTO rm_checkpoints (projector, generation, tx, position) VALUES ($1, $2, 0, 0) \
                 ON CONFLICT (projector, generation) DO NOTHING",
            ))
            .bind(NAME)
            .bind(generation)
            .execute(pool)
            .await?;
            let (tx, position): (i64, i64) = sqlx::query_as(&sql(
                "SELECT tx, position FROM rm_checkpoints WHERE projector = $1 AND generation = $2",
            ))
            .bind(NAME)
            .bind(generation)
            .fetch_one(pool)
            .await?;
            Ok(FeedCursor { tx, position })
        })
    }

    /// Writes one batch. `None` when the checkpoint moved meanwhile (another
    /// projector instance won): nothing is written.
    pub(super) async fn apply_batch(
        &self,
        generation: i64,
        advance: Option<(FeedCursor, FeedCursor)>,
        events: &[RecordedEvent],
    ) -> Result<Option<Vec<CaseChanged>>, ReadError> {
        let cases = group(events, StreamKind::Case);
        let claimants = group(events, StreamKind::Claimant);
        on_db!(self, write, pool, sql => {
            let mut tx = pool.begin().await?;
            // Compare-and-set first: a concurrent instance blocks here and
            // then finds the checkpoint moved.
            if let Some((from, to)) = advance {
                if !advance_checkpoint!(tx, sql, generation, from, to) {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
            let mut case_rows = Vec::with_capacity(cases.len());
            for batch in &cases {
                let current: Option<CaseView> =
                    current_view!(self, tx, sql, cases, generation, batch);
                let before = current.as_ref().map(|v| v.version);
                let Some(view) = fold_case(current, batch)? else { continue };
                if Some(view.version) == before {
                    // Nothing new for it: the row is as kept.
                    self.held.cases.keep(generation, batch.tenant, batch.stream_id, view);
                    continue;
                }
                case_rows.push((batch.tenant, view));
            }
            let mut claimant_rows = Vec::with_capacity(claimants.len());
            for batch in &claimants {
                let current: Option<ClaimantView> =
                    current_view!(self, tx, sql, claimants, generation, batch);
                let Some(view) = fold_claimant(current, batch)? else { continue };
                claimant_rows.push((batch.tenant, view));
            }
            write_cases!(tx, sql, "rm_cases", generation, &case_rows);
            write_claimants!(tx, sql, "rm_claimants", generation, &claimant_rows);
            tx.commit().await?;
            let changed = case_rows
                .iter()
                .map(|(tenant, view)| CaseChanged {
                    tenant: (*tenant).to_owned(),
                    case_id: view.case_id,
                    claimant_id: view.claimant_id,
                    version: view.version,
                })
                .collect();
            // Committed: the next batches fold on from these.
            for (tenant, view) in case_rows {
                self.held.cases.keep(generation, tenant, view.case_id, view);
            }
            for (tenant, view) in claimant_rows {
                self.held.claimants.keep(generation, tenant, view.claimant_id, view);
            }
            Ok(Some(changed))
        })
    }

    /// A document of the generation being rebuilt, written by an earlier
    /// flush of the rebuild.
    pub(super) async fn stored_view<V: serde::de::DeserializeOwned>(
        &self,
        generation: i64,
        kind: StreamKind,
        tenant: &str,
        stream_id: Uuid,
    ) -> Result<Option<V>, ReadError> {
        let query = row_query(kind, "view");
        let view: Option<String> = on_db!(self, write, pool, sql => {
            sqlx::query_scalar(&sql(&query))
                .bind(generation)
                .bind(tenant)
                .bind(stream_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(view.map(|v| serde_json::from_str(&v)).transpose()?)
    }

    /// Writes what a rebuild folded since its last flush, and moves the
    /// checkpoint over those events, in one transaction. False when the
    /// checkpoint had moved (another rebuild of the same generation). On
    /// PostgreSQL, rows new to the generation go in with COPY.
    pub(super) async fn write_folded(
        &self,
        generation: i64,
        (from, to): (FeedCursor, FeedCursor),
        flush: &Flush,
    ) -> Result<bool, ReadError> {
        let (new_cases, cases_again) = Flush::split(&flush.cases, &flush.cases_again);
        let (new_claimants, claimants_again) =
            Flush::split(&flush.claimants, &flush.claimants_again);
        match &self.db {
            store::Database::Postgres(pg) => {
                // Into the generation's own tables, not attached yet.
                let cases = partition("rm_cases", generation);
                let claimants = partition("rm_claimants", generation);
                let sql = |s: &str| -> String { s.to_owned() };
                let mut tx = pg.pool().begin().await?;
                if !advance_checkpoint!(tx, sql, generation, from, to) {
                    tx.rollback().await?;
                    return Ok(false);
                }
                copy::copy_docs(&mut tx, &cases, generation, &new_cases).await?;
                copy::copy_docs(&mut tx, &claimants, generation, &new_claimants).await?;
                write_cases!(tx, sql, &cases, generation, cases_again);
                write_claimants!(tx, sql, &claimants, generation, claimants_again);
                tx.commit().await?;
                Ok(true)
            }
            store::Database::Sqlite(lite) => {
                let sql = store::sqlite_sql;
                let mut tx = lite.writer().begin().await?;
                if !advance_checkpoint!(tx, sql, generation, from, to) {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for rows in [new_cases, cases_again] {
                    write_cases!(tx, sql, "rm_cases", generation, rows);
                }
                for rows in [new_claimants, claimants_again] {
                    write_claimants!(tx, sql, "rm_claimants", generation, rows);
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    }

    /// Documents of the generation being rebuilt, written by an earlier
    /// flush of the rebuild, by stream.
    pub(super) async fn stored_views<V: serde::de::DeserializeOwned>(
        &self,
        generation: i64,
        kind: StreamKind,
        streams: &[(&str, Uuid)],
    ) -> Result<Keyed<V>, ReadError> {
        let (table, id) = row_table(kind);
        let mut found = Keyed::with_capacity_and_hasher(streams.len(), Default::default());
        match &self.db {
            store::Database::Postgres(pg) => {
                let table = partition(table, generation);
                let query = format!(
                    "SELECT r.tenant_id, r.{id}, r.view FROM {table} r \
                     JOIN unnest($2::text[], $3::uuid[]) AS s(tenant_id, id) \
                       ON r.tenant_id = s.tenant_id AND r.{id} = s.id \
                     WHERE r.generation = $1"
                );
                for chunk in streams.chunks(1000) {
                    let rows: Vec<(String, Uuid, String)> = sqlx::query_as(&query)
                        .bind(generation)
                        .bind(chunk.iter().map(|(t, _)| *t).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|(_, s)| *s).collect::<Vec<_>>())
                        .fetch_all(pg.pool())
                        .await?;
                    for (tenant, stream, view) in rows {
                        found.insert((tenant, stream), serde_json::from_str(&view)?);
                    }
                }
            }
            store::Database::Sqlite(_) => {
                for (tenant, stream) in streams {
                    if let Some(view) = self.stored_view(generation, kind, tenant, *stream).await? {
                        found.insert(((*tenant).to_owned(), *stream), view);
                    }
                }
            }
        }
        Ok(found)
    }

    /// The version a read-model row reflects.
    pub async fn row_version(
        &self,
        generation: i64,
        kind: StreamKind,
        tenant: &str,
        stream_id: Uuid,
    ) -> Result<Option<u64>, ReadError> {
        let query = row_query(kind, "version");
        let v: Option<i64> = on_db!(self, write, pool, sql => {
            sqlx::query_scalar(&sql(&query))
                .bind(generation)
                .bind(tenant)
                .bind(stream_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(v.map(|v| v as u64))
    }
}
