//! The GraphQL API over the read models, and the mutations that issue
//! commands. Authentication (bearer JWT), authorization, PII masking and
//! audit live here; the server in `services` mounts [`routes`].

pub mod auth;
mod context;
mod error;
mod loaders;
mod mutation;
mod query;
mod subscription;
mod types;

pub use context::Api;
pub use error::ApiError;

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use auth::Principal;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub type OmnicaseSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

/// Limits that keep a hostile query cheap to refuse.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 2_000;
pub const MAX_ALIASES: usize = 30;
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The schema, with the application installed.
pub fn schema(api: Arc<Api>) -> OmnicaseSchema {
    let claimants = async_graphql::dataloader::DataLoader::new(
        loaders::ClaimantLoader {
            read: api.read.clone(),
        },
        tokio::spawn,
    );
    Schema::build(
        query::QueryRoot,
        mutation::MutationRoot,
        subscription::SubscriptionRoot,
    )
    .data(api)
    .data(claimants)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(20)
    .finish()
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

#[derive(Clone)]
struct GqlState {
    schema: OmnicaseSchema,
    api: Arc<Api>,
    graphiql: bool,
}

/// `/graphql` (POST queries and mutations; GET serves GraphiQL when
/// enabled) and `/graphql/ws` (subscriptions, graphql-ws protocol).
pub fn routes(api: Arc<Api>, graphiql: bool) -> Router {
    let state = GqlState {
        schema: schema(api.clone()),
        api,
        graphiql,
    };
    Router::new()
        .route("/graphql", get(graphiql_page).post(graphql))
        .route("/graphql/ws", get(subscriptions))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .with_state(state)
}

fn error_response(e: ApiError) -> GraphQLResponse {
    let err: async_graphql::Error = e.into();
    async_graphql::Response::from_errors(vec![err.into_server_error(async_graphql::Pos::default())])
        .into()
}

/// Counts aliased fields, so a query cannot fan one field out thousands of times.
fn too_many_aliases(query: &str) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return false; // the executor reports the syntax error
    };
    fn count(set: &async_graphql::parser::types::SelectionSet) -> usize {
        use async_graphql::parser::types::Selection;
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + count(&f.node.selection_set.node)
                }
                Selection::FragmentSpread(_) => 0,
                Selection::InlineFragment(i) => count(&i.node.selection_set.node),
            })
            .sum()
    }
    let operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node))
        .sum();
    let fragments: usize = doc
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node))
        .sum();
    operations + fragments > MAX_ALIASES
}

async fn graphql(
    State(state): State<GqlState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let mut request = request.into_inner();
    if too_many_aliases(&request.query) {
        return error_response(ApiError::BadInput(format!(
            "a query may use at most {MAX_ALIASES} aliases"
        )));
    }
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if header.is_some() {
        match state.api.auth.authenticate_header(header) {
            Ok(principal) => request = request.data(principal),
            Err(_) => return error_response(ApiError::Unauthenticated),
        }
    }
    state.schema.execute(request).await.into()
}

async fn graphiql_page(State(state): State<GqlState>) -> Response {
    if !state.graphiql {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
    .into_response()
}

/// The token may come in the upgrade request's Authorization header or in
/// the `connection_init` payload (`{"Authorization": "Bearer …"}`), as
/// browsers cannot set headers on WebSockets.
async fn subscriptions(
    State(state): State<GqlState>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_header: Option<Principal> = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| state.api.auth.authenticate_header(Some(h)).ok());
    let auth = state.api.auth.clone();
    let schema = state.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let mut data = Data::default();
                    let token = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str());
                    match (token, from_header) {
                        (Some(t), _) => match auth.authenticate_header(Some(t)) {
                            Ok(p) => data.insert(p),
                            Err(_) => {
                                return Err(async_graphql::Error::new("authentication required"))
                            }
                        },
                        (None, Some(p)) => data.insert(p),
                        (None, None) => {}
                    }
                    Ok(data)
                })
                .serve()
        })
        .into_response()
}
