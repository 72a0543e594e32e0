//! Validation of a [`RequestSheet`] against the
//! rules of SPEC.md ("Validation"), institution part and prefecture part.
//!
//! The result is a typed request (what the queue files) and a list of
//! [`Finding`]s, each pointing at the cell at fault in the file as submitted.
//!
//! Call [`check`] with a [`RequestSheet`] from
//! [`read_workbook`](crate::sheet::read_workbook) and a [`Policy`] (built
//! with [`Policy::from_config`]); it returns [`Checked`]. The rules live in
//! [`structure`], [`institution`], [`items`] and [`prefecture`].
//!
//! Findings carry facts, not sentences: a [`Fact`] names the form's field
//! ([`Subject`]) and the typed [`Problem`] with the values the sentence
//! needs. This module never words them; the `messages` module (`findings`) turns a
//! finding into its Japanese field label and sentence, keyed by the problem,
//! for the edges that show findings to people (replies, the annotated copy,
//! the web desk, the CLI). Rows stored before facts existed carry their
//! sentence in [`Finding::message`] and are shown as stored.
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
//! | `mail.prefecture_mismatch` | E | [`prefecture_mismatch`]: 都道府県 is not the sender's prefecture |
//! | `queue.prefecture_mismatch` | E | the same, filed by hand (`sos-intake file --prefecture`) |

pub mod institution;
pub mod items;
pub mod prefecture;
pub mod structure;

use crate::config::Config;
use crate::prefecture::Prefecture;
use crate::request::{Institution, Item, ItemLine, Need};
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
    /// A field label worded by whoever made the finding: stored rows from
    /// before [`Fact`]s, and findings made by the edges themselves. Empty
    /// when [`Finding::fact`] says what the field is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// The value as seen (empty when blank).
    pub value: String,
    /// A sentence worded by whoever made the finding (see
    /// [`Finding::field`]); empty when [`Finding::fact`] says what is wrong.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// What is wrong, as typed values; worded in `src/messages/findings.rs`.
    /// `None` on rows stored before facts existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact: Option<Fact>,
}

/// What a finding says, as values: the field it is about and the problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// The field of the form at fault.
    pub about: Subject,
    /// What is wrong with it.
    pub problem: Problem,
}

/// A field of the form, optionally of one item's row (`前日時点の在庫量` of
/// 非滅菌手袋).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Which field.
    pub label: Label,
    /// The item whose row it is on; `None` for the institution block,
    /// whole tables and the queue's findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
}

impl Subject {
    /// A field that belongs to no item row.
    pub fn plain(label: Label) -> Subject {
        Subject { label, item: None }
    }

    /// A field of `item`'s row.
    pub fn of(label: Label, item: Item) -> Subject {
        Subject {
            label,
            item: Some(item),
        }
    }
}

/// The fields, blocks and tables of the form a finding can be about (the
/// form's own Japanese labels are in `src/messages/findings.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// 医療機関名.
    Name,
    /// 医療機関コード.
    Code,
    /// 郵便番号.
    Postcode,
    /// 都道府県.
    Prefecture,
    /// 医療機関住所.
    Address,
    /// 連絡先電話番号.
    Phone,
    /// 医療機関担当者名.
    Contact,
    /// 緊急配布要請.
    Request,
    /// 前日時点の在庫量.
    Stock,
    /// 現在の在庫の備蓄見通し.
    Outlook,
    /// 今後1週間あたりの想定消費量.
    WeeklyUse,
    /// 今後1週間に購入できる見込み量.
    WeeklyPurchase,
    /// 調達不可事由.
    Reason,
    /// 緊急配布要請 要否.
    Need,
    /// 配布方法.
    Method,
    /// 県の配布枚数.
    PrefectureQuantity,
    /// 国の配布枚数.
    NationalQuantity,
    /// 総配布枚数.
    TotalQuantity,
    /// 都道府県意見（要否決定理由）.
    Opinion,
    /// The institution's item table.
    InstitutionTable,
    /// The prefecture's item table.
    PrefectureTable,
    /// A second copy of the form on one worksheet.
    SecondForm,
    /// A column of the MHLW block, by the title read on the sheet.
    Mhlw(String),
}

/// What is wrong, one variant per sentence, with the values the sentence
/// needs. The field label comes from the [`Subject`] beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// `sheet.label.missing`: the field's label is not on the sheet.
    LabelMissing,
    /// `sheet.form.repeated`.
    FormRepeated,
    /// `sheet.block.missing`: the table (the subject) is not found.
    BlockMissing,
    /// `sheet.item_row.missing`: the table (the subject) lacks `item`'s row.
    ItemRowMissing {
        /// The item without a row.
        item: Item,
    },
    /// `sheet.item_row.duplicate`: `item` has two rows in the table.
    ItemRowDuplicate {
        /// The item with two rows.
        item: Item,
    },
    /// `sheet.formula.no_value`.
    FormulaWithoutValue {
        /// The formula, without `=`.
        formula: String,
    },
    /// `institution.field.missing`.
    FieldMissing,
    /// `institution.code.format`.
    CodeFormat {
        /// Digits read.
        digits: usize,
    },
    /// `institution.code.prefecture_mismatch`.
    CodePrefectureMismatch {
        /// The code's first two digits.
        code_prefecture: String,
        /// 都道府県 as written on the sheet (its name).
        prefecture: String,
        /// That prefecture's number.
        expected: String,
    },
    /// `institution.code.check_digit` (warning).
    CodeCheckDigit {
        /// The check digit the first nine digits call for.
        expected: u32,
    },
    /// `institution.postcode.format`.
    PostcodeFormat,
    /// `institution.prefecture.unknown`.
    PrefectureUnknown,
    /// `institution.address.prefecture` (warning).
    AddressPrefecture {
        /// The prefecture's name the address should start with.
        prefecture: String,
    },
    /// `institution.phone.format`.
    PhoneFormat {
        /// Digits read.
        digits: usize,
    },
    /// `institution.no_item_requested`.
    NoItemRequested,
    /// `item.request.invalid`.
    RequestInvalid,
    /// `item.not_accepted`: the subject's item is not accepted now.
    ItemNotAccepted {
        /// What is accepted now.
        accepted: Vec<Item>,
    },
    /// `item.quantity.missing`.
    QuantityMissing,
    /// `item.quantity.invalid`.
    QuantityInvalid,
    /// `item.quantity.unit` and `prefecture.quantity.unit`.
    QuantityInPackages,
    /// `item.quantity.pairs` (warning).
    PairsConverted {
        /// 双 as written.
        pairs: i64,
        /// 枚 as read.
        sheets: i64,
    },
    /// `item.outlook.missing`.
    OutlookMissing,
    /// `item.outlook.invalid`.
    OutlookInvalid,
    /// `item.outlook.not_eligible`.
    OutlookNotEligible,
    /// `item.reason.missing`.
    ReasonMissing,
    /// `item.reason.economic`.
    ReasonEconomic,
    /// `item.stock.over_month` (warning).
    StockOverMonth,
    /// `item.no_shortfall` (warning).
    NoShortfall,
    /// `prefecture.need.missing` for the subject's item.
    NeedMissing,
    /// `prefecture.need.invalid`.
    NeedInvalid,
    /// `prefecture.row_for_unrequested_item`.
    RowForUnrequestedItem,
    /// `prefecture.method.missing`.
    MethodMissing,
    /// `prefecture.method.invalid`.
    MethodInvalid,
    /// `prefecture.quantity.invalid`.
    PrefectureQuantityInvalid,
    /// `prefecture.total.mismatch`.
    TotalMismatch {
        /// 県の配布枚数.
        prefecture: i64,
        /// 国の配布枚数.
        national: i64,
    },
    /// `prefecture.total.zero`.
    TotalZero,
    /// `prefecture.method.stock_with_national`.
    StockWithNational,
    /// `prefecture.method.both_without_reason` (warning).
    BothSourcesWithoutReason,
    /// `prefecture.opinion.count_missing`.
    OpinionCountMissing,
    /// `prefecture.opinion.reason_missing`, for 要 or 否.
    OpinionReasonMissing {
        /// The verdict the reason is missing for.
        need: Need,
    },
    /// `prefecture.quantity.not_needed_nonzero`.
    NotNeededNonzero,
    /// `prefecture.total.guideline` (warning).
    TotalGuideline {
        /// 2 × (use − purchase).
        guideline: i64,
        /// 今後1週間あたりの想定消費量.
        weekly_use: i64,
        /// 今後1週間に購入できる見込み量.
        weekly_purchase: i64,
    },
    /// `prefecture.gloves.size_limit` (warning).
    GlovesSizeLimit {
        /// 総配布枚数.
        total: i64,
    },
    /// `mhlw.not_empty`.
    MhlwNotEmpty,
    /// `queue.gmis_registered`: the institution files through G-MIS.
    GmisRegistered {
        /// Its 医療機関コード.
        code: String,
    },
    /// `queue.completed_exists`: already 受付完了 in the batch.
    CompletedExists {
        /// The 受付完了 records' receipt numbers.
        receipts: Vec<String>,
        /// The items they share with this sheet.
        items: Vec<Item>,
        /// The batch date, `YYYY-MM-DD`.
        batch_date: String,
    },
    /// `queue.supersedes` (warning): this sheet replaced earlier ones.
    Supersedes {
        /// The receipt numbers replaced.
        receipts: Vec<String>,
    },
    /// `mail.prefecture_mismatch` / `queue.prefecture_mismatch`: the
    /// sheet's 都道府県 is not the prefecture filing it.
    PrefectureMismatch {
        /// 都道府県 on the sheet.
        on_sheet: Prefecture,
        /// The prefecture that sent or filed the sheet.
        filer: Prefecture,
        /// How it was filed (the code and the advice differ).
        by: FiledBy,
    },
}

/// How a sheet reached the queue, for the checks that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiledBy {
    /// E-mailed by a prefecture (the sender's prefecture files it).
    Mail,
    /// Filed by hand with `sos-intake file --prefecture`.
    Hand,
}

impl FiledBy {
    /// The finding code of [`prefecture_mismatch`] for this channel.
    pub const fn prefecture_mismatch_code(self) -> &'static str {
        match self {
            FiledBy::Mail => "mail.prefecture_mismatch",
            FiledBy::Hand => "queue.prefecture_mismatch",
        }
    }
}

/// The error when the sheet's 都道府県 is not `filer`, the prefecture that
/// sent or files it: the one check behind both codes. `None` when they
/// agree or the sheet names no readable prefecture.
pub fn prefecture_mismatch(
    form: &RequestSheet,
    checked: &Checked,
    filer: Prefecture,
    by: FiledBy,
) -> Option<Finding> {
    let on_sheet = checked.institution.prefecture?;
    if on_sheet == filer {
        return None;
    }
    let field = form.institution.prefecture.as_ref();
    let value = match by {
        // The mail reply quotes the cell as written; the CLI always
        // printed the prefecture's name.
        FiledBy::Mail => field.map(|f| f.value.text.clone()),
        FiledBy::Hand => None,
    };
    Some(Finding::fact(
        Severity::Error,
        by.prefecture_mismatch_code(),
        field.map(|f| f.value.cell.a1()),
        value.unwrap_or_else(|| on_sheet.name().to_string()),
        Subject::plain(Label::Prefecture),
        Problem::PrefectureMismatch {
            on_sheet,
            filer,
            by,
        },
    ))
}

impl Finding {
    /// A finding that states its [`Fact`] (no pre-worded text).
    pub fn fact(
        severity: Severity,
        code: &str,
        cell: Option<String>,
        value: String,
        about: Subject,
        problem: Problem,
    ) -> Finding {
        Finding {
            severity,
            code: code.to_string(),
            cell,
            field: String::new(),
            value,
            message: String::new(),
            fact: Some(Fact { about, problem }),
        }
    }

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
    about: &Subject,
    problem: Problem,
) -> Finding {
    Finding::fact(
        severity,
        code,
        Some(seen.cell.a1()),
        shown_value(seen),
        about.clone(),
        problem,
    )
}

/// A finding about a cell (or none) with the value given.
pub(crate) fn at_cell(
    severity: Severity,
    code: &str,
    cell: Option<CellPos>,
    about: &Subject,
    value: &str,
    problem: Problem,
) -> Finding {
    Finding::fact(
        severity,
        code,
        cell.map(CellPos::a1),
        value.to_string(),
        about.clone(),
        problem,
    )
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
