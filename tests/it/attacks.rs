//! Attacks on a real server socket (issue 16): requests of any size or
//! shape must neither end the process nor exhaust it nor outlive their
//! bounds. Each test sends the attack, checks the coded refusal, then checks
//! that the same server still answers an ordinary request. Run by `make
//! security` (this whole module) and by `make test`.

use crate::api::{seed, CLAIM};
use crate::socket::{connect, next, send, under_review, ws_raw, ws_request, Socket, SUBSCRIBE};
use app::auth::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Sends raw bytes and reads the whole answer (the request says
/// `Connection: close`); the status and the body as JSON (Null if not).
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, Value, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    parse_response(&answer)
}

fn parse_response(answer: &[u8]) -> (u16, Value, String) {
    let text = String::from_utf8_lossy(answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // Chunked bodies: take the JSON between the chunk sizes.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.lines()
            .filter(|l| l.starts_with('{') || l.starts_with('['))
            .collect::<String>()
    } else {
        body.to_owned()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::Null),
        head.to_owned(),
    )
}

fn post(path: &str, token: Option<&str>, body: &str) -> Vec<u8> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn gql(addr: SocketAddr, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = json!({"query": query, "variables": variables}).to_string();
    raw(addr, &post("/graphql", token, &body)).await.1
}

/// The server still serves an ordinary read.
async fn still_serves(addr: SocketAddr, s: &crate::api::Seeded) {
    let r = gql(addr, Some(&s.citizen), CLAIM, json!({"id": s.case_id})).await;
    assert_eq!(r["data"]["claim"]["id"], s.case_id.as_str(), "{r}");
}

fn code(r: &Value) -> Option<&str> {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .or(r["error"]["code"].as_str())
}

fn nested(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

/// Each shape the parser or validator would follow recursively, 2,000
/// levels deep, anonymous and with a token: refused with
/// GRAPHQL_PARSE_FAILED, and the server answers the next query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_documents_are_refused_and_the_server_stays_up() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let n = 2_000;
    let attacks = [
        format!(
            "{{claim(id:{}\"x\"{}){{id}}}}",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!("{{claim(id:{}1{}){{id}}}}", "{a:".repeat(n), "}".repeat(n)),
        format!(
            "query($v:{}Int{}){{__typename}}",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!("{{{}a{}}}", "a{".repeat(n), "}".repeat(n)),
        format!(
            "{{{}__typename{}}}",
            "...on QueryRoot{".repeat(n),
            "}".repeat(n)
        ),
        format!(
            "{{__typename @include(if:{}true{})}}",
            "[".repeat(n),
            "]".repeat(n)
        ),
    ];
    for (i, query) in attacks.iter().enumerate() {
        for token in [None, Some(s.citizen.as_str())] {
            let r = gql(addr, token, query, json!({})).await;
            assert_eq!(code(&r), Some("GRAPHQL_PARSE_FAILED"), "attack {i}: {r}");
            let message = r["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("deeper than"), "attack {i}: {r}");
        }
        still_serves(addr, &s).await;
    }
    // A chain of fragments, each spreading the next: no bracket nests, but
    // a validator that follows spreads recurses once per fragment. The
    // schema's recursion limit (32) refuses it before any visitor follows it.
    let mut chain = String::from("{...F0}\n");
    for i in 0..1_500 {
        chain.push_str(&format!("fragment F{i} on QueryRoot{{...F{}}}\n", i + 1));
    }
    chain.push_str("fragment F1500 on QueryRoot{__typename}\n");
    for token in [None, Some(s.citizen.as_str())] {
        let r = gql(addr, token, &chain, json!({})).await;
        assert_eq!(
            code(&r),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "fragment chain: {r}"
        );
    }
    still_serves(addr, &s).await;
    // Deep JSON variables are refused by the JSON decoder (depth 128).
    let deep_json = format!(
        "{{\"query\":\"{{__typename}}\",\"variables\":{{\"v\":{}}}}}",
        nested("[", "]", 20_000)
    );
    let (status, r, _) = raw(addr, &post("/graphql", None, &deep_json)).await;
    assert_eq!(status, 400, "{r}");
    assert_eq!(code(&r), Some("BAD_REQUEST"), "{r}");
    still_serves(addr, &s).await;
}

/// Fragments that each spread the previous one twice cost 2^n: refused
/// before execution by the expanded field count, with or without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_explosions_are_refused_before_execution() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let mut query = String::from("{...F30}\nfragment F0 on QueryRoot{__typename}\n");
    for n in 1..=30 {
        query.push_str(&format!(
            "fragment F{n} on QueryRoot{{__typename ...F{p} ...F{p}}}\n",
            p = n - 1
        ));
    }
    for token in [None, Some(s.citizen.as_str())] {
        let r = gql(addr, token, &query, json!({})).await;
        assert_eq!(code(&r), Some("GRAPHQL_VALIDATION_FAILED"), "{r}");
        assert!(
            r["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("fragments are expanded")),
            "{r}"
        );
    }
    // Aliases hidden in a fragment spread many times count too.
    let aliases = format!(
        "query($id: ID!) {{ {} }} fragment F on QueryRoot {{ c: claim(id: $id) {{ id }} }}",
        "...F ".repeat(40)
    );
    let r = gql(addr, Some(&s.citizen), &aliases, json!({"id": s.case_id})).await;
    assert_eq!(code(&r), Some("GRAPHQL_VALIDATION_FAILED"), "{r}");
    still_serves(addr, &s).await;
}

/// The close code the server ends the socket with (within 15 s).
async fn closed_with(ws: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("the server closes in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// The WebSocket path has the HTTP path's limits and the protocol's own
/// close codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_has_the_same_limits_and_the_protocol_close_codes() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;

    let mut ws = connect(addr, &s.citizen).await;
    let deep = format!(
        "{{claim(id:{}\"x\"{}){{id}}}}",
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    let mut explosion = String::from("{...F30}\nfragment F0 on QueryRoot{__typename}\n");
    for n in 1..=30 {
        explosion.push_str(&format!(
            "fragment F{n} on QueryRoot{{__typename ...F{p} ...F{p}}}\n",
            p = n - 1
        ));
    }
    let aliases: String = (0..40)
        .map(|i| format!("a{i}: claim(id: \"{}\") {{ id }} ", s.case_id))
        .collect();
    let cases = [
        (deep, "GRAPHQL_PARSE_FAILED"),
        (explosion, "GRAPHQL_VALIDATION_FAILED"),
        (format!("{{ {aliases} }}"), "GRAPHQL_VALIDATION_FAILED"),
        // The complexity limit's message comes with a code here too.
        (
            format!(
                "{{ {} }}",
                (0..25)
                    .map(|i| format!("q{i}: myClaims(first: 100) {{ edges {{ node {{ id status timeline {{ at }} }} }} }}"))
                    .collect::<String>()
            ),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (i, (query, expected)) in cases.iter().enumerate() {
        let id = format!("op{i}");
        send(
            &mut ws,
            json!({"id": id, "type": "subscribe", "payload": {"query": query}}),
        )
        .await;
        let m = next(&mut ws).await;
        assert_eq!(m["type"], "error", "case {i}: {m}");
        assert_eq!(m["id"], id.as_str());
        assert_eq!(
            m["payload"][0]["extensions"]["code"], *expected,
            "case {i}: {m}"
        );
    }
    // The socket still works.
    send(&mut ws, json!({"id": "ok", "type": "subscribe", "payload": {"query": CLAIM, "variables": {"id": s.case_id}}})).await;
    let m = next(&mut ws).await;
    assert_eq!(
        m["payload"]["data"]["claim"]["id"],
        s.case_id.as_str(),
        "{m}"
    );
    assert_eq!(next(&mut ws).await, json!({"id": "ok", "type": "complete"}));

    // An id may be used again once its operation completed.
    for _ in 0..20 {
        send(
            &mut ws,
            json!({"id": "again", "type": "subscribe", "payload": {"query": "{ __typename }"}}),
        )
        .await;
        assert_eq!(next(&mut ws).await["type"], "next");
        assert_eq!(next(&mut ws).await["type"], "complete");
    }
    // A subscription id already in use: 4409.
    send(&mut ws, json!({"id": "dup", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": s.case_id}}})).await;
    send(&mut ws, json!({"id": "dup", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": s.case_id}}})).await;
    assert_eq!(closed_with(&mut ws).await, Some(4409));

    // Subscribe before connection_init: 4401.
    let mut ws = ws_raw(addr).await;
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "{__typename}"}}),
    )
    .await;
    assert_eq!(closed_with(&mut ws).await, Some(4401));

    // Not a protocol message: 4400.
    let mut ws = connect(addr, &s.citizen).await;
    send(&mut ws, json!({"type": "start", "id": "1"})).await;
    assert_eq!(closed_with(&mut ws).await, Some(4400));

    // A second connection_init: 4429.
    let mut ws = connect(addr, &s.citizen).await;
    send(&mut ws, json!({"type": "connection_init"})).await;
    assert_eq!(closed_with(&mut ws).await, Some(4429));

    // No connection_init at all: closed with 4408 (the deadline is 3 s).
    let mut ws = ws_raw(addr).await;
    assert_eq!(closed_with(&mut ws).await, Some(4408));

    // A message over the size limit (16 MiB was acknowledged before):
    // the socket is dropped, the server goes on.
    let mut ws = ws_raw(addr).await;
    let huge = json!({"type": "connection_init", "payload": {"pad": "x".repeat(16 * 1024 * 1024)}});
    let _ = ws.send(Message::Text(huge.to_string().into())).await;
    let acked = tokio::time::timeout(Duration::from_secs(15), ws.next()).await;
    assert!(
        !matches!(acked, Ok(Some(Ok(Message::Text(ref t)))) if t.contains("connection_ack")),
        "a 16 MiB message was acknowledged"
    );
    still_serves(addr, &s).await;
}

/// A token that expires while its socket is open: the socket is closed
/// with 4403 at expiry, and nothing runs on it after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_closes_its_socket() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let auth = &w.app.settings.auth;
    let short = app::auth::mint_hs256(
        auth.hs256_secret.as_deref().unwrap().as_bytes(),
        &auth.issuer,
        &auth.audience,
        &app::auth::DevToken {
            tenant: tenant("alpha"),
            subject: domain::ActorId::parse("agent-7").unwrap(),
            roles: vec![Role::Agent],
            sensitive: false,
            claimant: None,
            office: None,
            ttl: chrono::Duration::seconds(3),
        },
        chrono::Utc::now(),
    )
    .unwrap();
    let mut ws = connect(addr, &short).await;
    send(&mut ws, json!({"id": "q", "type": "subscribe", "payload": {"query": "{ workQueue(queue: UNASSIGNED) { edges { node { caseId } } } }"}})).await;
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "next", "{m}");
    let started = std::time::Instant::now();
    assert_eq!(closed_with(&mut ws).await, Some(4403));
    assert!(started.elapsed() < Duration::from_secs(10));
    // HTTP refuses the token too (after the clock-skew leeway).
    still_serves(addr, &s).await;
}

/// Subscriptions are bounded per socket and per person; one change reaches
/// each subscriber once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_bounded_and_fanned_out_once() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let mut sockets = Vec::new();
    // 3 sockets × 20: the 21st on a socket and the 51st of the person are
    // refused with a code.
    for socket in 0..3 {
        let mut ws = connect(addr, &s.citizen).await;
        for i in 0..21 {
            send(&mut ws, json!({"id": format!("s{i}"), "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": s.case_id}}})).await;
        }
        let refused = next(&mut ws).await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(
            refused["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
            "socket {socket}: {refused}"
        );
        sockets.push(ws);
    }
    // Socket 2 got 10 of the person's 50: its 11th..20th were refused too.
    let mut refusals = 0;
    while let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_millis(500), sockets[2].next()).await
    {
        let m: Value = serde_json::from_str(&t).unwrap();
        if m["type"] == "error" {
            refusals += 1;
        }
    }
    assert_eq!(refusals, 10, "the person's 51st to 60th subscriptions");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let version = under_review(&w, &s.case_id).await;
    // Each of the 50 live subscriptions gets the new version exactly once.
    let mut delivered = std::collections::HashMap::<String, usize>::new();
    for (n, ws) in sockets.iter_mut().enumerate() {
        while let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(3), ws.next()).await
        {
            let m: Value = serde_json::from_str(&t).unwrap();
            if m["type"] == "next" {
                assert_eq!(
                    m["payload"]["data"]["claimStatusChanged"]["version"], version,
                    "{m}"
                );
                *delivered.entry(format!("{n}/{}", m["id"])).or_default() += 1;
            }
        }
    }
    assert_eq!(delivered.len(), 50, "{delivered:?}");
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    // Closing a socket frees its share of the person's quota.
    drop(sockets.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws = connect(addr, &s.citizen).await;
    send(&mut ws, json!({"id": "again", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": s.case_id}}})).await;
    let quiet = tokio::time::timeout(Duration::from_millis(800), ws.next()).await;
    assert!(
        quiet.is_err(),
        "a subscription in the freed quota is accepted: {quiet:?}"
    );
}

/// Intake authenticates from the headers before it reads a body: an
/// anonymous upload declaring 127 MiB is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_uploads_are_refused_before_their_body() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    for path in ["/intake/mail-batches", "/intake/submissions"] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 133169152\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&[b' '; 4096]).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .expect("refused without waiting for the body")
            .unwrap();
        let (status, body, _) = parse_response(&answer[..n]);
        assert!(status == 401 || status == 413, "{path}: {status} {body}");
        assert!(code(&body).is_some(), "{path}: {body}");
    }
    still_serves(addr, &s).await;
}

/// Slow clients are cut off: an unfinished request head and a stalled body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let w = api_world_with(Backend::Sqlite, |s| {
        s.server.header_read_timeout_secs = 1;
        s.server.body_timeout_secs = 1;
    })
    .await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    // Half a request head, then nothing.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection stays open with half a head");
    // An idle keep-alive connection after one request.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "an idle keep-alive connection stays open");
    // A body that stops half way: answered with a code, or closed.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /intake/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"channel\":",
        s.citizen
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("a stalled body is not waited for");
    if !answer.is_empty() {
        let (status, body, _) = parse_response(&answer);
        assert!(status == 408 || status == 400, "{status} {body}");
        assert!(code(&body).is_some(), "{body}");
    }
    still_serves(addr, &s).await;
}

/// Past the connection cap a small headroom still answers health checks;
/// past that, connections are closed at once; the server recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_keeps_room_for_health_checks() {
    let w = api_world_with(Backend::Sqlite, |s| {
        s.server.max_connections = 16;
        s.server.header_read_timeout_secs = 30;
    })
    .await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, _) = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "a health check in the headroom");
    for _ in 0..services::http::HEADROOM {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(addr).await.unwrap();
    let _ = over
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), over.read_to_end(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "a connection past the headroom is closed at once: {:?}",
        String::from_utf8_lossy(&buf)
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    still_serves(addr, &s).await;
}

/// A valid token of a tenant this deployment does not serve is refused at
/// authentication, on every route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_unknown_tenants_are_refused_everywhere() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let ghost = w.token("ghost", "scanner-1", &[Role::Integrator], None, false);
    let (status, r, _) = raw(
        addr,
        &post(
            "/graphql",
            Some(&ghost),
            &json!({"query": "{__typename}"}).to_string(),
        ),
    )
    .await;
    assert_eq!((status, code(&r)), (401, Some("UNKNOWN_TENANT")), "{r}");
    let letter = std::fs::read_to_string(format!(
        "{}/../fixtures/mail/batch-2026-11-06.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for (path, body) in [
        ("/intake/mail-batches", letter.as_str()),
        ("/intake/submissions", "{}"),
    ] {
        let (status, r, _) = raw(addr, &post(path, Some(&ghost), body)).await;
        assert_eq!(
            (status, code(&r)),
            (401, Some("UNKNOWN_TENANT")),
            "{path}: {r}"
        );
    }
    let mut ws = ws_raw(addr).await;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {ghost}")}}),
    )
    .await;
    assert_eq!(closed_with(&mut ws).await, Some(4403));
    still_serves(addr, &s).await;
}

/// Every refusal the HTTP layers make is JSON with a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_json_with_a_code() {
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let big = format!("{{\"query\":\"{}\"}}", "a".repeat(100 * 1024));
    let chunked_big = {
        let chunk = "x".repeat(2 * 1024 * 1024);
        format!(
            "POST /intake/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            s.citizen,
            chunk.len()
        )
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (post("/graphql", Some(&s.citizen), &big), 413, "PAYLOAD_TOO_LARGE"),
        (chunked_big.into_bytes(), 413, "PAYLOAD_TOO_LARGE"),
        (
            format!("GET /intake/mail-batches/%ff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", s.citizen).into_bytes(),
            400,
            "BAD_REQUEST",
        ),
        (b"GET /no/such/route HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404, "NOT_FOUND"),
        (b"DELETE /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 405, "METHOD_NOT_ALLOWED"),
        (post("/graphql", Some("not.a.jwt"), "{\"query\":\"{__typename}\"}"), 401, "UNAUTHENTICATED"),
        (post("/intake/submissions", Some("not.a.jwt"), "{}"), 401, "UNAUTHENTICATED"),
    ];
    for (i, (request, status, expected)) in cases.iter().enumerate() {
        let (got, body, head) = raw(addr, request).await;
        assert_eq!(got, *status, "case {i}: {head} {body}");
        assert!(
            head.to_ascii_lowercase()
                .lines()
                .any(|l| l.starts_with("content-type: application/") && l.ends_with("json")),
            "case {i}: {head}"
        );
        assert_eq!(code(&body), Some(*expected), "case {i}: {body}");
        // No made-up location on refusals before parsing.
        assert!(
            body["errors"][0].get("locations").is_none(),
            "case {i}: {body}"
        );
    }
    still_serves(addr, &s).await;
}

/// Outside development: introspection only for authenticated staff and
/// integrators, no "Did you mean …" for anonymous callers, over HTTP and
/// the WebSocket alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_development_the_schema_is_not_shown_to_strangers() {
    let w = api_world_with(Backend::Sqlite, |s| {
        s.dev = false;
        s.auth.hs256_secret = Some("a-production-secret-long-enough-0123456789".into());
    })
    .await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    let integrator = w.token("alpha", "partner-api", &[Role::Integrator], None, false);
    let introspect = "{ __schema { queryType { name } } }";
    for (who, token, allowed) in [
        ("anonymous", None, false),
        ("citizen", Some(s.citizen.as_str()), false),
        ("caseworker", Some(cw.as_str()), true),
        ("integrator", Some(integrator.as_str()), true),
    ] {
        let r = gql(addr, token, introspect, json!({})).await;
        if allowed {
            assert_eq!(
                r["data"]["__schema"]["queryType"]["name"], "QueryRoot",
                "{who}: {r}"
            );
        } else {
            assert_eq!(code(&r), Some("GRAPHQL_VALIDATION_FAILED"), "{who}: {r}");
        }
    }
    // GraphiQL is a development page.
    let (status, _, _) = raw(
        addr,
        b"GET /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404);
    // Suggestions: none for anonymous callers, as before for the signed-in.
    let typo = "{ myClaimz { totalCount } }";
    let anonymous = gql(addr, None, typo, json!({})).await;
    assert!(
        !anonymous.to_string().contains("Did you mean"),
        "{anonymous}"
    );
    let signed_in = gql(addr, Some(&s.citizen), typo, json!({})).await;
    assert!(
        signed_in.to_string().contains("Did you mean"),
        "{signed_in}"
    );
    // The WebSocket: the same rules.
    let mut ws = ws_raw(addr).await;
    send(&mut ws, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    send(
        &mut ws,
        json!({"id": "i", "type": "subscribe", "payload": {"query": introspect}}),
    )
    .await;
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "error", "{m}");
    send(
        &mut ws,
        json!({"id": "t", "type": "subscribe", "payload": {"query": typo}}),
    )
    .await;
    let m = next(&mut ws).await;
    assert!(!m.to_string().contains("Did you mean"), "{m}");
    let mut staff = connect(addr, &cw).await;
    send(
        &mut staff,
        json!({"id": "i", "type": "subscribe", "payload": {"query": introspect}}),
    )
    .await;
    let m = next(&mut staff).await;
    assert_eq!(
        m["payload"]["data"]["__schema"]["queryType"]["name"], "QueryRoot",
        "{m}"
    );
}

/// GraphQL inputs have the bounds of the published contract: contention
/// count and length, control and bidirectional formatting characters in
/// names and keys; mail batch ids `.` and `..` are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_have_the_contracts_bounds() {
    use crate::api::{REGISTER, SUBMIT};
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    let submit = |contentions: Vec<String>, key: &str| json!({"key": key, "input": {"benefitType": "PENSION", "contentions": contentions}});
    let many: Vec<String> = (0..101).map(|i| format!("contention {i}")).collect();
    let r = gql(addr, Some(&s.citizen), SUBMIT, submit(many, "many")).await;
    assert_eq!(code(&r), Some("TOO_MANY_CONTENTIONS"), "{r}");
    let long = vec!["x".repeat(4_001)];
    let r = gql(addr, Some(&s.citizen), SUBMIT, submit(long, "long")).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    for key in ["k\u{0}ey", "k\u{202E}yek", "   "] {
        let r = gql(
            addr,
            Some(&s.citizen),
            SUBMIT,
            submit(vec!["knee".into()], key),
        )
        .await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{key:?}: {r}");
    }
    let agent = w.token("alpha", "agent-1", &[Role::Agent], None, false);
    for name in ["Al\u{202E}xe", "Nul\u{0}l", "Tab\u{2066}"] {
        let r = gql(
            addr,
            Some(&agent),
            REGISTER,
            json!({"key": format!("reg-{name}"), "input": {
                "fileNumber": "555666777", "givenName": name, "familyName": "Rivera",
                "birthDate": "1980-04-02", "postcode": "20420"
            }}),
        )
        .await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{name:?}: {r}");
    }
    // The 100 the contract allows are accepted.
    let hundred: Vec<String> = (0..100).map(|i| format!("contention {i}")).collect();
    let r = gql(addr, Some(&s.citizen), SUBMIT, submit(hundred, "hundred")).await;
    assert!(r["data"]["submitClaim"]["version"].is_number(), "{r}");
    let scanner = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    for id in [".", "..", "a\u{202E}b", "a\u{1}b"] {
        let manifest = json!({"schemaVersion": 1, "batchId": id, "documents": []}).to_string();
        let (status, r, _) = raw(
            addr,
            &post("/intake/mail-batches", Some(&scanner), &manifest),
        )
        .await;
        assert_eq!(status, 422, "{id:?}: {r}");
        assert!(code(&r).is_some(), "{id:?}: {r}");
    }
    still_serves(addr, &s).await;
}

/// Request rates per principal and per client address, and a tighter one
/// for people look-ups per agent: 429 / RATE_LIMITED with Retry-After, the
/// look-up refusals audited; other callers are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_are_limited_per_principal_address_and_lookup() {
    let w = api_world_with(Backend::Sqlite, |s| {
        s.rate_limits.per_minute = 8;
        s.rate_limits.anonymous_per_minute = 8;
        s.rate_limits.lookups_per_minute = 4;
        s.rate_limits.roles = [("SUPERVISOR".to_owned(), 600)].into_iter().collect();
    })
    .await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    // A caseworker: a burst of 2 (a quarter of 8 a minute), then 429.
    let cw = w.token("alpha", "cw-rate", &[Role::Caseworker], None, false);
    let claim = json!({"query": CLAIM, "variables": {"id": s.case_id}}).to_string();
    let mut statuses = Vec::new();
    let mut last = (0, Value::Null, String::new());
    for _ in 0..3 {
        last = raw(addr, &post("/graphql", Some(&cw), &claim)).await;
        statuses.push(last.0);
    }
    assert_eq!(statuses, [200, 200, 429], "{:?}", last.1);
    assert_eq!(code(&last.1), Some("RATE_LIMITED"), "{}", last.1);
    assert!(
        last.2.to_ascii_lowercase().contains("retry-after: "),
        "{}",
        last.2
    );
    // Anonymous requests count against the address, on every route.
    let statuses: Vec<u16> = futures_util::future::join_all(
        (0..3).map(|_| async { raw(addr, &post("/intake/submissions", None, "{}")).await.0 }),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        1,
        "{statuses:?}"
    );
    // Look-ups of people: one at once for an agent, then refused and audited.
    let agent = w.token("alpha", "agent-9", &[Role::Agent], None, false);
    let lookup = "query($f: String!) { caseContextByFileNumber(fileNumber: $f, purpose: \"inbound call\") { identityVerified } }";
    let first = gql(addr, Some(&agent), lookup, json!({"f": "123456789"})).await;
    assert!(first["errors"].is_null(), "{first}");
    let second = gql(addr, Some(&agent), lookup, json!({"f": "987654321"})).await;
    assert_eq!(code(&second), Some("RATE_LIMITED"), "{second}");
    assert!(second["errors"][0]["extensions"]["retryAfterSeconds"].as_u64() >= Some(1));
    let supervisor = w.token("alpha", "boss", &[Role::Supervisor], None, true);
    let log = gql(
        addr,
        Some(&supervisor),
        "{ auditLog(first: 50) { edges { node { actor action outcome } } } }",
        json!({}),
    )
    .await;
    let refused = log["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["actor"] == "agent-9" && e["node"]["outcome"] == "RATE_LIMITED")
        .count();
    assert_eq!(refused, 1, "{log}");
    // Operations on a WebSocket count against the same rate.
    // (The handshake carries the token, so it counts against the same
    // person: one of the burst of two.)
    let ws_user = w.token("alpha", "cw-ws", &[Role::Caseworker], None, false);
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert(
        "authorization",
        format!("Bearer {ws_user}").parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut ws, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    let mut refused = 0;
    for i in 0..3 {
        send(&mut ws, json!({"id": format!("q{i}"), "type": "subscribe", "payload": {"query": CLAIM, "variables": {"id": s.case_id}}})).await;
        let m = next(&mut ws).await;
        if m["type"] == "error" && m["payload"][0]["extensions"]["code"] == "RATE_LIMITED" {
            refused += 1;
        }
        if m["type"] == "next" {
            assert_eq!(next(&mut ws).await["type"], "complete");
        }
    }
    assert_eq!(refused, 2, "past the burst of two (handshake included)");
    // Others are not affected.
    let other = w.token("alpha", "agent-10", &[Role::Agent], None, false);
    let r = gql(addr, Some(&other), lookup, json!({"f": "123456789"})).await;
    assert!(r["errors"].is_null(), "{r}");
}

/// A client that never reads its socket is disconnected once the server
/// could not hand it a message for the write timeout (10 s); what waits for
/// it is a bounded queue, never everything that changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_disconnected() {
    use crate::api::SUBMIT;
    let w = api_world(Backend::Sqlite).await;
    let s = seed(&w, "alpha", "123456789").await;
    let addr = w.serve().await;
    // A claim near the largest a request can carry (the 64 KiB body).
    let contentions: Vec<String> = (0..14)
        .map(|i| format!("{i:03}{}", "x".repeat(3_997)))
        .collect();
    let r = gql(
        addr,
        Some(&s.citizen),
        SUBMIT,
        json!({"key": "big", "input": {"benefitType": "PENSION", "contentions": contentions}}),
    )
    .await;
    let case_id = r["data"]["submitClaim"]["caseId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A socket with a tiny receive window, subscribed 20 times.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        ws_request(addr),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    send(&mut ws, json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {}", s.citizen)}})).await;
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    let big = "subscription($id: ID!) { claimStatusChanged(caseId: $id) { version contentions { description } } }";
    for i in 0..20 {
        send(&mut ws, json!({"id": format!("s{i}"), "type": "subscribe", "payload": {"query": big, "variables": {"id": case_id}}})).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Changes while the client reads nothing: each one is 20 messages of
    // about 56 KB.
    let cw = w.token("alpha", "cw-1", &[Role::Caseworker], None, false);
    for n in 0..10 {
        let r = w
            .gql(
                Some(&cw),
                "mutation($c: ID!, $k: String!) { recordContact(caseId: $c, input: { kind: NOTE, summary: \"note\" }, idempotencyKey: $k) { version } }",
                json!({"c": case_id, "k": format!("n{n}")}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(14)).await;
    // Now read: the server gave up on this client.
    let mut nexts = 0;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"next\"") => nexts += 1,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the socket is still open after {nexts} messages"
    );
    assert!(
        nexts < 100,
        "all {nexts} messages were kept for a client that did not read"
    );
    still_serves(addr, &s).await;
}
