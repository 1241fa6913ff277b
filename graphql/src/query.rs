//! Queries over the read models.

use crate::context::{api, principal, readable_case};
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use crate::Principal;
use app::auth::Role;
use app::{require, STAFF};
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, Object, ID};
use chrono::{DateTime, Utc};
use domain::FileNumber;
use projections::view::ClaimantView;
use projections::{DocumentCursor, DocumentQueue, QueueFilter, QueueItem};
use uuid::Uuid;

pub(crate) fn parse_id(id: &ID) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input("not a valid id"))
}

fn page_size(first: Option<i32>) -> ApiResult<i64> {
    match first.unwrap_or(20) {
        n @ 1..=100 => Ok(i64::from(n)),
        _ => Err(ApiError::bad_input("first must be between 1 and 100")),
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum QueueKind {
    Unassigned,
    /// Assigned to the caller.
    Mine,
    /// A team's queue (give `team`).
    Team,
    /// Proposed decisions awaiting a second pair of eyes (not the caller's own).
    AwaitingApproval,
    /// Cases with overdue evidence requests.
    Overdue,
    /// One item per evidence document filed without a request (scanned mail
    /// naming only the claim, an upload without a request): link it
    /// (`linkDocument`) or mark it as needing none
    /// (`markDocumentNeedsNoLink`). Longest waiting first.
    UnlinkedDocuments,
    /// One item per document of evidence that arrived after evidence
    /// gathering on a case assigned to the caller, where the agency's rule
    /// is a work item (or after the decision was approved): acknowledge it
    /// (`acknowledgeLateEvidence`) or move the case back to gathering.
    LateEvidence,
}

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// A claim by id. Citizens see only their own; anything else is
    /// NOT_FOUND, shaped exactly like a missing id.
    async fn claim(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Claim> {
        let (p, view) = readable_case(ctx, &id, "READ_CLAIM").await?;
        Ok(Claim {
            view,
            staff: p.is_staff(),
        })
    }

    /// The caller's own claims, newest first (citizens).
    async fn my_claims(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Claim, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        require(p, &[Role::Citizen]).map_err(ApiError)?;
        let claimant = p.claimant.ok_or(ApiError(app::Error::Forbidden))?;
        let n = page_size(first)?;
        let before = after
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|_| ApiError::bad_input("bad cursor"))?;
        let mut views = api(ctx)?
            .read
            .cases_of_claimant(&p.tenant, claimant.as_uuid(), n + 1, before)
            .await
            .map_err(ApiError::from)?;
        let has_next = views.len() as i64 > n;
        views.truncate(n as usize);
        let mut connection = Connection::new(before.is_some(), has_next);
        connection.edges.extend(
            views
                .into_iter()
                .map(|view| Edge::new(view.case_id.to_string(), Claim { view, staff: false })),
        );
        Ok(connection)
    }

    /// The caller's case context for a call: open claims, open requests with
    /// due dates, last contacts, flags. `purpose` is recorded in the audit
    /// log. Agents see claim details only after recording identity
    /// verification for this caller.
    async fn case_context(
        &self,
        ctx: &Context<'_>,
        claimant_id: ID,
        purpose: String,
    ) -> async_graphql::Result<CaseContext> {
        let p = principal(ctx)?;
        require(p, STAFF).map_err(ApiError)?;
        let id = parse_id(&claimant_id)?;
        let claimant = api(ctx)?
            .read
            .claimant(&p.tenant, id)
            .await
            .map_err(ApiError::from)?;
        Ok(context_for(ctx, claimant, &id.to_string(), &purpose).await?)
    }

    /// The same, looked up by file number.
    async fn case_context_by_file_number(
        &self,
        ctx: &Context<'_>,
        file_number: String,
        purpose: String,
    ) -> async_graphql::Result<CaseContext> {
        let p = principal(ctx)?;
        require(p, STAFF).map_err(ApiError)?;
        api(ctx)?
            .admit_lookup(p, "CASE_CONTEXT_BY_FILE_NUMBER", &purpose)
            .await
            .map_err(ApiError)?;
        let file_number = FileNumber::parse(&file_number).map_err(ApiError::from)?;
        let claimant = api(ctx)?
            .read
            .claimant_by_file_number(&p.tenant, &file_number)
            .await
            .map_err(ApiError::from)?;
        Ok(context_for(ctx, claimant, "by-file-number", &purpose).await?)
    }

    /// Call-center look-up by family name and birth date (narrowed by
    /// given name and postcode when given). One match: the case context;
    /// none: NOT_FOUND; several: AMBIGUOUS_MATCH (ask for the file number).
    async fn case_context_by_identity(
        &self,
        ctx: &Context<'_>,
        family_name: String,
        birth_date: chrono::NaiveDate,
        given_name: Option<String>,
        postcode: Option<String>,
        purpose: String,
    ) -> async_graphql::Result<CaseContext> {
        let p = principal(ctx)?;
        require(p, STAFF).map_err(ApiError)?;
        api(ctx)?
            .admit_lookup(p, "CASE_CONTEXT_BY_IDENTITY", &purpose)
            .await
            .map_err(ApiError)?;
        let candidates: Vec<ClaimantView> = api(ctx)?
            .read
            .claimants_matching(&p.tenant, &family_name, birth_date)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|c| {
                postcode
                    .as_deref()
                    .is_none_or(|pc| projections::same_postcode(&c.postcode, pc))
            })
            .filter(|c| {
                given_name
                    .as_deref()
                    .is_none_or(|g| c.given_name.eq_ignore_ascii_case(g))
            })
            .collect();
        // Count only people this caller may see: a restricted match must not
        // show through as "ambiguous".
        let mut visible = Vec::new();
        let mut restricted = None;
        for c in candidates {
            if api(ctx)?
                .may_see_claimant(p, c.claimant_id)
                .await
                .map_err(ApiError)?
            {
                visible.push(c);
            } else {
                restricted = Some(c);
            }
        }
        // Only a restricted match: that one goes through the refusal (a
        // RESTRICTED_RECORD notice, audited), never its data.
        if visible.is_empty() {
            if let Some(c) = restricted {
                return Ok(context_for(ctx, Some(c), "by-identity", &purpose).await?);
            }
        }
        let candidates = visible;
        if candidates.len() > 1 {
            return Err(ApiError(app::Error::Refused {
                code: domain::ErrorCode::AmbiguousMatch,
                message: "several people match: ask for the file number".into(),
            })
            .into());
        }
        Ok(context_for(ctx, candidates.into_iter().next(), "by-identity", &purpose).await?)
    }

    /// Scanned mail waiting to be matched to a claimant, oldest first (staff).
    async fn unidentified_mail(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, UnidentifiedMailItem, EmptyFields, EmptyFields>>
    {
        let p = principal(ctx)?;
        require(p, STAFF).map_err(ApiError)?;
        let n = page_size(first)?;
        let cursor = after
            .as_deref()
            .map(|c| {
                let (at, id) = c
                    .split_once('|')
                    .ok_or_else(|| ApiError::bad_input("bad cursor"))?;
                let at = chrono::DateTime::parse_from_rfc3339(at)
                    .map_err(|_| ApiError::bad_input("bad cursor"))?
                    .with_timezone(&chrono::Utc);
                Ok::<_, ApiError>((at, id.to_owned()))
            })
            .transpose()?;
        let mut docs = api(ctx)?
            .intake
            .unidentified(
                &p.tenant,
                n + 1,
                cursor.as_ref().map(|(at, id)| (*at, id.as_str())),
            )
            .await
            .map_err(|e| app::Error::Refused {
                code: e.code,
                message: e.message,
            })
            .map_err(ApiError)?;
        let has_next = docs.len() as i64 > n;
        docs.truncate(n as usize);
        // Unmatched letters hold personal data (OCR'd names, addresses).
        api(ctx)?
            .audit_reads(
                p,
                "READ_UNIDENTIFIED_MAIL",
                "MAIL",
                docs.iter().map(|d| d.document_id.clone()),
            )
            .await
            .map_err(ApiError)?;
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(docs.iter().map(|d| {
            Edge::new(
                format!("{}|{}", d.received_at.to_rfc3339(), d.document_id),
                UnidentifiedMailItem::of(d),
            )
        }));
        Ok(connection)
    }

    /// The document types this agency accepts on every channel (sorted);
    /// anything else is refused `UNKNOWN_DOCUMENT_TYPE`. Any authenticated
    /// caller may ask (integrators build their forms from it).
    async fn document_types(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let p = principal(ctx)?;
        Ok(api(ctx)?.intake.registry().document_types(&p.tenant))
    }

    /// A work queue, oldest in phase first (aging).
    async fn work_queue(
        &self,
        ctx: &Context<'_>,
        queue: QueueKind,
        team: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, WorkItem, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        require(p, &[Role::Caseworker, Role::Approver, Role::Supervisor]).map_err(ApiError)?;
        let me = p.subject.to_string();
        let filter = match queue {
            QueueKind::UnlinkedDocuments => {
                let queue = DocumentQueue::Unlinked;
                return document_queue(ctx, p, &queue, first, after.as_deref()).await;
            }
            QueueKind::LateEvidence => {
                let queue = DocumentQueue::Late { assignee: me };
                return document_queue(ctx, p, &queue, first, after.as_deref()).await;
            }
            QueueKind::Unassigned => QueueFilter::Unassigned,
            QueueKind::Mine => QueueFilter::AssignedTo(me),
            QueueKind::Team => QueueFilter::Team(
                team.ok_or_else(|| ApiError::bad_input("team is required for the TEAM queue"))?,
            ),
            QueueKind::AwaitingApproval => {
                require(p, &[Role::Approver, Role::Supervisor]).map_err(ApiError)?;
                QueueFilter::AwaitingApproval {
                    not_proposed_by: me,
                }
            }
            QueueKind::Overdue => QueueFilter::Overdue,
        };
        let n = page_size(first)?;
        let cursor = after.as_deref().map(decode_queue_cursor).transpose()?;
        let mut items = api(ctx)?
            .read
            .work_queue(&p.tenant, &filter, n + 1, cursor)
            .await
            .map_err(ApiError::from)?;
        let has_next = items.len() as i64 > n;
        items.truncate(n as usize);
        let visible = visible_items(ctx, p, items, |i| i).await?;
        let mut connection = Connection::new(cursor.is_some(), has_next);
        connection.edges.extend(visible.into_iter().map(|item| {
            let cursor = format!("{}|{}", item.phase_entered_at.to_rfc3339(), item.case_id);
            Edge::new(
                cursor,
                WorkItem {
                    item,
                    document: None,
                },
            )
        }));
        Ok(connection)
    }

    /// Everything that happened on a case across channels, in the order the
    /// agency received it. Citizens see only what concerns them.
    async fn case_timeline(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, TimelineItem, EmptyFields, EmptyFields>> {
        let (p, view) = readable_case(ctx, &case_id, "READ_TIMELINE").await?;
        let items = Claim::timeline(&view, p.is_staff());
        let start = match after {
            Some(c) => c
                .parse::<usize>()
                .ok()
                .and_then(|i| i.checked_add(1))
                .ok_or_else(|| ApiError::bad_input("bad cursor"))?,
            None => 0,
        };
        let n = page_size(first)? as usize;
        let end = (start + n).min(items.len());
        let mut connection = Connection::new(start > 0, end < items.len());
        connection.edges.extend(
            items
                .into_iter()
                .enumerate()
                .skip(start)
                .take(end.saturating_sub(start))
                .map(|(i, item)| Edge::new(i.to_string(), item)),
        );
        Ok(connection)
    }

    /// Who at the agency read your data, when and why (citizens): the
    /// office and role of each reader, and the reader's name only where
    /// the agency chose to show it. Newest first.
    async fn my_data_access_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, DataAccess, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        require(p, &[Role::Citizen]).map_err(ApiError)?;
        let me = p.claimant.ok_or(ApiError(app::Error::Forbidden))?.as_uuid();
        let n = page_size(first)?;
        let before = after
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|_| ApiError::bad_input("bad cursor"))?;
        let api = api(ctx)?;
        let cases: Vec<Uuid> = api
            .read
            .cases_of_claimant(&p.tenant, me, 1000, None)
            .await
            .map_err(ApiError::from)?
            .iter()
            .map(|c| c.case_id)
            .collect();
        let mut rows = api
            .read
            .audit_of_person(&p.tenant, me, &cases, n + 1, before)
            .await
            .map_err(ApiError::from)?;
        let has_next = rows.len() as i64 > n;
        rows.truncate(n as usize);
        let names = api
            .engine
            .tenants()
            .get(&p.tenant)
            .is_some_and(|t| t.access_log_names_staff);
        let mut connection = Connection::new(before.is_some(), has_next);
        for r in rows {
            // Staff reads only: the person's own requests are not "access".
            let roles: Vec<String> = r
                .roles
                .split(',')
                .map(str::trim)
                .filter(|role| matches!(*role, "AGENT" | "CASEWORKER" | "APPROVER" | "SUPERVISOR"))
                .map(str::to_owned)
                .collect();
            if roles.is_empty() {
                continue;
            }
            connection.edges.push(Edge::new(
                r.id.to_string(),
                DataAccess {
                    at: r.at,
                    office: r.office,
                    roles,
                    description: describe_access(&r.action).into(),
                    action: r.action,
                    purpose: Some(r.purpose).filter(|p| !p.is_empty()),
                    outcome: r.outcome,
                    reader: names.then_some(r.actor),
                },
            ));
        }
        Ok(connection)
    }

    /// Who read or was refused what (supervisors).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEntry, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        require(p, &[Role::Supervisor]).map_err(ApiError)?;
        let n = page_size(first)?;
        let before = after
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|_| ApiError::bad_input("bad cursor"))?;
        let mut rows = api(ctx)?
            .read
            .audit(&p.tenant, n + 1, before)
            .await
            .map_err(ApiError::from)?;
        let has_next = rows.len() as i64 > n;
        rows.truncate(n as usize);
        // Who read the log of who read what is on the log too.
        api(ctx)?
            .audit_reads(p, "READ_AUDIT_LOG", "AUDIT_LOG", [String::new()])
            .await
            .map_err(ApiError)?;
        let mut connection = Connection::new(before.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|r| {
            Edge::new(
                r.id.to_string(),
                AuditEntry {
                    id: ID(r.id.to_string()),
                    at: r.at,
                    actor: r.actor,
                    roles: r.roles,
                    action: r.action,
                    subject_type: r.subject_type,
                    subject_id: r.subject_id,
                    purpose: r.purpose,
                    outcome: r.outcome,
                },
            )
        }));
        Ok(connection)
    }
}

/// A page of a document queue (one item per waiting document).
async fn document_queue(
    ctx: &Context<'_>,
    p: &Principal,
    queue: &DocumentQueue,
    first: Option<i32>,
    after: Option<&str>,
) -> async_graphql::Result<Connection<String, WorkItem, EmptyFields, EmptyFields>> {
    let n = page_size(first)?;
    let cursor = after.map(decode_document_cursor).transpose()?;
    let mut items = api(ctx)?
        .read
        .document_queue(&p.tenant, queue, n + 1, cursor.as_ref())
        .await
        .map_err(ApiError::from)?;
    let has_next = items.len() as i64 > n;
    items.truncate(n as usize);
    let visible = visible_items(ctx, p, items, |i| &i.item).await?;
    let mut connection = Connection::new(cursor.is_some(), has_next);
    connection.edges.extend(visible.into_iter().map(|i| {
        let c = i.cursor();
        let cursor = format!(
            "{}|{}|{}|{}",
            c.since.to_rfc3339(),
            c.case_id,
            c.received_at.to_rfc3339(),
            c.document_id
        );
        Edge::new(
            cursor,
            WorkItem {
                item: i.item,
                document: Some(i.document),
            },
        )
    }));
    Ok(connection)
}

/// The rows of a queue page the caller may see (restricted claimants'
/// cases stay out of queues of staff who may not see them, so a page may
/// hold fewer than `first` rows), each recorded as a read of case data, in
/// one statement, before the page is answered.
async fn visible_items<T>(
    ctx: &Context<'_>,
    p: &Principal,
    items: Vec<T>,
    row: impl Fn(&T) -> &QueueItem,
) -> async_graphql::Result<Vec<T>> {
    let mut visible = Vec::with_capacity(items.len());
    for item in items {
        if api(ctx)?
            .may_see_claimant(p, row(&item).claimant_id)
            .await
            .map_err(ApiError)?
        {
            visible.push(item);
        }
    }
    api(ctx)?
        .audit_reads(
            p,
            "READ_WORK_QUEUE",
            "CASE",
            visible.iter().map(|i| row(i).case_id.to_string()),
        )
        .await
        .map_err(ApiError)?;
    Ok(visible)
}

fn decode_document_cursor(c: &str) -> ApiResult<DocumentCursor> {
    let bad = || ApiError::bad_input("bad cursor");
    let mut parts = c.split('|');
    let mut next = || parts.next().ok_or_else(bad);
    let time = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad())
    };
    let cursor = DocumentCursor {
        since: time(next()?)?,
        case_id: Uuid::parse_str(next()?).map_err(|_| bad())?,
        received_at: time(next()?)?,
        document_id: Uuid::parse_str(next()?).map_err(|_| bad())?,
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(cursor)
}

fn decode_queue_cursor(c: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let bad = || ApiError::bad_input("bad cursor");
    let (at, id) = c.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// An audited action in plain words, for the person it was about.
fn describe_access(action: &str) -> &'static str {
    match action {
        "READ_CLAIM" => "Looked at your claim",
        "READ_TIMELINE" => "Looked at your claim's history",
        "READ_WORK_QUEUE" => "Saw your claim in a work queue",
        "SUBSCRIBE_CLAIM" => "Followed your claim's status",
        "READ_CLAIM_UPDATE" => "Saw an update of your claim",
        "READ_CASE_CONTEXT" | "CASE_CONTEXT_BY_FILE_NUMBER" | "CASE_CONTEXT_BY_IDENTITY" => {
            "Opened your record (a call or a visit)"
        }
        "VERIFY_IDENTITY" => "Confirmed your identity",
        "SUBMIT_CLAIM" => "Filed a claim for you",
        "COMMAND" => "Worked on your claim or record",
        _ => "Used your data",
    }
}

async fn context_for(
    ctx: &Context<'_>,
    claimant: Option<ClaimantView>,
    subject: &str,
    purpose: &str,
) -> ApiResult<CaseContext> {
    let api = api(ctx)?;
    let p = principal(ctx)?;
    let purpose = purpose.trim();
    if purpose.is_empty() || purpose.len() > 200 {
        return Err(ApiError::bad_input("purpose must be 1 to 200 characters"));
    }
    let Some(claimant) = claimant else {
        api.audit(
            p,
            "READ_CASE_CONTEXT",
            "CLAIMANT",
            subject,
            purpose,
            "NOT_FOUND",
        )
        .await?;
        return Err(ApiError(app::Error::NotFound));
    };
    let subject = claimant.claimant_id.to_string();
    if !api.may_see_claimant(p, claimant.claimant_id).await? {
        api.audit(
            p,
            "READ_CASE_CONTEXT",
            "CLAIMANT",
            &subject,
            purpose,
            "DENIED",
        )
        .await?;
        return Err(ApiError(api.refusal(p, claimant.claimant_id).await?));
    }
    api.audit(
        p,
        "READ_CASE_CONTEXT",
        "CLAIMANT",
        &subject,
        purpose,
        "ALLOWED",
    )
    .await?;
    let full = api.full_identity(p, &claimant).await?;
    let verified = !p.has(Role::Agent) || full;
    let flags = Flags::of(&claimant);
    let info = ClaimantInfo {
        view: claimant,
        full,
    };
    if !verified {
        return Ok(CaseContext {
            claimant: info,
            identity_verified: false,
            verification_prompt: Some(
                "Verify the caller before discussing the claim: ask for date of birth and postcode, then record the verification."
                    .into(),
            ),
            flags,
            open_claims: Vec::new(),
            open_requests: Vec::new(),
            recent_contacts: Vec::new(),
        });
    }
    let cases = api
        .read
        .cases_of_claimant(&p.tenant, info.view.claimant_id, 100, None)
        .await?;
    let mut contacts: Vec<Contact> = cases
        .iter()
        .flat_map(|c| {
            c.contacts.iter().map(move |k| Contact {
                id: ID(k.id.to_string()),
                case_id: ID(c.case_id.to_string()),
                kind: k.kind.clone(),
                channel: k.channel.clone(),
                agent: k.agent.clone(),
                reason: k.reason.clone(),
                summary: k.summary.clone(),
                follow_up: k.follow_up.clone(),
                occurred_at: k.occurred_at,
            })
        })
        .collect();
    contacts.sort_by_key(|c| std::cmp::Reverse(c.occurred_at));
    contacts.truncate(5);
    let open: Vec<_> = cases.into_iter().filter(|c| !c.is_closed()).collect();
    let open_requests = open
        .iter()
        .flat_map(|c| {
            c.requests
                .iter()
                .filter(|r| r.is_open())
                .map(move |r| EvidenceRequest::of(c.case_id, true, r))
        })
        .collect();
    Ok(CaseContext {
        claimant: info,
        identity_verified: true,
        verification_prompt: None,
        flags,
        open_claims: open
            .into_iter()
            .map(|view| Claim { view, staff: true })
            .collect(),
        open_requests,
        recent_contacts: contacts,
    })
}
