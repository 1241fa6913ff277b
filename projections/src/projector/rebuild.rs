//! The rebuild: the whole log folded into a new generation and switched in
//! (reader, fold and writer at once).

use super::*;
use crate::db::{ReadDb, ReadError};
use crate::view::{CaseView, ClaimantView};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use store::{EventLog, FeedCursor, RecordedEvent, StreamKind};
use tokio::sync::mpsc;
use uuid::Uuid;

impl Projector {
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

    pub(super) async fn rebuild_locked(
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
    pub(super) async fn fold_batch<V: serde::de::DeserializeOwned + Clone>(
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
pub(super) struct Prefetch {
    pub(super) batches: mpsc::Receiver<Result<Vec<RecordedEvent>, store::StoreError>>,
}

impl Prefetch {
    pub(super) fn start(log: Arc<dyn EventLog>, after: FeedCursor, batch: u32) -> Self {
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
    pub(super) async fn next(&mut self) -> Result<Vec<RecordedEvent>, ReadError> {
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
pub(super) struct Writing(Option<tokio::task::JoinHandle<Result<bool, ReadError>>>);

impl Writing {
    pub(super) fn start(
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
    pub(super) async fn finish(&mut self) -> Result<(), ReadError> {
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
pub(super) struct Flush {
    pub(super) cases: Keyed<CaseView>,
    pub(super) claimants: Keyed<ClaimantView>,
    pub(super) cases_again: KeySet,
    pub(super) claimants_again: KeySet,
}

/// Documents to write, with their tenants.
pub(super) type Rows<'a, V> = Vec<(&'a str, &'a V)>;

impl Flush {
    /// (new to the generation, written before) rows of one kind, each in
    /// primary-key order: the server's index inserts then go to
    /// neighbouring pages instead of one page picked at random per row.
    pub(super) fn split<'a, V>(docs: &'a Keyed<V>, again: &KeySet) -> (Rows<'a, V>, Rows<'a, V>) {
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
pub(super) type Keyed<V> = HashMap<(String, Uuid), V, foldhash::fast::RandomState>;
pub(super) type KeySet = HashSet<(String, Uuid), foldhash::fast::RandomState>;

/// Documents a rebuild has folded and not yet written.
#[derive(Default)]
pub(super) struct Folded {
    pub(super) cases: Keyed<CaseView>,
    pub(super) claimants: Keyed<ClaimantView>,
    /// Streams whose documents are already in the new generation.
    pub(super) flushed_cases: KeySet,
    pub(super) flushed_claimants: KeySet,
}

impl Folded {
    /// Hands what is held to a flush, noting which streams it writes. The
    /// maps left behind start at the size these reached (growing moves
    /// every document held, each time).
    pub(super) fn take(&mut self) -> Flush {
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
pub(super) fn written_before<'a>(
    flushed: &mut KeySet,
    keys: impl Iterator<Item = &'a (String, Uuid)>,
) -> KeySet {
    keys.filter(|key| !flushed.insert((*key).clone()))
        .cloned()
        .collect()
}
