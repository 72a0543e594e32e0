//! What the reader processes cost per message: `message::parse` plus
//! `read_workbook` of every sheet, in this process and through a pool of
//! reader processes (framing, JSON headers, pipes, two context switches
//! per request). Figures: docs/benchmarks-readers.md.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sos_intake::config::ReadersConfig;
use sos_intake::message::{AttachmentKind, Limits};
use sos_intake::readers::ReaderPool;
use std::path::Path;

fn sample(name: &str) -> Vec<u8> {
    let full = format!("{}/samples/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Everything the pipeline asks the readers for one message.
fn read_all(pool: &ReaderPool, raw: &[u8], limits: &Limits) -> usize {
    let parsed = pool.parse_message(raw, limits).expect("parsed");
    parsed
        .attachments
        .iter()
        .filter(|a| matches!(a.kind, AttachmentKind::Sheet(_)))
        .map(|a| {
            pool.read_workbook(&a.bytes)
                .expect("read")
                .map(|b| b.forms.len())
                .unwrap_or(0)
        })
        .sum()
}

fn bench_readers(c: &mut Criterion) {
    let limits = Limits::default();
    let children = ReaderPool::start(
        Path::new(env!("CARGO_BIN_EXE_sos-intake")),
        &ReadersConfig::default(),
    )
    .expect("reader processes start");
    let local = ReaderPool::in_process();
    let mut group = c.benchmark_group("readers");
    for (name, file) in [
        ("valid-xlsx", "01-valid-submission.eml"),
        ("three-sheets", "02-several-sheets.eml"),
        ("bounce", "09-bounce.eml"),
    ] {
        let raw = sample(file);
        assert_eq!(
            read_all(&children, &raw, &limits),
            read_all(&local, &raw, &limits)
        );
        group.bench_function(format!("{name}/in-process"), |b| {
            b.iter(|| read_all(&local, black_box(&raw), &limits))
        });
        group.bench_function(format!("{name}/reader-process"), |b| {
            b.iter(|| read_all(&children, black_box(&raw), &limits))
        });
    }
    group.finish();
    c.bench_function("readers/start-one-reader", |b| {
        b.iter(|| {
            ReaderPool::start(
                Path::new(env!("CARGO_BIN_EXE_sos-intake")),
                &ReadersConfig {
                    processes: 1,
                    ..ReadersConfig::default()
                },
            )
            .expect("starts")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_readers
}
criterion_main!(benches);
