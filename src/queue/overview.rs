//! The day overview of a batch (issue 13.3): counts by source, status and
//! prefecture, item totals (requests, the prefectures' proposals, what was
//! approved), and where open work lies in other batches — so an empty list
//! can say 「12月3日（木）分に6件あります」. Superseded versions are left out
//! everywhere, as in the queue.

use super::db::{date_text, parse_date};
use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// Records of one source, status and prefecture in the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// `g-mis` or `sheet`.
    pub source: String,
    /// The status word.
    pub status: String,
    /// The prefecture.
    pub prefecture: String,
    /// How many records.
    pub count: i64,
}

/// One item's totals in the batch (requested lines only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemTotals {
    /// The item code.
    pub item: String,
    /// Requests asking for it.
    pub requests: i64,
    /// 総配布枚数 the prefectures proposed where they said 要.
    pub proposed: i64,
    /// 配布数 MHLW approved.
    pub approved: i64,
    /// Items decided (approved or refused).
    pub decided: i64,
}

/// Everything the overview page shows of one batch.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BatchOverview {
    /// By source, status and prefecture.
    pub groups: Vec<Group>,
    /// By item.
    pub items: Vec<ItemTotals>,
}

/// The overview of batch `date`.
pub async fn of_batch(conn: &mut AnyConnection, date: NaiveDate) -> anyhow::Result<BatchOverview> {
    let rows = sqlx::query(
        "SELECT source, status, prefecture, COUNT(*) AS n FROM requests \
         WHERE batch_date = $1 AND superseded_by IS NULL \
         GROUP BY source, status, prefecture ORDER BY prefecture, source, status",
    )
    .bind(date_text(date))
    .fetch_all(&mut *conn)
    .await
    .context("cannot count the batch")?;
    let groups = rows
        .iter()
        .map(|r| {
            Ok(Group {
                source: r.try_get("source")?,
                status: r.try_get("status")?,
                prefecture: r.try_get("prefecture")?,
                count: r.try_get("n")?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    // SUM is cast: PostgreSQL sums BIGINT to NUMERIC, which sqlx's Any
    // driver cannot read.
    let rows = sqlx::query(
        "SELECT i.item, COUNT(*) AS n, \
         CAST(SUM(CASE WHEN i.pref_need = '要' THEN COALESCE(i.pref_total_quantity, 0) ELSE 0 END) AS BIGINT) AS proposed, \
         CAST(SUM(CASE WHEN i.mhlw_approved = 1 THEN COALESCE(i.mhlw_quantity, 0) ELSE 0 END) AS BIGINT) AS approved, \
         CAST(SUM(CASE WHEN i.mhlw_approved IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS decided \
         FROM request_items i JOIN requests r ON r.id = i.request_id \
         WHERE r.batch_date = $1 AND r.superseded_by IS NULL AND i.requested = 1 \
         GROUP BY i.item",
    )
    .bind(date_text(date))
    .fetch_all(&mut *conn)
    .await
    .context("cannot total the batch's items")?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(ItemTotals {
                item: r.try_get("item")?,
                requests: r.try_get("n")?,
                proposed: r.try_get("proposed")?,
                approved: r.try_get("approved")?,
                decided: r.try_get("decided")?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(BatchOverview { groups, items })
}

/// Batches holding records not yet 受付完了, with how many, by date.
pub async fn open_batches(conn: &mut AnyConnection) -> anyhow::Result<Vec<(NaiveDate, i64)>> {
    let rows = sqlx::query(
        "SELECT batch_date, COUNT(*) AS n FROM requests \
         WHERE superseded_by IS NULL AND status <> '受付完了' \
         GROUP BY batch_date ORDER BY batch_date",
    )
    .fetch_all(&mut *conn)
    .await
    .context("cannot count the open batches")?;
    rows.iter()
        .map(|r| {
            let date: String = r.try_get("batch_date")?;
            Ok((parse_date(&date)?, r.try_get("n")?))
        })
        .collect()
}

/// Of `open`, the batches other than `shown` nearest to it, at most `n`,
/// later ones first when equally near (tomorrow's batch before
/// yesterday's).
pub fn nearest_elsewhere(
    open: &[(NaiveDate, i64)],
    shown: NaiveDate,
    n: usize,
) -> Vec<(NaiveDate, i64)> {
    let mut others: Vec<_> = open.iter().copied().filter(|(d, _)| *d != shown).collect();
    others.sort_by_key(|(d, _)| ((*d - shown).num_days().abs(), *d < shown));
    others.truncate(n);
    others
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_other_batches_come_first_tomorrow_before_yesterday() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        let open = [(d(1), 2), (d(2), 5), (d(3), 6), (d(9), 1)];
        assert_eq!(
            nearest_elsewhere(&open, d(2), 2),
            vec![(d(3), 6), (d(1), 2)]
        );
        assert!(nearest_elsewhere(&[(d(2), 1)], d(2), 3).is_empty());
    }
}
