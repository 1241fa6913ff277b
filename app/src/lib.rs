//! The application every transport shares: GraphQL, the HTTP intake, the
//! Kafka intake and the outbound channels all reach the engine and the
//! read models through one [`App`], and decide who may do what with the
//! same rules.
//!
//! - [`auth`]: bearer tokens to a [`Principal`] (tenant, subject, roles);
//! - [`rules`]: what a principal may see and do, and the audit of it;
//! - [`rate`]: request rates per principal, per address, per look-up;
//! - [`Error`]: the coded refusals, rendered by each transport.

pub mod auth;
mod error;
pub mod rate;
pub mod rules;

pub use auth::{AuthError, Authenticated, Authenticator, Principal, Role};
pub use error::{Error, Result};
pub use rules::{channel_of, envelope, require, roles_text, OWNER_OR_STAFF, STAFF};

use engine::Engine;
use projections::{Projector, ReadDb};
use std::sync::Arc;
use std::time::Duration;

/// The one application state: what every transport holds.
pub struct App {
    pub engine: Arc<Engine>,
    pub read: ReadDb,
    pub projector: Arc<Projector>,
    pub intake: Arc<intake::Intake>,
    pub auth: Arc<Authenticator>,
    /// How long a command waits for its own change to reach the read model.
    pub read_your_writes: Duration,
    /// Request rates, and the tighter one for people look-ups.
    pub rates: Arc<rate::Rates>,
}
