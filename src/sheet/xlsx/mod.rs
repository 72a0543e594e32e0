//! Reading an .xlsx package without calamine, for the common case.
//!
//! calamine opens a workbook by parsing its styles (fonts, fills, borders),
//! its theme and every other part, then streams the cells; for a 9 KB form
//! that fixed cost was most of the time to read and check a sheet. This
//! module reads only what the form needs (the workbook's sheet list, the
//! shared strings, which styles are dates, and each worksheet's cells,
//! merged ranges and hidden rows), each part inflated once.
//!
//! It follows calamine's rules and gives the same cells (a test compares
//! both on every sample), and it gives up (`None`) on anything it does not
//! know as well as calamine does: a formula shared from another cell, an
//! unknown cell type, a part under an unexpected name, a broken part. The
//! caller then reads the workbook with calamine, so every file is still read
//! by the library the issue chose, only most of them faster.
//!
//! [`sheet_paths`] and [`worksheet_layout`] serve the calamine path: its
//! merged ranges come from the tail of the worksheet XML after
//! `<sheetData>` (the schema puts `<mergeCells>` there) instead of calamine
//! parsing the whole worksheet a second time.

mod cells;
mod styles;
mod text;

pub use cells::{Cell, Window};

use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use zip::ZipArchive;

/// A merged range: zero-based `(row, col)` of its top-left and bottom-right
/// cells.
pub type Span = ((u32, u32), (u32, u32));

/// The zip path of each worksheet by name, from `xl/workbook.xml` and its
/// relationships; `None` when either cannot be read.
pub fn sheet_paths(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    limit: u64,
) -> Option<HashMap<String, String>> {
    let workbook = entry(archive, WORKBOOK, limit)?;
    let rels = entry(archive, WORKBOOK_RELS, limit)?;
    let book = workbook_part(&workbook, &rels)?;
    Some(
        book.sheets
            .into_iter()
            .filter_map(|s| Some((s.name, s.path?)))
            .collect(),
    )
}

/// One `<sheet>` of the workbook, in tab order.
struct SheetEntry {
    name: String,
    /// The zip path of its part, when its relationship resolves.
    path: Option<String>,
    /// True for a worksheet with a known visibility (not a chart or dialog
    /// sheet, not an unknown `state`): only those are read here.
    plain: bool,
    hidden: bool,
}

/// What `xl/workbook.xml` says about the sheets and dates.
struct WorkbookPart {
    sheets: Vec<SheetEntry>,
    /// Dates count from 1904 (old Mac workbooks).
    is_1904: bool,
}

/// The workbook part and its relationships, as zip paths.
const WORKBOOK: &str = "xl/workbook.xml";
const WORKBOOK_RELS: &str = "xl/_rels/workbook.xml.rels";

fn workbook_part(workbook: &[u8], rels: &[u8]) -> Option<WorkbookPart> {
    let targets: HashMap<String, (String, String)> = elements(rels, "Relationship", |e| {
        let kind = attr(e, "Type").unwrap_or_default();
        Some((attr(e, "Id")?, (attr(e, "Target")?, kind)))
    })
    .into_iter()
    .collect();
    let sheets = elements(workbook, "sheet", |e| {
        let name = attr(e, "name")?;
        let id = e.attributes().flatten().find_map(|a| {
            (a.key.local_name().as_ref() == "id" && a.key.prefix().is_some())
                .then(|| a.value.into_owned())
        });
        let target = id.and_then(|id| targets.get(&id));
        let state = attr(e, "state");
        let worksheet =
            target.is_some_and(|(_, kind)| kind.rsplit('/').next() == Some("worksheet"));
        let known_state = matches!(
            state.as_deref(),
            None | Some("visible" | "hidden" | "veryHidden")
        );
        Some(SheetEntry {
            name,
            path: target.map(|(t, _)| resolve(t)),
            plain: worksheet && known_state,
            hidden: matches!(state.as_deref(), Some("hidden" | "veryHidden")),
        })
    });
    let is_1904 = elements(workbook, "workbookPr", |e| attr(e, "date1904"))
        .iter()
        .any(|v| v == "1" || v == "true");
    Some(WorkbookPart { sheets, is_1904 })
}

/// Size limits for reading a package.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest workbook, relationships, shared strings or styles part.
    pub part_bytes: u64,
    /// Largest worksheet part (it is held in memory).
    pub sheet_bytes: u64,
    /// Worksheets read, in tab order.
    pub sheets: usize,
    /// The part of each worksheet read.
    pub window: Window,
}

/// Every worksheet of a package read without calamine.
#[derive(Debug, PartialEq)]
pub struct Package {
    /// The worksheets, in tab order (at most [`Limits::sheets`]).
    pub worksheets: Vec<Worksheet>,
    /// The names of the hidden sheets.
    pub hidden: Vec<String>,
}

/// One worksheet read without calamine.
#[derive(Debug, PartialEq)]
pub struct Worksheet {
    /// The tab's name.
    pub name: String,
    /// The cells of the window, in document order.
    pub cells: Vec<Cell>,
    /// Merged ranges and hidden rows.
    pub layout: Layout,
}

/// Reads every worksheet of the package (`bytes`, opened as `archive`);
/// `None` when something in it is left to calamine (the module's doc says
/// what).
pub fn read_package(
    bytes: &[u8],
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    limits: Limits,
) -> Option<Package> {
    let mut parts = Parts::new(bytes, archive);
    let workbook = parts.read(WORKBOOK, limits.part_bytes)?;
    let rels = parts.read(WORKBOOK_RELS, limits.part_bytes)?;
    let book = workbook_part(&workbook, &rels)?;
    if book.sheets.iter().any(|s| !s.plain) {
        return None;
    }
    let strings = match parts.optional("xl/sharedStrings.xml", limits.part_bytes)? {
        Some(xml) => text::shared_strings(&xml)?,
        None => Vec::new(),
    };
    let kinds = match parts.optional("xl/styles.xml", limits.part_bytes)? {
        Some(xml) => styles::number_kinds(&xml)?,
        None => Vec::new(),
    };
    let context = cells::Book {
        strings: &strings,
        kinds: &kinds,
        is_1904: book.is_1904,
    };
    let mut worksheets = Vec::new();
    for sheet in book.sheets.iter().take(limits.sheets) {
        let xml = parts.read(sheet.path.as_deref()?, limits.sheet_bytes)?;
        worksheets.push(Worksheet {
            name: sheet.name.clone(),
            cells: cells::read(&xml, &context, limits.window)?,
            layout: Layout::of(&xml),
        });
    }
    let hidden = book
        .sheets
        .into_iter()
        .filter(|s| s.hidden)
        .map(|s| s.name)
        .collect();
    Some(Package { worksheets, hidden })
}

/// One part of a package (`bytes`, opened as `archive`), inflated as
/// [`read_package`] inflates them; `None` when it is missing, larger than
/// `limit` or not plainly deflated (zip's reader can still try).
pub fn part<R: Read + std::io::Seek>(
    bytes: &[u8],
    archive: &mut ZipArchive<R>,
    path: &str,
    limit: u64,
) -> Option<Vec<u8>> {
    Parts::new(bytes, archive).read(path, limit)
}

/// The parts of one package, inflated by one decompressor.
///
/// zip's reader sets up a decompressor (state and window) and a chain of
/// readers for every entry; for a form whose parts are a few kilobytes each
/// that set-up cost as much as the inflating. Here the compressed bytes are
/// sliced from the package and inflated in one call into a buffer of the
/// declared size, and the CRC is checked as zip would.
struct Parts<'b, 'z, R> {
    bytes: &'b [u8],
    archive: &'z mut ZipArchive<R>,
    inflater: flate2::Decompress,
}

impl<'b, 'z, R: Read + std::io::Seek> Parts<'b, 'z, R> {
    fn new(bytes: &'b [u8], archive: &'z mut ZipArchive<R>) -> Parts<'b, 'z, R> {
        Parts {
            bytes,
            archive,
            inflater: flate2::Decompress::new(false),
        }
    }

    /// A whole entry; `None` when it is missing, larger than `limit`,
    /// encrypted, compressed another way than deflate, or damaged.
    fn read(&mut self, path: &str, limit: u64) -> Option<Vec<u8>> {
        let index = self.archive.index_for_name(path)?;
        let file = self.archive.by_index_raw(index).ok()?;
        let size = file.size();
        if size > limit || file.encrypted() {
            return None;
        }
        let start = usize::try_from(file.data_start()?).ok()?;
        let end = start.checked_add(usize::try_from(file.compressed_size()).ok()?)?;
        let (method, crc) = (file.compression(), file.crc32());
        drop(file);
        let data = self.bytes.get(start..end)?;
        let size = usize::try_from(size).ok()?;
        let out = match method {
            zip::CompressionMethod::Stored => data.to_vec(),
            zip::CompressionMethod::Deflated => self.inflate(data, size)?,
            _ => return None,
        };
        (out.len() == size && crc32fast::hash(&out) == crc).then_some(out)
    }

    /// Inflates raw deflate `data` that the zip directory says is `size`
    /// bytes; a stream that would be longer is refused, not cut.
    fn inflate(&mut self, data: &[u8], size: usize) -> Option<Vec<u8>> {
        self.inflater.reset(false);
        // One spare byte: a stream longer than declared fills it.
        let mut out = Vec::with_capacity(size.checked_add(1)?);
        let status = self
            .inflater
            .decompress_vec(data, &mut out, flate2::FlushDecompress::Finish)
            .ok()?;
        (status == flate2::Status::StreamEnd).then_some(out)
    }

    /// An optional part: `Some(None)` when the package has no such entry,
    /// `None` when it has one under another spelling (calamine matches
    /// names without regard to case or slash direction) or it cannot be
    /// read.
    fn optional(&mut self, path: &str, limit: u64) -> Option<Option<Vec<u8>>> {
        if self.archive.index_for_name(path).is_some() {
            return self.read(path, limit).map(Some);
        }
        let respelled = self
            .archive
            .file_names()
            .flatten()
            .any(|n| n.replace('\\', "/").eq_ignore_ascii_case(path));
        if respelled { None } else { Some(None) }
    }
}

/// A relationship target as a zip path: absolute (`/xl/worksheets/a.xml`)
/// or relative to `xl/` (`worksheets/a.xml`).
fn resolve(target: &str) -> String {
    match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    }
}

/// What the reader takes from one worksheet's XML beside its cells.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The merged ranges, in document order.
    pub merges: Vec<Span>,
    /// The zero-based rows marked hidden.
    pub hidden_rows: Vec<u32>,
}

impl Layout {
    /// The layout of a worksheet's XML.
    pub fn of(xml: &[u8]) -> Layout {
        Layout {
            merges: merges(xml),
            hidden_rows: hidden_rows(xml),
        }
    }
}

/// The layout of one worksheet read from its zip entry, or `None` when the
/// entry is missing, unreadable or larger than `limit` bytes.
pub fn worksheet_layout(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    path: &str,
    limit: u64,
) -> Option<Layout> {
    Some(Layout::of(&entry(archive, path, limit)?))
}

/// The zero-based rows whose `<row>` element says `hidden="1"` (or
/// `true`). A row without `r` follows the previous one.
pub fn hidden_rows(xml: &[u8]) -> Vec<u32> {
    let mut hidden = Vec::new();
    let mut next = 0u32;
    for (tag, _) in start_tags(xml, b"row") {
        let row = attr_value(tag, b"r")
            .and_then(|r| std::str::from_utf8(r).ok()?.parse::<u32>().ok())
            .map_or(next, |r| r.saturating_sub(1));
        next = row.saturating_add(1);
        if matches!(attr_value(tag, b"hidden"), Some(b"1" | b"true")) {
            hidden.push(row);
        }
    }
    hidden
}

/// The inside of every start tag named `name` (with or without a namespace
/// prefix), in document order, and whether its `>` was found (a truncated
/// part can end inside one). A byte scan, not an XML parse: text cannot
/// hold a raw `<`, so every `<row` or `<x:row` is an element.
fn start_tags<'a>(xml: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = (&'a [u8], bool)> + 'a {
    memchr::memmem::find_iter(xml, name).filter_map(move |at| {
        let rest = &xml[at + name.len()..];
        let name_ends = rest
            .first()
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/');
        if !name_ends || !starts_element(xml, at) {
            return None;
        }
        Some(match memchr::memchr(b'>', rest) {
            Some(end) => (&rest[..end], true),
            None => (rest, false),
        })
    })
}

/// True when the name at `at` opens a start tag: `<row`, or `<x:row` with a
/// namespace prefix (an end tag `</row` does not).
fn starts_element(xml: &[u8], at: usize) -> bool {
    match at.checked_sub(1).map(|i| xml[i]) {
        Some(b'<') => true,
        Some(b':') => {
            let prefix_start = xml[..at - 1]
                .iter()
                .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')));
            prefix_start.is_some_and(|i| xml[i] == b'<' && i + 1 < at - 1)
        }
        _ => false,
    }
}

/// The value of attribute `name` (no prefix) in the inside of a start tag.
fn attr_value<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut at = 0;
    while let Some(off) = memchr::memmem::find(&tag[at..], name) {
        let start = at + off;
        let after = &tag[start + name.len()..];
        let boundary = start == 0 || tag[start - 1].is_ascii_whitespace();
        if boundary && after.first() == Some(&b'=') {
            let quote = *after.get(1)?;
            if quote == b'"' || quote == b'\'' {
                let value = &after[2..];
                return Some(&value[..memchr::memchr(quote, value)?]);
            }
        }
        at = start + name.len();
    }
    None
}

/// The merged ranges of a worksheet's XML (`<mergeCell ref="B2:D2"/>`,
/// with or without a namespace prefix), in document order.
pub fn merges(xml: &[u8]) -> Vec<Span> {
    // The merged ranges follow the cells: scan from the last mention of
    // sheetData (its end tag, or the empty element) onwards.
    let from = memchr::memmem::rfind(xml, b"sheetData")
        .and_then(|at| memchr::memchr(b'>', &xml[at..]).map(|end| at + end + 1))
        .unwrap_or(0);
    let found = merge_cells(&xml[from..]);
    // A writer that put them before the cells breaks the schema's order:
    // then read the whole worksheet, as calamine would.
    if found.is_empty() && memchr::memmem::find(&xml[..from], b"mergeCell").is_some() {
        return merge_cells(xml);
    }
    found
}

/// Every complete `<mergeCell>` start tag's range.
fn merge_cells(xml: &[u8]) -> Vec<Span> {
    start_tags(xml, b"mergeCell")
        .filter(|(_, closed)| *closed)
        .filter_map(|(tag, _)| span(std::str::from_utf8(attr_value(tag, b"ref")?).ok()?))
        .collect()
}

/// `B2:D3` (or a lone `B2`) as a zero-based span.
fn span(reference: &str) -> Option<Span> {
    let (start, end) = reference.split_once(':').unwrap_or((reference, reference));
    let start = super::CellPos::parse_a1(start)?;
    let end = super::CellPos::parse_a1(end)?;
    Some(((start.row, start.col), (end.row, end.col)))
}

/// Reads a whole zip entry; `None` when it is missing, unreadable or
/// larger than `limit` bytes.
fn entry(archive: &mut ZipArchive<Cursor<&[u8]>>, path: &str, limit: u64) -> Option<Vec<u8>> {
    let file = archive.by_name(path).ok()?;
    if file.size() > limit {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(file.size().min(limit)).unwrap_or(0));
    file.take(limit).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Every element named `local` (any namespace prefix) that `pick` accepts,
/// in document order; parsing stops quietly at the first XML error.
fn elements<T>(xml: &[u8], local: &str, pick: impl Fn(&BytesStart<'_>) -> Option<T>) -> Vec<T> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut found = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == local => {
                found.extend(pick(&e));
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    found
}

/// The unescaped value of the attribute named `key` (no prefix).
fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    let a = e.try_get_attribute(key).ok()??;
    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .ok()
        .map(|v| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_ranges_after_the_cells_are_found() {
        let xml = br#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lt;mergeCell ref="Z9:Z10"/&gt;</t></is></c></row></sheetData><mergeCells count="2"><mergeCell ref="B2:D2"/><mergeCell ref="A5"/></mergeCells></worksheet>"#;
        assert_eq!(merges(xml), vec![((1, 1), (1, 3)), ((4, 0), (4, 0))]);
    }

    #[test]
    fn prefixed_elements_and_an_empty_sheet_data_are_read() {
        let xml = br#"<x:worksheet xmlns:x="s"><x:sheetData/><x:mergeCells><x:mergeCell ref="C3:E4"></x:mergeCell></x:mergeCells></x:worksheet>"#;
        assert_eq!(merges(xml), vec![((2, 2), (3, 4))]);
    }

    #[test]
    fn merged_ranges_written_before_the_cells_are_found_too() {
        let xml = br#"<worksheet><mergeCells><mergeCell ref="B2:D2"/></mergeCells><sheetData><row r="2"/></sheetData></worksheet>"#;
        assert_eq!(merges(xml), vec![((1, 1), (1, 3))]);
        // An inline string mentioning the element is not a merged range.
        let text = br#"<worksheet><sheetData><c t="inlineStr"><is><t>mergeCell</t></is></c></sheetData></worksheet>"#;
        assert_eq!(merges(text), vec![]);
    }

    #[test]
    fn hidden_rows_are_found_with_or_without_a_row_number() {
        let xml = br#"<worksheet><sheetData><row r="3" spans="1:8"><c r="A3"><v>1</v></c></row><row r="22" hidden="1" customHeight="1"/><x:row hidden='true'/><row r="30"><c t="inlineStr"><is><t>arrow hidden="1"</t></is></c></row><rowBreaks/></sheetData></worksheet>"#;
        assert_eq!(hidden_rows(xml), vec![21, 22]);
        assert_eq!(
            hidden_rows(b"<row r=\"2\" hidden=\"0\"/>"),
            Vec::<u32>::new()
        );
        assert_eq!(hidden_rows(b"<row r=\"99999999999\" hidden=\"1\""), vec![0]);
    }

    #[test]
    fn broken_references_are_skipped() {
        let xml = br#"<worksheet><sheetData/><mergeCells><mergeCell ref="??"/><mergeCell/><mergeCell ref="A1:B1"/></mergeCells>"#;
        assert_eq!(merges(xml), vec![((0, 0), (0, 1))]);
    }

    /// The quick path must find what calamine finds, on every worksheet.
    #[test]
    fn merged_ranges_match_calamines() {
        use calamine::Reader;
        let mut book = rust_xlsxwriter::Workbook::new();
        let first = book.add_worksheet().set_name("申請").unwrap();
        first
            .merge_range(1, 1, 1, 3, "医療機関名", &Default::default())
            .unwrap();
        first
            .merge_range(30, 2, 31, 2, "要", &Default::default())
            .unwrap();
        first.write(5, 0, "x").unwrap();
        let second = book.add_worksheet().set_name("記入例").unwrap();
        second
            .merge_range(0, 0, 0, 7, "【医療機関記入欄】", &Default::default())
            .unwrap();
        book.add_worksheet().set_name("空").unwrap();
        let bytes = book.save_to_buffer().unwrap();

        let mut archive = ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        let paths = sheet_paths(&mut archive, 1 << 20).unwrap();
        let mut calamine: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(&bytes[..])).unwrap();
        for name in ["申請", "記入例", "空"] {
            let ours = worksheet_layout(&mut archive, &paths[name], 1 << 20)
                .unwrap()
                .merges;
            let theirs: Vec<Span> = calamine
                .merge_cells_by_sheet_name(name)
                .unwrap()
                .into_iter()
                .map(|d| (d.start, d.end))
                .collect();
            assert_eq!(ours, theirs, "{name}");
        }
        assert_eq!(worksheet_layout(&mut archive, &paths["申請"], 10), None);
    }

    /// Every truncation and thousands of corruptions of a real worksheet's
    /// XML: no panic (the fuzz target covers the whole reader).
    #[test]
    fn damaged_worksheet_xml_never_panics() {
        let sample = std::fs::read("samples/sheets/valid.xlsx").unwrap();
        let mut archive = ZipArchive::new(Cursor::new(&sample[..])).unwrap();
        let xml = entry(&mut archive, "xl/worksheets/sheet1.xml", 1 << 20).unwrap();
        assert!(!merges(&xml).is_empty());
        for end in 0..xml.len() {
            merges(&xml[..end]);
            hidden_rows(&xml[..end]);
        }
        let mut seed = 0x2545_f491_u32;
        for _ in 0..5000 {
            let mut damaged = xml.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let at = seed as usize % damaged.len();
                let bytes = b"<>\"=:/ 9A\xff";
                damaged[at] = bytes[seed as usize % bytes.len()];
            }
            merges(&damaged);
            hidden_rows(&damaged);
        }
    }

    #[test]
    fn relationship_targets_become_zip_paths() {
        assert_eq!(resolve("worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(
            resolve("/xl/worksheets/sheet2.xml"),
            "xl/worksheets/sheet2.xml"
        );
    }
}
