//! Timers: evidence requests whose due date has passed are marked overdue
//! (which puts their case in the aging queue, `workQueue(queue: OVERDUE)`)
//! and their claimant is reminded, once per request, however often the
//! timer runs and however many instances run it.
//!
//! The read model only says *where to look* (`rm_cases.next_due`); the
//! decision is the domain's, on the case loaded from the log:
//! `MarkRequestOverdue` is a no-op on a request already overdue, refuses a
//! request that is answered (`REQUEST_NOT_OPEN`) or not yet due
//! (`REQUEST_NOT_DUE`), and issues at most one `ReminderIssued` per request,
//! ever. Racing instances meet in the engine: the same idempotency key
//! (`timer:overdue:{request}`) makes the second one a replay, and a lost
//! version race is re-decided against the newer state (a no-op then).

use crate::server::Instance;
use chrono::{DateTime, Utc};
use domain::{ActorId, CaseCommand, CaseId, DomainError, RequestId};
use engine::{EngineError, Envelope, Outcome};
use projections::{DueCursor, DueRequest, ReadError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Who the timer acts as (event metadata).
pub const ACTOR: &str = "system:timers";

/// Cases read from the read model per page.
const PAGE: i64 = 200;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerReport {
    /// Requests the read model showed as past due and not yet overdue.
    pub due: usize,
    /// Requests this pass marked overdue.
    pub marked: usize,
    /// Reminders this pass issued (at most one per request, ever).
    pub reminded: usize,
    /// Nothing to do after all: another instance got there first, or the
    /// read model was behind (answered, closed, complete, not yet due).
    pub skipped: usize,
    /// Commands that failed otherwise (logged; tried again next pass).
    pub failed: usize,
}

/// The idempotency key of marking `r` overdue. A request asked for again
/// after a submission can become overdue again: that round gets its own key
/// (the domain still sends no second reminder).
pub fn idempotency_key(r: &DueRequest) -> String {
    match r.reopened_at {
        None => format!("timer:overdue:{}", r.request_id),
        Some(version) => format!("timer:overdue:{}:{version}", r.request_id),
    }
}

/// Refusals that only mean the read model was behind the log.
fn is_stale(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Domain(
            DomainError::RequestNotDue
                | DomainError::RequestNotOpen
                | DomainError::CaseClosed
                | DomainError::CaseComplete
        )
        // The case ended meanwhile; the next pass sees it closed.
        | EngineError::VersionConflict { .. }
    )
}

/// One pass: every request due before `now`'s date, as the read model
/// shows it, gets a `MarkRequestOverdue`. Fails only when the read model
/// cannot be read; a command that fails is counted and tried next pass.
pub async fn run_once(app: &Instance, now: DateTime<Utc>) -> Result<TimerReport, ReadError> {
    let today = now.date_naive();
    let mut report = TimerReport::default();
    let correlation_id = Uuid::now_v7();
    let mut after: Option<DueCursor> = None;
    loop {
        let page = app
            .read
            .due_requests_after(today, after.as_ref(), PAGE)
            .await?;
        for r in &page.requests {
            report.due += 1;
            mark(app, r, correlation_id, &mut report).await;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if report.marked > 0 {
        app.projector.wake();
    }
    Ok(report)
}

async fn mark(app: &Instance, r: &DueRequest, correlation_id: Uuid, report: &mut TimerReport) {
    let mut env = Envelope::new(r.tenant.clone(), actor()).idempotency_key(idempotency_key(r));
    env.correlation_id = correlation_id;
    let command = CaseCommand::MarkRequestOverdue {
        request: RequestId::from_uuid(r.request_id),
    };
    let result = app
        .engine
        .execute(&env, CaseId::from_uuid(r.case_id), command)
        .await;
    let outcome = match result {
        Ok(done) if done.replayed || done.outcome != Outcome::Updated => "skipped",
        Ok(done) => {
            report.marked += 1;
            // RequestMarkedOverdue, then ReminderIssued unless one was
            // already sent for this request.
            if done.event_ids.len() > 1 {
                report.reminded += 1;
            }
            "marked"
        }
        Err(e) if is_stale(&e) => "skipped",
        Err(e) => {
            tracing::warn!(
                error = %e,
                code = %e.code(),
                tenant = %r.tenant,
                case_id = %r.case_id,
                request_id = %r.request_id,
                "timer could not mark a request overdue; trying again next pass"
            );
            report.failed += 1;
            "failed"
        }
    };
    if outcome == "skipped" {
        report.skipped += 1;
    }
    metrics::counter!("omnicase_timer_requests_total", "outcome" => outcome).increment(1);
}

#[allow(clippy::expect_used)]
fn actor() -> ActorId {
    ActorId::parse(ACTOR).expect("ACTOR is a valid actor id")
}

/// Runs a pass now and then every `every` until `shutdown` resolves.
pub async fn run(
    app: Arc<Instance>,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        let pass = run_once(&app, Utc::now());
        tokio::select! {
            _ = &mut shutdown => return,
            result = pass => match result {
                Ok(report) if report == TimerReport::default() => {}
                Ok(report) => tracing::info!(
                    due = report.due,
                    marked = report.marked,
                    reminded = report.reminded,
                    skipped = report.skipped,
                    failed = report.failed,
                    "timer pass"
                ),
                Err(e) => tracing::warn!(error = %e, code = %e.code().as_str(), "timer pass failed; retrying next tick"),
            },
        }
    }
}
