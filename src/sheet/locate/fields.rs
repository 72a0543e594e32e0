//! The labelled fields of the institution block (医療機関名, 医療機関コード,
//! …): where each label is and the value next to it.

use super::labels::{Labels, MAX_LABEL_CHARS};
use crate::sheet::grid::Grid;
use crate::sheet::{CellPos, Field, InstitutionBlock, Seen};
use std::collections::HashMap;

/// The field labels of the institution block, as folded text. The first
/// spelling is the form's; the others are variants seen in the wild.
const FIELD_LABELS: [(&str, &[&str]); 7] = [
    (
        "name",
        &[
            "医療機関名",
            "医療機関名称",
            "医療機関の名称",
            "施設名",
            "病院名",
        ],
    ),
    (
        "code",
        &[
            "医療機関コード",
            "機関コード",
            "医療機関番号",
            "保険医療機関コード",
        ],
    ),
    ("postcode", &["郵便番号", "〒"]),
    ("prefecture", &["都道府県", "都道府県名"]),
    (
        "address",
        &["医療機関住所", "住所", "所在地", "医療機関所在地"],
    ),
    (
        "phone",
        &[
            "連絡先電話番号",
            "電話番号",
            "連絡先",
            "電話",
            "tel",
            "連絡先tel",
        ],
    ),
    (
        "contact",
        &[
            "医療機関担当者名",
            "担当者名",
            "担当者",
            "医療機関担当者",
            "担当者氏名",
            "医療機関担当者氏名",
            "ご担当者名",
        ],
    ),
];

fn is_field_label(folded: &str) -> bool {
    FIELD_LABELS
        .iter()
        .any(|(_, labels)| labels.contains(&folded))
}

/// Finds the labelled fields above row `limit` (the item table).
pub(super) fn find_fields(grid: &Grid, labels: &Labels<'_>, limit: u32) -> InstitutionBlock {
    let mut block = InstitutionBlock::default();
    // The first cell (in reading order) of each folded text above the
    // table, and of each text with its notes (`医療機関コード（10桁）`) removed.
    let first = first_above(labels.iter().map(|(p, t)| (p, t.as_str())), limit);
    let first_bare = first_above(labels.with_notes(), limit);
    for (key, spellings) in FIELD_LABELS {
        // The form's own spelling wins over a variant elsewhere.
        let pos = spellings.iter().find_map(|label| {
            first
                .get(label)
                .or_else(|| first_bare.get(label))
                .map(|&(r, c)| CellPos::new(r, c))
        });
        let (label, mut value) = match pos {
            Some(label) => (label, field_value(grid, labels, label)),
            None => match inline_field(grid, limit, spellings) {
                Some(found) => found,
                None => continue,
            },
        };
        match key {
            "code" => value = restore_code_zero(grid, value),
            "phone" => value = restore_lost_zero(grid, value, &[9, 10]),
            "postcode" => value = restore_lost_zero(grid, value, &[6]),
            _ => {}
        }
        let field = Some(Field { label, value });
        match key {
            "name" => block.name = field,
            "code" => block.code = field,
            "postcode" => block.postcode = field,
            "prefecture" => block.prefecture = field,
            "address" => block.address = field,
            "phone" => block.phone = field,
            _ => block.contact = field,
        }
    }
    block
}

/// The first position of each text among `texts` (in reading order) above
/// row `limit`.
fn first_above<'a>(
    texts: impl Iterator<Item = (&'a (u32, u32), &'a str)>,
    limit: u32,
) -> HashMap<&'a str, (u32, u32)> {
    let mut first = HashMap::new();
    for (pos, text) in texts.filter(|((r, _), _)| *r < limit) {
        first.entry(text).or_insert(*pos);
    }
    first
}

/// A label and its value typed in one cell (`医療機関名：みどり内科`): the
/// cell, and the value after the colon.
fn inline_field(grid: &Grid, limit: u32, labels: &[&str]) -> Option<(CellPos, Seen)> {
    grid.cells
        .iter()
        .filter(|((r, _), c)| *r < limit && c.text.chars().count() <= MAX_LABEL_CHARS)
        .find_map(|(&(r, c), raw)| {
            let text = crate::text::normalize(&raw.text);
            let value = labels.iter().find_map(|label| {
                let rest = text.strip_prefix(label)?.trim_start();
                let rest = rest.strip_prefix(':')?.trim();
                (!rest.is_empty()).then(|| rest.to_string())
            })?;
            let cell = CellPos::new(r, c);
            Some((
                cell,
                Seen {
                    cell,
                    text: value,
                    formula: None,
                },
            ))
        })
}

/// The value of a label: the next non-empty cell to its right (stopping at
/// another label), or the first cell right of the label's merged range.
fn field_value(grid: &Grid, labels: &Labels<'_>, label: CellPos) -> Seen {
    let after = grid
        .merge_at(label.row, label.col)
        .map(|d| d.end.1)
        .unwrap_or(label.col)
        + 1;
    for col in after..grid.width {
        if grid.is_blank(label.row, col) {
            continue;
        }
        if labels
            .get(&(label.row, col))
            .is_some_and(|t| is_field_label(t))
        {
            break;
        }
        return grid.seen(label.row, col);
    }
    Seen::blank(CellPos::new(label.row, after))
}

/// A 医療機関コード typed as a number loses its leading zero (北海道
/// 0110113719 → 110113719): put it back when the cell is numeric and nine
/// digits long.
fn restore_code_zero(grid: &Grid, mut value: Seen) -> Seen {
    let numeric = grid
        .get(value.cell.row, value.cell.col)
        .is_some_and(|c| c.numeric);
    if numeric && value.text.len() == 9 && value.text.bytes().all(|b| b.is_ascii_digit()) {
        value.text = format!("0{}", value.text);
    }
    value
}

/// A phone number or postcode typed as a number loses its leading zero
/// (03-1234-5678 → 312345678, 060-0001 → 600001); Japanese phone numbers
/// always start with 0, postcodes of 北海道 and 東北 do: put it back when the
/// cell is numeric and has one of the `lengths`.
fn restore_lost_zero(grid: &Grid, mut value: Seen, lengths: &[usize]) -> Seen {
    let numeric = grid
        .get(value.cell.row, value.cell.col)
        .is_some_and(|c| c.numeric);
    if numeric
        && lengths.contains(&value.text.len())
        && value.text.bytes().all(|b| b.is_ascii_digit())
    {
        value.text = format!("0{}", value.text);
    }
    value
}
