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
mod group;
mod hash;
mod log;
mod pg;
mod sqlite;

pub use hash::{event_hash, GENESIS_HASH};
pub use log::*;
pub use pg::PgLog;
pub use sqlite::SqliteLog;

use std::sync::Arc;

/// An opened database: the event log, and the pool read models share
/// with it (so a projection commits with its checkpoint in one
/// transaction next to the events).
#[derive(Clone, Debug)]
pub enum Database {
    Postgres(PgLog),
    Sqlite(SqliteLog),
}

impl Database {
    /// Opens the database named by a URL: `postgres://…` or `sqlite:…`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(PgLog::connect(url).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Database::Sqlite(SqliteLog::connect(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub fn log(&self) -> Arc<dyn EventLog> {
        match self {
            Database::Postgres(pg) => Arc::new(pg.clone()),
            Database::Sqlite(lite) => Arc::new(lite.clone()),
        }
    }
}

/// Opens the log named by a database URL: `postgres://…` or `sqlite:…`.
pub async fn connect(url: &str) -> Result<Arc<dyn EventLog>, StoreError> {
    Ok(Database::connect(url).await?.log())
}
