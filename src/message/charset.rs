//! Turning header and body bytes into text: charset labels as Japanese mail
//! programs write them, and a guess when none is declared.
//!
//! Declared charsets are often wrong or missing in Japanese mail (raw 8-bit
//! Shift_JIS in headers, `CP932` labels, ISO-2022-JP without any label), so
//! every decoder here falls back to a guess among ISO-2022-JP, UTF-8,
//! Shift_JIS and EUC-JP instead of failing.

use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8, WINDOWS_1252};

/// The encoding for a charset label, including the aliases Japanese mail
/// programs use that the WHATWG table lacks (`cp932`, `ms932`, ...).
pub(crate) fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches('"').to_ascii_lowercase();
    match label.as_str() {
        "cp932" | "ms932" | "windows-31j" | "x-sjis" | "sjis" | "shift-jis" | "x-ms-cp932" => {
            Some(SHIFT_JIS)
        }
        "iso-2022-jp-ms" | "iso-2022-jp-2" | "iso-2022-jp-3" | "iso-2022-jp-2004"
        | "csiso2022jp" | "jis" => Some(ISO_2022_JP),
        "x-euc-jp" | "eucjp" | "euc-jis-2004" => Some(EUC_JP),
        "utf8" => Some(UTF_8),
        // 8-bit bytes under a US-ASCII label are a mislabel: guess instead.
        "us-ascii" | "ascii" | "unknown-8bit" | "x-unknown" | "unknown" | "" => None,
        other => Encoding::for_label(other.as_bytes()),
    }
}

/// Decodes `bytes` with the declared charset, or a guess when it is missing
/// or unknown. Returns the text and whether undecodable bytes were replaced.
pub(crate) fn decode(bytes: &[u8], charset: Option<&str>) -> (String, bool) {
    match charset.and_then(encoding_for_label) {
        Some(enc) => {
            let (text, had_errors) = if enc == ISO_2022_JP {
                // CP932 extensions and redundant escapes, as Outlook and
                // Becky! write them (see `jis`).
                let (text, bad) = super::jis::decode(bytes);
                (std::borrow::Cow::Owned(text), bad)
            } else {
                enc.decode_without_bom_handling(bytes)
            };
            // Bytes invalid in the declared charset are usually a mislabel
            // (Shift_JIS labelled UTF-8 by an old client): a confident guess
            // wins over replacement characters.
            if had_errors {
                let (guessed, guess_errors) = guess(bytes);
                if !guess_errors {
                    return (guessed, false);
                }
            }
            (text.into_owned(), had_errors)
        }
        None => guess(bytes),
    }
}

/// Guesses the charset of undeclared bytes: ISO-2022-JP when escape
/// sequences appear, then UTF-8, Shift_JIS (CP932), EUC-JP, and
/// Windows-1252 as the last resort (it decodes any bytes). The flag is true
/// when only that last resort fitted: the text may be garbled.
pub(crate) fn guess(bytes: &[u8]) -> (String, bool) {
    if bytes.is_ascii() && !bytes.contains(&0x1b) {
        return (String::from_utf8_lossy(bytes).into_owned(), false);
    }
    if bytes.windows(2).any(|w| w == b"\x1b$" || w == b"\x1b(") {
        let (text, had_errors) = super::jis::decode(bytes);
        if !had_errors {
            return (text, false);
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), false);
    }
    for enc in [SHIFT_JIS, EUC_JP] {
        let (text, had_errors) = enc.decode_without_bom_handling(bytes);
        // User-defined (private use) characters mean the guess was wrong:
        // Latin-1 `ö` (0xF6) followed by a letter is a "valid" Shift_JIS
        // user-defined character.
        if !had_errors && !text.chars().any(|c| ('\u{e000}'..='\u{f8ff}').contains(&c)) {
            return (text.into_owned(), false);
        }
    }
    // Western European 8-bit text (Latin-1 / Windows-1252) decodes always,
    // but it is only a last guess: flagged as uncertain.
    let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
    (text.into_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_aliases_resolve() {
        assert_eq!(encoding_for_label("CP932"), Some(SHIFT_JIS));
        assert_eq!(encoding_for_label("Shift_JIS"), Some(SHIFT_JIS));
        assert_eq!(encoding_for_label("ISO-2022-JP"), Some(ISO_2022_JP));
        assert_eq!(encoding_for_label("euc-jp"), Some(EUC_JP));
        assert_eq!(encoding_for_label("us-ascii"), None);
    }

    #[test]
    fn guesses_shift_jis_and_iso_2022_jp() {
        let (sjis, _, _) = SHIFT_JIS.encode("緊急配布要請シート");
        assert_eq!(guess(&sjis), ("緊急配布要請シート".to_string(), false));
        let (jis, _, _) = ISO_2022_JP.encode("東京都福祉局");
        assert_eq!(guess(&jis), ("東京都福祉局".to_string(), false));
        assert_eq!(guess("大阪府".as_bytes()), ("大阪府".to_string(), false));
    }

    #[test]
    fn latin1_is_not_taken_for_shift_jis_user_defined_characters() {
        assert_eq!(
            guess(b"HasenundFr\xf6sche.txt"),
            ("HasenundFrösche.txt".to_string(), true)
        );
    }

    #[test]
    fn mislabelled_utf8_falls_back_to_guess() {
        let (sjis, _, _) = SHIFT_JIS.encode("北海道");
        assert_eq!(decode(&sjis, Some("utf-8")).0, "北海道");
        assert_eq!(decode(&sjis, Some("us-ascii")).0, "北海道");
    }
}
