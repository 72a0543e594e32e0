//! Fuzz target: arbitrary bytes → `sheet::read_workbook` → `validation::check`
//! (and the annotated copy when findings exist). Nothing may panic, hang or
//! allocate without bound, whatever the bytes.

#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::replies::{SheetFindings, annotated_copy};
use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Finding, Policy, Severity, check};

/// A finding on A1, so that `annotate` marks a cell.
fn probe() -> Finding {
    Finding {
        severity: Severity::Error,
        code: "fuzz".into(),
        cell: Some("A1".into()),
        field: String::new(),
        value: String::new(),
        message: "fuzz".into(),
        fact: None,
    }
}

fuzz_target!(|data: &[u8]| {
    strict::install();
    let Ok(workbook) = read_workbook(data) else {
        // The annotated copy has its own guards: exercise them too.
        let _ = annotated_copy(
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
        let _ = annotated_copy(data, &groups);
    }
});
