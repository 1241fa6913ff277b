//! Mail-scan batches: a manifest of scanned letters, filed one by one.
//!
//! Each document ends ATTACHED (to the matched claimant's case), UNIDENTIFIED
//! (no claimant or no open case matched: it waits in the unidentified-mail
//! queue, no case is created) or REJECTED with a code. Every outcome is
//! recorded per document id, after its commands are durable, so re-sending
//! a batch — or resuming one interrupted by a crash — files nothing twice:
//! recorded documents are answered from the record, and unrecorded ones are
//! filed again under the same idempotency keys. A REJECTED document filed
//! nothing: the same entry again is answered from the record, a corrected
//! entry under the same id is a new attempt (filed, and its outcome
//! replaces the rejection).

use crate::contract::{
    schema_code, ClaimantRef, DocumentRef, Kind, RawClaimant, RawDocument, Submission,
};
use crate::{Caller, CallerKind, Filed, GroupReads, Intake, IntakeError};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    BenefitType, Channel, ClaimantId, ErrorCode, ExternalId, FileNumber, Submitter, TenantId, Text,
};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use projections::IntakeDocument;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentResult {
    pub document_id: String,
    /// ATTACHED, UNIDENTIFIED, REJECTED or RESOLVED.
    #[schema(pattern = "^(ATTACHED|UNIDENTIFIED|REJECTED|RESOLVED)$")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    pub batch_id: String,
    /// COMPLETE when every document was attached or queued, else PARTIAL.
    #[schema(pattern = "^(COMPLETE|PARTIAL)$")]
    pub status: String,
    pub attached: usize,
    pub unidentified: usize,
    pub rejected: usize,
    pub documents: Vec<DocumentResult>,
}

/// Codes that must not become a document's permanent outcome.
const TRANSIENT: &[ErrorCode] = &[
    ErrorCode::VersionConflict,
    ErrorCode::RestrictedRecord,
    ErrorCode::ColleagueConflict,
    ErrorCode::ChannelNotAllowed,
    ErrorCode::KindNotAllowed,
];

fn result_of(doc: &IntakeDocument) -> DocumentResult {
    DocumentResult {
        document_id: doc.document_id.clone(),
        status: doc.status.clone(),
        case_id: doc.case_id,
        error_code: doc.error_code.clone(),
        error_message: doc.error_message.clone(),
    }
}

fn rejected(document_id: &str, e: &IntakeError) -> DocumentResult {
    DocumentResult {
        document_id: document_id.to_owned(),
        status: "REJECTED".into(),
        case_id: None,
        error_code: Some(e.code.as_str().to_owned()),
        error_message: Some(e.message.clone()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    document_id: String,
    received_at: DateTime<Utc>,
    document_type: String,
    page_count: u32,
    checksum: String,
    storage_ref: String,
    kind: Option<Kind>,
    benefit_type: Option<String>,
    #[serde(default)]
    contentions: Vec<String>,
    #[serde(default)]
    ocr: RawOcr,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawOcr {
    file_number: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<String>,
    postcode: Option<String>,
}

/// OCR output is unreliable: a value that does not parse counts as absent.
fn ocr_claimant(ocr: &RawOcr) -> ClaimantRef {
    let text = |field: &'static str, v: &Option<String>| {
        v.as_deref().and_then(|s| Text::parse(field, s).ok())
    };
    ClaimantRef::parse(&RawClaimant::default())
        .map(|mut c| {
            c.file_number = ocr
                .file_number
                .as_deref()
                .and_then(|f| FileNumber::parse(f).ok());
            c.given_name = text("givenName", &ocr.given_name);
            c.family_name = text("familyName", &ocr.family_name);
            c.birth_date = ocr
                .birth_date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            c.postcode = text("postcode", &ocr.postcode);
            c
        })
        .unwrap_or(ClaimantRef {
            file_number: None,
            given_name: None,
            family_name: None,
            birth_date: None,
            postcode: None,
            address_lines: Vec::new(),
        })
}

fn default_kind(document_type: &str) -> Kind {
    match document_type {
        "CLAIM_FORM" => Kind::NewClaim,
        "WAIVER_5103" => Kind::Waiver5103,
        "WITHDRAWAL_REQUEST" => Kind::Withdrawal,
        _ => Kind::AdditionalEvidence,
    }
}

/// A manifest as read: its batch id and each entry with what it decodes to.
#[derive(Debug)]
pub struct Manifest {
    pub batch_id: String,
    pub documents: Vec<ManifestDocument>,
}

/// One entry of a manifest.
#[derive(Debug)]
pub struct ManifestDocument {
    /// The entry's `documentId`, or `#n` (1-based position) when it has
    /// none (absent, not a string, or blank).
    pub document_id: String,
    /// Whether `document_id` came from the entry. An entry without one is
    /// refused and answered, never recorded: a position is no identity, and
    /// the next batch's `#1` is another letter.
    pub identified: bool,
    pub checksum: String,
    pub received_at: Option<DateTime<Utc>>,
    /// The entry as sent (its JSON text), kept with its record (resolving
    /// unidentified mail files it again).
    pub entry: Box<RawValue>,
    /// The submission it files, or why it cannot be filed.
    pub submission: Result<Submission, IntakeError>,
}

/// Bytes of a batch manifest → its documents, each decoded to a submission
/// or a coded rejection; or a coded refusal of the whole batch (not JSON,
/// not a manifest). Touches no store, so it is what the fuzz target drives.
pub fn decode_manifest(
    contract: &crate::Contract,
    registry: &crate::Registry,
    tenant: &TenantId,
    scanned_by: &domain::ActorId,
    bytes: &[u8],
) -> Result<Manifest, IntakeError> {
    let raw = read_manifest(contract, bytes)?;
    let documents = raw
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            decode_entry(
                contract,
                registry,
                tenant,
                &raw.batch_id,
                scanned_by,
                i,
                entry,
            )
        })
        .collect();
    Ok(Manifest {
        batch_id: raw.batch_id,
        documents,
    })
}

/// Entry `i` (0-based) of a manifest, decoded: one entry's tree at a time,
/// dropped once decoded.
fn decode_entry(
    contract: &crate::Contract,
    registry: &crate::Registry,
    tenant: &TenantId,
    batch_id: &str,
    scanned_by: &domain::ActorId,
    i: usize,
    raw: Box<RawValue>,
) -> ManifestDocument {
    let entry: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let id = entry["documentId"]
        .as_str()
        .filter(|id| !id.trim().is_empty())
        .map(str::to_owned);
    let submission = match (
        &id,
        entry_submission(contract, registry, tenant, batch_id, scanned_by, &entry),
    ) {
        (None, Ok(_)) => Err(IntakeError::new(
            ErrorCode::MissingField,
            "documentId must not be blank",
        )),
        (_, decoded) => decoded,
    };
    ManifestDocument {
        identified: id.is_some(),
        document_id: id.unwrap_or_else(|| format!("#{}", i + 1)),
        checksum: entry["checksum"].as_str().unwrap_or_default().to_owned(),
        received_at: entry["receivedAt"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc)),
        submission,
        entry: raw,
    }
}

/// A manifest read without one tree of it all: the envelope (every field
/// but the documents as a tree, the documents as stand-ins) and each
/// document as its raw text. Each entry becomes a tree of its own only
/// while it is checked and decoded, so a batch costs about its own size in
/// memory, not the ten to twenty times a whole JSON tree does.
struct RawManifest {
    batch_id: String,
    entries: Vec<Box<RawValue>>,
}

/// Reads the manifest's envelope and checks it against the batch schema.
fn read_manifest(contract: &crate::Contract, bytes: &[u8]) -> Result<RawManifest, IntakeError> {
    let (envelope, entries) = read_envelope(bytes)?;
    if let Some(v) = contract.batch_violation(&envelope) {
        return Err(IntakeError::new(schema_code(&v), v));
    }
    let batch_id = envelope["batchId"].as_str().unwrap_or_default().to_owned();
    Ok(RawManifest { batch_id, entries })
}

fn read_envelope(bytes: &[u8]) -> Result<(Value, Vec<Box<RawValue>>), IntakeError> {
    let malformed = || IntakeError::new(ErrorCode::MalformedJson, "the manifest is not JSON");
    let fields: std::collections::BTreeMap<String, Box<RawValue>> =
        match serde_json::from_slice(bytes) {
            Ok(fields) => fields,
            Err(_) => {
                // JSON but not an object: a stand-in of the same JSON type
                // gets the schema's own answer, without reading it into a
                // tree; else not JSON at all.
                serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|_| malformed())?;
                let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
                let stand_in = match first {
                    Some(b'[') => Value::Array(Vec::new()),
                    Some(b'"') => Value::String(String::new()),
                    Some(b't' | b'f') => Value::Bool(false),
                    Some(b'n') => Value::Null,
                    _ => Value::from(0),
                };
                return Ok((stand_in, Vec::new()));
            }
        };
    let mut envelope = serde_json::Map::new();
    let mut entries = Vec::new();
    for (key, value) in fields {
        if key == "documents" {
            if let Ok(list) = serde_json::from_str::<Vec<Box<RawValue>>>(value.get()) {
                // Each entry stands in the envelope as what the batch schema
                // checks of it (`items: {type: object}`): an empty object
                // if it is one, else itself, so a refusal names it exactly.
                // Each is then checked on its own against `$defs/entry`.
                let stand_ins = list
                    .iter()
                    .map(|e| {
                        if e.get().starts_with('{') {
                            Ok(Value::Object(serde_json::Map::new()))
                        } else {
                            serde_json::from_str(e.get()).map_err(|_| malformed())
                        }
                    })
                    .collect::<Result<Vec<Value>, IntakeError>>()?;
                envelope.insert(key, Value::Array(stand_ins));
                entries = list;
                continue;
            }
        }
        envelope.insert(
            key,
            serde_json::from_str(value.get()).map_err(|_| malformed())?,
        );
    }
    Ok((Value::Object(envelope), entries))
}

/// Turns one manifest entry into a submission, or a coded rejection.
fn entry_submission(
    contract: &crate::Contract,
    registry: &crate::Registry,
    tenant: &TenantId,
    batch_id: &str,
    scanned_by: &domain::ActorId,
    entry: &Value,
) -> Result<Submission, IntakeError> {
    if let Some(v) = contract.entry_violation(entry) {
        return Err(IntakeError::new(schema_code(&v), v));
    }
    let raw: RawEntry = serde_json::from_value(entry.clone()).map_err(|_| {
        IntakeError::new(
            ErrorCode::SchemaViolation,
            "entry does not match the schema",
        )
    })?;
    let document = DocumentRef::parse(&RawDocument {
        document_id: raw.document_id.clone(),
        document_type: raw.document_type.clone(),
        page_count: raw.page_count,
        checksum: raw.checksum.clone(),
        storage_ref: raw.storage_ref.clone(),
    })?;
    registry.require_document_type(tenant, document.document_type.as_str())?;
    let kind = raw.kind.unwrap_or_else(|| default_kind(&raw.document_type));
    if kind == Kind::NewClaim && (raw.benefit_type.is_none() || raw.contentions.is_empty()) {
        return Err(IntakeError::new(
            ErrorCode::MissingField,
            "a claim form needs benefitType and contentions",
        ));
    }
    Ok(Submission {
        channel: Channel::MailScan,
        external_id: ExternalId::parse(&format!("{batch_id}/{}", raw.document_id))?,
        received_at: raw.received_at,
        submitted_by: Submitter::Staff(scanned_by.clone()),
        claimant: ocr_claimant(&raw.ocr),
        kind,
        benefit: raw
            .benefit_type
            .as_deref()
            .map(BenefitType::parse)
            .transpose()?,
        case_id: None,
        contentions: raw
            .contentions
            .iter()
            .map(|c| Text::parse("contentions", c))
            .collect::<Result<_, _>>()?,
        contention_id: None,
        request_id: None,
        reason: None,
        summary: None,
        documents: vec![document],
    })
}

/// Documents in a batch from which the records table's statistics are
/// refreshed after it.
const STATISTICS_AFTER: usize = 1_000;
/// Documents decoded and filed at a time: a batch's memory is about its
/// bytes plus one chunk's documents, whatever its length.
const MAIL_CHUNK: usize = 5_000;
/// Documents of different claimants are filed this many at a time.
const MAIL_CONCURRENCY: usize = 16;

/// Splits a manifest into groups filed one after another, groups side by
/// side. Documents about the same claimant stay together in manifest order
/// (a claim form opens the case the evidence after it is attached to), as
/// do documents under the same document id (the second is answered from the
/// first's record); every other document is a group of its own. Each group
/// lists indexes in manifest order.
fn filing_groups(docs: &[ManifestDocument], claimants: &[Option<ClaimantId>]) -> Vec<Vec<usize>> {
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let keys = [
            Some(format!("document:{}", doc.document_id)),
            claimants
                .get(i)
                .copied()
                .flatten()
                .map(|c| format!("claimant:{c}")),
        ];
        // Every group this document touches, merged into the first.
        let mut touched: Vec<usize> = keys
            .iter()
            .flatten()
            .filter_map(|k| by_key.get(k).copied())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let target = match touched.first() {
            Some(&first) => {
                for &other in touched.iter().skip(1) {
                    let moved = std::mem::take(&mut groups[other]);
                    groups[first].extend(moved);
                    for g in by_key.values_mut() {
                        if *g == other {
                            *g = first;
                        }
                    }
                }
                if touched.len() > 1 {
                    groups[first].sort_unstable();
                }
                // The highest index so far: the group stays in manifest order.
                groups[first].push(i);
                first
            }
            None => {
                groups.push(vec![i]);
                groups.len() - 1
            }
        };
        for key in keys.into_iter().flatten() {
            by_key.insert(key, target);
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

impl Intake {
    /// Files a batch manifest. `progress(done, total)` is called per document.
    pub async fn ingest_batch(
        &self,
        caller: &Caller,
        bytes: &[u8],
        mut progress: impl FnMut(usize, usize),
    ) -> Result<BatchReport, IntakeError> {
        if matches!(caller.kind, CallerKind::Citizen(_)) {
            return Err(IntakeError::new(
                ErrorCode::ChannelNotAllowed,
                "citizens may not submit mail-scan batches",
            ));
        }
        // The submitter is who authenticated, not what the manifest claims.
        let RawManifest { batch_id, entries } = read_manifest(&self.contract, bytes)?;
        let total = entries.len();
        let mut results: Vec<Option<DocumentResult>> = vec![None; total];
        let mut done = 0;
        // Decoded and filed a chunk at a time, in manifest order, so memory
        // holds one chunk's documents whatever the size of the batch. A
        // claimant's or a document id's documents stay in manifest order:
        // within a chunk by the filing groups, across chunks by the order
        // of the chunks.
        let mut rest = entries.into_iter().enumerate();
        loop {
            let chunk: Vec<(usize, Box<RawValue>)> = rest.by_ref().take(MAIL_CHUNK).collect();
            let Some(&(offset, _)) = chunk.first() else {
                break;
            };
            let docs: Vec<ManifestDocument> = chunk
                .into_iter()
                .map(|(i, raw)| {
                    decode_entry(
                        &self.contract,
                        &self.registry,
                        &caller.tenant,
                        &batch_id,
                        &caller.actor,
                        i,
                        raw,
                    )
                })
                .collect();
            for (i, result) in self.file_chunk(caller, &batch_id, &docs).await? {
                if let Some(slot) = results.get_mut(offset + i) {
                    *slot = Some(result);
                    done += 1;
                }
            }
            progress(done, total);
        }
        if total >= STATISTICS_AFTER {
            // A large batch changes the records table by a lot at once: the
            // planner's statistics are refreshed now, not whenever autovacuum
            // comes round (or never, where it is off), so the next batch's
            // look-ups use the primary key (without them a re-send of 100,000
            // documents checked each 500 ids against every record, 1.1 s a
            // query). The outcomes are recorded either way.
            if let Err(e) = self.read.refresh_intake_statistics().await {
                tracing::warn!(error = %e, "could not refresh the intake records' statistics");
            }
        }
        let results: Vec<DocumentResult> = results.into_iter().flatten().collect();
        let count = |s: &str| results.iter().filter(|r| r.status == s).count();
        let (attached, unidentified, rejected) = (
            count("ATTACHED") + count("RESOLVED"),
            count("UNIDENTIFIED"),
            count("REJECTED"),
        );
        Ok(BatchReport {
            batch_id,
            status: if rejected == 0 { "COMPLETE" } else { "PARTIAL" }.into(),
            attached,
            unidentified,
            rejected,
            documents: results,
        })
    }

    /// The claimant a manifest document will be matched to, if any.
    /// Files a chunk of a batch's documents; each result with its index in
    /// the chunk.
    async fn file_chunk(
        &self,
        caller: &Caller,
        batch_id: &str,
        docs: &[ManifestDocument],
    ) -> Result<Vec<(usize, DocumentResult)>, IntakeError> {
        // Who each document is about, as filing will match it. Mail never
        // registers anyone, so this does not depend on the filing order.
        // (Futures are collected first: a stream built from closures over
        // borrowed documents is not provably Send.)
        let lookups: Vec<_> = docs
            .iter()
            .map(|doc| self.mail_claimant(caller, doc))
            .collect();
        let claimants: Vec<Option<ClaimantId>> = stream::iter(lookups)
            .buffered(MAIL_CONCURRENCY)
            .try_collect()
            .await?;
        // What earlier filings of these documents recorded (a re-send, a
        // resumed batch, an earlier chunk, or the same document id in
        // another batch).
        let ids: Vec<&str> = docs
            .iter()
            .filter(|d| d.identified)
            .map(|d| d.document_id.as_str())
            .collect();
        let known: HashMap<String, IntakeDocument> = self
            .read
            .intake_documents(&caller.tenant, "MAIL_SCAN", &ids)
            .await?
            .into_iter()
            .map(|d| (d.document_id.clone(), d))
            .collect();
        let groups: Vec<_> = filing_groups(docs, &claimants)
            .into_iter()
            .map(|group| {
                let matched = group.iter().map(|&i| claimants.get(i).copied().flatten());
                let group: Vec<_> = group.iter().copied().zip(matched).collect();
                self.file_group(caller, batch_id, docs, group, &known)
            })
            .collect();
        let mut filing = stream::iter(groups).buffer_unordered(MAIL_CONCURRENCY);
        let mut filed = Vec::with_capacity(docs.len());
        while let Some(group) = filing.next().await {
            filed.extend(group?);
        }
        Ok(filed)
    }

    async fn mail_claimant(
        &self,
        caller: &Caller,
        doc: &ManifestDocument,
    ) -> Result<Option<ClaimantId>, IntakeError> {
        match &doc.submission {
            Ok(s) => self.matching_claimant(&caller.tenant, &s.claimant).await,
            Err(_) => Ok(None),
        }
    }

    /// Files one group's documents in order; (index, outcome) of each.
    /// The outcomes are recorded together once the group is filed: a crash
    /// before that loses no filing, since a re-sent document is filed again
    /// under the same idempotency keys and gets the same answer.
    async fn file_group(
        &self,
        caller: &Caller,
        batch_id: &str,
        docs: &[ManifestDocument],
        group: Vec<(usize, Option<ClaimantId>)>,
        known: &HashMap<String, IntakeDocument>,
    ) -> Result<Vec<(usize, DocumentResult)>, IntakeError> {
        let mut filed = Vec::with_capacity(group.len());
        // Recorded in this group so far, by document id (a later document
        // under the same id is answered from it).
        let mut records: HashMap<String, IntakeDocument> = HashMap::new();
        let mut reads = GroupReads::default();
        for (i, claimant) in group {
            let Some(doc) = docs.get(i) else { continue };
            let earlier = records
                .get(&doc.document_id)
                .or_else(|| known.get(&doc.document_id));
            let (result, record) = self
                .file_entry(caller, batch_id, doc, (claimant, &mut reads), earlier)
                .await?;
            filed.push((i, result));
            if let Some(record) = record {
                records.insert(record.document_id.clone(), record);
            }
        }
        let records: Vec<IntakeDocument> = records.into_values().collect();
        self.read.record_intake_documents(&records).await?;
        Ok(filed)
    }

    /// One document: answered from its record when already filed; else
    /// filed, and returned with the record to keep. Only an unavailable
    /// database aborts the batch.
    async fn file_entry(
        &self,
        caller: &Caller,
        batch_id: &str,
        doc: &ManifestDocument,
        (claimant, reads): (Option<ClaimantId>, &mut GroupReads),
        recorded: Option<&IntakeDocument>,
    ) -> Result<(DocumentResult, Option<IntakeDocument>), IntakeError> {
        let document_id = doc.document_id.as_str();
        if let (false, Err(refusal)) = (doc.identified, &doc.submission) {
            return Ok((rejected(document_id, refusal), None));
        }
        match recorded {
            // A rejection filed nothing: the same entry again gets the same
            // answer; a corrected one (another type, a re-scan of an empty
            // file) is a new attempt and is filed.
            Some(existing)
                if existing.status == "REJECTED" && existing.entry == doc.entry.get() =>
            {
                return Ok((result_of(existing), None));
            }
            Some(existing) if existing.status == "REJECTED" => {}
            Some(existing) if existing.checksum == doc.checksum => {
                return Ok((result_of(existing), None));
            }
            Some(_) => {
                let duplicate = IntakeError::new(
                    ErrorCode::DuplicateDocumentId,
                    "a different document was already filed under this document id",
                );
                return Ok((rejected(document_id, &duplicate), None));
            }
            None => {}
        }
        let outcome = match &doc.submission {
            Err(e) => Err(e.clone()),
            Ok(s) => self.file_matched(caller, s, claimant, reads).await,
        };
        let (status, case_id, code, message) = match &outcome {
            Ok(Filed::Case { case_id, .. }) => ("ATTACHED", Some(*case_id), None, None),
            Ok(Filed::Unidentified { reason }) => ("UNIDENTIFIED", None, Some(*reason), None),
            // Faults, not refusals: the batch stops here and may be sent again.
            Err(e) if matches!(e.code, ErrorCode::StoreUnavailable | ErrorCode::Internal) => {
                return Err(e.clone())
            }
            // Refusals that depend on the moment or on who sent it are
            // answered, not recorded: a retry, or a sender allowed to, files it.
            Err(e) if TRANSIENT.contains(&e.code) => return Ok((rejected(document_id, e), None)),
            Err(e) => ("REJECTED", None, Some(e.code), Some(e.message.clone())),
        };
        let record = IntakeDocument {
            tenant: caller.tenant.to_string(),
            channel: "MAIL_SCAN".into(),
            batch_id: batch_id.to_owned(),
            document_id: document_id.to_owned(),
            checksum: doc.checksum.clone(),
            status: status.into(),
            error_code: code.map(|c: ErrorCode| c.as_str().to_owned()),
            error_message: message,
            case_id,
            received_at: doc.received_at.unwrap_or_else(Utc::now),
            recorded_at: Utc::now(),
            entry: doc.entry.get().to_owned(),
        };
        Ok((result_of(&record), Some(record)))
    }

    /// Unidentified mail of a tenant, oldest first.
    pub async fn unidentified(
        &self,
        tenant: &TenantId,
        first: i64,
        after: Option<(DateTime<Utc>, &str)>,
    ) -> Result<Vec<IntakeDocument>, IntakeError> {
        Ok(self
            .read
            .unidentified_documents(tenant, first, after)
            .await?)
    }

    /// An agent matched an unidentified document to a claimant (and, when
    /// the claimant has several open claims, to one of them): file it.
    pub async fn resolve(
        &self,
        caller: &Caller,
        document_id: &str,
        claimant: ClaimantId,
        case: Option<Uuid>,
    ) -> Result<DocumentResult, IntakeError> {
        if caller.kind != CallerKind::Staff {
            return Err(IntakeError::new(
                ErrorCode::Forbidden,
                "only staff resolve unidentified mail",
            ));
        }
        let Some(doc) = self
            .read
            .intake_document(&caller.tenant, "MAIL_SCAN", document_id)
            .await?
        else {
            return Err(IntakeError::new(ErrorCode::NotFound, "not found"));
        };
        if doc.status != "UNIDENTIFIED" {
            let mut refused = IntakeError::new(
                ErrorCode::NotUnidentified,
                "the document is not waiting to be identified (status)",
            );
            refused.details = vec![("status", domain::Detail::One(doc.status.clone()))];
            return Err(refused);
        }
        let entry: Value = serde_json::from_str(&doc.entry)
            .map_err(|_| IntakeError::new(ErrorCode::Internal, "stored entry unreadable"))?;
        let scanned_by = caller.actor.clone();
        let mut submission = entry_submission(
            &self.contract,
            &self.registry,
            &caller.tenant,
            &doc.batch_id,
            &scanned_by,
            &entry,
        )?;
        submission.case_id = case;
        let (state, _) = self.engine.load_claimant(&caller.tenant, claimant).await?;
        if state.record().is_none() {
            return Err(IntakeError::new(ErrorCode::NotFound, "not found"));
        }
        match self.file(caller, &submission, Some(claimant)).await? {
            Filed::Case { case_id, .. } => {
                self.read
                    .resolve_intake_document(
                        &caller.tenant,
                        "MAIL_SCAN",
                        document_id,
                        case_id,
                        Utc::now(),
                    )
                    .await?;
                Ok(DocumentResult {
                    document_id: document_id.to_owned(),
                    status: "RESOLVED".into(),
                    case_id: Some(case_id),
                    error_code: None,
                    error_message: None,
                })
            }
            Filed::Unidentified { reason } => Err(IntakeError::new(
                reason,
                "the claimant has no open claim this document belongs to",
            )),
        }
    }

    /// The recorded outcome of every document of a batch.
    pub async fn batch(
        &self,
        tenant: &TenantId,
        batch_id: &str,
    ) -> Result<Vec<DocumentResult>, IntakeError> {
        Ok(self
            .read
            .intake_batch(tenant, "MAIL_SCAN", batch_id)
            .await?
            .iter()
            .map(result_of)
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn doc(id: &str) -> ManifestDocument {
        ManifestDocument {
            document_id: id.to_owned(),
            identified: true,
            checksum: String::new(),
            received_at: None,
            entry: RawValue::from_string("{}".into()).expect("a JSON text"),
            submission: Err(IntakeError::new(ErrorCode::MissingField, "test")),
        }
    }

    #[test]
    fn documents_of_one_claimant_or_one_id_are_filed_in_order_together() {
        let a = Some(ClaimantId::from_uuid(Uuid::from_u128(1)));
        let b = Some(ClaimantId::from_uuid(Uuid::from_u128(2)));
        let docs: Vec<_> = ["d0", "d1", "d2", "d3", "d1", "d5", "d6"]
            .iter()
            .map(|id| doc(id))
            .collect();
        // d0 a, d1 b, d2 none, d3 a, d1 again (no match) -> with d1's group,
        // d5 none, d6 b.
        let claimants = [a, b, None, a, None, None, b];
        let groups = filing_groups(&docs, &claimants);
        assert_eq!(
            groups,
            vec![vec![0, 3], vec![1, 4, 6], vec![2], vec![5]],
            "same claimant or same document id: one group, manifest order"
        );
    }

    #[test]
    fn a_document_linking_two_groups_merges_them_in_manifest_order() {
        let a = Some(ClaimantId::from_uuid(Uuid::from_u128(1)));
        let docs: Vec<_> = ["x", "y", "x"].iter().map(|id| doc(id)).collect();
        // y is about a; the second x is about a too: x, y and x are one group.
        let claimants = [None, a, a];
        assert_eq!(filing_groups(&docs, &claimants), vec![vec![0, 1, 2]]);
    }
}
