//! The read-model database: one SQL text per statement, run on PostgreSQL
//! or SQLite (placeholders written `$n`, rewritten to `?n` for SQLite).

use crate::view::{CaseView, ClaimantView, DocumentView};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{FileNumber, TenantId};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use store::Database;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("read-model database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Decode(#[from] store::codec::DecodeError),
    #[error("read-model document: {0}")]
    Json(#[from] serde_json::Error),
    /// A read-model column holds a code this build does not know (a status
    /// or phase written by another version): an error, never a guess.
    #[error("read-model column `{column}` holds an unknown code")]
    UnknownCode { column: &'static str, code: String },
    #[error("another rebuild of the read models is running: wait for it to finish (or stop it), then try again")]
    RebuildRunning,
    /// The write of a group of audit records this one was part of failed.
    #[error("{0}")]
    Shared(std::sync::Arc<ReadError>),
    #[error("the audit record was not written")]
    AuditNotWritten,
}

impl ReadError {
    pub fn code(&self) -> domain::ErrorCode {
        match self {
            ReadError::Db(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed,
            ) => domain::ErrorCode::StoreUnavailable,
            ReadError::Store(e) => e.code(),
            ReadError::RebuildRunning => domain::ErrorCode::RebuildInProgress,
            ReadError::Shared(e) => e.code(),
            _ => domain::ErrorCode::Internal,
        }
    }
}

/// Runs `$body` with `$pool` bound to the backend's pool and `$sql` to a
/// placeholder rewriter. `write` uses SQLite's single writer connection.
macro_rules! on_db {
    ($self:expr, write, $pool:ident, $sql:ident => $body:expr) => {
        match &$self.db {
            store::Database::Postgres(pg) => {
                let $pool = pg.pool();
                let $sql = |s: &str| -> String { s.to_owned() };
                $body
            }
            store::Database::Sqlite(lite) => {
                let $pool = lite.writer();
                let $sql = store::sqlite_sql;
                $body
            }
        }
    };
    ($self:expr, read, $pool:ident, $sql:ident => $body:expr) => {
        match &$self.db {
            store::Database::Postgres(pg) => {
                let $pool = pg.pool();
                let $sql = |s: &str| -> String { s.to_owned() };
                $body
            }
            store::Database::Sqlite(lite) => {
                let $pool = lite.reader();
                let $sql = store::sqlite_sql;
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// The active generation, inline in every read.
pub(crate) const ACTIVE: &str = "(SELECT generation FROM rm_meta WHERE id = 1)";

/// Look-up key of a file number in the read model (not the number itself).
pub use store::file_number_digest as file_number_hash;

/// Which work queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueFilter {
    Unassigned,
    AssignedTo(String),
    Team(String),
    /// Proposed decisions waiting for a second pair of eyes: never the
    /// caller's own proposals.
    AwaitingApproval {
        not_proposed_by: String,
    },
    Overdue,
}

/// Which document queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentQueue {
    /// Evidence filed without a request: link it or mark it as needing none.
    Unlinked,
    /// Late evidence on the cases assigned to `assignee`.
    Late { assignee: String },
}

/// Where a document-queue page ends: the case's waiting-since time, the
/// case, and the document's arrival and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentCursor {
    pub since: DateTime<Utc>,
    pub case_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub document_id: Uuid,
}

/// One waiting document of a document queue, with its case's queue row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentItem {
    pub item: QueueItem,
    /// The case's oldest waiting document's arrival (the cursor's order).
    pub since: DateTime<Utc>,
    pub document: DocumentView,
}

impl DocumentItem {
    pub fn cursor(&self) -> DocumentCursor {
        DocumentCursor {
            since: self.since,
            case_id: self.item.case_id,
            received_at: self.document.received_at,
            document_id: self.document.id,
        }
    }
}

const QUEUE_COLUMNS: &str =
    "case_id, claimant_id, status, phase, assignee, team, phase_entered_at, \
     claim_date, overdue_count, awaiting_approval, version";

/// A column that holds an enum's code, read back into the enum.
fn coded<R: sqlx::Row, T>(
    r: &R,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, ReadError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let code: String = r.try_get(column)?;
    parse(&code).ok_or(ReadError::UnknownCode { column, code })
}

fn queue_item<R: sqlx::Row>(r: &R) -> Result<QueueItem, ReadError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    Uuid: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    bool: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(QueueItem {
        case_id: r.try_get("case_id")?,
        claimant_id: r.try_get("claimant_id")?,
        status: coded(r, "status", domain::CitizenStatus::from_code)?,
        phase: coded(r, "phase", domain::Phase::from_code)?,
        assignee: r.try_get("assignee")?,
        team: r.try_get("team")?,
        phase_entered_at: r.try_get("phase_entered_at")?,
        claim_date: r.try_get("claim_date")?,
        overdue_count: r.try_get("overdue_count")?,
        awaiting_approval: r.try_get("awaiting_approval")?,
        version: r.try_get("version")?,
    })
}

/// One row of a work queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    pub case_id: Uuid,
    pub claimant_id: Uuid,
    pub status: domain::CitizenStatus,
    pub phase: domain::Phase,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub phase_entered_at: DateTime<Utc>,
    pub claim_date: DateTime<Utc>,
    pub overdue_count: i64,
    pub awaiting_approval: bool,
    pub version: i64,
}

/// An evidence request past its due date that is not marked overdue yet,
/// as the read model sees it (the timer's work item).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRequest {
    pub tenant: TenantId,
    pub case_id: Uuid,
    pub request_id: Uuid,
    pub suspense_date: NaiveDate,
    /// See [`RequestView::reopened_at`](crate::view::RequestView::reopened_at).
    pub reopened_at: Option<u64>,
}

/// Where a scan for due work stopped: the last case's (next due date,
/// tenant, case id), in scan order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueCursor {
    pub next_due: NaiveDate,
    pub tenant: String,
    pub case_id: Uuid,
}

/// One page of due work: the due requests of up to `limit` cases, and
/// where to go on from when the page was full.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DuePage {
    pub requests: Vec<DueRequest>,
    pub next: Option<DueCursor>,
}

#[derive(Clone, Debug)]
pub struct ReadDb {
    pub(crate) db: Database,
    /// Documents the projector wrote last, for its next batches.
    pub(crate) held: std::sync::Arc<crate::held::HeldDocs>,
    /// Audit records of concurrent requests, written together.
    pub(crate) audits: std::sync::Arc<crate::records::audit_group::AuditGroup>,
}

impl ReadDb {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            held: Default::default(),
            audits: Default::default(),
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub async fn generation(&self) -> Result<i64, ReadError> {
        on_db!(self, read, pool, _sql => {
            Ok(sqlx::query_scalar("SELECT generation FROM rm_meta WHERE id = 1").fetch_one(pool).await?)
        })
    }

    pub async fn case(
        &self,
        tenant: &TenantId,
        case_id: Uuid,
    ) -> Result<Option<CaseView>, ReadError> {
        self.document("rm_cases", "case_id", tenant, case_id).await
    }

    /// One document of the active generation: the `view` of the row of
    /// `table` whose `key` column is `id`.
    async fn document<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        key: &str,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<T>, ReadError> {
        let doc: Option<String> = on_db!(self, read, pool, sql => {
            sqlx::query_scalar(&sql(&format!(
                "SELECT view FROM {table} WHERE generation = {ACTIVE} AND tenant_id = $1 AND {key} = $2"
            )))
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        doc.map(|d| serde_json::from_str(&d).map_err(ReadError::from))
            .transpose()
    }

    /// The version of a case the read model reflects (read-your-writes).
    pub async fn case_version(
        &self,
        tenant: &TenantId,
        case_id: Uuid,
    ) -> Result<Option<u64>, ReadError> {
        let v: Option<i64> = on_db!(self, read, pool, sql => {
            sqlx::query_scalar(&sql(&format!(
                "SELECT version FROM rm_cases WHERE generation = {ACTIVE} AND tenant_id = $1 AND case_id = $2"
            )))
            .bind(tenant.as_str())
            .bind(case_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(v.map(|v| v as u64))
    }

    /// A claimant's cases, newest first; `before` is a case id cursor.
    pub async fn cases_of_claimant(
        &self,
        tenant: &TenantId,
        claimant: Uuid,
        first: i64,
        before: Option<Uuid>,
    ) -> Result<Vec<CaseView>, ReadError> {
        let docs: Vec<String> = on_db!(self, read, pool, sql => {
            sqlx::query_scalar(&sql(&format!(
                "SELECT view FROM rm_cases WHERE generation = {ACTIVE} AND tenant_id = $1 AND claimant_id = $2 \
                 AND ($3 IS NULL OR case_id < $3) ORDER BY case_id DESC LIMIT $4"
            )))
            .bind(tenant.as_str())
            .bind(claimant)
            .bind(before)
            .bind(first)
            .fetch_all(pool)
            .await?
        });
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(ReadError::from))
            .collect()
    }

    pub async fn claimant(
        &self,
        tenant: &TenantId,
        claimant: Uuid,
    ) -> Result<Option<ClaimantView>, ReadError> {
        self.document("rm_claimants", "claimant_id", tenant, claimant)
            .await
    }

    /// Several claimants at once (one query; for batched loading).
    pub async fn claimants(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<ClaimantView>, ReadError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "SELECT view FROM rm_claimants WHERE generation = {ACTIVE} AND tenant_id = $1 AND claimant_id IN ({list})"
        );
        let docs: Vec<String> = on_db!(self, read, pool, sql => {
            let text = sql(&text);
            let mut query = sqlx::query_scalar(&text).bind(tenant.as_str());
            for id in ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await?
        });
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(ReadError::from))
            .collect()
    }

    pub async fn claimant_by_file_number(
        &self,
        tenant: &TenantId,
        file_number: &FileNumber,
    ) -> Result<Option<ClaimantView>, ReadError> {
        let doc: Option<String> = on_db!(self, read, pool, sql => {
            sqlx::query_scalar(&sql(&format!(
                "SELECT view FROM rm_claimants WHERE generation = {ACTIVE} AND tenant_id = $1 AND file_number_hash = $2"
            )))
            .bind(tenant.as_str())
            .bind(file_number_hash(file_number))
            .fetch_optional(pool)
            .await?
        });
        doc.map(|d| serde_json::from_str(&d).map_err(ReadError::from))
            .transpose()
    }

    /// A work queue, oldest in phase first; `after` is the last item seen.
    pub async fn work_queue(
        &self,
        tenant: &TenantId,
        filter: &QueueFilter,
        first: i64,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<QueueItem>, ReadError> {
        let (condition, arg): (&str, Option<&str>) = match filter {
            QueueFilter::Unassigned => ("closed = false AND assignee IS NULL", None),
            QueueFilter::AssignedTo(a) => ("closed = false AND assignee = $5", Some(a)),
            QueueFilter::Team(t) => ("closed = false AND team = $5", Some(t)),
            QueueFilter::AwaitingApproval { not_proposed_by } => (
                "closed = false AND awaiting_approval = true AND proposer <> $5",
                Some(not_proposed_by),
            ),
            QueueFilter::Overdue => ("closed = false AND overdue_count > 0", None),
        };
        let (after_at, after_id) = after.unzip();
        let text = format!(
            "SELECT {QUEUE_COLUMNS} FROM rm_cases \
             WHERE generation = {ACTIVE} AND tenant_id = $1 AND {condition} \
             AND ($2 IS NULL OR phase_entered_at > $2 OR (phase_entered_at = $2 AND case_id > $3)) \
             ORDER BY phase_entered_at, case_id LIMIT $4"
        );
        on_db!(self, read, pool, sql => {
            let text = sql(&text);
            let mut query = sqlx::query(&text)
                .bind(tenant.as_str())
                .bind(after_at)
                .bind(after_id)
                .bind(first);
            if let Some(arg) = arg {
                query = query.bind(arg);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(queue_item).collect::<Result<Vec<_>, ReadError>>()
        })
    }

    /// A document queue: one item per waiting document, the cases with the
    /// longest-waiting document first, each case's documents in arrival
    /// order; `after` is the last item seen.
    pub async fn document_queue(
        &self,
        tenant: &TenantId,
        queue: &DocumentQueue,
        first: i64,
        after: Option<&DocumentCursor>,
    ) -> Result<Vec<DocumentItem>, ReadError> {
        let (since, condition, arg): (&str, &str, Option<&str>) = match queue {
            DocumentQueue::Unlinked => ("unlinked_since", "", None),
            DocumentQueue::Late { assignee } => ("late_since", "AND assignee = $5", Some(assignee)),
        };
        let text = format!(
            "SELECT {QUEUE_COLUMNS}, view, {since} AS since FROM rm_cases \
             WHERE generation = {ACTIVE} AND tenant_id = $1 AND {since} IS NOT NULL {condition} \
             AND ($2 IS NULL OR {since} > $2 OR ({since} = $2 AND case_id >= $3)) \
             ORDER BY {since}, case_id LIMIT $4"
        );
        // Every case holds at least one waiting document, but the cursor's
        // own case may have none left after it: one case more than items.
        let cases = first.saturating_add(1);
        let rows: Vec<(QueueItem, String, DateTime<Utc>)> = on_db!(self, read, pool, sql => {
            let text = sql(&text);
            let mut query = sqlx::query(&text)
                .bind(tenant.as_str())
                .bind(after.map(|a| a.since))
                .bind(after.map(|a| a.case_id))
                .bind(cases);
            if let Some(arg) = arg {
                query = query.bind(arg);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((queue_item(r)?, r.try_get("view")?, r.try_get("since")?)))
                .collect::<Result<Vec<_>, ReadError>>()?
        });
        let mut items = Vec::new();
        for (item, doc, since) in rows {
            let view: CaseView = serde_json::from_str(&doc)?;
            let mut waiting: Vec<DocumentView> = view
                .documents
                .into_iter()
                .filter(|d| match queue {
                    DocumentQueue::Unlinked => d.needs_link,
                    DocumentQueue::Late { .. } => d.late,
                })
                .collect();
            waiting.sort_by_key(|d| (d.received_at, d.id));
            for document in waiting {
                // Shown on an earlier page (even if the case's place in the
                // queue moved since: a document of it was linked).
                let seen = after.is_some_and(|a| {
                    a.case_id == item.case_id
                        && (document.received_at, document.id) <= (a.received_at, a.document_id)
                });
                if !seen && (items.len() as i64) < first {
                    items.push(DocumentItem {
                        item: item.clone(),
                        since,
                        document,
                    });
                }
            }
        }
        Ok(items)
    }

    /// Every request, in every tenant, still awaiting a submission, not
    /// marked overdue and due before `today`, from the first `limit` cases
    /// with such work (earliest due first).
    pub async fn due_requests(
        &self,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<DueRequest>, ReadError> {
        Ok(self.due_requests_after(today, None, limit).await?.requests)
    }

    /// [`due_requests`](Self::due_requests) page by page: cases ordered by
    /// (next due date, tenant, case id), starting after `after`. Found
    /// through the `next_due` column; the requests come from the documents.
    pub async fn due_requests_after(
        &self,
        today: NaiveDate,
        after: Option<&DueCursor>,
        limit: i64,
    ) -> Result<DuePage, ReadError> {
        let text = format!(
            "SELECT tenant_id, next_due, view FROM rm_cases \
             WHERE generation = {ACTIVE} AND next_due < $1 \
             AND ($2 IS NULL OR next_due > $2 OR (next_due = $2 AND (tenant_id > $3 OR (tenant_id = $3 AND case_id > $4)))) \
             ORDER BY next_due, tenant_id, case_id LIMIT $5"
        );
        let rows: Vec<(String, NaiveDate, String)> = on_db!(self, read, pool, sql => {
            sqlx::query_as(&sql(&text))
                .bind(today)
                .bind(after.map(|a| a.next_due))
                .bind(after.map(|a| a.tenant.as_str()))
                .bind(after.map(|a| a.case_id))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        let mut page = DuePage::default();
        for (tenant_id, next_due, doc) in &rows {
            let view: CaseView = serde_json::from_str(doc)?;
            let tenant = TenantId::parse(tenant_id)
                .map_err(|e| ReadError::Db(sqlx::Error::Decode(Box::new(e))))?;
            page.requests.extend(
                view.requests
                    .iter()
                    .filter(|r| r.awaits_due_date() && r.suspense_date < today)
                    .map(|r| DueRequest {
                        tenant: tenant.clone(),
                        case_id: view.case_id,
                        request_id: r.id,
                        suspense_date: r.suspense_date,
                        reopened_at: r.reopened_at,
                    }),
            );
            page.next = Some(DueCursor {
                next_due: *next_due,
                tenant: tenant_id.clone(),
                case_id: view.case_id,
            });
        }
        if (rows.len() as i64) < limit {
            page.next = None;
        }
        Ok(page)
    }
}
