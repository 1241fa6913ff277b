//! No personal data reaches the logs.

use crate::api::seed;
use app::auth::Role;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tests::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs a whole flow with every log level captured (current-thread runtime,
/// so every task logs into the capture), including failures, then scans the
/// output for the claimant's personal data.
#[tokio::test]
async fn personal_data_never_reaches_the_logs() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    let ctx = "query($p: ID!) { caseContext(claimantId: $p, purpose: \"call\") { claimant { givenName identityNumber } } }";
    w.gql(Some(&agent), "mutation($p: ID!) { recordIdentityVerification(claimantId: $p, method: \"dob\") { verifiedUntil } }", json!({"p": s.claimant})).await;
    w.gql(Some(&agent), ctx, json!({"p": s.claimant})).await;
    // Failures: a duplicate registration and malformed input carrying PII.
    let dup = w
        .gql(
            Some(&agent),
            "mutation { registerClaimant(idempotencyKey: \"again\", input: { fileNumber: \"123456789\", identityNumber: \"123-45-6789\", givenName: \"Alex\", familyName: \"Rivera\", birthDate: \"1980-04-02\", postcode: \"20420\" }) { claimantId } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&dup), Some("CLAIMANT_ALREADY_REGISTERED"));
    w.gql(Some(&agent), "mutation { registerClaimant(idempotencyKey: \"bad\", input: { fileNumber: \"Rivera-123456789\", givenName: \"Alex\", familyName: \"Rivera\", birthDate: \"1980-04-02\", postcode: \"20420\" }) { claimantId } }", json!({})).await;
    w.settle().await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        !text.is_empty(),
        "the flow logs something (request spans at least)"
    );
    for pii in [
        "Rivera",
        "123456789",
        "123-45-6789",
        "123456789",
        "1980-04-02",
        "20420",
    ] {
        assert!(
            !text.contains(pii),
            "found {pii:?} in the logs:\n{}",
            text.lines()
                .filter(|l| l.contains(pii))
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
