//! Generations: the rebuild lock, creating, attaching, switching and
//! dropping a generation's tables (PostgreSQL partitions, SQLite rows).

use super::*;
use crate::db::{on_db, ReadDb, ReadError};
use store::StreamKind;

impl ReadDb {
    /// One rebuild at a time. PostgreSQL: a session advisory lock held by a
    /// connection of its own (detached from the pool: closing it, also when
    /// the rebuild fails or its process dies, releases the lock), so a
    /// second rebuild is refused before it touches anything. SQLite: the
    /// checkpoint's compare-and-set stops a second rebuild at its first
    /// write.
    pub(super) async fn rebuild_lock(&self) -> Result<Option<sqlx::PgConnection>, ReadError> {
        let store::Database::Postgres(pg) = &self.db else {
            return Ok(None);
        };
        let mut conn = pg.pool().acquire().await?.detach();
        let won: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended('omnicase.rebuild', 0))",
        )
        .fetch_one(&mut conn)
        .await?;
        if won {
            Ok(Some(conn))
        } else {
            Err(ReadError::RebuildRunning)
        }
    }

    pub(super) async fn rebuild_unlock(mut conn: sqlx::PgConnection) {
        let unlocked =
            sqlx::query("SELECT pg_advisory_unlock(hashtextextended('omnicase.rebuild', 0))")
                .execute(&mut conn)
                .await;
        if let Err(e) = unlocked {
            // Closing the connection releases it as well.
            tracing::warn!(error = %e, "the rebuild lock is released when its connection closes");
        }
        let _ = sqlx::Connection::close(conn).await;
    }

    /// Starts generation `live + 1` afresh. On PostgreSQL its rows go to
    /// tables of their own (the partitions-to-be, migration 0008) with the
    /// primary key only: the rebuild upserts and reads back by it; the
    /// other indexes are built once the rows are in
    /// ([`attach_generation`](Self::attach_generation)).
    pub(super) async fn begin_generation(&self, live: i64) -> Result<i64, ReadError> {
        let next = live + 1;
        self.drop_generation(next).await?;
        if let store::Database::Postgres(pg) = &self.db {
            let mut tx = pg.pool().begin().await?;
            for kind in [StreamKind::Case, StreamKind::Claimant] {
                let (table, id) = row_table(kind);
                let own = partition(table, next);
                // The CHECK spares ATTACH a scan of the rows.
                sqlx::query(&format!(
                    "CREATE TABLE {own} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES, \
                     CHECK (generation = {next}))"
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query(&format!(
                    "ALTER TABLE {own} ADD PRIMARY KEY (generation, tenant_id, {id})"
                ))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(next)
    }

    /// Makes a rebuilt generation's rows visible through the read-model
    /// tables. PostgreSQL: builds the partitioned tables' other indexes on
    /// the loaded rows (one sorted pass each, two at a time), attaches the
    /// tables as partitions (which adopts those indexes and would build any
    /// still missing), and gives the planner their statistics (nothing else
    /// may: autovacuum can be off).
    pub(super) async fn attach_generation(&self, generation: i64) -> Result<(), ReadError> {
        let store::Database::Postgres(pg) = &self.db else {
            return Ok(());
        };
        let pool = pg.pool();
        let mut builds = Vec::new();
        let mut analyses = Vec::new();
        for (table, columns) in [
            ("rm_cases", CASE_COLUMNS),
            ("rm_claimants", CLAIMANT_COLUMNS),
        ] {
            let own = partition(table, generation);
            // As the migrations define them: `CREATE INDEX <name> ON ONLY
            // <table> USING btree (...)`.
            let defs: Vec<String> = sqlx::query_scalar(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index \
                 WHERE indrelid = $1::regclass AND NOT indisprimary",
            )
            .bind(table)
            .fetch_all(pool)
            .await?;
            builds.extend(defs.iter().filter_map(|def| {
                def.find(" USING ")
                    .map(|at| format!("CREATE INDEX ON {own}{}", &def[at..]))
            }));
            // Every column the queries filter or sort on; not the documents
            // (sampling them would decompress thousands).
            let keys: Vec<&str> = columns
                .split(',')
                .map(str::trim)
                .filter(|c| *c != "view")
                .collect();
            analyses.push(format!("ANALYZE {own} ({})", keys.join(", ")));
        }
        let (even, odd): (Vec<_>, Vec<_>) = builds
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let lane = |statements: Vec<(usize, String)>| async move {
            for (_, statement) in statements {
                sqlx::query(&statement).execute(pool).await?;
            }
            Ok::<_, sqlx::Error>(())
        };
        let (a, b) = tokio::join!(lane(even), lane(odd));
        a?;
        b?;
        for table in ["rm_cases", "rm_claimants"] {
            sqlx::query(&format!(
                "ALTER TABLE {table} ATTACH PARTITION {} FOR VALUES IN ({generation})",
                partition(table, generation)
            ))
            .execute(pool)
            .await?;
        }
        let mut analyses = analyses.into_iter().enumerate().collect::<Vec<_>>();
        let second = analyses.split_off(1);
        let (a, b) = tokio::join!(lane(analyses), lane(second));
        a?;
        b?;
        Ok(())
    }

    /// Removes whatever generation `generation` holds.
    pub(super) async fn drop_generation(&self, generation: i64) -> Result<(), ReadError> {
        match &self.db {
            store::Database::Postgres(pg) => {
                sqlx::query("DELETE FROM rm_checkpoints WHERE generation = $1")
                    .bind(generation)
                    .execute(pg.pool())
                    .await?;
                sqlx::query(&format!(
                    "DROP TABLE IF EXISTS {}, {}",
                    partition("rm_cases", generation),
                    partition("rm_claimants", generation)
                ))
                .execute(pg.pool())
                .await?;
            }
            store::Database::Sqlite(lite) => {
                delete_generations(lite.writer(), "=", generation).await?;
            }
        }
        Ok(())
    }

    /// Removes the generations before `generation` (after a switch).
    pub(super) async fn drop_generations_below(&self, generation: i64) -> Result<(), ReadError> {
        match &self.db {
            store::Database::Postgres(pg) => {
                // Checkpoints first: a live batch of an old generation still
                // in flight holds its checkpoint's row, so this waits for it,
                // and a batch after finds no checkpoint to move.
                sqlx::query("DELETE FROM rm_checkpoints WHERE generation < $1")
                    .bind(generation)
                    .execute(pg.pool())
                    .await?;
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
                     AND tablename ~ '^rm_(cases|claimants)_g[0-9]+$'",
                )
                .fetch_all(pg.pool())
                .await?;
                for table in tables {
                    let old = table
                        .rsplit_once("_g")
                        .and_then(|(_, n)| n.parse::<i64>().ok())
                        .is_some_and(|n| n < generation);
                    if !old {
                        continue;
                    }
                    // Dropping a partition locks the read-model table for a
                    // moment; if queries hold it longer, the next rebuild
                    // drops it instead of stalling readers here.
                    let mut tx = pg.pool().begin().await?;
                    sqlx::query("SET LOCAL lock_timeout = '5s'")
                        .execute(&mut *tx)
                        .await?;
                    match sqlx::query(&format!("DROP TABLE {table}"))
                        .execute(&mut *tx)
                        .await
                    {
                        Ok(_) => tx.commit().await?,
                        Err(e) => {
                            tracing::warn!(%table, error = %e, "an old generation's table was left for the next rebuild to drop");
                            tx.rollback().await?;
                        }
                    }
                }
            }
            store::Database::Sqlite(lite) => {
                delete_generations(lite.writer(), "<", generation).await?;
            }
        }
        Ok(())
    }

    /// Makes `next` the active generation if it is caught up with the feed;
    /// false when events arrived meanwhile (catch up and try again).
    pub(super) async fn switch_generation(&self, live: i64, next: i64) -> Result<bool, ReadError> {
        let cursor = self.checkpoint(next).await?;
        if !self.db.log().read_feed(cursor, 1).await?.is_empty() {
            return Ok(false);
        }
        on_db!(self, write, pool, sql => {
            let switched = sqlx::query(&sql("UPDATE rm_meta SET generation = $1 WHERE id = 1 AND generation = $2"))
                .bind(next)
                .bind(live)
                .execute(pool)
                .await?;
            Ok(switched.rows_affected() == 1)
        })
    }

    /// Committed events the projector has not applied yet.
    pub async fn pending_events(&self, generation: i64) -> Result<i64, ReadError> {
        let cursor = self.checkpoint(generation).await?;
        on_db!(self, read, pool, sql => {
            Ok(sqlx::query_scalar(&sql("SELECT count(*) FROM events WHERE (tx, position) > ($1, $2)"))
                .bind(cursor.tx)
                .bind(cursor.position)
                .fetch_one(pool)
                .await?)
        })
    }

    pub(super) async fn event_count(&self) -> Result<u64, ReadError> {
        on_db!(self, read, pool, _sql => {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
            Ok(n as u64)
        })
    }
}
