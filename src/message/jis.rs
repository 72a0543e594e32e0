//! ISO-2022-JP as Japanese Windows mail programs really write it: JIS X
//! 0208 with the CP932 (Windows-31J) extensions — NEC row 13 (①, ㈱, №),
//! the NEC-selected IBM rows 89–92 — and redundant or missing escape
//! sequences.
//!
//! encoding_rs implements the WHATWG ISO-2022-JP decoder, which treats an
//! escape sequence directly after another as an error (so the bytes of two
//! encoded-words joined, or Becky!'s `ESC ( B ESC $ B`, come out with
//! U+FFFD) and cannot be told to forgive a line left in JIS X 0208 mode.
//! Here every two-byte JIS X 0208 character is converted to its Shift_JIS
//! bytes and decoded with encoding_rs's `SHIFT_JIS`, which is CP932: the
//! same characters a Windows client meant, and the same mapping our
//! Shift_JIS bodies get.

use encoding_rs::SHIFT_JIS;

/// The character set an escape sequence switched to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `ESC ( B`: US-ASCII.
    Ascii,
    /// `ESC ( J`: JIS X 0201 Roman (¥ and ‾ in place of `\` and `~`).
    Roman,
    /// `ESC ( I`: JIS X 0201 half-width katakana.
    Kana,
    /// `ESC $ @`, `ESC $ B` (and JIS X 0213 plane 1, a superset): two bytes
    /// a character.
    Double,
    /// `ESC $ ( D`: JIS X 0212, which no Windows or macOS client writes;
    /// its characters are not decoded.
    Supplementary,
}

/// The longest escape sequence this decoder knows (`ESC $ ( D`).
const LONGEST_ESCAPE: usize = 4;

/// Decodes ISO-2022-JP `bytes`. Returns the text and whether anything could
/// not be decoded (then replaced by U+FFFD). Never panics; the text has at
/// most one character per input byte and never contains ESC.
pub fn decode(bytes: &[u8]) -> (String, bool) {
    let mut out = String::with_capacity(bytes.len());
    let mut errors = false;
    let mut mode = Mode::Ascii;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1b {
            match escape(&bytes[i..]) {
                Some((next, len)) => {
                    mode = next;
                    i += len;
                }
                None => {
                    out.push('\u{fffd}');
                    errors = true;
                    i += 1;
                }
            }
            continue;
        }
        if b == b'\n' || b == b'\r' {
            // RFC 1468 ends every line in ASCII; a client that forgot must
            // not turn the next line into kanji.
            mode = Mode::Ascii;
            out.push(b as char);
            i += 1;
            continue;
        }
        let (text, len, bad) = one(mode, &bytes[i..]);
        out.push_str(text.as_ref());
        errors |= bad;
        i += len;
    }
    (out, errors)
}

/// Parses the escape sequence at the start of `s` (which starts with ESC).
fn escape(s: &[u8]) -> Option<(Mode, usize)> {
    let seq = &s[..s.len().min(LONGEST_ESCAPE)];
    match seq {
        [0x1b, b'(', b'B', ..] => Some((Mode::Ascii, 3)),
        [0x1b, b'(', b'J', ..] => Some((Mode::Roman, 3)),
        [0x1b, b'(', b'I', ..] => Some((Mode::Kana, 3)),
        [0x1b, b'$', b'@' | b'B', ..] => Some((Mode::Double, 3)),
        [0x1b, b'$', b'(', b'Q' | b'O'] => Some((Mode::Double, 4)),
        [0x1b, b'$', b'(', b'D'] => Some((Mode::Supplementary, 4)),
        _ => None,
    }
}

/// Decodes the character at the start of `s` in `mode`: its text, the
/// bytes it took, and whether it was undecodable.
fn one(mode: Mode, s: &[u8]) -> (std::borrow::Cow<'static, str>, usize, bool) {
    use std::borrow::Cow;
    let b = s[0];
    let printable = (0x21..=0x7e).contains(&b);
    if b >= 0x80 {
        return (Cow::Borrowed("\u{fffd}"), 1, true);
    }
    match mode {
        _ if !printable => (Cow::Owned((b as char).to_string()), 1, false),
        Mode::Ascii => (Cow::Owned((b as char).to_string()), 1, false),
        Mode::Roman => {
            let c = match b {
                0x5c => '\u{a5}',
                0x7e => '\u{203e}',
                _ => b as char,
            };
            (Cow::Owned(c.to_string()), 1, false)
        }
        Mode::Kana => match char::from_u32(0xff61 + u32::from(b) - 0x21) {
            Some(c) if b <= 0x5f => (Cow::Owned(c.to_string()), 1, false),
            _ => (Cow::Borrowed("\u{fffd}"), 1, true),
        },
        Mode::Double | Mode::Supplementary => {
            let Some(&trail) = s.get(1).filter(|t| (0x21..=0x7e).contains(*t)) else {
                return (Cow::Borrowed("\u{fffd}"), 1, true);
            };
            if mode == Mode::Supplementary {
                return (Cow::Borrowed("\u{fffd}"), 2, true);
            }
            match SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&to_sjis(b, trail))
            {
                Some(text) => (Cow::Owned(text.into_owned()), 2, false),
                None => (Cow::Borrowed("\u{fffd}"), 2, true),
            }
        }
    }
}

/// The Shift_JIS bytes of JIS X 0208 row/cell bytes `j1 j2` (both
/// 0x21..=0x7E): the arithmetic of JIS X 0208 Annex 1.
fn to_sjis(j1: u8, j2: u8) -> [u8; 2] {
    let s1 = j1.div_ceil(2) + if j1 <= 0x5e { 0x70 } else { 0xb0 };
    let s2 = if j1 % 2 == 1 {
        j2 + if j2 >= 0x60 { 0x20 } else { 0x1f }
    } else {
        j2 + 0x7e
    };
    [s1, s2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::ISO_2022_JP;

    /// ISO-2022-JP bytes of `text` as Outlook writes them: each character
    /// looked up in CP932 and its Shift_JIS bytes turned back into JIS rows.
    pub(crate) fn outlook_jis(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut double = false;
        for c in text.chars() {
            if c.is_ascii() {
                if double {
                    out.extend_from_slice(b"\x1b(B");
                    double = false;
                }
                out.push(c as u8);
                continue;
            }
            let sjis = nec_selected(c);
            if !double {
                out.extend_from_slice(b"\x1b$B");
                double = true;
            }
            out.extend_from_slice(&to_jis(sjis));
        }
        if double {
            out.extend_from_slice(b"\x1b(B");
        }
        out
    }

    /// CP932 bytes of `c`, IBM extensions (lead 0xFA-0xFC, out of reach of
    /// 7-bit JIS) swapped for their NEC-selected twins as Windows does.
    fn nec_selected(c: char) -> [u8; 2] {
        let mut buf = [0; 4];
        let (bytes, _, _) = SHIFT_JIS.encode(c.encode_utf8(&mut buf));
        let pair = [bytes[0], bytes.get(1).copied().unwrap_or(0)];
        if pair[0] < 0xfa {
            return pair;
        }
        for lead in [0xedu8, 0xee] {
            for trail in 0x40u8..=0xfc {
                let pair = [lead, trail];
                let (t, bad) = SHIFT_JIS.decode_without_bom_handling(&pair);
                if !bad && t.chars().eq([c]) {
                    return [lead, trail];
                }
            }
        }
        pair
    }

    /// Inverse of [`to_sjis`].
    fn to_jis(s: [u8; 2]) -> [u8; 2] {
        let (s1, s2) = (s[0], s[1]);
        let row = if s1 >= 0xe0 { s1 - 0xb0 } else { s1 - 0x70 };
        if s2 >= 0x9f {
            [row * 2, s2 - 0x7e]
        } else {
            [row * 2 - 1, if s2 >= 0x80 { s2 - 0x20 } else { s2 - 0x1f }]
        }
    }

    #[test]
    fn plain_jis_x_0208_matches_encoding_rs() {
        for text in [
            "緊急配布要請シート",
            "東京都 福祉局（感染症）",
            "ＡＢＣ１２３・ー",
        ] {
            let (jis, _, _) = ISO_2022_JP.encode(text);
            assert_eq!(decode(&jis), (text.to_string(), false), "{text}");
            let whatwg = ISO_2022_JP.decode_without_bom_handling(&jis).0;
            assert_eq!(decode(&jis).0, whatwg, "{text}");
        }
    }

    #[test]
    fn cp932_extensions_from_outlook_decode() {
        // NEC row 13 and NEC-selected IBM rows 89-92.
        for text in ["①②③", "㈱○○医院", "№１２", "髙橋", "﨑", "ⅰⅱ", "～"]
        {
            let jis = outlook_jis(text);
            assert!(jis.contains(&0x1b), "{text} is escaped");
            assert_eq!(decode(&jis), (text.to_string(), false), "{text}");
        }
    }

    #[test]
    fn redundant_escapes_between_words_are_harmless() {
        let (a, _, _) = ISO_2022_JP.encode("緊急");
        let (b, _, _) = ISO_2022_JP.encode("配布");
        let joined = [a.as_ref(), b.as_ref()].concat();
        // The WHATWG decoder rejects the escape after an escape.
        assert!(ISO_2022_JP.decode_without_bom_handling(&joined).1);
        assert_eq!(decode(&joined), ("緊急配布".to_string(), false));
    }

    #[test]
    fn a_line_left_in_kanji_mode_ends_at_the_newline() {
        let mut bytes = b"\x1b$B5^\r\nabc".to_vec();
        bytes.extend_from_slice(b"\x1b(B");
        assert_eq!(decode(&bytes).0, "急\r\nabc");
    }

    #[test]
    fn half_width_katakana_and_roman() {
        assert_eq!(decode(b"\x1b(I6\x1b(B").0, "ｶ");
        assert_eq!(decode(b"\x1b(J\\~\x1b(B").0, "¥‾");
    }

    #[test]
    fn broken_input_is_replaced_not_escaped() {
        for bytes in [
            &b"\x1b$B5"[..],
            b"\x1b$(D0!",
            b"\x1b$Z",
            b"\x1b",
            b"\xff\x1b$B\x80",
        ] {
            let (text, bad) = decode(bytes);
            assert!(bad, "{bytes:?}");
            assert!(!text.contains('\u{1b}'), "{text:?}");
        }
    }
}
