//! Mail intake benchmarks (issues 4 and 15):
//!
//! - `backlog` (one run per backend, printed): a Maildir of 10,000
//!   messages (`SOS_BENCH_BACKLOG`) drained by the worker while the outbox
//!   sender runs beside it, as `sos-intake serve` does, until every message
//!   is filed and every reply written to the .eml outbox. Prints messages
//!   per second and the process's peak resident memory (VmHWM).
//! - `levels` (per backend): the queue is first filled with 1,000, 10,000
//!   and 100,000 filed requests of earlier batches (`SOS_BENCH_LEVELS`),
//!   then 2,000 messages (`SOS_BENCH_MESSAGES`) are drained at each level.
//!   Prints the rate, the cost per message, the device flushes and bytes
//!   written per message (from `/sys/block/*/stat`: machine-wide, so run it
//!   on a quiet machine), and the ratio to the floor: reading one message
//!   (parse + workbook) plus one durable commit on the same backend.
//! - `process_one/<kind>` (criterion): one message through
//!   `Intake::process` (parse, read, check, file, render, queue), on SQLite.
//!
//! The mix: 80 % a valid sheet, 10 % a sheet with errors (annotated copy
//! attached to the reply), 10 % no attachment, all from one registered
//! Tokyo address about one institution, so each filing supersedes the one
//! before it (the queue's worst case for that check).
//!
//! Run: `cargo bench --bench intake`; `cargo bench --bench intake backlog`
//! or `levels` for one part. `SOS_BENCH_BACKENDS=sqlite,postgres` (the
//! default when `$SOS_TEST_POSTGRES_URL` is set). Figures: README and
//! docs/benchmarks-intake.md.

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

async fn test_db(backend: &str) -> TestDb {
    match backend {
        "postgres" => TestDb::postgres().await,
        _ => TestDb::sqlite().await,
    }
}

/// What a drain took.
struct Drain {
    filed: Duration,
    done: Duration,
}

/// Delivers `n` messages (numbered from `first`) and drains them as
/// `serve` does, until every reply is written.
async fn drain(t: &TestDb, first: usize, n: usize) -> Drain {
    let (valid, error) = (
        sheet_b64("valid.xlsx"),
        sheet_b64("error-item-reason-economic.xlsx"),
    );
    let inbox = Maildir::open(&t.data_dir().join("inbox")).unwrap();
    for i in first..first + n {
        inbox.deliver(&message(i, &valid, &error)).unwrap();
    }
    let intake = Intake::new(t.db.clone(), &settings(&t.data_dir())).unwrap();
    let source = MaildirSource::new(inbox, intake, Duration::from_millis(50));
    let outbox_dir = t.data_dir().join("outbox");
    let sender = Sender::new(t.db.clone(), Transport::Directory(outbox_dir.clone()))
        .with_idle_wait(Duration::from_millis(50));
    let (trigger, shutdown) = Shutdown::new();
    let start = Instant::now();
    let sending = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { sender.run(shutdown).await }
    });
    let drained = source.drain(&shutdown).await.unwrap();
    let filed = start.elapsed();
    loop {
        // Through the index on status: the poll must not cost more as
        // the outbox grows.
        let queued: i64 = sqlx::query(
            "SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE status = 'queued' LIMIT 1) q",
        )
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get(0);
        if queued == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let done = start.elapsed();
    trigger.trigger();
    sending.await.unwrap().unwrap();
    assert_eq!(drained.processed, n);
    assert_eq!(drained.failed, 0);
    let failed: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed, 0, "no reply failed");
    Drain { filed, done }
}

/// The backlog drain from an empty queue, with peak memory.
async fn backlog(backend: &str, n: usize) {
    let t = test_db(backend).await;
    let rss_before = peak_rss_kib();
    let d = drain(&t, 0, n).await;
    let written = std::fs::read_dir(t.data_dir().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(written, n, "one reply per message");
    println!(
        "backlog_{n}/{backend}: {n} messages filed in {:.1} s, all {written} replies written after {:.1} s → {:.0} messages/s; peak RSS {} MiB (before the drain {} MiB)",
        d.filed.as_secs_f64(),
        d.done.as_secs_f64(),
        n as f64 / d.done.as_secs_f64(),
        peak_rss_kib() / 1024,
        rss_before / 1024
    );
}

/// Device counters summed over the machine's disks: (flushes, bytes
/// written).
fn disk_counters() -> (u64, u64) {
    let mut flushes = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if ["loop", "ram", "zram", "dm-", "md"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let f: Vec<u64> = stat
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        bytes += f.get(6).copied().unwrap_or(0) * 512;
        flushes += f.get(15).copied().unwrap_or(0);
    }
    (flushes, bytes)
}

/// The floor per message: reading it (parse + workbook, in this process)
/// plus one durable commit of a small row on `t`'s backend.
async fn floor(t: &TestDb) -> (Duration, Duration) {
    let valid = sheet_b64("valid.xlsx");
    let raw = message(1, &valid, &valid);
    let limits = sos_intake::message::Limits::from_config(&settings(&t.data_dir()).config.mail);
    let pool = sos_intake::readers::ReaderPool::in_process();
    let runs = 200;
    let start = Instant::now();
    for _ in 0..runs {
        let parsed = pool.parse_message(&raw, &limits).unwrap();
        for a in &parsed.attachments {
            let _ = pool.read_workbook(&a.bytes).unwrap();
        }
    }
    let read = start.elapsed() / runs;
    sqlx::query("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
        .execute(t.db.pool())
        .await
        .unwrap();
    let start = Instant::now();
    for i in 0..runs {
        let mut tx = t.db.begin().await.unwrap();
        sqlx::query("INSERT INTO bench_floor (id, note) VALUES ($1, $2)")
            .bind(i64::from(i))
            .bind("one durable commit")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    (read, start.elapsed() / runs)
}

/// Fills the queue with `n` filed requests of earlier batches (with their
/// mail, reply and audit rows), as a gateway holds after months; then the
/// database is checkpointed, so the drain does not pay for the fill.
async fn prefill(t: &TestDb, from: usize, to: usize) {
    if to <= from {
        return;
    }
    let postgres = t.backend_name() == "postgres";
    let day = |i: &str| {
        if postgres {
            format!("to_char(date '2026-01-01' + ({i} % 300)::int, 'YYYY-MM-DD')")
        } else {
            format!("date('2026-01-01', '+' || ({i} % 300) || ' days')")
        }
    };
    let series = format!(
        "WITH RECURSIVE n(i) AS (SELECT {from} + 1 UNION ALL SELECT i + 1 FROM n WHERE i < {to}) "
    );
    let at = format!("{} || 'T01:00:00.000000Z'", day("i"));
    let empty = if postgres { "''::bytea" } else { "X''" };
    // The benchmark's institution has the same ten earlier requests at every
    // level (its own history is not the queue's size); the rest are others.
    let code = "CASE WHEN i <= 10 THEN '1312345679' ELSE CAST(1300000000 + i AS TEXT) END";
    let statements = [
        format!("INSERT INTO blobs (sha256, size, content, stored_at) VALUES ('prefill', 0, {empty}, '2026-01-01T00:00:00Z') ON CONFLICT DO NOTHING"),
        format!(
            "{series}INSERT INTO mail_messages (message_id, raw_sha256, source, received_at, processed_at, from_address, subject, prefecture, disposition, reply, receipts) \
             SELECT '<prefill-' || i || '@tokyo>', 'prefill', 'maildir', {at}, {at}, '{TOKYO}', 'prefill ' || i, '東京都', 'accepted', 'queued', 'SOS-PRE-' || i FROM n"
        ),
        format!(
            "{series}INSERT INTO requests (receipt, filing_key, source, status, received_at, batch_date, prefecture, institution_code, institution_name, requested_items, created_at, updated_at, sender_auth) \
             SELECT 'SOS-PRE-' || i, 'prefill:' || i, 'sheet', '都道府県・国確認中', {at}, {d}, '東京都', {code}, '医療機関 ' || i, 'non_sterile_gloves', {at}, {at}, 'authenticated' FROM n",
            d = day("i")
        ),
        "INSERT INTO request_items (request_id, item, position, requested) SELECT id, 'non_sterile_gloves', 1, 1 FROM requests WHERE filing_key LIKE 'prefill:%' AND id > (SELECT COALESCE(MAX(request_id), 0) FROM request_items)".to_string(),
        "INSERT INTO audit_log (request_id, at, actor, action) SELECT id, received_at, 'mail', 'filed' FROM requests WHERE filing_key LIKE 'prefill:%' AND id > (SELECT COALESCE(MAX(request_id), 0) FROM audit_log)".to_string(),
        format!(
            "{series}INSERT INTO outbox (kind, envelope_from, recipient, subject, message_id, raw, status, attempts, next_attempt_at, created_at, sent_at) \
             SELECT 'reply', 'sos-busshi@mhlw.go.jp', '{TOKYO}', 'prefill', '<reply-prefill-' || i || '@mhlw>', {empty}, 'sent', 1, {at}, {at}, {at} FROM n"
        ),
        // A third of them decided and completed (items first: a completed
        // record's items cannot change).
        "UPDATE request_items SET mhlw_approved = 1, mhlw_quantity = 1 WHERE mhlw_approved IS NULL \
         AND request_id IN (SELECT id FROM requests WHERE filing_key LIKE 'prefill:%' AND id % 3 = 0 AND status = '都道府県・国確認中')".to_string(),
        "UPDATE requests SET status = '受付完了', completed_at = updated_at, completed_by = 'bench' \
         WHERE filing_key LIKE 'prefill:%' AND id % 3 = 0 AND status = '都道府県・国確認中'".to_string(),
    ];
    let mut tx = t.db.begin().await.unwrap();
    for sql in &statements {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("prefill: {e}\n{sql}"));
    }
    tx.commit().await.unwrap();
    let settle: &[&str] = if postgres {
        &["VACUUM ANALYZE", "CHECKPOINT"]
    } else {
        &["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"]
    };
    for sql in settle {
        sqlx::query(sql).execute(t.db.pool()).await.unwrap();
    }
}

/// The drain at each queue level on one backend.
async fn levels(backend: &str, levels: &[usize], n: usize) {
    let t = test_db(backend).await;
    let (read, commit) = floor(&t).await;
    let floor = read + commit;
    println!(
        "levels/{backend}: floor per message {:.2} ms (reading {:.2} ms + one durable commit {:.2} ms)",
        ms(floor),
        ms(read),
        ms(commit)
    );
    let mut filled = 0;
    let mut first = 0;
    let mut base: Option<f64> = None;
    for &level in levels {
        prefill(&t, filled, level).await;
        filled = level;
        let (flushes, bytes) = disk_counters();
        let d = drain(&t, 1_000_000 + first, n).await;
        first += n;
        let (flushes2, bytes2) = disk_counters();
        let per = d.done.as_secs_f64() * 1000.0 / n as f64;
        let base_per = *base.get_or_insert(per);
        println!(
            "levels/{backend}: {level:>6} filed: {n} messages in {:.1} s → {:.0} messages/s, {per:.2} ms per message ({:.2}× the first level, {:.1}× the floor); {:.2} device flushes and {:.0} KiB written per message",
            d.done.as_secs_f64(),
            n as f64 / d.done.as_secs_f64(),
            per / base_per,
            per / ms(floor),
            (flushes2 - flushes) as f64 / n as f64,
            (bytes2 - bytes) as f64 / 1024.0 / n as f64,
        );
        let _ = d.filed;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::var("SOS_DEBUG_SLOW_SQL_US").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter("sqlx=warn")
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let backlog_n = env_number("SOS_BENCH_BACKLOG", 10_000);
    let n = env_number("SOS_BENCH_MESSAGES", 2_000);
    let level_list: Vec<usize> = std::env::var("SOS_BENCH_LEVELS")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let backends = std::env::var("SOS_BENCH_BACKENDS").unwrap_or_else(|_| {
        if std::env::var(db::POSTGRES_URL_ENV).is_ok() {
            "sqlite,postgres".into()
        } else {
            println!(
                "PostgreSQL left out: set {} (or SOS_BENCH_BACKENDS) to include it",
                db::POSTGRES_URL_ENV
            );
            "sqlite".into()
        }
    });
    let backends: Vec<&str> = backends
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect();
    // criterion passes `--bench`; a filter argument selects parts.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |part: &str| {
        filter
            .as_deref()
            .is_none_or(|f| part.contains(f) || f.contains(part))
    };
    if wants("backlog") {
        for backend in &backends {
            rt.block_on(backlog(backend, backlog_n));
        }
    }
    if wants("levels") {
        for backend in &backends {
            rt.block_on(levels(backend, &level_list, n));
        }
    }
    if wants("process_one") {
        let mut c = Criterion::default().configure_from_args();
        process_one(&mut c, &rt);
        c.final_summary();
    }
}
