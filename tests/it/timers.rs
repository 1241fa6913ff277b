//! Timers: past-due evidence requests are marked overdue and reminded
//! exactly once, whatever re-runs and however many servers run the timer.

use crate::api::seed;
use app::auth::Role;
use chrono::{Days, NaiveDate, Utc};
use domain::case::{AttachDocument, NewEvidenceRequest, RequestKind};
use domain::status::RequestStatus;
use domain::*;
use serde_json::{json, Value};
use services::server::Instance;
use services::timers::{run_once, TimerReport};
use std::collections::HashMap;
use std::process::ExitCode;
use store::{EventMetadata, RecordedEvent, StreamKind};
use tests::*;
use uuid::Uuid;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn days_ago(n: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(n)).unwrap()
}

fn days_ahead(n: u64) -> NaiveDate {
    today().checked_add_days(Days::new(n)).unwrap()
}

async fn request_evidence(
    app: &Instance,
    tenant_name: &str,
    case: CaseId,
    description: &str,
    due: NaiveDate,
    from_claimant: bool,
) -> Uuid {
    let id = RequestId::generate();
    app.engine
        .execute(
            &env(tenant_name, "cw-1").idempotency_key(format!("req-{id}")),
            case,
            CaseCommand::RequestEvidence(NewEvidenceRequest {
                id,
                kind: RequestKind::Standard,
                description: Text::parse("description", description).unwrap(),
                needed_from_claimant: from_claimant,
                suspense_date: due,
                suppressed: false,
            }),
        )
        .await
        .unwrap();
    id.as_uuid()
}

/// The claimant answers `request` with a document.
async fn answer(app: &Instance, tenant_name: &str, case: CaseId, request: Uuid) {
    let r = app
        .engine
        .execute(
            &env(tenant_name, "citizen-1").idempotency_key(format!("doc-{request}")),
            case,
            CaseCommand::AttachDocument(AttachDocument {
                id: DocumentId::generate(),
                document_type: DocumentType::parse("MEDICAL_RECORD").unwrap(),
                pages: 2,
                checksum: Checksum::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
                storage_ref: StorageRef::parse("s3://evidence/doc-1").unwrap(),
                received_at: Utc::now(),
                channel: Channel::Web,
                request: Some(RequestId::from_uuid(request)),
                filed_as: domain::case::DocumentFiling::Evidence,
                on_late: domain::case::LateEvidence::default(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        r.event_ids.len(),
        2,
        "attached and SUBMITTED_AWAITING_REVIEW"
    );
}

/// Per request: (RequestMarkedOverdue events, ReminderIssued events).
fn overdue_events(events: &[RecordedEvent]) -> HashMap<Uuid, (usize, usize)> {
    let mut counts: HashMap<Uuid, (usize, usize)> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == StreamKind::Case) {
        let event = store::codec::decode_case(&e.event_type, e.schema_version, &e.payload).unwrap();
        match event {
            CaseEvent::RequestMarkedOverdue { request, .. } => {
                let meta: EventMetadata = serde_json::from_str(&e.metadata).unwrap();
                assert_eq!(meta.actor, "system:timers");
                assert!(
                    meta.idempotency_key
                        .as_deref()
                        .is_some_and(|k| k.starts_with(&format!("timer:overdue:{request}"))),
                    "{meta:?}"
                );
                counts.entry(request.as_uuid()).or_default().0 += 1;
            }
            CaseEvent::ReminderIssued { request } => {
                counts.entry(request.as_uuid()).or_default().1 += 1;
            }
            _ => {}
        }
    }
    counts
}

fn sum(reports: &[TimerReport]) -> TimerReport {
    reports
        .iter()
        .fold(TimerReport::default(), |a, r| TimerReport {
            due: a.due + r.due,
            marked: a.marked + r.marked,
            reminded: a.reminded + r.reminded,
            skipped: a.skipped + r.skipped,
            failed: a.failed + r.failed,
        })
}

/// Two timers at once, one in this server and one in another (its own
/// engine, same database).
async fn two_schedulers(one: &Instance, other: &Instance) -> TimerReport {
    let (a, b) = tokio::join!(run_once(one, Utc::now()), run_once(other, Utc::now()));
    sum(&[a.unwrap(), b.unwrap()])
}

async fn overdue_queue(w: &ApiWorld) -> Vec<(String, i64)> {
    let cw = w.token("alpha", "cw-9", &[Role::Caseworker], None, false);
    let r = w
        .gql(
            Some(&cw),
            "{ workQueue(queue: OVERDUE) { edges { node { caseId overdueRequests } } } }",
            json!({}),
        )
        .await;
    r["data"]["workQueue"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|e| {
            (
                e["node"]["caseId"].as_str().unwrap().to_owned(),
                e["node"]["overdueRequests"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Request id → overdue, as a caseworker reads the claim.
async fn overdue_flags(w: &ApiWorld, case_id: &str) -> HashMap<Uuid, bool> {
    let cw = w.token("alpha", "cw-9", &[Role::Caseworker], None, false);
    let r = w
        .gql(
            Some(&cw),
            "query($id: ID!) { claim(id: $id) { evidenceRequests { id status overdue } } }",
            json!({"id": case_id}),
        )
        .await;
    r["data"]["claim"]["evidenceRequests"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|r: &Value| {
            (
                r["id"].as_str().unwrap().parse().unwrap(),
                r["overdue"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Two past-due requests and one due later; two schedulers (two engines on
/// one database) run concurrently, then again and again, with the read
/// model behind and caught up: one RequestMarkedOverdue and one
/// ReminderIssued per past-due request, nothing for the other; the case is
/// in the aging queue and its requests show `overdue`.
async fn concurrent_schedulers_mark_and_remind_once(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let case = CaseId::from_uuid(s.case_id.parse().unwrap());
    let late = request_evidence(&w.app, "alpha", case, "Service records", days_ago(10), true).await;
    let just_late = request_evidence(
        &w.app,
        "alpha",
        case,
        "Hospital records",
        days_ago(1),
        false,
    )
    .await;
    let later = request_evidence(&w.app, "alpha", case, "Hearing test", days_ahead(30), true).await;
    w.settle().await;
    assert!(overdue_queue(&w).await.is_empty());

    // What the timer will look for.
    let due = w.app.read.due_requests(today(), 100).await.unwrap();
    let mut ids: Vec<Uuid> = due.iter().map(|d| d.request_id).collect();
    ids.sort();
    let mut expected = vec![late, just_late];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(due
        .iter()
        .all(|d| d.tenant.as_str() == "alpha" && d.case_id == case.as_uuid()));

    let second = Instance::open(w.app.settings.clone()).await.unwrap();
    let first = two_schedulers(&w.app, &second).await;
    assert_eq!(
        (first.marked, first.reminded, first.failed),
        (2, 2, 0),
        "each request marked and reminded by exactly one timer: {first:?}"
    );
    assert_eq!(first.skipped, first.due - 2, "{first:?}");
    // Again, before and after the read model has caught up.
    for round in 0..4 {
        if round % 2 == 1 {
            w.settle().await;
        }
        let again = two_schedulers(&w.app, &second).await;
        assert_eq!(
            (again.marked, again.reminded, again.failed),
            (0, 0, 0),
            "round {round}: {again:?}"
        );
    }

    let counts = overdue_events(&w.t.all_events().await);
    assert_eq!(counts.get(&late), Some(&(1, 1)), "{counts:?}");
    assert_eq!(counts.get(&just_late), Some(&(1, 1)), "{counts:?}");
    assert_eq!(counts.get(&later), None, "{counts:?}");

    w.settle().await;
    assert_eq!(overdue_queue(&w).await, vec![(s.case_id.clone(), 2)]);
    let flags = overdue_flags(&w, &s.case_id).await;
    assert_eq!(
        (flags.get(&late), flags.get(&just_late), flags.get(&later)),
        (Some(&true), Some(&true), Some(&false))
    );
    // Nothing is due any more; the remaining request is found when its day
    // has passed.
    assert!(w
        .app
        .read
        .due_requests(today(), 100)
        .await
        .unwrap()
        .is_empty());
    let then = w.app.read.due_requests(days_ahead(31), 100).await.unwrap();
    assert_eq!(
        then.iter().map(|d| d.request_id).collect::<Vec<_>>(),
        vec![later]
    );
}
both!(concurrent_schedulers_mark_and_remind_once);

/// A request answered before the timer runs is not marked, whether the
/// read model already knows (never picked) or not (the engine refuses it
/// as REQUEST_NOT_OPEN and the timer skips it); a request not yet due by
/// the engine's clock is skipped too.
async fn answered_or_not_due_requests_are_not_marked(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let case = CaseId::from_uuid(s.case_id.parse().unwrap());
    let answered_early =
        request_evidence(&w.app, "alpha", case, "Service records", days_ago(5), true).await;
    answer(&w.app, "alpha", case, answered_early).await;
    let answered_late =
        request_evidence(&w.app, "alpha", case, "Hospital records", days_ago(3), true).await;
    let not_due =
        request_evidence(&w.app, "alpha", case, "Hearing test", days_ahead(5), true).await;
    w.settle().await;
    // Answered after the read model saw it open.
    answer(&w.app, "alpha", case, answered_late).await;

    let report = run_once(&w.app, Utc::now()).await.unwrap();
    assert_eq!((report.marked, report.failed), (0, 0), "{report:?}");
    assert!(
        report.due <= 1,
        "only the late answer can look due: {report:?}"
    );
    assert_eq!(report.skipped, report.due);

    // A timer whose clock is ahead (or a read model that thinks so): the
    // engine decides by its own clock and refuses; skipped, not failed.
    w.settle().await;
    let ahead = Utc::now() + chrono::Duration::days(10);
    let report = run_once(&w.app, ahead).await.unwrap();
    assert_eq!(
        (report.due, report.marked, report.skipped, report.failed),
        (1, 0, 1, 0),
        "{report:?}"
    );

    let counts = overdue_events(&w.t.all_events().await);
    assert!(counts.is_empty(), "{counts:?}");
    w.settle().await;
    assert!(overdue_queue(&w).await.is_empty());
    let flags = overdue_flags(&w, &s.case_id).await;
    assert_eq!(flags.len(), 3);
    assert!(flags.values().all(|o| !o), "{flags:?}");
    assert_eq!(flags.get(&not_due), Some(&false));
}
both!(answered_or_not_due_requests_are_not_marked);

/// An overdue request that is answered and then asked for again (same due
/// date) becomes overdue again, but its claimant gets no second reminder.
async fn reopened_request_is_overdue_again_without_a_second_reminder(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let case = CaseId::from_uuid(s.case_id.parse().unwrap());
    let request =
        request_evidence(&w.app, "alpha", case, "Service records", days_ago(7), true).await;
    w.settle().await;
    let first = run_once(&w.app, Utc::now()).await.unwrap();
    assert_eq!((first.marked, first.reminded), (1, 1), "{first:?}");

    answer(&w.app, "alpha", case, request).await;
    w.app
        .engine
        .execute(
            &env("alpha", "cw-1").idempotency_key("review-1"),
            case,
            CaseCommand::ReviewEvidence {
                request: RequestId::from_uuid(request),
                to: RequestStatus::NeededFromYou,
                reason: None,
            },
        )
        .await
        .unwrap();
    w.settle().await;
    assert!(overdue_queue(&w).await.is_empty(), "answered: not overdue");

    let second = Instance::open(w.app.settings.clone()).await.unwrap();
    let again = two_schedulers(&w.app, &second).await;
    assert_eq!(
        (again.marked, again.reminded, again.failed),
        (1, 0, 0),
        "{again:?}"
    );
    w.settle().await;
    let more = two_schedulers(&w.app, &second).await;
    assert_eq!((more.due, more.marked), (0, 0), "{more:?}");

    let counts = overdue_events(&w.t.all_events().await);
    assert_eq!(counts.get(&request), Some(&(2, 1)), "{counts:?}");
    assert_eq!(overdue_queue(&w).await, vec![(s.case_id.clone(), 1)]);
}
both!(reopened_request_is_overdue_again_without_a_second_reminder);

/// Closed cases have nothing due.
async fn closed_cases_have_no_due_work(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let case = CaseId::from_uuid(s.case_id.parse().unwrap());
    request_evidence(&w.app, "alpha", case, "Service records", days_ago(7), true).await;
    w.app
        .engine
        .execute(
            &env("alpha", "cw-1").idempotency_key("withdraw-1"),
            case,
            CaseCommand::Withdraw { reason: None },
        )
        .await
        .unwrap();
    w.settle().await;
    assert!(w
        .app
        .read
        .due_requests(days_ahead(1000), 100)
        .await
        .unwrap()
        .is_empty());
    let report = run_once(&w.app, Utc::now()).await.unwrap();
    assert_eq!(report, TimerReport::default());
}
both!(closed_cases_have_no_due_work);

/// Many cases, more than one page: every past-due request is marked in
/// one pass.
async fn one_pass_walks_every_page(backend: Backend) {
    let w = api_world(backend).await;
    let mut requests = Vec::new();
    for i in 0..5 {
        let s = seed(&w, "alpha", &format!("12345678{i}")).await;
        let case = CaseId::from_uuid(s.case_id.parse().unwrap());
        requests.push(
            request_evidence(&w.app, "alpha", case, "Service records", days_ago(2), true).await,
        );
    }
    let s = seed(&w, "beta", "123456789").await;
    let case = CaseId::from_uuid(s.case_id.parse().unwrap());
    requests
        .push(request_evidence(&w.app, "beta", case, "Service records", days_ago(2), true).await);
    w.settle().await;

    // Paging by hand, two cases at a time.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = w
            .app
            .read
            .due_requests_after(today(), after.as_ref(), 2)
            .await
            .unwrap();
        seen.extend(page.requests.iter().map(|r| r.request_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    seen.sort();
    requests.sort();
    assert_eq!(seen, requests);

    let report = run_once(&w.app, Utc::now()).await.unwrap();
    assert_eq!((report.due, report.marked, report.reminded), (6, 6, 6));
    let counts = overdue_events(&w.t.all_events().await);
    assert!(requests.iter().all(|r| counts.get(r) == Some(&(1, 1))));
}
both!(one_pass_walks_every_page);

async fn omnicase(url: &str, args: &[&str]) -> ExitCode {
    use clap::Parser;
    let mut argv = vec!["omnicase", "--database-url", url, "--tenant", "demo"];
    argv.extend_from_slice(args);
    services::cli::Cli::try_parse_from(argv)
        .unwrap()
        .run()
        .await
        .unwrap()
}

/// `omnicase timers` runs one pass and leaves the aging queue up to date.
async fn cli_timers_runs_one_pass(backend: Backend) {
    let t = fresh_log(backend).await;
    let fixtures = format!("{}/../fixtures/claims", env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        omnicase(&t.url, &["seed", &fixtures]).await,
        ExitCode::SUCCESS
    );
    let settings = services::config::Settings::load(None, Some(&t.url)).unwrap();
    let app = Instance::open(settings).await.unwrap();
    let case = t
        .all_events()
        .await
        .iter()
        .find(|e| e.event_type == "ClaimSubmitted")
        .map(|e| CaseId::from_uuid(e.stream_id))
        .unwrap();
    let request = request_evidence(&app, "demo", case, "Service records", days_ago(1), true).await;
    assert_eq!(omnicase(&t.url, &["timers"]).await, ExitCode::SUCCESS);
    assert_eq!(omnicase(&t.url, &["timers"]).await, ExitCode::SUCCESS);
    let counts = overdue_events(&t.all_events().await);
    assert_eq!(counts.get(&request), Some(&(1, 1)), "{counts:?}");
    let queue = app
        .read
        .work_queue(
            &tenant("demo"),
            &projections::QueueFilter::Overdue,
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        queue.iter().map(|q| q.case_id).collect::<Vec<_>>(),
        vec![case.as_uuid()]
    );
}
both!(cli_timers_runs_one_pass);

/// Rows projected before migration 0004 get `next_due` from the migration's
/// backfill: the same values the projector writes.
async fn migration_backfill_matches_the_projector(backend: Backend) {
    let w = api_world(backend).await;
    let s = seed(&w, "alpha", "123456789").await;
    let case = CaseId::from_uuid(s.case_id.parse().unwrap());
    request_evidence(&w.app, "alpha", case, "Service records", days_ago(3), true).await;
    request_evidence(&w.app, "alpha", case, "Hearing test", days_ahead(9), false).await;
    let answered = request_evidence(&w.app, "alpha", case, "Photos", days_ahead(4), true).await;
    answer(&w.app, "alpha", case, answered).await;
    w.settle().await;
    run_once(&w.app, Utc::now()).await.unwrap();
    let other = seed(&w, "alpha", "987654321").await;
    let other_case = CaseId::from_uuid(other.case_id.parse().unwrap());
    request_evidence(
        &w.app,
        "alpha",
        other_case,
        "Service records",
        days_ago(3),
        true,
    )
    .await;
    let closed = seed(&w, "alpha", "111222333").await;
    let closed_case = CaseId::from_uuid(closed.case_id.parse().unwrap());
    request_evidence(&w.app, "alpha", closed_case, "Photos", days_ago(3), true).await;
    w.app
        .engine
        .execute(
            &env("alpha", "cw-1").idempotency_key("withdraw-1"),
            closed_case,
            CaseCommand::Withdraw { reason: None },
        )
        .await
        .unwrap();
    w.settle().await;

    let (backfill, mismatches) = match backend {
        Backend::Postgres => (
            include_str!("../../migrations/postgres/0004_timers.sql"),
            "SELECT count(*) FROM rm_cases r JOIN snap s ON s.case_id = r.case_id \
             WHERE r.next_due IS DISTINCT FROM s.next_due",
        ),
        Backend::Sqlite => (
            include_str!("../../migrations/sqlite/0004_timers.sql"),
            "SELECT count(*) FROM rm_cases r JOIN snap s ON s.case_id = r.case_id \
             WHERE r.next_due IS NOT s.next_due",
        ),
    };
    let backfill = &backfill[backfill.find("UPDATE rm_cases").unwrap()..];
    let mut tx = match &w.t.raw {
        Raw::Postgres(pg) => Err(pg.pool().begin().await.unwrap()),
        Raw::Sqlite(lite) => Ok(lite.writer().begin().await.unwrap()),
    };
    macro_rules! each {
        ($tx:expr, |$t:ident| $body:expr) => {
            match $tx {
                Ok($t) => $body,
                Err($t) => $body,
            }
        };
    }
    let (distinct, set, wrong): (i64, i64, i64) = each!(&mut tx, |t| {
        sqlx::query("CREATE TEMP TABLE snap AS SELECT case_id, next_due FROM rm_cases")
            .execute(&mut **t)
            .await
            .unwrap();
        sqlx::query("UPDATE rm_cases SET next_due = NULL")
            .execute(&mut **t)
            .await
            .unwrap();
        sqlx::query(backfill).execute(&mut **t).await.unwrap();
        (
            sqlx::query_scalar("SELECT count(*) FROM snap")
                .fetch_one(&mut **t)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT count(*) FROM snap WHERE next_due IS NOT NULL")
                .fetch_one(&mut **t)
                .await
                .unwrap(),
            sqlx::query_scalar(mismatches)
                .fetch_one(&mut **t)
                .await
                .unwrap(),
        )
    });
    each!(tx, |t| t.rollback().await.unwrap());
    assert_eq!((distinct, set, wrong), (3, 2, 0));
}
both!(migration_backfill_matches_the_projector);
