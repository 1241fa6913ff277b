//! The access rules, the same on every transport: who may see or act on
//! which case and claimant, which channel and envelope a principal's
//! commands carry, and the audit record of each staff read and refusal.

use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::App;
use chrono::Utc;
use domain::{Channel, TenantId};
use engine::Envelope;
use projections::view::{CaseView, ClaimantView};
use projections::AuditRecord;
use std::time::Duration;
use uuid::Uuid;

/// `Forbidden` unless the principal has one of `roles`.
pub fn require(p: &Principal, roles: &[Role]) -> Result<()> {
    if roles.iter().any(|r| p.has(*r)) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The staff roles (everyone who works cases or takes calls).
pub const STAFF: &[Role] = &[
    Role::Agent,
    Role::Caseworker,
    Role::Approver,
    Role::Supervisor,
];

/// Who may read or act on a case: its claimant (a citizen, their own) and
/// staff.
pub const OWNER_OR_STAFF: &[Role] = &[
    Role::Citizen,
    Role::Agent,
    Role::Caseworker,
    Role::Approver,
    Role::Supervisor,
];

/// The principal's roles as the audit log records them (`AGENT,CASEWORKER`).
pub fn roles_text(p: &Principal) -> String {
    p.roles
        .iter()
        .map(|r| r.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// The channel a principal's commands come through.
pub fn channel_of(p: &Principal, requested: Option<&str>) -> Result<Channel> {
    if !p.is_staff() && p.has(Role::Integrator) {
        let code = requested
            .ok_or_else(|| Error::BadInput("channel is required for integrators".into()))?;
        return Ok(Channel::parse(code)?);
    }
    if !p.is_staff() {
        return Ok(Channel::Web);
    }
    match requested {
        Some(code) => Ok(Channel::parse(code)?),
        None if p.has(Role::Agent) => Ok(Channel::CallCenter),
        None => Ok(Channel::InPerson),
    }
}

/// The envelope of a principal's command: its tenant and subject, the
/// channel, and the client's idempotency key scoped to the subject.
pub fn envelope(p: &Principal, channel: Channel, key: &str) -> Result<Envelope> {
    let key = domain::ClientKey::parse(key)?;
    Ok(Envelope::new(p.tenant.clone(), p.subject.clone())
        .channel(channel)
        .idempotency_key(format!("{}:{key}", p.subject)))
}

impl App {
    /// The intake caller a principal is.
    pub fn caller(p: &Principal) -> intake::Caller {
        intake::Caller {
            tenant: p.tenant.clone(),
            actor: p.subject.clone(),
            kind: if p.is_staff() {
                intake::CallerKind::Staff
            } else if let (true, Some(c)) = (p.has(Role::Citizen), p.claimant) {
                intake::CallerKind::Citizen(c)
            } else {
                intake::CallerKind::Integrator
            },
            sensitive: p.sensitive,
            office: p.office.clone(),
        }
    }

    /// Records that `p` read each of `subjects` (one statement), before
    /// the answer leaves: a page of a work queue, of unidentified mail.
    pub async fn audit_reads(
        &self,
        p: &Principal,
        action: &str,
        subject_type: &str,
        subjects: impl IntoIterator<Item = String>,
    ) -> Result<()> {
        let at = Utc::now();
        let records: Vec<AuditRecord> = subjects
            .into_iter()
            .map(|subject_id| AuditRecord {
                id: Uuid::now_v7(),
                tenant: p.tenant.to_string(),
                at,
                actor: p.subject.to_string(),
                roles: roles_text(p),
                action: action.into(),
                subject_type: subject_type.into(),
                subject_id,
                purpose: String::new(),
                outcome: "ALLOWED".into(),
                office: p.office.clone(),
            })
            .collect();
        if !records.is_empty() {
            self.read.record_audits(&records).await?;
        }
        Ok(())
    }

    pub async fn audit(
        &self,
        p: &Principal,
        action: &str,
        subject_type: &str,
        subject_id: &str,
        purpose: &str,
        outcome: &str,
    ) -> Result<()> {
        self.read
            .record_audit(&AuditRecord {
                id: Uuid::now_v7(),
                tenant: p.tenant.to_string(),
                at: Utc::now(),
                actor: p.subject.to_string(),
                roles: roles_text(p),
                action: action.into(),
                subject_type: subject_type.into(),
                subject_id: subject_id.into(),
                purpose: purpose.into(),
                outcome: outcome.into(),
                office: p.office.clone(),
            })
            .await?;
        Ok(())
    }

    /// The look-up limit for people (by file number or identity): a
    /// refusal is audited and coded `RATE_LIMITED`, with the wait.
    pub async fn admit_lookup(&self, p: &Principal, action: &str, purpose: &str) -> Result<()> {
        let Err(wait) = self.rates.check_lookup(p) else {
            return Ok(());
        };
        self.audit(p, action, "CLAIMANT", "", purpose, "RATE_LIMITED")
            .await?;
        Err(Error::RateLimited {
            retry_after_secs: crate::rate::retry_after_secs(wait),
        })
    }

    /// A case the principal may see, or `NOT_FOUND` shaped exactly like a
    /// missing id. Refusals are audited.
    pub async fn visible_case(
        &self,
        p: &Principal,
        case_id: Uuid,
        action: &str,
    ) -> Result<CaseView> {
        let Some(view) = self.read.case(&p.tenant, case_id).await? else {
            self.audit(p, action, "CASE", &case_id.to_string(), "", "NOT_FOUND")
                .await?;
            return Err(Error::NotFound);
        };
        if !self.may_see_claimant(p, view.claimant_id).await? {
            self.audit(p, action, "CASE", &case_id.to_string(), "", "DENIED")
                .await?;
            return Err(self.refusal(p, view.claimant_id).await?);
        }
        self.require_verified(p, view.claimant_id, action, "CASE", &case_id.to_string())
            .await?;
        if p.is_staff() {
            // Staff reads of a case are recorded before the answer leaves;
            // a read that cannot be recorded is not answered.
            self.audit(p, action, "CASE", &case_id.to_string(), "", "ALLOWED")
                .await?;
        }
        Ok(view)
    }

    /// Citizens see only themselves; staff need `SENSITIVE` for restricted
    /// records; integrators read nothing.
    pub async fn may_see_claimant(&self, p: &Principal, claimant: Uuid) -> Result<bool> {
        if !p.is_staff() {
            return Ok(p.has(Role::Citizen) && p.claimant.map(|c| c.as_uuid()) == Some(claimant));
        }
        // The write side is authoritative: a restriction applies the moment
        // it is recorded, not when the read model catches up.
        let (state, _) = self
            .engine
            .load_claimant(&p.tenant, domain::ClaimantId::from_uuid(claimant))
            .await?;
        let Some(record) = state.record() else {
            return Ok(false);
        };
        let Some(restriction) = &record.restriction else {
            return Ok(true);
        };
        // A restricted agency employee is never handled by their own office.
        let colleague = restriction
            .office()
            .is_some_and(|o| p.office.as_deref() == Some(o.as_str()));
        Ok(p.sensitive && !colleague)
    }

    /// How a refused read or command on a claimant's record is answered:
    /// staff learn that the record exists and is restricted
    /// (`RESTRICTED_RECORD`, no data); anyone else gets `NOT_FOUND`,
    /// shaped like a missing id.
    pub async fn refusal(&self, p: &Principal, claimant: Uuid) -> Result<Error> {
        if !p.is_staff() {
            return Ok(Error::NotFound);
        }
        let (state, _) = self
            .engine
            .load_claimant(&p.tenant, domain::ClaimantId::from_uuid(claimant))
            .await?;
        Ok(match state.record() {
            Some(record) if record.restriction.is_some() => Error::Restricted,
            _ => Error::NotFound,
        })
    }

    /// One rule for call-center agents on every path: until an agent
    /// (without a casework role) records the caller's identity
    /// verification, they see the masked identity and the flags
    /// (`caseContext`) and nothing of the person's claims; reading a claim
    /// or its timeline, subscribing to it, acting on it or filing a claim
    /// for the person is refused `IDENTITY_NOT_VERIFIED` (audited as
    /// `UNVERIFIED`).
    pub async fn require_verified(
        &self,
        p: &Principal,
        claimant: Uuid,
        action: &str,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<()> {
        let casework = p.has(Role::Caseworker) || p.has(Role::Approver) || p.has(Role::Supervisor);
        if !p.has(Role::Agent) || casework {
            return Ok(());
        }
        if self
            .read
            .is_verified(&p.tenant, p.subject.as_str(), claimant, Utc::now())
            .await?
        {
            return Ok(());
        }
        self.audit(p, action, subject_type, subject_id, "", "UNVERIFIED")
            .await?;
        Err(Error::Refused {
            code: domain::ErrorCode::IdentityNotVerified,
            message: "verify the caller's identity first (recordIdentityVerification)".into(),
        })
    }

    /// Write-side check before a command on a case: the case exists for
    /// this tenant and the principal may act on it. Read from the log, so a
    /// case created a moment ago is found even before it is projected.
    pub async fn actionable_case(&self, p: &Principal, case_id: Uuid) -> Result<domain::CaseFile> {
        let (case, _) = self
            .engine
            .load_case(&p.tenant, domain::CaseId::from_uuid(case_id))
            .await?;
        let Some(file) = case.file() else {
            return Err(Error::NotFound);
        };
        if !self.may_see_claimant(p, file.claimant.as_uuid()).await? {
            self.audit(p, "COMMAND", "CASE", &case_id.to_string(), "", "DENIED")
                .await?;
            return Err(self.refusal(p, file.claimant.as_uuid()).await?);
        }
        self.require_verified(
            p,
            file.claimant.as_uuid(),
            "COMMAND",
            "CASE",
            &case_id.to_string(),
        )
        .await?;
        Ok(file.clone())
    }

    /// Waits (bounded) until the read model reflects `version` of the case.
    pub async fn await_case(
        &self,
        tenant: &TenantId,
        case_id: Uuid,
        version: u64,
    ) -> Result<Option<CaseView>> {
        self.projector.wake();
        let deadline = tokio::time::Instant::now() + self.read_your_writes;
        let mut pause = Duration::from_millis(2);
        loop {
            if self
                .read
                .case_version(tenant, case_id)
                .await?
                .is_some_and(|v| v >= version)
            {
                return Ok(self.read.case(tenant, case_id).await?);
            }
            if tokio::time::Instant::now() >= deadline {
                // Acknowledged and durable; the read model is just behind.
                return Ok(self.read.case(tenant, case_id).await?);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Whether identity values may be shown in full to this principal for
    /// this claimant: caseworkers, approvers and supervisors by role;
    /// call-center agents after recording identity verification.
    pub async fn full_identity(&self, p: &Principal, claimant: &ClaimantView) -> Result<bool> {
        if p.has(Role::Caseworker) || p.has(Role::Approver) || p.has(Role::Supervisor) {
            return Ok(true);
        }
        if p.has(Role::Agent) {
            return Ok(self
                .read
                .is_verified(
                    &p.tenant,
                    p.subject.as_str(),
                    claimant.claimant_id,
                    Utc::now(),
                )
                .await?);
        }
        Ok(false)
    }
}
