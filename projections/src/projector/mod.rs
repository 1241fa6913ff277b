//! Follows the feed and keeps the read models: the live follower here
//! (`run`, `step`, `apply_delivered`); `rebuild` (a whole new generation),
//! `fold` (events into documents), `write` (rows and checkpoints in one
//! transaction), `generations` (the rebuild lock; creating, attaching,
//! switching and dropping a generation's tables) and `sql` (row builders,
//! column lists and the upsert macros).

use crate::db::{ReadDb, ReadError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::{EventLog, RecordedEvent, StreamKind};
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

#[macro_use]
mod sql;
mod fold;
mod generations;
mod rebuild;
mod write;

use fold::*;
use rebuild::*;
use sql::*;
pub(crate) use sql::{placeholders, CASE_COLUMNS, CLAIMANT_COLUMNS};

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
}
