//! Follows the feed and keeps the read models.

use crate::db::{file_number_hash, on_db, ReadDb, ReadError};
use crate::view::{CaseView, ClaimantView, EventInfo};
use domain::FileNumber;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::codec;
use store::{EventLog, FeedCursor, RecordedEvent, StreamKind};
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

/// Sent after a batch commits: this case's read model is at `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseChanged {
    pub tenant: String,
    pub case_id: Uuid,
    pub claimant_id: Uuid,
    pub version: u64,
}

const BATCH: u32 = 500;
/// A rebuild folds bigger batches: each stream's document is read, folded
/// and written once per batch, and a replay has no reader waiting on it.
const REBUILD_BATCH: u32 = 10_000;
const NAME: &str = "read-models";

/// Keeps the read models of one generation (the active one, or the one a
/// rebuild fills).
pub struct Projector {
    db: ReadDb,
    log: Arc<dyn EventLog>,
    wake: Notify,
    changes: broadcast::Sender<CaseChanged>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied this many events.
    Applied(usize),
    /// Another instance advanced the checkpoint first; nothing written.
    Lost,
}

impl Projector {
    pub fn new(db: ReadDb, log: Arc<dyn EventLog>) -> Arc<Self> {
        let (changes, _) = broadcast::channel(4096);
        Arc::new(Self {
            db,
            log,
            wake: Notify::new(),
            changes,
        })
    }

    pub fn db(&self) -> &ReadDb {
        &self.db
    }

    /// Case changes as batches commit (for subscriptions).
    pub fn subscribe(&self) -> broadcast::Receiver<CaseChanged> {
        self.changes.subscribe()
    }

    /// Asks the running loop to look at the feed now (after a command).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown` resolves, polling at least every 250 ms.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.catch_up().await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, code = e.code(), "projector batch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// Waits (bounded) until every committed event is in the read models:
    /// catches up itself, and waits out another instance's batch in flight
    /// and, on PostgreSQL, transactions that hold the feed's horizon back.
    pub async fn settle(&self, timeout: Duration) -> Result<(), ReadError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.catch_up().await?;
            let generation = self.db.generation().await?;
            if self.db.pending_events(generation).await? == 0
                || tokio::time::Instant::now() >= deadline
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Applies everything the feed has for the active generation.
    pub async fn catch_up(&self) -> Result<usize, ReadError> {
        let generation = self.db.generation().await?;
        self.catch_up_while(generation, true).await
    }

    pub(crate) async fn catch_up_generation(&self, generation: i64) -> Result<usize, ReadError> {
        self.catch_up_while(generation, false).await
    }

    /// `live`: stop as soon as another generation becomes active (a rebuild
    /// switched over), instead of filling the retired one.
    async fn catch_up_while(&self, generation: i64, live: bool) -> Result<usize, ReadError> {
        let mut total = 0;
        loop {
            if live && self.db.generation().await? != generation {
                return Ok(total);
            }
            match self.step(generation).await? {
                Outcome::Applied(0) => return Ok(total),
                Outcome::Applied(n) => total += n,
                // Someone else is projecting: let them.
                Outcome::Lost => return Ok(total),
            }
        }
    }

    /// One batch: read the feed after the checkpoint, fold, write rows and
    /// checkpoint in one transaction.
    pub async fn step(&self, generation: i64) -> Result<Outcome, ReadError> {
        self.step_sized(generation, BATCH).await
    }

    async fn step_sized(&self, generation: i64, limit: u32) -> Result<Outcome, ReadError> {
        let cursor = self.db.checkpoint(generation).await?;
        let events = self.log.read_feed(cursor, limit).await?;
        let Some(last) = events.last() else {
            return Ok(Outcome::Applied(0));
        };
        let next = last.cursor();
        let changed = self
            .db
            .apply_batch(generation, Some((cursor, next)), &events)
            .await?;
        match changed {
            None => Ok(Outcome::Lost),
            Some(changed) => {
                for c in changed {
                    let _ = self.changes.send(c);
                }
                Ok(Outcome::Applied(events.len()))
            }
        }
    }

    /// Applies events delivered from outside the log feed (a Kafka consumer
    /// group sharing partitions with other instances): no feed checkpoint is
    /// involved; every row only moves forward (re-deliveries and rebalances
    /// are harmless), and a stream whose delivered versions do not follow
    /// its row (a gap) is read from the log, the source of truth. Returns
    /// how many streams changed.
    pub async fn apply_delivered(&self, delivered: &[RecordedEvent]) -> Result<usize, ReadError> {
        let generation = self.db.generation().await?;
        let mut events: Vec<RecordedEvent> = Vec::with_capacity(delivered.len());
        let mut first: BTreeMap<(StreamKind, &str, Uuid), u64> = BTreeMap::new();
        for e in delivered {
            let v = first
                .entry((e.kind, e.tenant.as_str(), e.stream_id))
                .or_insert(e.version);
            *v = (*v).min(e.version);
        }
        let mut filled = std::collections::BTreeSet::new();
        for ((kind, tenant, stream_id), lowest) in &first {
            let current = self
                .db
                .row_version(generation, *kind, tenant, *stream_id)
                .await?
                .unwrap_or(0);
            if *lowest > current + 1 {
                let tenant_id = domain::TenantId::parse(tenant)
                    .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
                events.extend(
                    self.log
                        .read_stream(&tenant_id, *stream_id, current)
                        .await?,
                );
                filled.insert((*kind, tenant.to_string(), *stream_id));
            }
        }
        events.extend(
            delivered
                .iter()
                .filter(|e| !filled.contains(&(e.kind, e.tenant.clone(), e.stream_id)))
                .cloned(),
        );
        let Some(changed) = self.db.apply_batch(generation, None, &events).await? else {
            return Ok(0);
        };
        let n = changed.len();
        for c in changed {
            let _ = self.changes.send(c);
        }
        Ok(n)
    }

    /// Replays the whole log into a fresh generation while the live one
    /// keeps serving, then switches over in one transaction. `progress` is
    /// called with (events applied so far, events in the log).
    pub async fn rebuild(&self, mut progress: impl FnMut(u64, u64)) -> Result<i64, ReadError> {
        let live = self.db.generation().await?;
        let next = self.db.begin_generation(live).await?;
        let total = self.db.event_count().await?;
        let mut done = 0u64;
        loop {
            match self.step_sized(next, REBUILD_BATCH).await? {
                Outcome::Applied(0) => break,
                Outcome::Applied(n) => {
                    done += n as u64;
                    progress(done, total.max(done));
                }
                Outcome::Lost => {
                    return Err(ReadError::Db(sqlx::Error::Protocol(
                        "another rebuild is running".into(),
                    )))
                }
            }
        }
        // Catch up what arrived meanwhile, then switch.
        loop {
            let applied = self.catch_up_generation(next).await?;
            if applied == 0 && self.db.switch_generation(live, next).await? {
                break;
            }
        }
        progress(total.max(done), total.max(done));
        self.db.drop_generations_below(next).await?;
        Ok(next)
    }
}

/// Events of one stream within a batch.
struct StreamBatch<'a> {
    tenant: &'a str,
    stream_id: Uuid,
    events: Vec<&'a RecordedEvent>,
}

fn group(events: &[RecordedEvent], kind: StreamKind) -> Vec<StreamBatch<'_>> {
    let mut map: BTreeMap<(&str, Uuid), Vec<&RecordedEvent>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == kind) {
        map.entry((e.tenant.as_str(), e.stream_id))
            .or_default()
            .push(e);
    }
    map.into_iter()
        .map(|((tenant, stream_id), mut events)| {
            events.sort_by_key(|e| e.version);
            StreamBatch {
                tenant,
                stream_id,
                events,
            }
        })
        .collect()
}

fn info(e: &RecordedEvent) -> EventInfo {
    EventInfo {
        version: e.version,
        recorded_at: e.recorded_at,
    }
}

/// Folds a stream's new events into its current document.
fn fold_case(
    current: Option<CaseView>,
    batch: &StreamBatch<'_>,
) -> Result<Option<CaseView>, ReadError> {
    let mut view = current;
    for e in &batch.events {
        // Re-delivered (Kafka, at least once): already in the row.
        if view.as_ref().is_some_and(|v| e.version <= v.version) {
            continue;
        }
        let event = codec::decode_case(&e.event_type, e.schema_version, &e.payload)?;
        match view.as_mut() {
            Some(v) => v.apply(&event, &info(e)),
            None => view = CaseView::open(&event, &info(e)),
        }
    }
    Ok(view)
}

fn fold_claimant(
    current: Option<ClaimantView>,
    batch: &StreamBatch<'_>,
) -> Result<Option<ClaimantView>, ReadError> {
    let mut view = current;
    for e in &batch.events {
        if view.as_ref().is_some_and(|v| e.version <= v.version) {
            continue;
        }
        let event = codec::decode_claimant(&e.event_type, e.schema_version, &e.payload)?;
        match view.as_mut() {
            Some(v) => v.apply(&event, &info(e)),
            None => view = ClaimantView::open(&event, &info(e)),
        }
    }
    Ok(view)
}

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
    async fn apply_batch(
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
                let moved = sqlx::query(&sql(
                    "UPDATE rm_checkpoints SET tx = $1, position = $2 \
                     WHERE projector = $3 AND generation = $4 AND tx = $5 AND position = $6",
                ))
                .bind(to.tx)
                .bind(to.position)
                .bind(NAME)
                .bind(generation)
                .bind(from.tx)
                .bind(from.position)
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
            let mut changed = Vec::new();
            for batch in &cases {
                let current: Option<String> = sqlx::query_scalar(&sql(
                    "SELECT view FROM rm_cases WHERE generation = $1 AND tenant_id = $2 AND case_id = $3",
                ))
                .bind(generation)
                .bind(batch.tenant)
                .bind(batch.stream_id)
                .fetch_optional(&mut *tx)
                .await?;
                let current = current.map(|d| serde_json::from_str::<CaseView>(&d)).transpose()?;
                let before = current.as_ref().map(|v| v.version);
                let Some(view) = fold_case(current, batch)? else { continue };
                if Some(view.version) == before {
                    continue;
                }
                sqlx::query(&sql(
                    "INSERT INTO rm_cases (generation, tenant_id, case_id, claimant_id, version, status, phase, assignee, \
                     team, phase_entered_at, awaiting_approval, proposer, overdue_count, closed, claim_date, updated_at, view, \
                     next_due) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
                     ON CONFLICT (generation, tenant_id, case_id) DO UPDATE SET \
                     version = excluded.version, status = excluded.status, phase = excluded.phase, \
                     assignee = excluded.assignee, team = excluded.team, phase_entered_at = excluded.phase_entered_at, \
                     awaiting_approval = excluded.awaiting_approval, proposer = excluded.proposer, \
                     overdue_count = excluded.overdue_count, closed = excluded.closed, claim_date = excluded.claim_date, \
                     updated_at = excluded.updated_at, view = excluded.view, next_due = excluded.next_due \
                     WHERE rm_cases.version < excluded.version",
                ))
                .bind(generation)
                .bind(batch.tenant)
                .bind(view.case_id)
                .bind(view.claimant_id)
                .bind(view.version as i64)
                .bind(&view.status)
                .bind(&view.phase)
                .bind(&view.assignee)
                .bind(&view.team)
                .bind(view.phase_entered_at)
                .bind(view.awaiting_approval())
                .bind(view.decision.as_ref().map(|d| d.proposer.clone()))
                .bind(view.overdue_count() as i64)
                .bind(view.is_closed())
                .bind(view.claim_date)
                .bind(view.updated_at)
                .bind(serde_json::to_string(&view)?)
                .bind(view.next_due())
                .execute(&mut *tx)
                .await?;
                changed.push(CaseChanged {
                    tenant: batch.tenant.to_owned(),
                    case_id: view.case_id,
                    claimant_id: view.claimant_id,
                    version: view.version,
                });
            }
            for batch in &claimants {
                let current: Option<String> = sqlx::query_scalar(&sql(
                    "SELECT view FROM rm_claimants WHERE generation = $1 AND tenant_id = $2 AND claimant_id = $3",
                ))
                .bind(generation)
                .bind(batch.tenant)
                .bind(batch.stream_id)
                .fetch_optional(&mut *tx)
                .await?;
                let current = current.map(|d| serde_json::from_str::<ClaimantView>(&d)).transpose()?;
                let Some(view) = fold_claimant(current, batch)? else { continue };
                let hash = FileNumber::parse(&view.file_number)
                    .map(|f| file_number_hash(&f))
                    .unwrap_or_default();
                sqlx::query(&sql(
                    "INSERT INTO rm_claimants (generation, tenant_id, claimant_id, version, file_number_hash, view, match_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (generation, tenant_id, claimant_id) DO UPDATE SET \
                     version = excluded.version, file_number_hash = excluded.file_number_hash, view = excluded.view, \
                     match_key = excluded.match_key \
                     WHERE rm_claimants.version < excluded.version",
                ))
                .bind(generation)
                .bind(batch.tenant)
                .bind(view.claimant_id)
                .bind(view.version as i64)
                .bind(hash)
                .bind(serde_json::to_string(&view)?)
                .bind(crate::identity_match_key(&view.family_name, view.birth_date))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Some(changed))
        })
    }

    /// The version a read-model row reflects.
    pub async fn row_version(
        &self,
        generation: i64,
        kind: StreamKind,
        tenant: &str,
        stream_id: Uuid,
    ) -> Result<Option<u64>, ReadError> {
        let query = match kind {
            StreamKind::Case => {
                "SELECT version FROM rm_cases WHERE generation = $1 AND tenant_id = $2 AND case_id = $3"
            }
            StreamKind::Claimant => {
                "SELECT version FROM rm_claimants WHERE generation = $1 AND tenant_id = $2 AND claimant_id = $3"
            }
        };
        let v: Option<i64> = on_db!(self, write, pool, sql => {
            sqlx::query_scalar(&sql(query))
                .bind(generation)
                .bind(tenant)
                .bind(stream_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(v.map(|v| v as u64))
    }

    async fn begin_generation(&self, live: i64) -> Result<i64, ReadError> {
        let next = live + 1;
        self.drop_generation(next).await?;
        Ok(next)
    }

    async fn drop_generation(&self, generation: i64) -> Result<(), ReadError> {
        on_db!(self, write, pool, sql => {
            for table in ["rm_cases", "rm_claimants", "rm_checkpoints"] {
                sqlx::query(&sql(&format!("DELETE FROM {table} WHERE generation = $1")))
                    .bind(generation)
                    .execute(pool)
                    .await?;
            }
        });
        Ok(())
    }

    async fn drop_generations_below(&self, generation: i64) -> Result<(), ReadError> {
        on_db!(self, write, pool, sql => {
            for table in ["rm_cases", "rm_claimants", "rm_checkpoints"] {
                sqlx::query(&sql(&format!("DELETE FROM {table} WHERE generation < $1")))
                    .bind(generation)
                    .execute(pool)
                    .await?;
            }
        });
        Ok(())
    }

    /// Makes `next` the active generation if it is caught up with the feed;
    /// false when events arrived meanwhile (catch up and try again).
    async fn switch_generation(&self, live: i64, next: i64) -> Result<bool, ReadError> {
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

    async fn event_count(&self) -> Result<u64, ReadError> {
        on_db!(self, read, pool, _sql => {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
            Ok(n as u64)
        })
    }
}
