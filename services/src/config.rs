//! Typed settings: built-in defaults, then a TOML file, then `OMNICASE_*`
//! environment variables (and `DATABASE_URL`).

use domain::{BenefitType, Phase, TenantId};
use engine::{BenefitConfig, TenantConfig, Tenants};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const DEFAULTS: &str = include_str!("default.toml");

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    pub database_url: String,
    #[serde(default)]
    pub tenants: BTreeMap<String, RawTenant>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawTenant {
    #[serde(default)]
    pub benefits: BTreeMap<String, RawBenefit>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawBenefit {
    /// Phase code → [min days, max days] to completion.
    #[serde(default)]
    pub estimate_days: BTreeMap<String, [u32; 2]>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: tenant {0:?} is not a lowercase slug")]
    Tenant(String),
    #[error("configuration: benefit type {0:?} is not an upper-case code")]
    Benefit(String),
    #[error("configuration: unknown phase {0:?}")]
    Phase(String),
}

impl Settings {
    /// Defaults < file (if given) < environment.
    pub fn load(file: Option<&Path>, database_url: Option<&str>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("OMNICASE_").only(&["database_url"]));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        if let Some(url) = database_url {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))
    }

    pub fn tenants(&self) -> Result<Tenants, ConfigError> {
        let mut tenants = HashMap::new();
        for (name, raw) in &self.tenants {
            let id = TenantId::parse(name).map_err(|_| ConfigError::Tenant(name.clone()))?;
            let mut config = TenantConfig::default();
            for (code, benefit) in &raw.benefits {
                let benefit_type =
                    BenefitType::parse(code).map_err(|_| ConfigError::Benefit(code.clone()))?;
                let mut b = BenefitConfig::default();
                for (phase, [min, max]) in &benefit.estimate_days {
                    let phase =
                        Phase::from_code(phase).ok_or_else(|| ConfigError::Phase(phase.clone()))?;
                    b.estimate_days.insert(phase, (*min, *max));
                }
                config.benefits.insert(benefit_type, b);
            }
            tenants.insert(id, config);
        }
        Ok(Tenants::new(tenants))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_configure_a_demo_tenant() {
        let settings = Settings::load(None, Some("sqlite://x.db"));
        let tenants = settings
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|s| s.tenants().map_err(|e| e.to_string()));
        let demo = TenantId::parse("demo").map_err(|e| e.to_string());
        let (Ok(tenants), Ok(demo)) = (tenants, demo) else {
            panic!("default configuration must load");
        };
        let config = tenants.get(&demo);
        assert!(config.is_some_and(|c| c.benefits.len() == 3));
    }
}
