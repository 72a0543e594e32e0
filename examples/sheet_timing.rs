//! Times parse + validate of one sheet in a loop, for `scripts/bench-sheet.sh`
//! (criterion in `benches/sheet.rs` gives the careful figures; this gives
//! one number to divide openpyxl's by). Prints the mean wall-clock and CPU
//! time per sheet in microseconds on the last line (`WALL CPU`); CPU time
//! (from /proc/self/schedstat, Linux) is the steadier figure on a busy
//! machine.
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
    let cpu_start = cpu_nanos();
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(run()?);
    }
    let wall = start.elapsed().as_secs_f64() / f64::from(iterations);
    let cpu = match (cpu_start, cpu_nanos()) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9 / f64::from(iterations),
        _ => f64::NAN,
    };
    println!("sos-intake: {iterations} iterations, {findings} findings");
    println!("{:.1} {:.1}", wall * 1e6, cpu * 1e6);
    Ok(())
}

/// CPU time of this process's main thread in nanoseconds.
fn cpu_nanos() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
