//! Fuzz target: arbitrary bytes as header text, a part's header block and a
//! zip member name → `message::words`. Never panics; the text is bounded by
//! the input, NFC, and carries no ESC (an undecoded ISO-2022-JP sequence).
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::message::words;

/// At most this many chars of text per input byte: a base64 byte gives at
/// most one character, a `=XX` or raw byte at most one U+FFFD or char.
const CHARS_PER_BYTE: usize = 1;

fn check(input: &[u8], text: &str) {
    assert!(
        text.chars().count() <= input.len() * CHARS_PER_BYTE + 1,
        "output longer than input"
    );
    assert!(!text.contains('\u{1b}'), "ESC in decoded text");
    assert_eq!(words::nfc(text), text, "not NFC");
}

fuzz_target!(|data: &[u8]| {
    strict::install();
    let (text, _) = words::decode_header(data);
    check(data, &text);
    if let Some(name) = words::display_name(data) {
        check(data, &name);
    }
    if let Some(name) = words::part_filename(data) {
        assert!(name.chars().count() <= data.len() + 1);
        assert_eq!(words::nfc(&name), name, "file name not NFC");
    }
    let name = words::zip_member_name(data);
    assert_eq!(words::nfc(&name), name, "zip name not NFC");
});
