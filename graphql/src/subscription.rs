//! `claimStatusChanged`: pushes the claim whenever its read model moves.

use crate::context::principal;
use crate::query::parse_id;
use crate::types::Claim;
use async_graphql::{Context, Subscription, ID};
use futures_util::Stream;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Emits the claim each time its status or any other part of it
    /// changes. Same visibility as `claim(id)`: NOT_FOUND otherwise.
    async fn claim_status_changed(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Claim>> {
        let p = principal(ctx)?.clone();
        let api = ctx.data::<std::sync::Arc<crate::context::Api>>()?.clone();
        let id = parse_id(&case_id)?;
        let first = api.visible_case(&p, id, "SUBSCRIBE_CLAIM").await?;
        let mut changes = api.projector.subscribe();
        let staff = p.is_staff();
        Ok(async_stream(move |tx| async move {
            let mut seen = first.version;
            loop {
                // Local projector batches wake us at once; the tick covers
                // projections committed by another node.
                let woke = tokio::time::timeout(Duration::from_secs(1), changes.recv()).await;
                match woke {
                    Ok(Ok(c)) if c.case_id != id || c.tenant != p.tenant.as_str() => continue,
                    Ok(Err(RecvError::Closed)) => return,
                    _ => {}
                }
                // The token's life ends the subscription.
                if chrono::Utc::now() >= p.expires_at {
                    return;
                }
                let Ok(Some(view)) = api.read.case(&p.tenant, id).await else {
                    continue;
                };
                if view.version > seen {
                    // Visibility can change (a record restricted meanwhile).
                    if !api
                        .may_see_claimant(&p, view.claimant_id)
                        .await
                        .unwrap_or(false)
                    {
                        return;
                    }
                    seen = view.version;
                    if tx.send(Claim { view, staff }).await.is_err() {
                        return;
                    }
                }
            }
        }))
    }
}

/// A stream fed by a task; ends when the task ends or the client leaves.
fn async_stream<F, Fut>(task: F) -> impl Stream<Item = Claim>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Claim>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = tokio::spawn(task(tx));
    let guard = AbortOnDrop(handle);
    futures_util::stream::poll_fn(move |cx| {
        let _keep = &guard;
        rx.poll_recv(cx)
    })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
