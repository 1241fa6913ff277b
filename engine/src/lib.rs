//! The command side: load → decide → append, with idempotency, race-free
//! cross-channel dedup, bounded retry on version conflicts, and tenant
//! configuration (benefit types, processing-time estimates).
//!
//! Transports (GraphQL, CLI, Kafka intake) build an [`Envelope`] from the
//! authenticated principal and call [`Engine`]; nothing here knows about
//! HTTP or Kafka.

mod cache;
mod envelope;
mod error;
pub mod fingerprint;
mod keys;
mod pipeline;
mod retry;
mod tenants;

pub use envelope::{ClaimSubmission, CommandResult, Envelope, Outcome};
pub use error::EngineError;
pub use fingerprint::Fingerprint;
pub use pipeline::Engine;
pub use tenants::{BenefitConfig, LateEvidenceRule, TenantConfig, Tenants};
