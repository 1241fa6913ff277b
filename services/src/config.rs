//! Typed settings: built-in defaults, then a TOML file, then `OMNICASE_*`
//! environment variables (nested keys with `__`, e.g.
//! `OMNICASE_AUTH__HS256_SECRET`) and `DATABASE_URL`.

use app::auth::{AuthConfig, KeySource};
use domain::{BenefitType, Phase, TenantId};
use engine::{BenefitConfig, TenantConfig, Tenants};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

const DEFAULTS: &str = include_str!("default.toml");
pub const DEV_SECRET: &str = "omnicase-development-secret-do-not-use-in-production";

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    /// GraphiQL and first-start demo data.
    #[serde(default)]
    pub dev: bool,
    pub auth: AuthSettings,
    #[serde(default)]
    pub tenants: BTreeMap<String, RawTenant>,
    /// Optional: with no brokers everything runs in-process.
    #[serde(default)]
    pub kafka: KafkaSettings,
    /// Bounds on connections and requests (README, "Limits").
    #[serde(default)]
    pub server: ServerSettings,
    /// Who may introspect the schema outside development: `staff`
    /// (authenticated staff and integrators; the default), `everyone`,
    /// `nobody`.
    #[serde(default)]
    pub introspection: graphql::Introspection,
    /// Request rates (README, "Limits").
    #[serde(default)]
    pub rate_limits: RateLimitSettings,
}

/// Requests per minute (a quarter of it may come at once); 0 turns a
/// limit off. `OMNICASE_RATE_LIMITS__PER_MINUTE=…`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Requests without a valid token, per client address.
    pub anonymous_per_minute: u32,
    /// Requests per principal, unless its role or tenant says otherwise.
    pub per_minute: u32,
    /// Per role (`INTEGRATOR = 6000`).
    pub roles: BTreeMap<String, u32>,
    /// Per tenant and role (`[rate_limits.tenants.va-east] AGENT = 2400`).
    pub tenants: BTreeMap<String, BTreeMap<String, u32>>,
    /// `caseContextByFileNumber` and `caseContextByIdentity`, per agent.
    pub lookups_per_minute: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            anonymous_per_minute: 600,
            per_minute: 1_200,
            roles: [("INTEGRATOR".to_owned(), 12_000)].into_iter().collect(),
            tenants: BTreeMap::new(),
            lookups_per_minute: 30,
        }
    }
}

impl RateLimitSettings {
    pub fn config(&self) -> Result<app::rate::RateConfig, ConfigError> {
        let roles = |raw: &BTreeMap<String, u32>| {
            raw.iter()
                .map(|(code, n)| {
                    // Environment keys arrive lowercased.
                    app::auth::Role::parse(&code.to_ascii_uppercase())
                        .map(|r| (r, *n))
                        .ok_or_else(|| ConfigError::RateLimitRole(code.clone()))
                })
                .collect::<Result<HashMap<_, _>, _>>()
        };
        let mut tenants = HashMap::new();
        for (name, raw) in &self.tenants {
            let id = TenantId::parse(name).map_err(|_| ConfigError::Tenant(name.clone()))?;
            tenants.insert(id, roles(raw)?);
        }
        Ok(app::rate::RateConfig {
            anonymous_per_minute: self.anonymous_per_minute,
            per_minute: self.per_minute,
            roles: roles(&self.roles)?,
            tenants,
            lookups_per_minute: self.lookups_per_minute,
        })
    }
}

/// How long and how many: the bounds that keep one client from holding the
/// server (README, "Limits"; `OMNICASE_SERVER__MAX_CONNECTIONS`, …).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Open connections (WebSockets included) before new ones get only the
    /// health-check headroom; lowered to fit the open-file limit.
    pub max_connections: usize,
    /// A request head (also the next one on an idle keep-alive
    /// connection) must arrive within this.
    pub header_read_timeout_secs: u64,
    /// A request body may pause at most this long between chunks.
    pub body_timeout_secs: u64,
    /// A request is answered (408) or ended within this.
    pub request_timeout_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_connections: 8192,
            header_read_timeout_secs: 15,
            body_timeout_secs: 30,
            request_timeout_secs: 120,
        }
    }
}

impl ServerSettings {
    pub fn connection_limits(&self) -> crate::http::ConnectionLimits {
        crate::http::ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: std::time::Duration::from_secs(
                self.header_read_timeout_secs.max(1),
            ),
        }
    }
}

/// Kafka (DESIGN §7). `KAFKA_BROKERS` sets `brokers`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct KafkaSettings {
    /// `host:port,host:port`; empty or absent: no Kafka.
    #[serde(default)]
    pub brokers: Option<String>,
    /// Prepended to every topic and consumer-group name.
    #[serde(default)]
    pub topic_prefix: String,
    /// Relay the log to the case-events topic (default true).
    #[serde(default = "yes")]
    pub publish: bool,
    /// Where this instance's read models are fed from: `log` (default; the
    /// event log's feed) or `kafka` (the case-events topic through a
    /// consumer group shared by every instance).
    #[serde(default)]
    pub projection: ProjectionSource,
    /// Passed to librdkafka as is: `security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `ssl.ca.location`, timeouts, …
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
    /// Intake topics and the principal their messages act as.
    #[serde(default)]
    pub intake: Vec<RawIntakeBinding>,
}

fn yes() -> bool {
    true
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: None,
            topic_prefix: String::new(),
            publish: true,
            projection: ProjectionSource::Log,
            librdkafka: BTreeMap::new(),
            intake: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionSource {
    #[default]
    Log,
    Kafka,
}

/// One intake topic: `{prefix}omnicase.intake.<channel>.v1` unless `topic`
/// names another.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawIntakeBinding {
    pub tenant: String,
    /// MAIL_SCAN or a registered integrator channel (PARTNER_API).
    pub channel: String,
    /// The integrator principal the messages act as (a channel principal
    /// or mail scanner of the tenant).
    pub principal: String,
    #[serde(default)]
    pub topic: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    #[serde(default)]
    pub hs256_secret: Option<String>,
    #[serde(default)]
    pub rs256_public_pem_file: Option<PathBuf>,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_leeway() -> u64 {
    30
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawTenant {
    #[serde(default)]
    pub benefits: BTreeMap<String, RawBenefit>,
    /// Integrator channels, by channel name (`PARTNER_API`).
    #[serde(default)]
    pub channels: BTreeMap<String, RawChannel>,
    /// Accepted document types; empty: the built-in list.
    #[serde(default)]
    pub document_types: Vec<String>,
    /// Integrator principals (scanning systems) that may send MAIL_SCAN.
    #[serde(default)]
    pub mail_scanners: Vec<String>,
    /// Whether `myDataAccessLog` names the staff member who read a
    /// citizen's data (default: only their office and role).
    #[serde(default)]
    pub access_log_names_staff: bool,
    /// Evidence arriving after evidence gathering: `PHASE_BACK` (default:
    /// back to GATHERING_OF_EVIDENCE, estimate recomputed) or `WORK_ITEM`
    /// (the phase stays; the assigned caseworker's `LATE_EVIDENCE` queue).
    #[serde(default)]
    pub late_evidence: engine::LateEvidenceRule,
}

/// A channel registered by configuration: no code change needed.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawChannel {
    /// Submission kinds it may send (NEW_CLAIM, ADDITIONAL_EVIDENCE, …).
    pub kinds: Vec<String>,
    /// Principals (token subjects) allowed to submit through it.
    pub principals: Vec<String>,
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
    #[error("configuration: rate_limits names an unknown role {0:?}")]
    RateLimitRole(String),
    #[error("configuration: dev = false but auth uses the public development secret; set auth.hs256_secret, rs256_public_pem_file or jwks_file")]
    DevSecretInProduction,
    #[error("configuration: channel {0:?}: {1}")]
    Channel(String, &'static str),
    #[error(
        "configuration: auth needs exactly one of hs256_secret, rs256_public_pem_file, jwks_file"
    )]
    AuthKeys,
    #[error("configuration: kafka intake for {0:?}: {1}")]
    Intake(String, &'static str),
    #[error("configuration: {0}")]
    Kafka(&'static str),
    #[error("configuration: cannot read {0}: {1}")]
    File(PathBuf, std::io::Error),
}

impl Settings {
    /// Defaults < file (if given) < environment < explicit database URL.
    pub fn load(file: Option<&Path>, database_url: Option<&str>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(
            Env::prefixed("OMNICASE_")
                .split("__")
                .ignore(&["config", "tenant", "log"]),
        );
        if let Ok(brokers) = std::env::var("KAFKA_BROKERS") {
            figment = figment.merge(Serialized::default("kafka.brokers", brokers));
        }
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
            let mut config = TenantConfig {
                access_log_names_staff: raw.access_log_names_staff,
                late_evidence: raw.late_evidence,
                ..TenantConfig::default()
            };
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

    /// Registered integrator channels and document types per tenant.
    pub fn intake_registry(&self) -> Result<intake::Registry, ConfigError> {
        let mut registry = HashMap::new();
        for (name, raw) in &self.tenants {
            let id = TenantId::parse(name).map_err(|_| ConfigError::Tenant(name.clone()))?;
            let mut tenant = intake::TenantIntake::default();
            for (channel, rule) in &raw.channels {
                match domain::Channel::parse(channel) {
                    Ok(domain::Channel::Integrator(_)) => {}
                    Ok(_) => {
                        return Err(ConfigError::Channel(
                            channel.clone(),
                            "built-in channels cannot be redefined",
                        ))
                    }
                    Err(_) => {
                        return Err(ConfigError::Channel(
                            channel.clone(),
                            "name must be [A-Z][A-Z0-9_]+",
                        ))
                    }
                }
                let kinds = rule
                    .kinds
                    .iter()
                    .map(|k| {
                        intake::Kind::parse(k).ok_or(ConfigError::Channel(
                            channel.clone(),
                            "unknown submission kind",
                        ))
                    })
                    .collect::<Result<_, _>>()?;
                tenant.channels.insert(
                    channel.clone(),
                    intake::ChannelRule {
                        kinds,
                        principals: rule.principals.iter().cloned().collect(),
                    },
                );
            }
            tenant.document_types = raw.document_types.iter().cloned().collect();
            tenant.mail_scanners = raw.mail_scanners.iter().cloned().collect();
            registry.insert(id, tenant);
        }
        Ok(intake::Registry(registry))
    }

    pub fn auth(&self) -> Result<AuthConfig, ConfigError> {
        let a = &self.auth;
        let read =
            |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| ConfigError::File(p.clone(), e));
        let keys = match (&a.hs256_secret, &a.rs256_public_pem_file, &a.jwks_file) {
            (Some(secret), None, None) => KeySource::Hs256 {
                secret: secret.as_bytes().to_vec(),
            },
            (None, Some(pem), None) => KeySource::Rs256Pem {
                public_pem: read(pem)?,
            },
            (None, None, Some(jwks)) => KeySource::Jwks { json: read(jwks)? },
            // A configured RSA/JWKS key replaces the built-in dev secret.
            (Some(s), Some(pem), None) if s == DEV_SECRET => KeySource::Rs256Pem {
                public_pem: read(pem)?,
            },
            (Some(s), None, Some(jwks)) if s == DEV_SECRET => KeySource::Jwks { json: read(jwks)? },
            _ => return Err(ConfigError::AuthKeys),
        };
        Ok(AuthConfig {
            issuer: a.issuer.clone(),
            audience: a.audience.clone(),
            keys,
            leeway_secs: a.leeway_secs,
        })
    }

    /// The Kafka connection, when brokers are configured.
    pub fn kafka(&self) -> Option<bus::KafkaConfig> {
        let brokers = self.kafka.brokers.as_deref().map(str::trim)?;
        if brokers.is_empty() {
            return None;
        }
        Some(bus::KafkaConfig {
            brokers: brokers.to_owned(),
            topic_prefix: self.kafka.topic_prefix.clone(),
            extra: self.kafka.librdkafka.clone(),
        })
    }

    /// The intake topics, checked: known tenant, a channel that exists for
    /// it, one binding per topic.
    pub fn intake_bindings(&self) -> Result<Vec<bus::IntakeBinding>, ConfigError> {
        let mut bindings: Vec<bus::IntakeBinding> = Vec::new();
        for raw in &self.kafka.intake {
            let tenant = TenantId::parse(&raw.tenant)
                .map_err(|_| ConfigError::Tenant(raw.tenant.clone()))?;
            let Some(t) = self.tenants.get(&raw.tenant) else {
                return Err(ConfigError::Intake(raw.channel.clone(), "unknown tenant"));
            };
            match domain::Channel::parse(&raw.channel) {
                Ok(domain::Channel::MailScan) => {}
                Ok(domain::Channel::Integrator(_)) if t.channels.contains_key(&raw.channel) => {}
                _ => {
                    return Err(ConfigError::Intake(
                        raw.channel.clone(),
                        "channel must be MAIL_SCAN or a channel registered for the tenant",
                    ))
                }
            }
            let principal = domain::ActorId::parse(&raw.principal)
                .map_err(|_| ConfigError::Intake(raw.channel.clone(), "bad principal"))?;
            let topic = match &raw.topic {
                Some(t) => t.clone(),
                None => format!(
                    "{}{}",
                    self.kafka.topic_prefix,
                    bus::intake_topic(&raw.channel)
                ),
            };
            if bindings.iter().any(|b| b.topic == topic) {
                return Err(ConfigError::Intake(
                    raw.channel.clone(),
                    "two bindings share a topic; give one an explicit `topic`",
                ));
            }
            bindings.push(bus::IntakeBinding {
                topic,
                tenant,
                principal,
            });
        }
        Ok(bindings)
    }

    pub fn uses_dev_secret(&self) -> bool {
        self.auth.hs256_secret.as_deref() == Some(DEV_SECRET)
    }

    /// What `serve` requires before it exposes anything: outside
    /// development, not the public development secret (anyone could mint
    /// tokens with it).
    pub fn check_serving(&self) -> Result<(), ConfigError> {
        if !self.dev && self.uses_dev_secret() {
            return Err(ConfigError::DevSecretInProduction);
        }
        Ok(())
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
        assert!(tenants.get(&demo).is_some_and(|c| c.benefits.len() == 3));
        assert!(settings.is_ok_and(|s| s.uses_dev_secret() && s.auth().is_ok()));
    }

    #[test]
    fn rate_limit_roles_are_read_in_any_case_and_checked() {
        // As an environment variable names it (figment lowercases keys).
        let mut limits = RateLimitSettings {
            roles: [("integrator".to_owned(), 5)].into_iter().collect(),
            ..Default::default()
        };
        let config = limits.config();
        assert!(config.is_ok_and(|c| c.roles.get(&app::auth::Role::Integrator) == Some(&5)));
        limits.roles = [("NOBODY".to_owned(), 5)].into_iter().collect();
        assert!(matches!(limits.config(), Err(ConfigError::RateLimitRole(r)) if r == "NOBODY"));
    }

    #[test]
    fn kafka_is_off_without_brokers_and_bindings_are_checked() {
        let Ok(mut s) = Settings::load(None, Some("sqlite::memory:")) else {
            panic!("default configuration must load");
        };
        assert!(s.kafka.publish, "publishing is on once brokers are set");
        s.kafka.brokers = Some("  ".into());
        assert!(s.kafka().is_none(), "blank brokers: no Kafka");
        s.kafka.brokers = Some("k1:9092".into());
        s.kafka.topic_prefix = "prod.".into();
        assert!(s.kafka().is_some_and(|k| k.topic("x") == "prod.x"));

        let binding = |tenant: &str, channel: &str| RawIntakeBinding {
            tenant: tenant.into(),
            channel: channel.into(),
            principal: "scanner-1".into(),
            topic: None,
        };
        s.kafka.intake = vec![binding("demo", "MAIL_SCAN")];
        assert!(s
            .intake_bindings()
            .is_ok_and(|b| b[0].topic == "prod.omnicase.intake.mail_scan.v1"));
        for bad in [
            vec![binding("nobody", "MAIL_SCAN")],
            vec![binding("demo", "WEB")],
            vec![binding("demo", "UNREGISTERED_API")],
            vec![binding("demo", "MAIL_SCAN"), binding("demo", "MAIL_SCAN")],
        ] {
            s.kafka.intake = bad;
            assert!(matches!(s.intake_bindings(), Err(ConfigError::Intake(..))));
        }
    }
}
