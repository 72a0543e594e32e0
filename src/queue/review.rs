//! Reads the review desk needs beyond the queue's own listing: the
//! approved lines of a batch's 受付完了 records, for the 配送先リスト and the
//! per-prefecture summary. Read-only; owner: web (engineer G).

use super::db::{date_text, parse_date};
use crate::prefecture::Prefecture;
use crate::request::{Item, Status};
use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// One line of the 配送先リスト: an approved item of a 受付完了 record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryRow {
    /// 受付番号.
    pub receipt: String,
    /// Prefecture name.
    pub prefecture: String,
    /// 医療機関名.
    pub institution_name: String,
    /// 医療機関コード.
    pub institution_code: String,
    /// 医療機関住所.
    pub address: String,
    /// 郵便番号.
    pub postcode: String,
    /// 連絡先電話番号.
    pub phone: String,
    /// 医療機関担当者名.
    pub contact: String,
    /// The item.
    pub item: Item,
    /// 配布数 (MHLW's).
    pub quantity: i64,
    /// 配布方法 as the prefecture chose it (empty for G-MIS requests).
    pub method: String,
    /// 送付日.
    pub ship_date: Option<NaiveDate>,
}

/// The approved lines of the 受付完了 records of one batch (optionally one
/// prefecture), by prefecture number, receipt and item order.
pub async fn delivery_rows(
    conn: &mut AnyConnection,
    batch_date: NaiveDate,
    prefecture: Option<Prefecture>,
) -> anyhow::Result<Vec<DeliveryRow>> {
    let mut sql = String::from(
        "SELECT r.receipt, r.prefecture, r.institution_name, r.institution_code, r.institution_address, \
         r.institution_postcode, r.institution_phone, r.institution_contact, \
         i.item, i.mhlw_quantity, i.pref_method, i.mhlw_ship_date \
         FROM requests r JOIN request_items i ON i.request_id = r.id \
         WHERE r.batch_date = $1 AND r.status = $2 AND i.requested = 1 AND i.mhlw_approved = 1",
    );
    if prefecture.is_some() {
        sql.push_str(" AND r.prefecture = $3");
    }
    sql.push_str(" ORDER BY r.receipt, i.position");
    let mut q = sqlx::query(&sql)
        .bind(date_text(batch_date))
        .bind(Status::Completed.as_str());
    if let Some(p) = prefecture {
        q = q.bind(p.name());
    }
    let rows = q
        .fetch_all(&mut *conn)
        .await
        .context("cannot read the delivery list")?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let item: String = row.try_get("item")?;
        let ship: Option<String> = row.try_get("mhlw_ship_date")?;
        out.push(DeliveryRow {
            receipt: row.try_get("receipt")?,
            prefecture: row.try_get("prefecture")?,
            institution_name: row.try_get("institution_name")?,
            institution_code: row.try_get("institution_code")?,
            address: row.try_get("institution_address")?,
            postcode: row.try_get("institution_postcode")?,
            phone: row.try_get("institution_phone")?,
            contact: row.try_get("institution_contact")?,
            item: Item::parse(&item).with_context(|| format!("unknown stored item {item:?}"))?,
            quantity: row.try_get::<Option<i64>, _>("mhlw_quantity")?.unwrap_or(0),
            method: row
                .try_get::<Option<String>, _>("pref_method")?
                .unwrap_or_default(),
            ship_date: ship.as_deref().map(parse_date).transpose()?,
        });
    }
    // Prefectures in their official order (北海道 … 沖縄県), then receipt.
    out.sort_by_key(|r| {
        (
            Prefecture::parse(&r.prefecture)
                .map(|p| p.number())
                .unwrap_or(99),
            r.receipt.clone(),
        )
    });
    Ok(out)
}

/// One prefecture's line of the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefectureSummary {
    /// Prefecture name.
    pub prefecture: String,
    /// 受付完了 records with at least one approved item.
    pub requests: i64,
    /// Approved quantity per item, in [`Item::ALL`] order.
    pub quantities: [i64; 5],
    /// All items together.
    pub total: i64,
}

/// Sums the delivery rows per prefecture (same order as the rows).
pub fn summarise(rows: &[DeliveryRow]) -> Vec<PrefectureSummary> {
    let mut out: Vec<PrefectureSummary> = Vec::new();
    let mut last_receipt: Option<&str> = None;
    for row in rows {
        if out.last().is_none_or(|s| s.prefecture != row.prefecture) {
            out.push(PrefectureSummary {
                prefecture: row.prefecture.clone(),
                requests: 0,
                quantities: [0; 5],
                total: 0,
            });
            last_receipt = None;
        }
        let Some(s) = out.last_mut() else { continue };
        if last_receipt != Some(row.receipt.as_str()) {
            s.requests += 1;
            last_receipt = Some(row.receipt.as_str());
        }
        if let Some(i) = Item::ALL.iter().position(|it| *it == row.item) {
            s.quantities[i] += row.quantity;
        }
        s.total += row.quantity;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pref: &str, receipt: &str, item: Item, q: i64) -> DeliveryRow {
        DeliveryRow {
            receipt: receipt.into(),
            prefecture: pref.into(),
            institution_name: String::new(),
            institution_code: String::new(),
            address: String::new(),
            postcode: String::new(),
            phone: String::new(),
            contact: String::new(),
            item,
            quantity: q,
            method: String::new(),
            ship_date: None,
        }
    }

    #[test]
    fn summary_counts_requests_once_and_sums_items() {
        let rows = vec![
            row("北海道", "A", Item::NonSterileGloves, 100),
            row("北海道", "A", Item::SurgicalMask, 50),
            row("北海道", "B", Item::NonSterileGloves, 20),
            row("東京都", "C", Item::NonSterileGloves, 7),
        ];
        let s = summarise(&rows);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (
                s[0].requests,
                s[0].quantities[4],
                s[0].quantities[0],
                s[0].total
            ),
            (2, 120, 50, 170)
        );
        assert_eq!(
            (s[1].prefecture.as_str(), s[1].requests, s[1].total),
            ("東京都", 1, 7)
        );
    }
}
