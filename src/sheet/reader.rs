//! Reading workbooks (.xlsx, .xlsm, .xls, .ods) from bytes and locating the
//! form's blocks by their labels.
//!
//! The work happens in three steps:
//!
//! 1. [`detect`] tells the container format from the bytes (never from a file
//!    name) and applies the guards that must run *before* calamine inflates
//!    anything: input size, the zip central directory's uncompressed sizes and
//!    compression ratios (zip bombs), entries sharing data or inflating past
//!    their declared size (`guard::check_zip_package`), encrypted packages.
//!    A .xls passes `guard::check_xls` (OLE2 chains, sheet count, record
//!    walk) before calamine opens it.
//! 2. Each worksheet is loaded into a small sparse `Grid` holding only the
//!    first [`MAX_ROWS`] rows and [`MAX_COLS`] columns, with absolute
//!    positions, display text, formulas and merged ranges. An .xlsx package
//!    is read by the quick reader in [`super::xlsx`] when every part of it is
//!    familiar, by calamine otherwise (and .xls and .ods always); both give
//!    the same grid (`xlsx_both_ways` and the tests compare them). Reading
//!    stops at the window's last row, so a sheet with a million rows stops
//!    early either way.
//! 3. `locate` finds the headings, labels and item rows by their
//!    folded text and builds a [`RequestSheet`].
//!
//! calamine is wrapped in [`std::panic::catch_unwind`]: it has panicked on
//! hostile input before, and a panic must become [`ReadError::Corrupt`], not
//! a crashed worker.

use super::{
    CellPos, Field, InstitutionBlock, InstitutionRow, Layout, MhlwRow, PrefectureRow, RequestSheet,
    Seen,
};
use crate::request::Item;
use crate::text::fold_label;
use calamine::{Data, DataRef, Dimensions, Ods, Range, Reader, Xls, Xlsx};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Largest input accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 20 * 1024 * 1024;
/// Largest uncompressed size of a zip entry that calamine reads whole
/// (shared strings, styles, workbook, ODS content), in bytes.
pub const MAX_WHOLE_ENTRY_BYTES: u64 = 64 * 1024 * 1024;
/// Largest uncompressed size of an xlsx worksheet entry (streamed), in bytes.
pub const MAX_SHEET_ENTRY_BYTES: u64 = 512 * 1024 * 1024;
/// Largest total uncompressed size of all zip entries, in bytes.
pub const MAX_TOTAL_UNCOMPRESSED_BYTES: u64 = 1024 * 1024 * 1024;
/// Largest compression ratio accepted for an entry over 1 MiB.
pub const MAX_COMPRESSION_RATIO: u64 = 250;
/// Largest number of zip entries.
pub const MAX_ZIP_ENTRIES: usize = 10_000;
/// Rows looked at per worksheet (the form has about 40).
pub const MAX_ROWS: u32 = 400;
/// Columns looked at per worksheet (the form has 8).
pub const MAX_COLS: u32 = 64;
/// Cells looked at per worksheet, empty ones included.
pub const MAX_CELLS_SCANNED: usize = 200_000;
/// Characters kept of one cell's text; the rest is cut off.
pub const MAX_CELL_CHARS: usize = 10_000;
/// Merged ranges kept per worksheet.
pub const MAX_MERGES: usize = 10_000;
/// Worksheets looked at per workbook.
pub const MAX_SHEETS: usize = 64;
/// An xlsx worksheet larger than this is read without its merged ranges
/// (finding them would mean inflating the whole sheet).
const MAX_MERGE_SCAN_BYTES: u64 = 16 * 1024 * 1024;
/// An xlsx worksheet up to this size is held in memory to find its merged
/// ranges quickly; a larger one is scanned by calamine as a stream.
const MAX_MERGE_BUFFER_BYTES: u64 = 2 * 1024 * 1024;

/// The container format, told by content (not by file name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Office Open XML workbook.
    Xlsx,
    /// Office Open XML workbook with macros (never run).
    Xlsm,
    /// Legacy BIFF8 workbook (Excel 97–2003).
    Xls,
    /// OpenDocument spreadsheet.
    Ods,
}

impl Format {
    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xlsm => "xlsm",
            Format::Xls => "xls",
            Format::Ods => "ods",
        }
    }
}

/// A workbook that was read: every worksheet that holds the form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workbook {
    /// The container format.
    pub format: Format,
    /// One entry per worksheet holding the form, in workbook order (never
    /// empty: a workbook without the form is [`ReadError::NoForm`]).
    pub forms: Vec<RequestSheet>,
}

/// Why a file could not be read as a request sheet at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadError {
    /// The workbook is password-protected or encrypted.
    #[error("the workbook is password-protected or encrypted")]
    Encrypted,
    /// The bytes are not a spreadsheet format we read.
    #[error("not a spreadsheet (.xlsx, .xlsm, .xls or .ods)")]
    NotASpreadsheet,
    /// The file claims to be a spreadsheet but cannot be parsed.
    #[error("corrupt workbook: {0}")]
    Corrupt(String),
    /// A readable workbook in which no worksheet holds the form.
    #[error("no 緊急配布要請シート found in the workbook")]
    NoForm,
    /// Over a size guard (file, decompressed size, rows or cells).
    #[error("too large: {0}")]
    TooLarge(String),
    /// The file is empty (zero bytes).
    #[error("the file is empty")]
    Empty,
}

impl ReadError {
    /// A stable machine code: `encrypted`, `not_a_spreadsheet`, `corrupt`,
    /// `no_form`, `too_large`, `empty`.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::Encrypted => "encrypted",
            ReadError::NotASpreadsheet => "not_a_spreadsheet",
            ReadError::Corrupt(_) => "corrupt",
            ReadError::NoForm => "no_form",
            ReadError::TooLarge(_) => "too_large",
            ReadError::Empty => "empty",
        }
    }
}

/// Reads every worksheet of `bytes` that holds the form.
///
/// Never panics and returns quickly on hostile input: see the module
/// documentation for the guards.
pub fn read_workbook(bytes: &[u8]) -> Result<Workbook, ReadError> {
    let format = detect(bytes)?;
    let loaded = catch_unwind(AssertUnwindSafe(|| load_grids(format, bytes)))
        .map_err(|_| ReadError::Corrupt("the spreadsheet library failed on this file".into()))??;
    let mut forms: Vec<RequestSheet> = loaded
        .grids
        .iter()
        .filter_map(|(name, grid)| locate(name, grid))
        .collect();
    // A hidden tab (last month's form, a master copy) is not what the
    // official sends, unless no visible tab holds the form.
    if forms.iter().any(|f| !loaded.hidden.contains(&f.sheet)) {
        forms.retain(|f| !loaded.hidden.contains(&f.sheet));
    }
    if forms.is_empty() {
        // A damaged worksheet may have been the form.
        return Err(loaded.sheet_error.unwrap_or(ReadError::NoForm));
    }
    let forms = without_unfilled_copies(without_examples(forms));
    Ok(Workbook { format, forms })
}

/// MHLW's form comes with a 記入例 (filled example) tab that prefectures
/// pass on: it is not a request when another worksheet holds the form.
fn without_examples(forms: Vec<RequestSheet>) -> Vec<RequestSheet> {
    let is_example = |s: &RequestSheet| {
        let name = fold_label(&s.sheet);
        ["記入例", "見本", "サンプル", "sample", "example"]
            .iter()
            .any(|w| name.contains(w))
            || name == "例"
    };
    if forms.iter().all(is_example) {
        return forms;
    }
    forms.into_iter().filter(|s| !is_example(s)).collect()
}

/// A prefecture may copy the institution's sheet to a new tab and fill
/// 【都道府県記入欄】 there: the original, identical but for an empty
/// prefecture part, is not a second request. Nor is a tab duplicated
/// unchanged (`Sheet1 (2)`): only its first copy is read.
fn without_unfilled_copies(forms: Vec<RequestSheet>) -> Vec<RequestSheet> {
    let whole: Vec<Vec<String>> = forms.iter().map(form_key).collect();
    let forms: Vec<RequestSheet> = forms
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !whole[..*i].contains(&whole[*i]))
        .map(|(_, s)| s)
        .collect();
    let undecided = |s: &RequestSheet| {
        s.prefecture
            .iter()
            .all(|r| r.need.is_blank() && r.method.is_blank() && r.opinion.is_blank())
    };
    let keys: Vec<Vec<String>> = forms.iter().map(institution_key).collect();
    let decided: Vec<bool> = forms.iter().map(|s| !undecided(s)).collect();
    forms
        .into_iter()
        .enumerate()
        .filter(|(i, _)| {
            decided[*i] || !(0..keys.len()).any(|j| j != *i && decided[j] && keys[j] == keys[*i])
        })
        .map(|(_, s)| s)
        .collect()
}

/// Everything the form says, normalised: the institution's part, the
/// prefecture's and the MHLW block.
fn form_key(s: &RequestSheet) -> Vec<String> {
    let mut key = institution_key(s);
    for r in &s.prefecture {
        key.push(r.item.label().to_string());
        for v in [
            &r.need,
            &r.method,
            &r.prefecture_quantity,
            &r.national_quantity,
            &r.total_quantity,
            &r.opinion,
        ] {
            key.push(crate::text::normalize(&v.text));
        }
    }
    for r in &s.mhlw {
        key.extend(r.cells.iter().map(|(_, v)| crate::text::normalize(&v.text)));
    }
    key
}

/// What the institution wrote: its fields and item rows, normalised.
fn institution_key(s: &RequestSheet) -> Vec<String> {
    let b = &s.institution;
    let fields = [
        &b.name,
        &b.code,
        &b.postcode,
        &b.prefecture,
        &b.address,
        &b.phone,
        &b.contact,
    ];
    let mut key: Vec<String> = fields
        .iter()
        .map(|f| {
            f.as_ref()
                .map(|f| crate::text::normalize(&f.value.text))
                .unwrap_or_default()
        })
        .collect();
    for r in &s.items {
        key.push(r.item.label().to_string());
        for v in [
            &r.request,
            &r.stock,
            &r.outlook,
            &r.weekly_use,
            &r.weekly_purchase,
            &r.reason,
        ] {
            key.push(crate::text::normalize(&v.text));
        }
    }
    key
}

const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ODS_MIMETYPE: &str = "application/vnd.oasis.opendocument.spreadsheet";

/// Tells the format from the bytes and applies the pre-inflation guards.
pub fn detect(bytes: &[u8]) -> Result<Format, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge(format!(
            "{} bytes (limit {MAX_INPUT_BYTES})",
            bytes.len()
        )));
    }
    if bytes.starts_with(&CFB_MAGIC) {
        // A password-protected .xlsx is an OLE2 container holding the
        // encrypted package; a plain .xls holds a "Workbook" stream.
        if contains_utf16le(bytes, "EncryptedPackage") || contains_utf16le(bytes, "EncryptionInfo")
        {
            return Err(ReadError::Encrypted);
        }
        return Ok(Format::Xls);
    }
    if bytes.starts_with(b"PK") {
        return catch_unwind(AssertUnwindSafe(|| detect_zip(bytes)))
            .map_err(|_| ReadError::Corrupt("unreadable zip directory".into()))?;
    }
    Err(ReadError::NotASpreadsheet)
}

fn contains_utf16le(haystack: &[u8], needle: &str) -> bool {
    let pattern: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    memchr::memmem::find(haystack, &pattern).is_some()
}

/// What the zip central directory says, checked before anything inflates.
fn detect_zip(bytes: &[u8]) -> Result<Format, ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::Corrupt(format!("zip: {e}")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ReadError::TooLarge(format!(
            "{} zip entries",
            archive.len()
        )));
    }
    let mut names = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        // The central directory says enough; the entries read later check
        // their own headers.
        let entry = archive
            .by_index_data(i)
            .map_err(|e| ReadError::Corrupt(format!("zip entry {i}: {e}")))?;
        if entry.encrypted() {
            return Err(ReadError::Encrypted);
        }
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        let streamed = name.starts_with("xl/worksheets/") && name.ends_with(".xml");
        let limit = if streamed {
            MAX_SHEET_ENTRY_BYTES
        } else {
            MAX_WHOLE_ENTRY_BYTES
        };
        if size > limit {
            return Err(ReadError::TooLarge(format!(
                "{name}: {size} bytes uncompressed"
            )));
        }
        if size > 1024 * 1024 && size / packed > MAX_COMPRESSION_RATIO {
            return Err(ReadError::TooLarge(format!(
                "{name}: compression ratio {} (zip bomb?)",
                size / packed
            )));
        }
        total = total.saturating_add(size);
        names.push(name);
    }
    if total > MAX_TOTAL_UNCOMPRESSED_BYTES {
        return Err(ReadError::TooLarge(format!(
            "{total} bytes uncompressed in total"
        )));
    }
    // Sizes above are the directory's word: hold every entry to it (and
    // refuse entries sharing data) before calamine or zip inflate anything.
    super::guard::check_zip_package(bytes, &mut archive).map_err(refused)?;
    if names.iter().any(|n| n == "mimetype") {
        let mut mimetype = String::new();
        if let Ok(entry) = archive.by_name("mimetype") {
            use std::io::Read;
            let _ = entry.take(200).read_to_string(&mut mimetype);
        }
        if mimetype.trim() == ODS_MIMETYPE {
            return Ok(Format::Ods);
        }
        return Err(ReadError::NotASpreadsheet);
    }
    if names.iter().any(|n| n == "xl/workbook.xml") {
        const TYPES: &str = "[Content_Types].xml";
        let types = super::xlsx::part(bytes, &mut archive, TYPES, MAX_WHOLE_ENTRY_BYTES)
            .or_else(|| {
                use std::io::Read;
                let mut types = Vec::new();
                let entry = archive.by_name(TYPES).ok()?;
                entry
                    .take(MAX_WHOLE_ENTRY_BYTES)
                    .read_to_end(&mut types)
                    .ok()?;
                Some(types)
            })
            .unwrap_or_default();
        return Ok(if memchr::memmem::find(&types, b"macroEnabled").is_some() {
            Format::Xlsm
        } else {
            Format::Xlsx
        });
    }
    Err(ReadError::NotASpreadsheet)
}

/// One cell as loaded, before the form is located.
#[derive(Clone, Debug, Default, PartialEq)]
struct RawCell {
    /// Display text (numbers without `.0`, dates as `YYYY-MM-DD`).
    text: String,
    /// Formula text without the leading `=`.
    formula: Option<String>,
    /// True when the value is a number (not text that looks like one).
    numeric: bool,
}

/// The first rows and columns of one worksheet, at absolute positions.
#[derive(Debug, Default, PartialEq)]
struct Grid {
    cells: BTreeMap<(u32, u32), RawCell>,
    merges: Vec<Dimensions>,
    /// One past the rightmost column holding a cell: scans along a row stop
    /// there rather than at [`MAX_COLS`].
    width: u32,
    /// Rows marked hidden (known for .xlsx only).
    hidden_rows: Vec<u32>,
}

impl Grid {
    fn get(&self, row: u32, col: u32) -> Option<&RawCell> {
        self.cells.get(&(row, col))
    }

    fn text(&self, row: u32, col: u32) -> &str {
        self.get(row, col).map(|c| c.text.as_str()).unwrap_or("")
    }

    fn is_blank(&self, row: u32, col: u32) -> bool {
        self.get(row, col)
            .is_none_or(|c| c.text.trim().is_empty() && c.formula.is_none())
    }

    fn seen(&self, row: u32, col: u32) -> Seen {
        let cell = CellPos::new(row, col);
        match self.get(row, col) {
            Some(raw) => Seen {
                cell,
                text: raw.text.clone(),
                formula: raw.formula.clone(),
            },
            // Inside a merged range: the value is the top-left cell's.
            None => match self
                .merges
                .iter()
                .find(|d| d.contains(row, col) && d.start != (row, col))
            {
                Some(d) => match self.get(d.start.0, d.start.1) {
                    Some(raw) => Seen {
                        cell: CellPos::new(d.start.0, d.start.1),
                        text: raw.text.clone(),
                        formula: raw.formula.clone(),
                    },
                    None => Seen::blank(cell),
                },
                None => Seen::blank(cell),
            },
        }
    }

    /// Keeps the merged ranges that start inside the window read.
    fn set_merges(&mut self, mut merges: Vec<Dimensions>) {
        merges.retain(|d| {
            d.start.0 < MAX_ROWS
                && d.start.1 < MAX_COLS
                && d.start.0 <= d.end.0
                && d.start.1 <= d.end.1
        });
        merges.truncate(MAX_MERGES);
        self.merges = merges;
    }

    /// Takes the merged ranges and hidden rows read from the worksheet XML.
    fn set_layout(&mut self, layout: super::xlsx::Layout) {
        self.hidden_rows = layout.hidden_rows;
        self.hidden_rows.retain(|r| *r < MAX_ROWS);
        let merges = layout.merges.into_iter();
        self.set_merges(merges.map(|(a, b)| Dimensions::new(a, b)).collect());
    }

    /// The merged range whose top-left cell is (row, col), if any.
    fn merge_at(&self, row: u32, col: u32) -> Option<&Dimensions> {
        self.merges.iter().find(|d| d.start == (row, col))
    }

    fn insert(&mut self, row: u32, col: u32, cell: RawCell) {
        if row < MAX_ROWS && col < MAX_COLS && (!cell.text.is_empty() || cell.formula.is_some()) {
            self.width = self.width.max(col + 1);
            self.cells.insert((row, col), cell);
        }
    }
}

fn corrupt(e: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(e.to_string())
}

/// Loads every worksheet (up to [`MAX_SHEETS`]) into a [`Grid`].
fn load_grids(format: Format, bytes: &[u8]) -> Result<Loaded, ReadError> {
    let mut loaded = match format {
        Format::Xlsx | Format::Xlsm => load_xlsx(bytes)?,
        Format::Xls => load_xls(bytes)?,
        Format::Ods => load_ods(bytes)?,
    };
    for (_, grid) in &mut loaded.grids {
        evaluate_formulas(grid);
    }
    Ok(loaded)
}

/// The worksheets loaded, and the first error of a worksheet that could not
/// be (the others are still checked).
#[derive(Default)]
struct Loaded {
    grids: Vec<(String, Grid)>,
    /// Names of the hidden worksheets.
    hidden: Vec<String>,
    sheet_error: Option<ReadError>,
}

impl Loaded {
    fn failed(&mut self, err: ReadError) {
        self.sheet_error.get_or_insert(err);
    }
}

fn load_xlsx(bytes: &[u8]) -> Result<Loaded, ReadError> {
    // The package as we read it beside calamine.
    let mut parts = zip::ZipArchive::new(Cursor::new(bytes)).ok();
    let big_sheet = parts.as_ref().map_or(0, largest_sheet_entry) > MAX_MERGE_SCAN_BYTES;
    if let Some(archive) = parts.as_mut()
        && let Some(package) = super::xlsx::read_package(bytes, archive, PACKAGE_LIMITS)
    {
        return Ok(loaded_from_package(package));
    }
    load_xlsx_with_calamine(bytes, parts, big_sheet)
}

/// What [`super::xlsx::read_package`] may read: the same window as
/// calamine's path, worksheets held in memory only up to
/// [`MAX_MERGE_BUFFER_BYTES`] (a larger one is streamed by calamine).
const PACKAGE_LIMITS: super::xlsx::Limits = super::xlsx::Limits {
    part_bytes: MAX_WHOLE_ENTRY_BYTES,
    sheet_bytes: MAX_MERGE_BUFFER_BYTES,
    sheets: MAX_SHEETS,
    window: super::xlsx::Window {
        rows: MAX_ROWS,
        cols: MAX_COLS,
        cells: MAX_CELLS_SCANNED,
    },
};

fn loaded_from_package(package: super::xlsx::Package) -> Loaded {
    let grids = package
        .worksheets
        .into_iter()
        .map(|sheet| {
            let mut grid = Grid::default();
            for cell in sheet.cells {
                let mut raw = raw_from_data(cell.value);
                raw.formula = formula_text(cell.formula);
                grid.insert(cell.pos.0, cell.pos.1, raw);
            }
            grid.set_layout(sheet.layout);
            (sheet.name, grid)
        })
        .collect();
    Loaded {
        grids,
        hidden: package.hidden,
        sheet_error: None,
    }
}

/// The calamine path, for what the quick reader leaves (and any package it
/// cannot open as a zip).
fn load_xlsx_with_calamine(
    bytes: &[u8],
    mut parts: Option<zip::ZipArchive<Cursor<&[u8]>>>,
    big_sheet: bool,
) -> Result<Loaded, ReadError> {
    let paths = parts
        .as_mut()
        .and_then(|a| super::xlsx::sheet_paths(a, MAX_WHOLE_ENTRY_BYTES))
        .unwrap_or_default();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| match e {
        calamine::XlsxError::Password => ReadError::Encrypted,
        e => corrupt(e),
    })?;
    let mut loaded = Loaded::default();
    'sheets: for name in book.sheet_names().into_iter().take(MAX_SHEETS) {
        let mut grid = Grid::default();
        {
            let mut reader = match book.worksheet_cells_reader(&name) {
                Ok(r) => r,
                // Chart sheets and dialog sheets have no cells.
                Err(calamine::XlsxError::WorksheetNotFound(_)) => continue,
                Err(e) => {
                    loaded.failed(corrupt(e));
                    continue;
                }
            };
            let mut scanned = 0usize;
            loop {
                let cell = match reader.next_cell_with_formula() {
                    Ok(Some(cell)) => cell,
                    Ok(None) => break,
                    Err(e) => {
                        loaded.failed(corrupt(e));
                        continue 'sheets;
                    }
                };
                scanned += 1;
                let (row, col) = cell.pos;
                if row >= MAX_ROWS || scanned > MAX_CELLS_SCANNED {
                    break;
                }
                if col >= MAX_COLS {
                    continue;
                }
                let mut raw = raw_from_ref(&cell.value);
                raw.formula = formula_text(cell.formula);
                grid.insert(row, col, raw);
            }
        }
        if !big_sheet {
            let quick = paths.get(&name).zip(parts.as_mut()).and_then(|(path, a)| {
                super::xlsx::worksheet_layout(a, path, MAX_MERGE_BUFFER_BYTES)
            });
            match quick {
                Some(layout) => grid.set_layout(layout),
                None => grid.set_merges(book.merge_cells_by_sheet_name(&name).unwrap_or_default()),
            }
        }
        loaded.grids.push((name, grid));
    }
    loaded.hidden = hidden_sheets(book.sheets_metadata());
    Ok(loaded)
}

/// An .xlsx read both ways, for the differential fuzz target and tests:
/// the quick reader's worksheets and calamine's, each as debug text, when
/// the quick reader accepts the package and calamine reads every worksheet
/// without error (`None` otherwise: then only one reader has an answer).
#[doc(hidden)]
pub fn xlsx_both_ways(bytes: &[u8]) -> Option<(String, String)> {
    let archive = || zip::ZipArchive::new(Cursor::new(bytes)).ok();
    let quick = super::xlsx::read_package(bytes, &mut archive()?, PACKAGE_LIMITS)?;
    let slow = catch_unwind(AssertUnwindSafe(|| {
        load_xlsx_with_calamine(bytes, archive(), false)
    }))
    .ok()?
    .ok()?;
    if slow.sheet_error.is_some() {
        return None;
    }
    let quick = loaded_from_package(quick);
    let show = |l: &Loaded| format!("{:?}\nhidden: {:?}", l.grids, l.hidden);
    Some((show(&quick), show(&slow)))
}

/// The names of the worksheets not shown in the workbook (hidden or very
/// hidden).
fn hidden_sheets(sheets: &[calamine::Sheet]) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.visible != calamine::SheetVisible::Visible)
        .map(|s| s.name.clone())
        .collect()
}

/// The uncompressed size of the largest worksheet entry of an xlsx zip.
fn largest_sheet_entry(archive: &zip::ZipArchive<Cursor<&[u8]>>) -> u64 {
    (0..archive.len())
        .filter_map(|i| {
            let e = archive.by_index_data(i).ok()?;
            let is_sheet = e.name().ok()?.starts_with("xl/worksheets/");
            is_sheet.then(|| e.size())
        })
        .max()
        .unwrap_or(0)
}

fn refused(r: super::guard::Refusal) -> ReadError {
    use super::guard::Refusal;
    match r {
        Refusal::TooManyCells(n) => ReadError::TooLarge(format!("a worksheet grid of {n} cells")),
        Refusal::TooManySheets(n) => ReadError::TooLarge(format!(
            "{n} worksheets (limit {})",
            super::guard::MAX_XLS_SHEETS
        )),
        Refusal::TooMuchWork => ReadError::TooLarge(format!(
            "worksheet records over {} bytes in all",
            super::guard::MAX_XLS_WALK_BYTES
        )),
        Refusal::Unreadable => ReadError::Corrupt("unreadable OLE2 container".into()),
        Refusal::Malformed(why) => ReadError::Corrupt(format!("OLE2 container: {why}")),
    }
}

fn load_xls(bytes: &[u8]) -> Result<Loaded, ReadError> {
    super::guard::check_xls(bytes).map_err(refused)?;
    let mut book: Xls<_> = Xls::new(Cursor::new(bytes)).map_err(|e| match e {
        calamine::XlsError::Password => ReadError::Encrypted,
        e => corrupt(e),
    })?;
    let mut grids = Vec::new();
    for name in book.sheet_names().into_iter().take(MAX_SHEETS) {
        let Ok(range) = book.worksheet_range(&name) else {
            continue;
        };
        let formulas = book.worksheet_formula(&name).unwrap_or_default();
        let mut grid = grid_from_range(&range, &formulas);
        grid.set_merges(book.merge_cells_by_sheet_name(&name).unwrap_or_default());
        grids.push((name, grid));
    }
    Ok(Loaded {
        grids,
        hidden: hidden_sheets(book.sheets_metadata()),
        sheet_error: None,
    })
}

fn load_ods(bytes: &[u8]) -> Result<Loaded, ReadError> {
    let merges = {
        use std::io::Read;
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
        let mut content = Vec::new();
        if let Ok(entry) = archive.by_name("content.xml") {
            entry
                .take(MAX_WHOLE_ENTRY_BYTES)
                .read_to_end(&mut content)
                .map_err(corrupt)?;
        }
        super::guard::check_ods_content(&content).map_err(refused)?;
        // calamine does not report merged ranges for .ods.
        super::guard::ods_merges(&content, MAX_ROWS)
    };
    let mut book: Ods<_> = Ods::new(Cursor::new(bytes)).map_err(|e| match e {
        calamine::OdsError::Password => ReadError::Encrypted,
        e => corrupt(e),
    })?;
    let mut grids = Vec::new();
    for (i, name) in book.sheet_names().into_iter().take(MAX_SHEETS).enumerate() {
        let Ok(range) = book.worksheet_range(&name) else {
            continue;
        };
        let formulas = book.worksheet_formula(&name).unwrap_or_default();
        let mut grid = grid_from_range(&range, &formulas);
        let sheet_merges = merges.get(i).cloned().unwrap_or_default();
        grid.set_merges(
            sheet_merges
                .into_iter()
                .map(|(a, b)| Dimensions::new(a, b))
                .collect(),
        );
        grids.push((name, grid));
    }
    Ok(Loaded {
        grids,
        hidden: hidden_sheets(book.sheets_metadata()),
        sheet_error: None,
    })
}

/// Copies the first rows and columns of a calamine range (whose positions
/// are relative to its first non-empty cell) into a grid at absolute
/// positions.
fn grid_from_range(range: &Range<Data>, formulas: &Range<String>) -> Grid {
    let mut grid = Grid::default();
    if let Some((r0, c0)) = range.start() {
        for (r, c, value) in range.used_cells() {
            let (row, col) = (r0.saturating_add(r as u32), c0.saturating_add(c as u32));
            if row >= MAX_ROWS {
                break;
            }
            if col < MAX_COLS {
                grid.insert(row, col, raw_from_data(value.clone()));
            }
        }
    }
    if let Some((r0, c0)) = formulas.start() {
        for (r, c, f) in formulas.used_cells() {
            let (row, col) = (r0.saturating_add(r as u32), c0.saturating_add(c as u32));
            if row >= MAX_ROWS {
                break;
            }
            if col < MAX_COLS && !f.trim().is_empty() {
                let mut raw = grid.cells.remove(&(row, col)).unwrap_or_default();
                raw.formula = Some(clean_formula(f.clone()));
                grid.insert(row, col, raw);
            }
        }
    }
    grid
}

/// A cell's formula as kept in the grid: none when blank.
fn formula_text(formula: Option<String>) -> Option<String> {
    formula.filter(|f| !f.trim().is_empty()).map(clean_formula)
}

/// A formula as Excel shows it, without the `=`: ODS formulas come as
/// `of:=[.E31]+[.F31]` or `of:=SUM([.E31:.F31])`; xlsx ones are already bare.
fn clean_formula(f: String) -> String {
    let f = f.trim();
    let f = f.strip_prefix('=').unwrap_or(f);
    match f.strip_prefix("of:") {
        Some(ods) => ods
            .trim_start_matches('=')
            .replace("[.", "")
            .replace(":.", ":")
            .replace(['[', ']'], "")
            .replace(';', ","),
        None => f.to_string(),
    }
}

fn cap(mut s: String) -> String {
    if s.len() > MAX_CELL_CHARS {
        let mut end = MAX_CELL_CHARS;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn raw_from_data(value: Data) -> RawCell {
    match value {
        Data::Int(i) => RawCell {
            text: i.to_string(),
            formula: None,
            numeric: true,
        },
        Data::Float(f) => RawCell {
            text: render_float(f),
            formula: None,
            numeric: true,
        },
        Data::String(s) => RawCell {
            text: cap(s),
            ..RawCell::default()
        },
        Data::Bool(b) => RawCell {
            text: if b { "TRUE" } else { "FALSE" }.into(),
            ..RawCell::default()
        },
        Data::DateTime(d) => RawCell {
            text: render_excel_date(&d),
            ..RawCell::default()
        },
        Data::DateTimeIso(s) => RawCell {
            text: render_iso_date(&s),
            ..RawCell::default()
        },
        Data::DurationIso(s) => RawCell {
            text: cap(s),
            ..RawCell::default()
        },
        Data::Error(e) => RawCell {
            text: e.to_string(),
            ..RawCell::default()
        },
        Data::Empty => RawCell::default(),
    }
}

fn raw_from_ref(value: &DataRef<'_>) -> RawCell {
    match value {
        DataRef::SharedString(s) => RawCell {
            text: cap(s.to_string()),
            ..RawCell::default()
        },
        other => raw_from_data(Data::from(other.clone())),
    }
}

/// `1200.0` → `1200`; other floats in their shortest form.
fn render_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// An Excel serial date as `YYYY-MM-DD` (with the time when there is one).
fn render_excel_date(d: &calamine::ExcelDateTime) -> String {
    let serial = d.as_f64();
    if !d.is_datetime() || !serial.is_finite() || !(0.0..3_000_000.0).contains(&serial) {
        return render_float(serial);
    }
    // The 1900 system counts from 1899-12-30 (Excel's leap-year bug included).
    let Some(epoch) = chrono::NaiveDate::from_ymd_opt(1899, 12, 30) else {
        return render_float(serial);
    };
    let days = serial.trunc() as i64;
    let secs = ((serial - serial.trunc()) * 86_400.0).round() as i64;
    let Some(date) = epoch.checked_add_signed(chrono::Duration::days(days)) else {
        return render_float(serial);
    };
    if secs == 0 {
        date.format("%Y-%m-%d").to_string()
    } else {
        let t = date
            .and_hms_opt(0, 0, 0)
            .map(|dt| dt + chrono::Duration::seconds(secs));
        t.map(|dt| dt.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }
}

/// `2026-05-12T00:00:00` → `2026-05-12`; other ISO text as it is.
fn render_iso_date(s: &str) -> String {
    let s = s.trim();
    match s.split_once('T') {
        Some((date, time)) if time.trim_start_matches(['0', ':', '.']).is_empty() => {
            date.to_string()
        }
        Some((date, time)) => format!("{date} {}", time.get(..5).unwrap_or(time)),
        None => cap(s.to_string()),
    }
}

/// Gives formula cells the value Excel would show. A simple sum
/// (`E31+F31`, `SUM(E31:F31)`, `SUM(E31,F31)`) is computed from the sheet's
/// values, even over a cached value: some writers cache `0` for every
/// formula, and Excel recomputes on opening anyway. Other formulas keep their
/// cached value, or an empty text that validation reports.
fn evaluate_formulas(grid: &mut Grid) {
    let formulas: Vec<((u32, u32), String)> = grid
        .cells
        .iter()
        .filter_map(|(pos, c)| c.formula.clone().map(|f| (*pos, f)))
        .collect();
    for (pos, formula) in formulas {
        if let Some(sum) = evaluate_sum(&formula, grid)
            && let Some(cell) = grid.cells.get_mut(&pos)
        {
            cell.text = sum.to_string();
            cell.numeric = true;
        }
    }
}

/// Evaluates a sum of cell references and integer literals; `None` for
/// anything else or when a referenced cell is not a number.
pub(crate) fn evaluate_sum(formula: &str, grid_values: &impl CellValues) -> Option<i64> {
    let f: String = formula
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
        .replace(['[', ']'], "")
        .replace(".", "");
    let f = f.strip_prefix('=').unwrap_or(&f);
    let terms: Vec<&str> = match f.strip_prefix("SUM(").and_then(|s| s.strip_suffix(')')) {
        Some(args) => args.split([',', ';']).collect(),
        None => f.split('+').collect(),
    };
    let mut total: i64 = 0;
    for term in terms {
        let value = if let Some((a, b)) = term.split_once(':') {
            let (a, b) = (CellPos::parse_a1(a)?, CellPos::parse_a1(b)?);
            let (rows, cols) = (
                a.row.min(b.row)..=a.row.max(b.row),
                a.col.min(b.col)..=a.col.max(b.col),
            );
            if (rows.end() - rows.start() + 1).saturating_mul(cols.end() - cols.start() + 1) > 1000
            {
                return None;
            }
            let mut sum: i64 = 0;
            for r in rows {
                for c in cols.clone() {
                    sum = sum.checked_add(grid_values.integer_at(r, c)?)?;
                }
            }
            sum
        } else if let Some(pos) = CellPos::parse_a1(term) {
            grid_values.integer_at(pos.row, pos.col)?
        } else {
            term.parse::<i64>().ok()?
        };
        total = total.checked_add(value)?;
    }
    Some(total)
}

/// Integer values of cells, for [`evaluate_sum`] (blank = 0).
pub(crate) trait CellValues {
    /// The integer at (row, col): `Some(0)` when blank, `None` when the cell
    /// is not an integer or is an unevaluated formula.
    fn integer_at(&self, row: u32, col: u32) -> Option<i64>;
}

impl CellValues for Grid {
    fn integer_at(&self, row: u32, col: u32) -> Option<i64> {
        match self.get(row, col) {
            None => Some(0),
            // Outside the window read, a blank is not known to be blank.
            _ if row >= MAX_ROWS || col >= MAX_COLS => None,
            Some(c) if c.text.trim().is_empty() => c.formula.is_none().then_some(0),
            Some(c) => match crate::text::parse_quantity(&c.text) {
                crate::text::Quantity::Count { value, .. } => Some(value),
                crate::text::Quantity::Blank => Some(0),
                crate::text::Quantity::Invalid => None,
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Locating the form.

/// Which of the three item tables a 配布物品一覧 header starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Institution,
    Prefecture,
    Mhlw,
}

/// The field labels of the institution block, as folded text. The first
/// spelling is the form's; the others are variants seen in the wild.
const FIELD_LABELS: [(&str, &[&str]); 7] = [
    (
        "name",
        &[
            "医療機関名",
            "医療機関名称",
            "医療機関の名称",
            "施設名",
            "病院名",
        ],
    ),
    (
        "code",
        &[
            "医療機関コード",
            "機関コード",
            "医療機関番号",
            "保険医療機関コード",
        ],
    ),
    ("postcode", &["郵便番号", "〒"]),
    ("prefecture", &["都道府県", "都道府県名"]),
    (
        "address",
        &["医療機関住所", "住所", "所在地", "医療機関所在地"],
    ),
    (
        "phone",
        &[
            "連絡先電話番号",
            "電話番号",
            "連絡先",
            "電話",
            "tel",
            "連絡先tel",
        ],
    ),
    (
        "contact",
        &[
            "医療機関担当者名",
            "担当者名",
            "担当者",
            "医療機関担当者",
            "担当者氏名",
            "医療機関担当者氏名",
            "ご担当者名",
        ],
    ),
];

fn is_field_label(folded: &str) -> bool {
    FIELD_LABELS
        .iter()
        .any(|(_, labels)| labels.contains(&folded))
}

/// Longest text taken for a label, heading or item name (the notes at the
/// top of the form are longer and are not folded).
const MAX_LABEL_CHARS: usize = 100;

/// One short cell's text, folded the ways the locating code compares it.
struct Label {
    /// [`fold_label`] of the text.
    folded: String,
    /// [`fold_label`] of the text without its notes (`医療機関コード（10桁）`
    /// → `医療機関コード`), when that differs from `folded`.
    bare: Option<String>,
    /// The item the text names, if any.
    item: Option<Item>,
}

/// The folded text of every non-empty cell shorter than a label could be.
///
/// Locating the form compares each cell many times (headings, headers,
/// labels, item rows); folding (NFKC) is the costly part, so it is done once
/// per worksheet.
struct Labels<'g> {
    grid: &'g Grid,
    cells: BTreeMap<(u32, u32), Label>,
}

impl<'g> Labels<'g> {
    fn new(grid: &'g Grid) -> Labels<'g> {
        let cells = grid
            .cells
            .iter()
            .filter(|(_, c)| !c.text.is_empty() && c.text.chars().count() <= MAX_LABEL_CHARS)
            .map(|(pos, c)| {
                let folded = fold_label(&c.text);
                // strip_notes only changes text holding a bracket or ※.
                let bare = c
                    .text
                    .contains(['(', '（', '［', '[', '※', ')', '）', '］', ']'])
                    .then(|| fold_label(&crate::text::strip_notes(&c.text)))
                    .filter(|bare| *bare != folded);
                let item = Item::from_folded(&folded);
                (*pos, Label { folded, bare, item })
            })
            .collect();
        Labels { grid, cells }
    }

    /// The folded text of a short cell.
    fn get(&self, pos: &(u32, u32)) -> Option<&String> {
        self.cells.get(pos).map(|l| &l.folded)
    }

    /// Every short cell's folded text, by position.
    fn iter(&self) -> impl Iterator<Item = (&(u32, u32), &String)> {
        self.cells.iter().map(|(pos, l)| (pos, &l.folded))
    }

    /// The folded text of a short cell without its notes.
    fn bare(&self, pos: &(u32, u32)) -> &str {
        self.cells
            .get(pos)
            .map(|l| l.bare.as_deref().unwrap_or(&l.folded))
            .unwrap_or("")
    }

    /// The short cells whose text has notes, with their bare folded text.
    fn with_notes(&self) -> impl Iterator<Item = (&(u32, u32), &str)> {
        self.cells
            .iter()
            .filter_map(|(pos, l)| l.bare.as_deref().map(|b| (pos, b)))
    }

    /// [`Item::parse`] of a cell's text.
    fn item(&self, row: u32, col: u32) -> Option<Item> {
        match self.cells.get(&(row, col)) {
            Some(l) => l.item,
            // A long text (a note) is not cached: parse it as before.
            None => self.grid.get(row, col).and_then(|c| Item::parse(&c.text)),
        }
    }
}

/// Builds the [`RequestSheet`] of one worksheet, or `None` when it does not
/// hold the form.
fn locate(name: &str, grid: &Grid) -> Option<RequestSheet> {
    let labels = Labels::new(grid);
    let headings = Headings::find(&labels);
    let (headers, repeated_table) = classify_headers(grid, &labels, &headings);
    let has_form = headings.institution.is_some() || !headers.is_empty();
    if !has_form {
        return None;
    }
    let header_of = |b: Block| headers.iter().find(|(_, k)| *k == b).map(|(p, _)| *p);
    let inst_header = header_of(Block::Institution);
    let pref_header = header_of(Block::Prefecture);
    let mhlw_header = header_of(Block::Mhlw);

    // Block boundaries: a table ends where the next heading or header
    // starts (those of a repeated form included).
    let mut starts: Vec<u32> = labels
        .iter()
        .filter(|(_, t)| {
            t.starts_with("配布物品一覧")
                || t.starts_with("医療機関記入欄")
                || t.starts_with("都道府県記入欄")
                || t.contains("厚生労働省記入欄")
        })
        .map(|(&(r, _), _)| r)
        .collect();
    starts.extend(headers.iter().map(|(p, _)| p.row));
    starts.sort_unstable();
    let end_after = |row: u32| {
        starts
            .iter()
            .copied()
            .find(|s| *s > row)
            .unwrap_or(MAX_ROWS)
    };

    let field_limit = inst_header.map(|p| p.row).unwrap_or(MAX_ROWS);
    let institution = find_fields(grid, &labels, field_limit);
    let items = inst_header
        .map(|h| institution_rows(grid, &labels, h, end_after(h.row)))
        .unwrap_or_default();
    let prefecture = pref_header
        .map(|h| prefecture_rows(grid, &labels, h, end_after(h.row)))
        .unwrap_or_default();
    let mhlw = mhlw_header
        .map(|h| mhlw_rows(grid, &labels, h, end_after(h.row)))
        .unwrap_or_default();
    Some(RequestSheet {
        sheet: name.to_string(),
        layout: Layout {
            institution_heading: headings.institution,
            institution_table: inst_header,
            prefecture_table: pref_header.or(headings.prefecture),
            mhlw_table: mhlw_header.or(headings.mhlw),
            repeated_form: headings.institution_again.or(repeated_table),
        },
        institution,
        items,
        prefecture,
        mhlw,
    })
}

/// The three block headings, where found.
#[derive(Default)]
struct Headings {
    institution: Option<CellPos>,
    prefecture: Option<CellPos>,
    mhlw: Option<CellPos>,
    /// A second 【医療機関記入欄】: a second form on the same worksheet.
    institution_again: Option<CellPos>,
}

impl Headings {
    fn find(labels: &Labels<'_>) -> Headings {
        let mut h = Headings::default();
        for (&(row, col), text) in labels.iter() {
            let pos = CellPos::new(row, col);
            if is_heading(labels, (row, col), text, "医療機関記入欄") {
                if h.institution.is_none() {
                    h.institution = Some(pos);
                } else {
                    h.institution_again.get_or_insert(pos);
                }
            } else if h.prefecture.is_none()
                && is_heading(labels, (row, col), text, "都道府県記入欄")
            {
                h.prefecture = Some(pos);
            } else if h.mhlw.is_none() && text.contains("厚生労働省記入欄") {
                h.mhlw = Some(pos);
            }
        }
        h
    }

    /// The block of the nearest heading above `row`.
    fn above(&self, row: u32) -> Option<Block> {
        [
            (self.institution, Block::Institution),
            (self.prefecture, Block::Prefecture),
            (self.mhlw, Block::Mhlw),
        ]
        .into_iter()
        .filter_map(|(p, b)| p.filter(|p| p.row < row).map(|p| (p.row, b)))
        .max_by_key(|(r, _)| *r)
        .map(|(_, b)| b)
    }
}

/// True when a cell is the heading `key` (`【医療機関記入欄】`, maybe with
/// a short note or a `※` note after it), not a sentence of an instructions
/// sheet that starts with it (`【医療機関記入欄】は医療機関が記入してください`).
fn is_heading(labels: &Labels<'_>, pos: (u32, u32), folded: &str, key: &str) -> bool {
    if !folded.starts_with(key) {
        return false;
    }
    let limit = key.chars().count() + 6;
    folded.chars().count() <= limit || labels.bare(&pos).chars().count() <= limit
}

/// Other titles of the item column that offices give their tables.
const ALT_TABLE_HEADERS: [&str; 5] = ["品目", "品目名", "物品名", "配布物品", "品名"];

/// Finds every 配布物品一覧 header and tells which table it starts, by the
/// column titles of its row, then by the heading above it, then by order.
fn classify_headers(
    grid: &Grid,
    labels: &Labels<'_>,
    headings: &Headings,
) -> (Vec<(CellPos, Block)>, Option<CellPos>) {
    let mut found: Vec<(CellPos, Block)> = Vec::new();
    let mut repeated: Option<CellPos> = None;
    // Tables re-titled 品目 / 物品名 count only when their column titles
    // say which table they are.
    let candidates: Vec<(CellPos, bool)> = labels
        .iter()
        .filter_map(|(&pos, t)| {
            if is_heading(labels, pos, t, "配布物品一覧") {
                Some((CellPos::new(pos.0, pos.1), false))
            } else {
                ALT_TABLE_HEADERS
                    .contains(&labels.bare(&pos))
                    .then_some((CellPos::new(pos.0, pos.1), true))
            }
        })
        .collect();
    let mut n = 0usize;
    for (pos, alternative) in candidates {
        let titles: String = header_titles(grid, labels, pos)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let by_titles = if ["配布承認", "送付日", "受領日時"]
            .iter()
            .any(|k| titles.contains(k))
        {
            Some(Block::Mhlw)
        } else if ["要否", "配布方法", "総配布", "意見"]
            .iter()
            .any(|k| titles.contains(k))
        {
            Some(Block::Prefecture)
        } else if ["在庫", "見通し", "消費", "事由"]
            .iter()
            .any(|k| titles.contains(k))
        {
            Some(Block::Institution)
        } else {
            None
        };
        if alternative && by_titles.is_none() {
            continue;
        }
        let by_order = [Block::Institution, Block::Prefecture, Block::Mhlw]
            .get(n)
            .copied();
        n += 1;
        match by_titles.or_else(|| headings.above(pos.row)).or(by_order) {
            Some(block) if !found.iter().any(|(_, b)| *b == block) => found.push((pos, block)),
            // A second table of a kind already found: a second form.
            _ => {
                repeated.get_or_insert(pos);
            }
        }
    }
    (found, repeated)
}

/// The column titles right of a header cell (its row, and the row below
/// when a title spans two rows), folded, by column.
fn header_titles(grid: &Grid, labels: &Labels<'_>, header: CellPos) -> Vec<(u32, String)> {
    let mut titles = Vec::new();
    // Is the row below a second header row (not the first item row)?
    let below_is_titles = (0..grid.width).all(|c| labels.item(header.row + 1, c).is_none());
    for col in header.col + 1..grid.width {
        let here = labels.get(&(header.row, col)).cloned().unwrap_or_default();
        // A group title merged over several columns (今後1週間の見込み over
        // 想定消費量 and 購入できる見込み量): the titles below it count.
        let group = grid
            .merge_at(header.row, col)
            .is_some_and(|d| d.end.1 > d.start.1);
        let here = match labels.get(&(header.row + 1, col)) {
            Some(below) if group && below_is_titles && !below.is_empty() => below.clone(),
            _ => here,
        };
        let text = if here.is_empty() {
            // A title merged over two rows may sit one row lower... but
            // never an item label.
            let below = labels
                .get(&(header.row + 1, col))
                .cloned()
                .unwrap_or_default();
            if labels.item(header.row + 1, col).is_some() {
                String::new()
            } else {
                below
            }
        } else {
            here
        };
        if !text.is_empty() {
            titles.push((col, text));
        }
    }
    titles
}

/// The column of the first title matching one of `keys`, in `titles` order.
fn column_of(titles: &[(u32, String)], keys: &[&str], taken: &[u32]) -> Option<u32> {
    titles
        .iter()
        .find(|(c, t)| !taken.contains(c) && keys.iter().any(|k| t.contains(k)))
        .map(|(c, _)| *c)
}

/// Maps each wanted column (by title keywords, most specific first) to a
/// column, falling back to the reference layout's offset from the header.
fn map_columns<const N: usize>(
    titles: &[(u32, String)],
    header: CellPos,
    wanted: [&[&str]; N],
) -> [u32; N] {
    let mut taken: Vec<u32> = Vec::new();
    let mut cols = [0u32; N];
    for (i, keys) in wanted.iter().enumerate() {
        let col = column_of(titles, keys, &taken).unwrap_or(header.col + 1 + i as u32);
        taken.push(col);
        cols[i] = col;
    }
    cols
}

/// The item rows under a table header, up to `end` (exclusive): the row
/// label is the first text left of the first data column.
fn item_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    first_data_col: u32,
    end: u32,
) -> Vec<(Item, CellPos)> {
    let mut rows = Vec::new();
    let last = end.min(header.row + 40);
    for row in header.row + 1..last {
        let label_cols = header.col.saturating_sub(1)..first_data_col.max(header.col + 1);
        for col in label_cols {
            let Some(text) = labels.get(&(row, col)) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            // A row number or a note in the column left of the label is
            // skipped; the first item name is the row label.
            if is_note(grid.text(row, col)) {
                continue;
            }
            if let Some(item) = labels.item(row, col) {
                rows.push((item, CellPos::new(row, col)));
                break;
            }
        }
    }
    // A hidden row repeating a visible one (an old version the official
    // hid instead of deleting) is not part of the request; a hidden row
    // that is its item's only row still is.
    let hidden = |p: &CellPos| grid.hidden_rows.contains(&p.row);
    let shown: Vec<Item> = rows
        .iter()
        .filter(|(_, p)| !hidden(p))
        .map(|(i, _)| *i)
        .collect();
    rows.retain(|(item, p)| !hidden(p) || !shown.contains(item));
    rows
}

/// A note under or beside a table (`※非滅菌手袋は枚数で記入`,
/// `（注）手袋は枚で記入`): it may name an item but is not a row label.
fn is_note(text: &str) -> bool {
    let t = crate::text::normalize(text);
    t.starts_with(['※', '*', '注'])
        || t.starts_with("(注")
        || t.starts_with("備考")
        || t.contains("ください")
        || t.contains('。')
}

fn institution_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    end: u32,
) -> Vec<InstitutionRow> {
    let titles = header_titles(grid, labels, header);
    // Most specific first: 備蓄見通し also contains 在庫.
    let [outlook, stock, use_, purchase, reason, request] = map_columns(
        &titles,
        header,
        [
            &["見通し"],
            &["在庫量", "在庫"],
            &["消費"],
            &["購入"],
            &["事由"],
            &["緊急配布要請", "要請"],
        ],
    );
    // Fallback columns follow the reference layout (C..H).
    let first = [outlook, stock, use_, purchase, reason, request]
        .into_iter()
        .min()
        .unwrap_or(header.col + 1);
    item_rows(grid, labels, header, first, end)
        .into_iter()
        .map(|(item, label)| InstitutionRow {
            item,
            label,
            request: grid.seen(label.row, request),
            stock: grid.seen(label.row, stock),
            outlook: grid.seen(label.row, outlook),
            weekly_use: grid.seen(label.row, use_),
            weekly_purchase: grid.seen(label.row, purchase),
            reason: grid.seen(label.row, reason),
        })
        .collect()
}

fn prefecture_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    end: u32,
) -> Vec<PrefectureRow> {
    let titles = header_titles(grid, labels, header);
    let [opinion, total, national, method, need, pref] = map_columns(
        &titles,
        header,
        [
            &["意見", "理由"],
            &["総配布", "合計"],
            &["国の", "国配布"],
            &["配布方法", "方法"],
            &["要否", "緊急配布要請"],
            &["県の", "都道府県の", "県配布", "都道府県配布"],
        ],
    );
    let first = [opinion, total, national, method, need, pref]
        .into_iter()
        .min()
        .unwrap_or(header.col + 1);
    item_rows(grid, labels, header, first, end)
        .into_iter()
        .map(|(item, label)| PrefectureRow {
            item,
            label,
            need: grid.seen(label.row, need),
            method: grid.seen(label.row, method),
            prefecture_quantity: grid.seen(label.row, pref),
            national_quantity: grid.seen(label.row, national),
            total_quantity: grid.seen(label.row, total),
            opinion: grid.seen(label.row, opinion),
        })
        .collect()
}

fn mhlw_rows(grid: &Grid, labels: &Labels<'_>, header: CellPos, end: u32) -> Vec<MhlwRow> {
    let titles: Vec<(u32, String)> = header_titles(grid, labels, header)
        .into_iter()
        .map(|(col, _)| {
            let shown = crate::text::normalize(grid.text(header.row, col));
            let shown = if shown.is_empty() {
                crate::text::normalize(grid.text(header.row + 1, col))
            } else {
                shown
            };
            (col, shown.replace(['\n', '\r'], ""))
        })
        .collect();
    let first = titles.first().map(|(c, _)| *c).unwrap_or(header.col + 1);
    item_rows(grid, labels, header, first, end)
        .into_iter()
        .map(|(item, label)| MhlwRow {
            item,
            label,
            cells: titles
                .iter()
                .map(|(col, title)| (title.clone(), grid.seen(label.row, *col)))
                .collect(),
        })
        .collect()
}

/// Finds the labelled fields above row `limit` (the item table).
fn find_fields(grid: &Grid, labels: &Labels<'_>, limit: u32) -> InstitutionBlock {
    let mut block = InstitutionBlock::default();
    // The first cell (in reading order) of each folded text above the
    // table, and of each text with its notes (`医療機関コード（10桁）`) removed.
    let first = first_above(labels.iter().map(|(p, t)| (p, t.as_str())), limit);
    let first_bare = first_above(labels.with_notes(), limit);
    for (key, spellings) in FIELD_LABELS {
        // The form's own spelling wins over a variant elsewhere.
        let pos = spellings.iter().find_map(|label| {
            first
                .get(label)
                .or_else(|| first_bare.get(label))
                .map(|&(r, c)| CellPos::new(r, c))
        });
        let (label, mut value) = match pos {
            Some(label) => (label, field_value(grid, labels, label)),
            None => match inline_field(grid, limit, spellings) {
                Some(found) => found,
                None => continue,
            },
        };
        match key {
            "code" => value = restore_code_zero(grid, value),
            "phone" => value = restore_lost_zero(grid, value, &[9, 10]),
            "postcode" => value = restore_lost_zero(grid, value, &[6]),
            _ => {}
        }
        let field = Some(Field { label, value });
        match key {
            "name" => block.name = field,
            "code" => block.code = field,
            "postcode" => block.postcode = field,
            "prefecture" => block.prefecture = field,
            "address" => block.address = field,
            "phone" => block.phone = field,
            _ => block.contact = field,
        }
    }
    block
}

/// The first position of each text among `texts` (in reading order) above
/// row `limit`.
fn first_above<'a>(
    texts: impl Iterator<Item = (&'a (u32, u32), &'a str)>,
    limit: u32,
) -> HashMap<&'a str, (u32, u32)> {
    let mut first = HashMap::new();
    for (pos, text) in texts.filter(|((r, _), _)| *r < limit) {
        first.entry(text).or_insert(*pos);
    }
    first
}

/// A label and its value typed in one cell (`医療機関名：みどり内科`): the
/// cell, and the value after the colon.
fn inline_field(grid: &Grid, limit: u32, labels: &[&str]) -> Option<(CellPos, Seen)> {
    grid.cells
        .iter()
        .filter(|((r, _), c)| *r < limit && c.text.chars().count() <= MAX_LABEL_CHARS)
        .find_map(|(&(r, c), raw)| {
            let text = crate::text::normalize(&raw.text);
            let value = labels.iter().find_map(|label| {
                let rest = text.strip_prefix(label)?.trim_start();
                let rest = rest.strip_prefix(':')?.trim();
                (!rest.is_empty()).then(|| rest.to_string())
            })?;
            let cell = CellPos::new(r, c);
            Some((
                cell,
                Seen {
                    cell,
                    text: value,
                    formula: None,
                },
            ))
        })
}

/// The value of a label: the next non-empty cell to its right (stopping at
/// another label), or the first cell right of the label's merged range.
fn field_value(grid: &Grid, labels: &Labels<'_>, label: CellPos) -> Seen {
    let after = grid
        .merge_at(label.row, label.col)
        .map(|d| d.end.1)
        .unwrap_or(label.col)
        + 1;
    for col in after..grid.width {
        if grid.is_blank(label.row, col) {
            continue;
        }
        if labels
            .get(&(label.row, col))
            .is_some_and(|t| is_field_label(t))
        {
            break;
        }
        return grid.seen(label.row, col);
    }
    Seen::blank(CellPos::new(label.row, after))
}

/// A 医療機関コード typed as a number loses its leading zero (北海道
/// 0110113719 → 110113719): put it back when the cell is numeric and nine
/// digits long.
fn restore_code_zero(grid: &Grid, mut value: Seen) -> Seen {
    let numeric = grid
        .get(value.cell.row, value.cell.col)
        .is_some_and(|c| c.numeric);
    if numeric && value.text.len() == 9 && value.text.bytes().all(|b| b.is_ascii_digit()) {
        value.text = format!("0{}", value.text);
    }
    value
}

/// A phone number or postcode typed as a number loses its leading zero
/// (03-1234-5678 → 312345678, 060-0001 → 600001); Japanese phone numbers
/// always start with 0, postcodes of 北海道 and 東北 do: put it back when the
/// cell is numeric and has one of the `lengths`.
fn restore_lost_zero(grid: &Grid, mut value: Seen, lengths: &[usize]) -> Seen {
    let numeric = grid
        .get(value.cell.row, value.cell.col)
        .is_some_and(|c| c.numeric);
    if numeric
        && lengths.contains(&value.text.len())
        && value.text.bytes().all(|b| b.is_ascii_digit())
    {
        value.text = format!("0{}", value.text);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_are_refused() {
        assert_eq!(read_workbook(b""), Err(ReadError::Empty));
        assert_eq!(
            read_workbook(b"hello, world"),
            Err(ReadError::NotASpreadsheet)
        );
        assert!(matches!(
            read_workbook(b"PK\x03\x04garbage"),
            Err(ReadError::Corrupt(_))
        ));
    }

    #[test]
    fn cfb_with_encrypted_package_is_encrypted() {
        let mut bytes = CFB_MAGIC.to_vec();
        bytes.extend(vec![0u8; 100]);
        bytes.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(read_workbook(&bytes), Err(ReadError::Encrypted));
    }

    #[test]
    fn ods_formulas_read_like_excel_ones() {
        assert_eq!(clean_formula("of:=[.E31]+[.F31]".into()), "E31+F31");
        assert_eq!(clean_formula("of:=SUM([.E31:.F31])".into()), "SUM(E31:F31)");
        assert_eq!(clean_formula("=E31+F31".into()), "E31+F31");
    }

    #[test]
    fn float_rendering_drops_point_zero() {
        assert_eq!(render_float(1200.0), "1200");
        assert_eq!(render_float(1.5), "1.5");
        assert_eq!(render_iso_date("2026-05-12T00:00:00"), "2026-05-12");
        assert_eq!(render_iso_date("2026-05-12"), "2026-05-12");
    }

    #[test]
    fn simple_sums_are_evaluated() {
        let mut grid = Grid::default();
        grid.insert(
            30,
            4,
            RawCell {
                text: "1500".into(),
                formula: None,
                numeric: true,
            },
        );
        grid.insert(
            30,
            5,
            RawCell {
                text: "500".into(),
                formula: None,
                numeric: true,
            },
        );
        assert_eq!(evaluate_sum("E31+F31", &grid), Some(2000));
        assert_eq!(evaluate_sum("=SUM(E31:F31)", &grid), Some(2000));
        assert_eq!(evaluate_sum("SUM(E31,F31,G31)", &grid), Some(2000));
        assert_eq!(evaluate_sum("[.E31]+[.F31]", &grid), Some(2000));
        assert_eq!(evaluate_sum("E31*F31", &grid), None);
        grid.insert(
            30,
            6,
            RawCell {
                text: "abc".into(),
                formula: None,
                numeric: false,
            },
        );
        assert_eq!(evaluate_sum("E31+G31", &grid), None);
    }

    /// Both .xlsx paths on one workbook: the quick reader's grids (`None`
    /// when it declines) and calamine's.
    fn both_paths(bytes: &[u8]) -> (Option<Loaded>, Loaded) {
        let archive = || zip::ZipArchive::new(Cursor::new(bytes)).ok();
        let quick = archive()
            .and_then(|mut a| super::super::xlsx::read_package(bytes, &mut a, PACKAGE_LIMITS))
            .map(loaded_from_package);
        let slow = load_xlsx_with_calamine(bytes, archive(), false).expect("calamine reads it");
        (quick, slow)
    }

    fn assert_same(quick: &Loaded, slow: &Loaded, what: &str) {
        assert_eq!(quick.grids, slow.grids, "{what}");
        assert_eq!(quick.hidden, slow.hidden, "{what}");
        assert!(slow.sheet_error.is_none(), "{what}");
    }

    /// Every sample workbook (the generated ones, LibreOffice's copies, the
    /// reference forms and the mail samples) is read by the quick reader,
    /// into exactly what calamine reads.
    #[test]
    fn quick_xlsx_reader_matches_calamine_on_every_sample() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut compared = 0;
        for dir in [
            "samples/sheets",
            "samples/sheets/lo-xlsx",
            "samples/sheets/lo-xlsm",
            "samples/forms",
            "samples/mail/sheets",
        ] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let path = entry.unwrap().path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "xlsx" | "xlsm") {
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let (quick, slow) = both_paths(&bytes);
                let what = path.display().to_string();
                let quick = quick.unwrap_or_else(|| panic!("the quick reader declined {what}"));
                assert_same(&quick, &slow, &what);
                compared += 1;
            }
        }
        assert!(compared >= 110, "only {compared} workbooks compared");
    }

    /// Cell kinds the samples do not have: dates in Japanese formats, a
    /// time, formulas with cached values, booleans, errors, rich text,
    /// a carriage return Excel writes as `_x000D_`, a hidden tab, hidden
    /// rows and a merged range.
    #[test]
    fn quick_xlsx_reader_matches_calamine_on_every_cell_kind() {
        use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet().set_name("申請").unwrap();
        let date = Format::new().set_num_format("yyyy\"年\"m\"月\"d\"日\"");
        let era = Format::new().set_num_format("[$-ja-JP]ggge\"年\"m\"月\"d\"日\"");
        let time = Format::new().set_num_format("h:mm");
        let count = Format::new().set_num_format("#,##0\"枚\"");
        let day = ExcelDateTime::from_ymd(2026, 5, 12).unwrap();
        sheet.write_with_format(0, 0, &day, &date).unwrap();
        sheet.write_with_format(0, 1, &day, &era).unwrap();
        sheet.write_with_format(0, 2, 0.5, &time).unwrap();
        sheet.write_with_format(0, 3, 1200, &count).unwrap();
        sheet.write(1, 0, 1500).unwrap();
        sheet.write(1, 1, 500).unwrap();
        sheet
            .write_formula(1, 2, Formula::new("=A2+B2").set_result("2000"))
            .unwrap();
        sheet
            .write_formula(1, 3, Formula::new("=SUM(A2:B2)"))
            .unwrap();
        sheet
            .write_formula(1, 4, Formula::new("=\"a&b\"&\"<c>\"").set_result("a&b<c>"))
            .unwrap();
        sheet.write(2, 0, true).unwrap();
        sheet
            .write_formula(2, 1, Formula::new("=1/0").set_result("#DIV/0!"))
            .unwrap();
        sheet.write(2, 2, "一行目\r\n二行目").unwrap();
        sheet.write(2, 3, "  前後の空白  ").unwrap();
        sheet.write(2, 4, -0.25).unwrap();
        sheet.write(2, 5, 110113719).unwrap();
        let bold = Format::new().set_bold();
        sheet
            .write_rich_string(3, 0, &[(&bold, "非滅菌"), (&Format::default(), "手袋")])
            .unwrap();
        sheet
            .merge_range(4, 0, 4, 3, "結合", &Format::default())
            .unwrap();
        sheet.set_row_hidden(5).unwrap();
        sheet.write(5, 0, "隠れた行").unwrap();
        sheet.write(399, 0, "窓の最後").unwrap();
        sheet.write(400, 0, "窓の外").unwrap();
        sheet.write(6, 70, "右の外").unwrap();
        let hidden = book.add_worksheet().set_name("マスタ").unwrap();
        hidden.write(0, 0, "旧版").unwrap();
        hidden.set_hidden(true);
        book.add_worksheet().set_name("空").unwrap();
        let bytes = book.save_to_buffer().unwrap();

        let (quick, slow) = both_paths(&bytes);
        let quick = quick.expect("the quick reader reads rust_xlsxwriter's workbook");
        assert_same(&quick, &slow, "every cell kind");
        let grid = &quick.grids[0].1;
        assert_eq!(grid.text(0, 0), "2026-05-12");
        assert_eq!(grid.text(0, 1), "2026-05-12");
        let sum = grid.get(1, 3).and_then(|c| c.formula.as_deref());
        assert_eq!(sum, Some("SUM(A2:B2)"), "a formula without a cached value");
        assert_eq!(grid.text(1, 4), "a&b<c>");
        assert_eq!(grid.text(2, 2), "一行目\r\n二行目");
        assert_eq!(grid.text(3, 0), "非滅菌手袋");
        assert_eq!(grid.hidden_rows, vec![5]);
        assert_eq!(quick.hidden, vec!["マスタ".to_string()]);
        assert!(grid.get(400, 0).is_none() && grid.get(399, 0).is_some());
    }

    fn valid_xlsx() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/sheets/valid.xlsx"
        ))
        .unwrap()
    }

    /// Worksheet XML as other writers than Excel produce it (the OpenXML
    /// SDK's `x:` prefix, rows and cells without a reference, inline rich
    /// text with readings, entities, typed values): both readers agree.
    #[test]
    fn quick_xlsx_reader_matches_calamine_on_other_writers_xml() {
        let sample = valid_xlsx();
        let ns = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"";
        let variants = [
            "<x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><x:sheetData><x:row r=\"2\"><x:c r=\"B2\" t=\"s\"><x:v>0</x:v></x:c><x:c r=\"C2\" t=\"inlineStr\"><x:is><x:t>手袋</x:t></x:is></x:c></x:row></x:sheetData><x:mergeCells><x:mergeCell ref=\"B2:D2\"/></x:mergeCells></x:worksheet>"
                .to_string(),
            format!(
                "<worksheet {ns}><sheetData><row><c t=\"s\"><v>1</v></c><c><v>1200</v></c><c/><c t=\"str\"><v>a&amp;b</v></c></row><row/><row><c><v>7</v></c></row></sheetData></worksheet>"
            ),
            format!(
                "<worksheet {ns}><sheetData><row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><r><t xml:space=\"preserve\"> 非滅菌 </t></r><r><rPr><b/></rPr><t>手袋</t></r><rPh sb=\"0\" eb=\"1\"><t>テブクロ</t></rPh></is></c><c r=\"B3\" t=\"b\"><v>true</v></c><c r=\"C3\" t=\"e\"><v>#N/A</v></c><c r=\"D3\" t=\"d\"><v>2026-05-12T00:00:00</v></c><c r=\"E3\" t=\"n\"><v>-1.5E-3</v></c><c r=\"F3\"><v>abc</v></c><c r=\"G3\"><v></v></c></row></sheetData></worksheet>"
            ),
            format!(
                "<worksheet {ns}><sheetData><row r=\"31\"><c r=\"E31\"><v>1500</v></c><c r=\"F31\"><v>500</v></c><c r=\"G31\"><f t=\"shared\" ref=\"G31:G32\" si=\"0\">E31+F31</f><v>2000</v></c><c r=\"H31\"><f t=\"array\" ref=\"H31\">SUM(E31:F31)</f><v>2000</v></c><c r=\"I31\"><f>IF(E31&gt;0,\"有\",\"無\")</f></c></row><row r=\"40\" hidden=\"1\"><c r=\"A40\" t=\"s\"><v>2</v></c></row></sheetData><mergeCells count=\"1\"><mergeCell ref=\"A40:C40\"/></mergeCells></worksheet>"
            ),
            // Entities and CDATA where calamine reads only plain text.
            format!("<worksheet {ns}><sheetData><row r=\"5\"><c r=\"A5\"><v>1&#50;</v></c><c r=\"B5\" t=\"str\"><v>a<![CDATA[b]]>&amp;c</v></c><c r=\"C5\"><f><![CDATA[x]]>A5+1</f><v>3</v></c><c r=\"D5\" t=\"s\"><v><!-- n -->1</v></c></row></sheetData></worksheet>"),
            // An empty element where calamine, which expands them, sees an
            // end tag (found by the xlsx_cells fuzz target).
            format!("<worksheet {ns}><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\"><v>1</v></c></row><sheetData/><row r=\"2\"><c r=\"A2\"><v>2</v></c></row></sheetData></worksheet>"),
        ];
        for (i, xml) in variants.iter().enumerate() {
            let bytes = rezip(&sample, |name, data| {
                if name == "xl/worksheets/sheet1.xml" {
                    xml.clone().into_bytes()
                } else {
                    data
                }
            });
            let (quick, slow) = xlsx_both_ways(&bytes)
                .unwrap_or_else(|| panic!("variant {i} was not read both ways"));
            assert_eq!(quick, slow, "variant {i}");
            assert!(
                quick.matches("RawCell").count() >= 2,
                "variant {i} read too little: {quick}"
            );
        }
    }

    /// What the quick reader leaves to calamine: a formula shared from
    /// another cell, an unknown cell type, a chart sheet, a shared-strings
    /// part under another spelling.
    #[test]
    fn quick_xlsx_reader_declines_what_it_does_not_know() {
        let sample = valid_xlsx();
        let sheet = "xl/worksheets/sheet1.xml";
        let edit = |path: &'static str, from: &'static str, to: &'static str| {
            rezip(&sample, move |name, data| {
                if name == path {
                    String::from_utf8(data)
                        .unwrap()
                        .replacen(from, to, 1)
                        .into_bytes()
                } else {
                    data
                }
            })
        };
        let declined = |bytes: &[u8]| both_paths(bytes).0.is_none();
        assert!(!declined(&sample));
        let shared = edit(
            sheet,
            "<c r=\"B1\" s=\"1\"/>",
            "<c r=\"B1\"><f t=\"shared\" si=\"0\"/><v>0</v></c>",
        );
        assert!(declined(&shared));
        let odd_type = edit(sheet, " t=\"s\"", " t=\"x\"");
        assert!(declined(&odd_type));
        // A malformed or repeated attribute: calamine's own attribute
        // reader reads it otherwise (found by the xlsx_cells fuzz target).
        let malformed = edit(
            sheet,
            "<c r=\"A1\" s=\"1\" t=\"s\">",
            "<c r=\"A1\" s-\"1\" t=\"s\">",
        );
        assert!(declined(&malformed));
        let repeated = edit(
            sheet,
            "<c r=\"A1\" s=\"1\" t=\"s\">",
            "<c r=\"A1\" t=\"n\" s=\"1\" t=\"s\">",
        );
        assert!(declined(&repeated));
        let chart = edit(
            "xl/_rels/workbook.xml.rels",
            "relationships/worksheet\"",
            "relationships/chartsheet\"",
        );
        assert!(declined(&chart));
        let respelled = rezip_as(
            &sample,
            |name| name.replace("sharedStrings", "SharedStrings"),
            |_, data| data,
        );
        let (quick, slow) = both_paths(&respelled);
        assert!(quick.is_none());
        assert_eq!(
            slow.grids[0].1.text(0, 0),
            both_paths(&sample).1.grids[0].1.text(0, 0)
        );
    }

    const EXAMPLE_XLSX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/forms/example-filled.xlsx"
    );

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/reader/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// Rewrites a zip, passing each entry's bytes through `edit`.
    fn rezip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
        rezip_as(bytes, str::to_string, edit)
    }

    /// A copy of a zip with entries renamed by `rename` and edited by `edit`.
    fn rezip_as(
        bytes: &[u8],
        rename: impl Fn(&str) -> String,
        edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
    ) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            out.start_file(rename(&name).as_str(), options).unwrap();
            out.write_all(&edit(&name, data)).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn gloves_opinion(book: &Workbook) -> &str {
        let row = book.forms[0]
            .prefecture
            .iter()
            .find(|r| r.item == Item::NonSterileGloves)
            .unwrap();
        &row.opinion.text
    }

    #[test]
    fn example_reads_in_every_format() {
        for (bytes, format) in [
            (std::fs::read(EXAMPLE_XLSX).unwrap(), Format::Xlsx),
            (fixture("example.xls"), Format::Xls),
            (fixture("example.ods"), Format::Ods),
        ] {
            let book = read_workbook(&bytes).unwrap();
            assert_eq!(book.format, format);
            assert_eq!(book.forms.len(), 1);
            let form = &book.forms[0];
            assert_eq!(
                form.institution.code.as_ref().unwrap().value.text,
                "1312345679"
            );
            assert_eq!(
                form.institution
                    .prefecture
                    .as_ref()
                    .unwrap()
                    .value
                    .cell
                    .a1(),
                "F14"
            );
            assert_eq!(form.items.len(), 5);
            assert_eq!(form.items[4].stock.text, "800", "{format:?}");
            assert_eq!(form.items[4].stock.cell.a1(), "D23");
            assert_eq!(form.prefecture[4].total_quantity.text, "2000");
            assert_eq!(form.mhlw.len(), 5);
            assert_eq!(form.mhlw[4].cells.len(), 4);
        }
    }

    #[test]
    fn merged_ranges_are_known_in_every_format() {
        for (bytes, format) in [
            (std::fs::read(EXAMPLE_XLSX).unwrap(), Format::Xlsx),
            (fixture("example.xls"), Format::Xls),
            (fixture("example.ods"), Format::Ods),
        ] {
            let loaded = load_grids(format, &bytes).unwrap();
            let merges = &loaded.grids[0].1.merges;
            // 医療機関名's value C12:H12 and 都道府県's F14:H14.
            assert!(
                merges.contains(&Dimensions::new((11, 2), (11, 7))),
                "{format:?} {merges:?}"
            );
            assert!(
                merges.contains(&Dimensions::new((13, 5), (13, 7))),
                "{format:?} {merges:?}"
            );
        }
    }

    #[test]
    fn xlsm_is_told_by_content_types() {
        let bytes = rezip(&std::fs::read(EXAMPLE_XLSX).unwrap(), |name, data| {
            if name == "[Content_Types].xml" {
                String::from_utf8(data)
                    .unwrap()
                    .replace("sheet.main+xml", "sheet.macroEnabled.main+xml")
                    .into_bytes()
            } else {
                data
            }
        });
        assert_eq!(detect(&bytes), Ok(Format::Xlsm));
    }

    #[test]
    fn zip_bomb_is_refused_before_inflating() {
        let bytes = rezip(&std::fs::read(EXAMPLE_XLSX).unwrap(), |name, data| {
            if name == "xl/styles.xml" {
                vec![b' '; 8 * 1024 * 1024]
            } else {
                data
            }
        });
        assert!(matches!(read_workbook(&bytes), Err(ReadError::TooLarge(_))));
    }

    #[test]
    fn ten_megabytes_in_one_cell_is_cut() {
        // Pseudo-random kana: compresses like text, not like a bomb.
        let mut seed: u32 = 1;
        let long: String = (0..3_500_000)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from_u32(0x3041 + (seed >> 16) % 80).unwrap_or('あ')
            })
            .collect();
        assert!(long.len() >= 10 * 1024 * 1024);
        let bytes = rezip(&std::fs::read(EXAMPLE_XLSX).unwrap(), |name, data| {
            if name.starts_with("xl/worksheets/") {
                String::from_utf8(data)
                    .unwrap()
                    .replace("過去の緊急配布回数", &long)
                    .into_bytes()
            } else {
                data
            }
        });
        let book = read_workbook(&bytes).unwrap();
        assert!(gloves_opinion(&book).len() <= MAX_CELL_CHARS);
        assert!(gloves_opinion(&book).starts_with(&long[..300]));
    }

    #[test]
    fn a_million_rows_below_the_form_are_not_read() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let form = read_workbook(&std::fs::read(EXAMPLE_XLSX).unwrap()).unwrap();
        let form = &form.forms[0];
        for row in &form.items {
            sheet
                .write_string(row.label.row, row.label.col as u16, row.item.label())
                .unwrap();
        }
        sheet.write_string(0, 0, "【医療機関記入欄】").unwrap();
        sheet.write_string(17, 1, "配布物品一覧").unwrap();
        sheet.write_string(17, 3, "前日時点の在庫量").unwrap();
        for row in 18..1_000_000u32 {
            if row > 40 {
                sheet.write_number(row, 0, f64::from(row)).unwrap();
            }
        }
        let bytes = book.save_to_buffer().unwrap();
        let read = read_workbook(&bytes).unwrap();
        assert_eq!(read.forms[0].items.len(), 5);
    }

    #[test]
    fn xls_with_cells_far_apart_is_refused() {
        let mut bytes = fixture("example.xls");
        assert!(read_workbook(&bytes).is_ok());
        // Move the first RK cell (a number) to IV65536.
        let at = bytes
            .windows(4)
            .position(|w| w == [0x7E, 0x02, 0x0A, 0x00])
            .unwrap();
        bytes[at + 4..at + 8].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0x00]);
        assert!(matches!(read_workbook(&bytes), Err(ReadError::TooLarge(_))));
    }

    #[test]
    fn xls_with_a_huge_dimensions_record_is_refused() {
        let mut bytes = fixture("example.xls");
        // DIMENSIONS (0x0200, 14 bytes): last row + 1 = 0xFFFFFFFF.
        let at = bytes
            .windows(4)
            .position(|w| w == [0x00, 0x02, 0x0E, 0x00])
            .unwrap();
        bytes[at + 8..at + 12].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(read_workbook(&bytes), Err(ReadError::TooLarge(_))));
    }

    #[test]
    fn xls_with_a_filepass_record_is_encrypted() {
        let mut bytes = fixture("example.xls");
        // Turn the WRITEACCESS record of the globals into FILEPASS (RC4).
        let at = bytes
            .windows(4)
            .position(|w| w == [0x5C, 0x00, 0x70, 0x00])
            .unwrap();
        bytes[at..at + 2].copy_from_slice(&[0x2F, 0x00]);
        bytes[at + 4..at + 6].copy_from_slice(&[0x01, 0x00]);
        assert_eq!(read_workbook(&bytes), Err(ReadError::Encrypted));
    }

    #[test]
    fn ods_with_a_million_repeated_value_cells_is_refused() {
        let bytes = rezip(&fixture("example.ods"), |name, data| {
            if name == "content.xml" {
                let xml = String::from_utf8(data).unwrap();
                let bomb = r#"<table:table-row table:number-rows-repeated="100000"><table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="1"/></table:table-row></table:table>"#;
                xml.replacen("</table:table>", bomb, 1).into_bytes()
            } else {
                data
            }
        });
        assert!(matches!(read_workbook(&bytes), Err(ReadError::TooLarge(_))));
    }

    #[test]
    fn truncated_and_damaged_files_never_panic() {
        for bytes in [
            std::fs::read(EXAMPLE_XLSX).unwrap(),
            fixture("example.xls"),
            fixture("example.ods"),
        ] {
            let step = (bytes.len() / 97).max(1);
            for cut in (0..bytes.len()).step_by(step) {
                let _ = read_workbook(&bytes[..cut]);
            }
            for at in (0..bytes.len()).step_by(step) {
                let mut damaged = bytes.clone();
                damaged[at] ^= 0x5A;
                let _ = read_workbook(&damaged);
            }
        }
    }
}
