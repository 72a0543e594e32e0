//! The hostile input corpus (`tests/fixtures/hostile/`, made by
//! `scripts/hostile-fixtures.py`; its README has the table of expected
//! outcomes) run through the real binary the way the gateway meets it:
//! workbooks with `sos-intake check`, mails with `sos-intake ingest
//! --no-send` against a fresh SQLite data directory. Each run has 512 MB of
//! address space (`prlimit --as`) and a wall-clock bound, and must end in
//! its documented state: an exit code, a Japanese message, no signal. The
//! big fixtures (a few MB each) are generated at test time.
//!
//! Before the guards of issue 11, `xls-fat-loop-*`, `xls-difat-loop` and
//! `eml-xls-fat-loop` and `ods-values-far-apart` aborted with
//! `memory allocation of … bytes failed`,
//! `eml-10mb-header-line` too, and `xls-boundsheets-200k` ran past any
//! bound (quadratic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The address-space limit of every run: well below the machine's.
const MEMORY_LIMIT: u64 = 512 * 1024 * 1024;
/// The wall-clock bound of every run (a debug build on a shared machine).
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name)
}

/// Runs the binary with `args` under the memory and time limits; fails the
/// test on a timeout or a signal.
fn run_limited(args: &[&std::ffi::OsStr], what: &str) -> (Output, Duration) {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={MEMORY_LIMIT}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_sos-intake"))
        .args(args)
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .expect("prlimit (util-linux) must be installed to run the hostile inputs");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {TIME_LIMIT:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let took = started.elapsed();
    assert!(
        out.status.code().is_some(),
        "{what}: ended by a signal ({:?}); stderr:\n{}",
        out.status,
        tail(&out.stderr)
    );
    (out, took)
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

fn has_japanese(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{4E00}'..='\u{9FFF}'))
}

/// `check --json FILE` must exit `exit` with reason `code` (None: read, no
/// reason) and a Japanese message.
fn assert_check(path: &Path, exit: i32, code: Option<&str>) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let (out, took) = run_limited(
        &["check".as_ref(), "--json".as_ref(), path.as_os_str()],
        &name,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "{name} ({took:?}): stdout {stdout}\nstderr {}",
        tail(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{name}: not one JSON line ({e}): {stdout}"));
    match code {
        Some(code) => {
            assert_eq!(line["reason"]["code"], code, "{name}: {stdout}");
            let message = line["reason"]["message"].as_str().unwrap_or("");
            assert!(
                has_japanese(message),
                "{name}: no Japanese message: {stdout}"
            );
        }
        None => assert!(line["reason"].is_null(), "{name}: refused: {stdout}"),
    }
}

/// What `check` must say about each workbook fixture (the README's table).
const WORKBOOKS: &[(&str, i32, Option<&str>)] = &[
    ("xls-baseline.xls", 2, Some("no_form")),
    ("xls-fat-loop-stream.xls", 2, Some("corrupt")),
    ("xls-fat-loop-directory.xls", 2, Some("corrupt")),
    ("xls-fat-loop-ministream.xls", 2, Some("corrupt")),
    ("xls-fat-loop-minifat-chain.xls", 2, Some("corrupt")),
    ("xls-minifat-loop.xls", 2, Some("corrupt")),
    ("xls-difat-loop.xls", 2, Some("corrupt")),
    ("xls-sector-counts-2e32.xls", 2, Some("corrupt")),
    ("xls-boundsheets-2k.xls", 2, Some("too_large")),
    ("xls-nul-cells.xls", 2, Some("no_form")),
    ("xlsx-bomb-flat.xlsx", 2, Some("too_large")),
    ("xlsx-bomb-lying-size.xlsx", 2, Some("corrupt")),
    ("xlsx-overlapping.xlsx", 2, Some("corrupt")),
    ("xlsx-billion-laughs.xlsx", 2, Some("corrupt")),
    ("xlsx-billion-laughs-workbook.xlsx", 0, None),
    ("xlsx-nul-cells.xlsx", 0, None),
    ("xlsx-invalid-utf8-cells.xlsx", 2, Some("corrupt")),
    ("ods-repeat-bomb.ods", 2, Some("too_large")),
    ("ods-values-far-apart.ods", 2, Some("too_large")),
    ("ods-billion-laughs.ods", 2, Some("corrupt")),
    ("zip-nested.zip", 2, Some("not_a_spreadsheet")),
    ("zip-overlapping.zip", 2, Some("too_large")),
    ("truncated.xls", 2, Some("corrupt")),
    ("truncated-header.xls", 2, Some("corrupt")),
    ("truncated.xlsx", 2, Some("corrupt")),
    ("truncated.ods", 2, Some("corrupt")),
    ("truncated.zip", 2, Some("corrupt")),
];

/// What `ingest` must print for each mail fixture: every one is stored
/// (exit 0) with this Japanese status.
const MAILS: &[(&str, &str)] = &[
    ("eml-mime-depth-1000.eml", "受付不可"),
    ("eml-nul-invalid-utf8.eml", "隔離"),
    ("eml-zip-nested.eml", "受付不可"),
    ("eml-zip-overlapping.eml", "受付不可"),
    ("eml-xls-fat-loop.eml", "受付不可"),
    ("eml-truncated.eml", "受付不可"),
    ("eml-tnef-lying-length.eml", "受付不可"),
    ("eml-tnef-1k-files.eml", "受付不可"),
    ("eml-tnef-huge-counts.eml", "受付不可"),
    ("eml-tnef-nested-200.eml", "受付不可"),
];

#[test]
fn every_workbook_fixture_ends_as_documented() {
    for (name, exit, code) in WORKBOOKS {
        assert_check(&fixture(name), *exit, *code);
    }
}

#[test]
fn every_committed_fixture_is_in_a_table() {
    let listed: Vec<&str> = WORKBOOKS
        .iter()
        .map(|w| w.0)
        .chain(MAILS.iter().map(|m| m.0))
        .collect();
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name != "README.md" {
            assert!(
                listed.contains(&name.as_str()),
                "{name} has no expected outcome"
            );
        }
    }
}

/// A fresh data directory and configuration with Tokyo registered.
fn intake_config(dir: &Path) -> PathBuf {
    let path = dir.join("sos-intake.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[prefectures]\n\"東京都\" = [\"sos@fukushi.metro.tokyo.lg.jp\"]\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

fn assert_ingested(config: &Path, mail: &Path, status: &str) {
    let name = mail.file_name().unwrap().to_string_lossy().to_string();
    let (out, took) = run_limited(
        &[
            "--config".as_ref(),
            config.as_os_str(),
            "ingest".as_ref(),
            "--no-send".as_ref(),
            mail.as_os_str(),
        ],
        &name,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} ({took:?}): not stored: {stdout}\n{}",
        tail(&out.stderr)
    );
    assert!(
        stdout.contains(status),
        "{name}: expected {status}: {stdout}"
    );
}

#[test]
fn every_mail_fixture_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let config = intake_config(tmp.path());
    for (name, status) in MAILS {
        assert_ingested(&config, &fixture(name), status);
    }
}

/// The fixtures too big to commit, made by the generator now.
fn big_fixtures(dir: &Path) -> PathBuf {
    let out = dir.join("big");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/hostile-fixtures.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg("--big")
        .arg(&out)
        .status()
        .expect("python3 must be installed to generate the big hostile fixtures");
    assert!(status.success(), "{} failed", script.display());
    out
}

#[test]
fn big_fixtures_end_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let big = big_fixtures(tmp.path());
    let xls = big.join("xls-boundsheets-200k.xls");
    assert!(std::fs::metadata(&xls).unwrap().len() > 3_000_000);
    assert_check(&xls, 2, Some("too_large"));
    // Under the worksheet cap, over the record-walk budget.
    assert_check(&big.join("xls-walk-250x300k.xls"), 2, Some("too_large"));
    let config = intake_config(tmp.path());
    for (name, status) in [
        ("eml-100k-parts.eml", "受付不可"),
        ("eml-10mb-header-line.eml", "受付不可"),
        ("eml-headers-20k.eml", "受付不可"),
    ] {
        assert_ingested(&config, &big.join(name), status);
    }
}

/// The library's view of the same mails: the cap that tripped is a typed
/// problem, and what is before the cut is still read.
#[test]
fn mail_caps_are_typed_problems() {
    use sos_intake::message::{self, AttachmentKind, Limits, OtherFile, Problem};
    let limits = Limits::default();
    let parse = |name: &str| message::parse(&std::fs::read(fixture(name)).unwrap(), &limits);

    let deep = parse("eml-mime-depth-1000.eml");
    assert!(deep.problems.contains(&Problem::MimeTooDeep {
        limit: limits.max_mime_depth as u64
    }));
    assert!(deep.is_too_large());
    assert_eq!(deep.subject.as_deref(), Some("deep"));

    let overlap = parse("eml-zip-overlapping.eml");
    let zip = overlap
        .attachments
        .iter()
        .find(|a| a.filename.as_deref() == Some("bomb.zip"))
        .expect("the zip is listed");
    assert_eq!(zip.kind, AttachmentKind::Other(OtherFile::DamagedArchive));

    let nested = parse("eml-zip-nested.eml");
    let unpacked: u64 = nested
        .attachments
        .iter()
        .filter(|a| !matches!(a.kind, AttachmentKind::Zip { .. }))
        .map(|a| a.size)
        .sum();
    assert!(unpacked <= limits.max_unpacked_bytes + limits.max_attachment_bytes);
    assert!(nested.attachments.len() <= limits.max_attachments);

    let tmp = tempfile::tempdir().unwrap();
    let big = big_fixtures(tmp.path());
    let read = |name: &str| message::parse(&std::fs::read(big.join(name)).unwrap(), &limits);
    let parts = read("eml-100k-parts.eml");
    assert!(parts.problems.contains(&Problem::TooManyParts {
        limit: limits.max_mime_parts as u64
    }));
    assert!(parts.attachments.len() <= limits.max_attachments);
    let long = read("eml-10mb-header-line.eml");
    assert!(
        long.subject.as_ref().unwrap().len() <= limits.max_header_bytes,
        "the Subject is cut"
    );
    assert!(
        long.problems
            .iter()
            .any(|p| matches!(p, Problem::HeadersCut { .. }))
    );
    let many = read("eml-headers-20k.eml");
    assert!(many.headers.len() <= limits.max_header_fields);
}

/// The winmail.dat fixtures as the library reads them: a lying length or
/// huge counts leave nothing to take out (the reply explains Outlook's
/// settings), too many files trip `max_zip_entries`, and embedded Outlook
/// items nest only to `max_nesting_depth`.
#[test]
fn tnef_caps_are_typed() {
    use sos_intake::message::{self, AttachmentKind, Limits, OtherFile, SizeLimit};
    let limits = Limits::default();
    let parse = |name: &str| message::parse(&std::fs::read(fixture(name)).unwrap(), &limits);
    let winmail = |p: &message::ParsedMessage| {
        p.attachments
            .iter()
            .find(|a| a.path == "winmail.dat")
            .expect("winmail.dat is listed")
            .kind
            .clone()
    };
    let unreadable = AttachmentKind::Other(OtherFile::OutlookTnef);
    assert_eq!(winmail(&parse("eml-tnef-lying-length.eml")), unreadable);
    assert_eq!(winmail(&parse("eml-tnef-huge-counts.eml")), unreadable);
    assert_eq!(
        winmail(&parse("eml-tnef-1k-files.eml")),
        AttachmentKind::TooLarge(SizeLimit::ZipEntries {
            count: limits.max_zip_entries as u64 + 1,
            limit: limits.max_zip_entries as u64,
        })
    );
    let nested = parse("eml-tnef-nested-200.eml");
    assert!(nested.attachments.len() <= limits.max_depth + 1);
    assert!(nested.attachments.iter().any(|a| a.kind
        == AttachmentKind::TooLarge(SizeLimit::TooDeep {
            limit: limits.max_depth as u64
        })));
}
