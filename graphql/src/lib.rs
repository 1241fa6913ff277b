//! The GraphQL API over the read models, and the mutations that issue
//! commands. Who is calling and what they may do come from the `app`
//! crate, shared with every other transport; masking and the schema's
//! limits live here. The server in `services` mounts [`routes`].

mod context;
mod error;
pub mod graphiql;
pub mod limits;
mod loaders;
mod mutation;
mod query;
mod subscription;
mod types;
mod watch;
mod ws;

pub use error::ApiError;

use app::auth::{self, Principal};
use app::App;
use async_graphql::Schema;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{BoxStream, StreamExt};
use std::sync::Arc;

pub type OmnicaseSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

/// Limits that keep a hostile query cheap to refuse.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 2_000;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub use limits::{MAX_ALIASES, MAX_FIELDS, MAX_NESTING, MAX_QUERY_BYTES};

/// The schema, with the application installed.
pub fn schema(api: Arc<App>) -> OmnicaseSchema {
    let watch = watch::CaseWatch::new(api.read.clone(), api.projector.clone());
    build(api, watch, true)
}

fn build(api: Arc<App>, watch: Arc<watch::CaseWatch>, suggestions: bool) -> OmnicaseSchema {
    let claimants = async_graphql::dataloader::DataLoader::new(
        loaders::ClaimantLoader {
            read: api.read.clone(),
        },
        tokio::spawn,
    );
    let builder = Schema::build(
        query::QueryRoot,
        mutation::MutationRoot,
        subscription::SubscriptionRoot,
    )
    .data(watch)
    .data(api)
    .data(claimants)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(20);
    if suggestions {
        builder.finish()
    } else {
        builder.disable_suggestions().finish()
    }
}

/// The SDL, as committed in `graphql/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        query::QueryRoot,
        mutation::MutationRoot,
        subscription::SubscriptionRoot,
    )
    .finish()
    .sdl()
}

/// Who may read the schema through introspection outside development.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Introspection {
    /// Anyone, even without a token.
    Everyone,
    /// Authenticated staff and integrators (the default).
    #[default]
    Staff,
    /// Nobody (the committed SDL is the documentation).
    Nobody,
}

/// How much of the schema callers may learn.
#[derive(Clone, Copy, Debug)]
pub struct Exposure {
    /// Development: GraphiQL, introspection and suggestions for everyone.
    pub dev: bool,
    pub introspection: Introspection,
}

/// The schema behind the bounds of [`limits`]: every transport executes
/// through this, so HTTP and the WebSocket refuse the same documents with
/// the same codes, learn the schema under the same rules ([`Exposure`]),
/// and every error leaves with an `extensions.code`.
#[derive(Clone)]
pub struct Guarded {
    schema: OmnicaseSchema,
    /// The same schema without "Did you mean …" suggestions, for anonymous
    /// callers outside development.
    reserved: OmnicaseSchema,
    exposure: Exposure,
}

impl Guarded {
    pub fn new(api: Arc<App>, exposure: Exposure) -> Guarded {
        let watch = watch::CaseWatch::new(api.read.clone(), api.projector.clone());
        Guarded {
            schema: build(api.clone(), watch.clone(), true),
            reserved: build(api, watch, false),
            exposure,
        }
    }

    fn refused(refusal: limits::Refusal) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![refusal.into_server_error()])
    }

    /// Screens the document and fits the request to its caller.
    fn admit(
        &self,
        request: &mut async_graphql::Request,
        caller: Option<&Principal>,
    ) -> Result<(limits::Screened, &OmnicaseSchema), limits::Refusal> {
        let screened = limits::screen(request)?;
        let dev = self.exposure.dev;
        let introspect = dev
            || match self.exposure.introspection {
                Introspection::Everyone => true,
                Introspection::Staff => {
                    caller.is_some_and(|p| p.is_staff() || p.has(auth::Role::Integrator))
                }
                Introspection::Nobody => false,
            };
        if !introspect {
            if screened.introspects {
                return Err(limits::Refusal::Introspection);
            }
            request.introspection_mode = async_graphql::IntrospectionMode::Disabled;
        }
        if let Some(p) = caller {
            request.data.insert(p.clone());
        }
        let schema = if dev || caller.is_some() {
            &self.schema
        } else {
            &self.reserved
        };
        Ok((screened, schema))
    }

    /// Runs one query or mutation for `caller` (None: anonymous).
    pub async fn execute(
        &self,
        mut request: async_graphql::Request,
        caller: Option<&Principal>,
    ) -> async_graphql::Response {
        let (screened, schema) = match self.admit(&mut request, caller) {
            Ok(admitted) => admitted,
            Err(refusal) => return Self::refused(refusal),
        };
        let mut response = schema.execute(request).await;
        code_errors(&mut response, screened.parses);
        response
    }

    /// Runs any operation as a stream of responses (the WebSocket).
    pub fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        caller: Option<&Principal>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let (screened, schema) = match self.admit(&mut request, caller) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                return futures_util::stream::once(async move { Self::refused(refusal) }).boxed()
            }
        };
        schema
            .execute_stream(request)
            .map(move |mut response| {
                code_errors(&mut response, screened.parses);
                response
            })
            .boxed()
    }
}

/// A server connection's slot under the connection cap, put in each
/// request's extensions by the server: a WebSocket keeps it for as long as
/// the socket lives, so upgraded connections count against the cap too.
#[derive(Clone)]
pub struct ConnectionSlot(pub Arc<dyn Send + Sync>);

#[derive(Clone)]
struct GqlState {
    gql: Guarded,
    api: Arc<App>,
    graphiql: bool,
}

/// `/graphql` (POST queries and mutations; GET serves GraphiQL when
/// enabled) and `/graphql/ws` (subscriptions, graphql-transport-ws).
pub fn routes(api: Arc<App>, exposure: Exposure) -> Router {
    let state = GqlState {
        gql: Guarded::new(api.clone(), exposure),
        api,
        graphiql: exposure.dev,
    };
    Router::new()
        .route("/graphql", get(graphiql_page).post(graphql))
        .route("/graphql/assets/{name}", get(graphiql_asset))
        .route("/graphql/ws", get(subscriptions))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .with_state(state)
}

/// A request refused before execution: one coded error, no location.
fn error_response(e: ApiError) -> GraphQLResponse {
    let err: async_graphql::Error = e.into();
    let mut server = async_graphql::ServerError::new(err.message, None);
    server.extensions = err.extensions;
    async_graphql::Response::from_errors(vec![server]).into()
}

/// Every error carries an `extensions.code`: the executor's own errors get
/// GRAPHQL_PARSE_FAILED (syntax), GRAPHQL_VALIDATION_FAILED (unknown field,
/// wrong argument type, depth/complexity limits) or, when raised while
/// resolving a field (a variable that does not coerce), BAD_USER_INPUT.
fn code_errors(response: &mut async_graphql::Response, parses: bool) {
    for error in &mut response.errors {
        let coded = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if coded {
            continue;
        }
        let code = if !error.path.is_empty() {
            domain::ErrorCode::BadUserInput
        } else if !parses {
            domain::ErrorCode::GraphqlParseFailed
        } else {
            domain::ErrorCode::GraphqlValidationFailed
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}

async fn graphql(
    State(state): State<GqlState>,
    parts: axum::http::request::Parts,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let Ok(request) = request else {
        // Not JSON, not an object, no `query`: refused with a code, not a
        // plain-text 400.
        let mut response = error_response(ApiError(app::Error::Refused {
            code: domain::ErrorCode::BadRequest,
            message: "the body is not a GraphQL request: a JSON object with a `query` string"
                .into(),
        }))
        .into_response();
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return response;
    };
    let request = request.into_inner();
    let caller = match auth::Authenticated::of(&parts.extensions, &parts.headers, &state.api.auth) {
        None => None,
        Some(Ok(principal)) => Some(principal),
        Some(Err(e)) => {
            let refusal = ApiError(e.into());
            let mut response = error_response(refusal).into_response();
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return response;
        }
    };
    GraphQLResponse::from(state.gql.execute(request, caller.as_ref()).await).into_response()
}

async fn graphiql_page(State(state): State<GqlState>) -> Response {
    if !state.graphiql {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    Html(graphiql::PAGE).into_response()
}

async fn graphiql_asset(State(state): State<GqlState>, name: Path<String>) -> Response {
    if !state.graphiql {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    graphiql::asset(name)
}

/// The graphql-transport-ws endpoint ([`ws`]). The token may come in the
/// upgrade request's Authorization header or in the `connection_init`
/// payload (`{"Authorization": "Bearer …"}`), as browsers cannot set
/// headers on WebSockets.
async fn subscriptions(
    State(state): State<GqlState>,
    headers: HeaderMap,
    slot: Option<axum::Extension<ConnectionSlot>>,
    authenticated: Option<axum::Extension<auth::Authenticated>>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let header = match authenticated {
        Some(axum::Extension(done)) => done.0,
        None => headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| match v.to_str() {
                Ok(h) => state.api.auth.authenticate_header(Some(h)),
                Err(_) => Err(auth::AuthError::MalformedHeader),
            }),
    };
    let socket = ws::Socket {
        gql: state.gql.clone(),
        api: state.api.clone(),
        header,
        peer: peer.map(|axum::Extension(c)| c.0.ip()),
    };
    upgrade
        .protocols([ws::PROTOCOL])
        .max_message_size(ws::MAX_MESSAGE_BYTES)
        .max_frame_size(ws::MAX_MESSAGE_BYTES)
        .on_upgrade(move |stream| async move {
            let _slot = slot;
            socket.serve(stream).await
        })
        .into_response()
}
