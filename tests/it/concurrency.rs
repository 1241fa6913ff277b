//! Races: many writers, replays and cross-channel submissions at once.

use domain::case::{ContactKind, NewContact};
use domain::*;
use engine::{EngineError, Outcome};
use std::collections::HashSet;
use tests::*;

fn contact(n: u128) -> CaseCommand {
    CaseCommand::RecordContact(NewContact {
        id: ContactId::from_uuid(uuid::Uuid::from_u128(n)),
        kind: ContactKind::Inbound,
        channel: Channel::CallCenter,
        reason: None,
        summary: Text::parse("summary", &format!("call {n}")).unwrap(),
        follow_up: None,
        occurred_at: at(20, 9),
    })
}

async fn open_case(w: &World) -> CaseId {
    w.web_case("alpha", "123456789").await
}

/// 50 concurrent writers on one case: every command lands, no update is
/// lost, and the stream's versions run 1..n without gaps.
async fn fifty_concurrent_writers_on_one_case(backend: Backend) {
    let w = world(backend).await;
    let case = open_case(&w).await;
    let (_, start) = w.engine.load_case(&tenant("alpha"), case).await.unwrap();
    let tasks: Vec<_> = (0..50u128)
        .map(|n| {
            let engine = w.engine.clone();
            tokio::spawn(async move {
                engine
                    .execute(&env("alpha", &format!("agent-{n}")), case, contact(n))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r.outcome, Outcome::Updated);
    }
    let events =
        w.t.log
            .read_stream(&tenant("alpha"), case.as_uuid(), 0)
            .await
            .unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=start + 50).collect::<Vec<_>>());
    let contacts = events
        .iter()
        .filter(|e| e.event_type == "ContactRecorded")
        .count();
    assert_eq!(contacts, 50);
}
both!(fifty_concurrent_writers_on_one_case);

/// 20 concurrent replays of one idempotency key: one append, and every
/// caller gets the same result.
async fn twenty_concurrent_replays_append_once(backend: Backend) {
    let w = world(backend).await;
    let case = open_case(&w).await;
    let (_, start) = w.engine.load_case(&tenant("alpha"), case).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let engine = w.engine.clone();
            tokio::spawn(async move {
                let env = env("alpha", "agent-7").idempotency_key("call-2026-11-20-0001");
                engine.execute(&env, case, contact(7)).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    let events =
        w.t.log
            .read_stream(&tenant("alpha"), case.as_uuid(), 0)
            .await
            .unwrap();
    assert_eq!(events.len() as u64, start + 1, "exactly one append");
    let fresh = results.iter().filter(|r| !r.replayed).count();
    assert_eq!(fresh, 1, "one original, the rest replays");
    for r in &results {
        assert_eq!(
            (r.stream_id, r.version, r.outcome, &r.event_ids),
            (
                results[0].stream_id,
                start + 1,
                Outcome::Updated,
                &results[0].event_ids
            )
        );
    }
}
both!(twenty_concurrent_replays_append_once);

/// Replaying a new-claim submission concurrently opens one case.
async fn twenty_concurrent_submission_replays_open_one_case(backend: Backend) {
    let w = world(backend).await;
    let claimant = w.claimant("alpha", "123456789").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let engine = w.engine.clone();
            tokio::spawn(async move {
                engine
                    .submit_claim(
                        &env("alpha", "citizen-1"),
                        submission(claimant, Channel::Web, "web-77", at(2, 10)),
                    )
                    .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap().stream_id);
    }
    assert_eq!(ids.len(), 1);
    let feed = w.t.all_events().await;
    assert_eq!(
        feed.iter()
            .filter(|e| e.event_type == "ClaimSubmitted")
            .count(),
        1
    );
    assert_eq!(
        feed.iter()
            .filter(|e| e.event_type == "ChannelEntryAttached")
            .count(),
        0
    );
}
both!(twenty_concurrent_submission_replays_open_one_case);

/// Two channels x 20 concurrent submissions of the same claim (claimant +
/// benefit), through two engine instances as two server nodes would:
/// one case, every entry kept, all but the first marked `duplicateOf`.
async fn two_channels_twenty_submissions_each_make_one_case(backend: Backend) {
    let w = world(backend).await;
    let claimant = w.claimant("alpha", "123456789").await;
    let other_node = std::sync::Arc::new(engine::Engine::new(w.t.log.clone(), tenants()));
    let mut tasks = Vec::new();
    for n in 0..20 {
        for (channel, engine) in [
            (Channel::Web, w.engine.clone()),
            (Channel::MailScan, other_node.clone()),
        ] {
            let external = format!("{channel}-{n}");
            let received = at(
                1 + (n % 20) as u32,
                if channel == Channel::Web { 12 } else { 9 },
            );
            tasks.push(tokio::spawn(async move {
                engine
                    .submit_claim(
                        &env("alpha", "intake"),
                        submission(claimant, channel, &external, received),
                    )
                    .await
            }));
        }
    }
    let mut cases = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        cases.insert(r.stream_id);
        created += usize::from(r.outcome == Outcome::Created);
    }
    assert_eq!(cases.len(), 1, "one case");
    assert_eq!(created, 1);
    let case = CaseId::from_uuid(cases.into_iter().next().unwrap());
    let (state, _) = w.engine.load_case(&tenant("alpha"), case).await.unwrap();
    let file = state.file().unwrap();
    assert_eq!(file.entries.len(), 40, "every entry kept");
    let first = file.entries[0].id;
    assert!(file.entries[1..]
        .iter()
        .all(|e| e.duplicate_of == Some(first)));
    let earliest = file.entries.iter().map(|e| e.received_at).min().unwrap();
    assert_eq!(file.claim_date, earliest);
    assert_eq!(file.claim_date, at(1, 9));
}
both!(two_channels_twenty_submissions_each_make_one_case);

/// Ten agents try to take the same case at once: exactly one gets it; the
/// others are refused (ALREADY_ASSIGNED, or VERSION_CONFLICT when they lost
/// the race for the same version) - never silently reassigned.
async fn concurrent_assignments_have_one_winner(backend: Backend) {
    let w = world(backend).await;
    let case = open_case(&w).await;
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let engine = w.engine.clone();
            tokio::spawn(async move {
                let assignee = ActorId::parse(&format!("caseworker-{n}")).unwrap();
                engine
                    .execute(
                        &env("alpha", "supervisor"),
                        case,
                        CaseCommand::Assign {
                            assignee,
                            reassign: false,
                        },
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(
                matches!(e.code().as_str(), "ALREADY_ASSIGNED" | "VERSION_CONFLICT"),
                "{e:?}"
            ),
        }
    }
    assert_eq!(ok, 1);
    let events =
        w.t.log
            .read_stream(&tenant("alpha"), case.as_uuid(), 0)
            .await
            .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "CaseAssigned")
            .count(),
        1
    );
}
both!(concurrent_assignments_have_one_winner);

/// An assignment racing with unrelated additive commands (contacts) is
/// retried automatically: it does not depend on them.
async fn independent_commands_are_retried_not_refused(backend: Backend) {
    let w = world(backend).await;
    let case = open_case(&w).await;
    let mut tasks: Vec<_> = (100..120u128)
        .map(|n| {
            let engine = w.engine.clone();
            tokio::spawn(async move {
                engine
                    .execute(&env("alpha", "agent"), case, contact(n))
                    .await
            })
        })
        .collect();
    let engine = w.engine.clone();
    tasks.push(tokio::spawn(async move {
        let assignee = ActorId::parse("caseworker-1").unwrap();
        engine
            .execute(
                &env("alpha", "supervisor"),
                case,
                CaseCommand::Assign {
                    assignee,
                    reassign: false,
                },
            )
            .await
    }));
    for t in tasks {
        let r: Result<_, EngineError> = t.await.unwrap();
        r.unwrap();
    }
    let (state, _) = w.engine.load_case(&tenant("alpha"), case).await.unwrap();
    assert_eq!(
        state.file().unwrap().assignee.as_ref().map(|a| a.as_str()),
        Some("caseworker-1")
    );
}
both!(independent_commands_are_retried_not_refused);

/// Two nodes, each with its own event-log connection and caches: a node
/// decides on the state it holds without reading the log first, so here
/// it holds state the other node has moved on. Its appends conflict and it
/// decides again on current state: no update is lost, a refusal or a
/// "nothing to change" is never answered from stale state, replays get
/// their original result on either node, and the chain stays intact.
async fn a_node_behind_the_other_loses_nothing(backend: Backend) {
    let w = world(backend).await;
    let a = w.engine.clone();
    let b = engine::Engine::new(store::connect(&w.t.url).await.unwrap(), tenants());
    let case = open_case(&w).await;
    let team = |t: &str| CaseCommand::RouteToTeam {
        team: TeamCode::parse(t).unwrap(),
    };
    async fn run(
        node: &engine::Engine,
        case: CaseId,
        cmd: CaseCommand,
        key: Option<&str>,
    ) -> Result<engine::CommandResult, EngineError> {
        let mut e = env("alpha", "agent");
        e.idempotency_key = key.map(str::to_owned);
        node.execute(&e, case, cmd).await
    }
    run(&a, case, contact(1), None).await.unwrap();
    run(&a, case, team("intake"), None).await.unwrap();
    // b moves the case on; a still holds it unassigned, in team intake.
    let assignee = ActorId::parse("caseworker-b").unwrap();
    let assign = CaseCommand::Assign {
        assignee,
        reassign: false,
    };
    run(&b, case, assign, None).await.unwrap();
    run(&b, case, team("review"), None).await.unwrap();
    run(&b, case, contact(2), None).await.unwrap();

    // Refused on a's state (not assigned), allowed on the current one.
    let r = run(&a, case, CaseCommand::Unassign, Some("unassign-1"))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Updated);
    // "Already in team intake" on a's state; the case is in review now.
    run(&b, case, team("review"), None).await.unwrap();
    let r = run(&a, case, team("intake"), None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Updated, "decided on current state");
    // An additive command on stale state: lands after b's.
    run(&b, case, contact(3), None).await.unwrap();
    let r = run(&a, case, contact(4), Some("contact-4")).await.unwrap();
    let contact_version = r.version;

    // Replays on the node that did not run them, after the case moved on:
    // the original results (one would be refused now: nobody is assigned).
    run(&a, case, contact(5), None).await.unwrap();
    let again = run(&b, case, CaseCommand::Unassign, Some("unassign-1"))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, Outcome::Updated);
    let again = run(&b, case, contact(4), Some("contact-4")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.version, contact_version);
    // On the node that ran it (its state current: the one-statement
    // append meets the taken key and writes nothing).
    let again = run(&a, case, contact(4), Some("contact-4")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.version, contact_version);
    // The same key for another command is still refused.
    let reused = run(&b, case, contact(6), Some("contact-4"))
        .await
        .unwrap_err();
    assert_eq!(reused.code().as_str(), "IDEMPOTENCY_KEY_REUSED");

    let fresh = engine::Engine::new(store::connect(&w.t.url).await.unwrap(), tenants());
    let (state, version) = fresh.load_case(&tenant("alpha"), case).await.unwrap();
    let file = state.file().unwrap();
    assert_eq!(file.assignee, None);
    assert_eq!(file.team.as_ref().map(|t| t.as_str()), Some("intake"));
    let events =
        w.t.log
            .read_stream(&tenant("alpha"), case.as_uuid(), 0)
            .await
            .unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=version).collect::<Vec<_>>(), "gapless");
    let contacts = events
        .iter()
        .filter(|e| e.event_type == "ContactRecorded")
        .count();
    assert_eq!(contacts, 5, "every contact once");
    let unassigned = events
        .iter()
        .filter(|e| e.event_type == "CaseUnassigned")
        .count();
    assert_eq!(unassigned, 1);
    let report = w.t.log.verify().await.unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}
both!(a_node_behind_the_other_loses_nothing);
