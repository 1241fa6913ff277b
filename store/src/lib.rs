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

/// A file number as it is kept in indexes (the event log's unique key,
/// the read model's look-up column): its SHA-256, never the number itself.
pub fn file_number_digest(file_number: &domain::FileNumber) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(file_number.as_str().as_bytes()))
}

/// One SQL text serves both backends: written with PostgreSQL's `$n`
/// placeholders, rewritten to SQLite's `?n` here (the only place).
pub fn sqlite_sql(postgres: &str) -> String {
    postgres.replace('$', "?")
}
pub use log::{
    AppendBatch, AppendOutcome, EventLog, EventMetadata, FeedCursor, IdempotencyRecord, NewEvent,
    RecordedEvent, StoreError, StreamKind, StreamWrite, Tamper, TamperKind, UniqueKey,
    VerifyReport,
};
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
