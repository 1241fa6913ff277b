//! The command side: load → decide → append, with idempotency, race-free
//! cross-channel dedup, bounded retry on version conflicts, and tenant
//! configuration (benefit types, processing-time estimates).
//!
//! Transports (GraphQL, CLI, Kafka intake) build an [`Envelope`] from the
//! authenticated principal and call [`Engine`]; nothing here knows about
//! HTTP or Kafka.

mod error;
pub mod fingerprint;
mod pipeline;
mod tenants;

pub use error::EngineError;
pub use fingerprint::Fingerprint;
pub use pipeline::{ClaimSubmission, CommandResult, Engine, Envelope, Outcome};
pub use tenants::{BenefitConfig, LateEvidenceRule, TenantConfig, Tenants};
