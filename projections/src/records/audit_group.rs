//! Group commit of audit records across concurrent requests.
//!
//! Every staff read writes its audit record before the answer leaves (fail
//! closed). Written one by one, concurrent reads would each pay a
//! transaction and a WAL flush. Here a request's records join a queue; the
//! request that finds no write under way writes everything queued, in one
//! statement per 200 rows, and tells each waiting request the outcome. A
//! lone read writes at once; reads that arrive while a write is under way
//! go together in the next one. Nobody is answered before their records
//! are durable, and a failed write fails every read in it.

use crate::db::{ReadDb, ReadError};
use crate::records::audit::AuditRecord;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Outcome = Result<(), Arc<ReadError>>;

#[derive(Default)]
pub(crate) struct AuditGroup {
    waiting: Mutex<Vec<(Vec<AuditRecord>, oneshot::Sender<Outcome>)>>,
    /// Held while a group is written (by the task writing it).
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for AuditGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditGroup").finish_non_exhaustive()
    }
}

impl AuditGroup {
    /// Records `records` (with whatever else is waiting); returns once they
    /// are durable, or with the write's error.
    pub(crate) async fn record(
        &self,
        read: &ReadDb,
        records: Vec<AuditRecord>,
    ) -> Result<(), ReadError> {
        let (tx, mut rx) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.push((records, tx));
        }
        let writer = self.writer.clone().lock_owned().await;
        // The previous writer may have taken ours along.
        if let Ok(outcome) = rx.try_recv() {
            return outcome.map_err(ReadError::Shared);
        }
        let group = match self.waiting.lock() {
            Ok(mut waiting) => std::mem::take(&mut *waiting),
            Err(_) => Vec::new(),
        };
        // Written by a task of its own: a request that goes away (its
        // client hung up) does not take the others' write with it.
        let read = read.clone();
        tokio::spawn(async move {
            let all: Vec<AuditRecord> = group.iter().flat_map(|(r, _)| r.iter().cloned()).collect();
            let outcome = read.write_audits(&all).await.map_err(Arc::new);
            for (_, waiter) in group {
                let _ = waiter.send(outcome.clone());
            }
            drop(writer);
        });
        match rx.await {
            Ok(outcome) => outcome.map_err(ReadError::Shared),
            // Not in the group taken (a poisoned queue): nothing was written.
            Err(_) => Err(ReadError::AuditNotWritten),
        }
    }
}
