//! Subscriptions over a real socket (graphql-transport-ws).

use crate::api::seed;
use app::auth::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tests::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The upgrade request of a graphql-transport-ws socket.
pub(crate) fn ws_request(
    addr: std::net::SocketAddr,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
}

/// A socket speaking graphql-transport-ws, not yet initialised.
pub(crate) async fn ws_raw(addr: std::net::SocketAddr) -> Socket {
    tokio_tungstenite::connect_async(ws_request(addr))
        .await
        .unwrap()
        .0
}

pub(crate) async fn connect(addr: std::net::SocketAddr, token: &str) -> Socket {
    let mut ws = ws_raw(addr).await;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    ws
}

pub(crate) async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON message (pings skipped), within 15 s.
pub(crate) async fn next(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] != "ping" && v["type"] != "pong" {
                return v;
            }
        }
    }
}

/// A caseworker of tenant alpha moves the case to UNDER_REVIEW; the new
/// version.
pub(crate) async fn under_review(w: &ApiWorld, case_id: &str) -> u64 {
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let r = w
        .gql(
            Some(&cw),
            "mutation($c: ID!) { changePhase(caseId: $c, phase: UNDER_REVIEW, idempotencyKey: \"p1\") { version } }",
            json!({"c": case_id}),
        )
        .await;
    r["data"]["changePhase"]["version"]
        .as_u64()
        .expect("a new version")
}

pub(crate) const SUBSCRIBE: &str =
    "subscription($id: ID!) { claimStatusChanged(caseId: $id) { status version } }";

/// A citizen subscribed to their claim sees the status change a caseworker
/// makes; a stranger subscribing to the same id gets NOT_FOUND, exactly as
/// for an id that does not exist.
async fn claim_status_changes_reach_subscribers(backend: Backend) {
    let w = api_world(backend).await;
    let a = seed(&w, "alpha", "123456789").await;
    let b = seed(&w, "alpha", "987654321").await;
    let addr = w.serve().await;

    let mut ws = connect(addr, &a.citizen).await;
    send(&mut ws, json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": a.case_id}}})).await;
    // Give the subscription a moment to register before the change.
    tokio::time::sleep(Duration::from_millis(200)).await;
    under_review(&w, &a.case_id).await;
    let msg = next(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(
        msg["payload"]["data"]["claimStatusChanged"]["status"], "INITIAL_REVIEW",
        "{msg}"
    );

    let mut stranger = connect(addr, &b.citizen).await;
    send(&mut stranger, json!({"id": "2", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": a.case_id}}})).await;
    let theirs = next(&mut stranger).await;
    assert_eq!(
        next(&mut stranger).await,
        json!({"id": "2", "type": "complete"})
    );
    send(&mut stranger, json!({"id": "3", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": "00000000-0000-7000-8000-000000000000"}}})).await;
    let mut missing = next(&mut stranger).await;
    missing["id"] = json!("2");
    assert_eq!(
        theirs, missing,
        "a stranger's subscription looks like a missing id"
    );
    // Another agency's staff: the same.
    let beta = w.token(
        "beta",
        "boss",
        &[Role::Supervisor, Role::Caseworker],
        None,
        true,
    );
    let mut foreign = connect(addr, &beta).await;
    send(&mut foreign, json!({"id": "2", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": a.case_id}}})).await;
    assert_eq!(
        next(&mut foreign).await,
        theirs,
        "another tenant's staff sees a missing id"
    );
    let code = theirs["payload"][0]["extensions"]["code"]
        .as_str()
        .or(theirs["payload"]["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("NOT_FOUND"), "{theirs}");
}
both!(claim_status_changes_reach_subscribers);
