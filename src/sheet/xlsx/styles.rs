//! Which cell styles show a number as a date, from `xl/styles.xml`.
//!
//! Only this matters to the reader: a serial number in a date-formatted cell
//! is shown as `2026-05-12`, any other number as itself. calamine decides
//! the same way (built-in format ids, and a scan of custom format codes for
//! date letters outside quotes, brackets and escapes); the rules are copied
//! so both readers agree, without parsing fonts, fills, borders and the
//! theme as calamine does to open a workbook.

use super::text::{Tag, next_tag, reader};
use quick_xml::events::BytesStart;
use std::collections::HashMap;

/// How a cell style shows a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    /// As a number.
    Number,
    /// As a date or a time of day.
    Date,
    /// As a duration (`[h]:mm:ss`).
    Duration,
}

/// The kind of each cell style (`cellXfs`), by style index; `None` when the
/// part cannot be parsed.
pub(super) fn number_kinds(xml: &[u8]) -> Option<Vec<NumberKind>> {
    let mut reader = reader(xml);
    let mut custom: HashMap<String, String> = HashMap::new();
    let mut kinds = Vec::new();
    // Which list the reader is in: only `numFmts` defines formats (a `dxf`
    // may hold one too) and only `cellXfs` holds the cell styles.
    let (mut in_num_fmts, mut in_cell_xfs) = (false, false);
    loop {
        let (e, empty) = match next_tag(&mut reader)? {
            Tag::Open(e, empty) => (e, empty),
            Tag::Close(e) => {
                match e.local_name().as_ref() {
                    "numFmts" => in_num_fmts = false,
                    // Nothing after the cell styles matters here (cell
                    // style names, differential formats, colours), unless
                    // another list of them follows (calamine reads both).
                    "cellXfs" => {
                        let rest = xml.get(reader.buffer_position() as usize..).unwrap_or(&[]);
                        if memchr::memmem::find(rest, b"cellXfs").is_none() {
                            return Some(kinds);
                        }
                        in_cell_xfs = false;
                    }
                    _ => {}
                }
                continue;
            }
            Tag::End => return Some(kinds),
        };
        match e.local_name().as_ref() {
            "numFmts" => in_num_fmts = !empty,
            "cellXfs" => in_cell_xfs = !empty,
            "numFmt" if in_num_fmts => {
                if let (Some(id), Some(code)) = (raw(&e, "numFmtId"), super::attr(&e, "formatCode"))
                {
                    custom.insert(id, code);
                }
            }
            "xf" if in_cell_xfs => kinds.push(match raw(&e, "numFmtId") {
                None => NumberKind::Number,
                Some(id) => match custom.get(&id) {
                    Some(code) => custom_kind(code),
                    None => builtin_kind(&id),
                },
            }),
            _ => {}
        }
    }
}

/// An attribute's raw bytes.
fn raw(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .map(|a| a.value.into_owned())
}

/// Built-in number formats by id (ECMA-376 18.8.30, and the East Asian ids
/// that are dates in a Japanese Excel).
fn builtin_kind(id: &str) -> NumberKind {
    match id {
        "14" | "15" | "16" | "17" | "18" | "19" | "20" | "21" | "22" | "45" | "47" => {
            NumberKind::Date
        }
        "27" | "28" | "29" | "30" | "31" | "32" | "33" | "34" | "35" | "36" | "50" | "51"
        | "52" | "53" | "54" | "55" | "56" | "57" | "58" => NumberKind::Date,
        "46" => NumberKind::Duration,
        _ => NumberKind::Number,
    }
}

/// Whether a custom format code shows a date: a date or time letter in its
/// first section, outside quotes, escapes and brackets (`[h]` alone makes a
/// duration). calamine's `detect_custom_number_format`, rule for rule.
fn custom_kind(format: &str) -> NumberKind {
    let mut escaped = false;
    let mut quoted = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in format.chars() {
        match (s, escaped, quoted, ap, brackets) {
            (_, true, ..) => escaped = false,
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => quoted = false,
            (_, _, true, _, _) => (),
            ('"', ..) => quoted = true,
            (';', ..) => return NumberKind::Number,
            ('[', ..) => brackets += 1,
            (']', .., 1) if hms => return NumberKind::Duration,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return NumberKind::Date,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => {
                return NumberKind::Date;
            }
            _ => {
                if !(hms && s.eq_ignore_ascii_case(&prev)) {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    NumberKind::Number
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_date_formats_are_dates() {
        for (input, want) in [
            ("yyyy\"年\"m\"月\"d\"日\"", NumberKind::Date),
            ("[$-ja-JP]ggge\"年\"m\"月\"d\"日\"", NumberKind::Date),
            ("#,##0\"枚\"", NumberKind::Number),
            ("[h]:mm:ss", NumberKind::Duration),
            ("0_);[Red](0)", NumberKind::Number),
        ] {
            assert_eq!(custom_kind(input), want, "{input:?}");
        }
        assert_eq!(builtin_kind("14"), NumberKind::Date);
        assert_eq!(builtin_kind("57"), NumberKind::Date);
        assert_eq!(builtin_kind("3"), NumberKind::Number);
    }

    #[test]
    fn styles_map_each_cell_style_to_its_kind() {
        let xml = r#"<styleSheet><numFmts count="1"><numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m&quot;月&quot;"/></numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="176" applyNumberFormat="1"/><xf numFmtId="14"><alignment/></xf><xf/></cellXfs></styleSheet>"#;
        assert_eq!(
            number_kinds(xml.as_bytes()).unwrap(),
            vec![
                NumberKind::Number,
                NumberKind::Date,
                NumberKind::Date,
                NumberKind::Number
            ]
        );
    }
}
