//! What resolvers take from the request: the application and the caller.

use crate::error::{ApiError, ApiResult};
use app::{App, Principal};
use async_graphql::{Context, ID};
use projections::view::CaseView;
use std::sync::Arc;

pub(crate) fn api<'a>(ctx: &Context<'a>) -> ApiResult<&'a App> {
    // Installed by `schema()`; missing only if the schema is misassembled.
    ctx.data::<Arc<App>>()
        .map(|a| a.as_ref())
        .map_err(|_| ApiError(app::Error::Internal))
}

pub(crate) fn principal<'a>(ctx: &Context<'a>) -> ApiResult<&'a Principal> {
    ctx.data_opt::<Principal>()
        .ok_or(ApiError(app::Error::Unauthenticated))
}

/// The case `id`, read as `action` by a claimant or staff member: through
/// the one gate (`App::visible_case`: refusals shaped as NOT_FOUND,
/// audited).
pub(crate) async fn readable_case<'a>(
    ctx: &Context<'a>,
    id: &ID,
    action: &str,
) -> ApiResult<(&'a Principal, CaseView)> {
    let p = principal(ctx)?;
    app::require(p, app::OWNER_OR_STAFF)?;
    let id = crate::query::parse_id(id)?;
    let view = api(ctx)?.visible_case(p, id, action).await?;
    Ok((p, view))
}
