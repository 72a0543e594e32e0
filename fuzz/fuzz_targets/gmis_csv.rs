//! Fuzz target: arbitrary bytes → `gmis::parse` (the G-MIS SOS export, as
//! uploaded in the browser or given to `gmis import`): encoding detection,
//! CSV reading, the Salesforce footer, row checks. Never panics; every
//! request has at least one item and a unique レコードID; every line number
//! (rows, errors, footer) lies inside the file.
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::gmis;

fuzz_target!(|data: &[u8]| {
    strict::install();
    let Ok(export) = gmis::parse(data) else {
        return;
    };
    // Decoded text has at most one line per input byte (+1 for the last).
    let max_line = data.len() + 1;
    let mut ids = std::collections::HashSet::new();
    for request in &export.requests {
        assert!(!request.lines.is_empty(), "a request without items");
        assert!(ids.insert(&request.record_id), "a レコードID twice");
        assert!((2..=max_line).contains(&request.first_line));
    }
    for error in &export.errors {
        assert!(error.line <= max_line, "error line {} past the end", error.line);
        assert!(!sos_intake::messages::gmis_csv::row_error(error).is_empty());
    }
    if let Some(line) = export.footer_line {
        assert!((2..=max_line).contains(&line), "footer at line {line}");
    }
    assert!(export.requests.len() <= export.rows);
});
