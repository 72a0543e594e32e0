//! Text as the .xlsx package stores it: shared strings, inline strings and
//! the escapes inside them, read the way calamine reads them.
//!
//! The quick reader must give exactly the text calamine gives, because the
//! same workbook may be read either way (calamine still reads what the quick
//! reader declines). So this follows calamine's rules, including its odd
//! ones: unpreserved `<t>` text loses ASCII (not Unicode) spaces at its
//! ends, and phonetic readings (`<rPh>`, the IME's furigana) are dropped.
//! Anything unexpected returns `None` and the workbook goes to calamine.

use quick_xml::Reader;
use quick_xml::events::{BytesEnd, BytesRef, BytesStart, Event};
use std::borrow::Cow;

/// Reader settings shared by every part: no end-name checks (calamine does
/// none either) and text kept as it is.
pub(super) fn reader(xml: &[u8]) -> Reader<&[u8]> {
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    reader
}

/// One step through a part: an element opened (`true` when it is empty,
/// `<c/>`), an element closed, or the end of the part. Text, comments and
/// declarations are passed over.
///
/// calamine reads with empty elements expanded (`<x/>` is a start and an
/// end tag), so wherever an end tag stops it, the readers here stop at an
/// empty element of that name too.
pub(super) enum Tag<'a> {
    Open(BytesStart<'a>, bool),
    Close(BytesEnd<'a>),
    End,
}

/// The next [`Tag`]; `None` on malformed XML.
pub(super) fn next_tag<'a>(reader: &mut Reader<&'a [u8]>) -> Option<Tag<'a>> {
    loop {
        return Some(match reader.read_event().ok()? {
            Event::Start(e) => Tag::Open(e, false),
            Event::Empty(e) => Tag::Open(e, true),
            Event::End(e) => Tag::Close(e),
            Event::Eof => Tag::End,
            _ => continue,
        });
    }
}

/// The shared strings table (`xl/sharedStrings.xml`), in index order.
pub(super) fn shared_strings(xml: &[u8]) -> Option<Vec<String>> {
    let mut reader = reader(xml);
    let mut strings = Vec::new();
    let mut started = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == "sst" => started = true,
            Event::Start(e) if started && e.local_name().as_ref() == "si" => {
                let closing = e.name().as_ref().to_string();
                strings.push(rich_text(&mut reader, &closing)?);
            }
            Event::Empty(e) if started && e.local_name().as_ref() == "si" => {
                strings.push(String::new())
            }
            // An empty `<sst/>` inside ends the table too, as calamine
            // (which expands empty elements) reads it.
            Event::End(e) if started && e.local_name().as_ref() == "sst" => return Some(strings),
            Event::Empty(e) if started && e.local_name().as_ref() == "sst" => return Some(strings),
            Event::Empty(e) if !started && e.local_name().as_ref() == "sst" => {
                return Some(strings);
            }
            // A part that is not a table: calamine fails on it, so let it.
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The text of a string item (`<si>` or an inline `<is>`), up to the end tag
/// named `closing`: plain `<t>`, or rich-text runs `<r><t>` joined, without
/// phonetic readings.
pub(super) fn rich_text(reader: &mut Reader<&[u8]>, closing: &str) -> Option<String> {
    let mut text: Option<String> = None;
    let mut phonetic = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "r" => {
                text.get_or_insert_with(String::new);
            }
            Event::Start(e) if e.local_name().as_ref() == "rPh" => phonetic = true,
            Event::End(e) if e.name().as_ref() == closing => return Some(text.unwrap_or_default()),
            Event::Empty(e) if e.name().as_ref() == closing => {
                return Some(text.unwrap_or_default());
            }
            Event::End(e) if e.local_name().as_ref() == "rPh" => phonetic = false,
            Event::Start(e) if !phonetic && e.local_name().as_ref() == "t" => {
                let preserve = e
                    .try_get_attribute("xml:space")
                    .ok()?
                    .is_some_and(|a| a.value.as_ref() == "preserve");
                let raw = element_text(reader, e.name().as_ref(), Cdata::Kept)?;
                let value = if preserve {
                    unescape_excel(&raw)
                } else {
                    unescape_excel(raw.trim_matches([' ', '\t', '\r', '\n']))
                };
                match &mut text {
                    Some(text) => text.push_str(&value),
                    None => text = Some(value.into_owned()),
                }
            }
            Event::Empty(e) if !phonetic && e.local_name().as_ref() == "t" => {
                text.get_or_insert_with(String::new);
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// What counts as an element's text: calamine reads CDATA sections in
/// string items (`<t>`) but not in values and formulas.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Cdata {
    Kept,
    Skipped,
}

/// The character data of an element up to its end tag `closing`, with XML
/// entities resolved and line ends normalised; borrowed from the part when
/// it is one plain piece of text (most values are).
pub(super) fn element_text<'a>(
    reader: &mut Reader<&'a [u8]>,
    closing: &str,
    cdata: Cdata,
) -> Option<Cow<'a, str>> {
    let mut out: Option<Cow<'a, str>> = None;
    loop {
        let piece = match reader.read_event().ok()? {
            Event::Text(t) => t.xml10_content(),
            Event::CData(t) if cdata == Cdata::Kept => t.xml10_content(),
            Event::GeneralRef(r) => {
                let mut s = String::new();
                push_entity(&r, &mut s)?;
                Cow::Owned(s)
            }
            Event::End(e) if e.name().as_ref() == closing => return Some(out.unwrap_or_default()),
            Event::Empty(e) if e.name().as_ref() == closing => {
                return Some(out.unwrap_or_default());
            }
            Event::Eof => return None,
            _ => continue,
        };
        out = Some(match out {
            None => piece,
            Some(before) => Cow::Owned(before.into_owned() + &piece),
        });
    }
}

/// A plain value (a number, an index, a boolean, an error code) as calamine
/// reads it: the first piece of text, as written, when the element starts
/// with one; the rest of the element is skipped.
pub(super) fn first_text<'a>(reader: &mut Reader<&'a [u8]>, closing: &str) -> Option<&'a str> {
    let text = match reader.read_event().ok()? {
        Event::End(e) if e.name().as_ref() == closing => return Some(""),
        Event::Eof => return None,
        Event::Text(t) => match t.into_inner() {
            Cow::Borrowed(text) => text,
            Cow::Owned(_) => return None,
        },
        // An element where the value should be: calamine's reading of what
        // follows is its own.
        Event::Start(_) | Event::Empty(_) => return None,
        _ => "",
    };
    reader.read_to_end(quick_xml::name::QName(closing)).ok()?;
    Some(text)
}

/// Appends a predefined entity (`&amp;`) or a character reference (`&#x3042;`).
fn push_entity(r: &BytesRef<'_>, out: &mut String) -> Option<()> {
    let name: &str = r.as_ref();
    if let Some(s) = quick_xml::escape::resolve_xml_entity(name) {
        out.push_str(s);
        return Some(());
    }
    out.push(r.resolve_char_ref().ok()??);
    Some(())
}

/// Resolves Excel's own `_xHHHH_` escapes (a UTF-16 code unit each, such as
/// `_x000D_` for a carriage return pasted from Windows). A lone surrogate
/// becomes U+FFFD, as in calamine.
pub(super) fn unescape_excel(s: &str) -> Cow<'_, str> {
    if !s.contains("_x") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('_') {
        let Some(unit) = escape_at(rest, at) else {
            out.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            continue;
        };
        out.push_str(&rest[..at]);
        rest = &rest[at + ESCAPE_LEN..];
        let c = match unit {
            0xD800..=0xDBFF => match escape_at(rest, 0) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    rest = &rest[ESCAPE_LEN..];
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    char::from_u32(code)
                }
                _ => None,
            },
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(u32::from(unit)),
        };
        out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `_xHHHH_` is seven bytes.
const ESCAPE_LEN: usize = 7;

/// The code unit of an `_xHHHH_` escape starting at byte `at`.
fn escape_at(s: &str, at: usize) -> Option<u16> {
    let b = s.as_bytes().get(at..at + ESCAPE_LEN)?;
    if b[0] != b'_' || b[1] != b'x' || b[6] != b'_' || !b[2..6].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&b[2..6]).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_escapes_are_resolved_like_calamine() {
        for (input, want) in [
            ("a_x000D_b", "a\rb"),
            ("_x3042__x", "あ_x"),
            ("_xD83D__xDE00_", "😀"),
            ("_xD83D_x", "\u{FFFD}x"),
            ("_xDE00_", "\u{FFFD}"),
            ("_x00ZZ_ plain", "_x00ZZ_ plain"),
            ("末尾_x", "末尾_x"),
        ] {
            assert_eq!(unescape_excel(input), want, "{input:?}");
        }
    }

    #[test]
    fn shared_strings_join_runs_and_drop_readings() {
        let xml = "<sst xmlns=\"s\" count=\"4\"><si><t> 厚生 </t></si><si><r><t>非滅菌</t></r><r><rPr/><t xml:space=\"preserve\">手袋 </t></r><rPh sb=\"0\" eb=\"3\"><t>ヒメッキン</t></rPh></si><si/><si><t>A&amp;B&#x3042;</t></si></sst>";
        assert_eq!(
            shared_strings(xml.as_bytes()).unwrap(),
            vec!["厚生", "非滅菌手袋 ", "", "A&Bあ"]
        );
        assert_eq!(shared_strings(b"<sst><si><t>cut"), None);
    }
}
