//! Channel intake end to end: the contract, registered channels, mail-scan
//! batches and the unidentified-mail queue, representatives, restricted
//! records, call-center look-up, and dedup across all four channels.

use crate::api::seed;
use app::auth::Role;
use serde_json::{json, Value};
use tests::*;

const SHA: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn submission(channel: &str, external_id: &str, kind: &str, extra: Value) -> String {
    let mut doc = json!({
        "schemaVersion": 1,
        "channel": channel,
        "externalId": external_id,
        "receivedAt": "2026-11-05T09:00:00Z",
        "submittedBy": {"kind": "STAFF", "actor": "clerk-1"},
        "claimant": {"fileNumber": "123456789"},
        "kind": kind,
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut doc, extra) {
        d.extend(e);
    }
    doc.to_string()
}

fn doc(id: &str, doc_type: &str, pages: u32, ocr: Value) -> Value {
    json!({
        "documentId": id, "receivedAt": "2026-10-20T00:00:00Z", "scannedAt": "2026-11-06T08:00:00Z",
        "documentType": doc_type, "pageCount": pages, "checksum": SHA, "storageRef": format!("s3://scans/{id}.pdf"),
        "ocr": ocr
    })
}

fn alex_ocr() -> Value {
    json!({"fileNumber": "123456789"})
}

/// A fifth channel registered in configuration files a claim; its rules
/// (kinds, principals) are enforced; nothing in the core knows its name.
async fn a_channel_registered_by_configuration_files_claims(backend: Backend) {
    let w = api_world_with(backend, tests::register_partner_channel).await;
    seed(&w, "alpha", "123456789").await;
    let partner = w.token("alpha", "partner-api", &[Role::Integrator], None, false);
    let body = submission(
        "PARTNER_API",
        "p-1",
        "NEW_CLAIM",
        json!({"benefitType": "PENSION", "contentions": ["Pension"]}),
    );
    let (status, r) = w.post("/intake/submissions", &partner, body.clone()).await;
    assert_eq!(
        (status, r["status"].as_str(), r["outcome"].as_str()),
        (200, Some("FILED"), Some("CREATED")),
        "{r}"
    );
    let (_, again) = w.post("/intake/submissions", &partner, body).await;
    assert_eq!(
        (again["caseId"].clone(), again["replayed"].as_bool()),
        (r["caseId"].clone(), Some(true)),
        "re-sending changes nothing"
    );
    w.settle().await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let claim = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { channelEntries { channel } } }",
            json!({"id": r["caseId"]}),
        )
        .await;
    assert_eq!(
        claim["data"]["claim"]["channelEntries"][0]["channel"], "PARTNER_API",
        "{claim}"
    );

    let evidence = submission(
        "PARTNER_API",
        "p-2",
        "ADDITIONAL_EVIDENCE",
        json!({"documents": [{"documentId": "x", "documentType": "EVIDENCE", "pageCount": 1, "checksum": SHA, "storageRef": "s3://x"}]}),
    );
    let (status, r) = w.post("/intake/submissions", &partner, evidence).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("KIND_NOT_ALLOWED")),
        "{r}"
    );
    // Messages name fields, never the values sent.
    assert_eq!(
        r["error"]["message"],
        "this channel does not accept this kind of submission (kind)"
    );
    let stranger = w.token("alpha", "someone-else", &[Role::Integrator], None, false);
    let (status, r) = w
        .post(
            "/intake/submissions",
            &stranger,
            submission(
                "PARTNER_API",
                "p-3",
                "NEW_CLAIM",
                json!({"benefitType": "PENSION", "contentions": ["x"]}),
            ),
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("CHANNEL_NOT_ALLOWED"))
    );
    let (_, r) = w
        .post(
            "/intake/submissions",
            &partner,
            submission(
                "OTHER_API",
                "o-1",
                "NEW_CLAIM",
                json!({"benefitType": "PENSION", "contentions": ["x"]}),
            ),
        )
        .await;
    assert_eq!(r["error"]["code"], "UNKNOWN_CHANNEL");
    assert!(!r.to_string().contains("OTHER_API"), "{r}");
    // Contract violations are coded and name the field, never the values.
    let (status, r) = w.post("/intake/submissions", &partner, "{not json").await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("MALFORMED_JSON"))
    );
    let (_, r) = w
        .post(
            "/intake/submissions",
            &partner,
            submission(
                "PARTNER_API",
                "p-4",
                "NEW_CLAIM",
                json!({"contentions": ["x"]}),
            ),
        )
        .await;
    assert_eq!(r["error"]["code"], "MISSING_FIELD", "{r}");
    let (_, r) = w
        .post(
            "/intake/submissions",
            &partner,
            json!({"schemaVersion": 2}).to_string(),
        )
        .await;
    assert!(r["error"]["code"].is_string(), "{r}");
    let anonymous = w.post("/intake/submissions", "garbage", "{}").await;
    assert_eq!(anonymous.0, 401);
}
both!(a_channel_registered_by_configuration_files_claims);

async fn event_count(w: &ApiWorld) -> usize {
    w.t.all_events().await.len()
}

/// A batch with good, unmatched and bad documents: each gets its outcome;
/// re-sending it adds nothing; a reused document id with other content is
/// refused; unidentified mail is resolved by an agent.
async fn mail_batch_files_each_document(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    w.settle().await;
    let mailroom = w.token("alpha", "mailroom-1", &[Role::Caseworker], None, false);
    let mut claim_form = doc("d8", "CLAIM_FORM", 3, alex_ocr());
    claim_form["benefitType"] = json!("PENSION");
    claim_form["contentions"] = json!(["Non-service-connected pension"]);
    let mut older_claim = doc("d9", "CLAIM_FORM", 2, alex_ocr());
    older_claim["benefitType"] = json!("COMPENSATION");
    older_claim["contentions"] = json!(["Tinnitus"]);
    older_claim["receivedAt"] = json!("2026-10-01T00:00:00Z");
    let mut no_storage = doc("d5", "EVIDENCE", 1, alex_ocr());
    no_storage.as_object_mut().unwrap().remove("storageRef");
    let mut bad_sum = doc("d6", "EVIDENCE", 1, alex_ocr());
    bad_sum["checksum"] = json!("md5:abc");
    let manifest = json!({"schemaVersion": 1, "batchId": "b-77", "scannedBy": "mailroom-1", "documents": [
        doc("d1", "MEDICAL_RECORD", 4, alex_ocr()),
        doc("d2", "EVIDENCE", 1, json!({"familyName": "RIVERA", "birthDate": "1980-04-02", "postcode": "20 420"})),
        doc("d3", "EVIDENCE", 2, json!({"familyName": "Nobody", "birthDate": "1999-01-01"})),
        doc("d4", "EVIDENCE", 0, alex_ocr()),
        no_storage,
        bad_sum,
        doc("d7", "POSTCARD", 1, alex_ocr()),
        claim_form,
        older_claim,
    ]});
    let (status, report) = w
        .post("/intake/mail-batches", &mailroom, manifest.to_string())
        .await;
    assert_eq!(status, 200, "{report}");
    let outcome: Vec<(String, String, Option<String>)> = report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["documentId"].as_str().unwrap().to_owned(),
                d["status"].as_str().unwrap().to_owned(),
                d["errorCode"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let expect = |id: &str, status: &str, code: Option<&str>| {
        (id.to_owned(), status.to_owned(), code.map(str::to_owned))
    };
    assert_eq!(
        outcome,
        vec![
            expect("d1", "ATTACHED", None),
            expect("d2", "ATTACHED", None),
            expect("d3", "UNIDENTIFIED", Some("NO_CLAIMANT_MATCH")),
            expect("d4", "REJECTED", Some("EMPTY_FILE")),
            expect("d5", "REJECTED", Some("MISSING_FIELD")),
            expect("d6", "REJECTED", Some("BAD_CHECKSUM")),
            expect("d7", "REJECTED", Some("UNKNOWN_DOCUMENT_TYPE")),
            expect("d8", "ATTACHED", None),
            expect("d9", "ATTACHED", None),
        ],
        "{report}"
    );
    assert_eq!(
        (
            report["status"].as_str(),
            report["attached"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some("PARTIAL"), Some(4), Some(4))
    );
    let docs = report["documents"].as_array().unwrap();
    assert_eq!(docs[0]["caseId"].as_str(), Some(s.case_id.as_str()));
    assert_ne!(
        docs[7]["caseId"].as_str(),
        Some(s.case_id.as_str()),
        "a PENSION claim form opens its own case"
    );
    assert_eq!(
        docs[8]["caseId"].as_str(),
        Some(s.case_id.as_str()),
        "the same claim by post joins the web case"
    );
    // Evidence naming only the claim waits to be linked to a request, one
    // item per document; a claim form is filed with its claim.
    w.settle().await;
    let queue = w
        .gql(
            Some(&mailroom),
            "{ workQueue(queue: UNLINKED_DOCUMENTS) { edges { node { caseId document { documentType channel } } } } }",
            json!({}),
        )
        .await;
    let mut waiting: Vec<(String, String, String)> = queue["data"]["workQueue"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{queue}"))
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["caseId"].as_str().unwrap_or_default().to_owned(),
                n["document"]["documentType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["document"]["channel"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    waiting.sort();
    let waits = |t: &str| (s.case_id.clone(), t.to_owned(), "MAIL_SCAN".to_owned());
    assert_eq!(waiting, vec![waits("EVIDENCE"), waits("MEDICAL_RECORD")]);

    // Re-sending the batch appends nothing and answers the same.
    let before = event_count(&w).await;
    let (_, again) = w
        .post("/intake/mail-batches", &mailroom, manifest.to_string())
        .await;
    assert_eq!(again, report);
    assert_eq!(event_count(&w).await, before, "re-sending appends nothing");
    // The same document id with different content is refused.
    let mut changed = doc("d1", "MEDICAL_RECORD", 5, alex_ocr());
    changed["checksum"] =
        json!("sha256:0000000000000000000000000000000000000000000000000000000000000000");
    let (_, r) = w
        .post(
            "/intake/mail-batches",
            &mailroom,
            json!({"schemaVersion": 1, "batchId": "b-78", "documents": [changed]}).to_string(),
        )
        .await;
    assert_eq!(
        r["documents"][0]["errorCode"], "DUPLICATE_DOCUMENT_ID",
        "{r}"
    );
    // A rejected document filed nothing: corrected (another type; a
    // re-scan of the empty file), it is filed under the same id as a new
    // attempt; sent again unchanged, it is answered from that attempt.
    let mut evidence = doc("d7", "EVIDENCE", 1, alex_ocr());
    evidence["benefitType"] = json!("COMPENSATION");
    let mut rescan = doc("d4", "EVIDENCE", 2, alex_ocr());
    rescan["benefitType"] = json!("COMPENSATION");
    let corrected =
        json!({"schemaVersion": 1, "batchId": "b-81", "documents": [evidence, rescan]}).to_string();
    let (_, r) = w
        .post("/intake/mail-batches", &mailroom, corrected.clone())
        .await;
    for d in r["documents"].as_array().unwrap() {
        assert_eq!(d["status"], "ATTACHED", "{r}");
        assert_eq!(d["caseId"].as_str(), Some(s.case_id.as_str()), "{r}");
    }
    let before = event_count(&w).await;
    let (_, again) = w.post("/intake/mail-batches", &mailroom, corrected).await;
    assert_eq!(again["documents"], r["documents"]);
    assert_eq!(event_count(&w).await, before, "a replay appends nothing");
    // Entries without a usable id are named by position, refused, and not
    // recorded: the next batch's blank entries are not "duplicates" of them.
    for batch in ["b-79", "b-80"] {
        let mut blank = doc("x", "EVIDENCE", 1, alex_ocr());
        blank["documentId"] = json!(" ");
        let mut missing = doc("x", "EVIDENCE", 1, alex_ocr());
        missing.as_object_mut().unwrap().remove("documentId");
        let (status, r) = w
            .post(
                "/intake/mail-batches",
                &mailroom,
                json!({"schemaVersion": 1, "batchId": batch, "documents": [blank, missing]})
                    .to_string(),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        for (i, d) in r["documents"].as_array().unwrap().iter().enumerate() {
            assert_eq!(d["documentId"], format!("#{}", i + 1), "{r}");
            assert_eq!(d["status"], "REJECTED", "{r}");
            assert_eq!(d["errorCode"], "MISSING_FIELD", "{r}");
        }
    }
    // The recorded results can be read back.
    let (status, _) = w
        .post("/intake/mail-batches", &s.citizen, manifest.to_string())
        .await;
    assert_eq!(status, 403, "citizens cannot send batches");

    // The postmark moved the claim date back; the timeline orders by receipt.
    w.settle().await;
    let claim = w
        .gql(
            Some(&s.citizen),
            "query($id: ID!) { claim(id: $id) { claimDate documents { documentType } } }",
            json!({"id": s.case_id}),
        )
        .await;
    assert_eq!(
        claim["data"]["claim"]["claimDate"], "2026-10-01T00:00:00+00:00",
        "{claim}"
    );
    assert_eq!(
        claim["data"]["claim"]["documents"].as_array().map(Vec::len),
        Some(5),
        "d1, d2, d9 and the two corrected documents: {claim}"
    );

    // Unidentified mail: listed for staff, resolved by an agent.
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    let queue = w
        .gql(
            Some(&agent),
            "{ unidentifiedMail { edges { node { documentId reason ocrFamilyName } } } }",
            json!({}),
        )
        .await;
    let items = queue["data"]["unidentifiedMail"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{queue}"));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["node"]["documentId"], "d3");
    let r = w
        .gql(
            Some(&agent),
            "mutation($p: ID!, $c: ID) { resolveUnidentifiedMail(documentId: \"d3\", claimantId: $p, caseId: $c) { status caseId } }",
            json!({"p": s.claimant, "c": s.case_id}),
        )
        .await;
    assert_eq!(
        r["data"]["resolveUnidentifiedMail"]["status"], "RESOLVED",
        "{r}"
    );
    assert_eq!(
        r["data"]["resolveUnidentifiedMail"]["caseId"].as_str(),
        Some(s.case_id.as_str())
    );
    let queue = w
        .gql(
            Some(&agent),
            "{ unidentifiedMail { edges { node { documentId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        queue["data"]["unidentifiedMail"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        error_code(
            &w.gql(
                Some(&s.citizen),
                "{ unidentifiedMail { edges { node { documentId } } } }",
                json!({})
            )
            .await
        ),
        Some("FORBIDDEN")
    );
}
both!(mail_batch_files_each_document);

/// A batch interrupted half way (some documents filed and recorded, one
/// filed but not yet recorded, as after a kill -9 between the two) resumes
/// with nothing lost and nothing twice.
async fn interrupted_batch_resumes_without_loss_or_duplicates(backend: Backend) {
    let w = api_world(backend).await;
    seed(&w, "alpha", "123456789").await;
    let caller = intake::Caller::new(
        tenant("alpha"),
        domain::ActorId::parse("mailroom-1").unwrap(),
        intake::CallerKind::Staff,
    );
    let docs: Vec<Value> = (0..10)
        .map(|i| doc(&format!("r{i}"), "EVIDENCE", 1, alex_ocr()))
        .collect();
    let manifest = |docs: &[Value]| {
        json!({"schemaVersion": 1, "batchId": "b-9", "documents": docs}).to_string()
    };
    // First run: the first four documents complete.
    w.app
        .intake
        .ingest_batch(&caller, manifest(&docs[..4]).as_bytes(), |_, _| {})
        .await
        .unwrap();
    // The fifth was filed, then the process died before recording it.
    let fifth = intake::Submission {
        external_id: domain::ExternalId::parse("b-9/r4").unwrap(),
        ..w.app.intake.contract.submission(
            submission("MAIL_SCAN", "b-9/r4", "ADDITIONAL_EVIDENCE", json!({"receivedAt": "2026-10-20T00:00:00Z", "submittedBy": {"kind": "STAFF", "actor": "mailroom-1"}, "documents": [{"documentId": "r4", "documentType": "EVIDENCE", "pageCount": 1, "checksum": SHA, "storageRef": "s3://scans/r4.pdf"}]})).as_bytes(),
        ).unwrap()
    };
    w.app.intake.file(&caller, &fifth, None).await.unwrap();
    // Restart: the whole batch again.
    let report = w
        .app
        .intake
        .ingest_batch(&caller, manifest(&docs).as_bytes(), |_, _| {})
        .await
        .unwrap();
    assert_eq!((report.status.as_str(), report.attached), ("COMPLETE", 10));
    let attached =
        w.t.all_events()
            .await
            .into_iter()
            .filter(|e| e.event_type == "DocumentAttached")
            .count();
    assert_eq!(attached, 10, "every document exactly once");
}
both!(interrupted_batch_resumes_without_loss_or_duplicates);

/// Counter intake: a representative must hold the power of attorney; a
/// restricted record needs staff with SENSITIVE.
async fn in_person_representatives_and_restricted_records(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    w.gql(
        Some(&agent),
        "mutation($p: ID!) { setRepresentative(claimantId: $p, representative: { actor: \"rep-0451\", poaCode: \"083\" }, idempotencyKey: \"r\") { outcome } }",
        json!({"p": s.claimant}),
    )
    .await;
    let clerk = w.token("alpha", "clerk-1", &[Role::Caseworker], None, false);
    let by = |rep: &str, id: &str| {
        submission(
            "IN_PERSON",
            id,
            "ADDITIONAL_EVIDENCE",
            json!({"submittedBy": {"kind": "REPRESENTATIVE", "actor": rep}, "documents": [{"documentId": id, "documentType": "MEDICAL_RECORD", "pageCount": 2, "checksum": SHA, "storageRef": "s3://counter/x"}]}),
        )
    };
    let (status, r) = w
        .post("/intake/submissions", &clerk, by("rep-0451", "c-1"))
        .await;
    assert_eq!(
        (status, r["caseId"].as_str()),
        (200, Some(s.case_id.as_str())),
        "{r}"
    );
    let (status, r) = w
        .post("/intake/submissions", &clerk, by("rep-9999", "c-2"))
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("REPRESENTATIVE_NOT_AUTHORIZED")),
        "{r}"
    );

    let supervisor = w.token("alpha", "sup-1", &[Role::Supervisor], None, false);
    w.gql(
        Some(&supervisor),
        "mutation($p: ID!) { setRestriction(claimantId: $p, restriction: AGENCY_EMPLOYEE, idempotencyKey: \"x\") { outcome } }",
        json!({"p": s.claimant}),
    )
    .await;
    let (_, r) = w
        .post("/intake/submissions", &clerk, by("rep-0451", "c-3"))
        .await;
    assert_eq!(r["error"]["code"], "RESTRICTED_RECORD", "{r}");
    let trusted = w.token("alpha", "clerk-2", &[Role::Caseworker], None, true);
    let (status, _) = w
        .post("/intake/submissions", &trusted, by("rep-0451", "c-4"))
        .await;
    assert_eq!(status, 200);
    // An agency employee of office east-01: colleagues there may not handle
    // the intake (nor read the record), whatever their permissions.
    // The record is restricted already: only a supervisor with SENSITIVE sees it.
    let trusted_supervisor = w.token("alpha", "sup-2", &[Role::Supervisor], None, true);
    let r = w
        .gql(
            Some(&trusted_supervisor),
            "mutation($p: ID!) { setRestriction(claimantId: $p, restriction: AGENCY_EMPLOYEE, office: \"east-01\", idempotencyKey: \"y\") { outcome } }",
            json!({"p": s.claimant}),
        )
        .await;
    assert_eq!(r["data"]["setRestriction"]["outcome"], "UPDATED", "{r}");
    w.settle().await;
    let colleague = w.token_with_office(
        "alpha",
        "clerk-3",
        &[Role::Caseworker],
        None,
        true,
        Some("east-01"),
    );
    let (status, r) = w
        .post("/intake/submissions", &colleague, by("rep-0451", "c-5"))
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("COLLEAGUE_CONFLICT")),
        "{r}"
    );
    let read = w
        .gql(
            Some(&colleague),
            "query($c: ID!) { claim(id: $c) { id } }",
            json!({"c": s.case_id}),
        )
        .await;
    assert_eq!(error_code(&read), Some("RESTRICTED_RECORD"), "{read}");
    let elsewhere = w.token_with_office(
        "alpha",
        "clerk-4",
        &[Role::Caseworker],
        None,
        true,
        Some("west-02"),
    );
    let (status, r) = w
        .post("/intake/submissions", &elsewhere, by("rep-0451", "c-6"))
        .await;
    assert_eq!(status, 200, "{r}");
}
both!(in_person_representatives_and_restricted_records);

/// Call center: look the caller up by name and birth date, verify, file a
/// contact and a withdrawal on their behalf.
async fn call_center_lookup_contact_and_withdrawal(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    w.settle().await;
    let agent = w.token("alpha", "agent-9", &[Role::Agent], None, false);
    let lookup = "query { caseContextByIdentity(familyName: \"rivera\", birthDate: \"1980-04-02\", purpose: \"inbound call\") { identityVerified verificationPrompt claimant { id } openClaims { id } } }";
    let r = w.gql(Some(&agent), lookup, json!({})).await;
    let ctx = &r["data"]["caseContextByIdentity"];
    assert_eq!(
        (
            ctx["identityVerified"].as_bool(),
            ctx["claimant"]["id"].as_str()
        ),
        (Some(false), Some(s.claimant.as_str())),
        "{r}"
    );
    assert!(ctx["verificationPrompt"].is_string());
    let miss = w.gql(Some(&agent), "query { caseContextByIdentity(familyName: \"Rivera\", birthDate: \"1980-04-03\", purpose: \"call\") { identityVerified } }", json!({})).await;
    assert_eq!(error_code(&miss), Some("NOT_FOUND"));
    w.gql(Some(&agent), "mutation($p: ID!) { recordIdentityVerification(claimantId: $p, method: \"DOB\") { verifiedUntil } }", json!({"p": s.claimant})).await;
    let r = w.gql(Some(&agent), lookup, json!({})).await;
    assert_eq!(
        r["data"]["caseContextByIdentity"]["openClaims"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{r}"
    );

    let contact = submission(
        "CALL_CENTER",
        "call-1",
        "CONTACT",
        json!({"submittedBy": {"kind": "STAFF", "actor": "agent-9"}, "summary": "Asked when the exam will be scheduled", "reason": "status"}),
    );
    let (status, r) = w.post("/intake/submissions", &agent, contact).await;
    assert_eq!(status, 200, "{r}");
    let withdraw = submission(
        "CALL_CENTER",
        "call-2",
        "WITHDRAWAL",
        json!({"submittedBy": {"kind": "STAFF", "actor": "agent-9"}, "reason": "Caller no longer wishes to pursue"}),
    );
    let (status, _) = w.post("/intake/submissions", &agent, withdraw).await;
    assert_eq!(status, 200);
    w.settle().await;
    let claim = w
        .gql(
            Some(&s.citizen),
            "query($id: ID!) { claim(id: $id) { status closeReason } }",
            json!({"id": s.case_id}),
        )
        .await;
    assert_eq!(
        (
            claim["data"]["claim"]["status"].as_str(),
            claim["data"]["claim"]["closeReason"].as_str()
        ),
        (Some("CLOSED"), Some("WITHDRAWN"))
    );
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let timeline = w
        .gql(
            Some(&cw),
            "query($id: ID!) { caseTimeline(caseId: $id) { edges { node { kind line } } } }",
            json!({"id": s.case_id}),
        )
        .await;
    let lines: Vec<&str> = timeline["data"]["caseTimeline"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["line"].as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Asked when the exam will be scheduled")),
        "{lines:?}"
    );
    // A citizen cannot use the call-center channel, nor file for someone else.
    let (status, r) = w
        .post(
            "/intake/submissions",
            &s.citizen,
            submission("CALL_CENTER", "x", "CONTACT", json!({"summary": "x"})),
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("CHANNEL_NOT_ALLOWED"))
    );
    assert_eq!(
        r["error"]["message"],
        "this channel takes submissions from staff only"
    );
    // Nor may staff use the citizens' portal channel: said the right way round.
    let (status, r) = w
        .post(
            "/intake/submissions",
            &agent,
            submission(
                "WEB",
                "w-9",
                "NEW_CLAIM",
                json!({"benefitType": "PENSION", "contentions": ["x"]}),
            ),
        )
        .await;
    assert_eq!(
        (
            status,
            r["error"]["code"].as_str(),
            r["error"]["message"].as_str()
        ),
        (
            403,
            Some("CHANNEL_NOT_ALLOWED"),
            Some("this channel takes submissions from citizens only")
        ),
        "{r}"
    );
}
both!(call_center_lookup_contact_and_withdrawal);

/// The same claim through all four channels at once ends as one case with
/// every entry kept and the earliest receipt as claim date.
async fn four_channels_at_once_make_one_case(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    // Withdraw the seeded claim so the four race to open a new one.
    w.gql(
        Some(&s.citizen),
        "mutation($c: ID!) { withdrawClaim(caseId: $c, idempotencyKey: \"w\") { version } }",
        json!({"c": s.case_id}),
    )
    .await;
    let claim = json!({"benefitType": "COMPENSATION", "contentions": ["Tinnitus"]});
    let with = |extra: Value| {
        let mut v = claim.clone();
        if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
            a.extend(b);
        }
        v
    };
    let clerk = w.token("alpha", "clerk-1", &[Role::Caseworker], None, false);
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    let web = submission(
        "WEB",
        "web-9",
        "NEW_CLAIM",
        with(json!({"submittedBy": {"kind": "CLAIMANT"}, "receivedAt": "2026-11-07T00:00:00Z"})),
    );
    let counter = submission(
        "IN_PERSON",
        "desk-9",
        "NEW_CLAIM",
        with(json!({"receivedAt": "2026-11-06T00:00:00Z"})),
    );
    let phone = submission(
        "CALL_CENTER",
        "call-9",
        "NEW_CLAIM",
        with(json!({"receivedAt": "2026-11-08T00:00:00Z"})),
    );
    let mut letter = doc("m9", "CLAIM_FORM", 2, alex_ocr());
    letter["benefitType"] = json!("COMPENSATION");
    letter["contentions"] = json!(["Tinnitus"]);
    letter["receivedAt"] = json!("2026-11-03T00:00:00Z");
    let batch = json!({"schemaVersion": 1, "batchId": "b-4", "documents": [letter]}).to_string();
    let (a, b, c, d) = tokio::join!(
        w.post("/intake/submissions", &s.citizen, web),
        w.post("/intake/submissions", &clerk, counter),
        w.post("/intake/submissions", &agent, phone),
        w.post("/intake/mail-batches", &clerk, batch),
    );
    let ids = [
        a.1["caseId"].clone(),
        b.1["caseId"].clone(),
        c.1["caseId"].clone(),
        d.1["documents"][0]["caseId"].clone(),
    ];
    assert!(
        ids.iter().all(|id| id.is_string() && *id == ids[0]),
        "one case: {ids:?} {a:?} {b:?} {c:?} {d:?}"
    );
    w.settle().await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let claim = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { claimDate channelEntries { channel } } }",
            json!({"id": ids[0]}),
        )
        .await;
    let mut channels: Vec<&str> = claim["data"]["claim"]["channelEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(channels, ["CALL_CENTER", "IN_PERSON", "MAIL_SCAN", "WEB"]);
    assert_eq!(
        claim["data"]["claim"]["claimDate"],
        "2026-11-03T00:00:00+00:00"
    );
}
both!(four_channels_at_once_make_one_case);

/// The integration guide (docs/channels.md), followed literally: its
/// configuration snippet registers the channel, its example document files
/// a claim, and its example validates against the published schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integration_guide_works() {
    let guide = std::fs::read_to_string(format!(
        "{}/../docs/channels.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let block = |tag: &str| {
        let start = guide
            .find(&format!("```{tag}\n"))
            .unwrap_or_else(|| panic!("no ```{tag} block"))
            + tag.len()
            + 4;
        let end = start + guide[start..].find("```").unwrap();
        guide[start..end].to_owned()
    };
    let config = block("toml channel-config");
    let example = block("json submission-example");
    let dir = std::env::temp_dir().join(format!("omnicase-guide-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("omnicase.toml");
    std::fs::write(&file, &config).unwrap();
    let w = api_world_with(Backend::Sqlite, |s| {
        let url = s.database_url.clone();
        *s = services::config::Settings::load(Some(&file), Some(&url)).unwrap();
    })
    .await;
    // The claimant the example names.
    seed(&w, "demo", "123456789").await;
    let token = w.token("demo", "partner-portal", &[Role::Integrator], None, false);
    let (status, r) = w.post("/intake/submissions", &token, example.clone()).await;
    assert_eq!(
        (status, r["status"].as_str(), r["outcome"].as_str()),
        (200, Some("FILED"), Some("ATTACHED_AS_DUPLICATE")),
        "{r}"
    );
    let (_, again) = w.post("/intake/submissions", &token, example).await;
    assert_eq!(again["replayed"], true);
}

/// The accepted document types are the agency's configuration, published
/// to integrators (`GET /intake/document-types`, GraphQL `documentTypes`)
/// and applied on every channel: here the agency accepts RELEASE_FORM.
async fn accepted_document_types_are_per_agency_and_published(backend: Backend) {
    let w = api_world_with(backend, |s| {
        s.tenants.get_mut("alpha").unwrap().document_types =
            vec!["RELEASE_FORM".into(), "EVIDENCE".into()];
    })
    .await;
    let s = seed(&w, "alpha", "123456789").await;
    let clerk = w.token("alpha", "clerk-1", &[Role::Caseworker], None, false);
    let (status, r) = w.get_json("/intake/document-types", &clerk).await;
    assert_eq!(
        (status, &r),
        (200, &json!({"documentTypes": ["EVIDENCE", "RELEASE_FORM"]}))
    );
    let other = w.token("beta", "clerk-9", &[Role::Caseworker], None, false);
    let (_, r) = w.get_json("/intake/document-types", &other).await;
    let builtin: Vec<&str> = {
        let mut v = intake::DEFAULT_DOCUMENT_TYPES.to_vec();
        v.sort();
        v
    };
    assert_eq!(
        r["documentTypes"],
        json!(builtin),
        "the built-in list elsewhere"
    );
    let (status, r) = w.get_text("/intake/document-types").await;
    assert_eq!(status, 401, "{r}");
    let q = w
        .gql(Some(&s.citizen), "{ documentTypes }", json!({}))
        .await;
    assert_eq!(
        q["data"]["documentTypes"],
        json!(["EVIDENCE", "RELEASE_FORM"]),
        "{q}"
    );

    // A release form is filed at the counter; a type the agency does not
    // accept is refused, by the HTTP intake and by GraphQL alike.
    let doc = |t: &str| json!({"documents": [{"documentId": format!("d-{t}"), "documentType": t, "pageCount": 1, "checksum": SHA, "storageRef": "s3://x"}]});
    let (status, r) = w
        .post(
            "/intake/submissions",
            &clerk,
            submission(
                "IN_PERSON",
                "rf-1",
                "ADDITIONAL_EVIDENCE",
                doc("RELEASE_FORM"),
            ),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let (status, r) = w
        .post(
            "/intake/submissions",
            &clerk,
            submission(
                "IN_PERSON",
                "mr-1",
                "ADDITIONAL_EVIDENCE",
                doc("MEDICAL_RECORD"),
            ),
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (422, Some("UNKNOWN_DOCUMENT_TYPE")),
        "{r}"
    );
    let upload = "mutation($c: ID!, $t: String!) { attachDocument(caseId: $c, idempotencyKey: $t, input: { documentType: $t, pages: 1, checksum: \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\", storageRef: \"uploads/x.pdf\" }) { claim { documents { documentType } } } }";
    let r = w
        .gql(
            Some(&s.citizen),
            upload,
            json!({"c": s.case_id, "t": "MEDICAL_RECORD"}),
        )
        .await;
    assert_eq!(error_code(&r), Some("UNKNOWN_DOCUMENT_TYPE"), "{r}");
    let r = w
        .gql(
            Some(&s.citizen),
            upload,
            json!({"c": s.case_id, "t": "RELEASE_FORM"}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
}
both!(accepted_document_types_are_per_agency_and_published);

/// The built-in document types are listed, the same, in the integration
/// guide and in both JSON Schemas.
#[test]
fn the_built_in_document_types_are_documented() {
    let mut builtin = intake::DEFAULT_DOCUMENT_TYPES.to_vec();
    builtin.sort();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let guide = std::fs::read_to_string(format!("{root}/docs/channels.md")).unwrap();
    let listed: Vec<String> = builtin.iter().map(|t| format!("`{t}`")).collect();
    assert!(
        guide.replace('\n', " ").contains(&listed.join(", ")),
        "docs/channels.md lists {listed:?}"
    );
    for schema in ["channel-submission.v1.json", "mail-batch.v1.json"] {
        let text = std::fs::read_to_string(format!("{root}/schemas/{schema}")).unwrap();
        assert!(text.contains(&builtin.join(", ")), "{schema}");
    }
}
