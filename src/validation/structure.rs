//! Is the form all there? Missing blocks, missing labels, missing or
//! duplicated item rows, a second form on one worksheet. Codes:
//! `sheet.form.repeated`, `sheet.block.missing`, `sheet.label.missing`,
//! `sheet.item_row.missing`, `sheet.item_row.duplicate`.

use super::{Finding, Label, Policy, Problem, Severity, Subject, at_cell};
use crate::request::Item;
use crate::sheet::{CellPos, RequestSheet};

/// Adds the structural findings of `sheet`. A missing row of an item that
/// `policy` does not accept now is not reported: institutions delete the
/// rows they cannot request.
pub fn check(sheet: &RequestSheet, policy: &Policy, findings: &mut Vec<Finding>) {
    let layout = &sheet.layout;
    let inst = &sheet.institution;
    for (field, label) in [
        (&inst.name, Label::Name),
        (&inst.code, Label::Code),
        (&inst.postcode, Label::Postcode),
        (&inst.prefecture, Label::Prefecture),
        (&inst.address, Label::Address),
        (&inst.phone, Label::Phone),
        (&inst.contact, Label::Contact),
    ] {
        if field.is_none() {
            findings.push(at_cell(
                Severity::Error,
                "sheet.label.missing",
                layout.institution_heading,
                &Subject::plain(label),
                "",
                Problem::LabelMissing,
            ));
        }
    }
    if let Some(at) = layout.repeated_form {
        findings.push(at_cell(
            Severity::Error,
            "sheet.form.repeated",
            Some(at),
            &Subject::plain(Label::SecondForm),
            "",
            Problem::FormRepeated,
        ));
    }
    if layout.institution_table.is_none() {
        findings.push(at_cell(
            Severity::Error,
            "sheet.block.missing",
            layout.institution_heading,
            &Subject::plain(Label::InstitutionTable),
            "",
            Problem::BlockMissing,
        ));
    } else {
        rows(
            sheet.items.iter().map(|r| (r.item, r.label)),
            layout.institution_table,
            Label::InstitutionTable,
            policy,
            findings,
        );
    }
    if sheet.prefecture.is_empty() && layout.prefecture_table.is_none() {
        findings.push(at_cell(
            Severity::Error,
            "sheet.block.missing",
            None,
            &Subject::plain(Label::PrefectureTable),
            "",
            Problem::BlockMissing,
        ));
    } else {
        rows(
            sheet.prefecture.iter().map(|r| (r.item, r.label)),
            layout.prefecture_table,
            Label::PrefectureTable,
            policy,
            findings,
        );
    }
}

/// Duplicated rows are errors (which one counts?); a missing row is a
/// warning: the institution may delete rows it does not need, and a missing
/// prefecture row for a requested item is reported by the prefecture checks.
fn rows(
    rows: impl Iterator<Item = (Item, CellPos)>,
    header: Option<CellPos>,
    table: Label,
    policy: &Policy,
    findings: &mut Vec<Finding>,
) {
    let mut seen: Vec<Item> = Vec::new();
    for (item, label) in rows {
        if seen.contains(&item) {
            findings.push(at_cell(
                Severity::Error,
                "sheet.item_row.duplicate",
                Some(label),
                &Subject::plain(table.clone()),
                item.label(),
                Problem::ItemRowDuplicate { item },
            ));
        }
        seen.push(item);
    }
    for item in Item::ALL {
        if !seen.contains(&item) && policy.accepts(item) {
            findings.push(at_cell(
                Severity::Warning,
                "sheet.item_row.missing",
                header,
                &Subject::plain(table.clone()),
                "",
                Problem::ItemRowMissing { item },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{Field, InstitutionBlock, Layout, PrefectureRow, Seen};
    use crate::validation::items::tests::{gloves_row, sheet_with};

    fn full_block() -> InstitutionBlock {
        let f = |row| {
            Some(Field {
                label: CellPos::new(row, 1),
                value: Seen::blank(CellPos::new(row, 2)),
            })
        };
        InstitutionBlock {
            name: f(11),
            code: f(12),
            postcode: f(13),
            prefecture: f(13),
            address: f(14),
            phone: f(15),
            contact: f(15),
        }
    }

    fn pref_row(item: Item, row: u32) -> PrefectureRow {
        let s = |c| Seen::blank(CellPos::new(row, c));
        PrefectureRow {
            item,
            label: CellPos::new(row, 1),
            need: s(2),
            method: s(3),
            prefecture_quantity: s(4),
            national_quantity: s(5),
            total_quantity: s(6),
            opinion: s(7),
        }
    }

    /// A sheet with every label, all five rows in both tables.
    fn complete() -> RequestSheet {
        let mut sheet = sheet_with(
            Item::ALL
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut r = gloves_row();
                    r.item = *item;
                    r.label = CellPos::new(18 + i as u32, 1);
                    r
                })
                .collect(),
        );
        sheet.institution = full_block();
        sheet.layout = Layout {
            institution_heading: Some(CellPos::new(10, 0)),
            institution_table: Some(CellPos::new(17, 1)),
            prefecture_table: Some(CellPos::new(25, 1)),
            mhlw_table: None,
            repeated_form: None,
        };
        sheet.prefecture = Item::ALL
            .iter()
            .enumerate()
            .map(|(i, item)| pref_row(*item, 26 + i as u32))
            .collect();
        sheet
    }

    fn codes(sheet: &RequestSheet) -> Vec<(String, Option<String>, Severity)> {
        let mut f = Vec::new();
        // Every item accepted: every missing row is reported.
        let all = Policy {
            accepted_items: Item::ALL.to_vec(),
        };
        check(sheet, &all, &mut f);
        f.into_iter()
            .map(|f| (f.code, f.cell, f.severity))
            .collect()
    }

    #[test]
    fn complete_sheet_has_no_structural_findings() {
        assert!(codes(&complete()).is_empty());
    }

    #[test]
    fn second_form_on_one_worksheet_is_an_error() {
        let mut sheet = complete();
        sheet.layout.repeated_form = Some(CellPos::new(44, 0));
        assert_eq!(
            codes(&sheet),
            vec![(
                "sheet.form.repeated".into(),
                Some("A45".into()),
                Severity::Error
            )]
        );
    }

    #[test]
    fn missing_label_is_an_error() {
        let mut sheet = complete();
        sheet.institution.code = None;
        assert_eq!(
            codes(&sheet),
            vec![(
                "sheet.label.missing".into(),
                Some("A11".into()),
                Severity::Error
            )]
        );
    }

    #[test]
    fn missing_tables_are_errors() {
        let mut sheet = complete();
        sheet.layout.institution_table = None;
        sheet.layout.prefecture_table = None;
        sheet.prefecture.clear();
        let c = codes(&sheet);
        assert_eq!(
            c.iter()
                .filter(|(code, _, _)| code == "sheet.block.missing")
                .count(),
            2,
            "{c:?}"
        );
    }

    #[test]
    fn missing_row_of_an_item_not_accepted_is_not_reported() {
        let mut sheet = complete();
        sheet.items.remove(0);
        let mut f = Vec::new();
        check(&sheet, &Policy::default(), &mut f);
        assert!(f.is_empty(), "{f:?}");
        sheet.items.retain(|r| r.item != Item::NonSterileGloves);
        check(&sheet, &Policy::default(), &mut f);
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["sheet.item_row.missing"]
        );
    }

    #[test]
    fn missing_row_is_a_warning_and_duplicate_an_error() {
        let mut sheet = complete();
        sheet.items.remove(0);
        sheet.prefecture[3].item = Item::NonSterileGloves;
        let c = codes(&sheet);
        assert!(
            c.contains(&(
                "sheet.item_row.missing".into(),
                Some("B18".into()),
                Severity::Warning
            )),
            "{c:?}"
        );
        assert!(
            c.contains(&(
                "sheet.item_row.duplicate".into(),
                Some("B31".into()),
                Severity::Error
            )),
            "{c:?}"
        );
        // the prefecture table lost its isolation gown row to the duplicate
        assert!(
            c.contains(&(
                "sheet.item_row.missing".into(),
                Some("B26".into()),
                Severity::Warning
            )),
            "{c:?}"
        );
    }
}
