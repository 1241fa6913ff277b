//! Mutations: one per domain command. Each takes an idempotency key
//! (replays return the original result) and returns the case's new version
//! with the claim as the read model shows it after the command.

use crate::context::{api, principal};
use crate::error::{ApiError, ApiResult};
use crate::query::parse_id;
use crate::types::{Adjudication, Claim, Phase, RequestStatus};
use app::auth::{Principal, Role};
use app::{channel_of, envelope, require, OWNER_OR_STAFF, STAFF};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use domain::case::{self as dc, ContactKind, NewContact, NewEvidenceRequest, RequestKind};
use domain::claimant::ClaimantPii;
use domain::ClaimantCommand;
use domain::*;
use engine::Fingerprint;
use engine::{CommandResult, Envelope};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CommandOutcome {
    Created,
    AttachedAsDuplicate,
    Updated,
    Unchanged,
}

impl From<engine::Outcome> for CommandOutcome {
    fn from(o: engine::Outcome) -> Self {
        match o {
            engine::Outcome::Created => CommandOutcome::Created,
            engine::Outcome::AttachedAsDuplicate => CommandOutcome::AttachedAsDuplicate,
            engine::Outcome::Updated => CommandOutcome::Updated,
            engine::Outcome::Unchanged => CommandOutcome::Unchanged,
        }
    }
}

/// What a command on a case did.
#[derive(SimpleObject)]
pub struct ClaimPayload {
    pub case_id: ID,
    /// The case version after the command.
    pub version: i64,
    pub outcome: CommandOutcome,
    /// True when this is the stored result of an earlier request with the
    /// same idempotency key.
    pub replayed: bool,
    /// The claim as the read model shows it after the command.
    pub claim: Option<Claim>,
}

#[derive(SimpleObject)]
pub struct ClaimantPayload {
    pub claimant_id: ID,
    pub version: i64,
    pub outcome: CommandOutcome,
    pub replayed: bool,
}

#[derive(SimpleObject)]
pub struct VerificationPayload {
    pub claimant_id: ID,
    pub verified_until: DateTime<Utc>,
}

#[derive(InputObject, Debug)]
pub struct SubmitClaimInput {
    /// Staff and integrators: whose claim. Citizens: omit (it is theirs).
    pub claimant_id: Option<ID>,
    pub benefit_type: String,
    /// The issues claimed, in plain words.
    pub contentions: Vec<String>,
    /// The channel's own id for this submission; defaults to the
    /// idempotency key.
    pub external_id: Option<String>,
    /// When the agency received it (postmark, counter time); defaults to now.
    pub received_at: Option<DateTime<Utc>>,
    /// Staff: IN_PERSON, CALL_CENTER, MAIL_SCAN or a registered channel.
    pub channel: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct RegisterClaimantInput {
    pub file_number: String,
    pub identity_number: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub postcode: String,
    #[graphql(default)]
    pub address_lines: Vec<String>,
}

#[derive(InputObject, Debug)]
pub struct RepresentativeInput {
    /// The representative's principal (their token's subject).
    pub actor: String,
    /// Power-of-attorney code of the accredited organization.
    pub poa_code: String,
}

#[derive(InputObject, Debug)]
pub struct GuardianInput {
    pub actor: String,
    pub relationship: String,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RestrictionInput {
    AgencyEmployee,
    ProtectedAddress,
}

#[derive(InputObject, Debug)]
pub struct DocumentInput {
    pub document_type: String,
    pub pages: i32,
    /// `sha256:` followed by 64 hex digits.
    pub checksum: String,
    pub storage_ref: String,
    pub received_at: Option<DateTime<Utc>>,
    /// The evidence request this document answers, if known.
    pub request_id: Option<ID>,
}

#[derive(InputObject, Debug)]
pub struct EvidenceRequestInput {
    pub description: String,
    /// True: NEEDED_FROM_YOU; false: NEEDED_FROM_OTHERS.
    pub needed_from_claimant: bool,
    pub due_date: NaiveDate,
    /// Internal items never shown to citizens.
    #[graphql(default)]
    pub suppressed: bool,
    /// The statutory 5103 evidence notice.
    #[graphql(default)]
    pub notice_5103: bool,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ContactKindInput {
    Inbound,
    Outbound,
    Note,
}

#[derive(InputObject, Debug)]
pub struct ContactInput {
    pub kind: ContactKindInput,
    pub reason: Option<String>,
    pub summary: String,
    pub follow_up: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    /// Defaults to CALL_CENTER for agents, IN_PERSON for other staff.
    pub channel: Option<String>,
}

/// An open evidence request closed with a decision proposal.
#[derive(InputObject, Debug)]
pub struct CloseRequestInput {
    pub request_id: ID,
    /// Why it is no longer required (shown to the claimant on the request).
    pub reason: String,
}

#[derive(InputObject, Debug)]
pub struct AdjudicationInput {
    pub contention_id: ID,
    pub adjudication: Adjudication,
}

fn text(field: &'static str, raw: &str) -> ApiResult<Text> {
    Ok(Text::parse(field, raw)?)
}

fn opt_text(field: &'static str, raw: Option<&str>) -> ApiResult<Option<Text>> {
    raw.map(|r| text(field, r)).transpose()
}

/// Identifies "the same request" for the idempotency key: the mutation and
/// the arguments the client sent (variables resolved), in canonical form
/// ([`engine::fingerprint`]): not the key itself, nor `expectedVersion`.
/// An argument added to a mutation later changes nothing for requests that
/// do not use it. `legacy` is what the previous form hashed (the `Debug`
/// output of the arguments), so records it wrote are still recognised.
fn fingerprint(ctx: &Context<'_>, legacy: &dyn std::fmt::Debug) -> ApiResult<Fingerprint> {
    let field = ctx.field();
    let name = field.name();
    let mut args = serde_json::Map::new();
    for (arg, value) in field
        .arguments()
        .map_err(|_| ApiError(app::Error::Internal))?
    {
        if arg.as_str() == "idempotencyKey" || arg.as_str() == "expectedVersion" {
            continue;
        }
        let value = value
            .into_json()
            .map_err(|_| ApiError(app::Error::Internal))?;
        args.insert(arg.to_string(), value);
    }
    Ok(
        Fingerprint::of(&format!("graphql:{name}"), &serde_json::Value::Object(args)).or_legacy(
            hex::encode(Sha256::digest(format!("{name}:{legacy:?}").as_bytes())),
        ),
    )
}

/// Debug text written as is (a legacy fingerprint's argument part).
struct AsIs(String);

impl std::fmt::Debug for AsIs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Server-side ids for things a command creates, derived from the
/// idempotency key so a replay names the same document / request.
fn derived_id(env: &Envelope, what: &str) -> Uuid {
    let seed = format!(
        "{}|{}|{what}",
        env.tenant,
        env.idempotency_key.as_deref().unwrap_or_default()
    );
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

struct Run<'a> {
    ctx: &'a Context<'a>,
    p: &'a Principal,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Context<'a>) -> ApiResult<Self> {
        Ok(Self {
            ctx,
            p: principal(ctx)?,
        })
    }

    /// Common path of a command on an existing case: visibility first (so a
    /// stranger's case is NOT_FOUND whatever the role), then role, then the
    /// engine, then wait for the read model.
    // One call shape shared by every case mutation; a parameter struct
    // would only rename these arguments.
    #[allow(clippy::too_many_arguments)]
    async fn on_case(
        &self,
        case_id: &ID,
        key: &str,
        roles: &[Role],
        expected_version: Option<i64>,
        args: &(dyn std::fmt::Debug + Sync),
        build: impl FnOnce(&Envelope, &domain::CaseFile) -> ApiResult<CaseCommand>,
    ) -> ApiResult<ClaimPayload> {
        let api = api(self.ctx)?;
        let id = parse_id(case_id)?;
        let file = api.actionable_case(self.p, id).await?;
        require(self.p, roles)?;
        let mut env = envelope(self.p, channel_of(self.p, None)?, key)?;
        env.fingerprint = Some(fingerprint(self.ctx, &(case_id, args))?);
        if let Some(v) = expected_version {
            env = env.expected_version(
                u64::try_from(v)
                    .map_err(|_| ApiError::bad_input("expectedVersion must be positive"))?,
            );
        }
        let command = build(&env, &file)?;
        let result = api
            .engine
            .execute(&env, CaseId::from_uuid(id), command)
            .await?;
        self.payload(result).await
    }

    async fn payload(&self, result: CommandResult) -> ApiResult<ClaimPayload> {
        let api = api(self.ctx)?;
        let view = api
            .await_case(&self.p.tenant, result.stream_id, result.version)
            .await?;
        // Only those who may read the claim get it back (not integrators).
        let claim = match view {
            Some(view) if api.may_see_claimant(self.p, view.claimant_id).await? => Some(Claim {
                view,
                staff: self.p.is_staff(),
            }),
            _ => None,
        };
        // A staff member who asked for the claim back read case data:
        // recorded before the answer, as for `claim(id)`.
        if claim.is_some() && self.p.is_staff() && self.ctx.look_ahead().field("claim").exists() {
            api.audit_reads(self.p, "READ_CLAIM", "CASE", [result.stream_id.to_string()])
                .await?;
        }
        Ok(ClaimPayload {
            case_id: ID(result.stream_id.to_string()),
            version: result.version as i64,
            outcome: result.outcome.into(),
            replayed: result.replayed,
            claim,
        })
    }
}

const CASEWORK: &[Role] = &[Role::Caseworker, Role::Supervisor];

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Files a claim. A second submission for the same claimant and benefit
    /// while a claim is open joins it (outcome ATTACHED_AS_DUPLICATE).
    async fn submit_claim(
        &self,
        ctx: &Context<'_>,
        input: SubmitClaimInput,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        let p = run.p;
        require(
            p,
            &[
                Role::Citizen,
                Role::Agent,
                Role::Caseworker,
                Role::Supervisor,
                Role::Integrator,
            ],
        )
        .map_err(ApiError)?;
        let claimant = match (&input.claimant_id, p.is_staff() || p.has(Role::Integrator)) {
            (Some(id), true) => ClaimantId::from_uuid(parse_id(id)?),
            (None, true) => return Err(ApiError::bad_input("claimantId is required").into()),
            (_, false) => {
                let own = p.claimant.ok_or(ApiError(app::Error::Forbidden))?;
                if input
                    .claimant_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() != own.to_string())
                {
                    return Err(ApiError(app::Error::NotFound).into());
                }
                own
            }
        };
        if p.is_staff() {
            // An agent files for a caller only once they verified who it is
            // (the answer names the person's open claim).
            api(ctx)?
                .require_verified(
                    p,
                    claimant.as_uuid(),
                    "SUBMIT_CLAIM",
                    "CLAIMANT",
                    &claimant.to_string(),
                )
                .await
                .map_err(ApiError)?;
        }
        let channel = channel_of(p, input.channel.as_deref()).map_err(ApiError)?;
        domain::ClientKey::parse(&idempotency_key).map_err(ApiError::from)?;
        // Filed through intake, so the channel rules (who may use which
        // channel, representatives, restricted records) are the same as for
        // every other path.
        let submission = intake::Submission {
            channel,
            external_id: ExternalId::parse(
                input.external_id.as_deref().unwrap_or(&idempotency_key),
            )
            .map_err(ApiError::from)?,
            received_at: input.received_at.unwrap_or_else(Utc::now),
            submitted_by: if p.is_staff() || p.has(Role::Integrator) {
                Submitter::Staff(p.subject.clone())
            } else {
                Submitter::Claimant
            },
            claimant: intake::contract::ClaimantRef::default(),
            kind: intake::Kind::NewClaim,
            benefit: Some(BenefitType::parse(&input.benefit_type).map_err(ApiError::from)?),
            case_id: None,
            contentions: input
                .contentions
                .iter()
                .map(|c| text("contentions", c))
                .collect::<ApiResult<_>>()?,
            contention_id: None,
            request_id: None,
            reason: None,
            summary: None,
            documents: Vec::new(),
        };
        let api = api(ctx)?;
        let filed = api
            .intake
            .file_as(
                &app::App::caller(p),
                &submission,
                Some(claimant),
                Some(fingerprint(ctx, &input)?),
            )
            .await
            .map_err(|e| ApiError(e.into()))?;
        let result = match filed {
            intake::Filed::Case {
                case_id,
                version,
                outcome,
                replayed,
            } => CommandResult {
                stream_id: case_id,
                version,
                outcome,
                event_ids: Vec::new(),
                replayed,
            },
            intake::Filed::Unidentified { .. } => return Err(ApiError(app::Error::NotFound).into()),
        };
        Ok(run.payload(result).await?)
    }

    /// Registers a claimant (counter or call-center staff).
    async fn register_claimant(
        &self,
        ctx: &Context<'_>,
        input: RegisterClaimantInput,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimantPayload> {
        let p = principal(ctx)?;
        require(p, &[Role::Agent, Role::Caseworker, Role::Supervisor]).map_err(ApiError)?;
        let mut env = envelope(p, channel_of(p, None).map_err(ApiError)?, &idempotency_key)
            .map_err(ApiError)?;
        env.fingerprint = Some(fingerprint(ctx, &input)?);
        let pii = pii_of(&input)?;
        let r = api(ctx)?
            .engine
            .register_claimant(&env, pii)
            .await
            .map_err(ApiError::from)?;
        Ok(ClaimantPayload {
            claimant_id: ID(r.stream_id.to_string()),
            version: r.version as i64,
            outcome: r.outcome.into(),
            replayed: r.replayed,
        })
    }

    /// Records that the agent verified the caller's identity; unlocks the
    /// case context and full identity values for 30 minutes.
    async fn record_identity_verification(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        method: String,
    ) -> async_graphql::Result<VerificationPayload> {
        let p = principal(ctx)?;
        require(p, STAFF).map_err(ApiError)?;
        let id = parse_id(&claimant_id)?;
        let api = api(ctx)?;
        let method = text("method", &method)?;
        if api
            .read
            .claimant(&p.tenant, id)
            .await
            .map_err(ApiError::from)?
            .is_none()
            || !api.may_see_claimant(p, id).await.map_err(ApiError)?
        {
            api.audit(
                p,
                "VERIFY_IDENTITY",
                "CLAIMANT",
                &id.to_string(),
                method.as_str(),
                "DENIED",
            )
            .await
            .map_err(ApiError)?;
            return Err(ApiError(api.refusal(p, id).await.map_err(ApiError)?).into());
        }
        let now = Utc::now();
        let until = now + chrono::Duration::minutes(30);
        api.read
            .record_verification(
                &p.tenant,
                p.subject.as_str(),
                id,
                method.as_str(),
                now,
                until,
            )
            .await
            .map_err(ApiError::from)?;
        api.audit(
            p,
            "VERIFY_IDENTITY",
            "CLAIMANT",
            &id.to_string(),
            method.as_str(),
            "ALLOWED",
        )
        .await
        .map_err(ApiError)?;
        Ok(VerificationPayload {
            claimant_id,
            verified_until: until,
        })
    }

    /// Attaches a document (evidence) to a claim, optionally answering a request.
    async fn attach_document(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        input: DocumentInput,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        let channel = channel_of(run.p, None).map_err(ApiError)?;
        // The agency's accepted types, as on every channel (`documentTypes`).
        api(ctx)?
            .intake
            .registry()
            .require_document_type(&run.p.tenant, &input.document_type)
            .map_err(|e| ApiError(e.into()))?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                OWNER_OR_STAFF,
                None,
                &input,
                |env, _| {
                    Ok(CaseCommand::AttachDocument(dc::AttachDocument {
                        id: DocumentId::from_uuid(derived_id(env, "document")),
                        document_type: DocumentType::parse(&input.document_type)?,
                        pages: u32::try_from(input.pages)
                            .map_err(|_| ApiError::bad_input("pages must not be negative"))?,
                        checksum: Checksum::parse(&input.checksum)?,
                        storage_ref: StorageRef::parse(&input.storage_ref)?,
                        received_at: input.received_at.unwrap_or_else(Utc::now),
                        channel,
                        request: input
                            .request_id
                            .as_ref()
                            .map(parse_id)
                            .transpose()?
                            .map(RequestId::from_uuid),
                        filed_as: dc::DocumentFiling::Evidence,
                        on_late: dc::LateEvidence::default(),
                    }))
                },
            )
            .await?)
    }

    /// Marks an evidence document that arrived without a request as
    /// answering none (it leaves the `UNLINKED_DOCUMENTS` queue), with the
    /// reason. Nothing changes for a document already linked or marked.
    async fn mark_document_needs_no_link(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        document_id: ID,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                STAFF,
                None,
                &(&document_id, &reason),
                |_, _| {
                    Ok(CaseCommand::MarkDocumentNeedsNoLink {
                        document: DocumentId::from_uuid(parse_id(&document_id)?),
                        reason: text("reason", &reason)?,
                    })
                },
            )
            .await?)
    }

    /// The caseworker has looked at evidence that arrived after evidence
    /// gathering (it leaves the `LATE_EVIDENCE` queue; the phase stays).
    async fn acknowledge_late_evidence(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        document_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                CASEWORK,
                None,
                &document_id,
                |_, _| {
                    Ok(CaseCommand::AcknowledgeLateEvidence {
                        document: DocumentId::from_uuid(parse_id(&document_id)?),
                    })
                },
            )
            .await?)
    }

    /// Links a document that arrived unlinked to an evidence request.
    async fn link_document(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        document_id: ID,
        request_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                STAFF,
                None,
                &(&document_id, &request_id),
                |_, _| {
                    Ok(CaseCommand::LinkDocument {
                        document: DocumentId::from_uuid(parse_id(&document_id)?),
                        request: RequestId::from_uuid(parse_id(&request_id)?),
                    })
                },
            )
            .await?)
    }

    /// Asks for evidence (a tracked item), incl. the statutory 5103 notice.
    async fn request_evidence(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        input: EvidenceRequestInput,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                CASEWORK,
                None,
                &input,
                |env, _| {
                    Ok(CaseCommand::RequestEvidence(NewEvidenceRequest {
                        id: RequestId::from_uuid(derived_id(env, "request")),
                        kind: if input.notice_5103 {
                            RequestKind::Notice5103
                        } else {
                            RequestKind::Standard
                        },
                        description: text("description", &input.description)?,
                        needed_from_claimant: input.needed_from_claimant,
                        suspense_date: input.due_date,
                        suppressed: input.suppressed,
                    }))
                },
            )
            .await?)
    }

    /// The claimant waives the wait after the 5103 notice.
    async fn submit_waiver_5103(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                OWNER_OR_STAFF,
                None,
                &(),
                |_, _| {
                    Ok(CaseCommand::SubmitWaiver5103 {
                        received_at: Utc::now(),
                    })
                },
            )
            .await?)
    }

    /// Moves an evidence request through review; `reason` says why (shown
    /// to the claimant on the request), e.g. when it is no longer required.
    async fn review_evidence(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        request_id: ID,
        status: RequestStatus,
        #[graphql(
            desc = "Why (shown to the claimant on the request), e.g. when it is no longer required."
        )]
        reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                CASEWORK,
                None,
                // The previous form knew no reason: with one, it is
                // another request than anything that form recorded.
                &AsIs(match &reason {
                    None => format!("{:?}", (&request_id, status)),
                    Some(r) => format!("{:?}", (&request_id, status, r)),
                }),
                |_, _| {
                    Ok(CaseCommand::ReviewEvidence {
                        request: RequestId::from_uuid(parse_id(&request_id)?),
                        to: status.into(),
                        reason: opt_text("reason", reason.as_deref())?,
                    })
                },
            )
            .await?)
    }

    /// Moves the case to another phase; moving back needs a plain-language reason.
    async fn change_phase(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        phase: Phase,
        reason: Option<String>,
        expected_version: Option<i64>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                CASEWORK,
                expected_version,
                &(phase, &reason),
                |_, _| {
                    Ok(CaseCommand::ChangePhase {
                        to: phase.into(),
                        reason: opt_text("reason", reason.as_deref())?,
                        estimate: None,
                    })
                },
            )
            .await?)
    }

    /// Assigns the case (to the caller when `assignee` is omitted). Taking a
    /// case someone else holds needs `reassign: true`.
    async fn assign_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        assignee: Option<String>,
        #[graphql(default)] reassign: bool,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        let p = run.p;
        let assignee = match assignee {
            Some(a) if a != p.subject.as_str() => {
                require(p, &[Role::Supervisor]).map_err(ApiError)?;
                ActorId::parse(&a).map_err(ApiError::from)?
            }
            _ => p.subject.clone(),
        };
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                &[Role::Caseworker, Role::Approver, Role::Supervisor],
                None,
                &(&assignee, reassign),
                |_, _| {
                    Ok(CaseCommand::Assign {
                        assignee: assignee.clone(),
                        reassign,
                    })
                },
            )
            .await?)
    }

    async fn unassign_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(&case_id, &idempotency_key, CASEWORK, None, &(), |_, _| {
                Ok(CaseCommand::Unassign)
            })
            .await?)
    }

    async fn route_to_team(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        team: String,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(&case_id, &idempotency_key, CASEWORK, None, &team, |_, _| {
                Ok(CaseCommand::RouteToTeam {
                    team: TeamCode::parse(&team)?,
                })
            })
            .await?)
    }

    /// Records a contact or note; it appears in the case timeline.
    async fn record_contact(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        input: ContactInput,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        let channel = channel_of(run.p, input.channel.as_deref()).map_err(ApiError)?;
        Ok(run
            .on_case(&case_id, &idempotency_key, STAFF, None, &input, |env, _| {
                Ok(CaseCommand::RecordContact(NewContact {
                    id: ContactId::from_uuid(derived_id(env, "contact")),
                    kind: match input.kind {
                        ContactKindInput::Inbound => ContactKind::Inbound,
                        ContactKindInput::Outbound => ContactKind::Outbound,
                        ContactKindInput::Note => ContactKind::Note,
                    },
                    channel,
                    reason: opt_text("reason", input.reason.as_deref())?,
                    summary: text("summary", &input.summary)?,
                    follow_up: opt_text("followUp", input.follow_up.as_deref())?,
                    occurred_at: input.occurred_at.unwrap_or_else(Utc::now),
                }))
            })
            .await?)
    }

    /// Proposes a decision on every contention (GRANTED or DENIED). Every
    /// evidence request must be answered first, or closed here with a
    /// reason (`closeRequests`); otherwise the answer is `OPEN_REQUESTS`
    /// with the open requests' ids in `extensions.requestIds`.
    async fn propose_decision(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        adjudications: Vec<AdjudicationInput>,
        #[graphql(default)] close_requests: Vec<CloseRequestInput>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                &[Role::Caseworker],
                None,
                &AsIs(match close_requests.is_empty() {
                    true => format!("{adjudications:?}"),
                    false => format!("{:?}", (&adjudications, &close_requests)),
                }),
                |_, _| {
                    Ok(CaseCommand::ProposeDecision {
                        close_requests: close_requests
                            .iter()
                            .map(|c| {
                                Ok((
                                    RequestId::from_uuid(parse_id(&c.request_id)?),
                                    text("closeRequests.reason", &c.reason)?,
                                ))
                            })
                            .collect::<ApiResult<_>>()?,
                        adjudications: adjudications
                            .iter()
                            .map(|a| {
                                Ok((
                                    ContentionId::from_uuid(parse_id(&a.contention_id)?),
                                    match a.adjudication {
                                        Adjudication::Granted => dc::Adjudication::Granted,
                                        Adjudication::Denied => dc::Adjudication::Denied,
                                        Adjudication::Pending => dc::Adjudication::Pending,
                                    },
                                ))
                            })
                            .collect::<ApiResult<_>>()?,
                    })
                },
            )
            .await?)
    }

    /// Approves the proposed decision; the approver must not be the proposer.
    async fn approve_decision(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                &[Role::Approver],
                None,
                &(),
                |_, _| Ok(CaseCommand::ApproveDecision),
            )
            .await?)
    }

    /// Sends a proposed decision back for more work.
    async fn return_decision(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                &[Role::Approver, Role::Caseworker],
                None,
                &reason,
                |_, _| {
                    Ok(CaseCommand::ReturnDecision {
                        reason: text("reason", &reason)?,
                    })
                },
            )
            .await?)
    }

    /// The decision letter went out: the claim is COMPLETE.
    async fn mail_decision_letter(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        mailed_at: Option<DateTime<Utc>>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                &[Role::Caseworker, Role::Approver],
                None,
                &mailed_at,
                |_, _| {
                    Ok(CaseCommand::MailDecisionLetter {
                        mailed_at: mailed_at.unwrap_or_else(Utc::now),
                    })
                },
            )
            .await?)
    }

    /// Withdraws the claim (CLOSED, closeReason WITHDRAWN).
    async fn withdraw_claim(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                OWNER_OR_STAFF,
                None,
                &reason,
                |_, _| {
                    Ok(CaseCommand::Withdraw {
                        reason: opt_text("reason", reason.as_deref())?,
                    })
                },
            )
            .await?)
    }

    /// Closes the case as a duplicate of `survivorId` (CLOSED, MERGED).
    async fn merge_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        survivor_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        let survivor = parse_id(&survivor_id)?;
        let kept = api(ctx)?
            .actionable_case(run.p, survivor)
            .await
            .map_err(ApiError)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                CASEWORK,
                None,
                &survivor_id,
                |_, merged| {
                    // A duplicate merges into an open case of the same
                    // claimant and benefit, nowhere else.
                    let open = kept.closed.is_none() && kept.phase != domain::Phase::Complete;
                    if kept.claimant != merged.claimant || kept.benefit != merged.benefit || !open {
                        return Err(ApiError(app::Error::Refused {
                            code: domain::ErrorCode::InvalidSurvivor,
                            message: "merge into an open case of the same claimant and benefit"
                                .into(),
                        }));
                    }
                    Ok(CaseCommand::MergeInto {
                        survivor: CaseId::from_uuid(survivor),
                    })
                },
            )
            .await?)
    }

    /// Marks a request overdue (the timer does this; supervisors may too).
    async fn mark_request_overdue(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        request_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        Ok(run
            .on_case(
                &case_id,
                &idempotency_key,
                &[Role::Supervisor],
                None,
                &request_id,
                |_, _| {
                    Ok(CaseCommand::MarkRequestOverdue {
                        request: RequestId::from_uuid(parse_id(&request_id)?),
                    })
                },
            )
            .await?)
    }

    /// Appeals a decided contention: opens a linked appeal case.
    async fn file_appeal(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        contention_id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimPayload> {
        let run = Run::new(ctx)?;
        let p = run.p;
        let api = api(ctx)?;
        let id = parse_id(&case_id)?;
        api.actionable_case(p, id).await.map_err(ApiError)?;
        require(p, OWNER_OR_STAFF).map_err(ApiError)?;
        let channel = channel_of(p, None).map_err(ApiError)?;
        let mut env = envelope(p, channel.clone(), &idempotency_key).map_err(ApiError)?;
        env.fingerprint = Some(fingerprint(ctx, &(&case_id, &contention_id))?);
        let entry = dc::NewChannelEntry {
            id: EntryId::from_uuid(derived_id(&env, "entry")),
            channel,
            external_id: ExternalId::parse(&idempotency_key).map_err(ApiError::from)?,
            received_at: Utc::now(),
            submitted_by: if p.is_staff() {
                Submitter::Staff(p.subject.clone())
            } else {
                Submitter::Claimant
            },
        };
        let contention = ContentionId::from_uuid(parse_id(&contention_id)?);
        let result = api
            .engine
            .file_appeal(&env, CaseId::from_uuid(id), contention, entry)
            .await
            .map_err(ApiError::from)?;
        Ok(run.payload(result).await?)
    }

    /// An agent matched an unidentified scanned letter to a claimant: it is
    /// filed on that claimant's claim (or opens one, for a claim form).
    async fn resolve_unidentified_mail(
        &self,
        ctx: &Context<'_>,
        document_id: String,
        claimant_id: ID,
        case_id: Option<ID>,
    ) -> async_graphql::Result<crate::types::DocumentFiling> {
        let p = principal(ctx)?;
        require(p, STAFF).map_err(ApiError)?;
        let api = api(ctx)?;
        let claimant = parse_id(&claimant_id)?;
        if !api.may_see_claimant(p, claimant).await.map_err(ApiError)? {
            return Err(ApiError(api.refusal(p, claimant).await.map_err(ApiError)?).into());
        }
        let r = api
            .intake
            .resolve(
                &app::App::caller(p),
                &document_id,
                ClaimantId::from_uuid(claimant),
                case_id.as_ref().map(parse_id).transpose()?,
            )
            .await
            .map_err(|e| match e.code {
                domain::ErrorCode::NotFound => ApiError(app::Error::NotFound),
                code => ApiError(app::Error::RefusedNaming {
                    code,
                    message: e.message,
                    details: e.details,
                }),
            })?;
        api.projector.wake();
        Ok(crate::types::DocumentFiling {
            document_id: r.document_id,
            status: r.status,
            case_id: r.case_id.map(|c| ID(c.to_string())),
            error_code: r.error_code,
        })
    }

    /// Corrects a claimant's identity data (caseworkers).
    async fn correct_claimant_identity(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        input: RegisterClaimantInput,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimantPayload> {
        let pii = pii_of(&input)?;
        Ok(claimant_command(
            ctx,
            &claimant_id,
            &idempotency_key,
            CASEWORK,
            "correctClaimantIdentity",
            &input,
            ClaimantCommand::CorrectPii { pii },
        )
        .await?)
    }

    /// Sets or clears (omit `representative`) the power-of-attorney holder.
    async fn set_representative(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        representative: Option<RepresentativeInput>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimantPayload> {
        let rep = representative
            .as_ref()
            .map(|r| {
                Ok::<_, ApiError>(domain::claimant::Representative {
                    actor: ActorId::parse(&r.actor)?,
                    poa_code: text("poaCode", &r.poa_code)?,
                })
            })
            .transpose()?;
        Ok(claimant_command(
            ctx,
            &claimant_id,
            &idempotency_key,
            &[Role::Agent, Role::Caseworker, Role::Supervisor],
            "setRepresentative",
            &representative,
            ClaimantCommand::SetRepresentative(rep),
        )
        .await?)
    }

    /// Sets or clears the claimant's guardian.
    async fn set_guardian(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        guardian: Option<GuardianInput>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimantPayload> {
        let g = guardian
            .as_ref()
            .map(|g| {
                Ok::<_, ApiError>(domain::claimant::Guardian {
                    actor: ActorId::parse(&g.actor)?,
                    relationship: text("relationship", &g.relationship)?,
                })
            })
            .transpose()?;
        Ok(claimant_command(
            ctx,
            &claimant_id,
            &idempotency_key,
            CASEWORK,
            "setGuardian",
            &guardian,
            ClaimantCommand::SetGuardian(g),
        )
        .await?)
    }

    /// Replaces the safety flags and accessibility needs agents see first.
    async fn set_claimant_flags(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        safety: Vec<String>,
        accessibility: Vec<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimantPayload> {
        let flags = domain::claimant::Flags {
            safety: safety
                .iter()
                .map(|t| text("safety", t))
                .collect::<ApiResult<_>>()?,
            accessibility: accessibility
                .iter()
                .map(|t| text("accessibility", t))
                .collect::<ApiResult<_>>()?,
        };
        Ok(claimant_command(
            ctx,
            &claimant_id,
            &idempotency_key,
            &[Role::Agent, Role::Caseworker, Role::Supervisor],
            "setClaimantFlags",
            &(&safety, &accessibility),
            ClaimantCommand::SetFlags(flags),
        )
        .await?)
    }

    /// Restricts (or, with no `restriction`, unrestricts) a record; then
    /// only principals with the SENSITIVE permission see it, and for an
    /// agency employee never staff of their own `office`. Supervisors.
    async fn set_restriction(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        restriction: Option<RestrictionInput>,
        office: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<ClaimantPayload> {
        let office = opt_text("office", office.as_deref())?;
        let r = restriction.map(|r| match r {
            RestrictionInput::AgencyEmployee => domain::claimant::Restriction::AgencyEmployee {
                office: office.clone(),
            },
            RestrictionInput::ProtectedAddress => domain::claimant::Restriction::ProtectedAddress,
        });
        Ok(claimant_command(
            ctx,
            &claimant_id,
            &idempotency_key,
            &[Role::Supervisor],
            "setRestriction",
            &(&restriction, &office),
            ClaimantCommand::SetRestriction(r),
        )
        .await?)
    }
}

fn pii_of(input: &RegisterClaimantInput) -> ApiResult<ClaimantPii> {
    Ok(ClaimantPii {
        file_number: FileNumber::parse(&input.file_number)?,
        identity_number: input
            .identity_number
            .as_deref()
            .map(IdentityNumber::parse)
            .transpose()?,
        given_name: text("givenName", &input.given_name)?,
        family_name: text("familyName", &input.family_name)?,
        birth_date: input.birth_date,
        postcode: text("postcode", &input.postcode)?,
        address_lines: input
            .address_lines
            .iter()
            .map(|l| text("addressLines", l))
            .collect::<ApiResult<_>>()?,
    })
}

/// A command on a claimant record: visible to the caller (else NOT_FOUND),
/// then the role, then the engine.
async fn claimant_command(
    ctx: &Context<'_>,
    claimant_id: &ID,
    key: &str,
    roles: &[Role],
    name: &str,
    args: &(dyn std::fmt::Debug + Sync),
    command: ClaimantCommand,
) -> ApiResult<ClaimantPayload> {
    let p = principal(ctx)?;
    let api = api(ctx)?;
    let id = parse_id(claimant_id)?;
    let (claimant, _) = api
        .engine
        .load_claimant(&p.tenant, ClaimantId::from_uuid(id))
        .await?;
    if claimant.record().is_none() || !p.is_staff() || !api.may_see_claimant(p, id).await? {
        api.audit(p, "COMMAND", "CLAIMANT", &id.to_string(), name, "DENIED")
            .await?;
        return Err(ApiError(api.refusal(p, id).await?));
    }
    require(p, roles)?;
    let mut env = envelope(p, channel_of(p, None)?, key)?;
    env.fingerprint = Some(fingerprint(ctx, &(claimant_id, args))?);
    let r = api
        .engine
        .execute_claimant(&env, ClaimantId::from_uuid(id), command)
        .await?;
    api.projector.wake();
    Ok(ClaimantPayload {
        claimant_id: ID(r.stream_id.to_string()),
        version: r.version as i64,
        outcome: r.outcome.into(),
        replayed: r.replayed,
    })
}
