//! Step 3 of reading: locating the form in a worksheet's grid.
//!
//! [`locate`] finds the headings, labels and item rows by their folded text
//! (never by fixed cell positions: officials insert rows and columns) and
//! builds a [`RequestSheet`]. [`labels`] folds each short cell once,
//! [`fields`] reads the institution block and [`tables`] the three item
//! tables.

mod fields;
mod labels;
mod tables;

use crate::sheet::grid::{Grid, MAX_ROWS};
use crate::sheet::{CellPos, Layout, RequestSheet};
use fields::find_fields;
use labels::Labels;
use tables::{header_titles, institution_rows, mhlw_rows, prefecture_rows};

/// Which of the three item tables a 配布物品一覧 header starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Institution,
    Prefecture,
    Mhlw,
}

/// Builds the [`RequestSheet`] of one worksheet, or `None` when it does not
/// hold the form.
pub(super) fn locate(name: &str, grid: &Grid) -> Option<RequestSheet> {
    let labels = Labels::new(grid);
    let headings = Headings::find(&labels);
    let (headers, repeated_table) = classify_headers(grid, &labels, &headings);
    let has_form = headings.institution.is_some() || !headers.is_empty();
    if !has_form {
        return None;
    }
    let header_of = |b: Block| headers.iter().find(|(_, k)| *k == b).map(|(p, _)| *p);
    let inst_header = header_of(Block::Institution);
    let pref_header = header_of(Block::Prefecture);
    let mhlw_header = header_of(Block::Mhlw);

    // Block boundaries: a table ends where the next heading or header
    // starts (those of a repeated form included).
    let mut starts: Vec<u32> = labels
        .iter()
        .filter(|(_, t)| {
            t.starts_with("配布物品一覧")
                || t.starts_with("医療機関記入欄")
                || t.starts_with("都道府県記入欄")
                || t.contains("厚生労働省記入欄")
        })
        .map(|(&(r, _), _)| r)
        .collect();
    starts.extend(headers.iter().map(|(p, _)| p.row));
    starts.sort_unstable();
    let end_after = |row: u32| {
        starts
            .iter()
            .copied()
            .find(|s| *s > row)
            .unwrap_or(MAX_ROWS)
    };

    let field_limit = inst_header.map(|p| p.row).unwrap_or(MAX_ROWS);
    let institution = find_fields(grid, &labels, field_limit);
    let items = inst_header
        .map(|h| institution_rows(grid, &labels, h, end_after(h.row)))
        .unwrap_or_default();
    let prefecture = pref_header
        .map(|h| prefecture_rows(grid, &labels, h, end_after(h.row)))
        .unwrap_or_default();
    let mhlw = mhlw_header
        .map(|h| mhlw_rows(grid, &labels, h, end_after(h.row)))
        .unwrap_or_default();
    Some(RequestSheet {
        sheet: name.to_string(),
        layout: Layout {
            institution_heading: headings.institution,
            institution_table: inst_header,
            prefecture_table: pref_header.or(headings.prefecture),
            mhlw_table: mhlw_header.or(headings.mhlw),
            repeated_form: headings.institution_again.or(repeated_table),
        },
        institution,
        items,
        prefecture,
        mhlw,
    })
}

/// The three block headings, where found.
#[derive(Default)]
struct Headings {
    institution: Option<CellPos>,
    prefecture: Option<CellPos>,
    mhlw: Option<CellPos>,
    /// A second 【医療機関記入欄】: a second form on the same worksheet.
    institution_again: Option<CellPos>,
}

impl Headings {
    fn find(labels: &Labels<'_>) -> Headings {
        let mut h = Headings::default();
        for (&(row, col), text) in labels.iter() {
            let pos = CellPos::new(row, col);
            if is_heading(labels, (row, col), text, "医療機関記入欄") {
                if h.institution.is_none() {
                    h.institution = Some(pos);
                } else {
                    h.institution_again.get_or_insert(pos);
                }
            } else if h.prefecture.is_none()
                && is_heading(labels, (row, col), text, "都道府県記入欄")
            {
                h.prefecture = Some(pos);
            } else if h.mhlw.is_none() && text.contains("厚生労働省記入欄") {
                h.mhlw = Some(pos);
            }
        }
        h
    }

    /// The block of the nearest heading above `row`.
    fn above(&self, row: u32) -> Option<Block> {
        [
            (self.institution, Block::Institution),
            (self.prefecture, Block::Prefecture),
            (self.mhlw, Block::Mhlw),
        ]
        .into_iter()
        .filter_map(|(p, b)| p.filter(|p| p.row < row).map(|p| (p.row, b)))
        .max_by_key(|(r, _)| *r)
        .map(|(_, b)| b)
    }
}

/// True when a cell is the heading `key` (`【医療機関記入欄】`, maybe with
/// a short note or a `※` note after it), not a sentence of an instructions
/// sheet that starts with it (`【医療機関記入欄】は医療機関が記入してください`).
fn is_heading(labels: &Labels<'_>, pos: (u32, u32), folded: &str, key: &str) -> bool {
    if !folded.starts_with(key) {
        return false;
    }
    let limit = key.chars().count() + 6;
    folded.chars().count() <= limit || labels.bare(&pos).chars().count() <= limit
}

/// Other titles of the item column that offices give their tables.
const ALT_TABLE_HEADERS: [&str; 5] = ["品目", "品目名", "物品名", "配布物品", "品名"];

/// Finds every 配布物品一覧 header and tells which table it starts, by the
/// column titles of its row, then by the heading above it, then by order.
fn classify_headers(
    grid: &Grid,
    labels: &Labels<'_>,
    headings: &Headings,
) -> (Vec<(CellPos, Block)>, Option<CellPos>) {
    let mut found: Vec<(CellPos, Block)> = Vec::new();
    let mut repeated: Option<CellPos> = None;
    // Tables re-titled 品目 / 物品名 count only when their column titles
    // say which table they are.
    let candidates: Vec<(CellPos, bool)> = labels
        .iter()
        .filter_map(|(&pos, t)| {
            if is_heading(labels, pos, t, "配布物品一覧") {
                Some((CellPos::new(pos.0, pos.1), false))
            } else {
                ALT_TABLE_HEADERS
                    .contains(&labels.bare(&pos))
                    .then_some((CellPos::new(pos.0, pos.1), true))
            }
        })
        .collect();
    let mut n = 0usize;
    for (pos, alternative) in candidates {
        let titles: String = header_titles(grid, labels, pos)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let by_titles = if ["配布承認", "送付日", "受領日時"]
            .iter()
            .any(|k| titles.contains(k))
        {
            Some(Block::Mhlw)
        } else if ["要否", "配布方法", "総配布", "意見"]
            .iter()
            .any(|k| titles.contains(k))
        {
            Some(Block::Prefecture)
        } else if ["在庫", "見通し", "消費", "事由"]
            .iter()
            .any(|k| titles.contains(k))
        {
            Some(Block::Institution)
        } else {
            None
        };
        if alternative && by_titles.is_none() {
            continue;
        }
        let by_order = [Block::Institution, Block::Prefecture, Block::Mhlw]
            .get(n)
            .copied();
        n += 1;
        match by_titles.or_else(|| headings.above(pos.row)).or(by_order) {
            Some(block) if !found.iter().any(|(_, b)| *b == block) => found.push((pos, block)),
            // A second table of a kind already found: a second form.
            _ => {
                repeated.get_or_insert(pos);
            }
        }
    }
    (found, repeated)
}
