//! Channel intake: every submission, whatever the channel, is checked
//! against the versioned contract (`schemas/channel-submission.v1.json`),
//! authorized against the channel's rules, matched to a claimant and turned
//! into commands. Mail-scan batches are filed document by document
//! ([`mail`]); documents whose claimant cannot be matched wait in the
//! unidentified-mail queue until an agent resolves them.
//!
//! A new channel is configuration, not code: a [`ChannelRule`] names the
//! submission kinds it may send and the principals allowed to send them.

pub mod contract;
pub mod mail;

pub use contract::{Contract, Kind, Submission};

use domain::case::{
    AttachDocument, ContactKind, DocumentFiling, LateEvidence, NewChannelEntry, NewContact,
};
use domain::*;
use engine::{ClaimSubmission, CommandResult, Engine, EngineError, Envelope, Fingerprint, Outcome};
use projections::ReadDb;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// Whose submission a filing is.
enum Who<'a> {
    /// Match the claimant from the submission's identification now.
    Match,
    /// Chosen by an agent (resolving unidentified mail).
    Resolved(ClaimantId),
    /// Matched already by a mail batch (`None`: no one matched), filed
    /// within a group that reads each claimant's context once.
    Matched(Option<ClaimantId>, &'a mut GroupReads),
}

/// What a mail group reads once per claimant rather than per document: the
/// claimant's record (for the relation checks) and their open cases (where
/// follow-ups go). Mail never changes a claimant; a filing that may open or
/// close a case forgets the claimant's open cases.
#[derive(Default)]
pub(crate) struct GroupReads {
    claimants: HashMap<ClaimantId, domain::claimant::Claimant>,
    open_cases: HashMap<ClaimantId, Vec<CaseId>>,
}

/// A coded refusal, safe to show to the sender (no personal data).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IntakeError {
    pub code: ErrorCode,
    pub message: String,
    /// What the refusal is about, by field name (ids, statuses): values
    /// are never in the message.
    pub details: Vec<(&'static str, domain::Detail)>,
}

impl IntakeError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

impl From<ParseError> for IntakeError {
    fn from(e: ParseError) -> Self {
        IntakeError::new(ParseError::CODE, e.to_string())
    }
}

impl From<EngineError> for IntakeError {
    fn from(e: EngineError) -> Self {
        let message = match &e {
            EngineError::Store(_) | EngineError::Decode(_) | EngineError::Encode(_) => {
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut refused = IntakeError::new(e.code(), message);
        if let EngineError::Domain(d) = &e {
            refused.details = d.details();
        }
        refused
    }
}

impl From<projections::ReadError> for IntakeError {
    fn from(e: projections::ReadError) -> Self {
        IntakeError::new(e.code(), "read model unavailable")
    }
}

/// What a registered integrator channel may do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelRule {
    pub kinds: BTreeSet<Kind>,
    /// Principals (token subjects) allowed to submit through it.
    pub principals: BTreeSet<String>,
}

/// Per tenant: registered channels and accepted document types.
#[derive(Clone, Debug, Default)]
pub struct TenantIntake {
    pub channels: BTreeMap<String, ChannelRule>,
    /// Empty: [`DEFAULT_DOCUMENT_TYPES`].
    pub document_types: BTreeSet<String>,
    /// Integrator principals (scanning systems) allowed to send MAIL_SCAN;
    /// staff always may.
    pub mail_scanners: BTreeSet<String>,
}

pub const DEFAULT_DOCUMENT_TYPES: &[&str] = &[
    "CLAIM_FORM",
    "MEDICAL_RECORD",
    "SERVICE_RECORD",
    "DD214",
    "WAIVER_5103",
    "WITHDRAWAL_REQUEST",
    "CORRESPONDENCE",
    "EVIDENCE",
    "APPEAL_FORM",
];

#[derive(Clone, Debug, Default)]
pub struct Registry(pub HashMap<TenantId, TenantIntake>);

impl Registry {
    fn tenant(&self, tenant: &TenantId) -> Option<&TenantIntake> {
        self.0.get(tenant)
    }

    /// The document types this agency accepts, sorted: its configured
    /// list (`tenants.<id>.document_types`), or the built-in one.
    pub fn document_types(&self, tenant: &TenantId) -> Vec<String> {
        let mut types: Vec<String> =
            match self.tenant(tenant).filter(|t| !t.document_types.is_empty()) {
                Some(t) => t.document_types.iter().cloned().collect(),
                None => DEFAULT_DOCUMENT_TYPES
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect(),
            };
        types.sort();
        types
    }

    pub fn accepts_document_type(&self, tenant: &TenantId, document_type: &str) -> bool {
        match self.tenant(tenant).filter(|t| !t.document_types.is_empty()) {
            Some(t) => t.document_types.contains(document_type),
            None => DEFAULT_DOCUMENT_TYPES.contains(&document_type),
        }
    }

    /// The agency's rule for a document type on every channel: accepted,
    /// or `UNKNOWN_DOCUMENT_TYPE`.
    pub fn require_document_type(
        &self,
        tenant: &TenantId,
        document_type: &str,
    ) -> Result<(), IntakeError> {
        if self.accepts_document_type(tenant, document_type) {
            return Ok(());
        }
        Err(IntakeError::new(
            ErrorCode::UnknownDocumentType,
            "the document type (documentType) is not one this agency accepts (GET /intake/document-types, GraphQL documentTypes)",
        ))
    }
}

/// Who is submitting, from the authenticated principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// A citizen, for themself only.
    Citizen(ClaimantId),
    /// Agency staff (mailroom, counter, call center, caseworkers).
    Staff,
    /// A system of an integrator or of the agency.
    Integrator,
    /// The agency's own tooling on the host (`omnicase submit`, `seed`,
    /// imports): files what a channel already accepted, as that channel
    /// recorded it. The channel, representative and restricted-record checks
    /// were the channel's to make and are not made again; the contract, claimant
    /// matching (registering a fully identified person on any channel),
    /// deduplication and idempotency apply as on every path.
    Operator,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub actor: ActorId,
    pub kind: CallerKind,
    /// May act on restricted records.
    pub sensitive: bool,
    /// Staff: the office they work in.
    pub office: Option<String>,
}

impl Caller {
    /// A caller of `kind` without the `SENSITIVE` permission or an office
    /// (an operator filing from the CLI, the demo data, a load generator).
    pub fn new(tenant: TenantId, actor: ActorId, kind: CallerKind) -> Self {
        Self {
            tenant,
            actor,
            kind,
            sensitive: false,
            office: None,
        }
    }
}

/// What a submission led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filed {
    /// On a case (opened, joined as a duplicate, or updated).
    Case {
        case_id: Uuid,
        version: u64,
        outcome: Outcome,
        replayed: bool,
    },
    /// No claimant (or no open case) could be matched: waiting for an agent.
    Unidentified { reason: ErrorCode },
}

pub struct Intake {
    pub contract: Contract,
    engine: Arc<Engine>,
    read: ReadDb,
    registry: Registry,
}

/// Deterministic ids for things a submission creates, so a replay names
/// the same document.
fn derived(parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn filed(r: CommandResult) -> Filed {
    Filed::Case {
        case_id: r.stream_id,
        version: r.version,
        outcome: r.outcome,
        replayed: r.replayed,
    }
}

impl Intake {
    pub fn new(engine: Arc<Engine>, read: ReadDb, registry: Registry) -> Result<Intake, String> {
        Ok(Intake {
            contract: Contract::new()?,
            engine,
            read,
            registry,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// One submission document (bytes as received).
    pub async fn submit(&self, caller: &Caller, bytes: &[u8]) -> Result<Filed, IntakeError> {
        let submission = self.contract.submission(bytes)?;
        self.file(caller, &submission, None).await
    }

    /// May this caller send this kind through this channel?
    fn authorize(&self, caller: &Caller, s: &Submission) -> Result<(), IntakeError> {
        let refuse = |what: &str| {
            Err(IntakeError::new(
                ErrorCode::ChannelNotAllowed,
                format!("this channel takes submissions from {what} only"),
            ))
        };
        let citizen = matches!(caller.kind, CallerKind::Citizen(_));
        let operator = caller.kind == CallerKind::Operator;
        match &s.channel {
            Channel::Web => {
                if !citizen && !operator {
                    return refuse("citizens");
                }
                if !matches!(s.submitted_by, Submitter::Claimant) {
                    return Err(IntakeError::new(
                        ErrorCode::SubmitterMismatch,
                        "web submissions are made by the claimant",
                    ));
                }
            }
            Channel::MailScan => {
                let scanner = self
                    .registry
                    .tenant(&caller.tenant)
                    .is_some_and(|t| t.mail_scanners.contains(caller.actor.as_str()));
                if caller.kind != CallerKind::Staff
                    && !operator
                    && !(caller.kind == CallerKind::Integrator && scanner)
                {
                    return refuse("staff and configured scanners");
                }
            }
            Channel::InPerson | Channel::CallCenter => {
                if caller.kind != CallerKind::Staff && !operator {
                    return refuse("staff");
                }
            }
            Channel::Integrator(_) => {
                let rule = self
                    .registry
                    .tenant(&caller.tenant)
                    .and_then(|t| t.channels.get(s.channel.code()))
                    .ok_or_else(|| {
                        IntakeError::new(
                            ErrorCode::UnknownChannel,
                            "the channel (channel) is not registered for this agency",
                        )
                    })?;
                if !operator && !rule.principals.contains(caller.actor.as_str()) {
                    return Err(IntakeError::new(
                        ErrorCode::ChannelNotAllowed,
                        "this channel takes submissions only from the principals registered for it",
                    ));
                }
                if !rule.kinds.contains(&s.kind) {
                    return Err(IntakeError::new(
                        ErrorCode::KindNotAllowed,
                        "this channel does not accept this kind of submission (kind)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Finds (or, where staff are present, registers) the claimant.
    async fn claimant(
        &self,
        caller: &Caller,
        env: &Envelope,
        s: &Submission,
    ) -> Result<Option<ClaimantId>, IntakeError> {
        if let CallerKind::Citizen(own) = &caller.kind {
            // A citizen files only for themself; naming someone else is refused.
            if let Some(f) = &s.claimant.file_number {
                let found = self.engine.find_claimant(&caller.tenant, f).await?;
                if found != Some(*own) {
                    return Err(IntakeError::new(
                        ErrorCode::ClaimantMismatch,
                        "the claimant named is not you",
                    ));
                }
            }
            return Ok(Some(*own));
        }
        if let Some(found) = self.matching_claimant(&caller.tenant, &s.claimant).await? {
            return Ok(Some(found));
        }
        if s.claimant.file_number.is_none()
            && s.claimant.family_name.is_some()
            && s.claimant.birth_date.is_some()
        {
            // Named but not exactly one match: nobody is registered from it.
            return Ok(None);
        }
        // Staff at a counter or on the phone may register the person; so
        // may the operator, filing what a channel recorded.
        let staff_channel = matches!(s.channel, Channel::InPerson | Channel::CallCenter)
            || caller.kind == CallerKind::Operator;
        match (staff_channel, s.claimant.full_identity()) {
            (true, Some(pii)) => match self
                .engine
                .register_claimant(&Self::registration(env), pii)
                .await
            {
                Ok(r) => Ok(Some(ClaimantId::from_uuid(r.stream_id))),
                Err(EngineError::ClaimantAlreadyRegistered { existing }) => Ok(Some(existing)),
                Err(e) => Err(e.into()),
            },
            _ => Ok(None),
        }
    }

    /// The registered claimant a reference names: by file number when it
    /// has one; else by family name and birth date, narrowed by postcode
    /// and given name when present, where anything but exactly one
    /// candidate is no match. Reads only.
    pub(crate) async fn matching_claimant(
        &self,
        tenant: &TenantId,
        c: &contract::ClaimantRef,
    ) -> Result<Option<ClaimantId>, IntakeError> {
        if let Some(f) = &c.file_number {
            return Ok(self.engine.find_claimant(tenant, f).await?);
        }
        let (Some(family), Some(birth)) = (&c.family_name, c.birth_date) else {
            return Ok(None);
        };
        let candidates: Vec<_> = self
            .read
            .claimants_matching(tenant, family.as_str(), birth)
            .await?
            .into_iter()
            .filter(|m| {
                c.postcode
                    .as_ref()
                    .is_none_or(|p| projections::same_postcode(&m.postcode, p.as_str()))
            })
            .filter(|m| {
                c.given_name
                    .as_ref()
                    .is_none_or(|g| m.given_name.eq_ignore_ascii_case(g.as_str()))
            })
            .collect();
        Ok(match candidates.as_slice() {
            [one] => Some(ClaimantId::from_uuid(one.claimant_id)),
            _ => None,
        })
    }

    /// Representatives must hold the claimant's power of attorney;
    /// restricted records need the SENSITIVE permission.
    async fn check_relations(
        &self,
        caller: &Caller,
        claimant: ClaimantId,
        s: &Submission,
        reads: Option<&mut GroupReads>,
    ) -> Result<(), IntakeError> {
        let loaded;
        let state = match reads {
            Some(reads) => match reads.claimants.entry(claimant) {
                std::collections::hash_map::Entry::Occupied(known) => &*known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let (state, _) = self.engine.load_claimant(&caller.tenant, claimant).await?;
                    &*slot.insert(state)
                }
            },
            None => {
                loaded = self.engine.load_claimant(&caller.tenant, claimant).await?.0;
                &loaded
            }
        };
        let Some(record) = state.record() else {
            return Err(IntakeError::new(
                ErrorCode::ClaimantNotFound,
                "claimant not found",
            ));
        };
        if caller.kind == CallerKind::Operator {
            return Ok(());
        }
        if let Submitter::Representative(rep) = &s.submitted_by {
            if record.representative.as_ref().map(|r| &r.actor) != Some(rep) {
                return Err(IntakeError::new(
                    ErrorCode::RepresentativeNotAuthorized,
                    "the representative does not hold this claimant's power of attorney",
                ));
            }
        }
        let colleague = record
            .restriction
            .as_ref()
            .and_then(|r| r.office())
            .is_some_and(|office| caller.office.as_deref() == Some(office.as_str()));
        if colleague && !matches!(caller.kind, CallerKind::Citizen(_)) {
            return Err(IntakeError::new(
                ErrorCode::ColleagueConflict,
                "the claimant is an agency employee of your office; a colleague may not handle this intake",
            ));
        }
        if record.restriction.is_some()
            && !matches!(caller.kind, CallerKind::Citizen(_))
            && !caller.sensitive
        {
            return Err(IntakeError::new(
                ErrorCode::RestrictedRecord,
                "this claimant's record is restricted; an intake needs staff with the SENSITIVE permission",
            ));
        }
        Ok(())
    }

    /// Registering the person is its own command: its own key, and the
    /// person's data (not the submission) as its fingerprint.
    fn registration(env: &Envelope) -> Envelope {
        let mut reg = env.clone();
        reg.idempotency_key = env
            .idempotency_key
            .as_ref()
            .map(|k| format!("{k}:register"));
        reg.fingerprint = None;
        reg
    }

    /// Channel + external id is the idempotency key. A citizen's keys are
    /// scoped to them: two people can never replay into each other's result.
    fn envelope(caller: &Caller, s: &Submission, fingerprint: Option<Fingerprint>) -> Envelope {
        let key = match &caller.kind {
            CallerKind::Citizen(c) => format!("{}:{c}:{}", s.channel, s.external_id),
            _ => format!("{}:{}", s.channel, s.external_id),
        };
        let mut env = Envelope::new(caller.tenant.clone(), caller.actor.clone())
            .channel(s.channel.clone())
            .idempotency_key(key);
        env.fingerprint = Some(fingerprint.unwrap_or_else(|| {
            Fingerprint::of("intake:submission", &s.canonical())
                .or_legacy(hex::encode(Sha256::digest(format!("{s:?}").as_bytes())))
        }));
        env
    }

    /// The case a follow-up submission is about.
    async fn target_case(
        &self,
        caller: &Caller,
        claimant: ClaimantId,
        s: &Submission,
        reads: Option<&mut GroupReads>,
    ) -> Result<Option<CaseId>, IntakeError> {
        if let Some(id) = s.case_id {
            let (case, _) = self
                .engine
                .load_case(&caller.tenant, CaseId::from_uuid(id))
                .await?;
            return match case.file() {
                Some(f) if f.claimant == claimant => Ok(Some(f.id)),
                _ => Err(IntakeError::new(ErrorCode::NotFound, "not found")),
            };
        }
        if let Some(benefit) = &s.benefit {
            return Ok(self
                .engine
                .open_claim(&caller.tenant, claimant, benefit)
                .await?);
        }
        let known = reads
            .as_ref()
            .and_then(|r| r.open_cases.get(&claimant).cloned());
        let open = match known {
            Some(open) => open,
            None => {
                let open: Vec<CaseId> = self
                    .read
                    .cases_of_claimant(&caller.tenant, claimant.as_uuid(), 50, None)
                    .await?
                    .into_iter()
                    .filter(|c| !c.is_closed() && c.appeal_of.is_none())
                    .map(|c| CaseId::from_uuid(c.case_id))
                    .collect();
                if let Some(reads) = reads {
                    reads.open_cases.insert(claimant, open.clone());
                }
                open
            }
        };
        match open.len() {
            0 => Ok(None),
            1 => Ok(open.first().copied()),
            _ => Err(IntakeError::new(
                ErrorCode::AmbiguousCase,
                "the claimant has several open claims: give caseId or benefitType",
            )),
        }
    }

    /// Files a validated submission. `resolved` overrides claimant matching
    /// (an agent resolving unidentified mail).
    pub async fn file(
        &self,
        caller: &Caller,
        s: &Submission,
        resolved: Option<ClaimantId>,
    ) -> Result<Filed, IntakeError> {
        self.file_as(caller, s, resolved, None).await
    }

    /// As [`file`](Self::file), with the caller's own notion of "the same
    /// request" for idempotency (a transport whose submissions carry
    /// server-filled values, such as a default `receivedAt`).
    pub async fn file_as(
        &self,
        caller: &Caller,
        s: &Submission,
        resolved: Option<ClaimantId>,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Filed, IntakeError> {
        let who = resolved.map_or(Who::Match, Who::Resolved);
        self.filing(caller, s, who, fingerprint).await
    }

    /// As [`file`](Self::file) for a submission already matched to its
    /// claimant by [`matching_claimant`](Self::matching_claimant) (mail
    /// batches match every document before filing any).
    pub(crate) async fn file_matched(
        &self,
        caller: &Caller,
        s: &Submission,
        matched: Option<ClaimantId>,
        reads: &mut GroupReads,
    ) -> Result<Filed, IntakeError> {
        self.filing(caller, s, Who::Matched(matched, reads), None)
            .await
    }

    async fn filing(
        &self,
        caller: &Caller,
        s: &Submission,
        who: Who<'_>,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Filed, IntakeError> {
        let resolved = match &who {
            Who::Resolved(c) => Some(*c),
            _ => None,
        };
        self.authorize(caller, s)?;
        // The agency's accepted document types hold on every channel.
        for d in &s.documents {
            self.registry
                .require_document_type(&caller.tenant, d.document_type.as_str())?;
        }
        // An agent's choice of claimant is part of what is filed.
        let fingerprint = match (fingerprint, resolved) {
            (Some(f), Some(c)) => Some(Fingerprint {
                current: format!("{}:{c}", f.current),
                legacy: f.legacy.map(|l| format!("{l}:{c}")),
            }),
            (None, Some(c)) => {
                let mut canonical = s.canonical();
                canonical["resolvedClaimantId"] = serde_json::json!(c.to_string());
                Some(
                    Fingerprint::of("intake:submission", &canonical)
                        .or_legacy(hex::encode(Sha256::digest(format!("{s:?}:{c}").as_bytes()))),
                )
            }
            (f, None) => f,
        };
        let env = Self::envelope(caller, s, fingerprint);
        let now = chrono::Utc::now();
        if s.received_at > now + chrono::Duration::hours(1) {
            return Err(IntakeError::new(
                ErrorCode::ReceivedInFuture,
                "receivedAt is in the future",
            ));
        }
        // A citizen's own submission is received when it arrives: they
        // cannot back-date their claim date.
        let citizen_copy;
        let s = if matches!(caller.kind, CallerKind::Citizen(_)) {
            citizen_copy = Submission {
                received_at: now,
                ..s.clone()
            };
            &citizen_copy
        } else {
            s
        };
        let (claimant, mut reads) = match who {
            Who::Resolved(c) => (Some(c), None),
            Who::Matched(matched, reads) => (matched, Some(reads)),
            Who::Match => (self.claimant(caller, &env, s).await?, None),
        };
        let Some(claimant) = claimant else {
            return match s.channel {
                Channel::MailScan => Ok(Filed::Unidentified {
                    reason: ErrorCode::NoClaimantMatch,
                }),
                _ => Err(IntakeError::new(
                    ErrorCode::UnknownClaimant,
                    "no claimant matches the identification given",
                )),
            };
        };
        self.check_relations(caller, claimant, s, reads.as_deref_mut())
            .await?;
        let changes_open_cases = matches!(s.kind, Kind::NewClaim | Kind::Withdrawal | Kind::Appeal);
        if let (Some(reads), true) = (reads.as_deref_mut(), changes_open_cases) {
            // Forgotten before writing too: a filing that fails half-way
            // (a claim opened, its documents not attached) leaves no stale list.
            reads.open_cases.remove(&claimant);
        }
        let result = match s.kind {
            Kind::NewClaim => {
                let benefit = s
                    .benefit
                    .clone()
                    .ok_or_else(|| IntakeError::new(ErrorCode::MissingField, "benefitType"))?;
                let r = self
                    .engine
                    .submit_claim(
                        &env,
                        ClaimSubmission {
                            claimant,
                            benefit,
                            contentions: s.contentions.clone(),
                            channel: s.channel.clone(),
                            external_id: s.external_id.clone(),
                            received_at: s.received_at,
                            submitted_by: s.submitted_by.clone(),
                        },
                    )
                    .await?;
                let case = CaseId::from_uuid(r.stream_id);
                self.attach_documents(&env, case, s, DocumentFiling::WithSubmission)
                    .await?;
                r
            }
            kind => {
                let Some(case) = self
                    .target_case(caller, claimant, s, reads.as_deref_mut())
                    .await?
                else {
                    return match s.channel {
                        Channel::MailScan => Ok(Filed::Unidentified {
                            reason: ErrorCode::NoOpenCase,
                        }),
                        _ => Err(IntakeError::new(
                            ErrorCode::NoOpenCase,
                            "the claimant has no open claim to add this to",
                        )),
                    };
                };
                match kind {
                    Kind::AdditionalEvidence => {
                        self.attach_documents(&env, case, s, DocumentFiling::Evidence)
                            .await?
                    }
                    Kind::Waiver5103 | Kind::Withdrawal => {
                        // The signed form is filed with the request it makes.
                        self.attach_documents(&env, case, s, DocumentFiling::WithSubmission)
                            .await?;
                        let command = if s.kind == Kind::Waiver5103 {
                            CaseCommand::SubmitWaiver5103 {
                                received_at: s.received_at,
                            }
                        } else {
                            CaseCommand::Withdraw {
                                reason: s.reason.clone(),
                            }
                        };
                        self.engine.execute(&env, case, command).await?
                    }
                    Kind::Contact => {
                        let summary = s
                            .summary
                            .clone()
                            .ok_or_else(|| IntakeError::new(ErrorCode::MissingField, "summary"))?;
                        let contact = NewContact {
                            id: ContactId::from_uuid(derived(&[
                                caller.tenant.as_str(),
                                s.channel.code(),
                                s.external_id.as_str(),
                                "contact",
                            ])),
                            kind: ContactKind::Inbound,
                            channel: s.channel.clone(),
                            reason: s.reason.clone(),
                            summary,
                            follow_up: None,
                            occurred_at: s.received_at,
                        };
                        self.engine
                            .execute(&env, case, CaseCommand::RecordContact(contact))
                            .await?
                    }
                    Kind::Appeal => {
                        let contention = s.contention_id.ok_or_else(|| {
                            IntakeError::new(ErrorCode::MissingField, "contentionId")
                        })?;
                        let entry = NewChannelEntry {
                            id: EntryId::from_uuid(derived(&[
                                caller.tenant.as_str(),
                                s.channel.code(),
                                s.external_id.as_str(),
                                "entry",
                            ])),
                            channel: s.channel.clone(),
                            external_id: s.external_id.clone(),
                            received_at: s.received_at,
                            submitted_by: s.submitted_by.clone(),
                        };
                        self.engine
                            .file_appeal(&env, case, ContentionId::from_uuid(contention), entry)
                            .await?
                    }
                    Kind::NewClaim => {
                        return Err(IntakeError::new(ErrorCode::Internal, "unreachable"))
                    }
                }
            }
        };
        // Filings that open or close a case change where follow-ups go.
        if let (Some(reads), true) = (reads, changes_open_cases) {
            reads.open_cases.remove(&claimant);
        }
        Ok(filed(result))
    }

    /// Attaches the submission's documents (each idempotent by its own key);
    /// returns the last command's result (or the case as it is). Evidence
    /// without a request waits in the association queue; a claim's, a
    /// waiver's or a withdrawal's own documents are filed with it.
    async fn attach_documents(
        &self,
        env: &Envelope,
        case: CaseId,
        s: &Submission,
        filed_as: DocumentFiling,
    ) -> Result<CommandResult, IntakeError> {
        let mut last = None;
        for d in &s.documents {
            let mut doc_env = env.clone();
            // Scoped like the submission's own key (a citizen's carries
            // their claimant id), so documents of two senders never meet.
            let scope = env.idempotency_key.clone().unwrap_or_default();
            doc_env.idempotency_key = Some(format!("{scope}:doc:{}", d.document_id));
            let legacy = format!("{}:{}", d.document_id, d.checksum.as_str());
            doc_env.fingerprint = Some(
                Fingerprint::of(
                    "intake:document",
                    &serde_json::json!({"documentId": d.document_id, "checksum": d.checksum.as_str()}),
                )
                .or_legacy(legacy),
            );
            let id = derived(&[env.tenant.as_str(), &scope, &d.document_id]);
            let command = CaseCommand::AttachDocument(AttachDocument {
                id: DocumentId::from_uuid(id),
                document_type: d.document_type.clone(),
                pages: d.pages,
                checksum: d.checksum.clone(),
                storage_ref: d.storage_ref.clone(),
                received_at: s.received_at,
                channel: s.channel.clone(),
                request: s.request_id.map(RequestId::from_uuid),
                filed_as,
                on_late: LateEvidence::default(),
            });
            match self.engine.execute(&doc_env, case, command).await {
                Ok(r) => last = Some(r),
                // Already on the case (same document through another path).
                Err(EngineError::Domain(DomainError::DuplicateDocument(_))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match last {
            Some(r) => Ok(r),
            None => {
                let (_, version) = self.engine.load_case(&env.tenant, case).await?;
                Ok(CommandResult {
                    stream_id: case.as_uuid(),
                    version,
                    outcome: Outcome::Unchanged,
                    event_ids: Vec::new(),
                    replayed: false,
                })
            }
        }
    }
}
