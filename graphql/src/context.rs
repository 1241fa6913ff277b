//! What resolvers take from the request: the application and the caller.

use crate::error::{ApiError, ApiResult};
use app::{App, Principal};
use async_graphql::Context;
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
