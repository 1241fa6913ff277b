//! `claimStatusChanged`: pushes the claim whenever its read model moves.

use crate::context::principal;
use crate::error::ApiError;
use crate::query::parse_id;
use crate::types::Claim;
use crate::watch::CaseWatch;
use async_graphql::{Context, Subscription, ID};
use futures_util::Stream;
use std::sync::Arc;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Emits the claim each time its status or any other part of it
    /// changes, each version at most once (a subscriber that falls behind
    /// gets the latest). Same visibility as `claim(id)`: NOT_FOUND
    /// otherwise. Ends when the token expires or the claim stops being
    /// visible to the caller. Each update sent to staff is audited first.
    async fn claim_status_changed(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Claim>> {
        let p = principal(ctx)?.clone();
        let api = ctx.data::<Arc<app::App>>()?.clone();
        let hub = ctx.data::<Arc<CaseWatch>>()?.clone();
        let id = parse_id(&case_id)?;
        let first = api
            .visible_case(&p, id, "SUBSCRIBE_CLAIM")
            .await
            .map_err(ApiError)?;
        let seen = first.version;
        let subscription = hub.watch(p.tenant.as_str(), first);
        let staff = p.is_staff();
        Ok(futures_util::stream::unfold(
            (subscription, seen),
            move |(mut subscription, mut seen)| {
                let (api, p) = (api.clone(), p.clone());
                async move {
                    while subscription.latest.changed().await.is_ok() {
                        let view = subscription.latest.borrow_and_update().clone();
                        // The token's life ends the subscription.
                        if chrono::Utc::now() >= p.expires_at {
                            return None;
                        }
                        if view.version <= seen {
                            continue;
                        }
                        // Visibility can change (a record restricted meanwhile).
                        if !api
                            .may_see_claimant(&p, view.claimant_id)
                            .await
                            .unwrap_or(false)
                        {
                            return None;
                        }
                        // Each update a staff member receives is a read of
                        // case data: recorded before it is sent, or the
                        // subscription ends (fail closed).
                        if staff
                            && api
                                .audit_reads(
                                    &p,
                                    "READ_CLAIM_UPDATE",
                                    "CASE",
                                    [view.case_id.to_string()],
                                )
                                .await
                                .is_err()
                        {
                            return None;
                        }
                        seen = view.version;
                        let claim = Claim {
                            view: (*view).clone(),
                            staff,
                        };
                        return Some((claim, (subscription, seen)));
                    }
                    None
                }
            },
        ))
    }
}
