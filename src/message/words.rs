//! Header text and names as people will read them: RFC 2047 encoded-words
//! decoded one by one, display names, zip member names, and Unicode NFC.
//!
//! mail-parser decodes each encoded-word on its own, which is right for
//! ISO-2022-JP (every word is self-contained: it opens with an escape
//! sequence and returns to ASCII) but garbles a UTF-8 or Shift_JIS character
//! that a client split across two words. The old joining of every adjacent
//! word's bytes was right for that case and wrong for ISO-2022-JP. Here a
//! word is decoded alone, and joined with the next word of the same charset
//! only while its bytes end inside a character (RFC 2047 §5 forbids the
//! split, but some mailers do it).
//!
//! Text shown to people is NFC: macOS writes file names decomposed (テ +
//! U+3099), which looks the same on screen but compares, sorts and searches
//! differently, and some fonts draw the mark apart.

use super::{charset, jis, rfc2231};
use encoding_rs::{DecoderResult, Encoding, ISO_2022_JP};
use unicode_normalization::UnicodeNormalization as _;

/// A piece of an unstructured header: raw text or one encoded-word.
enum Seg {
    Raw(Vec<u8>),
    Word { charset: String, bytes: Vec<u8> },
}

/// Whether some bytes decode in a charset.
#[derive(PartialEq, Eq)]
enum Fit {
    Whole,
    /// Valid so far, but the bytes end inside a character.
    Unfinished,
    Broken,
}

/// Decodes unstructured header text (a Subject, a display name, a file name
/// parameter): RFC 2047 encoded-words and raw 8-bit bytes by guess. Returns
/// the text (NFC, control characters other than tab removed) and whether
/// anything could not be decoded.
pub fn decode_header(raw: &[u8]) -> (String, bool) {
    let mut out = String::new();
    let mut garbled = false;
    let segs = split_words(raw);
    let mut i = 0;
    while i < segs.len() {
        match &segs[i] {
            Seg::Raw(bytes) => {
                let (text, bad) = charset::guess(bytes);
                push_text(&mut out, &text);
                garbled |= bad;
                i += 1;
            }
            Seg::Word { charset: cs, .. } => {
                let run_end = segs[i..]
                    .iter()
                    .position(|s| !matches!(s, Seg::Word { charset: c, .. } if c.eq_ignore_ascii_case(cs)))
                    .map_or(segs.len(), |n| i + n);
                let words: Vec<&[u8]> = segs[i..run_end]
                    .iter()
                    .filter_map(|s| match s {
                        Seg::Word { bytes, .. } => Some(bytes.as_slice()),
                        Seg::Raw(_) => None,
                    })
                    .collect();
                let (text, bad) = decode_run(cs, &words);
                push_text(&mut out, &text);
                garbled |= bad;
                i = run_end;
            }
        }
    }
    (nfc(&out), garbled)
}

/// Appends decoded text, leaving out control characters (a CR LF that
/// slipped into a word, ESC of an undecoded sequence) but keeping tabs.
fn push_text(out: &mut String, text: &str) {
    out.extend(text.chars().filter(|c| *c == '\t' || !c.is_control()));
}

/// Splits raw header bytes into raw runs and encoded-words; whitespace
/// between two encoded-words is dropped (RFC 2047 §6.2).
fn split_words(raw: &[u8]) -> Vec<Seg> {
    let mut segs: Vec<Seg> = Vec::new();
    let mut raw_run: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && raw.get(i + 1) == Some(&b'?')
            && let Some((charset, bytes, len)) = rfc2231::encoded_word(&raw[i..])
        {
            let between_words = matches!(segs.last(), Some(Seg::Word { .. }))
                && raw_run.iter().all(|b| b.is_ascii_whitespace());
            if !between_words && !raw_run.is_empty() {
                segs.push(Seg::Raw(std::mem::take(&mut raw_run)));
            }
            raw_run.clear();
            segs.push(Seg::Word { charset, bytes });
            i += len;
            continue;
        }
        raw_run.push(raw[i]);
        i += 1;
    }
    if !raw_run.is_empty() {
        segs.push(Seg::Raw(raw_run));
    }
    segs
}

/// Decodes adjacent encoded-words of one charset: each alone, joined with
/// the following ones only while it ends inside a character.
fn decode_run(label: &str, words: &[&[u8]]) -> (String, bool) {
    let Some(enc) = charset::encoding_for_label(label) else {
        // No usable label: the bytes of the run are guessed together.
        return charset::decode(&words.concat(), None);
    };
    let mut out = String::new();
    let mut garbled = false;
    let mut pending: Vec<u8> = Vec::new();
    for word in words {
        pending.extend_from_slice(word);
        if fit(enc, &pending) == Fit::Unfinished {
            continue;
        }
        let (text, bad) = charset::decode(&pending, Some(label));
        out.push_str(&text);
        garbled |= bad;
        pending.clear();
    }
    if !pending.is_empty() {
        let (text, _) = charset::decode(&pending, Some(label));
        out.push_str(&text);
        garbled = true;
    }
    (out, garbled)
}

/// Whether `bytes` decode in `enc` completely, end inside a character, or
/// are invalid. ISO-2022-JP words are self-contained: never unfinished.
fn fit(enc: &'static Encoding, bytes: &[u8]) -> Fit {
    if enc == ISO_2022_JP {
        return if jis::decode(bytes).1 {
            Fit::Broken
        } else {
            Fit::Whole
        };
    }
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut sink = String::with_capacity(bytes.len() * 3 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut sink, false);
    match result {
        DecoderResult::Malformed(..) => Fit::Broken,
        DecoderResult::InputEmpty | DecoderResult::OutputFull if read == bytes.len() => {
            let mut rest = String::with_capacity(16);
            match decoder.decode_to_string_without_replacement(b"", &mut rest, true) {
                (DecoderResult::InputEmpty, _) => Fit::Whole,
                _ => Fit::Unfinished,
            }
        }
        _ => Fit::Broken,
    }
}

/// Unicode NFC: the form every name and text shown to people is kept in.
pub fn nfc(text: &str) -> String {
    if unicode_normalization::is_nfc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes
    {
        return text.to_string();
    }
    text.nfc().collect()
}

/// The name of a zip member from its raw bytes: UTF-8 when valid (macOS
/// Archive Utility and 7-Zip write UTF-8, with or without the flag), else
/// CP932 as Windows Explorer writes it without the UTF-8 flag. NFC (macOS
/// writes decomposed kana).
pub fn zip_member_name(raw: &[u8]) -> String {
    nfc(&charset::guess(raw).0)
}

/// The display name of a `From:`-style header's raw value, decoded here:
/// the phrase before `<`, quotes removed. None without a phrase.
pub fn display_name(raw: &[u8]) -> Option<String> {
    let lt = raw.iter().rposition(|&b| b == b'<')?;
    let phrase = raw[..lt].trim_ascii();
    let phrase = phrase
        .strip_prefix(b"\"")
        .and_then(|p| p.strip_suffix(b"\""))
        .unwrap_or(phrase);
    let unescaped: Vec<u8> = unescape_quoted(phrase);
    let (name, _) = decode_header(&unescaped);
    let name = name.trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Removes backslash quoting of a quoted-string (`\"` → `"`), leaving a
/// Shift_JIS trail byte 0x5C alone.
fn unescape_quoted(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b >= 0x81 && i + 1 < s.len() {
            out.extend_from_slice(&s[i..i + 2]);
            i += 2;
            continue;
        }
        if b == b'\\' && i + 1 < s.len() {
            out.push(s[i + 1]);
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The `filename` (else Content-Type `name`) of a MIME part's raw header
/// block, decoded as [`super::parse`] does. For tests and fuzzing.
pub fn part_filename(header_block: &[u8]) -> Option<String> {
    let headers = rfc2231::split_headers(header_block);
    let params = |name: &str| {
        rfc2231::find(&headers, name)
            .map(|h| rfc2231::parse_params(&h.value).1)
            .unwrap_or_default()
    };
    rfc2231::param_text(&params("Content-Disposition"), "filename")
        .or_else(|| rfc2231::param_text(&params("Content-Type"), "name"))
        .map(|(name, _)| nfc(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use encoding_rs::SHIFT_JIS;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    /// What mail-parser makes of `Subject: {value}`.
    fn mail_parser_subject(value: &str) -> String {
        let raw = format!("Subject: {value}\r\n\r\nbody\r\n");
        mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default()
    }

    fn iso_words(parts: &[&str]) -> String {
        parts
            .iter()
            .map(|p| format!("=?ISO-2022-JP?B?{}?=", B64.encode(ISO_2022_JP.encode(p).0)))
            .collect::<Vec<_>>()
            .join("\r\n ")
    }

    #[test]
    fn subject_folded_into_two_iso_2022_jp_words() {
        // The issue's case: Outlook / Thunderbird / Python fold here.
        let value = iso_words(&["緊急配布要請シートの送付", "について（東京都）"]);
        let unfolded = value.replace("\r\n", "");
        let (text, bad) = decode_header(unfolded.as_bytes());
        assert_eq!(text, "緊急配布要請シートの送付について（東京都）");
        assert!(!bad);
        assert_eq!(text, mail_parser_subject(&value));
    }

    #[test]
    fn utf8_character_split_across_words_is_joined() {
        let bytes = "福祉局の要請".as_bytes();
        let (a, rest) = bytes.split_at(4);
        let (b, c) = rest.split_at(5);
        let value = format!(
            "=?UTF-8?B?{}?= =?UTF-8?Q?{}?= =?utf-8?B?{}?=",
            B64.encode(a),
            b.iter().map(|x| format!("={x:02X}")).collect::<String>(),
            B64.encode(c)
        );
        assert_eq!(
            decode_header(value.as_bytes()),
            ("福祉局の要請".to_string(), false)
        );
    }

    #[test]
    fn shift_jis_character_split_across_words_is_joined() {
        let (sjis, _, _) = SHIFT_JIS.encode("要請シート");
        let (a, b) = sjis.split_at(3);
        let value = format!(
            "=?Shift_JIS?B?{}?= =?Shift_JIS?B?{}?=",
            B64.encode(a),
            B64.encode(b)
        );
        assert_eq!(decode_header(value.as_bytes()).0, "要請シート");
    }

    #[test]
    fn whole_words_agree_with_mail_parser() {
        for value in [
            iso_words(&["東京都", "福祉局"]),
            format!("=?UTF-8?B?{}?=", B64.encode("大阪府 健康医療部")),
            format!(
                "Re: =?Shift_JIS?B?{}?= (2)",
                B64.encode(SHIFT_JIS.encode("要請").0)
            ),
            "=?utf-8?q?=E5=8F=97=E4=BB=98_OK?= done".to_string(),
        ] {
            let ours = decode_header(value.as_bytes()).0;
            assert_eq!(ours, mail_parser_subject(&value), "{value}");
        }
    }

    #[test]
    fn text_between_words_is_kept_whitespace_between_words_dropped() {
        let value = format!(
            "{} - {}",
            iso_words(&["要請"]),
            iso_words(&["第2報", "です"])
        );
        assert_eq!(decode_header(value.as_bytes()).0, "要請 - 第2報です");
    }

    #[test]
    fn a_header_of_unterminated_openers_is_read_quickly() {
        let raw = "=?UTF-8?B?QUJD".repeat(20_000);
        let started = std::time::Instant::now();
        let (text, _) = decode_header(raw.as_bytes());
        assert_eq!(text.len(), raw.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn decomposed_kana_is_composed() {
        let nfd = "シート\u{3099}"; // not a real word: ト + ゙ → ド
        assert_eq!(nfc(nfd), "シード");
        assert_eq!(nfc("テ\u{3099}ータ.xlsx"), "データ.xlsx");
    }

    #[test]
    fn zip_names_from_explorer_and_macos() {
        let (cp932, _, _) = SHIFT_JIS.encode("要請シート①.xlsx");
        assert_eq!(zip_member_name(&cp932), "要請シート①.xlsx");
        let nfd = "テ\u{3099}ータ/要請シート.xlsx";
        assert_eq!(zip_member_name(nfd.as_bytes()), "データ/要請シート.xlsx");
    }

    #[test]
    fn display_name_of_a_folded_iso_2022_jp_phrase() {
        let value = format!(
            "{} <sos@pref.osaka.lg.jp>",
            iso_words(&["大阪府 健康医療部", "㈱担当"])
        );
        assert_eq!(
            display_name(value.replace("\r\n", "").as_bytes()).as_deref(),
            Some("大阪府 健康医療部㈱担当")
        );
        assert_eq!(
            display_name(br#""Suzuki \"Ichiro\"" <a@b.jp>"#).as_deref(),
            Some(r#"Suzuki "Ichiro""#)
        );
        assert_eq!(display_name(b"a@b.jp"), None);
    }

    #[test]
    fn outlook_quoted_rfc2047_filename() {
        let block = format!(
            "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\r\n\tname=\"{0}\"\r\nContent-Disposition: attachment;\r\n\tfilename=\"{0}\"\r\n\r\n",
            iso_words(&["緊急配布要請シート", "（東京都）.xlsx"]).replace("\r\n ", "\r\n\t")
        );
        assert_eq!(
            part_filename(block.as_bytes()).as_deref(),
            Some("緊急配布要請シート（東京都）.xlsx")
        );
    }
}
