//! The GraphQL API through the router (no socket), on both stores.

use app::auth::Role;
use serde_json::{json, Value};
use tests::*;

pub(crate) const REGISTER: &str = "mutation($input: RegisterClaimantInput!, $key: String!) {
  registerClaimant(input: $input, idempotencyKey: $key) { claimantId outcome }
}";

pub(crate) const SUBMIT: &str = "mutation($input: SubmitClaimInput!, $key: String!) {
  submitClaim(input: $input, idempotencyKey: $key) {
    caseId version outcome replayed
    claim { id status phase claimDate estimatedCompletion { reason } channelEntries { channel externalId duplicateOf } }
  }
}";

pub(crate) const CLAIM: &str = "query($id: ID!) {
  claim(id: $id) {
    id version status phase benefitType claimDate closeReason evidenceWaiverSubmitted5103
    contentions { description adjudication }
    openRequestsForYou { description status dueDate }
    evidenceRequests { description status }
    channelEntries { channel externalId submittedBy duplicateOf }
    decision { outcome status }
    assignee
  }
}";

/// A caseworker asks the claimant for evidence (due 2027-01-15); the new
/// request's id.
pub async fn ask_evidence(
    w: &ApiWorld,
    token: &str,
    case_id: &str,
    key: &str,
    description: &str,
) -> String {
    let ask = "mutation($c: ID!, $k: String!, $d: String!) { requestEvidence(caseId: $c, idempotencyKey: $k, input: { description: $d, neededFromClaimant: true, dueDate: \"2027-01-15\" }) { claim { evidenceRequests { id description } } } }";
    let asked = w
        .gql(
            Some(token),
            ask,
            json!({"c": case_id, "k": key, "d": description}),
        )
        .await;
    asked["data"]["requestEvidence"]["claim"]["evidenceRequests"]
        .as_array()
        .and_then(|rs| rs.iter().rev().find(|r| r["description"] == description))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("{asked}"))
        .to_owned()
}

pub struct Seeded {
    pub claimant: String,
    pub case_id: String,
    pub citizen: String,
}

/// An agent registers Alex; Alex files a claim on the web.
pub async fn seed(w: &ApiWorld, tenant_name: &str, file_number: &str) -> Seeded {
    let agent = w.token(tenant_name, "agent-1", &[Role::Agent], None, false);
    let r = w
        .gql(
            Some(&agent),
            REGISTER,
            json!({"key": format!("reg-{file_number}"), "input": {
                "fileNumber": file_number, "identityNumber": "123-45-6789", "givenName": "Alex",
                "familyName": "Rivera", "birthDate": "1980-04-02", "postcode": "20420",
                "addressLines": ["810 Vermont Ave NW"]
            }}),
        )
        .await;
    let claimant = r["data"]["registerClaimant"]["claimantId"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let citizen = w.token(
        tenant_name,
        &format!("citizen-{file_number}"),
        &[Role::Citizen],
        Some(domain::ClaimantId::from_uuid(claimant.parse().unwrap())),
        false,
    );
    let r = w
        .gql(
            Some(&citizen),
            SUBMIT,
            json!({"key": "web-1", "input": {
                "benefitType": "COMPENSATION", "contentions": ["Tinnitus", "Left knee strain"],
                "receivedAt": "2026-11-02T10:15:00Z"
            }}),
        )
        .await;
    let case_id = r["data"]["submitClaim"]["caseId"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    Seeded {
        claimant,
        case_id,
        citizen,
    }
}

async fn citizen_files_and_follows_a_claim(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let input = json!({"key": "web-1", "input": {
        "benefitType": "COMPENSATION", "contentions": ["Tinnitus", "Left knee strain"], "receivedAt": "2026-11-02T10:15:00Z"
    }});
    // Replaying the same key returns the original result.
    let replay = w.gql(Some(&s.citizen), SUBMIT, input).await;
    let p = &replay["data"]["submitClaim"];
    assert_eq!(
        (
            p["caseId"].as_str(),
            p["replayed"].as_bool(),
            p["outcome"].as_str()
        ),
        (Some(s.case_id.as_str()), Some(true), Some("CREATED"))
    );
    // Read-your-writes: the payload already shows the claim.
    assert_eq!(p["claim"]["status"], "RECEIVED");
    assert_eq!(
        p["claim"]["phase"],
        Value::Null,
        "citizens never see internal phases"
    );

    let claim = w
        .gql(Some(&s.citizen), CLAIM, json!({"id": s.case_id}))
        .await;
    insta::assert_json_snapshot!("citizen_claim_view", claim, {
        ".data.claim.id" => "[case-id]",
        // A citizen's submission is received when it arrives.
        ".data.claim.claimDate" => "[received-now]",
    });
    let mine = w
        .gql(
            Some(&s.citizen),
            "{ myClaims(first: 10) { edges { node { id status } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["myClaims"]["edges"].as_array().map(Vec::len),
        Some(1)
    );
    let timeline = w
        .gql(Some(&s.citizen), "query($id: ID!) { caseTimeline(caseId: $id) { edges { node { kind line channel } } } }", json!({"id": s.case_id}))
        .await;
    let first = &timeline["data"]["caseTimeline"]["edges"][0]["node"];
    assert_eq!(
        (first["kind"].as_str(), first["line"].as_str()),
        (Some("CHANNEL_ENTRY"), Some("Claim received online"))
    );
}
both!(citizen_files_and_follows_a_claim);

/// Mail with an older postmark arrives after the web claim: one case, two
/// entries, claim date moved back, and the timeline ordered by receipt.
async fn cross_channel_submission_joins_the_open_claim(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let clerk = w.token("alpha", "mailroom-1", &[Role::Caseworker], None, false);
    let r = w
        .gql(
            Some(&clerk),
            SUBMIT,
            json!({"key": "scan-1", "input": {
                "claimantId": s.claimant, "benefitType": "COMPENSATION", "contentions": ["Tinnitus"],
                "channel": "MAIL_SCAN", "externalId": "batch-9/doc-1", "receivedAt": "2026-10-28T00:00:00Z"
            }}),
        )
        .await;
    let p = &r["data"]["submitClaim"];
    assert_eq!(
        (p["caseId"].as_str(), p["outcome"].as_str()),
        (Some(s.case_id.as_str()), Some("ATTACHED_AS_DUPLICATE")),
        "{r}"
    );
    assert_eq!(p["claim"]["claimDate"], "2026-10-28T00:00:00+00:00");
    let entries = p["claim"]["channelEntries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries[1]["duplicateOf"].is_string());
    let timeline = w
        .gql(Some(&s.citizen), "query($id: ID!) { caseTimeline(caseId: $id) { edges { node { kind channel line } } } }", json!({"id": s.case_id}))
        .await;
    let kinds: Vec<_> = timeline["data"]["caseTimeline"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["channel"].as_str().unwrap_or("-").to_owned())
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("MAIL_SCAN"),
        "ordered by receivedAt: {kinds:?}"
    );
}
both!(cross_channel_submission_joins_the_open_claim);

/// Every query and mutation that takes A's ids, called by citizen B and by
/// principals of another tenant, answers exactly as for an id that does
/// not exist.
async fn bola_sweep_leaks_nothing(backend: Backend) {
    let w = api_world(backend).await;
    let a = seed(&w, "alpha", "123456789").await;
    let b = seed(&w, "alpha", "987654321").await;
    let _beta_case = seed(&w, "beta", "123456789").await;
    let strangers = [
        ("citizen B", b.citizen.clone()),
        (
            "beta citizen",
            w.token(
                "beta",
                "citizen-x",
                &[Role::Citizen],
                Some(domain::ClaimantId::generate()),
                false,
            ),
        ),
        (
            "beta staff",
            w.token(
                "beta",
                "boss",
                &[
                    Role::Agent,
                    Role::Caseworker,
                    Role::Approver,
                    Role::Supervisor,
                ],
                None,
                true,
            ),
        ),
    ];
    let any = "00000000-0000-7000-8000-000000000000";
    let ops: Vec<(&str, Value)> = vec![
        ("query($c: ID!) { claim(id: $c) { id status } }", json!({})),
        ("query($c: ID!) { caseTimeline(caseId: $c) { edges { node { line } } } }", json!({})),
        ("query($p: ID!) { caseContext(claimantId: $p, purpose: \"call\") { identityVerified } }", json!({})),
        ("mutation($c: ID!) { attachDocument(caseId: $c, idempotencyKey: \"k\", input: { documentType: \"DD214\", pages: 1, checksum: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\", storageRef: \"s3://x\" }) { version } }", json!({})),
        ("mutation($c: ID!, $x: ID!) { linkDocument(caseId: $c, documentId: $x, requestId: $x, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { requestEvidence(caseId: $c, idempotencyKey: \"k\", input: { description: \"x\", neededFromClaimant: true, dueDate: \"2027-01-01\" }) { version } }", json!({})),
        ("mutation($c: ID!) { submitWaiver5103(caseId: $c, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!, $x: ID!) { reviewEvidence(caseId: $c, requestId: $x, status: ACCEPTED, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { changePhase(caseId: $c, phase: UNDER_REVIEW, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { assignCase(caseId: $c, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { unassignCase(caseId: $c, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { routeToTeam(caseId: $c, team: \"east\", idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { recordContact(caseId: $c, idempotencyKey: \"k\", input: { kind: INBOUND, summary: \"x\" }) { version } }", json!({})),
        ("mutation($c: ID!, $x: ID!) { proposeDecision(caseId: $c, idempotencyKey: \"k\", adjudications: [{ contentionId: $x, adjudication: GRANTED }]) { version } }", json!({})),
        ("mutation($c: ID!) { approveDecision(caseId: $c, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { returnDecision(caseId: $c, reason: \"x\", idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { mailDecisionLetter(caseId: $c, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!) { withdrawClaim(caseId: $c, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!, $x: ID!) { mergeCase(caseId: $c, survivorId: $x, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!, $x: ID!) { markRequestOverdue(caseId: $c, requestId: $x, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($c: ID!, $x: ID!) { fileAppeal(caseId: $c, contentionId: $x, idempotencyKey: \"k\") { version } }", json!({})),
        ("mutation($p: ID!) { recordIdentityVerification(claimantId: $p, method: \"dob\") { verifiedUntil } }", json!({})),
        ("mutation($p: ID!) { submitClaim(idempotencyKey: \"k\", input: { claimantId: $p, benefitType: \"COMPENSATION\", contentions: [\"x\"] }) { version } }", json!({})),
    ];
    for (who, token) in &strangers {
        for (query, _) in &ops {
            let theirs = w
                .gql(
                    Some(token),
                    query,
                    json!({"c": a.case_id, "p": a.claimant, "x": any}),
                )
                .await;
            let missing = w
                .gql(Some(token), query, json!({"c": any, "p": any, "x": any}))
                .await;
            let code = error_code(&theirs);
            assert!(
                matches!(code, Some("NOT_FOUND" | "FORBIDDEN")),
                "{who}: {query} answered {theirs}"
            );
            assert_eq!(
                theirs, missing,
                "{who}: {query} must look exactly like a missing id"
            );
        }
    }
    // Nothing changed on A's case.
    let owner = w
        .gql(Some(&a.citizen), CLAIM, json!({"id": a.case_id}))
        .await;
    assert_eq!(owner["data"]["claim"]["version"], 2, "{owner}");
}
both!(bola_sweep_leaks_nothing);

const CONTEXT: &str = "query($p: ID!) {
  caseContext(claimantId: $p, purpose: \"inbound call\") {
    identityVerified verificationPrompt
    claimant { givenName familyName fileNumber identityNumber birthDate birthYear disclosed addressLines }
    flags { restricted safety }
    openClaims { id status }
    openRequests { description dueDate overdue }
    recentContacts { summary }
  }
}";

/// Agents see a verification prompt and masked values until they record
/// identity verification; caseworkers see full values; every read is
/// audited, and supervisors can read the audit log.
async fn case_context_masks_until_verified_and_is_audited(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let agent = w.token("alpha", "agent-7", &[Role::Agent], None, false);
    let before = w.gql(Some(&agent), CONTEXT, json!({"p": s.claimant})).await;
    let ctx = &before["data"]["caseContext"];
    assert_eq!(ctx["identityVerified"], false, "{before}");
    assert!(ctx["verificationPrompt"].is_string());
    assert_eq!(ctx["claimant"]["identityNumber"], "***-**-6789");
    assert_eq!(ctx["claimant"]["fileNumber"], "*****6789");
    assert_eq!(ctx["claimant"]["birthDate"], Value::Null);
    assert_eq!(ctx["claimant"]["birthYear"], 1980);
    // The registered address: masked until disclosed.
    assert_eq!(
        ctx["claimant"]["addressLines"],
        json!(["*************** NW"])
    );
    assert_eq!(ctx["openClaims"].as_array().map(Vec::len), Some(0));

    let v = w
        .gql(Some(&agent), "mutation($p: ID!) { recordIdentityVerification(claimantId: $p, method: \"DOB_AND_POSTCODE\") { verifiedUntil } }", json!({"p": s.claimant}))
        .await;
    assert!(
        v["data"]["recordIdentityVerification"]["verifiedUntil"].is_string(),
        "{v}"
    );
    let after = w.gql(Some(&agent), CONTEXT, json!({"p": s.claimant})).await;
    let ctx = &after["data"]["caseContext"];
    assert_eq!(ctx["identityVerified"], true);
    assert_eq!(ctx["claimant"]["identityNumber"], "123-45-6789");
    assert_eq!(ctx["claimant"]["birthDate"], "1980-04-02");
    assert_eq!(
        ctx["claimant"]["addressLines"],
        json!(["810 Vermont Ave NW"])
    );
    assert_eq!(ctx["openClaims"].as_array().map(Vec::len), Some(1));

    let caseworker = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let cw = w
        .gql(Some(&caseworker), CONTEXT, json!({"p": s.claimant}))
        .await;
    assert_eq!(cw["data"]["caseContext"]["claimant"]["disclosed"], true);

    let supervisor = w.token("alpha", "sup-1", &[Role::Supervisor], None, false);
    let audit = w
        .gql(
            Some(&supervisor),
            "{ auditLog(first: 50) { edges { node { actor action outcome purpose subjectId } } } }",
            json!({}),
        )
        .await;
    let rows: Vec<(String, String, String)> = audit["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["actor"].as_str().unwrap().to_owned(),
                n["action"].as_str().unwrap().to_owned(),
                n["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let reads = rows
        .iter()
        .filter(|(a, act, o)| a == "agent-7" && act == "READ_CASE_CONTEXT" && o == "ALLOWED")
        .count();
    assert_eq!(reads, 2, "{rows:?}");
    assert!(rows
        .iter()
        .any(|(a, act, _)| a == "agent-7" && act == "VERIFY_IDENTITY"));
    assert!(rows
        .iter()
        .any(|(a, act, _)| a == "cw-1" && act == "READ_CASE_CONTEXT"));

    // A denied read is audited too.
    let other = seed(&w, "alpha", "987654321").await;
    let denied = w
        .gql(Some(&other.citizen), CLAIM, json!({"id": s.case_id}))
        .await;
    assert_eq!(error_code(&denied), Some("NOT_FOUND"));
    let audit = w
        .gql(
            Some(&supervisor),
            "{ auditLog(first: 50) { edges { node { actor action outcome } } } }",
            json!({}),
        )
        .await;
    assert!(audit["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["node"]["outcome"] == "DENIED" && e["node"]["action"] == "READ_CLAIM"));
    // Only supervisors read the audit log.
    let refused = w
        .gql(
            Some(&agent),
            "{ auditLog { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
}
both!(case_context_masks_until_verified_and_is_audited);

/// One rule for an agent who has not verified the caller, on every path:
/// masked identity and flags only; the claim, its timeline, commands on it
/// and filing a claim for the person are refused IDENTITY_NOT_VERIFIED
/// (and audited), so the case id never leaks. Staff reads are audited.
async fn an_unverified_agent_reads_no_claim_on_any_path(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let agent = w.token("alpha", "agent-8", &[Role::Agent], None, false);
    let paths = [
        (CLAIM, json!({"id": s.case_id})),
        (
            "query($c: ID!) { caseTimeline(caseId: $c) { edges { node { line } } } }",
            json!({"c": s.case_id}),
        ),
        (
            "mutation($c: ID!) { recordContact(caseId: $c, idempotencyKey: \"k1\", input: { kind: INBOUND, summary: \"Asked about the claim\" }) { version } }",
            json!({"c": s.case_id}),
        ),
        (
            "mutation($p: ID!) { submitClaim(idempotencyKey: \"k2\", input: { claimantId: $p, benefitType: \"PENSION\", contentions: [\"Hearing loss\"], channel: \"CALL_CENTER\" }) { caseId outcome } }",
            json!({"p": s.claimant}),
        ),
    ];
    for (query, vars) in &paths {
        let r = w.gql(Some(&agent), query, vars.clone()).await;
        assert_eq!(
            error_code(&r),
            Some("IDENTITY_NOT_VERIFIED"),
            "{query}: {r}"
        );
        assert!(!r.to_string().contains(&s.case_id), "{r}");
    }
    let v = w
        .gql(Some(&agent), "mutation($p: ID!) { recordIdentityVerification(claimantId: $p, method: \"DOB_AND_POSTCODE\") { verifiedUntil } }", json!({"p": s.claimant}))
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let r = w.gql(Some(&agent), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(r["data"]["claim"]["id"], s.case_id, "{r}");
    let supervisor = w.token("alpha", "sup-1", &[Role::Supervisor], None, false);
    let audit = w
        .gql(
            Some(&supervisor),
            "{ auditLog(first: 100) { edges { node { actor action outcome subjectId } } } }",
            json!({}),
        )
        .await;
    let rows: Vec<String> = audit["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .filter(|e| e["node"]["actor"] == "agent-8")
        .map(|e| {
            format!(
                "{} {}",
                e["node"]["action"].as_str().unwrap_or_default(),
                e["node"]["outcome"].as_str().unwrap_or_default()
            )
        })
        .collect();
    for expected in [
        "READ_CLAIM UNVERIFIED",
        "READ_TIMELINE UNVERIFIED",
        "COMMAND UNVERIFIED",
        "SUBMIT_CLAIM UNVERIFIED",
        "READ_CLAIM ALLOWED",
    ] {
        assert!(
            rows.iter().any(|r| r == expected),
            "{expected} not in {rows:?}"
        );
    }
}
both!(an_unverified_agent_reads_no_claim_on_any_path);

/// A restricted claimant's records need the SENSITIVE permission.
async fn restricted_records_need_sensitive(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let supervisor = w.token("alpha", "sup-1", &[Role::Supervisor], None, false);
    let set = "mutation($p: ID!, $r: RestrictionInput) { setRestriction(claimantId: $p, restriction: $r, idempotencyKey: \"r1\") { outcome } }";
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    assert_eq!(
        error_code(
            &w.gql(
                Some(&agent),
                set,
                json!({"p": s.claimant, "r": "AGENCY_EMPLOYEE"})
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    let r = w
        .gql(
            Some(&supervisor),
            set,
            json!({"p": s.claimant, "r": "AGENCY_EMPLOYEE"}),
        )
        .await;
    assert_eq!(r["data"]["setRestriction"]["outcome"], "UPDATED", "{r}");
    w.settle().await;
    let plain = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let sensitive = w.token("alpha", "cw-2", &[Role::Caseworker], None, true);
    // Staff learn that the record is restricted, and nothing else, on
    // every path, so they can offer the caller a transfer.
    let restricted = [
        w.gql(Some(&plain), CONTEXT, json!({"p": s.claimant})).await,
        w.gql(Some(&plain), CLAIM, json!({"id": s.case_id})).await,
        w.gql(
            Some(&plain),
            "query { caseContextByFileNumber(fileNumber: \"123456789\", purpose: \"inbound call\") { claimant { id } } }",
            json!({}),
        )
        .await,
        w.gql(
            Some(&plain),
            "query { caseContextByIdentity(familyName: \"rivera\", birthDate: \"1980-04-02\", purpose: \"inbound call\") { claimant { id } } }",
            json!({}),
        )
        .await,
        w.gql(
            Some(&plain),
            "query($c: ID!) { caseTimeline(caseId: $c) { edges { node { line } } } }",
            json!({"c": s.case_id}),
        )
        .await,
        w.gql(
            Some(&plain),
            "mutation($c: ID!) { assignCase(caseId: $c, idempotencyKey: \"a1\") { version } }",
            json!({"c": s.case_id}),
        )
        .await,
    ];
    for r in &restricted {
        assert_eq!(error_code(r), Some("RESTRICTED_RECORD"), "{r}");
        let no_data = r["data"].is_null()
            || r["data"]
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_null));
        assert!(no_data, "{r}");
        let text = r.to_string();
        for secret in ["Rivera", "rivera", "123456789", &s.claimant] {
            assert!(!text.contains(secret), "{secret} in {r}");
        }
    }
    // A citizen asking for someone else's claim still gets NOT_FOUND.
    let stranger = seed(&w, "alpha", "987654321").await;
    assert_eq!(
        error_code(
            &w.gql(Some(&stranger.citizen), CLAIM, json!({"id": s.case_id}))
                .await
        ),
        Some("NOT_FOUND")
    );
    let ok = w
        .gql(Some(&sensitive), CONTEXT, json!({"p": s.claimant}))
        .await;
    assert_eq!(
        ok["data"]["caseContext"]["flags"]["restricted"], true,
        "{ok}"
    );
    // The claimant still sees their own claim.
    assert_eq!(
        w.gql(Some(&s.citizen), CLAIM, json!({"id": s.case_id}))
            .await["data"]["claim"]["status"],
        "RECEIVED"
    );
}
both!(restricted_records_need_sensitive);

/// Caseworker flow through mutations: queues, phase moves, evidence,
/// four-eyes decision, letter, and coded refusals on the way.
async fn casework_through_mutations(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let approver = w.token("alpha", "ap-1", &[Role::Approver], None, false);
    let call = |token: String, q: &'static str, vars: Value| {
        let w = &w;
        async move { w.gql(Some(&token), q, vars).await }
    };
    let queue = |token: String, kind: &'static str| {
        let w = &w;
        async move {
            let r = w
                .gql(Some(&token), "query($k: QueueKind!) { workQueue(queue: $k) { edges { node { caseId daysInPhase overdueRequests } } } }", json!({"k": kind}))
                .await;
            r["data"]["workQueue"]["edges"]
                .as_array()
                .map(|e| e.len())
                .unwrap_or_else(|| panic!("{r}"))
        }
    };
    assert_eq!(queue(cw.clone(), "UNASSIGNED").await, 1);
    let r = call(cw.clone(), "mutation($c: ID!) { assignCase(caseId: $c, idempotencyKey: \"a1\") { claim { assignee } } }", json!({"c": s.case_id})).await;
    assert_eq!(r["data"]["assignCase"]["claim"]["assignee"], "cw-1", "{r}");
    assert_eq!(queue(cw.clone(), "UNASSIGNED").await, 0);
    assert_eq!(queue(cw.clone(), "MINE").await, 1);
    let other = w.token("alpha", "cw-2", &[Role::Caseworker], None, false);
    let taken = call(
        other,
        "mutation($c: ID!) { assignCase(caseId: $c, idempotencyKey: \"a2\") { version } }",
        json!({"c": s.case_id}),
    )
    .await;
    assert_eq!(error_code(&taken), Some("ALREADY_ASSIGNED"));

    let phase = "mutation($c: ID!, $p: Phase!, $r: String, $k: String!, $v: Int) { changePhase(caseId: $c, phase: $p, reason: $r, idempotencyKey: $k, expectedVersion: $v) { version claim { status phase phaseBack phaseBackReason } } }";
    let r = call(
        cw.clone(),
        phase,
        json!({"c": s.case_id, "p": "GATHERING_OF_EVIDENCE", "k": "p1"}),
    )
    .await;
    let version = r["data"]["changePhase"]["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(
        r["data"]["changePhase"]["claim"]["status"],
        "EVIDENCE_GATHERING_REVIEW_DECISION"
    );
    let stale = call(
        cw.clone(),
        phase,
        json!({"c": s.case_id, "p": "REVIEW_OF_EVIDENCE", "k": "p2", "v": version - 1}),
    )
    .await;
    assert_eq!(error_code(&stale), Some("VERSION_CONFLICT"));
    assert_eq!(stale["errors"][0]["extensions"]["retriable"], true);
    let no_reason = call(
        cw.clone(),
        phase,
        json!({"c": s.case_id, "p": "UNDER_REVIEW", "k": "p3"}),
    )
    .await;
    assert_eq!(error_code(&no_reason), Some("PHASE_BACK_REASON_REQUIRED"));

    let r = call(
        cw.clone(),
        "mutation($c: ID!) { requestEvidence(caseId: $c, idempotencyKey: \"e1\", input: { description: \"Audiology exam results\", neededFromClaimant: true, dueDate: \"2026-01-15\" }) { claim { evidenceRequests { description status } } } }",
        json!({"c": s.case_id}),
    )
    .await;
    assert_eq!(
        r["data"]["requestEvidence"]["claim"]["evidenceRequests"][0]["status"], "NEEDED_FROM_YOU",
        "{r}"
    );
    let citizen_view = call(s.citizen.clone(), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(
        citizen_view["data"]["claim"]["openRequestsForYou"][0]["description"],
        "Audiology exam results"
    );
    // Due 2026-01-15, and no timer has run: overdue as of now all the same.
    let overdue = call(
        s.citizen.clone(),
        "query($id: ID!) { claim(id: $id) { openRequestsForYou { id overdue } } }",
        json!({"id": s.case_id}),
    )
    .await;
    let request_id = overdue["data"]["claim"]["openRequestsForYou"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{overdue}"))
        .to_owned();
    assert_eq!(
        overdue["data"]["claim"]["openRequestsForYou"][0]["overdue"], true,
        "{overdue}"
    );

    call(
        cw.clone(),
        phase,
        json!({"c": s.case_id, "p": "PREPARATION_FOR_DECISION", "k": "p4"}),
    )
    .await;
    let claim = call(
        cw.clone(),
        "query($c: ID!) { claim(id: $c) { contentions { id } } }",
        json!({"c": s.case_id}),
    )
    .await;
    let ids: Vec<String> = claim["data"]["claim"]["contentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let adjudications = json!([{"contentionId": ids[0], "adjudication": "GRANTED"}, {"contentionId": ids[1], "adjudication": "DENIED"}]);
    // Not over an open request: the refusal names it (in extensions only).
    let over_open = call(
        cw.clone(),
        "mutation($c: ID!, $a: [AdjudicationInput!]!) { proposeDecision(caseId: $c, adjudications: $a, idempotencyKey: \"d0\") { version } }",
        json!({"c": s.case_id, "a": adjudications}),
    )
    .await;
    assert_eq!(error_code(&over_open), Some("OPEN_REQUESTS"), "{over_open}");
    assert_eq!(
        over_open["errors"][0]["extensions"]["requestIds"],
        json!([request_id])
    );
    let message = over_open["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(!message.contains(&request_id), "{message}");
    let propose = "mutation($c: ID!, $a: [AdjudicationInput!]!, $close: [CloseRequestInput!]!) { proposeDecision(caseId: $c, adjudications: $a, closeRequests: $close, idempotencyKey: \"d1\") { claim { phase decision { status outcome } evidenceRequests { status reason overdue } } } }";
    let r = call(cw.clone(), propose, json!({"c": s.case_id, "a": adjudications, "close": [{"requestId": request_id, "reason": "Decided on the service records"}]})).await;
    assert_eq!(
        r["data"]["proposeDecision"]["claim"]["phase"], "PENDING_DECISION_APPROVAL",
        "{r}"
    );
    assert_eq!(
        r["data"]["proposeDecision"]["claim"]["evidenceRequests"],
        json!([{"status": "NO_LONGER_REQUIRED", "reason": "Decided on the service records", "overdue": false}])
    );
    let nothing_open = call(s.citizen.clone(), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(
        nothing_open["data"]["claim"]["openRequestsForYou"],
        json!([]),
        "{nothing_open}"
    );
    assert_eq!(queue(approver.clone(), "AWAITING_APPROVAL").await, 1);
    // A caseworker who is also an approver may not approve their own proposal.
    let both_roles = w.token(
        "alpha",
        "cw-1",
        &[Role::Caseworker, Role::Approver],
        None,
        false,
    );
    let own = call(
        both_roles.clone(),
        "mutation($c: ID!) { approveDecision(caseId: $c, idempotencyKey: \"ap0\") { version } }",
        json!({"c": s.case_id}),
    )
    .await;
    assert_eq!(error_code(&own), Some("FOUR_EYES_VIOLATION"));
    assert_eq!(
        queue(both_roles, "AWAITING_APPROVAL").await,
        0,
        "own proposals are not in one's approval queue"
    );
    let r = call(approver.clone(), "mutation($c: ID!) { approveDecision(caseId: $c, idempotencyKey: \"ap1\") { claim { status decision { outcome } } } }", json!({"c": s.case_id})).await;
    assert_eq!(
        r["data"]["approveDecision"]["claim"]["status"], "PREPARATION_FOR_NOTIFICATION",
        "{r}"
    );
    // Citizens do not see the decision before the letter is mailed.
    let before_letter = call(s.citizen.clone(), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(before_letter["data"]["claim"]["decision"], Value::Null);
    call(
        approver,
        "mutation($c: ID!) { mailDecisionLetter(caseId: $c, idempotencyKey: \"m1\") { version } }",
        json!({"c": s.case_id}),
    )
    .await;
    let done = call(s.citizen.clone(), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(done["data"]["claim"]["status"], "COMPLETE");
    assert_eq!(done["data"]["claim"]["decision"]["outcome"], "PARTIAL");
    // Citizens may not run staff commands on their own claim.
    let refused = call(
        s.citizen.clone(),
        phase,
        json!({"c": s.case_id, "p": "UNDER_REVIEW", "k": "x"}),
    )
    .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
}
both!(casework_through_mutations);

/// Ending a case (here: withdrawing it) closes its open evidence requests
/// with the reason, in every read model: the citizen's claim, the agent's
/// case context and the timeline.
async fn ending_a_case_closes_its_open_requests(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let call = |token: String, q: &'static str, v: Value| {
        let w = &w;
        async move { w.gql(Some(&token), q, v).await }
    };
    let ask = "mutation($c: ID!, $k: String!, $n: Boolean!) { requestEvidence(caseId: $c, idempotencyKey: $k, input: { description: \"Audiology exam results\", neededFromClaimant: $n, dueDate: \"2027-01-15\" }) { version } }";
    for (k, n) in [("e1", true), ("e2", false)] {
        let r = call(cw.clone(), ask, json!({"c": s.case_id, "k": k, "n": n})).await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let r = call(
        s.citizen.clone(),
        "mutation($c: ID!) { withdrawClaim(caseId: $c, idempotencyKey: \"w1\") { claim { status openRequestsForYou { id } evidenceRequests { status reason overdue } } } }",
        json!({"c": s.case_id}),
    )
    .await;
    let claim = &r["data"]["withdrawClaim"]["claim"];
    assert_eq!(claim["status"], "CLOSED", "{r}");
    assert_eq!(claim["openRequestsForYou"], json!([]));
    let closed = json!({"status": "NO_LONGER_REQUIRED", "reason": "The claim was withdrawn.", "overdue": false});
    assert_eq!(claim["evidenceRequests"], json!([closed, closed]));
    let timeline = call(
        s.citizen.clone(),
        "query($c: ID!) { caseTimeline(caseId: $c, first: 50) { edges { node { line } } } }",
        json!({"c": s.case_id}),
    )
    .await;
    let lines = timeline["data"]["caseTimeline"]["edges"].to_string();
    assert!(
        lines.contains("is now no longer required. The claim was withdrawn."),
        "{lines}"
    );
}
both!(ending_a_case_closes_its_open_requests);

/// Idempotency across an upgrade: a record the previous build wrote (its
/// fingerprint a hash of the arguments' `Debug` text) is still recognised
/// as the same request; the new, canonical fingerprint does not change
/// when an optional argument is spelled out as null; a different request
/// under the key is still refused.
async fn replays_survive_the_fingerprint_upgrade(backend: Backend) {
    use sha2::Digest;
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let request = ask_evidence(&w, &cw, &s.case_id, "e1", "Audiology exam results").await;
    let review = "mutation($c: ID!, $r: ID!, $why: String) { reviewEvidence(caseId: $c, requestId: $r, status: NO_LONGER_REQUIRED, reason: $why, idempotencyKey: \"old-1\") { version replayed } }";
    let first = w
        .gql(Some(&cw), review, json!({"c": s.case_id, "r": request}))
        .await;
    assert_eq!(
        first["data"]["reviewEvidence"]["replayed"], false,
        "{first}"
    );
    // The previous build stored this for the same request.
    let legacy = hex::encode(sha2::Sha256::digest(
        format!(
            "reviewEvidence:(ID({:?}), (ID({request:?}), NoLongerRequired))",
            s.case_id
        )
        .as_bytes(),
    ));
    let rewritten = match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&w.t.url).await.unwrap();
            sqlx::query("UPDATE idempotency SET fingerprint = ?1 WHERE key = 'cw-1:old-1'")
                .bind(&legacy)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&w.t.url).await.unwrap();
            sqlx::query("UPDATE idempotency SET fingerprint = $1 WHERE key = 'cw-1:old-1'")
                .bind(&legacy)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
    };
    assert_eq!(rewritten, 1);
    // The retry after the upgrade: the same request, replayed (the reason
    // given as an explicit null changes nothing).
    let again = w
        .gql(
            Some(&cw),
            review,
            json!({"c": s.case_id, "r": request, "why": null}),
        )
        .await;
    assert_eq!(again["data"]["reviewEvidence"]["replayed"], true, "{again}");
    assert_eq!(
        again["data"]["reviewEvidence"]["version"],
        first["data"]["reviewEvidence"]["version"]
    );
    // A different request under that key is not a replay.
    let other = w
        .gql(
            Some(&cw),
            review,
            json!({"c": s.case_id, "r": request, "why": "Not needed"}),
        )
        .await;
    assert_eq!(
        error_code(&other),
        Some("IDEMPOTENCY_KEY_REUSED"),
        "{other}"
    );
    // New records: explicit null and absent are one request.
    let fresh = "mutation($c: ID!, $r: ID!, $why: String) { reviewEvidence(caseId: $c, requestId: $r, status: NEEDED_FROM_OTHERS, reason: $why, idempotencyKey: \"new-1\") { replayed } }";
    let second = ask_evidence(&w, &cw, &s.case_id, "e2", "Service records").await;
    let a = w
        .gql(Some(&cw), fresh, json!({"c": s.case_id, "r": second}))
        .await;
    assert_eq!(a["data"]["reviewEvidence"]["replayed"], false, "{a}");
    let b = w
        .gql(
            Some(&cw),
            fresh,
            json!({"c": s.case_id, "r": second, "why": null}),
        )
        .await;
    assert_eq!(b["data"]["reviewEvidence"]["replayed"], true, "{b}");
}
both!(replays_survive_the_fingerprint_upgrade);

/// A refusal's message names fields, never values; the ids and statuses it
/// is about are in `extensions`, under the field's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_fields_and_carry_values_in_extensions() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let review = "mutation($c: ID!, $r: ID!, $k: String!) { reviewEvidence(caseId: $c, requestId: $r, status: ACCEPTED, idempotencyKey: $k) { version } }";
    let missing = "0193a0c0-0000-7000-8000-00000000beef";
    let r = w
        .gql(
            Some(&cw),
            review,
            json!({"c": s.case_id, "r": missing, "k": "r1"}),
        )
        .await;
    assert_eq!(error_code(&r), Some("REQUEST_NOT_FOUND"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["requestId"], missing);
    assert_eq!(
        r["errors"][0]["message"],
        "the evidence request named in requestId is not on the case"
    );
    let request = ask_evidence(&w, &cw, &s.case_id, "e1", "Audiology exam results").await;
    let r = w
        .gql(
            Some(&cw),
            review,
            json!({"c": s.case_id, "r": request, "k": "r2"}),
        )
        .await;
    assert_eq!(error_code(&r), Some("INVALID_EVIDENCE_TRANSITION"), "{r}");
    let ext = &r["errors"][0]["extensions"];
    assert_eq!(
        (ext["from"].as_str(), ext["to"].as_str()),
        (Some("NEEDED_FROM_YOU"), Some("ACCEPTED"))
    );
    let message = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("Needed") && !message.contains("ACCEPTED"),
        "{message}"
    );
}

/// Bad input never crashes and always gets a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_limits_are_enforced() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let anonymous = w.gql(None, CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    let forged = w
        .gql(Some("not.a.jwt"), CLAIM, json!({"id": s.case_id}))
        .await;
    assert_eq!(error_code(&forged), Some("UNAUTHENTICATED"));
    let aliases: String = (0..40)
        .map(|i| format!("a{i}: claim(id: $id) {{ id }} "))
        .collect();
    let r = w
        .gql(
            Some(&s.citizen),
            &format!("query($id: ID!) {{ {aliases} }}"),
            json!({"id": s.case_id}),
        )
        .await;
    assert_eq!(error_code(&r), Some("GRAPHQL_VALIDATION_FAILED"), "{r}");
    let deep = format!(
        "{{ __schema {{ types {{ {} name {} }} }} }}",
        "fields { type { ofType { ".repeat(6),
        "} } } ".repeat(6)
    );
    let r = w.gql(Some(&s.citizen), &deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deep") || m.contains("depth")),
        "{r}"
    );
    assert_eq!(error_code(&r), Some("GRAPHQL_VALIDATION_FAILED"), "{r}");
    let r = w.gql(Some(&s.citizen), "{ noSuchField }", json!({})).await;
    assert_eq!(error_code(&r), Some("GRAPHQL_VALIDATION_FAILED"), "{r}");
    let r = w
        .gql(
            Some(&s.citizen),
            "{ claim(id: \"not-a-uuid\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&r), Some("BAD_USER_INPUT"));
    let r = w.gql(Some(&s.citizen), "{ claim(id: ", json!({})).await;
    assert_eq!(error_code(&r), Some("GRAPHQL_PARSE_FAILED"), "{r}");
    // A body that is not a GraphQL request: 400 with a coded error.
    for body in ["{\"query\": ", "[1, 2]", "{\"query\": 7}"] {
        let (status, r) = w.post("/graphql", &s.citizen, body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_code(&r), Some("BAD_REQUEST"), "{body}: {r}");
    }
    // No query at all is an empty document: a parse error, coded.
    let (status, r) = w.post("/graphql", &s.citizen, "{\"variables\": {}}").await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&r), Some("GRAPHQL_PARSE_FAILED"), "{r}");
    let r = w
        .gql(Some(&s.citizen), "mutation { submitClaim(idempotencyKey: \"k\", input: { benefitType: \"nope\", contentions: [\"x\"] }) { version } }", json!({}))
        .await;
    assert_eq!(error_code(&r), Some("BAD_USER_INPUT"));
    let r = w
        .gql(Some(&s.citizen), "mutation { submitClaim(idempotencyKey: \"k2\", input: { benefitType: \"BURIAL\", contentions: [\"x\"] }) { version } }", json!({}))
        .await;
    assert_eq!(error_code(&r), Some("UNKNOWN_BENEFIT_TYPE"));
}

/// The SDL is committed and snapshot-tested: a breaking change shows in review.
#[test]
fn schema_sdl_is_committed_and_snapshotted() {
    let sdl = graphql::sdl();
    insta::assert_snapshot!("schema_sdl", sdl);
    let committed = std::fs::read_to_string(format!(
        "{}/../graphql/schema.graphql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default();
    assert_eq!(
        committed, sdl,
        "run `omnicase schema` and commit graphql/schema.graphql"
    );
}

/// Agents set safety flags and a representative; the case context shows
/// them; work-queue rows show the claimant (masked), batched.
async fn claimant_flags_and_queue_rows(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    let r = w
        .gql(
            Some(&agent),
            "mutation($p: ID!) { setClaimantFlags(claimantId: $p, safety: [\"Threatened staff in 2024\"], accessibility: [\"Large print\"], idempotencyKey: \"f1\") { outcome } }",
            json!({"p": s.claimant}),
        )
        .await;
    assert_eq!(r["data"]["setClaimantFlags"]["outcome"], "UPDATED", "{r}");
    let r = w
        .gql(
            Some(&agent),
            "mutation($p: ID!) { setRepresentative(claimantId: $p, representative: { actor: \"rep-0451\", poaCode: \"083\" }, idempotencyKey: \"rp1\") { outcome } }",
            json!({"p": s.claimant}),
        )
        .await;
    assert_eq!(r["data"]["setRepresentative"]["outcome"], "UPDATED", "{r}");
    w.settle().await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let ctx = w
        .gql(Some(&cw), "query($p: ID!) { caseContext(claimantId: $p, purpose: \"review\") { flags { safety accessibility representative { poaCode } } } }", json!({"p": s.claimant}))
        .await;
    let flags = &ctx["data"]["caseContext"]["flags"];
    assert_eq!(flags["safety"][0], "Threatened staff in 2024", "{ctx}");
    assert_eq!(flags["accessibility"][0], "Large print");
    assert_eq!(flags["representative"]["poaCode"], "083");
    // Citizens cannot touch claimant records.
    let r = w
        .gql(Some(&s.citizen), "mutation($p: ID!) { setClaimantFlags(claimantId: $p, safety: [], accessibility: [], idempotencyKey: \"x\") { outcome } }", json!({"p": s.claimant}))
        .await;
    assert_eq!(error_code(&r), Some("NOT_FOUND"));

    let q = w
        .gql(Some(&cw), "{ workQueue(queue: UNASSIGNED) { edges { node { claimant { givenName fileNumber disclosed } } } } }", json!({}))
        .await;
    let c = &q["data"]["workQueue"]["edges"][0]["node"]["claimant"];
    assert_eq!(
        (
            c["givenName"].as_str(),
            c["fileNumber"].as_str(),
            c["disclosed"].as_bool()
        ),
        (Some("Alex"), Some("*****6789"), Some(false)),
        "{q}"
    );
}
both!(claimant_flags_and_queue_rows);

/// A request body over the limit is refused before parsing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let w = api_world(Backend::Sqlite).await;
    let huge = format!(
        "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(graphql::MAX_BODY_BYTES + 1)
    );
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("content-length", huge.len())
        .body(axum::body::Body::from(huge))
        .unwrap();
    let response = w.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    let _ = response.into_body().collect().await;
}

/// `omnicase token` mints tokens the API accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tokens_are_accepted() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let claimant = domain::ClaimantId::from_uuid(s.claimant.parse().unwrap());
    let token = services::cli::dev_token(
        &w.app,
        &app::auth::DevToken {
            tenant: tenant("alpha"),
            subject: domain::ActorId::parse("alex").unwrap(),
            roles: vec![Role::Citizen],
            sensitive: false,
            claimant: Some(claimant),
            office: None,
            ttl: chrono::Duration::hours(1),
        },
    )
    .unwrap();
    let r = w.gql(Some(&token), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(r["data"]["claim"]["status"], "RECEIVED", "{r}");
}

/// Operators' endpoints and GraphiQL in development.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_graphiql() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let w = api_world(Backend::Sqlite).await;
    let get = |path: &'static str| {
        let router = w.router.clone();
        async move {
            let response = router
                .oneshot(
                    axum::http::Request::get(path)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let has_id = response.headers().contains_key("x-request-id");
            let body = String::from_utf8(
                response
                    .into_body()
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes()
                    .to_vec(),
            )
            .unwrap();
            (status, has_id, body)
        }
    };
    let (status, has_id, body) = get("/healthz").await;
    assert_eq!((status.as_u16(), has_id, body.as_str()), (200, true, "ok"));
    let (status, _, body) = get("/readyz").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ready"));
    let (status, _, body) = get("/metrics").await;
    assert_eq!(status.as_u16(), 200);
    assert!(body.contains("omnicase_http_requests_total"), "{body}");
    let (status, _, body) = get("/graphql").await;
    assert_eq!(status.as_u16(), 200);
    assert!(body.contains("graphiql"), "GraphiQL page");
    // Its assets come from the binary (pinned, no CDN).
    for asset in graphql::graphiql::asset_names() {
        let path: &'static str = Box::leak(format!("/graphql/assets/{asset}").into_boxed_str());
        let (status, _, body) = get(path).await;
        assert_eq!(status.as_u16(), 200, "{asset}");
        assert!(body.len() > 1000, "{asset}");
    }
    let (status, _, _) = get("/graphql/assets/../../etc/passwd").await;
    assert_eq!(status.as_u16(), 404);
}

/// Web: the citizen answers an evidence request with an uploaded document
/// and submits the 5103 waiver, which closes the open 5103 notice.
async fn citizen_uploads_evidence_and_waives_5103(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let ask = "mutation($c: ID!, $d: String!, $n: Boolean!, $k: String!) { requestEvidence(caseId: $c, idempotencyKey: $k, input: { description: $d, neededFromClaimant: true, dueDate: \"2027-01-15\", notice5103: $n }) { version } }";
    w.gql(
        Some(&cw),
        ask,
        json!({"c": s.case_id, "d": "Private medical records", "n": false, "k": "e1"}),
    )
    .await;
    w.gql(
        Some(&cw),
        ask,
        json!({"c": s.case_id, "d": "5103 notice", "n": true, "k": "e2"}),
    )
    .await;
    let claim = w
        .gql(
            Some(&s.citizen),
            "query($id: ID!) { claim(id: $id) { openRequestsForYou { id description } } }",
            json!({"id": s.case_id}),
        )
        .await;
    let open = claim["data"]["claim"]["openRequestsForYou"]
        .as_array()
        .unwrap_or_else(|| panic!("{claim}"));
    assert_eq!(open.len(), 2);
    let records = open
        .iter()
        .find(|r| r["description"] == "Private medical records")
        .unwrap()["id"]
        .clone();

    let upload = "mutation($c: ID!, $r: ID!) { attachDocument(caseId: $c, idempotencyKey: \"u1\", input: { documentType: \"MEDICAL_RECORD\", pages: 3, checksum: \"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\", storageRef: \"uploads/alex/records.pdf\", requestId: $r }) { version claim { documents { documentType requestId } evidenceRequests { description status } } } }";
    let r = w
        .gql(
            Some(&s.citizen),
            upload,
            json!({"c": s.case_id, "r": records}),
        )
        .await;
    let claim = &r["data"]["attachDocument"]["claim"];
    assert_eq!(claim["documents"][0]["requestId"], records, "{r}");
    let status = |claim: &Value, d: &str| {
        claim["evidenceRequests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["description"] == d)
            .map(|e| e["status"].clone())
    };
    assert_eq!(
        status(claim, "Private medical records"),
        Some(json!("SUBMITTED_AWAITING_REVIEW"))
    );
    // The same upload again (a retry) changes nothing.
    let again = w
        .gql(
            Some(&s.citizen),
            upload,
            json!({"c": s.case_id, "r": records}),
        )
        .await;
    assert_eq!(
        again["data"]["attachDocument"]["version"],
        r["data"]["attachDocument"]["version"]
    );

    let waive = w
        .gql(Some(&s.citizen), "mutation($c: ID!) { submitWaiver5103(caseId: $c, idempotencyKey: \"w1\") { claim { evidenceWaiverSubmitted5103 evidenceRequests { description status } openRequestsForYou { description } } } }", json!({"c": s.case_id}))
        .await;
    let claim = &waive["data"]["submitWaiver5103"]["claim"];
    assert_eq!(claim["evidenceWaiverSubmitted5103"], true, "{waive}");
    assert_eq!(
        status(claim, "5103 notice"),
        Some(json!("NO_LONGER_REQUIRED"))
    );
    assert_eq!(
        claim["openRequestsForYou"].as_array().map(Vec::len),
        Some(0)
    );
    let twice = w.gql(Some(&s.citizen), "mutation($c: ID!) { submitWaiver5103(caseId: $c, idempotencyKey: \"w2\") { version } }", json!({"c": s.case_id})).await;
    assert_eq!(error_code(&twice), Some("WAIVER_ALREADY_SUBMITTED"));
}
both!(citizen_uploads_evidence_and_waives_5103);

/// The citizen's data tracker: which office and role read their data,
/// when and why; the person's name only where the agency chose to show it;
/// their own reads and other people's records are not in it.
async fn citizens_see_who_read_their_data(backend: Backend) {
    let log = "{ myDataAccessLog(first: 20) { edges { node { office roles action description purpose outcome reader } } } }";
    for names_staff in [false, true] {
        let w = api_world_with(backend, |s| {
            s.tenants.get_mut("alpha").unwrap().access_log_names_staff = names_staff;
        })
        .await;
        let s = seed(&w, "alpha", "123456789").await;
        let other = seed(&w, "alpha", "987654321").await;
        let agent = w.token_with_office(
            "alpha",
            "agent-5",
            &[Role::Agent],
            None,
            false,
            Some("east-01"),
        );
        let cw = w.token_with_office(
            "alpha",
            "cw-5",
            &[Role::Caseworker],
            None,
            false,
            Some("west-02"),
        );
        let r = w.gql(Some(&agent), CONTEXT, json!({"p": s.claimant})).await;
        assert!(r["errors"].is_null(), "{r}");
        let r = w.gql(Some(&cw), CLAIM, json!({"id": s.case_id})).await;
        assert!(r["errors"].is_null(), "{r}");
        let r = w.gql(Some(&cw), CLAIM, json!({"id": other.case_id})).await;
        assert!(r["errors"].is_null(), "{r}");
        // The citizen's own reads are not "access by the agency".
        w.gql(Some(&s.citizen), CLAIM, json!({"id": s.case_id}))
            .await;

        let r = w.gql(Some(&s.citizen), log, json!({})).await;
        let entries: Vec<&Value> = r["data"]["myDataAccessLog"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|e| &e["node"])
            .collect();
        let (reader_cw, reader_agent) = if names_staff {
            (json!("cw-5"), json!("agent-5"))
        } else {
            (Value::Null, Value::Null)
        };
        // Newest first: the caseworker's read of the claim, then the
        // agent's look at the record during the call.
        assert_eq!(
            entries[0],
            &json!({"office": "west-02", "roles": ["CASEWORKER"], "action": "READ_CLAIM", "description": "Looked at your claim", "purpose": null, "outcome": "ALLOWED", "reader": reader_cw}),
            "{r}"
        );
        assert_eq!(
            entries[1],
            &json!({"office": "east-01", "roles": ["AGENT"], "action": "READ_CASE_CONTEXT", "description": "Opened your record (a call or a visit)", "purpose": "inbound call", "outcome": "ALLOWED", "reader": reader_agent}),
            "{r}"
        );
        assert_eq!(entries.len(), 2, "only these two staff reads: {r}");
        // Staff cannot read a citizen's tracker as if it were theirs.
        let refused = w.gql(Some(&cw), log, json!({})).await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"));
    }
}
both!(citizens_see_who_read_their_data);

/// Every staff read of case data is in the audit log before the answer:
/// a work queue page records each case shown (one statement), and a read
/// whose record cannot be written is not answered (fail closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reads_are_audited_and_fail_closed() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    w.settle().await;
    let cw = w.token("alpha", "cw-6", &[Role::Caseworker], None, false);
    let page = w
        .gql(
            Some(&cw),
            "{ workQueue(queue: UNASSIGNED) { edges { node { caseId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["data"]["workQueue"]["edges"][0]["node"]["caseId"], s.case_id,
        "{page}"
    );
    let mail = w
        .gql(
            Some(&cw),
            "{ unidentifiedMail { edges { node { documentId } } } }",
            json!({}),
        )
        .await;
    assert!(mail["errors"].is_null(), "{mail}");
    let supervisor = w.token("alpha", "sup-1", &[Role::Supervisor], None, false);
    let audit = w
        .gql(
            Some(&supervisor),
            "{ auditLog(first: 50) { edges { node { actor action subjectId outcome } } } }",
            json!({}),
        )
        .await;
    let rows = audit["data"]["auditLog"]["edges"].to_string();
    assert!(
        rows.contains(&format!(
            "{{\"action\":\"READ_WORK_QUEUE\",\"actor\":\"cw-6\",\"outcome\":\"ALLOWED\",\"subjectId\":\"{}\"}}",
            s.case_id
        )),
        "{rows}"
    );
    // The citizen sees it in their data tracker.
    let tracker = w
        .gql(
            Some(&s.citizen),
            "{ myDataAccessLog { edges { node { action description } } } }",
            json!({}),
        )
        .await;
    assert!(
        tracker
            .to_string()
            .contains("Saw your claim in a work queue"),
        "{tracker}"
    );

    // The audit log cannot be written: staff reads fail, coded; the
    // citizen's own read (not an access by the agency) still works.
    let pool = sqlx::SqlitePool::connect(&w.t.url).await.unwrap();
    sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_away")
        .execute(&pool)
        .await
        .unwrap();
    let refused = w.gql(Some(&cw), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(refused["data"], Value::Null, "{refused}");
    assert!(error_code(&refused).is_some(), "{refused}");
    let own = w
        .gql(Some(&s.citizen), CLAIM, json!({"id": s.case_id}))
        .await;
    assert_eq!(own["data"]["claim"]["id"], s.case_id, "{own}");
}

const UPLOAD: &str = "mutation($c: ID!, $k: String!) { attachDocument(caseId: $c, idempotencyKey: $k, input: { documentType: \"MEDICAL_RECORD\", pages: 2, checksum: \"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\", storageRef: \"uploads/alex/late.pdf\" }) { version claim { phase phaseBack phaseBackReason estimatedCompletion { earliest reason } documents { id needsLink lateEvidence noLinkReason } } } }";

const DOCUMENT_QUEUE: &str = "query($k: QueueKind!, $n: Int, $a: String) { workQueue(queue: $k, first: $n, after: $a) { pageInfo { hasNextPage endCursor } edges { node { caseId daysWaiting document { id documentType needsLink lateEvidence } } } } }";

/// The document ids of a document queue, as the caller sees it, page by
/// page (`first` items a page).
async fn document_queue(w: &ApiWorld, token: &str, kind: &str, first: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = w
            .gql(
                Some(token),
                DOCUMENT_QUEUE,
                json!({"k": kind, "n": first, "a": after}),
            )
            .await;
        let page = &r["data"]["workQueue"];
        for edge in page["edges"].as_array().unwrap_or_else(|| panic!("{r}")) {
            ids.push(edge["node"]["document"]["id"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Moves a case (assigned to the caseworker) to PREPARATION_FOR_DECISION.
async fn prepare_for_decision(w: &ApiWorld, cw: &str, case_id: &str) {
    let assign =
        "mutation($c: ID!) { assignCase(caseId: $c, idempotencyKey: \"assign\") { version } }";
    w.gql(Some(cw), assign, json!({"c": case_id})).await;
    let phase = "mutation($c: ID!, $p: Phase!, $k: String!) { changePhase(caseId: $c, phase: $p, idempotencyKey: $k) { claim { phase } } }";
    for p in ["GATHERING_OF_EVIDENCE", "PREPARATION_FOR_DECISION"] {
        let r = w
            .gql(Some(cw), phase, json!({"c": case_id, "p": p, "k": p}))
            .await;
        assert_eq!(r["data"]["changePhase"]["claim"]["phase"], p, "{r}");
    }
}

/// Evidence after evidence gathering: by default the case goes back to
/// GATHERING_OF_EVIDENCE (reason shown, estimate recomputed and
/// explained); where the agency chose WORK_ITEM the phase stays and the
/// assigned caseworker's LATE_EVIDENCE queue holds the document until they
/// acknowledge it. Evidence without a request waits in UNLINKED_DOCUMENTS
/// (one item per document, paged) until linked or marked as needing none.
async fn late_and_unlinked_evidence_reach_the_caseworker(backend: Backend) {
    let w = api_world_with(backend, |s| {
        for (name, tenant) in s.tenants.iter_mut() {
            if let Some(b) = tenant.benefits.get_mut("COMPENSATION") {
                b.estimate_days
                    .insert("PREPARATION_FOR_DECISION".into(), [20, 60]);
            }
            if name == "beta" {
                tenant.late_evidence = engine::LateEvidenceRule::WorkItem;
            }
        }
    })
    .await;

    // alpha: the default rule, a phase-back.
    let s = seed(&w, "alpha", "123456789").await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    prepare_for_decision(&w, &cw, &s.case_id).await;
    let r = w
        .gql(
            Some(&s.citizen),
            UPLOAD,
            json!({"c": s.case_id, "k": "late-1"}),
        )
        .await;
    assert_eq!(error_code(&r), None, "{r}");
    let staff = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { phase phaseBack phaseBackReason estimatedCompletion { reason } documents { id needsLink lateEvidence } } }",
            json!({"id": s.case_id}),
        )
        .await;
    let claim = &staff["data"]["claim"];
    assert_eq!(claim["phase"], "GATHERING_OF_EVIDENCE", "{staff}");
    assert_eq!(claim["phaseBack"], true);
    assert!(
        claim["phaseBackReason"]
            .as_str()
            .is_some_and(|r| r.starts_with("New evidence arrived after evidence gathering")),
        "{staff}"
    );
    assert_eq!(
        claim["estimatedCompletion"]["reason"],
        "more work is needed on the claim"
    );
    assert_eq!(claim["documents"][0]["needsLink"], true);
    assert_eq!(claim["documents"][0]["lateEvidence"], false);
    // The citizen sees neither the internal phase nor the queue flags.
    let mine = w
        .gql(
            Some(&s.citizen),
            "query($id: ID!) { claim(id: $id) { status documents { needsLink lateEvidence } } }",
            json!({"id": s.case_id}),
        )
        .await;
    assert_eq!(
        mine["data"]["claim"]["status"],
        "EVIDENCE_GATHERING_REVIEW_DECISION"
    );
    assert_eq!(
        mine["data"]["claim"]["documents"][0]["needsLink"],
        Value::Null
    );
    assert_eq!(
        mine["data"]["claim"]["documents"][0]["lateEvidence"],
        Value::Null
    );

    // Three unlinked documents, paged one at a time, each an item.
    for k in ["late-2", "late-3"] {
        w.gql(Some(&s.citizen), UPLOAD, json!({"c": s.case_id, "k": k}))
            .await;
    }
    let waiting = document_queue(&w, &cw, "UNLINKED_DOCUMENTS", 1).await;
    assert_eq!(waiting.len(), 3, "{waiting:?}");
    assert_eq!(
        document_queue(&w, &cw, "UNLINKED_DOCUMENTS", 2).await,
        waiting
    );
    // Another agency's caseworker sees none of them.
    let other_agency = w.token("beta", "cw-9", &[Role::Caseworker], None, false);
    assert!(document_queue(&w, &other_agency, "UNLINKED_DOCUMENTS", 10)
        .await
        .is_empty());
    // Citizens and agents have no work queues.
    let refused = w
        .gql(
            Some(&s.citizen),
            DOCUMENT_QUEUE,
            json!({"k": "UNLINKED_DOCUMENTS"}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");

    // One is linked to a request, one marked as needing none: one is left.
    let request = ask_evidence(&w, &cw, &s.case_id, "ask", "Audiology exam results").await;
    let link = "mutation($c: ID!, $d: ID!, $r: ID!) { linkDocument(caseId: $c, documentId: $d, requestId: $r, idempotencyKey: \"link\") { version } }";
    let r = w
        .gql(
            Some(&cw),
            link,
            json!({"c": s.case_id, "d": waiting[0], "r": request}),
        )
        .await;
    assert_eq!(error_code(&r), None, "{r}");
    let mark = "mutation($c: ID!, $d: ID!, $why: String!, $k: String!) { markDocumentNeedsNoLink(caseId: $c, documentId: $d, reason: $why, idempotencyKey: $k) { claim { documents { id needsLink noLinkReason } } } }";
    let r = w
        .gql(
            Some(&cw),
            mark,
            json!({"c": s.case_id, "d": waiting[1], "why": "A second copy of the first upload", "k": "mark"}),
        )
        .await;
    let docs = r["data"]["markDocumentNeedsNoLink"]["claim"]["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"));
    let marked = docs
        .iter()
        .find(|d| d["id"] == waiting[1].as_str())
        .unwrap();
    assert_eq!(marked["needsLink"], false);
    assert_eq!(marked["noLinkReason"], "A second copy of the first upload");
    assert_eq!(
        document_queue(&w, &cw, "UNLINKED_DOCUMENTS", 10).await,
        vec![waiting[2].clone()]
    );
    // An unknown document is a coded refusal naming the field.
    let r = w
        .gql(
            Some(&cw),
            mark,
            json!({"c": s.case_id, "d": s.case_id, "why": "x", "k": "mark-2"}),
        )
        .await;
    assert_eq!(error_code(&r), Some("DOCUMENT_NOT_FOUND"), "{r}");
    // A malformed cursor is bad input, not a crash.
    let r = w
        .gql(
            Some(&cw),
            DOCUMENT_QUEUE,
            json!({"k": "UNLINKED_DOCUMENTS", "a": "2026-01-01T00:00:00Z|nope"}),
        )
        .await;
    assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{r}");

    // beta: the work-item rule.
    let s = seed(&w, "beta", "223456789").await;
    let cw = w.token("beta", "cw-1", &[Role::Caseworker], None, false);
    prepare_for_decision(&w, &cw, &s.case_id).await;
    let r = w
        .gql(
            Some(&s.citizen),
            UPLOAD,
            json!({"c": s.case_id, "k": "late-1"}),
        )
        .await;
    assert_eq!(error_code(&r), None, "{r}");
    let late = document_queue(&w, &cw, "LATE_EVIDENCE", 10).await;
    assert_eq!(late.len(), 1);
    let claim = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { phase phaseBack } }",
            json!({"id": s.case_id}),
        )
        .await;
    assert_eq!(claim["data"]["claim"]["phase"], "PREPARATION_FOR_DECISION");
    assert_eq!(claim["data"]["claim"]["phaseBack"], false);
    // The item is for the assigned caseworker, not for a colleague.
    let colleague = w.token("beta", "cw-2", &[Role::Caseworker], None, false);
    assert!(document_queue(&w, &colleague, "LATE_EVIDENCE", 10)
        .await
        .is_empty());
    let ack = "mutation($c: ID!, $d: ID!, $k: String!) { acknowledgeLateEvidence(caseId: $c, documentId: $d, idempotencyKey: $k) { claim { phase documents { lateEvidence } } } }";
    let r = w
        .gql(
            Some(&cw),
            ack,
            json!({"c": s.case_id, "d": late[0], "k": "ack"}),
        )
        .await;
    let claim = &r["data"]["acknowledgeLateEvidence"]["claim"];
    assert_eq!(claim["phase"], "PREPARATION_FOR_DECISION", "{r}");
    assert_eq!(claim["documents"][0]["lateEvidence"], false);
    assert!(document_queue(&w, &cw, "LATE_EVIDENCE", 10)
        .await
        .is_empty());
    // Still unlinked: the association queue is a separate matter.
    assert_eq!(
        document_queue(&w, &cw, "UNLINKED_DOCUMENTS", 10).await,
        late
    );
}
both!(late_and_unlinked_evidence_reach_the_caseworker);

/// How many audit records name `action` on `subject` by `actor`, as a
/// supervisor reads the log.
async fn audited(w: &ApiWorld, tenant: &str, actor: &str, action: &str, subject: &str) -> usize {
    let supervisor = w.token(tenant, "sup-audit", &[Role::Supervisor], None, false);
    let log = w
        .gql(
            Some(&supervisor),
            "{ auditLog(first: 100) { edges { node { actor action subjectId } } } }",
            json!({}),
        )
        .await;
    log["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .iter()
        .filter(|e| {
            let n = &e["node"];
            n["actor"] == actor && n["action"] == action && n["subjectId"] == subject
        })
        .count()
}

/// Every staff read of case data is on the audit log before the answer:
/// concurrent reads (written together) each get their record, a mutation
/// whose answer includes the claim records a read (one that does not ask
/// for it does not), each update a subscribed caseworker receives is
/// recorded, and reading the audit log is itself recorded.
async fn every_staff_read_is_audited(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    w.settle().await;
    let cw = w.token("alpha", "cw-7", &[Role::Caseworker], None, false);
    let before = w.app.read.audit_count().await.unwrap();
    let reads = (0..24).map(|_| w.gql(Some(&cw), CLAIM, json!({"id": s.case_id})));
    for r in futures_util::future::join_all(reads).await {
        assert_eq!(r["data"]["claim"]["id"], s.case_id, "{r}");
    }
    assert_eq!(w.app.read.audit_count().await.unwrap() - before, 24);
    assert_eq!(
        audited(&w, "alpha", "cw-7", "READ_CLAIM", &s.case_id).await,
        24
    );

    let assign =
        "mutation($c: ID!, $k: String!) { assignCase(caseId: $c, idempotencyKey: $k) { version } }";
    w.gql(Some(&cw), assign, json!({"c": s.case_id, "k": "a1"}))
        .await;
    assert_eq!(
        audited(&w, "alpha", "cw-7", "READ_CLAIM", &s.case_id).await,
        24
    );
    let route = "mutation($c: ID!) { routeToTeam(caseId: $c, team: \"east\", idempotencyKey: \"t1\") { claim { team } } }";
    let r = w.gql(Some(&cw), route, json!({"c": s.case_id})).await;
    assert_eq!(r["data"]["routeToTeam"]["claim"]["team"], "east", "{r}");
    assert_eq!(
        audited(&w, "alpha", "cw-7", "READ_CLAIM", &s.case_id).await,
        25
    );

    // The log's own reads: the helper read it three times.
    assert!(audited(&w, "alpha", "sup-audit", "READ_AUDIT_LOG", "").await >= 3);

    // A subscribed caseworker: the update is recorded before it is sent.
    let addr = w.serve().await;
    let watcher = w.token("alpha", "cw-8", &[Role::Caseworker], None, false);
    let mut ws = crate::socket::connect(addr, &watcher).await;
    crate::socket::send(&mut ws, json!({"id": "1", "type": "subscribe", "payload": {"query": crate::socket::SUBSCRIBE, "variables": {"id": s.case_id}}})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    crate::socket::under_review(&w, &s.case_id).await;
    let msg = crate::socket::next(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(
        audited(&w, "alpha", "cw-8", "READ_CLAIM_UPDATE", &s.case_id).await,
        1
    );
    // The citizen's data tracker says so in plain words.
    let tracker = w
        .gql(
            Some(&s.citizen),
            "{ myDataAccessLog(first: 50) { edges { node { action description } } } }",
            json!({}),
        )
        .await;
    assert!(
        tracker.to_string().contains("Saw an update of your claim"),
        "{tracker}"
    );
}
both!(every_staff_read_is_audited);

/// A read-model document or column holding a code this build does not
/// know (a status written by another version, a damaged row) is an error:
/// `INTERNAL`, logged and counted in `omnicase_read_failures_total`, never
/// shown as a guessed status.
async fn unknown_codes_in_read_models_are_errors_not_guesses(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let fine = w
        .gql(Some(&s.citizen), CLAIM, json!({"id": s.case_id}))
        .await;
    assert_eq!(fine["data"]["claim"]["status"], "RECEIVED", "{fine}");

    let damage = r#"UPDATE rm_cases SET status = 'ON_HOLD',
        view = replace(view, '"status":"RECEIVED"', '"status":"ON_HOLD"')"#;
    match &w.t.raw {
        Raw::Postgres(pg) => sqlx::query(damage).execute(pg.pool()).await.map(drop),
        Raw::Sqlite(lite) => sqlx::query(damage).execute(lite.writer()).await.map(drop),
    }
    .unwrap();

    let claim = w
        .gql(Some(&s.citizen), CLAIM, json!({"id": s.case_id}))
        .await;
    assert_eq!(error_code(&claim), Some("INTERNAL"), "{claim}");
    assert!(
        claim["data"]["claim"].is_null(),
        "no guessed status: {claim}"
    );
    let caseworker = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let queue = w
        .gql(
            Some(&caseworker),
            "{ workQueue(queue: UNASSIGNED) { edges { node { caseId status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&queue), Some("INTERNAL"), "{queue}");

    let (_, metrics) = w.get_text("/metrics").await;
    for what in ["document", "unknown_code"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("omnicase_read_failures_total")
                    && l.contains(&format!("what=\"{what}\""))),
            "{what} failures are counted:\n{metrics}"
        );
    }
}
both!(unknown_codes_in_read_models_are_errors_not_guesses);
