//! Projections: restarts, re-delivery and rebuilds yield the same read models.

use domain::case::{ContactKind, NewContact};
use domain::*;
use projections::{Projector, ReadDb};
use sqlx::Row;
use tests::*;

/// Every read-model row of the active generation, as comparable text.
pub(crate) async fn snapshot(t: &TestLog) -> Vec<(String, i64, String)> {
    // The document and every column kept beside it (queues and look-ups
    // read those): a rebuild's bulk write must fill them as a live batch does.
    let sql = "SELECT tenant_id, version, view || '|' || status || '|' || phase || '|' || coalesce(assignee, '') \
               || '|' || coalesce(team, '') || '|' || CAST(phase_entered_at AS TEXT) || '|' \
               || CAST(awaiting_approval AS TEXT) || '|' || coalesce(proposer, '') || '|' \
               || CAST(overdue_count AS TEXT) || '|' || CAST(closed AS TEXT) || '|' || CAST(claim_date AS TEXT) \
               || '|' || CAST(updated_at AS TEXT) || '|' || coalesce(CAST(next_due AS TEXT), '') \
               FROM rm_cases WHERE generation = (SELECT generation FROM rm_meta) \
               UNION ALL SELECT tenant_id, version, view || '|' || file_number_hash || '|' || coalesce(match_key, '') \
               FROM rm_claimants WHERE generation = (SELECT generation FROM rm_meta) \
               ORDER BY 3";
    let rows: Vec<(String, i64, String)> = match &t.raw {
        Raw::Postgres(pg) => sqlx::query(sql)
            .fetch_all(pg.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
        Raw::Sqlite(l) => sqlx::query(sql)
            .fetch_all(l.writer())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
    };
    rows
}

pub(crate) async fn busy_history(w: &World) -> Vec<CaseId> {
    let mut cases = Vec::new();
    for n in 0..6u32 {
        let claimant = w.claimant("alpha", &format!("1234567{n:02}")).await;
        let r = w
            .engine
            .submit_claim(
                &env("alpha", "c"),
                submission(claimant, Channel::Web, &format!("w{n}"), at(1 + n, 9)),
            )
            .await
            .unwrap();
        let id = CaseId::from_uuid(r.stream_id);
        w.engine
            .submit_claim(
                &env("alpha", "m"),
                submission(claimant, Channel::MailScan, &format!("m{n}"), at(1, 8)),
            )
            .await
            .unwrap();
        for k in 0..5u128 {
            let contact = CaseCommand::RecordContact(NewContact {
                id: ContactId::from_uuid(uuid::Uuid::from_u128(u128::from(n) * 100 + k)),
                kind: ContactKind::Inbound,
                channel: Channel::CallCenter,
                reason: None,
                summary: Text::parse("s", "caller asked about status").unwrap(),
                follow_up: None,
                occurred_at: at(3, 10 + k as u32),
            });
            w.engine
                .execute(&env("alpha", "agent"), id, contact)
                .await
                .unwrap();
        }
        w.advance(id, Phase::GatheringOfEvidence).await;
        cases.push(id);
    }
    cases
}

/// A projector killed after a few batches and restarted (a fresh instance
/// reading its checkpoint) builds the same rows as one uninterrupted run;
/// replaying already-applied events changes nothing.
async fn projector_restart_mid_stream_is_harmless(backend: Backend) {
    let w = world(backend).await;
    busy_history(&w).await;
    let read = ReadDb::new(w.t.database());
    let first = Projector::new(read.clone(), w.t.log.clone());
    let generation = read.generation().await.unwrap();
    // Two batches, then "crash".
    first.step(generation).await.unwrap();
    first.step(generation).await.unwrap();
    drop(first);
    let second = Projector::new(read.clone(), w.t.log.clone());
    second
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let incremental = snapshot(&w.t).await;
    assert!(incremental.len() >= 12, "{}", incremental.len());
    // Re-delivery: rewind the checkpoint and project everything again.
    let rewind = "UPDATE rm_checkpoints SET tx = 0, position = 0";
    match &w.t.raw {
        Raw::Postgres(pg) => sqlx::query(rewind)
            .execute(pg.pool())
            .await
            .map(|_| ())
            .unwrap(),
        Raw::Sqlite(l) => sqlx::query(rewind)
            .execute(l.writer())
            .await
            .map(|_| ())
            .unwrap(),
    }
    second
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        snapshot(&w.t).await,
        incremental,
        "re-delivery changes nothing"
    );

    // Rebuild replays into a fresh generation and switches over.
    let mut progress = Vec::new();
    let new_generation = second
        .rebuild(|done, total| progress.push((done, total)))
        .await
        .unwrap();
    assert_eq!(new_generation, generation + 1);
    assert_eq!(
        snapshot(&w.t).await,
        incremental,
        "rebuilt read models equal the incremental ones"
    );
    assert!(progress.last().is_some_and(|(d, t)| d == t && *t > 0));
    // Tiny batches, a write after every batch: streams are met again after
    // their documents were written and are read back before folding on.
    let smallest = second.rebuild_with(3, 1, |_, _| {}).await.unwrap();
    assert_eq!(smallest, generation + 2);
    assert_eq!(
        snapshot(&w.t).await,
        incremental,
        "a rebuild that writes in small steps equals the incremental read models"
    );
}
both!(projector_restart_mid_stream_is_harmless);

/// Upgrading a PostgreSQL database whose read models predate partitions
/// (migration 0008): the active generation's rows stay and are served from
/// its partition, an unfinished rebuild's rows are removed, and the next
/// rebuild swaps in a partition of its own with the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migration_0008_keeps_the_active_generation() {
    let url =
        empty_postgres_database(&format!("omnicase_t_{}", uuid::Uuid::new_v4().simple())).await;
    let log = store::PgLog::connect(&url).await.unwrap();
    // The schema as it was before 0008.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/postgres");
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(dir))
        .await
        .unwrap();
    let older: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < 8)
        .cloned()
        .collect();
    assert_eq!(older.len(), 7);
    before.migrations = older.into();
    before.run(log.pool()).await.unwrap();
    // Today's projector also writes the columns migration 0010 adds: they
    // are lent for the write and taken away again below, so the table is
    // as migration 0007 left it when the upgrade runs.
    let lent = ["unlinked_since", "late_since"];
    for column in lent {
        sqlx::query(&format!(
            "ALTER TABLE rm_cases ADD COLUMN {column} timestamptz"
        ))
        .execute(log.pool())
        .await
        .unwrap();
    }

    let w = World::over(TestLog {
        log: std::sync::Arc::new(log.clone()),
        raw: Raw::Postgres(log.clone()),
        url,
    });
    busy_history(&w).await;
    let read = ReadDb::new(w.t.database());
    Projector::new(read.clone(), w.t.log.clone())
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let served = snapshot(&w.t).await;
    assert!(served.len() >= 12, "{}", served.len());
    // What a rebuild that stopped half-way left: generation 2 rows.
    for column in lent {
        sqlx::query(&format!("ALTER TABLE rm_cases DROP COLUMN {column}"))
            .execute(log.pool())
            .await
            .unwrap();
    }
    let mut tx = log.pool().begin().await.unwrap();
    for table in ["rm_cases", "rm_claimants"] {
        for sql in [
            format!(
                "CREATE TEMP TABLE stale_{table} AS SELECT * FROM {table} WHERE generation = 1"
            ),
            format!("UPDATE stale_{table} SET generation = 2"),
            format!("INSERT INTO {table} SELECT * FROM stale_{table}"),
        ] {
            sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        }
    }
    tx.commit().await.unwrap();

    store::EventLog::migrate(&log).await.unwrap();
    assert_eq!(snapshot(&w.t).await, served, "the active rows are kept");
    let count = |sql: &'static str| {
        let pool = log.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM rm_cases WHERE generation <> 1").await,
        0,
        "an unfinished rebuild's rows are gone"
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_inherits WHERE inhrelid = 'rm_cases_g1'::regclass").await,
        1,
        "the old table is generation 1's partition"
    );

    let next = Projector::new(read.clone(), w.t.log.clone())
        .rebuild(|_, _| {})
        .await
        .unwrap();
    assert_eq!(next, 2);
    assert_eq!(snapshot(&w.t).await, served);
    assert_eq!(
        count("SELECT count(*) FROM pg_class WHERE relname ~ '^rm_(cases|claimants)_g1$'").await,
        0,
        "generation 1's tables are dropped"
    );
}

/// On PostgreSQL each generation's rows are tables of their own (partitions
/// of `rm_cases` / `rm_claimants`): a rebuild fills new ones, which get
/// every index when attached, and drops the old generation's whole; what a
/// rebuild that stopped half-way left behind is replaced, and the live
/// projector goes on in the new tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_swaps_whole_tables_on_postgres() {
    let w = world(Backend::Postgres).await;
    let cases = busy_history(&w).await;
    let read = ReadDb::new(w.t.database());
    let projector = Projector::new(read.clone(), w.t.log.clone());
    projector
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let incremental = snapshot(&w.t).await;
    let live = read.generation().await.unwrap();
    let Raw::Postgres(pg) = &w.t.raw else {
        unreachable!("a PostgreSQL world")
    };
    // Left by a rebuild that stopped half-way: the next generation's table,
    // holding a stale row.
    for sql in [
        format!(
            "CREATE TABLE rm_cases_g{n} (LIKE rm_cases INCLUDING ALL EXCLUDING INDEXES)",
            n = live + 1
        ),
        format!(
            "INSERT INTO rm_cases_g{n} SELECT * FROM rm_cases WHERE generation = {live} LIMIT 1",
            n = live + 1
        ),
        format!(
            "UPDATE rm_cases_g{n} SET generation = {n}, view = 'stale'",
            n = live + 1
        ),
    ] {
        sqlx::query(&sql).execute(pg.pool()).await.unwrap();
    }

    let next = projector.rebuild(|_, _| {}).await.unwrap();
    assert_eq!(next, live + 1);
    assert_eq!(snapshot(&w.t).await, incremental);
    let tables: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) \
         FROM pg_class c WHERE c.relname ~ '^rm_(cases|claimants)' AND c.relkind IN ('r', 'p') \
         ORDER BY 1",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    assert_eq!(
        tables,
        vec![
            ("rm_cases".to_owned(), 7),
            (format!("rm_cases_g{next}"), 7),
            ("rm_claimants".to_owned(), 3),
            (format!("rm_claimants_g{next}"), 3),
        ],
        "one table per read model and generation, each with every index"
    );

    // The live projector writes into the new generation's tables.
    let contact = CaseCommand::RecordContact(NewContact {
        id: ContactId::from_uuid(uuid::Uuid::from_u128(9_999)),
        kind: ContactKind::Inbound,
        channel: Channel::CallCenter,
        reason: None,
        summary: Text::parse("s", "called after the rebuild").unwrap(),
        follow_up: None,
        occurred_at: at(4, 9),
    });
    let appended = w
        .engine
        .execute(&env("alpha", "agent"), cases[0], contact)
        .await
        .unwrap();
    projector
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let in_new: i64 = sqlx::query_scalar(&format!(
        "SELECT version FROM rm_cases_g{next} WHERE case_id = $1"
    ))
    .bind(cases[0].as_uuid())
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert_eq!(in_new as u64, appended.version);
}

/// Two projector instances racing over one feed write each row once and
/// end where one instance would.
async fn concurrent_projectors_agree(backend: Backend) {
    let w = world(backend).await;
    busy_history(&w).await;
    let read = ReadDb::new(w.t.database());
    let (a, b) = (
        Projector::new(read.clone(), w.t.log.clone()),
        Projector::new(read.clone(), w.t.log.clone()),
    );
    let (ra, rb) = tokio::join!(a.catch_up(), b.catch_up());
    ra.unwrap();
    rb.unwrap();
    a.settle(std::time::Duration::from_secs(30)).await.unwrap();
    let racing = snapshot(&w.t).await;
    second_opinion(&w, read, racing).await;
}
both!(concurrent_projectors_agree);

/// Contacts recorded on every case (`round` keeps their ids apart).
async fn record_contacts(w: &World, cases: &[CaseId], round: u128) {
    for (n, id) in cases.iter().enumerate() {
        let contact = CaseCommand::RecordContact(NewContact {
            id: ContactId::from_uuid(uuid::Uuid::from_u128(round * 10_000 + n as u128)),
            kind: ContactKind::Inbound,
            channel: Channel::CallCenter,
            reason: None,
            summary: Text::parse("s", &format!("caller rang again, round {round}")).unwrap(),
            follow_up: None,
            occurred_at: at(4, 10 + round as u32),
        });
        w.engine
            .execute(&env("alpha", "agent"), *id, contact)
            .await
            .unwrap();
    }
}

/// A projector folds a stream on from the document it wrote last, unless
/// the row has moved on since (another instance, with its own memory, wrote
/// it): then from the row. Two instances take turns over the same cases;
/// each turn leaves the other's kept documents behind the rows.
async fn projectors_taking_turns_fold_on_from_the_rows(backend: Backend) {
    let w = world(backend).await;
    let cases = busy_history(&w).await;
    let (a, b) = (
        Projector::new(ReadDb::new(w.t.database()), w.t.log.clone()),
        Projector::new(ReadDb::new(w.t.database()), w.t.log.clone()),
    );
    a.catch_up().await.unwrap();
    record_contacts(&w, &cases, 1).await;
    b.catch_up().await.unwrap();
    record_contacts(&w, &cases, 2).await;
    a.catch_up().await.unwrap();
    record_contacts(&w, &cases, 3).await;
    a.catch_up().await.unwrap();
    let turns = snapshot(&w.t).await;
    for round in 1..=3 {
        let said = format!("caller rang again, round {round}");
        assert_eq!(
            turns
                .iter()
                .filter(|(_, _, row)| row.contains(&said))
                .count(),
            cases.len(),
            "every case shows round {round}'s contact"
        );
    }
    second_opinion(&w, ReadDb::new(w.t.database()), turns).await;
}
both!(projectors_taking_turns_fold_on_from_the_rows);

async fn second_opinion(w: &World, read: ReadDb, racing: Vec<(String, i64, String)>) {
    let p = Projector::new(read, w.t.log.clone());
    p.rebuild(|_, _| {}).await.unwrap();
    assert_eq!(snapshot(&w.t).await, racing);
}
