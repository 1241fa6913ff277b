//! GraphQL errors: an [`app::Error`] leaves with a stable
//! `extensions.code`, a safe message, never internals.

use app::Error;
use async_graphql::ErrorExtensions;
use engine::EngineError;
use projections::ReadError;

/// What resolvers return: a coded [`app::Error`], rendered for GraphQL.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError(Error::BadInput(message.into()))
    }

    pub fn code(&self) -> domain::ErrorCode {
        self.0.code()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError(e.into())
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        ApiError(e.into())
    }
}

impl From<domain::ParseError> for ApiError {
    fn from(e: domain::ParseError) -> Self {
        ApiError(e.into())
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(ApiError(e): ApiError) -> Self {
        let code = e.code();
        let retriable = code.is_retriable();
        let retry_after = match e {
            Error::RateLimited { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        let details = match &e {
            Error::RefusedNaming { details, .. } => details.clone(),
            _ => Vec::new(),
        };
        async_graphql::Error::new(e.message()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            for (field, detail) in &details {
                match detail {
                    domain::Detail::One(value) => ext.set(*field, value.clone()),
                    domain::Detail::Many(values) => ext.set(*field, values.clone()),
                }
            }
            if retriable {
                ext.set("retriable", true);
            }
            if let Some(secs) = retry_after {
                ext.set("retryAfterSeconds", secs);
            }
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
