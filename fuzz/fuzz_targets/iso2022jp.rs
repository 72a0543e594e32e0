//! Fuzz target: arbitrary bytes → `message::jis::decode` (ISO-2022-JP with
//! CP932 extensions). Never panics; at most one character per input byte,
//! never an ESC; where encoding_rs's WHATWG decoder reads the bytes without
//! error, the text is the same except for the characters CP932 maps
//! differently (none in JIS X 0208 as encoding_rs indexes it).
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use encoding_rs::ISO_2022_JP;
use libfuzzer_sys::fuzz_target;
use sos_intake::message::jis;

fuzz_target!(|data: &[u8]| {
    strict::install();
    let (text, errors) = jis::decode(data);
    assert!(text.chars().count() <= data.len(), "more chars than bytes");
    assert!(!text.contains('\u{1b}'), "ESC in decoded text");
    assert_eq!(errors, text.contains('\u{fffd}'), "errors are reported");
    let (whatwg, whatwg_errors) = ISO_2022_JP.decode_without_bom_handling(data);
    // Newlines reset to ASCII here (a forgiving choice), so compare only
    // single-line, clean input.
    if !whatwg_errors && !errors && !data.contains(&b'\n') && !data.contains(&b'\r') {
        assert_eq!(text, whatwg, "disagrees with encoding_rs on clean input");
    }
});
