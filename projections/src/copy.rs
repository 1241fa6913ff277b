//! Rows new to a generation, written with PostgreSQL's `COPY … FROM STDIN`
//! in the binary format: a rebuild writes each document once, and COPY
//! skips the upsert, the statement per 500 rows and the bound parameter per
//! column; the binary form spares both sides quoting and parsing the
//! documents' text.

use crate::view::{CaseView, ClaimantView};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Bytes handed to the server at a time.
const CHUNK: usize = 1 << 20;

/// Signature, flags, header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The tuple count that ends the data.
const TRAILER: &[u8] = &(-1i16).to_be_bytes();

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 0001-01-01 (CE day 1) to 2000-01-01.
const PG_EPOCH_DAYS_CE: i32 = 730_120;

/// Tuples in PostgreSQL's binary COPY format: each a field count, then
/// every field as its length (-1 for NULL) and its binary value.
#[derive(Default)]
pub(crate) struct Tuples {
    buf: Vec<u8>,
}

impl Tuples {
    pub(crate) fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        // Documents are far below 2 GiB; a longer one could not be stored.
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        self.field(s.as_bytes())
    }

    pub(crate) fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub(crate) fn int8(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub(crate) fn uuid(&mut self, v: Uuid) -> &mut Self {
        self.field(v.as_bytes())
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.field(&[u8::from(v)])
    }

    /// Microseconds since 2000-01-01 UTC, as PostgreSQL stores the same
    /// instant bound as a parameter.
    pub(crate) fn time(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.int8(t.timestamp_micros() - PG_EPOCH_MICROS)
    }

    pub(crate) fn opt_time(&mut self, t: Option<DateTime<Utc>>) -> &mut Self {
        match t {
            Some(t) => self.time(t),
            None => self.null(),
        }
    }

    /// Days since 2000-01-01.
    pub(crate) fn date(&mut self, d: Option<NaiveDate>) -> &mut Self {
        use chrono::Datelike;
        match d {
            Some(d) => self.field(&(d.num_days_from_ce() - PG_EPOCH_DAYS_CE).to_be_bytes()),
            None => self.null(),
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// A document kind written by COPY: its statement and its row.
pub(crate) trait CopyRow: serde::Serialize {
    /// The columns [`row`](Self::row) writes, in its order.
    const COLUMNS: &'static str;
    fn row(out: &mut Tuples, generation: i64, tenant: &str, view: &Self, doc: &str);
}

impl CopyRow for CaseView {
    const COLUMNS: &'static str = crate::projector::CASE_COLUMNS;

    fn row(out: &mut Tuples, generation: i64, tenant: &str, view: &Self, doc: &str) {
        out.row(20)
            .int8(generation)
            .text(tenant)
            .uuid(view.case_id)
            .uuid(view.claimant_id)
            .int8(view.version as i64)
            .text(view.status.code())
            .text(view.phase.code())
            .opt_text(view.assignee.as_deref())
            .opt_text(view.team.as_deref())
            .time(view.phase_entered_at)
            .bool(view.awaiting_approval())
            .opt_text(view.decision.as_ref().map(|d| d.proposer.as_str()))
            .int8(view.overdue_count() as i64)
            .bool(view.is_closed())
            .time(view.claim_date)
            .time(view.updated_at)
            .text(doc)
            .date(view.next_due())
            .opt_time(view.unlinked_since())
            .opt_time(view.late_since());
    }
}

impl CopyRow for ClaimantView {
    const COLUMNS: &'static str = crate::projector::CLAIMANT_COLUMNS;

    fn row(out: &mut Tuples, generation: i64, tenant: &str, view: &Self, doc: &str) {
        let (file_number_hash, match_key) = view.lookup_keys();
        out.row(7)
            .int8(generation)
            .text(tenant)
            .uuid(view.claimant_id)
            .int8(view.version as i64)
            .text(&file_number_hash)
            .text(doc)
            .text(&match_key);
    }
}

/// COPYs documents that have no row in `generation` yet into `table`.
pub(crate) async fn copy_docs<V: CopyRow>(
    conn: &mut PgConnection,
    table: &str,
    generation: i64,
    rows: &[(&str, &V)],
) -> Result<(), crate::ReadError> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = format!(
        "COPY {table} ({}) FROM STDIN WITH (FORMAT binary)",
        V::COLUMNS
    );
    let mut copy = conn.copy_in_raw(&statement).await?;
    let mut out = Tuples::default();
    out.buf.extend_from_slice(HEADER);
    for (tenant, view) in rows {
        let doc = serde_json::to_string(view)?;
        V::row(&mut out, generation, tenant, view, &doc);
        if out.buf.len() >= CHUNK {
            copy.send(std::mem::take(&mut out.buf)).await?;
        }
    }
    out.buf.extend_from_slice(TRAILER);
    copy.send(out.buf).await?;
    copy.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed_and_null_is_minus_one() {
        let mut out = Tuples::default();
        out.row(4).int8(7).text("hé").opt_text(None).bool(true);
        assert_eq!(
            out.bytes(),
            [
                &[0, 4][..],
                &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7],
                &[0, 0, 0, 3, b'h', 0xc3, 0xa9],
                &[0xff, 0xff, 0xff, 0xff],
                &[0, 0, 0, 1, 1],
            ]
            .concat()
        );
    }

    #[test]
    fn times_and_dates_count_from_2000() {
        let at = DateTime::parse_from_rfc3339("2000-01-01T00:00:01.000002999+00:00")
            .map(|t| t.with_timezone(&Utc));
        let day = NaiveDate::from_ymd_opt(2000, 1, 3);
        let mut out = Tuples::default();
        if let Ok(at) = at {
            // Truncated to microseconds.
            out.time(at);
        }
        out.date(day);
        assert_eq!(
            out.bytes(),
            [
                &[0, 0, 0, 8][..],
                &1_000_002i64.to_be_bytes(),
                &[0, 0, 0, 4],
                &2i32.to_be_bytes(),
            ]
            .concat()
        );
    }
}
