//! The pure omnicase domain.
//!
//! Two aggregates, each a *decider*: a synchronous
//! `decide(state, command, ctx) -> Result<Vec<Event>, DomainError>` and an
//! `evolve(state, &event) -> state` fold. Nothing here does I/O, reads a
//! clock or generates ids: look-ups happen before `decide`, and their results
//! (ids, estimates, the current time) arrive in the command or the
//! [`Ctx`]. Events have no serde: the stored, versioned form lives in the
//! `store` crate.

pub mod case;
pub mod channel;
pub mod claimant;
pub mod code;
mod coded;
pub mod error;
pub mod ids;
pub mod status;
pub mod text;

pub use case::{Case, CaseCommand, CaseEvent, CaseFile};
pub use channel::{Channel, ChannelName, Submitter};
pub use claimant::{Claimant, ClaimantCommand, ClaimantEvent, ClaimantPii, ClaimantRecord};
pub use code::ErrorCode;
pub use error::{Detail, DomainError, ParseError};
pub use ids::*;
pub use status::{CitizenStatus, Phase};
pub use text::Text;

use chrono::{DateTime, Utc};

/// What `decide` may know about the world besides the state and the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctx {
    /// When the command is being decided; becomes `recordedAt` of entries.
    pub now: DateTime<Utc>,
    /// Who issues the command (staff id, citizen subject, integrator, system).
    pub actor: ActorId,
}
