//! `make faults`: omnicase keeps its promises when things break. Each
//! scenario prints what it sent, what was acknowledged, what the log and
//! the read models hold, and fails the run on any lost or duplicated
//! acknowledged command.
//!
//! (a) `kill -9` of the server under a steady command load, restart;
//! (b) PostgreSQL restarted under load: coded retriable errors, fast, and
//!     recovery without restarting omnicase;
//! (c) the Kafka broker killed and restarted while publishing: see the
//!     integration test `kafka::the_relay_catches_up_after_the_broker_is_killed`
//!     (run by `make test`) — it needs the broker rig of the test suite;
//! (d) 100 concurrent writers on one case: no lost update, gapless versions.

use crate::extra::Server;
use crate::BenchError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use services::server::Instance;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// What a scenario counted.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub sent: u64,
    pub acknowledged: u64,
    pub found: u64,
    pub duplicated: u64,
    pub lost: u64,
    /// Acknowledged and visible in the read models.
    pub reflected: u64,
}

impl Counts {
    pub fn print(&self, name: &str) {
        println!(
            "{name:<44} sent {:>6}  acknowledged {:>6}  found {:>6}  duplicated {:>3}  lost {:>3}  in read models {:>6}",
            self.sent, self.acknowledged, self.found, self.duplicated, self.lost, self.reflected
        );
    }

    pub fn ok(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.found == self.acknowledged
    }

    pub fn json(&self) -> Value {
        json!({"sent": self.sent, "acknowledged": self.acknowledged, "found": self.found,
            "duplicated": self.duplicated, "lost": self.lost, "reflected": self.reflected})
    }
}

/// One GraphQL request over a fresh connection (a killed server must not
/// leave a client stuck on a dead keep-alive connection).
pub async fn post_graphql(
    addr: SocketAddr,
    token: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::post("/graphql")
        .header("host", "faults")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

const RECORD: &str = "mutation($case: ID!, $key: String!, $summary: String!) { \
    recordContact(caseId: $case, idempotencyKey: $key, input: {kind: NOTE, summary: $summary}) { caseId version } }";

fn record_body(case: Uuid, key: &str) -> Value {
    json!({"query": RECORD, "variables": {"case": case, "key": key, "summary": key}})
}

/// Contacts by summary in the log, and the summaries each case's read
/// model shows.
async fn inventory(
    app: &Instance,
    prefix: &str,
) -> Result<(HashMap<String, i64>, HashMap<String, bool>), BenchError> {
    let store::Database::Postgres(pg) = &app.db else {
        return Err(BenchError::Setup("faults run on PostgreSQL".into()));
    };
    let pattern = format!("{prefix}%");
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payload->'contact'->>'summary' AS s, count(*) FROM events \
         WHERE event_type = 'ContactRecorded' AND payload->'contact'->>'summary' LIKE $1 GROUP BY 1",
    )
    .bind(&pattern)
    .fetch_all(pg.pool())
    .await?;
    let views: Vec<(String,)> = sqlx::query_as(
        "SELECT view FROM rm_cases WHERE generation = (SELECT generation FROM rm_meta)",
    )
    .fetch_all(pg.pool())
    .await?;
    let mut shown = HashMap::new();
    for (view,) in views {
        let v: Value = serde_json::from_str(&view).unwrap_or(Value::Null);
        for c in v["contacts"].as_array().into_iter().flatten() {
            if let Some(s) = c["summary"].as_str().filter(|s| s.starts_with(prefix)) {
                shown.insert(s.to_owned(), true);
            }
        }
    }
    Ok((rows.into_iter().collect(), shown))
}

fn tally(
    acked: &[String],
    sent: u64,
    log: &HashMap<String, i64>,
    shown: &HashMap<String, bool>,
) -> Counts {
    let mut c = Counts {
        sent,
        acknowledged: acked.len() as u64,
        ..Counts::default()
    };
    for key in acked {
        match log.get(key).copied().unwrap_or(0) {
            0 => c.lost += 1,
            1 => c.found += 1,
            _ => {
                c.found += 1;
                c.duplicated += 1;
            }
        }
        if shown.contains_key(key) {
            c.reflected += 1;
        }
    }
    // Unacknowledged commands may or may not be in the log, but never twice.
    c.duplicated += log
        .iter()
        .filter(|(k, n)| **n > 1 && !acked.contains(k))
        .count() as u64;
    c
}

/// Clients that each send one command at a time and, until it is
/// acknowledged, re-send it with the same idempotency key (what a real
/// client does after a timeout or a dropped connection).
struct Load {
    acked: Arc<Mutex<Vec<String>>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(
        clients: usize,
        prefix: &str,
        addr: watch::Receiver<SocketAddr>,
        token: String,
        cases: Arc<Vec<(Uuid, Uuid)>>,
    ) -> Load {
        let (stop, stopped) = watch::channel(false);
        let acked: Arc<Mutex<Vec<String>>> = Arc::default();
        let sent: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let tasks = (0..clients)
            .map(|c| {
                let (addr, token, cases, acked, sent, stopped) = (
                    addr.clone(),
                    token.clone(),
                    cases.clone(),
                    acked.clone(),
                    sent.clone(),
                    stopped.clone(),
                );
                let prefix = prefix.to_owned();
                tokio::spawn(async move {
                    let mut n = 0usize;
                    while !*stopped.borrow() {
                        n += 1;
                        let key = format!("{prefix}-{c}-{n}");
                        let case = cases[(c * 7919 + n) % cases.len()].0;
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // Until acknowledged (or the run ends).
                        loop {
                            let target = *addr.borrow();
                            match post_graphql(target, &token, &record_body(case, &key)).await {
                                Ok((200, v))
                                    if v["data"]["recordContact"]["version"].is_number() =>
                                {
                                    if let Ok(mut a) = acked.lock() {
                                        a.push(key.clone());
                                    }
                                    break;
                                }
                                _ => {
                                    if *stopped.borrow() {
                                        break;
                                    }
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            acked,
            sent,
            stop,
            tasks,
        }
    }

    async fn finish(self) -> (Vec<String>, u64) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let acked = self.acked.lock().map(|a| a.clone()).unwrap_or_default();
        (acked, self.sent.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// What the scenarios run against: the in-process app (to inspect), the
/// server binary and its database, a staff token, the open cases.
#[derive(Clone, Copy)]
pub struct Rig<'a> {
    pub app: &'a Arc<Instance>,
    pub bin: &'a std::path::Path,
    pub url: &'a str,
    pub token: &'a str,
    pub cases: &'a Arc<Vec<(Uuid, Uuid)>>,
}

/// (a) `kill -9` under load, restart, check.
pub async fn kill_nine(rig: &Rig<'_>, run: Duration) -> Result<Counts, BenchError> {
    let (app, bin, url, token, cases) = (rig.app, rig.bin, rig.url, rig.token, rig.cases);
    let mut server = Server::start(bin, url).await?;
    let (addr_tx, addr_rx) = watch::channel(server.addr);
    let prefix = format!("kill9-{}", Uuid::new_v4().simple());
    let load = Load::start(8, &prefix, addr_rx, token.to_owned(), cases.clone());
    tokio::time::sleep(run).await;
    server.kill9();
    let restarted = Instant::now();
    let again = Server::start(bin, url).await?;
    let _ = addr_tx.send(again.addr);
    eprintln!(
        "  killed with SIGKILL; serving again after {} ms",
        restarted.elapsed().as_millis()
    );
    tokio::time::sleep(run).await;
    let (acked, sent) = load.finish().await;
    app.projector.settle(Duration::from_secs(60)).await?;
    drop(again);
    let (log, shown) = inventory(app, &prefix).await?;
    Ok(tally(&acked, sent, &log, &shown))
}

/// (b) PostgreSQL restarted under load.
pub struct PgRestart {
    pub counts: Counts,
    pub errors_while_down: u64,
    /// Probes while it was down that got no coded error: what they got.
    pub other_answers: Vec<String>,
    pub error_codes: Vec<String>,
    pub slowest_error_ms: f64,
    pub recovered_after_ms: f64,
}

pub async fn postgres_restart(rig: &Rig<'_>, run: Duration) -> Result<PgRestart, BenchError> {
    let (app, bin, url, token, cases) = (rig.app, rig.bin, rig.url, rig.token, rig.cases);
    let server = Server::start(bin, url).await?;
    let (_addr_tx, addr_rx) = watch::channel(server.addr);
    let prefix = format!("pgrestart-{}", Uuid::new_v4().simple());
    let load = Load::start(4, &prefix, addr_rx, token.to_owned(), cases.clone());
    tokio::time::sleep(run).await;
    pg_ctl("stop")?;
    // While the database is away: every answer is a coded, retriable error.
    let down = Instant::now();
    let mut codes = std::collections::BTreeSet::new();
    let mut errors = 0u64;
    let mut slowest = Duration::ZERO;
    let probe_case = cases[0].0;
    let mut other = Vec::new();
    // Three seconds of probes; on a loaded machine, until the first answer
    // (15 s at most), so a slow stop does not read as "no answer".
    while down.elapsed() < Duration::from_secs(3)
        || (errors == 0 && down.elapsed() < Duration::from_secs(15))
    {
        let t = Instant::now();
        let key = format!("{prefix}-probe-{}", Uuid::new_v4().simple());
        let answer = post_graphql(server.addr, token, &record_body(probe_case, &key)).await;
        match &answer {
            Ok((_, v)) if v["errors"][0]["extensions"]["code"].is_string() => {}
            // What came back instead of a coded error (kept for the report).
            Ok((status, v)) => other.push(format!(
                "{status} {}",
                v.to_string().chars().take(120).collect::<String>()
            )),
            Err(e) => other.push(e.clone()),
        }
        if let Ok((_, v)) = answer {
            if let Some(code) = v["errors"][0]["extensions"]["code"].as_str() {
                errors += 1;
                codes.insert(format!(
                    "{code}{}",
                    if v["errors"][0]["extensions"]["retriable"] == true {
                        " (retriable)"
                    } else {
                        ""
                    }
                ));
                slowest = slowest.max(t.elapsed());
            }
        }
    }
    pg_ctl("start")?;
    let back = Instant::now();
    let recovered = loop {
        let key = format!("{prefix}-after-{}", Uuid::new_v4().simple());
        if let Ok((200, v)) = post_graphql(server.addr, token, &record_body(probe_case, &key)).await
        {
            if v["data"]["recordContact"]["version"].is_number() {
                break back.elapsed();
            }
        }
        if back.elapsed() > Duration::from_secs(60) {
            return Err(BenchError::Setup(
                "omnicase did not recover within 60 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(run).await;
    let (acked, sent) = load.finish().await;
    app.projector.settle(Duration::from_secs(60)).await?;
    drop(server);
    let (log, shown) = inventory(app, &format!("{prefix}-")).await?;
    let load_keys: Vec<String> = acked;
    Ok(PgRestart {
        counts: tally(
            &load_keys,
            sent,
            &log.into_iter()
                .filter(|(k, _)| !k.contains("-probe-") && !k.contains("-after-"))
                .collect(),
            &shown,
        ),
        errors_while_down: errors,
        other_answers: other,
        error_codes: codes.into_iter().collect(),
        slowest_error_ms: slowest.as_secs_f64() * 1000.0,
        recovered_after_ms: recovered.as_secs_f64() * 1000.0,
    })
}

/// Stops or starts the private PostgreSQL cluster of the fault run.
fn pg_ctl(action: &str) -> Result<(), BenchError> {
    let out = std::process::Command::new("bash")
        .args(["scripts/ensure-postgres.sh", action])
        .env("OMNICASE_PG_PRIVATE", "1")
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::Setup(format!(
            "ensure-postgres.sh {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// (d) `writers` concurrent writers on one case.
pub async fn one_case_writers(
    app: &Arc<Instance>,
    case: Uuid,
    writers: usize,
) -> Result<(Counts, bool), BenchError> {
    use domain::case::{ContactKind, NewContact};
    let prefix = format!("writers-{}", Uuid::new_v4().simple());
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let app = app.clone();
            let key = format!("{prefix}-{i}");
            tokio::spawn(async move {
                let (Ok(tenant), Ok(actor), Ok(summary)) = (
                    domain::TenantId::parse("demo"),
                    domain::ActorId::parse("writer"),
                    domain::Text::parse("summary", &key),
                ) else {
                    return None;
                };
                let mut env = engine::Envelope::new(tenant, actor);
                env.idempotency_key = Some(key.clone());
                let command = domain::CaseCommand::RecordContact(NewContact {
                    id: domain::ContactId::from_uuid(Uuid::new_v4()),
                    kind: ContactKind::Note,
                    channel: domain::Channel::CallCenter,
                    reason: None,
                    summary,
                    follow_up: None,
                    occurred_at: chrono::Utc::now(),
                });
                app.engine
                    .execute(&env, domain::CaseId::from_uuid(case), command)
                    .await
                    .ok()
                    .map(|_| key)
            })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        if let Ok(Some(key)) = t.await {
            acked.push(key);
        }
    }
    app.projector.settle(Duration::from_secs(60)).await?;
    let (log, shown) = inventory(app, &prefix).await?;
    let store::Database::Postgres(pg) = &app.db else {
        return Err(BenchError::Setup("faults run on PostgreSQL".into()));
    };
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM events WHERE tenant_id = 'demo' AND stream_id = $1 ORDER BY version",
    )
    .bind(case)
    .fetch_all(pg.pool())
    .await?;
    let gapless = versions.iter().enumerate().all(|(i, v)| *v == i as i64 + 1);
    Ok((tally(&acked, writers as u64, &log, &shown), gapless))
}
