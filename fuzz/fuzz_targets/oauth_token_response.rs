//! Fuzz target: arbitrary bytes as a token endpoint's answer (with the
//! first byte choosing the HTTP status) → `oauth::token::parse_response`,
//! and as a SASL error challenge → `oauth::sasl::challenge_status`. Never
//! panics; a granted token is printable ASCII and bounded; the detail
//! shown to officials is bounded and free of control characters.
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::oauth::{sasl, token};

fuzz_target!(|data: &[u8]| {
    strict::install();
    let (status, body) = match data.split_first() {
        Some((first, rest)) => (
            [200u16, 400, 401, 403, 500, 302][usize::from(*first) % 6],
            rest,
        ),
        None => (200, data),
    };
    match token::parse_response(status, body) {
        Ok(granted) => {
            let t = granted.token.expose();
            assert!(!t.is_empty() && t.len() <= 16 * 1024);
            assert!(t.bytes().all(|b| b.is_ascii_graphic()));
            assert!((200..300).contains(&status));
            if let Some(l) = granted.lifetime {
                assert!(l.as_secs() <= 86_400);
            }
        }
        Err(e) => {
            assert!(e.detail.chars().count() <= 301 + 40, "detail bounded");
            assert!(!e.detail.chars().any(char::is_control));
        }
    }
    if let Some(s) = sasl::challenge_status(data) {
        assert!(s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()));
    }
});
