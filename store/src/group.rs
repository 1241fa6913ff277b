//! Group commit on PostgreSQL.
//!
//! The one-statement appends of concurrent commands (one existing stream,
//! head known, no unique keys) are handed to one dispatcher per log, which
//! sends whatever is waiting to the database as ONE statement: one
//! transaction and one WAL flush for the lot. Nothing waits on purpose: a
//! lone command goes at once (from its own task), and commands arriving
//! while earlier groups are in flight form the next group, so groups grow
//! with load only.
//!
//! Each command keeps its own outcome: its head moves only from the version
//! and hash it was decided on, its events and idempotency record go in only
//! if its head moved; a replay (its key already recorded) is answered as
//! such without failing the others. A statement that fails as a whole on
//! something one command caused (a key recorded by a transaction that was
//! still in flight, a deadlock with another node's group) committed
//! nothing, and each of its commands is then run on its own; any other
//! failure is reported to every command of the group.

use crate::log::{is_unavailable, is_unique_violation, violated, StoreError};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};
use uuid::Uuid;

/// Groups in flight at once (each holds one pooled connection).
/// Two keep a small server busy (one group executing while the next one
/// commits) and let groups grow under load; measured on 2 cores: 4 made
/// groups of 4.7 at 32 clients and 0.2x less throughput than 2.
const FLUSHERS: usize = 2;
/// Upper bounds of one group.
const MAX_COMMANDS: usize = 128;
const MAX_EVENTS: usize = 2_000;

/// One event of a pending append, hash chain computed.
pub(crate) struct PendingEvent {
    pub version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: String,
    pub metadata: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// One command's append to one existing stream.
pub(crate) struct Pending {
    pub tenant: String,
    pub stream_id: Uuid,
    pub kind: &'static str,
    /// The head it was decided on.
    pub expected: i64,
    pub expected_hash: [u8; 32],
    /// The head it leaves.
    pub version: i64,
    pub hash: [u8; 32],
    pub at: DateTime<Utc>,
    pub events: Vec<PendingEvent>,
    /// (key, fingerprint, result)
    pub idempotency: Option<(String, String, String)>,
}

/// What became of one command's append.
#[derive(Debug)]
pub(crate) enum Verdict {
    Appended,
    /// The head is no longer what the command was decided on; nothing written.
    HeadMoved,
}

struct Request {
    pending: Pending,
    reply: oneshot::Sender<Result<Verdict, StoreError>>,
}

/// Counters of the group commit, for benchmarks and operators.
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    statements: AtomicU64,
    commands: AtomicU64,
    split: AtomicU64,
}

impl GroupCommitStats {
    /// (statements sent, commands they carried, groups that had to be split
    /// into one statement per command)
    pub fn read(&self) -> (u64, u64, u64) {
        (
            self.statements.load(Ordering::Relaxed),
            self.commands.load(Ordering::Relaxed),
            self.split.load(Ordering::Relaxed),
        )
    }
}

/// The handle appends go through; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    tx: mpsc::UnboundedSender<Request>,
    /// Appends under way through this handle (sent or running).
    busy: Arc<AtomicUsize>,
    pub stats: Arc<GroupCommitStats>,
}

/// Counts an append as under way until dropped.
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl GroupCommit {
    /// Starts the dispatcher on the current tokio runtime; `None` outside one
    /// (appends then go one statement each).
    pub fn start(pool: PgPool) -> Option<Self> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(GroupCommitStats::default());
        runtime.spawn(dispatch(pool, rx, stats.clone()));
        Some(Self {
            tx,
            busy: Arc::new(AtomicUsize::new(0)),
            stats,
        })
    }

    /// Appends with the next group; alone and at once when nothing else is
    /// under way (no hand-over to the dispatcher for a lone writer), or
    /// when the dispatcher is gone (its runtime shut down).
    pub async fn append(&self, pool: &PgPool, pending: Pending) -> Result<Verdict, StoreError> {
        let alone = self.busy.fetch_add(1, Ordering::AcqRel) == 0;
        let _busy = Busy(&self.busy);
        if alone {
            self.stats.statements.fetch_add(1, Ordering::Relaxed);
            self.stats.commands.fetch_add(1, Ordering::Relaxed);
            return one(pool, &pending).await;
        }
        let (reply, answer) = oneshot::channel();
        match self.tx.send(Request { pending, reply }) {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed))),
            Err(mpsc::error::SendError(request)) => one(pool, &request.pending).await,
        }
    }
}

async fn dispatch(
    pool: PgPool,
    mut rx: mpsc::UnboundedReceiver<Request>,
    stats: Arc<GroupCommitStats>,
) {
    let flushers = Arc::new(Semaphore::new(FLUSHERS));
    loop {
        let Ok(permit) = flushers.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut events = first.pending.events.len();
        let mut group = vec![first];
        while group.len() < MAX_COMMANDS && events < MAX_EVENTS {
            match rx.try_recv() {
                Ok(next) => {
                    events += next.pending.events.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let (pool, stats) = (pool.clone(), stats.clone());
        tokio::spawn(async move {
            flush(&pool, group, &stats).await;
            drop(permit);
        });
    }
}

async fn flush(pool: &PgPool, group: Vec<Request>, stats: &GroupCommitStats) {
    stats.statements.fetch_add(1, Ordering::Relaxed);
    stats
        .commands
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    if let [_] = group.as_slice() {
        for request in group {
            let verdict = one(pool, &request.pending).await;
            let _ = request.reply.send(verdict);
        }
        return;
    }
    match many(pool, &group).await {
        Ok(answered) => {
            let mut verdicts: Vec<Result<Verdict, StoreError>> =
                group.iter().map(|_| Ok(Verdict::HeadMoved)).collect();
            for (i, moved) in answered {
                if let Some(verdict) = verdicts.get_mut(i as usize) {
                    *verdict = if moved {
                        Ok(Verdict::Appended)
                    } else {
                        Err(StoreError::IdempotencyKeyTaken)
                    };
                }
            }
            for (request, verdict) in group.into_iter().zip(verdicts) {
                let _ = request.reply.send(verdict);
            }
        }
        Err(e) if aborted_by_one(&e) => {
            // Nothing of the group was committed: each command alone tells
            // whose key was taken.
            stats.split.fetch_add(1, Ordering::Relaxed);
            stats
                .statements
                .fetch_add(group.len() as u64, Ordering::Relaxed);
            for request in group {
                let verdict = one(pool, &request.pending).await;
                let _ = request.reply.send(verdict);
            }
        }
        Err(e) => {
            let unavailable = is_unavailable(&e);
            for request in group {
                let err = if unavailable {
                    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(e.to_string())))
                } else {
                    StoreError::Database(sqlx::Error::Protocol(e.to_string()))
                };
                let _ = request.reply.send(Err(err));
            }
        }
    }
}

/// The group failed as a whole because of one of its commands, and
/// committed nothing.
fn aborted_by_one(e: &sqlx::Error) -> bool {
    is_unique_violation(e)
        || matches!(e, sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("40P01") | Some("40001")))
}

/// The append of one command, as one statement: the head moves only from
/// the version and hash decided on, the events go in only if it moved, and
/// the idempotency record only with them. Committed on its own; a taken
/// idempotency key aborts all of it.
const APPEND_ONE: &str = "\
WITH head AS (
    UPDATE streams SET version = $4, head_hash = $5
    WHERE tenant_id = $1 AND stream_id = $2 AND kind = $3 AND version = $6 AND head_hash = $7
    RETURNING 1
), appended AS (
    INSERT INTO events (tenant_id, stream_id, kind, version, event_id, event_type,
                        schema_version, payload, metadata, recorded_at, prev_hash, hash)
    SELECT $1, $2, $3, e.version, e.event_id, e.event_type, e.schema_version,
           e.payload::json, e.metadata::json, $8, e.prev_hash, e.hash
    FROM unnest($9::bigint[], $10::uuid[], $11::text[], $12::int[], $13::text[], $14::text[],
                $15::bytea[], $16::bytea[])
         AS e(version, event_id, event_type, schema_version, payload, metadata, prev_hash, hash)
    WHERE EXISTS (SELECT 1 FROM head)
    ORDER BY e.version
    RETURNING 1
), remembered AS (
    INSERT INTO idempotency (tenant_id, key, fingerprint, result, created_at)
    SELECT $1, $17, $18, $19::json, $8
    WHERE $17::text IS NOT NULL AND EXISTS (SELECT 1 FROM appended)
    RETURNING 1
)
SELECT (SELECT count(*) FROM appended) AS appended";

/// One field of every event of a command, as an array parameter.
fn column<'p, T>(events: &'p [PendingEvent], field: impl Fn(&'p PendingEvent) -> T) -> Vec<T> {
    events.iter().map(field).collect()
}

/// One command, one statement.
pub(crate) async fn one(pool: &PgPool, p: &Pending) -> Result<Verdict, StoreError> {
    let idem = p.idempotency.as_ref();
    let appended: Result<i64, sqlx::Error> = sqlx::query_scalar(APPEND_ONE)
        .bind(&p.tenant)
        .bind(p.stream_id)
        .bind(p.kind)
        .bind(p.version)
        .bind(&p.hash[..])
        .bind(p.expected)
        .bind(&p.expected_hash[..])
        .bind(p.at)
        .bind(column(&p.events, |e| e.version))
        .bind(column(&p.events, |e| e.event_id))
        .bind(column(&p.events, |e| e.event_type.as_str()))
        .bind(column(&p.events, |e| e.schema_version))
        .bind(column(&p.events, |e| e.payload.as_str()))
        .bind(column(&p.events, |e| e.metadata.as_str()))
        .bind(column(&p.events, |e| &e.prev_hash[..]))
        .bind(column(&p.events, |e| &e.hash[..]))
        .bind(idem.map(|(key, _, _)| key.as_str()))
        .bind(idem.map(|(_, fingerprint, _)| fingerprint.as_str()))
        .bind(idem.map(|(_, _, result)| result.as_str()))
        .fetch_one(pool)
        .await;
    match appended {
        Ok(0) => Ok(Verdict::HeadMoved),
        Ok(_) => Ok(Verdict::Appended),
        Err(e) if is_unique_violation(&e) && violated(&e) == Some("idempotency_pkey") => {
            Err(StoreError::IdempotencyKeyTaken)
        }
        Err(e) => Err(e.into()),
    }
}

/// Several commands, one statement: `omnicase_append_group` (migration
/// 0007) takes the commands in order. Two commands of a group on the same
/// stream: the row moves once, for the first; the other finds its head
/// moved, as it would in a group of its own. (The engine never has two
/// appends of one case in flight, so that is for other callers.) A command
/// whose idempotency key is already recorded (a replay) moves nothing and
/// is answered as taken, without failing the group; a key recorded by a
/// transaction still in flight fails the group, which is then split.
const APPEND_MANY: &str = "SELECT cmd, moved FROM omnicase_append_group(\
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";

/// (index into `group`, head moved) of the commands whose heads moved or
/// whose keys were taken; the others found their heads moved.
async fn many(pool: &PgPool, group: &[Request]) -> Result<Vec<(i32, bool)>, sqlx::Error> {
    let commands = || group.iter().map(|r| &r.pending);
    let events = || {
        commands()
            .enumerate()
            .flat_map(|(i, p)| p.events.iter().map(move |e| (i as i32, e)))
    };
    sqlx::query_as(APPEND_MANY)
        .bind(commands().map(|p| p.tenant.as_str()).collect::<Vec<_>>())
        .bind(commands().map(|p| p.stream_id).collect::<Vec<_>>())
        .bind(commands().map(|p| p.kind).collect::<Vec<_>>())
        .bind(commands().map(|p| p.version).collect::<Vec<_>>())
        .bind(commands().map(|p| &p.hash[..]).collect::<Vec<_>>())
        .bind(commands().map(|p| p.expected).collect::<Vec<_>>())
        .bind(commands().map(|p| &p.expected_hash[..]).collect::<Vec<_>>())
        .bind(commands().map(|p| p.at).collect::<Vec<_>>())
        .bind(
            commands()
                .map(|p| p.idempotency.as_ref().map(|(k, _, _)| k.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(
            commands()
                .map(|p| p.idempotency.as_ref().map(|(_, f, _)| f.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(
            commands()
                .map(|p| p.idempotency.as_ref().map(|(_, _, r)| r.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(events().map(|(i, _)| i).collect::<Vec<_>>())
        .bind(events().map(|(_, e)| e.version).collect::<Vec<_>>())
        .bind(events().map(|(_, e)| e.event_id).collect::<Vec<_>>())
        .bind(
            events()
                .map(|(_, e)| e.event_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events().map(|(_, e)| e.schema_version).collect::<Vec<_>>())
        .bind(
            events()
                .map(|(_, e)| e.payload.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events()
                .map(|(_, e)| e.metadata.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events().map(|(_, e)| &e.prev_hash[..]).collect::<Vec<_>>())
        .bind(events().map(|(_, e)| &e.hash[..]).collect::<Vec<_>>())
        .fetch_all(pool)
        .await
}
