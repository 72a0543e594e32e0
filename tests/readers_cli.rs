//! The binary with its reader processes: `ingest --no-send` of a mail whose
//! workbook kills its reader stores the message and queues a reply naming
//! the file as unreadable (exit 0); an `Intake` over a pool of readers does
//! the same in-process; `check` survives the same file and checks the
//! next one. Faults are injected with `SOS_INTAKE_TEST_READER_FAULTS=1`.

use sos_intake::config::{Config, ReadersConfig, Settings};
use sos_intake::outbox;
use sos_intake::pipeline::{Disposition, Intake};
use sos_intake::queue::Db;
use sos_intake::readers::ReaderPool;
use sos_intake::readers::faults::FAULTS_ENV;
use std::path::Path;
use std::process::{Command, Output};

const PROGRAM: &str = env!("CARGO_BIN_EXE_sos-intake");
const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn valid_sheet() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap()
}

/// `valid.xlsx` with the fault marker as its zip comment.
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

/// A mail from Tokyo with two sheets: `壊れた.xlsx` (the fault) and
/// `正常.xlsx` (valid). The marker is inside base64: the message parse
/// never sees it, only the workbook reader.
fn message(id: &str, fault: &str) -> Vec<u8> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let part = |name: &str, bytes: &[u8]| {
        format!(
            "--b\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename*=UTF-8''{}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            percent(name),
            b64(bytes)
        )
    };
    format!(
        "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: readers\r\nDate: Mon, 30 Nov 2026 08:00:00 +0900\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsheets\r\n{}{}--b--\r\n",
        part("壊れた.xlsx", &sheet_with_fault(fault)),
        part("正常.xlsx", &valid_sheet()),
    )
    .into_bytes()
}

fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sos-intake.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n[readers]\nprocesses = 1\nmemory_mb = 512\ncpu_seconds = 5\ntimeout_seconds = 10\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

fn run(config: &Path, args: &[&str], faults: bool) -> Output {
    let mut cmd = Command::new(PROGRAM);
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SOS_INTAKE_DATABASE_URL");
    if faults {
        cmd.env(FAULTS_ENV, "1");
    } else {
        cmd.env_remove(FAULTS_ENV);
    }
    cmd.output().unwrap()
}

/// Every reply in the outbox, its text body decoded.
async fn replies(db: &Db) -> Vec<String> {
    let mut conn = db.pool().acquire().await.unwrap();
    let mut out = Vec::new();
    for e in outbox::list(&mut conn).await.unwrap() {
        let raw = outbox::raw(&mut conn, e.id).await.unwrap().unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        out.push(parsed.body_text(0).unwrap_or_default().to_string());
    }
    out
}

fn assert_unreadable_reply(reply: &str) {
    assert!(reply.contains("壊れた.xlsx"), "{reply}");
    assert!(
        reply.contains(sos_intake::messages::readers::file_unreadable()),
        "{reply}"
    );
    assert!(reply.contains("正常.xlsx"), "{reply}");
}

#[tokio::test]
async fn ingest_refuses_a_workbook_that_kills_its_reader_and_answers() {
    for fault in ["abort", "oom", "garbage"] {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = write_config(tmp.path());
        let eml = tmp.path().join("m.eml");
        std::fs::write(&eml, message(&format!("{fault}@readers"), fault)).unwrap();
        let out = run(&cfg, &["ingest", "--no-send", eml.to_str().unwrap()], true);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{fault}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The valid sheet is filed; the other refused: 一部受付.
        assert!(stdout.contains("一部受付"), "{fault}: {stdout}");
        let db = Db::connect(&format!(
            "sqlite://{}/sos-intake.db",
            tmp.path().join("data").display()
        ))
        .await
        .unwrap();
        let replies = replies(&db).await;
        assert_eq!(replies.len(), 1, "{fault}");
        assert_unreadable_reply(&replies[0]);
        db.close().await;
    }
}

#[test]
fn check_survives_a_file_that_kills_its_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path());
    let bad = tmp.path().join("bad.xlsx");
    std::fs::write(&bad, sheet_with_fault("abort")).unwrap();
    let good = tmp.path().join("good.xlsx");
    std::fs::write(&good, valid_sheet()).unwrap();
    let out = run(
        &cfg,
        &[
            "check",
            "--json",
            bad.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        true,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["status"], "unreadable");
    assert_eq!(lines[0]["reason"]["code"], "crashed");
    assert_eq!(lines[1]["status"], "ok", "{}", lines[1]);
    // Without the test environment the marker is just a zip comment.
    let out = run(&cfg, &["check", "--json", bad.to_str().unwrap()], false);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

fn settings(dir: &Path) -> Settings {
    let config = Config::parse(&format!("[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n")).unwrap();
    Settings::resolve(config, Some(dir.to_path_buf()))
}

#[tokio::test]
async fn an_intake_over_readers_answers_and_a_message_that_kills_its_parser_is_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = settings(tmp.path());
    let db = Db::connect(&settings.database_url).await.unwrap();
    let readers = ReaderPool::start_with_env(
        Path::new(PROGRAM),
        &ReadersConfig {
            processes: 2,
            ..ReadersConfig::default()
        },
        &[(FAULTS_ENV, "1")],
    )
    .unwrap();
    let intake = Intake::with_readers(db.clone(), &settings, readers).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00+09:00").unwrap();

    let outcome = intake
        .process(&message("exit@readers", "exit"), at)
        .await
        .unwrap();
    assert_eq!(outcome.disposition, Disposition::Partial);
    assert_eq!(outcome.receipts.len(), 1);
    let replies = replies(&db).await;
    assert_unreadable_reply(&replies[0]);

    // The marker in the raw message: the parse itself fails. Not temporary:
    // the message is set aside as 処理不能 at once, nothing answered.
    let raw = format!(
        "From: {TOKYO}\r\nSubject: SOS-READER-FAULT:abort;\r\nMessage-ID: <p@readers>\r\n\r\nx\r\n"
    );
    let set_aside = intake.process(raw.as_bytes(), at).await.unwrap();
    assert_eq!(set_aside.disposition, Disposition::Unprocessable);
    assert!(set_aside.reply.is_none());
    let mut conn = db.pool().acquire().await.unwrap();
    let dead = sos_intake::queue::attempts::dead_letters(&mut conn, 10)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].reason,
        sos_intake::queue::attempts::SetAsideReason::Permanent
    );
    assert!(dead[0].last_error.contains("unreadable"), "{dead:?}");

    // And the intake goes on: no fault named, both sheets read.
    let again = intake
        .process(&message("next@readers", "none"), at)
        .await
        .unwrap();
    assert_eq!(again.disposition, Disposition::Accepted);
    db.close().await;
}

#[tokio::test]
async fn serve_keeps_going_past_workbooks_that_kill_their_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path());
    let data = tmp.path().join("data");
    let inbox = sos_intake::mailbox::maildir::Maildir::open(&data.join("inbox")).unwrap();
    for (i, fault) in ["abort", "oom", "spin", "none"].iter().enumerate() {
        inbox
            .deliver(&message(&format!("serve-{i}@readers"), fault))
            .unwrap();
    }
    let out = run(&cfg, &["serve", "--once", "--no-web", "--no-send"], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(data.join("inbox/new")).unwrap().count(),
        0,
        "every message handled"
    );
    let db = Db::connect(&format!("sqlite://{}/sos-intake.db", data.display()))
        .await
        .unwrap();
    let replies = replies(&db).await;
    assert_eq!(replies.len(), 4);
    let unreadable = replies
        .iter()
        .filter(|r| r.contains(sos_intake::messages::readers::file_unreadable()))
        .count();
    assert_eq!(unreadable, 3, "{replies:#?}");
    for r in &replies {
        assert!(r.contains("正常.xlsx"), "{r}");
    }
    db.close().await;
}
