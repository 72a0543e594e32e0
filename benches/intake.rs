//! Mail intake benchmarks (issue 4):
//!
//! - `drain_10000/<backend>` (one run, printed): a Maildir of 10,000
//!   messages drained by the worker while the outbox sender runs beside it,
//!   as `sos-intake serve` does, until every message is filed and every
//!   reply written to the .eml outbox. Prints messages per second and the
//!   process's peak resident memory (VmHWM). The mix: 80 % a valid sheet,
//!   10 % a sheet with errors (annotated copy attached to the reply), 10 %
//!   no attachment.
//! - `process_one/<kind>` (criterion): one message through
//!   `Intake::process` (parse, read, check, file, render, queue), on SQLite.
//!
//! Run: `cargo bench --bench intake`. `SOS_BENCH_MESSAGES` changes the
//! 10,000; `SOS_BENCH_BACKENDS=sqlite,postgres` adds PostgreSQL (at
//! `$SOS_TEST_POSTGRES_URL`). Figures: docs/benchmarks-intake.md.

#[path = "../tests/common/db.rs"]
#[allow(dead_code, unused_macros)]
mod db;

use base64::Engine;
use criterion::{Criterion, Throughput};
use db::TestDb;
use sos_intake::config::{Config, Settings};
use sos_intake::mailbox::maildir::{Maildir, MaildirSource};
use sos_intake::outbox::{Sender, Transport};
use sos_intake::pipeline::{Intake, Shutdown};
use sqlx::Row;
use std::time::{Duration, Instant};

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn settings(dir: &std::path::Path) -> Settings {
    let text = format!(
        "[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n[mail]\nreply_rate_limit_per_hour = 100000000\n"
    );
    Settings::resolve(Config::parse(&text).unwrap(), Some(dir.to_path_buf()))
}

fn sheet_b64(name: &str) -> String {
    let bytes = std::fs::read(format!(
        "{}/samples/sheets/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Message `i` of the mix.
fn message(i: usize, valid: &str, error: &str) -> Vec<u8> {
    let attachment = match i % 10 {
        3 => Some(error),
        7 => None,
        _ => Some(valid),
    };
    let mut m = format!(
        "Return-Path: <{TOKYO}>\r\nFrom: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: bench {i}\r\nMessage-ID: <bench-{i}@tokyo>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n送付します {i}\r\n"
    );
    if let Some(sheet) = attachment {
        m.push_str(&format!(
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"sheet-{i}.xlsx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{sheet}\r\n"
        ));
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}

async fn drain(backend: &str, n: usize) {
    let t = match backend {
        "postgres" => TestDb::postgres().await,
        _ => TestDb::sqlite().await,
    };
    let (valid, error) = (
        sheet_b64("valid.xlsx"),
        sheet_b64("error-item-reason-economic.xlsx"),
    );
    let inbox = Maildir::open(&t.data_dir().join("inbox")).unwrap();
    for i in 0..n {
        inbox.deliver(&message(i, &valid, &error)).unwrap();
    }
    let intake = Intake::new(t.db.clone(), &settings(&t.data_dir())).unwrap();
    let source = MaildirSource::new(inbox, intake, Duration::from_millis(50));
    let outbox_dir = t.data_dir().join("outbox");
    let sender = Sender::new(t.db.clone(), Transport::Directory(outbox_dir.clone()))
        .with_idle_wait(Duration::from_millis(50));
    let (trigger, shutdown) = Shutdown::new();
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let sending = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { sender.run(shutdown).await }
    });
    let drained = source.drain(&shutdown).await.unwrap();
    let filed_at = start.elapsed();
    loop {
        let unsent: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")
            .fetch_one(t.db.pool())
            .await
            .unwrap()
            .get(0);
        if unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done_at = start.elapsed();
    trigger.trigger();
    sending.await.unwrap().unwrap();
    let written = std::fs::read_dir(&outbox_dir).unwrap().count();
    assert_eq!(drained.processed, n);
    assert_eq!(written, n, "one reply per message");
    println!(
        "drain_{n}/{backend}: {n} messages filed in {:.1} s, all {written} replies written after {:.1} s → {:.0} messages/s; peak RSS {} MiB (before the drain {} MiB)",
        filed_at.as_secs_f64(),
        done_at.as_secs_f64(),
        n as f64 / done_at.as_secs_f64(),
        peak_rss_kib() / 1024,
        rss_before / 1024
    );
}

fn process_one(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let t = rt.block_on(TestDb::sqlite());
    let intake = Intake::new(t.db.clone(), &settings(&t.data_dir())).unwrap();
    let (valid, error) = (
        sheet_b64("valid.xlsx"),
        sheet_b64("error-item-reason-economic.xlsx"),
    );
    let mut group = c.benchmark_group("process_one");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    let mut i = 1_000_000;
    for (kind, offset) in [("valid_sheet", 0), ("error_sheet", 3), ("no_attachment", 7)] {
        group.bench_function(kind, |b| {
            b.iter(|| {
                i += 10;
                let raw = message(i + offset, &valid, &error);
                rt.block_on(intake.process(&raw, chrono::Utc::now().fixed_offset()))
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n: usize = std::env::var("SOS_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let backends = std::env::var("SOS_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    // criterion passes `--bench`; a filter argument selects parts.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter
        .as_deref()
        .is_none_or(|f| "drain".contains(f) || f.contains("drain"))
    {
        for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
            rt.block_on(drain(backend, n));
        }
    }
    if filter
        .as_deref()
        .is_none_or(|f| "process_one".contains(f) || f.contains("process"))
    {
        let mut c = Criterion::default().configure_from_args();
        process_one(&mut c, &rt);
        c.final_summary();
    }
}
