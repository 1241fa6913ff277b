//! Records: the tables next to the read models that are NOT derived from
//! the event log and cannot be rebuilt from it (audit log, identity
//! verifications, intake outcomes and the unidentified-mail queue). A
//! rebuild replaces every `rm_*` table and never touches these.

pub(crate) mod audit;
pub(crate) mod audit_group;
pub(crate) mod identity;
pub(crate) mod intake;
