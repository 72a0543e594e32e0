//! Fuzz target: arbitrary bytes → `sheet::read_workbook` → `validation::check`
//! (and the annotated copy when findings exist). Nothing may panic, hang or
//! allocate without bound, whatever the bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sos_intake::sheet::annotate::{SheetFindings, annotate};
use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Policy, check};

fuzz_target!(|data: &[u8]| {
    let Ok(workbook) = read_workbook(data) else {
        return;
    };
    let policy = Policy::default();
    let checked: Vec<_> = workbook.forms.iter().map(|form| (form.sheet.clone(), check(form, &policy))).collect();
    let groups: Vec<SheetFindings<'_>> =
        checked.iter().map(|(sheet, c)| SheetFindings { sheet, findings: &c.findings }).collect();
    if groups.iter().any(|g| !g.findings.is_empty()) {
        let _ = annotate(data, &groups);
    }
});
