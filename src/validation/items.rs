//! The institution's item table (配布物品一覧, 医療機関記入欄).
//!
//! Codes: `institution.no_item_requested`, `item.request.invalid`,
//! `item.not_accepted`, `item.quantity.missing`, `item.quantity.invalid`,
//! `item.quantity.pairs` (warning), `item.quantity.unit`, `sheet.formula.no_value`,
//! `item.outlook.missing`, `item.outlook.invalid`, `item.outlook.not_eligible`,
//! `item.reason.missing`, `item.reason.economic`, `item.stock.over_month`
//! (warning), `item.no_shortfall` (warning).

use super::{Finding, Label, Policy, Problem, Severity, Subject, at, at_cell};
use crate::request::{Item, ItemLine, Outlook};
use crate::sheet::{InstitutionRow, RequestSheet, Seen};
use crate::text::{Quantity, Unit, fold_label, normalize, parse_quantity};

/// Checks every item row and returns one line per row, in sheet order.
pub fn check(sheet: &RequestSheet, policy: &Policy, findings: &mut Vec<Finding>) -> Vec<ItemLine> {
    let lines: Vec<ItemLine> = sheet
        .items
        .iter()
        .map(|row| check_row(row, policy, findings))
        .collect();
    if sheet.layout.institution_table.is_some() && !lines.iter().any(|l| l.requested) {
        let cell = sheet
            .items
            .first()
            .map(|r| r.request.cell)
            .or(sheet.layout.institution_table);
        findings.push(at_cell(
            Severity::Error,
            "institution.no_item_requested",
            cell,
            &Subject::plain(Label::Request),
            "",
            Problem::NoItemRequested,
        ));
    }
    lines
}

/// 要請する → `Some(true)`, 要請しない or blank → `Some(false)`, anything else
/// → `None`.
pub fn parse_request(text: &str) -> Option<bool> {
    match crate::text::fold_choice(text).as_str() {
        "要請する" | "要請" | "する" => Some(true),
        "要請しない" | "しない" | "" => Some(false),
        _ => None,
    }
}

/// The dropdown word of 備蓄見通し, as typed (`２～３週間`, `2〜3週間`…).
pub fn parse_outlook(text: &str) -> Option<Outlook> {
    let t: String = fold_label(text)
        .chars()
        .map(|c| if crate::text::is_dash(c) { '~' } else { c })
        .collect();
    // `1週以内`, `2～3週` (週 without 間) are typed too.
    if t.starts_with("1週") {
        Some(Outlook::WithinOneWeek)
    } else if t.starts_with("2~3週") {
        Some(Outlook::TwoToThreeWeeks)
    } else if t.starts_with("4週") {
        Some(Outlook::FourWeeksOrMore)
    } else {
        None
    }
}

/// Words that make a reason economic (経済的な理由は不可).
const ECONOMIC_WORDS: [&str; 16] = [
    "経済",
    "価格",
    "値段",
    "高騰",
    "高額",
    "高価",
    "値上",
    "予算",
    "費用",
    "経費",
    "コスト",
    "資金",
    "財政",
    "金額",
    "安価",
    "赤字",
];

/// True when a reason is economic.
/// An economic word that the reason denies (`経済的な理由ではなく欠品のため`,
/// `価格の問題ではない`) does not count: the form itself says 経済的な理由は不可,
/// so officials write that it is not one.
pub fn is_economic(reason: &str) -> bool {
    let t = normalize(reason);
    ECONOMIC_WORDS.iter().any(|w| {
        t.match_indices(w).any(|(at, _)| {
            let after: String = t[at + w.len()..].chars().take(12).collect();
            !NEGATIONS.iter().any(|n| after.contains(n))
        })
    })
}

/// Words after an economic word that deny it.
const NEGATIONS: [&str; 7] = [
    "ではな",
    "でな",
    "じゃな",
    "ではありません",
    "以外",
    "によるものではな",
    "は関係な",
];

fn check_row(row: &InstitutionRow, policy: &Policy, findings: &mut Vec<Finding>) -> ItemLine {
    let item = row.item;
    let field = |label| Subject::of(label, item);
    let mut line = ItemLine::empty(item);
    let request = parse_request(&row.request.text);
    line.requested = request == Some(true);
    if request.is_none() {
        findings.push(at(
            Severity::Error,
            "item.request.invalid",
            &row.request,
            &field(Label::Request),
            Problem::RequestInvalid,
        ));
    }
    let mut sink = Vec::new();
    // Values of rows not requested are read but not judged.
    let out: &mut Vec<Finding> = if line.requested { findings } else { &mut sink };
    if line.requested && !policy.accepts(item) {
        out.push(at(
            Severity::Error,
            "item.not_accepted",
            &row.request,
            &field(Label::Request),
            Problem::ItemNotAccepted {
                accepted: policy.accepted_items.clone(),
            },
        ));
    }
    line.stock = count(&row.stock, item, &field(Label::Stock), out);
    line.weekly_use = count(&row.weekly_use, item, &field(Label::WeeklyUse), out);
    line.weekly_purchase = count(
        &row.weekly_purchase,
        item,
        &field(Label::WeeklyPurchase),
        out,
    );
    line.outlook = outlook(&row.outlook, &field(Label::Outlook), out);
    // Kept as typed; emptiness and content are judged on the folded text.
    line.reason = crate::text::as_written(&row.reason.text);
    if normalize(&line.reason).is_empty() {
        out.push(at(
            Severity::Error,
            "item.reason.missing",
            &row.reason,
            &field(Label::Reason),
            Problem::ReasonMissing,
        ));
    } else if is_economic(&line.reason) {
        out.push(at(
            Severity::Error,
            "item.reason.economic",
            &row.reason,
            &field(Label::Reason),
            Problem::ReasonEconomic,
        ));
    }
    if let (Some(stock), Some(use_)) = (line.stock, line.weekly_use)
        && stock > use_.saturating_mul(4)
    {
        out.push(at(
            Severity::Warning,
            "item.stock.over_month",
            &row.stock,
            &field(Label::Stock),
            Problem::StockOverMonth,
        ));
    }
    if let (Some(use_), Some(purchase)) = (line.weekly_use, line.weekly_purchase)
        && use_ <= purchase
    {
        out.push(at(
            Severity::Warning,
            "item.no_shortfall",
            &row.weekly_use,
            &field(Label::WeeklyUse),
            Problem::NoShortfall,
        ));
    }
    line
}

/// A required non-negative count of an item row.
fn count(seen: &Seen, item: Item, field: &Subject, out: &mut Vec<Finding>) -> Option<i64> {
    match read_count(seen, item, field, out)? {
        None => {
            out.push(at(
                Severity::Error,
                "item.quantity.missing",
                seen,
                field,
                Problem::QuantityMissing,
            ));
            None
        }
        Some(n) => Some(n),
    }
}

/// Reads a count: `Some(Some(n))` a valid count, `Some(None)` blank, `None`
/// unreadable (a finding was added). Gloves in 双 are converted to 枚 with a
/// warning.
pub(crate) fn read_count(
    seen: &Seen,
    item: Item,
    field: &Subject,
    out: &mut Vec<Finding>,
) -> Option<Option<i64>> {
    if seen.is_blank() {
        if let Some(formula) = &seen.formula {
            out.push(at(
                Severity::Error,
                "sheet.formula.no_value",
                seen,
                field,
                Problem::FormulaWithoutValue {
                    formula: formula.clone(),
                },
            ));
            return None;
        }
        return Some(None);
    }
    match parse_quantity(&seen.text) {
        Quantity::Blank => Some(None),
        Quantity::Count { value, .. } if value < 0 => {
            out.push(at(
                Severity::Error,
                "item.quantity.invalid",
                seen,
                field,
                Problem::QuantityInvalid,
            ));
            None
        }
        Quantity::Count {
            value,
            unit: Unit::Pairs,
        } if item == Item::NonSterileGloves => {
            let sheets = value.saturating_mul(2);
            out.push(at(
                Severity::Warning,
                "item.quantity.pairs",
                seen,
                field,
                Problem::PairsConverted {
                    pairs: value,
                    sheets,
                },
            ));
            Some(Some(sheets))
        }
        Quantity::Count {
            unit: Unit::Package,
            ..
        } => {
            out.push(at(
                Severity::Error,
                "item.quantity.unit",
                seen,
                field,
                Problem::QuantityInPackages,
            ));
            None
        }
        Quantity::Count { value, .. } => Some(Some(value)),
        Quantity::Invalid => {
            out.push(at(
                Severity::Error,
                "item.quantity.invalid",
                seen,
                field,
                Problem::QuantityInvalid,
            ));
            None
        }
    }
}

fn outlook(seen: &Seen, field: &Subject, out: &mut Vec<Finding>) -> Option<Outlook> {
    if seen.is_blank() {
        out.push(at(
            Severity::Error,
            "item.outlook.missing",
            seen,
            field,
            Problem::OutlookMissing,
        ));
        return None;
    }
    let outlook = parse_outlook(&seen.text);
    match outlook {
        None => out.push(at(
            Severity::Error,
            "item.outlook.invalid",
            seen,
            field,
            Problem::OutlookInvalid,
        )),
        Some(Outlook::FourWeeksOrMore) => out.push(at(
            Severity::Error,
            "item.outlook.not_eligible",
            seen,
            field,
            Problem::OutlookNotEligible,
        )),
        Some(_) => {}
    }
    outlook
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sheet::{CellPos, Layout};

    pub(crate) fn seen(row: u32, col: u32, text: &str) -> Seen {
        Seen {
            cell: CellPos::new(row, col),
            text: text.into(),
            formula: None,
        }
    }

    /// The example's gloves row (row 23): requested, valid.
    pub(crate) fn gloves_row() -> InstitutionRow {
        InstitutionRow {
            item: Item::NonSterileGloves,
            label: CellPos::new(22, 1),
            request: seen(22, 2, "要請する"),
            stock: seen(22, 3, "800"),
            outlook: seen(22, 4, "1週間以内"),
            weekly_use: seen(22, 5, "1200"),
            weekly_purchase: seen(22, 6, "200"),
            reason: seen(22, 7, "欠品のため卸から入荷未定"),
        }
    }

    pub(crate) fn sheet_with(rows: Vec<InstitutionRow>) -> RequestSheet {
        RequestSheet {
            sheet: "Sheet1".into(),
            layout: Layout {
                institution_table: Some(CellPos::new(17, 1)),
                ..Layout::default()
            },
            institution: Default::default(),
            items: rows,
            prefecture: vec![],
            mhlw: vec![],
        }
    }

    fn run(rows: Vec<InstitutionRow>, policy: &Policy) -> (Vec<ItemLine>, Vec<Finding>) {
        let mut f = Vec::new();
        let lines = check(&sheet_with(rows), policy, &mut f);
        (lines, f)
    }

    fn codes(rows: Vec<InstitutionRow>) -> Vec<(String, String)> {
        code_cells(run(rows, &Policy::default()).1)
    }

    /// Each finding as (code, cell), the cell empty when it names none.
    pub(crate) fn code_cells(findings: Vec<Finding>) -> Vec<(String, String)> {
        findings
            .into_iter()
            .map(|f| (f.code, f.cell.unwrap_or_default()))
            .collect()
    }

    /// A (code, cell) pair as [`code_cells`] gives it.
    pub(crate) fn pair(code: &str, cell: &str) -> (String, String) {
        (code.into(), cell.into())
    }

    #[test]
    fn valid_gloves_row_reads_into_a_line() {
        let (lines, f) = run(vec![gloves_row()], &Policy::default());
        assert!(f.is_empty(), "{f:?}");
        assert!(lines[0].requested);
        assert_eq!(
            (
                lines[0].stock,
                lines[0].weekly_use,
                lines[0].weekly_purchase
            ),
            (Some(800), Some(1200), Some(200))
        );
        assert_eq!(lines[0].outlook, Some(Outlook::WithinOneWeek));
    }

    #[test]
    fn nothing_requested_is_an_error() {
        let mut r = gloves_row();
        r.request.text = "要請しない".into();
        assert_eq!(
            codes(vec![r]),
            vec![pair("institution.no_item_requested", "C23")]
        );
    }

    #[test]
    fn request_word_must_be_from_the_dropdown() {
        let mut r = gloves_row();
        r.request.text = "はい".into();
        let c = codes(vec![r]);
        assert!(c.contains(&pair("item.request.invalid", "C23")), "{c:?}");
    }

    #[test]
    fn item_outside_policy_is_not_accepted() {
        let mut r = gloves_row();
        r.item = Item::SurgicalMask;
        assert_eq!(
            codes(vec![r.clone()]),
            vec![pair("item.not_accepted", "C23")]
        );
        let all = Policy {
            accepted_items: Item::ALL.to_vec(),
        };
        assert!(run(vec![r], &all).1.is_empty());
    }

    #[test]
    fn quantities_must_be_non_negative_integers() {
        let mut r = gloves_row();
        r.stock.text = "".into();
        r.weekly_use.text = "たくさん".into();
        r.weekly_purchase.text = "-5".into();
        assert_eq!(
            codes(vec![r]),
            vec![
                pair("item.quantity.missing", "D23"),
                pair("item.quantity.invalid", "F23"),
                pair("item.quantity.invalid", "G23")
            ]
        );
    }

    #[test]
    fn full_width_and_text_numbers_read() {
        let mut r = gloves_row();
        r.stock.text = "８００枚".into();
        r.weekly_use.text = "1,200".into();
        r.weekly_purchase.text = "200.0".into();
        let (lines, f) = run(vec![r], &Policy::default());
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            (
                lines[0].stock,
                lines[0].weekly_use,
                lines[0].weekly_purchase
            ),
            (Some(800), Some(1200), Some(200))
        );
    }

    #[test]
    fn gloves_in_pairs_are_converted_with_a_warning() {
        let mut r = gloves_row();
        r.stock.text = "400双".into();
        let (lines, f) = run(vec![r], &Policy::default());
        assert_eq!(lines[0].stock, Some(800));
        assert_eq!(
            f.iter()
                .map(|f| (f.code.as_str(), f.severity))
                .collect::<Vec<_>>(),
            vec![("item.quantity.pairs", Severity::Warning)]
        );
    }

    #[test]
    fn formula_without_value_is_reported() {
        let mut r = gloves_row();
        r.stock = Seen {
            cell: CellPos::new(22, 3),
            text: String::new(),
            formula: Some("X1*2".into()),
        };
        let (_, f) = run(vec![r], &Policy::default());
        assert_eq!(f[0].code, "sheet.formula.no_value");
        assert_eq!(f[0].value, "=X1*2");
    }

    #[test]
    fn outlook_rules() {
        let mut r = gloves_row();
        r.outlook.text = "２～３週間".into();
        assert!(codes(vec![r.clone()]).is_empty());
        r.outlook.text = "2〜3週間".into();
        assert!(codes(vec![r.clone()]).is_empty());
        r.outlook.text = "4週間以上".into();
        assert_eq!(
            codes(vec![r.clone()]),
            vec![pair("item.outlook.not_eligible", "E23")]
        );
        r.outlook.text = "そのうち".into();
        assert_eq!(
            codes(vec![r.clone()]),
            vec![pair("item.outlook.invalid", "E23")]
        );
        r.outlook.text = "".into();
        assert_eq!(codes(vec![r]), vec![pair("item.outlook.missing", "E23")]);
    }

    #[test]
    fn reason_required_and_not_economic() {
        let mut r = gloves_row();
        r.reason.text = " ".into();
        assert_eq!(
            codes(vec![r.clone()]),
            vec![pair("item.reason.missing", "H23")]
        );
        r.reason.text = "価格高騰のため購入困難".into();
        assert_eq!(
            codes(vec![r.clone()]),
            vec![pair("item.reason.economic", "H23")]
        );
        r.reason.text = "予算がない".into();
        assert_eq!(codes(vec![r]), vec![pair("item.reason.economic", "H23")]);
    }

    #[test]
    fn stock_over_four_weeks_is_flagged() {
        let mut r = gloves_row();
        r.stock.text = "4801".into();
        let (_, f) = run(vec![r.clone()], &Policy::default());
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code.as_str(), f[0].severity),
            ("item.stock.over_month", Severity::Warning)
        );
        assert_eq!(
            crate::messages::findings::message(&f[0]),
            "在庫量が1ヶ月分以上の可能性あり（自動判定）"
        );
        r.stock.text = "4800".into();
        assert!(codes(vec![r]).is_empty());
    }

    #[test]
    fn no_shortfall_is_a_warning() {
        let mut r = gloves_row();
        r.weekly_purchase.text = "1200".into();
        let (_, f) = run(vec![r], &Policy::default());
        assert_eq!(
            f.iter()
                .map(|f| (f.code.as_str(), f.severity))
                .collect::<Vec<_>>(),
            vec![("item.no_shortfall", Severity::Warning)]
        );
    }

    #[test]
    fn rows_not_requested_are_not_judged() {
        let mut mask = gloves_row();
        mask.item = Item::SurgicalMask;
        mask.request.text = "".into();
        mask.stock.text = "abc".into();
        mask.reason.text = "".into();
        assert!(codes(vec![mask, gloves_row()]).is_empty());
    }
}
