//! Follows the feed and keeps the read models.

use crate::copy;
use crate::db::{on_db, ReadDb, ReadError};
use crate::view::{CaseView, ClaimantView, EventInfo};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use store::codec;
use store::{EventLog, FeedCursor, RecordedEvent, StreamKind};
use tokio::sync::{broadcast, mpsc, Notify};
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
/// A rebuild writes what it folded once this many documents are in memory.
const REBUILD_FLUSH_ROWS: usize = 20_000;
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
                    tracing::warn!(error = %e, code = %e.code().as_str(), "projector batch failed; retrying");
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
    ///
    /// The replay keeps the documents it folds in memory and writes them
    /// with the checkpoint every [`REBUILD_FLUSH_ROWS`] documents (COPY on
    /// PostgreSQL, many rows per statement on SQLite), on another task
    /// while the next batches fold; the feed is read a batch ahead. A stream
    /// met again after its document was handed to a write folds on from
    /// that write's copy, or, if an older write has committed it, is read
    /// back with the batch's other such streams in one query.
    pub async fn rebuild(&self, progress: impl FnMut(u64, u64)) -> Result<i64, ReadError> {
        self.rebuild_with(REBUILD_BATCH, REBUILD_FLUSH_ROWS, progress)
            .await
    }

    /// [`rebuild`](Self::rebuild) reading `batch` events at a time and
    /// writing once `flush_rows` documents are held (small values make a
    /// test meet streams again after their documents were written).
    pub async fn rebuild_with(
        &self,
        batch: u32,
        flush_rows: usize,
        progress: impl FnMut(u64, u64),
    ) -> Result<i64, ReadError> {
        let lock = self.db.rebuild_lock().await?;
        let rebuilt = self.rebuild_locked(batch, flush_rows, progress).await;
        if let Some(conn) = lock {
            // Released at once, not when the server notices the connection
            // closed: a rebuild run right after must not be refused.
            ReadDb::rebuild_unlock(conn).await;
        }
        rebuilt
    }

    async fn rebuild_locked(
        &self,
        batch: u32,
        flush_rows: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<i64, ReadError> {
        let live = self.db.generation().await?;
        let next = self.db.begin_generation(live).await?;
        let total = self.db.event_count().await?;
        let mut done = 0u64;
        let mut folded = Folded::default();
        let mut from = self.db.checkpoint(next).await?;
        let mut to = from;
        // Three stages at once: the next batch is read while this one is
        // folded, and the last flush is written meanwhile.
        let mut feed = Prefetch::start(self.log.clone(), from, batch.max(1));
        let mut writing = Writing::default();
        // What the last flush wrote (its write may still be in flight): a
        // stream met again is folded on from here, not read back.
        let mut last_flush = Arc::new(Flush::default());
        // Seconds spent waiting for the feed, folding, and waiting for writes.
        let (mut t_read, mut t_fold, mut t_flush) = (0f64, 0f64, 0f64);
        loop {
            let t0 = std::time::Instant::now();
            let events = feed.next().await?;
            t_read += t0.elapsed().as_secs_f64();
            let t0 = std::time::Instant::now();
            let Some(last) = events.last() else { break };
            to = last.cursor();
            self.fold_batch(
                next,
                &group(&events, StreamKind::Case),
                &mut folded.cases,
                &folded.flushed_cases,
                &last_flush.cases,
                fold_case,
            )
            .await?;
            self.fold_batch(
                next,
                &group(&events, StreamKind::Claimant),
                &mut folded.claimants,
                &folded.flushed_claimants,
                &last_flush.claimants,
                fold_claimant,
            )
            .await?;
            done += events.len() as u64;
            t_fold += t0.elapsed().as_secs_f64();
            if folded.cases.len() + folded.claimants.len() >= flush_rows {
                let t0 = std::time::Instant::now();
                // One write in flight: checkpoints move in feed order.
                writing.finish().await?;
                t_flush += t0.elapsed().as_secs_f64();
                last_flush = Arc::new(folded.take());
                writing.start(self.db.clone(), next, (from, to), last_flush.clone());
                from = to;
            }
            progress(done, total.max(done));
        }
        let t0 = std::time::Instant::now();
        writing.finish().await?;
        if from != to {
            writing.start(self.db.clone(), next, (from, to), Arc::new(folded.take()));
            writing.finish().await?;
        }
        t_flush += t0.elapsed().as_secs_f64();
        let t0 = std::time::Instant::now();
        self.db.attach_generation(next).await?;
        let t_attach = t0.elapsed().as_secs_f64();
        tracing::info!(
            events = done,
            attach_seconds = t_attach,
            read_wait_seconds = t_read,
            fold_seconds = t_fold,
            write_wait_seconds = t_flush,
            "rebuild folded the log"
        );
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

    /// Folds a batch's streams of one kind into the documents `held`. A
    /// stream not held folds on from the last flush's copy (its write may
    /// be in flight) or, if an older flush wrote it (committed: one write
    /// in flight at a time), from its row, read back with the batch's
    /// other such streams in one query.
    async fn fold_batch<V: serde::de::DeserializeOwned + Clone>(
        &self,
        generation: i64,
        batches: &[StreamBatch<'_>],
        held: &mut Keyed<V>,
        flushed: &KeySet,
        last: &Keyed<V>,
        fold: fn(Option<V>, &StreamBatch<'_>) -> Result<Option<V>, ReadError>,
    ) -> Result<(), ReadError> {
        let wanted: Vec<(&str, Uuid)> = batches
            .iter()
            .filter(|b| {
                let key = (b.tenant.to_owned(), b.stream_id);
                flushed.contains(&key) && !held.contains_key(&key) && !last.contains_key(&key)
            })
            .map(|b| (b.tenant, b.stream_id))
            .collect();
        let mut stored = match batches.first() {
            Some(first) if !wanted.is_empty() => {
                self.db
                    .stored_views(generation, first.kind, &wanted)
                    .await?
            }
            _ => Keyed::default(),
        };
        for batch in batches {
            let key = (batch.tenant.to_owned(), batch.stream_id);
            let current = held
                .remove(&key)
                .or_else(|| last.get(&key).cloned())
                .or_else(|| stored.remove(&key));
            if let Some(view) = fold(current, batch)? {
                held.insert(key, view);
            }
        }
        Ok(())
    }
}

/// Reads the feed one batch ahead of the fold, on its own task.
struct Prefetch {
    batches: mpsc::Receiver<Result<Vec<RecordedEvent>, store::StoreError>>,
}

impl Prefetch {
    fn start(log: Arc<dyn EventLog>, after: FeedCursor, batch: u32) -> Self {
        let (tx, batches) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut at = after;
            loop {
                let read = log.read_feed(at, batch).await;
                // An empty batch is the end of the feed, and is sent.
                let end = match &read {
                    Ok(events) => match events.last() {
                        Some(last) => {
                            at = last.cursor();
                            false
                        }
                        None => true,
                    },
                    Err(_) => true,
                };
                // A closed channel: the rebuild stopped (failed); so do we.
                if tx.send(read).await.is_err() || end {
                    return;
                }
            }
        });
        Self { batches }
    }

    /// The next batch; empty at the end of the feed.
    async fn next(&mut self) -> Result<Vec<RecordedEvent>, ReadError> {
        match self.batches.recv().await {
            Some(read) => Ok(read?),
            None => Err(ReadError::Db(sqlx::Error::Protocol(
                "the rebuild's feed reader stopped before the end of the feed".into(),
            ))),
        }
    }
}

/// The rebuild's write in flight (at most one).
#[derive(Default)]
struct Writing(Option<tokio::task::JoinHandle<Result<bool, ReadError>>>);

impl Writing {
    fn start(
        &mut self,
        db: ReadDb,
        generation: i64,
        span: (FeedCursor, FeedCursor),
        flush: Arc<Flush>,
    ) {
        self.0 = Some(tokio::spawn(async move {
            db.write_folded(generation, span, &flush).await
        }));
    }

    /// Waits for the write in flight to commit.
    async fn finish(&mut self) -> Result<(), ReadError> {
        let Some(task) = self.0.take() else {
            return Ok(());
        };
        let written = task.await.map_err(|e| {
            ReadError::Db(sqlx::Error::Protocol(format!(
                "the rebuild's writer failed: {e}"
            )))
        })??;
        if written {
            Ok(())
        } else {
            Err(ReadError::RebuildRunning)
        }
    }
}

/// One flush of a rebuild: the documents folded since the last one, and
/// which of them an earlier flush already wrote (those have a row to
/// update; the others are new to the generation).
#[derive(Default)]
struct Flush {
    cases: Keyed<CaseView>,
    claimants: Keyed<ClaimantView>,
    cases_again: KeySet,
    claimants_again: KeySet,
}

/// Documents to write, with their tenants.
type Rows<'a, V> = Vec<(&'a str, &'a V)>;

impl Flush {
    /// (new to the generation, written before) rows of one kind, each in
    /// primary-key order: the server's index inserts then go to
    /// neighbouring pages instead of one page picked at random per row.
    fn split<'a, V>(docs: &'a Keyed<V>, again: &KeySet) -> (Rows<'a, V>, Rows<'a, V>) {
        let mut sorted: Vec<_> = docs.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        sorted
            .into_iter()
            .map(|(key, view)| (again.contains(key), (key.0.as_str(), view)))
            .fold(
                (Vec::new(), Vec::new()),
                |(mut new, mut old), (is_old, row)| {
                    if is_old {
                        old.push(row);
                    } else {
                        new.push(row);
                    }
                    (new, old)
                },
            )
    }
}

/// A rebuild's documents by (tenant, stream). Hashed with foldhash: the
/// keys come from the log, and SipHash was 6 % of the fold's samples.
type Keyed<V> = HashMap<(String, Uuid), V, foldhash::fast::RandomState>;
type KeySet = HashSet<(String, Uuid), foldhash::fast::RandomState>;

/// Documents a rebuild has folded and not yet written.
#[derive(Default)]
struct Folded {
    cases: Keyed<CaseView>,
    claimants: Keyed<ClaimantView>,
    /// Streams whose documents are already in the new generation.
    flushed_cases: KeySet,
    flushed_claimants: KeySet,
}

impl Folded {
    /// Hands what is held to a flush, noting which streams it writes. The
    /// maps left behind start at the size these reached (growing moves
    /// every document held, each time).
    fn take(&mut self) -> Flush {
        fn take_sized<V>(docs: &mut Keyed<V>) -> Keyed<V> {
            let sized = Keyed::with_capacity_and_hasher(docs.len(), Default::default());
            std::mem::replace(docs, sized)
        }
        Flush {
            cases_again: written_before(&mut self.flushed_cases, self.cases.keys()),
            claimants_again: written_before(&mut self.flushed_claimants, self.claimants.keys()),
            cases: take_sized(&mut self.cases),
            claimants: take_sized(&mut self.claimants),
        }
    }
}

/// Adds `keys` to `flushed`; returns those that were in it already.
fn written_before<'a>(
    flushed: &mut KeySet,
    keys: impl Iterator<Item = &'a (String, Uuid)>,
) -> KeySet {
    keys.filter(|key| !flushed.insert((*key).clone()))
        .cloned()
        .collect()
}

/// Events of one stream within a batch.
struct StreamBatch<'a> {
    kind: StreamKind,
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
                kind,
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

/// Rows per multi-row INSERT: 18 columns × 500 stays far below both
/// databases' limits on bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

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
fn case_upsert(table: &str, rows: usize) -> String {
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
fn claimant_upsert(table: &str, rows: usize) -> String {
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
async fn delete_generations(
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
fn row_table(kind: StreamKind) -> (&'static str, &'static str) {
    match kind {
        StreamKind::Case => ("rm_cases", "case_id"),
        StreamKind::Claimant => ("rm_claimants", "claimant_id"),
    }
}

/// On PostgreSQL, the table holding one generation's rows of a read-model
/// table: its partition `<table>_g<N>` (migration 0008).
fn partition(table: &str, generation: i64) -> String {
    format!("{table}_g{generation}")
}

/// `SELECT <column>` of one stream's row in a generation.
fn row_query(kind: StreamKind, column: &str) -> String {
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
    async fn stored_view<V: serde::de::DeserializeOwned>(
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
    async fn write_folded(
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
    async fn stored_views<V: serde::de::DeserializeOwned>(
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

    /// One rebuild at a time. PostgreSQL: a session advisory lock held by a
    /// connection of its own (detached from the pool: closing it, also when
    /// the rebuild fails or its process dies, releases the lock), so a
    /// second rebuild is refused before it touches anything. SQLite: the
    /// checkpoint's compare-and-set stops a second rebuild at its first
    /// write.
    async fn rebuild_lock(&self) -> Result<Option<sqlx::PgConnection>, ReadError> {
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

    async fn rebuild_unlock(mut conn: sqlx::PgConnection) {
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
    async fn begin_generation(&self, live: i64) -> Result<i64, ReadError> {
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
    async fn attach_generation(&self, generation: i64) -> Result<(), ReadError> {
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
    async fn drop_generation(&self, generation: i64) -> Result<(), ReadError> {
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
    async fn drop_generations_below(&self, generation: i64) -> Result<(), ReadError> {
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
