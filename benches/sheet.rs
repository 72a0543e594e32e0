//! Parse + validate one request sheet, per file format (the same form saved
//! as .xlsx by rust_xlsxwriter, and as .xlsx, .xls and .ods by LibreOffice).
//! `scripts/bench-sheet.sh` compares the .xlsx figure with openpyxl.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Policy, check};

fn sample(path: &str) -> Vec<u8> {
    let full = format!("{}/samples/sheets/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// What the gateway does per attachment: read every form, check each.
fn parse_and_validate(bytes: &[u8], policy: &Policy) -> usize {
    let workbook = read_workbook(bytes).expect("sample is readable");
    workbook
        .forms
        .iter()
        .map(|form| check(form, policy).findings.len())
        .sum()
}

fn bench_formats(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("parse_and_validate");
    for (name, path) in [
        ("xlsx", "valid.xlsx"),
        ("xlsx-libreoffice", "lo-xlsx/valid.xlsx"),
        ("xls", "lo-xls/valid.xls"),
        ("ods", "lo-ods/valid.ods"),
    ] {
        let bytes = sample(path);
        group.bench_function(name, |b| {
            b.iter(|| parse_and_validate(black_box(&bytes), &policy))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_formats);
criterion_main!(benches);
