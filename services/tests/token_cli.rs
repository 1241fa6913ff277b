//! `omnicase token` mints every claim the API reads, `office` included, and
//! refuses values the API would refuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::auth::{Authenticator, Role};
use services::config::Settings;
use std::process::Command;

fn token(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_omnicase"))
        .args(["--database-url", db, "--tenant", "demo", "token"])
        .args(args)
        .env("OMNICASE_LOG", "error")
        .output()
        .unwrap()
}

#[test]
fn the_token_command_mints_the_office_claim() {
    let dir = std::env::temp_dir().join(format!("omnicase-token-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("omnicase.db").display());
    let out = token(
        &db,
        &[
            "--role",
            "caseworker",
            "--subject",
            "clerk-3",
            "--office",
            "east-01",
            "--sensitive",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap();
    // The API's own authenticator, from the same (default) configuration.
    let settings = Settings::load(None, Some(&db)).unwrap();
    let principal = Authenticator::new(settings.auth().unwrap())
        .unwrap()
        .authenticate(minted.trim())
        .unwrap();
    assert_eq!(principal.office.as_deref(), Some("east-01"));
    assert_eq!(principal.subject.as_str(), "clerk-3");
    assert!(principal.roles.contains(&Role::Caseworker));
    assert!(principal.sensitive);

    // Without --office there is no office claim.
    let out = token(&db, &["--role", "agent"]);
    let plain = String::from_utf8(out.stdout).unwrap();
    let principal = Authenticator::new(settings.auth().unwrap())
        .unwrap()
        .authenticate(plain.trim())
        .unwrap();
    assert_eq!(principal.office, None);

    // An office the API would refuse is refused here, with a code.
    for bad in ["   ", "east\u{202e}10", &"x".repeat(65)] {
        let out = token(&db, &["--role", "caseworker", "--office", bad]);
        assert!(!out.status.success(), "{bad:?} minted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("office"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
