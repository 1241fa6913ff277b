//! The measurements that are not closed-loop pairs: projection lag at a
//! fixed command rate, rebuild vs a raw scan, mail-scan ingest, and the
//! server process (start time, RSS idle and under load).

use crate::load::{command_clients, Stats};
use crate::BenchError;
use serde_json::json;
use services::server::Instance;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A throughput-only figure.
pub struct Rate {
    pub items: u64,
    pub seconds: f64,
}

impl Rate {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.items as f64 / self.seconds
        } else {
            0.0
        }
    }
    pub fn json(&self) -> serde_json::Value {
        json!({"items": self.items, "seconds": self.seconds, "per_second": self.per_second()})
    }
}

// ------------------------------------------------------------ projection lag

/// Per case: (version, when the read model showed it).
type Seen = HashMap<Uuid, Vec<(u64, Instant)>>;

/// Issues `rate` commands per second (open loop) for `duration` while the
/// projector runs; the lag of a command is from its acknowledgement to the
/// read model showing its version (first `CaseChanged` at or past it).
pub async fn projection_lag(
    app: &Arc<Instance>,
    cases: &Arc<Vec<(Uuid, Uuid)>>,
    rate: u32,
    duration: Duration,
    from_log: bool,
) -> (Stats, f64) {
    let changes: Arc<Mutex<Seen>> = Arc::default();
    let mut rx = app.projector.subscribe();
    let sink = changes.clone();
    let listener = tokio::spawn(async move {
        while let Ok(c) = rx.recv().await {
            if let Ok(mut m) = sink.lock() {
                m.entry(c.case_id)
                    .or_default()
                    .push((c.version, Instant::now()));
            }
        }
    });
    let acks: Arc<Mutex<Vec<(Uuid, u64, Instant)>>> = Arc::default();
    let mut clients = command_clients(app, cases, 1);
    let mut client = clients.remove(0);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut inflight = Vec::new();
    let mut sent = 0u64;
    while started.elapsed() < duration {
        tick.tick().await;
        let op = client.op_with_result();
        let acks = acks.clone();
        let projector = app.projector.clone();
        inflight.push(tokio::spawn(async move {
            if let Some((case, version)) = op.await {
                if let Ok(mut a) = acks.lock() {
                    a.push((case, version, Instant::now()));
                }
                // What the API does after every command it acknowledges.
                projector.wake();
            }
        }));
        sent += 1;
    }
    let achieved = sent as f64 / started.elapsed().as_secs_f64();
    for t in inflight {
        let _ = t.await;
    }
    // Let the projector finish what was acknowledged (fed from the log it
    // can say when; through Kafka, give it a moment past the target).
    if from_log {
        let _ = app.projector.settle(Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    listener.abort();
    let mut stats = Stats {
        ok: 0,
        failed: 0,
        seconds: started.elapsed().as_secs_f64(),
        latency: crate::load::histogram(),
    };
    let acks = acks.lock().map(|a| a.clone()).unwrap_or_default();
    let changes = changes.lock().map(|c| c.clone()).unwrap_or_default();
    for (case, version, acked) in acks {
        let seen = changes
            .get(&case)
            .and_then(|v| v.iter().find(|(w, _)| *w >= version).map(|(_, t)| *t));
        match seen {
            Some(t) => {
                stats.ok += 1;
                let lag = t.saturating_duration_since(acked).as_micros() as u64;
                let _ = stats.latency.record(lag.max(1));
            }
            None => stats.failed += 1,
        }
    }
    (stats, achieved)
}

// ------------------------------------------------------------------ rebuild

/// Grows the log to about `target` events by copying the demo agency's
/// streams under other tenants (each copy a valid history of its own).
/// The first `count` open cases, each grown to at least `events` events by
/// recorded contacts (several cases at a time). For the command figures on
/// long streams; this node then holds their state, as a serving node would.
pub async fn long_cases(
    app: &Arc<Instance>,
    cases: &Arc<Vec<(Uuid, Uuid)>>,
    count: usize,
    events: u64,
) -> Result<Arc<Vec<(Uuid, Uuid)>>, BenchError> {
    let picked: Arc<Vec<(Uuid, Uuid)>> = Arc::new(cases.iter().take(count).copied().collect());
    let tasks: Vec<_> = (0..picked.len())
        .map(|i| {
            let one = Arc::new(vec![picked[i]]);
            let mut client = command_clients(app, &one, 1).remove(0);
            tokio::spawn(async move {
                loop {
                    match client.op_with_result().await {
                        Some((_, version)) if version >= events => return Ok(()),
                        Some(_) => {}
                        None => {
                            return Err(BenchError::Setup("a long case refused a command".into()))
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| BenchError::Setup(e.to_string()))??;
    }
    Ok(picked)
}

pub async fn grow_log(pool: &sqlx::PgPool, target: i64) -> Result<i64, BenchError> {
    let (total, demo): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE tenant_id = 'demo') FROM events")
            .fetch_one(pool)
            .await?;
    if total >= target || demo == 0 {
        return Ok(total);
    }
    let copies = (target - total + demo - 1) / demo;
    let step = 200i64;
    let mut done = 0i64;
    while done < copies {
        let upto = (done + step).min(copies);
        sqlx::query(
            "INSERT INTO events (tenant_id, stream_id, kind, version, event_id, event_type, schema_version, \
             payload, metadata, recorded_at, prev_hash, hash) \
             SELECT 'copy' || g, stream_id, kind, version, md5(event_id::text || g)::uuid, event_type, \
             schema_version, payload, metadata, recorded_at, prev_hash, hash \
             FROM events e CROSS JOIN generate_series($1::bigint, $2::bigint) g WHERE e.tenant_id = 'demo' \
             ORDER BY g, e.tx, e.position",
        )
        .bind(done + 1)
        .bind(upto)
        .execute(pool)
        .await?;
        done = upto;
        eprint!("\r  growing the log: {} copies of {demo} events", done);
    }
    eprintln!();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(total)
}

/// `omnicase rebuild` (replay into a fresh generation, switch) vs reading
/// every row of the log in feed order.
pub async fn rebuild_vs_scan(
    app: &Instance,
    pool: &sqlx::PgPool,
) -> Result<(Rate, Rate), BenchError> {
    use futures_util::TryStreamExt;
    let started = Instant::now();
    let mut events = 0u64;
    {
        let mut rows = sqlx::query_as::<_, (i64, i64, String, Uuid, String, i64, Uuid, String, i32, String, String)>(
            "SELECT position, tx, tenant_id, stream_id, kind, version, event_id, event_type, schema_version, \
             payload::text, metadata::text FROM events ORDER BY tx, position",
        )
        .fetch(pool);
        while let Some(row) = rows.try_next().await? {
            events += 1;
            std::hint::black_box(row);
        }
    }
    let scan = Rate {
        items: events,
        seconds: started.elapsed().as_secs_f64(),
    };
    let started = Instant::now();
    app.projector.rebuild(|_, _| {}).await?;
    let rebuild = Rate {
        items: events,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((rebuild, scan))
}

// --------------------------------------------------------------- mail scan

/// One manifest of `docs` documents for the plan's claimants; filed twice
/// (the second time every document is answered from its record). Returns
/// (rate of the first filing, attached, unidentified, rejected, events
/// appended by the second filing).
pub async fn mail_ingest(
    app: &Instance,
    tenant: &domain::TenantId,
    file_numbers: &[String],
    docs: usize,
) -> Result<serde_json::Value, BenchError> {
    let documents: Vec<serde_json::Value> = (0..docs)
        .map(|i| {
            json!({
                "documentId": format!("bench-{i:06}"),
                "receivedAt": "2026-11-02T00:00:00Z",
                "scannedAt": "2026-11-03T08:00:00Z",
                "documentType": "MEDICAL_RECORD",
                "pageCount": 1 + (i % 7),
                "checksum": format!("sha256:{:064x}", i + 1),
                "storageRef": format!("s3://scans/bench/{i:06}.pdf"),
                "ocr": {"fileNumber": file_numbers[i % file_numbers.len().max(1)]},
            })
        })
        .collect();
    let manifest = json!({"schemaVersion": 1, "batchId": format!("bench-{}", Uuid::new_v4()), "documents": documents});
    let bytes = manifest.to_string().into_bytes();
    let caller = intake::Caller::new(
        tenant.clone(),
        domain::ActorId::parse("mailroom-bench").map_err(|e| BenchError::Setup(e.to_string()))?,
        intake::CallerKind::Staff,
    );
    let count = |app: &Instance| {
        let db = app.db.clone();
        async move {
            match db {
                store::Database::Postgres(pg) => {
                    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
                        .fetch_one(pg.pool())
                        .await
                        .unwrap_or(-1)
                }
                store::Database::Sqlite(l) => {
                    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
                        .fetch_one(l.reader())
                        .await
                        .unwrap_or(-1)
                }
            }
        }
    };
    let before = count(app).await;
    let started = Instant::now();
    let report = app
        .intake
        .ingest_batch(&caller, &bytes, |_, _| {})
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let rate = Rate {
        items: docs as u64,
        seconds: started.elapsed().as_secs_f64(),
    };
    let after = count(app).await;
    let again = app
        .intake
        .ingest_batch(&caller, &bytes, |_, _| {})
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let after_again = count(app).await;
    Ok(json!({
        "documents": docs, "seconds": rate.seconds, "per_second": rate.per_second(),
        "attached": report.attached, "unidentified": report.unidentified, "rejected": report.rejected,
        "events_appended": after - before,
        "resend_events_appended": after_again - after,
        "resend_attached": again.attached,
    }))
}

// ------------------------------------------------------------ server process

pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn free_port() -> Result<u16, BenchError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub struct Server {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    pub ready_after: Duration,
}

impl Server {
    /// Starts `omnicase serve` and waits for `/healthz`.
    pub async fn start(bin: &std::path::Path, database_url: &str) -> Result<Server, BenchError> {
        let port = free_port()?;
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let started = Instant::now();
        let child = std::process::Command::new(bin)
            .args([
                "--database-url",
                database_url,
                "serve",
                // Demo data on first start (the bench reads its claims).
                "--dev",
                "--listen",
                &addr.to_string(),
            ])
            .env("RUST_LOG", "warn")
            // The load drivers send thousands of requests a second with a
            // few tokens: rates far above them (still counted, so their
            // cost is in the figures).
            .env("OMNICASE_RATE_LIMITS__PER_MINUTE", "1000000000")
            .env("OMNICASE_RATE_LIMITS__ANONYMOUS_PER_MINUTE", "1000000000")
            .env("OMNICASE_RATE_LIMITS__ROLES__INTEGRATOR", "1000000000")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut server = Server {
            child,
            addr,
            ready_after: Duration::ZERO,
        };
        while started.elapsed() < Duration::from_secs(60) {
            if healthy(addr).await {
                server.ready_after = started.elapsed();
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(BenchError::Setup(format!(
                    "omnicase serve exited: {status}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err(BenchError::Setup(
            "omnicase serve did not become healthy in 60 s".into(),
        ))
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn rss_mib(&self) -> f64 {
        proc_status_kib(self.child.id(), "VmRSS:").unwrap_or(0) as f64 / 1024.0
    }

    pub fn peak_rss_mib(&self) -> f64 {
        proc_status_kib(self.child.id(), "VmHWM:").unwrap_or(0) as f64 / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn healthy(addr: std::net::SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    buf.starts_with(b"HTTP/1.1 200")
}

/// The omnicase binary next to this one (same profile), or `OMNICASE_BIN`.
pub fn omnicase_bin() -> Result<std::path::PathBuf, BenchError> {
    if let Some(p) = std::env::var_os("OMNICASE_BIN") {
        return Ok(p.into());
    }
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("omnicase");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(BenchError::Setup(format!(
            "{} not found: build it first (make bench does)",
            bin.display()
        )))
    }
}
