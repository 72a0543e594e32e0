//! The day overview (issue 13.3): for the batch being worked on, counts by
//! status and source, per prefecture, and item totals (requests, the
//! prefectures' proposals, approved), every number a link into the queue
//! filtered to exactly those records. When the batch is empty it says
//! where the open work is instead.

use super::auth::Staff;
use super::queue_page::{QueueQuery, query_string, todays_batch};
use super::request_page::{date_jp, number};
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::queue::overview::{self, BatchOverview};
use crate::request::{Item, Source, Status};
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{NaiveDate, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

/// Query of the overview.
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    /// 対応日 `YYYY-MM-DD`; absent or unreadable: today's batch.
    pub date: Option<String>,
}

/// Makes the queue link of a batch with some filters set.
type Link<'a> = dyn Fn(&dyn Fn(&mut QueueQuery)) -> String + 'a;

/// A number with the link to its records.
#[derive(Debug, Serialize)]
struct Cell {
    count: i64,
    href: String,
}

#[derive(Debug, Serialize)]
struct StatusRow {
    status: &'static str,
    gmis: Cell,
    sheet: Cell,
    total: Cell,
}

#[derive(Debug, Serialize)]
struct PrefectureRow {
    prefecture: String,
    cells: Vec<Cell>,
    total: Cell,
}

#[derive(Debug, Serialize)]
struct ItemRow {
    label: &'static str,
    requests: Cell,
    proposed: String,
    approved: String,
    decided: i64,
}

/// A batch elsewhere that holds open work.
#[derive(Debug, Serialize)]
pub struct Elsewhere {
    /// `12月3日（木）分に6件あります`.
    pub text: String,
    /// Its queue.
    pub href: String,
}

/// GET /overview.
pub async fn show(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<OverviewQuery>,
) -> Result<Html<String>, WebError> {
    let rule = state.settings().config.cutoff_rule().unwrap_or_default();
    let today = todays_batch(rule, Utc::now());
    let date = q
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .unwrap_or(today);
    let mut conn = state.db().pool().acquire().await?;
    let data = overview::of_batch(&mut conn, date).await?;
    let elsewhere = work_elsewhere(&mut conn, date).await?;
    let link = |f: &dyn Fn(&mut QueueQuery)| {
        let mut q = QueueQuery {
            date: Some(date.to_string()),
            ..QueueQuery::default()
        };
        f(&mut q);
        format!("/queue{}", query_string(&q))
    };
    state.render(
        "overview.html",
        context! {
            staff => &staff,
            nav => "overview",
            date => date.to_string(),
            date_jp => date_jp(date),
            is_today => date == today,
            total => data.groups.iter().map(|g| g.count).sum::<i64>(),
            statuses => status_rows(&data, &link),
            prefectures => prefecture_rows(&data, &link),
            items => item_rows(&data, &link),
            elsewhere => elsewhere,
            queue_href => link(&|_| {}),
        },
    )
}

/// The open batches nearest to `date` (three at most), as sentences with
/// links: what an empty list shows.
pub async fn work_elsewhere(
    conn: &mut sqlx::AnyConnection,
    date: NaiveDate,
) -> Result<Vec<Elsewhere>, WebError> {
    let open = overview::open_batches(conn).await?;
    Ok(overview::nearest_elsewhere(&open, date, 3)
        .into_iter()
        .map(|(d, n)| Elsewhere {
            text: msg::work_elsewhere(d, n),
            href: format!("/queue?date={d}"),
        })
        .collect())
}

fn count(data: &BatchOverview, keep: impl Fn(&overview::Group) -> bool) -> i64 {
    data.groups
        .iter()
        .filter(|g| keep(g))
        .map(|g| g.count)
        .sum()
}

fn status_rows(data: &BatchOverview, link: &Link) -> Vec<StatusRow> {
    Status::ALL
        .iter()
        .map(|s| {
            let st = s.as_str();
            let cell = |source: Option<Source>| Cell {
                count: count(data, |g| {
                    g.status == st && source.is_none_or(|x| g.source == x.as_str())
                }),
                href: link(&|q| {
                    q.status = Some(st.to_string());
                    q.source = source.map(|x| x.as_str().to_string());
                }),
            };
            StatusRow {
                status: st,
                gmis: cell(Some(Source::Gmis)),
                sheet: cell(Some(Source::Sheet)),
                total: cell(None),
            }
        })
        .collect()
}

fn prefecture_rows(data: &BatchOverview, link: &Link) -> Vec<PrefectureRow> {
    let mut names: Vec<&str> = data.groups.iter().map(|g| g.prefecture.as_str()).collect();
    // In the official order (北海道 … 沖縄県), as every MHLW table lists them.
    names.sort_by_key(|n| {
        (
            crate::prefecture::Prefecture::parse(n).map(|p| p.code()),
            *n,
        )
    });
    names.dedup();
    names
        .into_iter()
        .map(|p| {
            let cell = |status: Option<Status>| Cell {
                count: count(data, |g| {
                    g.prefecture == p && status.is_none_or(|s| g.status == s.as_str())
                }),
                href: link(&|q| {
                    q.prefecture = Some(p.to_string());
                    q.status = status.map(|s| s.as_str().to_string());
                }),
            };
            PrefectureRow {
                prefecture: p.to_string(),
                cells: Status::ALL.iter().map(|s| cell(Some(*s))).collect(),
                total: cell(None),
            }
        })
        .collect()
}

fn item_rows(data: &BatchOverview, link: &Link) -> Vec<ItemRow> {
    Item::ALL
        .iter()
        .filter_map(|item| {
            let t = data.items.iter().find(|t| t.item == item.code())?;
            Some(ItemRow {
                label: item.label(),
                requests: Cell {
                    count: t.requests,
                    href: link(&|q| q.item = Some(item.code().to_string())),
                },
                proposed: number(Some(t.proposed)),
                approved: number(Some(t.approved)),
                decided: t.decided,
            })
        })
        .collect()
}
