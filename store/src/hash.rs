//! The per-stream hash chain. Each event stores the hash of its predecessor
//! in the stream and its own; `verify` recomputes the chain, so a modified,
//! inserted or deleted event is detected.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of a stream's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Fields are length-prefixed so no two different events hash alike by
/// shifting bytes between fields.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    prev: &[u8],
    tenant: &str,
    stream_id: Uuid,
    version: i64,
    event_id: Uuid,
    event_type: &str,
    schema_version: i32,
    payload: &str,
    metadata: &str,
    recorded_at: DateTime<Utc>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev);
    field(tenant.as_bytes());
    field(stream_id.as_bytes());
    field(&version.to_be_bytes());
    field(event_id.as_bytes());
    field(event_type.as_bytes());
    field(&schema_version.to_be_bytes());
    field(payload.as_bytes());
    field(metadata.as_bytes());
    field(
        recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .as_bytes(),
    );
    h.finalize().into()
}
