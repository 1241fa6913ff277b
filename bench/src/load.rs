//! Load drivers: closed-loop clients, each doing one operation at a time
//! for a fixed duration; latencies go into an HDR histogram (µs).

use crate::BenchError;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use domain::case::{AttachDocument, ContactKind, NewContact};
use domain::*;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use services::server::Instance;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub type Op = Pin<Box<dyn Future<Output = bool> + Send>>;
/// A command's outcome: the case and the version it left it at.
pub type Outcome = Pin<Box<dyn Future<Output = Option<(Uuid, u64)>> + Send>>;

/// One closed-loop client.
pub trait Client: Send + 'static {
    fn op(&mut self) -> Op;
}

pub struct Stats {
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    pub latency: Histogram<u64>,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }
    pub fn p50_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.5) as f64 / 1000.0
    }
    pub fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
    }
    pub fn json(&self) -> serde_json::Value {
        json!({
            "ok": self.ok, "failed": self.failed, "seconds": self.seconds,
            "per_second": self.per_second(), "p50_ms": self.p50_ms(), "p99_ms": self.p99_ms(),
        })
    }
}

#[allow(clippy::expect_used)] // constant, valid bounds: not outside input
pub fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// What each client task counted (ok, failed, latencies), added up.
async fn merge(
    tasks: Vec<tokio::task::JoinHandle<(u64, u64, Histogram<u64>)>>,
    started: Instant,
) -> Stats {
    let mut stats = Stats {
        ok: 0,
        failed: 0,
        seconds: 0.0,
        latency: histogram(),
    };
    for t in tasks {
        if let Ok((ok, failed, h)) = t.await {
            stats.ok += ok;
            stats.failed += failed;
            let _ = stats.latency.add(h);
        }
    }
    stats.seconds = started.elapsed().as_secs_f64();
    stats
}

/// Runs every client until `duration` has passed; merges their figures.
pub async fn drive<C: Client>(clients: Vec<C>, duration: Duration) -> Stats {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut h = histogram();
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if c.op().await {
                        ok += 1;
                        let _ = h.record((t.elapsed().as_micros() as u64).max(1));
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed, h)
            })
        })
        .collect();
    merge(tasks, started).await
}

/// Every client sends on a fixed schedule, together `rate` requests per
/// second, until `duration` has passed. Latency counts from when a request
/// was due, so a stall shows in it instead of only delaying the schedule.
pub async fn drive_paced<C: Client>(clients: Vec<C>, rate: f64, duration: Duration) -> Stats {
    let n = clients.len().max(1);
    let interval = Duration::from_secs_f64(n as f64 / rate.max(1.0));
    let started = tokio::time::Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            // Clients start spread over one interval, not all at once.
            let mut due = started + interval.mul_f64(i as f64 / n as f64);
            tokio::spawn(async move {
                let mut h = histogram();
                let (mut ok, mut failed) = (0u64, 0u64);
                while due < deadline {
                    tokio::time::sleep_until(due).await;
                    if c.op().await {
                        ok += 1;
                        let _ = h.record((due.elapsed().as_micros() as u64).max(1));
                    } else {
                        failed += 1;
                    }
                    due += interval;
                }
                (ok, failed, h)
            })
        })
        .collect();
    merge(tasks, started.into()).await
}

/// (case id, claimant id) of every open case.
pub async fn open_cases(app: &Instance) -> Result<Arc<Vec<(Uuid, Uuid)>>, BenchError> {
    let sql = "SELECT case_id, claimant_id FROM rm_cases WHERE generation = (SELECT generation FROM rm_meta) \
               AND NOT closed ORDER BY case_id";
    let rows: Vec<(Uuid, Uuid)> = match &app.db {
        store::Database::Postgres(pg) => sqlx::query_as(sql).fetch_all(pg.pool()).await?,
        store::Database::Sqlite(l) => sqlx::query_as(sql).fetch_all(l.reader()).await?,
    };
    if rows.is_empty() {
        let hint = match &app.db {
            // The demo data of the embedded server's first start.
            store::Database::Sqlite(_) => {
                " (the embedded server seeds its demo data from fixtures/claims under the \
                 working directory: run from the repository, as make bench does)"
            }
            store::Database::Postgres(_) => "",
        };
        return Err(BenchError::Setup(format!(
            "no open case to send commands to{hint}"
        )));
    }
    Ok(Arc::new(rows))
}

// ------------------------------------------------------------- commands

/// Mixed realistic commands on many cases: contacts recorded by agents,
/// documents attached, and 15 % replays of a command already sent (same
/// idempotency key: answered from the idempotency record).
pub struct CommandClient {
    app: Arc<Instance>,
    cases: Arc<Vec<(Uuid, Uuid)>>,
    rng: SmallRng,
    sent: Vec<(Uuid, String, CaseCommand)>,
}

pub fn command_clients(
    app: &Arc<Instance>,
    cases: &Arc<Vec<(Uuid, Uuid)>>,
    n: usize,
) -> Vec<CommandClient> {
    (0..n)
        .map(|i| CommandClient {
            app: app.clone(),
            cases: cases.clone(),
            rng: SmallRng::seed_from_u64(i as u64 + 1),
            sent: Vec::new(),
        })
        .collect()
}

fn text(s: &str) -> Option<Text> {
    Text::parse("summary", s).ok()
}

impl CommandClient {
    fn fresh(&mut self) -> Option<(Uuid, String, CaseCommand)> {
        let (case, _) = self.cases[self.rng.random_range(0..self.cases.len())];
        let key = Uuid::new_v4().to_string();
        let command = if self.rng.random_bool(0.8) {
            CaseCommand::RecordContact(NewContact {
                id: ContactId::from_uuid(Uuid::new_v4()),
                kind: ContactKind::Inbound,
                channel: Channel::CallCenter,
                reason: text("status question"),
                summary: text(
                    "Caller asked about the status of the claim; explained the next step.",
                )?,
                follow_up: None,
                occurred_at: chrono::Utc::now(),
            })
        } else {
            CaseCommand::AttachDocument(AttachDocument {
                id: DocumentId::from_uuid(Uuid::new_v4()),
                document_type: DocumentType::parse("MEDICAL_RECORD").ok()?,
                pages: 3,
                checksum: Checksum::parse(
                    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                )
                .ok()?,
                storage_ref: StorageRef::parse("s3://scans/bench.pdf").ok()?,
                received_at: chrono::Utc::now(),
                channel: Channel::Web,
                request: None,
                filed_as: domain::case::DocumentFiling::Evidence,
                on_late: domain::case::LateEvidence::default(),
            })
        };
        Some((case, key, command))
    }
}

impl CommandClient {
    /// The next command (a fresh one, or 15 % of the time a replay) and
    /// its outcome: the case and the version the command left it at.
    pub fn op_with_result(&mut self) -> Outcome {
        let replay = !self.sent.is_empty() && self.rng.random_bool(0.15);
        let picked = if replay {
            Some(self.sent[self.rng.random_range(0..self.sent.len())].clone())
        } else {
            self.fresh()
        };
        let Some((case, key, command)) = picked else {
            return Box::pin(async { None });
        };
        if !replay && self.sent.len() < 1000 {
            self.sent.push((case, key.clone(), command.clone()));
        }
        let app = self.app.clone();
        Box::pin(async move {
            let (Ok(tenant), Ok(actor)) = (TenantId::parse("demo"), ActorId::parse("bench-agent"))
            else {
                return None;
            };
            let mut env = engine::Envelope::new(tenant, actor);
            env.idempotency_key = Some(key);
            env.channel = Some(Channel::CallCenter);
            app.engine
                .execute(&env, CaseId::from_uuid(case), command)
                .await
                .ok()
                .map(|r| (r.stream_id, r.version))
        })
    }
}

impl Client for CommandClient {
    fn op(&mut self) -> Op {
        let op = self.op_with_result();
        Box::pin(async move { op.await.is_some() })
    }
}

// ------------------------------------------------------------ raw insert

/// A table shaped like `events`, with none of omnicase around it.
pub async fn prepare_raw(pool: &sqlx::PgPool) -> Result<(), BenchError> {
    sqlx::query("DROP TABLE IF EXISTS bench_raw_events")
        .execute(pool)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_raw_events (
            position bigserial PRIMARY KEY, tenant_id text NOT NULL, stream_id uuid NOT NULL,
            version bigint NOT NULL, event_id uuid NOT NULL, event_type text NOT NULL,
            schema_version int NOT NULL, payload json NOT NULL, metadata json NOT NULL,
            recorded_at timestamptz NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL,
            UNIQUE (tenant_id, stream_id, version))",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A representative stored payload and metadata of one command's event.
pub async fn contact_payload(app: &Instance) -> Result<Arc<(String, String)>, BenchError> {
    let store::Database::Postgres(pg) = &app.db else {
        return Err(BenchError::Setup("the bench needs PostgreSQL".into()));
    };
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT payload::text, metadata::text FROM events WHERE event_type = 'ContactRecorded' LIMIT 1",
    )
    .fetch_optional(pg.pool())
    .await?;
    Ok(Arc::new(row.unwrap_or_else(|| {
        (
            json!({"contact": {"id": Uuid::nil(), "kind": "INBOUND", "channel": "CALL_CENTER",
                "agent": "bench-agent", "summary": "Caller asked about the status of the claim; explained the next step.",
                "occurredAt": "2026-11-24T10:00:00Z"}})
            .to_string(),
            json!({"actor": "bench-agent", "channel": "CALL_CENTER", "correlationId": Uuid::nil()}).to_string(),
        )
    })))
}

/// One event row per transaction (BEGIN; INSERT; COMMIT), like an append.
pub struct RawClient {
    pool: sqlx::PgPool,
    row: Arc<(String, String)>,
    stream: Uuid,
    version: i64,
}

pub fn raw_clients(pool: &sqlx::PgPool, row: &Arc<(String, String)>, n: usize) -> Vec<RawClient> {
    (0..n)
        .map(|_| RawClient {
            pool: pool.clone(),
            row: row.clone(),
            stream: Uuid::new_v4(),
            version: 0,
        })
        .collect()
}

impl Client for RawClient {
    fn op(&mut self) -> Op {
        self.version += 1;
        let (pool, row, stream, version) = (
            self.pool.clone(),
            self.row.clone(),
            self.stream,
            self.version,
        );
        Box::pin(async move {
            let insert = async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO bench_raw_events (tenant_id, stream_id, version, event_id, event_type, \
                     schema_version, payload, metadata, recorded_at, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6::json, $7::json, now(), $8, $9)",
                )
                .bind("demo")
                .bind(stream)
                .bind(version)
                .bind(Uuid::new_v4())
                .bind("ContactRecorded")
                .bind(&row.0)
                .bind(&row.1)
                .bind(vec![0u8; 32])
                .bind(vec![1u8; 32])
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(())
            };
            insert.await.is_ok()
        })
    }
}

// ------------------------------------------------------------------ HTTP

pub struct Http {
    addr: std::net::SocketAddr,
    server: Option<tokio::task::JoinHandle<()>>,
    /// (case id, citizen token of its claimant)
    targets: Vec<(Uuid, String)>,
    /// A caseworker's token: the same claims read by staff, each read
    /// audited before the answer.
    staff: String,
}

/// Who asks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// The claimant, through GraphQL.
    Citizen,
    /// A caseworker, through GraphQL (audited).
    Staff,
    /// The plain axum handler.
    Plain,
}

async fn plain_claim(
    State(read): State<projections::ReadDb>,
    Path(id): Path<Uuid>,
) -> Result<Json<projections::view::CaseView>, axum::http::StatusCode> {
    let tenant =
        TenantId::parse("demo").map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
    match read.case(&tenant, id).await {
        Ok(Some(view)) => Ok(Json(view)),
        Ok(None) => Err(axum::http::StatusCode::NOT_FOUND),
        Err(_) => Err(axum::http::StatusCode::SERVICE_UNAVAILABLE),
    }
}

const CLAIM_QUERY: &str = "query($id: ID!) { claim(id: $id) { id status claimDate phaseChangedAt \
    estimatedCompletion { earliest latest } contentions { description } evidenceWaiverSubmitted5103 } }";

impl Http {
    /// The omnicase router plus a plain handler, on a loopback port.
    pub async fn start(
        app: Arc<Instance>,
        tenant: &TenantId,
        cases: &[(Uuid, Uuid)],
    ) -> Result<Http, BenchError> {
        let plain = Router::new()
            .route("/bench/plain/{id}", get(plain_claim))
            .with_state(app.read.clone());
        let router = app.router().merge(plain);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // Served as `omnicase serve` serves (connection cap, timeouts).
        let limits = app.settings.server.connection_limits();
        let server = tokio::spawn(async move {
            let _ = services::http::serve(listener, router, limits, std::future::pending()).await;
        });
        let mut targets = Vec::new();
        for (case, claimant) in cases.iter().take(64) {
            let token = services::cli::dev_token(
                &app,
                &app::auth::DevToken {
                    tenant: tenant.clone(),
                    subject: domain::ActorId::parse(&format!("citizen-{claimant}"))
                        .map_err(|e| BenchError::Setup(e.to_string()))?,
                    roles: vec![app::auth::Role::Citizen],
                    sensitive: false,
                    claimant: Some(ClaimantId::from_uuid(*claimant)),
                    office: None,
                    ttl: chrono::Duration::hours(2),
                },
            )
            .map_err(|e| BenchError::Setup(e.to_string()))?;
            targets.push((*case, token));
        }
        let staff = services::cli::dev_token(
            &app,
            &app::auth::DevToken {
                tenant: tenant.clone(),
                subject: domain::ActorId::parse("caseworker-bench")
                    .map_err(|e| BenchError::Setup(e.to_string()))?,
                roles: vec![app::auth::Role::Caseworker],
                sensitive: false,
                claimant: None,
                office: Some("bench-office".into()),
                ttl: chrono::Duration::hours(2),
            },
        )
        .map_err(|e| BenchError::Setup(e.to_string()))?;
        let http = Http {
            addr,
            server: Some(server),
            targets,
            staff,
        };
        // Every side must answer with the claim, not with an error.
        for asker in [Asker::Citizen, Asker::Staff] {
            let mut probe = http.connection(0, asker).await?;
            let (status, body) = probe.send().await.map_err(BenchError::Setup)?;
            if status != 200 || body.contains("\"errors\"") || !body.contains("\"status\"") {
                return Err(BenchError::Setup(format!("GraphQL probe: {status} {body}")));
            }
        }
        let mut probe = http.connection(0, Asker::Plain).await?;
        let (status, body) = probe.send().await.map_err(BenchError::Setup)?;
        if status != 200 || !body.contains("\"status\"") {
            return Err(BenchError::Setup(format!("plain probe: {status} {body}")));
        }
        Ok(http)
    }

    async fn connection(&self, i: usize, asker: Asker) -> Result<Conn, BenchError> {
        let stream = tokio::net::TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| BenchError::Setup(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let (case, token) = &self.targets[i % self.targets.len()];
        let body =
            || Bytes::from(json!({"query": CLAIM_QUERY, "variables": {"id": case}}).to_string());
        let request = match asker {
            Asker::Citizen => Req::Graphql {
                token: token.clone(),
                body: body(),
            },
            Asker::Staff => Req::Graphql {
                token: self.staff.clone(),
                body: body(),
            },
            Asker::Plain => Req::Plain {
                path: format!("/bench/plain/{case}"),
            },
        };
        Ok(Conn {
            sender: Arc::new(tokio::sync::Mutex::new(sender)),
            request: Arc::new(request),
        })
    }

    async fn run(&self, connections: usize, duration: Duration, asker: Asker) -> Stats {
        let mut clients = Vec::with_capacity(connections);
        for i in 0..connections {
            match self.connection(i, asker).await {
                Ok(c) => clients.push(c),
                Err(e) => eprintln!("connection {i}: {e}"),
            }
        }
        drive(clients, duration).await
    }

    pub async fn graphql(&self, connections: usize, duration: Duration) -> Stats {
        self.run(connections, duration, Asker::Citizen).await
    }

    /// The same claim reads by a caseworker: each one audited (the audit
    /// record durable before the answer, grouped across requests).
    pub async fn graphql_staff(&self, connections: usize, duration: Duration) -> Stats {
        self.run(connections, duration, Asker::Staff).await
    }

    pub async fn plain(&self, connections: usize, duration: Duration) -> Stats {
        self.run(connections, duration, Asker::Plain).await
    }

    /// The GraphQL claim-status query at a fixed total rate.
    pub async fn graphql_paced(&self, connections: usize, rate: f64, duration: Duration) -> Stats {
        let mut clients = Vec::with_capacity(connections);
        for i in 0..connections {
            match self.connection(i, Asker::Citizen).await {
                Ok(c) => clients.push(c),
                Err(e) => eprintln!("connection {i}: {e}"),
            }
        }
        drive_paced(clients, rate, duration).await
    }

    /// Another omnicase (a server process) with the same targets.
    pub fn external(&self, addr: std::net::SocketAddr) -> Http {
        Http {
            addr,
            server: None,
            targets: self.targets.clone(),
            staff: self.staff.clone(),
        }
    }

    pub fn stop(self) {
        if let Some(s) = self.server {
            s.abort();
        }
    }
}

enum Req {
    Graphql { token: String, body: Bytes },
    Plain { path: String },
}

struct Conn {
    sender: Arc<tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Full<Bytes>>>>,
    request: Arc<Req>,
}

async fn send(
    sender: &tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    request: &Req,
) -> Result<(u16, String), String> {
    let req = match request {
        Req::Graphql { token, body } => hyper::Request::post("/graphql")
            .header("host", "bench")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(body.clone())),
        Req::Plain { path } => hyper::Request::get(path.as_str())
            .header("host", "bench")
            .body(Full::new(Bytes::new())),
    }
    .map_err(|e| e.to_string())?;
    let mut sender = sender.lock().await;
    let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

impl Conn {
    async fn send(&mut self) -> Result<(u16, String), String> {
        send(&self.sender, &self.request).await
    }
}

impl Client for Conn {
    fn op(&mut self) -> Op {
        let (sender, request) = (self.sender.clone(), self.request.clone());
        Box::pin(async move { matches!(send(&sender, &request).await, Ok((200, _))) })
    }
}
