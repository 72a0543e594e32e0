//! Control characters out of what a sheet says.
//!
//! A cell may hold NUL or other control characters (`_x0000_` in an .xlsx,
//! a BIFF string with a 0 byte). PostgreSQL refuses NUL in text and the
//! others garble pages and exports, so the pipeline removes them from every
//! value read from the form before it is checked or filed; each cell where
//! that happened becomes a finding, so the official knows the stored value
//! is not byte for byte what was typed. The workbook itself is kept as it
//! came.
//!
//! Decomposed text (Excel for Mac, text pasted from macOS: テ + U+3099) is
//! composed to NFC at the same time: what is shown and exported looks the
//! same either way, so that is not a finding.

use super::{CellPos, RequestSheet, Seen};
use crate::text::strip_controls_in_place;
use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};

/// Removes control characters from `s` (true when there were any) and
/// composes it to NFC.
fn strip(s: &mut String) -> bool {
    let found = strip_controls_in_place(s);
    if is_nfc_quick(s.chars()) != IsNormalized::Yes {
        *s = s.nfc().collect();
    }
    found
}

impl RequestSheet {
    /// Removes control characters from the sheet name and every value and
    /// formula; the cells where any were found, in sheet order.
    pub fn strip_controls(&mut self) -> Vec<CellPos> {
        strip(&mut self.sheet);
        let mut cells = Vec::new();
        for seen in self.values_mut() {
            let mut found = strip(&mut seen.text);
            if let Some(f) = seen.formula.as_mut() {
                found |= strip(f);
            }
            if found && !cells.contains(&seen.cell) {
                cells.push(seen.cell);
            }
        }
        cells.sort_by_key(|c| (c.row, c.col));
        cells
    }

    /// Every value cell of the form.
    fn values_mut(&mut self) -> impl Iterator<Item = &mut Seen> {
        let b = &mut self.institution;
        let fields = [
            &mut b.name,
            &mut b.code,
            &mut b.postcode,
            &mut b.prefecture,
            &mut b.address,
            &mut b.phone,
            &mut b.contact,
        ]
        .into_iter()
        .flat_map(|f| f.as_mut().map(|f| &mut f.value));
        let items = self.items.iter_mut().flat_map(|r| {
            [
                &mut r.request,
                &mut r.stock,
                &mut r.outlook,
                &mut r.weekly_use,
                &mut r.weekly_purchase,
                &mut r.reason,
            ]
        });
        let prefecture = self.prefecture.iter_mut().flat_map(|r| {
            [
                &mut r.need,
                &mut r.method,
                &mut r.prefecture_quantity,
                &mut r.national_quantity,
                &mut r.total_quantity,
                &mut r.opinion,
            ]
        });
        let mhlw = self
            .mhlw
            .iter_mut()
            .flat_map(|r| r.cells.iter_mut().map(|(_, seen)| seen));
        fields.chain(items).chain(prefecture).chain(mhlw)
    }
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn decomposed_cell_text_is_composed_without_a_finding() {
        let mut s = "テ\u{3099}ィスホ\u{309a}ーサ\u{3099}ル".to_string();
        assert!(!strip(&mut s));
        assert_eq!(s, "ディスポーザル");
        let mut s = "手袋\u{0}".to_string();
        assert!(strip(&mut s));
        assert_eq!(s, "手袋");
    }
}
