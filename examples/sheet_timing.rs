//! Times parse + validate of one sheet in a loop, for `scripts/bench-sheet.sh`
//! (criterion in `benches/sheet.rs` gives the careful figures; this gives
//! one number to divide openpyxl's by). Prints the mean in microseconds on
//! the last line.
//!
//! usage: cargo run --release --example sheet_timing -- FILE [ITERATIONS]

use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Policy, check};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: sheet_timing FILE [ITERATIONS]")?;
    let iterations: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let bytes = std::fs::read(&path)?;
    let policy = Policy::default();
    let run = || -> Result<usize, Box<dyn std::error::Error>> {
        let workbook = read_workbook(&bytes)?;
        Ok(workbook
            .forms
            .iter()
            .map(|form| check(form, &policy).findings.len())
            .sum())
    };
    let findings = run()?;
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(run()?);
    }
    let mean = start.elapsed().as_secs_f64() / f64::from(iterations);
    println!("sos-intake: {iterations} iterations, {findings} findings");
    println!("{:.1}", mean * 1e6);
    Ok(())
}
