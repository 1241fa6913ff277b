//! The SQL the projector writes with: row builders, column lists, and the
//! macros that upsert rows and move the checkpoint inside a transaction.

use crate::db::ReadError;
use store::StreamKind;

/// Rows per multi-row INSERT: 18 columns × 500 stays far below both
/// databases' limits on bound parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

/// `($1, …, $n), ($n+1, …)`: `rows` tuples of `columns` placeholders.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * columns + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// The columns of a case row, in the order the upsert binds them and the
/// COPY tuple writes them.
pub(crate) const CASE_COLUMNS: &str = "generation, tenant_id, case_id, claimant_id, version, status, phase, \
     assignee, team, phase_entered_at, awaiting_approval, proposer, overdue_count, closed, claim_date, \
     updated_at, view, next_due, unlinked_since, late_since";
pub(crate) const CLAIMANT_COLUMNS: &str =
    "generation, tenant_id, claimant_id, version, file_number_hash, view, match_key";

/// Upsert of `rows` case rows into `table`; a row only moves forward.
pub(super) fn case_upsert(table: &str, rows: usize) -> String {
    format!(
        "INSERT INTO {table} ({CASE_COLUMNS}) VALUES {} \
         ON CONFLICT (generation, tenant_id, case_id) DO UPDATE SET \
         version = excluded.version, status = excluded.status, phase = excluded.phase, \
         assignee = excluded.assignee, team = excluded.team, phase_entered_at = excluded.phase_entered_at, \
         awaiting_approval = excluded.awaiting_approval, proposer = excluded.proposer, \
         overdue_count = excluded.overdue_count, closed = excluded.closed, claim_date = excluded.claim_date, \
         updated_at = excluded.updated_at, view = excluded.view, next_due = excluded.next_due, \
         unlinked_since = excluded.unlinked_since, late_since = excluded.late_since \
         WHERE {table}.version < excluded.version",
        placeholders(rows, 20)
    )
}

/// Upsert of `rows` claimant rows into `table`; a row only moves forward.
pub(super) fn claimant_upsert(table: &str, rows: usize) -> String {
    format!(
        "INSERT INTO {table} ({CLAIMANT_COLUMNS}) VALUES {} \
         ON CONFLICT (generation, tenant_id, claimant_id) DO UPDATE SET \
         version = excluded.version, file_number_hash = excluded.file_number_hash, view = excluded.view, \
         match_key = excluded.match_key \
         WHERE {table}.version < excluded.version",
        placeholders(rows, 7)
    )
}

/// SQLite keeps every generation in the same tables: deletes the rows of
/// the generations `op` (`=`, `<`) `generation`.
pub(super) async fn delete_generations(
    pool: &sqlx::SqlitePool,
    op: &str,
    generation: i64,
) -> Result<(), ReadError> {
    for table in ["rm_cases", "rm_claimants", "rm_checkpoints"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE generation {op} ?1"))
            .bind(generation)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The read-model table of a stream kind and its id column.
pub(super) fn row_table(kind: StreamKind) -> (&'static str, &'static str) {
    match kind {
        StreamKind::Case => ("rm_cases", "case_id"),
        StreamKind::Claimant => ("rm_claimants", "claimant_id"),
    }
}

/// On PostgreSQL, the table holding one generation's rows of a read-model
/// table: its partition `<table>_g<N>` (migration 0008).
pub(super) fn partition(table: &str, generation: i64) -> String {
    format!("{table}_g{generation}")
}

/// `SELECT <column>` of one stream's row in a generation.
pub(super) fn row_query(kind: StreamKind, column: &str) -> String {
    let (table, id) = row_table(kind);
    format!("SELECT {column} FROM {table} WHERE generation = $1 AND tenant_id = $2 AND {id} = $3")
}

/// Compare-and-set of the feed checkpoint inside a transaction: true when
/// it was at `from` and now is at `to`.
macro_rules! advance_checkpoint {
    ($tx:ident, $sql:ident, $generation:expr, $from:expr, $to:expr) => {
        sqlx::query(&$sql(
            "UPDATE rm_checkpoints SET tx = $1, position = $2 \
             WHERE projector = $3 AND generation = $4 AND tx = $5 AND position = $6",
        ))
        .bind($to.tx)
        .bind($to.position)
        .bind(NAME)
        .bind($generation)
        .bind($from.tx)
        .bind($from.position)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            == 1
    };
}

/// The document of a stream as its row holds it, inside the batch's
/// transaction: the copy the projector kept when it wrote the row (the row
/// is asked for its version only; its document is not sent), the row's own
/// when the row has moved on or nothing was kept, `None` without a row.
macro_rules! current_view {
    ($self:ident, $tx:ident, $sql:ident, $kind:ident, $generation:expr, $batch:expr) => {{
        let kept = $self
            .held
            .$kind
            .take($generation, $batch.tenant, $batch.stream_id);
        let kept_version = kept.as_ref().map_or(-1, |v| v.version as i64);
        let query = row_query(
            $batch.kind,
            "version, CASE WHEN version = $4 THEN NULL ELSE view END",
        );
        let row: Option<(i64, Option<String>)> = sqlx::query_as(&$sql(&query))
            .bind($generation)
            .bind($batch.tenant)
            .bind($batch.stream_id)
            .bind(kept_version)
            .fetch_optional(&mut *$tx)
            .await?;
        match row {
            None => None,
            Some((_, Some(doc))) => Some(serde_json::from_str(&doc)?),
            Some((_, None)) => kept,
        }
    }};
}

/// Upserts case rows, many per statement; a row only moves forward.
macro_rules! write_cases {
    ($tx:ident, $sql:ident, $table:expr, $generation:expr, $rows:expr) => {
        for chunk in $rows.chunks(ROWS_PER_STATEMENT) {
            let docs = chunk
                .iter()
                .map(|(_, view)| serde_json::to_string(view))
                .collect::<Result<Vec<_>, _>>()?;
            let statement = $sql(&case_upsert($table, chunk.len()));
            let mut query = sqlx::query(&statement);
            for ((tenant, view), doc) in chunk.iter().zip(docs) {
                query = query
                    .bind($generation)
                    .bind(*tenant)
                    .bind(view.case_id)
                    .bind(view.claimant_id)
                    .bind(view.version as i64)
                    .bind(view.status.code())
                    .bind(view.phase.code())
                    .bind(&view.assignee)
                    .bind(&view.team)
                    .bind(view.phase_entered_at)
                    .bind(view.awaiting_approval())
                    .bind(view.decision.as_ref().map(|d| d.proposer.clone()))
                    .bind(view.overdue_count() as i64)
                    .bind(view.is_closed())
                    .bind(view.claim_date)
                    .bind(view.updated_at)
                    .bind(doc)
                    .bind(view.next_due())
                    .bind(view.unlinked_since())
                    .bind(view.late_since());
            }
            query.execute(&mut *$tx).await?;
        }
    };
}

/// Upserts claimant rows, many per statement; a row only moves forward.
macro_rules! write_claimants {
    ($tx:ident, $sql:ident, $table:expr, $generation:expr, $rows:expr) => {
        for chunk in $rows.chunks(ROWS_PER_STATEMENT) {
            let docs = chunk
                .iter()
                .map(|(_, view)| serde_json::to_string(view))
                .collect::<Result<Vec<_>, _>>()?;
            let statement = $sql(&claimant_upsert($table, chunk.len()));
            let mut query = sqlx::query(&statement);
            for ((tenant, view), doc) in chunk.iter().zip(docs) {
                let (file_number_hash, match_key) = view.lookup_keys();
                query = query
                    .bind($generation)
                    .bind(*tenant)
                    .bind(view.claimant_id)
                    .bind(view.version as i64)
                    .bind(file_number_hash)
                    .bind(doc)
                    .bind(match_key);
            }
            query.execute(&mut *$tx).await?;
        }
    };
}
