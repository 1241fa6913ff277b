//! Read models and the projector that keeps them.
//!
//! The projector follows the event log's global feed and folds events
//! into documents ([`view`]) stored next to the log, in the same database:
//! every batch commits its rows together with the projector's checkpoint,
//! and every row keeps the case version it reflects, so re-delivery,
//! restarts and concurrent projector instances are harmless.

mod audit_group;
mod copy;
mod db;
mod held;
mod intake_records;
mod projector;
pub mod view;

pub use db::{
    file_number_hash, AuditRecord, DocumentCursor, DocumentItem, DocumentQueue, DueCursor, DuePage,
    DueRequest, QueueFilter, QueueItem, ReadDb, ReadError,
};
pub use intake_records::{identity_match_key, same_postcode, IntakeDocument};
pub use projector::{CaseChanged, Outcome, Projector};
