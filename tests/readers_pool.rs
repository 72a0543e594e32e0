//! Reader processes for real: every sample read through the child pool
//! equals the in-process read, and a reader that aborts, runs out of
//! memory, spins, hangs, writes garbage or exits ends as the typed
//! failure, is replaced, and the next request succeeds.
//!
//! Faults are injected with `SOS_INTAKE_TEST_READER_FAULTS=1` in the
//! readers' environment (`readers::faults`); without it the same marker is
//! just bytes.

use sos_intake::config::ReadersConfig;
use sos_intake::message::Limits;
use sos_intake::readers::faults::FAULTS_ENV;
use sos_intake::readers::{ChildEnd, ReaderFailure, ReaderPool};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sos-intake");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn sheets() -> Vec<PathBuf> {
    let mut all = Vec::new();
    files(&root().join("samples/sheets"), &mut all);
    files(&root().join("samples/forms"), &mut all);
    files(&root().join("samples/mail/sheets"), &mut all);
    all.retain(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("xlsx" | "xlsm" | "xls" | "ods")
        )
    });
    all.sort();
    all
}

fn valid_sheet() -> Vec<u8> {
    std::fs::read(root().join("samples/sheets/valid.xlsx")).unwrap()
}

fn config(processes: usize) -> ReadersConfig {
    ReadersConfig {
        processes,
        memory_mb: 512,
        cpu_seconds: 20,
        timeout_seconds: 30,
    }
}

fn faulty_pool(config: &ReadersConfig) -> ReaderPool {
    ReaderPool::start_with_env(Path::new(PROGRAM), config, &[(FAULTS_ENV, "1")]).unwrap()
}

#[test]
fn every_sample_sheet_reads_the_same_in_a_reader_process() {
    let pool = ReaderPool::start(Path::new(PROGRAM), &config(2)).unwrap();
    let local = ReaderPool::in_process();
    let all = sheets();
    assert!(all.len() > 200, "samples missing: {}", all.len());
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        let there = pool.read_workbook(&bytes).unwrap();
        let here = local.read_workbook(&bytes).unwrap();
        assert_eq!(there, here, "{}", path.display());
    }
}

#[test]
fn every_sample_mail_parses_the_same_in_a_reader_process() {
    let pool = ReaderPool::start(Path::new(PROGRAM), &config(1)).unwrap();
    let mut all = Vec::new();
    files(&root().join("samples/mail"), &mut all);
    files(&root().join("tests/fixtures/mail"), &mut all);
    all.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    assert!(all.len() > 10, "mail samples missing");
    let limits = Limits::default();
    for path in &all {
        let raw = std::fs::read(path).unwrap();
        let there = pool.parse_message(&raw, &limits).unwrap();
        let here = sos_intake::message::parse(&raw, &limits);
        assert_eq!(
            serde_json::to_value(&there).unwrap(),
            serde_json::to_value(&here).unwrap(),
            "{}",
            path.display()
        );
        let bytes = |m: &sos_intake::message::ParsedMessage| {
            m.attachments
                .iter()
                .map(|a| a.bytes.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&there), bytes(&here), "{}", path.display());
    }
}

/// `valid.xlsx` with `SOS-READER-FAULT:<fault>;` as its zip comment: still
/// a workbook to every reader, a fault to a reader with faults enabled.
fn sheet_with_fault(fault: &str) -> Vec<u8> {
    let mut bytes = valid_sheet();
    let eocd = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("a zip");
    let comment = format!("SOS-READER-FAULT:{fault};");
    bytes.truncate(eocd + 22);
    bytes[eocd + 20..eocd + 22].copy_from_slice(&(comment.len() as u16).to_le_bytes());
    bytes.extend_from_slice(comment.as_bytes());
    bytes
}

/// Runs one fault through a one-reader pool and checks that the pool
/// recovers with a fresh reader.
fn contained(pool: &ReaderPool, fault: &str) -> ReaderFailure {
    let before = pool.idle_pids();
    assert_eq!(before.len(), 1);
    let failure = pool
        .read_workbook(&sheet_with_fault(fault))
        .expect_err("the reader must fail");
    let after = pool.idle_pids();
    assert_eq!(after.len(), 1, "{fault}: the reader was not replaced");
    assert_ne!(before, after, "{fault}: the failed reader is still in use");
    let book = pool.read_workbook(&valid_sheet()).unwrap().unwrap();
    assert_eq!(
        book.forms.len(),
        1,
        "{fault}: the next request must succeed"
    );
    failure
}

#[test]
fn an_abort_is_a_crash_by_sigabrt() {
    let pool = faulty_pool(&config(1));
    assert_eq!(
        contained(&pool, "abort"),
        ReaderFailure::Crashed(ChildEnd::Signal(libc::SIGABRT))
    );
    assert_eq!(
        contained(&pool, "exit"),
        ReaderFailure::Crashed(ChildEnd::Exit(3))
    );
}

#[test]
fn allocating_past_the_limit_is_out_of_memory() {
    let pool = faulty_pool(&ReadersConfig {
        memory_mb: 256,
        ..config(1)
    });
    assert_eq!(contained(&pool, "oom"), ReaderFailure::OutOfMemory);
}

#[test]
fn a_spinning_reader_is_stopped_by_its_cpu_limit() {
    let pool = faulty_pool(&ReadersConfig {
        cpu_seconds: 1,
        timeout_seconds: 60,
        ..config(1)
    });
    let start = Instant::now();
    assert_eq!(contained(&pool, "spin"), ReaderFailure::TimedOut);
    // SIGXCPU, long before the wall clock.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_hanging_reader_is_killed_at_the_wall_clock_timeout() {
    let pool = faulty_pool(&ReadersConfig {
        timeout_seconds: 2,
        ..config(1)
    });
    let start = Instant::now();
    assert_eq!(contained(&pool, "hang"), ReaderFailure::TimedOut);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "{took:?}"
    );
}

#[test]
fn garbage_on_the_pipe_is_a_protocol_failure() {
    let pool = faulty_pool(&config(1));
    assert!(matches!(
        contained(&pool, "garbage"),
        ReaderFailure::Protocol(_)
    ));
}

#[test]
fn a_message_that_kills_its_parser_is_a_typed_failure() {
    let pool = faulty_pool(&config(1));
    let raw = b"From: a@example.jp\r\nSubject: SOS-READER-FAULT:abort;\r\n\r\nbody\r\n";
    let failure = pool.parse_message(raw, &Limits::default()).unwrap_err();
    assert_eq!(
        failure,
        ReaderFailure::Crashed(ChildEnd::Signal(libc::SIGABRT))
    );
    let ok = pool
        .parse_message(
            b"From: a@example.jp\r\nSubject: x\r\n\r\nbody\r\n",
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(ok.subject.as_deref(), Some("x"));
}

#[test]
fn the_marker_is_just_bytes_without_the_test_environment() {
    let pool = ReaderPool::start(Path::new(PROGRAM), &config(1)).unwrap();
    let pid = pool.idle_pids();
    let book = pool
        .read_workbook(&sheet_with_fault("abort"))
        .unwrap()
        .unwrap();
    assert_eq!(book.forms.len(), 1);
    assert_eq!(pool.idle_pids(), pid, "the same reader serves on");
}

#[test]
fn concurrent_requests_share_the_readers() {
    let pool = ReaderPool::start(Path::new(PROGRAM), &config(2)).unwrap();
    let sheet = valid_sheet();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    (0..3)
                        .map(|_| pool.read_workbook(&sheet).unwrap().unwrap().forms.len())
                        .sum::<usize>()
                })
            })
            .collect();
        for r in runs {
            assert_eq!(r.join().unwrap(), 3);
        }
    });
    let idle = pool.idle_pids();
    assert!(
        !idle.is_empty() && idle.len() <= 2,
        "at most `processes` readers: {idle:?}"
    );
}

#[test]
fn a_program_that_is_no_reader_cannot_start_a_pool() {
    let err = ReaderPool::start(Path::new("/bin/echo"), &config(1)).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = ReaderPool::start(Path::new("/nonexistent/sos-intake"), &config(1)).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}
