//! Documents the live projector wrote, kept in memory for its next batch.
//!
//! Folding a batch used to read every touched stream's document back from
//! its row and parse it, only to serialise it again a moment later: on long
//! cases that read and parse was most of a batch's work. The projector now
//! keeps what it wrote; the next batch asks the row for its version and gets
//! the document only when the row moved past the kept one (another
//! instance, a Kafka consumer, a rebuild's catch-up wrote it). A document is
//! a pure function of its stream's events up to its version, so the kept
//! copy of the row's version IS the row's document.

use crate::view::{CaseView, ClaimantView};
use quick_cache::{sync::Cache, Weighter};
use uuid::Uuid;

/// Kept per document kind, in units of about one list entry of a document
/// (a timeline line, a contact, a request: a few hundred bytes in memory).
const WEIGHT_CAPACITY: u64 = 32_768;
/// Documents expected to be kept (sizes the cache's tables).
const ESTIMATED_DOCUMENTS: usize = 2_048;

/// How much of the cache's budget a document takes.
pub(crate) trait Weigh {
    fn weight(&self) -> u64;
}

impl Weigh for CaseView {
    fn weight(&self) -> u64 {
        1 + (self.phase_history.len()
            + self.contentions.len()
            + self.requests.len()
            + self.documents.len()
            + self.entries.len()
            + self.contacts.len()
            + self.appeals.len()
            + self.timeline.len()) as u64
    }
}

impl Weigh for ClaimantView {
    fn weight(&self) -> u64 {
        1 + (self.address_lines.len() + self.safety_flags.len() + self.accessibility_needs.len())
            as u64
    }
}

#[derive(Clone)]
struct ByWeight;

impl<K, V: Weigh> Weighter<K, V> for ByWeight {
    fn weight(&self, _key: &K, view: &V) -> u64 {
        view.weight()
    }
}

/// (generation, tenant, stream)
type Key = (i64, String, Uuid);

/// One kind's kept documents.
pub(crate) struct Held<V: Clone + Weigh> {
    docs: Cache<Key, V, ByWeight>,
}

impl<V: Clone + Weigh> Default for Held<V> {
    fn default() -> Self {
        Self {
            docs: Cache::with_weighter(ESTIMATED_DOCUMENTS, WEIGHT_CAPACITY, ByWeight),
        }
    }
}

impl<V: Clone + Weigh> Held<V> {
    /// Takes the kept document of a stream out (the caller checks it against
    /// the row's version and keeps what it writes next).
    pub(crate) fn take(&self, generation: i64, tenant: &str, stream_id: Uuid) -> Option<V> {
        self.docs
            .remove(&(generation, tenant.to_owned(), stream_id))
            .map(|(_, view)| view)
    }

    /// Keeps a document just committed.
    pub(crate) fn keep(&self, generation: i64, tenant: &str, stream_id: Uuid, view: V) {
        self.docs
            .insert((generation, tenant.to_owned(), stream_id), view);
    }
}

/// The kept documents of both kinds.
#[derive(Default)]
pub(crate) struct HeldDocs {
    pub(crate) cases: Held<CaseView>,
    pub(crate) claimants: Held<ClaimantView>,
}

impl std::fmt::Debug for HeldDocs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldDocs")
            .field("cases", &self.cases.docs.len())
            .field("claimants", &self.claimants.docs.len())
            .finish()
    }
}
