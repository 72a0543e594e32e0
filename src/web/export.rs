//! Exports of a batch: the 配送先リスト (one row per approved item of each
//! 受付完了 record) and the per-prefecture summary, as Excel and as CSV
//! (UTF-8 with BOM, which Excel opens correctly).

use super::request_page::download;
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::prefecture::Prefecture;
use crate::queue::review::{self, DeliveryRow, PrefectureSummary};
use crate::request::Item;
use anyhow::Context;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook, Worksheet};
use serde::Deserialize;

/// The 配送先リスト's name: its file name, sheet name and title.
const DELIVERY_LIST: &str = "配送先リスト";

/// The per-prefecture summary's name: its file name, sheet name and title.
const PREFECTURE_SUMMARY: &str = "都道府県別集計";

/// The 配送先リスト's columns.
pub const DELIVERY_HEADERS: [&str; 13] = [
    "受付番号",
    "都道府県",
    "医療機関名",
    "医療機関コード",
    "住所",
    "郵便番号",
    "電話番号",
    "担当者名",
    "物品",
    "配布数",
    "配布方法",
    "送付日",
    "確認事項",
];

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV: &str = "text/csv; charset=utf-8";

/// Which batch to export.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    /// 対応日 `YYYY-MM-DD`.
    #[serde(default)]
    pub date: String,
    /// Only this prefecture.
    #[serde(default)]
    pub prefecture: String,
}

async fn rows(
    state: &AppState,
    q: &ExportQuery,
) -> Result<(NaiveDate, Vec<DeliveryRow>), WebError> {
    let date = NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d")
        .map_err(|_| WebError::BadInput(msg::bad_date("対応日", &q.date)))?;
    let prefecture = match q.prefecture.trim() {
        "" => None,
        p => Some(Prefecture::parse(p).ok_or_else(|| WebError::BadInput(msg::bad_prefecture(p)))?),
    };
    let mut conn = state.db().pool().acquire().await?;
    Ok((
        date,
        review::delivery_rows(&mut conn, date, prefecture).await?,
    ))
}

fn delivery_cells(r: &DeliveryRow) -> [String; 13] {
    [
        r.receipt.clone(),
        r.prefecture.clone(),
        r.institution_name.clone(),
        r.institution_code.clone(),
        r.address.clone(),
        r.postcode.clone(),
        r.phone.clone(),
        r.contact.clone(),
        r.item.label().to_string(),
        r.quantity.to_string(),
        r.method.clone(),
        r.ship_date.map(|d| d.to_string()).unwrap_or_default(),
        // A row nobody can deliver to is flagged (G-MIS exports no
        // address), never silently sent out blank (issue 13.8).
        if r.address.trim().is_empty() {
            msg::delivery_address_missing().to_string()
        } else {
            String::new()
        },
    ]
}

fn summary_headers() -> Vec<String> {
    let mut h = vec!["都道府県".to_string(), "件数".to_string()];
    h.extend(Item::ALL.iter().map(|i| i.label().to_string()));
    h.push("合計".to_string());
    h
}

fn summary_cells(s: &PrefectureSummary) -> Vec<String> {
    let mut c = vec![s.prefecture.clone(), s.requests.to_string()];
    c.extend(s.quantities.iter().map(|q| q.to_string()));
    c.push(s.total.to_string());
    c
}

/// GET /exports/delivery.xlsx?date=….
pub async fn delivery_xlsx(
    State(state): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let (date, rows) = rows(&state, &q).await?;
    let bytes = delivery_workbook(date, &rows)?;
    Ok(download(
        bytes,
        XLSX,
        &format!("{DELIVERY_LIST}_{date}.xlsx"),
    ))
}

/// GET /exports/delivery.csv?date=….
pub async fn delivery_csv(
    State(state): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let (date, rows) = rows(&state, &q).await?;
    let bytes = csv_bytes(
        DELIVERY_HEADERS.iter().map(|s| s.to_string()).collect(),
        rows.iter().map(|r| delivery_cells(r).to_vec()),
    )?;
    Ok(download(bytes, CSV, &format!("{DELIVERY_LIST}_{date}.csv")))
}

/// GET /exports/summary.xlsx?date=….
pub async fn summary_xlsx(
    State(state): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let (date, rows) = rows(&state, &q).await?;
    let summary = review::summarise(&rows);
    let bytes = summary_workbook(date, &summary)?;
    Ok(download(
        bytes,
        XLSX,
        &format!("{PREFECTURE_SUMMARY}_{date}.xlsx"),
    ))
}

/// GET /exports/summary.csv?date=….
pub async fn summary_csv(
    State(state): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let (date, rows) = rows(&state, &q).await?;
    let summary = review::summarise(&rows);
    let bytes = csv_bytes(summary_headers(), summary.iter().map(summary_cells))?;
    Ok(download(
        bytes,
        CSV,
        &format!("{PREFECTURE_SUMMARY}_{date}.csv"),
    ))
}

/// A new worksheet named `title` laid out as every export is: the title
/// with the 対応日 in bold on the first row, then (after a blank row) the
/// bold, shaded column headers; the data rows start on the fourth row.
fn titled_worksheet<'a>(
    wb: &'a mut Workbook,
    title: &str,
    date: NaiveDate,
    headers: &[impl AsRef<str>],
) -> anyhow::Result<&'a mut Worksheet> {
    let bold = Format::new().set_bold();
    let header = Format::new()
        .set_bold()
        .set_background_color("#DDE6F0")
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let ws = wb.add_worksheet();
    ws.set_name(title)?;
    ws.write_string_with_format(0, 0, format!("{title}　対応日 {date}"), &bold)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, h.as_ref(), &header)?;
    }
    Ok(ws)
}

/// The 配送先リスト workbook: a title row, the header, one row per line;
/// quantities as numbers, everything else as text (codes keep leading zeros).
pub fn delivery_workbook(date: NaiveDate, rows: &[DeliveryRow]) -> anyhow::Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = titled_worksheet(&mut wb, DELIVERY_LIST, date, &DELIVERY_HEADERS)?;
    for (i, r) in rows.iter().enumerate() {
        let row = 3 + i as u32;
        for (c, v) in delivery_cells(r).iter().enumerate() {
            if c == 9 {
                ws.write_number(row, c as u16, r.quantity as f64)?;
            } else {
                ws.write_string(row, c as u16, v)?;
            }
        }
    }
    ws.set_freeze_panes(3, 0)?;
    if !rows.is_empty() {
        ws.autofilter(
            2,
            0,
            2 + rows.len() as u32,
            DELIVERY_HEADERS.len() as u16 - 1,
        )?;
    }
    for (c, w) in [18, 10, 28, 14, 36, 10, 14, 14, 16, 10, 16, 12, 28]
        .into_iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, w)?;
    }
    wb.save_to_buffer()
        .context("cannot write the delivery workbook")
}

/// The per-prefecture summary workbook, with a total row.
pub fn summary_workbook(date: NaiveDate, summary: &[PrefectureSummary]) -> anyhow::Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = titled_worksheet(&mut wb, PREFECTURE_SUMMARY, date, &summary_headers())?;
    let mut totals = [0i64; 7];
    for (i, s) in summary.iter().enumerate() {
        let row = 3 + i as u32;
        ws.write_string(row, 0, &s.prefecture)?;
        let numbers: Vec<i64> = std::iter::once(s.requests)
            .chain(s.quantities)
            .chain(std::iter::once(s.total))
            .collect();
        for (k, n) in numbers.iter().enumerate() {
            ws.write_number(row, 1 + k as u16, *n as f64)?;
            if let Some(t) = totals.get_mut(k) {
                *t += n;
            }
        }
    }
    let total_row = 3 + summary.len() as u32;
    ws.write_string_with_format(total_row, 0, "合計", &bold)?;
    for (k, n) in totals.iter().enumerate() {
        ws.write_number_with_format(total_row, 1 + k as u16, *n as f64, &bold)?;
    }
    ws.set_column_width(0, 12)?;
    for c in 1..8u16 {
        ws.set_column_width(c, 16)?;
    }
    wb.save_to_buffer()
        .context("cannot write the summary workbook")
}

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
/// tab, carriage return first) gets a leading `'`, so a name typed into a
/// sheet by anyone cannot become a formula in the ministry's Excel.
pub fn defuse_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// CSV with a UTF-8 BOM.
fn csv_bytes(
    headers: Vec<String>,
    rows: impl Iterator<Item = Vec<String>>,
) -> anyhow::Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&headers)?;
        for r in rows {
            w.write_record(r.iter().map(|c| defuse_formula(c).into_owned()))?;
        }
        w.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_in_csv() {
        for (input, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("みどり内科", "みどり内科"),
            ("03-1234-5678", "03-1234-5678"),
        ] {
            assert_eq!(defuse_formula(input), want, "{input:?}");
        }
        let bytes =
            csv_bytes(vec!["a".into()], vec![vec!["=1+1".to_string()]].into_iter()).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "\u{feff}a\n'=1+1\n");
    }
}
