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
use async_graphql_axum::rejection::GraphQLRejection;
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

/// What the handler learns from parsing a query before executing it.
struct Screen {
    parses: bool,
    aliases: usize,
}

/// Parses the query once to count aliased fields, so a query cannot fan one
/// field out thousands of times.
fn screen(query: &str) -> Screen {
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        // The executor reports the syntax error; it is coded below.
        return Screen {
            parses: false,
            aliases: 0,
        };
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
    Screen {
        parses: true,
        aliases: operations + fragments,
    }
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
            "BAD_USER_INPUT"
        } else if !parses {
            "GRAPHQL_PARSE_FAILED"
        } else {
            "GRAPHQL_VALIDATION_FAILED"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

async fn graphql(
    State(state): State<GqlState>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let Ok(request) = request else {
        // Not JSON, not an object, no `query`: refused with a code, not a
        // plain-text 400.
        let mut response = error_response(ApiError::Refused {
            code: "BAD_REQUEST",
            message: "the body is not a GraphQL request: a JSON object with a `query` string"
                .into(),
        })
        .into_response();
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return response;
    };
    let mut request = request.into_inner();
    let screen = screen(&request.query);
    if screen.aliases > MAX_ALIASES {
        return error_response(ApiError::BadInput(format!(
            "a query may use at most {MAX_ALIASES} aliases"
        )))
        .into_response();
    }
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if header.is_some() {
        match state.api.auth.authenticate_header(header) {
            Ok(principal) => request = request.data(principal),
            Err(_) => return error_response(ApiError::Unauthenticated).into_response(),
        }
    }
    let mut response = state.schema.execute(request).await;
    code_errors(&mut response, screen.parses);
    GraphQLResponse::from(response).into_response()
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
