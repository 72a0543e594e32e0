//! Reading the G-MIS SOS report export: the CSV that MHLW downloads from
//! G-MIS, one row per request item, into [`GmisRequest`]s the queue files.
//!
//! The bytes may be UTF-8 with or without BOM, UTF-16 with BOM, or
//! Shift_JIS/CP932 (Excel's "CSV" on Japanese Windows); see [`decode`].
//! Columns are found by their header names, so a reordered export or one
//! with extra columns reads the same. A bad row is reported with its line
//! number and leaves out only the request it belongs to. Nothing here panics,
//! whatever the bytes.

use crate::calendar::JST;
use crate::prefecture::Prefecture;
use crate::request::{
    Institution, Item, ItemLine, Method, Need, Outlook, PrefectureDecision, Status,
};
use crate::text::{self, Quantity, Unit};
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;
use std::collections::HashMap;

/// How the file's bytes were decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TextEncoding {
    /// UTF-8 starting with a byte order mark (what G-MIS writes).
    Utf8Bom,
    /// UTF-8 without BOM.
    Utf8,
    /// Shift_JIS / CP932 (Windows-31J), e.g. after re-saving in Excel.
    ShiftJis,
    /// UTF-16 (little or big endian) with BOM ("Unicode text" from Excel).
    Utf16,
}

/// The columns of the export the reader needs. Every one must be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Column {
    /// レコードID: one per request; rows sharing it are one request.
    RecordId,
    /// 申請日時 (JST).
    SubmittedAt,
    /// 医療機関名.
    InstitutionName,
    /// 医療機関コード.
    InstitutionCode,
    /// 都道府県.
    Prefecture,
    /// 対応ステータス.
    Status,
    /// 物資.
    Item,
    /// 前日時点の在庫量.
    Stock,
    /// 現在の備蓄見通し.
    Outlook,
    /// 今後1週間の想定消費量.
    WeeklyUse,
    /// 今後1週間の購入見込み量.
    WeeklyPurchase,
    /// 調達不可事由.
    Reason,
    /// 要否.
    Need,
    /// 配布方法.
    Method,
    /// 県の配布枚数.
    PrefectureQuantity,
    /// 国の配布枚数.
    NationalQuantity,
    /// 総配布枚数.
    TotalQuantity,
    /// 都道府県意見.
    Opinion,
    /// 都道府県確認ステータス.
    PrefectureStatus,
}

impl Column {
    /// Every column, in the order of the sample export.
    pub const ALL: [Column; 19] = [
        Column::RecordId,
        Column::SubmittedAt,
        Column::InstitutionName,
        Column::InstitutionCode,
        Column::Prefecture,
        Column::Status,
        Column::Item,
        Column::Stock,
        Column::Outlook,
        Column::WeeklyUse,
        Column::WeeklyPurchase,
        Column::Reason,
        Column::Need,
        Column::Method,
        Column::PrefectureQuantity,
        Column::NationalQuantity,
        Column::TotalQuantity,
        Column::Opinion,
        Column::PrefectureStatus,
    ];

    /// The header as G-MIS writes it.
    pub fn header(self) -> &'static str {
        self.names()[0]
    }

    /// The G-MIS header first, then the request sheet's wording of the same
    /// field, which a hand-edited export may use.
    fn names(self) -> &'static [&'static str] {
        match self {
            Column::RecordId => &["レコードID"],
            Column::SubmittedAt => &["申請日時"],
            Column::InstitutionName => &["医療機関名"],
            Column::InstitutionCode => &["医療機関コード"],
            Column::Prefecture => &["都道府県"],
            Column::Status => &["対応ステータス"],
            Column::Item => &["物資", "配布物品"],
            Column::Stock => &["前日時点の在庫量"],
            Column::Outlook => &["現在の備蓄見通し", "現在の在庫の備蓄見通し"],
            Column::WeeklyUse => &["今後1週間の想定消費量", "今後1週間あたりの想定消費量"],
            Column::WeeklyPurchase => &["今後1週間の購入見込み量", "今後1週間に購入できる見込み量"],
            Column::Reason => &["調達不可事由"],
            Column::Need => &["要否", "緊急配布要請要否"],
            Column::Method => &["配布方法"],
            Column::PrefectureQuantity => &["県の配布枚数"],
            Column::NationalQuantity => &["国の配布枚数"],
            Column::TotalQuantity => &["総配布枚数"],
            Column::Opinion => &["都道府県意見", "都道府県意見（要否決定理由）"],
            Column::PrefectureStatus => &["都道府県確認ステータス"],
        }
    }

    fn matches(self, header_cell: &str) -> bool {
        let folded = text::fold_label(header_cell);
        !folded.is_empty() && self.names().iter().any(|n| text::fold_label(n) == folded)
    }
}

/// One request from G-MIS: the rows sharing a レコードID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GmisRequest {
    /// レコードID, G-MIS's key of the request.
    pub record_id: String,
    /// 申請日時, read as JST.
    pub submitted_at: DateTime<FixedOffset>,
    /// The institution (name, code, prefecture; G-MIS exports no address).
    pub institution: Institution,
    /// 都道府県 (also in `institution.prefecture`).
    pub prefecture: Prefecture,
    /// 対応ステータス.
    pub status: Status,
    /// 都道府県確認ステータス as written (e.g. `完了`).
    pub prefecture_status: String,
    /// The items, in the form's order; each marked as requested.
    pub lines: Vec<ItemLine>,
    /// Physical line of the request's first row in the file (header = 1).
    pub first_line: usize,
}

/// A row that could not be read. The request it belongs to is left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Physical line in the file where the row starts, 1-based; the header
    /// is line 1 and a quoted field with line breaks spans several lines.
    pub line: usize,
    /// The row's レコードID, when it had one (the whole request is then
    /// left out of the import).
    pub record_id: Option<String>,
    /// What is wrong (worded by `row_error` in `src/messages/gmis_csv.rs`).
    pub problem: RowProblem,
}

/// What is wrong with one row, as values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RowProblem {
    /// The CSV itself is broken here; later rows are not read.
    UnreadableCsv {
        /// What the CSV reader reported.
        detail: String,
    },
    /// The row has another number of fields than the header.
    FieldCount {
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A replacement character from decoding is in the row.
    Garbled,
    /// A required value is empty.
    Empty {
        /// The column.
        column: Column,
    },
    /// A value that cannot be read.
    BadValue {
        /// The column.
        column: Column,
        /// The value as written.
        value: String,
        /// What would be readable.
        expected: Expected,
    },
    /// The row disagrees with the first row of its request.
    Inconsistent {
        /// The column that differs.
        column: Column,
        /// The line of the request's first row.
        first_line: usize,
    },
    /// The item is already on another row of the request.
    DuplicateItem {
        /// The item.
        item: Item,
        /// The line of the request's first row.
        first_line: usize,
    },
}

/// What a column's value should look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// 申請日時.
    Datetime,
    /// 医療機関コード.
    Code,
    /// 都道府県.
    Prefecture,
    /// 対応ステータス.
    Status,
    /// 物資.
    Item,
    /// A quantity.
    Quantity,
    /// 備蓄見通し.
    Outlook,
    /// 要否.
    Need,
    /// 配布方法.
    Method,
}

/// The whole export, read.
#[derive(Clone, Debug, Serialize)]
pub struct GmisExport {
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// Some bytes could not be decoded (shown as U+FFFD; rows holding them
    /// are reported in `errors`).
    pub decode_errors: bool,
    /// The requests whose rows all read cleanly, in order of first row.
    pub requests: Vec<GmisRequest>,
    /// Every bad row, in file order.
    pub errors: Vec<RowError>,
    /// Data rows seen (blank rows and the footer not counted).
    pub rows: usize,
    /// Where the Salesforce report footer (copyright, 機密情報 - 転送禁止,
    /// 作成者, organisation) starts, when the file ends with one; those
    /// lines are not data and not errors.
    pub footer_line: Option<usize>,
}

/// A file that cannot be read as a G-MIS export at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// Nothing but blank lines.
    NoHeader,
    /// Required columns are not in the header.
    MissingColumns {
        /// The G-MIS header names that are missing.
        columns: Vec<&'static str>,
        /// The encoding the header was read in (a wrong guess shows here).
        encoding: TextEncoding,
    },
    /// Two header cells name the same column.
    DuplicateColumn {
        /// The G-MIS header name.
        column: &'static str,
    },
}

// `Display` (the Japanese sentence) is in `src/messages/gmis_csv.rs`.
impl std::error::Error for FileError {}

/// Decodes the export's bytes: a BOM decides (UTF-8 or UTF-16); else valid
/// UTF-8 is UTF-8; else Shift_JIS (CP932). The flag is true when some bytes
/// could not be decoded and were replaced by U+FFFD.
pub fn decode(bytes: &[u8]) -> (String, TextEncoding, bool) {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        let (text, errors) = encoding.decode_without_bom_handling(body);
        let kind = if encoding == encoding_rs::UTF_8 {
            TextEncoding::Utf8Bom
        } else {
            TextEncoding::Utf16
        };
        return (text.into_owned(), kind, errors);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), TextEncoding::Utf8, false);
    }
    let (text, errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    (text.into_owned(), TextEncoding::ShiftJis, errors)
}

/// A CSV reader over decoded `text` with the delimiter it uses, reading
/// the header as a record (blank lines above it are skipped by the caller)
/// and rows of any length (a short row is reported, not fatal).
pub(crate) fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes())
}

/// The first record that is not blank: the header. None when the file has
/// none, or the csv reader rejects it (such a header cannot name columns).
pub(crate) fn header_record(
    records: &mut csv::StringRecordsIter<'_, &[u8]>,
) -> Option<csv::StringRecord> {
    loop {
        match records.next()? {
            Ok(record) if is_blank(&record) => continue,
            Ok(record) => return Some(record),
            Err(_) => return None,
        }
    }
}

/// Reads a G-MIS export. Row problems are collected in
/// [`GmisExport::errors`]; only a file without the needed header is an error.
pub fn parse(bytes: &[u8]) -> Result<GmisExport, FileError> {
    let (text, encoding, decode_errors) = decode(bytes);
    let mut reader = csv_reader(&text);

    let mut records = reader.records();
    let header = header_record(&mut records).ok_or(FileError::NoHeader)?;
    let header_len = header.len();
    let columns = locate_columns(&header, encoding)?;

    let mut out = GmisExport {
        encoding,
        decode_errors,
        requests: Vec::new(),
        errors: Vec::new(),
        rows: 0,
        footer_line: None,
    };
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut lines = LineCounter::new(&text);
    for result in records {
        let record = match result {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, |p| lines.line_at(p.byte()));
                out.errors.push(RowError {
                    line,
                    record_id: None,
                    problem: RowProblem::UnreadableCsv {
                        detail: err.to_string(),
                    },
                });
                break;
            }
        };
        if is_blank(&record) {
            continue;
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        // Data after the footer is a real row, reported like any other.
        if (out.footer_line.is_some() || is_footer_start(&record)) && is_footer_line(&record) {
            out.footer_line.get_or_insert(line);
            continue;
        }
        out.rows += 1;
        let row = Row {
            record: &record,
            columns: &columns,
        };
        let record_id =
            Some(row.get(Column::RecordId).trim().to_string()).filter(|s| !s.is_empty());
        let problems = if record.len() != header_len {
            vec![RowProblem::FieldCount {
                found: record.len(),
                expected: header_len,
            }]
        } else {
            match read_row(&row, line) {
                Ok(parsed) => add_row(&mut out.requests, &mut by_id, parsed),
                Err(problems) => problems,
            }
        };
        if !problems.is_empty() {
            for problem in problems {
                out.errors.push(RowError {
                    line,
                    record_id: record_id.clone(),
                    problem,
                });
            }
            if let Some(id) = record_id {
                skipped.push(id);
            }
        }
    }
    out.requests.retain(|r| !skipped.contains(&r.record_id));
    for request in &mut out.requests {
        request.lines.sort_by_key(|l| l.item);
    }
    Ok(out)
}

/// Physical line numbers from the byte offsets the csv reader gives.
///
/// The reader's own line count is taken before it skips the previous
/// record's line break (and any blank lines), so it is one or more short;
/// counting line breaks up to the record's first character is exact.
pub(crate) struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of the first character at or after byte `at` that
    /// is not a line break. Offsets must not decrease between calls.
    pub(crate) fn line_at(&mut self, at: u64) -> usize {
        let mut start = usize::try_from(at)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start >= self.offset {
            let skipped = self.text.get(self.offset..start).unwrap_or_default();
            self.line += skipped.iter().filter(|b| **b == b'\n').count();
            self.offset = start;
        }
        self.line
    }
}

/// Tab-separated when the first line has more tabs than commas (UTF-16
/// "Unicode text" exports), else comma.
pub(crate) fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    if first.matches('\t').count() > first.matches(',').count() {
        b'\t'
    } else {
        b','
    }
}

/// A footer line has text in its first cell only (Salesforce writes each
/// footer line as a one-field row; Excel may pad it with empty cells).
fn is_footer_line(record: &csv::StringRecord) -> bool {
    record.iter().skip(1).all(|f| text::normalize(f).is_empty())
}

/// The first line of a Salesforce report footer: the copyright line
/// (`Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.`)
/// or, when a re-save dropped it, the confidentiality line
/// (`機密情報 - 転送禁止`). Only these start a footer, so a data row that
/// lost its other cells is still reported.
pub(crate) fn is_footer_start(record: &csv::StringRecord) -> bool {
    if !is_footer_line(record) {
        return false;
    }
    let first = text::normalize(record.get(0).unwrap_or_default()).to_lowercase();
    let copyright = first.starts_with("copyright") && first.contains("salesforce");
    let confidential = text::fold_label(&first) == text::fold_label("機密情報 - 転送禁止");
    copyright || confidential
}

pub(crate) fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|f| text::normalize(f).is_empty())
}

fn locate_columns(
    header: &csv::StringRecord,
    encoding: TextEncoding,
) -> Result<HashMap<Column, usize>, FileError> {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for column in Column::ALL {
        let mut hits = header
            .iter()
            .enumerate()
            .filter(|(_, cell)| column.matches(cell));
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => {
                found.insert(column, i);
            }
            (Some(_), Some(_)) => {
                return Err(FileError::DuplicateColumn {
                    column: column.header(),
                });
            }
            (None, _) => missing.push(column.header()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(FileError::MissingColumns {
            columns: missing,
            encoding,
        })
    }
}

/// A data row with the header's column positions.
struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<Column, usize>,
}

impl Row<'_> {
    fn get(&self, column: Column) -> &str {
        self.columns
            .get(&column)
            .and_then(|i| self.record.get(*i))
            .unwrap_or_default()
    }
}

/// One row, read: the request-level fields and its item line.
struct ParsedRow {
    line: usize,
    record_id: String,
    submitted_at: DateTime<FixedOffset>,
    name: String,
    code: String,
    prefecture: Prefecture,
    status: Status,
    prefecture_status: String,
    item_line: ItemLine,
}

/// Collects every problem of one row while its fields are read.
struct FieldReader<'a> {
    row: &'a Row<'a>,
    problems: Vec<RowProblem>,
}

impl FieldReader<'_> {
    /// A field that must not be empty, normalised.
    fn required(&mut self, column: Column) -> String {
        let value = text::normalize(self.row.get(column));
        if value.is_empty() {
            self.problems.push(RowProblem::Empty { column });
        }
        value
    }

    /// Records a problem when a non-empty `raw` did not parse.
    fn check<T>(
        &mut self,
        column: Column,
        raw: &str,
        value: Option<T>,
        expected: Expected,
    ) -> Option<T> {
        if value.is_none() && !raw.is_empty() {
            self.problems.push(RowProblem::BadValue {
                column,
                value: raw.to_string(),
                expected,
            });
        }
        value
    }

    /// A field that may be blank (None) but must parse when filled.
    fn optional<T>(
        &mut self,
        column: Column,
        parse: fn(&str) -> Option<T>,
        expected: Expected,
    ) -> Option<T> {
        let raw = text::normalize(self.row.get(column));
        if raw.is_empty() {
            return None;
        }
        let value = parse(&raw);
        self.check(column, &raw, value, expected)
    }
}

/// Reads every field of a row, collecting all problems.
///
/// Long on purpose: one statement per column of the export, in the
/// export's order, so a missing or misread column is found at a glance.
fn read_row(row: &Row<'_>, line: usize) -> Result<ParsedRow, Vec<RowProblem>> {
    let mut r = FieldReader {
        row,
        problems: Vec::new(),
    };
    if row.record.iter().any(|f| f.contains('\u{FFFD}')) {
        r.problems.push(RowProblem::Garbled);
    }
    let record_id = r.required(Column::RecordId);
    let submitted_raw = r.required(Column::SubmittedAt);
    r.required(Column::InstitutionName);
    let name = free_text(row.get(Column::InstitutionName));
    let code_raw = r.required(Column::InstitutionCode);
    let prefecture_raw = r.required(Column::Prefecture);
    let status_raw = r.required(Column::Status);
    let item_raw = r.required(Column::Item);

    let submitted_at = r.check(
        Column::SubmittedAt,
        &submitted_raw,
        parse_submitted_at(&submitted_raw),
        Expected::Datetime,
    );
    let prefecture = r.check(
        Column::Prefecture,
        &prefecture_raw,
        Prefecture::parse(&prefecture_raw),
        Expected::Prefecture,
    );
    let code = r.check(
        Column::InstitutionCode,
        &code_raw,
        parse_code(&code_raw, prefecture),
        Expected::Code,
    );
    let status = r.check(
        Column::Status,
        &status_raw,
        Status::parse(&status_raw),
        Expected::Status,
    );
    let item = r.check(
        Column::Item,
        &item_raw,
        Item::parse(&item_raw),
        Expected::Item,
    );

    let stock = r.optional(Column::Stock, parse_count, Expected::Quantity);
    let outlook = r.optional(Column::Outlook, parse_outlook, Expected::Outlook);
    let weekly_use = r.optional(Column::WeeklyUse, parse_count, Expected::Quantity);
    let weekly_purchase = r.optional(Column::WeeklyPurchase, parse_count, Expected::Quantity);
    let need = r.optional(Column::Need, parse_need, Expected::Need);
    let method = r.optional(Column::Method, parse_method, Expected::Method);
    let prefecture_quantity =
        r.optional(Column::PrefectureQuantity, parse_count, Expected::Quantity);
    let national_quantity = r.optional(Column::NationalQuantity, parse_count, Expected::Quantity);
    let total_quantity = r.optional(Column::TotalQuantity, parse_count, Expected::Quantity);

    let (Some(submitted_at), Some(prefecture), Some(code), Some(status), Some(item), true) = (
        submitted_at,
        prefecture,
        code,
        status,
        item,
        r.problems.is_empty(),
    ) else {
        return Err(r.problems);
    };
    let item_line = ItemLine {
        requested: true,
        stock,
        outlook,
        weekly_use,
        weekly_purchase,
        reason: free_text(row.get(Column::Reason)),
        prefecture: PrefectureDecision {
            need,
            method,
            prefecture_quantity,
            national_quantity,
            total_quantity,
            opinion: free_text(row.get(Column::Opinion)),
        },
        ..ItemLine::empty(item)
    };
    Ok(ParsedRow {
        line,
        record_id,
        submitted_at,
        name,
        code,
        prefecture,
        status,
        prefecture_status: free_text(row.get(Column::PrefectureStatus)),
        item_line,
    })
}

/// Adds a read row to its request (new or existing); returns the problems
/// when the row contradicts the request's first row.
fn add_row(
    requests: &mut Vec<GmisRequest>,
    by_id: &mut HashMap<String, usize>,
    row: ParsedRow,
) -> Vec<RowProblem> {
    let Some(request) = by_id.get(&row.record_id).and_then(|i| requests.get_mut(*i)) else {
        by_id.insert(row.record_id.clone(), requests.len());
        requests.push(GmisRequest {
            record_id: row.record_id,
            submitted_at: row.submitted_at,
            institution: Institution {
                name: row.name,
                code: row.code,
                prefecture: Some(row.prefecture),
                ..Institution::default()
            },
            prefecture: row.prefecture,
            status: row.status,
            prefecture_status: row.prefecture_status,
            lines: vec![row.item_line],
            first_line: row.line,
        });
        return Vec::new();
    };
    let first = request.first_line;
    let mut problems = Vec::new();
    let mut differs = |same: bool, column: Column| {
        if !same {
            problems.push(RowProblem::Inconsistent {
                column,
                first_line: first,
            });
        }
    };
    differs(
        request.submitted_at == row.submitted_at,
        Column::SubmittedAt,
    );
    differs(
        request.institution.name == row.name,
        Column::InstitutionName,
    );
    differs(
        request.institution.code == row.code,
        Column::InstitutionCode,
    );
    differs(request.prefecture == row.prefecture, Column::Prefecture);
    differs(request.status == row.status, Column::Status);
    differs(
        request.prefecture_status == row.prefecture_status,
        Column::PrefectureStatus,
    );
    if request.lines.iter().any(|l| l.item == row.item_line.item) {
        problems.push(RowProblem::DuplicateItem {
            item: row.item_line.item,
            first_line: first,
        });
    }
    if problems.is_empty() {
        request.lines.push(row.item_line);
    }
    problems
}

/// Free text (names, reasons, opinions) as written, without the blanks
/// around it: shown to staff and compared across rows, never folded.
fn free_text(raw: &str) -> String {
    raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
        .to_string()
}

/// 申請日時 as G-MIS and Excel write it (`2026/11/20 10:15`, with seconds,
/// with `-`, single-digit month/day/hour), read as JST; or RFC 3339.
fn parse_submitted_at(raw: &str) -> Option<DateTime<FixedOffset>> {
    const FORMATS: [&str; 6] = [
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ];
    let t = raw.trim();
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .and_then(|naive| naive.and_local_timezone(JST).single())
        .or_else(|| DateTime::parse_from_rfc3339(t).ok())
}

/// A 医療機関コード: 10 digits after removing separators. A 9-digit code
/// whose padded form starts with the prefecture's number lost its leading
/// zero in a spreadsheet (`0110113719` → `110113719`) and is restored.
fn parse_code(raw: &str, prefecture: Option<Prefecture>) -> Option<String> {
    let digits = text::separated_digits(raw)?;
    match digits.len() {
        10 => Some(digits),
        9 => {
            let padded = format!("0{digits}");
            prefecture
                .filter(|p| padded.starts_with(&p.code()))
                .map(|_| padded)
        }
        _ => None,
    }
}

/// A non-negative whole count, plain or in 枚.
fn parse_count(raw: &str) -> Option<i64> {
    match text::parse_quantity(raw) {
        Quantity::Count {
            value,
            unit: Unit::None | Unit::Sheets,
        } if value >= 0 => Some(value),
        _ => None,
    }
}

fn parse_outlook(raw: &str) -> Option<Outlook> {
    let folded = text::fold_label(raw);
    [
        Outlook::WithinOneWeek,
        Outlook::TwoToThreeWeeks,
        Outlook::FourWeeksOrMore,
    ]
    .into_iter()
    .find(|o| text::fold_label(o.as_str()) == folded)
}

fn parse_need(raw: &str) -> Option<Need> {
    crate::validation::prefecture::parse_need(raw)
}

fn parse_method(raw: &str) -> Option<Method> {
    let folded = text::fold_label(raw);
    [Method::PrefectureStock, Method::NationalDirect]
        .into_iter()
        .find(|m| text::fold_label(m.as_str()) == folded)
}

#[cfg(test)]
mod tests;
