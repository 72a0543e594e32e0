//! Size guards that must run before calamine parses a legacy .xls or an
//! .ods: both are turned into dense in-memory grids as soon as they are
//! opened, so two cells far apart (A1 and IV65536) in an 11 KB file would
//! allocate a gigabyte. These scanners read only the structure (the OLE2
//! container and the BIFF record headers; the ODS row and cell repeat
//! counts) and bound the grid calamine would build.

use memchr::memmem;

/// The largest grid (bounding box of a worksheet's cells) accepted: about
/// 32 MB of calamine cells. The form needs a few hundred; a stray value in
/// A65536 beside the form still fits.
pub const MAX_DENSE_CELLS: u64 = 1_000_000;

/// Why a guard refused the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The grid would be this many cells.
    TooManyCells(u64),
    /// The container could not be walked, so its size cannot be bounded.
    Unreadable,
}

// ---------------------------------------------------------------------------
// OLE2 compound file (.xls).

const FREE: u32 = 0xFFFF_FFFF;
const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
/// Streams shorter than this live in the mini stream (calamine's constant).
const MINI_STREAM_CUTOFF: usize = 4096;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A minimal reader of the OLE2 container: enough to find one stream.
struct Cfb<'a> {
    bytes: &'a [u8],
    shift: u32,
    fat: Vec<u32>,
}

impl<'a> Cfb<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Cfb<'a>> {
        let shift = u32::from(u16_at(bytes, 0x1E)?);
        if !(7..=16).contains(&shift) {
            return None;
        }
        let mut cfb = Cfb {
            bytes,
            shift,
            fat: Vec::new(),
        };
        let sector_len = 1usize << shift;
        // DIFAT: 109 entries in the header, then a chain of DIFAT sectors.
        let mut fat_sectors: Vec<u32> = (0..109)
            .filter_map(|i| u32_at(bytes, 0x4C + 4 * i))
            .filter(|s| *s != FREE && *s != END_OF_CHAIN)
            .collect();
        let mut difat = u32_at(bytes, 0x44)?;
        let mut steps = 0;
        while difat != END_OF_CHAIN && difat != FREE && steps < 10_000 {
            let sector = cfb.sector(difat)?;
            let per = sector_len / 4 - 1;
            fat_sectors.extend(
                (0..per)
                    .filter_map(|i| u32_at(sector, 4 * i))
                    .filter(|s| *s != FREE && *s != END_OF_CHAIN),
            );
            difat = u32_at(sector, 4 * per)?;
            steps += 1;
        }
        for s in fat_sectors {
            let sector = cfb.sector(s)?;
            cfb.fat
                .extend((0..sector_len / 4).filter_map(|i| u32_at(sector, 4 * i)));
        }
        Some(cfb)
    }

    fn sector(&self, n: u32) -> Option<&'a [u8]> {
        let len = 1usize << self.shift;
        let start = (n as usize).checked_add(1)?.checked_mul(len)?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    /// The bytes of a chain of regular sectors, up to `size`.
    fn chain(&self, start: u32, size: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(size.min(self.bytes.len()));
        let mut s = start;
        let mut steps = 0usize;
        while s != END_OF_CHAIN && out.len() < size {
            if steps > self.fat.len() {
                return None; // a cycle
            }
            out.extend_from_slice(self.sector(s)?);
            s = *self.fat.get(s as usize)?;
            steps += 1;
        }
        out.truncate(size);
        Some(out)
    }

    /// The named stream's bytes (regular or mini stream).
    fn stream(&self, names: &[&str]) -> Option<Vec<u8>> {
        let dir_start = u32_at(self.bytes, 0x30)?;
        let dir = self.chain(dir_start, self.bytes.len())?;
        let entry = |i: usize| dir.get(i * 128..i * 128 + 128);
        let name_of = |e: &[u8]| -> String {
            let len = (u16_at(e, 64).unwrap_or(0) as usize).min(64);
            let units: Vec<u16> = (0..len / 2)
                .filter_map(|k| u16_at(e, 2 * k))
                .take_while(|u| *u != 0)
                .collect();
            String::from_utf16_lossy(&units)
        };
        let root = entry(0)?;
        let count = dir.len() / 128;
        // calamine asks for "Workbook" first, then "Book" (ASCII case
        // insensitive), and takes the first entry of that name.
        let found = names.iter().find_map(|want| {
            (0..count)
                .filter_map(entry)
                .find(|e| name_of(e).eq_ignore_ascii_case(want))
        });
        if let Some(e) = found {
            let start = u32_at(e, 116)?;
            let size = u32_at(e, 120)? as usize;
            if size >= MINI_STREAM_CUTOFF {
                return self.chain(start, size);
            }
            // Small streams live in the mini stream (the root's chain).
            let mini_stream = self.chain(u32_at(root, 116)?, u32_at(root, 120)? as usize)?;
            let mini_fat_bytes = self.chain(u32_at(self.bytes, 0x3C)?, self.bytes.len())?;
            let mini_fat: Vec<u32> = (0..mini_fat_bytes.len() / 4)
                .filter_map(|k| u32_at(&mini_fat_bytes, 4 * k))
                .collect();
            let mini_len = 1usize << u16_at(self.bytes, 0x20)?.min(12);
            let mut out = Vec::with_capacity(size);
            let mut s = start;
            let mut steps = 0usize;
            while s != END_OF_CHAIN && out.len() < size {
                if steps > mini_fat.len() {
                    return None;
                }
                let at = (s as usize).checked_mul(mini_len)?;
                out.extend_from_slice(mini_stream.get(at..at + mini_len)?);
                s = *mini_fat.get(s as usize)?;
                steps += 1;
            }
            out.truncate(size);
            return Some(out);
        }
        None
    }
}

/// Bounds the grids calamine would build for a .xls, walking the BIFF
/// records the way calamine does: the globals up to their EOF (collecting
/// each worksheet's BoundSheet8 offset), then each worksheet from that
/// offset to its EOF, skipping nested substreams. A worksheet's bounding box
/// of value cells and its DIMENSIONS record (calamine reserves that many
/// cells) must both stay under [`MAX_DENSE_CELLS`]. A container this walk
/// cannot read is refused as [`Refusal::Unreadable`]: calamine is not
/// trusted with what we could not bound.
pub fn check_xls(bytes: &[u8]) -> Result<(), Refusal> {
    let stream = Cfb::parse(bytes)
        .and_then(|c| c.stream(&["workbook", "book"]))
        .ok_or(Refusal::Unreadable)?;
    let mut sheets = Vec::new();
    for (kind, data) in Records::at(&stream, 0) {
        match kind {
            0x0085 => sheets.extend(u32_at(data, 0)),
            0x000A => break,
            _ => {}
        }
    }
    for pos in sheets {
        check_xls_sheet(&stream, pos as usize)?;
    }
    Ok(())
}

/// The BIFF records of `stream` from `at`: (type, data). Stops at the first
/// record that does not fit (calamine fails there).
struct Records<'a> {
    stream: &'a [u8],
    at: usize,
}

impl<'a> Records<'a> {
    fn at(stream: &'a [u8], at: usize) -> Records<'a> {
        Records { stream, at }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        let kind = u16_at(self.stream, self.at)?;
        let len = usize::from(u16_at(self.stream, self.at + 2)?);
        let data = self.stream.get(self.at + 4..self.at + 4 + len)?;
        self.at += 4 + len;
        Some((kind, data))
    }
}

fn check_xls_sheet(stream: &[u8], pos: usize) -> Result<(), Refusal> {
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    let mut seen_bof = false;
    let mut depth = 0usize;
    for (kind, data) in Records::at(stream, pos) {
        if depth > 0 {
            match kind {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        let cell = match kind {
            0x0809 => {
                if seen_bof {
                    depth += 1;
                }
                seen_bof = true;
                None
            }
            0x000A => break,
            0x0200 => {
                let cells = dimensions_cells(data);
                if cells > MAX_DENSE_CELLS {
                    return Err(Refusal::TooManyCells(cells));
                }
                None
            }
            // FORMULA, NUMBER, RK, LABELSST, LABEL, BOOLERR, RSTRING
            0x0006 | 0x0203 | 0x027E | 0x00FD | 0x0204 | 0x0205 | 0x00D6 => {
                u16_at(data, 0).zip(u16_at(data, 2)).map(|(r, c)| (r, c, c))
            }
            // MULRK: row, first column, ..., last column
            0x00BD if data.len() >= 6 => {
                let last = u16_at(data, data.len() - 2);
                u16_at(data, 0)
                    .zip(u16_at(data, 2))
                    .zip(last)
                    .map(|((r, c0), c1)| (r, c0, c1))
            }
            _ => None,
        };
        if let Some((r, c0, c1)) = cell {
            let (r, c0, c1) = (u32::from(r), u32::from(c0.min(c1)), u32::from(c1.max(c0)));
            bbox = Some(match bbox {
                None => (r, r, c0, c1),
                Some((a, b, c, d)) => (a.min(r), b.max(r), c.min(c0), d.max(c1)),
            });
        }
    }
    if let Some((r0, r1, c0, c1)) = bbox {
        let cells = u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1);
        if cells > MAX_DENSE_CELLS {
            return Err(Refusal::TooManyCells(cells));
        }
    }
    Ok(())
}

/// The number of cells calamine reserves for a DIMENSIONS record (its
/// arithmetic, without its wrap-around: a last row before the first counts
/// as huge).
fn dimensions_cells(r: &[u8]) -> u64 {
    let (rf, rl, mut cf, cl) = match r.len() {
        10 => (
            u32::from(u16_at(r, 0).unwrap_or(0)),
            u32::from(u16_at(r, 2).unwrap_or(0)),
            u32::from(u16_at(r, 4).unwrap_or(0)),
            u32::from(u16_at(r, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(r, 0).unwrap_or(0),
            u32_at(r, 4).unwrap_or(0),
            u32::from(u16_at(r, 8).unwrap_or(0)),
            u32::from(u16_at(r, 10).unwrap_or(0)),
        ),
        _ => return 0, // calamine refuses the record
    };
    if 0xFF < cf || cl < cf {
        cf = 0;
    }
    if rl < 1 || cl < 1 {
        return 1;
    }
    let (rows, cols) = (u64::from(rl - 1), u64::from(cl - 1));
    if rows < u64::from(rf) || cols < u64::from(cf) {
        return u64::MAX;
    }
    (rows - u64::from(rf) + 1) * (cols - u64::from(cf) + 1)
}

// ---------------------------------------------------------------------------
// OpenDocument content.xml (.ods).

/// Bounds the cells calamine would expand for an .ods `content.xml`: every
/// non-empty cell counts its column repeat times its row's repeat. Empty
/// repeated cells (LibreOffice writes them for the rest of the sheet) are
/// free.
pub fn check_ods_content(xml: &[u8]) -> Result<(), Refusal> {
    let mut total: u64 = 0;
    let mut row_repeat: u64 = 1;
    let mut at = 0usize;
    while let Some(off) = memmem::find(&xml[at..], b"<table:") {
        let start = at + off;
        let end = memmem::find(&xml[start..], b">").map_or(xml.len(), |e| start + e + 1);
        let tag = &xml[start..end];
        at = end;
        if tag.starts_with(b"<table:table-row ") || tag.starts_with(b"<table:table-row>") {
            row_repeat = attr_number(tag, b"table:number-rows-repeated=\"").unwrap_or(1);
        } else if tag.starts_with(b"<table:table-cell")
            || tag.starts_with(b"<table:covered-table-cell")
        {
            let self_closing = tag.ends_with(b"/>");
            let has_value = memmem::find(tag, b"office:value").is_some()
                || memmem::find(tag, b"table:formula").is_some();
            if !self_closing || has_value {
                let cols = attr_number(tag, b"table:number-columns-repeated=\"").unwrap_or(1);
                total = total.saturating_add(cols.saturating_mul(row_repeat));
                if total > MAX_DENSE_CELLS {
                    return Err(Refusal::TooManyCells(total));
                }
            }
        }
    }
    Ok(())
}

/// A merged range: zero-based (row, col) of its top-left and bottom-right.
pub type Span = ((u32, u32), (u32, u32));

/// The merged ranges of each table (worksheet) of an .ods `content.xml`,
/// in document order, as zero-based `(start, end)` positions; only ranges
/// starting before row `max_row` are kept. calamine does not report them.
pub fn ods_merges(xml: &[u8], max_row: u32) -> Vec<Vec<Span>> {
    let mut tables: Vec<Vec<Span>> = Vec::new();
    let (mut row, mut next_row, mut col) = (0u64, 0u64, 0u64);
    let mut at = 0usize;
    while let Some(off) = memmem::find(&xml[at..], b"<table:") {
        let start = at + off;
        let end = memmem::find(&xml[start..], b">").map_or(xml.len(), |e| start + e + 1);
        let tag = &xml[start..end];
        at = end;
        if tag.starts_with(b"<table:table ") || tag.starts_with(b"<table:table>") {
            tables.push(Vec::new());
            (row, next_row, col) = (0, 0, 0);
        } else if tag.starts_with(b"<table:table-row ") || tag.starts_with(b"<table:table-row>") {
            row = next_row;
            next_row =
                row.saturating_add(attr_number(tag, b"table:number-rows-repeated=\"").unwrap_or(1));
            col = 0;
        } else if tag.starts_with(b"<table:table-cell")
            || tag.starts_with(b"<table:covered-table-cell")
        {
            let cols = attr_number(tag, b"table:number-columns-repeated=\"").unwrap_or(1);
            let spans = (
                attr_number(tag, b"table:number-rows-spanned=\"").unwrap_or(1),
                attr_number(tag, b"table:number-columns-spanned=\"").unwrap_or(1),
            );
            if (spans.0 > 1 || spans.1 > 1)
                && row < u64::from(max_row)
                && let Some(table) = tables.last_mut()
                && table.len() < 10_000
            {
                let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                table.push((
                    (clamp(row), clamp(col)),
                    (
                        clamp(row.saturating_add(spans.0.saturating_sub(1))),
                        clamp(col.saturating_add(spans.1.saturating_sub(1))),
                    ),
                ));
            }
            col = col.saturating_add(cols);
        }
    }
    tables
}

fn attr_number(tag: &[u8], attr: &[u8]) -> Option<u64> {
    let at = memmem::find(tag, attr)? + attr.len();
    let digits: Vec<u8> = tag
        .get(at..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_merges_are_found_with_absolute_positions() {
        let xml = br#"<table:table table:name="A"><table:table-column/><table:table-row table:number-rows-repeated="11"><table:table-cell/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="2"/><table:table-cell table:number-columns-spanned="6" table:number-rows-spanned="1" office:value-type="string"><text:p>x</text:p></table:table-cell><table:covered-table-cell table:number-columns-repeated="5"/></table:table-row></table:table><table:table table:name="B"></table:table>"#;
        assert_eq!(ods_merges(xml, 400), vec![vec![((11, 2), (11, 7))], vec![]]);
        let zero = br#"<table:table><table:table-row><table:table-cell table:number-rows-spanned="0" table:number-columns-spanned="2"/></table:table-row></table:table>"#;
        assert_eq!(ods_merges(zero, 400), vec![vec![((0, 0), (0, 1))]]);
    }

    #[test]
    fn ods_repeated_value_cells_are_counted() {
        let ok = br#"<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>"#;
        assert_eq!(check_ods_content(ok), Ok(()));
        let bomb = br#"<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024" office:value-type="float" office:value="1"/></table:table-row>"#;
        assert!(check_ods_content(bomb).is_err());
    }
}
