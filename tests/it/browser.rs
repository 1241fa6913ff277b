//! The newcomer's first screen in a real browser: Debian's Chromium,
//! headless, with every host but 127.0.0.1 unresolvable, opens GraphiQL
//! from a development server and renders the editor (no CDN involved).

use std::process::Command;
use tests::{api_world, Backend};

/// Chromium's path: `CHROMIUM`, or what `scripts/ensure-chromium.sh`
/// installs (the first time) and prints.
fn chromium() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    let script = format!(
        "{}/../scripts/ensure-chromium.sh",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("scripts/ensure-chromium.sh runs");
    assert!(
        out.status.success(),
        "no Chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The DOM after the page's scripts ran (virtual time: no sleeping).
fn rendered_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("omnicase-chromium-{}", uuid::Uuid::new_v4()));
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            // Offline as an agency network without internet would be.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=30000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_its_editor_offline_in_chromium() {
    let w = api_world(Backend::Sqlite).await;
    let addr = w.serve().await;
    let url = format!("http://{addr}/graphql");
    let dom = tokio::task::spawn_blocking(move || rendered_dom(&url))
        .await
        .unwrap();
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render:\n{dom}"
    );
    // The query editor (CodeMirror) and the run button are on screen.
    assert!(
        dom.contains("graphiql-query-editor"),
        "no query editor:\n{dom}"
    );
    assert!(dom.contains("CodeMirror"), "no editor:\n{dom}");
    assert!(
        dom.contains("graphiql-execute-button"),
        "no run button:\n{dom}"
    );
    assert!(!dom.contains("Loading…"), "still loading:\n{dom}");
}
