//! The panic policy shared by every fuzz target: strict by default.
//!
//! Any panic in our own code (or in a crate whose panics we do not catch on
//! purpose) aborts, so libFuzzer saves the input, even when the library
//! would have caught it with `catch_unwind` and carried on. The only panics
//! let through to the library's `catch_unwind` are those raised inside the
//! third-party parsers the code already documents catching:
//!
//! - calamine: `sheet::reader::read_workbook` and `sheet::annotate::annotate`
//!   wrap it ("it has panicked on hostile input before"; "an overflowing
//!   column reference in a merge, found by fuzzing");
//! - mail-parser: `message::parse` wraps it (`Problem::ParserPanicked`).
//!
//! `FUZZ_ABORT_ON_CAUGHT_PANIC=1` aborts on those too.

use std::sync::Once;

/// Where the tolerated third-party panics come from (their source paths in
/// the cargo registry).
const TOLERATED: [&str; 2] = ["/calamine-", "/mail-parser-"];

/// Installs the hook (once per process).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort_on_all = std::env::var_os("FUZZ_ABORT_ON_CAUGHT_PANIC").is_some();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or("");
            let tolerated = TOLERATED.iter().any(|c| file.contains(c));
            if tolerated && !abort_on_all {
                return; // the library catches it and reports the file unreadable
            }
            eprintln!("panic (strict fuzzing): {info}");
            std::process::abort();
        }));
    });
}
