//! The three item tables (the institution's, 都道府県記入欄 and the MHLW
//! block): their column titles, which column holds what, and the item rows.

use super::labels::Labels;
use crate::request::Item;
use crate::sheet::grid::Grid;
use crate::sheet::{CellPos, InstitutionRow, MhlwRow, PrefectureRow, Seen};

/// The column titles right of a header cell (its row, and the row below
/// when a title spans two rows), folded, by column.
pub(super) fn header_titles(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
) -> Vec<(u32, String)> {
    let mut titles = Vec::new();
    // Is the row below a second header row (not the first item row)?
    let below_is_titles = (0..grid.width).all(|c| labels.item(header.row + 1, c).is_none());
    for col in header.col + 1..grid.width {
        let here = labels.get(&(header.row, col)).cloned().unwrap_or_default();
        // A group title merged over several columns (今後1週間の見込み over
        // 想定消費量 and 購入できる見込み量): the titles below it count.
        let group = grid
            .merge_at(header.row, col)
            .is_some_and(|d| d.end.1 > d.start.1);
        let here = match labels.get(&(header.row + 1, col)) {
            Some(below) if group && below_is_titles && !below.is_empty() => below.clone(),
            _ => here,
        };
        let text = if here.is_empty() {
            // A title merged over two rows may sit one row lower... but
            // never an item label.
            let below = labels
                .get(&(header.row + 1, col))
                .cloned()
                .unwrap_or_default();
            if labels.item(header.row + 1, col).is_some() {
                String::new()
            } else {
                below
            }
        } else {
            here
        };
        if !text.is_empty() {
            titles.push((col, text));
        }
    }
    titles
}

/// The column of the first title matching one of `keys`, in `titles` order.
fn column_of(titles: &[(u32, String)], keys: &[&str], taken: &[u32]) -> Option<u32> {
    titles
        .iter()
        .find(|(c, t)| !taken.contains(c) && keys.iter().any(|k| t.contains(k)))
        .map(|(c, _)| *c)
}

/// Maps each wanted column (by title keywords, most specific first) to a
/// column, falling back to the reference layout's offset from the header.
fn map_columns<const N: usize>(
    titles: &[(u32, String)],
    header: CellPos,
    wanted: [&[&str]; N],
) -> [u32; N] {
    let mut taken: Vec<u32> = Vec::new();
    let mut cols = [0u32; N];
    for (i, keys) in wanted.iter().enumerate() {
        let col = column_of(titles, keys, &taken).unwrap_or(header.col + 1 + i as u32);
        taken.push(col);
        cols[i] = col;
    }
    cols
}

/// The item rows under a table header, up to `end` (exclusive): the row
/// label is the first text left of the first data column.
fn item_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    first_data_col: u32,
    end: u32,
) -> Vec<(Item, CellPos)> {
    let mut rows = Vec::new();
    let last = end.min(header.row + 40);
    for row in header.row + 1..last {
        let label_cols = header.col.saturating_sub(1)..first_data_col.max(header.col + 1);
        for col in label_cols {
            let Some(text) = labels.get(&(row, col)) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            // A row number or a note in the column left of the label is
            // skipped; the first item name is the row label.
            if is_note(grid.text(row, col)) {
                continue;
            }
            if let Some(item) = labels.item(row, col) {
                rows.push((item, CellPos::new(row, col)));
                break;
            }
        }
    }
    // A hidden row repeating a visible one (an old version the official
    // hid instead of deleting) is not part of the request; a hidden row
    // that is its item's only row still is.
    let hidden = |p: &CellPos| grid.hidden_rows.contains(&p.row);
    let shown: Vec<Item> = rows
        .iter()
        .filter(|(_, p)| !hidden(p))
        .map(|(i, _)| *i)
        .collect();
    rows.retain(|(item, p)| !hidden(p) || !shown.contains(item));
    rows
}

/// A note under or beside a table (`※非滅菌手袋は枚数で記入`,
/// `（注）手袋は枚で記入`): it may name an item but is not a row label.
fn is_note(text: &str) -> bool {
    let t = crate::text::normalize(text);
    t.starts_with(['※', '*', '注'])
        || t.starts_with("(注")
        || t.starts_with("備考")
        || t.contains("ください")
        || t.contains('。')
}

/// The item rows of a table whose columns are found by their titles
/// ([`map_columns`], most specific keywords first), each with its cell in
/// every wanted column, in `wanted` order.
fn rows_by_columns<const N: usize>(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    end: u32,
    wanted: [&[&str]; N],
) -> Vec<(Item, CellPos, [Seen; N])> {
    let titles = header_titles(grid, labels, header);
    let cols = map_columns(&titles, header, wanted);
    // Fallback columns follow the reference layout (C..H).
    let first = cols.iter().copied().min().unwrap_or(header.col + 1);
    item_rows(grid, labels, header, first, end)
        .into_iter()
        .map(|(item, label)| (item, label, cols.map(|col| grid.seen(label.row, col))))
        .collect()
}

/// The institution's item rows (配布物品一覧).
pub(super) fn institution_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    end: u32,
) -> Vec<InstitutionRow> {
    // Most specific first: 備蓄見通し also contains 在庫.
    let wanted: [&[&str]; 6] = [
        &["見通し"],
        &["在庫量", "在庫"],
        &["消費"],
        &["購入"],
        &["事由"],
        &["緊急配布要請", "要請"],
    ];
    rows_by_columns(grid, labels, header, end, wanted)
        .into_iter()
        .map(
            |(item, label, [outlook, stock, weekly_use, weekly_purchase, reason, request])| {
                InstitutionRow {
                    item,
                    label,
                    request,
                    stock,
                    outlook,
                    weekly_use,
                    weekly_purchase,
                    reason,
                }
            },
        )
        .collect()
}

/// The rows of 【都道府県記入欄】.
pub(super) fn prefecture_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    end: u32,
) -> Vec<PrefectureRow> {
    let wanted: [&[&str]; 6] = [
        &["意見", "理由"],
        &["総配布", "合計"],
        &["国の", "国配布"],
        &["配布方法", "方法"],
        &["要否", "緊急配布要請"],
        &["県の", "都道府県の", "県配布", "都道府県配布"],
    ];
    rows_by_columns(grid, labels, header, end, wanted)
        .into_iter()
        .map(
            |(item, label, [opinion, total, national, method, need, pref])| PrefectureRow {
                item,
                label,
                need,
                method,
                prefecture_quantity: pref,
                national_quantity: national,
                total_quantity: total,
                opinion,
            },
        )
        .collect()
}

/// The rows of the MHLW block, with every column it has, by title.
pub(super) fn mhlw_rows(
    grid: &Grid,
    labels: &Labels<'_>,
    header: CellPos,
    end: u32,
) -> Vec<MhlwRow> {
    let titles: Vec<(u32, String)> = header_titles(grid, labels, header)
        .into_iter()
        .map(|(col, _)| {
            let shown = crate::text::normalize(grid.text(header.row, col));
            let shown = if shown.is_empty() {
                crate::text::normalize(grid.text(header.row + 1, col))
            } else {
                shown
            };
            (col, shown.replace(['\n', '\r'], ""))
        })
        .collect();
    let first = titles.first().map(|(c, _)| *c).unwrap_or(header.col + 1);
    item_rows(grid, labels, header, first, end)
        .into_iter()
        .map(|(item, label)| MhlwRow {
            item,
            label,
            cells: titles
                .iter()
                .map(|(col, title)| (title.clone(), grid.seen(label.row, *col)))
                .collect(),
        })
        .collect()
}
