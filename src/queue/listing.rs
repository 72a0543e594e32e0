//! Listing the queue: a day's batch (or any filter) as short summaries,
//! with the total and the count per status, paged. Reads only columns of
//! `requests` (the requested items are kept there too) so a page of a
//! 100,000-record queue is one indexed query.

use super::db::{date_text, parse_date, parse_time};
use super::records::parse_items_text;
use crate::prefecture::Prefecture;
use crate::request::{Item, Source, Status};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Which records to list. `Default` lists everything current, 100 a page.
#[derive(Clone, Debug)]
pub struct ListFilter {
    /// Only this batch (対応日).
    pub batch_date: Option<NaiveDate>,
    /// Only this prefecture.
    pub prefecture: Option<Prefecture>,
    /// Only this status (the per-status counts ignore this filter).
    pub status: Option<Status>,
    /// Only this source.
    pub source: Option<Source>,
    /// Only records requesting this item.
    pub item: Option<Item>,
    /// Institution name containing, or code starting with, this text.
    pub search: Option<String>,
    /// Also list records replaced by a newer sheet (default: no).
    pub include_superseded: bool,
    /// Page size (at most 1,000).
    pub limit: i64,
    /// Records to skip.
    pub offset: i64,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            batch_date: None,
            prefecture: None,
            status: None,
            source: None,
            item: None,
            search: None,
            include_superseded: false,
            limit: 100,
            offset: 0,
        }
    }
}

/// One line of the queue page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestSummary {
    /// Database id.
    pub id: i64,
    /// 受付番号.
    pub receipt: String,
    /// g-mis or sheet.
    pub source: Source,
    /// Status.
    pub status: Status,
    /// Server receipt time.
    pub received_at: DateTime<Utc>,
    /// Batch (対応日).
    pub batch_date: NaiveDate,
    /// Prefecture name.
    pub prefecture: String,
    /// 医療機関コード.
    pub institution_code: String,
    /// 医療機関名.
    pub institution_name: String,
    /// Items requested.
    pub items: Vec<Item>,
    /// Number of error findings.
    pub error_count: i64,
    /// Number of warning findings.
    pub warning_count: i64,
    /// Earlier accepted distributions to the institution.
    pub earlier_distributions: i64,
    /// Refused because already 受付完了 in the batch.
    pub refused_because_completed: bool,
    /// Receipt number of the record that replaced this one.
    pub superseded_by: Option<String>,
}

/// How many records have one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    /// The status.
    pub status: Status,
    /// How many (under every filter except the status one).
    pub count: i64,
}

/// A page of the queue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Listing {
    /// The records of this page, by batch date (newest first), then receipt time.
    pub records: Vec<RequestSummary>,
    /// How many records match (all pages).
    pub total: i64,
    /// Count per status, every status present (zero included), workflow order.
    pub counts: Vec<StatusCount>,
}

/// A WHERE clause built with `$n` placeholders numbered in order of use
/// (the form both SQLite and PostgreSQL understand through `Any`).
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    binds: Vec<String>,
}

impl Where {
    fn push(&mut self, clause_with_placeholder: &str, value: String) {
        self.binds.push(value);
        let n = self.binds.len();
        self.clauses
            .push(clause_with_placeholder.replace("{}", &format!("${n}")));
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn next_placeholder(&self, k: usize) -> String {
        format!("${}", self.binds.len() + k)
    }

    fn bind_all<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for b in &self.binds {
            q = q.bind(b.as_str());
        }
        q
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which query a WHERE clause is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The page of records: every filter.
    Page,
    /// The counts per status: every filter but the status one.
    Counts,
}

/// Builds the WHERE clause of `filter` for one of the two queries.
fn where_of(filter: &ListFilter, part: Part) -> Where {
    let with_status = part == Part::Page;
    let mut w = Where::default();
    if let Some(d) = filter.batch_date {
        w.push("r.batch_date = {}", date_text(d));
    }
    if let Some(p) = filter.prefecture {
        w.push("r.prefecture = {}", p.name().to_string());
    }
    if with_status && let Some(s) = filter.status {
        w.push("r.status = {}", s.as_str().to_string());
    }
    if let Some(s) = filter.source {
        w.push("r.source = {}", s.as_str().to_string());
    }
    if let Some(item) = filter.item {
        // The requested items are kept on the row (`a,b,c`); matching them
        // there avoids a join over every line of the queue.
        w.push(
            "(',' || r.requested_items || ',') LIKE {} ESCAPE '\\'",
            format!("%,{},%", escape_like(item.code())),
        );
    }
    if let Some(q) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        let name = format!("%{}%", escape_like(q));
        let code = format!("{}%", escape_like(&crate::text::normalize(q)));
        w.binds.push(name);
        w.binds.push(code);
        let n = w.binds.len();
        w.clauses.push(format!(
            "(r.institution_name LIKE ${} ESCAPE '\\' OR r.institution_code LIKE ${} ESCAPE '\\')",
            n - 1,
            n
        ));
    }
    if !filter.include_superseded {
        // The page is read in list order from the ordering index; written
        // as `superseded_by IS NULL` the planner would rather take the
        // superseded_by index (every current record matches) and sort them
        // all. The counts do want that index (it covers status).
        w.clauses.push(match part {
            Part::Page => "COALESCE(r.superseded_by, 0) = 0".into(),
            Part::Counts => "r.superseded_by IS NULL".into(),
        });
    }
    w
}

/// The requests listed just before and just after `id` under `filter`
/// (its paging ignored), for 前の要請 / 次の要請 on the request page; `None`
/// at either end or when `id` is not in the list. Only ids are read, at
/// most [`NEIGHBOUR_SCAN`] of them, so a huge "all dates" list stays cheap.
pub async fn neighbours(
    conn: &mut AnyConnection,
    filter: &ListFilter,
    id: i64,
) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let w = where_of(filter, Part::Page);
    let sql = format!(
        "SELECT r.id FROM requests r{} ORDER BY r.batch_date DESC, r.received_at, r.id LIMIT {}",
        w.sql(),
        w.next_placeholder(1)
    );
    let rows = w
        .bind_all(sqlx::query(&sql))
        .bind(NEIGHBOUR_SCAN)
        .fetch_all(&mut *conn)
        .await
        .context("cannot list the queue around a request")?;
    let ids = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match ids.iter().position(|x| *x == id) {
        Some(at) => (at.checked_sub(1).map(|p| ids[p]), ids.get(at + 1).copied()),
        None => (None, None),
    })
}

/// How many ids [`neighbours`] reads at most.
pub const NEIGHBOUR_SCAN: i64 = 10_000;

/// Lists one page of the queue with its total and counts per status.
pub async fn list(conn: &mut AnyConnection, filter: &ListFilter) -> anyhow::Result<Listing> {
    let limit = filter.limit.clamp(1, 1000);
    let offset = filter.offset.max(0);

    let w = where_of(filter, Part::Page);
    let sql = format!(
        "SELECT r.id, r.receipt, r.source, r.status, r.received_at, r.batch_date, r.prefecture, \
         r.institution_code, r.institution_name, r.requested_items, r.error_count, r.warning_count, \
         r.earlier_distributions, r.refused_because_completed, s.receipt AS superseded_by_receipt \
         FROM requests r LEFT JOIN requests s ON s.id = r.superseded_by{} \
         ORDER BY r.batch_date DESC, r.received_at, r.id LIMIT {} OFFSET {}",
        w.sql(),
        w.next_placeholder(1),
        w.next_placeholder(2)
    );
    let rows = w
        .bind_all(sqlx::query(&sql))
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
        .context("cannot list the queue")?;
    let records = rows
        .iter()
        .map(summary_from_row)
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Counts per status under every filter but the status one; the total
    // is the chosen status's count (or the sum).
    let wc = where_of(filter, Part::Counts);
    let sql = format!(
        "SELECT r.status, COUNT(*) AS n FROM requests r{} GROUP BY r.status",
        wc.sql()
    );
    let rows = wc
        .bind_all(sqlx::query(&sql))
        .fetch_all(&mut *conn)
        .await
        .context("cannot count the queue")?;
    let mut counts: Vec<StatusCount> = Status::ALL
        .iter()
        .map(|s| StatusCount {
            status: *s,
            count: 0,
        })
        .collect();
    for row in &rows {
        let status: String = row.try_get("status")?;
        let n: i64 = row.try_get("n")?;
        if let Some(c) = counts.iter_mut().find(|c| c.status.as_str() == status) {
            c.count = n;
        }
    }
    let total = match filter.status {
        Some(s) => counts
            .iter()
            .filter(|c| c.status == s)
            .map(|c| c.count)
            .sum(),
        None => counts.iter().map(|c| c.count).sum(),
    };
    Ok(Listing {
        records,
        total,
        counts,
    })
}

fn summary_from_row(row: &AnyRow) -> anyhow::Result<RequestSummary> {
    let source: String = row.try_get("source")?;
    let status: String = row.try_get("status")?;
    Ok(RequestSummary {
        id: row.try_get("id")?,
        receipt: row.try_get("receipt")?,
        source: Source::parse(&source).with_context(|| format!("unknown source {source:?}"))?,
        status: Status::parse(&status).with_context(|| format!("unknown status {status:?}"))?,
        received_at: parse_time(&row.try_get::<String, _>("received_at")?)?,
        batch_date: parse_date(&row.try_get::<String, _>("batch_date")?)?,
        prefecture: row.try_get("prefecture")?,
        institution_code: row.try_get("institution_code")?,
        institution_name: row.try_get("institution_name")?,
        items: parse_items_text(&row.try_get::<String, _>("requested_items")?),
        error_count: row.try_get("error_count")?,
        warning_count: row.try_get("warning_count")?,
        earlier_distributions: row.try_get("earlier_distributions")?,
        refused_because_completed: row.try_get::<i64, _>("refused_because_completed")? != 0,
        superseded_by: row.try_get("superseded_by_receipt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_use_order() {
        let f = ListFilter {
            batch_date: NaiveDate::from_ymd_opt(2026, 11, 20),
            status: Some(Status::UnderReview),
            search: Some("さくら_1%".into()),
            ..ListFilter::default()
        };
        let w = where_of(&f, Part::Page);
        assert_eq!(
            w.sql(),
            " WHERE r.batch_date = $1 AND r.status = $2 AND (r.institution_name LIKE $3 ESCAPE '\\' \
             OR r.institution_code LIKE $4 ESCAPE '\\') AND COALESCE(r.superseded_by, 0) = 0"
        );
        assert_eq!(w.next_placeholder(1), "$5");
        assert_eq!(w.binds[2], "%さくら\\_1\\%%");
        let without_status = where_of(&f, Part::Counts);
        assert!(!without_status.sql().contains("status"));
    }
}
