//! 25 MB messages through `sos-intake serve` with `[imap]`: fetched and
//! handled one at a time, so a backlog of them needs no more memory than
//! one. The gateway runs as its own process (as deployed) and its peak
//! memory (VmHWM) is read from /proc. glibc is limited to two malloc arenas
//! and a fixed mmap threshold of 1 MB (`MALLOC_ARENA_MAX`,
//! `MALLOC_MMAP_THRESHOLD_`), so large buffers go back to the system when
//! freed and the figure reflects what the program holds at once, not
//! allocator fragmentation.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::TestDb;
use common::maillab::MailLab;
use lab::{append, count, folder_count, sheet_mail, wait_until};
use sos_intake::config::Tls;
use std::process::{Command, Stdio};
use std::time::Duration;

fn peak_rss_mb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

fn big_mail(i: usize) -> Vec<u8> {
    const SIZE: usize = 25 * 1024 * 1024;
    let raw = sheet_mail(&format!("big-{i}@fukushi.metro.tokyo.lg.jp"), SIZE * 3 / 4);
    assert!(raw.len() >= SIZE, "{}", raw.len());
    raw
}

/// `sos-intake serve` on the lab's IMAP, replies to .eml files, no web UI.
fn serve(lab: &MailLab, t: &TestDb) -> common::process::Serving {
    let config = t.dir.path().join("sos-intake.toml");
    let text = format!(
        "{}\n{}[web]\nenabled = false\n",
        lab::CONFIG,
        lab.imap_toml(Tls::Implicit),
    );
    std::fs::write(&config, text).expect("config");
    let log = std::fs::File::create(t.dir.path().join("serve.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(t.dir.path().join("data"))
        .arg("serve")
        .env("SOS_INTAKE_DATABASE_URL", &t.url)
        .env("MALLOC_ARENA_MAX", "2")
        .env("MALLOC_MMAP_THRESHOLD_", "1048576")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .map(common::process::Serving)
        .expect("start sos-intake serve")
}

async fn wait_filed(t: &TestDb, n: i64) {
    wait_until(
        Duration::from_secs(300),
        &format!("{n} messages filed"),
        || async { count(&t.db, "SELECT COUNT(*) FROM mail_messages").await >= n },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_25_mb_are_handled_one_at_a_time() {
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    let mut gateway = serve(&server, &t);
    let pid = gateway.id();
    // One 25 MB message: the peak memory one takes.
    append(&server, "INBOX", &big_mail(0)).await;
    wait_filed(&t, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_one = peak_rss_mb(pid);
    // Then a backlog of three, all waiting before the gateway sees them
    // (it is paused while they are appended): handled one after another,
    // they need no more memory than one did. Fetched together they would
    // add at least 3 × 25 MB.
    let _ = Command::new("kill")
        .arg("-STOP")
        .arg(pid.to_string())
        .status();
    for i in 1..4 {
        append(&server, "INBOX", &big_mail(i)).await;
    }
    let _ = Command::new("kill")
        .arg("-CONT")
        .arg(pid.to_string())
        .status();
    wait_filed(&t, 4).await;
    wait_until(Duration::from_secs(60), "all moved", || async {
        folder_count(&server, "処理済").await.0 == 4
    })
    .await;
    let after_backlog = peak_rss_mb(pid);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = gateway.wait();
    eprintln!(
        "serve peak RSS: {after_one} MB after one 25 MB message, {after_backlog} MB after three more"
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM requests").await,
        4,
        "each message's sheet is filed"
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM outbox").await,
        4,
        "each answered"
    );
    assert_eq!(folder_count(&server, "INBOX").await.0, 0);
    assert!(
        after_backlog < after_one + 40,
        "a backlog of three 25 MB messages raised peak memory from {after_one} MB to {after_backlog} MB"
    );
}
