//! The command pipeline.

use crate::cache::{StateCache, StreamLocks};
use crate::envelope::{ClaimSubmission, CommandResult, Envelope, Outcome};
use crate::error::EngineError;
use crate::fingerprint::{self, Fingerprint};
use crate::keys::{appeal_key, file_number_key, open_claim_key, pii_fingerprint, sha256_hex};
use crate::retry::{self, Step};
use crate::tenants::{LateEvidenceRule, TenantConfig, Tenants};
use chrono::{DateTime, SubsecRound, Utc};
use domain::case::{
    AppealLink, AttachDocument, LateEvidence, NewChannelEntry, NewContention, SubmitClaim,
};
use domain::claimant::{ClaimantCommand, ClaimantPii};
use domain::*;
use quick_cache::sync::Cache;
use serde_json::json;
use std::sync::Arc;
use store::codec::{self, DecodeError, EncodedEvent};
use store::{
    AppendBatch, EventLog, EventMetadata, IdempotencyRecord, NewEvent, RecordedEvent, StoreError,
    StreamKind, StreamWrite,
};
use uuid::Uuid;

const CACHE_CAPACITY: usize = 20_000;

/// An aggregate as the pipeline loads it.
trait Aggregate: Clone + Default + Send + Sync + 'static {
    type Event;
    const KIND: StreamKind;
    fn decode(e: &RecordedEvent) -> Result<Self::Event, DecodeError>;
    fn encode(e: &Self::Event) -> EncodedEvent;
    fn apply(self, e: &Self::Event) -> Self;
}

impl Aggregate for Case {
    type Event = CaseEvent;
    const KIND: StreamKind = StreamKind::Case;
    fn decode(e: &RecordedEvent) -> Result<CaseEvent, DecodeError> {
        codec::decode_case(&e.event_type, e.schema_version, &e.payload)
    }
    fn encode(e: &CaseEvent) -> EncodedEvent {
        codec::encode_case(e)
    }
    fn apply(self, e: &CaseEvent) -> Self {
        self.evolve(e)
    }
}

impl Aggregate for Claimant {
    type Event = ClaimantEvent;
    const KIND: StreamKind = StreamKind::Claimant;
    fn decode(e: &RecordedEvent) -> Result<ClaimantEvent, DecodeError> {
        codec::decode_claimant(&e.event_type, e.schema_version, &e.payload)
    }
    fn encode(e: &ClaimantEvent) -> EncodedEvent {
        codec::encode_claimant(e)
    }
    fn apply(self, e: &ClaimantEvent) -> Self {
        self.evolve(e)
    }
}

/// The write side. Cheap to share (`Arc<Engine>`).
pub struct Engine {
    log: Arc<dyn EventLog>,
    tenants: Tenants,
    cases: StateCache<Case>,
    claimants: StateCache<Claimant>,
    locks: StreamLocks,
}

impl Engine {
    pub fn new(log: Arc<dyn EventLog>, tenants: Tenants) -> Self {
        Self {
            log,
            tenants,
            cases: Cache::new(CACHE_CAPACITY),
            claimants: Cache::new(CACHE_CAPACITY),
            locks: StreamLocks::new(),
        }
    }

    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    fn tenant(&self, tenant: &TenantId) -> Result<&TenantConfig, EngineError> {
        self.tenants.get(tenant).ok_or(EngineError::UnknownTenant)
    }

    fn ctx(env: &Envelope) -> Ctx {
        Ctx {
            now: Utc::now().trunc_subsecs(6),
            actor: env.actor.clone(),
        }
    }

    async fn load<S: Aggregate>(
        &self,
        cache: &StateCache<S>,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<(S, u64), EngineError> {
        let key = (tenant.clone(), id);
        let (cached, mut version) = cache.get(&key).unwrap_or_default();
        let mut state = Arc::unwrap_or_clone(cached);
        let events = self.log.read_stream(tenant, id, version).await?;
        if events.is_empty() {
            return Ok((state, version));
        }
        for e in &events {
            if e.kind != S::KIND {
                // An id of another aggregate kind: not found as this kind.
                return Ok((S::default(), 0));
            }
            state = state.apply(&S::decode(e)?);
            version = e.version;
        }
        cache.insert(key, (Arc::new(state.clone()), version));
        Ok((state, version))
    }

    /// The current state of a case and its version (0 = no such case).
    pub async fn load_case(
        &self,
        tenant: &TenantId,
        id: CaseId,
    ) -> Result<(Case, u64), EngineError> {
        self.load(&self.cases, tenant, id.as_uuid()).await
    }

    pub async fn load_claimant(
        &self,
        tenant: &TenantId,
        id: ClaimantId,
    ) -> Result<(Claimant, u64), EngineError> {
        self.load(&self.claimants, tenant, id.as_uuid()).await
    }

    pub async fn find_claimant(
        &self,
        tenant: &TenantId,
        file_number: &FileNumber,
    ) -> Result<Option<ClaimantId>, EngineError> {
        Ok(self
            .log
            .key_holder(tenant, &file_number_key(file_number))
            .await?
            .map(ClaimantId::from_uuid))
    }

    /// The case holding the open claim of `claimant` for `benefit`, if any.
    pub async fn open_claim(
        &self,
        tenant: &TenantId,
        claimant: ClaimantId,
        benefit: &BenefitType,
    ) -> Result<Option<CaseId>, EngineError> {
        Ok(self
            .log
            .key_holder(tenant, &open_claim_key(claimant, benefit))
            .await?
            .map(CaseId::from_uuid))
    }

    fn metadata(env: &Envelope, command: &str) -> Result<String, EngineError> {
        Ok(serde_json::to_string(&EventMetadata {
            actor: env.actor.to_string(),
            channel: env.channel.as_ref().map(|c| c.code().to_owned()),
            command: command.to_owned(),
            correlation_id: env.correlation_id,
            causation_id: env.causation_id,
            idempotency_key: env.idempotency_key.clone(),
        })?)
    }

    fn stream_write<S: Aggregate>(
        id: Uuid,
        expected: u64,
        events: &[S::Event],
        metadata: &str,
    ) -> StreamWrite {
        StreamWrite {
            stream_id: id,
            kind: S::KIND,
            expected_version: expected,
            events: events
                .iter()
                .map(|e| {
                    let enc = S::encode(e);
                    NewEvent {
                        event_id: Uuid::now_v7(),
                        event_type: enc.event_type.to_owned(),
                        schema_version: enc.schema_version,
                        payload: enc.payload,
                        metadata: metadata.to_owned(),
                    }
                })
                .collect(),
        }
    }

    /// A stored result for this key: the original result for a replay, or
    /// `IDEMPOTENCY_KEY_REUSED` for a different command under the same key.
    async fn replay(
        &self,
        env: &Envelope,
        fingerprint: &Fingerprint,
    ) -> Result<Option<CommandResult>, EngineError> {
        let Some(key) = &env.idempotency_key else {
            return Ok(None);
        };
        match self.log.idempotency_record(&env.tenant, key).await? {
            None => Ok(None),
            Some(record) if fingerprint.matches(&record.fingerprint) => {
                let mut result: CommandResult = serde_json::from_str(&record.result)?;
                result.replayed = true;
                Ok(Some(result))
            }
            Some(_) => Err(EngineError::IdempotencyKeyReused),
        }
    }

    /// After a lost race on the idempotency key: the winner's result.
    async fn replay_after_race(
        &self,
        env: &Envelope,
        fingerprint: &Fingerprint,
    ) -> Result<CommandResult, EngineError> {
        self.replay(env, fingerprint)
            .await?
            .ok_or(EngineError::Store(StoreError::IdempotencyKeyTaken))
    }

    /// A refusal made on current state: the original result instead when
    /// the command is a replay of one that went through.
    async fn or_replay(
        &self,
        env: &Envelope,
        fingerprint: &Fingerprint,
        refusal: EngineError,
    ) -> Result<CommandResult, EngineError> {
        match self.replay(env, fingerprint).await? {
            Some(result) => Ok(result),
            None => Err(refusal),
        }
    }

    fn idempotency(
        env: &Envelope,
        fingerprint: &Fingerprint,
        result: &CommandResult,
    ) -> Result<Option<IdempotencyRecord>, EngineError> {
        env.idempotency_key
            .as_ref()
            .map(|key| {
                Ok(IdempotencyRecord {
                    key: key.clone(),
                    fingerprint: fingerprint.current.clone(),
                    result: serde_json::to_string(result)?,
                })
            })
            .transpose()
    }

    /// The transport's fingerprint of the request, or the command's own.
    fn fingerprint(env: &Envelope, what: impl FnOnce() -> Fingerprint) -> Fingerprint {
        env.fingerprint.clone().unwrap_or_else(what)
    }

    fn result(id: Uuid, version: u64, outcome: Outcome, writes: &[StreamWrite]) -> CommandResult {
        CommandResult {
            stream_id: id,
            version,
            outcome,
            event_ids: writes
                .iter()
                .filter(|w| w.stream_id == id)
                .flat_map(|w| w.events.iter().map(|e| e.event_id))
                .collect(),
            replayed: false,
        }
    }

    /// Appends `batch`; on success refreshes the cache of every written
    /// case with the state decided here.
    async fn commit(
        &self,
        env: &Envelope,
        batch: &AppendBatch,
        states: Vec<(Uuid, Case, u64)>,
    ) -> Result<(), StoreError> {
        self.log.append(&env.tenant, batch).await?;
        self.remember(env, states);
        Ok(())
    }

    /// Keeps the states of cases just written.
    /// A commit's outcome as a step of the retry driver: done; lost a race
    /// (the errors `lost` names) and goes round again; or its key was
    /// recorded by a racing copy of the same request, whose answer it gets.
    async fn settled(
        &self,
        env: &Envelope,
        fingerprint: &Fingerprint,
        committed: Result<(), StoreError>,
        result: CommandResult,
        lost: fn(&StoreError) -> bool,
    ) -> Result<Step<CommandResult, ()>, EngineError> {
        match committed {
            Ok(()) => Ok(Step::Done(result)),
            Err(e) if lost(&e) => Ok(Step::Again {
                state: (),
                pause: true,
            }),
            Err(StoreError::IdempotencyKeyTaken) => self
                .replay_after_race(env, fingerprint)
                .await
                .map(Step::Done),
            Err(e) => Err(e.into()),
        }
    }

    fn remember(&self, env: &Envelope, states: Vec<(Uuid, Case, u64)>) {
        for (id, state, version) in states {
            self.cases
                .insert((env.tenant.clone(), id), (Arc::new(state), version));
        }
    }

    /// Files a claim through a channel. A second submission for the same
    /// claimant and benefit while a case is open joins that case as a
    /// duplicate entry instead of opening another; the open-claim key is
    /// claimed in the appending transaction, so concurrent submissions
    /// through different channels still end in one case.
    pub async fn submit_claim(
        &self,
        env: &Envelope,
        input: ClaimSubmission,
    ) -> Result<CommandResult, EngineError> {
        let config = self.tenant(&env.tenant)?;
        if !config.benefits.contains_key(&input.benefit) {
            return Err(EngineError::UnknownBenefitType(input.benefit.to_string()));
        }
        let (claimant, _) = self.load_claimant(&env.tenant, input.claimant).await?;
        if claimant.record().is_none() {
            return Err(DomainError::ClaimantNotFound.into());
        }
        // A channel submission is naturally keyed by channel + external id.
        let env = &Envelope {
            idempotency_key: Some(
                env.idempotency_key
                    .clone()
                    .unwrap_or_else(|| format!("{}:{}", input.channel, input.external_id)),
            ),
            ..env.clone()
        };
        let fingerprint = Self::fingerprint(env, || {
            Fingerprint::of(
                "submit-claim",
                &json!({
                    "claimantId": input.claimant.to_string(),
                    "benefitType": input.benefit.as_str(),
                    "contentions": input.contentions.iter().map(Text::as_str).collect::<Vec<_>>(),
                    "channel": input.channel.code(),
                    "externalId": input.external_id.as_str(),
                    "receivedAt": input.received_at.to_rfc3339(),
                    "submittedBy": fingerprint::submitter(&input.submitted_by),
                }),
            )
            .or_legacy(sha256_hex(&["submit-claim", &format!("{input:?}")]))
        });
        if let Some(result) = self.replay(env, &fingerprint).await? {
            return Ok(result);
        }
        let key = open_claim_key(input.claimant, &input.benefit);
        let _queued = self.locks.lock((&env.tenant, &key)).await;
        // A concurrent identical request may have finished while we waited.
        if let Some(result) = self.replay(env, &fingerprint).await? {
            return Ok(result);
        }
        let entry = NewChannelEntry {
            id: EntryId::generate(),
            channel: input.channel.clone(),
            external_id: input.external_id.clone(),
            received_at: input.received_at,
            submitted_by: input.submitted_by.clone(),
        };
        let (key, entry, fingerprint, input) = (&key, &entry, &fingerprint, &input);
        let done = retry::retrying((), |(), _| async move {
            let ctx = Self::ctx(env);
            if let Some(holder) = self.log.key_holder(&env.tenant, key).await? {
                let case_id = CaseId::from_uuid(holder);
                let (case, version) = self.load_case(&env.tenant, case_id).await?;
                let command = CaseCommand::AttachChannelEntry(entry.clone());
                let events = match case.decide(&command, &ctx) {
                    Ok(events) => events,
                    // The same submission is already on the case.
                    Err(DomainError::DuplicateChannelEntry) => {
                        return Ok(Step::Done(CommandResult {
                            stream_id: holder,
                            version,
                            outcome: Outcome::Unchanged,
                            event_ids: Vec::new(),
                            replayed: true,
                        }))
                    }
                    // Closed meanwhile; its key is gone: go round again.
                    Err(DomainError::CaseClosed | DomainError::CaseComplete) => {
                        return Ok(Step::Again {
                            state: (),
                            pause: true,
                        })
                    }
                    Err(e) => return Err(e.into()),
                };
                let metadata = Self::metadata(env, command.name())?;
                let write = Self::stream_write::<Case>(holder, version, &events, &metadata);
                let new_version = version + events.len() as u64;
                let result = Self::result(
                    holder,
                    new_version,
                    Outcome::AttachedAsDuplicate,
                    std::slice::from_ref(&write),
                );
                let batch = AppendBatch {
                    idempotency: Self::idempotency(env, fingerprint, &result)?,
                    streams: vec![write],
                    recorded_at: Some(ctx.now),
                    ..Default::default()
                };
                let state = events.iter().fold(case, |s, e| s.evolve(e));
                let committed = self
                    .commit(env, &batch, vec![(holder, state, new_version)])
                    .await;
                return self
                    .settled(env, fingerprint, committed, result, |e| {
                        matches!(e, StoreError::VersionConflict { .. })
                    })
                    .await;
            }
            let case_id = CaseId::generate();
            let command = CaseCommand::SubmitClaim(SubmitClaim {
                case_id,
                claimant: input.claimant,
                benefit: input.benefit.clone(),
                contentions: input
                    .contentions
                    .iter()
                    .map(|d| NewContention {
                        id: ContentionId::generate(),
                        description: d.clone(),
                    })
                    .collect(),
                entry: entry.clone(),
                appeal_of: None,
                estimate: config.estimate(&input.benefit, Phase::ClaimReceived, ctx.now),
            });
            let events = Case::Nonexistent.decide(&command, &ctx)?;
            let metadata = Self::metadata(env, command.name())?;
            let write = Self::stream_write::<Case>(case_id.as_uuid(), 0, &events, &metadata);
            let version = events.len() as u64;
            let result = Self::result(
                case_id.as_uuid(),
                version,
                Outcome::Created,
                std::slice::from_ref(&write),
            );
            let batch = AppendBatch {
                idempotency: Self::idempotency(env, fingerprint, &result)?,
                streams: vec![write],
                claim_keys: vec![(key.clone(), case_id.as_uuid())],
                recorded_at: Some(ctx.now),
                ..Default::default()
            };
            let state = Case::replay(&events);
            let committed = self
                .commit(env, &batch, vec![(case_id.as_uuid(), state, version)])
                .await;
            // Another submission opened the case first: join it.
            self.settled(env, fingerprint, committed, result, |e| {
                matches!(e, StoreError::KeyTaken { .. })
            })
            .await
        })
        .await?;
        if let Ok(result) = done {
            return Ok(result);
        }
        let current = match self.log.key_holder(&env.tenant, key).await? {
            Some(holder) => {
                self.load_case(&env.tenant, CaseId::from_uuid(holder))
                    .await?
                    .1
            }
            None => 0,
        };
        Err(EngineError::VersionConflict { current })
    }

    /// Runs a command against an existing case.
    pub async fn execute(
        &self,
        env: &Envelope,
        case_id: CaseId,
        command: CaseCommand,
    ) -> Result<CommandResult, EngineError> {
        self.tenant(&env.tenant)?;
        if let CaseCommand::SubmitClaim(_) = command {
            return Err(DomainError::ClaimAlreadyExists.into());
        }
        let fingerprint = Self::fingerprint(env, || {
            let (kind, mut fields) = fingerprint::case_command(&command);
            fields["caseId"] = json!(case_id.to_string());
            let current = Fingerprint::of(&kind, &fields);
            match fingerprint::legacy_case_command(&command) {
                Some(debug) => current.or_legacy(sha256_hex(&[&case_id.to_string(), &debug])),
                None => current,
            }
        });
        let id = case_id.as_uuid();
        let _queued = self.locks.lock((&env.tenant, id)).await;
        // The state this node holds is decided on without reading the log:
        // the append is conditional on its version, so a state that fell
        // behind (another node wrote) costs a read and a retry, never a lost
        // update. Only a decision made on state just read, or one whose
        // append went through, is final. A replay is recognised by its key:
        // the append finds the record taken (or, for a refusal, a look-up
        // finds it), so the hot path makes one round trip.
        let key = (env.tenant.clone(), id);
        let (case, version, fresh) = match self.cases.get(&key) {
            Some((case, version)) => (case, version, false),
            None => {
                let (case, version) = self.load_case(&env.tenant, case_id).await?;
                (Arc::new(case), version, true)
            }
        };
        let (command, fingerprint, key) = (&command, &fingerprint, &key);
        let state = (case, version, fresh);
        let done = retry::retrying(
            state,
            |(mut case, mut version, fresh), attempt| async move {
                let ctx = Self::ctx(env);
                let decided = match env.expected_version {
                    Some(expected) if expected != version => {
                        Err(EngineError::VersionConflict { current: version })
                    }
                    _ => self
                        .with_configuration(env, &case, command, ctx.now)
                        .and_then(|c| Ok((case.decide(&c, &ctx)?, c))),
                };
                // A refusal, or "nothing to change", is only known on current state.
                let settled = matches!(&decided, Ok((events, _)) if !events.is_empty());
                if !fresh && !settled {
                    let (loaded, at) = self.load_case(&env.tenant, case_id).await?;
                    return Ok(Step::Again {
                        state: (Arc::new(loaded), at, true),
                        pause: false,
                    });
                }
                let (events, decided_command) = match decided {
                    Ok(decided) => decided,
                    Err(e) => return self.or_replay(env, fingerprint, e).await.map(Step::Done),
                };
                let metadata = Self::metadata(env, decided_command.name())?;
                let new_version = version + events.len() as u64;
                let mut batch = AppendBatch {
                    recorded_at: Some(ctx.now),
                    ..Default::default()
                };
                let mut states = Vec::new();
                if !events.is_empty() {
                    batch
                        .streams
                        .push(Self::stream_write::<Case>(id, version, &events, &metadata));
                    self.follow_ups(env, &ctx, &case, &events, &mut batch, &mut states)
                        .await?;
                }
                let outcome = if events.is_empty() {
                    Outcome::Unchanged
                } else {
                    Outcome::Updated
                };
                let result = Self::result(id, new_version, outcome, &batch.streams);
                batch.idempotency = Self::idempotency(env, fingerprint, &result)?;
                if batch.streams.is_empty() && batch.idempotency.is_none() {
                    return Ok(Step::Done(result));
                }
                match self.log.append(&env.tenant, &batch).await {
                    Ok(_) => {
                        // The state decided on is not needed again: with the
                        // cache's share dropped first it is usually the only
                        // one, and is evolved in place, not copied.
                        self.cases.remove(key);
                        let state = events
                            .iter()
                            .fold(Arc::unwrap_or_clone(case), |s, e| s.evolve(e));
                        states.push((id, state, new_version));
                        self.remember(env, states);
                        Ok(Step::Done(result))
                    }
                    Err(StoreError::IdempotencyKeyTaken) => self
                        .replay_after_race(env, fingerprint)
                        .await
                        .map(Step::Done),
                    Err(StoreError::VersionConflict { .. }) if !fresh => {
                        let (loaded, at) = self.load_case(&env.tenant, case_id).await?;
                        Ok(Step::Again {
                            state: (Arc::new(loaded), at, true),
                            pause: false,
                        })
                    }
                    Err(StoreError::VersionConflict {
                        stream_id, current, ..
                    }) => {
                        if env.expected_version.is_some() || attempt + 1 == retry::MAX_ATTEMPTS {
                            return Err(EngineError::VersionConflict { current });
                        }
                        // Only re-decide when nothing that came in between
                        // bears on this command's decision.
                        let newer = self.log.read_stream(&env.tenant, id, version).await?;
                        for e in &newer {
                            let event = Case::decode(e)?;
                            if stream_id == id && command.depends_on(&event) {
                                return Err(EngineError::VersionConflict {
                                    current: e.version.max(current),
                                });
                            }
                            case = Arc::new(Arc::unwrap_or_clone(case).evolve(&event));
                            version = e.version;
                        }
                        Ok(Step::Again {
                            state: (case, version, fresh),
                            pause: true,
                        })
                    }
                    Err(e) => Err(e.into()),
                }
            },
        )
        .await?;
        match done {
            Ok(result) => Ok(result),
            Err((_, version, _)) => Err(EngineError::VersionConflict { current: version }),
        }
    }

    /// Fills in the tenant's configuration: the estimate for phase changes,
    /// the late-evidence rule (and the estimate it would go back to) for
    /// documents.
    fn with_configuration(
        &self,
        env: &Envelope,
        case: &Case,
        command: &CaseCommand,
        now: DateTime<Utc>,
    ) -> Result<CaseCommand, EngineError> {
        match (command, case.file()) {
            (
                CaseCommand::ChangePhase {
                    to,
                    reason,
                    estimate: None,
                },
                Some(file),
            ) => Ok(CaseCommand::ChangePhase {
                to: *to,
                reason: reason.clone(),
                estimate: self.tenant(&env.tenant)?.estimate(&file.benefit, *to, now),
            }),
            (CaseCommand::AttachDocument(doc), Some(file)) => {
                let tenant = self.tenant(&env.tenant)?;
                let on_late = match tenant.late_evidence {
                    LateEvidenceRule::PhaseBack => LateEvidence::PhaseBack {
                        estimate: tenant.estimate(
                            &file.benefit,
                            domain::Phase::GatheringOfEvidence,
                            now,
                        ),
                    },
                    LateEvidenceRule::WorkItem => LateEvidence::WorkItem,
                };
                Ok(CaseCommand::AttachDocument(AttachDocument {
                    on_late,
                    ..doc.clone()
                }))
            }
            _ => Ok(command.clone()),
        }
    }

    /// What else must be written with events that end a case: its unique
    /// key is released, and an appeal case reports back to its original.
    async fn follow_ups(
        &self,
        env: &Envelope,
        ctx: &Ctx,
        case: &Case,
        events: &[CaseEvent],
        batch: &mut AppendBatch,
        states: &mut Vec<(Uuid, Case, u64)>,
    ) -> Result<(), EngineError> {
        let Some(file) = case.file() else {
            return Ok(());
        };
        if !events.iter().any(CaseEvent::ends_case) {
            return Ok(());
        }
        let id = file.id.as_uuid();
        match file.appeal_of {
            None => batch
                .release_keys
                .push((open_claim_key(file.claimant, &file.benefit), id)),
            Some(link) => {
                batch.release_keys.push((appeal_key(&link), id));
                let (original, version) = self.load_case(&env.tenant, link.original_case).await?;
                let command = CaseCommand::ConcludeAppeal {
                    appeal_case: file.id,
                };
                match original.decide(&command, ctx) {
                    Ok(events) if !events.is_empty() => {
                        let metadata = Self::metadata(env, command.name())?;
                        let oid = link.original_case.as_uuid();
                        batch
                            .streams
                            .push(Self::stream_write::<Case>(oid, version, &events, &metadata));
                        let state = events.iter().fold(original, |s, e| s.evolve(e));
                        states.push((oid, state, version + events.len() as u64));
                    }
                    // Already concluded: nothing to report.
                    Ok(_) | Err(DomainError::AppealNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Appeals a decided contention: the original case records the appeal
    /// and a linked appeal case opens, atomically. A second active appeal of
    /// the same contention is refused with `DUPLICATE_APPEAL`, also when two
    /// race.
    pub async fn file_appeal(
        &self,
        env: &Envelope,
        original: CaseId,
        contention: ContentionId,
        entry: NewChannelEntry,
    ) -> Result<CommandResult, EngineError> {
        let config = self.tenant(&env.tenant)?;
        let fingerprint = Self::fingerprint(env, || {
            Fingerprint::of(
                "appeal",
                &json!({
                    "caseId": original.to_string(),
                    "contentionId": contention.to_string(),
                    "channel": entry.channel.code(),
                    "externalId": entry.external_id.as_str(),
                }),
            )
            .or_legacy(sha256_hex(&[
                "appeal",
                &original.to_string(),
                &contention.to_string(),
                entry.channel.code(),
                entry.external_id.as_str(),
            ]))
        });
        if let Some(result) = self.replay(env, &fingerprint).await? {
            return Ok(result);
        }
        let _queued = self.locks.lock((&env.tenant, original.as_uuid())).await;
        let (entry, fingerprint) = (&entry, &fingerprint);
        let done = retry::retrying((), |(), _| async move {
            let ctx = Self::ctx(env);
            let (case, version) = self.load_case(&env.tenant, original).await?;
            let file = case.file().ok_or(DomainError::ClaimNotFound)?;
            let description = file
                .contentions
                .iter()
                .find(|c| c.id == contention)
                .map(|c| c.description.clone())
                .ok_or(DomainError::ContentionNotFound(contention))?;
            let appeal_id = CaseId::generate();
            let file_appeal = CaseCommand::FileAppeal {
                contention,
                appeal_case: appeal_id,
            };
            let original_events = case.decide(&file_appeal, &ctx)?;
            let link = AppealLink {
                original_case: original,
                contention,
            };
            let submit = CaseCommand::SubmitClaim(SubmitClaim {
                case_id: appeal_id,
                claimant: file.claimant,
                benefit: file.benefit.clone(),
                contentions: vec![NewContention {
                    id: ContentionId::generate(),
                    description,
                }],
                entry: entry.clone(),
                appeal_of: Some(link),
                estimate: config.estimate(&file.benefit, Phase::ClaimReceived, ctx.now),
            });
            let appeal_events = Case::Nonexistent.decide(&submit, &ctx)?;
            let metadata = Self::metadata(env, "FileAppeal")?;
            let writes = vec![
                Self::stream_write::<Case>(
                    original.as_uuid(),
                    version,
                    &original_events,
                    &metadata,
                ),
                Self::stream_write::<Case>(appeal_id.as_uuid(), 0, &appeal_events, &metadata),
            ];
            let appeal_version = appeal_events.len() as u64;
            let result = Self::result(
                appeal_id.as_uuid(),
                appeal_version,
                Outcome::Created,
                &writes,
            );
            let batch = AppendBatch {
                idempotency: Self::idempotency(env, fingerprint, &result)?,
                streams: writes,
                claim_keys: vec![(appeal_key(&link), appeal_id.as_uuid())],
                recorded_at: Some(ctx.now),
                ..Default::default()
            };
            let states = vec![
                (
                    original.as_uuid(),
                    original_events
                        .iter()
                        .fold(case.clone(), |s, e| s.evolve(e)),
                    version + original_events.len() as u64,
                ),
                (
                    appeal_id.as_uuid(),
                    Case::replay(&appeal_events),
                    appeal_version,
                ),
            ];
            match self.commit(env, &batch, states).await {
                Err(StoreError::KeyTaken { .. }) => {
                    Err(DomainError::DuplicateAppeal(contention).into())
                }
                committed => {
                    self.settled(env, fingerprint, committed, result, |e| {
                        matches!(e, StoreError::VersionConflict { .. })
                    })
                    .await
                }
            }
        })
        .await?;
        if let Ok(result) = done {
            return Ok(result);
        }
        Err(EngineError::VersionConflict { current: 0 })
    }

    /// Registers a claimant; the file number is unique per tenant.
    pub async fn register_claimant(
        &self,
        env: &Envelope,
        pii: ClaimantPii,
    ) -> Result<CommandResult, EngineError> {
        self.tenant(&env.tenant)?;
        let fingerprint = Self::fingerprint(env, || {
            Fingerprint::of("register", &fingerprint::pii(&pii))
                .or_legacy(sha256_hex(&["register", &pii_fingerprint(&pii)]))
        });
        if let Some(result) = self.replay(env, &fingerprint).await? {
            return Ok(result);
        }
        let key = file_number_key(&pii.file_number);
        if let Some(existing) = self.log.key_holder(&env.tenant, &key).await? {
            return Err(EngineError::ClaimantAlreadyRegistered {
                existing: ClaimantId::from_uuid(existing),
            });
        }
        let id = ClaimantId::generate();
        let ctx = Self::ctx(env);
        let command = ClaimantCommand::Register { id, pii };
        let events = Claimant::Unknown.decide(&command, &ctx)?;
        let metadata = Self::metadata(env, "RegisterClaimant")?;
        let write = Self::stream_write::<Claimant>(id.as_uuid(), 0, &events, &metadata);
        let result = Self::result(
            id.as_uuid(),
            events.len() as u64,
            Outcome::Created,
            std::slice::from_ref(&write),
        );
        let batch = AppendBatch {
            idempotency: Self::idempotency(env, &fingerprint, &result)?,
            streams: vec![write],
            claim_keys: vec![(key, id.as_uuid())],
            recorded_at: Some(ctx.now),
            ..Default::default()
        };
        match self.log.append(&env.tenant, &batch).await {
            Ok(_) => Ok(result),
            Err(StoreError::KeyTaken { holder, .. }) => {
                Err(EngineError::ClaimantAlreadyRegistered {
                    existing: ClaimantId::from_uuid(holder),
                })
            }
            Err(StoreError::IdempotencyKeyTaken) => self.replay_after_race(env, &fingerprint).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Runs a command against a registered claimant. A corrected file
    /// number moves the claimant's file-number key in the same transaction.
    pub async fn execute_claimant(
        &self,
        env: &Envelope,
        id: ClaimantId,
        command: ClaimantCommand,
    ) -> Result<CommandResult, EngineError> {
        self.tenant(&env.tenant)?;
        let fingerprint = Self::fingerprint(env, || {
            let (kind, mut fields) = fingerprint::claimant_command(&command);
            fields["claimantId"] = json!(id.to_string());
            Fingerprint::of(&kind, &fields).or_legacy(match &command {
                ClaimantCommand::Register { pii, .. } | ClaimantCommand::CorrectPii { pii } => {
                    sha256_hex(&[&id.to_string(), command.name(), &pii_fingerprint(pii)])
                }
                other => sha256_hex(&[&id.to_string(), &format!("{other:?}")]),
            })
        });
        if let Some(result) = self.replay(env, &fingerprint).await? {
            return Ok(result);
        }
        let (claimant, version) = self.load_claimant(&env.tenant, id).await?;
        if let Some(expected) = env.expected_version {
            if expected != version {
                return Err(EngineError::VersionConflict { current: version });
            }
        }
        let ctx = Self::ctx(env);
        let events = claimant.decide(&command, &ctx)?;
        let metadata = Self::metadata(env, command.name())?;
        let mut batch = AppendBatch {
            recorded_at: Some(ctx.now),
            ..Default::default()
        };
        if !events.is_empty() {
            batch.streams.push(Self::stream_write::<Claimant>(
                id.as_uuid(),
                version,
                &events,
                &metadata,
            ));
        }
        if let (ClaimantCommand::CorrectPii { pii }, Some(record)) = (&command, claimant.record()) {
            if pii.file_number != record.pii.file_number {
                batch
                    .release_keys
                    .push((file_number_key(&record.pii.file_number), id.as_uuid()));
                batch
                    .claim_keys
                    .push((file_number_key(&pii.file_number), id.as_uuid()));
            }
        }
        let outcome = if events.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        };
        let result = Self::result(
            id.as_uuid(),
            version + events.len() as u64,
            outcome,
            &batch.streams,
        );
        batch.idempotency = Self::idempotency(env, &fingerprint, &result)?;
        if batch.streams.is_empty() && batch.idempotency.is_none() {
            return Ok(result);
        }
        match self.log.append(&env.tenant, &batch).await {
            Ok(_) => Ok(result),
            Err(StoreError::VersionConflict { current, .. }) => {
                Err(EngineError::VersionConflict { current })
            }
            Err(StoreError::KeyTaken { holder, .. }) => {
                Err(EngineError::ClaimantAlreadyRegistered {
                    existing: ClaimantId::from_uuid(holder),
                })
            }
            Err(StoreError::IdempotencyKeyTaken) => self.replay_after_race(env, &fingerprint).await,
            Err(e) => Err(e.into()),
        }
    }
}
