//! Header text as Japanese mail programs really write it: raw header
//! splitting, RFC 2047 encoded-words, and RFC 2231 parameters with
//! continuations.
//!
//! mail-parser 0.11 decodes each RFC 2231 continuation segment
//! (`filename*0*=`, `filename*1*=`, ...) on its own, which garbles a name
//! split inside a multi-byte character and every later segment of a
//! Shift_JIS name. So file names are re-read here from the raw header bytes:
//! the segments are put in order, their bytes joined (percent-decoded where
//! extended), and only then is the whole byte string decoded with the
//! declared charset. Also handled: RFC 2047 encoded-words inside `filename=`
//! (Outlook, Becky! — not standard but common), raw 8-bit Shift_JIS or UTF-8
//! in the header, and `name=` in Content-Type as the last resort.

use super::charset;
use base64::Engine as _;

/// One header field from raw bytes: its name and its unfolded value bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawHeader {
    /// The field name as written.
    pub name: String,
    /// The value, unfolded (CR LF before whitespace removed), leading
    /// whitespace trimmed.
    pub value: Vec<u8>,
}

/// Splits a raw header block (up to the first empty line) into fields.
/// Lines without a colon are skipped; continuation lines join the previous
/// field.
pub(crate) fn split_headers(raw: &[u8]) -> Vec<RawHeader> {
    let mut fields: Vec<RawHeader> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = fields.last_mut() {
                last.value.extend_from_slice(line);
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, rest) = line.split_at(colon);
        let name = String::from_utf8_lossy(name).trim().to_string();
        if name.is_empty() || name.contains(char::is_whitespace) {
            continue;
        }
        let value = rest.get(1..).unwrap_or_default();
        let start = value
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(value.len());
        fields.push(RawHeader {
            name,
            value: value[start..].to_vec(),
        });
    }
    fields
}

/// The first field called `name` (case-insensitive).
pub(crate) fn find<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a RawHeader> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// Decodes unstructured header text: RFC 2047 encoded-words one by one
/// (see [`super::words`]) and raw 8-bit bytes by guess. Returns the text and
/// whether anything could not be decoded.
pub(crate) fn decode_words(raw: &[u8]) -> (String, bool) {
    super::words::decode_header(raw)
}

/// The longest encoded text of one encoded-word looked for.
const MAX_WORD_TEXT: usize = 1024;

/// Parses one encoded-word at the start of `s`: `=?charset?B|Q?text?=`.
/// Returns the charset (RFC 2231 language suffix dropped), the decoded bytes
/// and the length consumed.
pub(crate) fn encoded_word(s: &[u8]) -> Option<(String, Vec<u8>, usize)> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().take(64).position(|&b| b == b'?')?;
    let charset = std::str::from_utf8(&rest[..q1]).ok()?;
    let charset = charset.split('*').next().unwrap_or(charset).to_string();
    if charset.is_empty() || charset.contains(|c: char| c.is_whitespace()) {
        return None;
    }
    let enc = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    // The encoded text has no whitespace, and no client writes a word
    // anywhere near this long (RFC 2047 allows 75 characters): bounding
    // the search keeps a header full of `=?x?B?` openers linear.
    let window = rest.get(text_start..)?;
    let window = &window[..window.len().min(MAX_WORD_TEXT + 2)];
    let text_len = window
        .windows(2)
        .take_while(|w| !w[0].is_ascii_whitespace())
        .position(|w| w == b"?=")?;
    let text = &rest[text_start..text_start + text_len];
    if text.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let bytes = match enc {
        b'B' | b'b' => base64_lenient(text)?,
        b'Q' | b'q' => q_decode(text),
        _ => return None,
    };
    Some((charset, bytes, 2 + text_start + text_len + 2))
}

/// Base64 that tolerates missing padding and stray characters, as some
/// mailers produce.
pub(crate) fn base64_lenient(text: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // A dangling single character carries no whole byte.
    let usable = clean.len() - clean.len() % 4
        + if clean.len() % 4 == 1 {
            0
        } else {
            clean.len() % 4
        };
    LENIENT.decode(&clean[..usable]).ok()
}

/// RFC 2047 "Q" decoding: `_` is a space, `=XX` a byte.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => {
                if let Some(byte) = text.get(i + 1..i + 3).and_then(hex_byte) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'=');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(s, 16).ok()
}

/// Percent-decoding of an RFC 2231 extended value; a stray `%` stays.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%'
            && let Some(byte) = text.get(i + 1..i + 3).and_then(hex_byte)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// One `name=value` parameter of a structured header, value unquoted but
/// not decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Param {
    /// Lower-cased name as written, including any `*N` / `*` suffix.
    pub name: String,
    /// The value's bytes (quotes and backslash escapes removed).
    pub value: Vec<u8>,
}

/// Splits a Content-Type / Content-Disposition value into its lower-cased
/// leading token (`application/pdf`, `attachment`) and its parameters.
pub(crate) fn parse_params(value: &[u8]) -> (String, Vec<Param>) {
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    let head = String::from_utf8_lossy(&value[..end])
        .trim()
        .to_ascii_lowercase();
    let mut params = Vec::new();
    let mut i = end;
    while i < value.len() {
        // Skip separators.
        while i < value.len() && (value[i] == b';' || value[i].is_ascii_whitespace()) {
            i += 1;
        }
        let name_start = i;
        while i < value.len() && value[i] != b'=' && value[i] != b';' {
            i += 1;
        }
        let name = String::from_utf8_lossy(&value[name_start..i])
            .trim()
            .to_ascii_lowercase();
        if i >= value.len() || value[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < value.len() && (value[i] == b' ' || value[i] == b'\t') {
            i += 1;
        }
        let mut val = Vec::new();
        if value.get(i) == Some(&b'"') {
            i += 1;
            while i < value.len() {
                let b = value[i];
                if b >= 0x81
                    && value
                        .get(i + 1)
                        .is_some_and(|&t| (0x40..=0xfc).contains(&t) && t != 0x7f)
                {
                    // A Shift_JIS lead byte: its trail byte may be 0x5C
                    // (the "ソ" problem), which is not an escape.
                    val.extend_from_slice(&value[i..i + 2]);
                    i += 2;
                    continue;
                }
                // A quoted-pair only for `"` and `\`: Windows paths
                // (`C:\TEMP\x.png`) are written with bare backslashes.
                if b == b'\\' && matches!(value.get(i + 1), Some(b'"' | b'\\')) {
                    val.push(value[i + 1]);
                    i += 2;
                    continue;
                }
                i += 1;
                if b == b'"' {
                    break;
                }
                val.push(b);
            }
            // Anything after the closing quote up to ';' is junk.
            while i < value.len() && value[i] != b';' {
                i += 1;
            }
        } else {
            let start = i;
            while i < value.len() && value[i] != b';' {
                i += 1;
            }
            val = value[start..i].to_vec();
            while val.last().is_some_and(|b| b.is_ascii_whitespace()) {
                val.pop();
            }
        }
        if !name.is_empty() {
            params.push(Param { name, value: val });
        }
    }
    (head, params)
}

/// Reads parameter `name` (e.g. `filename`) from `params`, handling the
/// RFC 2231 forms `name*=`, `name*0*=`/`name*1=`... and plain `name=` with
/// RFC 2047 encoded-words or raw 8-bit text. Returns the text and whether
/// something could not be decoded.
pub(crate) fn param_text(params: &[Param], name: &str) -> Option<(String, bool)> {
    let single = format!("{name}*");
    if let Some(p) = params.iter().find(|p| p.name == single) {
        let (cs, bytes) = split_extended(&p.value);
        return Some(finish(&bytes, cs.as_deref()));
    }
    let prefix = format!("{name}*");
    let mut segments: Vec<(u32, bool, &[u8])> = params
        .iter()
        .filter_map(|p| {
            let rest = p.name.strip_prefix(&prefix)?;
            let (num, extended) = match rest.strip_suffix('*') {
                Some(n) => (n, true),
                None => (rest, false),
            };
            let n: u32 = num.parse().ok()?;
            Some((n, extended, p.value.as_slice()))
        })
        .collect();
    if !segments.is_empty() {
        segments.sort_by_key(|s| s.0);
        segments.dedup_by_key(|s| s.0);
        let mut charset = None;
        let mut bytes = Vec::new();
        for (n, extended, value) in segments {
            if extended {
                if n == 0 {
                    let (cs, b) = split_extended(value);
                    charset = cs;
                    bytes.extend_from_slice(&b);
                } else {
                    bytes.extend_from_slice(&percent_decode(value));
                }
            } else {
                bytes.extend_from_slice(value);
            }
        }
        return Some(finish(&bytes, charset.as_deref()));
    }
    let plain = params.iter().find(|p| p.name == name)?;
    Some(decode_words(&plain.value))
}

/// Decodes joined segment bytes: with the declared charset, or as header
/// text (encoded-words, guess) when none was declared.
fn finish(bytes: &[u8], charset: Option<&str>) -> (String, bool) {
    match charset {
        Some(cs) if !cs.is_empty() => charset::decode(bytes, Some(cs)),
        _ => decode_words(bytes),
    }
}

/// Splits `charset'language'percent-encoded` into the charset and the
/// decoded bytes. Without the two quotes the whole value is percent-decoded.
fn split_extended(value: &[u8]) -> (Option<String>, Vec<u8>) {
    let mut quotes = value
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\'')
        .map(|(i, _)| i);
    match (quotes.next(), quotes.next()) {
        (Some(a), Some(b)) => {
            let cs = String::from_utf8_lossy(&value[..a]).trim().to_string();
            (Some(cs), percent_decode(&value[b + 1..]))
        }
        _ => (None, percent_decode(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{ISO_2022_JP, SHIFT_JIS};

    fn filename(header: &str) -> String {
        let (_, params) = parse_params(header.as_bytes());
        param_text(&params, "filename").unwrap().0
    }

    fn pct(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("%{b:02X}")).collect()
    }

    #[test]
    fn rfc2231_utf8_split_inside_a_multibyte_character() {
        let bytes = "要請シート.xlsx".as_bytes();
        // Split after the first byte of シ (3 bytes each for the kana).
        let (a, b) = bytes.split_at(7);
        let h = format!(
            "attachment; filename*0*=UTF-8''{}; filename*1*={}",
            pct(a),
            pct(b)
        );
        assert_eq!(filename(&h), "要請シート.xlsx");
    }

    #[test]
    fn rfc2231_shift_jis_split_over_three_segments() {
        let (sjis, _, _) = SHIFT_JIS.encode("東京都緊急配布要請シート.xlsx");
        let (a, rest) = sjis.split_at(5);
        let (b, c) = rest.split_at(9);
        let h = format!(
            "attachment;\r\n filename*0*=shift_jis''{};\r\n filename*1*={};\r\n filename*2*={}",
            pct(a),
            pct(b),
            pct(c)
        )
        .replace("\r\n", "");
        assert_eq!(filename(&h), "東京都緊急配布要請シート.xlsx");
    }

    #[test]
    fn rfc2231_segments_out_of_order_and_plain_tail() {
        let h = "attachment; filename*1=\"sheet.xlsx\"; filename*0*=utf-8''%E5%A4%A7%E9%98%AA_";
        assert_eq!(filename(h), "大阪_sheet.xlsx");
    }

    #[test]
    fn rfc2231_single_extended_value() {
        assert_eq!(
            filename("attachment; filename*=UTF-8''%E5%8C%97%E6%B5%B7%E9%81%93.xls"),
            "北海道.xls"
        );
    }

    #[test]
    fn iso_2022_jp_encoded_word_filename() {
        let (jis, _, _) = ISO_2022_JP.encode("要請シート.xlsx");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&jis);
        assert_eq!(
            filename(&format!("attachment; filename=\"=?ISO-2022-JP?B?{b64}?=\"")),
            "要請シート.xlsx"
        );
    }

    #[test]
    fn encoded_words_split_inside_a_character_are_joined() {
        let bytes = "福祉局".as_bytes();
        let (a, b) = bytes.split_at(4);
        let e = base64::engine::general_purpose::STANDARD;
        let h = format!(
            "=?UTF-8?B?{}?=\r\n =?UTF-8?B?{}?=",
            e.encode(a),
            e.encode(b)
        )
        .replace("\r\n", "");
        assert_eq!(decode_words(h.as_bytes()), ("福祉局".to_string(), false));
    }

    #[test]
    fn raw_shift_jis_filename_with_0x5c_trail_byte() {
        // ソ is 0x83 0x5C in Shift_JIS: the trail byte is a backslash.
        let (sjis, _, _) = SHIFT_JIS.encode("ソフト表.xlsx");
        let mut h = b"attachment; filename=\"".to_vec();
        h.extend_from_slice(&sjis);
        h.extend_from_slice(b"\"");
        let (_, params) = parse_params(&h);
        assert_eq!(param_text(&params, "filename").unwrap().0, "ソフト表.xlsx");
    }

    #[test]
    fn bare_backslashes_of_windows_paths_are_kept() {
        assert_eq!(
            filename(r#"inline; filename="C:\TEMP\nsmailEG.png""#),
            r"C:\TEMP\nsmailEG.png"
        );
        assert_eq!(
            filename(r#"inline; filename="say \"hi\".png""#),
            r#"say "hi".png"#
        );
    }

    #[test]
    fn q_encoding_and_mixed_text() {
        assert_eq!(
            decode_words(b"Re: =?utf-8?q?=E5=8F=97=E4=BB=98_OK?= done").0,
            "Re: 受付 OK done"
        );
    }

    #[test]
    fn headers_unfold_and_stop_at_blank_line() {
        let h = split_headers(b"Subject: a\r\n b\r\nX-Y:  z\r\nbroken line\r\n\r\nBody: no\r\n");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].value, b"a b");
        assert_eq!(h[1].name, "X-Y");
        assert_eq!(h[1].value, b"z");
    }
}
