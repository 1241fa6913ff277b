//! `omnicase ingest` killed with SIGKILL half way through a batch, then run
//! again: every document filed exactly once, nothing lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOCS: usize = 1200;

fn omnicase(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnicase"));
    c.args(["--database-url", db, "--tenant", "demo"])
        .env("OMNICASE_LOG", "error");
    c
}

async fn count(pool: &sqlx::SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_killed_mid_batch_resumes_without_loss_or_duplicates() {
    let dir = std::env::temp_dir().join(format!("omnicase-kill-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("omnicase.db").display());
    let fixtures = format!("{}/../fixtures/claims", env!("CARGO_MANIFEST_DIR"));
    let seeded = omnicase(&db)
        .args(["seed", &fixtures])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(seeded.success());

    let documents: Vec<serde_json::Value> = (0..DOCS)
        .map(|i| {
            serde_json::json!({
                "documentId": format!("k-{i:05}"), "receivedAt": "2026-11-04T00:00:00Z",
                "scannedAt": "2026-11-06T08:00:00Z", "documentType": "EVIDENCE", "pageCount": 1,
                "checksum": "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                "storageRef": format!("s3://scans/k-{i:05}.pdf"), "ocr": {"fileNumber": "123456789"}
            })
        })
        .collect();
    let manifest = dir.join("batch.json");
    std::fs::write(
        &manifest,
        serde_json::json!({"schemaVersion": 1, "batchId": "kill-1", "documents": documents})
            .to_string(),
    )
    .unwrap();
    let manifest = manifest.to_string_lossy().to_string();

    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let mut child = omnicase(&db)
        .args(["ingest", &manifest])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = count(
            &pool,
            "SELECT count(*) FROM intake_documents WHERE batch_id = 'kill-1'",
        )
        .await;
        if done >= 100 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = count(
        &pool,
        "SELECT count(*) FROM intake_documents WHERE batch_id = 'kill-1'",
    )
    .await;
    assert!(
        at_kill > 0 && (at_kill as usize) < DOCS,
        "killed half way: {at_kill} of {DOCS} recorded"
    );

    let resumed = omnicase(&db)
        .args(["ingest", &manifest])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(resumed.success(), "the resumed run completes the batch");
    assert_eq!(count(&pool, "SELECT count(*) FROM intake_documents WHERE batch_id = 'kill-1' AND status = 'ATTACHED'").await, DOCS as i64);
    let attached = count(&pool, "SELECT count(*) FROM events WHERE event_type = 'DocumentAttached' AND payload LIKE '%s3://scans/k-%'").await;
    assert_eq!(
        attached, DOCS as i64,
        "every document attached exactly once"
    );
    let verify = omnicase(&db)
        .arg("verify")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(verify.success(), "the log's hash chains are intact");
}
