//! Folding a batch of events into documents, stream by stream.

use crate::db::ReadError;
use crate::view::{CaseView, ClaimantView, EventInfo};
use std::collections::BTreeMap;
use store::codec;
use store::{RecordedEvent, StreamKind};
use uuid::Uuid;

/// Events of one stream within a batch.
pub(super) struct StreamBatch<'a> {
    pub(super) kind: StreamKind,
    pub(super) tenant: &'a str,
    pub(super) stream_id: Uuid,
    pub(super) events: Vec<&'a RecordedEvent>,
}

pub(super) fn group(events: &[RecordedEvent], kind: StreamKind) -> Vec<StreamBatch<'_>> {
    let mut map: BTreeMap<(&str, Uuid), Vec<&RecordedEvent>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == kind) {
        map.entry((e.tenant.as_str(), e.stream_id))
            .or_default()
            .push(e);
    }
    map.into_iter()
        .map(|((tenant, stream_id), mut events)| {
            events.sort_by_key(|e| e.version);
            StreamBatch {
                kind,
                tenant,
                stream_id,
                events,
            }
        })
        .collect()
}

pub(super) fn info(e: &RecordedEvent) -> EventInfo {
    EventInfo {
        version: e.version,
        recorded_at: e.recorded_at,
    }
}

/// Folds a stream's new events into its current document.
pub(super) fn fold_case(
    current: Option<CaseView>,
    batch: &StreamBatch<'_>,
) -> Result<Option<CaseView>, ReadError> {
    let mut view = current;
    for e in &batch.events {
        // Re-delivered (Kafka, at least once): already in the row.
        if view.as_ref().is_some_and(|v| e.version <= v.version) {
            continue;
        }
        let event = codec::decode_case(&e.event_type, e.schema_version, &e.payload)?;
        match view.as_mut() {
            Some(v) => v.apply(&event, &info(e)),
            None => view = CaseView::open(&event, &info(e)),
        }
    }
    Ok(view)
}

pub(super) fn fold_claimant(
    current: Option<ClaimantView>,
    batch: &StreamBatch<'_>,
) -> Result<Option<ClaimantView>, ReadError> {
    let mut view = current;
    for e in &batch.events {
        if view.as_ref().is_some_and(|v| e.version <= v.version) {
            continue;
        }
        let event = codec::decode_claimant(&e.event_type, e.schema_version, &e.payload)?;
        match view.as_mut() {
            Some(v) => v.apply(&event, &info(e)),
            None => view = ClaimantView::open(&event, &info(e)),
        }
    }
    Ok(view)
}
