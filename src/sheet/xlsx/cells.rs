//! A worksheet's cells read straight from its XML (`<sheetData>`), with the
//! values calamine would give.
//!
//! Each `<c>` becomes a [`Cell`] holding a [`calamine::Data`], so the reader
//! turns it into text exactly as it turns calamine's cells. The rules are
//! calamine's (cell types, date styles, shared strings, rows and cells
//! without a reference following the previous one). What calamine would
//! reject, or what this reader does not handle (a formula shared from
//! another cell, an unknown cell type), returns `None`: the caller then
//! reads the workbook with calamine, which gives the answer or the error.

use super::styles::NumberKind;
use super::text::{
    Cdata, Tag, element_text, first_text, next_tag, reader, rich_text, unescape_excel,
};
use calamine::{CellErrorType, Data, ExcelDateTime, ExcelDateTimeType};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// One cell: zero-based position, value and formula (without `=`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Zero-based `(row, col)`.
    pub pos: (u32, u32),
    /// The value as calamine would give it (the cached value of a formula).
    pub value: Data,
    /// The formula text, when the cell has one.
    pub formula: Option<String>,
}

/// What a cell's value is read against.
pub(super) struct Book<'a> {
    pub strings: &'a [String],
    pub kinds: &'a [NumberKind],
    pub is_1904: bool,
}

/// How far into a worksheet to read.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Reading stops at the first cell on this row or below.
    pub rows: u32,
    /// Cells in this column or to its right are skipped.
    pub cols: u32,
    /// Reading stops after this many cells.
    pub cells: usize,
}

/// The cells of the worksheet's window, in document order; `None` when the
/// XML holds something left to calamine.
pub(super) fn read(xml: &[u8], book: &Book<'_>, window: Window) -> Option<Vec<Cell>> {
    let mut reader = reader(xml);
    if !seek_sheet_data(&mut reader)? {
        return Some(Vec::new());
    }
    let mut cells = Vec::new();
    let (mut row, mut col) = (0u32, 0u32);
    let mut scanned = 0usize;
    loop {
        let (e, empty) = match next_tag(&mut reader)? {
            Tag::Open(e, true) if e.local_name().as_ref() == "sheetData" => return Some(cells),
            Tag::Open(e, empty) => (e, empty),
            Tag::Close(e) if e.local_name().as_ref() == "row" => {
                (row, col) = (row.checked_add(1)?, 0);
                continue;
            }
            Tag::Close(e) if e.local_name().as_ref() == "sheetData" => return Some(cells),
            Tag::Close(_) => continue,
            Tag::End => return None,
        };
        match e.local_name().as_ref() {
            "row" => {
                let [r] = attributes(&e, ["r"])?;
                if let Some(r) = r {
                    row = row_number(r)?.checked_sub(1)?;
                }
                if empty {
                    (row, col) = (row.checked_add(1)?, 0);
                }
            }
            "c" => {
                // An empty `<c/>` (a styled blank cell, the most common kind
                // in a form) only moves the position.
                let [r, s, t] = if empty {
                    let [r] = attributes(&e, ["r"])?;
                    [r, None, None]
                } else {
                    attributes(&e, ["r", "s", "t"])?
                };
                let pos = match r {
                    Some(r) => a1(r)?,
                    None => (row, col),
                };
                col = pos.1.checked_add(1)?;
                scanned += 1;
                if pos.0 >= window.rows || scanned > window.cells {
                    return Some(cells);
                }
                if empty {
                    continue;
                }
                let (value, formula) = cell_content(&mut reader, e.name().as_ref(), book, s, t)?;
                let blank = value == Data::Empty && formula.is_none();
                if pos.1 < window.cols && !blank {
                    cells.push(Cell {
                        pos,
                        value,
                        formula,
                    });
                }
            }
            _ => {}
        }
    }
}

/// Moves past `<sheetData>`; `Some(false)` when it is empty (`<sheetData/>`).
fn seek_sheet_data(reader: &mut Reader<&[u8]>) -> Option<bool> {
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == "sheetData" => return Some(true),
            Event::Empty(e) if e.local_name().as_ref() == "sheetData" => return Some(false),
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The raw values of the attributes named in `keys`, in that order; `None`
/// when the tag's attributes are malformed or repeated: calamine's own
/// attribute reader may read those otherwise, so they are left to it.
fn attributes<'e, const N: usize>(
    e: &'e BytesStart<'_>,
    keys: [&str; N],
) -> Option<[Option<&'e str>; N]> {
    let mut values = [None; N];
    // Unchecked (quick-xml's duplicate check allocates for every tag), so
    // a repeated key is caught here.
    for a in e.attributes().with_checks(false) {
        let a = a.ok()?;
        if let Some(i) = keys.iter().position(|k| *k == a.key.as_ref()) {
            if values[i].is_some() {
                return None;
            }
            values[i] = match a.value {
                std::borrow::Cow::Borrowed(v) => Some(v),
                std::borrow::Cow::Owned(_) => return None,
            };
        }
    }
    Some(values)
}

/// Reads a `<c>`'s children up to its end tag: the value (`<v>` or an
/// inline `<is>`) and the formula (`<f>`).
fn cell_content(
    reader: &mut Reader<&[u8]>,
    closing: &str,
    book: &Book<'_>,
    style: Option<&str>,
    kind: Option<&str>,
) -> Option<(Data, Option<String>)> {
    let (mut value, mut formula) = (Data::Empty, None);
    loop {
        let (e, empty) = match reader.read_event().ok()? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.local_name().as_ref() == "c" => return Some((value, formula)),
            Event::End(e) if e.name().as_ref() == closing => return Some((value, formula)),
            Event::Eof => return None,
            _ => continue,
        };
        let name = e.name();
        let name = name.as_ref();
        match e.local_name().as_ref() {
            "v" => {
                value = match kind {
                    // An inline string's value is in `<is>`; `<v>` repeats it.
                    Some("inlineStr" | "is") => {
                        if !empty {
                            reader.read_to_end(e.name()).ok()?;
                        }
                        Data::Empty
                    }
                    // Text that may hold entities: all of it.
                    Some("str" | "d") => {
                        let text = if empty {
                            Default::default()
                        } else {
                            element_text(reader, name, Cdata::Skipped)?
                        };
                        typed_value(&text, book, style, kind)?
                    }
                    // A plain value: calamine reads only its first piece.
                    _ if empty => Data::Empty,
                    _ => match first_text(reader, name)? {
                        "" => Data::Empty,
                        text => typed_value(text, book, style, kind)?,
                    },
                };
            }
            "is" => {
                value = if empty {
                    Data::String(String::new())
                } else {
                    Data::String(rich_text(reader, name)?)
                };
            }
            "f" => {
                // A cell sharing another cell's formula carries none of its own.
                let [t, reference] = attributes(&e, ["t", "ref"])?;
                if t == Some("shared") && reference.is_none() {
                    return None;
                }
                if !empty {
                    formula = Some(element_text(reader, name, Cdata::Skipped)?.into_owned());
                }
            }
            _ => return None,
        }
    }
}

/// A `<v>` value by the cell's type (`t`) and style (`s`), as calamine types
/// it.
fn typed_value(v: &str, book: &Book<'_>, style: Option<&str>, kind: Option<&str>) -> Option<Data> {
    Some(match kind {
        Some("s") => {
            if v.is_empty() {
                return Some(Data::Empty);
            }
            Data::String(book.strings.get(index(v)?)?.clone())
        }
        Some("b") => match v.trim() {
            "" => Data::Empty,
            t if t == "0" || t.eq_ignore_ascii_case("false") => Data::Bool(false),
            t if t == "1" || t.eq_ignore_ascii_case("true") => Data::Bool(true),
            _ => return None,
        },
        Some("d") => Data::DateTimeIso(v.to_string()),
        Some("e") => Data::Error(v.parse::<CellErrorType>().ok()?),
        Some("str") => Data::String(unescape_excel(v).into_owned()),
        Some("n") | None => {
            if v.is_empty() {
                return Some(Data::Empty);
            }
            match float(v) {
                Some(n) => number(n, book, style),
                None if kind.is_none() && !looks_numeric(v) => Data::String(v.to_string()),
                None => return None,
            }
        }
        Some(_) => return None,
    })
}

/// A number shown through its cell style: a date style makes it a date.
fn number(n: f64, book: &Book<'_>, style: Option<&str>) -> Data {
    let kind = match style {
        None => Some(NumberKind::Number),
        Some(s) => book.kinds.get(index_or_zero(s)).copied(),
    };
    match kind {
        Some(NumberKind::Date) => Data::DateTime(ExcelDateTime::new(
            n,
            ExcelDateTimeType::DateTime,
            book.is_1904,
        )),
        Some(NumberKind::Duration) => Data::DateTime(ExcelDateTime::new(
            n,
            ExcelDateTimeType::TimeDelta,
            book.is_1904,
        )),
        _ => Data::Float(n),
    }
}

/// A plain decimal number (`-12.5`, `1E-3`); anything calamine's float
/// parser might read differently from Rust's (`inf`, `+1`) is refused.
fn float(v: &str) -> Option<f64> {
    let plain = v.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_digit()
            || b == b'.'
            || b == b'e'
            || b == b'E'
            || (b == b'-' && (i == 0 || matches!(v.as_bytes()[i - 1], b'e' | b'E')))
    });
    if plain { v.parse().ok() } else { None }
}

/// Text that one float parser or another might read as a number: left to
/// calamine rather than guessed.
fn looks_numeric(v: &str) -> bool {
    let t = v.trim_start_matches(['+', '-']);
    t.is_empty()
        || t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || ["inf", "nan"]
            .iter()
            .any(|w| t.len() >= 3 && t[..3].eq_ignore_ascii_case(w))
}

/// A non-negative index written in digits.
fn index(v: &str) -> Option<usize> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// A style index; calamine reads an unparsable one as style 0.
fn index_or_zero(s: &str) -> usize {
    index(s).unwrap_or(0)
}

/// A positive row number (`r` of `<row>`).
fn row_number(r: &str) -> Option<u32> {
    if r.is_empty() || r.len() > 7 || !r.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    r.parse().ok()
}

/// A cell reference (`AB12`) as zero-based `(row, col)`.
fn a1(r: &str) -> Option<(u32, u32)> {
    let letters = r.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let col = r[..letters].bytes().fold(0u32, |acc, b| {
        acc * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1
    });
    let row = row_number(&r[letters..])?.checked_sub(1)?;
    Some((row, col - 1))
}
