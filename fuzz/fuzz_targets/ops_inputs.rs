//! Fuzz target: the outside text the operations code reads (issue 14):
//! an SMTP relay's response → `observe::monitor::smtp_class`, an
//! `Authorization` header value → `web::health::parse_bearer`, and a
//! `/readyz` body → the `Readiness` that `sos-intake status` reads. Never
//! panics; the class is one of the four labels; a bearer token is part of
//! the value.
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::observe::monitor::smtp_class;
use sos_intake::ops::readiness::Readiness;
use sos_intake::web::health::parse_bearer;

fuzz_target!(|data: &[u8]| {
    strict::install();
    let text = String::from_utf8_lossy(data);
    assert!(["2xx", "4xx", "5xx", "none"].contains(&smtp_class(&text)));
    if let Some(token) = parse_bearer(&text) {
        assert!(text.contains(token));
        assert_eq!(token.trim(), token);
    }
    let _ = serde_json::from_slice::<Readiness>(data);
});
