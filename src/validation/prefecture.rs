//! 【都道府県記入欄】 and the MHLW block.
//!
//! Codes: `prefecture.row_for_unrequested_item`, `prefecture.need.missing`,
//! `prefecture.need.invalid`, `prefecture.method.missing`,
//! `prefecture.method.invalid`, `prefecture.quantity.invalid`,
//! `prefecture.quantity.unit`,
//! `prefecture.total.mismatch`, `prefecture.total.zero`,
//! `prefecture.method.stock_with_national`,
//! `prefecture.method.both_without_reason` (warning),
//! `prefecture.opinion.count_missing`,
//! `prefecture.opinion.reason_missing`, `prefecture.quantity.not_needed_nonzero`,
//! `prefecture.total.guideline` (warning), `prefecture.gloves.size_limit`
//! (warning), `mhlw.not_empty`.
//!
//! The gloves size rule: the manual honours a size wish (S/M/L…) for gloves
//! only up to 1000 双 = 2000 枚. The form has no size column, so a wish can
//! only be written in the opinion or the 調達不可事由; when either mentions a
//! size and the total for gloves is over 2000 枚, we warn (staff decide; the
//! sheet is not refused).

use super::items::read_count;
use super::{Finding, Label, Problem, Severity, Subject, at, at_cell};
use crate::request::{Item, ItemLine, Method, Need, PrefectureDecision};
use crate::sheet::{PrefectureRow, RequestSheet, Seen};
use crate::text::{Quantity, fold_label, normalize, parse_quantity};
use regex::Regex;
use std::sync::LazyLock;

/// 要 / 否 as typed; 必要 and 不要, which officials type when they do not
/// use the dropdown, mean the same.
pub fn parse_need(text: &str) -> Option<Need> {
    match crate::text::fold_choice(text).as_str() {
        "要" | "必要" => Some(Need::Needed),
        "否" | "不要" => Some(Need::NotNeeded),
        _ => None,
    }
}

/// 都道府県の備蓄 / 国による直送 as typed.
pub fn parse_method(text: &str) -> Option<Method> {
    let t = fold_label(text);
    if t.contains("備蓄") {
        Some(Method::PrefectureStock)
    } else if t.contains("直送") {
        Some(Method::NationalDirect)
    } else {
        None
    }
}

static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"([0-9]+|[〇一二三四五六七八九十]+)\s*(回|度)|初回|初めて|はじめて|初の|今回が初|(過去|これまで|以前|前回|今まで).{0,30}(なし|無し|ない|無い|ありません)|(配布|支給|受領|実績|利用).{0,10}(なし|無し|ない|無い)",
    )
    .expect("static regex")
});

static SIZE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"サイズ|(^|[^A-Za-z])(SS|S|M|L|LL|XL)([^A-Za-z]|$)").expect("static regex")
});

/// Words of a concrete reason an institution cannot procure.
const REASON_WORDS: [&str; 37] = [
    "欠品",
    "品切",
    "品薄",
    "在庫切",
    "在庫不足",
    "在庫が不足",
    "入荷",
    "納品",
    "納入",
    "供給",
    "調達",
    "卸",
    "出荷",
    "流通",
    "生産",
    "メーカー",
    "クラスター",
    "感染",
    "陽性",
    "患者",
    "急増",
    "増加",
    "発熱",
    "不足",
    "確保",
    "購入でき",
    "手に入らない",
    "入手",
    "業者",
    "取引",
    "発注",
    "注文",
    "届か",
    "取り扱",
    "取扱",
    "販売中止",
    "製造中止",
];

/// True when the opinion states how many distributions the institution
/// received before (0回, 初回, 2回目, 過去の配布なし…).
pub fn states_count(opinion: &str) -> bool {
    COUNT.is_match(&normalize(opinion))
}

/// True when the opinion gives a concrete reason the institution cannot
/// procure (欠品, 入荷見込みなし, クラスター発生…).
pub fn states_reason(opinion: &str) -> bool {
    let t = normalize(opinion);
    REASON_WORDS.iter().any(|w| t.contains(w))
}

/// True when the opinion says why both the prefecture's stock and the
/// national direct shipment are used (備蓄が不足, 併用, 両方…).
pub fn explains_both_sources(opinion: &str) -> bool {
    let t = normalize(opinion);
    [
        "備蓄",
        "併用",
        "両方",
        "不足分",
        "残り",
        "足りない",
        "足りず",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// True when the text asks for a size.
pub fn mentions_size(text: &str) -> bool {
    SIZE.is_match(&normalize(text))
}

/// Largest glove quantity for which a size wish is honoured (1000 双).
pub const GLOVES_SIZE_LIMIT: i64 = 2000;

/// Checks every prefecture row against the institution's lines and fills
/// each line's [`PrefectureDecision`].
pub fn check(sheet: &RequestSheet, lines: &mut [ItemLine], findings: &mut Vec<Finding>) {
    let has_table = !sheet.prefecture.is_empty() || sheet.layout.prefecture_table.is_some();
    for line in lines.iter().filter(|l| l.requested) {
        if has_table && !sheet.prefecture.iter().any(|r| r.item == line.item) {
            findings.push(at_cell(
                Severity::Error,
                "prefecture.need.missing",
                sheet.layout.prefecture_table,
                &Subject::of(Label::Need, line.item),
                "",
                Problem::NeedMissing,
            ));
        }
    }
    let mut done: Vec<Item> = Vec::new();
    for row in &sheet.prefecture {
        if done.contains(&row.item) {
            continue; // a duplicate row is a structural error already
        }
        done.push(row.item);
        let line = lines.iter_mut().find(|l| l.item == row.item);
        match line {
            Some(line) if line.requested => {
                line.prefecture = check_row(row, line, findings);
            }
            _ => unrequested(row, findings),
        }
    }
}

/// A row for an item the institution did not request must stay empty
/// (formula cells and zeros do not count as filled: templates carry them;
/// nor does 要否 = 否).
fn unrequested(row: &PrefectureRow, findings: &mut Vec<Finding>) {
    let cells = [
        (&row.need, Label::Need),
        (&row.method, Label::Method),
        (&row.prefecture_quantity, Label::PrefectureQuantity),
        (&row.national_quantity, Label::NationalQuantity),
        (&row.total_quantity, Label::TotalQuantity),
        (&row.opinion, Label::Opinion),
    ];
    let filled = cells.into_iter().find(|(seen, label)| {
        // 否 for an item not requested agrees with the institution.
        let agrees = *label == Label::Need && parse_need(&seen.text) == Some(Need::NotNeeded);
        // A value merged down from another row belongs to that row.
        !agrees
            && seen.cell.row == row.label.row
            && !seen.is_blank()
            && seen.formula.is_none()
            && parse_quantity(&seen.text)
                != Quantity::Count {
                    value: 0,
                    unit: crate::text::Unit::None,
                }
    });
    if let Some((seen, label)) = filled {
        findings.push(at(
            Severity::Error,
            "prefecture.row_for_unrequested_item",
            seen,
            &Subject::of(label, row.item),
            Problem::RowForUnrequestedItem,
        ));
    }
}

fn check_row(
    row: &PrefectureRow,
    line: &ItemLine,
    findings: &mut Vec<Finding>,
) -> PrefectureDecision {
    let item = row.item;
    let field = |label| Subject::of(label, item);
    let mut decision = PrefectureDecision {
        // Kept as typed; the checks below fold it themselves.
        opinion: crate::text::as_written(&row.opinion.text),
        ..PrefectureDecision::default()
    };
    decision.need = parse_need(&row.need.text);
    if row.need.is_blank() {
        findings.push(at(
            Severity::Error,
            "prefecture.need.missing",
            &row.need,
            &field(Label::Need),
            Problem::NeedMissing,
        ));
    } else if decision.need.is_none() {
        findings.push(at(
            Severity::Error,
            "prefecture.need.invalid",
            &row.need,
            &field(Label::Need),
            Problem::NeedInvalid,
        ));
    }
    decision.method = parse_method(&row.method.text);
    if !row.method.is_blank() && decision.method.is_none() {
        findings.push(at(
            Severity::Error,
            "prefecture.method.invalid",
            &row.method,
            &field(Label::Method),
            Problem::MethodInvalid,
        ));
    }
    let p = quantity(
        &row.prefecture_quantity,
        item,
        &field(Label::PrefectureQuantity),
        findings,
    );
    let n = quantity(
        &row.national_quantity,
        item,
        &field(Label::NationalQuantity),
        findings,
    );
    let t = quantity(
        &row.total_quantity,
        item,
        &field(Label::TotalQuantity),
        findings,
    );
    decision.prefecture_quantity = p;
    decision.national_quantity = n;
    decision.total_quantity = t;
    match decision.need {
        Some(Need::Needed) => needed(row, line, &decision, findings),
        Some(Need::NotNeeded) => not_needed(row, &decision, findings),
        None => {}
    }
    decision
}

/// A quantity of the prefecture part: blank counts as 0.
fn quantity(seen: &Seen, item: Item, field: &Subject, findings: &mut Vec<Finding>) -> Option<i64> {
    let mut out = Vec::new();
    let value = read_count(seen, item, field, &mut out);
    // Re-code the item-table findings for this table.
    for mut f in out {
        if f.code == "item.quantity.invalid" {
            f.code = "prefecture.quantity.invalid".into();
            f.fact = Some(super::Fact {
                about: field.clone(),
                problem: Problem::PrefectureQuantityInvalid,
            });
        } else if f.code == "item.quantity.unit" {
            f.code = "prefecture.quantity.unit".into();
        }
        findings.push(f);
    }
    value.map(|v| v.unwrap_or(0))
}

/// The rules for an item the prefecture marked as needed, in the order
/// its findings are listed: the method, the totals, the sources, the
/// opinion, then the guideline and glove-size warnings.
fn needed(
    row: &PrefectureRow,
    line: &ItemLine,
    d: &PrefectureDecision,
    findings: &mut Vec<Finding>,
) {
    let field = |label| Subject::of(label, row.item);
    if row.method.is_blank() {
        findings.push(at(
            Severity::Error,
            "prefecture.method.missing",
            &row.method,
            &field(Label::Method),
            Problem::MethodMissing,
        ));
    }
    let consistent = totals(row, d, findings);
    sources(row, d, findings);
    opinion_states_count_and_reason(row, d, findings);
    guideline_and_size(row, line, d, consistent, findings);
}

/// 総配布枚数 = 県 + 国, and more than zero. True when the three are given
/// and add up.
fn totals(row: &PrefectureRow, d: &PrefectureDecision, findings: &mut Vec<Finding>) -> bool {
    let field = |label| Subject::of(label, row.item);
    let mut consistent = false;
    if let (Some(p), Some(n), Some(t)) =
        (d.prefecture_quantity, d.national_quantity, d.total_quantity)
    {
        consistent = t == p.saturating_add(n);
        if !consistent {
            findings.push(at(
                Severity::Error,
                "prefecture.total.mismatch",
                &row.total_quantity,
                &field(Label::TotalQuantity),
                Problem::TotalMismatch {
                    prefecture: p,
                    national: n,
                },
            ));
        } else if t <= 0 {
            findings.push(at(
                Severity::Error,
                "prefecture.total.zero",
                &row.total_quantity,
                &field(Label::TotalQuantity),
                Problem::TotalZero,
            ));
        }
    }
    consistent
}

/// The method agrees with where the quantities come from.
fn sources(row: &PrefectureRow, d: &PrefectureDecision, findings: &mut Vec<Finding>) {
    let field = |label| Subject::of(label, row.item);
    if d.method == Some(Method::PrefectureStock) && d.national_quantity.is_some_and(|n| n > 0) {
        findings.push(at(
            Severity::Error,
            "prefecture.method.stock_with_national",
            &row.national_quantity,
            &field(Label::NationalQuantity),
            Problem::StockWithNational,
        ));
    }
    if d.method == Some(Method::NationalDirect)
        && d.prefecture_quantity.is_some_and(|p| p > 0)
        && d.national_quantity.is_some_and(|n| n > 0)
        && !explains_both_sources(&d.opinion)
    {
        findings.push(at(
            Severity::Warning,
            "prefecture.method.both_without_reason",
            &row.opinion,
            &field(Label::Opinion),
            Problem::BothSourcesWithoutReason,
        ));
    }
}

/// The opinion states the past count and the reason.
fn opinion_states_count_and_reason(
    row: &PrefectureRow,
    d: &PrefectureDecision,
    findings: &mut Vec<Finding>,
) {
    let field = |label| Subject::of(label, row.item);
    if !states_count(&d.opinion) {
        findings.push(at(
            Severity::Error,
            "prefecture.opinion.count_missing",
            &row.opinion,
            &field(Label::Opinion),
            Problem::OpinionCountMissing,
        ));
    }
    if !states_reason(&d.opinion) {
        findings.push(at(
            Severity::Error,
            "prefecture.opinion.reason_missing",
            &row.opinion,
            &field(Label::Opinion),
            Problem::OpinionReasonMissing { need: Need::Needed },
        ));
    }
}

/// Warnings on the total: off the guideline, or gloves over the size limit
/// with a size named.
fn guideline_and_size(
    row: &PrefectureRow,
    line: &ItemLine,
    d: &PrefectureDecision,
    consistent: bool,
    findings: &mut Vec<Finding>,
) {
    let field = |label| Subject::of(label, row.item);
    if let (Some(guideline), Some(total), Some(use_), Some(purchase)) = (
        line.guideline_quantity(),
        d.total_quantity,
        line.weekly_use,
        line.weekly_purchase,
    ) && consistent
        && guideline > 0
        && total > 0
        && total != guideline
    {
        findings.push(at(
            Severity::Warning,
            "prefecture.total.guideline",
            &row.total_quantity,
            &field(Label::TotalQuantity),
            Problem::TotalGuideline {
                guideline,
                weekly_use: use_,
                weekly_purchase: purchase,
            },
        ));
    }
    if row.item == Item::NonSterileGloves
        && d.total_quantity.is_some_and(|t| t > GLOVES_SIZE_LIMIT)
        && (mentions_size(&d.opinion) || mentions_size(&line.reason))
    {
        findings.push(at(
            Severity::Warning,
            "prefecture.gloves.size_limit",
            &row.total_quantity,
            &field(Label::TotalQuantity),
            Problem::GlovesSizeLimit {
                total: d.total_quantity.unwrap_or(0),
            },
        ));
    }
}

fn not_needed(row: &PrefectureRow, d: &PrefectureDecision, findings: &mut Vec<Finding>) {
    let field = |label| Subject::of(label, row.item);
    // The reason for 否: something beyond the count statement.
    let beyond_count = COUNT
        .replace_all(&normalize(&d.opinion), "")
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count();
    if beyond_count < 2 {
        findings.push(at(
            Severity::Error,
            "prefecture.opinion.reason_missing",
            &row.opinion,
            &field(Label::Opinion),
            Problem::OpinionReasonMissing {
                need: Need::NotNeeded,
            },
        ));
    }
    for (seen, value, label) in [
        (
            &row.prefecture_quantity,
            d.prefecture_quantity,
            Label::PrefectureQuantity,
        ),
        (
            &row.national_quantity,
            d.national_quantity,
            Label::NationalQuantity,
        ),
        (&row.total_quantity, d.total_quantity, Label::TotalQuantity),
    ] {
        if value.is_some_and(|v| v != 0) {
            findings.push(at(
                Severity::Error,
                "prefecture.quantity.not_needed_nonzero",
                seen,
                &field(label),
                Problem::NotNeededNonzero,
            ));
        }
    }
}

/// The MHLW block must be empty: one finding per filled cell.
pub fn check_mhlw(sheet: &RequestSheet, findings: &mut Vec<Finding>) {
    for row in &sheet.mhlw {
        for (title, seen) in &row.cells {
            if !seen.is_blank() {
                let field = Subject::of(Label::Mhlw(title.clone()), row.item);
                findings.push(at(
                    Severity::Error,
                    "mhlw.not_empty",
                    seen,
                    &field,
                    Problem::MhlwNotEmpty,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{CellPos, MhlwRow};
    use crate::validation::items::tests::{code_cells, gloves_row, pair, seen, sheet_with};
    use crate::validation::{Policy, check as check_sheet};

    /// The example's prefecture gloves row (row 31): 要, 2000 from stock.
    fn pref_row() -> PrefectureRow {
        PrefectureRow {
            item: Item::NonSterileGloves,
            label: CellPos::new(30, 1),
            need: seen(30, 2, "要"),
            method: seen(30, 3, "都道府県の備蓄"),
            prefecture_quantity: seen(30, 4, "2000"),
            national_quantity: seen(30, 5, "0"),
            total_quantity: seen(30, 6, "2000"),
            opinion: seen(
                30,
                7,
                "過去の緊急配布回数：0回。卸での欠品により入荷見込みなし（聞き取り済）。",
            ),
        }
    }

    fn run(
        inst: Vec<crate::sheet::InstitutionRow>,
        pref: Vec<PrefectureRow>,
    ) -> (Vec<ItemLine>, Vec<Finding>) {
        let mut sheet = sheet_with(inst);
        sheet.layout.prefecture_table = Some(CellPos::new(25, 1));
        sheet.prefecture = pref;
        let mut lines =
            crate::validation::items::check(&sheet, &Policy::default(), &mut Vec::new());
        let mut f = Vec::new();
        check(&sheet, &mut lines, &mut f);
        (lines, f)
    }

    fn codes(pref: PrefectureRow) -> Vec<(String, String)> {
        code_cells(run(vec![gloves_row()], vec![pref]).1)
    }

    #[test]
    fn valid_row_fills_the_decision() {
        let (lines, f) = run(vec![gloves_row()], vec![pref_row()]);
        assert!(f.is_empty(), "{f:?}");
        let d = &lines[0].prefecture;
        assert_eq!(
            (d.need, d.method),
            (Some(Need::Needed), Some(Method::PrefectureStock))
        );
        assert_eq!(
            (d.prefecture_quantity, d.national_quantity, d.total_quantity),
            (Some(2000), Some(0), Some(2000))
        );
    }

    #[test]
    fn need_missing_and_invalid() {
        let mut r = pref_row();
        r.need.text = "".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.need.missing", "C31")]
        );
        r.need.text = "はい".into();
        assert_eq!(codes(r), vec![pair("prefecture.need.invalid", "C31")]);
    }

    #[test]
    fn need_typed_as_hitsuyou_or_fuyou_reads_as_the_dropdown_word() {
        assert_eq!(parse_need("必要"), Some(Need::Needed));
        assert_eq!(parse_need(" 必要（1000双） "), Some(Need::Needed));
        assert_eq!(parse_need("不要"), Some(Need::NotNeeded));
        assert_eq!(parse_need("検討中"), None);
        let mut r = pref_row();
        r.need.text = "必要".into();
        assert_eq!(codes(r), Vec::<(String, String)>::new());
    }

    #[test]
    fn missing_prefecture_row_for_requested_item() {
        let (_, f) = run(vec![gloves_row()], vec![]);
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            vec!["prefecture.need.missing"]
        );
    }

    #[test]
    fn row_for_unrequested_item_is_an_error() {
        let mut mask = pref_row();
        mask.item = Item::SurgicalMask;
        mask.label = CellPos::new(26, 1);
        mask.need = seen(26, 2, "");
        mask.method = seen(26, 3, "");
        mask.prefecture_quantity = seen(26, 4, "0");
        mask.national_quantity = seen(26, 5, "");
        mask.total_quantity = seen(26, 6, "");
        mask.opinion = seen(26, 7, "");
        // zeros alone are not "filled"
        assert!(
            run(vec![gloves_row()], vec![mask.clone(), pref_row()])
                .1
                .is_empty()
        );
        mask.national_quantity.text = "100".into();
        let (_, f) = run(vec![gloves_row()], vec![mask, pref_row()]);
        assert_eq!(
            f.iter()
                .map(|f| (f.code.as_str(), f.cell.as_deref()))
                .collect::<Vec<_>>(),
            vec![("prefecture.row_for_unrequested_item", Some("F27"))]
        );
    }

    #[test]
    fn method_missing_and_invalid() {
        let mut r = pref_row();
        r.method.text = "".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.method.missing", "D31")]
        );
        r.method.text = "宅配".into();
        assert_eq!(codes(r), vec![pair("prefecture.method.invalid", "D31")]);
    }

    #[test]
    fn quantities_must_be_integers_blank_is_zero() {
        let mut r = pref_row();
        r.national_quantity.text = "".into();
        assert!(codes(r.clone()).is_empty());
        r.prefecture_quantity.text = "二千".into();
        assert_eq!(codes(r), vec![pair("prefecture.quantity.invalid", "E31")]);
    }

    #[test]
    fn total_must_be_the_sum_and_positive() {
        let mut r = pref_row();
        r.total_quantity.text = "2500".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.total.mismatch", "G31")]
        );
        r.prefecture_quantity.text = "0".into();
        r.total_quantity.text = "0".into();
        assert_eq!(codes(r), vec![pair("prefecture.total.zero", "G31")]);
    }

    #[test]
    fn stock_method_with_national_quantity() {
        let mut r = pref_row();
        r.prefecture_quantity.text = "1000".into();
        r.national_quantity.text = "1000".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.method.stock_with_national", "F31")]
        );
        r.method.text = "国による直送".into();
        r.opinion.text = "初回。卸での欠品。県の備蓄が不足するため残りを国に依頼。".into();
        assert!(codes(r).is_empty());
    }

    #[test]
    fn both_sources_need_a_reason_in_the_opinion() {
        let mut r = pref_row();
        r.method.text = "国による直送".into();
        r.prefecture_quantity.text = "1000".into();
        r.national_quantity.text = "1000".into();
        let (_, f) = run(vec![gloves_row()], vec![r.clone()]);
        assert_eq!(
            f.iter()
                .map(|f| (f.code.as_str(), f.severity))
                .collect::<Vec<_>>(),
            vec![("prefecture.method.both_without_reason", Severity::Warning)]
        );
        r.opinion.text = "過去0回。卸での欠品。県の備蓄が1000枚のみのため残りを国に依頼。".into();
        assert!(codes(r).is_empty());
    }

    #[test]
    fn opinion_needs_count_and_reason() {
        let mut r = pref_row();
        r.opinion.text = "卸での欠品により入荷見込みなし".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.opinion.count_missing", "H31")]
        );
        r.opinion.text = "過去の緊急配布回数：２回。よろしくお願いします。".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.opinion.reason_missing", "H31")]
        );
        r.opinion.text = "初回。院内でクラスター発生し消費が急増。".into();
        assert!(codes(r).is_empty());
    }

    #[test]
    fn not_needed_needs_reason_and_no_quantities() {
        let mut r = pref_row();
        r.need.text = "否".into();
        r.method.text = "".into();
        r.prefecture_quantity.text = "".into();
        r.national_quantity.text = "0".into();
        r.total_quantity.text = "".into();
        r.opinion.text = "他院からの融通で確保できる見込みのため。".into();
        assert!(codes(r.clone()).is_empty());
        r.opinion.text = "0回".into();
        assert_eq!(
            codes(r.clone()),
            vec![pair("prefecture.opinion.reason_missing", "H31")]
        );
        r.opinion.text = "在庫は十分と判断".into();
        r.total_quantity.text = "500".into();
        assert_eq!(
            codes(r),
            vec![pair("prefecture.quantity.not_needed_nonzero", "G31")]
        );
    }

    #[test]
    fn total_off_the_guideline_is_a_warning() {
        let mut r = pref_row();
        r.prefecture_quantity.text = "1500".into();
        r.total_quantity.text = "1500".into();
        let (_, f) = run(vec![gloves_row()], vec![r]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code.as_str(), f[0].severity),
            ("prefecture.total.guideline", Severity::Warning)
        );
        let message = crate::messages::findings::message(&f[0]);
        assert!(message.contains("2000"), "{message}");
    }

    #[test]
    fn gloves_size_wish_over_2000_is_a_warning() {
        let mut inst = gloves_row();
        inst.weekly_use.text = "1700".into(); // guideline 3000
        let mut r = pref_row();
        r.prefecture_quantity.text = "3000".into();
        r.total_quantity.text = "3000".into();
        r.opinion.text = "過去0回。欠品のため。Mサイズ希望。".into();
        let (_, f) = run(vec![inst.clone()], vec![r.clone()]);
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            vec!["prefecture.gloves.size_limit"]
        );
        r.opinion.text = "過去0回。欠品のため。".into();
        assert!(run(vec![inst], vec![r]).1.is_empty());
    }

    #[test]
    fn mhlw_block_must_be_empty() {
        let mut sheet = sheet_with(vec![gloves_row()]);
        sheet.mhlw = vec![MhlwRow {
            item: Item::NonSterileGloves,
            label: CellPos::new(38, 1),
            cells: vec![
                ("配布承認".into(), seen(38, 2, "")),
                ("配布数".into(), seen(38, 3, "2000")),
            ],
        }];
        let checked = check_sheet(&sheet, &Policy::default());
        let m: Vec<_> = checked
            .findings
            .iter()
            .filter(|f| f.code.starts_with("mhlw"))
            .collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].cell.as_deref(), Some("D39"));
    }
}
