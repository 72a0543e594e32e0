//! The 緊急配布要請シート as it stands in a workbook.
//!
//! [`read_workbook`] turns spreadsheet bytes into one [`RequestSheet`] per
//! worksheet that holds the form. A `RequestSheet` keeps every value as the
//! text the official sees together with its absolute cell position, so that
//! validation can point at `E31` in the file as submitted, even when rows or
//! columns were inserted. Interpreting that text (numbers, dropdown words) is
//! the job of [`crate::validation`].
//!
//! The modules follow the steps data goes through:
//!
//! | step | module | what it does |
//! | --- | --- | --- |
//! | entry | [`reader`] | [`read_workbook`]: runs the steps, keeps the worksheets that are the request |
//! | 1. detect + guards | [`detect`], [`guard`] | format from content; size, zip-bomb, encryption and structure guards before anything inflates |
//! | 2. grid | `load`, [`xlsx`], `grid` | each worksheet's first rows and columns as a sparse grid (quick .xlsx reader or calamine) |
//! | 3. locate | `locate` | headings, labelled fields and item rows found by their text → [`RequestSheet`] |
//! | after reading | `clean` | control characters out of every value read |
//! | writing | [`write`](mod@write) ([`template`], [`annotate`]) | the blank or filled form, and the annotated copy sent back |

mod clean;
pub mod detect;
mod grid;
/// Structure scans that bound .xls and .ods grids before calamine opens them.
pub mod guard;
mod load;
mod locate;
pub mod reader;
#[cfg(test)]
mod testing;
pub mod write;
pub mod xlsx;

pub use reader::{ReadError, Workbook, read_workbook};
pub use write::{annotate, template};

use crate::request::Item;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An absolute, zero-based cell position in a worksheet (row 0, col 0 = A1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellPos {
    /// Zero-based row.
    pub row: u32,
    /// Zero-based column.
    pub col: u32,
}

impl CellPos {
    /// Builds a position from zero-based row and column.
    pub fn new(row: u32, col: u32) -> CellPos {
        CellPos { row, col }
    }

    /// The A1 reference, e.g. `E31`.
    pub fn a1(self) -> String {
        self.to_string()
    }

    /// Parses an A1 reference (`E31`, `aa7`, `$B$2`).
    pub fn parse_a1(s: &str) -> Option<CellPos> {
        let s = s.trim().replace('$', "");
        let split = s.find(|c: char| c.is_ascii_digit())?;
        let (letters, digits) = s.split_at(split);
        if letters.is_empty()
            || letters.len() > 3
            || !letters.chars().all(|c| c.is_ascii_alphabetic())
        {
            return None;
        }
        let mut col: u32 = 0;
        for c in letters.chars() {
            col = col * 26 + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1);
        }
        let row: u32 = digits.parse().ok()?;
        (row >= 1).then(|| CellPos::new(row - 1, col - 1))
    }
}

impl fmt::Display for CellPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut col = self.col + 1;
        let mut letters = Vec::new();
        while col > 0 {
            let rem = (col - 1) % 26;
            letters.push((b'A' + rem as u8) as char);
            col = (col - 1) / 26;
        }
        let letters: String = letters.into_iter().rev().collect();
        write!(f, "{}{}", letters, self.row + 1)
    }
}

/// What one cell holds, as the official sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Where the value is (for a merged range: its top-left cell).
    pub cell: CellPos,
    /// The displayed text; numbers as Excel shows them (`1200`, not
    /// `1200.0`); empty when the cell is blank.
    pub text: String,
    /// The formula, when the cell holds one (without the leading `=`).
    pub formula: Option<String>,
}

impl Seen {
    /// A blank cell at `cell`.
    pub fn blank(cell: CellPos) -> Seen {
        Seen {
            cell,
            text: String::new(),
            formula: None,
        }
    }

    /// True when nothing but whitespace was typed.
    pub fn is_blank(&self) -> bool {
        crate::text::normalize(&self.text).is_empty()
    }
}

/// A labelled field of the institution block: where its label is and the
/// value cell next to it (blank when nothing was filled in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The label cell (e.g. `B13` holding 医療機関コード).
    pub label: CellPos,
    /// The value: the next non-empty cell to the right of the label, or the
    /// cell just right of the label (or of its merged range) when blank.
    pub value: Seen,
}

/// 【医療機関記入欄】, upper part. `None` means the label was not found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstitutionBlock {
    /// 医療機関名.
    pub name: Option<Field>,
    /// 医療機関コード.
    pub code: Option<Field>,
    /// 郵便番号.
    pub postcode: Option<Field>,
    /// 都道府県.
    pub prefecture: Option<Field>,
    /// 医療機関住所.
    pub address: Option<Field>,
    /// 連絡先電話番号.
    pub phone: Option<Field>,
    /// 医療機関担当者名.
    pub contact: Option<Field>,
}

/// One item row of the institution's table (配布物品一覧).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstitutionRow {
    /// Which item the row's label names.
    pub item: Item,
    /// The row label cell.
    pub label: CellPos,
    /// 緊急配布要請 (要請する / 要請しない).
    pub request: Seen,
    /// 前日時点の在庫量.
    pub stock: Seen,
    /// 現在の在庫の備蓄見通し.
    pub outlook: Seen,
    /// 今後1週間あたりの想定消費量.
    pub weekly_use: Seen,
    /// 今後1週間に購入できる見込み量.
    pub weekly_purchase: Seen,
    /// 調達不可事由.
    pub reason: Seen,
}

/// One item row of 【都道府県記入欄】.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefectureRow {
    /// Which item.
    pub item: Item,
    /// The row label cell.
    pub label: CellPos,
    /// 緊急配布要請 要否 (要 / 否).
    pub need: Seen,
    /// 配布方法.
    pub method: Seen,
    /// 県の配布枚数.
    pub prefecture_quantity: Seen,
    /// 国の配布枚数.
    pub national_quantity: Seen,
    /// 総配布枚数.
    pub total_quantity: Seen,
    /// 都道府県意見（要否決定理由）.
    pub opinion: Seen,
}

/// One item row of the MHLW block (厚生労働省記入欄), which a submission
/// must leave empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MhlwRow {
    /// Which item.
    pub item: Item,
    /// The row label cell.
    pub label: CellPos,
    /// 配布承認, 配布数, 送付日, 受領日時 (in that order; absent columns are
    /// left out).
    pub cells: Vec<(String, Seen)>,
}

/// Where a block was found, for findings about a missing row or block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The 【医療機関記入欄】 heading.
    pub institution_heading: Option<CellPos>,
    /// The institution table's header cell (配布物品一覧).
    pub institution_table: Option<CellPos>,
    /// The 【都道府県記入欄】 heading or its table header.
    pub prefecture_table: Option<CellPos>,
    /// The MHLW block's header.
    pub mhlw_table: Option<CellPos>,
    /// Where a second copy of the form starts on the same worksheet (a
    /// second 【医療機関記入欄】 or 配布物品一覧 table); it is not read.
    #[serde(default)]
    pub repeated_form: Option<CellPos>,
}

/// One worksheet holding the form, read but not yet interpreted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSheet {
    /// The worksheet's name (タブ名).
    pub sheet: String,
    /// Where the blocks are.
    pub layout: Layout,
    /// 医療機関記入欄, upper part.
    pub institution: InstitutionBlock,
    /// The institution's item rows, in sheet order.
    pub items: Vec<InstitutionRow>,
    /// 都道府県記入欄 rows, in sheet order.
    pub prefecture: Vec<PrefectureRow>,
    /// 厚生労働省記入欄 rows, in sheet order.
    pub mhlw: Vec<MhlwRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_round_trip() {
        for (r, c, s) in [
            (0, 0, "A1"),
            (30, 4, "E31"),
            (0, 25, "Z1"),
            (6, 26, "AA7"),
            (0, 701, "ZZ1"),
            (0, 702, "AAA1"),
        ] {
            assert_eq!(CellPos::new(r, c).a1(), s);
            assert_eq!(CellPos::parse_a1(s), Some(CellPos::new(r, c)));
        }
        assert_eq!(CellPos::parse_a1("$b$2"), Some(CellPos::new(1, 1)));
        assert_eq!(CellPos::parse_a1("A0"), None);
        assert_eq!(CellPos::parse_a1("12"), None);
    }
}
