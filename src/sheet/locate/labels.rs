//! The short texts of a worksheet, folded once, for locating the form.

use crate::request::Item;
use crate::sheet::grid::Grid;
use crate::text::fold_label;
use std::collections::BTreeMap;

/// Longest text taken for a label, heading or item name (the notes at the
/// top of the form are longer and are not folded).
pub(super) const MAX_LABEL_CHARS: usize = 100;

/// One short cell's text, folded the ways the locating code compares it.
pub(super) struct Label {
    /// [`fold_label`] of the text.
    folded: String,
    /// [`fold_label`] of the text without its notes (`医療機関コード（10桁）`
    /// → `医療機関コード`), when that differs from `folded`.
    bare: Option<String>,
    /// The item the text names, if any.
    item: Option<Item>,
}

/// The folded text of every non-empty cell shorter than a label could be.
///
/// Locating the form compares each cell many times (headings, headers,
/// labels, item rows); folding (NFKC) is the costly part, so it is done once
/// per worksheet.
pub(super) struct Labels<'g> {
    grid: &'g Grid,
    cells: BTreeMap<(u32, u32), Label>,
}

impl<'g> Labels<'g> {
    pub(super) fn new(grid: &'g Grid) -> Labels<'g> {
        let cells = grid
            .cells
            .iter()
            .filter(|(_, c)| !c.text.is_empty() && c.text.chars().count() <= MAX_LABEL_CHARS)
            .map(|(pos, c)| {
                let folded = fold_label(&c.text);
                // strip_notes only changes text holding a bracket or ※.
                let bare = c
                    .text
                    .contains(['(', '（', '［', '[', '※', ')', '）', '］', ']'])
                    .then(|| fold_label(&crate::text::strip_notes(&c.text)))
                    .filter(|bare| *bare != folded);
                let item = Item::from_folded(&folded);
                (*pos, Label { folded, bare, item })
            })
            .collect();
        Labels { grid, cells }
    }

    /// The folded text of a short cell.
    pub(super) fn get(&self, pos: &(u32, u32)) -> Option<&String> {
        self.cells.get(pos).map(|l| &l.folded)
    }

    /// Every short cell's folded text, by position.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&(u32, u32), &String)> {
        self.cells.iter().map(|(pos, l)| (pos, &l.folded))
    }

    /// The folded text of a short cell without its notes.
    pub(super) fn bare(&self, pos: &(u32, u32)) -> &str {
        self.cells
            .get(pos)
            .map(|l| l.bare.as_deref().unwrap_or(&l.folded))
            .unwrap_or("")
    }

    /// The short cells whose text has notes, with their bare folded text.
    pub(super) fn with_notes(&self) -> impl Iterator<Item = (&(u32, u32), &str)> {
        self.cells
            .iter()
            .filter_map(|(pos, l)| l.bare.as_deref().map(|b| (pos, b)))
    }

    /// [`Item::parse`] of a cell's text.
    pub(super) fn item(&self, row: u32, col: u32) -> Option<Item> {
        match self.cells.get(&(row, col)) {
            Some(l) => l.item,
            // A long text (a note) is not cached: parse it as before.
            None => self.grid.get(row, col).and_then(|c| Item::parse(&c.text)),
        }
    }
}
