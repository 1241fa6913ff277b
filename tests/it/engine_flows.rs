//! Command flows through the engine on both stores.

use domain::case::{Adjudication, NewChannelEntry};
use domain::*;
use engine::{EngineError, Outcome};
use store::EventMetadata;
use tests::*;

fn code<T: std::fmt::Debug>(r: Result<T, EngineError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e.code().as_str(),
    }
}

/// Web first, then paper mail with an older postmark: the mail joins the
/// case as a duplicate entry and moves the claim date back, with a reason;
/// every event carries actor, channel, correlation id and idempotency key.
async fn later_mail_with_earlier_postmark_moves_claim_date_back(backend: Backend) {
    let w = world(backend).await;
    let claimant = w.claimant("alpha", "123456789").await;
    let web = w
        .engine
        .submit_claim(
            &env("alpha", "citizen-1").channel(Channel::Web),
            submission(claimant, Channel::Web, "web-1", at(10, 9)),
        )
        .await
        .unwrap();
    assert_eq!(
        (web.outcome, web.version),
        (Outcome::Created, 2),
        "ClaimSubmitted + EstimateChanged"
    );
    let mail_env = env("alpha", "mailroom").channel(Channel::MailScan);
    let mail = w
        .engine
        .submit_claim(
            &mail_env,
            submission(claimant, Channel::MailScan, "batch-1/doc-1", at(3, 0)),
        )
        .await
        .unwrap();
    assert_eq!(
        (mail.stream_id, mail.outcome, mail.version),
        (web.stream_id, Outcome::AttachedAsDuplicate, 4)
    );

    let events =
        w.t.log
            .read_stream(&tenant("alpha"), web.stream_id, 2)
            .await
            .unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["ChannelEntryAttached", "ClaimDateChanged"]);
    assert!(
        events[1].payload.contains("\"reason\":\"EARLIER_RECEIPT\""),
        "{}",
        events[1].payload
    );
    let meta: EventMetadata = serde_json::from_str(&events[0].metadata).unwrap();
    assert_eq!(meta.actor, "mailroom");
    assert_eq!(meta.channel.as_deref(), Some("MAIL_SCAN"));
    assert_eq!(meta.command, "AttachChannelEntry");
    assert_eq!(meta.correlation_id, mail_env.correlation_id);
    assert_eq!(
        meta.idempotency_key.as_deref(),
        Some("MAIL_SCAN:batch-1/doc-1")
    );

    let (case, _) = w
        .engine
        .load_case(&tenant("alpha"), CaseId::from_uuid(web.stream_id))
        .await
        .unwrap();
    let file = case.file().unwrap();
    assert_eq!(file.claim_date, at(3, 0));
    assert_eq!(file.entries[1].duplicate_of, Some(file.entries[0].id));
}
both!(later_mail_with_earlier_postmark_moves_claim_date_back);

/// A withdrawn case releases the open claim: the next submission for the
/// same claimant and benefit opens a new case.
async fn withdrawal_releases_the_open_claim(backend: Backend) {
    let w = world(backend).await;
    let claimant = w.claimant("alpha", "123456789").await;
    let first = w
        .engine
        .submit_claim(
            &env("alpha", "c"),
            submission(claimant, Channel::Web, "w1", at(1, 9)),
        )
        .await
        .unwrap();
    let id = CaseId::from_uuid(first.stream_id);
    w.engine
        .execute(
            &env("alpha", "c"),
            id,
            CaseCommand::Withdraw { reason: None },
        )
        .await
        .unwrap();
    assert_eq!(
        w.engine
            .open_claim(&tenant("alpha"), claimant, &compensation())
            .await
            .unwrap(),
        None
    );
    let (case, _) = w.engine.load_case(&tenant("alpha"), id).await.unwrap();
    assert_eq!(case.file().unwrap().citizen_status(), CitizenStatus::Closed);
    assert_eq!(
        code(
            w.engine
                .execute(&env("alpha", "c"), id, CaseCommand::Unassign)
                .await
        ),
        "CASE_CLOSED"
    );
    let second = w
        .engine
        .submit_claim(
            &env("alpha", "c"),
            submission(claimant, Channel::Web, "w2", at(5, 9)),
        )
        .await
        .unwrap();
    assert_eq!(second.outcome, Outcome::Created);
    assert_ne!(second.stream_id, first.stream_id);
}
both!(withdrawal_releases_the_open_claim);

/// Decision with four eyes, letter mailed, appeal opened as a linked case;
/// a second appeal of the same contention is refused while the first is
/// active and accepted after it is withdrawn.
async fn decision_four_eyes_and_appeals(backend: Backend) {
    let w = world(backend).await;
    let (claimant, id) = w.web_claim("alpha", "123456789").await;
    for phase in [
        Phase::UnderReview,
        Phase::GatheringOfEvidence,
        Phase::ReviewOfEvidence,
        Phase::PreparationForDecision,
    ] {
        w.advance(id, phase).await;
    }
    let (case, _) = w.engine.load_case(&tenant("alpha"), id).await.unwrap();
    let contentions: Vec<ContentionId> = case
        .file()
        .unwrap()
        .contentions
        .iter()
        .map(|c| c.id)
        .collect();
    let propose = CaseCommand::ProposeDecision {
        adjudications: vec![
            (contentions[0], Adjudication::Granted),
            (contentions[1], Adjudication::Denied),
        ],
        close_requests: Vec::new(),
    };
    w.engine
        .execute(&env("alpha", "caseworker-1"), id, propose)
        .await
        .unwrap();
    assert_eq!(
        code(
            w.engine
                .execute(
                    &env("alpha", "caseworker-1"),
                    id,
                    CaseCommand::ApproveDecision
                )
                .await
        ),
        "FOUR_EYES_VIOLATION"
    );
    w.engine
        .execute(
            &env("alpha", "approver-1"),
            id,
            CaseCommand::ApproveDecision,
        )
        .await
        .unwrap();
    w.engine
        .execute(
            &env("alpha", "approver-1"),
            id,
            CaseCommand::MailDecisionLetter {
                mailed_at: at(20, 8),
            },
        )
        .await
        .unwrap();
    let (case, _) = w.engine.load_case(&tenant("alpha"), id).await.unwrap();
    let file = case.file().unwrap();
    assert_eq!(file.citizen_status(), CitizenStatus::Complete);
    assert_eq!(
        file.decision.as_ref().map(|d| d.outcome.code()),
        Some("PARTIAL")
    );
    // Completing the case released its open claim.
    assert_eq!(
        w.engine
            .open_claim(&tenant("alpha"), claimant, &compensation())
            .await
            .unwrap(),
        None
    );

    let entry = |n: &str| NewChannelEntry {
        id: EntryId::generate(),
        channel: Channel::Web,
        external_id: ExternalId::parse(n).unwrap(),
        received_at: at(22, 9),
        submitted_by: Submitter::Claimant,
    };
    let appeal = w
        .engine
        .file_appeal(&env("alpha", "c"), id, contentions[1], entry("appeal-1"))
        .await
        .unwrap();
    let appeal_id = CaseId::from_uuid(appeal.stream_id);
    let (appeal_case, _) = w
        .engine
        .load_case(&tenant("alpha"), appeal_id)
        .await
        .unwrap();
    let link = appeal_case.file().unwrap().appeal_of.unwrap();
    assert_eq!((link.original_case, link.contention), (id, contentions[1]));
    assert_eq!(
        code(
            w.engine
                .file_appeal(&env("alpha", "c"), id, contentions[1], entry("appeal-2"))
                .await
        ),
        "DUPLICATE_APPEAL"
    );
    // Withdrawing the appeal concludes it on the original, atomically.
    w.engine
        .execute(
            &env("alpha", "c"),
            appeal_id,
            CaseCommand::Withdraw { reason: None },
        )
        .await
        .unwrap();
    let (case, _) = w.engine.load_case(&tenant("alpha"), id).await.unwrap();
    assert!(case.file().unwrap().active_appeals.is_empty());
    w.engine
        .file_appeal(&env("alpha", "c"), id, contentions[1], entry("appeal-3"))
        .await
        .unwrap();
}
both!(decision_four_eyes_and_appeals);

/// Two appeals of the same contention racing: one case opens.
async fn racing_appeals_open_one_case(backend: Backend) {
    let w = world(backend).await;
    let id = w.web_case("alpha", "123456789").await;
    for phase in [Phase::UnderReview, Phase::PreparationForDecision] {
        w.advance(id, phase).await;
    }
    let (case, _) = w.engine.load_case(&tenant("alpha"), id).await.unwrap();
    let cs: Vec<ContentionId> = case
        .file()
        .unwrap()
        .contentions
        .iter()
        .map(|c| c.id)
        .collect();
    let adjudications = cs.iter().map(|c| (*c, Adjudication::Denied)).collect();
    w.engine
        .execute(
            &env("alpha", "cw"),
            id,
            CaseCommand::ProposeDecision {
                adjudications,
                close_requests: Vec::new(),
            },
        )
        .await
        .unwrap();
    w.engine
        .execute(&env("alpha", "ap"), id, CaseCommand::ApproveDecision)
        .await
        .unwrap();
    w.engine
        .execute(
            &env("alpha", "ap"),
            id,
            CaseCommand::MailDecisionLetter {
                mailed_at: at(9, 9),
            },
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let engine = w.engine.clone();
            let contention = cs[0];
            tokio::spawn(async move {
                let entry = NewChannelEntry {
                    id: EntryId::generate(),
                    channel: Channel::Web,
                    external_id: ExternalId::parse(&format!("appeal-{n}")).unwrap(),
                    received_at: at(12, 9),
                    submitted_by: Submitter::Claimant,
                };
                engine
                    .file_appeal(&env("alpha", "c"), id, contention, entry)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.code().as_str(), "DUPLICATE_APPEAL"),
        }
    }
    assert_eq!(ok, 1);
}
both!(racing_appeals_open_one_case);

/// The caller's expected version is checked, and a conflict reports the
/// current version; a reused idempotency key with another command is refused.
async fn version_conflict_and_key_reuse_are_reported(backend: Backend) {
    let w = world(backend).await;
    let id = w.web_case("alpha", "123456789").await;
    let team = |t: &str| CaseCommand::RouteToTeam {
        team: TeamCode::parse(t).unwrap(),
    };
    match w
        .engine
        .execute(&env("alpha", "s").expected_version(1), id, team("east"))
        .await
    {
        Err(EngineError::VersionConflict { current }) => assert_eq!(current, 2),
        other => panic!("expected VERSION_CONFLICT, got {other:?}"),
    }
    w.engine
        .execute(&env("alpha", "s").expected_version(2), id, team("east"))
        .await
        .unwrap();
    let keyed = env("alpha", "s").idempotency_key("k-1");
    w.engine.execute(&keyed, id, team("west")).await.unwrap();
    assert!(
        w.engine
            .execute(&keyed, id, team("west"))
            .await
            .unwrap()
            .replayed
    );
    assert_eq!(
        code(w.engine.execute(&keyed, id, team("north")).await),
        "IDEMPOTENCY_KEY_REUSED"
    );
}
both!(version_conflict_and_key_reuse_are_reported);

/// Refusals that come from configuration and look-ups are coded.
async fn lookups_and_configuration_refusals(backend: Backend) {
    let w = world(backend).await;
    let claimant = w.claimant("alpha", "123456789").await;
    let mut s = submission(claimant, Channel::Web, "w1", at(1, 9));
    s.benefit = BenefitType::parse("BURIAL").unwrap();
    assert_eq!(
        code(w.engine.submit_claim(&env("alpha", "c"), s).await),
        "UNKNOWN_BENEFIT_TYPE"
    );
    let ghost = ClaimantId::generate();
    assert_eq!(
        code(
            w.engine
                .submit_claim(
                    &env("alpha", "c"),
                    submission(ghost, Channel::Web, "w2", at(1, 9))
                )
                .await
        ),
        "CLAIMANT_NOT_FOUND"
    );
    assert_eq!(
        code(
            w.engine
                .submit_claim(
                    &env("gamma", "c"),
                    submission(claimant, Channel::Web, "w3", at(1, 9))
                )
                .await
        ),
        "UNKNOWN_TENANT"
    );
    assert_eq!(
        code(
            w.engine
                .execute(
                    &env("alpha", "c"),
                    CaseId::generate(),
                    CaseCommand::Unassign
                )
                .await
        ),
        "CLAIM_NOT_FOUND"
    );
    match w
        .engine
        .register_claimant(&env("alpha", "clerk"), pii("123456789"))
        .await
    {
        Err(EngineError::ClaimantAlreadyRegistered { existing }) => assert_eq!(existing, claimant),
        other => panic!("expected CLAIMANT_ALREADY_REGISTERED, got {other:?}"),
    }
    assert_eq!(
        w.engine
            .find_claimant(&tenant("alpha"), &FileNumber::parse("123456789").unwrap())
            .await
            .unwrap(),
        Some(claimant)
    );
}
both!(lookups_and_configuration_refusals);

/// Personal data lives only in claimant events, inside `pii`; case events
/// name the claimant by id.
async fn case_events_carry_no_personal_data(backend: Backend) {
    let w = world(backend).await;
    w.web_case("alpha", "123456789").await;
    let feed = w.t.all_events().await;
    // Text values only: ids, hashes and sub-second timestamps may contain
    // "6789" by chance.
    fn texts(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s)
                if uuid::Uuid::try_parse(s).is_err()
                    && chrono::DateTime::parse_from_rfc3339(s).is_err()
                    && !(s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())) =>
            {
                out.push(s.clone())
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| texts(i, out)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.push(k.clone());
                    texts(v, out);
                }
            }
            other => out.push(other.to_string()),
        }
    }
    for e in &feed {
        let mut values = Vec::new();
        for doc in [&e.payload, &e.metadata] {
            texts(&serde_json::from_str(doc).unwrap(), &mut values);
        }
        let carries_pii = ["123456789", "Alex", "Rivera", "1980-04-02", "20420", "6789"]
            .iter()
            .any(|needle| values.iter().any(|v| v.contains(needle)));
        match e.kind {
            store::StreamKind::Case => assert!(!carries_pii, "{}: {}", e.event_type, e.payload),
            store::StreamKind::Claimant => {
                let payload: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
                let outside_pii: String = payload
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| k.as_str() != "pii")
                    .map(|(_, v)| v.to_string())
                    .collect();
                assert!(!outside_pii.contains("Rivera") && !outside_pii.contains("123456789"));
            }
        }
    }
}
both!(case_events_carry_no_personal_data);

/// A long case (1,000 events) keeps loading and accepting commands; the
/// second engine (cold cache) folds the whole stream once, then reads tails.
async fn long_streams_stay_usable(backend: Backend) {
    let w = world(backend).await;
    let claimant = w.claimant("alpha", "123456789").await;
    let r = w
        .engine
        .submit_claim(
            &env("alpha", "c"),
            submission(claimant, Channel::Web, "w1", at(1, 9)),
        )
        .await
        .unwrap();
    let id = CaseId::from_uuid(r.stream_id);
    for n in 0..1000 {
        let to = if n % 2 == 0 {
            Phase::UnderReview
        } else {
            Phase::GatheringOfEvidence
        };
        let reason = (n % 2 == 0).then(|| Text::parse("reason", "new evidence arrived").unwrap());
        let cmd = CaseCommand::ChangePhase {
            to,
            reason,
            estimate: None,
        };
        w.engine
            .execute(&env("alpha", "cw"), id, cmd)
            .await
            .unwrap();
    }
    let cold = engine::Engine::new(w.t.log.clone(), tenants());
    let (case, version) = cold.load_case(&tenant("alpha"), id).await.unwrap();
    assert!(version >= 1000, "{version}");
    assert_eq!(case.file().unwrap().phase, Phase::GatheringOfEvidence);
    let reason = Some(Text::parse("reason", "one more look").unwrap());
    let r = cold
        .execute(
            &env("alpha", "cw"),
            id,
            CaseCommand::ChangePhase {
                to: Phase::UnderReview,
                reason,
                estimate: None,
            },
        )
        .await
        .unwrap();
    assert!(r.version > version);
}
both!(long_streams_stay_usable);
