//! The global feed: gap-free for readers while writers commit in any order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{AppendBatch, FeedCursor, StreamKind, StreamWrite};
use store::{EventLog, RecordedEvent};
use tests::*;
use uuid::Uuid;

/// The feed may lag behind transactions of other tests on the same server
/// (the visibility horizon is cluster-wide), never skip: wait, bounded.
async fn read_at_least(log: &dyn EventLog, n: usize) -> Vec<RecordedEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = log.read_feed(FeedCursor::default(), 100_000).await.unwrap();
        if all.len() >= n || Instant::now() > deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Eight writers append 40 times each (some to shared streams, so some
/// commits wait on others) while a reader polls the feed. The reader sees
/// every event exactly once, and each stream's events in version order.
async fn feed_reader_misses_nothing_during_concurrent_appends(backend: Backend) {
    let t = fresh_log(backend).await;
    let log = t.log.clone();
    // 0 until the writers are done, then how many events they appended.
    let target = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (log, target) = (log.clone(), target.clone());
        tokio::spawn(async move {
            let mut cursor = FeedCursor::default();
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let want = target.load(Ordering::SeqCst);
                if (want > 0 && seen.len() >= want) || Instant::now() > deadline {
                    return seen;
                }
                let batch = log.read_feed(cursor, 50).await.unwrap();
                if let Some(last) = batch.last() {
                    cursor = last.cursor();
                }
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen.extend(batch);
            }
        })
    };
    let shared: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let log = log.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                let own = Uuid::now_v7();
                let mut own_version = 0;
                let mut appended = 0;
                for n in 0..40 {
                    let stream = if n % 4 == 0 { shared[n % 3] } else { own };
                    loop {
                        let expected = if stream == own {
                            own_version
                        } else {
                            log.read_stream(&tenant("alpha"), stream, 0)
                                .await
                                .unwrap()
                                .len() as u64
                        };
                        let batch = AppendBatch {
                            streams: vec![StreamWrite {
                                stream_id: stream,
                                kind: StreamKind::Case,
                                expected_version: expected,
                                events: vec![event(w * 1000 + n), event(w * 1000 + n)],
                            }],
                            ..Default::default()
                        };
                        match log.append(&tenant("alpha"), &batch).await {
                            Ok(_) => break,
                            Err(store::StoreError::VersionConflict { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    if stream == own {
                        own_version += 2;
                    }
                    appended += 2;
                }
                appended
            })
        })
        .collect();
    let mut total = 0;
    for w in writers {
        total += w.await.unwrap();
    }
    target.store(total, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    assert_eq!(seen.len(), total, "every committed event read");
    let ids: HashSet<Uuid> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), total, "no event read twice");
    let mut last_version: HashMap<Uuid, u64> = HashMap::new();
    for e in &seen {
        let prev = last_version.insert(e.stream_id, e.version).unwrap_or(0);
        assert_eq!(e.version, prev + 1, "stream {} out of order", e.stream_id);
    }
    assert_eq!(read_at_least(log.as_ref(), total).await.len(), total);
}
both!(feed_reader_misses_nothing_during_concurrent_appends);

/// PostgreSQL: a transaction that started writing earlier but commits
/// later is not skipped. The reader holds back everything after it until
/// it commits, then reads it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_committing_transaction_is_not_skipped_on_postgres() {
    let t = fresh_log(Backend::Postgres).await;
    let Raw::Postgres(pg) = &t.raw else {
        unreachable!()
    };
    let mut slow = pg.pool().begin().await.unwrap();
    // Take a transaction id now (as a slow writer does on its first write).
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *slow)
        .await
        .unwrap();

    let fast = AppendBatch {
        streams: vec![StreamWrite {
            stream_id: Uuid::now_v7(),
            kind: StreamKind::Case,
            expected_version: 0,
            events: vec![event(1)],
        }],
        ..Default::default()
    };
    t.log.append(&tenant("alpha"), &fast).await.unwrap();
    let visible = t.log.read_feed(FeedCursor::default(), 10).await.unwrap();
    assert!(
        visible.is_empty(),
        "the fast commit must wait behind the open slow transaction"
    );

    let slow_event = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO events (tenant_id, stream_id, kind, version, event_id, event_type, schema_version, \
         payload, metadata, recorded_at, prev_hash, hash) \
         VALUES ('alpha', $1, 'case', 1, $2, 'ContactRecorded', 1, '{}', '{}', now(), '\\x00', '\\x00')",
    )
    .bind(Uuid::now_v7())
    .bind(slow_event)
    .execute(&mut *slow)
    .await
    .unwrap();
    slow.commit().await.unwrap();

    let read = read_at_least(t.log.as_ref(), 2).await;
    assert_eq!(read.len(), 2);
    assert_eq!(
        read[0].event_id, slow_event,
        "the earlier transaction comes first in feed order"
    );
    assert!(
        read[0].position > read[1].position,
        "it was given a later position, and still is not skipped"
    );
}
