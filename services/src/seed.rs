//! Filing submission documents from files (demo data, `omnicase submit` /
//! `seed`): each goes through `Intake::file` as the operator, the same
//! path as every channel's submissions.

use intake::{Caller, Filed, Intake, IntakeError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: {source}")]
    Submission {
        path: String,
        #[source]
        source: IntakeError,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl SeedError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            SeedError::Submission { source, .. } => source.code,
            SeedError::Io(_) => domain::ErrorCode::IoError,
        }
    }
}

/// Files one submission document (`schemas/channel-submission.v1.json`)
/// as `caller` (idempotent by channel + external id).
pub async fn file_submission(
    intake: &Intake,
    caller: &Caller,
    file: &Path,
) -> Result<Filed, SeedError> {
    let bytes = std::fs::read(file)?;
    intake
        .submit(caller, &bytes)
        .await
        .map_err(|source| SeedError::Submission {
            path: file.display().to_string(),
            source,
        })
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
