//! Reading workbooks (.xlsx, .xlsm, .xls, .ods) from bytes and locating the
//! form's blocks by their labels.
//!
//! [`read_workbook`] is the entry point; the work happens in three steps,
//! each in its own module:
//!
//! 1. [`crate::sheet::detect`] tells the container format from the bytes
//!    (never from a file name) and applies the guards that must run *before*
//!    calamine inflates anything: input size, the zip central directory's
//!    uncompressed sizes and compression ratios (zip bombs), entries sharing
//!    data or inflating past their declared size, encrypted packages.
//!    [`crate::sheet::guard`] scans .xls and .ods structures.
//! 2. `load` reads each worksheet into a small sparse `Grid` (`grid`)
//!    holding only the first [`MAX_ROWS`] rows and [`MAX_COLS`] columns,
//!    with absolute positions, display text, formulas and merged ranges.
//! 3. `locate` finds the headings, labels and item rows by their folded
//!    text and builds a [`RequestSheet`].
//!
//! This module then keeps the worksheets that are the request (not a
//! 記入例 tab, not an unfilled copy of another tab).
//!
//! calamine is wrapped in [`std::panic::catch_unwind`]: it has panicked on
//! hostile input before, and a panic must become [`ReadError::Corrupt`], not
//! a crashed worker.

pub use super::detect::{
    Format, MAX_COMPRESSION_RATIO, MAX_INPUT_BYTES, MAX_SHEET_ENTRY_BYTES,
    MAX_TOTAL_UNCOMPRESSED_BYTES, MAX_WHOLE_ENTRY_BYTES, MAX_ZIP_ENTRIES, detect,
};
pub use super::grid::{
    MAX_CELL_CHARS, MAX_CELLS_SCANNED, MAX_COLS, MAX_MERGES, MAX_ROWS, MAX_SHEETS,
};
#[doc(hidden)]
pub use super::load::xlsx_both_ways;

use super::RequestSheet;
use super::load::load_grids;
use super::locate::locate;
use crate::text::fold_label;
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Item;
    use crate::sheet::detect::CFB_MAGIC;
    use crate::sheet::testing::{EXAMPLE_XLSX, example_in_every_format, fixture, rezip};

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
        for (bytes, format) in example_in_every_format() {
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
