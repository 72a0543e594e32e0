//! Every input under `tests/fixtures/fuzz-regressions/` (found by the
//! `read_workbook` fuzz target) goes through what the fuzz target does —
//! `read_workbook`, `check` on each form, `annotate` when there are
//! findings — and must get an answer without a panic.

use sos_intake::replies::{SheetFindings, annotated_copy};
use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Policy, check};
use std::path::PathBuf;

fn regressions() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz-regressions"
    ));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fuzz-regressions dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

/// What the fuzz target does with one input.
fn run(bytes: &[u8]) {
    let Ok(workbook) = read_workbook(bytes) else {
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
        let _ = annotated_copy(bytes, &groups);
    }
}

#[test]
fn fuzz_regressions_are_answered_without_panic() {
    for path in regressions() {
        let bytes = std::fs::read(&path).expect("read regression");
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
}

/// A finding on A1 of every sheet name the file might use, so that
/// `annotate` reads the whole file even when `read_workbook` refused it.
fn annotate_anyway(bytes: &[u8]) {
    let findings = [sos_intake::validation::Finding {
        severity: sos_intake::validation::Severity::Error,
        code: "fuzz".into(),
        cell: Some("A1".into()),
        field: "fuzz".into(),
        value: String::new(),
        message: "fuzz".into(),
        fact: None,
    }];
    let _ = annotated_copy(
        bytes,
        &[SheetFindings {
            sheet: "緊急配布要請シート",
            findings: &findings,
        }],
    );
}

#[test]
fn fuzz_regressions_are_annotated_or_refused_without_panic() {
    for path in regressions() {
        let bytes = std::fs::read(&path).expect("read regression");
        assert!(
            std::panic::catch_unwind(|| annotate_anyway(&bytes)).is_ok(),
            "{} panicked in annotate",
            path.display()
        );
    }
}

/// calamine 0.38 overflows (a panic in debug builds) parsing a
/// `<mergeCell ref>` with a very long column; the reader must turn that into
/// "corrupt", not a crash.
#[test]
fn xlsx_merge_ref_column_overflow_is_corrupt_not_a_panic() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz-regressions/xlsx-merge-ref-column-overflow.xlsx"
    );
    let bytes = std::fs::read(path).expect("fixture");
    let outcome = std::panic::catch_unwind(|| read_workbook(&bytes).map(|w| w.forms.len()));
    assert!(outcome.is_ok(), "read_workbook panicked");
}

#[test]
fn the_fuzz_seed_samples_are_answered_without_panic() {
    // The same path over the committed samples the fuzzer was seeded with,
    // so this test guards something even before any regression exists.
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/sheets"));
    let mut seen = 0;
    for sub in ["", "bad", "lo-xlsx", "lo-xls", "lo-ods", "lo-xlsm"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("samples").flatten() {
            let path = entry.path();
            if path.is_file() && path.extension().is_some_and(|e| e != "md" && e != "jsonl") {
                let bytes = std::fs::read(&path).expect("read sample");
                assert!(
                    std::panic::catch_unwind(|| run(&bytes)).is_ok(),
                    "{} panicked",
                    path.display()
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 200, "only {seen} samples");
}
