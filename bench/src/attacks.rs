//! The server's memory under the largest request it allows and under the
//! attacks of tests/it/attacks.rs (`make bench`, section `attacks`): each
//! is sent to a fresh `omnicase serve` (embedded default, demo data) while
//! its RSS is sampled every 10 ms; the peak, the answers and whether the
//! server still answers /healthz afterwards are reported.

use crate::extra::Server;
use crate::BenchError;
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A development token of the demo tenant (the embedded default's secret).
fn token(subject: &str, roles: &[app::auth::Role]) -> Result<String, BenchError> {
    app::auth::mint_hs256(
        services::config::DEV_SECRET.as_bytes(),
        "omnicase",
        "omnicase",
        &app::auth::DevToken {
            tenant: domain::TenantId::parse("demo")
                .map_err(|e| BenchError::Setup(e.to_string()))?,
            subject: domain::ActorId::parse(subject)
                .map_err(|e| BenchError::Setup(e.to_string()))?,
            roles: roles.to_vec(),
            sensitive: false,
            claimant: None,
            office: None,
            ttl: chrono::Duration::hours(1),
        },
        chrono::Utc::now(),
    )
    .map_err(|e| BenchError::Setup(e.to_string()))
}

/// Sends a request and reads the answer's status (0: the connection was
/// closed without an answer, e.g. reset while the client was still sending).
async fn request(addr: SocketAddr, bytes: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return 0;
    };
    if s.write_all(bytes).await.is_err() {
        return 0;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(120), s.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn post(path: &str, token: Option<&str>, body: &str) -> Vec<u8> {
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body.as_bytes());
    r
}

/// The peak RSS of `pid` (MiB) while `work` runs.
async fn peak_during<F: std::future::Future>(server: &Server, work: F) -> (F::Output, f64) {
    let pid = server.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(crate::extra::proc_status_kib(pid, "VmRSS:").unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let out = work.await;
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await.unwrap_or(0);
    (out, peak as f64 / 1024.0)
}

fn manifest(docs: usize) -> String {
    let entries: Vec<Value> = (0..docs)
        .map(|i| {
            json!({"documentId": format!("bench-{i:07}"), "receivedAt": "2026-11-04T00:00:00Z",
                "scannedAt": "2026-11-06T08:12:00Z", "documentType": "CORRESPONDENCE", "pageCount": 1,
                "checksum": format!("sha256:{:064x}", i), "storageRef": format!("s3://bench/scan-{i:07}.pdf"),
                "ocr": {"givenName": "J", "familyName": format!("Nobody{i}")}})
        })
        .collect();
    json!({"schemaVersion": 1, "batchId": format!("bench-largest-{docs}"), "documents": entries})
        .to_string()
}

fn tally(statuses: Vec<u16>) -> BTreeMap<u16, usize> {
    let mut t = BTreeMap::new();
    for s in statuses {
        *t.entry(s).or_default() += 1;
    }
    t
}

pub async fn server_under_attack(
    bin: &std::path::Path,
    sqlite_url: &str,
    quick: bool,
) -> Result<Value, BenchError> {
    use app::auth::Role;
    let server = Server::start(bin, sqlite_url).await?;
    let addr = server.addr;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.rss_mib();
    println!("idle RSS {idle:.1} MiB");
    let staff = token("cw-bench", &[Role::Caseworker, Role::Agent])?;
    let mut report = serde_json::Map::new();
    let mut record = |name: &str, peak: f64, answers: BTreeMap<u16, usize>, extra: String| {
        println!("{name:<48} peak RSS {peak:7.1} MiB  answers {answers:?}{extra}");
        report.insert(
            name.to_owned(),
            json!({"peak_rss_mib": peak, "answers": answers}),
        );
    };

    // The largest request allowed: a mail batch of the schema's 200,000
    // documents (quick: 20,000).
    let docs = if quick { 20_000 } else { 200_000 };
    let body = manifest(docs);
    let size = body.len();
    let started = Instant::now();
    let (status, peak) = peak_during(
        &server,
        request(addr, &post("/intake/mail-batches", Some(&staff), &body)),
    )
    .await;
    drop(body);
    record(
        &format!("largest mail batch ({docs} documents)"),
        peak,
        tally(vec![status]),
        format!(
            "  {:.1} MB in {:.1} s",
            size as f64 / 1e6,
            started.elapsed().as_secs_f64()
        ),
    );

    // Anonymous uploads declaring 127 MiB, 50 at once.
    let (statuses, peak) = peak_during(&server, async {
        let sends = (0..50).map(|_| async {
            let mut head = b"POST /intake/mail-batches HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 133169152\r\n\r\n".to_vec();
            head.extend(std::iter::repeat_n(b' ', 1 << 20));
            request(addr, &head).await
        });
        futures_util::future::join_all(sends).await
    })
    .await;
    record(
        "50 anonymous uploads declaring 127 MiB",
        peak,
        tally(statuses),
        String::new(),
    );

    // Nesting and fragment explosions, 200 each.
    let deep = json!({"query": format!("{{claim(id:{}\"x\"{}){{id}}}}", "[".repeat(2_000), "]".repeat(2_000))}).to_string();
    let mut explosion = String::from("{...F30}\nfragment F0 on QueryRoot{__typename}\n");
    for n in 1..=30 {
        explosion.push_str(&format!(
            "fragment F{n} on QueryRoot{{__typename ...F{p} ...F{p}}}\n",
            p = n - 1
        ));
    }
    let explosion = json!({"query": explosion}).to_string();
    for (name, body) in [
        ("200 documents nested 2,000 deep", deep),
        ("200 fragment explosions (2^30 fields)", explosion),
    ] {
        let req = post("/graphql", None, &body);
        let (statuses, peak) = peak_during(&server, async {
            let mut statuses = Vec::new();
            for _ in 0..20 {
                let batch = (0..10).map(|_| request(addr, &req));
                statuses.extend(futures_util::future::join_all(batch).await);
            }
            statuses
        })
        .await;
        record(name, peak, tally(statuses), String::new());
    }

    // 2,000 idle connections.
    let (held, peak) = peak_during(&server, async {
        let mut held = Vec::new();
        for _ in 0..2_000 {
            if let Ok(s) = TcpStream::connect(addr).await {
                held.push(s);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        held.len()
    })
    .await;
    record(
        "2,000 idle connections",
        peak,
        BTreeMap::new(),
        format!("  {held} opened"),
    );

    // 50 subscriptions (the quota of one person) on one case over 3 sockets
    // that never read, while the case changes 50 times.
    let queue = json!({"query": "{ workQueue(queue: UNASSIGNED, first: 1) { edges { node { caseId } } } }"}).to_string();
    let case_id = {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(&post("/graphql", Some(&staff), &queue)).await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        let text = String::from_utf8_lossy(&answer);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let v: Value = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
        v["data"]["workQueue"]["edges"][0]["node"]["caseId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    if !case_id.is_empty() {
        let watcher = token("watcher-bench", &[Role::Caseworker])?;
        let (_sockets, peak) = peak_during(&server, async {
            let mut sockets = Vec::new();
            for socket in 0..3 {
                let Ok((mut ws, _)) = tokio_tungstenite::connect_async(
                    tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/graphql/ws"))
                        .map(|mut r| {
                            if let Ok(v) = "graphql-transport-ws".parse() {
                                r.headers_mut().insert("sec-websocket-protocol", v);
                            }
                            r
                        })
                        .map_err(|e| BenchError::Setup(e.to_string()))?,
                )
                .await
                else {
                    continue;
                };
                let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {watcher}")}});
                let _ = ws.send(tokio_tungstenite::tungstenite::Message::Text(init.to_string().into())).await;
                for i in 0..20 {
                    let sub = json!({"id": format!("{socket}-{i}"), "type": "subscribe", "payload": {"query": "subscription($id: ID!) { claimStatusChanged(caseId: $id) { status version } }", "variables": {"id": case_id}}});
                    let _ = ws.send(tokio_tungstenite::tungstenite::Message::Text(sub.to_string().into())).await;
                }
                sockets.push(ws);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            for n in 0..50 {
                let contact = json!({"query": "mutation($c: ID!, $k: String!) { recordContact(caseId: $c, input: { kind: NOTE, summary: \"bench\" }, idempotencyKey: $k) { version } }", "variables": {"c": case_id, "k": format!("bench-contact-{n}")}}).to_string();
                request(addr, &post("/graphql", Some(&staff), &contact)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<_, BenchError>(sockets)
        })
        .await;
        record(
            "50 subscriptions never read, 50 changes",
            peak,
            BTreeMap::new(),
            String::new(),
        );
    }

    let healthy = request(
        addr,
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
        == 200;
    let after = server.rss_mib();
    println!(
        "after the attacks: /healthz {}, RSS {after:.1} MiB",
        if healthy {
            "answers"
        } else {
            "DOES NOT ANSWER"
        }
    );
    report.insert("idle_rss_mib".into(), json!(idle));
    report.insert("after_rss_mib".into(), json!(after));
    report.insert("healthy_after".into(), json!(healthy));
    if !healthy {
        return Err(BenchError::Setup(
            "the server stopped answering /healthz under the attacks".into(),
        ));
    }
    Ok(Value::Object(report))
}
