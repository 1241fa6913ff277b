//! Group commit on PostgreSQL: concurrent appends go to the database in one
//! statement, and each keeps its own outcome (appended, head moved, key
//! taken) as if it had gone alone.
//!
//! These tests run on a current-thread runtime: every append of a burst is
//! queued before the dispatcher runs, so the grouping is deterministic.

use chrono::{Duration, TimeZone, Utc};
use futures_util::future::join_all;
use std::collections::HashMap;
use store::{AppendBatch, EventLog, IdempotencyRecord, PgLog, StoreError, StreamKind, StreamWrite};
use tests::*;
use uuid::Uuid;

/// `events` events on `stream` at `expected`, recorded at a time of its
/// own (the hash covers it), with an idempotency key when given.
fn batch(stream: Uuid, expected: u64, events: usize, key: Option<&str>, n: usize) -> AppendBatch {
    AppendBatch {
        streams: vec![StreamWrite {
            stream_id: stream,
            kind: StreamKind::Case,
            expected_version: expected,
            events: (0..events).map(|e| event(n * 10 + e)).collect(),
        }],
        idempotency: key.map(|k| IdempotencyRecord {
            key: k.into(),
            fingerprint: format!("fp-{k}"),
            result: format!("{{\"n\":{n}}}"),
        }),
        recorded_at: Some(
            Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + Duration::milliseconds(n as i64),
        ),
        ..Default::default()
    }
}

/// `n` case streams of one event each (their heads known to the log).
async fn streams(t: &TestLog, n: usize) -> Vec<Uuid> {
    let streams: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    for (n, s) in streams.iter().enumerate() {
        let first = batch(*s, 0, 1, None, n);
        t.log.append(&tenant("alpha"), &first).await.unwrap();
    }
    streams
}

async fn pg() -> (TestLog, PgLog) {
    let t = fresh_log(Backend::Postgres).await;
    let Raw::Postgres(pg) = &t.raw else {
        unreachable!("asked for PostgreSQL")
    };
    let pg = pg.clone();
    (t, pg)
}

/// 40 streams written at once (one event, or three), plus a second command
/// decided on the same head as one of them: the first goes at once (nothing
/// else under way), one statement carries the other 40; 40 land, the late
/// one is told the stream moved; versions are gapless, the chains verify,
/// and every key is recorded once.
#[tokio::test]
async fn a_burst_goes_in_one_statement_and_each_command_keeps_its_outcome() {
    let (t, pg) = pg().await;
    let alpha = tenant("alpha");
    let streams = streams(&t, 40).await;
    let (statements_before, commands_before, _) = pg.group_commit_stats();

    let mut burst: Vec<AppendBatch> = streams
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let events = if n % 4 == 0 { 3 } else { 1 };
            batch(*s, 1, events, Some(&format!("key-{n}")), 100 + n)
        })
        .collect();
    burst.push(batch(streams[7], 1, 1, Some("late"), 999));
    let results = join_all(burst.iter().map(|b| t.log.append(&alpha, b))).await;

    let (statements, commands, split) = pg.group_commit_stats();
    assert_eq!(
        statements - statements_before,
        2,
        "the first alone, then the rest"
    );
    assert_eq!(commands - commands_before, 41);
    assert_eq!(split, 0);
    for (n, r) in results.iter().take(40).enumerate() {
        let events = if n % 4 == 0 { 3 } else { 1 };
        if n != 7 {
            assert_eq!(r.as_ref().unwrap().versions, vec![(streams[n], 1 + events)]);
        }
    }
    // Two commands decided on the same head of stream 7: one moved it.
    let (won, lost) = match (&results[7], &results[40]) {
        (Ok(_), lost) => (7, lost),
        (lost, Ok(_)) => (40, lost),
        other => panic!("neither landed: {other:?}"),
    };
    assert!(
        matches!(
            lost,
            Err(StoreError::VersionConflict {
                expected: 1,
                current: 2,
                ..
            })
        ),
        "{lost:?}"
    );

    for (n, s) in streams.iter().enumerate() {
        let versions: Vec<u64> = t
            .log
            .read_stream(&alpha, *s, 0)
            .await
            .unwrap()
            .iter()
            .map(|e| e.version)
            .collect();
        let events = if n % 4 == 0 { 3 } else { 1 };
        assert_eq!(versions, (1..=1 + events as u64).collect::<Vec<_>>());
        let (key, result) = match (n, won) {
            (7, 40) => ("late".to_owned(), 999),
            _ => (format!("key-{n}"), 100 + n),
        };
        let record = t.log.idempotency_record(&alpha, &key).await.unwrap();
        assert_eq!(record.unwrap().result, format!("{{\"n\":{result}}}"));
    }
    let loser_key = if won == 7 { "late" } else { "key-7" };
    assert_eq!(
        t.log.idempotency_record(&alpha, loser_key).await.unwrap(),
        None
    );
    let report = t.log.verify().await.unwrap();
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.events, 40 + 40 + 10 * 2);

    // The grouped 40 are one transaction in the feed, in command then
    // version order.
    let feed = t.all_events().await;
    let grouped: Vec<_> = feed
        .iter()
        .filter(|e| e.version > 1 && e.stream_id != streams[0])
        .collect();
    assert_eq!(grouped.len(), 39 + 9 * 2);
    assert!(grouped.windows(2).all(|w| w[0].tx == w[1].tx));
    let mut last: HashMap<Uuid, u64> = HashMap::new();
    for e in grouped {
        let previous = last.insert(e.stream_id, e.version).unwrap_or(1);
        assert_eq!(e.version, previous + 1, "versions in order within the feed");
    }
}

/// A burst in which one command replays a key already recorded: that
/// command is answered as a replay (key taken) and writes nothing, without
/// failing the others, which land exactly once in one statement.
#[tokio::test]
async fn a_replayed_key_in_a_burst_refuses_that_command_only() {
    let (t, pg) = pg().await;
    let alpha = tenant("alpha");
    let streams = streams(&t, 10).await;
    t.log
        .append(&alpha, &batch(streams[0], 1, 1, Some("reused"), 50))
        .await
        .unwrap();
    let (statements_before, _, _) = pg.group_commit_stats();

    let results = burst(t.log.as_ref(), &streams, "reused").await;

    let (statements, _, split) = pg.group_commit_stats();
    assert_eq!(
        statements - statements_before,
        2,
        "the first alone, then the rest"
    );
    assert_eq!(split, 0, "a replay does not fail its group");
    check_burst(&t, &streams, &results, ("reused", "{\"n\":50}"), 1).await;
}

/// A burst in which one command uses a key that another transaction has
/// recorded but not yet committed: the group's statement waits for it, then
/// fails as a whole on the key, having committed nothing; each command is
/// then run on its own: that one is refused, every other lands exactly once.
#[tokio::test]
async fn a_key_racing_an_open_transaction_splits_the_group() {
    let (t, pg) = pg().await;
    let streams = streams(&t, 10).await;
    let mut racing = pg.pool().begin().await.unwrap();
    sqlx::query(
        "INSERT INTO idempotency (tenant_id, key, fingerprint, result, created_at) \
         VALUES ('alpha', 'racing', 'other', '{\"other\":true}', now())",
    )
    .execute(&mut *racing)
    .await
    .unwrap();

    let burst = {
        let (log, streams) = (t.log.clone(), streams.clone());
        tokio::spawn(async move { burst(log.as_ref(), &streams, "racing").await })
    };
    // Let the group's statement reach the key and wait on it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    racing.commit().await.unwrap();
    let results = burst.await.unwrap();

    let (_, _, split) = pg.group_commit_stats();
    assert_eq!(split, 1, "the group was split once");
    check_burst(&t, &streams, &results, ("racing", "{\"other\":true}"), 0).await;
}

/// Appends two events to streams 1..10 at version 1; stream 5's command
/// uses `key5`, the others fresh keys.
async fn burst(
    log: &dyn EventLog,
    streams: &[Uuid],
    key5: &str,
) -> Vec<Result<store::AppendOutcome, StoreError>> {
    let batches: Vec<AppendBatch> = streams
        .iter()
        .enumerate()
        .skip(1)
        .map(|(n, s)| {
            let key = if n == 5 {
                key5.to_owned()
            } else {
                format!("fresh-{n}")
            };
            batch(*s, 1, 2, Some(&key), 100 + n)
        })
        .collect();
    let alpha = tenant("alpha");
    join_all(batches.iter().map(|b| log.append(&alpha, b))).await
}

/// Stream 5's command was refused and wrote nothing, the key's first
/// record stands; every other command landed once; the chains verify.
/// `earlier`: events appended before the burst besides the first ones.
async fn check_burst(
    t: &TestLog,
    streams: &[Uuid],
    results: &[Result<store::AppendOutcome, StoreError>],
    (key5, record5): (&str, &str),
    earlier: i64,
) {
    let alpha = tenant("alpha");
    for (i, r) in results.iter().enumerate() {
        let n = i + 1;
        if n == 5 {
            assert!(matches!(r, Err(StoreError::IdempotencyKeyTaken)), "{r:?}");
        } else {
            assert_eq!(r.as_ref().unwrap().versions, vec![(streams[n], 3)]);
        }
    }
    let versions: Vec<u64> = t
        .log
        .read_stream(&alpha, streams[5], 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, vec![1], "the refused command wrote nothing");
    let record = t.log.idempotency_record(&alpha, key5).await.unwrap();
    assert_eq!(record.unwrap().result, record5, "the first record stands");
    let report = t.log.verify().await.unwrap();
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.events, t.event_count().await as u64);
    assert_eq!(t.event_count().await, 10 + earlier + 8 * 2);
}
