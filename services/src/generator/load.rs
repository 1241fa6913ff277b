//! Files a [`Plan`] through the ordinary paths: the engine registers the
//! claimants, `Intake::submit` files the direct submissions as their
//! filers (the citizen for the portal, the clerk or agent otherwise) and
//! `Intake::ingest_batch` the mail, as the mailroom that scanned it.

use super::{Plan, SubmittedBy};
use crate::server::Instance;
use domain::{ActorId, Channel, ClaimantId, FileNumber, TenantId};
use engine::{EngineError, Envelope};
use intake::{Caller, CallerKind, Filed};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Read(#[from] projections::ReadError),
    #[error("{0}")]
    Intake(#[from] intake::IntakeError),
    #[error("{0}")]
    Input(#[from] domain::ParseError),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl LoadError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            LoadError::Engine(e) => e.code(),
            LoadError::Read(e) => e.code(),
            LoadError::Intake(e) => e.code,
            LoadError::Input(_) => domain::ParseError::CODE,
            LoadError::Json(_) => domain::ErrorCode::Internal,
        }
    }
}

/// What a load did. Counts of outcomes cover this run; `cases` and the
/// document counts describe where the plan's data is (the same on a re-run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    pub claimants: usize,
    /// … of which registered by this run (the rest were there already).
    pub claimants_registered: usize,
    /// Distinct cases the plan's submissions and letters are on.
    pub cases: usize,
    pub submissions: usize,
    /// Submissions that opened a case in this run.
    pub created: usize,
    /// Submissions that joined an open case in this run.
    pub attached_as_duplicate: usize,
    /// Submissions already filed before this run.
    pub replayed: usize,
    /// Submissions refused, by code (a generated plan has none).
    pub refused: BTreeMap<String, usize>,
    pub batches: usize,
    pub documents_attached: usize,
    pub documents_unidentified: usize,
    pub documents_rejected: usize,
}

fn caller(tenant: &TenantId, actor: ActorId, kind: CallerKind) -> Caller {
    Caller::new(tenant.clone(), actor, kind)
}

/// Store trouble aborts a load; anything else is a refusal to report.
fn fatal(e: &intake::IntakeError) -> bool {
    matches!(
        e.code,
        domain::ErrorCode::StoreUnavailable
            | domain::ErrorCode::Internal
            | domain::ErrorCode::UnknownTenant
    )
}

/// Files `plan` for `tenant`: registers the claimants, files the direct
/// submissions, brings the read models up to date (mail is matched through
/// them) and ingests the batches. `progress(done, total)` counts
/// claimants, submissions and mail documents.
pub async fn load(
    app: &Instance,
    tenant: &TenantId,
    plan: &Plan,
    mut progress: impl FnMut(usize, usize),
) -> Result<LoadReport, LoadError> {
    let settle = std::time::Duration::from_secs(60);
    let mail: usize = plan.batches.iter().map(|b| b.documents.len()).sum();
    let total = plan.claimants.len() + plan.submissions.len() + mail;
    let mut done = 0;
    let mut report = LoadReport {
        claimants: plan.claimants.len(),
        submissions: plan.submissions.len(),
        batches: plan.batches.len(),
        ..LoadReport::default()
    };
    let mut cases: HashSet<uuid::Uuid> = HashSet::new();

    // 1. Claimants, registered by the agency (their ids are the engine's).
    let registrar =
        Envelope::new(tenant.clone(), ActorId::parse("synthetic-data")?).channel(Channel::InPerson);
    let mut ids: HashMap<&str, ClaimantId> = HashMap::with_capacity(plan.claimants.len());
    for p in &plan.claimants {
        let pii = p.pii()?;
        let id = match app.engine.find_claimant(tenant, &pii.file_number).await? {
            Some(id) => id,
            None => match app.engine.register_claimant(&registrar, pii).await {
                Ok(r) => {
                    report.claimants_registered += 1;
                    ClaimantId::from_uuid(r.stream_id)
                }
                Err(EngineError::ClaimantAlreadyRegistered { existing }) => existing,
                Err(e) => return Err(e.into()),
            },
        };
        ids.insert(p.file_number.as_str(), id);
        done += 1;
        progress(done, total);
    }
    // Callers identified by name are matched through the read models.
    app.projector.settle(settle).await?;

    // 2. Portal, counter and phone submissions.
    for doc in &plan.submissions {
        let who = match &doc.submitted_by {
            // The portal: the citizen, for themself.
            SubmittedBy::Claimant => {
                let file_number = doc.claimant.file_number.as_deref().unwrap_or_default();
                let id = match ids.get(file_number) {
                    Some(id) => *id,
                    None => app
                        .engine
                        .find_claimant(tenant, &FileNumber::parse(file_number)?)
                        .await?
                        .ok_or_else(|| {
                            intake::IntakeError::new(
                                domain::ErrorCode::UnknownClaimant,
                                "not registered",
                            )
                        })?,
                };
                caller(
                    tenant,
                    ActorId::parse(&format!("citizen-{id}"))?,
                    CallerKind::Citizen(id),
                )
            }
            SubmittedBy::Staff { actor } => {
                caller(tenant, ActorId::parse(actor)?, CallerKind::Staff)
            }
        };
        match app.intake.submit(&who, &serde_json::to_vec(doc)?).await {
            Ok(Filed::Case {
                case_id,
                outcome,
                replayed,
                ..
            }) => {
                cases.insert(case_id);
                match (replayed, outcome) {
                    (true, _) => report.replayed += 1,
                    (false, engine::Outcome::Created) => report.created += 1,
                    (false, engine::Outcome::AttachedAsDuplicate) => {
                        report.attached_as_duplicate += 1
                    }
                    (false, _) => {}
                }
            }
            Ok(Filed::Unidentified { reason }) => {
                *report
                    .refused
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1
            }
            Err(e) if fatal(&e) => return Err(e.into()),
            Err(e) => {
                *report
                    .refused
                    .entry(e.code.as_str().to_owned())
                    .or_default() += 1
            }
        }
        done += 1;
        progress(done, total);
    }

    // 3. The mail, day by day; each batch sees the read models as they are
    // after the previous one.
    for batch in &plan.batches {
        app.projector.settle(settle).await?;
        let who = caller(tenant, ActorId::parse(batch.scanned_by)?, CallerKind::Staff);
        let base = done;
        let result = app
            .intake
            .ingest_batch(&who, &serde_json::to_vec(batch)?, |d, _| {
                progress(base + d, total)
            })
            .await?;
        done = base + result.documents.len();
        report.documents_attached += result.attached;
        report.documents_unidentified += result.unidentified;
        report.documents_rejected += result.rejected;
        cases.extend(result.documents.iter().filter_map(|d| d.case_id));
    }
    app.projector.settle(settle).await?;
    report.cases = cases.len();
    Ok(report)
}
