//! Step 2 of reading: loading every worksheet of a workbook into a
//! [`Grid`], by format.
//!
//! An .xlsx package is read by the quick reader in [`crate::sheet::xlsx`]
//! when every part of it is familiar, by calamine otherwise (and .xls and
//! .ods always); both give the same grid ([`xlsx_both_ways`] and the tests
//! compare them). Reading stops at the window's last row, so a sheet with a
//! million rows stops early either way. A .xls passes
//! [`crate::sheet::guard::check_xls`] (OLE2 chains, sheet count, record
//! walk) and an .ods [`crate::sheet::guard::check_ods_content`] before
//! calamine opens it.

use crate::sheet::detect::{Format, MAX_WHOLE_ENTRY_BYTES, refused};
use crate::sheet::grid::{
    Grid, MAX_CELLS_SCANNED, MAX_COLS, MAX_ROWS, MAX_SHEETS, clean_formula, evaluate_formulas,
    formula_text, raw_from_data, raw_from_ref,
};
use crate::sheet::reader::ReadError;
use calamine::{Data, Dimensions, Ods, Range, Reader, Xls, Xlsx};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// An xlsx worksheet larger than this is read without its merged ranges
/// (finding them would mean inflating the whole sheet).
const MAX_MERGE_SCAN_BYTES: u64 = 16 * 1024 * 1024;
/// An xlsx worksheet up to this size is held in memory to find its merged
/// ranges quickly; a larger one is scanned by calamine as a stream.
const MAX_MERGE_BUFFER_BYTES: u64 = 2 * 1024 * 1024;

fn corrupt(e: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(e.to_string())
}

/// Loads every worksheet (up to [`MAX_SHEETS`]) into a [`Grid`].
pub(super) fn load_grids(format: Format, bytes: &[u8]) -> Result<Loaded, ReadError> {
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
pub(super) struct Loaded {
    pub(super) grids: Vec<(String, Grid)>,
    /// Names of the hidden worksheets.
    pub(super) hidden: Vec<String>,
    pub(super) sheet_error: Option<ReadError>,
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
        && let Some(package) = crate::sheet::xlsx::read_package(bytes, archive, PACKAGE_LIMITS)
    {
        return Ok(loaded_from_package(package));
    }
    load_xlsx_with_calamine(bytes, parts, big_sheet)
}

/// What [`crate::sheet::xlsx::read_package`] may read: the same window as
/// calamine's path, worksheets held in memory only up to
/// [`MAX_MERGE_BUFFER_BYTES`] (a larger one is streamed by calamine).
const PACKAGE_LIMITS: crate::sheet::xlsx::Limits = crate::sheet::xlsx::Limits {
    part_bytes: MAX_WHOLE_ENTRY_BYTES,
    sheet_bytes: MAX_MERGE_BUFFER_BYTES,
    sheets: MAX_SHEETS,
    window: crate::sheet::xlsx::Window {
        rows: MAX_ROWS,
        cols: MAX_COLS,
        cells: MAX_CELLS_SCANNED,
    },
};

fn loaded_from_package(package: crate::sheet::xlsx::Package) -> Loaded {
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
        .and_then(|a| crate::sheet::xlsx::sheet_paths(a, MAX_WHOLE_ENTRY_BYTES))
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
                crate::sheet::xlsx::worksheet_layout(a, path, MAX_MERGE_BUFFER_BYTES)
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
    let quick = crate::sheet::xlsx::read_package(bytes, &mut archive()?, PACKAGE_LIMITS)?;
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

fn load_xls(bytes: &[u8]) -> Result<Loaded, ReadError> {
    crate::sheet::guard::check_xls(bytes).map_err(refused)?;
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
        crate::sheet::guard::check_ods_content(&content).map_err(refused)?;
        // calamine does not report merged ranges for .ods.
        crate::sheet::guard::ods_merges(&content, MAX_ROWS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::testing::{example_in_every_format, rezip, rezip_as};

    /// Both .xlsx paths on one workbook: the quick reader's grids (`None`
    /// when it declines) and calamine's.
    fn both_paths(bytes: &[u8]) -> (Option<Loaded>, Loaded) {
        let archive = || zip::ZipArchive::new(Cursor::new(bytes)).ok();
        let quick = archive()
            .and_then(|mut a| crate::sheet::xlsx::read_package(bytes, &mut a, PACKAGE_LIMITS))
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

    #[test]
    fn merged_ranges_are_known_in_every_format() {
        for (bytes, format) in example_in_every_format() {
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
}
