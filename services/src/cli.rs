//! `omnicase` subcommands.

use crate::config::{ConfigError, Settings};
use crate::seed::{file_submission, submissions_in, SeedError};
use crate::server::{metrics_handle, AppError, Instance};
use app::auth::{mint_hs256, DevToken, Role};
use chrono::Utc;
use clap::{Parser, Subcommand};
use domain::{ActorId, CaseId, ClaimantId, FileNumber, TenantId};
use engine::{EngineError, Envelope};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use store::{EventLog, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "omnicase",
    version,
    about = "Omnichannel claims and case management"
)]
pub struct Cli {
    /// Configuration file (TOML); built-in defaults otherwise.
    #[arg(long, global = true, env = "OMNICASE_CONFIG")]
    config: Option<PathBuf>,
    /// postgres://… or sqlite://…; overrides the configuration.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// The agency an operator command acts for.
    #[arg(long, global = true, default_value = "demo", env = "OMNICASE_TENANT")]
    tenant: String,
    /// Who the operator is, recorded in event metadata.
    #[arg(long, global = true, default_value = "operator")]
    actor: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the GraphQL API (and keep the read models up to date).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides `listen`).
        #[arg(long)]
        listen: Option<String>,
        /// Development mode (what `make run` uses): GraphiQL, demo data on
        /// first start, introspection and suggestions for anyone, and the
        /// built-in development token secret allowed. Same as `dev = true`.
        #[arg(long)]
        dev: bool,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Recompute every stream's hash chain; exit 1 if anything was altered.
    Verify,
    /// File the claim in a submission document (registers the claimant if new).
    Submit { file: PathBuf },
    /// File every submission document in a folder (idempotent).
    Seed {
        #[arg(default_value = "fixtures/claims")]
        dir: PathBuf,
        /// Generate and load this many synthetic claimants instead of
        /// filing the folder (idempotent: the same plan appends nothing).
        #[arg(long)]
        claimants: Option<usize>,
        /// Synthetic claims to generate (default: one per claimant).
        #[arg(long, requires = "claimants")]
        claims: Option<usize>,
        /// Generator seed: the same seed and counts give the same data.
        #[arg(long, default_value_t = crate::generator::DEFAULT_SEED)]
        seed: u64,
    },
    /// Print a case as the log knows it.
    Show { case_id: uuid::Uuid },
    /// File a mail-scan batch manifest (schemas/mail-batch.v1.json); safe to
    /// re-run after an interruption: nothing is filed twice.
    Ingest {
        manifest: PathBuf,
        /// Print every document's outcome as JSON (default: a summary).
        #[arg(long)]
        json: bool,
    },
    /// Replay the log into fresh read models and switch over, without downtime.
    Rebuild,
    /// Run the timers once: mark past-due evidence requests overdue, send reminders.
    Timers,
    /// Create the Kafka topics: case events, dead letters and the
    /// configured intake topics (needs KAFKA_BROKERS or kafka.brokers).
    Topics {
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        #[arg(long, default_value_t = 1)]
        replication: i32,
    },
    /// Write the GraphQL SDL.
    Schema {
        #[arg(long, default_value = "graphql/schema.graphql")]
        out: PathBuf,
    },
    /// Mint a development token (HS256, from the configured secret).
    Token {
        /// CITIZEN, AGENT, CASEWORKER, APPROVER, SUPERVISOR, INTEGRATOR (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The `sub` claim; defaults to the role name in lower case.
        #[arg(long)]
        subject: Option<String>,
        /// For CITIZEN tokens: the claimant id, or a file number to look up.
        #[arg(long)]
        claimant: Option<String>,
        /// Grant the SENSITIVE permission.
        #[arg(long)]
        sensitive: bool,
        /// For staff: the office they work in (the `office` claim); staff
        /// never handle a restricted colleague of their own office.
        #[arg(long)]
        office: Option<String>,
        #[arg(long, default_value_t = 8)]
        ttl_hours: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Read(#[from] projections::ReadError),
    #[error(transparent)]
    Auth(#[from] app::auth::AuthError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Input(#[from] domain::ParseError),
    #[error("{0}")]
    Usage(String),
    #[error("case {0} not found")]
    NotFound(CaseId),
    #[error("{0}: {1}")]
    Intake(domain::ErrorCode, String),
    #[error(transparent)]
    Generator(#[from] crate::generator::LoadError),
    #[error(transparent)]
    Kafka(#[from] bus::BusError),
}

impl CliError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            CliError::Config(_) => domain::ErrorCode::BadConfiguration,
            CliError::App(e) => e.code(),
            CliError::Store(e) => e.code(),
            CliError::Engine(e) => e.code(),
            CliError::Seed(e) => e.code(),
            CliError::Read(e) => e.code(),
            CliError::Auth(e) => e.code(),
            CliError::Io(_) => domain::ErrorCode::IoError,
            CliError::Input(_) | CliError::Usage(_) => domain::ParseError::CODE,
            CliError::NotFound(_) => domain::ErrorCode::ClaimNotFound,
            CliError::Intake(code, _) => *code,
            CliError::Generator(e) => e.code(),
            CliError::Kafka(e) => e.code(),
        }
    }
}

impl Cli {
    pub async fn run(self) -> Result<ExitCode, CliError> {
        let settings = Settings::load(self.config.as_deref(), self.database_url.as_deref())?;
        let tenant = TenantId::parse(&self.tenant)?;
        let env = Envelope::new(tenant.clone(), ActorId::parse(&self.actor)?);
        match self.command {
            Command::Schema { out } => {
                std::fs::write(&out, graphql::sdl())?;
                eprintln!("wrote {}", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            Command::Serve { listen, dev } => {
                let mut settings = settings;
                settings.dev |= dev;
                return serve(settings, listen, &env).await;
            }
            Command::Topics {
                partitions,
                replication,
            } => return topics(&settings, partitions, replication).await,
            _ => {}
        }
        let app = Instance::open(settings).await?;
        match self.command {
            Command::Serve { .. } | Command::Schema { .. } | Command::Topics { .. } => {}
            Command::Migrate => eprintln!("schema is up to date"),
            Command::Verify => return verify(app.log.as_ref()).await,
            Command::Submit { file } => {
                let filed = file_submission(&app.intake, &operator(&env), &file).await?;
                println!("{}", filed_json(&filed));
            }
            Command::Seed {
                claimants: Some(claimants),
                claims,
                seed: generator_seed,
                ..
            } => {
                generate(
                    &app,
                    &env,
                    generator_seed,
                    claimants,
                    claims.unwrap_or(claimants),
                )
                .await?
            }
            Command::Seed { dir, .. } => seed(&app, &env, &dir, true).await?,
            Command::Ingest { manifest, json } => return ingest(&app, &env, &manifest, json).await,
            Command::Show { case_id } => {
                println!("{:#}", show(&app, &env, CaseId::from_uuid(case_id)).await?)
            }
            Command::Rebuild => rebuild(&app).await?,
            Command::Timers => timers(&app).await?,
            Command::Token {
                roles,
                subject,
                claimant,
                sensitive,
                office,
                ttl_hours,
            } => {
                let roles = roles
                    .iter()
                    .map(|r| {
                        Role::parse(&r.to_uppercase())
                            .ok_or_else(|| CliError::Usage(format!("unknown role {r}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let claimant = match claimant {
                    None => None,
                    Some(c) => Some(resolve_claimant(&app, &tenant, &c).await?),
                };
                let subject = subject.unwrap_or_else(|| {
                    roles
                        .first()
                        .map(|r| r.code().to_lowercase())
                        .unwrap_or_default()
                });
                let token = dev_token(
                    &app,
                    &DevToken {
                        tenant,
                        subject: ActorId::parse(&subject)?,
                        roles,
                        sensitive,
                        claimant,
                        office,
                        ttl: chrono::Duration::hours(ttl_hours),
                    },
                )?;
                println!("{token}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

async fn resolve_claimant(
    app: &Instance,
    tenant: &TenantId,
    raw: &str,
) -> Result<ClaimantId, CliError> {
    if let Ok(id) = uuid::Uuid::parse_str(raw) {
        return Ok(ClaimantId::from_uuid(id));
    }
    let file_number = FileNumber::parse(raw)?;
    app.engine
        .find_claimant(tenant, &file_number)
        .await?
        .ok_or_else(|| CliError::Usage("no claimant with that file number".into()))
}

/// Mints a development token from the configured HS256 secret (what
/// `omnicase token` prints).
pub fn dev_token(app: &Instance, token: &DevToken) -> Result<String, CliError> {
    let secret = app
        .settings
        .auth
        .hs256_secret
        .as_deref()
        .ok_or_else(|| CliError::Usage("`omnicase token` needs auth.hs256_secret".into()))?;
    Ok(mint_hs256(
        secret.as_bytes(),
        &app.settings.auth.issuer,
        &app.settings.auth.audience,
        token,
        Utc::now(),
    )?)
}

/// The CLI's actor as the intake's operator (files what channels recorded).
fn operator(env: &Envelope) -> intake::Caller {
    intake::Caller::new(
        env.tenant.clone(),
        env.actor.clone(),
        intake::CallerKind::Operator,
    )
}

/// What `omnicase submit` prints for a filed document.
fn filed_json(filed: &intake::Filed) -> serde_json::Value {
    match filed {
        intake::Filed::Case {
            case_id,
            version,
            outcome,
            replayed,
        } => {
            json!({"caseId": case_id, "version": version, "outcome": outcome, "replayed": replayed})
        }
        intake::Filed::Unidentified { reason } => json!({"unidentified": reason.as_str()}),
    }
}

/// Files the demo submissions of a folder, then the mail-scan batches in
/// its sibling `mail/` folder (both idempotent).
async fn seed(app: &Instance, env: &Envelope, dir: &Path, print: bool) -> Result<(), CliError> {
    let caller = operator(env);
    for file in submissions_in(dir)? {
        let filed = file_submission(&app.intake, &caller, &file).await?;
        if print {
            match filed {
                intake::Filed::Case {
                    case_id,
                    outcome,
                    replayed,
                    ..
                } => eprintln!(
                    "{}: case {case_id} {outcome:?}{}",
                    file.display(),
                    if replayed { " (already filed)" } else { "" }
                ),
                intake::Filed::Unidentified { reason } => {
                    eprintln!("{}: unidentified ({reason})", file.display())
                }
            }
        }
    }
    // Batches match claimants through the read models: bring them up to date.
    app.projector
        .settle(std::time::Duration::from_secs(30))
        .await?;
    let mail = dir.parent().map(|p| p.join("mail"));
    if let Some(mail) = mail.filter(|m| m.is_dir()) {
        for file in submissions_in(&mail)? {
            let report = app
                .intake
                .ingest_batch(&caller, &std::fs::read(&file)?, |_, _| {})
                .await
                .map_err(|e| CliError::Intake(e.code, e.message))?;
            if print {
                eprintln!(
                    "{}: batch {} {} ({} attached, {} unidentified, {} rejected)",
                    file.display(),
                    report.batch_id,
                    report.status,
                    report.attached,
                    report.unidentified,
                    report.rejected
                );
            }
        }
    }
    Ok(())
}
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn serve(
    settings: Settings,
    listen: Option<String>,
    env: &Envelope,
) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    metrics_handle();
    let addr = listen.unwrap_or_else(|| settings.listen.clone());
    settings.check_serving()?;
    let app = std::sync::Arc::new(Instance::open(settings).await?);
    if app.settings.uses_dev_secret() {
        tracing::warn!("using the built-in development token secret: set auth.hs256_secret (or an RSA/JWKS key) in production");
    }
    if app.settings.dev
        && app.log.read_feed(Default::default(), 1).await?.is_empty()
        && Path::new("fixtures/claims").is_dir()
    {
        seed(&app, env, Path::new("fixtures/claims"), false).await?;
    }
    app.projector.catch_up().await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut timer_stop = stop_rx.clone();
    let background = crate::server::start_background(&app, stop_rx)?;
    let timers = tokio::spawn(crate::timers::run(
        app.clone(),
        std::time::Duration::from_secs(60),
        async move {
            let _ = timer_stop.wait_for(|stop| *stop).await;
        },
    ));
    banner(&app, env, local, started.elapsed()).await;
    crate::http::serve(
        listener,
        app.router(),
        app.settings.server.connection_limits(),
        shutdown_signal(),
    )
    .await?;
    let _ = stop_tx.send(true);
    for task in background {
        let _ = task.await;
    }
    let _ = timers.await;
    eprintln!("omnicase stopped");
    Ok(ExitCode::SUCCESS)
}

async fn topics(
    settings: &Settings,
    partitions: i32,
    replication: i32,
) -> Result<ExitCode, CliError> {
    let Some(kafka) = settings.kafka() else {
        return Err(CliError::Usage(
            "no Kafka configured: set KAFKA_BROKERS (or kafka.brokers)".into(),
        ));
    };
    if partitions < 1 || replication < 1 {
        return Err(CliError::Usage(
            "--partitions and --replication must be at least 1".into(),
        ));
    }
    let intake: Vec<String> = settings
        .intake_bindings()?
        .into_iter()
        .map(|b| b.topic)
        .collect();
    let outcomes = bus::topics::create(&kafka, &intake, partitions, replication).await?;
    let mut failed = false;
    for o in &outcomes {
        println!("{:<8} {}", o.status, o.topic);
        failed |= o.status != "CREATED" && o.status != "EXISTS";
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn banner(
    app: &Instance,
    env: &Envelope,
    addr: std::net::SocketAddr,
    took: std::time::Duration,
) {
    eprintln!(
        "omnicase is serving on http://{addr}/graphql  (started in {} ms)",
        took.as_millis()
    );
    if !app.settings.dev {
        return;
    }
    eprintln!("  GraphiQL: open http://{addr}/graphql in a browser");
    let citizen = match FileNumber::parse("123456789") {
        Ok(f) => app
            .engine
            .find_claimant(&env.tenant, &f)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let mint = |subject: &str, roles: Vec<Role>, claimant| {
        let Ok(subject) = ActorId::parse(subject) else {
            return String::new();
        };
        dev_token(
            app,
            &DevToken {
                tenant: env.tenant.clone(),
                subject,
                roles,
                sensitive: false,
                claimant,
                office: None,
                ttl: chrono::Duration::hours(8),
            },
        )
        .unwrap_or_default()
    };
    if let Some(c) = citizen {
        eprintln!(
            "  citizen token (Alex Rivera):\n    {}",
            mint("alex.rivera", vec![Role::Citizen], Some(c))
        );
    }
    eprintln!(
        "  agent token:\n    {}",
        mint("agent.smith", vec![Role::Agent], None)
    );
    eprintln!(
        "  caseworker token:\n    {}",
        mint("caseworker.jones", vec![Role::Caseworker], None)
    );
    eprintln!("  try: curl -s http://{addr}/graphql -H 'content-type: application/json' -H \"authorization: Bearer $TOKEN\" \\\n         -d '{{\"query\":\"{{ myClaims {{ edges {{ node {{ id status claimDate estimatedCompletion {{ earliest latest }} }} }} }} }}\"}}'");
}

async fn ingest(
    app: &Instance,
    env: &Envelope,
    manifest: &Path,
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let bytes = std::fs::read(manifest)?;
    let caller = intake::Caller::new(
        env.tenant.clone(),
        env.actor.clone(),
        intake::CallerKind::Staff,
    );
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} filing [{bar:40}] {pos}/{len} documents ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = app
        .intake
        .ingest_batch(&caller, &bytes, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await
        .map_err(|e| CliError::Intake(e.code, e.message))?;
    bar.finish_and_clear();
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "batch {}: {} ({} attached, {} unidentified, {} rejected)",
            report.batch_id, report.status, report.attached, report.unidentified, report.rejected
        );
        for d in report.documents.iter().filter(|d| d.status == "REJECTED") {
            println!(
                "  {} REJECTED {}",
                d.document_id,
                d.error_code.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(if report.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

async fn rebuild(app: &Instance) -> Result<(), CliError> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} rebuilding read models [{bar:40}] {pos}/{len} events ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let generation = app
        .projector
        .rebuild(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish();
    eprintln!("read models rebuilt; generation {generation} is live");
    Ok(())
}

async fn timers(app: &Instance) -> Result<(), CliError> {
    // Look at the log as it is now, and leave the aging queue up to date.
    let settle = std::time::Duration::from_secs(30);
    app.projector.settle(settle).await?;
    let report = crate::timers::run_once(app, Utc::now()).await?;
    app.projector.settle(settle).await?;
    println!("{}", json!(report));
    Ok(())
}

async fn verify(log: &dyn EventLog) -> Result<ExitCode, CliError> {
    let report = log.verify().await?;
    for f in &report.findings {
        println!(
            "TAMPERED tenant={} stream={} version={} problem={:?}",
            f.tenant, f.stream_id, f.version, f.problem
        );
    }
    println!(
        "verified {} streams, {} events: {}",
        report.streams,
        report.events,
        if report.findings.is_empty() {
            "intact"
        } else {
            "ALTERED"
        }
    );
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn show(app: &Instance, env: &Envelope, id: CaseId) -> Result<serde_json::Value, CliError> {
    let (case, version) = app.engine.load_case(&env.tenant, id).await?;
    let file = case.file().ok_or(CliError::NotFound(id))?;
    Ok(json!({
        "caseId": file.id.to_string(),
        "version": version,
        "claimantId": file.claimant.to_string(),
        "benefitType": file.benefit.as_str(),
        "status": file.citizen_status().code(),
        "phase": file.phase.code(),
        "claimDate": file.claim_date,
        "estimate": file.estimate.map(|e| json!({"earliest": e.earliest, "latest": e.latest})),
        "closeReason": file.closed.map(|c| c.code()),
        "contentions": file.contentions.iter().map(|c| json!({
            "description": c.description.as_str(),
            "adjudication": c.adjudication.code(),
        })).collect::<Vec<_>>(),
        "channelEntries": file.entries.iter().map(|e| json!({
            "channel": e.channel.code(),
            "externalId": e.external_id.as_str(),
            "receivedAt": e.received_at,
            "recordedAt": e.recorded_at,
            "duplicateOf": e.duplicate_of.map(|d| d.to_string()),
        })).collect::<Vec<_>>(),
        "openEvidenceRequests": file.requests.iter().filter(|r| !r.status.is_terminal()).count(),
        "documents": file.documents.len(),
        "assignee": file.assignee.as_ref().map(|a| a.as_str()),
    }))
}

/// `seed --claimants N`: generates a synthetic data set for the tenant's
/// benefit types and loads it, with a progress bar.
async fn generate(
    app: &Instance,
    env: &Envelope,
    seed: u64,
    claimants: usize,
    claims: usize,
) -> Result<(), CliError> {
    use crate::generator;
    let started = std::time::Instant::now();
    let options = generator::Options {
        benefits: app
            .engine
            .tenants()
            .get(&env.tenant)
            .map(|t| t.benefits.keys().map(|b| b.to_string()).collect())
            .unwrap_or_default(),
        ..generator::Options::new(seed, claimants, claims)
    };
    let plan = generator::plan_with(&options);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} seeding [{bar:40}] {pos}/{len} claimants, submissions and letters ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = generator::load(app, &env.tenant, &plan, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    eprintln!(
        "seed {seed}: {} claimants ({} new), {} cases, {} submissions ({} new cases, {} duplicates, {} already filed, {} refused), {} batches ({} attached, {} unidentified, {} rejected) in {:.1} s",
        report.claimants,
        report.claimants_registered,
        report.cases,
        report.submissions,
        report.created,
        report.attached_as_duplicate,
        report.replayed,
        report.refused.values().sum::<usize>(),
        report.batches,
        report.documents_attached,
        report.documents_unidentified,
        report.documents_rejected,
        started.elapsed().as_secs_f64()
    );
    println!("{}", json!(report));
    Ok(())
}
