//! Step 2 of reading: the cell grid, a small sparse copy of the first
//! [`MAX_ROWS`] rows and [`MAX_COLS`] columns of one worksheet.
//!
//! A [`Grid`] holds absolute positions, the text a cell shows (numbers
//! without `.0`, dates as `YYYY-MM-DD`), formulas and merged ranges, whichever
//! reader filled it ([`crate::sheet::load`]). Simple sums are evaluated here
//! so that a formula cell shows what Excel would show.

use crate::sheet::{CellPos, Seen};
use calamine::{Data, DataRef, Dimensions};
use std::collections::BTreeMap;

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

/// One cell as loaded, before the form is located.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RawCell {
    /// Display text (numbers without `.0`, dates as `YYYY-MM-DD`).
    pub(super) text: String,
    /// Formula text without the leading `=`.
    pub(super) formula: Option<String>,
    /// True when the value is a number (not text that looks like one).
    pub(super) numeric: bool,
}

/// The first rows and columns of one worksheet, at absolute positions.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Grid {
    pub(super) cells: BTreeMap<(u32, u32), RawCell>,
    pub(super) merges: Vec<Dimensions>,
    /// One past the rightmost column holding a cell: scans along a row stop
    /// there rather than at [`MAX_COLS`].
    pub(super) width: u32,
    /// Rows marked hidden (known for .xlsx only).
    pub(super) hidden_rows: Vec<u32>,
}

impl Grid {
    pub(super) fn get(&self, row: u32, col: u32) -> Option<&RawCell> {
        self.cells.get(&(row, col))
    }

    pub(super) fn text(&self, row: u32, col: u32) -> &str {
        self.get(row, col).map(|c| c.text.as_str()).unwrap_or("")
    }

    pub(super) fn is_blank(&self, row: u32, col: u32) -> bool {
        self.get(row, col)
            .is_none_or(|c| c.text.trim().is_empty() && c.formula.is_none())
    }

    pub(super) fn seen(&self, row: u32, col: u32) -> Seen {
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
    pub(super) fn set_merges(&mut self, mut merges: Vec<Dimensions>) {
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
    pub(super) fn set_layout(&mut self, layout: crate::sheet::xlsx::Layout) {
        self.hidden_rows = layout.hidden_rows;
        self.hidden_rows.retain(|r| *r < MAX_ROWS);
        let merges = layout.merges.into_iter();
        self.set_merges(merges.map(|(a, b)| Dimensions::new(a, b)).collect());
    }

    /// The merged range whose top-left cell is (row, col), if any.
    pub(super) fn merge_at(&self, row: u32, col: u32) -> Option<&Dimensions> {
        self.merges.iter().find(|d| d.start == (row, col))
    }

    pub(super) fn insert(&mut self, row: u32, col: u32, cell: RawCell) {
        if row < MAX_ROWS && col < MAX_COLS && (!cell.text.is_empty() || cell.formula.is_some()) {
            self.width = self.width.max(col + 1);
            self.cells.insert((row, col), cell);
        }
    }
}

/// A cell's formula as kept in the grid: none when blank.
pub(super) fn formula_text(formula: Option<String>) -> Option<String> {
    formula.filter(|f| !f.trim().is_empty()).map(clean_formula)
}

/// A formula as Excel shows it, without the `=`: ODS formulas come as
/// `of:=[.E31]+[.F31]` or `of:=SUM([.E31:.F31])`; xlsx ones are already bare.
pub(super) fn clean_formula(f: String) -> String {
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

pub(super) fn raw_from_data(value: Data) -> RawCell {
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

pub(super) fn raw_from_ref(value: &DataRef<'_>) -> RawCell {
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
pub(super) fn evaluate_formulas(grid: &mut Grid) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
