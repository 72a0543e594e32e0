//! Fuzz target: arbitrary bytes → `sheet::read_workbook` → `validation::check`
//! (and the annotated copy when findings exist). Nothing may panic, hang or
//! allocate without bound, whatever the bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sos_intake::sheet::annotate::{SheetFindings, annotate};
use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Finding, Policy, Severity, check};
use std::sync::Once;

/// libfuzzer-sys aborts on every panic, even one the library catches and
/// turns into an error (the reader and `annotate` wrap calamine in
/// `catch_unwind`). Silence the hook instead of aborting: a panic
/// that escapes still unwinds to libfuzzer-sys, which aborts and saves the
/// input. Set FUZZ_ABORT_ON_CAUGHT_PANIC=1 to see caught panics as crashes.
fn report_without_abort() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("FUZZ_ABORT_ON_CAUGHT_PANIC").is_none() {
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
        }
    });
}

/// A finding on A1, so that `annotate` marks a cell.
fn probe() -> Finding {
    Finding {
        severity: Severity::Error,
        code: "fuzz".into(),
        cell: Some("A1".into()),
        field: String::new(),
        value: String::new(),
        message: "fuzz".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    report_without_abort();
    let Ok(workbook) = read_workbook(data) else {
        // The annotated copy has its own guards: exercise them too.
        let _ = annotate(
            data,
            &[SheetFindings {
                sheet: "緊急配布要請シート",
                findings: &[probe()],
            }],
        );
        return;
    };
    let policy = Policy::default();
    let checked: Vec<_> = workbook
        .forms
        .iter()
        .map(|form| (form.sheet.clone(), check(form, &policy)))
        .collect();
    let groups: Vec<SheetFindings<'_>> = checked
        .iter()
        .map(|(sheet, c)| SheetFindings {
            sheet,
            findings: &c.findings,
        })
        .collect();
    if groups.iter().any(|g| !g.findings.is_empty()) {
        let _ = annotate(data, &groups);
    }
});
