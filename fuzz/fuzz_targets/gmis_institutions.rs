//! Fuzz target: arbitrary bytes → `gmis_institutions::parse` (a G-MIS
//! institution list, issue 13.8): encoding detection, CSV reading, header
//! variants, the Salesforce footer. Never panics; every institution has
//! an address and a code or name; every line number lies inside the file.
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::gmis_institutions as list;

fuzz_target!(|data: &[u8]| {
    strict::install();
    let Ok(read) = list::parse(data) else {
        return;
    };
    // Decoded text has at most one line per input byte (+1 for the last).
    let max_line = data.len() + 1;
    for i in &read.institutions {
        assert!(!i.address.is_empty(), "an institution without address");
        assert!(!(i.code.is_empty() && i.name.is_empty()));
        assert!((2..=max_line).contains(&i.line), "line {}", i.line);
    }
    for e in &read.errors {
        assert!(e.line <= max_line, "error line {} past the end", e.line);
    }
    assert!(read.institutions.len() + read.errors.len() <= list::MAX_ROWS);
});
