//! GraphQL output types. Each wraps a read-model document and decides per
//! field what the caller may see: citizens never see internal phases,
//! suppressed requests, contacts or assignment.

use async_graphql::{Enum, Object, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use projections::view::{CaseView, ClaimantView, RequestView, TimelineEntry};
use projections::QueueItem;

/// The unified claim status citizens see.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::CitizenStatus")]
pub enum ClaimStatus {
    Received,
    InitialReview,
    EvidenceGatheringReviewDecision,
    PreparationForNotification,
    Complete,
    Closed,
}

/// The eight internal phases (staff only).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::Phase")]
pub enum Phase {
    ClaimReceived,
    UnderReview,
    GatheringOfEvidence,
    ReviewOfEvidence,
    PreparationForDecision,
    PendingDecisionApproval,
    PreparationForNotification,
    Complete,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::status::RequestStatus")]
pub enum RequestStatus {
    NeededFromYou,
    NeededFromOthers,
    SubmittedAwaitingReview,
    InitialReviewComplete,
    Accepted,
    NoLongerRequired,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::case::Adjudication")]
pub enum Adjudication {
    Granted,
    Denied,
    Pending,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::case::ClaimOutcome")]
pub enum ClaimOutcome {
    Approved,
    Partial,
    Denied,
    Pending,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct EstimatedCompletion {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
    /// Why it last changed, in plain language.
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Contention {
    pub id: ID,
    pub description: String,
    pub adjudication: Adjudication,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Decision {
    pub outcome: ClaimOutcome,
    /// PROPOSED, APPROVED or NOTIFIED.
    pub status: String,
    pub letter_mailed_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PhaseStep {
    pub phase: Phase,
    pub entered_at: DateTime<Utc>,
    pub back: bool,
    pub reason: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct EvidenceRequest {
    pub id: ID,
    pub case_id: ID,
    /// STANDARD or NOTICE_5103.
    pub kind: String,
    pub description: String,
    pub status: RequestStatus,
    pub due_date: NaiveDate,
    /// Past its due date and still awaiting a submission, as of now.
    pub overdue: bool,
    pub requested_at: DateTime<Utc>,
    pub document_count: i32,
    /// Why it was closed without an answer (NO_LONGER_REQUIRED), when given.
    pub reason: Option<String>,
}

impl EvidenceRequest {
    /// `case_open`: whether the request's case is still open (nothing on
    /// an ended case is overdue).
    pub(crate) fn of(case_id: uuid::Uuid, case_open: bool, r: &RequestView) -> Self {
        EvidenceRequest {
            id: ID(r.id.to_string()),
            case_id: ID(case_id.to_string()),
            kind: r.kind.code().into(),
            description: r.description.clone(),
            status: r.status.into(),
            due_date: r.suspense_date,
            overdue: case_open && r.overdue_on(Utc::now().date_naive()),
            requested_at: r.requested_at,
            document_count: r.documents.len() as i32,
            reason: r.reason.clone(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Document {
    pub id: ID,
    pub document_type: String,
    pub pages: i32,
    pub received_at: DateTime<Utc>,
    pub channel: String,
    pub request_id: Option<ID>,
    /// Staff only: evidence filed without a request, waiting in the
    /// `UNLINKED_DOCUMENTS` queue until linked or marked as needing none.
    pub needs_link: Option<bool>,
    /// Staff only: why it needs no link to a request.
    pub no_link_reason: Option<String>,
    /// Staff only: evidence that arrived after evidence gathering, waiting
    /// in the `LATE_EVIDENCE` queue until the caseworker acknowledges it.
    pub late_evidence: Option<bool>,
}

impl Document {
    pub(crate) fn of(d: &projections::view::DocumentView, staff: bool) -> Self {
        Document {
            id: ID(d.id.to_string()),
            document_type: d.document_type.clone(),
            pages: d.pages as i32,
            received_at: d.received_at,
            channel: d.channel.clone(),
            request_id: d.request.map(|r| ID(r.to_string())),
            needs_link: staff.then_some(d.needs_link),
            no_link_reason: d.no_link_reason.clone().filter(|_| staff),
            late_evidence: staff.then_some(d.late),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ChannelEntry {
    pub id: ID,
    /// WEB, MAIL_SCAN, IN_PERSON, CALL_CENTER or a registered integrator channel.
    pub channel: String,
    pub external_id: String,
    /// When the agency received it (postmark, counter, portal).
    pub received_at: DateTime<Utc>,
    /// When omnicase learned of it.
    pub recorded_at: DateTime<Utc>,
    /// CLAIMANT, STAFF or REPRESENTATIVE.
    pub submitted_by: String,
    pub duplicate_of: Option<ID>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Contact {
    pub id: ID,
    pub case_id: ID,
    /// INBOUND, OUTBOUND or NOTE.
    pub kind: String,
    pub channel: String,
    pub agent: String,
    pub reason: Option<String>,
    pub summary: String,
    pub follow_up: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct TimelineItem {
    pub at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub kind: String,
    pub channel: Option<String>,
    /// Plain language.
    pub line: String,
}

impl From<&TimelineEntry> for TimelineItem {
    fn from(t: &TimelineEntry) -> Self {
        TimelineItem {
            at: t.at,
            recorded_at: t.recorded_at,
            kind: t.kind.clone(),
            channel: t.channel.clone(),
            line: t.line.clone(),
        }
    }
}

/// A claim (case) as the caller may see it.
pub struct Claim {
    pub(crate) view: CaseView,
    pub(crate) staff: bool,
}

#[Object]
impl Claim {
    async fn id(&self) -> ID {
        ID(self.view.case_id.to_string())
    }
    /// The case version this view reflects.
    async fn version(&self) -> i64 {
        self.view.version as i64
    }
    async fn claimant_id(&self) -> ID {
        ID(self.view.claimant_id.to_string())
    }
    async fn benefit_type(&self) -> &str {
        &self.view.benefit_type
    }
    /// The unified status: phases 3 to 6 fold into one, so internal
    /// back-and-forth never looks like regress.
    async fn status(&self) -> ClaimStatus {
        self.view.status.into()
    }
    /// Internal phase (staff only; null for citizens).
    async fn phase(&self) -> Option<Phase> {
        self.staff.then(|| self.view.phase.into())
    }
    async fn phase_changed_at(&self) -> DateTime<Utc> {
        self.view.phase_entered_at
    }
    /// The last phase change moved the case back (staff only).
    async fn phase_back(&self) -> Option<bool> {
        self.staff.then_some(self.view.phase_back)
    }
    async fn phase_back_reason(&self) -> Option<&str> {
        if self.staff {
            self.view.phase_back_reason.as_deref()
        } else {
            None
        }
    }
    /// Every phase the case went through (staff only; empty for citizens).
    async fn phase_history(&self) -> Vec<PhaseStep> {
        if !self.staff {
            return Vec::new();
        }
        self.view
            .phase_history
            .iter()
            .map(|s| PhaseStep {
                phase: s.phase.into(),
                entered_at: s.entered_at,
                back: s.back,
                reason: s.reason.clone(),
            })
            .collect()
    }
    /// The earliest receipt of any submission of this claim.
    async fn claim_date(&self) -> DateTime<Utc> {
        self.view.claim_date
    }
    async fn close_date(&self) -> Option<DateTime<Utc>> {
        self.view.close_date
    }
    /// WITHDRAWN or MERGED when the claim is CLOSED.
    async fn close_reason(&self) -> Option<&str> {
        self.view.close_reason.as_deref()
    }
    /// The case this one was merged into, as a duplicate.
    async fn merged_into(&self) -> Option<ID> {
        self.view.merged_into.map(|id| ID(id.to_string()))
    }
    async fn estimated_completion(&self) -> Option<EstimatedCompletion> {
        if self.view.is_closed() {
            return None;
        }
        self.view.estimate.as_ref().map(|e| EstimatedCompletion {
            earliest: e.earliest,
            latest: e.latest,
            reason: e.reason.clone(),
            changed_at: e.changed_at,
        })
    }
    async fn contentions(&self) -> Vec<Contention> {
        self.view
            .contentions
            .iter()
            .map(|c| Contention {
                id: ID(c.id.to_string()),
                description: c.description.clone(),
                adjudication: if self.staff || self.decision_notified() {
                    c.adjudication.into()
                } else {
                    Adjudication::Pending
                },
            })
            .collect()
    }
    /// The claim-level decision. Citizens see it once the letter is mailed.
    async fn decision(&self) -> Option<Decision> {
        let d = self.view.decision.as_ref()?;
        if !self.staff && d.status != domain::case::DecisionStatus::Notified {
            return None;
        }
        Some(Decision {
            outcome: d.outcome.into(),
            status: d.status.code().into(),
            letter_mailed_at: d.letter_mailed_at,
        })
    }
    /// Requests the claimant must act on now (never suppressed ones; none
    /// once the case has ended).
    async fn open_requests_for_you(&self) -> Vec<EvidenceRequest> {
        if self.view.is_closed() {
            return Vec::new();
        }
        self.view
            .requests
            .iter()
            .filter(|r| r.needs_claimant())
            .map(|r| EvidenceRequest::of(self.view.case_id, true, r))
            .collect()
    }
    /// All evidence requests; suppressed (internal) ones only for staff.
    async fn evidence_requests(&self) -> Vec<EvidenceRequest> {
        self.view
            .requests
            .iter()
            .filter(|r| self.staff || !r.suppressed)
            .map(|r| EvidenceRequest::of(self.view.case_id, !self.view.is_closed(), r))
            .collect()
    }
    #[graphql(name = "evidenceWaiverSubmitted5103")]
    async fn evidence_waiver_submitted_5103(&self) -> bool {
        self.view.evidence_waiver_submitted_5103
    }
    async fn documents(&self) -> Vec<Document> {
        self.view
            .documents
            .iter()
            .map(|d| Document::of(d, self.staff))
            .collect()
    }
    async fn channel_entries(&self) -> Vec<ChannelEntry> {
        self.view
            .entries
            .iter()
            .map(|e| ChannelEntry {
                id: ID(e.id.to_string()),
                channel: e.channel.clone(),
                external_id: e.external_id.clone(),
                received_at: e.received_at,
                recorded_at: e.recorded_at,
                submitted_by: e.submitted_by.clone(),
                duplicate_of: e.duplicate_of.map(|d| ID(d.to_string())),
            })
            .collect()
    }
    /// Staff only.
    async fn assignee(&self) -> Option<&str> {
        if self.staff {
            self.view.assignee.as_deref()
        } else {
            None
        }
    }
    /// Staff only.
    async fn team(&self) -> Option<&str> {
        if self.staff {
            self.view.team.as_deref()
        } else {
            None
        }
    }
    /// The original case, when this case is an appeal.
    async fn appeal_of(&self) -> Option<ID> {
        self.view.appeal_of.map(|id| ID(id.to_string()))
    }
}

impl Claim {
    fn decision_notified(&self) -> bool {
        self.view
            .decision
            .as_ref()
            .is_some_and(|d| d.status == domain::case::DecisionStatus::Notified)
    }

    /// The timeline this caller may see, in receivedAt order.
    pub(crate) fn timeline(view: &CaseView, staff: bool) -> Vec<TimelineItem> {
        let mut entries: Vec<&TimelineEntry> = view
            .timeline
            .iter()
            .filter(|t| staff || t.citizen_visible)
            .collect();
        entries.sort_by_key(|t| (t.at, t.recorded_at, t.version));
        entries.into_iter().map(TimelineItem::from).collect()
    }
}

/// A claimant's identity with values masked unless role and context allow.
pub struct ClaimantInfo {
    pub(crate) view: ClaimantView,
    pub(crate) full: bool,
}

fn mask_tail(value: &str, keep: usize) -> String {
    let n = value.chars().count();
    let tail: String = value.chars().skip(n.saturating_sub(keep)).collect();
    format!("{}{tail}", "*".repeat(n.saturating_sub(keep)))
}

#[Object]
impl ClaimantInfo {
    async fn id(&self) -> ID {
        ID(self.view.claimant_id.to_string())
    }
    async fn given_name(&self) -> &str {
        &self.view.given_name
    }
    async fn family_name(&self) -> &str {
        &self.view.family_name
    }
    /// Masked (`*****6789`) unless disclosed.
    async fn file_number(&self) -> String {
        if self.full {
            self.view.file_number.clone()
        } else {
            mask_tail(&self.view.file_number, 4)
        }
    }
    /// Masked (`***-**-6789`) unless disclosed.
    async fn identity_number(&self) -> Option<String> {
        let n = self.view.identity_number.as_ref()?;
        Some(if self.full {
            format!(
                "{}-{}-{}",
                &n[..3.min(n.len())],
                &n[3.min(n.len())..5.min(n.len())],
                &n[5.min(n.len())..]
            )
        } else {
            format!("***-**-{}", &n[n.len().saturating_sub(4)..])
        })
    }
    /// Full date when disclosed, else null (see `birthYear`).
    async fn birth_date(&self) -> Option<NaiveDate> {
        self.full.then_some(self.view.birth_date)
    }
    async fn birth_year(&self) -> i32 {
        use chrono::Datelike;
        self.view.birth_date.year()
    }
    /// Only when disclosed.
    async fn postcode(&self) -> Option<&str> {
        self.full.then_some(self.view.postcode.as_str())
    }
    /// The postal address registered for the person: in full when
    /// disclosed, otherwise each line masked but for its last three
    /// characters (enough to check what a caller says).
    async fn address_lines(&self) -> Vec<String> {
        self.view
            .address_lines
            .iter()
            .map(|l| {
                if self.full {
                    l.clone()
                } else {
                    mask_tail(l, 3)
                }
            })
            .collect()
    }
    /// Whether full identity values are shown.
    async fn disclosed(&self) -> bool {
        self.full
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Representative {
    pub actor: String,
    pub poa_code: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Guardian {
    pub actor: String,
    pub relationship: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Flags {
    pub representative: Option<Representative>,
    pub guardian: Option<Guardian>,
    pub safety: Vec<String>,
    pub accessibility: Vec<String>,
    /// Restricted records (agency employee, protected address) need the
    /// SENSITIVE permission.
    pub restricted: bool,
    pub restriction: Option<String>,
}

impl Flags {
    pub(crate) fn of(v: &ClaimantView) -> Flags {
        Flags {
            representative: v.representative.as_ref().map(|r| Representative {
                actor: r.actor.clone(),
                poa_code: r.poa_code.clone(),
            }),
            guardian: v.guardian.as_ref().map(|g| Guardian {
                actor: g.actor.clone(),
                relationship: g.relationship.clone(),
            }),
            safety: v.safety_flags.clone(),
            accessibility: v.accessibility_needs.clone(),
            restricted: v.restriction.is_some(),
            restriction: v.restriction.clone(),
        }
    }
}

/// What an agent needs in the first seconds of a call.
#[derive(SimpleObject)]
pub struct CaseContext {
    pub claimant: ClaimantInfo,
    /// False until the agent records identity verification for this
    /// caller; until then only the prompt and flags are shown.
    pub identity_verified: bool,
    pub verification_prompt: Option<String>,
    pub flags: Flags,
    pub open_claims: Vec<Claim>,
    /// Open requests across the open claims, with due dates.
    pub open_requests: Vec<EvidenceRequest>,
    /// The last five contacts across every case and channel.
    pub recent_contacts: Vec<Contact>,
}

/// A work-queue row: a case, or in the document queues one of its
/// documents.
pub struct WorkItem {
    pub(crate) item: QueueItem,
    pub(crate) document: Option<projections::view::DocumentView>,
}

#[Object]
impl WorkItem {
    async fn case_id(&self) -> ID {
        ID(self.item.case_id.to_string())
    }
    async fn claimant_id(&self) -> ID {
        ID(self.item.claimant_id.to_string())
    }
    async fn status(&self) -> ClaimStatus {
        self.item.status.into()
    }
    async fn phase(&self) -> Option<Phase> {
        Some(self.item.phase.into())
    }
    async fn assignee(&self) -> Option<&str> {
        self.item.assignee.as_deref()
    }
    async fn team(&self) -> Option<&str> {
        self.item.team.as_deref()
    }
    async fn phase_entered_at(&self) -> DateTime<Utc> {
        self.item.phase_entered_at
    }
    /// Aging: whole days in the current phase.
    async fn days_in_phase(&self) -> i64 {
        (Utc::now() - self.item.phase_entered_at).num_days()
    }
    async fn claim_date(&self) -> DateTime<Utc> {
        self.item.claim_date
    }
    async fn overdue_requests(&self) -> i64 {
        self.item.overdue_count
    }
    async fn awaiting_approval(&self) -> bool {
        self.item.awaiting_approval
    }
    async fn version(&self) -> i64 {
        self.item.version
    }
    /// In `UNLINKED_DOCUMENTS` and `LATE_EVIDENCE`: the document waiting.
    async fn document(&self) -> Option<Document> {
        self.document.as_ref().map(|d| Document::of(d, true))
    }
    /// In the document queues: whole days the document has waited.
    async fn days_waiting(&self) -> Option<i64> {
        self.document
            .as_ref()
            .map(|d| (Utc::now() - d.received_at).num_days())
    }
    /// Who the claim is for (identity values masked). Batched: a page of
    /// work items costs one claimant query, not one per row.
    async fn claimant(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<ClaimantInfo>> {
        let loader =
            ctx.data::<async_graphql::dataloader::DataLoader<crate::loaders::ClaimantLoader>>()?;
        let p = crate::context::principal(ctx)?;
        let view = loader
            .load_one((p.tenant.to_string(), self.item.claimant_id))
            .await?;
        Ok(view.map(|view| ClaimantInfo { view, full: false }))
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub roles: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub purpose: String,
    /// ALLOWED, DENIED or NOT_FOUND.
    pub outcome: String,
}

/// One time someone at the agency read (or was refused) a citizen's data:
/// the citizen's "data tracker".
#[derive(SimpleObject, Clone, Debug)]
pub struct DataAccess {
    pub at: DateTime<Utc>,
    /// The reader's office, when their token names one.
    pub office: Option<String>,
    /// The reader's staff roles (AGENT, CASEWORKER, APPROVER, SUPERVISOR).
    pub roles: Vec<String>,
    /// What was done, as a code (READ_CLAIM, READ_CASE_CONTEXT, …).
    pub action: String,
    /// The same in plain words.
    pub description: String,
    /// Why, as the reader gave it (call-center look-ups ask for one).
    pub purpose: Option<String>,
    /// ALLOWED, DENIED, UNVERIFIED, …
    pub outcome: String,
    /// The staff member, only where the agency chose to name them.
    pub reader: Option<String>,
}

/// A scanned letter no claimant (or no open claim) could be matched to.
#[derive(SimpleObject, Clone, Debug)]
pub struct UnidentifiedMailItem {
    pub document_id: String,
    pub batch_id: String,
    /// Postmark or mailroom date.
    pub received_at: DateTime<Utc>,
    pub document_type: Option<String>,
    pub page_count: Option<i64>,
    /// NO_CLAIMANT_MATCH or NO_OPEN_CASE.
    pub reason: Option<String>,
    /// What OCR read from the letter (may be wrong or missing).
    pub ocr_given_name: Option<String>,
    pub ocr_family_name: Option<String>,
    pub ocr_file_number: Option<String>,
    pub ocr_birth_date: Option<String>,
    pub ocr_postcode: Option<String>,
}

impl UnidentifiedMailItem {
    pub(crate) fn of(d: &projections::IntakeDocument) -> Self {
        let entry: serde_json::Value = serde_json::from_str(&d.entry).unwrap_or_default();
        let ocr = |k: &str| entry["ocr"][k].as_str().map(str::to_owned);
        UnidentifiedMailItem {
            document_id: d.document_id.clone(),
            batch_id: d.batch_id.clone(),
            received_at: d.received_at,
            document_type: entry["documentType"].as_str().map(str::to_owned),
            page_count: entry["pageCount"].as_i64(),
            reason: d.error_code.clone(),
            ocr_given_name: ocr("givenName"),
            ocr_family_name: ocr("familyName"),
            ocr_file_number: ocr("fileNumber"),
            ocr_birth_date: ocr("birthDate"),
            ocr_postcode: ocr("postcode"),
        }
    }
}

/// The outcome of filing one document.
#[derive(SimpleObject, Clone, Debug)]
pub struct DocumentFiling {
    pub document_id: String,
    /// ATTACHED, UNIDENTIFIED, REJECTED or RESOLVED.
    pub status: String,
    pub case_id: Option<ID>,
    pub error_code: Option<String>,
}
