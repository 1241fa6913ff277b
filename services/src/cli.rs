//! `omnicase` subcommands.

use crate::config::{ConfigError, Settings};
use crate::submission::{NewClaimSubmission, SubmissionError};
use clap::{Parser, Subcommand};
use domain::{ActorId, CaseId, Channel, TenantId};
use engine::{ClaimSubmission, Engine, EngineError, Envelope};
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
    /// Create or upgrade the database schema.
    Migrate,
    /// Recompute every stream's hash chain; exit 1 if anything was altered.
    Verify,
    /// File the claim in a submission document (registers the claimant if new).
    Submit { file: PathBuf },
    /// Print a case as the log knows it.
    Show { case_id: uuid::Uuid },
    /// Migrate, file every submission in a folder, and show the cases.
    Demo {
        #[arg(default_value = "fixtures/claims")]
        dir: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{path}: {source}")]
    Submission {
        path: String,
        #[source]
        source: SubmissionError,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Input(#[from] domain::ParseError),
    #[error("case {0} not found")]
    NotFound(CaseId),
}

impl CliError {
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Config(_) => "BAD_CONFIGURATION",
            CliError::Store(e) => e.code(),
            CliError::Engine(e) => e.code(),
            CliError::Submission { source, .. } => source.code(),
            CliError::Io(_) => "IO_ERROR",
            CliError::Input(_) => domain::ParseError::CODE,
            CliError::NotFound(_) => "CLAIM_NOT_FOUND",
        }
    }
}

/// Makes sure the folder of a SQLite file exists.
fn prepare_sqlite_dir(url: &str) -> Result<(), std::io::Error> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(())
}

impl Cli {
    pub async fn run(self) -> Result<ExitCode, CliError> {
        let settings = Settings::load(self.config.as_deref(), self.database_url.as_deref())?;
        prepare_sqlite_dir(&settings.database_url)?;
        let log = store::connect(&settings.database_url).await?;
        let engine = Engine::new(log.clone(), settings.tenants()?);
        let env = Envelope::new(TenantId::parse(&self.tenant)?, ActorId::parse(&self.actor)?);
        match self.command {
            Command::Migrate => {
                log.migrate().await?;
                eprintln!("schema is up to date");
            }
            Command::Verify => return verify(log.as_ref()).await,
            Command::Submit { file } => {
                log.migrate().await?;
                let result = submit(&engine, &env, &file).await?;
                println!("{result}");
            }
            Command::Show { case_id } => {
                println!(
                    "{:#}",
                    show(&engine, &env, CaseId::from_uuid(case_id)).await?
                );
            }
            Command::Demo { dir } => {
                log.migrate().await?;
                let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                files.sort();
                let mut cases = Vec::new();
                for file in &files {
                    let result = submit(&engine, &env, file).await?;
                    eprintln!("{}: {result}", file.display());
                    if let Some(id) = result["caseId"].as_str().and_then(|s| s.parse().ok()) {
                        if !cases.contains(&id) {
                            cases.push(id);
                        }
                    }
                }
                for id in cases {
                    println!("{:#}", show(&engine, &env, CaseId::from_uuid(id)).await?);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
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

async fn submit(
    engine: &Engine,
    env: &Envelope,
    file: &Path,
) -> Result<serde_json::Value, CliError> {
    let bytes = std::fs::read(file)?;
    let s = NewClaimSubmission::parse(&bytes).map_err(|source| CliError::Submission {
        path: file.display().to_string(),
        source,
    })?;
    let env = Envelope {
        channel: Some(s.channel.clone()),
        ..env.clone()
    };
    let claimant = match engine
        .find_claimant(&env.tenant, &s.claimant.file_number)
        .await?
    {
        Some(id) => id,
        None => match engine.register_claimant(&env, s.claimant.clone()).await {
            Ok(r) => domain::ClaimantId::from_uuid(r.stream_id),
            Err(EngineError::ClaimantAlreadyRegistered { existing }) => existing,
            Err(e) => return Err(e.into()),
        },
    };
    let result = engine
        .submit_claim(
            &env,
            ClaimSubmission {
                claimant,
                benefit: s.benefit,
                contentions: s.contentions,
                channel: s.channel,
                external_id: s.external_id,
                received_at: s.received_at,
                submitted_by: s.submitted_by,
            },
        )
        .await?;
    Ok(json!({
        "caseId": result.stream_id,
        "version": result.version,
        "outcome": result.outcome,
        "replayed": result.replayed,
    }))
}

fn channel(c: &Channel) -> &str {
    c.code()
}

async fn show(engine: &Engine, env: &Envelope, id: CaseId) -> Result<serde_json::Value, CliError> {
    let (case, version) = engine.load_case(&env.tenant, id).await?;
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
            "channel": channel(&e.channel),
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
