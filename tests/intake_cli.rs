//! `sos-intake ingest` as an MTA calls it: a file or standard input, the
//! receipt time override, `--no-send`, and exit 75 (EX_TEMPFAIL) when the
//! message cannot be handled now, so the MTA keeps it and retries.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn message(id: &str) -> Vec<u8> {
    use base64::Engine;
    let sheet = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap();
    format!(
        "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: cli\r\nDate: Mon, 30 Nov 2026 08:00:00 +0900\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsheet\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"s.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(sheet)
    )
    .into_bytes()
}

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sos-intake.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

fn ingest(config: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sos-intake"));
    cmd.arg("--config")
        .arg(config)
        .arg("ingest")
        .args(args)
        .env_remove("SOS_INTAKE_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn outbox_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("data/outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn ingest_a_file_then_the_same_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let file = tmp.path().join("m.eml");
    std::fs::write(&file, message("cli-1@tokyo")).unwrap();
    // Received Friday 2026-11-27 at 13:00:01: after the cut-off, next business day Monday.
    let out = ingest(
        &cfg,
        &[
            file.to_str().unwrap(),
            "--received-at",
            "2026-11-27T13:00:01+09:00",
        ],
        None,
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("受付 受付番号 SOS-"), "{text}");
    assert_eq!(
        outbox_files(tmp.path()),
        1,
        "the reply is delivered before ingest exits"
    );
    let list = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(&cfg)
        .args(["queue", "list"])
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("2026-11-30"),
        "batch from --received-at, not the Date header:\n{list}"
    );

    // The same message piped in again: already processed, nothing new sent.
    let out = ingest(&cfg, &["-"], Some(&message("cli-1@tokyo")), &[]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("処理済み"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(outbox_files(tmp.path()), 1);
}

#[test]
fn no_send_leaves_the_reply_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let out = ingest(
        &cfg,
        &["-", "--no-send"],
        Some(&message("cli-2@tokyo")),
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(outbox_files(tmp.path()), 0);
    // The next ingest delivers what is due, its own reply and the earlier one.
    let out = ingest(&cfg, &["-"], Some(&message("cli-3@tokyo")), &[]);
    assert!(out.status.success());
    assert_eq!(outbox_files(tmp.path()), 2);
}

#[test]
fn an_unusable_database_exits_75_so_the_mta_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    // A database directory that cannot be created (a file is in the way).
    std::fs::write(tmp.path().join("blocker"), "").unwrap();
    let url = format!("sqlite://{}/blocker/db/q.db", tmp.path().display());
    let out = ingest(
        &cfg,
        &["-"],
        Some(&message("cli-4@tokyo")),
        &[("SOS_INTAKE_DATABASE_URL", &url)],
    );
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("再送されます"));
    // A message that cannot be read at all is still handled: kept, quarantined.
    let out = ingest(&cfg, &["-"], Some(b"\x00\x01garbage"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_once_drains_the_sample_inbox_and_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // The demo's configuration with this test's data directory.
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sos-intake.toml"
    ))
    .unwrap();
    let cfg = tmp.path().join("sos-intake.toml");
    std::fs::write(
        &cfg,
        sample.replace(
            "data_dir = \"./data\"",
            &format!("data_dir = \"{}\"", data.display()),
        ),
    )
    .unwrap();
    let inbox = sos_intake::mailbox::maildir::Maildir::open(&data.join("inbox")).unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/inbox"))
        .unwrap()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "eml") {
            inbox
                .deliver(&std::fs::read(entry.path()).unwrap())
                .unwrap();
            n += 1;
        }
    }
    assert!(n >= 10, "the demo inbox holds the samples");
    let out = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--once", "--no-web"])
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(data.join("inbox/new")).unwrap().count(),
        0,
        "inbox drained"
    );
    let cur: Vec<String> = std::fs::read_dir(data.join("inbox/cur"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cur.len(), n, "every message kept in cur/");
    assert!(cur.iter().all(|name| name.ends_with(":2,S")), "{cur:?}");
    // Every sample except the unauthenticated unknown sender, the
    // out-of-office reply and the bounce is answered.
    assert_eq!(outbox_files(tmp.path()), n - 3);
}

#[test]
fn a_configuration_that_cannot_be_read_exits_75_so_the_mta_keeps_the_mail() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.toml");
    std::fs::write(&broken, "data_dir = \n[prefectures\n").unwrap();
    let missing = tmp.path().join("missing.toml");
    for cfg in [&broken, &missing] {
        let out = ingest(cfg, &["-"], Some(&message("cli-cfg@tokyo")), &[]);
        assert_eq!(
            out.status.code(),
            Some(75),
            "{}: {}",
            cfg.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // `check` keeps its own exit codes: a broken configuration is 2 there.
    let out = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(&broken)
        .args(["queue", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_message_the_gateway_died_on_is_stored_set_aside_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let raw = message("cli-crash@tokyo");
    // The first start creates the database; then three attempts counted and
    // never finished, as three deaths of the process in a row leave them.
    let out = ingest(
        &cfg,
        &["-", "--no-send"],
        Some(&message("cli-ok@tokyo")),
        &[],
    );
    assert!(out.status.success());
    let db = format!("sqlite://{}/data/sos-intake.db", tmp.path().display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = sos_intake::queue::Db::connect(&db).await.unwrap();
        let mut conn = db.pool().acquire().await.unwrap();
        let sha = sos_intake::queue::blobs::put(&mut conn, &raw)
            .await
            .unwrap();
        let arrival = sos_intake::queue::attempts::Arrival {
            raw_sha256: &sha,
            source: "ingest",
            received_at: chrono::Utc::now(),
            message_id: "",
            from_address: "",
            subject: "",
        };
        for _ in 0..3 {
            sos_intake::queue::attempts::start(&mut conn, &arrival, 3, 0)
                .await
                .unwrap();
        }
    });
    let out = ingest(&cfg, &["-", "--no-send"], Some(&raw), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("処理不能"), "{text}");
    // Piped again by the MTA: still 0, nothing new.
    let out = ingest(&cfg, &["-", "--no-send"], Some(&raw), &[]);
    assert_eq!(out.status.code(), Some(0));
}

/// Runs `sos-intake serve --once --no-web` as an unprivileged user (the
/// tests run as root in CI, and root reads every file): `setpriv` to
/// `nobody` when root, directly otherwise.
fn serve_once_unprivileged(cfg: &Path) -> Output {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .expect("id -u");
    let bin = env!("CARGO_BIN_EXE_sos-intake");
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    cmd.arg("--config")
        .arg(cfg)
        .args(["serve", "--once", "--no-web"])
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .output()
        .expect("setpriv (util-linux) runs serve as nobody")
}

#[test]
fn an_unreadable_inbox_file_does_not_block_the_maildir() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let data = tmp.path().join("data");
    let inbox = sos_intake::mailbox::maildir::Maildir::open(&data.join("inbox")).unwrap();
    inbox.deliver(&message("unreadable-before@tokyo")).unwrap();
    let bad = inbox.deliver(&message("unreadable-itself@tokyo")).unwrap();
    inbox.deliver(&message("unreadable-after@tokyo")).unwrap();
    // Everything belongs to the unprivileged user but one message, which
    // nobody but root may read (a delivery with the wrong owner or mode).
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(tmp.path())
        .status()
        .unwrap();
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    assert!(!root || status.success(), "chown as root");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if root {
        Command::new("chown")
            .args(["root:root"])
            .arg(&bad)
            .status()
            .unwrap();
    }
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = serve_once_unprivileged(&cfg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cur = std::fs::read_dir(data.join("inbox/cur")).unwrap().count();
    assert_eq!(cur, 2, "both readable messages handled and moved");
    let new: Vec<_> = std::fs::read_dir(data.join("inbox/new"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        new,
        vec![bad.clone()],
        "the unreadable file is left as it was"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read this inbox file"),
        "logged: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(outbox_files(tmp.path()), 2, "both answered");
}
