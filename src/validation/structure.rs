//! Is the form all there? Missing blocks, missing labels, missing or
//! duplicated item rows. Codes: `sheet.block.missing`, `sheet.label.missing`,
//! `sheet.item_row.missing`, `sheet.item_row.duplicate`.

use super::{Finding, Severity, at_cell};
use crate::messages::findings::{self as msg, labels};
use crate::request::Item;
use crate::sheet::{CellPos, RequestSheet};

/// Adds the structural findings of `sheet`.
pub fn check(sheet: &RequestSheet, findings: &mut Vec<Finding>) {
    let layout = &sheet.layout;
    let inst = &sheet.institution;
    for (field, label) in [
        (&inst.name, labels::NAME),
        (&inst.code, labels::CODE),
        (&inst.postcode, labels::POSTCODE),
        (&inst.prefecture, labels::PREFECTURE),
        (&inst.address, labels::ADDRESS),
        (&inst.phone, labels::PHONE),
        (&inst.contact, labels::CONTACT),
    ] {
        if field.is_none() {
            findings.push(at_cell(
                Severity::Error,
                "sheet.label.missing",
                layout.institution_heading,
                label,
                "",
                msg::label_missing(label),
            ));
        }
    }
    if layout.institution_table.is_none() {
        findings.push(at_cell(
            Severity::Error,
            "sheet.block.missing",
            layout.institution_heading,
            labels::INSTITUTION_TABLE,
            "",
            msg::block_missing(labels::INSTITUTION_TABLE),
        ));
    } else {
        rows(
            sheet.items.iter().map(|r| (r.item, r.label)),
            layout.institution_table,
            labels::INSTITUTION_TABLE,
            findings,
        );
    }
    if sheet.prefecture.is_empty() && layout.prefecture_table.is_none() {
        findings.push(at_cell(
            Severity::Error,
            "sheet.block.missing",
            None,
            labels::PREFECTURE_TABLE,
            "",
            msg::block_missing(labels::PREFECTURE_TABLE),
        ));
    } else {
        rows(
            sheet.prefecture.iter().map(|r| (r.item, r.label)),
            layout.prefecture_table,
            labels::PREFECTURE_TABLE,
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
    table: &str,
    findings: &mut Vec<Finding>,
) {
    let mut seen: Vec<Item> = Vec::new();
    for (item, label) in rows {
        if seen.contains(&item) {
            findings.push(at_cell(
                Severity::Error,
                "sheet.item_row.duplicate",
                Some(label),
                table,
                item.label(),
                msg::item_row_duplicate(table, item.label()),
            ));
        }
        seen.push(item);
    }
    for item in Item::ALL {
        if !seen.contains(&item) {
            findings.push(at_cell(
                Severity::Warning,
                "sheet.item_row.missing",
                header,
                table,
                "",
                msg::item_row_missing(table, item.label()),
            ));
        }
    }
}
