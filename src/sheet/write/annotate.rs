//! The annotated copy sent back with an error report.
//!
//! [`annotate`] re-reads the submitted workbook with calamine and writes a
//! new .xlsx: a first worksheet listing every finding, then a copy of each
//! worksheet with every cell value at the same position (formulas with their
//! cached values, merged ranges kept) and the cells at fault filled (red for
//! errors, yellow for warnings) with a note holding the message. Styles of
//! the original are not carried over; the official corrects the file they
//! sent, using the copy as a guide.

use super::reader::{self, Format as SourceFormat};
use super::{CellPos, guard};
use calamine::{Data, Dimensions, Range, Reader, Sheets, Xlsx};
use rust_xlsxwriter::{Color, Format, FormatBorder, Formula, Note, Workbook, Worksheet, XlsxError};
use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;

/// Fill of a cell with an error.
const ERROR_FILL: u32 = 0xFFC7CE;
/// Fill of a cell with only warnings.
const WARNING_FILL: u32 = 0xFFEB9C;
/// Most cells copied, over all worksheets.
const MAX_CELLS: usize = 200_000;
/// Largest merged range re-created: rust_xlsxwriter writes and indexes every
/// cell of a merge, so `A1:XFD1048576` (found by fuzzing an .xls) would
/// never finish.
const MAX_MERGE_AREA: u64 = 10_000;
/// Most merged cells re-created, over all worksheets.
const MAX_MERGED_CELLS: u64 = 200_000;
/// Excel's limit on the text of one cell.
const MAX_CELL_CHARS: usize = 32_767;

/// How a cell at fault is filled: red for an error, yellow for a warning.
/// `Error` orders first, so the worst of several is the smallest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fill {
    /// Something that must be corrected.
    Error,
    /// Something to check.
    Warning,
}

/// One finding as the copy shows it, already worded by the caller: a row
/// of the findings sheet and, when it names a cell, a note on that cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remark {
    /// The fill of the cell and of the severity column.
    pub fill: Fill,
    /// The A1 reference of the cell at fault, if any.
    pub cell: Option<String>,
    /// The severity word.
    pub severity: String,
    /// The field label.
    pub field: String,
    /// The value found in the cell.
    pub value: String,
    /// The sentence saying what is wrong.
    pub message: String,
}

/// The remarks on one worksheet (by its name, as in the submitted file).
#[derive(Clone, Copy, Debug)]
pub struct SheetRemarks<'a> {
    /// The worksheet name (タブ名) the remarks' cells refer to.
    pub sheet: &'a str,
    /// Its remarks; those without a cell are listed but mark nothing.
    pub remarks: &'a [Remark],
}

/// The words an annotated copy is written with, supplied by the caller
/// (the `ANNOTATION` of `src/messages/workbook.rs`): this module places text, it does not
/// word it.
#[derive(Clone, Copy)]
pub struct Wording {
    /// Name of the first worksheet, listing the findings.
    pub findings_sheet: &'static str,
    /// Title row of the findings sheet.
    pub title: &'static str,
    /// Guidance under the title.
    pub guidance: &'static str,
    /// Column headers of the findings table.
    pub columns: [&'static str; 6],
    /// Shown in the findings sheet when there is nothing to report.
    pub no_findings: &'static str,
    /// Author name of the notes attached to marked cells.
    pub note_author: &'static str,
}

/// Why no annotated copy could be made.
#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    /// The submitted bytes could not be opened as a workbook.
    #[error("cannot open the submitted workbook: {0}")]
    Open(String),
    /// A worksheet of the submitted workbook could not be read.
    #[error("cannot read worksheet {sheet:?}: {reason}")]
    Sheet {
        /// The worksheet name.
        sheet: String,
        /// What calamine reported.
        reason: String,
    },
    /// Writing the copy failed.
    #[error("cannot write the annotated copy: {0}")]
    Write(#[from] XlsxError),
}

/// Builds the annotated copy of `bytes` (any format calamine reads) with
/// the cells of `remarks` marked. Worksheets without findings are copied
/// unmarked; findings naming a worksheet that does not exist are listed on
/// the first sheet only. The reader's size guards apply here too, and only
/// the first [`MAX_COPY_ROWS`] rows of a worksheet are copied.
pub fn annotate(
    bytes: &[u8],
    remarks: &[SheetRemarks<'_>],
    msg: &Wording,
) -> Result<Vec<u8>, AnnotateError> {
    // calamine can panic on malformed input (e.g. an overflowing column
    // reference in a merge, found by fuzzing); that is a file we cannot
    // open, not a reason to take the process down.
    let sheets = std::panic::catch_unwind(|| load(bytes))
        .map_err(|_| AnnotateError::Open("the spreadsheet library failed on this file".into()))??;
    let mut workbook = Workbook::new();
    findings_sheet(workbook.add_worksheet(), remarks, msg)?;
    for (index, sheet) in sheets.iter().enumerate() {
        let marks = marks_for(&sheet.name, remarks);
        let ws = workbook.add_worksheet();
        if ws.set_name(&sheet.name).is_err() {
            // A name Excel refuses (possible in .ods) or one taken by the
            // findings sheet: keep a neutral one.
            ws.set_name(format!("Sheet{}", index + 1))?;
        }
        copy_sheet(ws, sheet, &marks, msg.note_author)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// Rows copied per worksheet: the form fits in the first hundred; junk
/// below it is not worth sending back.
pub const MAX_COPY_ROWS: u32 = 2_000;

/// One cell of the submitted workbook.
struct SourceCell {
    pos: CellPos,
    data: Data,
    formula: Option<String>,
}

/// One worksheet of the submitted workbook, as far as it is copied.
struct SourceSheet {
    name: String,
    cells: Vec<SourceCell>,
    merges: Vec<Dimensions>,
}

/// Reads the worksheets behind the same guards as the reader: the zip and
/// size checks of [`reader::detect`], the grid guards for .xls and .ods, and
/// a streaming read of .xlsx worksheets.
fn load(bytes: &[u8]) -> Result<Vec<SourceSheet>, AnnotateError> {
    let open = |e: &dyn std::fmt::Display| AnnotateError::Open(e.to_string());
    match reader::detect(bytes).map_err(|e| open(&e))? {
        SourceFormat::Xlsx | SourceFormat::Xlsm => load_xlsx(bytes).map(bounded),
        SourceFormat::Xls => {
            guard::check_xls(bytes).map_err(|e| open(&format!("{e:?}")))?;
            load_dense(bytes).map(bounded)
        }
        SourceFormat::Ods => {
            guard::check_ods_content(&ods_content(bytes)?).map_err(|e| open(&format!("{e:?}")))?;
            load_dense(bytes)
        }
    }
}

fn ods_content(bytes: &[u8]) -> Result<Vec<u8>, AnnotateError> {
    use std::io::Read;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| AnnotateError::Open(e.to_string()))?;
    let mut content = Vec::new();
    if let Ok(entry) = archive.by_name("content.xml") {
        entry
            .take(reader::MAX_WHOLE_ENTRY_BYTES)
            .read_to_end(&mut content)
            .map_err(|e| AnnotateError::Open(e.to_string()))?;
    }
    Ok(content)
}

/// .xlsx and .xlsm: cell by cell, stopping after [`MAX_COPY_ROWS`] rows, so
/// a sheet with a million rows costs no more than the form.
fn load_xlsx(bytes: &[u8]) -> Result<Vec<SourceSheet>, AnnotateError> {
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| AnnotateError::Open(e.to_string()))?;
    let mut sheets = Vec::new();
    let mut budget = MAX_CELLS;
    for name in book.sheet_names().into_iter().take(reader::MAX_SHEETS) {
        let mut cells = Vec::new();
        let mut complete = true;
        {
            let mut cells_reader = match book.worksheet_cells_reader(&name) {
                Ok(r) => r,
                // Chart sheets have no cells.
                Err(calamine::XlsxError::WorksheetNotFound(_)) => continue,
                Err(e) => {
                    return Err(AnnotateError::Sheet {
                        sheet: name,
                        reason: e.to_string(),
                    });
                }
            };
            while let Some(cell) =
                cells_reader
                    .next_cell_with_formula()
                    .map_err(|e| AnnotateError::Sheet {
                        sheet: name.clone(),
                        reason: e.to_string(),
                    })?
            {
                let (row, col) = cell.pos;
                if row >= MAX_COPY_ROWS || cells.len() >= budget {
                    complete = false;
                    break;
                }
                let formula = cell.formula.filter(|f| !f.trim().is_empty());
                let data = Data::from(cell.value);
                if data != Data::Empty || formula.is_some() {
                    cells.push(SourceCell {
                        pos: CellPos::new(row, col),
                        data,
                        formula,
                    });
                }
            }
        }
        budget -= cells.len();
        // Merges are read from the whole worksheet XML: skip them on a sheet
        // too long to copy anyway.
        let merges = if complete {
            book.merge_cells_by_sheet_name(&name).unwrap_or_default()
        } else {
            Vec::new()
        };
        sheets.push(SourceSheet {
            name,
            cells,
            merges,
        });
    }
    Ok(sheets)
}

/// .xls and .ods: calamine builds the whole grid (bounded by the guards).
fn load_dense(bytes: &[u8]) -> Result<Vec<SourceSheet>, AnnotateError> {
    let mut source = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| AnnotateError::Open(e.to_string()))?;
    let mut sheets = Vec::new();
    let mut budget = MAX_CELLS;
    for name in source.sheet_names().into_iter().take(reader::MAX_SHEETS) {
        let values = source
            .worksheet_range(&name)
            .map_err(|e| AnnotateError::Sheet {
                sheet: name.clone(),
                reason: e.to_string(),
            })?;
        // Formulas and merges are extras: a copy without them is still useful.
        let formulas = source.worksheet_formula(&name).unwrap_or_default();
        let merges = match &mut source {
            Sheets::Xls(xls) => xls.merge_cells_by_sheet_name(&name).unwrap_or_default(),
            // calamine does not report merges for .ods.
            _ => Vec::new(),
        };
        let cells = dense_cells(&values, &formulas, budget);
        budget -= cells.len();
        sheets.push(SourceSheet {
            cells,
            name,
            merges,
        });
    }
    Ok(sheets)
}

/// The non-empty cells (values or formulas) of a dense range, at absolute
/// positions (calamine's ranges start at the first non-empty cell).
fn dense_cells(values: &Range<Data>, formulas: &Range<String>, budget: usize) -> Vec<SourceCell> {
    let mut cells: BTreeMap<CellPos, SourceCell> = BTreeMap::new();
    let absolute = |range_start: Option<(u32, u32)>, r: usize, c: usize| -> Option<CellPos> {
        let (r0, c0) = range_start.unwrap_or((0, 0));
        let pos = CellPos::new(
            r0.checked_add(u32::try_from(r).ok()?)?,
            c0.checked_add(u32::try_from(c).ok()?)?,
        );
        (pos.row < MAX_COPY_ROWS).then_some(pos)
    };
    for (r, c, data) in values.used_cells().take(budget) {
        if let Some(pos) = absolute(values.start(), r, c) {
            cells.insert(
                pos,
                SourceCell {
                    pos,
                    data: data.clone(),
                    formula: None,
                },
            );
        }
    }
    for (r, c, formula) in formulas.used_cells().take(budget) {
        if formula.trim().is_empty() {
            continue;
        }
        if let Some(pos) = absolute(formulas.start(), r, c) {
            cells
                .entry(pos)
                .or_insert(SourceCell {
                    pos,
                    data: Data::Empty,
                    formula: None,
                })
                .formula = Some(formula.clone());
        }
    }
    cells.into_values().take(budget).collect()
}

/// Keeps the merges worth re-creating: inside the copied rows, not huge,
/// within the workbook's merged-cell budget, and not overlapping an earlier
/// one (rust_xlsxwriter 0.102 refuses an overlap but keeps part of it in its
/// index, and panics on the next merge touching those cells; fuzzing found
/// such an .xls).
fn bounded(mut sheets: Vec<SourceSheet>) -> Vec<SourceSheet> {
    let mut budget = MAX_MERGED_CELLS;
    for sheet in &mut sheets {
        let mut covered: HashSet<(u32, u32)> = HashSet::new();
        sheet.merges.retain(|m| {
            let rows = u64::from(m.end.0.saturating_sub(m.start.0)) + 1;
            let cols = u64::from(m.end.1.saturating_sub(m.start.1)) + 1;
            let area = rows * cols;
            let cells =
                || (m.start.0..=m.end.0).flat_map(|r| (m.start.1..=m.end.1).map(move |c| (r, c)));
            let keep = m.start.0 < MAX_COPY_ROWS
                && m.start.0 <= m.end.0
                && m.start.1 <= m.end.1
                && area <= MAX_MERGE_AREA
                && area <= budget
                && !cells().any(|cell| covered.contains(&cell));
            if keep {
                budget -= area;
                covered.extend(cells());
            }
            keep
        });
    }
    sheets
}

/// What to do to one cell: the worst fill and the messages.
struct Mark {
    fill: Fill,
    messages: Vec<String>,
}

/// The marks of one worksheet, by absolute position.
fn marks_for(sheet: &str, remarks: &[SheetRemarks<'_>]) -> BTreeMap<CellPos, Mark> {
    let mut marks: BTreeMap<CellPos, Mark> = BTreeMap::new();
    for group in remarks.iter().filter(|g| g.sheet == sheet) {
        for remark in group.remarks {
            let Some(pos) = remark.cell.as_deref().and_then(CellPos::parse_a1) else {
                continue;
            };
            let text = format!("【{}】{}", remark.severity, remark.message);
            let mark = marks.entry(pos).or_insert(Mark {
                fill: remark.fill,
                messages: Vec::new(),
            });
            // Fill orders Error before Warning: keep the worst.
            mark.fill = mark.fill.min(remark.fill);
            mark.messages.push(text);
        }
    }
    marks
}

/// The first worksheet: one row per finding.
fn findings_sheet(
    ws: &mut Worksheet,
    remarks: &[SheetRemarks<'_>],
    msg: &Wording,
) -> Result<(), XlsxError> {
    ws.set_name(msg.findings_sheet)?;
    let bold = Format::new().set_bold();
    let header = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xD9D9D9));
    let cell = Format::new().set_border(FormatBorder::Thin).set_text_wrap();
    ws.write_string_with_format(0, 0, msg.title, &bold)?;
    ws.write_string(1, 0, msg.guidance)?;
    for (col, name) in msg.columns.iter().enumerate() {
        ws.write_string_with_format(3, col as u16, *name, &header)?;
    }
    let mut row = 4;
    for group in remarks {
        for remark in group.remarks {
            let severity = cell
                .clone()
                .set_background_color(Color::RGB(fill_color(remark.fill)));
            ws.write_string_with_format(row, 0, clip(group.sheet), &cell)?;
            ws.write_string_with_format(row, 1, remark.cell.as_deref().unwrap_or(""), &cell)?;
            ws.write_string_with_format(row, 2, clip(&remark.severity), &severity)?;
            ws.write_string_with_format(row, 3, clip(&remark.field), &cell)?;
            ws.write_string_with_format(row, 4, clip(&remark.value), &cell)?;
            ws.write_string_with_format(row, 5, clip(&remark.message), &cell)?;
            row += 1;
        }
    }
    if row == 4 {
        ws.write_string(row, 0, msg.no_findings)?;
    }
    for (col, width) in [16.0, 8.0, 8.0, 24.0, 24.0, 80.0].into_iter().enumerate() {
        ws.set_column_width(col as u16, width)?;
    }
    Ok(())
}

/// Copies values (and formulas with their cached values) to the same
/// absolute positions, restores merges, and marks the cells at fault.
fn copy_sheet(
    ws: &mut Worksheet,
    sheet: &SourceSheet,
    marks: &BTreeMap<CellPos, Mark>,
    note_author: &str,
) -> Result<(), XlsxError> {
    let plain = Format::new();
    let date = Format::new().set_num_format("yyyy/mm/dd hh:mm");
    // Merges first: merge_range blanks the whole range, values come after.
    for merge in &sheet.merges {
        merge_range(ws, merge, marks);
    }
    let mut done: HashSet<CellPos> = HashSet::new();
    for cell in &sheet.cells {
        let Some(col) = column(cell.pos) else {
            continue;
        };
        let format = match (mark_format(marks.get(&cell.pos)), &cell.data) {
            (Some(marked), _) => marked,
            (None, Data::DateTime(_)) => date.clone(),
            (None, _) => plain.clone(),
        };
        match &cell.formula {
            Some(formula) => {
                let formula = Formula::new(formula.as_str()).set_result(cached_text(&cell.data));
                ws.write_formula_with_format(cell.pos.row, col, formula, &format)?;
            }
            None => write_data(ws, cell.pos.row, col, &cell.data, &format)?,
        }
        done.insert(cell.pos);
    }
    for (pos, mark) in marks {
        let Some(col) = column(*pos) else { continue };
        if !done.contains(pos)
            && !sheet.merges.iter().any(|m| covers(m, *pos))
            && let Some(format) = mark_format(Some(mark))
        {
            ws.write_blank(pos.row, col, &format)?;
        }
        let note = Note::new(mark.messages.join("\n"))
            .set_author(note_author)
            .add_author_prefix(false);
        ws.insert_note(pos.row, col, &note)?;
    }
    Ok(())
}

/// The column as rust_xlsxwriter numbers it, when within Excel's limits.
fn column(pos: CellPos) -> Option<u16> {
    let col = u16::try_from(pos.col).ok()?;
    (pos.row < 1_048_576 && col < 16_384).then_some(col)
}

fn covers(merge: &Dimensions, pos: CellPos) -> bool {
    (merge.start.0..=merge.end.0).contains(&pos.row)
        && (merge.start.1..=merge.end.1).contains(&pos.col)
}

/// Re-creates a merged range (blank; the values are written afterwards),
/// with the mark of its top-left cell. A merge overlapping another or out of
/// Excel's range is skipped: the copy is still useful without it.
fn merge_range(ws: &mut Worksheet, merge: &Dimensions, marks: &BTreeMap<CellPos, Mark>) {
    let first = CellPos::new(merge.start.0, merge.start.1);
    let last = CellPos::new(merge.end.0, merge.end.1);
    let (Some(first_col), Some(last_col)) = (column(first), column(last)) else {
        return;
    };
    if first == last {
        return;
    }
    let format = mark_format(marks.get(&first)).unwrap_or_default();
    let _ = ws.merge_range(first.row, first_col, last.row, last_col, "", &format);
}

fn mark_format(mark: Option<&Mark>) -> Option<Format> {
    Some(
        Format::new()
            .set_background_color(Color::RGB(fill_color(mark?.fill)))
            .set_border(FormatBorder::Thin),
    )
}

/// The RGB fill of a cell at fault.
fn fill_color(fill: Fill) -> u32 {
    match fill {
        Fill::Error => ERROR_FILL,
        Fill::Warning => WARNING_FILL,
    }
}

/// Writes one calamine value as the same kind of cell.
fn write_data(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    data: &Data,
    format: &Format,
) -> Result<(), XlsxError> {
    match data {
        Data::Int(n) => {
            // Cell integers are within f64's exact range in practice.
            ws.write_number_with_format(row, col, *n as f64, format)?;
        }
        Data::Float(f) => {
            ws.write_number_with_format(row, col, *f, format)?;
        }
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
            ws.write_string_with_format(row, col, clip(s), format)?;
        }
        Data::Bool(b) => {
            ws.write_boolean_with_format(row, col, *b, format)?;
        }
        Data::DateTime(dt) => {
            ws.write_number_with_format(row, col, dt.as_f64(), format)?;
        }
        Data::Error(e) => {
            ws.write_string_with_format(row, col, e.to_string(), format)?;
        }
        Data::Empty => {
            ws.write_blank(row, col, format)?;
        }
    }
    Ok(())
}

/// The cached value of a formula cell as rust_xlsxwriter wants it.
fn cached_text(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::Float(f) => f.to_string(),
        Data::Int(n) => n.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => clip(s).to_string(),
        Data::Error(e) => e.to_string(),
    }
}

/// Text cut to what one Excel cell holds (on a char boundary).
fn clip(s: &str) -> &str {
    match s.char_indices().nth(MAX_CELL_CHARS) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{Finding, Severity};
    // The tests check the words the gateway writes, so they take them from
    // where they live.
    use crate::messages::workbook as msg;
    use crate::request::Item;
    use crate::sheet::template::{self, FormFill, FormShape, ItemColumn, PrefectureColumn, Slot};
    use std::io::Read;

    /// A remark as `replies` words a finding of `severity`.
    fn finding(severity: Severity, cell: &str, message: &str) -> Remark {
        crate::messages::workbook::remark(&Finding {
            severity,
            code: "test.code".into(),
            cell: Some(cell.into()),
            field: "項目".into(),
            value: "値".into(),
            message: message.into(),
            fact: None,
        })
    }

    fn zip_part(bytes: &[u8], name: &str) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut part = archive.by_name(name).expect(name);
        let mut text = String::new();
        part.read_to_string(&mut text).expect("utf-8");
        text
    }

    /// The fill colour (RRGGBB) of `cell` in worksheet part `sheet_xml`.
    fn fill_of(bytes: &[u8], sheet_xml: &str, cell: &str) -> Option<String> {
        let sheet = zip_part(bytes, sheet_xml);
        let styles = zip_part(bytes, "xl/styles.xml");
        let start = sheet.find(&format!("<c r=\"{cell}\""))?;
        let tag = &sheet[start..start + sheet[start..].find('>')?];
        let xf: usize = tag.split(" s=\"").nth(1)?.split('"').next()?.parse().ok()?;
        let xfs = styles.split("<cellXfs").nth(1)?;
        let xf_tag = xfs.split("<xf ").nth(xf + 1)?;
        let fill: usize = xf_tag
            .split("fillId=\"")
            .nth(1)?
            .split('"')
            .next()?
            .parse()
            .ok()?;
        let fills = styles.split("<fills").nth(1)?;
        let fill_tag = fills.split("<fill>").nth(fill + 1)?;
        let rgb = fill_tag.split("rgb=\"").nth(1)?.split('"').next()?;
        Some(rgb.get(2..)?.to_string())
    }

    fn sample() -> Vec<u8> {
        let mut fill = FormFill::example();
        let gloves = Item::NonSterileGloves;
        // A formula total with its cached value, to check formulas survive.
        fill.set(
            Slot::Prefecture(gloves, PrefectureColumn::TotalQuantity),
            template::CellValue::Formula {
                formula: "E31+F31".into(),
                cached: Some("2000".into()),
            },
        );
        fill.set(Slot::Item(gloves, ItemColumn::Stock), "800枚");
        template::filled(
            &FormShape {
                protect: false,
                ..FormShape::reference()
            },
            &fill,
        )
        .expect("sample")
    }

    #[test]
    fn copy_keeps_every_value_at_its_position_and_adds_a_findings_sheet() {
        let original = sample();
        let findings = [finding(
            Severity::Error,
            "D23",
            "在庫量が数値ではありません",
        )];
        let groups = [SheetRemarks {
            sheet: template::SHEET_NAME,
            remarks: &findings,
        }];
        let copy = annotate(&original, &groups, &msg::ANNOTATION).expect("annotate");

        let mut before =
            calamine::open_workbook_auto_from_rs(Cursor::new(&original[..])).expect("open");
        let mut after =
            calamine::open_workbook_auto_from_rs(Cursor::new(&copy[..])).expect("open copy");
        assert_eq!(
            after.sheet_names(),
            vec![
                msg::FINDINGS_SHEET.to_string(),
                template::SHEET_NAME.to_string()
            ]
        );
        let a = before.worksheet_range(template::SHEET_NAME).expect("range");
        let b = after
            .worksheet_range(template::SHEET_NAME)
            .expect("copy range");
        assert_eq!(a.start(), b.start());
        let cells = |r: &Range<Data>| -> Vec<(u32, u32, String)> {
            let (r0, c0) = r.start().unwrap_or((0, 0));
            r.used_cells()
                .map(|(y, x, d)| (r0 + y as u32, c0 + x as u32, d.to_string()))
                .collect()
        };
        assert_eq!(cells(&a), cells(&b));
        assert!(cells(&b).contains(&(22, 3, "800枚".to_string())));
        assert!(cells(&b).contains(&(11, 2, "みどり内科クリニック".to_string())));
        let formulas = after
            .worksheet_formula(template::SHEET_NAME)
            .expect("formulas");
        assert_eq!(
            formulas.get_value((30, 6)).map(String::as_str),
            Some("E31+F31")
        );

        let list = after
            .worksheet_range(msg::FINDINGS_SHEET)
            .expect("findings sheet");
        let listed: Vec<String> = list
            .rows()
            .flat_map(|r| r.iter().map(|d| d.to_string()))
            .collect();
        assert!(listed.contains(&"D23".to_string()));
        assert!(listed.contains(&"在庫量が数値ではありません".to_string()));
    }

    #[test]
    fn cells_at_fault_get_a_fill_by_severity_and_a_note_with_the_message() {
        let original = sample();
        let findings = [
            finding(Severity::Error, "D23", "在庫量が数値ではありません"),
            finding(Severity::Warning, "G31", "目安の配布枚数と異なります"),
            finding(Severity::Warning, "D23", "在庫が多すぎます"),
            // A blank cell at fault (a missing value) is marked too.
            finding(Severity::Error, "C21", "空欄です"),
        ];
        let groups = [SheetRemarks {
            sheet: template::SHEET_NAME,
            remarks: &findings,
        }];
        let copy = annotate(&original, &groups, &msg::ANNOTATION).expect("annotate");
        // sheet1 is the findings list, sheet2 the copy.
        assert_eq!(
            fill_of(&copy, "xl/worksheets/sheet2.xml", "D23").as_deref(),
            Some("FFC7CE")
        );
        assert_eq!(
            fill_of(&copy, "xl/worksheets/sheet2.xml", "G31").as_deref(),
            Some("FFEB9C")
        );
        assert_eq!(
            fill_of(&copy, "xl/worksheets/sheet2.xml", "C21").as_deref(),
            Some("FFC7CE")
        );
        assert_eq!(fill_of(&copy, "xl/worksheets/sheet2.xml", "C23"), None);
        let comments = zip_part(&copy, "xl/comments1.xml");
        for cell in ["D23", "G31", "C21"] {
            assert!(
                comments.contains(&format!("ref=\"{cell}\"")),
                "note on {cell}"
            );
        }
        assert!(comments.contains("【エラー】在庫量が数値ではありません"));
        assert!(comments.contains("【警告】在庫が多すぎます"));
        assert!(!comments.contains("ref=\"C23\""));
    }

    #[test]
    fn findings_for_an_unknown_sheet_or_without_a_cell_mark_nothing() {
        let original = sample();
        let mut no_cell = finding(Severity::Error, "A1", "差出人が登録されていません");
        no_cell.cell = None;
        let elsewhere = [finding(Severity::Error, "D23", "別シート")];
        let here = [no_cell];
        let groups = [
            SheetRemarks {
                sheet: "存在しないシート",
                remarks: &elsewhere,
            },
            SheetRemarks {
                sheet: template::SHEET_NAME,
                remarks: &here,
            },
        ];
        let copy = annotate(&original, &groups, &msg::ANNOTATION).expect("annotate");
        let mut archive = zip::ZipArchive::new(Cursor::new(&copy[..])).expect("zip");
        assert!(archive.by_name("xl/comments1.xml").is_err());
        let mut after =
            calamine::open_workbook_auto_from_rs(Cursor::new(&copy[..])).expect("open copy");
        let list = after
            .worksheet_range(msg::FINDINGS_SHEET)
            .expect("findings sheet");
        let listed: Vec<String> = list
            .rows()
            .flat_map(|r| r.iter().map(|d| d.to_string()))
            .collect();
        assert!(listed.contains(&"別シート".to_string()));
        assert!(listed.contains(&"差出人が登録されていません".to_string()));
    }

    fn used_cells(bytes: &[u8], sheet: &str) -> Vec<(u32, u32, String)> {
        let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).expect("open");
        let range = book.worksheet_range(sheet).expect("range");
        let (r0, c0) = range.start().unwrap_or((0, 0));
        range
            .used_cells()
            .map(|(y, x, d)| (r0 + y as u32, c0 + x as u32, d.to_string()))
            .collect()
    }

    #[test]
    fn libreoffice_xls_and_ods_copies_are_annotated_with_values_and_merges() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/sheets");
        for (path, keeps_merges) in [
            ("lo-xls/valid-merged-values.xls", true),
            ("lo-ods/valid-merged-values.ods", false),
        ] {
            let original = std::fs::read(format!("{dir}/{path}")).expect("sample");
            let findings = [finding(Severity::Error, "C14", "郵便番号の形式が違います")];
            let groups = [SheetRemarks {
                sheet: template::SHEET_NAME,
                remarks: &findings,
            }];
            let copy = annotate(&original, &groups, &msg::ANNOTATION).expect("annotate");
            assert_eq!(
                used_cells(&copy, template::SHEET_NAME),
                used_cells(&original, template::SHEET_NAME),
                "{path}"
            );
            let sheet = zip_part(&copy, "xl/worksheets/sheet2.xml");
            // C14:D14 is merged in this sample; .ods merges are not reported by calamine.
            assert_eq!(
                sheet.contains("<mergeCell ref=\"C14:D14\"/>"),
                keeps_merges,
                "{path}"
            );
            assert_eq!(
                fill_of(&copy, "xl/worksheets/sheet2.xml", "C14").as_deref(),
                Some("FFC7CE"),
                "{path}"
            );
            assert!(zip_part(&copy, "xl/comments1.xml").contains("郵便番号の形式が違います"));
        }
    }

    /// `bytes` with every zip part passed through `change(name, text)`.
    fn rewrite(bytes: &[u8], change: impl Fn(&str, String) -> String) -> Vec<u8> {
        use std::io::Write;
        let mut source = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for i in 0..source.len() {
            let mut part = source.by_index(i).expect("part");
            let name = part.name().expect("name").to_string();
            let mut text = String::new();
            part.read_to_string(&mut text).expect("utf-8");
            out.start_file(name.as_str(), options).expect("start");
            out.write_all(change(&name, text).as_bytes())
                .expect("write");
        }
        out.finish().expect("finish").into_inner()
    }

    #[test]
    fn a_million_rows_below_the_form_are_not_copied() {
        let bytes = rewrite(&sample(), |name, text| {
            if name != "xl/worksheets/sheet1.xml" {
                return text;
            }
            let rows: String = (41..=1_048_576u32)
                .map(|r| format!("<row r=\"{r}\"><c r=\"A{r}\"><v>{r}</v></c></row>"))
                .collect();
            text.replace("</sheetData>", &format!("{rows}</sheetData>"))
        });
        let findings = [finding(
            Severity::Error,
            "D23",
            "在庫量が数値ではありません",
        )];
        let groups = [SheetRemarks {
            sheet: template::SHEET_NAME,
            remarks: &findings,
        }];
        let copy = annotate(&bytes, &groups, &msg::ANNOTATION).expect("annotate");
        let cells = used_cells(&copy, template::SHEET_NAME);
        assert!(cells.contains(&(22, 3, "800枚".to_string())));
        assert!(cells.contains(&(40, 0, "41".to_string())));
        let last = cells.iter().map(|(row, _, _)| *row).max().unwrap_or(0);
        assert_eq!(last, MAX_COPY_ROWS - 1);
    }

    #[test]
    fn a_zip_bomb_is_refused_like_the_reader_refuses_it() {
        let bomb = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/sheets/bad/zip-bomb.xlsx"
        ))
        .expect("sample");
        let findings = [finding(Severity::Error, "D23", "x")];
        let groups = [SheetRemarks {
            sheet: template::SHEET_NAME,
            remarks: &findings,
        }];
        assert!(matches!(
            annotate(&bomb, &groups, &msg::ANNOTATION),
            Err(AnnotateError::Open(_))
        ));
    }

    #[test]
    fn huge_or_far_merges_are_not_recreated() {
        let merge = |start: (u32, u32), end: (u32, u32)| Dimensions { start, end };
        let sheet = SourceSheet {
            name: "s".into(),
            cells: Vec::new(),
            merges: vec![
                merge((11, 2), (11, 7)),
                // Found by fuzzing an .xls: every cell of the sheet merged.
                merge((0, 0), (1_048_575, 16_383)),
                merge((MAX_COPY_ROWS, 0), (MAX_COPY_ROWS, 1)),
                merge((5, 5), (2, 2)),
                // Overlaps the first: rust_xlsxwriter would be left in a
                // state that panics on the next merge.
                merge((11, 7), (12, 8)),
                merge((12, 7), (12, 8)),
            ],
        };
        let kept = bounded(vec![sheet]);
        assert_eq!(
            kept[0].merges,
            vec![merge((11, 2), (11, 7)), merge((12, 7), (12, 8))]
        );
    }

    #[test]
    fn garbage_is_an_open_error_not_a_panic() {
        assert!(matches!(
            annotate(b"not a workbook", &[], &msg::ANNOTATION),
            Err(AnnotateError::Open(_))
        ));
    }
}
