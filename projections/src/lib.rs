//! Read models and the projector that keeps them.
//!
//! The projector follows the event log's global feed and folds events
//! into documents ([`view`]) stored next to the log, in the same database:
//! every batch commits its rows together with the projector's checkpoint,
//! and every row keeps the case version it reflects, so re-delivery,
//! restarts and concurrent projector instances are harmless.

mod copy;
mod db;
mod held;
mod projector;
mod records;
pub mod view;

pub use db::{
    file_number_hash, DocumentCursor, DocumentItem, DocumentQueue, DueCursor, DuePage, DueRequest,
    QueueFilter, QueueItem, ReadDb, ReadError,
};
pub use projector::{CaseChanged, Outcome, Projector};
pub use records::audit::AuditRecord;
pub use records::intake::{identity_match_key, same_postcode, IntakeDocument};
