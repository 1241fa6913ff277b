//! Per-tenant configuration: which benefit types an agency handles and how
//! long each phase is expected to take.

use chrono::{DateTime, Days, Utc};
use domain::case::Estimate;
use domain::{BenefitType, Phase, TenantId};
use std::collections::{BTreeMap, HashMap};

/// Days from entering a phase to the claim's expected completion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenefitConfig {
    pub estimate_days: BTreeMap<Phase, (u32, u32)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantConfig {
    pub benefits: BTreeMap<BenefitType, BenefitConfig>,
    /// Whether a citizen's data-access log names the staff member who read
    /// (by default it says only the office and the role).
    pub access_log_names_staff: bool,
    /// What evidence arriving after evidence gathering does.
    pub late_evidence: LateEvidenceRule,
}

/// The agency's rule for evidence that arrives after evidence gathering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LateEvidenceRule {
    /// Back to `GATHERING_OF_EVIDENCE`, estimate recomputed (the default).
    #[default]
    PhaseBack,
    /// The phase stays; the assigned caseworker gets a work item.
    WorkItem,
}

/// All tenants this deployment serves.
#[derive(Clone, Debug, Default)]
pub struct Tenants(HashMap<TenantId, TenantConfig>);

impl Tenants {
    pub fn new(tenants: HashMap<TenantId, TenantConfig>) -> Self {
        Self(tenants)
    }

    pub fn get(&self, tenant: &TenantId) -> Option<&TenantConfig> {
        self.0.get(tenant)
    }

    pub fn ids(&self) -> impl Iterator<Item = &TenantId> {
        self.0.keys()
    }
}

impl TenantConfig {
    /// The estimated completion range for a claim of `benefit` entering
    /// `phase` at `now`; `None` when the tenant configured no estimate.
    pub fn estimate(
        &self,
        benefit: &BenefitType,
        phase: Phase,
        now: DateTime<Utc>,
    ) -> Option<Estimate> {
        let (min, max) = *self.benefits.get(benefit)?.estimate_days.get(&phase)?;
        let today = now.date_naive();
        Some(Estimate {
            earliest: today.checked_add_days(Days::new(u64::from(min)))?,
            latest: today.checked_add_days(Days::new(u64::from(max.max(min))))?,
        })
    }
}
