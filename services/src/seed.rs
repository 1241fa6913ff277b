//! Filing submission documents (demo data, `omnicase submit` / `seed`).

use crate::submission::{NewClaimSubmission, SubmissionError};
use engine::{ClaimSubmission, CommandResult, Engine, EngineError, Envelope};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: {source}")]
    Submission {
        path: String,
        #[source]
        source: SubmissionError,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl SeedError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            SeedError::Submission { source, .. } => source.code(),
            SeedError::Engine(e) => e.code(),
            SeedError::Io(_) => domain::ErrorCode::IoError,
        }
    }
}

/// Files one submission document: registers the claimant if new, then
/// submits the claim (idempotent by channel + external id).
pub async fn file_submission(
    engine: &Engine,
    env: &Envelope,
    file: &Path,
) -> Result<CommandResult, SeedError> {
    let bytes = std::fs::read(file)?;
    let s = NewClaimSubmission::parse(&bytes).map_err(|source| SeedError::Submission {
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
    Ok(engine
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
        .await?)
}

/// The `*.json` submission documents of a folder, in name order.
pub fn submissions_in(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}
