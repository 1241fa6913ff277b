//! The `omnicase` command line, run in-process against both stores.

use clap::Parser;
use services::cli::Cli;
use std::process::ExitCode;
use tests::*;

async fn omnicase(url: &str, args: &[&str]) -> ExitCode {
    let mut argv = vec!["omnicase", "--database-url", url, "--tenant", "demo"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().run().await.unwrap()
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
    match &t.raw {
        Raw::Postgres(pg) => {
            let mut tx = pg.pool().begin().await.unwrap();
            sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        Raw::Sqlite(lite) => {
            sqlx::query("DROP TRIGGER events_no_update")
                .execute(lite.writer())
                .await
                .unwrap();
            sqlx::query(sql).execute(lite.writer()).await.unwrap();
        }
    }
    assert_eq!(omnicase(&t.url, &["verify"]).await, ExitCode::from(1));
}
both!(cli_migrate_demo_verify);
