//! IMAP source benchmarks (issue 5), against the mail lab's Dovecot and
//! Postfix on loopback, with the watcher and the outbox sender running
//! in-process exactly as `sos-intake serve` runs them (default tunables):
//!
//! - `latency` (printed): 200 sheet mails, one after another; for each,
//!   the time from the start of its APPEND to (a) its pipeline transaction
//!   (`mail_messages.processed_at`) and (b) its reply accepted by Postfix
//!   (`outbox.sent_at`, recorded when the SMTP server answered 250).
//!   A random pause (0–1 s) separates the mails so they do not arrive in
//!   step with the sender's polling. Prints median, p95 and max.
//! - `backlog` (printed): 1,000 mails (90 % a valid sheet, 10 % no
//!   attachment) already in the inbox when the watcher starts; messages per
//!   second until every one is filed, its reply queued and the mail moved.
//! - `append_to_filed` (criterion): one sheet mail appended while the
//!   watcher idles (in IDLE), until it is filed.
//!
//! Run: `cargo bench --bench imap` (root: Postfix). `SOS_BENCH_LATENCY_N`
//! and `SOS_BENCH_BACKLOG_N` change 200 and 1,000;
//! `SOS_BENCH_BACKENDS=sqlite,postgres` runs the backlog on PostgreSQL too
//! (at `$SOS_TEST_POSTGRES_URL`); a filter argument
//! (`latency`, `backlog`, `append`) selects a part. Figures:
//! docs/benchmarks-imap.md.

#[path = "../tests/common/db.rs"]
#[allow(dead_code, unused_macros)]
mod db;
#[path = "../tests/common/maillab.rs"]
#[allow(dead_code)]
mod maillab;

use base64::Engine;
use chrono::{DateTime, Utc};
use criterion::Criterion;
use db::TestDb;
use maillab::MailLab;
use sos_intake::config::{Config, Settings, Tls};
use sos_intake::mailbox::imap::{Phase, Watcher, utf7};
use sos_intake::outbox::{Sender, Transport};
use sos_intake::pipeline::{Intake, Shutdown, ShutdownTrigger};
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn settings(dir: &std::path::Path) -> Settings {
    let text = format!(
        "[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n[mail]\nreply_rate_limit_per_hour = 100000000\n"
    );
    Settings::resolve(
        Config::parse(&text).expect("config"),
        Some(dir.to_path_buf()),
    )
}

fn valid_sheet_b64() -> String {
    let bytes = std::fs::read(format!(
        "{}/samples/sheets/valid.xlsx",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sheet");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A sheet mail (or, with `sheet` None, a mail without attachment).
fn mail(id: &str, sheet: Option<&str>) -> Vec<u8> {
    let mut m = format!(
        "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: bench\r\nMessage-ID: <{id}>\r\n\
         Date: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n送付します\r\n"
    );
    if let Some(b64) = sheet {
        m.push_str(
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"valid.xlsx\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n",
        );
        for chunk in b64.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            m.push_str("\r\n");
        }
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

async fn client(lab: &MailLab) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", lab.ports.imap))
        .await
        .expect("connect");
    let mut c = async_imap::Client::new(tcp);
    c.read_response().await.expect("greeting");
    c.login(maillab::USER, maillab::PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

/// The gateway in-process: the IMAP watcher and the outbox sender.
struct Gateway {
    trigger: ShutdownTrigger,
    watcher: Arc<Watcher<Intake>>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

fn start_gateway(lab: &MailLab, t: &TestDb, send: bool) -> Gateway {
    let settings = settings(t.dir.path());
    let intake = Intake::new(t.db.clone(), &settings)
        .expect("intake")
        .with_source("imap");
    let watcher = Arc::new(
        Watcher::new(&lab.imap_config(Tls::Implicit), t.db.clone(), intake).expect("watcher"),
    );
    let (trigger, shutdown) = Shutdown::new();
    let mut tasks = Vec::new();
    let w = watcher.clone();
    let s = shutdown.clone();
    tasks.push(tokio::spawn(async move { w.run(s).await }));
    if send {
        let transport = Transport::smtp(&lab.smtp_config(Tls::None)).expect("smtp");
        let sender = Sender::new(t.db.clone(), transport);
        tasks.push(tokio::spawn(async move { sender.run(shutdown).await }));
    }
    Gateway {
        trigger,
        watcher,
        tasks,
    }
}

impl Gateway {
    async fn wait_phase(&self, phase: Phase) {
        let mut status = self.watcher.status();
        while status.borrow_and_update().phase != phase {
            status.changed().await.expect("watcher status");
        }
    }

    async fn wait_handled(&self, n: u64) {
        let mut status = self.watcher.status();
        while status.borrow_and_update().handled < n {
            status.changed().await.expect("watcher status");
        }
    }

    async fn stop(self) {
        self.trigger.trigger();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn parse_time(text: &str) -> DateTime<Utc> {
    sos_intake::queue::db::parse_time(text).expect("stored time")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name}: n = {}, median = {:.0} ms, p95 = {:.0} ms, max = {:.0} ms",
        v.len(),
        percentile(&v, 50.0).as_secs_f64() * 1e3,
        percentile(&v, 95.0).as_secs_f64() * 1e3,
        v.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

async fn latency(n: usize) {
    let lab = MailLab::start();
    let t = TestDb::sqlite().await;
    let gateway = start_gateway(&lab, &t, true);
    gateway.wait_phase(Phase::Idle).await;
    let sheet = valid_sheet_b64();
    let mut imap = client(&lab).await;
    let (mut filed, mut sent) = (Vec::new(), Vec::new());
    for i in 0..n {
        let id = format!("latency-{i}@bench");
        let raw = mail(&id, Some(&sheet));
        let t0 = Utc::now();
        imap.append("INBOX", None, None, &raw)
            .await
            .expect("APPEND");
        let row = loop {
            let row = sqlx::query(
                "SELECT m.processed_at, o.sent_at FROM mail_messages m JOIN outbox o ON o.mail_message_id = m.id \
                 WHERE m.message_id = $1 AND o.status = 'sent'",
            )
            .bind(&id)
            .fetch_optional(t.db.pool())
            .await
            .expect("query");
            if let Some(row) = row {
                break row;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let processed: String = row.get(0);
        let sent_at: Option<String> = row.get(1);
        filed.push((parse_time(&processed) - t0).to_std().unwrap_or_default());
        sent.push(
            (parse_time(&sent_at.expect("sent_at")) - t0)
                .to_std()
                .unwrap_or_default(),
        );
        // Mail arrives at random moments, not in step with the sender's
        // polling: a random pause keeps the two from phase-locking.
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 1000)).await;
    }
    imap.logout().await.ok();
    gateway.stop().await;
    println!(
        "latency (SQLite, Dovecot IDLE, outbox sender idle wait 500 ms, Postfix on loopback):"
    );
    summary("  APPEND → filed", filed);
    summary("  APPEND → reply accepted by SMTP", sent);
}

async fn backlog(n: usize, backend: &str) {
    let lab = MailLab::start_dovecot();
    let t = if backend == "postgres" {
        TestDb::postgres().await
    } else {
        TestDb::sqlite().await
    };
    let sheet = valid_sheet_b64();
    let mut imap = client(&lab).await;
    for i in 0..n {
        let raw = mail(
            &format!("backlog-{i}@bench"),
            (i % 10 != 7).then_some(sheet.as_str()),
        );
        imap.append("INBOX", None, None, &raw)
            .await
            .expect("APPEND");
    }
    imap.logout().await.ok();
    let started = Instant::now();
    let gateway = start_gateway(&lab, &t, false);
    gateway.wait_handled(n as u64).await;
    let elapsed = started.elapsed();
    gateway.stop().await;
    let mut imap = client(&lab).await;
    let moved = imap
        .examine(utf7::encode("処理済"))
        .await
        .expect("EXAMINE")
        .exists
        + imap
            .examine(utf7::encode("エラー"))
            .await
            .expect("EXAMINE")
            .exists;
    imap.logout().await.ok();
    assert_eq!(moved as usize, n, "every message moved");
    println!(
        "backlog ({backend}): {n} messages filed, replies queued and moved in {:.1} s = {:.0} messages/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

fn append_to_filed(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let lab = MailLab::start_dovecot();
    let t = rt.block_on(TestDb::sqlite());
    let _guard = rt.enter();
    let gateway = start_gateway(&lab, &t, false);
    rt.block_on(gateway.wait_phase(Phase::Idle));
    let sheet = valid_sheet_b64();
    let mut imap = rt.block_on(client(&lab));
    let mut i = 0u64;
    let mut group = c.benchmark_group("imap");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("append_to_filed", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    i += 1;
                    let raw = mail(&format!("crit-{i}@bench"), Some(&sheet));
                    let start = Instant::now();
                    imap.append("INBOX", None, None, &raw)
                        .await
                        .expect("APPEND");
                    gateway.wait_handled(i).await;
                    total += start.elapsed();
                    // The next mail finds the watcher idling (in IDLE), as
                    // mail does in real life, not still busy with this one.
                    gateway.wait_phase(Phase::Idle).await;
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(async {
        imap.logout().await.ok();
        gateway.stop().await;
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |part: &str| {
        filter
            .as_deref()
            .is_none_or(|f| part.contains(f) || f.contains(part))
    };
    if wants("latency") {
        rt.block_on(latency(env("SOS_BENCH_LATENCY_N", 200)));
    }
    if wants("backlog") {
        let backends = std::env::var("SOS_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
        for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
            rt.block_on(backlog(env("SOS_BENCH_BACKLOG_N", 1000), backend));
        }
    }
    if wants("append_to_filed") {
        let mut c = Criterion::default().configure_from_args();
        append_to_filed(&mut c, &rt);
        c.final_summary();
    }
}
