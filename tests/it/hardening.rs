//! Regression tests for defects found in review.

use crate::api::seed;
use app::auth::Role;
use serde_json::{json, Value};
use tests::*;

fn counter_claim(external_id: &str, file_number: &str) -> String {
    json!({
        "schemaVersion": 1, "channel": "IN_PERSON", "externalId": external_id,
        "receivedAt": "2026-11-05T09:00:00Z", "submittedBy": {"kind": "STAFF", "actor": "clerk-1"},
        "claimant": {"fileNumber": file_number, "givenName": "Maria", "familyName": "Okoye", "birthDate": "1971-03-09", "postcode": "30301"},
        "kind": "NEW_CLAIM", "benefitType": "PENSION", "contentions": ["Pension"],
        "documents": [{"documentId": format!("{external_id}-d"), "documentType": "CLAIM_FORM", "pageCount": 2,
            "checksum": "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "storageRef": "s3://counter/f.pdf"}]
    })
    .to_string()
}

/// A counter claim for a person not yet registered registers them and
/// files the claim (the registration must not answer for the claim).
async fn counter_claim_for_a_new_person_opens_a_case(backend: Backend) {
    let w = api_world(backend).await;
    let clerk = w.token("alpha", "clerk-1", &[Role::Caseworker], None, false);
    let (status, r) = w
        .post(
            "/intake/submissions",
            &clerk,
            counter_claim("desk-1", "555000111"),
        )
        .await;
    assert_eq!(
        (status, r["outcome"].as_str(), r["replayed"].as_bool()),
        (200, Some("CREATED"), Some(false)),
        "{r}"
    );
    w.settle().await;
    let claim = w
        .gql(
            Some(&clerk),
            "query($id: ID!) { claim(id: $id) { status documents { documentType } } }",
            json!({"id": r["caseId"]}),
        )
        .await;
    assert_eq!(claim["data"]["claim"]["status"], "RECEIVED", "{claim}");
    assert_eq!(
        claim["data"]["claim"]["documents"].as_array().map(Vec::len),
        Some(1)
    );
    let (_, again) = w
        .post(
            "/intake/submissions",
            &clerk,
            counter_claim("desk-1", "555000111"),
        )
        .await;
    assert_eq!(
        (again["caseId"].clone(), again["replayed"].as_bool()),
        (r["caseId"].clone(), Some(true))
    );
}
both!(counter_claim_for_a_new_person_opens_a_case);

/// Integrators: mail-scan only when configured as scanners; they get no
/// claim data back from GraphQL; citizens cannot back-date receipt.
async fn integrators_and_citizens_stay_in_their_lanes(backend: Backend) {
    let w = api_world_with(backend, |s| {
        s.tenants.get_mut("alpha").unwrap().channels.insert(
            "PARTNER_API".into(),
            services::config::RawChannel {
                kinds: vec!["NEW_CLAIM".into()],
                principals: vec!["partner-api".into()],
            },
        );
    })
    .await;
    let s = seed(&w, "alpha", "123456789").await;
    let partner = w.token("alpha", "partner-api", &[Role::Integrator], None, false);
    let batch = json!({"schemaVersion": 1, "batchId": "p-1", "documents": [{
        "documentId": "p1", "receivedAt": "2026-10-01T00:00:00Z", "scannedAt": "2026-11-06T08:00:00Z",
        "documentType": "EVIDENCE", "pageCount": 1, "checksum": "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
        "storageRef": "s3://x", "kind": "WITHDRAWAL", "ocr": {"fileNumber": "123456789"}}]});
    let (_, r) = w
        .post("/intake/mail-batches", &partner, batch.to_string())
        .await;
    assert_eq!(r["documents"][0]["errorCode"], "CHANNEL_NOT_ALLOWED", "{r}");
    let r = w
        .gql(
            Some(&partner),
            "mutation($p: ID!) { submitClaim(idempotencyKey: \"k\", input: { claimantId: $p, channel: \"PARTNER_API\", benefitType: \"COMPENSATION\", contentions: [\"x\"] }) { caseId claim { status } } }",
            json!({"p": s.claimant}),
        )
        .await;
    assert!(r["data"]["submitClaim"]["caseId"].is_string(), "{r}");
    assert_eq!(
        r["data"]["submitClaim"]["claim"],
        Value::Null,
        "integrators read no claim data: {r}"
    );
    // A citizen's receivedAt is the server's clock: no back-dating.
    let before = w
        .gql(
            Some(&s.citizen),
            "query($id: ID!) { claim(id: $id) { claimDate } }",
            json!({"id": s.case_id}),
        )
        .await;
    let r = w
        .gql(
            Some(&s.citizen),
            "mutation { submitClaim(idempotencyKey: \"again\", input: { benefitType: \"COMPENSATION\", contentions: [\"x\"], receivedAt: \"2015-01-01T00:00:00Z\" }) { claim { claimDate } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["submitClaim"]["claim"]["claimDate"], before["data"]["claim"]["claimDate"],
        "{r}"
    );
}
both!(integrators_and_citizens_stay_in_their_lanes);

/// Work queues hide restricted claimants from staff without SENSITIVE;
/// citizens' timelines never show internal moves or their reasons.
async fn queues_and_timelines_keep_internal_things_internal(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let phase = "mutation($c: ID!, $p: Phase!, $r: String, $k: String!) { changePhase(caseId: $c, phase: $p, reason: $r, idempotencyKey: $k) { version } }";
    w.gql(
        Some(&cw),
        phase,
        json!({"c": s.case_id, "p": "REVIEW_OF_EVIDENCE", "k": "1"}),
    )
    .await;
    w.gql(Some(&cw), phase, json!({"c": s.case_id, "p": "GATHERING_OF_EVIDENCE", "r": "referred for fraud review", "k": "2"})).await;
    w.settle().await;
    let timeline = w
        .gql(
            Some(&s.citizen),
            "query($id: ID!) { caseTimeline(caseId: $id) { edges { node { line } } } }",
            json!({"id": s.case_id}),
        )
        .await;
    let text = timeline.to_string();
    assert!(
        !text.contains("fraud") && !text.contains("Moved back"),
        "{text}"
    );
    assert!(
        text.contains("Your claim is now at: evidence gathering"),
        "{text}"
    );

    let sup = w.token("alpha", "sup-1", &[Role::Supervisor], None, false);
    w.gql(Some(&sup), "mutation($p: ID!) { setRestriction(claimantId: $p, restriction: PROTECTED_ADDRESS, idempotencyKey: \"r\") { outcome } }", json!({"p": s.claimant})).await;
    w.settle().await;
    let queue = |token: String| {
        let w = &w;
        async move {
            let r = w
                .gql(
                    Some(&token),
                    "{ workQueue(queue: UNASSIGNED) { edges { node { caseId } } } }",
                    json!({}),
                )
                .await;
            r["data"]["workQueue"]["edges"]
                .as_array()
                .map(Vec::len)
                .unwrap_or_else(|| panic!("{r}"))
        }
    };
    assert_eq!(
        queue(cw.clone()).await,
        0,
        "restricted: hidden without SENSITIVE"
    );
    assert_eq!(
        queue(w.token("alpha", "cw-2", &[Role::Caseworker], None, true)).await,
        1
    );
}
both!(queues_and_timelines_keep_internal_things_internal);

/// Outside development (the default), `omnicase serve` refuses the public
/// development secret before it opens anything; `--dev` allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_the_development_secret() {
    use clap::Parser;
    let t = fresh_log(Backend::Sqlite).await;
    let cli = services::cli::Cli::try_parse_from([
        "omnicase",
        "--database-url",
        &t.url,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])
    .unwrap();
    let refused = cli.run().await;
    assert!(
        matches!(&refused, Err(e) if e.code().as_str() == "BAD_CONFIGURATION"),
        "{refused:?}"
    );
    let mut settings = services::config::Settings::load(None, Some(&t.url)).unwrap();
    assert!(!settings.dev, "development mode is off by default");
    assert!(settings.check_serving().is_err());
    settings.dev = true;
    assert!(settings.check_serving().is_ok());
    settings.dev = false;
    settings.auth.hs256_secret = Some("a-real-secret-that-is-long-enough-0123456789".into());
    assert!(settings.check_serving().is_ok());
}
