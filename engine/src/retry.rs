//! The one retry driver: every command that may lose a race (a version
//! conflict, a unique key taken meanwhile) goes round through it.

use crate::error::EngineError;
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

/// How many times a command is re-decided after version conflicts (or lost
/// key races) before `VERSION_CONFLICT` reaches the caller.
pub(crate) const MAX_ATTEMPTS: u32 = 40;

/// Small randomized pause between attempts so racing writers spread out.
async fn backoff(attempt: u32) {
    let jitter = u64::from(Uuid::new_v4().as_bytes()[0] % 8);
    tokio::time::sleep(Duration::from_millis(jitter + u64::from(attempt.min(10)))).await;
}

/// What one attempt came to.
pub(crate) enum Step<T, S> {
    /// Finished with this answer (a refusal is the attempt's `Err`).
    Done(T),
    /// Lost a race: go round again with `state`, after a short randomized
    /// pause unless the state was just read again (`pause: false`).
    Again { state: S, pause: bool },
}

/// Runs `attempt` (given the state and the attempt's number) until it is
/// done, at most [`MAX_ATTEMPTS`] times. `Ok(Err(state))`: every attempt
/// lost its race; the caller says what that means (`VERSION_CONFLICT` with
/// the version it saw last).
pub(crate) async fn retrying<S, T, F, Fut>(
    mut state: S,
    mut attempt: F,
) -> Result<Result<T, S>, EngineError>
where
    F: FnMut(S, u32) -> Fut,
    Fut: Future<Output = Result<Step<T, S>, EngineError>>,
{
    let mut pause = false;
    for n in 0..MAX_ATTEMPTS {
        if pause {
            backoff(n).await;
        }
        match attempt(state, n).await? {
            Step::Done(answer) => return Ok(Ok(answer)),
            Step::Again {
                state: next,
                pause: wait,
            } => (state, pause) = (next, wait),
        }
    }
    Ok(Err(state))
}
