//! Crash safety: `sos-intake serve` drains a 1,000-message Maildir while it
//! is killed with SIGKILL at random points, again and again; after a final
//! restart every message is filed exactly once and answered exactly once
//! (one outbox row and one .eml file per message), and nothing is left in
//! `new/`. The last run is stopped with SIGTERM and must exit cleanly.
//!
//! `SOS_KILL_SEED=<n>` replays a schedule; `SOS_KILL_MESSAGES=<n>` changes
//! the size (default 1,000).

mod common;

use rand::{Rng, SeedableRng};
use sos_intake::mailbox::maildir::Maildir;
use sos_intake::queue::Db;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn request(i: usize, sheet_b64: &str) -> Vec<u8> {
    format!(
        "Return-Path: <{TOKYO}>\r\nFrom: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: request {i}\r\nMessage-ID: <kill-{i}@tokyo>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n{i}\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"sheet-{i}.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{sheet_b64}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn serve(config: &Path, database_url: Option<&str>) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(config)
        .args(["serve", "--no-web"])
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .envs(database_url.map(|url| ("SOS_INTAKE_DATABASE_URL", url)))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sos-intake serve")
}

/// Waits until process `pid` has its SIGTERM handler installed (Linux
/// `/proc/PID/status`, SigCgt), so the polite stop below exercises the
/// graceful path rather than racing the process's start-up.
fn wait_until_it_catches_sigterm(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (15 - 1)) != 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "serve never installed its SIGTERM handler"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_filed_and_answered_once_across_kill_9() {
    let n: usize = std::env::var("SOS_KILL_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    drain_while_killing(n, None).await;
}

/// The same on PostgreSQL (claims with `FOR UPDATE SKIP LOCKED`, the key
/// with `ON CONFLICT DO NOTHING`), on a smaller Maildir to keep the suite
/// quick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_message_is_filed_and_answered_once_across_kill_9() {
    let t = common::db::TestDb::postgres().await;
    drain_while_killing(300, Some(&t.url)).await;
}

async fn drain_while_killing(n: usize, database_url: Option<&str>) {
    use base64::Engine;
    let seed: u64 = std::env::var("SOS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("kill schedule seed {seed} (SOS_KILL_SEED={seed} replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("sos-intake.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n[mail]\nreply_rate_limit_per_hour = 1000000\npoll_interval_ms = 50\n[web]\nenabled = false\n",
            data.display()
        ),
    )
    .unwrap();
    let sheet = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap();
    let sheet_b64 = base64::engine::general_purpose::STANDARD.encode(sheet);
    let inbox = Maildir::open(&data.join("inbox")).unwrap();
    let mut shas = HashMap::new();
    for i in 0..n {
        let raw = request(i, &sheet_b64);
        shas.insert(sos_intake::queue::blobs::sha256_hex(&raw), i);
        inbox.deliver(&raw).unwrap();
    }

    // Kill at random points while it drains.
    let started = Instant::now();
    let mut kills = 0;
    while count_files(&data.join("inbox/new")) > 0 && kills < 12 {
        let mut child = serve(&config, database_url);
        std::thread::sleep(Duration::from_millis(rng.gen_range(150..1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    eprintln!(
        "{kills} kills in {:?}; {} messages left in new/",
        started.elapsed(),
        count_files(&data.join("inbox/new"))
    );
    assert!(
        kills >= 3,
        "the drain finished before enough kills; raise the message count"
    );

    // Restart and let it finish, then stop it the polite way.
    let mut child = serve(&config, database_url);
    let url = database_url
        .map(String::from)
        .unwrap_or_else(|| format!("sqlite://{}/sos-intake.db", data.display()));
    let db = Db::connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let pending: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0);
        if count_files(&data.join("inbox/new")) == 0
            && pending == 0
            && count_files(&data.join("outbox")) >= n
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained in time: {} left, {pending} unsent",
            count_files(&data.join("inbox/new"))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_until_it_catches_sigterm(child.id());
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops serve cleanly: {exit:?}");

    // Every message: one mail_messages row, one filed request, one reply.
    assert_eq!(
        count_files(&data.join("inbox/cur")),
        n,
        "every file moved to cur/, none lost"
    );
    let rows = sqlx::query(
        "SELECT source_message_sha256, COUNT(*) FROM requests GROUP BY source_message_sha256",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), n, "every message filed");
    for r in &rows {
        let sha: String = r.get(0);
        assert!(shas.contains_key(&sha), "a request from an unknown message");
        assert_eq!(
            r.get::<i64, _>(1),
            1,
            "message {} filed more than once",
            shas[&sha]
        );
    }
    let mm: i64 = sqlx::query("SELECT COUNT(*) FROM mail_messages")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(mm as usize, n);
    let replies =
        sqlx::query("SELECT mail_message_id, COUNT(*) FROM outbox GROUP BY mail_message_id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(replies.len(), n, "every message answered");
    assert!(
        replies.iter().all(|r| r.get::<i64, _>(1) == 1),
        "a message answered twice"
    );
    // And on disk: one .eml per message, each answering a different one.
    let mut answered = HashSet::new();
    for entry in std::fs::read_dir(data.join("outbox")).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).to_string();
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("In-Reply-To: "))
            .expect("threaded")
            .to_string();
        assert!(answered.insert(id.clone()), "two reply files answer {id}");
    }
    assert_eq!(answered.len(), n);
    for i in 0..n {
        assert!(
            answered.contains(&format!("<kill-{i}@tokyo>")),
            "message {i} has no reply file"
        );
    }
}
