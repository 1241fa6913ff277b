//! Persistence of the domain: the append-only event log (PostgreSQL for
//! production, SQLite for the embedded default) behind one trait, and the
//! stored, versioned form of domain events ([`codec`]).
//!
//! The log keeps, in the same transaction as every append: the per-stream
//! head (optimistic concurrency and the hash chain), the idempotency record
//! of the command, and unique keys (the open-claim index that makes
//! cross-channel dedup race-free, the file-number index). Everything is
//! scoped by tenant.

pub mod codec;
mod hash;
mod log;
mod pg;
mod sqlite;

pub use hash::{event_hash, GENESIS_HASH};
pub use log::*;
pub use pg::PgLog;
pub use sqlite::SqliteLog;

use std::sync::Arc;

/// Opens the log named by a database URL: `postgres://…` or `sqlite://…`.
pub async fn connect(url: &str) -> Result<Arc<dyn EventLog>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgLog::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteLog::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
