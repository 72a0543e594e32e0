//! The IMAP latency benchmark behind `scripts/bench-imap.sh` (issue 15):
//! `sos-intake serve` (the binary in `$SOS_BENCH_BIN`, else this build's)
//! watches the mail lab's Dovecot with IDLE and answers through the lab's
//! Postfix; one sheet mail at a time is appended over IMAP and the time
//! from just before the APPEND to the reply's acceptance by Postfix (the
//! outbox row's `sent_at`, written after the relay's 250) is taken.
//!
//! Ignored in the ordinary suite (a benchmark, never a timed test): run
//! `scripts/bench-imap.sh`, or
//! `cargo test --test imap_bench -- --ignored --nocapture`.
//!
//! `SOS_BENCH_MESSAGES` (default 50) messages; the database is
//! `$SOS_INTAKE_DATABASE_URL` when set (PostgreSQL, made by the script),
//! else a fresh SQLite file.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::maillab::{MailLab, signal_and_reap};
use lab::{append, sheet_mail};
use sos_intake::config::Tls;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Tokyo sender of `sheet_mail`.
const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn write_config(lab: &MailLab, dir: &Path, batch_size: usize) -> PathBuf {
    let text = format!(
        r#"data_dir = "{data}"
sos_address = "sos-busshi@mhlw.go.jp"
[prefectures]
"東京都" = ["{TOKYO}"]
[mail]
reply_rate_limit_per_hour = 100000
[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
timeout_secs = 10
{imap}[web]
enabled = false
[intake]
batch_size = {batch_size}
"#,
        data = dir.join("data").display(),
        smtp = lab.ports.smtp,
        imap = lab.imap_toml(Tls::Implicit),
    );
    let path = dir.join("sos-intake.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// The gateway process, killed when dropped.
struct Gateway(Option<Child>);

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            signal_and_reap(child, "TERM", Duration::from_secs(20));
        }
    }
}

/// When the reply to `message_id` was accepted by the relay, and when the
/// message was filed, once both are recorded.
async fn sent_and_filed(
    db: &sos_intake::queue::Db,
    message_id: &str,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT o.sent_at, m.processed_at FROM outbox o JOIN mail_messages m ON m.id = o.mail_message_id \
         WHERE m.message_id = $1 AND o.status = 'sent'",
    )
    .bind(message_id)
    .fetch_optional(db.pool())
    .await
    .ok()??;
    let sent: Option<String> = row.try_get(0).ok()?;
    let filed: String = row.try_get(1).ok()?;
    let parse = |t: &str| sos_intake::queue::db::parse_time(t).ok();
    Some((parse(&sent?)?, parse(&filed)?))
}

/// `[intake] batch_size` for the gateway (`$SOS_BENCH_BATCH`, default 32).
fn batch_size() -> usize {
    std::env::var("SOS_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// `sos-intake serve` (`$SOS_BENCH_BIN`, else this build's) on the lab,
/// its database (`$SOS_INTAKE_DATABASE_URL`, else SQLite in `dir`), and
/// its log file.
async fn start_serve(
    lab: &MailLab,
    dir: &Path,
    batch_size: usize,
) -> (sos_intake::queue::Db, Gateway, PathBuf) {
    let bin = std::env::var("SOS_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sos-intake").to_string());
    let url = std::env::var("SOS_INTAKE_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/sos-intake.db", dir.display()));
    let db = sos_intake::queue::Db::connect(&url)
        .await
        .expect("database");
    let config = write_config(lab, dir, batch_size);
    let log = dir.join("serve.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("SOS_INTAKE_DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start sos-intake serve");
    (db, Gateway(Some(child)), log)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-imap.sh"]
async fn imap_append_to_reply_accepted_latency() {
    let n: usize = std::env::var("SOS_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (db, _gateway, log) = start_serve(&lab, tmp.path(), batch_size()).await;
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    // Warm-up (login, folders, first IDLE, the first SMTP connection):
    // not counted.
    let mut latencies = Vec::with_capacity(n);
    let mut filed_part = Vec::with_capacity(n);
    for i in 0..=n {
        let id = format!("bench-imap-{i}@fukushi.metro.tokyo.lg.jp");
        let raw = sheet_mail(&id, 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let t0 = chrono::Utc::now();
        append(&lab, "INBOX", &raw).await;
        let (sent, filed) = loop {
            if let Some(found) = sent_and_filed(&db, &id).await {
                break found;
            }
            assert!(
                Instant::now() < deadline,
                "no reply to {id} accepted within 60 s\n{}",
                log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        if i == 0 {
            continue;
        }
        latencies.push((sent - t0).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        filed_part.push((filed - t0).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        // The watcher is back in IDLE before the next APPEND; a random
        // pause keeps the mails out of step with any polling.
        tokio::time::sleep(Duration::from_millis(100 + rand::random::<u64>() % 300)).await;
    }
    latencies.sort_by(f64::total_cmp);
    filed_part.sort_by(f64::total_cmp);
    let (p50, p95, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "IMAP APPEND → reply accepted by Postfix, {n} messages one at a time: \
         p50 {p50:.0} ms, p95 {p95:.0} ms, max {max:.0} ms"
    );
    println!(
        "  of which APPEND → filed (committed): p50 {:.0} ms, p95 {:.0} ms",
        percentile(&filed_part, 50.0),
        percentile(&filed_part, 95.0)
    );
    println!("RESULT p50_ms={p50:.0} p95_ms={p95:.0} max_ms={max:.0} messages={n}");
}

/// A backlog appended while the gateway was down: `SOS_BENCH_MESSAGES`
/// (default 500) mails, 90 % with a valid sheet from Tokyo, 10 % without
/// a sheet from an unregistered address (quarantined, not answered), all
/// in the inbox before `serve` starts; the time from its start until every one is
/// filed, moved out of the inbox and its reply accepted by Postfix.
/// `SOS_BENCH_BATCH=1` gives the one-message-at-a-time figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: MODE=backlog scripts/bench-imap.sh"]
async fn imap_backlog_to_replies_accepted() {
    let n: usize = std::env::var("SOS_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    lab::append_all(
        &lab,
        "INBOX",
        (0..n).map(|i| {
            if i % 10 == 7 {
                lab::plain_mail(i)
            } else {
                sheet_mail(&format!("bench-backlog-{i}@fukushi.metro.tokyo.lg.jp"), 0)
            }
        }),
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (db, _gateway, log) = start_serve(&lab, tmp.path(), batch_size()).await;
    let deadline = started + Duration::from_secs(900);
    let mut filed_at = None;
    loop {
        let filed = lab::count(&db, "SELECT COUNT(*) FROM mail_messages").await as usize;
        if filed >= n && filed_at.is_none() {
            filed_at = Some(started.elapsed());
        }
        // Replies are queued in the commit that files their mail, so once
        // every mail is filed, no unsent row means every reply was sent.
        let unsent =
            lab::count(&db, "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'").await as usize;
        if filed >= n && unsent == 0 && lab::folder_count(&lab, "INBOX").await.0 == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backlog not done: {filed} filed, {unsent} replies not sent\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = started.elapsed();
    let filed = filed_at.unwrap_or(done);
    println!(
        "IMAP backlog of {n} (batch_size {}): all filed after {:.1} s ({:.0} messages/s), \
         moved and every reply accepted by Postfix after {:.1} s ({:.0} messages/s), from the start of serve",
        batch_size(),
        filed.as_secs_f64(),
        n as f64 / filed.as_secs_f64(),
        done.as_secs_f64(),
        n as f64 / done.as_secs_f64()
    );
    println!(
        "RESULT backlog={n} batch_size={} filed_s={:.1} done_s={:.1}",
        batch_size(),
        filed.as_secs_f64(),
        done.as_secs_f64()
    );
}
