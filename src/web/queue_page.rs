//! The queue page: a batch (today's by default) with filters, counts per
//! status, warnings and errors at a glance, and 50 records a page.

use super::auth::Staff;
use super::{AppState, WebError};
use crate::calendar::{self, CutoffRule, JST};
use crate::prefecture::Prefecture;
use crate::queue::{self, ListFilter};
use crate::request::{Item, Source, Status};
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{DateTime, NaiveDate, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

/// Records per page.
pub const PAGE_SIZE: i64 = 50;

/// The filters as they arrive in the query string (every one optional;
/// an unreadable value is ignored with a note on the page, never an error).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct QueueQuery {
    /// 対応日 `YYYY-MM-DD`; absent: today's batch; `all`: every date.
    pub date: Option<String>,
    /// Prefecture name.
    pub prefecture: Option<String>,
    /// `g-mis` or `sheet`.
    pub source: Option<String>,
    /// A status word.
    pub status: Option<String>,
    /// An item code.
    pub item: Option<String>,
    /// Institution name or code.
    pub q: Option<String>,
    /// Page number from 1.
    pub page: Option<i64>,
    /// Notice code after an action.
    pub notice: Option<String>,
}

/// Today's batch date: the batch being worked today (the next business day
/// when today is not one; under the weekly rule, this week's deadline).
pub fn todays_batch(rule: CutoffRule, now: DateTime<Utc>) -> NaiveDate {
    match rule {
        CutoffRule::Daily13 => {
            calendar::this_or_next_business_day(now.with_timezone(&JST).date_naive())
        }
        CutoffRule::WeeklyWed17 => calendar::batch_date(rule, &now).date(),
    }
}

/// One line of the table, ready to print.
#[derive(Debug, Serialize)]
struct Row {
    id: i64,
    receipt: String,
    source: &'static str,
    status: &'static str,
    received_at: String,
    batch_date: String,
    prefecture: String,
    institution_code: String,
    institution_name: String,
    items: String,
    error_count: i64,
    warning_count: i64,
    earlier_distributions: i64,
    refused_because_completed: bool,
}

/// The filters, read.
struct Filters {
    filter: ListFilter,
    date_text: String,
    notes: Vec<String>,
}

fn read_filters(q: &QueueQuery, today: NaiveDate) -> Filters {
    let mut notes = Vec::new();
    let mut filter = ListFilter {
        limit: PAGE_SIZE,
        ..ListFilter::default()
    };
    let date_text = match q.date.as_deref().map(str::trim) {
        None => today.to_string(),
        Some("all") | Some("") => "all".to_string(),
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(_) => d.to_string(),
            Err(_) => {
                notes.push(crate::messages::web::bad_date("対応日", d));
                today.to_string()
            }
        },
    };
    filter.batch_date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d").ok();
    if let Some(p) = nonempty(&q.prefecture) {
        filter.prefecture = Prefecture::parse(p);
        if filter.prefecture.is_none() {
            notes.push(crate::messages::web::bad_prefecture(p));
        }
    }
    filter.source = nonempty(&q.source).and_then(Source::parse);
    filter.status = nonempty(&q.status).and_then(Status::parse);
    if let Some(i) = nonempty(&q.item) {
        filter.item = Item::parse(i);
        if filter.item.is_none() {
            notes.push(crate::messages::web::bad_item(i));
        }
    }
    filter.search = nonempty(&q.q).map(str::to_string);
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    filter.offset = (page - 1) * PAGE_SIZE;
    Filters {
        filter,
        date_text,
        notes,
    }
}

/// The queue a request page was opened from (issue 13.4): the filters of
/// its link, or, opened without any, the request's own batch. Paging is
/// dropped (前の要請 / 次の要請 cross page boundaries).
pub struct QueueContext {
    /// The list's filter, unpaged.
    pub filter: ListFilter,
    /// The filters as a query string (`?date=…&…`), to carry on.
    pub query: String,
}

/// Reads the queue context of a request page from its query string.
pub fn context_of(q: &QueueQuery, batch_date: NaiveDate, today: NaiveDate) -> QueueContext {
    let q = QueueQuery {
        date: q.date.clone().or_else(|| Some(batch_date.to_string())),
        page: None,
        notice: None,
        ..q.clone()
    };
    let mut filter = read_filters(&q, today).filter;
    filter.offset = 0;
    QueueContext {
        filter,
        query: query_string(&q),
    }
}

/// Today's batch under the configured cut-off rule, now.
pub fn todays_batch_now(state: &AppState) -> NaiveDate {
    let rule = state.settings().config.cutoff_rule().unwrap_or_default();
    todays_batch(rule, Utc::now())
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// GET /queue.
pub async fn queue(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<QueueQuery>,
) -> Result<Html<String>, WebError> {
    let rule = state.settings().config.cutoff_rule().unwrap_or_default();
    let today = todays_batch(rule, Utc::now());
    let Filters {
        filter,
        date_text,
        notes,
    } = read_filters(&q, today);
    let mut conn = state.db().pool().acquire().await?;
    let listing = queue::list(&mut conn, &filter).await?;
    let rows: Vec<Row> = listing.records.iter().map(row_of).collect();
    let page = filter.offset / PAGE_SIZE + 1;
    let pages = ((listing.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let counts: Vec<_> = listing
        .counts
        .iter()
        .map(|c| context! { status => c.status.as_str(), count => c.count })
        .collect();
    let all_count: i64 = listing.counts.iter().map(|c| c.count).sum();
    // An empty batch says where the open work is (issue 13.3).
    let elsewhere = match filter.batch_date {
        Some(date) if listing.total == 0 => {
            super::overview::work_elsewhere(&mut conn, date).await?
        }
        _ => Vec::new(),
    };
    let base = QueueQuery {
        page: None,
        notice: None,
        date: Some(date_text.clone()),
        ..q.clone()
    };
    state.render(
        "queue.html",
        context! {
            staff => &staff,
            nav => "queue",
            notice => q.notice.as_deref().and_then(crate::messages::web::notice),
            notes => notes,
            rows => rows,
            total => listing.total,
            counts => counts,
            all_count => all_count,
            page => page,
            pages => pages,
            today => today.to_string(),
            date => date_text,
            is_today => filter.batch_date == Some(today),
            f => context! {
                prefecture => filter.prefecture.map(|p| p.name()),
                source => filter.source.map(|s| s.as_str()),
                status => filter.status.map(|s| s.as_str()),
                item => filter.item.map(|i| i.code()),
                q => filter.search.clone().unwrap_or_default(),
            },
            prefectures => Prefecture::all().map(|p| p.name()).collect::<Vec<_>>(),
            statuses => Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            items => Item::ALL.iter().map(|i| context! { code => i.code(), label => i.label() }).collect::<Vec<_>>(),
            link_base => query_string(&base),
            prev_link => (page > 1).then(|| query_string(&QueueQuery { page: Some(page - 1), ..base.clone() })),
            next_link => (page < pages).then(|| query_string(&QueueQuery { page: Some(page + 1), ..base.clone() })),
            status_links => Status::ALL.iter().map(|s| context! {
                status => s.as_str(),
                href => query_string(&QueueQuery { status: Some(s.as_str().to_string()), ..base.clone() }),
            }).collect::<Vec<_>>(),
            all_status_href => query_string(&QueueQuery { status: None, ..base.clone() }),
            export_query => export_query(&date_text, filter.prefecture),
            elsewhere => elsewhere,
        },
    )
}

fn row_of(r: &queue::RequestSummary) -> Row {
    Row {
        id: r.id,
        receipt: r.receipt.clone(),
        source: source_label(r.source),
        status: r.status.as_str(),
        received_at: jst(r.received_at),
        batch_date: r.batch_date.to_string(),
        prefecture: r.prefecture.clone(),
        institution_code: r.institution_code.clone(),
        institution_name: r.institution_name.clone(),
        items: r
            .items
            .iter()
            .map(|i| i.label())
            .collect::<Vec<_>>()
            .join("、"),
        error_count: r.error_count,
        warning_count: r.warning_count,
        earlier_distributions: r.earlier_distributions,
        refused_because_completed: r.refused_because_completed,
    }
}

/// The source as shown: G-MIS / シート.
pub fn source_label(source: Source) -> &'static str {
    match source {
        Source::Gmis => "G-MIS",
        Source::Sheet => "シート",
    }
}

/// A time in Japan, to the minute… and the second, which the cut-off needs.
pub fn jst(at: DateTime<Utc>) -> String {
    at.with_timezone(&JST)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `?a=b&…` of the non-empty fields of a query.
pub fn query_string(q: &QueueQuery) -> String {
    let mut parts = Vec::new();
    let mut push = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", super::guard::urlencode(v)));
        }
    };
    push("date", &q.date);
    push("prefecture", &q.prefecture);
    push("source", &q.source);
    push("status", &q.status);
    push("item", &q.item);
    push("q", &q.q);
    if let Some(p) = q.page {
        parts.push(format!("page={p}"));
    }
    format!("?{}", parts.join("&"))
}

fn export_query(date: &str, prefecture: Option<Prefecture>) -> Option<String> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let mut q = format!("?date={date}");
    if let Some(p) = prefecture {
        q.push_str(&format!(
            "&prefecture={}",
            super::guard::urlencode(p.name())
        ));
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn todays_batch_skips_days_off() {
        // Saturday 2026-11-21 → Monday 2026-11-23 is 勤労感謝の日 → Tuesday.
        let sat = DateTime::parse_from_rfc3339("2026-11-21T10:00:00+09:00")
            .unwrap()
            .to_utc();
        assert_eq!(todays_batch(CutoffRule::Daily13, sat), d("2026-11-24"));
        // A business day stays itself even after 13:00 (staff still work it).
        let fri = DateTime::parse_from_rfc3339("2026-11-20T15:00:00+09:00")
            .unwrap()
            .to_utc();
        assert_eq!(todays_batch(CutoffRule::Daily13, fri), d("2026-11-20"));
    }

    #[test]
    fn filters_default_to_today_and_ignore_bad_values() {
        let today = d("2026-11-20");
        let f = read_filters(&QueueQuery::default(), today);
        assert_eq!(f.filter.batch_date, Some(today));
        let q = QueueQuery {
            date: Some("all".into()),
            prefecture: Some("東京".into()),
            status: Some("受付完了".into()),
            item: Some("傘".into()),
            page: Some(3),
            ..QueueQuery::default()
        };
        let f = read_filters(&q, today);
        assert_eq!(f.filter.batch_date, None);
        assert_eq!(f.filter.prefecture.map(|p| p.name()), Some("東京都"));
        assert_eq!(f.filter.status, Some(Status::Completed));
        assert_eq!(f.filter.item, None);
        assert_eq!(f.notes.len(), 1);
        assert_eq!(f.filter.offset, 2 * PAGE_SIZE);
        let f = read_filters(
            &QueueQuery {
                date: Some("2026-13-01".into()),
                ..QueueQuery::default()
            },
            today,
        );
        assert_eq!(f.filter.batch_date, Some(today));
        assert_eq!(f.notes.len(), 1);
    }
}
