//! The `omnicase` command line, run in-process against both stores.

use clap::Parser;
use services::cli::Cli;
use std::process::ExitCode;
use tests::*;

/// `omnicase --database-url URL --tenant demo ARGS…`, its error kept.
async fn run(url: &str, args: &[&str]) -> Result<ExitCode, services::cli::CliError> {
    let mut argv = vec!["omnicase", "--database-url", url, "--tenant", "demo"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().run().await
}

async fn omnicase(url: &str, args: &[&str]) -> ExitCode {
    run(url, args).await.unwrap()
}

fn fixtures() -> String {
    format!("{}/../fixtures/claims", env!("CARGO_MANIFEST_DIR"))
}

/// migrate, demo (file every fixture, twice: nothing is added the second
/// time), and verify; then verify reports tampering with exit code 1.
async fn cli_migrate_demo_verify(backend: Backend) {
    let t = fresh_log(backend).await;
    assert_eq!(omnicase(&t.url, &["migrate"]).await, ExitCode::SUCCESS);
    assert_eq!(
        omnicase(&t.url, &["seed", &fixtures()]).await,
        ExitCode::SUCCESS
    );
    let after_first = t.all_events().await.len();
    assert_eq!(
        omnicase(&t.url, &["seed", &fixtures()]).await,
        ExitCode::SUCCESS
    );
    let after_second = t.all_events().await.len();
    assert_eq!(
        after_first, after_second,
        "re-filing the same submissions appends nothing"
    );
    // Two claimants, two cases; the mail submission joined Alex's web claim.
    let streams: std::collections::HashSet<_> =
        t.all_events().await.iter().map(|e| e.stream_id).collect();
    assert_eq!(streams.len(), 4);
    assert_eq!(omnicase(&t.url, &["verify"]).await, ExitCode::SUCCESS);
    let sql = "UPDATE events SET metadata = '{\"actor\":\"mallory\"}' WHERE event_type = 'ClaimSubmitted'";
    tamper(&t, sql).await;
    assert_eq!(omnicase(&t.url, &["verify"]).await, ExitCode::from(1));
}
both!(cli_migrate_demo_verify);

/// `omnicase submit` files through the intake, as the operator: the
/// contract's refusals are the channels' refusals (a document the schema
/// refuses fails with its code and appends nothing), and a
/// representative's counter claim is filed as the counter recorded it,
/// registering the person and keeping the representative as submitter.
async fn cli_submit_files_through_the_intake(backend: Backend) {
    let t = fresh_log(backend).await;
    assert_eq!(omnicase(&t.url, &["migrate"]).await, ExitCode::SUCCESS);
    let counter = format!("{}/03-counter-sam.json", fixtures());
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&counter).unwrap()).unwrap();
    doc["claimant"]["nickname"] = "Sammy".into();
    let refused =
        std::env::temp_dir().join(format!("omnicase-refused-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&refused, serde_json::to_vec(&doc).unwrap()).unwrap();
    let outcome = run(&t.url, &["submit", refused.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&refused);
    assert_eq!(
        outcome.err().map(|e| e.code()),
        Some(domain::ErrorCode::SchemaViolation),
        "an unknown field is refused by the contract, as on every channel"
    );
    assert!(t.all_events().await.is_empty(), "a refusal appends nothing");

    assert_eq!(
        omnicase(&t.url, &["submit", &counter]).await,
        ExitCode::SUCCESS
    );
    let events = t.all_events().await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(types.contains(&"ClaimantRegistered"), "{types:?}");
    let submitted = events
        .iter()
        .find(|e| e.event_type == "ClaimSubmitted")
        .expect("the claim is filed");
    let payload: serde_json::Value = serde_json::from_str(&submitted.payload).unwrap();
    assert_eq!(
        payload["entry"]["submittedBy"],
        serde_json::json!({"kind": "REPRESENTATIVE", "actor": "rep-0451"}),
        "{payload}"
    );
    assert_eq!(
        omnicase(&t.url, &["submit", &counter]).await,
        ExitCode::SUCCESS
    );
    assert_eq!(
        t.all_events().await.len(),
        events.len(),
        "filing it again appends nothing"
    );
}
both!(cli_submit_files_through_the_intake);

/// `omnicase rebuild` replays the log into a new generation of read models
/// and switches to it, the same rows as before. On PostgreSQL, while
/// another rebuild holds the database's rebuild lock, it is refused with
/// `REBUILD_IN_PROGRESS` before it changes anything.
async fn cli_rebuild(backend: Backend) {
    let t = fresh_log(backend).await;
    assert_eq!(
        omnicase(&t.url, &["seed", &fixtures()]).await,
        ExitCode::SUCCESS
    );
    let generation = || async {
        let sql = "SELECT generation FROM rm_meta";
        match &t.raw {
            Raw::Postgres(pg) => sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(pg.pool())
                .await
                .unwrap(),
            Raw::Sqlite(lite) => sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(lite.writer())
                .await
                .unwrap(),
        }
    };
    // Everything seeded in the read models first (seed does not wait).
    projections::Projector::new(projections::ReadDb::new(t.database()), t.log.clone())
        .settle(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let before = crate::readmodels::snapshot(&t).await;
    assert!(!before.is_empty());
    let first = generation().await;
    assert_eq!(omnicase(&t.url, &["rebuild"]).await, ExitCode::SUCCESS);
    assert_eq!(generation().await, first + 1);
    assert_eq!(crate::readmodels::snapshot(&t).await, before);

    let Raw::Postgres(pg) = &t.raw else { return };
    let mut holder = pg.pool().acquire().await.unwrap().detach();
    let key = "SELECT pg_advisory_lock(hashtextextended('omnicase.rebuild', 0))";
    sqlx::query(key).execute(&mut holder).await.unwrap();
    let refused = run(&t.url, &["rebuild"]).await;
    match refused {
        Err(e) => assert_eq!(e.code().as_str(), "REBUILD_IN_PROGRESS", "{e}"),
        Ok(code) => panic!("a second rebuild ran: {code:?}"),
    }
    assert_eq!(
        generation().await,
        first + 1,
        "the refused rebuild changed nothing"
    );
    assert_eq!(crate::readmodels::snapshot(&t).await, before);
    sqlx::query("SELECT pg_advisory_unlock(hashtextextended('omnicase.rebuild', 0))")
        .execute(&mut holder)
        .await
        .unwrap();
    assert_eq!(omnicase(&t.url, &["rebuild"]).await, ExitCode::SUCCESS);
    assert_eq!(generation().await, first + 2);
}
both!(cli_rebuild);

/// `omnicase ingest` files a manifest; re-running it files nothing twice;
/// rejected documents make the exit code 3.
async fn cli_ingest_is_idempotent(backend: Backend) {
    let t = fresh_log(backend).await;
    assert_eq!(
        omnicase(&t.url, &["seed", &fixtures()]).await,
        ExitCode::SUCCESS
    );
    let dir = std::env::temp_dir().join(format!("omnicase-ingest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("batch.json");
    let sha = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    let doc = |id: &str, pages: u32| {
        serde_json::json!({
            "documentId": id, "receivedAt": "2026-11-04T00:00:00Z", "scannedAt": "2026-11-06T08:00:00Z",
            "documentType": "EVIDENCE", "pageCount": pages, "checksum": sha, "storageRef": format!("s3://x/{id}"),
            "ocr": {"fileNumber": "123456789"}
        })
    };
    std::fs::write(&manifest, serde_json::json!({"schemaVersion": 1, "batchId": "cli-1", "documents": [doc("c1", 2), doc("c2", 3)]}).to_string()).unwrap();
    let path = manifest.to_string_lossy().to_string();
    assert_eq!(
        omnicase(&t.url, &["ingest", &path]).await,
        ExitCode::SUCCESS
    );
    let after_first = t.all_events().await.len();
    assert_eq!(
        omnicase(&t.url, &["ingest", &path]).await,
        ExitCode::SUCCESS
    );
    assert_eq!(t.all_events().await.len(), after_first);
    std::fs::write(
        &manifest,
        serde_json::json!({"schemaVersion": 1, "batchId": "cli-2", "documents": [doc("c3", 0)]})
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        omnicase(&t.url, &["ingest", &path]).await,
        ExitCode::from(3)
    );
}
both!(cli_ingest_is_idempotent);
