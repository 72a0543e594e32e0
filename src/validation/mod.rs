//! Validation of a [`RequestSheet`] against the
//! rules of SPEC.md ("Validation"), institution part and prefecture part.
//!
//! The result is a typed request (what the queue files) and a list of
//! [`Finding`]s, each pointing at the cell at fault in the file as submitted.
//!
//! Call [`check`] with a [`RequestSheet`] from
//! [`read_workbook`](crate::sheet::read_workbook) and a [`Policy`] (built
//! with [`Policy::from_config`]); it returns [`Checked`]. The rules live in
//! [`structure`], [`institution`], [`items`] and [`prefecture`]; the Japanese
//! wording in [`crate::messages::findings`].
//!
//! Finding codes (E = error, W = warning):
//!
//! | code | sev | meaning |
//! |---|---|---|
//! | `sheet.form.repeated` | E | a second form on the same worksheet (not read; use another sheet) |
//! | `sheet.label.missing` | E | an institution label (医療機関名 …) is not on the sheet |
//! | `sheet.block.missing` | E | the institution or prefecture item table is not found |
//! | `sheet.item_row.missing` | W | a table lacks the row of an item accepted now (policy) |
//! | `sheet.item_row.duplicate` | E | an item has two rows in one table |
//! | `sheet.formula.no_value` | E | a quantity is a formula without a cached value that is not a simple sum |
//! | `institution.field.missing` | E | a field of the institution block is blank |
//! | `institution.code.format` | E | 医療機関コード is not 10 digits |
//! | `institution.code.prefecture_mismatch` | E | its first two digits are not 都道府県's number |
//! | `institution.code.check_digit` | W | its Luhn check digit does not match |
//! | `institution.postcode.format` | E | 郵便番号 is not NNN-NNNN or 7 digits |
//! | `institution.prefecture.unknown` | E | 都道府県 is not one of the 47 |
//! | `institution.address.prefecture` | W | 住所 does not start with the prefecture |
//! | `institution.phone.format` | E | 電話番号 is not 10–11 digits |
//! | `institution.no_item_requested` | E | no item is 要請する |
//! | `item.request.invalid` | E | 緊急配布要請 is not 要請する / 要請しない |
//! | `item.not_accepted` | E | a requested item is not accepted now (policy) |
//! | `item.quantity.missing` | E | stock / weekly use / weekly purchase blank |
//! | `item.quantity.invalid` | E | one of them is not a non-negative integer |
//! | `item.quantity.pairs` | W | gloves written in 双, read as 2 × 枚 |
//! | `item.quantity.unit` | E | a count written in packages (箱, 袋, ケース…) |
//! | `item.outlook.missing` | E | 備蓄見通し blank |
//! | `item.outlook.invalid` | E | 備蓄見通し not a dropdown word |
//! | `item.outlook.not_eligible` | E | 備蓄見通し 4週間以上 |
//! | `item.reason.missing` | E | 調達不可事由 blank |
//! | `item.reason.economic` | E | 調達不可事由 is economic (価格, 予算…) |
//! | `item.stock.over_month` | W | stock > 4 × weekly use (在庫量が1ヶ月分以上の可能性あり（自動判定）) |
//! | `item.no_shortfall` | W | weekly use ≤ weekly purchase |
//! | `prefecture.need.missing` | E | 要否 blank (or no row) for a requested item |
//! | `prefecture.need.invalid` | E | 要否 not 要 / 否 |
//! | `prefecture.row_for_unrequested_item` | E | a prefecture row filled for an item not requested |
//! | `prefecture.method.missing` | E | 要 without 配布方法 |
//! | `prefecture.method.invalid` | E | 配布方法 not a dropdown word |
//! | `prefecture.quantity.invalid` | E | a prefecture quantity is not a non-negative integer |
//! | `prefecture.quantity.unit` | E | a prefecture quantity written in packages (箱, 袋…) |
//! | `prefecture.total.mismatch` | E | 総配布枚数 ≠ 県 + 国 |
//! | `prefecture.total.zero` | E | 要 with 総配布枚数 0 |
//! | `prefecture.method.stock_with_national` | E | 都道府県の備蓄 with 国の配布枚数 > 0 |
//! | `prefecture.method.both_without_reason` | W | 国による直送 using both stocks, opinion does not say why |
//! | `prefecture.opinion.count_missing` | E | 要: opinion lacks the earlier distribution count |
//! | `prefecture.opinion.reason_missing` | E | 要: no concrete reason; 否: no reason |
//! | `prefecture.quantity.not_needed_nonzero` | E | 否 with a quantity other than blank / 0 |
//! | `prefecture.total.guideline` | W | total ≠ 2 × (weekly use − weekly purchase) |
//! | `prefecture.gloves.size_limit` | W | gloves: a size wish with a total over 2000 枚 (1000 双) |
//! | `mhlw.not_empty` | E | a cell of the MHLW block is filled in |

pub mod institution;
pub mod items;
pub mod prefecture;
pub mod structure;

use crate::config::Config;
use crate::request::{Institution, Item, ItemLine};
use crate::sheet::{CellPos, RequestSheet, Seen};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the sheet from entering review.
    Error,
    /// Goes through, but is shown to staff and in the acknowledgement.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: Severity,
    /// A stable machine code, e.g. `institution.code.format`.
    pub code: String,
    /// The A1 reference of the cell at fault in the file as submitted;
    /// `None` for findings about the mail or the queue, not a cell.
    pub cell: Option<String>,
    /// The field's Japanese label, e.g. `医療機関コード`.
    pub field: String,
    /// The value as seen (empty when blank).
    pub value: String,
    /// Japanese: what is wrong and what is expected.
    pub message: String,
}

impl Finding {
    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

/// What is being accepted right now (SPEC "accepted_items").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Items that may be requested; others get `item.not_accepted`.
    pub accepted_items: Vec<Item>,
}

impl Default for Policy {
    /// The latest manual (v1.09, 2026-05): 非滅菌手袋 only.
    fn default() -> Self {
        Policy {
            accepted_items: vec![Item::NonSterileGloves],
        }
    }
}

impl Policy {
    /// The policy of a configuration (`accepted_items`).
    pub fn from_config(config: &Config) -> anyhow::Result<Policy> {
        Ok(Policy {
            accepted_items: config.accepted_items()?,
        })
    }

    /// True when `item` may be requested.
    pub fn accepts(&self, item: Item) -> bool {
        self.accepted_items.contains(&item)
    }
}

/// The result of [`check`]: the typed request and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// The institution as understood (normalised where the value was valid,
    /// as written otherwise).
    pub institution: Institution,
    /// One line per item row of the institution table, in sheet order, with
    /// the prefecture's decision filled in (MHLW part empty).
    pub lines: Vec<ItemLine>,
    /// Every finding, in sheet order of the checks (institution block, item
    /// table, prefecture table, MHLW block).
    pub findings: Vec<Finding>,
}

impl Checked {
    /// True when any finding is an error (the sheet goes to エラー有り).
    pub fn has_errors(&self) -> bool {
        has_errors(&self.findings)
    }

    /// The lines whose item was requested (要請する).
    pub fn requested(&self) -> impl Iterator<Item = &ItemLine> {
        self.lines.iter().filter(|l| l.requested)
    }
}

/// Checks one worksheet against every rule of SPEC.md "Validation"
/// (institution part and prefecture part; mail-level checks belong to the
/// mail intake). Never fails: whatever cannot be read becomes a finding.
pub fn check(sheet: &RequestSheet, policy: &Policy) -> Checked {
    let mut findings = Vec::new();
    structure::check(sheet, policy, &mut findings);
    let institution = institution::check(&sheet.institution, &mut findings);
    let mut lines = items::check(sheet, policy, &mut findings);
    prefecture::check(sheet, &mut lines, &mut findings);
    prefecture::check_mhlw(sheet, &mut findings);
    Checked {
        institution,
        lines,
        findings,
    }
}

/// A finding about the cell `seen`.
pub(crate) fn at(
    severity: Severity,
    code: &str,
    seen: &Seen,
    field: &str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.to_string(),
        cell: Some(seen.cell.a1()),
        field: field.to_string(),
        value: shown_value(seen),
        message,
    }
}

/// A finding about a cell (or none) with the value given.
pub(crate) fn at_cell(
    severity: Severity,
    code: &str,
    cell: Option<CellPos>,
    field: &str,
    value: &str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.to_string(),
        cell: cell.map(CellPos::a1),
        field: field.to_string(),
        value: value.to_string(),
        message,
    }
}

/// The value as shown in a finding: the text, or `=FORMULA` when a formula
/// left no value; long texts are shortened.
fn shown_value(seen: &Seen) -> String {
    if seen.is_blank()
        && let Some(f) = &seen.formula
    {
        return format!("={f}");
    }
    let text = seen.text.trim();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}
