//! Fuzz target: arbitrary bytes as a received mail → `message::parse` →
//! `conversation::facts`, and the same bytes as subject and body text
//! through every scanner of `src/conversation.rs` (receipt numbers,
//! password words, download links, quoted-mail cut, password masking).
//! Never panics; receipts have the stored shape; at most
//! `MAX_REFERENCES` references; masking never lengthens a line by more
//! than the mask itself nor keeps a long ASCII run after a password word.
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::conversation::{self, MAX_REFERENCES};
use sos_intake::message::{self, Limits};

fn check_receipts(receipts: &[String]) {
    for r in receipts {
        let b = r.as_bytes();
        assert_eq!(b.len(), 19, "receipt shape: {r}");
        assert!(r.starts_with("SOS-") && b[12] == b'-', "receipt shape: {r}");
        assert!(
            b[4..12].iter().chain(&b[13..]).all(u8::is_ascii_digit),
            "receipt digits: {r}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    strict::install();
    let limits = Limits {
        max_message_bytes: 1 << 20,
        ..Limits::default()
    };
    let parsed = message::parse(data, &limits);
    let facts = conversation::facts(&parsed);
    assert!(facts.references.len() <= MAX_REFERENCES);
    check_receipts(&facts.subject_receipts);
    if facts.download_link.is_some() {
        assert!(facts.no_files, "a link is only looked for without files");
    }

    let text = String::from_utf8_lossy(data);
    check_receipts(&conversation::receipts_in(&text));
    let _ = conversation::announces_password(&text);
    if let Some(link) = conversation::download_link(&text) {
        assert!(!link.host.is_empty());
    }
    let own = conversation::own_text(&text);
    assert!(own.len() <= text.len() + text.lines().count() + 1);
    let masked = conversation::mask_passwords(&text);
    assert!(masked.chars().count() <= text.chars().count() * 18 + 4);
});
