//! `make bench`: omnicase side by side with what the machine allows, in one
//! run, on one machine. Each pair runs the same amount of work the same way
//! (same pool size, same concurrency, same duration) and is reported as
//! absolute figures and as a ratio; `target/bench/results.json` keeps them.
//! How to read it: docs/benchmarks.md.

mod attacks;
mod extra;
mod faults;
mod load;

use clap::{Parser, Subcommand};
use load::{drive, Stats};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator the server binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "omnicase-bench",
    about = "omnicase against the physical limits"
)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Seconds per measurement (faults: per load phase).
    #[arg(long, global = true, default_value_t = 5.0)]
    seconds: f64,
    /// A bounded run (CI): short measurements on a small data set.
    #[arg(long, global = true)]
    quick: bool,
    /// PostgreSQL server to create the bench database on (an admin URL).
    /// Default: what scripts/ensure-postgres.sh finds or starts.
    #[arg(long, global = true, env = "BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Run only the sections whose name contains this (commands, http,
    /// mail, rebuild, server, attacks, lag).
    #[arg(long, global = true)]
    only: Option<String>,
    /// Documents in the mail-scan batch (default 100,000; --quick 1,000).
    #[arg(long, global = true)]
    mail_docs: Option<usize>,
    /// Events the log is grown to for the rebuild (default 1,000,000;
    /// --quick 20,000).
    #[arg(long, global = true)]
    events: Option<i64>,
    /// Where the JSON results go (default target/bench/results.json, or
    /// target/bench/faults.json).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// The fault suite (`make faults`): kill -9 under load, PostgreSQL
    /// restart under load, 100 writers on one case. Exit 1 on any lost or
    /// duplicated acknowledged command.
    Faults,
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("app: {0}")]
    Instance(#[from] services::server::AppError),
    #[error("config: {0}")]
    Config(#[from] services::config::ConfigError),
    #[error("generator: {0}")]
    Load(#[from] services::generator::LoadError),
    #[error("read model: {0}")]
    Read(#[from] projections::ReadError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
}

fn postgres_admin_url(args: &Args) -> Result<String, BenchError> {
    if let Some(url) = &args.postgres {
        return Ok(url.clone());
    }
    let out = std::process::Command::new("bash")
        .arg("scripts/ensure-postgres.sh")
        .output()?;
    if !out.status.success() {
        return Err(BenchError::Setup(format!(
            "scripts/ensure-postgres.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A fresh database `name` on the server of `admin`; its URL.
async fn fresh_database(admin: &str, name: &str) -> Result<String, BenchError> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| BenchError::Setup("the PostgreSQL URL names no database".into()))?;
    Ok(format!("{base}/{name}"))
}

fn row(name: &str, ours: &Stats, base: &Stats) -> serde_json::Value {
    let ratio = if base.per_second() > 0.0 {
        ours.per_second() / base.per_second()
    } else {
        0.0
    };
    let failed = if ours.failed + base.failed > 0 {
        format!("  (failed: {} / {})", ours.failed, base.failed)
    } else {
        String::new()
    };
    println!(
        "{name:<36} {:>7.0}/s p50 {:>6.2} ms p99 {:>6.2} ms | baseline {:>7.0}/s p50 {:>6.2} ms p99 {:>6.2} ms | ratio {ratio:>4.2}{failed}",
        ours.per_second(),
        ours.p50_ms(),
        ours.p99_ms(),
        base.per_second(),
        base.p50_ms(),
        base.p99_ms(),
    );
    json!({"name": name, "omnicase": ours.json(), "baseline": base.json(), "ratio": ratio})
}

/// How the appends of one measurement were grouped (printed and kept).
fn grouped(before: (u64, u64, u64), after: (u64, u64, u64)) -> serde_json::Value {
    let (statements, commands, split) =
        (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    let per = if statements > 0 {
        commands as f64 / statements as f64
    } else {
        0.0
    };
    println!(
        "{:<36} group commit: {commands} appends in {statements} statements ({per:.1} per statement, {split} groups split)",
        ""
    );
    json!({"statements": statements, "appends": commands, "per_statement": per, "split": split})
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // Quiet unless asked (`OMNICASE_LOG=projections=info` shows where a
    // rebuild spent its time).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OMNICASE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match args.mode {
        Some(Mode::Faults) => run_faults(&args).await,
        None => run(args).await.map(|()| true),
    };
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("omnicase-bench: a promise was broken (see above)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("omnicase-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BenchError> {
    let seconds = if args.quick { 1.0 } else { args.seconds };
    let duration = Duration::from_secs_f64(seconds);
    let (claimants, claims) = if args.quick { (40, 40) } else { (400, 400) };
    let admin = postgres_admin_url(&args)?;
    let url = fresh_database(&admin, "omnicase_bench").await?;
    eprintln!("bench database: {url}; {seconds} s per measurement");

    let settings = bench_settings(&url)?;
    let app = Arc::new(services::server::Instance::open(settings).await?);
    let tenant = domain::TenantId::parse("demo").map_err(|e| BenchError::Setup(e.to_string()))?;
    let started = Instant::now();
    let plan = services::generator::plan(7, claimants, claims);
    services::generator::load(&app, &tenant, &plan, |_, _| {}).await?;
    app.projector.settle(Duration::from_secs(60)).await?;
    eprintln!(
        "loaded {claimants} claimants / {claims} claims in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let cases = load::open_cases(&app).await?;
    if cases.is_empty() {
        return Err(BenchError::Setup("the generator made no open case".into()));
    }
    let store::Database::Postgres(pg) = &app.db else {
        return Err(BenchError::Setup("the bench needs PostgreSQL".into()));
    };
    let pool = pg.pool().clone();
    load::prepare_raw(&pool).await?;
    let payload = load::contact_payload(&app).await?;

    let wants = |section: &str| args.only.as_deref().is_none_or(|o| section.contains(o));
    let mut results = Vec::new();
    let mut extras = serde_json::Map::new();
    if wants("commands") {
        println!();
        println!("== commands on PostgreSQL vs raw single-row INSERT transactions ==");
        for clients in [1usize, 8, 32] {
            let before = pg.group_commit_stats();
            let ours = drive(load::command_clients(&app, &cases, clients), duration).await;
            let after = pg.group_commit_stats();
            let base = drive(load::raw_clients(&pool, &payload, clients), duration).await;
            let mut result = row(&format!("commands, {clients} clients"), &ours, &base);
            result["group_commit"] = grouped(before, after);
            results.push(result);
        }
        let (count, length) = if args.quick { (8, 100) } else { (200, 500) };
        let long = extra::long_cases(&app, &cases, count, length).await?;
        for clients in [1usize, 8, 32] {
            let before = pg.group_commit_stats();
            let ours = drive(load::command_clients(&app, &long, clients), duration).await;
            let after = pg.group_commit_stats();
            let base = drive(load::raw_clients(&pool, &payload, clients), duration).await;
            let name = format!("commands, {length}-event cases, {clients} clients");
            let mut result = row(&name, &ours, &base);
            result["group_commit"] = grouped(before, after);
            results.push(result);
        }
    }

    let http = load::Http::start(app.clone(), &tenant, &cases).await?;
    if wants("http") {
        println!();
        println!(
            "== claim status over HTTP (keep-alive, 64 connections): GraphQL vs plain axum JSON =="
        );
        let ours = http.graphql(64, duration).await;
        let base = http.plain(64, duration).await;
        results.push(row("claim status query, 64 connections", &ours, &base));
        let half_rate = ours.per_second() / 2.0;
        let half = http.graphql_paced(64, half_rate, duration).await;
        println!(
            "at half of peak ({half_rate:.0}/s asked, {:.0}/s served): p50 {:.2} ms, p99 {:.2} ms",
            half.per_second(),
            half.p50_ms(),
            half.p99_ms()
        );
        extras.insert(
            "claim_status_half_peak".into(),
            json!({"asked_per_second": half_rate, "served": half.json()}),
        );
        // Staff reads are audited before the answer: the cost of that,
        // against the same reads by the claimant (not audited).
        let audited_before = audit_rows(&app).await?;
        let staff = http.graphql_staff(64, duration).await;
        let audited = audit_rows(&app).await? - audited_before;
        println!(
            "staff reads (each audited): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms; citizen reads (not audited): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms; {audited} audit records for {} answers",
            staff.per_second(),
            staff.p50_ms(),
            staff.p99_ms(),
            ours.per_second(),
            ours.p50_ms(),
            ours.p99_ms(),
            staff.ok
        );
        extras.insert(
            "audited_staff_reads".into(),
            json!({"staff": staff.json(), "citizen": ours.json(), "audit_records": audited}),
        );
    }

    if wants("mail") {
        println!();
        println!("== mail-scan ingest (one batch, filed twice) ==");
        let docs = args
            .mail_docs
            .unwrap_or(if args.quick { 1_000 } else { 100_000 });
        let file_numbers: Vec<String> = plan
            .claimants
            .iter()
            .map(|p| p.file_number.clone())
            .collect();
        let mail = extra::mail_ingest(&app, &tenant, &file_numbers, docs).await?;
        println!(
            "{docs} documents in {:.1} s = {:.0} documents/s; attached {}, unidentified {}, rejected {}; events appended {}, by the re-send {}",
            mail["seconds"].as_f64().unwrap_or(0.0),
            mail["per_second"].as_f64().unwrap_or(0.0),
            mail["attached"], mail["unidentified"], mail["rejected"], mail["events_appended"], mail["resend_events_appended"],
        );
        extras.insert("mail_ingest".into(), mail);
    }

    if wants("rebuild") {
        println!();
        println!("== rebuild vs a raw ordered scan of the log ==");
        let target = args
            .events
            .unwrap_or(if args.quick { 20_000 } else { 1_000_000 });
        let events = extra::grow_log(&pool, target).await?;
        let (rebuild, scan) = extra::rebuild_vs_scan(&app, &pool).await?;
        let ratio = rebuild.per_second() / scan.per_second().max(1.0);
        println!(
            "rebuild of {events} events {:>9.0} events/s ({:.1} s) | raw scan {:>9.0} events/s ({:.1} s) | ratio {ratio:.2}",
            rebuild.per_second(), rebuild.seconds, scan.per_second(), scan.seconds
        );
        results.push(json!({"name": format!("rebuild, {events} events"), "omnicase": rebuild.json(), "baseline": scan.json(), "ratio": ratio}));
    }

    let bin = extra::omnicase_bin()?;
    let events = store_events(&pool).await?;
    if wants("server") {
        println!();
        println!("== the server process ==");
        let server = extra::Server::start(&bin, &url).await?;
        let ready_ms = server.ready_after.as_secs_f64() * 1000.0;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = server.rss_mib();
        let external = http.external(server.addr);
        let loaded = external.graphql(64, duration).await;
        let peak = server.peak_rss_mib();
        println!(
        "PostgreSQL, {events} events: ready in {ready_ms:.0} ms, idle RSS {idle:.1} MiB; claim status, 64 connections {:.0}/s p99 {:.2} ms; peak RSS {peak:.1} MiB",
        loaded.per_second(), loaded.p99_ms()
    );
        drop(server);
        extras.insert(
            "server_postgres".into(),
            json!({
                "events": events, "ready_ms": ready_ms, "idle_rss_mib": idle, "peak_rss_mib": peak,
                "claim_status_under_load": loaded.json(),
            }),
        );
    }
    http.stop();

    let dir = std::env::temp_dir().join(format!("omnicase-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let sqlite_url = format!("sqlite://{}/omnicase.db", dir.display());
    let fresh = extra::Server::start(&bin, &sqlite_url).await?;
    let fresh_ms = fresh.ready_after.as_secs_f64() * 1000.0;
    drop(fresh);
    let again = extra::Server::start(&bin, &sqlite_url).await?;
    let again_ms = again.ready_after.as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again_rss = again.rss_mib();
    drop(again);
    if wants("server") {
        println!(
        "embedded default (SQLite): first start {fresh_ms:.0} ms (migrate + demo data), next start {again_ms:.0} ms; idle RSS {again_rss:.1} MiB"
    );
        extras.insert(
            "server_embedded".into(),
            json!({
                "first_start_ms": fresh_ms, "start_ms": again_ms, "idle_rss_mib": again_rss,
            }),
        );
    }

    if wants("attacks") {
        println!();
        println!("== the server under the largest allowed request and under attack (embedded default) ==");
        let dir = std::env::temp_dir().join(format!("omnicase-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}/omnicase.db", dir.display());
        let report = attacks::server_under_attack(&bin, &url, args.quick).await?;
        extras.insert("server_under_attack".into(), report);
        let _ = std::fs::remove_dir_all(&dir);
    }

    if wants("lag") {
        println!();
        println!(
            "== projection lag at a fixed command rate (embedded: SQLite + in-process feed) =="
        );
        let lag_settings = bench_settings(&sqlite_url)?;
        let lag_app = Arc::new(services::server::Instance::open(lag_settings).await?);
        let lag_cases = load::open_cases(&lag_app).await?;
        let projector = tokio::spawn(lag_app.projector.clone().run(std::future::pending()));
        let (lag, achieved) =
            extra::projection_lag(&lag_app, &lag_cases, 1000, duration, true).await;
        projector.abort();
        println!(
            "1000 commands/s asked, {achieved:.0}/s issued; lag p50 {:.2} ms p99 {:.2} ms over {} acknowledged commands ({} not seen)",
            lag.p50_ms(), lag.p99_ms(), lag.ok, lag.failed
        );
        extras.insert(
            "projection_lag_embedded".into(),
            json!({"asked_per_second": 1000, "issued_per_second": achieved, "lag": lag.json()}),
        );
        match std::env::var("KAFKA_BROKERS")
            .ok()
            .filter(|b| !b.trim().is_empty())
        {
            Some(brokers) => {
                println!();
                println!("== projection lag through Kafka (relay -> case-events topic -> consumer group) ==");
                let (lag, achieved) = kafka_lag(&sqlite_url, &brokers, duration).await?;
                println!(
                    "1000 commands/s asked, {achieved:.0}/s issued; lag p50 {:.2} ms p99 {:.2} ms over {} acknowledged commands ({} not seen)",
                    lag.p50_ms(), lag.p99_ms(), lag.ok, lag.failed
                );
                extras.insert(
                    "projection_lag_kafka".into(),
                    json!({"brokers": brokers, "asked_per_second": 1000, "issued_per_second": achieved, "lag": lag.json()}),
                );
            }
            None => println!("(projection lag through Kafka: set KAFKA_BROKERS to measure it)"),
        }
    }

    let _ = std::fs::remove_dir_all(&dir);

    let doc = json!({
        "machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "seconds_per_measurement": seconds,
        "quick": args.quick,
        "data": {"claimants": claimants, "claims": claims, "open_cases": cases.len()},
        "results": results,
        "other": extras,
    });
    write_json(
        args.out
            .unwrap_or_else(|| PathBuf::from("target/bench/results.json")),
        &doc,
    )
}

/// The embedded store with its read models fed from Kafka: the relay
/// publishes each event, a consumer group applies it. Topics get a fresh
/// prefix so every run starts empty.
async fn kafka_lag(
    sqlite_url: &str,
    brokers: &str,
    duration: Duration,
) -> Result<(load::Stats, f64), BenchError> {
    let mut settings = bench_settings(sqlite_url)?;
    settings.kafka.brokers = Some(brokers.to_owned());
    settings.kafka.topic_prefix = format!("bench-{}.", uuid::Uuid::new_v4().simple());
    settings.kafka.projection = services::config::ProjectionSource::Kafka;
    settings
        .kafka
        .librdkafka
        .insert("session.timeout.ms".into(), "6000".into());
    let app = Arc::new(services::server::Instance::open(settings).await?);
    if let Some(k) = app.settings.kafka() {
        bus::topics::create(&k, &[], 1, 1)
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?;
    }
    let cases = load::open_cases(&app).await?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let tasks = services::server::start_background(&app, stop_rx)?;
    // The consumer group joins, then the relay catches up with the log.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let measured = extra::projection_lag(&app, &cases, 1000, duration, false).await;
    let _ = stop.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    Ok(measured)
}

/// Audit records written so far.
async fn audit_rows(app: &services::server::Instance) -> Result<i64, BenchError> {
    app.read
        .audit_count()
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))
}

async fn store_events(pool: &sqlx::PgPool) -> Result<i64, BenchError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?)
}

fn write_json(out: PathBuf, doc: &serde_json::Value) -> Result<(), BenchError> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(doc).unwrap_or_default())?;
    println!();
    println!("written to {}", out.display());
    Ok(())
}

/// The fault suite, on a PostgreSQL cluster of its own (it is restarted).
async fn run_faults(args: &Args) -> Result<bool, BenchError> {
    let phase = Duration::from_secs_f64(if args.quick {
        2.0
    } else {
        args.seconds.max(5.0)
    });
    let out = std::process::Command::new("bash")
        .arg("scripts/ensure-postgres.sh")
        .env("OMNICASE_PG_PRIVATE", "1")
        .output()?;
    if !out.status.success() {
        return Err(BenchError::Setup(format!(
            "private PostgreSQL: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let admin = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let url = fresh_database(&admin, "omnicase_faults").await?;
    eprintln!(
        "fault database: {url}; load phases of {} s",
        phase.as_secs_f64()
    );
    let settings = bench_settings(&url)?;
    let app = Arc::new(services::server::Instance::open(settings).await?);
    let tenant = domain::TenantId::parse("demo").map_err(|e| BenchError::Setup(e.to_string()))?;
    let plan = services::generator::plan(11, 20, 20);
    services::generator::load(&app, &tenant, &plan, |_, _| {}).await?;
    app.projector.settle(Duration::from_secs(60)).await?;
    let cases = load::open_cases(&app).await?;
    if cases.is_empty() {
        return Err(BenchError::Setup("no open case to write to".into()));
    }
    let token = services::cli::dev_token(
        &app,
        &app::auth::DevToken {
            tenant: tenant.clone(),
            subject: domain::ActorId::parse("caseworker-faults")
                .map_err(|e| BenchError::Setup(e.to_string()))?,
            roles: vec![app::auth::Role::Caseworker],
            sensitive: false,
            claimant: None,
            office: None,
            ttl: chrono::Duration::hours(2),
        },
    )
    .map_err(|e| BenchError::Setup(e.to_string()))?;
    let bin = extra::omnicase_bin()?;
    let mut all_ok = true;
    let mut report = serde_json::Map::new();
    println!();

    let rig = faults::Rig {
        app: &app,
        bin: &bin,
        url: &url,
        token: &token,
        cases: &cases,
    };
    let a = faults::kill_nine(&rig, phase).await?;
    a.print("(a) kill -9 under load, restart");
    all_ok &= a.ok() && a.reflected == a.acknowledged;
    report.insert("kill_nine".into(), a.json());

    let b = faults::postgres_restart(&rig, phase).await?;
    b.counts.print("(b) PostgreSQL restarted under load");
    println!(
        "    while it was down: {} answers, codes {:?}, slowest {:.0} ms; served again {:.0} ms after it was back, no omnicase restart",
        b.errors_while_down, b.error_codes, b.slowest_error_ms, b.recovered_after_ms
    );
    if !b.other_answers.is_empty() {
        println!(
            "    answers without a coded error while it was down ({}): {:?}",
            b.other_answers.len(),
            b.other_answers.iter().take(3).collect::<Vec<_>>()
        );
    }
    let b_ok = b.counts.ok()
        && b.errors_while_down > 0
        && b.error_codes.iter().all(|c| c.ends_with("(retriable)"));
    all_ok &= b_ok;
    report.insert("postgres_restart".into(), json!({
        "counts": b.counts.json(), "errors_while_down": b.errors_while_down, "error_codes": b.error_codes,
        "slowest_error_ms": b.slowest_error_ms, "recovered_after_ms": b.recovered_after_ms,
    }));

    let (d, gapless) = faults::one_case_writers(&app, cases[0].0, 100).await?;
    d.print("(d) 100 concurrent writers on one case");
    println!("    versions gapless: {gapless}");
    all_ok &= d.ok() && gapless;
    report.insert(
        "one_case_writers".into(),
        json!({"counts": d.json(), "gapless": gapless}),
    );

    println!("(c) broker killed while publishing: the integration test kafka::the_relay_catches_up_after_the_broker_is_killed (make test)");
    write_json(
        args.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("target/bench/faults.json")),
        &json!(report),
    )?;
    Ok(all_ok)
}

/// The built-in settings for `url`, with request rates far above what the
/// load drivers send (a few tokens, thousands of requests a second); the
/// limiters still count every request, so their cost is measured.
fn bench_settings(url: &str) -> Result<services::config::Settings, BenchError> {
    let mut settings = services::config::Settings::load(None, Some(url))?;
    let limits = &mut settings.rate_limits;
    limits.per_minute = 1_000_000_000;
    limits.anonymous_per_minute = 1_000_000_000;
    for rate in limits.roles.values_mut() {
        *rate = 1_000_000_000;
    }
    Ok(settings)
}
