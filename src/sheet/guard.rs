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

/// The most worksheets (BoundSheet8 records) a .xls may list: calamine
/// reads every one of them when the file is opened, each from its offset to
/// its end, so a few MB of BoundSheet records all pointing at the same
/// offset would be walked once per record.
pub const MAX_XLS_SHEETS: usize = 256;

/// The most BIFF record bytes walked over all worksheets of a .xls, the way
/// calamine walks them (a worksheet listed twice is walked twice): a bound
/// on calamine's work whatever the offsets say.
pub const MAX_XLS_WALK_BYTES: u64 = 64 * 1024 * 1024;

/// The most grid cells over all worksheets of a workbook (calamine holds
/// every worksheet's dense grid at once).
pub const MAX_TOTAL_DENSE_CELLS: u64 = 4 * MAX_DENSE_CELLS;

/// Why a guard refused the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The grid would be this many cells.
    TooManyCells(u64),
    /// The .xls lists this many worksheets (over [`MAX_XLS_SHEETS`]).
    TooManySheets(u64),
    /// Walking the worksheets the way calamine does would take more than
    /// [`MAX_XLS_WALK_BYTES`].
    TooMuchWork,
    /// The container could not be walked, so its size cannot be bounded.
    Unreadable,
    /// The container's structure is inconsistent in a way a reader could
    /// loop on or allocate without bound for: a chain that loops back, a
    /// sector count or size beyond the file, a sector listed twice.
    Malformed(&'static str),
}

// ---------------------------------------------------------------------------
// OLE2 compound file (.xls).
//
// calamine's own reader (`calamine::cfb`) follows every chain until it meets
// ENDOFCHAIN: a FAT entry pointing back makes it append sectors to the
// directory (asked for "the whole chain") or to a stream (asked for its
// declared size, up to 4 GiB) until the allocation fails and the process
// aborts. It also reads the FAT sectors listed by the DIFAT as often as they
// are listed. The guard therefore refuses, before calamine sees the file:
// any cycle anywhere in the FAT or the mini FAT (a valid file has none), a
// FAT or DIFAT sector listed twice or outside the file, header sector counts
// beyond the file, and stream sizes beyond the file. What is left, calamine
// walks in time and memory linear in the file.

const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
/// DIFSECT: calamine takes every DIFAT entry below this as a FAT sector.
const DIFSECT: u32 = 0xFFFF_FFFC;
/// calamine's RESERVED_SECTORS: a DIFAT chain ends at any value from here.
const RESERVED: u32 = 0xFFFF_FFFA;
/// Streams shorter than this live in the mini stream (calamine's constant).
const MINI_STREAM_CUTOFF: usize = 4096;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A minimal reader of the OLE2 container: enough to find one stream, and
/// to check every structure calamine will follow.
struct Cfb<'a> {
    bytes: &'a [u8],
    shift: u32,
    /// How many whole sectors follow the header.
    sectors: usize,
    fat: Vec<u32>,
}

impl<'a> Cfb<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Cfb<'a>, Refusal> {
        let shift = u32::from(u16_at(bytes, 0x1E).ok_or(Refusal::Unreadable)?);
        // calamine reads 512- and 4096-byte sectors and 64-byte mini sectors
        // only; anything else it refuses, and so do we.
        if shift != 9 && shift != 12 {
            return Err(Refusal::Unreadable);
        }
        if u16_at(bytes, 0x20) != Some(6) {
            return Err(Refusal::Unreadable);
        }
        let sector_len = 1usize << shift;
        let sectors = (bytes.len() / sector_len).saturating_sub(1);
        let mut cfb = Cfb {
            bytes,
            shift,
            sectors,
            fat: Vec::new(),
        };
        // Header counts: FAT sectors, mini FAT sectors, DIFAT sectors.
        for at in [0x2C, 0x40, 0x48] {
            let count = u32_at(bytes, at).ok_or(Refusal::Unreadable)?;
            if count as usize > sectors {
                return Err(Refusal::Malformed("a header sector count beyond the file"));
            }
        }
        let fat_sectors = cfb.fat_sectors()?;
        cfb.fat.reserve(fat_sectors.len() * (sector_len / 4));
        for s in fat_sectors {
            let sector = cfb.sector(s).ok_or(Refusal::Unreadable)?;
            cfb.fat
                .extend((0..sector_len / 4).filter_map(|i| u32_at(sector, 4 * i)));
        }
        if has_cycle(&cfb.fat) {
            return Err(Refusal::Malformed("a FAT chain loops back"));
        }
        Ok(cfb)
    }

    /// The FAT sectors listed by the DIFAT (the header's 109 entries, then
    /// the DIFAT chain, the last entry of each DIFAT sector pointing to the
    /// next), as calamine reads them: every entry below DIFSECT. Each DIFAT
    /// and FAT sector must lie in the file and be listed once.
    fn fat_sectors(&self) -> Result<Vec<u32>, Refusal> {
        let sector_len = 1usize << self.shift;
        let per = sector_len / 4 - 1;
        let mut seen_fat = vec![false; self.sectors];
        let mut seen_difat = vec![false; self.sectors];
        let mut out = Vec::new();
        let mut take = |id: u32, out: &mut Vec<u32>| -> Result<(), Refusal> {
            if id >= DIFSECT {
                return Ok(());
            }
            match seen_fat.get_mut(id as usize) {
                None => Err(Refusal::Malformed("a FAT sector beyond the file")),
                Some(true) => Err(Refusal::Malformed("a FAT sector listed twice")),
                Some(seen) => {
                    *seen = true;
                    out.push(id);
                    Ok(())
                }
            }
        };
        for i in 0..109 {
            take(
                u32_at(self.bytes, 0x4C + 4 * i).ok_or(Refusal::Unreadable)?,
                &mut out,
            )?;
        }
        let mut difat = u32_at(self.bytes, 0x44).ok_or(Refusal::Unreadable)?;
        while difat < RESERVED {
            match seen_difat.get_mut(difat as usize) {
                None => return Err(Refusal::Malformed("a DIFAT sector beyond the file")),
                Some(true) => return Err(Refusal::Malformed("the DIFAT chain loops back")),
                Some(seen) => *seen = true,
            }
            let sector = self.sector(difat).ok_or(Refusal::Unreadable)?;
            for i in 0..per {
                take(u32_at(sector, 4 * i).ok_or(Refusal::Unreadable)?, &mut out)?;
            }
            difat = u32_at(sector, 4 * per).ok_or(Refusal::Unreadable)?;
        }
        Ok(out)
    }

    fn sector(&self, n: u32) -> Option<&'a [u8]> {
        let len = 1usize << self.shift;
        let start = (n as usize).checked_add(1)?.checked_mul(len)?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    /// The bytes of a chain of regular sectors, up to `size` (the FAT has
    /// no cycle, so the walk ends).
    fn chain(&self, start: u32, size: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(size.min(self.bytes.len()));
        let mut s = start;
        while s != END_OF_CHAIN && out.len() < size {
            out.extend_from_slice(self.sector(s)?);
            s = *self.fat.get(s as usize)?;
        }
        out.truncate(size);
        Some(out)
    }

    /// The named stream's bytes (regular or mini stream). Checks on the way
    /// what calamine reads when it opens the file: the directory, the mini
    /// FAT (no cycle) and the sizes of the root entry and the stream (not
    /// beyond the file).
    fn stream(&self, names: &[&str]) -> Result<Vec<u8>, Refusal> {
        let dir_start = u32_at(self.bytes, 0x30).ok_or(Refusal::Unreadable)?;
        let dir = self
            .chain(dir_start, self.bytes.len())
            .ok_or(Refusal::Unreadable)?;
        let entry = |i: usize| dir.get(i * 128..i * 128 + 128);
        // calamine's reading of a name: the 64 bytes as UTF-16, up to the
        // first NUL (the length field is not looked at).
        let name_of = |e: &[u8]| -> String {
            let units: Vec<u16> = (0..32)
                .filter_map(|k| u16_at(e, 2 * k))
                .take_while(|u| *u != 0)
                .collect();
            String::from_utf16_lossy(&units)
        };
        let root = entry(0).ok_or(Refusal::Unreadable)?;
        let root_size = self.entry_size(root)?;
        if root_size > self.bytes.len() {
            return Err(Refusal::Malformed("a mini stream larger than the file"));
        }
        let mini_fat = self.mini_fat()?;
        let count = dir.len() / 128;
        // calamine asks for "Workbook" first, then "Book" (ASCII case
        // insensitive), and takes the first entry of that name.
        let found = names.iter().find_map(|want| {
            (0..count)
                .filter_map(entry)
                .find(|e| name_of(e).eq_ignore_ascii_case(want))
        });
        let e = found.ok_or(Refusal::Unreadable)?;
        let start = u32_at(e, 116).ok_or(Refusal::Unreadable)?;
        let size = self.entry_size(e)?;
        if size > self.bytes.len() {
            return Err(Refusal::Malformed("a stream larger than the file"));
        }
        if size >= MINI_STREAM_CUTOFF {
            return self.chain(start, size).ok_or(Refusal::Unreadable);
        }
        // Small streams live in the mini stream (the root's chain).
        let root_start = u32_at(root, 116).ok_or(Refusal::Unreadable)?;
        let mini_stream = self
            .chain(root_start, root_size)
            .ok_or(Refusal::Unreadable)?;
        let mini_len = 64usize;
        let mut out = Vec::with_capacity(size);
        let mut s = start;
        while s != END_OF_CHAIN && out.len() < size {
            let at = (s as usize)
                .checked_mul(mini_len)
                .ok_or(Refusal::Unreadable)?;
            let piece = mini_stream
                .get(at..at + mini_len)
                .ok_or(Refusal::Unreadable)?;
            out.extend_from_slice(piece);
            s = *mini_fat.get(s as usize).ok_or(Refusal::Unreadable)?;
        }
        out.truncate(size);
        Ok(out)
    }

    /// A directory entry's stream size as calamine reads it: 32 bits with
    /// 512-byte sectors, 64 bits with 4096-byte ones.
    fn entry_size(&self, e: &[u8]) -> Result<usize, Refusal> {
        let size = if self.shift == 12 {
            e.get(120..128)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        } else {
            u32_at(e, 120).map(u64::from)
        };
        let size = size.ok_or(Refusal::Unreadable)?;
        usize::try_from(size).map_err(|_| Refusal::Malformed("a stream larger than the file"))
    }

    /// The mini FAT, as calamine reads it (only when the header counts mini
    /// FAT sectors); refused when one of its chains loops back.
    fn mini_fat(&self) -> Result<Vec<u32>, Refusal> {
        let count = u32_at(self.bytes, 0x40).ok_or(Refusal::Unreadable)? as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        let start = u32_at(self.bytes, 0x3C).ok_or(Refusal::Unreadable)?;
        let len = count << self.shift;
        let bytes = self.chain(start, len).ok_or(Refusal::Unreadable)?;
        let mini_fat: Vec<u32> = (0..bytes.len() / 4)
            .filter_map(|k| u32_at(&bytes, 4 * k))
            .collect();
        if has_cycle(&mini_fat) {
            return Err(Refusal::Malformed("a mini FAT chain loops back"));
        }
        Ok(mini_fat)
    }
}

/// Whether any chain of a FAT (each entry the next sector, or a marker at
/// or above [`RESERVED`]) loops back. Linear: every entry is entered once.
/// An entry pointing outside the table ends its chain (calamine then fails
/// on it, which is bounded).
fn has_cycle(fat: &[u32]) -> bool {
    // 0 = not seen, 1 = on the current path, 2 = known to end.
    let mut state = vec![0u8; fat.len()];
    let mut path = Vec::new();
    for first in 0..fat.len() {
        let mut at = first;
        loop {
            match state[at] {
                1 => return true,
                2 => break,
                _ => {}
            }
            state[at] = 1;
            path.push(at);
            let next = fat[at];
            if next >= RESERVED || next as usize >= fat.len() {
                break;
            }
            at = next as usize;
        }
        for p in path.drain(..) {
            state[p] = 2;
        }
    }
    false
}

/// Bounds the work calamine does on a .xls and the grids it builds,
/// walking the BIFF records the way calamine does: the globals up to their
/// EOF (collecting each worksheet's BoundSheet8 offset), then each
/// worksheet from that offset to its EOF, skipping nested substreams.
///
/// - The container must pass the OLE2 checks above ([`Refusal::Malformed`]).
/// - At most [`MAX_XLS_SHEETS`] worksheets, walked for at most
///   [`MAX_XLS_WALK_BYTES`] in all (calamine walks a worksheet listed twice
///   twice; this guard walks each offset once and counts the rest).
/// - A worksheet's bounding box of value cells and its DIMENSIONS record
///   (calamine reserves that many cells) must both stay under
///   [`MAX_DENSE_CELLS`], and all worksheets together under
///   [`MAX_TOTAL_DENSE_CELLS`].
///
/// A container this walk cannot read is refused as [`Refusal::Unreadable`]:
/// calamine is not trusted with what we could not bound.
pub fn check_xls(bytes: &[u8]) -> Result<(), Refusal> {
    let stream = Cfb::parse(bytes)?.stream(&["workbook", "book"])?;
    let mut sheets = Vec::new();
    for (kind, data) in Records::at(&stream, 0) {
        match kind {
            0x0085 => sheets.extend(u32_at(data, 0)),
            0x000A => break,
            _ => {}
        }
        if sheets.len() > MAX_XLS_SHEETS {
            return Err(Refusal::TooManySheets(sheets.len() as u64));
        }
    }
    let mut walked: std::collections::HashMap<u32, SheetWalk> = std::collections::HashMap::new();
    let (mut work, mut cells) = (0u64, 0u64);
    for pos in sheets {
        let walk = match walked.get(&pos) {
            Some(w) => *w,
            None => {
                let w = check_xls_sheet(&stream, pos as usize)?;
                walked.insert(pos, w);
                w
            }
        };
        work = work.saturating_add(walk.bytes);
        cells = cells.saturating_add(walk.cells);
        if work > MAX_XLS_WALK_BYTES {
            return Err(Refusal::TooMuchWork);
        }
        if cells > MAX_TOTAL_DENSE_CELLS {
            return Err(Refusal::TooManyCells(cells));
        }
    }
    Ok(())
}

/// What walking one worksheet found: how many stream bytes calamine walks
/// for it, and how many cells its grid holds.
#[derive(Clone, Copy)]
struct SheetWalk {
    bytes: u64,
    cells: u64,
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

fn check_xls_sheet(stream: &[u8], pos: usize) -> Result<SheetWalk, Refusal> {
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    let mut seen_bof = false;
    let mut depth = 0usize;
    let mut reserved = 0u64;
    let mut records = Records::at(stream, pos);
    for (kind, data) in records.by_ref() {
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
                // calamine reserves, it does not add up.
                reserved = reserved.max(cells);
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
    let mut cells = 0u64;
    if let Some((r0, r1, c0, c1)) = bbox {
        cells = u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1);
        if cells > MAX_DENSE_CELLS {
            return Err(Refusal::TooManyCells(cells));
        }
    }
    Ok(SheetWalk {
        bytes: records.at.saturating_sub(pos) as u64,
        cells: cells.max(reserved),
    })
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
// Zip packages (.xlsx, .xlsm, .ods; plain .zip attachments).

/// Where each entry of a zip lies in the file, from its local header to
/// the end of its compressed data; `None` when an entry cannot be located.
fn zip_spans<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
) -> Option<Vec<(u64, u64, usize)>> {
    let mut spans = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).ok()?;
        let end = f.data_start()?.checked_add(f.compressed_size())?;
        spans.push((f.header_start(), end, i));
    }
    Some(spans)
}

/// Whether two entries of a zip share bytes: the "better zip bomb" lists
/// one small deflate stream under thousands of names, each inflating to
/// the full size, so a cap per entry alone does not bound the total. A
/// well-formed zip never overlaps. `None` when an entry cannot be located.
pub fn zip_entries_overlap<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
) -> Option<bool> {
    let mut spans = zip_spans(archive)?;
    spans.sort_unstable();
    Some(spans.windows(2).any(|w| w[1].0 < w[0].1))
}

/// Checks a zip package before any library inflates it: no two entries
/// share bytes, and every stored or deflated entry inflates to no more than
/// the size its directory entry declares (calamine and zip read an entry
/// to its end whatever the directory says, so a part declaring 1 KB could
/// inflate gigabytes). The check inflates into a fixed 64 KB buffer and
/// stops one byte past the declared size: its work is bounded by the
/// declared sizes, which the caller caps.
pub fn check_zip_package(
    bytes: &[u8],
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
) -> Result<(), Refusal> {
    let mut spans = zip_spans(archive).ok_or(Refusal::Unreadable)?;
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(Refusal::Malformed("zip entries share their data"));
    }
    let mut inflater = flate2::Decompress::new(false);
    let mut buf = vec![0u8; 64 * 1024];
    for (_, end, i) in spans {
        let f = archive.by_index_raw(i).map_err(|_| Refusal::Unreadable)?;
        let (method, size) = (f.compression(), f.size());
        let start = f.data_start().ok_or(Refusal::Unreadable)?;
        drop(f);
        let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
        let data = range
            .and_then(|(a, b)| bytes.get(a..b))
            .ok_or(Refusal::Unreadable)?;
        let real = match method {
            zip::CompressionMethod::Stored => data.len() as u64,
            zip::CompressionMethod::Deflated => inflated_len(&mut inflater, data, size, &mut buf),
            _ => continue, // zip cannot inflate it either: the reader fails
        };
        if real > size {
            return Err(Refusal::Malformed(
                "a zip entry inflates past its declared size",
            ));
        }
    }
    Ok(())
}

/// How many bytes raw deflate `data` inflates to, counting at most
/// `limit + 1` (a damaged stream counts what it gave before failing).
fn inflated_len(inflater: &mut flate2::Decompress, data: &[u8], limit: u64, buf: &mut [u8]) -> u64 {
    inflater.reset(false);
    loop {
        let before = (inflater.total_in(), inflater.total_out());
        let consumed = usize::try_from(before.0).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let status = inflater.decompress(input, buf, flate2::FlushDecompress::Finish);
        let out = inflater.total_out();
        let stalled = (inflater.total_in(), out) == before;
        match status {
            Ok(flate2::Status::StreamEnd) => return out,
            Ok(_) if out > limit || stalled => return out,
            Ok(_) => {}
            Err(_) => return out,
        }
    }
}

// ---------------------------------------------------------------------------
// OpenDocument content.xml (.ods).

/// calamine's own caps on an .ods table: rows (repeats included) and
/// columns per row.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLS: u64 = 16_384;

/// Bounds what calamine builds from an .ods `content.xml`:
///
/// - every non-empty cell counts its column repeat times its row's repeat
///   (empty repeated cells, which LibreOffice writes for the rest of the
///   sheet, are free), at most [`MAX_DENSE_CELLS`];
/// - each table's bounding box of non-empty cells, which calamine turns
///   into a dense grid (two values far apart in a 10 KB file would be
///   gigabytes), at most [`MAX_DENSE_CELLS`], all tables together at most
///   [`MAX_TOTAL_DENSE_CELLS`];
/// - the cells calamine stores while reading, row by row up to each row's
///   last non-empty cell, at most [`MAX_TOTAL_DENSE_CELLS`].
pub fn check_ods_content(xml: &[u8]) -> Result<(), Refusal> {
    let mut total: u64 = 0;
    let mut dense_total: u64 = 0;
    let mut stored: u64 = 0;
    let mut bbox: Option<(u64, u64, u64, u64)> = None;
    let (mut row, mut next_row, mut row_repeat, mut col, mut row_end) =
        (0u64, 0u64, 1u64, 0u64, 0u64);
    // The row repeat as written (the count of value cells uses it uncapped).
    let mut row_asked = 1u64;
    let close_table = |bbox: &mut Option<(u64, u64, u64, u64)>, dense_total: &mut u64| {
        if let Some((r0, r1, c0, c1)) = bbox.take() {
            let cells = (r1 - r0 + 1).saturating_mul(c1 - c0 + 1);
            if cells > MAX_DENSE_CELLS {
                return Err(Refusal::TooManyCells(cells));
            }
            *dense_total = dense_total.saturating_add(cells);
        }
        if *dense_total > MAX_TOTAL_DENSE_CELLS {
            return Err(Refusal::TooManyCells(*dense_total));
        }
        Ok(())
    };
    for tag in table_tags(xml) {
        if is_tag(tag, b"<table:table") {
            close_table(&mut bbox, &mut dense_total)?;
            (row, next_row, col, row_end) = (0, 0, 0, 0);
        } else if is_tag(tag, b"<table:table-row") {
            stored = stored.saturating_add(row_end);
            row = next_row;
            row_asked = attr_number(tag, b"table:number-rows-repeated=\"").unwrap_or(1);
            row_repeat = row_asked.min(ODS_MAX_ROWS.saturating_sub(row));
            next_row = row + row_repeat;
            (col, row_end) = (0, 0);
        } else if tag.starts_with(b"<table:table-cell")
            || tag.starts_with(b"<table:covered-table-cell")
        {
            let asked = attr_number(tag, b"table:number-columns-repeated=\"").unwrap_or(1);
            let cols = asked.min(ODS_MAX_COLS.saturating_sub(col));
            let self_closing = tag.ends_with(b"/>");
            let has_value = memmem::find(tag, b"office:value").is_some()
                || memmem::find(tag, b"table:formula").is_some();
            let non_empty = !self_closing || has_value;
            if non_empty {
                total = total.saturating_add(asked.saturating_mul(row_asked));
                if total > MAX_DENSE_CELLS {
                    return Err(Refusal::TooManyCells(total));
                }
            }
            // A row past calamine's row cap still holds its cells (repeated
            // zero times) and still stretches the grid down to it.
            if non_empty && cols > 0 {
                let r1 = row + row_repeat.max(1) - 1;
                let (r0, c0, c1) = (row, col, col + cols - 1);
                bbox = Some(match bbox {
                    None => (r0, r1, c0, c1),
                    Some((a, b, c, d)) => (a.min(r0), b.max(r1), c.min(c0), d.max(c1)),
                });
                row_end = col + cols;
            }
            col += cols;
        }
        if stored.saturating_add(row_end) > MAX_TOTAL_DENSE_CELLS {
            return Err(Refusal::TooManyCells(stored.saturating_add(row_end)));
        }
    }
    close_table(&mut bbox, &mut dense_total)
}

/// The `<table:…>` tags of an .ods `content.xml`, in order, each from its
/// `<` to its `>` (to the end of the text when it is not closed).
fn table_tags(xml: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let start = at + memmem::find(&xml[at..], b"<table:")?;
        let end = memmem::find(&xml[start..], b">").map_or(xml.len(), |e| start + e + 1);
        at = end;
        Some(&xml[start..end])
    })
}

/// True when `tag` is the element `name` (`<table:table`), not one whose
/// name merely starts with it (`<table:table-row`).
fn is_tag(tag: &[u8], name: &[u8]) -> bool {
    tag.strip_prefix(name)
        .is_some_and(|rest| rest.starts_with(b" ") || rest.starts_with(b">"))
}

/// A merged range: zero-based (row, col) of its top-left and bottom-right.
pub type Span = ((u32, u32), (u32, u32));

/// The merged ranges of each table (worksheet) of an .ods `content.xml`,
/// in document order, as zero-based `(start, end)` positions; only ranges
/// starting before row `max_row` are kept. calamine does not report them.
pub fn ods_merges(xml: &[u8], max_row: u32) -> Vec<Vec<Span>> {
    let mut tables: Vec<Vec<Span>> = Vec::new();
    let (mut row, mut next_row, mut col) = (0u64, 0u64, 0u64);
    for tag in table_tags(xml) {
        if is_tag(tag, b"<table:table") {
            tables.push(Vec::new());
            (row, next_row, col) = (0, 0, 0);
        } else if is_tag(tag, b"<table:table-row") {
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

    fn hostile(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/hostile/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_fat_cycle_is_found_in_one_pass() {
        assert!(!has_cycle(&[1, 2, END_OF_CHAIN, FATSECT_FOR_TESTS, 0]));
        assert!(has_cycle(&[1, 2, 0]));
        assert!(has_cycle(&[END_OF_CHAIN, 1]));
        // Pointing outside the table ends a chain (calamine fails there).
        assert!(!has_cycle(&[7, 0]));
    }

    const FATSECT_FOR_TESTS: u32 = 0xFFFF_FFFD;

    #[test]
    fn xls_chains_looping_back_are_refused() {
        assert_eq!(check_xls(&hostile("xls-baseline.xls")), Ok(()));
        for name in [
            "xls-fat-loop-stream.xls",
            "xls-fat-loop-directory.xls",
            "xls-fat-loop-ministream.xls",
            "xls-fat-loop-minifat-chain.xls",
            "xls-minifat-loop.xls",
            "xls-difat-loop.xls",
            "xls-sector-counts-2e32.xls",
        ] {
            assert!(
                matches!(check_xls(&hostile(name)), Err(Refusal::Malformed(_))),
                "{name}: {:?}",
                check_xls(&hostile(name))
            );
        }
    }

    #[test]
    fn xls_with_thousands_of_boundsheets_is_refused_without_walking_them() {
        let started = std::time::Instant::now();
        assert_eq!(
            check_xls(&hostile("xls-boundsheets-2k.xls")),
            Err(Refusal::TooManySheets(MAX_XLS_SHEETS as u64 + 1))
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn zip_entries_sharing_data_are_found() {
        let bytes = hostile("zip-overlapping.zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
        assert_eq!(zip_entries_overlap(&mut archive), Some(true));
        let bytes = hostile("xlsx-overlapping.xlsx");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
        assert!(check_zip_package(&bytes, &mut archive).is_err());
        let valid = std::fs::read(format!(
            "{}/samples/sheets/valid.xlsx",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&valid[..])).unwrap();
        assert_eq!(check_zip_package(&valid, &mut archive), Ok(()));
    }

    #[test]
    fn a_zip_part_inflating_past_its_declared_size_is_refused() {
        let bytes = hostile("xlsx-bomb-lying-size.xlsx");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
        assert_eq!(
            check_zip_package(&bytes, &mut archive),
            Err(Refusal::Malformed(
                "a zip entry inflates past its declared size"
            ))
        );
    }

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

    #[test]
    fn ods_values_far_apart_are_refused() {
        // A1 and a cell a million rows and 90 columns away: calamine would
        // build a dense grid of 90 million cells from these few bytes.
        let gap = br#"<table:table table:name="A"><table:table-row><table:table-cell office:value-type="float" office:value="1"/></table:table-row><table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="90"/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="89"/><table:table-cell office:value-type="float" office:value="1"/></table:table-row></table:table>"#;
        assert!(matches!(
            check_ods_content(gap),
            Err(Refusal::TooManyCells(_))
        ));
        // Many rows each with one value in the last column: calamine stores
        // every empty cell before it.
        let wide: Vec<u8> = std::iter::once(&b"<table:table>"[..])
            .chain(std::iter::repeat_n(
                &br#"<table:table-row><table:table-cell table:number-columns-repeated="16383"/><table:table-cell office:value-type="float" office:value="1"/></table:table-row>"#[..],
                300,
            ))
            .chain(std::iter::once(&b"</table:table>"[..]))
            .flatten()
            .copied()
            .collect();
        assert!(check_ods_content(&wide).is_err());
    }
}
