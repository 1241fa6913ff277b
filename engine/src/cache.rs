//! What the engine keeps between commands: states by stream, and the
//! per-stream queue.

use domain::TenantId;
use quick_cache::sync::Cache;
use std::sync::Arc;
use uuid::Uuid;

/// States by stream, shared: a command decides on the cached state without
/// copying it (long cases carry large states).
pub(crate) type StateCache<S> = Cache<(TenantId, Uuid), (Arc<S>, u64)>;

/// Commands on the same stream queue up inside one node instead of racing
/// (a lost race costs a reload and a retry); optimistic concurrency still
/// decides between nodes. Striped so memory stays bounded.
pub(crate) struct StreamLocks(Vec<tokio::sync::Mutex<()>>);

impl StreamLocks {
    const STRIPES: usize = 1024;

    pub(crate) fn new() -> Self {
        Self(
            (0..Self::STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        )
    }

    pub(crate) async fn lock(&self, key: impl std::hash::Hash) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        self.0[(hash % Self::STRIPES as u64) as usize].lock().await
    }
}
